"""Pricing a ledger (duties.py): golden entries worked out from cited rates, refunds, properties;
and at speed: the schedule checks done once per distinct (code, vintage) and broadcast must give
what a row-by-row check gives, and the priced ledgers stay what they were (snapshots of the
per-entry results of the sample ledger and of a random ledger: tests/snapshot.py)."""
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffcalc import duties, export, ledger, money
from tariffcalc.content import Contents
from tariffcalc.engine import direction_with_origin
from tariffcalc.errors import QueryError
from tariffcalc.schedule import parse_specific

from .ledgers import HEADER, write
from .snapshot import assert_snapshot

ROOT = Path(__file__).parent.parent
LEDGERS = Path(__file__).parent / "fixtures" / "ledgers"
RANDOM = LEDGERS / "random-us.csv"  # 400 rows, seeded, bundled codes
SAMPLE = ROOT / "examples" / "sample-ledger.csv"
AS_OF = date(2026, 12, 1)


def test_vintage_numbers_are_vintage_on(products):
    schedules = products.schedules
    days = pd.date_range("2017-06-01", "2026-12-31", freq="5D")
    for imposer in ("US", "CN"):
        vintages, number = schedules.vintage_numbers(imposer, days.to_numpy("datetime64[D]"))
        assert [vintages[n] for n in number] == [schedules.vintage_on(imposer, d.date()) for d in days]



@given(st.lists(st.integers(min_value=-2**62, max_value=2**62), max_size=200))
def test_unique_by_hashing_is_numpys(values):
    values = np.array(values, dtype=np.int64)
    expected, first = np.unique(values, return_index=True)
    found, found_first = duties._unique(values, index=True)
    assert found.tolist() == expected.tolist() and found_first.tolist() == first.tolist()
    expected, inverse = np.unique(values, return_inverse=True)
    found, found_inverse = duties._unique(values, inverse=True)
    assert found.tolist() == expected.tolist() and found_inverse.tolist() == inverse.ravel().tolist()


class _ChangeDates:
    def __init__(self, days):
        self.all = np.array(days, dtype="datetime64[D]")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_period_is_the_number_of_its_kinds_change_dates_on_or_before_the_day(data):
    """``_Periods.of`` (a rank table over each origin's change dates) against the definition:
    the kind's change dates for the origin on or before the day, less one (0 before the first)."""
    earliest = np.datetime64(duties.EARLIEST, "D")
    offsets = st.lists(st.integers(1, 3300), max_size=12, unique=True).map(sorted)
    changes = [_ChangeDates([earliest] + [earliest + d for d in o]) for o in data.draw(
        st.lists(offsets, min_size=1, max_size=3))]
    keys = duties._KeyMemo()
    n_kinds = data.draw(st.integers(1, 4))
    keys.reps = [f"k{i}" for i in range(n_kinds)]
    origins = [f"O{i}" for i in range(len(changes))]
    for kind in range(n_kinds):
        for origin, change in zip(origins, changes):
            some = [d for d in change.all[1:] if data.draw(st.booleans())]
            keys.periods[(kind, origin)] = (np.array([earliest, *some], dtype="datetime64[D]") - earliest).astype(np.int64)
    kinds = np.array(sorted(data.draw(st.sets(st.integers(0, n_kinds - 1), min_size=1))), dtype=np.int64)
    n = data.draw(st.integers(1, 40))
    kind = np.array(data.draw(st.lists(st.sampled_from(kinds.tolist()), min_size=n, max_size=n)), dtype=np.int64)
    origin = np.array(data.draw(st.lists(st.integers(0, len(origins) - 1), min_size=n, max_size=n)), dtype=np.int64)
    day = earliest + np.array(data.draw(st.lists(st.integers(-30, 3400), min_size=n, max_size=n)))
    periods = duties._Periods(keys, changes, origins, kinds)
    found = periods.of(kind, origin, duties.Days(day))
    expected = [max(int((keys.periods[(k, origins[o])] <= (d - earliest).astype(np.int64)).sum()) - 1, 0)
                for k, o, d in zip(kind.tolist(), origin.tolist(), day)]
    assert found.tolist() == expected

