"""Rebuild the product-list files under data/lists from the public files they were made from.

    python scripts/build_lists.py [RAW_DIR]            # how each rebuild compares with the committed file
    python scripts/build_lists.py [RAW_DIR] --write    # rewrite the rows of the rebuilt files

RAW_DIR is the project's copy of the public files (one folder per source, each with its
PROVENANCE.md), ../shared/data-raw beside the repository by default.

One table, RECIPES, says for every list file how its rows are made: a function of the raw files
(and, for a few successor rows, of other list files), or None with the reason the file cannot be
rebuilt (a list transcribed by hand from an annex that exists only as a PDF or a web page). A
file's comment header (its `# source:`/`# provenance:` lines) is its documentation, written by
hand: a rebuild keeps the committed header and rewrites the rows under it, so the comparison is
of the rows, byte for byte. tests/test_builders.py runs every recipe and checks the hand-curated
files for what can be checked (codes are lines of the schedule, counts match the annex).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import sys
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parent.parent
LISTS = REPO / "data" / "lists"
DEFAULT_RAW = Path(os.environ.get("TARIFFCALC_SHARED") or REPO.parent / "shared") / "data-raw"

Rows = list[dict[str, str]]


# ---------------------------------------------------------------------------------------------
# reading and writing list files


def split(text: str) -> tuple[str, str]:
    """(comment header, CSV body) of a list file's text."""
    lines = text.splitlines(keepends=True)
    n = 0
    while n < len(lines) and lines[n].startswith("#"):
        n += 1
    return "".join(lines[:n]), "".join(lines[n:])


def committed_rows(name: str) -> Rows:
    _, body = split((LISTS / name).read_text(encoding="utf-8"))
    return list(csv.DictReader(io.StringIO(body)))


def render(columns: list[str], rows: Rows, quoted: tuple[str, ...] = ()) -> str:
    """CSV as the files are written: quotes only where needed, except in the `quoted` columns,
    whose non-empty fields are always quoted."""
    out = io.StringIO()
    plain = csv.writer(out, lineterminator="\n")
    plain.writerow(columns)
    for r in rows:
        fields = []
        for column in columns:
            value = r.get(column, "")
            if column in quoted and value:
                fields.append('"' + value.replace('"', '""') + '"')
            else:
                cell = io.StringIO()
                csv.writer(cell, lineterminator="").writerow([value])
                fields.append(cell.getvalue() if value else "")
        out.write(",".join(fields) + "\n")
    return out.getvalue()


def row(code: str, description: str = "", start: str = "", end: str = "", **extra: str) -> dict[str, str]:
    return {"code": code, "start": start, "end": end, "description": description, **extra}


def read_csv(path: Path, encoding: str = "utf-8") -> Rows:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def read_column(path: Path) -> list[str]:
    """The first column of a one-column file (header line dropped for a CSV)."""
    lines = [line.strip().strip('"') for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    return lines[1:] if path.suffix == ".csv" else lines


# ---------------------------------------------------------------------------------------------
# the USITC schedule: descriptions as the list files print them


JSON_EDITIONS = ["hts_2026_rev_10.json.gz", "hts_2026_basic.json.gz", "hts_2025_rev_32.json.gz",
                 "hts_2025_rev_10.json.gz", "hts_2025_basic.json.gz"]  # newest first
CSV_EDITIONS = ["hts_2018_revision_8_1_csv.csv.gz", "hts_2019_revision_7_csv.csv.gz",
                "hts_2020_rev_1_data_csv.csv.gz", "hts_2022_revision_3_csv.csv.gz",
                "hts_2023_revision_10_csv.csv.gz"]  # oldest first: the code as first published


def _chains(items) -> dict[str, list[str]]:
    """{code: descriptions from the heading down to the line} of one edition's indented rows."""
    out: dict[str, list[str]] = {}
    stack: list[tuple[int, str]] = []
    for indent, code, description in items:
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, description))
        if code.isdigit():
            out.setdefault(code, [d for _, d in stack])
    return out


@cache
def _edition(raw: Path, name: str) -> dict[str, list[str]]:
    data = gzip.decompress((raw / "usitc-hts" / name).read_bytes())
    if name.endswith(".json.gz"):
        items = ((int(x.get("indent") or 0), (x.get("htsno") or "").replace(".", "").strip(),
                  (x.get("description") or "").strip()) for x in json.loads(data))
    else:
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
        next(reader)
        items = ((int(r[1] or 0), r[0].replace(".", "").strip(), r[2].strip()) for r in reader if len(r) > 2)
    return _chains(items)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


def _chain_text(chain: list[str]) -> str:
    """'Heading text (60 chars)...: level > level > line', at most 150 characters."""
    parts = [re.sub(r"\s+", " ", part).strip().rstrip(":") for part in chain]
    head, rest = _shorten(parts[0], 60), " > ".join(parts[1:])
    return _shorten(f"{head}: {rest}" if rest else head, 150)


@cache
def _first_under(raw: Path, name: str) -> dict[str, str]:
    """{prefix: the first code of the edition that starts with it}."""
    out: dict[str, str] = {}
    for code in sorted(_edition(raw, name)):
        for n in range(2, len(code)):
            out.setdefault(code[:n], code)
    return out


def _find(raw: Path, name: str, code: str) -> list[str] | None:
    edition = _edition(raw, name)
    if code in edition:
        return edition[code]
    under = _first_under(raw, name).get(code)
    return edition[under] if under else None


def hts_description(raw: Path, code: str) -> str:
    """The line's text in the newest 2025-26 edition that has it, else in the oldest 2018-23
    edition that has it, marked '[pre-2025 nomenclature]'."""
    for name in JSON_EDITIONS:
        chain = _find(raw, name, code)
        if chain:
            return _chain_text(chain)
    for name in CSV_EDITIONS:
        chain = _find(raw, name, code)
        if chain:
            return _chain_text(chain) + " [pre-2025 nomenclature]"
    raise KeyError(f"{code}: in no HTS edition of {raw / 'usitc-hts'}")


