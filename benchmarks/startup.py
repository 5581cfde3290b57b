"""Start-up time of `tariffcalc rate` and `--help`, cold and warm, against `python -c "import pandas"`.

Run by hand from anywhere:  python benchmarks/startup.py [--repeat 7]

Targets (issue 13): warm `rate --date` (the cache of the checked data set in place) at most 1.25x
the time of `python -c "import pandas"`; cold (an empty cache folder: every file read, checked and
cached) at most 1.6x; `--help` at most 0.2x, without importing pandas. `no cache` is
TARIFFCALC_NO_CACHE=1 (every file read and checked on each run, as before the cache).

Python bytecode is cached (in a temporary PYTHONPYCACHEPREFIX folder, even where
PYTHONDONTWRITEBYTECODE is set), as it is for an installed package and for pandas itself:
otherwise each run would compile tariffcalc's source again. --no-bytecode measures that case.

The commands run in rounds (each command once per round, in turn), so a machine whose load
changes during the run slows every command alike; figures are medians over the rounds, reported
as ratios to the pandas floor of the same run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TC = [PY, "-m", "tariffcalc"]
RATE = ["rate", "--date", "2025-04-12"]
FLOOR = "python -c 'import pandas'"

# name -> (command, cache state: None (no cache), "cold" (an empty folder each run) or "warm")
CASES = {
    FLOOR: ([PY, "-c", "import pandas"], None),
    "python -c 'pass'": ([PY, "-c", "pass"], None),
    "rate --date 2025-04-12, warm": (TC + RATE, "warm"),
    "rate --date 2025-04-12, cold": (TC + RATE, "cold"),
    "rate --date 2025-04-12, no cache": (TC + RATE, None),
    "rate --date 2025-04-12 -f json, warm": (TC + RATE + ["-f", "json"], "warm"),
    "rate --date 2025-04-12 -f json, cold": (TC + RATE + ["-f", "json"], "cold"),
    "tariffcalc --help": (TC + ["--help"], None),
    "tariffcalc --version": (TC + ["--version"], None),
}
TARGETS = {
    "rate --date 2025-04-12, warm": 1.25,
    "rate --date 2025-04-12, cold": 1.6,
    "tariffcalc --help": 0.2,
}


def run_once(cmd, state, warm_dir: str, pycache: str | None) -> float:
    env = dict(os.environ, COLUMNS="120", PYTHONPATH=str(ROOT))
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    env.pop("TARIFFCALC_DATA", None)
    cold_dir = None
    if state is None:
        env["TARIFFCALC_NO_CACHE"] = "1"
    else:
        env.pop("TARIFFCALC_NO_CACHE", None)
        cold_dir = tempfile.mkdtemp(prefix="tariffcalc-bench-") if state == "cold" else None
        env["TARIFFCALC_CACHE_DIR"] = cold_dir or warm_dir
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if cold_dir:
        shutil.rmtree(cold_dir, ignore_errors=True)
    return elapsed


def imports_pandas(args) -> bool:
    code = (
        f"import sys; sys.argv=['tariffcalc', *{args!r}]\n"
        "from tariffcalc.cli import cli\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\n"
        "print('PANDAS' if 'pandas' in sys.modules else 'NOPANDAS', file=sys.stderr)"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return "NOPANDAS" not in out.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (default 7, about 45 s)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="do not cache tariffcalc's bytecode (compile its source on every run)")
    args = parser.parse_args()
    warm_dir = tempfile.mkdtemp(prefix="tariffcalc-bench-warm-")
    pycache = None if args.no_bytecode else tempfile.mkdtemp(prefix="tariffcalc-bench-pyc-")
    try:
        for cmd, state in CASES.values():  # the OS file cache, bytecode and the warm folder, filled once
            run_once(cmd, state, warm_dir, pycache)
        times: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(args.repeat):
            for name, (cmd, state) in CASES.items():
                times[name].append(run_once(cmd, state, warm_dir, pycache))
    finally:
        shutil.rmtree(warm_dir, ignore_errors=True)
        if pycache:
            shutil.rmtree(pycache, ignore_errors=True)
    results = {name: statistics.median(values) for name, values in times.items()}
    floor = results[FLOOR]
    bytecode = "source compiled on every run" if args.no_bytecode else "bytecode cached"
    print(f"median of {args.repeat} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} cores, {bytecode}")
    print(f"{'command':40} {'seconds':>8} {'x floor':>8} {'target':>8}")
    for name, seconds in results.items():
        target = f"<= {TARGETS[name]:g}" if name in TARGETS else ""
        print(f"{name:40} {seconds:8.3f} {seconds / floor:8.2f} {target:>8}")
    for flag in ("--help", "--version"):
        print(f"tariffcalc {flag} imports pandas: {imports_pandas([flag])}")


if __name__ == "__main__":
    main()
