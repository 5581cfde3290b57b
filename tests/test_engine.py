"""The engine on the tiny fixture data set, where every expected number is visible in the YAML."""
from datetime import date

import pandas as pd
import pytest

from tariffcalc.engine import direction_diff, directions_for, layers_summary
from tariffcalc.errors import QueryError

from .conftest import d


def us(engine, day, **kw):
    return engine.rate_on(d(day), "us", **kw).directions[0]


def cn(engine, day, **kw):
    return engine.rate_on(d(day), "cn", **kw).directions[0]


def layer(answer, layer_id):
    rows = answer.layers[answer.layers["layer_id"] == layer_id]
    assert len(rows) == 1, f"{layer_id} not listed"
    return rows.iloc[0]


def test_headline_sums_the_all_goods_layers(basic_engine):
    assert us(basic_engine, "2025-04-12").headline_rate == 20 + 125
    assert us(basic_engine, "2025-05-14").headline_rate == 20 + 10
    assert us(basic_engine, "2025-02-03").headline_rate == 0


def test_interval_is_half_open(basic_engine):
    assert us(basic_engine, "2025-03-03").headline_rate == 10
    assert us(basic_engine, "2025-03-04").headline_rate == 20
    assert us(basic_engine, "2026-02-23").headline_rate == 25  # surcharge 15 + reciprocal 10
    assert us(basic_engine, "2026-02-24").headline_rate == 15  # fentanyl and reciprocal end


def test_group_layers_are_listed_beside_the_headline_with_what_their_goods_pay(basic_engine):
    answer = us(basic_engine, "2025-04-12")
    steel = layer(answer, "t-steel")
    assert steel["rate"] == 25
    # not_on_goods_of: the reciprocal tariff is not charged on steel, fentanyl is.
    assert steel["total_on_covered_goods"] == 25 + 20
    assert pd.isna(layer(answer, "t-reciprocal")["total_on_covered_goods"])


def test_replaces_rule_drops_the_replaced_layer_from_the_headline(basic_engine):
    answer = us(basic_engine, "2026-01-15")
    fentanyl = layer(answer, "t-fentanyl")
    assert not fentanyl["counted"]
    assert fentanyl["excluded_by"] == "replaced by t-surcharge"
    assert answer.headline_rate == 15 + 10
    assert layer(answer, "t-steel")["total_on_covered_goods"] == 50  # surcharge not on steel either


def test_threatened_steps_never_count_unless_asked(basic_engine):
    plain = us(basic_engine, "2025-11-05")
    assert plain.headline_rate == 30
    assert not layer(plain, "t-threat")["counted"]
    assert any("threatened, never in effect" in note and "not counted" in note for note in plain.notes)
    asked = us(basic_engine, "2025-11-05", include_threatened=True)
    assert asked.headline_rate == 130
    assert us(basic_engine, "2025-11-10").notes == [
        "unconfirmed: Test fentanyl at 10% — the record is unclear, see its note"
    ]


def test_suspended_points_are_listed_but_not_charged(basic_engine):
    answer = us(basic_engine, "2025-06-01")
    suspended = layer(answer, "t-suspended")
    assert suspended["status"] == "suspended" and not suspended["counted"] and suspended["charged"] == 0
    assert answer.headline_rate == 30


def test_directions_are_independent(basic_engine):
    assert cn(basic_engine, "2025-04-10").headline_rate == 84
    assert cn(basic_engine, "2025-04-12").headline_rate == 125
    assert layer(cn(basic_engine, "2025-04-12"), "t-soy")["total_on_covered_goods"] == 150
    both = basic_engine.rate_on(d("2025-04-12"))
    assert [x.direction.key for x in both.directions] == ["us", "cn"]


def test_upcoming_lists_steps_of_the_next_90_days(basic_engine):
    upcoming = us(basic_engine, "2025-04-12").upcoming
    assert list(upcoming["start"].dt.date.astype(str)) == ["2025-05-14", "2025-05-14", "2025-06-04"]
    assert us(basic_engine, "2025-01-01").upcoming["layer_id"].tolist() == ["t-fentanyl", "t-fentanyl"]


