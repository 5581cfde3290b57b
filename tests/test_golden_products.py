"""Golden product facts from published sources (tests/golden/products.csv), on the bundled data.

Each row says whether a layer applies to a code on a date (and its rate), or gives the total of
the additional duties; the source and a quote are in the row. Rows whose source states an
effective rate that assumes importer-specific waivers say so in the `measure` column.
"""
import csv

import pytest

from tariffcalc.engine import direction_with_origin

from .conftest import GOLDEN, d

with open(GOLDEN / "products.csv", newline="", encoding="utf-8") as handle:
    FACTS = list(csv.DictReader(handle))

# Facts the bundled data cannot reproduce yet, each with the reason (strict: they must fail).
KNOWN_GAPS = {
    ("2025-02-15", "8703.24", "cn-2025-crude-machinery-autos-10"):
        "only 2 of the 72 lines of China's 2025 No. 1 annex 2 are in the data",
}
def gap(fact):
    return KNOWN_GAPS.get((fact["date"], fact["code"], fact["layer_id"]))


def test_product_facts_cover_both_directions_many_products_and_years():
    assert len({(r["direction"], r["code"]) for r in FACTS}) >= 15
    assert {r["direction"] for r in FACTS} == {"us", "cn"}
    assert {"2018", "2019", "2024", "2025", "2026"} <= {r["date"][:4] for r in FACTS}
    assert all(r["source"].startswith("http") for r in FACTS)


@pytest.mark.parametrize(
    "fact", [pytest.param(r, marks=pytest.mark.xfail(strict=True, reason=gap(r))) if gap(r) else r for r in FACTS],
    ids=[f"{r['date']}-{r['direction']}-{r['origin']}-{r['code']}-{r['layer_id']}" for r in FACTS]
)
def test_product_fact(products, fact):
    direction = direction_with_origin(fact["direction"], fact["origin"])
    answer = products.rate(fact["code"].replace(".", ""), d(fact["date"]), direction)
    expected = float(fact["expected_rate"])
    context = f"{fact['source']}: {fact['quote']}"
    if fact["layer_id"] == "additional_total":
        actual = answer.additional_if_waived if fact.get("measure") == "if_waived" else answer.additional_rate
        assert actual == pytest.approx(expected), context
        return
    rows = answer.layers[answer.layers["layer_id"] == fact["layer_id"]]
    applies = bool(rows["applies"].any())
    assert applies == (fact["applies"] == "true"), f"{rows['reason'].tolist()} | {context}"
    assert float(rows["charged"].sum()) == pytest.approx(expected), context
