"""Conditional coverage, content basis and the stacking rules of issue 10, each on a real product,
each citing the instrument it encodes. The rules live in data/ (docs/data-format.md); these tests
check that the data says what the instrument says and that every answer path applies it."""
import json

import pandas as pd
import pytest

from tariffcalc.cli import cli
from tariffcalc.content import ContentEstimates, Contents
from tariffcalc.engine import direction_with_origin
from tariffcalc.loader import load_dataset
from tariffcalc.schedule import Schedules

from .conftest import d

US = direction_with_origin("us")
LAPTOP = "8471300100"  # portable automatic data processing machines
MEDICAMENTS = "3004909220"  # on the Section 232 steel and aluminum derivative lists from 2025-08-18


@pytest.fixture(scope="module")
def estimates(products):
    return products.index.estimates("US")


def row(answer, layer_id):
    rows = answer.layers.set_index("layer_id")
    return rows.loc[layer_id] if layer_id in rows.index else None


# -- conditional coverage ---------------------------------------------------------------------

def test_laptops_are_not_auto_parts_unless_asserted(products):
    """HTSUS ch. 99 U.S. note 33(g) (Procl. 10908): 9903.94.05 applies to *parts of passenger
    vehicles and light trucks* of the listed provisions, 8471 among them; note 33(h)(ii) gives
    listed articles that are not such parts 9903.94.06, no duty."""
    answer = products.rate(LAPTOP, d("2025-09-01"), US)
    auto = row(answer, "us-s232-auto-parts")
    assert not auto["applies"] and auto["conditional"] and auto["charged"] == 0
    assert auto["condition"] == "auto-part" and auto["reason"].startswith("conditional: applies only if")
    assert "25% if so" in auto["reason"]
    assert answer.additional_rate == 20  # fentanyl only: reciprocal exempt (2025-04-11 memorandum)
    asserted = products.rate(LAPTOP, d("2025-09-01"), US, assume=Contents(conditions=frozenset({"auto-part"})))
    assert row(asserted, "us-s232-auto-parts")["charged"] == 25 and asserted.additional_rate == 45
    assert "condition asserted" in row(asserted, "us-s232-auto-parts")["reason"]


def test_a_vehicle_specific_line_of_a_generic_heading_stays_unconditional(products):
    """Note 33(g) lists 8507.60; 8507.60.00.10 is the traction battery of the electric vehicles of
    8703 and pays, the other lithium-ion batteries are conditional."""
    ev = row(products.rate("8507600010", d("2025-09-01"), US), "us-s232-auto-parts")
    other = row(products.rate("8507600020", d("2025-09-01"), US), "us-s232-auto-parts")
    assert ev["applies"] and ev["charged"] == 25
    assert other["conditional"] and other["charged"] == 0


def test_advanced_chips_pay_only_if_they_meet_the_thresholds(products):
    """Procl. 11002, U.S. note 39(b)-(d): goods of 8471.50/8471.80/8473.30 failing the performance
    thresholds or for an exempt end use enter under 9903.79.02, no duty."""
    day = d("2026-02-01")
    semis = row(products.rate("8471500150", day, US), "us-s232-semiconductors")
    assert semis["conditional"] and semis["condition"] == "qualifying-chip"
    met = products.rate("8471500150", day, US, assume=Contents(conditions=frozenset({"qualifying-chip"})))
    assert row(met, "us-s232-semiconductors")["charged"] == 25


@pytest.mark.slow
def test_bulk_totals_follow_the_conditions_of_the_single_answers(products):
    codes = [LAPTOP, "8507600010", "8507600020", "8501102000", "8408202000", MEDICAMENTS]  # lines of 2025-26
    days = [d("2025-09-01"), d("2026-02-01")]
    for assume in (Contents(), Contents(conditions=frozenset({"auto-part", "mhdv-part", "qualifying-chip"}))):
        table = products.table(codes, days, US, assume=assume).set_index(["code", "date"])["additional_rate"]
        for code in codes:
            for day in days:
                single = products.rate(code, day, US, assume=assume).additional_rate
                assert table[(code, day)] == pytest.approx(single), (code, day, assume)


