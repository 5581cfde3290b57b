"""Issue 12, one test per row of its table: nothing lost, nothing hangs, one line and exit status 2.

Each test is named after its row; the row's "today" is what the test would have caught."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tariffcalc.cli import cli

from .conftest import BASIC, FIXTURES

ROOT = Path(__file__).resolve().parent.parent
LEDGERS = FIXTURES / "ledgers"
HEADER = "entry_id,entry_date,hts,origin,customs_value,export_date,quantity\n"


def one_error_line(result) -> str:
    """The single ``Error: …`` line of a failed run (and no traceback, no stdout)."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def tree(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def bomb(folder: Path) -> Path:
    """Nine nested levels of nine aliases: 9**9 values if expanded."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for parent, child in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{child}: &{child} [" + ", ".join([f"*{parent}"] * 9) + "]")
    (folder / "us").mkdir(parents=True)
    (folder / "us" / "lol.yaml").write_text("\n".join(lines) + "\n")
    return folder


# row 1: `duty in.csv -o in.csv` (also `export --hts-file c.txt -o c.txt`)

def test_row01_output_onto_an_input_is_refused_and_the_input_kept(runner, no_user_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("in.csv").write_bytes((LEDGERS / "us-golden.csv").read_bytes())
    Path("c.txt").write_text("8517.13.00\n")
    before = tree(tmp_path)
    for args in (["duty", "in.csv", "-o", "in.csv"], ["duty", "in.csv", "-o", "./in.csv", "--skip-bad"],
                 ["export", "--from", "2025-01-01", "--to", "2025-02-01", "--hts-file", "c.txt", "-o", "c.txt"]):
        line = one_error_line(runner.invoke(cli, args))
        assert "that is the input file" in line
    Path("x.rejects.csv").write_bytes(Path("in.csv").read_bytes())  # the side file may not hit an input either
    line = one_error_line(runner.invoke(cli, ["duty", "x.rejects.csv", "-o", "x.csv", "--skip-bad"]))
    assert "rejects file x.rejects.csv: that is the input file" in line
    assert tree(tmp_path) == {**before, "x.rejects.csv": before["in.csv"]}


# row 2: a YAML alias bomb in --data-dir or TARIFFCALC_DATA

@pytest.mark.parametrize("how", ["--data-dir", "TARIFFCALC_DATA"])
def test_row02_an_alias_bomb_fails_within_a_second(tmp_path, how):
    folder = bomb(tmp_path / "bomb")
    args = [sys.executable, "-m", "tariffcalc", "rate", "--date", "2025-04-12"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TARIFFCALC_DATA", None)
    if how == "--data-dir":
        args += ["--data-dir", str(folder)]
    else:
        env["TARIFFCALC_DATA"] = str(folder)
    started = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 2
    assert result.stderr == (f"Error: {folder}/us/lol.yaml:5: too many aliases (at most 100 uses standing for "
                             "10,000 values in all: MAX_ALIASES, MAX_ALIAS_NODES)\n")
    # the whole process, start-up included; the check itself takes milliseconds (test_loader)
    assert took < 10, took


# row 3: a 50 MB note, 2.5M codes in one list

def test_row03_files_above_the_size_limits_are_refused(runner, tmp_path):
    from tariffcalc import loader

    note = tmp_path / "note" / "us"
    note.mkdir(parents=True)
    (note / "x.yaml").write_text("id: x\nname: X\nnote: " + "x" * (50 << 20) + "\n")
    line = one_error_line(runner.invoke(cli, ["validate", str(note.parent), "--standalone"]))
    assert line == f"Error: {note}/x.yaml:3: the file passes 1 MiB here (MAX_YAML_BYTES, see docs/data-format.md)"
    codes = tmp_path / "codes"
    (codes / "us").mkdir(parents=True)
    (codes / "lists").mkdir()
    layer = (BASIC / "us" / "t-steel.yaml").read_text()
    (codes / "us" / "t-steel.yaml").write_text(layer)
    many = loader.MAX_LIST_CODES + 1
    with open(codes / "lists" / "many.csv", "w") as handle:
        handle.write("# source: https://example.com\ncode\n")
        handle.writelines(f"{10_000_000 + i}\n" for i in range(many))
    assert loader.MAX_LIST_CODES < many * 8 < loader.MAX_LIST_BYTES  # the count limit, not the size one
    (codes / "us" / "t-many.yaml").write_text(
        layer.replace("id: t-steel", "id: t-many").replace('codes: ["72", "7318.15"]', 'lists: [lists/many.csv]'))
    assert "lists: [lists/many.csv]" in (codes / "us" / "t-many.yaml").read_text()
    line = one_error_line(runner.invoke(cli, ["validate", str(codes), "--standalone"]))
    assert line == (f"Error: {codes}/lists/many.csv:{many + 2}: more than 100,000 codes in one list file "
                    "(MAX_LIST_CODES, see docs/data-format.md)")


# row 4: -o /nodir/x.csv, -o into a read-only dir (duty, export, chart)

@pytest.mark.parametrize("command", [
    ["duty", str(LEDGERS / "us-golden.csv")],
    ["export", "--from", "2025-01-01", "--to", "2025-03-01"],
    ["chart", "--from", "2025-01-01", "--to", "2025-03-01"],
])
def test_row04_an_unwritable_output_is_one_line_before_computing(runner, no_user_data, monkeypatch, command):
    def no_computing(*args, **kwargs):
        raise AssertionError("computed before checking -o")

    monkeypatch.setattr("tariffcalc.loader.load_dataset", no_computing)
    monkeypatch.setattr("tariffcalc.ledger.read_ledger", no_computing)
    suffix = ".png" if command[0] == "chart" else ".csv"
    line = one_error_line(runner.invoke(cli, [*command, "-o", f"/nodir/x{suffix}"]))
    assert line == f"Error: -o /nodir/x{suffix}: folder /nodir does not exist"
    # a folder no one may create files in (as root too; tests/test_output.py also tries a 0o555 folder)
    line = one_error_line(runner.invoke(cli, [*command, "-o", f"/sys/x{suffix}"]))
    assert line == f"Error: -o /sys/x{suffix}: cannot write in /sys: Permission denied"


# row 5: `rate --data-dir EMPTY --standalone`; `validate noyaml/`

def test_row05_a_directory_without_layer_files_is_an_error(runner, no_user_data, tmp_path):
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    noyaml = tmp_path / "noyaml"
    (noyaml / "us").mkdir(parents=True)
    (noyaml / "us" / "notes.txt").write_text("not a layer\n")
    for args, folder in ((["rate", "--data-dir", str(empty), "--standalone"], empty),
                         (["rate", "--data-dir", str(empty)], empty),
                         (["validate", str(noyaml)], noyaml),
                         (["validate", str(noyaml), "--standalone"], noyaml)):
        line = one_error_line(runner.invoke(cli, args))
        assert line.startswith(f"Error: no layer files in {folder} ")


# row 6: `timeout -s TERM 15 duty big.csv -o out.csv`

SLOWED_DUTY = """
import sys, time
import tariffcalc.ledger_out as ledger_out
from tariffcalc.cli import cli
real = ledger_out.duty_csv_chunks
def slowed(*args, **kwargs):
    for text in real(*args, **kwargs):
        yield text
        print("writing", file=sys.stderr, flush=True)
        time.sleep(60)
