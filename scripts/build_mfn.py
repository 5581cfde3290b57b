"""Build the MFN schedules of data/mfn (US: USITC HTS exports; China: PIIE), see data/mfn/PROVENANCE.md.

    python scripts/build_mfn.py RAW_DIR [OUT_DIR]

RAW_DIR defaults to ../shared/data-raw beside the repository (the project's unmodified copies of the
public files, one folder per source), OUT_DIR to data/mfn. tests/test_builders.py reruns this into a
temporary directory and compares with the committed files.

All 16 schedules are rebuilt row for row: the same codes, and the same general text, ad valorem
value, AVE and basis on every row; hts-2017.csv.gz is byte-identical. The one known difference (see
data/mfn/PROVENANCE.md, "Rebuilding"): of the descriptions longer than 200 characters, which are
shortened, 0.7-2.5% per file are shortened differently (the committed files' choice between cutting
the heading and dropping intermediate levels could not be recovered exactly); the counts are pinned
in the test.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RAW = REPO.parent / "shared" / "data-raw"
LIMIT = 200
ELLIPSIS = "…"
MIN_HEAD = 59  # shortest cut heading kept before dropping another intermediate level

CSV_EDITIONS = {
    "hts-2018r8.csv.gz": "hts_2018_revision_8_1_csv.csv.gz",
    "hts-2019r7.csv.gz": "hts_2019_revision_7_csv.csv.gz",
    "hts-2020r1.csv.gz": "hts_2020_rev_1_data_csv.csv.gz",
    "hts-2022r3.csv.gz": "hts_2022_revision_3_csv.csv.gz",
    "hts-2023r10.csv.gz": "hts_2023_revision_10_csv.csv.gz",
}
JSON_EDITIONS = {
    "hts-2025basic.csv.gz": "hts_2025_basic.json.gz",
    "hts-2025r10.csv.gz": "hts_2025_rev_10.json.gz",
    "hts-2025r32.csv.gz": "hts_2025_rev_32.json.gz",
    "hts-2026basic.csv.gz": "hts_2026_basic.json.gz",
    "hts-2026r10.csv.gz": "hts_2026_rev_10.json.gz",
}
HEADER = ["code", "description", "general", "ad_valorem", "ave", "basis"]
MARKUP = re.compile(r"<[^>]+>")
PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


def clean_text(text: str | None) -> str:
    text = re.sub(r"<newline/>|<nl/>|<br ?/?>", " ", text or "")
    return " ".join(MARKUP.sub("", text).split())


def clean_rate(text: str | None) -> str:
    text = (text or "").replace("<sup>2</sup>", "2").replace("<sup>3</sup>", "3")
    text = " ".join(MARKUP.sub("", text).split()).replace("¢;", "¢")
    return text[:-1] if text.endswith("`") else text


def shorten(parts: list[str]) -> str:
    """Join the levels with ': '; over LIMIT characters, drop the intermediate levels nearest the
    heading (one '…' for all dropped) and cut the heading; the most specific level is always kept."""
    text = ": ".join(parts)
    if len(text) <= LIMIT or len(parts) == 1:
        return text if len(text) <= LIMIT else text[: LIMIT - 1].rstrip() + ELLIPSIS
    head, mids, leaf = parts[0], parts[1:-1], parts[-1]
    dropped = 0
    while True:
        tail = ": ".join(([ELLIPSIS] if dropped else []) + mids[dropped:] + [leaf])
        room = LIMIT - len(tail) - 2
        if len(head) <= room:
            return head + ": " + tail
        cut = head[: max(room - 1, 0)].rstrip()
        if len(cut) >= MIN_HEAD or dropped >= len(mids):
            break
        dropped += 1
    if len(cut) < MIN_HEAD:
        return leaf if len(leaf) <= LIMIT else leaf[: LIMIT - 1].rstrip() + ELLIPSIS
    return cut + ELLIPSIS + ": " + tail


def rate_columns(general: str) -> tuple[str, str, str]:
    """(ad_valorem, ave, basis) of a General-rate text."""
    if general == "Free":
        return "0", "", "free"
    found = PERCENT.match(general)
    if found:
        return found.group(1), "", "ad_valorem"
    return "", "", "unknown"


def json_lines(path: Path) -> list[dict]:
    return json.loads(gzip.decompress(path.read_bytes()))


def csv_lines(path: Path) -> list[dict]:
    """The USITC CSV export, with the JSON's field names."""
    text = gzip.decompress(path.read_bytes()).decode("utf-8-sig")
    return [{"htsno": r["HTS Number"], "indent": r["Indent"], "description": r["Description"],
             "general": r["General Rate of Duty"]} for r in csv.DictReader(io.StringIO(text))]


