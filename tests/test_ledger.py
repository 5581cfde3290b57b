"""Duties over a ledger: golden entries worked out from cited rates, refunds, properties, bad rows."""
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffcalc import duties, export, ledger
from tariffcalc.engine import direction_with_origin
from tariffcalc.errors import QueryError
from tariffcalc.products import ProductEngine
from tariffcalc.schedule import parse_specific

LEDGERS = Path(__file__).parent / "fixtures" / "ledgers"


@pytest.fixture(scope="module")
def products(bundled_engine):
    return ProductEngine.from_dataset(bundled_engine.dataset, bundled_engine)


@pytest.fixture(scope="module")
def us(products):
    return duties.compute_duties(ledger.read_ledger(LEDGERS / "us-golden.csv"), products)


@pytest.fixture(scope="module")
def cn(products):
    return duties.compute_duties(ledger.read_ledger(LEDGERS / "cn-golden.csv"), products)


def entry(result, entry_id):
    return result.entries.set_index("entry_id").loc[entry_id]


def layer_duties(result, entry_id):
    lines = result.lines()
    rows = lines[(lines["entry_id"] == entry_id) & (lines["kind"] == "layer")]
    return dict(zip(rows["layer_id"], rows["duty"]))


def write(tmp_path, text, name="ledger.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "entry_id,entry_date,hts,origin,customs_value,export_date,quantity\n"


# -- golden entries: every expected duty from rates cited in tests/golden/products.csv ----------

def test_smartphone_april_2025_pays_only_the_fentanyl_tariff(us):
    # 8517.13.00 MFN Free (HTS 2025 rev 10); IEEPA fentanyl 20% from 2025-03-04 (thompsonhinesmartrade.com);
    # reciprocal 125% exempt under the 2025-04-11 electronics memorandum (9903.01.32).
    e = entry(us, "phone-2025-04")
    assert e["mfn_duty"] == 0
    assert layer_duties(us, "phone-2025-04") == {"us-ieepa-fentanyl": 10000 * 0.20, "us-ieepa-reciprocal": 0}
    assert e["duty_total"] == pytest.approx(2000)
    reason = us.lines().query("entry_id == 'phone-2025-04' and layer_id == 'us-ieepa-reciprocal'")["reason"].iloc[0]
    assert reason == "exempt: 2025-04-11 electronics memorandum (9903.01.32)"


def test_list3_handbag_before_and_after_2019_05_10(us):
    # 4202.22.15 MFN 16%; List 3 10% from 2018-09-24 (lexology.com), 25% from 2019-05-10 (CBP NY N334323).
    assert entry(us, "bag-before")["duty_total"] == pytest.approx(1000 * (0.16 + 0.10))
    assert entry(us, "bag-after")["duty_total"] == pytest.approx(1000 * (0.16 + 0.25))


def test_list3_handbag_in_transit_keeps_10_percent(us):
    # 84 FR 20459 and the June 2019 notice: exported before 2019-05-10 and entered before 2019-06-15 -> 10%.
    assert layer_duties(us, "bag-in-transit") == {"us-s301-list3": 1000 * 0.10}
    reason = us.lines().query("entry_id == 'bag-in-transit' and kind == 'layer'")["reason"].iloc[0]
    assert "(in transit: loaded before 2019-05-10, entered before 2019-06-15: 10%)" in reason
    # entered after the deadline: 25% even though exported before May 10
    assert layer_duties(us, "bag-late") == {"us-s301-list3": 1000 * 0.25}


def test_steel_under_section_232_is_outside_the_reciprocal_tariff(us):
    # 7208.51.00 MFN Free; Section 232 steel 25% (gogocustoms.com); reciprocal not on 232 goods
    # (globaltradealert.org); fentanyl 20% stacks; the 2024 review rate 25% replaces List 4A's 7.5%.
    duties = layer_duties(us, "steel-2025-04")
    assert duties == {"us-ieepa-fentanyl": 1000, "us-ieepa-reciprocal": 0, "us-s232-steel": 1250,
                      "us-s301-list4a": 0, "us-s301-review-steel-aluminum": 1250}
    assert entry(us, "steel-2025-04")["duty_total"] == pytest.approx(5000 * (0.20 + 0.25 + 0.25))


def test_section_122_entry_in_march_2026(us):
    # Section 122 10% 2026-02-24..07-23 (CSMS #67844987) on top of List 3 25% (junologistics.com); IEEPA ended.
    duties = layer_duties(us, "bag-s122")
    assert duties["us-s122-surcharge"] == pytest.approx(2000 * 0.10)
    assert duties["us-s301-list3"] == pytest.approx(2000 * 0.25)
    assert duties["us-ieepa-fentanyl"] == 0
    assert entry(us, "bag-s122")["duty_total"] == pytest.approx(2000 * (0.16 + 0.10 + 0.25))


def test_us_soybeans_into_china_2018_and_2025(cn):
    # 2018-07-10: MFN 3% (PIIE schedule) + 25% on the $34 bn list (ibnewsmag.com).
    assert entry(cn, "soy-2018")["duty_total"] == pytest.approx(100000 * (0.03 + 0.25))
    # 2025-04-15 (1201.90.19): 125% on all US goods (chinadaily.com.cn) + 10% farm (bdnews24.com)
    # + 25% + 2.5% of the 2018-19 lists; the 2019 MFN schedule has no 1201.90.19 line: MFN not computed.
    soy = entry(cn, "soy-2025")
    assert soy["additional_duty"] == pytest.approx(100000 * (1.25 + 0.10 + 0.25 + 0.025))
    assert pd.isna(soy["mfn_duty"])
    # In transit: exported before 2025-04-10, entered before 2025-05-14 -> the 125% does not apply.
    assert entry(cn, "soy-2025-transit")["additional_duty"] == pytest.approx(100000 * (0.10 + 0.25 + 0.025))
    # 2025-11-15, code 1201.90 (both lines under it: MFN 3%): 10% + 25% + 2.5% (farms.com: 13% if waived).
    assert entry(cn, "soy-2025-hs6")["duty_total"] == pytest.approx(100000 * (0.03 + 0.10 + 0.25 + 0.025))


def test_refund_totals(us, cn):
    # IEEPA duties on entries 2025-02-04..2026-02-23: the phone's 2,000 and the steel's 1,000.
    s = us.summary
    assert s.refund_window == (date(2025, 2, 4), date(2026, 2, 23))
    assert s.ieepa_refundable == pytest.approx(3000)
    by = s.by_authority.set_index("authority")
    assert by.loc["Section 122", "duty"] == pytest.approx(200)
    assert "Court of International Trade" in by.loc["Section 122", "status"]
    assert cn.summary.ieepa_refundable == 0
    data = export.duty_summary_dict(us)
    assert list(data) == ["entries", "rejected", "customs_value", "duty_total", "mfn_unknown_entries", "by_authority",
                          "ieepa_refundable", "by_month", "refunds"]
    assert data["duty_total"] == pytest.approx(sum(v["duty"] for v in data["by_authority"].values()))
    assert data["duty_total"] == pytest.approx(sum(m["duty_total"] for m in data["by_month"]))


def test_specific_mfn_uses_quantity_when_the_text_is_simple(products, tmp_path):
    assert parse_specific("30.5¢/kg + 8.5%") == (0.305, "kg", 8.5)
    assert parse_specific("4.4¢/kg on drained weight") is None
    path = write(tmp_path, HEADER + "a,2025-06-02,0102.29.40,CN,1000,,500\nb,2025-06-02,0102.29.40,CN,1000,,\n")
    result = duties.compute_duties(ledger.read_ledger(path), products)
    a, b = entry(result, "a"), entry(result, "b")
    assert a["mfn_duty"] == pytest.approx(500 * 0.01)  # 1¢/kg (HTS 2025) x 500 kg
    assert "quantity 500 kg" in a["mfn_reason"]
    assert pd.isna(b["mfn_duty"]) and "not computed" in b["mfn_reason"]


# -- properties ------------------------------------------------------------------------------

CODES = ["8517.13.00", "4202.22.15", "7208.51.00", "9403.60.80", "6110.20.20", "8471.30.01", "0102.29.40"]
rows = st.lists(st.tuples(st.sampled_from(CODES),
                          st.dates(min_value=date(2018, 1, 1), max_value=date(2026, 12, 31)),
                          st.integers(min_value=0, max_value=10_000_000).map(lambda c: c / 100),
                          st.one_of(st.none(), st.integers(min_value=0, max_value=90))),
                min_size=1, max_size=12)


def ledger_text(items):
    lines = [HEADER.strip()]
    for i, (code, day, value, back) in enumerate(items):
        exported = "" if back is None else (day - timedelta(days=back)).isoformat()
        lines.append(f"e{i},{day},{code},CN,{value},{exported},")
    return "\n".join(lines) + "\n"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=rows, order=st.randoms(use_true_random=False))
def test_totals_add_up_and_order_does_not_matter(products, tmp_path_factory, items, order):
    folder = tmp_path_factory.mktemp("prop")
    # skip_bad: a code that is no line of its date's schedule, or whose lines differ, is a reject
    result = duties.compute_duties(ledger.read_ledger(write(folder, ledger_text(items)), skip_bad=True), products)
    s = result.summary
    assert s.entries + s.rejected == len(items)  # rows in = rows priced + rows rejected
    entries = result.entries  # an entry whose MFN duty is unknown has no total; the summary a floor
    assert (entries["duty_total"].isna() == entries["mfn_duty"].isna()).all()
    assert s.mfn_unknown == int((entries["mfn_duty"].isna() & (entries["customs_value"] > 0)).sum())
    assert s.duty_total == pytest.approx(entries["additional_duty"].sum() + entries["mfn_duty"].sum())
    assert s.duty_total == pytest.approx(s.by_authority["duty"].sum())
    shuffled = ledger_text(items).strip().split("\n")
    body = shuffled[1:]
    order.shuffle(body)
    again = duties.compute_duties(ledger.read_ledger(write(folder, "\n".join([shuffled[0], *body]) + "\n", "b.csv"),
                                                      skip_bad=True), products)
    assert export.duty_summary_dict(again) == export.duty_summary_dict(result)
    key = ["entry_id", "kind", "layer_id"]
    a = result.lines().sort_values(key).reset_index(drop=True)
    b = again.lines().sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.sampled_from(CODES), day=st.dates(min_value=date(2018, 1, 1), max_value=date(2026, 12, 31)),
       value=st.integers(min_value=1, max_value=1_000_000))
def test_one_entry_costs_its_value_times_the_rate_of_rate_hts(products, tmp_path_factory, code, day, value):
    path = write(tmp_path_factory.mktemp("one"), HEADER + f"x,{day},{code},CN,{value},,\n")
    try:
        answer = products.rate(code.replace(".", ""), day, direction_with_origin("us"))
    except QueryError:  # no line of that date's schedule: the ledger row is bad too
        with pytest.raises(ledger.LedgerError, match="is not a line of"):
            duties.compute_duties(ledger.read_ledger(path), products)
        return
    if answer.varies:  # lines with different duties: no single answer, a bad row
        with pytest.raises(ledger.LedgerError, match="lines that get different duties"):
            duties.compute_duties(ledger.read_ledger(path), products)
        return
    result = duties.compute_duties(ledger.read_ledger(path), products)
    e = result.entries.iloc[0]
    assert e["additional_duty"] == pytest.approx(value * answer.additional_rate / 100)
    if answer.mfn_rate is not None and answer.mfn.basis in ("ad_valorem", "free"):
        assert e["duty_total"] == pytest.approx(value * answer.total_rate / 100)
    reasons = dict(zip(answer.layers["layer_id"], answer.layers["reason"]))
    for row in result.lines().query("kind == 'layer'").itertuples():
        assert row.reason == reasons[row.layer_id]  # the wording of rate --hts


mixed = st.lists(st.tuples(st.sampled_from(CODES),
                           st.dates(min_value=date(2018, 6, 1), max_value=date(2026, 8, 31)),
                           st.integers(min_value=0, max_value=10_000_000).map(lambda c: c / 100),
                           st.one_of(st.none(), st.integers(min_value=0, max_value=90)),
                           st.sampled_from(["CN", "HK"])),
                 min_size=1, max_size=15)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=mixed)
def test_the_summary_is_the_sum_of_the_lines(products, tmp_path_factory, items):
    # The summary is summed by (key, month) groups, not line by line: it must agree with the lines.
    lines = [HEADER.strip()]
    for i, (code, day, value, back, origin) in enumerate(items):
        exported = "" if back is None else (day - timedelta(days=back)).isoformat()
        lines.append(f"e{i},{day},{code},{origin},{value},{exported},")
    path = write(tmp_path_factory.mktemp("sum"), "\n".join(lines) + "\n")
    result = duties.compute_duties(ledger.read_ledger(path, skip_bad=True), products)
    s, per_line = result.summary, result.lines()
    charged = per_line[per_line["kind"] != "total"]
    by_authority = charged.groupby("authority")["duty"].sum()
    for row in s.by_authority.itertuples():
        assert row.duty == pytest.approx(by_authority.get(row.authority, 0), abs=1e-4)
        paying = charged[(charged["authority"] == row.authority) & (charged["duty"] > 0)]
        assert row.entries == paying["entry_id"].nunique()
    # by month: the sum of the lines known (an entry whose MFN is unknown has no total line amount)
    by_month = charged.groupby(charged["entry_date"].dt.strftime("%Y-%m"))["duty"].sum()
    assert list(s.by_month["month"]) == list(by_month.index)
    assert s.by_month["duty_total"].to_numpy() == pytest.approx(by_month.to_numpy(), abs=1e-4)
    window = charged["entry_date"].between(pd.Timestamp(s.refund_window[0]), pd.Timestamp(s.refund_window[1]))
    assert s.ieepa_refundable == pytest.approx(charged.loc[window & (charged["authority"] == "IEEPA"), "duty"].sum(),
                                               abs=1e-4)
    assert (per_line.loc[per_line["kind"] == "layer", "reason"].str.contains("in transit")).sum() == \
        len(result.transit_entry)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.tuples(st.sampled_from(CODES + ["8542.32.00.71", "8542.31.00.01", "8541.40.20.00"]),
                                st.dates(min_value=date(2025, 4, 1), max_value=date(2025, 12, 31))),
                      min_size=2, max_size=10))
def test_every_entry_has_the_reasons_of_rate_hts(products, tmp_path_factory, items):
    # Codes the data treats alike are priced once, by one of them: the words must still be each code's own.
    body = "".join(f"e{i},{day},{code},CN,100,,\n" for i, (code, day) in enumerate(items))
    result = duties.compute_duties(ledger.read_ledger(write(tmp_path_factory.mktemp("why"), HEADER + body),
                                                      skip_bad=True), products)
    per_line = result.lines().query("kind == 'layer'")
    priced = set(result.entries["entry_id"])
    for i, (code, day) in enumerate(items):
        if f"e{i}" not in priced:
            continue
        answer = products.rate(code.replace(".", ""), day, direction_with_origin("us"))
        expected = dict(zip(answer.layers["layer_id"], answer.layers["reason"]))
        mine = per_line[per_line["entry_id"] == f"e{i}"]
        assert {k: expected[k] for k in mine["layer_id"]} == dict(zip(mine["layer_id"], mine["reason"]))


def pandas_csv(frame: pd.DataFrame) -> str:
    """The reference: the frame written by to_csv, with the formats the CSV promises (ISO dates,
    money with 2 decimals, rates and quantities as short numbers, true/false)."""
    out = frame.copy()
    for name in out.columns:
        values = out[name]
        if name in ("entry_date", "export_date", "refund_deadline"):
            out[name] = values.dt.strftime("%Y-%m-%d").fillna("")
        elif values.dtype == bool:
            out[name] = values.map({True: "true", False: "false"})
        elif name in ("rate", "charged", "quantity", "mfn_rate", "total_rate"):
            out[name] = values.map(lambda v: "" if pd.isna(v) else f"{v:g}")
        elif values.dtype.kind == "f":
            out[name] = values.round(2)
    return out.to_csv(index=False, lineterminator="\n", float_format="%.2f", na_rep="")


def test_the_csv_is_what_pandas_writes_of_the_lines(products, tmp_path):
    # The CSVs are written straight from arrays; they must be byte for byte their DataFrames as CSV.
    text = (HEADER + '"a ""quoted"", id",2019-05-20,4202.22.15,CN,1000,2019-05-01,\nb,2025-04-15,8517.13.00,HK,10,,3\n'
            "c,2025-06-02,0102.29.40,CN,1000.005,,500\n")
    result = duties.compute_duties(ledger.read_ledger(write(tmp_path, text)), products)
    written = "".join(export.duty_csv_chunks(result, chunk_entries=2))
    assert written == pandas_csv(result.lines())
    assert '"a ""quoted"", id"' in written and "in transit" in written
    wide = "".join(export.duty_csv_chunks(result, wide=True, chunk_entries=2))
    assert wide == pandas_csv(duties.wide_frame(result, 0, 3, duties.wide_columns(result)))