def _lines_one_by_one(schedules, imposer, code, day) -> list[str]:
    """The definition of Schedules.resolve for one pair, written plainly."""
    vintage = schedules.vintage_on(imposer, day.date())
    leaves = [str(c) for c in schedules.leaves(vintage)]
    under = [c for c in leaves if c.startswith(code)]
    every = set(schedules.table(vintage).index)
    if not under and len(code) == 10 and code[:8] in every:
        return [code]
    return under


def test_resolve_is_the_row_by_row_definition(products):
    rng = np.random.default_rng(7)
    frame = pd.read_csv(RANDOM, dtype=str)
    codes = [c.replace(".", "") for c in frame["hts"]] + ["85", "0101", "9999999999"]
    days = [pd.Timestamp(d) for d in frame["entry_date"]] + [pd.Timestamp("2020-01-01")] * 3
    order = rng.permutation(len(codes))
    codes, days = [codes[i] for i in order], [days[i] for i in order]
    lines = products.schedules.resolve("US", codes, days)
    for code, day in list(zip(codes, days))[:150]:
        mine = lines[(lines["code"] == code) & (lines["date"] == day)]["line"].tolist()
        assert mine == _lines_one_by_one(products.schedules, "US", code, day), (code, day)


def test_stands_for_lines_is_the_row_by_row_definition(products):
    """The is-a-line check of _not_lines and of the code kinds, without pairs: the same rule."""
    schedules = products.schedules
    frame = pd.read_csv(RANDOM, dtype=str)
    codes = sorted({c.replace(".", "") for c in frame["hts"]})[:60] + ["85", "0101", "9999999999", "8471300100"]
    vintages, _ = schedules.vintage_numbers("US", [])
    found = schedules.stands_for_lines("US", codes)
    assert found.shape == (len(codes), len(vintages)) and found.any() and not found.all()
    for j, vintage in enumerate(vintages):  # _lines_one_by_one's rule, each vintage's lines read once
        leaves, every = [str(c) for c in schedules.leaves(vintage)], set(schedules.table(vintage).index)
        for i, code in enumerate(codes):
            under = any(c.startswith(code) for c in leaves)
            assert found[i, j] == (under or (len(code) == 10 and code[:8] in every)), (code, vintage.start)
    numbers = np.arange(len(codes)) % len(vintages)
    assert list(schedules.stands_for_lines("US", codes, numbers)) == [found[i, n] for i, n in enumerate(numbers)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("0123456789AB", min_size=1, max_size=12), min_size=1, max_size=40))
def test_code_sort_keys_sort_as_the_codes_and_bound_their_prefixes(codes):
    from tariffcalc.schedule import sort_keys

    key, last, length = sort_keys(codes)
    assert list(length) == [len(c) for c in codes]
    text = np.array(codes, dtype=str)
    assert [codes[i] for i in np.argsort(key, kind="stable")] == [codes[i] for i in np.argsort(text, kind="stable")]
    for i, code in enumerate(codes):  # the codes starting with a code are those keyed from its key to its last
        assert [c.startswith(code) for c in codes] == list((key >= key[i]) & (key <= last[i])), code