@cache
def hts_footnotes(raw: Path) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """Every product line of the five 2025-26 JSON editions, and the lines footnoted to each 9903
    heading in any of them."""
    lines: set[str] = set()
    footnoted: dict[str, set[str]] = defaultdict(set)
    for name in JSON_EDITIONS:
        for item in json.loads(gzip.decompress((raw / "usitc-hts" / name).read_bytes())):
            code = (item.get("htsno") or "").replace(".", "").strip()
            if not code.isdigit():
                continue
            lines.add(code)
            for note in item.get("footnotes") or []:
                for heading in re.findall(r"99\d\d\.\d\d\.\d\d", note.get("value") or ""):
                    footnoted[heading].add(code)
    return frozenset(lines), {h: frozenset(c) for h, c in footnoted.items()}


@cache
def _footnote_prefixes(raw: Path, heading: str) -> frozenset[str]:
    marked = hts_footnotes(raw)[1].get(heading, frozenset())
    return frozenset(code[:n] for code in marked for n in range(1, len(code) + 1))


def footnoted_at_or_under(raw: Path, code: str, heading: str) -> bool:
    """A line at or under `code` (or one `code` is under) is footnoted to `heading`."""
    marked = hts_footnotes(raw)[1].get(heading, frozenset())
    return code in _footnote_prefixes(raw, heading) or any(code[:n] in marked for n in range(1, len(code)))


# ---------------------------------------------------------------------------------------------
# China's lists


PIIE = "piie-bown-jung-zhang-2019"


@cache
def _piie(raw: Path):
    rows = list(csv.reader(open(raw / PIIE / "china_tariff_rates_hs10.csv", encoding="utf-8", newline="")))
    header, rows = rows[0], rows[1:]
    names = {r["hs08"]: r["ProductDescription"] for r in read_csv(raw / PIIE / "china_imports_from_us_2017_hs8.csv")}
    return header, rows, names


def _piie_column(header: list[str], words: str) -> int:
    (index,) = [i for i, h in enumerate(header) if words in h]
    return index


def piie_lines(raw: Path, test: Callable[[Callable[[str], float]], bool]) -> list[str]:
    """HS-8 codes with an HS-10 line for which test(change-in-column) holds; every sub-line of
    each code must agree (the files say so)."""
    header, rows, _ = _piie(raw)
    by8: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        def change(words: str, r=r) -> float:
            return float(r[_piie_column(header, words)] or 0)
        by8[r[0][:8]].append(test(change))
    mixed = [c for c, v in by8.items() if any(v) and not all(v)]
    if mixed:
        raise ValueError(f"HS-8 lines whose HS-10 sub-lines disagree: {mixed[:5]}")
    return sorted(c for c, v in by8.items() if all(v))


def piie_name(raw: Path, code: str) -> str:
    """PIIE's English HS-8 name (sheet 'Imports Value'); for a line missing there, the text of its
    first HS-10 line. Excel's escaped control character (_x001A_, a lost '≤'/'≥') shows as [?]."""
    header, rows, names = _piie(raw)
    text = names.get(code)
    if text is None:
        text = next(r[1] for r in rows if r[0].startswith(code)).replace("\n", " ")
    return text.replace("_x001A_", "[?]")


CN_2018_LISTS = {  # file: (test on PIIE's columns, auto-suspension label)
    "cn/301-retaliation-34bn.csv": (lambda c: c("$34 billion") == 25, "34bn list, 25%"),
    "cn/301-retaliation-16bn.csv": (lambda c: c("$16 billion") == 25, "16bn list, 25%"),
    "cn/301-retaliation-60bn-annex1.csv": (lambda c: c("September 24, 2018") == 10 and c("June 1, 2019") == 15, "60bn annex 1"),
    "cn/301-retaliation-60bn-annex2.csv": (lambda c: c("September 24, 2018") == 10 and c("June 1, 2019") == 10, "60bn annex 2"),
    "cn/301-retaliation-60bn-annex3.csv": (lambda c: c("September 24, 2018") == 5 and c("June 1, 2019") == 5, "60bn annex 3"),
    "cn/301-retaliation-60bn-annex4.csv": (lambda c: c("September 24, 2018") == 5 and c("June 1, 2019") == 0, "60bn annex 4, 5%"),
}
CN_2025_LISTS = ["cn/2025-farm-10.csv", "cn/2025-farm-15.csv", "cn/2025-energy-15.csv"]


def cn_successors(raw: Path, listed: list[str]) -> Rows:
    """2025 codes (from the 2025 list files) that are not PIIE 2019 lines and share their first
    7 digits with exactly one PIIE line, which is on this list."""
    with gzip.open(REPO / "data" / "mfn" / "cn" / "piie-2019-01-01.csv.gz", "rt", encoding="utf-8") as fh:
        piie = {r["code"][:8] for r in csv.DictReader(fh)}
    on_list = set(listed)
    new = sorted({r["code"] for name in CN_2025_LISTS for r in committed_rows(name)} - piie)
    out = []
    for code in new:
        parents = [p for p in piie if p[:7] == code[:7]]
        if len(parents) == 1 and parents[0] in on_list:
            out.append(row(code, f"successor of {parents[0]} in the 2025 nomenclature "
                                 "(derived: shared 7-digit prefix, only PIIE line under it)"))
    return out


def cn_2018_list(name: str, successors: bool = False):
    def build(raw: Path) -> Rows:
        codes = piie_lines(raw, CN_2018_LISTS[name][0])
        rows = [row(c, piie_name(raw, c)) for c in codes]
        return rows + (cn_successors(raw, codes) if successors else [])
    return build


def cn_auto_suspended(raw: Path) -> Rows:
    suspended = set(piie_lines(raw, lambda c: c("Suspension of retaliation") < 0))
    label = {}
    for test, text in CN_2018_LISTS.values():
        for code in suspended & set(piie_lines(raw, test)):
            label[code] = text
    return [row(c, f"[{label[c]} suspended] {piie_name(raw, c)}") for c in sorted(suspended)]


