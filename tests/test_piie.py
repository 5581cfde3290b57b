"""The PIIE convention and PIIE's published averages (tests/golden/piie_averages.csv).

Product-level 2017 weights are not in the data (data/weights/PROVENANCE.md), so PIIE's levels are
reproduced only where no list's share of trade matters; the 2025 steps, which hit all goods, are
compared as changes between consecutive PIIE dates (issue 18's fallback acceptance)."""
import json
import sys
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from tariffcalc.averages import WeightSets, average_rates
from tariffcalc.cli import cli
from tariffcalc.conventions import Convention, Conventions
from tariffcalc.engine import direction_with_origin
from tariffcalc.errors import DataError, QueryError
from tariffcalc.loader import load_dataset

from .conftest import GOLDEN

STATUSES = {"P", "P-copy", "D", "S", "W"}


@pytest.fixture(scope="module")
def weights():
    return WeightSets.for_dataset(load_dataset())


@pytest.fixture(scope="module")
def published():
    frame = pd.read_csv(GOLDEN / "piie_averages.csv", dtype={"direction": str})
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


@pytest.fixture(scope="module")
def ours(products, weights, published):
    """PIIE's points with ours under --convention piie (its weights), per direction."""
    piie = Convention.piie()
    parts = []
    for key, rows in published.groupby("direction"):
        chosen = weights.for_convention(key, piie)
        series = average_rates(products, direction_with_origin(key), list(rows["date"]), chosen,
                               weights.frame(chosen), convention=piie)
        parts.append(rows.merge(series[["date", "average_rate", "weights", "convention"]], on="date"))
    both = pd.concat(parts, ignore_index=True)
    both["gap"] = both["average_rate"] - both["piie_average"]
    return both


def test_every_published_value_has_a_source_and_a_status(published):
    assert len(published) >= 25 and set(published["direction"]) == {"us", "cn"}
    assert set(published["status"]) <= STATUSES
    assert not published.duplicated(["date", "direction"]).any()
    for row in published.itertuples():
        assert row.quote.strip(), row
        url = urlparse(row.source)
        assert (url.scheme == "https" and url.netloc.endswith("piie.com")) or row.source.endswith(".xlsx"), row


def test_published_identities_hold(published):
    """PIIE's printed increments: 124.1 = 20.8 + 103.3, 57.6 = 20.8 + 36.8, China 32.6 = 21.2 + 11.4."""
    value = published.set_index(["direction", "date"])["piie_average"]
    assert value["us", date(2025, 4, 11)] - value["us", date(2025, 1, 20)] == pytest.approx(103.3)
    assert value["us", date(2025, 9, 25)] - value["us", date(2025, 1, 20)] == pytest.approx(36.8)
    assert value["cn", date(2025, 5, 14)] - value["cn", date(2025, 1, 20)] == pytest.approx(11.4)


def test_the_piie_convention_names_its_weights_and_choices(weights):
    piie = Conventions.bundled().get("piie")
    assert piie.weights_for("us").year == 2017 and "2017" in weights.for_convention("us", piie).label
    assert "world" in weights.for_convention("cn", piie).label
    assert weights.for_convention("us", piie, 2024).year == 2024  # a weight year asked for wins
    assert weights.for_convention("us", Convention.tariffcalc()) == weights.choose("us")
    assert piie.full_value and all(e.share == 0.0 for e in piie.exclusion_shares)
    assert all(w.source for w in piie.weights) and piie.full_value_source


def test_full_value_charges_the_metal_duty_on_the_whole_value(products, weights):
    """A steel derivative with a content basis pays more with the duty on its full value (C)."""
    chosen = weights.for_convention("us", Convention.piie())
    frame = weights.frame(chosen)
    day = [date(2025, 9, 25)]
    content = average_rates(products, direction_with_origin("us"), day, chosen, frame)["average_rate"].iloc[0]
    full = average_rates(products, direction_with_origin("us"), day, chosen, frame,
                         convention=Convention.piie().only("metal_content"))["average_rate"].iloc[0]
    assert full > content + 3


@pytest.mark.slow
def test_levels_before_the_first_list_are_within_1_point(ours):
    """Before Section 301 no list's share of trade matters: PIIE's US level is MFN plus 201/232."""
    early = ours[(ours["direction"] == "us") & (ours["date"] < date(2018, 7, 6))]
    assert len(early) == 2 and set(ours["convention"]) == {"piie"}
    assert (early["gap"].abs() <= 1.0).all(), early[["date", "piie_average", "average_rate"]]


def _changes(ours):
    rows = []
    for key, group in ours.sort_values("date").groupby("direction"):
        group = group.reset_index(drop=True)
        for a, b in zip(group.index[:-1], group.index[1:]):
            if group.at[a, "date"] >= date(2025, 1, 1):
                rows.append((key, group.at[a, "date"], group.at[b, "date"],
                             group.at[b, "piie_average"] - group.at[a, "piie_average"],
                             group.at[b, "average_rate"] - group.at[a, "average_rate"]))
    return rows


# PIIE's auto-parts step, to its early-May point (126.5, May 2025 page version): 25 points on 9.6% of
# trade; ours charges the auto parts listed without the auto-part condition, 2.7% (docs/averages.md).
AUTO_PARTS_STEP = ("us", date(2025, 4, 11))


def test_2025_changes_are_within_1_5_points_of_piie(ours):
    checked = [c for c in _changes(ours) if (c[0], c[1]) != AUTO_PARTS_STEP]
    assert len(checked) >= 7 and any(start == date(2025, 5, 3) for _key, start, *_ in checked)  # Geneva
    for key, start, end, theirs, mine in checked:
        assert abs(mine - theirs) <= 1.5, f"{key} {start} -> {end}: PIIE {theirs:+.1f}, ours {mine:+.1f}"


@pytest.mark.xfail(strict=True, reason="PIIE's auto-parts step (+2.4 to its early-May point) is 25 points on 9.6% "
                   "of trade, ours on the 2.7% listed without the auto-part condition; which codes PIIE charges "
                   "is not stated (docs/averages.md)")
def test_2025_auto_parts_step_is_within_1_5_points_of_piie(ours):
    for key, start, end, theirs, mine in _changes(ours):
        if (key, start) == AUTO_PARTS_STEP:
            assert abs(mine - theirs) <= 1.5, f"{key} {start} -> {end}: PIIE {theirs:+.1f}, ours {mine:+.1f}"


def test_the_auto_parts_step_rises_as_piies_does_only_with_the_reciprocal_stacked(products, weights):
    """F: PIIE's average rises on 2025-05-03; with the reciprocal yielding to the auto-parts duty
    (the statute, EO 14257 sec. 3(b)) ours falls, with it stacked (choice F) ours rises."""
    piie = Convention.piie()
    assert [(n.layer, set(n.on_goods_of)) for n in piie.stacked] == [
        ("us-ieepa-reciprocal", {"us-s232-autos", "us-s232-auto-parts"})]
    assert all(n.source.startswith("inferred") for n in piie.stacked)
    days = [date(2025, 4, 11), date(2025, 5, 3)]
    chosen = weights.for_convention("us", piie)

    def step(convention):
        series = average_rates(products, direction_with_origin("us"), days, chosen, weights.frame(chosen),
                               convention=convention)["average_rate"]
        return series.iloc[1] - series.iloc[0]

    assert step(piie) > 0 > step(piie.only("exclusion_shares", "metal_content"))


def test_across_the_early_may_point_the_change_agrees(ours):
    us = ours[ours["direction"] == "us"].set_index("date")
    theirs = us.at[date(2025, 5, 14), "piie_average"] - us.at[date(2025, 4, 11), "piie_average"]
    mine = us.at[date(2025, 5, 14), "average_rate"] - us.at[date(2025, 4, 11), "average_rate"]
    assert abs(mine - theirs) <= 1.5


def test_cli_picks_the_conventions_weights_unless_a_year_is_given(runner):
    result = runner.invoke(cli, ["rate", "--date", "2025-09-25", "--average", "--convention", "piie",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    averages = {a["direction"]: a for a in json.loads(result.output)["directions"]}
    assert averages["us"]["convention"] == "piie" and "2017" in averages["us"]["weights"]
    assert "world" in averages["cn"]["weights"]
    result = runner.invoke(cli, ["rate", "--date", "2025-09-25", "--average", "--convention", "piie",
                                 "--weights", "2024", "--format", "json", "-d", "us"])
    assert result.exit_code == 0, result.output
    assert "2024" in json.loads(result.output)["directions"][0]["weights"]


def test_a_convention_naming_unknown_weights_is_refused(tmp_path):
    root = tmp_path / "conventions"
    root.mkdir()
    (root / "conventions.yaml").write_text("- id: x\n  label: x\n  weights:\n    us: {set: us-2024}\n",
                                           encoding="utf-8")
    with pytest.raises(DataError, match="weights for us need a set id and a year"):
        Conventions(tmp_path)


@pytest.fixture(scope="module")
def report():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import averages_report

    return averages_report


@pytest.mark.slow
def test_first_term_steps_follow_the_lists_stated_share_of_trade(report, products, weights):
    """The first-term gap is the weights: each list step USTR's stated trade values price (rate change x
    stated value / 2017 imports) comes closer to PIIE's step than ours does with the shipped weights."""
    # first_term_steps reads only the US steps up to FIRST_TERM_END: the points after it, and China's,
    # would be computed for nothing (docs/averages.md, checked by test_averages_doc_is_current, has them all)
    table = report.piie_decomposition(products, weights, directions=["us"], until=report.FIRST_TERM_END)
    steps = report.first_term_steps(products, weights, report.piie_changes(table))
    listed = steps[steps["share_stated"].notna() & (steps["share_stated"] > 0)]
    assert len(listed) == 4  # Lists 1-3, List 3 to 25%, List 4A, List 4A halved
    for step in listed.itertuples():
        assert abs(step.predicted_stated - step.piie_change) < abs(step.ours_2017 - step.piie_change), step
    list3 = listed[listed["lists"].str.contains("List 3") & ~listed["lists"].str.contains("List 1")].iloc[0]
    assert list3.share_2024 < list3.share_2017 < list3.share_stated  # 2024 trade holds less of List 3


def test_every_bundled_convention_names_weights_that_ship(weights):
    conventions = Conventions.bundled()
    for name in conventions.names():
        for w in conventions.get(name).weights:
            assert weights.get(w.set, w.year).direction == w.direction, (name, w)


def test_an_unknown_weight_set_is_a_query_error(weights):
    with pytest.raises(QueryError, match="no weight set 'nope' for 2017"):
        weights.get("nope", 2017)
