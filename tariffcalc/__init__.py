"""tariffcalc: US tariffs on goods from China, and China's on US goods, on any date, with sources.

Library use::

    from datetime import date
    import tariffcalc

    engine = tariffcalc.Engine(tariffcalc.load_dataset())
    answer = engine.rate_on(date(2025, 4, 12), "us")
    answer.directions[0].headline_rate   # 145.0

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