def _number(value: float) -> str:
    return f"{round(value, 3):g}"


def cn_75bn_hs6(points: float):
    """HS-6 codes whose total tariff (Waugh's HS-6 maximum) rose by exactly `points` on 2019-09-01."""
    def build(raw: Path) -> Rows:
        level: dict[tuple[str, str], float] = {}
        for r in read_csv(raw / "waugh-tradewar-tracker-2020" / "china_tariffs_on_us_hs6_2018_2019.csv"):
            if r["tariff"]:
                level[r["hs6"], r["time_of_tariff"]] = float(r["tariff"])
        codes = sorted({code for code, _ in level})
        out = []
        for code in codes:
            before, after = level.get((code, "2019-06-01")), level.get((code, "2019-09-01"))
            if before is not None and after is not None and round(after - before, 6) == points:
                out.append(row(code, f"HS-6 max total tariff {_number(before)}% on 2019-06-01 -> "
                                     f"{_number(after)}% on 2019-09-01"))
        return out
    return build


def cn_2025_energy(raw: Path) -> Rows:
    rows = read_csv(raw / "cn-tariff-commission-2025-no1" / "cn_2025_no1_lines.csv")
    return [row(r["hs8"], r["description_en"]) for r in rows if r["annex"] == "1"]


def xlsx_rows(path: Path) -> list[list[str]]:
    """The first sheet of an .xlsx as rows of strings (the standard library is enough for a
    small workbook: shared strings plus one sheet)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as book:
        strings = []
        if "xl/sharedStrings.xml" in book.namelist():
            for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).findall("m:si", ns):
                strings.append("".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t")))
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    out = []
    for r in sheet.iter(f"{{{ns['m']}}}row"):
        cells = []
        for c in r.findall("m:c", ns):
            v = c.find("m:v", ns)
            text = "" if v is None else v.text or ""
            if c.get("t") == "s":
                text = strings[int(text)]
            elif c.get("t") == "inlineStr":
                text = "".join(t.text or "" for t in c.iter(f"{{{ns['m']}}}t"))
            cells.append(text)
        out.append(cells)
    return out


def cn_s232_retaliation(rate: str):
    def build(raw: Path) -> Rows:
        folder = raw / "mitsuoxv-ustr-301-lists-2018-2019"
        sheet = xlsx_rows(folder / "mofcom_2018-04-01_list_128_items_P020180401856022545193.xlsx")
        (at,) = [i for i, r in enumerate(sheet) if r and r[0] == "序号"]
        header = sheet[at]
        code_col = next(i for i, h in enumerate(header) if "税则号" in h)
        name_col = next(i for i, h in enumerate(header) if "商品名称" in h)
        rate_col = next(i for i, h in enumerate(header) if "税率" in h)
        return sorted((row(r[code_col].strip(), r[name_col].strip()) for r in sheet[at + 1:]
                       if len(r) > rate_col and r[rate_col].strip() == rate), key=lambda r: r["code"])
    return build


# ---------------------------------------------------------------------------------------------
# the US Section 301 lists


USTR_PUBLISHED = "mitsuoxv-ustr-301-lists-2018-2019/ustr_301_lists_hts8_as_published.csv"
YALE = "yale-tariff-rate-tracker"
YALE_FORK = "yale-tariff-rate-tracker/fork-arifshehab"
S301_LISTS = {  # file: (USTR list as published, Yale lists, heading)
    "us/s301-list1.csv": ("list1_34b", {"1"}, "9903.88.01"),
    "us/s301-list2.csv": ("list2_16b", {"2"}, "9903.88.02"),
    "us/s301-list3.csv": ("list3_200b", {"3", "3_addl"}, "9903.88.03"),
    "us/s301-list4a.csv": ("list4A_300b_a", {"4A"}, "9903.88.15"),
    "us/s301-list4b.csv": ("list4B_300b_c", set(), "9903.88.16"),  # Yale's 4B is not used (the file's note says why)
}
# List 3: a Yale-only code is kept only where the schedule footnotes a line at or under it to the
# list's headings; two published codes the schedule puts on another list only are left out (the
# file's '# note' line names them).
S301_FOOTNOTE_CHECKED = {"us/s301-list3.csv": ("9903.88.03", "9903.88.04")}
S301_LEFT_OUT = {"us/s301-list3.csv": {"84729050", "90314940"}}
S301_BOTH_CURRENT = ("also on {other} (the 2025-26 HTS footnotes the line to 9903.88.04 and 9903.88.15, each "
                     "for the goods its definitional note describes; which rate applies depends on the product)")
S301_BOTH_PUBLISHED = ("also on {other} (listed on both as published; the 2025-26 HTS footnotes the line to no "
                       "list heading; not resolved)")


@cache
def s301_codes(raw: Path) -> dict[str, dict[str, str]]:
    """{file: {code: source category}} for lists 1-4B: the union of USTR's lists as published
    (minus chapters 98/99) and Yale's parse of the 2025-26 schedule (minus 9802)."""
    published = read_csv(raw / USTR_PUBLISHED)
    yale = read_csv(raw / YALE / "resources" / "s301_product_lists.csv")
    lines = hts_footnotes(raw)[0]
    current = {code[:8] for code in lines if len(code) >= 8}
    out = {}
    for name, (ustr, yale_lists, _) in S301_LISTS.items():
        a = {r["hts8"] for r in published if r["list"] == ustr and r["hts8"][:2] not in ("98", "99")}
        b = {r["hts8"] for r in yale if r["list"] in yale_lists and not r["hts8"].startswith("9802")}
        if name in S301_FOOTNOTE_CHECKED:
            b = {c for c in b if c in a or any(footnoted_at_or_under(raw, c, h) for h in S301_FOOTNOTE_CHECKED[name])}
        rows = {}
        for code in sorted((a | b) - S301_LEFT_OUT.get(name, set())):
            if code in a and code in b and code in current:
                rows[code] = "as published 2018-19 and in current (2025-26) nomenclature"
            elif code in b and code in current:
                rows[code] = "current (2025-26) nomenclature only"
            elif code in current:
                rows[code] = "as published 2018-19 only"
            else:
                rows[code] = "as published 2018-19 only (code since renumbered or dropped)"
        out[name] = rows
    return out


