"""Each stacking rule of the bundled data, checked on a real product, with the source of the rule.

The rules live in the layer files (`rules:` and `coverage.exempt`); these tests make sure the data
says what the cited instrument says, and that the engine applies it.
"""

from tariffcalc.engine import direction_with_origin

from .conftest import d

US = direction_with_origin("us")
STEEL_PLATE = "7208510000"


def layer(products, code, day, layer_id):
    answer = products.rate(code, d(day), US)
    rows = answer.layers.set_index("layer_id")
    return rows.loc[layer_id] if layer_id in rows.index else None


def test_reciprocal_is_not_charged_on_section_232_goods(products):
    """EO 14257 sec. 3(b); CBP CSMS #64680374 (claim 9903.01.33)."""
    rules = products.engine.dataset.layer("us-ieepa-reciprocal").rules
    assert "us-s232-autos" in rules.not_on_goods_of and "us-s232-steel" in rules.not_on_content_of
    row = layer(products, STEEL_PLATE, "2025-04-15", "us-ieepa-reciprocal")
    assert not row["applies"] and row["reason"].startswith("not charged on goods subject to Section 232 steel")


def test_section_122_is_not_charged_on_section_232_goods(products):
    """Proclamation 11012, heading 9903.03.06; CBP CSMS #67844987."""
    row = layer(products, STEEL_PLATE, "2026-03-10", "us-s122-surcharge")
    assert not row["applies"] and "Section 232" in row["reason"]
    assert layer(products, "4202221500", "2026-03-10", "us-s122-surcharge")["applies"]


def test_forced_labor_action_excludes_section_232_articles(products):
    """USTR notice of action, FR Doc 2026-15181, note 52(f) to chapter 99."""
    row = layer(products, STEEL_PLATE, "2026-08-01", "us-s301-forced-labor")
    assert not row["applies"]
    assert layer(products, "4202221500", "2026-08-01", "us-s301-forced-labor")["charged"] == 12.5


def test_fentanyl_tariff_stacks_on_section_301_and_232(products):
    """CBP CSMS #64299816: the China IEEPA duty applies in addition to Section 301 and 232 duties."""
    answer = products.rate("8703800000", d("2025-05-01"), US)
    applied = set(answer.layers.loc[answer.layers["applies"], "layer_id"])
    assert {"us-ieepa-fentanyl", "us-s301-review-evs", "us-s232-autos"} <= applied


def test_review_rate_replaces_the_list_rate(products):
    """89 FR 76581: EVs go from 25% (List 1) to 100%, not to 125%."""
    row = layer(products, "8703800000", "2024-10-01", "us-s301-list1")
    assert not row["applies"] and row["reason"].startswith("replaced by Section 301 review: electric vehicles")
    assert products.rate("8703800000", d("2024-10-01"), US).additional_rate == 100


def test_auto_232_goods_do_not_also_pay_steel_232(products):
    """EO 14289 (2025-04-29): articles subject to the auto duties are not subject to steel/aluminum 232."""
    row = layer(products, "8482105044", "2025-09-01", "us-s232-steel")
    assert row is not None and not row["applies"]
    assert row["reason"].startswith("not charged on goods subject to Section 232 automobile parts")


def test_annex_ii_exemption_wins_over_the_reciprocal_tariff(products):
    """EO 14257 Annex II (energy): crude oil claims 9903.01.32."""
    row = layer(products, "2709002000", "2025-04-15", "us-ieepa-reciprocal")
    assert not row["applies"] and row["reason"].startswith("exempt: ")
    assert layer(products, "2709002000", "2025-04-15", "us-ieepa-fentanyl")["applies"]
