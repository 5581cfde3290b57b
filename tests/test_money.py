"""One rounding rule for amounts: whole millionths, half a cent away from zero, in every output."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tariffcalc import ledger_out, money, render


@pytest.mark.parametrize("amount, cents", [
    (1114.085, 1114.09),   # 25% of 4,456.34: its double is a hair above the half cent
    (902.415, 902.42),     # 25% of 3,609.66: its double is a hair below, and still goes up
    (-902.415, -902.42),   # away from zero
    (0.005, 0.01), (0.004, 0.0), (2.675, 2.68), (0.125, 0.13), (12.5, 12.5),
])
def test_half_a_cent_goes_away_from_zero(amount, cents):
    assert money.rounded(amount) == cents
    assert money.cents([amount])[0] / 100 == cents


def test_blanks_stay_blank():
    assert np.isnan(money.rounded(float("nan"))) and np.isnan(money.cents([np.nan])[0])


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_any_whole_millionths(micro):
    """An amount of whole millionths (as the ledger prices them) rounds by its millionths."""
    amount = micro / money.MICRO
    expected = (abs(micro) + 5_000) // 10_000 * (1 if micro >= 0 else -1)
    assert money.cents([amount])[0] == expected
    assert money.rounded(amount) == pytest.approx(expected / 100, abs=1e-9)


@given(st.lists(st.integers(min_value=-10**12, max_value=10**12), min_size=1, max_size=30))
def test_csv_json_and_tables_write_the_same_cents(micros):
    """The per-entry CSV, the JSON summary and the terminal tables say one amount."""
    amounts = np.array(micros, dtype=float) / money.MICRO
    csv_text = ledger_out._money(amounts).to_pylist()
    assert csv_text == [f"{money.rounded(a):.2f}" for a in amounts]
    assert [json.loads(json.dumps(money.rounded(a))) for a in amounts] == [float(t) for t in csv_text]
    assert [render._money(a).replace(",", "") for a in amounts] == csv_text