def s301_list(name: str):
    def build(raw: Path) -> Rows:
        lists = s301_codes(raw)
        heading = S301_LISTS[name][2]
        out = []
        for code, note in lists[name].items():
            for other, codes in lists.items():
                if other != name and code in codes:
                    label = "List " + other.split("list")[1].removesuffix(".csv").upper()
                    text = S301_BOTH_CURRENT if note.startswith("current") else S301_BOTH_PUBLISHED
                    note += "; " + text.format(other=label)
            line_heading = heading
            if name in S301_FOOTNOTE_CHECKED and footnoted_at_or_under(raw, code, "9903.88.04") \
                    and not footnoted_at_or_under(raw, code, "9903.88.03"):
                line_heading = "9903.88.04"
            out.append(row(code, hts_description(raw, code), heading=line_heading, note=note))
        return out
    return build


def yale_s301(raw: Path, fork: bool = False) -> Rows:
    return read_csv(raw / (YALE_FORK if fork else YALE) / "resources" / "s301_product_lists.csv")


def s301_review(ch99: str = "", where: Callable[[str], bool] = lambda code: True, annex: tuple[str, ...] = (),
                heading: str = "", notes: dict[str, str] | None = None, fork: bool = False,
                successors_of: str = "", successor_note: str = "", replace: dict[str, str] | None = None):
    """A 2024 four-year-review group (or another note-31 group): Yale's rows with `ch99` whose
    code passes `where`, plus the statistical numbers the annex names (`annex`), plus the 2026
    lines that split an annex number (`successors_of`: 10-digit lines of HTS 2026 rev 10 under
    its 8 digits that HTS 2025 rev 32 does not have). Descriptions from the schedule."""
    def build(raw: Path) -> Rows:
        codes = {r["hts8"] for r in yale_s301(raw, fork) if ch99 and r["ch99_code"] == ch99 and where(r["hts8"])}
        codes = {(replace or {}).get(c, c) for c in codes} | set(annex)
        extra = {}
        if successors_of:
            new = set(_edition(raw, "hts_2026_rev_10.json.gz")) - set(_edition(raw, "hts_2025_rev_32.json.gz"))
            extra = {c: successor_note for c in new if len(c) == 10 and c.startswith(successors_of[:8])}
        return [row(c, hts_description(raw, c), heading=heading or ch99,
                    note={**(notes or {}), **extra}.get(c, "")) for c in sorted(codes | set(extra))]
    return build


def _chapter(*prefixes: str) -> Callable[[str], bool]:
    return lambda code: code.startswith(prefixes)


S301_REVIEW = {
    "battery-parts": s301_review("9903.91.01", _chapter("85079040")),
    "critical-minerals": s301_review("9903.91.01", _chapter("26", "28", "79", "80", "81", "720260", "720293")),
    "disposable-textile-facemasks": s301_review(annex=("6307909870",), heading="9903.91.07"),
    "ev-batteries": s301_review(annex=("8507600010",), heading="9903.91.01"),
    "evs": s301_review("9903.91.03", _chapter("8702", "8703")),
    "medical-gloves": s301_review("9903.91.08", _chapter("40151210"), heading="9903.91.05 / 9903.91.08"),
    "natural-graphite": s301_review("9903.91.06", _chapter("2504")),
    "non-ev-batteries": s301_review(
        annex=("8507600020",), heading="9903.91.06", successors_of="8507600020",
        notes={"8507600020": "statistical number named in the 2024 annex (2024-25 nomenclature)"},
        successor_note="successor of 8507.60.0020 in the 2026 HTS"),
    "permanent-magnets": s301_review("9903.91.06", _chapter("85051100")),
    "polysilicon-wafers": s301_review("9903.91.05", lambda code: not code.startswith(("8541", "8542"))),
    "respirators-facemasks": s301_review(annex=("6307909842", "6307909844", "6307909850", "6307909875"),
                                         heading="9903.91.01 / 9903.91.07"),
    "semiconductors": s301_review("9903.91.05", _chapter("8541", "8542")),
    "solar-cells": s301_review("9903.91.02"),
    "steel-aluminum": s301_review("9903.91.01", lambda code: code.startswith(("72", "73", "76")) and not code.startswith("7202")),
    "sts-cranes": s301_review("9903.92.10", notes={"84261900": (
        "ex 8426.19.00: only ship-to-shore gantry cranes (9903.92.10); "
        "other cranes of this subheading are not covered (9903.92.80)")}),
    "syringes-needles": s301_review("9903.91.03", _chapter("9018")),
    "tungsten": s301_review("9903.91.11"),
}
S301_MARITIME = {
    "us/s301-maritime-cranes-chassis.csv": lambda raw: (
        s301_review("9903.91.14", fork=True, notes={"84261900": "ex 8426.19.00: only ship-to-shore gantry cranes"})(raw)
        + s301_review("9903.91.12", fork=True, replace={"87163900": "8716390090"}, notes={
            "8716390090": "intermodal chassis within statistical number 8716.39.0090",
            "87169030": "ex 8716.90.30: only subassemblies and parts of intermodal chassis",
            "87169050": "ex 8716.90.50: only subassemblies and parts of intermodal chassis"})(raw)),
}


def s301_exclusions(ch99: str, start: str, end: str, note: str):
    """Section 301 exclusion lines of one heading (the fork's parse of every 2025-26 revision),
    the heading's window, and the lists each line's 8 digits are on."""
    def build(raw: Path) -> Rows:
        lines = sorted({r["hts10"] for r in read_csv(raw / YALE_FORK / "resources" / "s301_exclusion_lines.csv")
                        if r["ch99_code"] == ch99})
        lists = s301_codes(raw)
        out = []
        for code in lines:
            on = "/".join(name.split("-")[1].removesuffix(".csv") for name, codes in lists.items() if code[:8] in codes)
            out.append(row(code, hts_description(raw, code), start, end, heading=ch99, note=f"{note}; on {on}"))
        return out
    return build


