"""Refund routes, deadlines and interest: golden entries worked out from the cited rules, properties.

The rules (data/refunds/us-ieepa.yaml): CAPE phase 1 from 2026-04-20 takes unliquidated entries
and entries liquidated at most 80 days before the filing (CBP CSMS of 2026-04-13); a protest is due
within 180 days after liquidation (19 U.S.C. 1514(c)(3)); finally liquidated entries wait for a
later phase, with the two-year limit of a CIT action counted from the deposit (28 U.S.C. 2636(i),
unconfirmed); after that they are time-barred. Section 122 duties are contingent on the appeal.
Interest: 19 U.S.C. 1505(c) at the IRS corporate overpayment rates (26 U.S.C. 6621), compounded
daily (6622): 6% for every quarter of 2025 and Q1 2026 (CBP notices, e.g. 90 FR 9036), 5% for Q2
2026 (unconfirmed), nothing sourced after 2026-06-30.
"""
import json
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffcalc import duties, export, ledger, refunds
from tariffcalc.cli import cli
from tariffcalc.errors import DataError
from tariffcalc.loader import load_dataset, parse_interest, read_yaml

HEADER = "entry_id,entry_date,hts,origin,customs_value,export_date,quantity,entry_summary_date,liquidation_date\n"
SWEATER = "6110.20.20"  # 2025-06-02: IEEPA fentanyl 20% + reciprocal 10% (24 points suspended); 301 List 4A 7.5%
AS_OF = date(2026, 12, 1)
DAILY_6 = 1 + 0.06 / 365
DAILY_5 = 1 + 0.05 / 365


def price(products, tmp_path, rows, as_of=AS_OF, header=HEADER):
    path = tmp_path / "ledger.csv"
    path.write_text(header + "".join(rows), encoding="utf-8")
    return duties.compute_duties(ledger.read_ledger(path), products, as_of=as_of)


def row(entry_id, liquidation="", summary="2025-06-10", entered="2025-06-02", hts=SWEATER, value=10000):
    return f"{entry_id},{entered},{hts},CN,{value},,,{summary},{liquidation}\n"


def refund(result, entry_id):
    at = list(result.entries["entry_id"]).index(entry_id)
    r = result.refunds
    deadline = None if np.isnat(r.deadline[at]) else r.deadline[at].astype(date)
    days = None if np.isnan(r.days_left[at]) else int(r.days_left[at])
    return r.route_names()[at], deadline, days, r.duty[at], r.interest[at]


def ieepa_lines(result, entry_id):
    lines = result.lines()
    mine = lines[(lines["entry_id"] == entry_id) & lines["layer_id"].isin(["us-ieepa-fentanyl", "us-ieepa-reciprocal"])]
    return mine["duty"].sum()


# -- golden entries, one per route and boundary -------------------------------------------------

def test_the_refundable_duty_is_the_ieepa_lines(products, tmp_path):
    result = price(products, tmp_path, [row("a", "unliquidated")])
    _, _, _, duty, _ = refund(result, "a")
    assert duty == pytest.approx(10000 * (20 + 10) / 100) == pytest.approx(ieepa_lines(result, "a"))


def test_unliquidated_entry_is_cape_phase_1_without_a_deadline(products, tmp_path):
    result = price(products, tmp_path, [row("open", "unliquidated")])
    assert refund(result, "open")[:3] == ("CAPE phase 1", None, None)


def test_the_80_day_edge(products, tmp_path):
    # Liquidated 80 days before the filing: still phase 1, and the filing day is the deadline.
    day80, day81 = AS_OF - timedelta(days=80), AS_OF - timedelta(days=81)
    assert day80 == date(2026, 9, 12)
    result = price(products, tmp_path, [row("d80", day80.isoformat()), row("d81", day81.isoformat())])
    assert refund(result, "d80")[:3] == ("CAPE phase 1", AS_OF, 0)
    # One day later it is out of phase 1; a protest is due 180 days after liquidation.
    assert refund(result, "d81")[:3] == ("protest", day81 + timedelta(days=180), 180 - 81)
    assert refund(result, "d81")[1] == date(2027, 3, 10)


