"""`tariffcalc duty` as a whole process on synthetic ledgers, against a whole-process `pandas.read_csv`.

Run by hand:  python benchmarks/ledger.py [--rows 1000000] [--repeat 3] [--files 100] [--big 20000000 [--copies]]
[--dask] [--keep]

The ledgers are generated under /tmp at run time (nothing large is committed), from the bundled data:
HTS-10 codes drawn from the 2024 US imports from China of data/weights (weighted by import value),
entry dates uniform over 2018-01-01..2026-12-31, 5% of entries from Hong Kong, an export date 5-60
days before entry on half of them, a quantity on a quarter, an entry summary date on all and a
liquidation date (or 'unliquidated') on most, so that refunds are priced too. The --big ledger is
generated afresh a million rows at a time (each block with its own seed), so that like a real
ledger it keeps bringing codes and dates the first chunks did not; --copies makes it of copies of
the timed ledger instead, which times the steady state in which every key is already known.
--files N also times the ledger split into N files of a folder (the way brokers' daily exports
come), against the one file. Paths are relative to the repository.

Every measurement is a fresh process (`python -m tariffcalc duty ...`, data load included, warm
cache, tariffcalc's bytecode cached as for an installed copy: see children.py; --no-bytecode
compiles it in every process), timed from outside with its peak memory (ru_maxrss); the baseline
is a fresh `python -c "import pandas; pandas.read_csv(LEDGER)"`. Baseline and duty runs alternate
and the medians are reported as same-run ratios (the machine is shared: single runs vary by a
quarter).

The cost of writing the per-entry output is measured two ways. In the run: ``duty -o X`` less the
``duty`` run of the same round (the writer works on a second thread beside the pricing, so this
is what it adds to the wall clock), the median of those per-round differences. Alone: one process
prices the ledger into memory, then times only the writer (``export.write_duty_run``), median of
the repeats: what writing costs when nothing runs beside it. A difference of two medians would
mix two noisy figures of about 6 s to measure one of 1-3 s.

Targets (issue 13): duty end to end on 1 M rows <= 2x read_csv; writing the per-entry Parquet
(duty -o out.parquet less duty alone) <= 1x read_csv, the per-entry CSV <= 3x; 20 M rows streamed
with peak memory < 1.5 GB and time per row within 15% of the 1 M run's; Parquet in; the Dask path
(tariffcalc.cluster on a local cluster) against the single-process totals.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from children import ROOT, bytecode_folder, environment

# The bundled 2024 weights: US imports from China by HTS-10 (Census; see data/weights/PROVENANCE.md).
CODES = ROOT / "data" / "weights" / "us-imports-2024-hts10.csv"
ENV = environment(None)  # the children's environment: main() gives them cached bytecode (children.py)


def make_ledger(path: Path, rows: int, seed: int = 1, block: int = 1_000_000, first: int = 0) -> None:
    """The synthetic ledger, written a million rows at a time (a 20 M-row ledger needs no more memory);
    its entry ids start at E{first}."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    trade = pd.read_csv(CODES, dtype={"code": str}).groupby("code")["value_usd"].sum()
    trade = trade[trade > 0]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for start in range(first, first + rows, block):
            _block(handle, rng, trade, start, min(block, first + rows - start), header=start == first)


def _block(handle, rng, trade, first: int, rows: int, header: bool) -> None:
    import numpy as np
    import pandas as pd

    codes = rng.choice(trade.index.to_numpy(), size=rows, p=(trade / trade.sum()).to_numpy())
    days = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 3287, rows), unit="D")
    exported = days - pd.to_timedelta(rng.integers(5, 60, rows), unit="D")
    exported = exported.where(rng.random(rows) < 0.5)
    exported = exported.where(exported >= pd.Timestamp("2018-01-01"))
    quantity = pd.Series(rng.integers(1, 5000, rows).astype(float)).where(rng.random(rows) < 0.25)
    liquidated = rng.random(rows)
    frame = pd.DataFrame({
        "entry_id": [f"E{i:08d}" for i in range(first, first + rows)],
        "entry_date": days.strftime("%Y-%m-%d"),
        "hts": [f"{c[:4]}.{c[4:6]}.{c[6:8]}.{c[8:]}" for c in codes],
        "origin": np.where(rng.random(rows) < 0.05, "HK", "CN"),
        "customs_value": np.round(rng.lognormal(9, 1.5, rows), 2),
        "export_date": exported.strftime("%Y-%m-%d").fillna(""),
        "quantity": quantity.map(lambda q: "" if pd.isna(q) else f"{q:g}"),
        # Refund columns: the deposit with the entry summary 0-13 days after entry; liquidation
        # 250-400 days after entry on 80%, 'unliquidated' on 15%, blank (unknown) on 5%.
        "entry_summary_date": (days + pd.to_timedelta(rng.integers(0, 14, rows), unit="D")).strftime("%Y-%m-%d"),
        "liquidation_date": np.select(
            [liquidated < 0.8, liquidated < 0.95],
            [(days + pd.to_timedelta(rng.integers(250, 401, rows), unit="D")).strftime("%Y-%m-%d"), "unliquidated"],
            ""),
    })
    frame.to_csv(handle, index=False, header=header, lineterminator="\n")


