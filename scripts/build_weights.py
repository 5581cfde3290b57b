"""Build data/weights/*.csv from the raw public trade data (see data/weights/PROVENANCE.md).

Each file is a plain aggregation of one raw file; values are whole US dollars, rows sorted, zero
rows dropped. The raw inputs are unmodified copies kept in a `data-raw` directory laid out as the
project's shared copy (one folder per source, each with its PROVENANCE.md):

    python scripts/build_weights.py RAW_DIR [OUT_DIR]

RAW_DIR defaults to ../shared/data-raw beside the repository, OUT_DIR to data/weights.
tests/test_builders.py reruns this into a temporary directory and compares byte for byte.
"""
from __future__ import annotations

import csv
import gzip
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RAW = REPO.parent / "shared" / "data-raw"


def dollars(text: str) -> int:
    """'17300.0' -> 17300; exact (Decimal), so large sums do not pick up float error."""
    value = Decimal(text)
    if value != value.to_integral_value():
        raise ValueError(f"not whole dollars: {text}")
    return int(value)


def write(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def us_imports_2024(raw: Path) -> list[tuple[str, int]]:
    """Census imports for consumption from China, 2024, summed by HTS-10."""
    totals: dict[str, int] = defaultdict(int)
    with open(raw / "waugh-trade-war-redux-2025/data/2024-hs10-imports-china.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            totals[row["HS10"]] += dollars(row["imports"])
    return sorted((code, v) for code, v in totals.items() if v)


def cn_imports_2017(raw: Path) -> list[tuple[str, int]]:
    """PIIE's weights: China's 2017 imports from the US by HS-8, thousand US$ -> US$."""
    out = []
    with open(raw / "piie-bown-jung-zhang-2019/china_imports_from_us_2017_hs8.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            value = int(Decimal(row["2017 China's Imports from US (000USD)"]) * 1000)
            if value:
                out.append((row["hs08"], value))
    return sorted(out)


def us_imports_hs2(raw: Path) -> list[tuple[int, str, int]]:
    """Monthly HS-2 imports from China summed by year; complete years 2013-2020 only."""
    totals: dict[tuple[int, str], int] = defaultdict(int)
    path = raw / "waugh-us-imports-hs2/us_imports_from_china_hs2_monthly_2013_2021.csv"
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            year = int(row["time"][:4])
            if 2013 <= year <= 2020:
                totals[(year, row["I_COMMODITY"])] += dollars(row["CON_VAL_MO"])
    return sorted((y, hs2, v) for (y, hs2), v in totals.items() if v)


def cn_imports_hs2(raw: Path) -> list[tuple[int, str, int]]:
    """US exports to China (FAS) by HS-2, 2020-2024 (2025 is an incomplete, all-zero column)."""
    out = []
    path = raw / "usitc-dataweb-apmcm2025/us_exports_to_china_fas_hs2_2020_2025.csv"
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for year in range(2020, 2025):
                value = dollars(row[str(year)])
                if value:
                    out.append((year, row["HTS Number"], value))
    return sorted(out)


def world_exports_hs2(raw: Path) -> list[tuple[int, str, int]]:
    """US exports to every country (FAS) summed by HS-2, 2020-2024: the nearest shipped stand-in for
    PIIE's China weights ("US exports to the world in 2017", HS-6). The sum is checked against the
    file's own "Total:" row."""
    path = raw / "usitc-dataweb-apmcm2025/DataWeb-Query-Export__FAS_Value_hs2_by_country_2020_2025.csv.gz"
    totals: dict[tuple[int, str], int] = defaultdict(int)
    stated: dict[int, int] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()[2:]  # two banner lines before the header
    for row in csv.DictReader(lines):
        for year in range(2020, 2025):
            value = dollars(row[str(year)].replace(",", ""))
            if row["Data Type"].startswith("Total"):
                stated[year] = value
            else:
                totals[(year, row["HTS Number"])] += value
    for year, value in stated.items():
        summed = sum(v for (y, _), v in totals.items() if y == year)
        if summed != value:
            raise ValueError(f"{path.name}: {year} chapters sum to {summed}, the file's total is {value}")
    return sorted((y, hs2, v) for (y, hs2), v in totals.items() if v)


def build(raw: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "us-imports-2024-hts10.csv": (["code", "value_usd"], us_imports_2024(raw)),
        "cn-imports-2017-hs8.csv": (["code", "value_usd"], cn_imports_2017(raw)),
        "us-imports-hs2-2013-2020.csv": (["year", "hs2", "value_usd"], us_imports_hs2(raw)),
        "cn-imports-hs2-2020-2024.csv": (["year", "hs2", "value_usd"], cn_imports_hs2(raw)),
        "us-exports-world-hs2-2020-2024.csv": (["year", "hs2", "value_usd"], world_exports_hs2(raw)),
    }
    for name, (header, rows) in files.items():
        write(out / name, header, rows)
    return [out / name for name in files]


if __name__ == "__main__":
    raw = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_RAW
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "data" / "weights"
    for path in build(raw, out):
        print(path)