# ---------------------------------------------------------------------------------------------
# IEEPA, Section 122 and the Section 232 lists other than the metals


YALE_2026 = "yale-tariff-rate-tracker-2026"
ANNEX_II_REMOVED = {  # HTS revision that dropped a code from U.S. note 2(v)(iii): why, in the file's words
    "rev_17": "removed 2025-08-01 (copper, now Section 232)",
    "rev_22": "removed by EO 14346 (2025-09-08)",
    "rev_25": "removed 2025-10-14 (wood, Section 232 timber proclamation)",
}
ANNEX_II_ADDED = {
    "2025-09-08": "added by EO 14346 (effective 2025-09-08)",
    "2025-11-13": "agriculture, added by the Nov 14 2025 order (effective 2025-11-13)",
}


def _day_after(day: str) -> str:
    from datetime import date, timedelta
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def ieepa_annex_ii(raw: Path) -> Rows:
    """The fork's first/last appearance of each prefix on U.S. note 2(v)(iii); codes first listed
    on 2025-04-05 by date are the electronics memorandum's (ieepa-electronics-2025-04-11.csv)."""
    out = []
    for r in read_csv(raw / YALE_FORK / "resources" / "annex_ii_first_appearance.csv"):
        first, end = r["first_effective_date"], r["end_effective_date"]
        if first == "2025-04-05":
            continue
        if first == "NA":
            text = "Annex II of EO 14257"
            if end != "NA":
                text += "; " + ANNEX_II_REMOVED[r["removed_at"]]
            out.append(row(r["prefix"], text, "2025-04-05", "" if end == "NA" else _day_after(end)))
        else:
            out.append(row(r["prefix"], ANNEX_II_ADDED[first], first))
    return sorted(out, key=lambda r: r["code"])


def s122(condition: str, text: str):
    def build(raw: Path) -> Rows:
        rows = read_csv(raw / YALE_2026 / "resources" / "s122_exempt_products.csv")
        return [row(r["hts8"], text) for r in rows if r["condition"] == condition]
    return build


@cache
def policy_params(raw: Path) -> dict:
    import yaml
    return yaml.safe_load((raw / YALE_2026 / "config" / "policy_params.yaml").read_text(encoding="utf-8"))


def prefixes(raw: Path, *keys: str) -> list[str]:
    return [p for key in keys for p in policy_params(raw)["section_232_headings"][key]["prefixes"]]


def s232_prefixes(text: str, *keys: str):
    def build(raw: Path) -> Rows:
        return [row(p, text) for p in prefixes(raw, *keys)]
    return build


def s232_autos(raw: Path) -> Rows:
    """Yale's passenger-vehicle and light-truck prefixes, plus Waugh's 8703/8704 lines none of
    them covers."""
    ours = prefixes(raw, "autos_passenger", "autos_light_trucks")
    waugh = read_column(raw / "waugh-trade-war-redux-2025" / "tariff-lists" / "auto-tariffs.csv")
    extra = sorted(c for c in waugh if c.startswith(("8703", "8704")) and not c.startswith(tuple(ours)))
    return ([row(p, "passenger vehicle / light truck (Yale policy_params autos_passenger/autos_light_trucks)") for p in ours]
            + [row(c, "vehicle line in Waugh auto-tariffs.csv") for c in extra])


def _not_under_another(codes: list[str]) -> list[str]:
    """Codes in order, without repeats and without a code that another code of the list covers."""
    out = []
    for code in codes:
        if code not in out and not any(code.startswith(c) and code != c for c in codes):
            out.append(code)
    return out


AUTO_PART_GENERIC = {  # note-33(g) provisions whose heading text is not limited to vehicles
    "84254900": "jacks and hoists", "8471": "automatic data processing machines (laptops, servers, storage)",
    "84821010": "ball bearings with integral shafts", "84824000": "needle roller bearings",
    "84825000": "cylindrical roller bearings",
    "84831030": "transmission shafts (other than camshafts and crankshafts for vehicles)",
    **{c: "electric motors" for c in ("850132", "850133", "850134", "850140", "850151", "850152")},
    "850760": "lithium-ion batteries (the vehicle traction batteries are the row 8507600010)",
    "853710": "electric control boards and panels", "853720": "electric control boards and panels",
    "901510": "rangefinders", "902910": "revolution and production counters, odometers, pedometers",
}
AUTO_PART_SPLIT = {"850760": (
    "8507600010", "auto part, U.S. note 33(g): lithium-ion traction batteries for the electric vehicles of 8703")}
# jacks and hoists, ball/needle/roller bearings, electric motors, counters (not tapered roller bearings 8482.20)
MHD_PART_GENERIC = ("84254900", "848210", "84824000", "84825000", "8501", "90291080")


def s232_auto_parts(raw: Path) -> Rows:
    out = []
    for code in _not_under_another(read_column(raw / YALE / "resources" / "s232_auto_parts.txt")):
        if code in AUTO_PART_GENERIC:
            out.append(row(code, f"listed in U.S. note 33(g); generic heading: {AUTO_PART_GENERIC[code]}", condition="auto-part"))
        else:
            out.append(row(code, "auto part, U.S. note 33(g)", condition=""))
        if code in AUTO_PART_SPLIT:
            split_code, text = AUTO_PART_SPLIT[code]
            out.append(row(split_code, text, condition=""))
    return out


def s232_trucks(raw: Path) -> Rows:
    vehicles = prefixes(raw, "mhd_vehicles")
    parts = read_column(raw / YALE / "resources" / "s232_mhd_parts.txt")
    kept = _not_under_another(vehicles + parts)
    vehicles = [c for c in vehicles if c in kept]
    parts = [c for c in parts if c in kept and c not in vehicles]
    return ([row(c, "medium/heavy-duty vehicle (Yale policy_params mhd_vehicles)", condition="") for c in vehicles]
            + [row(c, "MHD truck part, U.S. note 38", condition="mhdv-part" if c.startswith(MHD_PART_GENERIC) else "")
               for c in parts])


