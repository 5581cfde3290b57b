"""Golden values from published sources, checked against the bundled data.

Every row of golden/facts.csv names the source that states the number (and quotes it); the
values were collected from those sources independently of the data files.
"""
import csv

import pytest

from .conftest import GOLDEN, d

with open(GOLDEN / "facts.csv", newline="", encoding="utf-8") as handle:
    FACTS = list(csv.DictReader(handle))


def test_there_are_enough_facts_across_years_and_directions():
    years = {row["date"][:4] for row in FACTS}
    assert len(FACTS) >= 25
    assert {"2018", "2019", "2020", "2024", "2025", "2026"} <= years
    assert {row["direction"] for row in FACTS} == {"us", "cn"}
    assert all(row["source"].startswith("http") for row in FACTS)


@pytest.mark.parametrize(
    "fact", FACTS, ids=[f"{r['date']}-{r['direction']}-{r['target']}" for r in FACTS]
)
def test_fact(bundled_engine, fact):
    answer = bundled_engine.rate_on(d(fact["date"]), fact["direction"]).directions[0]
    expected = float(fact["expected_rate"])
    if fact["target"] == "headline":
        actual = answer.headline_rate
    else:
        rows = answer.layers[answer.layers["layer_id"] == fact["target"]]
        actual = float(rows["charged"].sum())
    assert actual == pytest.approx(expected), f"{fact['source']}: {fact['quote']}"
