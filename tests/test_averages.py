"""Trade-weighted averages: weight sets, constant between change dates, the --average outputs."""
import json
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffcalc.averages import WeightSet, WeightSets, average_on, average_rates
from tariffcalc.cli import cli
from tariffcalc.engine import direction_with_origin
from tariffcalc.errors import QueryError

ROOT = Path(__file__).resolve().parent.parent
US, CN = direction_with_origin("us"), direction_with_origin("cn")


@pytest.fixture(scope="module")
def weights():
    return WeightSets(ROOT / "data")


def one_product(code, value=1000.0):
    label = f"only {code}"
    return WeightSet("test", "us", 2024, label, ""), pd.DataFrame({"code": [code], "weight": [value]})


def test_average_of_a_one_product_world_is_that_products_rate(products):
    chosen, frame = one_product("4202221500")
    day = date(2025, 5, 20)
    average = average_rates(products, US, [day], chosen, frame).iloc[0]
    single = products.rate("4202221500", day, US)
    assert average["average_rate"] == pytest.approx(single.total_rate)
    assert average["additional_average"] == pytest.approx(single.additional_rate)
    assert average["coverage"] == 1.0 and average["weights"] == "only 4202221500"


def test_weights_that_sum_to_zero_are_refused(products):
    chosen, frame = one_product("4202221500", 0.0)
    with pytest.raises(QueryError, match="sum to zero"):
        average_rates(products, US, [date(2025, 5, 20)], chosen, frame)


def test_codes_that_match_nothing_are_refused(products):
    chosen, frame = one_product("9999999999")
    with pytest.raises(QueryError, match="matches the schedules"):
        average_rates(products, US, [date(2025, 5, 20)], chosen, frame)


def test_weight_sets_name_themselves_and_refuse_unknown_years(weights):
    assert "2024" in weights.choose("us").label and weights.choose("cn").year == 2017
    assert "2017 by HS-2" in weights.choose("us", 2017).label
    with pytest.raises(QueryError, match="no us weights for 1999"):
        weights.choose("us", 1999)


def test_hs2_scaled_weights_keep_the_years_chapter_totals(weights):
    frame = weights.frame(weights.choose("us", 2017))
    assert frame["weight"].sum() / 1e9 == pytest.approx(503.7, abs=1.5)  # Census 2017 total $503.7 bn


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=st.dates(min_value=date(2018, 1, 2), max_value=date(2026, 11, 1)), key=st.sampled_from(["us", "cn"]))
def test_averages_are_constant_between_change_dates(products, weights, day, key):
    direction = direction_with_origin(key)
    changes = products.change_dates(direction, date(2018, 1, 1), date(2026, 12, 31))
    last = max(c for c in changes if c <= day)
    chosen = weights.choose(key)
    frame = weights.frame(chosen)
    both = average_rates(products, direction, sorted({day, last}), chosen, frame)
    assert both["average_rate"].nunique() == 1 and both["coverage"].nunique() == 1


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.dates(min_value=date(2018, 1, 1), max_value=date(2026, 10, 1)),
       length=st.integers(min_value=1, max_value=400), key=st.sampled_from(["us", "cn"]))
def test_daily_averages_are_the_change_point_series_forward_filled(products, weights, start, length, key):
    direction = direction_with_origin(key)
    end = start + timedelta(days=length)
    chosen = weights.choose(key)
    frame = weights.frame(chosen)
    daily = average_rates(products, direction, pd.date_range(start, end).date, chosen, frame).set_index("date")
    changes = products.change_dates(direction, start, end)
    at_changes = average_on(products, direction, changes, chosen, frame).set_index("date")
    filled = at_changes.reindex(daily.index, method="ffill")
    pd.testing.assert_frame_equal(daily, filled)
    # and the filled value of a day between change dates is what evaluating that day gives
    middle = daily.index[len(daily) // 2]
    direct = average_on(products, direction, [middle], chosen, frame).set_index("date")
    pd.testing.assert_frame_equal(daily.loc[[middle]], direct)


@pytest.mark.slow
def test_averages_doc_is_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    from averages_report import main

    assert (ROOT / "docs" / "averages.md").read_text(encoding="utf-8") == main(), "run: python scripts/averages_report.py"


def test_rate_average_json_adds_the_documented_keys(runner, no_user_data):
    result = runner.invoke(cli, ["rate", "--date", "2025-05-14", "--average", "-f", "json"])
    assert result.exit_code == 0, result.output
    for direction in json.loads(result.stdout)["directions"]:
        assert {"average_rate", "coverage", "weights"} <= set(direction)
        assert 0 <= direction["coverage"] <= 1


def test_rate_average_text_names_directions_as_the_headlines_do(runner, no_user_data):
    """The average lines read like the headline lines under them: "China on goods from the US"."""
    result = runner.invoke(cli, ["rate", "--date", "2025-05-14", "--average"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("US on goods from China: average ") for line in lines)
    assert any(line.startswith("China on goods from the US: average ") for line in lines)
    assert not any(line.startswith("CN on ") for line in lines)


def test_export_average_one_row_per_date_and_direction(runner, no_user_data):
    result = runner.invoke(cli, ["export", "--from", "2025-04-01", "--to", "2025-05-31", "--average", "--weights", "2024"])
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.strip().splitlines()]
    assert rows[0][:5] == ["date", "direction", "imposer", "origin", "average_rate"]
    keys = [(r[0], r[1]) for r in rows[1:]]
    assert len(keys) == len(set(keys)) and {"us", "cn"} == {k[1] for k in keys}