def test_the_protest_deadline_day(products, tmp_path):
    day180, day181 = AS_OF - timedelta(days=180), AS_OF - timedelta(days=181)
    assert day180 == date(2026, 6, 4)
    result = price(products, tmp_path, [row("p180", day180.isoformat()), row("p181", day181.isoformat())])
    assert refund(result, "p180")[:3] == ("protest", AS_OF, 0)
    # Day 181: finally liquidated. Later phase; the CIT limit is two years after the deposit (2025-06-10).
    assert refund(result, "p181")[:3] == ("later phase", date(2027, 6, 10), (date(2027, 6, 10) - AS_OF).days)


def test_an_entry_liquidated_before_the_ruling(products, tmp_path):
    # Liquidated 2026-01-09, before the Supreme Court ruling of 2026-02-20.
    rows = [row("early", "2026-01-09")]
    # Before CAPE opened (2026-04-20) the only route for a liquidated entry was a protest: 180 days.
    before = price(products, tmp_path, rows, as_of=date(2026, 3, 1))
    assert refund(before, "early")[:3] == ("protest", date(2026, 7, 8), 129)
    # On 2026-05-01 it is 112 days past liquidation: outside CAPE phase 1 (80 days), still protestable.
    may = price(products, tmp_path, rows, as_of=date(2026, 5, 1))
    assert refund(may, "early")[:3] == ("protest", date(2026, 7, 8), 68)
    # On 2026-03-30 (80 days after) CAPE was not open yet: still a protest, not phase 1.
    march = price(products, tmp_path, rows, as_of=date(2026, 3, 30))
    assert refund(march, "early")[0] == "protest"


def test_unliquidated_before_cape_opened_waits_for_a_later_phase(products, tmp_path):
    result = price(products, tmp_path, [row("open", "unliquidated")], as_of=date(2026, 4, 19))
    assert refund(result, "open")[:3] == ("later phase", None, None)
    opened = price(products, tmp_path, [row("open", "unliquidated")], as_of=date(2026, 4, 20))
    assert refund(opened, "open")[0] == "CAPE phase 1"


def test_a_missing_liquidation_date_is_unknown(products, tmp_path):
    result = price(products, tmp_path, [row("blank", "")])
    route, deadline, _, duty, interest = refund(result, "blank")
    assert (route, deadline) == ("unknown", None) and duty == pytest.approx(3000) and interest > 0
    assert any("route unknown" in note for note in result.refunds.summary.notes)
    # No column at all: every refundable entry is unknown.
    bare = price(products, tmp_path, ["x,2025-06-02,6110.20.20,CN,10000,,\n"],
                 header="entry_id,entry_date,hts,origin,customs_value,export_date,quantity\n")
    assert refund(bare, "x")[0] == "unknown"
    assert any("no liquidation_date column" in note for note in bare.refunds.summary.notes)


def test_time_barred_two_years_after_the_deposit(products, tmp_path):
    rows = [row("old", "2025-12-15")]
    last = price(products, tmp_path, rows, as_of=date(2027, 6, 10))
    assert refund(last, "old")[:3] == ("later phase", date(2027, 6, 10), 0)
    after = price(products, tmp_path, rows, as_of=date(2027, 6, 11))
    route, deadline, days, duty, interest = refund(after, "old")
    assert (route, deadline, days, interest) == ("time-barred", None, None, 0) and duty == pytest.approx(3000)
    # Both rules are marked unconfirmed in the data, and the output says so.
    assert after.refunds.summary.by_route.set_index("route").loc["time-barred", "confidence"] == "unconfirmed"
    assert "route 'time-barred' is unconfirmed (1 entry): see us-ieepa.yaml, route 6" in after.refunds.summary.notes
    cape = price(products, tmp_path, [row("open", "unliquidated")])
    assert cape.refunds.summary.by_route.set_index("route").loc["CAPE phase 1", "confidence"] == "confirmed"


def test_section_122_duty_is_contingent_with_its_litigation_status(products, tmp_path):
    # 4202.22.15 entered 2026-03-10: the 10% Section 122 surcharge (Proclamation 11012).
    result = price(products, tmp_path, [row("s122", "unliquidated", "2026-03-20", "2026-03-10", "4202.22.15", 2000)])
    assert refund(result, "s122")[:4] == ("contingent", None, None, pytest.approx(200))
    status = result.summary.by_authority.set_index("authority").loc["Section 122", "status"]
    assert status.startswith("contingent:") and "stayed" in status
    data = export.duty_summary_dict(result)["refunds"]
    assert data["programs"][0]["litigation"] == "held_unlawful_stayed"