def timed(command: list[str]) -> dict:
    """Run ``command`` in a wrapper process: wall seconds and the command's own peak memory."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)")
    out = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=True,
                         cwd=ROOT, env=ENV)
    seconds, peak, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"failed: {' '.join(command)}")
    return {"seconds": float(seconds), "peak_mb": int(peak) / 1024}


def duty(path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tariffcalc", "duty", str(path), "--as-of", "2026-12-01", "-f", "json", *extra]


def clean(path: Path, folder: Path) -> int:
    """Drop the rows duty rejects (2024 codes on 2018 dates are not all lines of that schedule),
    so that every timed run prices every row without --skip-bad (which needs -o). Returns the rows dropped."""
    import pandas as pd

    subprocess.run(duty(path, "--skip-bad", "-o", str(folder / "first.parquet")), check=True, cwd=ROOT,
                   env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bad = pd.read_csv(folder / "first.rejects.csv", usecols=["row"])["row"].to_numpy() - 2  # line -> row index
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.drop(index=bad).to_csv(path, index=False, lineterminator="\n")
    return len(bad)


def fresh(target: Path, rows: int, folder: Path, seed: int) -> int:
    """A ledger of ``rows`` rows generated afresh (not copies), made and cleaned a million rows at
    a time so that no more than a block is ever in memory. Returns the rows kept.

    Copies of one ledger bring no new codes or dates after their first chunks, so they time only
    the steady state; a real ledger keeps bringing (code, period) keys the memo has not met."""
    block = folder / "block.csv"
    kept = 0
    with open(target, "w", encoding="utf-8", newline="") as out:
        for number, first in enumerate(range(0, rows, 1_000_000)):
            size = min(1_000_000, rows - first)
            subprocess.run([sys.executable, __file__, "--make", str(block), str(size),
                            "--seed", str(seed * 1000 + number), "--first", str(first)], check=True)
            kept += size - clean(block, folder)
            with open(block, encoding="utf-8", newline="") as part:
                if number:
                    part.readline()  # the header, written once
                shutil.copyfileobj(part, out)
    block.unlink()
    return kept


def repeated(source: Path, target: Path, times: int) -> None:
    """``times`` copies of a ledger, each with its own entry ids, one copy in memory at a time."""
    import pandas as pd

    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    with open(target, "w", encoding="utf-8", newline="") as handle:
        for copy in range(times):
            frame.assign(entry_id=frame["entry_id"] + f"-{copy}").to_csv(handle, index=False, header=copy == 0,
                                                                         lineterminator="\n")


def split(source: Path, folder: Path, files: int) -> Path:
    """``source`` as ``files`` CSV files of a folder, each with the header, rows in order."""
    folder.mkdir()
    with open(source, encoding="utf-8", newline="") as handle:
        header, rows = handle.readline(), handle.readlines()
    size = -(-len(rows) // files)
    for number in range(files):
        with open(folder / f"part-{number:05d}.csv", "w", encoding="utf-8", newline="") as out:
            out.write(header)
            out.writelines(rows[number * size:(number + 1) * size])
    return folder


def read_csv(path: Path) -> list[str]:
    return [sys.executable, "-c", f"import pandas; pandas.read_csv({str(path)!r})"]


def median(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def paired(runs: list[dict], baseline: list[dict]) -> float:
    """The median of the per-round differences ``runs[i] - baseline[i]`` in seconds (the rounds
    alternate, so each difference is taken on the machine as it was in that round)."""
    differences = sorted(r["seconds"] - b["seconds"] for r, b in zip(runs, baseline))
    return differences[len(differences) // 2]


def writer_check(path: Path, repeat: int) -> None:
    """The writer alone: the ledger priced into memory once, then only ``write_duty_run`` timed
    (CSV and Parquet, alternating), in one process; prints the medians in seconds."""
    from datetime import date

    from tariffcalc import export, ledger, partition
    from tariffcalc.loader import load_dataset
    from tariffcalc.products import ProductEngine

    products = ProductEngine.from_dataset(load_dataset())
    run = partition.DutyRun(ledger.LedgerReader(ledger.ledger_files(str(path))), products, as_of=date(2026, 12, 1))
    priced = list(run.results())

    class Priced:  # the run again, its results already priced: only the writing is left to time
        products, options, reader = run.products, run.options, run.reader

        def results(self):
            return iter(priced)

    times = {".csv": [], ".parquet": []}
    with tempfile.TemporaryDirectory(prefix="tariffcalc-writer-") as folder:
        for _ in range(repeat):
            for suffix, seconds in times.items():
                start = time.perf_counter()
                export.write_duty_run(Priced(), Path(folder) / f"out{suffix}")
                seconds.append(time.perf_counter() - start)
    print(" ".join(f"{sorted(t)[len(t) // 2]:.4f}" for t in times.values()))


def dask_check(path: Path) -> None:
    """The Dask path on a local cluster against one process: seconds and whether the totals agree."""
    from datetime import date

    import dask.dataframe as dd
    import distributed
    import pandas as pd

    from tariffcalc import duties, export, ledger
    from tariffcalc.cluster import summarize_dask
    from tariffcalc.loader import load_dataset
    from tariffcalc.products import ProductEngine

    class Summary:
        def __init__(self, summary):
            self.summary = summary
    dataset = load_dataset()
    products = ProductEngine.from_dataset(dataset)
    start = time.perf_counter()
    whole = duties.compute_duties(ledger.read_ledger(path, skip_bad=True), products, as_of=date(2026, 12, 1))
    single = time.perf_counter() - start
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc):
        start = time.perf_counter()
        rows = dd.from_pandas(pd.read_csv(path, dtype=str, keep_default_na=False), chunksize=250_000)
        summary = summarize_dask(rows, products, as_of=date(2026, 12, 1))
        took = time.perf_counter() - start
    same = export.duty_summary_dict(Summary(summary)) == export.duty_summary_dict(whole)
    print(f"dask (local cluster, 2 threads, {rows.npartitions} partitions): {took:7.2f} s   "
          f"one process (read + price): {single:7.2f} s   totals identical to the cent: {same}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each measurement (medians are reported).")
    parser.add_argument("--big", type=int, default=0, help="Also stream a ledger of this many rows (e.g. 20000000).")
    parser.add_argument("--dask", action="store_true", help="Also time the Dask path on a local cluster.")
    parser.add_argument("--keep", action="store_true", help="Keep the generated files.")
    parser.add_argument("--copies", action="store_true",
                        help="Make the --big ledger of copies of the timed one (the steady state, every key known) "
                             "rather than generated afresh.")
    parser.add_argument("--files", type=int, default=0,
                        help="Also time the ledger split into this many files of a folder (e.g. 100).")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="Do not cache tariffcalc's bytecode (compile its source in every process).")
    parser.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--dask-child", help=argparse.SUPPRESS)
    parser.add_argument("--writer-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        return make_ledger(Path(args.make[0]), int(args.make[1]), args.seed, first=args.first)
    if args.dask_child:
        return dask_check(Path(args.dask_child))
    if args.writer_child:
        return writer_check(Path(args.writer_child), args.repeat)

    global ENV
    with bytecode_folder(not args.no_bytecode) as pycache:
        ENV = environment(pycache)
        measure(args)


def measure(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tariffcalc-ledger-"))
    path = folder / "ledger.csv"
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--make", str(path), str(args.rows)], check=True)
    print(f"synthetic ledger: {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB "
          f"(generated in {time.perf_counter() - start:.1f} s) at {path}")
    dropped = clean(path, folder)
    rows = args.rows - dropped
    print(f"  {dropped:,} rows dropped (not lines of their date's schedule): {rows:,} rows timed")
    parquet = folder / "ledger.parquet"
    convert = (f"import pandas; pandas.read_csv({str(path)!r}, dtype=str, keep_default_na=False)"
               f".to_parquet({str(parquet)!r}, index=False)")
    subprocess.run([sys.executable, "-c", convert], check=True)
    timed(duty(path))  # warm the data cache
    runs = {"read_csv": [], "duty": [], "duty -o csv": [], "duty -o parquet": [], "duty parquet in": []}
    for _ in range(args.repeat):  # alternate, so drifts in machine speed hit all alike
        runs["read_csv"].append(timed(read_csv(path)))
        runs["duty"].append(timed(duty(path)))
        runs["duty -o csv"].append(timed(duty(path, "-o", str(folder / "out.csv"))))
        runs["duty -o parquet"].append(timed(duty(path, "-o", str(folder / "out.parquet"))))
        runs["duty parquet in"].append(timed(duty(parquet)))
    m = {name: median(r) for name, r in runs.items()}
    base = m["read_csv"]["seconds"]
    print(f"medians of {args.repeat} runs, each a fresh process (data load included), ratios to read_csv:")
    for name, r in m.items():
        print(f"  {name:18s} {r['seconds']:7.2f} s  {r['seconds'] / base:5.2f}x   peak {r['peak_mb']:6.0f} MB")
    print(f"duty end to end: {m['duty']['seconds'] / base:.2f}x read_csv (target <= 2x)")
    # the writer's Arrow buffers from the allocator the command uses (tariffcalc.cli.main)
    writer_env = dict(ENV, ARROW_DEFAULT_MEMORY_POOL=ENV.get("ARROW_DEFAULT_MEMORY_POOL", "system"))
    alone = subprocess.run([sys.executable, __file__, "--writer-child", str(path), "--repeat", str(args.repeat)],
                           check=True, cwd=ROOT, env=writer_env, capture_output=True, text=True).stdout.split()
    for (name, suffix, target), seconds in zip((("CSV", "csv", 3), ("Parquet", "parquet", 1)), alone):
        added = paired(runs[f"duty -o {suffix}"], runs["duty"])
        print(f"writing the per-entry {name} ({(folder / f'out.{suffix}').stat().st_size / 1e6:.0f} MB): "
              f"in the run +{added:.2f} s = {added / base:.2f}x read_csv, alone {float(seconds):.2f} s = "
              f"{float(seconds) / base:.2f}x (target <= {target}x)")
    if args.files:
        parts = split(path, folder / "parts", args.files)
        split_runs = [timed(duty(parts)) for _ in range(args.repeat)]
        seconds = median(split_runs)["seconds"]
        print(f"the ledger as {args.files} files of {rows // args.files:,} rows: {seconds:.2f} s = "
              f"{seconds / m['duty']['seconds']:.2f}x the one file, {seconds / base:.2f}x read_csv, "
              f"peak {median(split_runs)['peak_mb']:.0f} MB")
    if args.big:
        big = folder / "big.csv"
        start = time.perf_counter()
        if args.copies:
            times = max(1, round(args.big / args.rows))
            repeated(path, big, times)
            big_rows, made = rows * times, f"{times} copies of the ledger"
        else:
            big_rows, made = fresh(big, args.big, folder, seed=2), "generated afresh"
        print(f"big ledger: {big_rows:,} rows ({made}), {big.stat().st_size / 1e6:.0f} MB, "
              f"made in {time.perf_counter() - start:.0f} s")
        base_big = timed(read_csv(big)) if big_rows <= 5_000_000 else None
        streamed = timed(duty(big))
        # Start-up (imports, the data set, the first chunk's memo) is paid once whatever the size:
        # timed on the header alone, it is left out of the per-row figure that judges linearity.
        empty = folder / "empty.csv"
        empty.write_text(path.open(encoding="utf-8").readline(), encoding="utf-8")
        start_up = median([timed(duty(empty)) for _ in range(3)])["seconds"]
        per_row, per_row_small = streamed["seconds"] / big_rows, m["duty"]["seconds"] / rows
        beyond, beyond_small = (streamed["seconds"] - start_up) / big_rows, (m["duty"]["seconds"] - start_up) / rows
        print(f"{big_rows:,} rows ({made}) streamed: {streamed['seconds']:.1f} s, "
              f"peak {streamed['peak_mb']:.0f} MB (target < 1536 MB); per row {per_row / per_row_small:.2f}x "
              f"the {args.rows:,}-row run's, {beyond / beyond_small:.2f}x beyond the start-up of "
              f"{start_up:.2f} s (target 0.85-1.15)"
              + ((f"; {streamed['seconds'] / base_big['seconds']:.2f}x its read_csv") if base_big else ""))
    if args.dask:
        subprocess.run([sys.executable, __file__, "--dask-child", str(path)], check=True, cwd=ROOT,
                       env=ENV)
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
