"""Amounts to the cent: one rounding rule for every output that writes cents (the per-entry CSV,
the JSON, the tables; the Parquet output keeps amounts unrounded).

A ledger is priced in whole millionths (``duties``), so a duty is often an exact half cent (25% of
4,456.34 is 1,114.085). Rounding the float the old way, the double's binary value decides: 1,114.085
is stored a hair above and went up, 902.415 a hair below and went down. Here the millionths decide:
half a cent goes away from zero, always.
"""
from __future__ import annotations

import math

MICRO = 1_000_000
_EXACT = 2.0 ** 53  # below this many millionths (about 9 billion) an amount's millionths are exact


def rounded(value: float) -> float:
    """``value`` to the cent, half a cent away from zero (NaN stays NaN)."""
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return value
    micro = round(value * MICRO)
    if abs(micro) >= _EXACT:  # millionths mean nothing this far up: the nearest cent, as ``cents``
        return round(value * 100) / 100
    whole = (abs(micro) + MICRO // 200) // (MICRO // 100)
    return math.copysign(whole / 100, value)


def cents(values):
    """Whole cents of an array of amounts (float; NaN stays NaN), the rule of ``rounded``."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        micro = np.rint(values * MICRO)
        exact = np.abs(micro) < _EXACT
        whole = np.floor((np.abs(micro) + MICRO // 200) / (MICRO // 100))
        return np.where(exact, np.copysign(whole, values), np.rint(values * 100))