def test_nothing_refundable_outside_the_programs(products, tmp_path):
    result = price(products, tmp_path, [row("old", "2020-03-01", "2019-07-01", "2019-06-20")])
    assert refund(result, "old")[0] == "" and result.refunds.summary.by_route.empty


# -- interest, by hand with the shipped rates ----------------------------------------------------

def test_interest_within_2025_rates(products, tmp_path):
    # Deposited 2025-06-10, as of 2026-03-01: 264 days, every one at 6% (corporate, Q2 2025-Q1 2026).
    result = price(products, tmp_path, [row("a", "unliquidated")], as_of=date(2026, 3, 1))
    days = (date(2026, 3, 1) - date(2025, 6, 10)).days
    assert days == 264
    assert refund(result, "a")[4] == pytest.approx(3000 * (DAILY_6 ** days - 1), rel=1e-12)
    assert result.refunds.summary.interest_through is None


def test_interest_stops_where_the_rates_stop(products, tmp_path):
    # To 2026-12-01: 6% from 2025-06-10 to 2026-03-31 (295 days), 5% for Q2 2026 (91 days,
    # unconfirmed), then no sourced rate: nothing accrues after 2026-06-30, and the output says so.
    result = price(products, tmp_path, [row("a", "unliquidated")])
    assert (date(2026, 4, 1) - date(2025, 6, 10)).days == 295
    expected = 3000 * (DAILY_6 ** 295 * DAILY_5 ** 91 - 1)
    assert refund(result, "a")[4] == pytest.approx(expected, rel=1e-12)
    s = result.refunds.summary
    assert s.interest_through == date(2026, 6, 30)
    assert any("unconfirmed rate for 2026-04-01 to 2026-06-30" in n for n in s.notes)
    assert any("accrued to 2026-06-30 only" in n for n in s.notes)


def test_noncorporate_interest_is_the_other_column(products, tmp_path):
    # Non-corporate overpayments: 7% in 2025 and Q1 2026 (the same CBP notices), one point above.
    path = tmp_path / "l.csv"
    path.write_text(HEADER + row("a", "unliquidated"), encoding="utf-8")
    result = duties.compute_duties(ledger.read_ledger(path), products, as_of=date(2026, 3, 1),
                                   interest_payer="noncorporate")
    assert refund(result, "a")[4] == pytest.approx(3000 * ((1 + 0.07 / 365) ** 264 - 1), rel=1e-12)
    assert any("(noncorporate)" in n for n in result.refunds.summary.notes)


def test_unliquidated_a_year_after_entry_gets_a_deemed_liquidation_note(products, tmp_path):
    young = price(products, tmp_path, [row("a", "unliquidated")], as_of=date(2026, 6, 2))
    old = price(products, tmp_path, [row("a", "unliquidated")], as_of=date(2026, 6, 3))
    assert not any("1504(a)" in n for n in young.refunds.summary.notes)  # 365 days after entry
    assert any("deemed liquidated" in n for n in old.refunds.summary.notes)


def test_interest_from_the_entry_date_without_an_entry_summary_date(products, tmp_path):
    result = price(products, tmp_path, [row("a", "unliquidated", summary="")], as_of=date(2026, 3, 1))
    days = (date(2026, 3, 1) - date(2025, 6, 2)).days
    assert refund(result, "a")[4] == pytest.approx(3000 * (DAILY_6 ** days - 1), rel=1e-12)
    assert any("from the entry date" in n for n in result.refunds.summary.notes)


# -- the summary, JSON and per-entry output ------------------------------------------------------

def test_summary_by_route_and_due_within_30_days(products, tmp_path):
    rows = [row("cape", (AS_OF - timedelta(days=70)).isoformat()), row("protest", (AS_OF - timedelta(days=175)).isoformat()),
            row("later", "2026-01-05"), row("open", "unliquidated"), row("blank", "")]
    result = price(products, tmp_path, rows)
    s = result.refunds.summary
    assert dict(zip(s.by_route["route"], s.by_route["entries"])) == {
        "CAPE phase 1": 2, "protest": 1, "later phase": 1, "unknown": 1}
    assert list(s.due["entry_id"]) == ["protest", "cape"]  # deadlines 2026-12-06 and 2026-12-11
    assert list(s.due["days_left"]) == [5, 10]
    data = export.duty_summary_dict(result)["refunds"]
    assert data["as_of"] == "2026-12-01"
    assert data["by_route"]["CAPE phase 1"]["entries"] == 2
    assert data["due_within_30_days"][0] == {"entry_id": "protest", "route": "protest", "deadline": "2026-12-06",
                                             "days_left": 5, "duty": 3000.0,
                                             "interest": round(float(refund(result, "protest")[4]), 2)}
    assert data["total"]["duty"] == pytest.approx(5 * 3000)


