"""Conventions: named, sourced choices; each selectable alone; the Yale reproduction."""
import json
from datetime import date

import pandas as pd
import pytest

from tariffcalc.averages import WeightSet, WeightSets, average_rates
from tariffcalc.cli import cli
from tariffcalc.conventions import Convention, Conventions, value_parts
from tariffcalc.engine import direction_with_origin
from tariffcalc.errors import QueryError
from tariffcalc.loader import load_dataset

from .conftest import GOLDEN

US = direction_with_origin("us")
YALE_CHOICES = ("denominator", "exclusion_shares", "metal_content", "rate_offsets", "exemptions", "not_stacked",
                "without_layers", "dating")


@pytest.fixture(scope="module")
def us_weights():
    sets = WeightSets.for_dataset(load_dataset())
    chosen = sets.choose("us")
    return chosen, sets.frame(chosen)


@pytest.fixture(scope="module")
def yale_daily(products, us_weights):
    published = pd.read_csv(GOLDEN / "yale_china_daily.csv")
    published["date"] = pd.to_datetime(published["date"]).dt.date
    ours = average_rates(products, US, published["date"], *us_weights, convention=Convention.yale())
    both = published.merge(ours[["date", "average_rate", "convention"]], on="date")
    both["gap"] = both["average_rate"] - both["yale_total"]
    return both


def test_the_default_convention_is_ours_and_changes_nothing(products, us_weights):
    days = [date(2025, 4, 7), date(2026, 2, 21)]
    default = average_rates(products, US, days, *us_weights)
    explicit = average_rates(products, US, days, *us_weights, convention=Convention.tariffcalc())
    pd.testing.assert_frame_equal(default, explicit)
    assert set(default["convention"]) == {"tariffcalc"}


def test_every_yale_choice_names_its_source():
    yale = Convention.yale()
    assert yale.source.startswith("https://github.com/arifshehab/tariff-rate-tracker")
    assert yale.denominator_source and yale.without_layers_source and yale.metal_content.source
    for group in (yale.exclusion_shares, yale.rate_offsets, yale.exemptions, yale.not_stacked, yale.dating):
        assert group and all(choice.source for choice in group)


def test_dating_alone_moves_only_its_windows(products, us_weights):
    dating = Convention.yale().only("dating")
    days = [date(2025, 4, 6), date(2025, 4, 20), date(2025, 11, 9), date(2026, 2, 21), date(2026, 3, 1)]
    ours = average_rates(products, US, days, *us_weights).set_index("date")["average_rate"]
    theirs = average_rates(products, US, days, *us_weights, convention=dating).set_index("date")["average_rate"]
    moved = (theirs - ours).abs() > 0.01
    assert list(moved) == [True, False, True, True, False]
    assert theirs[date(2025, 4, 6)] > ours[date(2025, 4, 6)] + 10  # 34% instead of 10% on 2025-04-05..08
    assert theirs[date(2026, 2, 21)] < ours[date(2026, 2, 21)] - 10  # IEEPA ended on 2026-02-20


def test_without_layers_alone_drops_the_forced_labor_301(products, us_weights):
    days = [date(2026, 7, 1), date(2026, 8, 1)]
    ours = average_rates(products, US, days, *us_weights).set_index("date")["average_rate"]
    theirs = average_rates(products, US, days, *us_weights,
                           convention=Convention.yale().only("without_layers")).set_index("date")["average_rate"]
    assert theirs[date(2026, 7, 1)] == pytest.approx(ours[date(2026, 7, 1)])
    assert theirs[date(2026, 8, 1)] < ours[date(2026, 8, 1)] - 5


def test_value_shares_of_every_code_sum_to_one(products, us_weights):
    _chosen, frame = us_weights
    parts = value_parts(products, Convention.yale(), frame["code"])
    assert 4 <= len(parts) <= 8  # two exclusion splits and the metal split: up to 2 x 2 x 2 parts
    total = sum(share.reindex(frame["code"]).fillna(0.0) for _engine, share in parts)
    assert total.to_numpy() == pytest.approx(1.0)


