"""Extract the chapter 99 headings and the per-line "See 9903..." footnotes of every HTS revision.

The USITC publishes each HTS revision as a JSON array of lines. The cross-check test
(tests/test_hts_crosscheck.py) needs only two things from each revision: the text and rate of every
chapter 99 heading (9903.xx.xx), and which product lines carry a footnote pointing at a chapter 99
heading (e.g. "See 9903.88.15."). This script reads the revisions and writes them as runs (a value
and the first and last revision that print it), which keeps 44 revisions in a few hundred kB:

    tests/data/hts/revisions.csv        revision, file, published, sha256 of the JSON file read
    tests/data/hts/ch99_headings.csv.gz heading, first, last, general, description
    tests/data/hts/footnotes.csv.gz     code, heading, first, last   (code: digits of the line)
    tests/data/hts/lines.csv.gz         code, first, last             (every 8- and 10-digit line)

Run (the JSON files are the USITC exports kept in arifshehab/tariff-rate-tracker, data/hts_archives/,
commit 9919812fe16ad61d72318dc7b96d387cc6c226da; see tests/data/hts/PROVENANCE.md):

    python scripts/extract_hts_ch99.py DIR_WITH_hts_*.json.gz

Output is deterministic (sorted, gzip mtime 0), so rerunning gives the same bytes.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "hts"

# Publication date of each revision: `effective_date` of the Budget Lab at Yale's
# config/revision_dates.csv (arifshehab/tariff-rate-tracker @ 9919812), which its docs call the HTS
# publication date. 2026 rev 8 is left out of that table (editorial only); its date, 2026-05-22, is
# the one the same table's note for 2026 rev 9 gives.
PUBLISHED = {
    "2025_basic": "2025-01-01", "2025_rev_1": "2025-01-27", "2025_rev_2": "2025-02-01",
    "2025_rev_3": "2025-02-04", "2025_rev_4": "2025-03-04", "2025_rev_5": "2025-03-05",
    "2025_rev_6": "2025-03-12", "2025_rev_7": "2025-04-02", "2025_rev_8": "2025-04-03",
    "2025_rev_9": "2025-04-05", "2025_rev_10": "2025-04-09", "2025_rev_11": "2025-04-11",
    "2025_rev_12": "2025-04-14", "2025_rev_13": "2025-04-22", "2025_rev_14": "2025-05-02",
    "2025_rev_15": "2025-05-14", "2025_rev_16": "2025-06-06", "2025_rev_17": "2025-07-01",
    "2025_rev_18": "2025-08-07", "2025_rev_19": "2025-08-12", "2025_rev_20": "2025-08-20",
    "2025_rev_21": "2025-08-28", "2025_rev_22": "2025-09-03", "2025_rev_23": "2025-09-12",
    "2025_rev_24": "2025-09-19", "2025_rev_25": "2025-09-26", "2025_rev_26": "2025-10-06",
    "2025_rev_27": "2025-10-15", "2025_rev_28": "2025-10-22", "2025_rev_29": "2025-10-31",
    "2025_rev_30": "2025-11-05", "2025_rev_31": "2025-11-12", "2025_rev_32": "2025-11-15",
    "2026_basic": "2026-01-01", "2026_rev_1": "2026-01-16", "2026_rev_2": "2026-01-30",
    "2026_rev_3": "2026-02-12", "2026_rev_4": "2026-02-24", "2026_rev_5": "2026-04-06",
    "2026_rev_6": "2026-04-23", "2026_rev_7": "2026-04-29", "2026_rev_8": "2026-05-22",
    "2026_rev_9": "2026-05-28", "2026_rev_10": "2026-06-08",
}

HEADING = re.compile(r"^9903\.\d\d\.\d\d$")
SEE = re.compile(r"9903\.\d\d\.\d\d")
MARKUP = re.compile(r"<[^>]+>")


def revision_id(path: Path) -> str:
    """hts_2025_rev_10.json.gz -> 2025_rev_10."""
    return path.name.removeprefix("hts_").removesuffix(".json.gz")


def clean(text: str | None) -> str:
    return " ".join(MARKUP.sub(" ", text or "").split())


def read_revision(path: Path) -> tuple[dict[str, tuple[str, str]], set[tuple[str, str]], set[str]]:
    lines = json.loads(gzip.decompress(path.read_bytes()))
    headings: dict[str, tuple[str, str]] = {}
    notes: set[tuple[str, str]] = set()
    codes: set[str] = set()
    for line in lines:
        htsno = (line.get("htsno") or "").strip()
        if HEADING.match(htsno):
            headings[htsno] = (clean(line.get("general")), clean(line.get("description")))
            continue
        code = htsno.replace(".", "")
        if not code.isdigit() or code.startswith("99"):
            continue
        if len(code) in (8, 10):
            codes.add(code)
        for note in line.get("footnotes") or []:
            for heading in SEE.findall(note.get("value") or ""):
                notes.add((code, heading))
    return headings, notes, codes


def runs(per_rev: list[dict], order: list[str]) -> list[tuple]:
    """(key, value, first, last) for each run of consecutive revisions printing the same value."""
    out = []
    keys = sorted({k for d in per_rev for k in d})
    for key in keys:
        start = None
        value = None
        for i, d in enumerate(per_rev + [{}]):
            current = d.get(key)
            if current != value:
                if value is not None:
                    out.append((key, value, order[start], order[i - 1]))
                start, value = i, current
    return out


def write_gz(path: Path, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(gzip.compress(buf.getvalue().encode("utf-8"), mtime=0))


def main(source: Path) -> None:
    files = {revision_id(p): p for p in source.glob("hts_*.json.gz")}
    missing = sorted(set(PUBLISHED) - set(files))
    if missing:
        sys.exit(f"{source}: missing revisions {', '.join(missing)}")
    order = sorted(PUBLISHED, key=lambda r: PUBLISHED[r])
    OUT.mkdir(parents=True, exist_ok=True)
    heading_revs, note_revs, line_revs, meta = [], [], [], []
    for rev in order:
        headings, notes, codes = read_revision(files[rev])
        heading_revs.append(headings)
        note_revs.append({pair: True for pair in notes})
        line_revs.append({code: True for code in codes})
        digest = hashlib.sha256(files[rev].read_bytes()).hexdigest()
        meta.append([rev, files[rev].name, PUBLISHED[rev], digest])
        print(f"{rev}: {len(headings)} headings, {len(notes)} footnotes", file=sys.stderr)
    with open(OUT / "revisions.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["revision", "file", "published", "sha256"])
        writer.writerows(meta)
    write_gz(OUT / "ch99_headings.csv.gz", ["heading", "first", "last", "general", "description"],
             [[k, first, last, v[0], v[1]] for k, v, first, last in runs(heading_revs, order)])
    write_gz(OUT / "footnotes.csv.gz", ["code", "heading", "first", "last"],
             [[k[0], k[1], first, last] for k, _, first, last in runs(note_revs, order)])
    write_gz(OUT / "lines.csv.gz", ["code", "first", "last"],
             [[k, first, last] for k, _, first, last in runs(line_revs, order)])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