def test_per_entry_csv_carries_the_refund_on_the_total_row(products, tmp_path):
    result = price(products, tmp_path, [row("cape", (AS_OF - timedelta(days=70)).isoformat())])
    lines = "".join(export.duty_csv_chunks(result)).splitlines()
    assert lines[0].endswith(",reason,refund_route,refund_duty,refund_deadline,refund_interest")
    interest = f"{refund(result, 'cape')[4]:.2f}"
    assert lines[-1].endswith(f",CAPE phase 1,3000.00,2026-12-11,{interest}")
    assert all(line.endswith(",,,,") for line in lines[1:-1])
    wide = "".join(export.duty_csv_chunks(result, wide=True)).splitlines()
    assert wide[1].endswith(f",CAPE phase 1,3000.00,2026-12-11,{interest}")


def test_cli_as_of_and_json(runner, no_user_data, tmp_path):
    path = tmp_path / "l.csv"
    path.write_text(HEADER + row("cape", "2026-09-20"), encoding="utf-8")
    result = runner.invoke(cli, ["duty", str(path), "--format", "json", "--as-of", "2026-12-01"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["refunds"]
    assert data["as_of"] == "2026-12-01" and list(data["by_route"]) == ["CAPE phase 1"]
    assert data["due_within_30_days"][0]["deadline"] == "2026-12-09"
    table = runner.invoke(cli, ["duty", str(path), "--as-of", "2026-12-01"], env={"COLUMNS": "80"})
    assert "Refunds on 2026-12-01" in table.stdout and "Due within 30 days" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80


def test_sample_ledger_has_every_route(runner, no_user_data):
    result = runner.invoke(cli, ["duty", "examples/sample-ledger.csv", "--format", "json", "--as-of", "2026-12-01"])
    routes = json.loads(result.stdout)["refunds"]["by_route"]
    assert set(routes) == {"CAPE phase 1", "protest", "later phase", "contingent", "unknown"}


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell, reason", [
    ("2026-13-01", "liquidation_date '2026-13-01' is not a date (YYYY-MM-DD) or 'unliquidated'"),
    ("2025-05-01", "liquidation_date 2025-05-01 is before entry_date 2025-06-02"),
])
def test_bad_liquidation_date_names_the_row(tmp_path, cell, reason):
    path = tmp_path / "l.csv"
    path.write_text(HEADER + row("a", "unliquidated") + row("b", cell), encoding="utf-8")
    with pytest.raises(ledger.LedgerError) as error:
        ledger.read_ledger(path)
    assert str(error.value) == f"{path}:3: {reason}"


