"""`rate --hts`, `diff --hts`, `export --hts/--hts-file` and `hts` through the CLI (fixture data)."""
import csv
import io
import json

from tariffcalc.cli import cli

from .conftest import BASIC

FIX = ["--data-dir", str(BASIC), "--standalone"]


def test_rate_hts_json_adds_a_product_object(runner):
    result = runner.invoke(cli, ["rate", "--date", "2025-04-12", "--hts", "8517.13.00", "-d", "us", "-f", "json", *FIX])
    assert result.exit_code == 0, result.output
    direction = json.loads(result.stdout)["directions"][0]
    product = direction["product"]
    assert direction["headline_rate"] == 145.0
    assert {"code", "description", "mfn_rate", "additional_rate", "total_rate", "layers"} <= set(product)
    assert (product["code"], product["mfn_rate"], product["additional_rate"], product["total_rate"]) == (
        "85171300", 0.0, 20.0, 20.0)
    layers = {layer["id"]: layer for layer in product["layers"]}
    assert layers["t-reciprocal"]["applies"] is False
    assert layers["t-reciprocal"]["reason"] == "exempt: Test electronics list"
    assert {"id", "rate", "applies", "reason"} <= set(layers["t-fentanyl"])


def test_rate_hts_table_shows_reasons_and_total(runner):
    result = runner.invoke(cli, ["rate", "--date", "2025-04-12", "--hts", "7318.15.20", "-d", "us", *FIX],
                           env={"COLUMNS": "140"})
    assert result.exit_code == 0
    assert "not charged on goods subject to Test steel" in result.stdout
    assert "Total: 45%" in result.stdout


def test_rate_hts_origin_hk_picks_the_us_direction(runner):
    result = runner.invoke(cli, ["rate", "--date", "2025-04-12", "--hts", "8703.80", "--origin", "HK", "-f", "json", *FIX])
    direction = json.loads(result.stdout)["directions"]
    assert [(d["imposer"], d["origin"]) for d in direction] == [("US", "HK")]
    assert direction[0]["product"]["additional_rate"] == 145.0


def test_malformed_code_is_one_line_exit_2(runner):
    result = runner.invoke(cli, ["rate", "--hts", "85.1", *FIX])
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: code '85.1' has 3 digits (use 2, 4, 6, 8 or 10)"


def test_diff_hts_csv(runner):
    result = runner.invoke(cli, ["diff", "2019-05-01", "2019-07-01", "--hts", "4202.21.90", "-d", "us", "-f", "csv", *FIX])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["name"] == "Total (MFN + additional)" and rows[0]["delta"] == "15"
    assert rows[1]["layer_id"] == "t-list3" and (rows[1]["old_rate"], rows[1]["new_rate"]) == ("10", "25")


def test_export_hts_file_many_codes_by_dates(runner, tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("# my products\n8517.13.00\n7318.15.20  # bolts\n\n4202.21.90\n")
    result = runner.invoke(cli, ["export", "--from", "2025-04-01", "--to", "2025-06-30", "--hts-file", str(codes),
                                 "-d", "us", *FIX])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    totals = [r for r in rows if r["kind"] == "total"]
    assert {r["code"] for r in totals} == {"85171300", "73181520", "42022190"}
    bolts = {r["date"]: r for r in totals if r["code"] == "73181520"}
    assert bolts["2025-04-10"]["additional_rate"] == "45"
    assert bolts["2025-06-04"]["additional_rate"] == "70"  # steel 50 + fentanyl 20


def test_export_hts_file_with_a_bad_code_names_the_line(runner, tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("8517.13.00\n85X7\n")
    result = runner.invoke(cli, ["export", "--from", "2025-04-01", "--hts-file", str(codes), *FIX])
    assert result.exit_code == 2
    assert f"{codes}:2: code '85X7' has characters other than digits" in result.stderr


def test_hts_lookup_json(runner):
    result = runner.invoke(cli, ["hts", "9403.20.0050", "--date", "2019-07-01", "-f", "json", *FIX])
    found = json.loads(result.stdout)
    assert found["mfn_text"] == "Free"
    assert {(i["id"], i["role"]) for i in found["lists"]} == {("t-list3", "covered by"), ("t-list3", "exempt from")}


def test_hts_lookup_table(runner):
    result = runner.invoke(cli, ["hts", "8517.13", "--date", "2025-06-01", *FIX], env={"COLUMNS": "140"})
    assert result.exit_code == 0
    assert "8517.13" in result.stdout and "Test electronics list" in result.stdout


def test_rate_exported_applies_the_in_transit_rule(runner, no_user_data):
    """List 3 10% -> 25% on 2019-05-10: goods exported before then and entered before 2019-06-15
    kept 10% (USTR notice of 2019-05-09 as extended; 9903.88.09)."""
    def charged(*extra):
        result = runner.invoke(cli, ["rate", "--date", "2019-05-20", "--hts", "4202.22.15", "-d", "us", "-f", "json",
                                     *extra])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["directions"][0]["product"]["additional_rate"]

    assert charged() == 25.0
    assert charged("--exported", "2019-05-01") == 10.0
    assert charged("--exported", "2019-05-12") == 25.0
    late = runner.invoke(cli, ["rate", "--date", "2019-06-20", "--hts", "4202.22.15", "-d", "us", "-f", "json",
                               "--exported", "2019-05-01"])
    assert json.loads(late.stdout)["directions"][0]["product"]["additional_rate"] == 25.0


def test_exported_needs_hts(runner):
    result = runner.invoke(cli, ["rate", "--exported", "2019-05-01", *FIX])
    assert result.exit_code == 2 and "--exported needs --hts" in result.stderr
