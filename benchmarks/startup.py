"""Start-up time of `tariffcalc rate` and `--help`, cold and warm, against `python -c "import pandas"`.

Run by hand from anywhere:  python benchmarks/startup.py [--repeat 7]

Targets (issue 13): warm `rate --date` (the cache of the checked data set in place) at most 1.25x
the time of `python -c "import pandas"`; cold (an empty cache folder: every file read, checked and
cached) at most 1.6x; `--help` at most 0.2x, without importing pandas. `no cache` is
TARIFFCALC_NO_CACHE=1 (every file read and checked on each run, as before the cache).

Python bytecode is cached (in a temporary PYTHONPYCACHEPREFIX folder, even where
PYTHONDONTWRITEBYTECODE is set), as it is for an installed package and for pandas itself:
otherwise each run would compile tariffcalc's source again. --no-bytecode measures that case.

The command freezes the garbage collector when it is done (`cli.main`, gc.freeze), which spares it
Python's collection of pandas' import-time objects at exit (some 60 ms). The floor does pay that
collection, so a second floor, `import pandas` frozen the same way, is measured beside it: the
ratios to it (last column) are the like-for-like start-up cost.

The commands run in rounds (each command once per round, in turn), so a machine whose load
changes during the run slows every command alike; figures are medians over the rounds, reported
as ratios to the pandas floor of the same run.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from children import ROOT, bytecode_folder, environment

PY = sys.executable
TC = [PY, "-m", "tariffcalc"]
RATE = ["rate", "--date", "2025-04-12"]
FLOOR = "python -c 'import pandas'"
FROZEN = "the same, gc.freeze() at the end"

# name -> (command, cache state: None (no cache), "cold" (an empty folder each run) or "warm")
CASES = {
    FLOOR: ([PY, "-c", "import pandas"], None),
    FROZEN: ([PY, "-c", "import gc, pandas; gc.freeze()"], None),
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


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(cmd, state, warm_dir: str, pycache: str | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    env = environment(pycache, COLUMNS="120")
    env.pop("TARIFFCALC_DATA", None)
    cold_dir = None
    if state is None:
        env["TARIFFCALC_NO_CACHE"] = "1"
    else:
        env.pop("TARIFFCALC_NO_CACHE", None)
        cold_dir = tempfile.mkdtemp(prefix="tariffcalc-bench-") if state == "cold" else None
        env["TARIFFCALC_CACHE_DIR"] = cold_dir or warm_dir
    start, cpu = time.perf_counter(), _cpu()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    if cold_dir:
        shutil.rmtree(cold_dir, ignore_errors=True)
    return elapsed, cpu


def imports_pandas(args) -> bool:
    code = (
        f"import sys; sys.argv=['tariffcalc', *{args!r}]\n"
        "from tariffcalc.cli import cli\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\n"
        "print('PANDAS' if 'pandas' in sys.modules else 'NOPANDAS', file=sys.stderr)"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=environment(None))
    return "NOPANDAS" not in out.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds (default 7, about 45 s)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="do not cache tariffcalc's bytecode (compile its source on every run)")
    args = parser.parse_args()
    warm_dir = tempfile.mkdtemp(prefix="tariffcalc-bench-warm-")
    try:
        with bytecode_folder(not args.no_bytecode) as pycache:
            for cmd, state in CASES.values():  # the OS file cache, bytecode and the warm folder, filled once
                run_once(cmd, state, warm_dir, pycache)
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
            for _ in range(args.repeat):
                for name, (cmd, state) in CASES.items():
                    times[name].append(run_once(cmd, state, warm_dir, pycache))
    finally:
        shutil.rmtree(warm_dir, ignore_errors=True)
    wall = {name: statistics.median(w for w, _ in values) for name, values in times.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in times.items()}
    bytecode = "source compiled on every run" if args.no_bytecode else "bytecode cached"
    print(f"median of {args.repeat} rounds, Python {sys.version.split()[0]}, {os.cpu_count()} cores, {bytecode}")
    print("wall: elapsed time; cpu: user + system time of the process (steadier on a busy machine)")
    print(f"{'command':40} {'wall s':>7} {'x floor':>7} {'cpu s':>7} {'x floor':>7} {'target':>8} {'x frozen':>8}")
    for name in CASES:
        target = f"<= {TARGETS[name]:g}" if name in TARGETS else ""
        print(f"{name:40} {wall[name]:7.3f} {wall[name] / wall[FLOOR]:7.2f} "
              f"{cpu[name]:7.3f} {cpu[name] / cpu[FLOOR]:7.2f} {target:>8} {wall[name] / wall[FROZEN]:8.2f}")
    for flag in ("--help", "--version"):
        print(f"tariffcalc {flag} imports pandas: {imports_pandas([flag])}")


if __name__ == "__main__":
    main()
