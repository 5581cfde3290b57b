"""`duty` on a 1,000,000-row synthetic ledger, against `pandas.read_csv` of the same file.

Run by hand:  python benchmarks/ledger.py [--rows 1000000] [--repeat 5] [--keep]

The ledger is generated under /tmp at run time (nothing large is committed): HTS-10 codes drawn
from the 2024 US imports from China of data/weights (weighted by import value), entry dates uniform over
2018-01-01..2026-12-31, 5% of entries from Hong Kong, an export date 5-60 days before entry on
half of them, a quantity on a quarter, an entry summary date on all and a liquidation date (or
'unliquidated') on most, so that the refund routes and interest are priced too. Each measurement
runs in its own subprocess, so its peak memory (ru_maxrss) is its own; read_csv and duty runs
alternate and medians are reported, as single runs on a shared machine vary by a quarter.

Targets (issue "Duties and refunds over an import ledger"): reading, checking and pricing the
ledger in under 3x the time of `pandas.read_csv` of the same file; peak memory under 1 GB.
Writing the per-entry CSV (one row per entry x layer) is timed separately.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The bundled 2024 weights: US imports from China by HTS-10 (Census; see data/weights/PROVENANCE.md).
CODES = Path(__file__).resolve().parent.parent / "data" / "weights" / "us-imports-2024-hts10.csv"


def make_ledger(path: Path, rows: int, seed: int = 1) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    trade = pd.read_csv(CODES, dtype={"code": str}).groupby("code")["value_usd"].sum()
    trade = trade[trade > 0]
    codes = rng.choice(trade.index.to_numpy(), size=rows, p=(trade / trade.sum()).to_numpy())
    days = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 3287, rows), unit="D")
    exported = days - pd.to_timedelta(rng.integers(5, 60, rows), unit="D")
    exported = exported.where(rng.random(rows) < 0.5)
    exported = exported.where(exported >= pd.Timestamp("2018-01-01"))
    quantity = pd.Series(rng.integers(1, 5000, rows).astype(float)).where(rng.random(rows) < 0.25)
    liquidated = rng.random(rows)
    frame = pd.DataFrame({
        "entry_id": [f"E{i:07d}" for i in range(rows)],
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
    frame.to_csv(path, index=False)


def child(kind: str, path: str, out: str) -> None:
    start = time.perf_counter()
    if kind == "read_csv":
        import pandas as pd

        start = time.perf_counter()
        frame = pd.read_csv(path)
        result = {"rows": len(frame)}
    else:
        from tariffcalc import duties, export, ledger
        from tariffcalc.engine import Engine
        from tariffcalc.loader import load_dataset
        from tariffcalc.products import ProductEngine
        from tariffcalc.schedule import Schedules

        start = time.perf_counter()
        dataset = load_dataset()
        products = ProductEngine(Engine(dataset), Schedules.for_dataset(dataset))
        for vintage in products.schedules.vintages:  # the MFN tables: read once per process
            products.schedules.duty_table(vintage)
        loaded = time.perf_counter()
        # skip_bad: 2024 codes on 2018 dates are not all lines of the schedule then: rejected rows
        entries = ledger.read_ledger(path, skip_bad=True)
        read = time.perf_counter()
        priced = duties.compute_duties(entries, products)
        done = time.perf_counter()
        result = {"rows": priced.summary.entries, "rejected": priced.summary.rejected,
                  "lines": int(priced.key_rows[priced.key].sum()),
                  "duty_total": round(priced.summary.duty_total, 2),
                  "ieepa_refundable": round(priced.summary.ieepa_refundable, 2),
                  "load_seconds": loaded - start, "read_seconds": read - loaded, "price_seconds": done - read}
        if kind == "duty+write":
            export.write_duty_outputs(priced, out)
            result["write_seconds"] = time.perf_counter() - done
            result["out_bytes"] = os.path.getsize(out)
        start = loaded if kind == "duty" else start
    result["seconds"] = time.perf_counter() - start
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps(result))


def run(kind: str, path: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(out)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="Runs of each measurement (medians are reported).")
    parser.add_argument("--keep", action="store_true", help="Keep the generated files.")
    parser.add_argument("--ledger", type=Path, help="Time this ledger instead of generating one.")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    if args.make:
        return make_ledger(Path(args.make[0]), int(args.make[1]))

    folder = Path(tempfile.mkdtemp(prefix="tariffcalc-ledger-"))
    path, out = folder / "ledger.csv", folder / "duties.csv"
    if args.ledger:
        path = args.ledger
        print(f"ledger: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    else:
        start = time.perf_counter()  # in a child, so that this process stays small while the others are timed
        subprocess.run([sys.executable, __file__, "--make", str(path), str(args.rows)], check=True)
        print(f"synthetic ledger: {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB "
              f"(generated in {time.perf_counter() - start:.1f} s) at {path}")
    bases, duties = [], []
    for _ in range(args.repeat):  # alternate, so drifts in machine speed hit both alike
        bases.append(run("read_csv", path, out))
        duties.append(run("duty", path, out))
    write = run("duty+write", path, out)
    base, duty = (sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2] for runs in (bases, duties))
    ratios = sorted(d["seconds"] / b["seconds"] for b, d in zip(bases, duties))
    print(f"medians of {args.repeat} runs, each in a fresh process:")
    print(f"pandas.read_csv:                      {base['seconds']:7.2f} s   peak {base['peak_mb']:6.0f} MB")
    print(f"data, product index, MFN tables load: {duty['load_seconds']:7.2f} s   (once per process, not in the ratio)")
    print(f"read_ledger (read + check every row): {duty['read_seconds']:7.2f} s")
    print(f"compute_duties (every entry x layer): {duty['price_seconds']:7.2f} s")
    print(f"read + check + price:                 {duty['seconds']:7.2f} s   peak {duty['peak_mb']:6.0f} MB   "
          f"= {duty['seconds'] / base['seconds']:.2f}x read_csv (target < 3x; peak target < 1024 MB)")
    print(f"  ratio in each pair of runs:         {', '.join(f'{r:.2f}x' for r in ratios)}")
    print(f"  with the data load:                 {duty['seconds'] + duty['load_seconds']:7.2f} s   "
          f"= {(duty['seconds'] + duty['load_seconds']) / base['seconds']:.2f}x read_csv")
    print(f"per-entry CSV written ({write['lines']:,} layer lines, {write['out_bytes'] / 1e6:.0f} MB): "
          f"{write['write_seconds']:7.2f} s   whole run peak {write['peak_mb']:6.0f} MB")
    print(f"entries priced {duty['rows']:,}, rejected {duty['rejected']:,} (codes not lines of their date's schedule)")
    print(f"duty total {duty['duty_total']:,.2f} USD, IEEPA refundable {duty['ieepa_refundable']:,.2f} USD")
    if not args.keep:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
