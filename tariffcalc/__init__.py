"""tariffcalc: US tariffs on goods from China, and China's on US goods, on any date, with sources.

Library use::

    from datetime import date
    import tariffcalc

    engine = tariffcalc.Engine(tariffcalc.load_dataset())
    answer = engine.rate_on(date(2025, 4, 12), "us")
    answer.directions[0].headline_rate   # 145.0

    products = tariffcalc.ProductEngine.from_dataset(tariffcalc.load_dataset())
    ledger = tariffcalc.read_ledger("examples/sample-ledger.csv")
    result = tariffcalc.compute_duties(ledger, products, as_of=date(2026, 12, 1))
    result.summary.duty_total            # the ledger's duty, in USD

Data: ``DIRECTIONS`` maps "us" and "cn" to their ``Direction`` (who imposes on goods of whom);
``PARTITION_COLUMNS`` are the columns of a priced partition (``price_partition``).

The names below are imported on first use, so that importing the package (and ``--help``)
does not import pandas.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Engine": "engine",
    "RateAnswer": "engine",
    "DirectionRate": "engine",
    "DiffAnswer": "engine",
    "DirectionDiff": "engine",
    "layers_summary": "engine",
    "load_dataset": "loader",
    "load_directory": "loader",
    "bundled_data_dir": "loader",
    "ProductEngine": "products",
    "Schedules": "schedule",
    "read_ledger": "ledger",
    "Ledger": "ledger",
    "LedgerReader": "ledger",
    "compute_duties": "duties",
    "DutyResult": "duties",
    "DutySummary": "duties",
    "Dataset": "model",
    "Layer": "model",
    "Step": "model",
    "Coverage": "model",
    "Rules": "model",
    "Direction": "model",
    "DIRECTIONS": "model",
    "price_partition": "partition",
    "partition_totals": "partition",
    "price_partition_and_totals": "partition",
    "combine_totals": "partition",
    "stream_duties": "partition",
    "PARTITION_COLUMNS": "partition",
    "DutyTotals": "duties",
    "TariffcalcError": "errors",
    "DataError": "errors",
    "QueryError": "errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'tariffcalc' has no attribute {name!r}")
