"""Start-up time of `tariffcalc rate` against the floor of importing pandas, in one run.

Run by hand:  python benchmarks/startup.py [--repeat 15]

Targets (issue "Core"): `rate` (all bundled data loaded and validated) at most 1.5x the time of
`python -c "import pandas"`; `--help` and `--version` under 0.25 s and without importing pandas.
Figures are medians of wall times measured here, reported as ratios to the pandas floor.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

PY = sys.executable
CASES = {
    "floor: python -c 'import pandas'": [PY, "-c", "import pandas"],
    "python -c 'pass'": [PY, "-c", "pass"],
    "tariffcalc rate --date 2025-04-12 -f json": [PY, "-m", "tariffcalc", "rate", "--date", "2025-04-12", "-f", "json"],
    "tariffcalc rate --date 2025-04-12 (table)": [PY, "-m", "tariffcalc", "rate", "--date", "2025-04-12"],
    "tariffcalc --help": [PY, "-m", "tariffcalc", "--help"],
    "tariffcalc --version": [PY, "-m", "tariffcalc", "--version"],
}


def wall(cmd, repeat):
    times = []
    env = dict(os.environ, COLUMNS="120")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imports_pandas(args) -> bool:
    code = (
        f"import sys; sys.argv=['tariffcalc', *{args!r}]\n"
        "from tariffcalc.cli import cli\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\n"
        "print('PANDAS' if 'pandas' in sys.modules else 'NOPANDAS', file=sys.stderr)"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True)
    return "NOPANDAS" not in out.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    for cmd in CASES.values():  # warm the file cache
        subprocess.run(cmd, stdout=subprocess.DEVNULL)
    results = {name: wall(cmd, args.repeat) for name, cmd in CASES.items()}
    floor = results["floor: python -c 'import pandas'"]
    print(f"median of {args.repeat} runs, {sys.version.split()[0]}")
    print(f"{'command':45} {'seconds':>8} {'x floor':>8}")
    for name, seconds in results.items():
        print(f"{name:45} {seconds:8.3f} {seconds / floor:8.2f}")
    for flag in ("--help", "--version"):
        print(f"tariffcalc {flag} imports pandas: {imports_pandas([flag])}")
    ratio = results["tariffcalc rate --date 2025-04-12 -f json"] / floor
    print(f"rate/floor ratio: {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