# -- content basis ----------------------------------------------------------------------------

def test_metal_derivative_duties_are_on_the_metal_content_only(products, estimates):
    """Procl. 10947 (90 FR 24199), from 2025-06-04: the 50% steel and aluminum duties on derivative
    articles apply to the value of the steel or aluminum content, not the full value."""
    answer = products.rate(MEDICAMENTS, d("2025-09-01"), US)
    shares = estimates.shares([MEDICAMENTS]).loc[MEDICAMENTS]
    steel, aluminum = row(answer, "us-s232-steel"), row(answer, "us-s232-aluminum")
    assert steel["rate"] == 50 and steel["charged"] == pytest.approx(50 * shares["steel"])
    assert aluminum["charged"] == pytest.approx(50 * shares["aluminum"])
    assert steel["content_basis"] == "estimate" and "of the steel content's value" in steel["reason"]
    assert "estimated from BEA" in steel["reason"]
    assert answer.additional_rate < 21  # not 120: never two metals' rates on the same full value
    assert any("estimate" in note for note in answer.notes)


def test_declared_contents_replace_the_estimate(products):
    declared = Contents(shares={"steel": 0.2, "aluminum": 0.1})
    answer = products.rate(MEDICAMENTS, d("2025-09-01"), US, assume=declared)
    assert row(answer, "us-s232-steel")["charged"] == pytest.approx(10)
    assert row(answer, "us-s232-aluminum")["charged"] == pytest.approx(5)
    assert row(answer, "us-s232-steel")["content_basis"] == "declared"
    assert answer.additional_rate == pytest.approx(35)
    bulk = products.table([MEDICAMENTS], [d("2025-09-01")], US, assume=declared)["additional_rate"].iloc[0]
    assert bulk == pytest.approx(35)


def test_steel_mill_products_are_their_own_content(products):
    """Steel articles of ch. 72/73 are all steel: 50% of the full value (share 1)."""
    steel = row(products.rate("7208510030", d("2025-09-01"), US), "us-s232-steel")
    assert steel["charged"] == 50 and steel["content_share"] == 1


def test_copper_articles_pay_on_their_copper_content(products):
    """Procl. 10962 (2025-08-01): 50% on the copper content (9903.78.01), 0% on the rest (.02)."""
    fittings = row(products.rate("74121000", d("2025-09-01"), US), "us-s232-copper")
    assert fittings["applies"] and fittings["charged"] == 50 and fittings["content"] == "copper"


def test_the_april_2026_regime_charges_the_full_value_again(products):
    """Proclamation 11021 (91 FR 18201), from 2026-04-06: Annex I-A rates on the full customs value."""
    steel = row(products.rate("7208510030", d("2026-05-01"), US), "us-s232-steel")
    assert steel["content"] == "" and steel["charged"] == 50


def test_content_estimate_lookup(tmp_path):
    path = tmp_path / "shares.csv"
    path.write_text("# source: https://example.org\ncode,steel,aluminum,copper\n72,1,0,0\n30049092,0.1,0.2,0\n"
                    "8471,0.5,0,0\n847130,0.1,0,0\n", encoding="utf-8")
    shares = ContentEstimates(path).shares(["7208510030", "3004909220", "3004", "8471300100", "8471500150", "99"])
    assert shares.loc["7208510030", "steel"] == 1
    assert shares.loc["3004909220", "aluminum"] == 0.2
    assert shares.loc["3004", "steel"] == 0.1  # shorter than the rows: the mean of the rows under it
    assert shares.loc["8471300100", "steel"] == 0.1 and shares.loc["8471500150", "steel"] == 0.5
    assert pd.isna(shares.loc["99", "steel"])


# -- stacking rules ---------------------------------------------------------------------------

def test_a_part_on_both_vehicle_lists_pays_one_25_percent_duty(products):
    """U.S. notes 33(g) and 38(i) (Procl. 10908, Procl. 10984): each duty applies only to parts of
    its own vehicles, so a part listed in both pays one of them. Diesel engines 8408.20.20."""
    answer = products.rate("8408202000", d("2025-12-01"), US)
    trucks, auto = row(answer, "us-s232-trucks"), row(answer, "us-s232-auto-parts")
    assert auto["charged"] == 25 and trucks["charged"] == 0
    assert trucks["reason"] == "not charged on goods subject to Section 232 automobile parts (25%)"


