"""Product-level rates on the fixture data: coverage, exemptions, stacking rules, schedules."""
import pandas as pd
import pytest

from tariffcalc.codes import dotted, normalize_code
from tariffcalc.engine import direction_with_origin
from tariffcalc.errors import QueryError
from tariffcalc.loader import load_dataset
from tariffcalc.products import ProductEngine, evaluate, product_diff, product_lookup

from .conftest import BASIC, d

US, HK, CN = (direction_with_origin("us"), direction_with_origin("us", "HK"), direction_with_origin("cn"))


@pytest.fixture(scope="module")
def products():
    dataset = load_dataset(BASIC, bundled=False)
    return ProductEngine.from_dataset(dataset)


def reasons(answer):
    return dict(zip(answer.layers["layer_id"], answer.layers["reason"]))


@pytest.mark.parametrize("text,code", [("8517.13.00", "85171300"), ("851713", "851713"),
                                       ("8517130000", "8517130000"), (" 8517 13 ", "851713")])
def test_codes_accept_dots_spaces_and_any_even_length(text, code):
    assert normalize_code(text) == code


@pytest.mark.parametrize("text", ["85171", "8517a3", "", "85171300001"])
def test_malformed_codes_are_refused(text):
    with pytest.raises(QueryError):
        normalize_code(text)


def test_dotted_formats_hts_style():
    assert dotted("8517130000") == "8517.13.00.00"
    assert dotted("851713") == "8517.13"


def test_exemption_wins_over_the_layer_it_exempts(products):
    phone = products.rate("8517130000", d("2025-04-12"), US)
    assert reasons(phone)["t-reciprocal"] == "exempt: Test electronics list"
    assert phone.additional_rate == 20  # fentanyl only
    assert phone.mfn_rate == 0 and phone.total_rate == 20


def test_dated_exemption_only_applies_from_its_start(products):
    phone = products.rate("8517130000", d("2025-04-01"), US)  # exemption starts 2025-04-05
    assert phone.additional_rate == 20  # reciprocal not yet in effect either
    before = evaluate(products.engine, products.index, ["8517130000"], [d("2025-04-05")], US)
    assert before.set_index("layer_id").loc["t-reciprocal", "applies"] == False  # noqa: E712


def test_not_on_goods_of_rule_keeps_reciprocal_off_steel(products):
    bolt = products.rate("7318152000", d("2025-04-12"), US)
    assert reasons(bolt)["t-reciprocal"] == "not charged on goods subject to Test steel"
    assert reasons(bolt)["t-steel"] == "applies: on Test steel"
    assert bolt.additional_rate == 25 + 20


def test_replaces_rule_swaps_the_list_rate_for_the_review_rate(products):
    ev = products.rate("87038000", d("2025-04-12"), US)
    assert reasons(ev)["t-list3"] == "replaced by Test EV review rate"
    assert ev.additional_rate == 20 + 125 + 100
    assert products.rate("87038000", d("2024-09-26"), US).additional_rate == 25


def test_list_rate_steps_follow_the_layer(products):
    bag = "4202219000"
    assert products.rate(bag, d("2018-09-24"), US).additional_rate == 10
    assert products.rate(bag, d("2019-05-09"), US).additional_rate == 10
    assert products.rate(bag, d("2019-05-10"), US).additional_rate == 25
    assert products.rate(bag, d("2018-09-23"), US).additional_rate == 0


def test_dated_list_row_exclusion(products):
    line = "9403200050"
    assert products.rate(line, d("2019-05-31"), US).additional_rate == 25
    assert reasons(products.rate(line, d("2019-06-01"), US))["t-list3"] == "exempt: Test exclusion"
    assert products.rate(line, d("2020-08-08"), US).additional_rate == 25


def test_short_code_is_resolved_from_the_schedule_lines_under_it(products):
    whole = products.rate("120190", d("2025-04-12"), CN)  # both schedule lines are on the list
    assert reasons(whole)["t-soy"] == "applies: on Test soybeans list (all 2 lines under this code)"
    assert whole.additional_rate == 150
    part = products.rate("1201", d("2025-04-12"), CN)  # seed soybeans 1201.10 are not
    assert reasons(part)["t-soy"] == ("varies: applies to 2 of the 3 lines under this code (0-25%); see the lines, "
                                      "or ask for a longer code")
    row = part.layers.set_index("layer_id").loc["t-soy"]
    assert bool(row["varies"]) and pd.isna(row["charged"]) and (row["low"], row["high"]) == (0, 25)
    # no single total: the scalars are unknown, the range and the lines say why
    assert part.varies and part.additional_rate is None and part.total_rate is None
    assert part.range("additional") == (125, 150)
    assert dict(zip(part.lines["line"], part.lines["additional_rate"])) == {
        line: (125 if line.startswith("12011") else 150) for line in part.lines["line"]}
    assert products.rate("12019019", d("2025-04-12"), CN).additional_rate == 150


def test_hong_kong_is_an_origin_of_its_own(products):
    ev_hk = products.rate("87038000", d("2025-04-12"), HK)
    assert set(ev_hk.layers["layer_id"]) == {"t-fentanyl", "t-reciprocal"}  # list and review: CN only
    assert ev_hk.additional_rate == 145


def test_origin_must_fit_the_direction():
    with pytest.raises(QueryError, match="origin US is not covered"):
        direction_with_origin("us", "US")


def test_mfn_comes_from_the_schedule_in_force(products):
    assert products.rate("85171300", d("2025-04-12"), US).mfn.vintage.id == "test-2025"
    # 8517.13 is not a line of the 2018 schedule: an error naming the nearest lines, not a total
    with pytest.raises(QueryError, match=r"8517.13.00 is not a line of US schedule test-2018 .*nearest lines: "):
        products.rate("85171300", d("2019-01-01"), US)


def test_specific_duty_uses_the_ad_valorem_equivalent_with_a_note(products):
    juice = products.rate("20091100", d("2025-04-12"), US)
    assert juice.mfn_rate == 4.2
    assert any("ad-valorem equivalent 4.2%" in note for note in juice.notes)


def test_bulk_table_matches_single_code_answers(products):
    codes = ["8517130000", "7318152000", "87038000", "4202219000", "9403200050"]
    days = [d("2018-10-01"), d("2019-07-01"), d("2025-04-12"), d("2026-01-15")]
    table = products.table(codes, days, US).set_index(["code", "date"])
    checked = 0
    for code in codes:
        for day in days:
            if products.schedules.resolve("US", [code], [day]).empty:
                continue  # not a line of that date's schedule: rate() refuses it
            single = products.rate(code, day, US)
            assert table.loc[(code, day), "additional_rate"] == single.additional_rate
            checked += 1
    assert checked >= 12


def test_uncovered_group_layers_are_explained(products):
    phone = products.rate("8517130000", d("2025-06-10"), US)
    assert reasons(phone)["t-steel"] == "not covered"


def test_product_diff_names_the_changed_layers(products):
    change = product_diff(products, "4202219000", d("2019-05-01"), d("2019-07-01"), US)
    row = change.changes.set_index("layer_id").loc["t-list3"]
    assert (row["old_rate"], row["new_rate"], row["delta"]) == (10, 25, 15)
    assert change.after.total_rate - change.before.total_rate == 15


def test_lookup_lists_every_set_naming_the_code(products):
    found = product_lookup(products, "9403200050", d("2019-07-01"), US)
    roles = {(item["id"], item["role"]) for item in found["lists"]}
    assert roles == {("t-list3", "covered by"), ("t-list3", "exempt from")}
    assert found["mfn_text"] == "Free"


def test_evaluate_returns_no_row_for_layers_before_they_start(products):
    frame = evaluate(products.engine, products.index, ["87038000"], [d("2018-01-02")], US)
    assert frame.empty or not frame["applies"].any()
    assert isinstance(frame, pd.DataFrame)


def test_evaluate_pairs_answers_several_origins_in_one_pass(bundled_engine):
    # One pass over (origin, code, date) groups must say exactly what one pass per origin says.
    from tariffcalc.products import ProductIndex, evaluate_pairs

    index = ProductIndex(bundled_engine.dataset)
    codes = ["8517130000", "4202221500", "7208510000", "94036080"]
    dates = pd.to_datetime(["2018-09-24", "2019-05-10", "2025-04-15", "2026-03-02"])
    pairs = pd.DataFrame([(o, c, t) for o in ("CN", "HK") for c in codes for t in dates],
                         columns=["group", "code", "date"])
    together = evaluate_pairs(bundled_engine, index, pairs, {"CN": US, "HK": HK})
    columns = ["code", "date", "layer_id", "applies", "charged", "reason"]
    for origin, direction in (("CN", US), ("HK", HK)):
        alone = evaluate_pairs(bundled_engine, index, pairs[pairs["group"] == origin].drop(columns="group"), direction)
        mine = together[together["group"] == origin]
        pd.testing.assert_frame_equal(mine[columns].reset_index(drop=True), alone[columns].reset_index(drop=True))
    assert set(together["group"]) == {"CN", "HK"}


def test_evaluate_with_no_codes_or_no_dates_is_empty(products):
    from tariffcalc.products import RESULT_COLUMNS

    for codes, days in (([], [d("2025-04-12")]), (["8517130000"], [])):
        frame = evaluate(products.engine, products.index, codes, days, US)
        assert frame.empty and list(frame.columns) == RESULT_COLUMNS
