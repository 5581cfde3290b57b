"""Daily trade-weighted averages vs the change-point series, 2018-01-01 .. 2026-12-31, both directions.

Run by hand:  python benchmarks/averages.py

Target (issue 18): `export --freq D --average` within 2x the time of the same export at change
points (averages are constant between change dates, so the daily series is the change-point
series forward-filled). Both are timed in this run on this machine; the ratio is what counts.
"""
from __future__ import annotations

import time
from datetime import date

from click.testing import CliRunner

from tariffcalc.cli import cli


def timed(args) -> float:
    began = time.perf_counter()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return time.perf_counter() - began


def main():
    base = ["export", "--from", "2018-01-01", "--to", date(2026, 12, 31).isoformat(), "--average"]
    timed(base)  # warm the caches (weights, schedules) so both runs start alike
    changes = min(timed(base) for _ in range(2))
    daily = min(timed(base + ["--freq", "D"]) for _ in range(2))
    print(f"change points: {changes:.2f} s   daily: {daily:.2f} s   ratio daily/changes: {daily / changes:.2f}"
          f" (target <= 2)")


if __name__ == "__main__":
    main()