def s232_pharma(raw: Path) -> Rows:
    return [row(c, "patented pharmaceutical / ingredient line, note 40(c)")
            for c in read_column(raw / YALE_FORK / "resources" / "s232_pharma_products.csv")]


def s232_semis(raw: Path) -> Rows:
    return [row(r["hts10"], r["description"]) for r in read_csv(raw / YALE / "resources" / "s232_semi_products.csv")]


# ---------------------------------------------------------------------------------------------
# the Section 232 metals: the pre-2026 lists and the 2026 annexes


WAUGH_LISTS = "waugh-trade-war-redux-2025/tariff-lists"
METAL_END = "2026-04-06"  # the April 2026 restructuring (Annex I-A onward) replaced the earlier lists
METAL_CHAPTER_ROWS = {  # (metal, kind, effective date) in the fork's note 16/19 parse: (start, description)
    ("steel", "mill", ""): ("", "steel mill article, note 16(b) (Procl. 9705)"),
    ("steel", "derivative", ""): ("2020-02-08", "steel derivative, Procl. 9980 (nails, tacks, staples)"),
    ("steel", "derivative", "2025-03-12"): ("2025-03-12", "steel derivative, Procl. 10896 Annex I, note 16(m)"),
    ("steel", "derivative", "2025-08-18"): ("2025-08-18", "steel derivative, Commerce inclusions (FR 2025-15819)"),
    ("aluminum", "mill", ""): ("", "aluminum article, note 19(b) (Procl. 9704)"),
    ("aluminum", "derivative", ""): ("2020-02-08", "aluminum derivative, Procl. 9980 (stranded wire, cables)"),
    ("aluminum", "derivative", "2025-03-12"): ("2025-03-12", "aluminum derivative, Procl. 10895 Annex I, note 19(j)"),
    ("aluminum", "derivative", "2025-04-03"): ("2025-04-03", ("aluminum derivative added in HTS ch. 99 revision 6 "
                                                              "(date as given by the source file; unconfirmed)")),
    ("aluminum", "derivative", "2025-08-18"): ("2025-08-18", "aluminum derivative, Commerce inclusions (FR 2025-15819)"),
}
DERIVATIVE_ROWS = {  # (heading, effective date) in Yale's derivative list: (start, description)
    ("9903.81.91", "2025-08-18"): ("2025-08-18", "steel derivative outside ch. 73, 9903.81.91, Commerce inclusions"),
    ("9903.85.04", ""): ("2020-02-08", "aluminum derivative, Procl. 9980, 9903.85.04"),
    ("9903.85.07", ""): ("2025-03-12", "aluminum derivative, 9903.85.07, Procl. 10895 Annex I"),
    ("9903.85.08", ""): ("2025-03-12", "aluminum derivative, 9903.85.08, Procl. 10895 Annex I"),
    ("9903.85.08", "2025-08-18"): ("2025-08-18", "aluminum derivative, 9903.85.08, Commerce inclusions"),
}
# Annex I-A codes the committed files leave out: the fork types 7308.20.0035 (a chapter-73 line)
# aluminum and no metal file lists it (see docs/rebuilding-data.md).
ANNEX_IA_LEFT_OUT = {"7308200035"}


@cache
def annex_products(raw: Path) -> tuple[dict[str, str], ...]:
    return tuple(read_csv(raw / YALE_FORK / "resources" / "s232_annex_products.csv"))


def annex_ia(raw: Path, metal: str) -> Rows:
    """Waugh's transcription of Annex I-A, in its order, for the codes the fork types `metal`."""
    typed = {r["hts_prefix"]: r["metal_type"] for r in annex_products(raw) if r["annex"] == "1a"}
    return [row(c, "Annex I-A (Apr 2 2026 proclamation)", "2026-04-06")
            for c in read_column(raw / WAUGH_LISTS / "metals-annex-IA.csv")
            if typed.get(c) == metal and c not in ANNEX_IA_LEFT_OUT]


def s232_metal(metal: str, with_chapter: bool = True):
    """Rows ending 2026-04-06 (the fork's note 16/19 parse, then Yale's derivative list without the
    codes already listed, merged by code where a code repeats) and then the Annex I-A rows."""
    def build(raw: Path) -> Rows:
        chapter = [r for r in read_csv(raw / YALE_FORK / "resources" / "s232_metal_chapter_products.csv")
                   if r["metal_type"] == metal]
        derived = [r for r in read_csv(raw / YALE / "resources" / "s232_derivative_products.csv")
                   if r["derivative_type"] == metal]
        covering = [r["hts_prefix"] for r in derived]
        out: dict[str, dict[str, str]] = {}
        for r in chapter:
            code = r["hts_prefix"]
            if r["kind"] == "derivative" and any(code.startswith(c) and code != c for c in covering):
                continue  # a derivative-list row covers it
            start, text = METAL_CHAPTER_ROWS[metal, r["kind"], r["effective_date"]]
            out.setdefault(code, row(code, text, start, METAL_END))
        for r in derived:
            code = r["hts_prefix"]
            start, text = DERIVATIVE_ROWS[r["ch99_code"], r["effective_date"]]
            if code in out:
                out[code]["start"] = min(out[code]["start"], start)
            else:
                out[code] = row(code, text, start, METAL_END)
        return list(out.values()) + annex_ia(raw, metal)
    return build


def s232_copper(raw: Path) -> Rows:
    return ([row(r["hts10"], "copper article, 9903.78.01, note 36(b)", "2025-08-01", METAL_END)
             for r in read_csv(raw / YALE / "resources" / "s232_copper_products.csv")] + annex_ia(raw, "copper"))


JUNE_2026 = "2026-06-08"  # Proclamation 11032 (Annex I-C, additions to Annex III, moves)