def test_codes_of_digits_keep_their_leading_zero(products, tmp_path):
    # pandas reads a column whose values all look like numbers as numbers: 01022940 would become 1022940.
    path = write(tmp_path, HEADER + "a,2025-06-02,01022940,CN,1000,,500\nb,2025-06-02,01022940,CN,1000,,500\n")
    result = duties.compute_duties(ledger.read_ledger(path), products)
    assert list(result.entries["code"]) == ["01022940", "01022940"]
    assert entry(result, "a")["mfn_duty"] == pytest.approx(500 * 0.01)  # 1¢/kg, as for 0102.29.40


def test_chunk_size_changes_nothing(products, tmp_path):
    # Chunks see different subsets of codes, dates and numbers (pandas reads 5 as 5 or as 5.0 by chunk).
    path = tmp_path / "odd.csv"
    path.write_text("\ufeffentry_id,entry_date,hts,origin,customs_value,export_date,quantity,note\r\n"
                    '"multi\nline id",2019-05-20,4202.22.15,CN,1000,2019-05-01,,"x, y"\r\n'
                    "b,2025-04-15,0102.29.40,hk,10,,3,\r\n\r\nc,2025-06-02,01022940,CN,1000.005,,500,z\r\n"
                    "d,2018-07-10,1201.90,US,5,,,\r\n", encoding="utf-8", newline="")
    outputs = set()
    for rows in (1, 2, 3, ledger.CHUNK_ROWS):
        read = ledger.read_ledger(path, direction="us", skip_bad=True, chunk_rows=rows)
        outputs.add(("".join(export.duty_csv_chunks(duties.compute_duties(read, products))),
                     read.rejects.to_csv(index=False)))
    assert len(outputs) == 1
    written, rejects = outputs.pop()
    assert rejects.splitlines()[1].endswith(",d,2018-07-10,1201.90,US,5,,,")
    assert "\nb,2025-04-15,,us,US,HK,01022940,10.00,3,mfn," in written  # origin read as HK, code as written


def test_an_empty_ledger_costs_nothing(products, tmp_path):
    result = duties.compute_duties(ledger.read_ledger(write(tmp_path, HEADER)), products)
    assert result.summary.entries == 0 and result.summary.duty_total == 0
    assert result.lines().empty and list(result.lines().columns) == duties.LINE_COLUMNS


# -- bad rows ----------------------------------------------------------------------------------

@pytest.mark.parametrize("row, reason", [
    ("a,2025-13-01,8517.13.00,CN,10,,", "entry_date '2025-13-01' is not a date (YYYY-MM-DD)"),
    ("a,2025-04-01,85171,CN,10,,", "hts: code '85171' has 5 digits (use 2, 4, 6, 8 or 10)"),
    ("a,2025-04-01,8517.13.00,VN,10,,", "origin 'VN' is not an origin of this ledger (use CN, HK, MO, US)"),
    ("a,2025-04-01,8517.13.00,CN,ten,,", "customs_value 'ten' is not a number"),
    ("a,2025-04-01,8517.13.00,CN,-3,,", "customs_value -3 is negative"),
    ("a,2025-04-01,8517.13.00,CN,10,2025-05-01,", "export_date 2025-05-01 is after entry_date 2025-04-01"),
    (",2025-04-01,8517.13.00,CN,10,,", "entry_id is empty (or only spaces)"),
    (" \t ,2025-04-01,8517.13.00,CN,10,,", "entry_id is empty (or only spaces)"),
    ("a,2025-04-01,8517.13.00,CN,1e308,,", "customs_value 1e+308 is more than 1e+15, the largest tariffcalc accepts"),
    ("a,2025-04-01,8517.13.00,CN,inf,,", "customs_value 'inf' is not a number"),
    ("a,2025-04-01,8517.13.00,CN,nan,,", "customs_value 'nan' is not a number"),
    ("a,2025-04-01,8517.13.00,CN,10,,1e300", "quantity 1e+300 is more than 1e+15, the largest tariffcalc accepts"),
])
def test_a_bad_row_is_named_by_file_and_row(tmp_path, row, reason):
    path = write(tmp_path, HEADER + "ok,2025-04-01,8517.13.00,CN,10,,\n" + row + "\n")
    with pytest.raises(ledger.LedgerError) as error:
        ledger.read_ledger(path)
    assert str(error.value) == f"{path}:3: {reason}"


