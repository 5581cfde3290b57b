"""The docs are generated from, or checked against, the code."""
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tariffcalc.cli import cli
from tariffcalc.model import SCHEMA

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from cli_reference import reference  # noqa: E402 (scripts/ is put on the path just above)


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_an_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"tariffcalc {name}" in result.output


def test_cli_reference_is_current():
    assert (ROOT / "docs" / "cli-reference.md").read_text(encoding="utf-8") == reference(), (
        "run: python scripts/cli_reference.py"
    )


@pytest.mark.parametrize("kind", sorted(SCHEMA))
def test_data_format_documents_every_schema_key(kind):
    text = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    for key in SCHEMA[kind]:
        assert f"`{key}`" in text, f"{kind} key {key} missing from docs/data-format.md"


def test_readme_test_command_is_the_ci_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "python -m pytest"
    assert command in readme and re.search(rf"^{re.escape(command)}$", ci, re.MULTILINE)
    assert "pip install -e '.[test]'" in readme and "pip install --quiet -e '.[test]'" in ci


def test_no_option_is_defined_twice():
    for command in [cli, *cli.commands.values()]:
        names = [opt for param in command.params for opt in getattr(param, "opts", [])]
        assert len(names) == len(set(names)), command.name


def test_help_and_version_do_not_import_pandas():
    import subprocess

    code = (
        "import sys\nfrom tariffcalc.cli import cli\n"
        "for args in (['--help'], ['--version'], ['rate', '--help']):\n"
        "    try:\n        cli(args)\n    except SystemExit:\n        pass\n"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")


@pytest.mark.slow
def test_readme_examples_print_what_the_readme_shows():
    """Every `$ tariffcalc ...` block of README.md runs and prints what is shown under it
    (scripts/readme_examples.py --write rewrites them after an intended change)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_examples", ROOT / "scripts" / "readme_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(list(module.examples(text))) >= 6
    assert module.problems(text) == []