def _june(raw: Path, source: str, annex: str | None = None) -> list[str]:
    return [r["hts_prefix"] for r in annex_products(raw)
            if r["source"] == f"proclamation_11032_{source}" and (annex is None or r["annex"] == annex)]


def annex_ib(raw: Path) -> Rows:
    """Waugh's Annex I-B (a code under another listed code dropped); a code the June proclamation
    puts in Annex I-C, Annex III or Annex II ends on 2026-06-08; its Annex IV additions start then."""
    leaving = set(_june(raw, "annex_1c")) | set(_june(raw, "annex_iii")) | set(_june(raw, "annex_iv", "2"))
    april = _not_under_another(read_column(raw / WAUGH_LISTS / "metals-annex-IB.csv"))
    return ([row(c, "Annex I-B (Apr 2 2026 proclamation)", "2026-04-06", JUNE_2026 if c in leaving else "")
             for c in april]
            + [row(c, "moved to Annex I-B by the Jun 1 2026 proclamation (proclamation_11032_annex_iv)", JUNE_2026)
               for c in _not_under_another(_june(raw, "annex_iv", "1b"))])


def annex_ic(raw: Path) -> Rows:
    return [row(c, "Annex I-C (Jun 1 2026 proclamation)", JUNE_2026) for c in _june(raw, "annex_1c")]


def annex_iii(raw: Path) -> Rows:
    """Waugh's Annex III (a code under another listed code dropped), then the June additions."""
    april = _not_under_another(read_column(raw / WAUGH_LISTS / "metals-annex-III-temporary.csv"))
    return ([row(c, "Annex III (Apr 2 2026 proclamation)", "2026-04-06") for c in april]
            + [row(c, "added to Annex III by the Jun 1 2026 proclamation (proclamation_11032_annex_iii)", JUNE_2026)
               for c in _not_under_another(_june(raw, "annex_iii"))])


# ---------------------------------------------------------------------------------------------
# sources outside the raw copy: upstream files kept unmodified in tests/data/list-sources


LIST_SOURCES = REPO / "tests" / "data" / "list-sources"  # see its PROVENANCE.md


def s232_polysilicon(raw: Path) -> Rows:
    return [row(r["hts10"], r["component"]) for r in read_csv(LIST_SOURCES / "s232_polysilicon_adval_products.csv")]


def s301_forced_labor_annex_a(raw: Path) -> Rows:
    return [{"code": r["hts8"], "description": "forced-labor Section 301 Annex A (proposal)"}
            for r in read_csv(LIST_SOURCES / "s301fl_exempt_products.csv")]


# ---------------------------------------------------------------------------------------------
# hand-curated files: no machine-readable source to rebuild them from


def farm_codes(table: str):
    """The code column of a 2025 farm list, from Waugh's CSV transcription of the annex (which
    drops leading zeros); only where the transcription is complete (the 15% annex)."""
    def build(raw: Path) -> Rows:
        with open(raw / WAUGH_LISTS / table, encoding="utf-8-sig", newline="") as fh:
            return [{"code": r[1].strip().zfill(8)} for r in csv.reader(fh) if r]
    return build


CURATED = {
    "cn/2025-farm-10.csv": (
        "transcribed from the annex PDF of 税委会公告2025年第2号 (附件2 加征10%关税商品清单, 711 items), "
        "which is not in the raw copy; the only machine-readable copy (Waugh's CSV) lacks 20 items and "
        "has code slips. The test checks the count against the annex and pins the differences from the CSV"),
    "cn/2025-farm-15.csv": (
        "transcribed from the annex PDF of 税委会公告2025年第2号 (附件1 加征15%关税商品清单, 29 items), not "
        "in the raw copy. The codes are rebuilt from Waugh's CSV transcription and compared; the Chinese "
        "names (商品名称) exist only in the PDF"),
    "us/ieepa-electronics-2025-04-11.csv": (
        "the 20 headings and subheadings listed in the memorandum of 2025-04-11 (CBP CSMS #64724565), a "
        "web bulletin. The test checks that every code of Waugh's 109-line electronics list falls under "
        "one of them, that each covers at least one, and that the tracker's 2025-04-05 prefixes are among them"),
    "us/s201-solar.csv": (
        "the HTS codes named in Proclamation 9693 (solar cells and modules) as given in the layer "
        "description; no line-level list exists. The test checks each code is a line of a US schedule "
        "in force during the safeguard and that every such schedule has a listed line"),
    "us/s201-washers.csv": (
        "the HTS codes named in Proclamation 9694 (large residential washers and covered parts) as given "
        "in the layer description; no line-level list exists. The test checks each code is a line of "
        "every US schedule in force during the safeguard"),
}


# ---------------------------------------------------------------------------------------------
# recipes


@dataclass(frozen=True)
class Recipe:
    """How one list file's rows are made: `build(raw)` returns them, or `build` is None and
    `curated` says why the file cannot be rebuilt (and what the test checks instead)."""
    build: Callable[[Path], Rows] | None
    columns: tuple[str, ...] = ("code", "start", "end", "description")
    curated: str = ""
    needs: tuple[str, ...] = field(default=())  # other list files the rows are derived from
    quoted: tuple[str, ...] = ()  # columns the committed file quotes even where no comma asks for it
    uses_raw: bool = True  # False: built from tests/data/list-sources only, so it runs anywhere


