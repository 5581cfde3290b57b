"""Rebuild the code column (and the source note) of the China Section 301 list files, lists 1-4B.

    python scripts/build_s301_lists.py [RAW_DIR]      # prints, per list, how the rebuild compares

Each data/lists/us/s301-list*.csv is the union of two public sources (see its '# provenance' lines):
USTR's lists as published in 2018-19 (github.com/mitsuoxv/us-tariffs-on-china, minus chapters 98/99)
and the Budget Lab at Yale's parse of HTSUS notes 20 and 31 in 2025-26 nomenclature (minus 9802).
For List 3, a Yale-only code is kept only where one of the five USITC JSON editions in the raw copy
(2025 basic, 2025 rev 10 and 32, 2026 basic, 2026 rev 10) footnotes a line at or under it to
9903.88.03 or 9903.88.04; and the two codes the file's '# note' line names are left out by hand.

What this does not rebuild: the description column (written from the HTS hierarchy by a step that
was not kept) and the free-text notes on a few rows; tests/test_builders.py compares the code column
and the source category of the note column ("as published 2018-19 ...", "current ... only").
"""
from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RAW = REPO.parent / "shared" / "data-raw"

LISTS = {  # file: (USTR list as published, Yale lists)
    "s301-list1.csv": ("list1_34b", {"1"}),
    "s301-list2.csv": ("list2_16b", {"2"}),
    "s301-list3.csv": ("list3_200b", {"3", "3_addl"}),
    "s301-list4a.csv": ("list4A_300b_a", {"4A"}),
    "s301-list4b.csv": ("list4B_300b_c", set()),  # Yale's 4B is not used (see the file's note)
}
FOOTNOTE_CHECKED = {"s301-list3.csv": ("9903.88.03", "9903.88.04")}
LEFT_OUT = {"s301-list3.csv": {"84729050", "90314940"}}  # named in the file's '# note' line
EDITIONS = ["hts_2025_basic.json.gz", "hts_2025_rev_10.json.gz", "hts_2025_rev_32.json.gz",
            "hts_2026_basic.json.gz", "hts_2026_rev_10.json.gz"]


def hts_lines(raw: Path) -> tuple[set[str], dict[str, set[str]]]:
    """Every product line of the 2025-26 editions, and the lines footnoted to each 9903 heading."""
    lines: set[str] = set()
    footnoted: dict[str, set[str]] = {}
    for name in EDITIONS:
        for line in json.loads(gzip.decompress((raw / "usitc-hts" / name).read_bytes())):
            code = (line.get("htsno") or "").replace(".", "").strip()
            if not code.isdigit():
                continue
            lines.add(code)
            for note in line.get("footnotes") or []:
                text = note.get("value") or ""
                for heading in {h for h in ("9903.88.03", "9903.88.04") if h in text}:
                    footnoted.setdefault(heading, set()).add(code)
    return lines, footnoted


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def build(raw: Path) -> dict[str, dict[str, str]]:
    """{file: {code: source category}} for each list."""
    published = read_csv(raw / "mitsuoxv-ustr-301-lists-2018-2019" / "ustr_301_lists_hts8_as_published.csv")
    yale = read_csv(raw / "yale-tariff-rate-tracker" / "resources" / "s301_product_lists.csv")
    lines, footnoted = hts_lines(raw)
    current = {code[:8] for code in lines if len(code) >= 8}
    out = {}
    for name, (ustr, yale_lists) in LISTS.items():
        a = {r["hts8"] for r in published if r["list"] == ustr and r["hts8"][:2] not in ("98", "99")}
        b = {r["hts8"] for r in yale if r["list"] in yale_lists and not r["hts8"].startswith("9802")}
        if name in FOOTNOTE_CHECKED:
            marked = set().union(*(footnoted.get(h, set()) for h in FOOTNOTE_CHECKED[name]))
            b = {c for c in b if c in a or any(f.startswith(c) or c.startswith(f) for f in marked)}
        rows = {}
        for code in sorted((a | b) - LEFT_OUT.get(name, set())):
            if code in a and code in b:
                rows[code] = "as published 2018-19 and in current (2025-26) nomenclature"
            elif code in b:
                rows[code] = "current (2025-26) nomenclature only"
            elif code in current:
                rows[code] = "as published 2018-19 only"
            else:
                rows[code] = "as published 2018-19 only (code since renumbered or dropped)"
        out[name] = rows
    return out


def committed(name: str) -> dict[str, str]:
    path = REPO / "data" / "lists" / "us" / name
    lines = [line for line in open(path, encoding="utf-8") if not line.startswith("#")]
    return {r["code"]: r["note"] for r in csv.DictReader(lines)}


if __name__ == "__main__":
    raw = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_RAW
    for name, rows in build(raw).items():
        ours, theirs = set(rows), set(committed(name))
        print(f"{name}: {len(ours)} codes rebuilt, {len(theirs)} committed, "
              f"{len(ours - theirs)} extra, {len(theirs - ours)} missing")
