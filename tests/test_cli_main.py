"""The ``tariffcalc`` command itself (``cli.main``, also ``python -m tariffcalc``): the same
answers and exit statuses as the click group, and the collector frozen only once it is done."""
import gc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tariffcalc import cli

ROOT = Path(__file__).resolve().parent.parent
RATE_JSON = ["rate", "--date", "2025-04-12", "-f", "json"]


@pytest.fixture
def freezes(monkeypatch):
    """What had been written to stdout each time ``gc.freeze`` was called."""
    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(sys.stdout.getvalue()))
    return calls


def _main(monkeypatch, args) -> int:
    monkeypatch.setattr(sys, "argv", ["tariffcalc", *args])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    return exit_.value.code


def test_main_answers_first_and_freezes_the_collector_once_done(monkeypatch, capsys, runner, no_user_data, freezes):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert _main(monkeypatch, RATE_JSON) == 0
    printed = sys.stdout.getvalue()
    assert freezes == [printed]  # once, after the whole answer was written
    assert printed == runner.invoke(cli.cli, RATE_JSON).output
    assert json.loads(printed)["date"] == "2025-04-12"


def test_main_freezes_also_when_the_command_fails(monkeypatch, capsys, no_user_data, freezes):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert _main(monkeypatch, ["rate", "--date", "2025-13-01"]) == 2
    assert len(freezes) == 1
    assert capsys.readouterr().err.startswith("Error: Invalid value for '--date'")


def test_python_dash_m_is_the_command(runner, no_user_data):
    env = {k: v for k, v in os.environ.items() if k != "TARIFFCALC_DATA"}
    env["PYTHONPATH"] = str(ROOT)

    def run(args):
        return subprocess.run([sys.executable, "-m", "tariffcalc", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    good = run(RATE_JSON)
    assert (good.returncode, good.stdout) == (0, runner.invoke(cli.cli, RATE_JSON).output)
    bad = run(["rate", "--date", "2025-13-01"])
    assert bad.returncode == 2
    assert bad.stdout == "" and bad.stderr.splitlines()[0].startswith("Error: Invalid value for '--date'")


@pytest.mark.parametrize("asked, used", [(None, "system"), ("mimalloc", "mimalloc")])
def test_the_command_takes_arrow_buffers_from_malloc_unless_told(asked, used):
    # mimalloc, pyarrow's default, gave a slice's buffers back and faulted them in again
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    env.update({"PYTHONPATH": str(ROOT), **({"ARROW_DEFAULT_MEMORY_POOL": asked} if asked else {})})
    code = ("import sys; from tariffcalc import cli; sys.argv = ['tariffcalc', '--version']\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "import pyarrow; print(pyarrow.default_memory_pool().backend_name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.splitlines()[-1] == used, done.stderr