def edition(lines: list[dict]) -> list[list[str]]:
    stack: list[tuple[int, str]] = []
    rows: dict[str, list[str]] = {}
    for line in lines:
        indent = int(line.get("indent") or 0)
        stack = [s for s in stack if s[0] < indent] + [(indent, clean_text(line.get("description")).rstrip(":").strip())]
        code = (line.get("htsno") or "").replace(".", "").strip()
        if not code.isdigit() or len(code) not in (8, 10) or code.startswith("99"):
            continue
        general = clean_rate(line.get("general"))
        if len(code) == 10 and not general and code[:8] in rows:
            general = rows[code[:8]][2]
        description = shorten([text for _, text in stack if text])
        rows[code] = [code, description, general, *rate_columns(general)]
        if len(code) == 10 and code[:8] not in rows:
            # a subheading printed only as one 10-digit line: its 8-digit code resolves too
            rows[code[:8]] = [code[:8], *rows[code][1:]]
    return [rows[code] for code in sorted(rows)]


def database_2017(path: Path) -> list[list[str]]:
    """USITC annual tariff database 2017: the row of each HTS-8 in force on 2017-12-31."""
    from datetime import date, datetime

    def day(text: str):
        return datetime.strptime(text.split()[0], "%m/%d/%Y").date() if text else None

    text = gzip.decompress(path.read_bytes()).decode("latin-1")
    rows: dict[str, list[str]] = {}
    end_of_year = date(2017, 12, 31)
    for r in csv.DictReader(io.StringIO(text)):
        start, end = day(r["begin_effect_date"]), day(r["end_effective_date"])
        if r["hts8"].startswith("99") or (start and start > end_of_year) or (end and end < end_of_year):
            continue
        general = " ".join(r["mfn_text_rate"].split())
        rows[r["hts8"]] = [r["hts8"], " ".join(r["brief_description"].split()), general, *rate_columns(general)]
    return [rows[code] for code in sorted(rows)]


# China: PIIE's level on 2018-01-01 plus the MFN-change columns up to each date (the retaliation
# columns are not MFN). Columns of china_tariff_rates_hs10.csv, by position.
PIIE_DATES = {"piie-2018-01-01.csv.gz": [2], "piie-2018-05-01.csv.gz": [2, 4],
              "piie-2018-07-01.csv.gz": [2, 4, 5], "piie-2018-11-01.csv.gz": [2, 4, 5, 9],
              "piie-2019-01-01.csv.gz": [2, 4, 5, 9, 10]}


def piie(path: Path, columns: list[int]) -> list[list[str]]:
    with open(path, encoding="utf-8") as fh:
        lines = list(csv.reader(fh))[1:]
    rows = []
    for line in lines:
        description = shorten([" ".join(part.split()) for part in line[1].split(": ")])
        values = [line[i].strip() for i in columns]
        if not values[0]:
            rows.append([line[0], description, "", "", "", "unknown"])
            continue
        level = round(sum(float(v or 0) for v in values), 3)
        if abs(level * 10 - round(level * 10)) > 1e-9:  # PIIE's 3-decimal ad valorem equivalents
            rows.append([line[0], description, f"{level:g}% (AVE)", "", f"{level:g}", "ave_piie"])
        else:
            rows.append([line[0], description, f"{level:.1f}%", f"{level:.1f}", "", "ad_valorem"])
    return sorted(rows)


def write_gz(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as fh:  # no name, no time
        fh.write(buf.getvalue().encode("utf-8"))
    path.write_bytes(out.getvalue())


def build(raw: Path, out: Path) -> list[Path]:
    """Write every schedule of data/mfn: OUT/us/*.csv.gz and OUT/cn/*.csv.gz."""
    us, cn = out / "us", out / "cn"
    us.mkdir(parents=True, exist_ok=True)
    cn.mkdir(parents=True, exist_ok=True)
    write_gz(us / "hts-2017.csv.gz", database_2017(raw / "usitc-hts" / "tariff_database_2017.txt.gz"))
    built = [us / "hts-2017.csv.gz"]
    for editions, read in ((CSV_EDITIONS, csv_lines), (JSON_EDITIONS, json_lines)):
        for name, source in editions.items():
            write_gz(us / name, edition(read(raw / "usitc-hts" / source)))
            built.append(us / name)
    for name, columns in PIIE_DATES.items():
        write_gz(cn / name, piie(raw / "piie-bown-jung-zhang-2019" / "china_tariff_rates_hs10.csv", columns))
        built.append(cn / name)
    return built


if __name__ == "__main__":
    raw = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_RAW
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "data" / "mfn"
    for path in build(raw, out):
        print(path)