def test_a_metal_derivative_pays_its_content_share_then_full_value(products):
    code = "8302416045"  # aluminum fittings (a 232 aluminum derivative outside ch. 72/73/76)
    yale = Convention.yale().only("metal_content")
    shares = pd.read_csv(yale.metal_content.shares, dtype={"code": str}).set_index("code")["metal_share"]
    assert code in shares.index, "the golden code must stay in the shipped metal shares (a skip would hide it)"
    share = shares[code]
    weights = (WeightSet("one", "us", 2024, "one", ""), pd.DataFrame({"code": [code], "weight": [1.0]}))
    before, after = date(2025, 9, 1), date(2026, 5, 1)
    ours = average_rates(products, US, [before, after], *weights).set_index("date")["average_rate"]
    theirs = average_rates(products, US, [before, after], *weights, convention=yale).set_index("date")["average_rate"]
    no_metal = products.table([code], [before], US)  # what the code pays without the 232 metal layers
    without = Convention(without_layers=("us-s232-steel", "us-s232-aluminum", "us-s232-copper"))
    from tariffcalc.conventions import convention_engine

    rest = convention_engine(products, without, ()).table([code], [before], US)["total_rate"].iloc[0]
    # the part priced as the data says has the metal layers on full value: the split prices the content
    full = convention_engine(products, yale, ()).table([code], [before], US)["total_rate"].iloc[0]
    assert no_metal["total_rate"].iloc[0] == pytest.approx(ours[before])
    assert full >= ours[before]  # the data alone charges the metals on their estimated content
    assert theirs[before] == pytest.approx(share * full + (1 - share) * rest)
    assert theirs[after] == pytest.approx(ours[after])


def test_inclusions_and_stacking_alone(products, us_weights):
    one = (WeightSet("one", "us", 2024, "one", ""), pd.DataFrame({"code": ["8471300100"], "weight": [1.0]}))
    days = [date(2026, 3, 1), date(2026, 5, 1)]
    exemptions = Convention.yale().only("exemptions", "assume")  # auto parts are charged only if assumed
    ours = average_rates(products, US, days, *one, convention=Convention.yale().only("assume")).set_index(
        "date")["additional_average"]
    theirs = average_rates(products, US, days, *one, convention=exemptions).set_index("date")["additional_average"]
    assert ours[date(2026, 3, 1)] - theirs[date(2026, 3, 1)] == pytest.approx(25)  # not auto parts
    assert theirs[date(2026, 5, 1)] - theirs[date(2026, 3, 1)] >= 25 - 10  # Annex I-B 25% (Section 122 10% off)
    battery = (WeightSet("one", "us", 2024, "one", ""), pd.DataFrame({"code": ["8507600020"], "weight": [1.0]}))
    day = [date(2026, 1, 10)]
    ours = average_rates(products, US, day, *battery)["additional_average"].iloc[0]
    stacked = average_rates(products, US, day, *battery, convention=Convention.yale().only("not_stacked"))
    assert stacked["additional_average"].iloc[0] - ours == pytest.approx(7.5)  # List 4A kept under the review rate


def test_unknown_convention_and_unknown_choice_are_refused():
    with pytest.raises(QueryError, match="unknown convention 'bown'"):
        Conventions.bundled().get("bown")
    with pytest.raises(QueryError, match="no such convention choice"):
        Convention.yale().only("weights")


@pytest.mark.slow
def test_yale_convention_is_within_2_points_of_the_published_china_series_every_day(yale_daily):
    assert len(yale_daily) == 730 and set(yale_daily["convention"]) == {"yale"}
    worst = yale_daily.loc[yale_daily["gap"].abs().idxmax()]
    assert abs(worst["gap"]) <= 2.0, f"{worst['date']}: ours {worst['average_rate']:.2f}, Yale {worst['yale_total']:.2f}"


def test_yale_convention_is_within_1_point_on_95_percent_of_days(yale_daily):
    within = (yale_daily["gap"].abs() <= 1.0).mean()
    assert within >= 0.95, f"{within:.1%} of days within 1 pp"


def test_cli_says_which_convention_produced_a_number(runner, no_user_data):
    result = runner.invoke(cli, ["rate", "--date", "2025-04-06", "--average", "--convention", "yale", "-d", "us",
                                 "-f", "json"])
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["directions"][0]
    assert entry["convention"] == "yale"
    result = runner.invoke(cli, ["export", "--from", "2025-04-04", "--to", "2025-04-06", "--freq", "D", "--average",
                                 "-d", "us"])
    assert result.stdout.splitlines()[0].endswith(",convention") and result.stdout.splitlines()[1].endswith(",tariffcalc")
    assert "yale" in runner.invoke(cli, ["timeline", "--help"]).stdout


def test_cli_refuses_an_unknown_convention_in_one_line(runner, no_user_data):
    result = runner.invoke(cli, ["export", "--from", "2025-01-01", "--to", "2025-02-01", "--average", "--convention",
                                 "nope"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["Error: unknown convention 'nope' (known: tariffcalc, yale, piie)"]