def test_bad_entry_summary_date_names_the_row(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text(HEADER + row("a", summary="June"), encoding="utf-8")
    with pytest.raises(ledger.LedgerError, match=r":2: entry_summary_date 'June' is not a date"):
        ledger.read_ledger(path)


def bundled_program(name):
    from tariffcalc.loader import bundled_data_dir
    return (bundled_data_dir() / "refunds" / name).read_text(encoding="utf-8")


def line_of(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old, new, message", [
    ("route: protest", "route: appeal", "{line}: route 3: unknown route 'appeal'"),
    ("max_days_since_liquidation: 80", "max_days_since_liquidation: 80.5",
     "{line}: route 2: 'max_days_since_liquidation' must be a whole number of 0 or more, not 80.5"),
    ("deadline: {after: liquidation, days: 180}", "deadline: {after: liquidation}",
     "{line}: route 3: deadline: needs one of 'days' or 'years'"),
    ("layers: [us-ieepa-fentanyl, us-ieepa-reciprocal]", "layers: [us-ieepa-nope]",
     "1: layers names unknown layer 'us-ieepa-nope'"),
])
def test_bad_refund_program_names_file_and_line(tmp_path, old, new, message):
    folder = tmp_path / "refunds"
    folder.mkdir()
    text = bundled_program("us-ieepa.yaml").replace(old, new)
    (folder / "us-ieepa.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_dataset(tmp_path)
    expected = message.format(line=line_of(text, new))
    assert str(error.value).startswith(f"{folder / 'us-ieepa.yaml'}:{expected}")


def test_overlapping_refund_windows_are_an_error(tmp_path):
    folder = tmp_path / "refunds"
    folder.mkdir()
    text = bundled_program("us-ieepa.yaml").replace("id: us-ieepa\n", "id: us-ieepa-copy\n")
    (folder / "copy.yaml").write_text(text.replace("start: 2025-02-04", "start: 2026-02-01"), encoding="utf-8")
    with pytest.raises(DataError, match=r"copy.yaml:1: window overlaps refund program 'us-ieepa'"):
        load_dataset(tmp_path)


def test_interest_rates_must_not_overlap(tmp_path):
    path = tmp_path / "t.yaml"
    text = bundled_program("interest/us-customs-overpayment.yaml").replace(
        "  - start: 2025-04-01\n", "  - start: 2025-03-15\n", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"t.yaml:\d+: rate 2: starts 2025-03-15, before the rate above ends"):
        parse_interest(path, read_yaml(path))


def test_bundled_programs_load_with_sources(bundled_engine):
    dataset = bundled_engine.dataset
    assert [p.id for p in dataset.refunds] == ["us-ieepa", "us-s122"]
    for program in dataset.refunds:
        assert program.source.startswith("https://") and all(r.source.startswith("https://") for r in program.routes)
    table = dataset.interest["us-customs-overpayment"]
    assert table.rates[0].start.isoformat() == "2025-01-01"
    assert {r.confidence for r in table.rates if r.start >= date(2026, 4, 1)} == {"unconfirmed"}


# -- properties ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ieepa(bundled_engine):
    return bundled_engine.dataset.refunds[0]


days_2025_2028 = st.integers(0, 4 * 365).map(lambda n: np.datetime64("2025-02-04") + n)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deposit=days_2025_2028, gap=st.one_of(st.none(), st.integers(0, 900)), first=days_2025_2028,
       later=st.integers(1, 900))
def test_a_later_as_of_never_revives_a_time_barred_entry(ieepa, deposit, gap, first, later):
    liquidation = np.array([np.datetime64("NaT", "D") if gap is None else deposit + gap])
    known = np.array([True])
    one = np.array([deposit])
    route_then, _, _ = refunds._routes(ieepa, first, known, liquidation, one)
    route_after, deadline, _ = refunds._routes(ieepa, first + later, known, liquidation, one)
    if route_then[0] == refunds.TIME_BARRED:
        assert route_after[0] == refunds.TIME_BARRED
    if not np.isnat(deadline[0]):  # a route with a deadline holds only until it
        assert deadline[0] >= first + later


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 500), st.one_of(st.none(), st.just(-1), st.integers(0, 600)),
                          st.integers(1, 50_000)), min_size=1, max_size=12),
       st.integers(0, 700))
def test_refundable_by_route_sums_to_the_total(products, tmp_path_factory, entries, offset):
    rows = []
    for i, (day, gap, value) in enumerate(entries):
        entered = date(2025, 2, 4) + timedelta(days=day)
        liquidation = "" if gap is None else "unliquidated" if gap == -1 else (entered + timedelta(days=gap)).isoformat()
        rows.append(row(f"e{i}", liquidation, "", entered.isoformat(), SWEATER, value))
    result = price(products, tmp_path_factory.mktemp("p"), rows, as_of=date(2026, 1, 1) + timedelta(days=offset))
    r = result.refunds
    s = r.summary
    # Sums are made in whole millionths (order-independent): equal to the entries' to 1e-6 each.
    tolerance = 1e-6 * len(entries)
    assert s.by_route["duty"].sum() == pytest.approx(s.duty) == pytest.approx(r.duty.sum(), abs=tolerance)
    assert s.by_route["interest"].sum() == pytest.approx(s.interest) == pytest.approx(r.interest.sum(), abs=tolerance)
    assert s.by_route["entries"].sum() == int((r.duty > 0).sum())
    # The refundable IEEPA amount of the authorities' table is the same answer.
    contingent = s.by_route.set_index("route")["duty"].get("contingent", 0)
    assert result.summary.ieepa_refundable == pytest.approx(s.duty - contingent, abs=tolerance)