def test_the_first_bad_row_is_named_whatever_its_problem(tmp_path):
    path = write(tmp_path, HEADER + "ok,2025-04-01,8517.13.00,CN,10,,\na,2025-04-01,8517.13.00,VN,10,,\n"
                 "b,2025-04-01,8517.13.00,CN,-3,,\n")
    with pytest.raises(ledger.LedgerError) as error:
        ledger.read_ledger(path)
    assert str(error.value).startswith(f"{path}:3: origin 'VN'")


def test_skip_bad_keeps_the_good_rows_and_the_reasons(tmp_path):
    path = write(tmp_path, HEADER + "a,2025-04-01,8517.13.00,CN,10,,\nb,2025-04-01,85171,CN,10,,\n"
                 "a,2025-04-02,8517.13.00,CN,10,,\n")
    read = ledger.read_ledger(path, skip_bad=True)
    assert list(read.entries["entry_id"]) == ["a"]
    assert list(read.rejects["row"]) == [3, 4]
    assert read.rejects["reason"].iloc[1] == "entry_id a repeats row 2"


def test_columns_are_mapped_and_named_in_messages(tmp_path):
    path = write(tmp_path, "ID,Date,HTS,Origin,Value\na,2025-04-01,8517.13.00,CN,10\nb,someday,8517.13.00,CN,10\n")
    mapping = ledger.parse_columns("entry_id=ID,entry_date=Date,hts=HTS,origin=Origin,customs_value=Value")
    with pytest.raises(ledger.LedgerError, match=r":3: Date 'someday' is not a date"):
        ledger.read_ledger(path, mapping)
    with pytest.raises(ledger.LedgerError, match=r":1: missing column 'entry_id'"):
        ledger.read_ledger(path)


def test_a_ledger_mixing_directions_needs_a_direction(tmp_path):
    path = write(tmp_path, HEADER + "a,2025-04-01,8517.13.00,CN,10,,\nb,2025-04-01,1201.90,US,10,,\n")
    with pytest.raises(ledger.LedgerError, match="mixes goods"):
        ledger.read_ledger(path)
    assert ledger.read_ledger(path, direction="cn", skip_bad=True).rejects["row"].tolist() == [2]


# -- named problem codes: every one from a real bad row, in the rejects file's problem column --

CODES_HEADER = "entry_id,entry_date,hts,origin,customs_value,export_date,quantity,liquidation_date,entry_summary_date\n"
GOOD = {"entry_id": "", "entry_date": "2025-05-01", "hts": "8517.13.00", "origin": "CN", "customs_value": "1000",
        "export_date": "", "quantity": "", "liquidation_date": "", "entry_summary_date": ""}
# problem -> the cells that differ from a good row (each row has that one problem)
BAD_ROWS = {
    ledger.Problem.ENTRY_ID_EMPTY: {"entry_id": "  "},
    ledger.Problem.ENTRY_DATE_NOT_A_DATE: {"entry_date": "2025-13-01"},
    ledger.Problem.ENTRY_DATE_OUT_OF_RANGE: {"entry_date": "2017-12-31"},
    ledger.Problem.HTS_NOT_A_CODE: {"hts": "85x7"},
    ledger.Problem.ORIGIN_NOT_ALLOWED: {"origin": "FR"},
    ledger.Problem.CUSTOMS_VALUE_NOT_A_NUMBER: {"customs_value": "lots"},
    ledger.Problem.CUSTOMS_VALUE_NEGATIVE: {"customs_value": "-5"},
    ledger.Problem.EXPORT_DATE_NOT_A_DATE: {"export_date": "soon"},
    ledger.Problem.EXPORT_DATE_AFTER_ENTRY: {"export_date": "2025-06-01"},
    ledger.Problem.QUANTITY_INVALID: {"quantity": "-1"},
    ledger.Problem.LIQUIDATION_DATE_NOT_A_DATE: {"liquidation_date": "later"},
    ledger.Problem.LIQUIDATION_BEFORE_ENTRY: {"liquidation_date": "2025-04-01"},
    ledger.Problem.ENTRY_SUMMARY_DATE_NOT_A_DATE: {"entry_summary_date": "May"},
    ledger.Problem.CUSTOMS_VALUE_TOO_LARGE: {"customs_value": "1e16"},
    ledger.Problem.QUANTITY_TOO_LARGE: {"quantity": "1e16"},
    ledger.Problem.ENTRY_ID_REPEATED: {"entry_id": "good"},
    # lines of the golden rejects (tests/golden/ledgers/random-us.rejects.csv)
    ledger.Problem.HTS_NOT_A_LINE: {"hts": "4407140999", "entry_date": "2025-09-20"},
    ledger.Problem.HTS_LINES_DIFFER: {"hts": "731700", "entry_date": "2021-05-26"},
}