def test_warning_after_verified_through(basic_engine):
    assert us(basic_engine, "2025-12-31").warnings == []
    assert "verified through 2025-12-31" in us(basic_engine, "2026-01-01").warnings[0]


def test_dates_outside_the_covered_range_are_refused(basic_engine):
    with pytest.raises(QueryError, match="outside the range"):
        basic_engine.rate_on(d("2017-12-31"))


def test_diff_reports_added_removed_changed_and_headline(basic_engine):
    answer = basic_engine.diff(d("2025-04-01"), d("2025-05-14"), "us")
    diff = answer.directions[0]
    assert (diff.headline_from, diff.headline_to, diff.headline_delta) == (20, 30, 10)
    changes = diff.changes.set_index("layer_id")
    assert changes.loc["t-reciprocal", "change"] == "added"
    assert changes.loc["t-reciprocal", "new_rate"] == 10
    assert changes.loc["t-suspended", "change"] == "status"
    back = basic_engine.diff(d("2025-04-12"), d("2025-05-14"), "us").directions[0].changes.set_index("layer_id")
    assert back.loc["t-reciprocal", ["change", "old_rate", "new_rate", "delta"]].tolist() == ["changed", 125, 10, -115]
    gone = basic_engine.diff(d("2026-01-15"), d("2026-03-01"), "us").directions[0].changes.set_index("layer_id")
    assert gone.loc["t-surcharge", "change"] == "removed"


def test_timeline_changes_lists_every_change_date(basic_engine):
    frame = basic_engine.timeline(d("2025-01-01"), d("2025-12-31"), "changes", "cn")
    heads = frame[frame["kind"] == "headline"]
    assert heads["date"].astype(str).tolist() == ["2025-01-01", "2025-04-10", "2025-04-12", "2025-05-14"]
    assert heads["rate"].tolist() == [0, 84, 125, 10]


@pytest.mark.parametrize("freq,count", [("D", 31), ("W", 5), ("M", 1)])
def test_timeline_frequencies(basic_engine, freq, count):
    frame = basic_engine.timeline(d("2025-01-01"), d("2025-01-31"), freq, "us")
    assert frame[frame["kind"] == "headline"]["date"].nunique() == count


def test_timeline_month_frequency_starts_at_from_date(basic_engine):
    frame = basic_engine.timeline(d("2025-01-15"), d("2025-04-15"), "M", "us")
    dates = frame[frame["kind"] == "headline"]["date"].astype(str).tolist()
    assert dates == ["2025-01-15", "2025-02-01", "2025-03-01", "2025-04-01"]


def test_timeline_refuses_reversed_range(basic_engine):
    with pytest.raises(QueryError, match="before --from"):
        basic_engine.timeline(d("2025-02-01"), d("2025-01-01"))


def test_layers_summary_filters_by_direction_and_authority(basic_engine):
    frame = layers_summary(basic_engine, "us", "Section 232")
    assert frame["layer_id"].tolist() == ["t-steel"]
    assert frame.iloc[0]["last_end"] == "open"
    assert set(layers_summary(basic_engine, "cn")["layer_id"]) == {"t-counter", "t-soy"}


@pytest.mark.parametrize("threatened", [False, True])
def test_the_states_of_many_days_are_each_days_own(bundled_engine, threatened):
    """``day_states`` works out many days at once (a timeline's change dates): each day's layers
    and headline are those ``states`` gives for that day alone, and so is each diff."""
    engine = bundled_engine
    for side in directions_for("both"):
        days = engine.change_dates(side, date(2018, 1, 1), date(2026, 11, 30))
        together = engine.day_states(days, side, threatened)
        for day in days:
            alone = engine.states([day], side, threatened)
            headline, rows = together.of(day)
            assert headline == float(engine.headlines(alone, [day]).iloc[0])
            pd.testing.assert_frame_equal(rows, alone.set_index("layer_id"))
        for before, after in zip(days, days[1:]):
            diff = direction_diff(side, together, before, together, after)
            one = engine.diff(before, after, side.key, threatened).directions[0]
            pd.testing.assert_frame_equal(diff.changes, one.changes)
            assert (diff.headline_from, diff.headline_to) == (one.headline_from, one.headline_to)