RECIPES: dict[str, Recipe] = {
    "cn/301-retaliation-34bn.csv": Recipe(cn_2018_list("cn/301-retaliation-34bn.csv", successors=True),
                                          needs=tuple(CN_2025_LISTS)),
    "cn/301-retaliation-16bn.csv": Recipe(cn_2018_list("cn/301-retaliation-16bn.csv")),
    "cn/301-retaliation-60bn-annex1.csv": Recipe(cn_2018_list("cn/301-retaliation-60bn-annex1.csv", successors=True),
                                                 needs=tuple(CN_2025_LISTS)),
    "cn/301-retaliation-60bn-annex2.csv": Recipe(cn_2018_list("cn/301-retaliation-60bn-annex2.csv")),
    "cn/301-retaliation-60bn-annex3.csv": Recipe(cn_2018_list("cn/301-retaliation-60bn-annex3.csv")),
    "cn/301-retaliation-60bn-annex4.csv": Recipe(cn_2018_list("cn/301-retaliation-60bn-annex4.csv")),
    "cn/auto-retaliation-suspended.csv": Recipe(cn_auto_suspended),
    "cn/301-retaliation-75bn-annex1-10pct-hs6.csv": Recipe(cn_75bn_hs6(10)),
    "cn/301-retaliation-75bn-annex1-5pct-hs6.csv": Recipe(cn_75bn_hs6(5)),
    "cn/2025-energy-15.csv": Recipe(cn_2025_energy),
    "cn/s232-retaliation-15.csv": Recipe(cn_s232_retaliation("15")),
    "cn/s232-retaliation-25.csv": Recipe(cn_s232_retaliation("25")),
}
S301_COLUMNS = ("code", "start", "end", "heading", "description", "note")
CONDITION_COLUMNS = ("code", "start", "end", "description", "condition")
RECIPES.update({
    "us/ieepa-annex-ii.csv": Recipe(ieepa_annex_ii),
    "us/s122-annex-ii.csv": Recipe(s122("none", "Section 122 Annex II exemption")),
    "us/s122-civil-aircraft.csv": Recipe(s122("gn6_civil_aircraft", "civil aircraft / part (GN6 only)")),
    "us/s232-autos.csv": Recipe(s232_autos),
    "us/s232-buses.csv": Recipe(s232_prefixes("buses (heading 8702)", "buses")),
    "us/s232-kitchen-cabinets-vanities.csv": Recipe(s232_prefixes("wooden kitchen cabinet / vanity / part", "kitchen_cabinets")),
    "us/s232-timber-lumber.csv": Recipe(s232_prefixes("softwood timber/lumber", "softwood")),
    "us/s232-upholstered-furniture.csv": Recipe(s232_prefixes("upholstered seat with wooden frame", "wood_furniture")),
    "us/s232-auto-parts.csv": Recipe(s232_auto_parts, CONDITION_COLUMNS, quoted=("description",)),
    "us/s232-trucks.csv": Recipe(s232_trucks, CONDITION_COLUMNS),
    "us/s232-pharmaceuticals.csv": Recipe(s232_pharma),
    "us/s232-semiconductors.csv": Recipe(s232_semis),
    "us/s232-steel.csv": Recipe(s232_metal("steel")),
    "us/s232-aluminum.csv": Recipe(s232_metal("aluminum")),
    "us/s232-copper.csv": Recipe(s232_copper),
    "us/s232-metals-2026-annex-ib.csv": Recipe(annex_ib),
    "us/s232-metals-2026-annex-ic.csv": Recipe(annex_ic),
    "us/s232-metals-2026-annex-iii.csv": Recipe(annex_iii),
    "us/s232-polysilicon.csv": Recipe(s232_polysilicon, uses_raw=False),
    "us/s301-forced-labor-annex-a.csv": Recipe(s301_forced_labor_annex_a, ("code", "description"), uses_raw=False),
})
RECIPES.update({name: Recipe(None, curated=why) for name, why in CURATED.items()})
# codes only: rebuilt and compared, the other columns are from the PDF
CODES_ONLY = {"cn/2025-farm-15.csv": farm_codes("china-15-percent-030425.csv")}
RECIPES.update({name: Recipe(s301_list(name), S301_COLUMNS) for name in S301_LISTS})
RECIPES.update({f"us/s301-review-{group}.csv": Recipe(build, S301_COLUMNS) for group, build in S301_REVIEW.items()})
RECIPES.update({name: Recipe(build, S301_COLUMNS) for name, build in S301_MARITIME.items()})
RECIPES.update({
    "us/s301-exclusions-9903-88-69.csv": Recipe(s301_exclusions(
        "9903.88.69", "2024-06-15", "2026-11-10",
        "only the products described in U.S. note 20(vvv) under this number"), S301_COLUMNS),
    "us/s301-exclusions-9903-88-70.csv": Recipe(s301_exclusions(
        "9903.88.70", "2024-01-01", "2026-11-10",
        "only the products described in U.S. note 20(www) under this number"), S301_COLUMNS),
})


def rebuild(name: str, raw: Path) -> str:
    """The file's text as rebuilt: the committed header, then the rows the recipe makes."""
    recipe = RECIPES[name]
    header, _ = split((LISTS / name).read_text(encoding="utf-8"))
    return header + render(list(recipe.columns), recipe.build(raw), recipe.quoted)


def main(argv: list[str]) -> int:
    write = "--write" in argv
    args = [a for a in argv if a != "--write"]
    raw = Path(args[0]) if args else DEFAULT_RAW
    committed = sorted(str(p.relative_to(LISTS)) for p in LISTS.glob("*/*.csv"))
    status = 0
    for name in committed:
        recipe = RECIPES.get(name)
        if recipe is None:
            print(f"{name}: NO RECIPE")
            status = 1
            continue
        if recipe.build is None:
            print(f"{name}: hand-curated ({recipe.curated.split('.')[0]})")
            if name in CODES_ONLY:
                same = sorted(r["code"] for r in CODES_ONLY[name](raw)) == sorted(r["code"] for r in committed_rows(name))
                print(f"{name}: code column rebuilt, {'identical' if same else 'DIFFERS'}")
                status = status if same else 1
            continue
        text = rebuild(name, raw)
        old = (LISTS / name).read_text(encoding="utf-8")
        if text == old:
            print(f"{name}: rebuilt, identical")
        else:
            ours, theirs = split(text)[1].splitlines(), split(old)[1].splitlines()
            differ = sum(1 for a, b in zip(ours, theirs) if a != b) + abs(len(ours) - len(theirs))
            print(f"{name}: rebuilt, {differ} of {len(theirs)} lines differ")
            status = 1
            if write:
                (LISTS / name).write_text(text, encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