def test_every_problem_has_a_bad_row():
    assert set(BAD_ROWS) == set(ledger.Problem)
    assert set(ledger.MESSAGES) <= set(ledger.Problem)


@pytest.fixture(scope="module")
def problems_ledger(tmp_path_factory):
    path = tmp_path_factory.mktemp("problems") / "bad.csv"
    rows = [{**GOOD, "entry_id": "good"}]
    rows += [{**GOOD, "entry_id": problem.code, **cells} for problem, cells in BAD_ROWS.items()]
    path.write_text(CODES_HEADER + "".join(",".join(row.values()) + "\n" for row in rows), encoding="utf-8")
    return path


def _problem_by_row(rejects: pd.DataFrame) -> dict:
    return {int(row): ledger.Problem.from_code(code) for row, code in zip(rejects["row"], rejects["problem"])}


def _expected_by_row() -> dict:
    return {number: problem for number, problem in enumerate(BAD_ROWS, 3)}  # line 1 the header, 2 the good row


def test_each_problem_code_is_produced_by_its_bad_row(problems_ledger, products):
    result = duties.compute_duties(ledger.read_ledger(problems_ledger, skip_bad=True), products)
    rejects = result.ledger.rejects
    assert list(rejects.columns[:3]) == ["row", "problem", "reason"]
    assert _problem_by_row(rejects) == _expected_by_row()
    assert result.entries["entry_id"].tolist() == ["good"]


def test_the_problem_column_round_trips_through_the_rejects_file(problems_ledger, tmp_path, runner):
    from tariffcalc.cli import cli

    out = tmp_path / "out.csv"
    result = runner.invoke(cli, ["duty", str(problems_ledger), "-o", str(out), "--skip-bad", "-f", "json"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "out.rejects.csv", dtype=str, keep_default_na=False)
    assert _problem_by_row(written) == _expected_by_row()
    # the reason beside each code is the message of that problem; the cells are as written
    assert written.set_index("entry_id").loc["customs-value-negative", "reason"] == "customs_value -5 is negative"
    assert written.set_index("entry_id").loc["hts-not-a-code", "hts"] == "85x7"
    # and read again as a ledger, the same rows have the same problems
    again = ledger.read_ledger(tmp_path / "out.rejects.csv", skip_bad=True).rejects
    assert sorted(again["problem"]) == sorted(p.code for p in BAD_ROWS if p not in (
        ledger.Problem.ENTRY_ID_REPEATED, ledger.Problem.HTS_NOT_A_LINE, ledger.Problem.HTS_LINES_DIFFER))


def test_a_ledger_column_named_like_a_rejects_column_is_kept(tmp_path):
    path = write(tmp_path, "entry_id,entry_date,hts,origin,customs_value,reason,problem\n"
                           "a,2025-04-01,8517.13.00,CN,10,mine,x\nb,2025-04-01,8517.13.00,CN,lots,theirs,y\n")
    rejects = ledger.read_ledger(path, skip_bad=True).rejects
    assert list(rejects.columns) == ["row", "problem", "reason", "entry_id", "entry_date", "hts", "origin",
                                     "customs_value", "reason (ledger)", "problem (ledger)"]
    assert rejects.iloc[0][["problem", "reason (ledger)", "problem (ledger)"]].tolist() == [
        "customs-value-not-a-number", "theirs", "y"]


def test_the_readme_lists_every_problem_code():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert [p.code for p in ledger.Problem if f"`{p.code}`" not in readme] == []