def test_vehicle_parts_do_not_pay_the_2026_metals_annexes(products):
    """U.S. note 33(f)(1): parts of passenger vehicles and light trucks are not subject to
    9903.82.02 and 9903.82.04-9903.82.19 (the April 2026 metals regime). Bumpers 8708.10.30."""
    answer = products.rate("87081030", d("2026-05-01"), US)
    assert row(answer, "us-s232-auto-parts")["charged"] == 25
    annex = row(answer, "us-s232-metals-2026-annex-ib")
    assert not annex["applies"] and annex["reason"].startswith("not charged on goods subject to Section 232 automobile")


def test_forced_labor_301_exempts_its_annex_list(products):
    """USTR forced-labor action (FR Doc 2026-15181): products of its annex are exempt; the data holds
    the proposal's Annex A (91 FR 34272), flagged unconfirmed. Green coffee 0901.11.00."""
    layer = row(products.rate("09011100", d("2026-08-01"), US), "us-s301-forced-labor")
    assert not layer["applies"] and layer["reason"].startswith("exempt: forced-labor Annex A")
    assert layer["confidence"] == "unconfirmed"


def test_forced_labor_301_exempts_civil_aircraft_only_for_that_use(products):
    """FR Doc 2026-15181: civil aircraft and parts (general note 6) are exempt, a use the importer
    certifies: the duty stays by default and the answer names the exemption."""
    pump = "84136000"
    layer = row(products.rate(pump, d("2026-08-01"), US), "us-s301-forced-labor")
    assert layer["applies"] and layer["charged"] == 12.5 and "exempt if the good is for use in civil aircraft" in layer["reason"]
    asserted = products.rate(pump, d("2026-08-01"), US, assume=Contents(conditions=frozenset({"civil-aircraft"})))
    # 8413.60.00 stands for its 6 statistical lines, all exempt alike
    assert row(asserted, "us-s301-forced-labor")["reason"].startswith("exempt: civil aircraft (general note 6)")


def test_forced_labor_301_is_charged_on_polysilicon_232_goods(products):
    """Note 52(f) excludes eight named Section 232 categories; polysilicon (Procl. of 2026-08-06, note
    42) is not among them, so solar modules pay both (Budget Lab polysilicon_note52f_mask_2026-08-10)."""
    answer = products.rate("8541430010", d("2026-12-05"), US)
    assert row(answer, "us-s301-forced-labor")["charged"] == 12.5
    assert row(answer, "us-s232-polysilicon")["charged"] == 15
    assert "us-s232-polysilicon" not in products.engine.dataset.layer("us-s301-forced-labor").rules.not_on_goods_of


# -- every format, and the command line -------------------------------------------------------

def test_json_and_csv_show_the_conditional_layer(runner, no_user_data):
    args = ["rate", "--date", "2025-09-01", "--hts", "8471.30.01", "-d", "us"]
    data = json.loads(runner.invoke(cli, args + ["-f", "json"]).stdout)
    layers = {layer["id"]: layer for layer in data["directions"][0]["product"]["layers"]}
    assert layers["us-s232-auto-parts"]["conditional"] is True and layers["us-s232-auto-parts"]["applies"] is False
    assert data["directions"][0]["product"]["additional_rate"] == 20
    csv = runner.invoke(cli, args + ["-f", "csv"]).stdout
    auto = next(line for line in csv.splitlines() if ",us-s232-auto-parts," in line)
    assert ",true,auto-part," in auto
    table = runner.invoke(cli, args, env={"COLUMNS": "200"}).stdout
    assert "conditional" in table and "Total: 20%" in table
    asserted = runner.invoke(cli, args + ["--assume", "auto-part"], env={"COLUMNS": "200"}).stdout
    assert "Total: 45%" in asserted