ledger_out.duty_csv_chunks = slowed
cli(sys.argv[1:], prog_name="tariffcalc")
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_row06_a_signal_during_duty_leaves_no_temporary_file(no_user_data, tmp_path, name):
    ledger = tmp_path / "big.csv"
    ledger.write_text(HEADER + "".join(f"e{i},2025-04-15,8517.13.00,CN,{100 + i},,\n" for i in range(2000)))
    process = subprocess.Popen(
        [sys.executable, "-c", SLOWED_DUTY, "duty", str(ledger), "-o", str(tmp_path / "out.csv"), "--skip-bad",
         "--format", "json"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stderr.readline() == "writing\n"
    assert any(p.name.startswith(".out.csv.") and p.name.endswith(".tmp") for p in tmp_path.iterdir())
    process.send_signal(getattr(signal, name))
    assert process.wait(timeout=60) == 128 + getattr(signal, name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]  # neither out.csv nor out.rejects.csv


# row 12: `validate` with TARIFFCALC_DATA set

def test_row12_validate_reads_tariffcalc_data_like_every_command(runner, tmp_path):
    bad = tmp_path / "bad"
    (bad / "us").mkdir(parents=True)
    (bad / "us" / "x.yaml").write_text("id: [unclosed\n")
    for command in (["validate"], ["rate", "--date", "2025-04-12"]):
        line = one_error_line(runner.invoke(cli, command, env={"TARIFFCALC_DATA": str(bad)}))
        assert line.startswith(f"Error: {bad}/us/x.yaml:")
    result = runner.invoke(cli, ["validate"], env={"TARIFFCALC_DATA": str(BASIC)})
    assert result.exit_code == 0 and result.stdout.rstrip().endswith(f", {BASIC}")


# row 13: a list file with bad codes

def test_row13_every_list_file_is_checked_on_every_load(runner):
    case = FIXTURES / "bad" / "list-bad-code"
    expected = f"Error: {case}/lists/us/x.csv:4: code '94A3' has characters other than digits"
    for command in (["rate", "--date", "2025-04-12"], ["layers"], ["validate"],
                    ["rate", "--date", "2025-04-12", "--hts", "9403.10", "-d", "us"]):
        line = one_error_line(runner.invoke(cli, [*command, "--data-dir", str(case), "--standalone"]
                                            if command != ["validate"] else [*command, str(case), "--standalone"]))
        assert line.startswith(expected)


# row 14: list-file errors absolute, YAML errors relative

def test_row14_yaml_and_list_file_errors_name_paths_alike(runner, monkeypatch):
    monkeypatch.chdir(FIXTURES / "bad")
    yaml_line = one_error_line(runner.invoke(cli, ["validate", "malformed-yaml", "--standalone"]))
    list_line = one_error_line(runner.invoke(cli, ["validate", "list-bad-code", "--standalone"]))
    assert yaml_line.startswith("Error: malformed-yaml/")  # as given: relative to the current folder
    assert list_line.startswith("Error: list-bad-code/lists/us/x.csv:4: ")
    monkeypatch.chdir(FIXTURES / "bad" / "list-bad-code" / "us")
    line = one_error_line(runner.invoke(cli, ["validate", "..", "--standalone"]))
    assert line.startswith("Error: ../lists/us/x.csv:4: ")  # normalised, never resolved


# row 7: ledger customs_value 1e308

def test_row07_an_absurd_value_is_rejected_and_json_never_holds_infinity(runner, no_user_data, tmp_path):
    from tariffcalc import export
    from tariffcalc.errors import TariffcalcError

    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + "a,2025-04-15,8517.13.00,CN,100,,\nb,2025-04-15,8517.13.00,CN,1e308,,\n")
    line = one_error_line(runner.invoke(cli, ["duty", str(path), "--format", "json"]))
    assert line == f"Error: {path}:3: customs_value 1e+308 is more than 1e+15, the largest tariffcalc accepts"
    result = runner.invoke(cli, ["duty", str(path), "-o", str(tmp_path / "out.csv"), "--skip-bad", "-f", "json"])
    assert result.exit_code == 0 and "RuntimeWarning" not in result.stderr
    data = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert data["entries"] == 1 and data["rejected"] == 1
    for value in (float("inf"), float("nan")):
        with pytest.raises(TariffcalcError, match="cannot write JSON"):
            export.to_json({"duty_total": value})


# row 8: quoted field spanning two lines, bad row after it

def test_row08_a_bad_row_after_a_multiline_field_is_named_by_its_physical_line(runner, no_user_data, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + '"two\nlines",2025-04-15,8517.13.00,CN,100,,\n'
                    'b,2025-04-15,8517.13.00,CN,lots,,\n')
    line = one_error_line(runner.invoke(cli, ["duty", str(path)]))
    assert line == f"Error: {path}:4: customs_value 'lots' is not a number"
    result = runner.invoke(cli, ["duty", str(path), "-o", str(tmp_path / "out.csv"), "--skip-bad", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.rejects.csv").read_text().splitlines()[1].startswith(
        "4,customs-value-not-a-number,customs_value 'lots'")


# row 9: row with more fields than the header

@pytest.mark.parametrize("extra", [",x", ",x,y,z"])
def test_row09_a_row_longer_than_the_header_is_named_by_its_line(runner, no_user_data, tmp_path, extra):
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + '"quoted\nid",2025-04-15,8517.13.00,CN,100,,\n'
                    f"b,2025-04-15,8517.13.00,CN,100,,{extra}\n")
    line = one_error_line(runner.invoke(cli, ["duty", str(path)]))
    assert line == f"Error: {path}:4: expected 7 fields, saw {7 + extra.count(',')}"


# row 10: whitespace-only entry_id

def test_row10_an_entry_id_of_spaces_is_rejected(runner, no_user_data, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + "a,2025-04-15,8517.13.00,CN,100,,\n   ,2025-04-15,8517.13.00,CN,100,,\n")
    line = one_error_line(runner.invoke(cli, ["duty", str(path)]))
    assert line == f"Error: {path}:3: entry_id is empty (or only spaces)"


# row 11: duplicate rows in OUT.rejects.csv

def test_row11_a_rejected_duplicate_keeps_every_field_as_written(runner, no_user_data, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + "a,2025-04-15,8517.13.00,CN,100,,\n"
                    '"note\nin id",2025-04-15,8517.13.00,CN,5,,\n'
                    'a,2025-04-16,"8517.13.00",CN,0100.50,2025-04-01,007\n')
    result = runner.invoke(cli, ["duty", str(path), "-o", str(tmp_path / "out.csv"), "--skip-bad", "-f", "json"])
    assert result.exit_code == 0, result.output
    rejects = (tmp_path / "out.rejects.csv").read_text().splitlines()
    assert rejects[1:] == ["5,entry-id-repeated,entry_id a repeats row 2,a,2025-04-16,8517.13.00,CN,0100.50,2025-04-01,007"]