def test_lines_are_found_alike_on_keys_and_on_texts(products, monkeypatch):
    """Schedules' searches of their lines on integer keys (sort_keys) give what the same searches
    on the texts give, in every vintage of both imposers (China's lettered lines among them)."""
    schedules = products.schedules
    frame = pd.read_csv(RANDOM, dtype=str)
    codes = sorted({c.replace(".", "") for c in frame["hts"]})[:80] + [
        "85", "0101", "9999999999", "8471300100", "8525802200", "852580220", "8525802200A", "8517", "01"]
    on_keys = {}
    for vintage in schedules.vintages:
        on_keys[vintage.file] = (schedules._spans(vintage, np.array(codes, dtype=str)),
                                 schedules.has_lines_under(vintage, codes))
    monkeypatch.setattr("tariffcalc.schedule.sort_keys", lambda codes: None)
    for vintage in schedules.vintages:
        spans, under = on_keys[vintage.file]
        for mine, theirs in zip(spans, schedules._spans(vintage, np.array(codes, dtype=str))):
            assert list(mine) == list(theirs), vintage.file
        assert list(under) == list(schedules.has_lines_under(vintage, codes)), vintage.file
    assert any(len(s) for s in schedules.leaves(schedules.vintages[0]) if s[-1:].isalpha())


def test_codes_not_lines_are_found_as_row_by_row(products):
    # _not_lines resolves each distinct (code, vintage) once; each row must get the verdict and
    # the words a check of that row alone gives.
    read = ledger.read_ledger(RANDOM, skip_bad=True)
    bad, reasons = duties._not_lines(read, products)
    entries = read.entries
    schedules = products.schedules
    expected, words, first_day = [], {}, {}
    for i, row in enumerate(entries.itertuples()):
        vintage = schedules.vintage_on("US", row.entry_date.date())
        pair = (row.code, vintage.start)
        first_day.setdefault(pair, row.entry_date.date())
        found = products.resolve(direction_with_origin("us", row.origin), [row.code], [pd.Timestamp(vintage.start)])
        if found.empty:
            expected.append(i)
            words[i] = schedules.not_a_line("US", row.code, first_day[pair])
    assert list(bad) == expected and len(expected) > 3
    assert reasons == [words[i] for i in expected]


@pytest.mark.parametrize("name, path, wide", [("sample-ledger", SAMPLE, False), ("random-us", RANDOM, True)])
def test_priced_ledgers_are_unchanged(products, name, path, wide):
    result = duties.compute_duties(ledger.read_ledger(path, skip_bad=True), products, as_of=AS_OF)
    assert_snapshot(f"ledgers/{name}.csv", "".join(export.duty_csv_chunks(result, wide)))
    assert_snapshot(f"ledgers/{name}.rejects.csv", result.ledger.rejects.to_csv(index=False, lineterminator="\n"))
    summary = export.to_json(export.duty_summary_dict(result)) + "".join(f"note: {n}\n" for n in result.summary.notes)
    assert_snapshot(f"ledgers/{name}.summary.txt", summary)


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



def _mfn_questions(table_codes, rng, each: int = 8) -> list[str]:
    """Codes of every kind ``Schedules.mfn`` tells apart, drawn from one schedule's lines: lines
    of their own, codes with lines under them (China's 10-digit codes with lettered lines, HS-6
    headings), 10-digit codes under an 8-digit line, and codes of no line."""
    codes = np.asarray(table_codes, dtype=str)
    codes = codes[np.char.isdigit(codes)]  # a ledger's codes are digits (China's lettered lines are not)

    def some(values):
        values = np.unique(values)
        return list(rng.choice(values, size=min(each, len(values)), replace=False)) if len(values) else []

    lengths = np.char.str_len(codes)
    eights = codes[lengths == 8]
    lettered = np.asarray(table_codes, dtype=str)
    lettered = lettered[np.char.str_len(lettered) == 11]
    return (some(codes) + some([c[:10] for c in lettered]) + some([c[:6] for c in codes])
            + some(np.char.add(eights, "99")) + ["9999999999", "99"])