def test_content_option_and_its_errors(runner, no_user_data):
    args = ["rate", "--date", "2025-09-01", "--hts", "3004.90.92", "-d", "us", "-f", "json"]
    data = json.loads(runner.invoke(cli, args + ["--content", "steel=0.2,aluminum=0.1"]).stdout)
    assert data["directions"][0]["product"]["additional_rate"] == pytest.approx(35)
    for bad, message in (("steel=2", "between 0 and 1"), ("zinc=0.1", "unknown content"),
                         ("steel=0.7,aluminum=0.5", "more than the whole value")):
        result = runner.invoke(cli, args + ["--content", bad])
        assert result.exit_code == 2 and message in result.stderr
    result = runner.invoke(cli, args + ["--assume", "laptop"])
    assert result.exit_code == 2 and "unknown condition 'laptop'" in result.stderr
    result = runner.invoke(cli, ["rate", "--date", "2025-09-01", "--assume", "auto-part"])
    assert result.exit_code == 2 and "need --hts" in result.stderr


def test_the_annex_ii_footnote_is_the_us_direction_s_only(runner, no_user_data):
    """The Annex II / electronics footnote is dataset.yaml `footnotes: US`, not printed under China's table."""
    us = runner.invoke(cli, ["rate", "--date", "2025-05-01", "-d", "us"], env={"COLUMNS": "300"}).stdout
    cn = runner.invoke(cli, ["rate", "--date", "2025-05-01", "-d", "cn"], env={"COLUMNS": "300"}).stdout
    assert "2025-04-11 electronics list" in us
    assert "Annex II" not in cn and "electronics" not in cn


# -- policy keys instead of code branches ----------------------------------------------------

def test_specific_duties_are_parsed_where_the_vintage_says_so(tmp_path):
    """`specific_duties` of mfn/vintages.yaml, not the imposer, decides whether '¢/kg' texts are parsed."""
    (tmp_path / "mfn").mkdir()
    (tmp_path / "mfn" / "t.csv").write_text(
        "code,description,general,ad_valorem,ave,basis\n02071100,Chickens,8.8¢/kg,,3.1,ave_2017\n", encoding="utf-8")
    for flag, parsed in ((True, True), (False, False)):
        (tmp_path / "mfn" / "vintages.yaml").write_text(
            f"- imposer: US\n  id: t\n  file: t.csv\n  start: 2018-01-01\n  specific_duties: {str(flag).lower()}\n",
            encoding="utf-8")
        schedules = Schedules(tmp_path)
        table = schedules.duty_table(schedules.vintages[0])
        assert table["per_unit"].notna().all() == parsed
        if parsed:
            assert table["per_unit"].iloc[0] == pytest.approx(0.088) and table["unit"].iloc[0] == "kg"


def test_a_condition_id_is_declared_once_in_the_data_set(tmp_path):
    from tariffcalc.errors import DataError

    (tmp_path / "us").mkdir()
    for name in ("a", "b"):
        (tmp_path / "us" / f"t-{name}.yaml").write_text(f"""id: t-{name}
name: {name}
imposer: US
origin: [CN]
authority: Section 232
coverage: {{scope: group, description: x, products: {{codes: ["8471"], condition: end-use}}}}
conditions:
  - id: end-use
    text: the good is for that use
steps:
  - {{start: 2025-01-01, rate: 25, instrument: P, source: "https://example.org/p"}}
""", encoding="utf-8")
    with pytest.raises(DataError, match="condition 'end-use' is also declared in"):
        load_dataset(tmp_path, bundled=False)


def test_a_ledger_prices_each_code_on_its_own_content_and_conditions(runner, no_user_data, tmp_path, products):
    """Codes on the same lists but with different content estimates, or listed under a condition and
    without one, are priced apart in `duty` and agree with `rate --hts`."""
    codes = ["3208100000", "3305100000", LAPTOP, "8507600010", "8507600020", MEDICAMENTS]
    ledger = tmp_path / "l.csv"
    ledger.write_text("entry_id,entry_date,hts,origin,customs_value\n"
                      + "".join(f"E{i},2025-09-01,{code},CN,1000\n" for i, code in enumerate(codes)), encoding="utf-8")
    result = runner.invoke(cli, ["duty", str(ledger), "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    totals = [line.split(",") for line in result.stdout.splitlines() if ",total," in line]
    header = result.stdout.splitlines()[0].split(",")
    charged = {row[header.index("code")]: float(row[header.index("charged")]) for row in totals}
    for code in codes:
        single = products.rate(code, d("2025-09-01"), US)
        assert charged[code] == pytest.approx(single.mfn_rate + single.additional_rate), code


def test_the_non_metal_content_of_a_derivative_pays_the_reciprocal_tariff(products, estimates):
    """Procl. 10947 (90 FR 24199), from 2025-06-04, as the BIS inclusions notice of 2025-08-19 (90 FR
    40326) states it: "the non-steel and non-aluminum content will remain subject to the reciprocal
    and other applicable tariffs". Paints 3208.10.00 (a derivative of both metals)."""
    answer = products.rate("3208100000", d("2025-09-01"), US)
    shares = estimates.shares(["3208100000"]).loc["3208100000"]
    rest = 1 - shares["steel"] - shares["aluminum"]
    reciprocal = row(answer, "us-ieepa-reciprocal")
    assert reciprocal["applies"] and reciprocal["charged"] == pytest.approx(10 * rest)
    assert reciprocal["content_share"] == pytest.approx(rest) and reciprocal["content_basis"] == "estimate"
    assert "outside the aluminum and steel content" in reciprocal["reason"]
    metals = row(answer, "us-s232-steel")["charged"] + row(answer, "us-s232-aluminum")["charged"]
    assert answer.additional_rate == pytest.approx(metals + 10 * rest + 20 + 25)  # fentanyl, List 3
    bulk = products.table(["3208100000"], [d("2025-09-01")], US)["additional_rate"].iloc[0]
    assert bulk == pytest.approx(answer.additional_rate)


def test_the_declared_metal_content_leaves_the_rest_to_the_reciprocal_tariff(products):
    """The same rule on declared contents: 30% steel and aluminum leave 70% of the value at 10%."""
    declared = Contents(shares={"steel": 0.2, "aluminum": 0.1})
    answer = products.rate("3208100000", d("2025-09-01"), US, assume=declared)
    reciprocal = row(answer, "us-ieepa-reciprocal")
    assert reciprocal["charged"] == pytest.approx(7) and reciprocal["content_basis"] == "declared"
    assert answer.additional_rate == pytest.approx(10 + 5 + 7 + 20 + 25)
    all_metal = products.rate("3208100000", d("2025-09-01"), US, assume=Contents(shares={"steel": 1.0}))
    assert not row(all_metal, "us-ieepa-reciprocal")["applies"]


def test_before_june_2025_a_metal_article_was_exempt_from_the_reciprocal_tariff_as_a_whole(products):
    """Before Procl. 10947 the articles paying Section 232 claimed 9903.01.33 on the whole value (CBP
    Section 232 FAQ of March 2025); the 25% steel step of 2025-03-12 carries no content basis."""
    answer = products.rate("7208510030", d("2025-05-20"), US)
    reciprocal = row(answer, "us-ieepa-reciprocal")
    assert not reciprocal["applies"] and reciprocal["charged"] == 0
    assert reciprocal["reason"].startswith("not charged on goods subject to")


def test_the_non_copper_content_pays_the_reciprocal_tariff(products, estimates):
    """Procl. 10962, from 2025-08-01: 9903.78.02 (0%) on the non-copper content, which pays the other
    duties, the reciprocal tariff among them (CBP CSMS #65794272). Insulated copper wire 8544.42."""
    code = "8544429090"
    answer = products.rate(code, d("2025-09-01"), US)
    copper = row(answer, "us-s232-copper")
    share = estimates.shares([code]).loc[code, "copper"]
    assert copper["content"] == "copper" and copper["charged"] == pytest.approx(50 * share)
    metals = answer.layers[answer.layers["applies"] & (answer.layers["content"] != "")]
    assert "us-s232-copper" in set(metals["layer_id"])
    rest = 1 - metals["content_share"].sum()  # the wire is on the aluminum list too
    assert row(answer, "us-ieepa-reciprocal")["charged"] == pytest.approx(10 * rest)
