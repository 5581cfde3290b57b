"""duties.py at speed: the schedule checks done once per distinct (code, vintage) and broadcast
must give what a row-by-row check gives, and the priced ledgers stay what they were (snapshots of
the per-entry results of the sample ledger and of a random ledger: tests/snapshot.py)."""
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tariffcalc import duties, export, ledger
from tariffcalc.engine import direction_with_origin
from tariffcalc.products import ProductEngine

from .snapshot import assert_snapshot

ROOT = Path(__file__).parent.parent
RANDOM = Path(__file__).parent / "fixtures" / "ledgers" / "random-us.csv"  # 400 rows, seeded, bundled codes
SAMPLE = ROOT / "examples" / "sample-ledger.csv"
AS_OF = date(2026, 12, 1)


@pytest.fixture(scope="module")
def products(bundled_engine):
    return ProductEngine.from_dataset(bundled_engine.dataset, bundled_engine)


def test_vintage_numbers_are_vintage_on(products):
    schedules = products.schedules
    days = pd.date_range("2017-06-01", "2026-12-31", freq="5D")
    for imposer in ("US", "CN"):
        vintages, number = schedules.vintage_numbers(imposer, days.to_numpy("datetime64[D]"))
        assert [vintages[n] for n in number] == [schedules.vintage_on(imposer, d.date()) for d in days]


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
