"""`tariffcalc export`, `layers` and `validate`."""
import csv
import io
import json

import pytest

from tariffcalc.cli import cli

from .conftest import BASIC, FIXTURES, GOLDEN

BAD_CASES = sorted(p for p in (FIXTURES / "bad").iterdir() if p.is_dir())


def test_export_tidy_csv_golden(runner):
    result = runner.invoke(cli, ["export", "--from", "2025-01-01", "--to", "2026-03-01",
                                 "--data-dir", str(BASIC), "--standalone"])
    assert result.exit_code == 0
    assert result.stdout == (GOLDEN / "export_basic_changes.csv").read_text()


def test_export_wide_has_one_column_per_layer(runner):
    result = runner.invoke(cli, ["export", "--from", "2025-04-01", "--to", "2025-04-30", "--wide",
                                 "-d", "us", "--data-dir", str(BASIC), "--standalone"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:3] == ["date", "direction", "headline"]
    last = rows[-1]
    assert last["date"] == "2025-04-10" and last["headline"] == "145" and last["t-reciprocal"] == "125"


def test_export_writes_the_file_atomically(runner, tmp_path):
    target = tmp_path / "out.csv"
    result = runner.invoke(cli, ["export", "--from", "2025-04-01", "--to", "2025-04-30", "-o", str(target),
                                 "--data-dir", str(BASIC), "--standalone"])
    assert result.exit_code == 0 and result.stdout == ""
    assert target.read_text().startswith("date,direction,imposer,origin,kind,layer_id")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_failed_export_leaves_no_file(runner, tmp_path):
    target = tmp_path / "out.csv"
    result = runner.invoke(cli, ["export", "--from", "2025-05-01", "--to", "2025-04-01", "-o", str(target),
                                 "--data-dir", str(BASIC), "--standalone"])
    assert result.exit_code == 2
    assert "before --from" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_export_json_records(runner):
    result = runner.invoke(cli, ["export", "--from", "2025-04-12", "--to", "2025-04-12", "-f", "json",
                                 "-d", "cn", "--data-dir", str(BASIC), "--standalone"])
    records = json.loads(result.stdout)
    assert records[0]["kind"] == "headline" and records[0]["rate"] == 125.0


def test_layers_lists_bundled_layers_filtered(runner, no_user_data):
    result = runner.invoke(cli, ["layers", "-d", "us", "--authority", "Section 122", "-f", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["layer_id"] for r in rows] == ["us-s122-surcharge"]
    assert (rows[0]["first_start"], rows[0]["last_end"]) == ("2026-02-24", "2026-07-24")


def test_validate_bundled_data(runner, no_user_data):
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 0
    assert result.stdout.startswith("ok: ")


@pytest.mark.parametrize("case", BAD_CASES, ids=[p.name for p in BAD_CASES])
def test_validate_rejects_bad_fixture_with_one_line_and_exit_2(runner, case):
    result = runner.invoke(cli, ["validate", str(case)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (case / "expect.txt").read_text().strip() in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["export"], ["export", "--average"], ["timeline"], ["chart"],
                                     ["chart", "-o", "out.png"]])
def test_a_period_ending_before_it_starts_is_refused_by_every_command(runner, no_user_data, tmp_path, command,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, [*command, "--from", "2025-04-01", "--to", "2025-03-01"])
    assert (result.exit_code, result.stderr) == (2, "Error: --to 2025-03-01 is before --from 2025-04-01\n")
    assert not list(tmp_path.iterdir())  # no chart written
