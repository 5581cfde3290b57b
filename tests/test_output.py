"""The one output writer: targets checked before any work, files whole or absent, no temporary
file left behind on an error, Ctrl-C, SIGTERM or SIGHUP."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tariffcalc.output import OutputError, check_target, write_files, write_text

ROOT = Path(__file__).resolve().parent.parent


def test_a_good_target_passes_and_leaves_nothing(tmp_path):
    assert check_target(tmp_path / "out.csv", (".csv",)) == tmp_path / "out.csv"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, inputs, message", [
    ("in.csv", ["in.csv"], "that is the input file"),
    ("./sub/../in.csv", ["in.csv"], "that is the input file"),
    ("link.csv", ["in.csv"], "that is the input file"),  # a hard link to the input
    ("out.txt", [], "the name must end in .csv, not '.txt'"),
    ("out", [], "the name must end in .csv, not ''"),
    ("nodir/out.csv", [], "folder nodir does not exist"),
    ("adir.csv", [], "is a directory"),
])
def test_a_bad_target_is_one_line_before_anything_is_written(tmp_path, monkeypatch, name, inputs, message):
    monkeypatch.chdir(tmp_path)
    Path("in.csv").write_text("keep me\n")
    Path("sub").mkdir()
    Path("adir.csv").mkdir()
    os.link("in.csv", "link.csv")
    with pytest.raises(OutputError) as info:
        check_target(name, (".csv",), inputs)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(f"-o {name}: ")
    assert Path("in.csv").read_text() == "keep me\n"


def test_a_device_or_other_special_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(OutputError, match="not a regular file"):
        check_target(tmp_path / "pipe.csv", (".csv",))


def test_a_symlinked_target_replaces_the_file_it_points_to(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    (tmp_path / "link.csv").symlink_to(real)
    write_text(tmp_path / "link.csv", "new\n")
    assert (tmp_path / "link.csv").is_symlink() and real.read_text() == "new\n"


def test_files_are_whole_and_have_the_ordinary_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        write_files([(tmp_path / "a.csv", "a\n"), (tmp_path / "b.csv", iter(["b", "\n"])),
                     (tmp_path / "c.png", lambda tmp: Path(tmp).write_bytes(b"png"))])
    finally:
        os.umask(mask)
    assert (tmp_path / "a.csv").read_text() == "a\n" and (tmp_path / "b.csv").read_text() == "b\n"
    assert (tmp_path / "c.png").read_bytes() == b"png"
    assert {oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()} == {"0o644"}


def test_a_failure_in_any_file_leaves_every_target_as_it_was(tmp_path):
    (tmp_path / "a.csv").write_text("old a\n")

    def failing():
        yield "half of b"
        raise KeyboardInterrupt  # Ctrl-C in the middle of the second file

    with pytest.raises(KeyboardInterrupt):
        write_files([(tmp_path / "a.csv", "new a\n"), (tmp_path / "b.csv", failing())])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]
    assert (tmp_path / "a.csv").read_text() == "old a\n"


def test_an_unwritable_folder_is_refused_up_front(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        # root may write in a 0o555 folder; no one may create files in /sys
        target = folder / "x.csv" if os.geteuid() != 0 else Path("/sys/tariffcalc-x.csv")
        with pytest.raises(OutputError, match=f"-o {target}: cannot write in {target.parent}: Permission denied"):
            check_target(target, (".csv",))
    finally:
        folder.chmod(0o755)


SLOW_WRITER = """
import sys, time
from tariffcalc.output import write_text
def pieces():
    for i in range(600):
        yield "x" * 1000 + "\\n"
        if i == 5:
            print("writing", flush=True)
        time.sleep(0.05)
write_text(sys.argv[1], pieces())
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_mid_write_leaves_no_temporary_file(tmp_path, name):
    number = getattr(signal, name)
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(tmp_path / "out.csv")],
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout.readline() == "writing\n"
    assert [p.name for p in tmp_path.iterdir()][0].startswith(".out.csv.")  # the temporary file, mid-write
    process.send_signal(number)
    assert process.wait(timeout=30) == 128 + number
    assert list(tmp_path.iterdir()) == []


def test_an_ignored_hangup_stays_ignored(tmp_path):
    """Under nohup SIGHUP is ignored: the write goes on and completes."""
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITER.replace("range(600)", "range(40)"),
                                str(tmp_path / "out.csv")], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)},
                               preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    assert process.stdout.readline() == "writing\n"
    process.send_signal(signal.SIGHUP)
    assert process.wait(timeout=60) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 40


@pytest.mark.soak
def test_sigterm_during_a_real_duty_run_leaves_nothing(tmp_path):
    """`timeout -s TERM` on a big `duty -o`: no hidden .out.csv.*.tmp of hundreds of MB."""
    header = "entry_id,entry_date,hts,origin,customs_value\n"
    rows = "".join(f"e{i},2025-04-15,8517.13.00,CN,{100 + i}\n" for i in range(300_000))
    ledger = tmp_path / "big.csv"
    ledger.write_text(header + rows)
    out = tmp_path / "out.csv"
    process = subprocess.Popen([sys.executable, "-m", "tariffcalc", "duty", str(ledger), "-o", str(out),
                                "--format", "json"], env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".out.csv.") for p in tmp_path.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, "the write never started"
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]