def test_a_ledgers_mfn_is_schedules_mfn_for_every_kind_of_code(products):
    """duty's vectorized MFN (``_mfn_lines``) follows ``Schedules.mfn``: the code's own line, else
    the lines under it, else a 10-digit code's 8-digit line, else none."""
    schedules, rng = products.schedules, np.random.default_rng(20261204)
    for imposer in ("US", "CN"):
        vintages = [v for v in schedules.vintages if v.imposer == imposer]
        for number, vintage in enumerate(vintages):
            codes = np.array(_mfn_questions(schedules.table(vintage).index, rng), dtype=object)
            got = duties._mfn_lines(products, imposer, codes, np.arange(len(codes)), np.full(len(codes), number))
            for code, rate, label in zip(codes, got["rate"], got["label"]):
                mfn, _vintage, note = schedules.mfn(imposer, code, vintage.start)
                want = np.nan if mfn is None or mfn.rate is None else mfn.rate
                assert rate == pytest.approx(want, nan_ok=True), (vintage.id, code, label, note)
                assert label.startswith("MFN unknown") == (mfn is None), (vintage.id, code, label, note)
                assert note in label, (vintage.id, code, label)


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


@pytest.mark.slow
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


@pytest.mark.slow
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



@pytest.mark.slow
def test_an_entry_on_either_side_of_every_change_date_costs_its_own_days_answer(products, tmp_path):
    """Keys cut a kind of code's days only at the change dates that bear on it (the steps of the
    layers its list rows name and of those with no list, its rows' dates, the vintages that add or
    drop it: duties._Changes.of_kind), not at every change date of the direction. For codes of
    every layer's lists, entries the day before and on every change date of the US on China and
    Hong Kong cost what the evaluation path (``answers``) gives for their own day."""
    table = products.index.table
    vintage = [v for v in products.schedules.vintages if v.imposer == "US"][-1]
    leaves = products.schedules.leaves(vintage)
    codes = {c.replace(".", "") for c in CODES}
    for _layer, rows in table[table["role"] != "waiver"].groupby("layer_id"):
        for prefix in rows["prefix"].iloc[::max(1, len(rows) // 3)].iloc[:3]:
            at = np.searchsorted(leaves, prefix)
            if at < len(leaves) and leaves[at].startswith(prefix) and len(leaves[at]) == 10:
                codes.add(leaves[at])
    codes = sorted(codes)
    lines, origins = [HEADER.strip()], ["CN", "HK"]
    days = {}
    for origin in origins:
        changes = duties._Changes(products, direction_with_origin("us", origin)).all.astype(date)
        days[origin] = sorted({d for c in changes for d in (c - timedelta(days=1), c)
                               if date(2018, 1, 1) <= d <= date(2026, 12, 31)})
        lines += [f"{origin}{i}-{j},{d},{c},{origin},1000,," for i, c in enumerate(codes)
                  for j, d in enumerate(days[origin])]
    result = duties.compute_duties(ledger.read_ledger(write(tmp_path, "\n".join(lines) + "\n"), skip_bad=True),
                                   products, as_of=AS_OF)
    entries = result.entries.assign(code=result.entries["code"].astype(str),
                                    date=result.entries["entry_date"].astype("datetime64[ns]"))
    assert len(entries) > 0.8 * (len(lines) - 1) and len(codes) > 60
    for origin in origins:
        answers = products.answers(codes, days[origin], direction_with_origin("us", origin)).totals
        mine = entries[entries["origin"] == origin].merge(answers, on=["code", "date"], how="left")
        assert mine["additional_rate"].notna().all()
        np.testing.assert_allclose(mine["additional_duty"], 1000 * mine["additional_rate"] / 100, atol=1e-9)


mixed = st.lists(st.tuples(st.sampled_from(CODES),
                           st.dates(min_value=date(2018, 6, 1), max_value=date(2026, 8, 31)),
                           st.integers(min_value=0, max_value=10_000_000).map(lambda c: c / 100),
                           st.one_of(st.none(), st.integers(min_value=0, max_value=90)),
                           st.sampled_from(["CN", "HK"])),
                 min_size=1, max_size=15)


@pytest.mark.slow
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


@pytest.mark.slow
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
    money to the cent, rates and quantities as short numbers, true/false)."""
    out = frame.copy()
    for name in out.columns:
        values = out[name]
        if name in ("entry_date", "export_date", "refund_deadline"):
            out[name] = values.dt.strftime("%Y-%m-%d").fillna("")
        elif values.dtype == bool:
            out[name] = values.map({True: "true", False: "false"})
        elif name in ("rate", "charged", "quantity", "mfn_rate", "total_rate"):
            out[name] = values.map(lambda v: "" if pd.isna(v) else f"{v:g}")
        elif values.dtype.kind == "f":  # to the cent as every output rounds (tariffcalc.money)
            out[name] = values.map(lambda v: "" if pd.isna(v) else f"{money.rounded(v):.2f}")
    return out.to_csv(index=False, lineterminator="\n", na_rep="")


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


# -- what the importer knows: the assume and *_value columns (as rate --assume / --content) ---

KNOWN = "entry_id,entry_date,hts,origin,customs_value,assume,steel_value,aluminum_value\n"


def test_the_assume_column_asserts_a_condition(products, tmp_path):
    """Needle roller bearings 8482.40.00 (MFN 5.8%) on 2025-09-01: the auto-parts list holds the
    heading only for parts of the vehicles of U.S. note 33(g) (Proclamation 10908, 90 FR 14705,
    9903.94.05; note 33(h)(ii) sends the rest to 9903.94.06, no duty). Asserted by the row: 25%
    Section 232, and the reciprocal tariff is not charged on it; not asserted: the reciprocal 10%.
    List 1 25% (83 FR 28710) and fentanyl 20% either way."""
    path = write(tmp_path, KNOWN + "part,2025-09-01,8482.40.00,CN,1000,auto-part,,\n"
                           "other,2025-09-01,8482.40.00,CN,1000,,,\n")
    result = duties.compute_duties(ledger.read_ledger(path), products)
    assert layer_duties(result, "part") == {"us-ieepa-fentanyl": 200, "us-ieepa-reciprocal": 0,
                                            "us-ieepa-reciprocal-suspended": 0, "us-s232-auto-parts": 250,
                                            "us-s301-list1": 250}
    assert entry(result, "part")["duty_total"] == pytest.approx(1000 * (0.058 + 0.20 + 0.25 + 0.25))
    assert layer_duties(result, "other")["us-s232-auto-parts"] == 0
    assert entry(result, "other")["duty_total"] == pytest.approx(1000 * (0.058 + 0.20 + 0.10 + 0.25))
    reason = result.lines().query("entry_id == 'part' and layer_id == 'us-s232-auto-parts'")["reason"].iloc[0]
    assert "(condition asserted: the good is a part of the passenger vehicles" in reason


def test_the_steel_value_column_is_the_steel_content(products, tmp_path):
    """Stainless cooking ware 7323.93.00.35 (MFN 2%) on 2025-09-01: Section 232 steel 50% on the
    steel content's value (Proclamation 10947, FR Doc 2025-10524, 9903.81.87), the reciprocal 10%
    on the rest (EO 14257 as amended: not on the 232 content), fentanyl 20% on the whole."""
    path = write(tmp_path, KNOWN + "pan,2025-09-01,7323.93.00.35,CN,1000,,600,\n")
    result = duties.compute_duties(ledger.read_ledger(path), products)
    got = layer_duties(result, "pan")
    assert got["us-s232-steel"] == pytest.approx(0.50 * 600)
    assert got["us-ieepa-reciprocal"] == pytest.approx(0.10 * 400)
    assert got["us-ieepa-fentanyl"] == pytest.approx(0.20 * 1000)
    assert entry(result, "pan")["duty_total"] == pytest.approx(20 + 300 + 40 + 200)
    reason = result.lines().query("entry_id == 'pan' and layer_id == 'us-s232-steel'")["reason"].iloc[0]
    assert "(50% of the steel content's value; steel 60% of the value, as declared)" in reason
    # the answer of rate --hts --content steel=0.6, to the layer
    answer = products.rate("7323930035", date(2025, 9, 1), direction_with_origin("us"),
                           assume=Contents({"steel": 0.6}))
    assert entry(result, "pan")["additional_duty"] == pytest.approx(1000 * answer.additional_rate / 100)


def test_entries_asserting_different_things_are_priced_apart(products, tmp_path):
    """One code, one day, three assertions: each entry its own answer (the key includes them)."""
    path = write(tmp_path, KNOWN + "a,2025-09-01,7323.93.00.35,CN,1000,,600,\n"
                           "b,2025-09-01,7323.93.00.35,CN,1000,,300,\n"
                           "c,2025-09-01,7323.93.00.35,CN,2000,,600,\n"
                           "d,2025-09-01,7323.93.00.35,CN,1000,,,\n")
    result = duties.compute_duties(ledger.read_ledger(path), products)
    steel = {e: layer_duties(result, e)["us-s232-steel"] for e in "abcd"}
    assert steel["a"] == pytest.approx(300) and steel["b"] == pytest.approx(150)
    assert steel["c"] == pytest.approx(300)  # 600 of 2000: 30%
    estimated = products.rate("7323930035", date(2025, 9, 1), direction_with_origin("us"))
    assert steel["d"] == pytest.approx(1000 * estimated.layers.set_index("layer_id").loc["us-s232-steel", "charged"] / 100)


def test_codes_a_list_names_in_full_are_lines_in_every_chunk(tmp_path, products):
    """China's 2025 lists name lines its last schedule in the data (2019) lacks: such a code is a
    line on their dates, and the verdict, worked out once (PricingMemo.named_in_full), is the
    same in every chunk as for the ledger read whole; a code no list names stays a bad row."""
    from tariffcalc import partition

    rows = ["a,2025-04-12,0302.49.10,US,100,,", "b,2025-04-13,9999.99.99,US,100,,",
            "c,2025-05-01,0302.49.10,US,200,,", "d,2025-04-12,0302.49.90,US,300,,",
            "e,2025-05-02,0302.49.10,US,50,,"]
    path = write(tmp_path, HEADER + "\n".join(rows) + "\n")

    def priced(chunk_rows):
        run = partition.DutyRun(ledger.LedgerReader(path, skip_bad=True, chunk_rows=chunk_rows), products,
                                as_of=date(2026, 12, 1))
        entries = pd.concat([r.entries for r in run.results()], ignore_index=True)
        return entries[["entry_id", "duty_total"]], list(run.rejects()["row"]), export.duty_summary_dict(run)

    whole, by_row = priced(1000), priced(1)
    assert list(whole[0]["entry_id"]) == ["a", "c", "d", "e"] and whole[1] == [3]
    pd.testing.assert_frame_equal(whole[0], by_row[0])
    assert whole[1:] == by_row[1:]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_rows_matches_keeps_are_those_a_join_on_the_texts_finds(products, data):
    """``ProductIndex.matches`` (kept rows, each code's slice of them, matched on sort keys)
    against ``_by_merge`` (joins on the prefixes' texts) over calls that repeat codes: the same
    rows, order and dtypes. Codes are heads of listed prefixes, padded with digits or a letter,
    of every length."""
    import copy

    index = copy.copy(products.index)
    index.table = products.index.table.copy()  # a memo of its own
    prefixes = products.index.table["prefix"].drop_duplicates().tolist()
    code = st.tuples(st.sampled_from(prefixes), st.text("0123456789A", max_size=10), st.integers(2, 10)) \
        .map(lambda t: (t[0] + t[1])[:t[2]])
    pool = data.draw(st.lists(code, min_size=1, max_size=40))
    for _ in range(data.draw(st.integers(1, 5))):
        asked = data.draw(st.lists(st.sampled_from(pool), max_size=25))
        expected = index._by_merge(asked).drop(columns=["_length", "_n", "_row"])
        pd.testing.assert_frame_equal(index.matches(asked), expected)
