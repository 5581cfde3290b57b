"""`tariffcalc rate` through click's CliRunner: exit code, stdout and stderr."""
import json

from tariffcalc.cli import cli

from .conftest import BASIC, GOLDEN
from .snapshot import assert_snapshot


def run(runner, *args):
    return runner.invoke(cli, [*args, "--data-dir", str(BASIC), "--standalone"], catch_exceptions=False)


def test_rate_json_has_the_documented_shape(runner, no_user_data):
    result = runner.invoke(cli, ["rate", "--date", "2025-04-12", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["date"] == "2025-04-12"
    us, cn = data["directions"]
    assert (us["imposer"], us["origin"], us["headline_rate"]) == ("US", "CN", 145.0)
    assert (cn["imposer"], cn["origin"], cn["headline_rate"]) == ("CN", "US", 125.0)
    required = {"id", "name", "authority", "rate", "coverage", "status", "instrument", "source"}
    for layer in us["layers"] + cn["layers"]:
        assert required <= set(layer)
        assert isinstance(layer["rate"], (int, float)) and not isinstance(layer["rate"], bool)
        assert layer["source"].startswith("http")


def test_rate_table_shows_headline_and_with_sources_instruments(runner, no_user_data):
    plain = runner.invoke(cli, ["rate", "--date", "2025-04-12", "-d", "us"], env={"COLUMNS": "200"})
    assert plain.exit_code == 0
    assert plain.stdout.startswith("US on goods from China: 145%  = IEEPA reciprocal 125 + IEEPA fentanyl 20\n")
    assert "EO 14266" not in plain.stdout
    result = runner.invoke(cli, ["rate", "--date", "2025-04-12", "-d", "us", "--sources"], env={"COLUMNS": "200"})
    assert "us-ieepa-reciprocal" in result.stdout
    assert "EO 14266" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not a terminal


def test_rate_table_golden_on_fixture_data(runner):
    result = runner.invoke(
        cli, ["rate", "--date", "2025-11-05", "-d", "us", "--data-dir", str(BASIC), "--standalone"], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0
    assert_snapshot("rate_basic_2025-11-05_us.txt", result.stdout)


def test_rate_csv_golden_on_fixture_data(runner):
    result = runner.invoke(cli, ["rate", "--date", "2025-04-12", "--format", "csv", "--data-dir", str(BASIC), "--standalone"])
    assert result.exit_code == 0
    assert result.stdout == (GOLDEN / "rate_basic_2025-04-12.csv").read_text()


def test_include_threatened_counts_the_threat(runner):
    plain = json.loads(run(runner, "rate", "--date", "2025-11-05", "-d", "us", "-f", "json").stdout)
    asked = json.loads(run(runner, "rate", "--date", "2025-11-05", "-d", "us", "-f", "json",
                           "--include-threatened").stdout)
    assert plain["directions"][0]["headline_rate"] == 30
    assert asked["directions"][0]["headline_rate"] == 130
    assert any("threatened" in note for note in plain["directions"][0]["notes"])


def test_warning_after_verified_through_goes_to_stderr_for_json(runner):
    result = runner.invoke(cli, ["rate", "--date", "2026-06-01", "-f", "json", "--data-dir", str(BASIC), "--standalone"])
    assert result.exit_code == 0
    assert "verified through 2025-12-31" in result.stderr
    json.loads(result.stdout)
    # piped, each warning is one plain line (not wrapped at 80 columns, no trailing space)
    result = runner.invoke(cli, ["rate", "--date", "2026-06-01", "-f", "json", "--data-dir", str(BASIC), "--standalone"],
                           env={"COLUMNS": "40"})
    lines = result.stderr.splitlines()
    assert all(line.startswith("warning: ") and line == line.rstrip() for line in lines), lines


def test_data_dir_from_environment(runner, monkeypatch):
    monkeypatch.setenv("TARIFFCALC_DATA", str(BASIC))
    result = runner.invoke(cli, ["rate", "--date", "2025-04-12", "-d", "us", "-f", "json"])
    ids = [layer["id"] for layer in json.loads(result.stdout)["directions"][0]["layers"]]
    assert "t-reciprocal" in ids and "us-ieepa-reciprocal" in ids


def test_malformed_date_is_a_usage_error(runner):
    result = runner.invoke(cli, ["rate", "--date", "2025-13-01"])
    assert result.exit_code == 2
    assert "is not a date: use YYYY-MM-DD or 'today'" in result.stderr
    assert result.stdout == ""


def test_out_of_range_date_is_refused(runner):
    result = runner.invoke(cli, ["rate", "--date", "2016-01-01"])
    assert result.exit_code == 2
    assert "outside the range tariffcalc covers" in result.stderr


def test_today_is_accepted(runner, no_user_data):
    result = runner.invoke(cli, ["rate", "--date", "today", "-f", "json"])
    assert result.exit_code == 0
    json.loads(result.stdout)


def test_bad_data_dir_gives_one_line_and_exit_2(runner, tmp_path):
    (tmp_path / "us").mkdir()
    (tmp_path / "us" / "x.yaml").write_text("id: [unclosed\n")
    result = runner.invoke(cli, ["rate", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "x.yaml:" in lines[0]
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_traceback(runner, tmp_path):
    (tmp_path / "us").mkdir()
    (tmp_path / "us" / "x.yaml").write_text("id: [unclosed\n")
    result = runner.invoke(cli, ["rate", "--data-dir", str(tmp_path), "-v"])
    assert result.exit_code != 0
    assert result.exception is not None
