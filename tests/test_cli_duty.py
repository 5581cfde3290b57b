"""tariffcalc duty: output on stdout and in files, exit status 2 on bad rows, nothing half-written."""
import json
from pathlib import Path

from tariffcalc.cli import cli

LEDGERS = Path(__file__).parent / "fixtures" / "ledgers"
GOLDEN_US = str(LEDGERS / "us-golden.csv")
HEADER = "entry_id,entry_date,hts,origin,customs_value,export_date,quantity\n"


def test_duty_json_summary(runner, no_user_data):
    result = runner.invoke(cli, ["duty", GOLDEN_US, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["entries", "rejected", "customs_value", "duty_total", "mfn_unknown_entries", "by_authority",
                          "ieepa_refundable", "by_month", "refunds"]
    assert data["entries"] == 7 and data["rejected"] == 0
    assert data["ieepa_refundable"] == 3000.0
    assert data["by_authority"]["Section 122"]["duty"] == 200.0
    assert "stayed" in data["by_authority"]["Section 122"]["status"]
    assert data["duty_total"] == 7860.0  # the sum of the golden entries in test_ledger.py


def test_duty_table_shows_refund_and_section_122(runner, no_user_data):
    result = runner.invoke(cli, ["duty", GOLDEN_US], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "IEEPA refundable: 3,000.00 USD" in result.stdout
    assert "Court of International Trade" in result.stdout


def test_duty_csv_has_mfn_layer_and_total_rows(runner, no_user_data):
    result = runner.invoke(cli, ["duty", GOLDEN_US, "--format", "csv", "--as-of", "2026-12-01"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == ("entry_id,entry_date,export_date,direction,imposer,origin,code,customs_value,quantity,"
                        "kind,layer_id,name,authority,rate,applies,charged,duty,reason,"
                        "refund_route,refund_duty,refund_deadline,refund_interest")
    phone = [line for line in lines if line.startswith("phone-2025-04,")]
    assert phone[0].endswith(",mfn,mfn,MFN,MFN,0,true,0,0.00,MFN Free (US schedule us-hts-2025r10 (from 2025-04-09)),,,,")
    assert ",us-ieepa-fentanyl," in phone[1] and phone[1].endswith(",20,true,20,2000.00,applies: all goods,,,,")
    # The refund is on the total row: the golden ledger has no liquidation_date, so the route is unknown;
    # the interest is worked out in test_refunds.py (2,000 at 6% then 5% to 2026-06-30, compounded daily).
    assert phone[-1] == ("phone-2025-04,2025-04-15,,us,US,CN,8517130000,10000.00,,total,,Total (MFN + additional),"
                         ",,true,20,2000.00,,unknown,2000.00,,145.36")


def test_duty_wide_to_a_file(runner, no_user_data, tmp_path):
    out = tmp_path / "duties.csv"
    result = runner.invoke(cli, ["duty", GOLDEN_US, "-o", str(out), "--wide", "--format", "json"])
    assert result.exit_code == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 8 and "us-s122-surcharge" in rows[0]
    assert json.loads(result.stdout)["entries"] == 7


def test_columns_option_maps_a_broker_export(runner, no_user_data, tmp_path):
    path = tmp_path / "broker.csv"
    path.write_text("Entry,Date,HTS,Country,Value\nA1,2025-04-15,8517.13.00,CN,10000\n")
    result = runner.invoke(cli, ["duty", str(path), "--format", "json", "--columns",
                                 "entry_id=Entry,entry_date=Date,hts=HTS", "--columns", "origin=Country,customs_value=Value"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["duty_total"] == 2000.0


def test_a_bad_row_stops_before_writing_anything(runner, no_user_data, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + "a,2025-04-15,8517.13.00,CN,100,,\nb,2025-04-15,8517.13.00,CN,lots,,\n")
    out = tmp_path / "out.csv"
    result = runner.invoke(cli, ["duty", str(path), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"Error: {path}:3: customs_value 'lots' is not a number\n"
    assert list(tmp_path.iterdir()) == [path]


def test_skip_bad_writes_good_rows_and_rejects(runner, no_user_data, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + "a,2025-04-15,8517.13.00,CN,100,,\nb,2025-04-15,8517.13.00,CN,lots,,\n")
    out = tmp_path / "out.csv"
    result = runner.invoke(cli, ["duty", str(path), "-o", str(out), "--skip-bad", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rejected"] == 1
    rejects = (tmp_path / "out.rejects.csv").read_text().splitlines()
    assert rejects[0] == "row,problem,reason,entry_id,entry_date,hts,origin,customs_value,export_date,quantity"
    assert rejects[1] == "3,customs-value-not-a-number,customs_value 'lots' is not a number,b,2025-04-15,8517.13.00,CN,lots,,"
    assert "a,2025-04-15" in out.read_text() and "\nb," not in out.read_text()


def test_skip_bad_needs_an_output_file(runner, no_user_data):
    result = runner.invoke(cli, ["duty", GOLDEN_US, "--skip-bad"])
    assert result.exit_code == 2
    assert "needs -o" in result.stderr


def test_a_ragged_row_is_a_bad_file(runner, no_user_data, tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(HEADER + "a,2025-04-15,8517.13.00,CN,100,,\nb,2025-04-15,8517.13.00,CN,100,,,extra,more\n")
    result = runner.invoke(cli, ["duty", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}:3: expected 7 fields, saw 9\n"
    path.write_text(HEADER + "a,2025-04-15,8517.13.00,CN,100,,,extra\n")
    result = runner.invoke(cli, ["duty", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}:2: expected 7 fields, saw 8\n"


def test_an_unknown_mfn_never_shows_a_known_looking_total(runner, no_user_data, tmp_path):
    """0102.29.40 (live cattle) has a specific MFN duty (1¢/kg, HTS 2025) and no ad-valorem
    equivalent: without a quantity the MFN duty is unknown, so the entry's total is unknown in
    every format, with the reason, and the summary's total says it leaves the entry out."""
    import csv as csv_module
    import io
    import json as json_module

    path = tmp_path / "l.csv"
    path.write_text("entry_id,entry_date,hts,origin,customs_value\n"
                    "a,2025-06-02,0102.29.40,CN,1000\nb,2025-06-02,4202.22.15,CN,1000\n", encoding="utf-8")
    lines = list(csv_module.DictReader(io.StringIO(runner.invoke(cli, ["duty", str(path), "-f", "csv"]).stdout)))
    total = next(r for r in lines if r["entry_id"] == "a" and r["kind"] == "total")
    assert total["duty"] == "" and total["charged"] == "" and total["reason"].startswith("unknown: the MFN duty")
    mfn = next(r for r in lines if r["entry_id"] == "a" and r["kind"] == "mfn")
    assert mfn["duty"] == "" and "not computed" in mfn["reason"]
    known = next(r for r in lines if r["entry_id"] == "b" and r["kind"] == "total")
    assert float(known["duty"]) > 0 and known["reason"] == ""
    wide = list(csv_module.DictReader(io.StringIO(runner.invoke(cli, ["duty", str(path), "-f", "csv", "--wide"]).stdout)))
    row = next(r for r in wide if r["entry_id"] == "a")
    assert row["duty_total"] == "" and row["total_rate"] == "" and "not computed" in row["mfn_reason"]
    summary = json_module.loads(runner.invoke(cli, ["duty", str(path), "-f", "json"]).stdout)
    assert summary["mfn_unknown_entries"] == 1
    table = runner.invoke(cli, ["duty", str(path)], env={"COLUMNS": "100"}).stdout
    assert "duties: at least " in table and "MFN duty unknown on 1 entry: not in the totals" in table
    assert "Total (known part)" in table
    out = tmp_path / "out.csv"
    assert runner.invoke(cli, ["duty", str(path), "-o", str(out)]).exit_code == 0
    written = list(csv_module.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert next(r for r in written if r["entry_id"] == "a" and r["kind"] == "total")["duty"] == ""
