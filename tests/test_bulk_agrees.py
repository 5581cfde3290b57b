"""The bulk path (``ProductEngine.table``, ``additional_totals``: what averages read) gives the
answer of ``answer_pairs`` (what ``rate --hts`` and every format render): on every layer charged
and on the totals, for codes of any length drawn from the real schedules, dates 2018-2026, both
directions; and a code that stands for no line of the schedule in force has no bulk answer."""
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffcalc.content import Contents
from tariffcalc.engine import direction_with_origin
from tariffcalc.loader import load_dataset
from tariffcalc.products import ProductEngine, additional_totals

DATASET = load_dataset()
PRODUCTS = ProductEngine.from_dataset(DATASET)
ORIGINS = {"us": ["CN", "HK", "MO"], "cn": ["US"]}


def same(a, b) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b, abs=1e-9)


def check(codes, days, direction, assume=None):
    """Bulk and per-line answers agree, code by code and date by date."""
    bulk = PRODUCTS.table(codes, days, direction, assume=assume).set_index(["code", "date"])
    answers = PRODUCTS.answers(codes, days, direction, assume=assume)
    totals = answers.totals.assign(date=answers.totals["date"].dt.date).set_index(["code", "date"])
    missing = {(c, t.date()) for c, t in zip(answers.missing["code"], answers.missing["date"])}
    assert len(bulk) == len(set(codes)) * len(set(days))
    for key, row in bulk.iterrows():
        if key in missing:  # rate --hts refuses it: no bulk answer either
            assert row["lines"] == 0 and np.isnan(row["additional_rate"]) and np.isnan(row["total_rate"]), key
            continue
        one = totals.loc[key]
        for column in ("additional_rate", "mfn_rate", "total_rate", "lines", "varies"):
            assert same(row[column], one[column]), (key, column, row[column], one[column])
    # every layer charged, line by line (a line is its own code: the bulk rows of additional_totals)
    lines = answers.line_layers
    charged = lines[lines["charged"] != 0]
    per_line = {(c, t.date(), layer): v for c, t, layer, v in
                zip(charged["code"], charged["date"], charged["layer_id"], charged["charged"])}
    every = answers.lines["line"].unique()
    rows = additional_totals(PRODUCTS.engine, PRODUCTS.index, every, days, direction,
                             assume=PRODUCTS.assume if assume is None else assume, by_layer=True)
    priced = {(c, t) for c, t in zip(answers.lines["line"], answers.lines["date"].dt.date)}
    bulk_rows = {(c, t, layer): v for c, t, layer, v in zip(rows["code"], rows["date"], rows["layer_id"], rows["charged"])
                 if (c, t) in priced}
    assert bulk_rows.keys() == per_line.keys()
    for key, value in per_line.items():
        assert bulk_rows[key] == pytest.approx(value, abs=1e-9), key


@st.composite
def questions(draw):
    direction = draw(st.sampled_from(["us", "cn"]))
    origin = draw(st.sampled_from(ORIGINS[direction]))
    d = direction_with_origin(direction, origin)
    days = draw(st.lists(st.dates(min_value=date(2018, 1, 1), max_value=date(2026, 12, 31)), min_size=1, max_size=3))
    codes = []
    for _ in range(draw(st.integers(1, 4))):
        vintages = [v for v in PRODUCTS.schedules.vintages if v.imposer == d.imposer]
        vintage = draw(st.sampled_from(vintages))  # a line of one vintage may be no line on the day
        leaves = PRODUCTS.schedules.leaves(vintage)
        line = str(leaves[draw(st.integers(0, len(leaves) - 1))])
        length = draw(st.sampled_from([n for n in (4, 6, 8, 10) if n <= len(line)] or [len(line)]))
        codes.append(line[:length])
    return codes, days, d


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(question=questions())
def test_the_bulk_table_is_the_per_line_answer(question):
    codes, days, direction = question
    check(codes, days, direction)


@pytest.mark.soak
@settings(max_examples=300, deadline=None)
@given(question=questions())
def test_the_bulk_table_is_the_per_line_answer_many(question):
    codes, days, direction = question
    check(codes, days, direction)


def test_golden_codes_agree():
    """The cases issue 10 names: 940360 and 851713 (short codes over lines that agree), a code
    whose lines differ (9018.31.00 in 2024), a non-line (9999.99.99), a metal derivative with its
    reciprocal on the rest of the value (3208.10.00), each with and without declared contents."""
    us = direction_with_origin("us")
    codes = ["940360", "851713", "9018310000", "90183100", "9999999999", "3208100000", "3004909220", "8471300100"]
    days = [date(2019, 7, 1), date(2024, 10, 1), date(2025, 4, 12), date(2025, 9, 1), date(2026, 3, 1)]
    check(codes, days, us)
    check(codes, days, us, assume=Contents(shares={"steel": 0.2, "aluminum": 0.1}, conditions=frozenset({"auto-part"})))
    table = PRODUCTS.table(["940360", "851713", "9999999999"], [date(2019, 7, 1), date(2025, 4, 12)], us)
    table = table.set_index(["code", "date"])
    assert table.loc[("940360", date(2019, 7, 1)), "additional_rate"] == 25
    assert table.loc[("851713", date(2025, 4, 12)), "additional_rate"] == 20
    assert np.isnan(table.loc[("9999999999", date(2025, 4, 12)), "additional_rate"])
    assert pd.isna(table.loc[("9999999999", date(2025, 4, 12)), "total_rate"])
