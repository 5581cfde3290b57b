"""`tariffcalc diff`."""
import csv
import io
import json

from tariffcalc.cli import cli

from .conftest import BASIC
from .snapshot import assert_snapshot


def test_diff_json_on_bundled_data(runner, no_user_data):
    result = runner.invoke(cli, ["diff", "2025-04-01", "2025-05-14", "-f", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    us = data["directions"][0]
    assert (us["headline_from"], us["headline_to"], us["headline_delta"]) == (20.0, 30.0, 10.0)
    changes = {c["id"]: c for c in us["changes"]}
    assert changes["us-ieepa-reciprocal"]["change"] == "added"
    assert changes["us-ieepa-reciprocal"]["new_rate"] == 10.0
    cn = data["directions"][1]
    assert (cn["headline_from"], cn["headline_to"]) == (0.0, 10.0)


def test_diff_table_golden_on_fixture_data(runner):
    result = runner.invoke(cli, ["diff", "2025-04-01", "2025-05-14", "--data-dir", str(BASIC), "--standalone"],
                           env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert_snapshot("diff_basic_2025-04-01_2025-05-14.txt", result.stdout)


def test_diff_csv_has_headline_row_first(runner):
    result = runner.invoke(cli, ["diff", "2025-04-12", "2025-05-14", "-f", "csv", "-d", "us",
                                 "--data-dir", str(BASIC), "--standalone"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["change"] == "headline"
    assert (rows[0]["old_rate"], rows[0]["new_rate"], rows[0]["delta"]) == ("145", "30", "-115")


def test_diff_needs_two_dates(runner):
    result = runner.invoke(cli, ["diff", "2025-04-01"])
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr
