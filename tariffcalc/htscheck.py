"""Cross-check of the data against the official schedule (the HTS chapter 99 text, revision by revision).

Two checks, both against an extract of the USITC HTS revisions (tests/data/hts, written by
scripts/extract_hts_ch99.py):

- steps: every step whose instrument cites a chapter 99 heading (9903.xx.xx) is compared, in each
  HTS revision in force during the step, with that heading's text: the heading must be printed, one
  of the cited headings must carry the step's rate, and where the heading's text gives an
  "on or after" / "through" / "before" date the step must lie inside it.
- lists: every list-file row that names its heading(s) must be footnoted ("See 9903.88.15.") under
  one of them in each revision the row spans, and every line footnoted under a heading that list
  rows name must be on a list.

The result is a list of `Mismatch`es. Known ones (each with its reason) live beside the extract in
known_mismatches.csv; tests/test_hts_crosscheck.py requires the two to agree exactly, and
scripts/hts_crosscheck.py writes the small summary (data/hts-check.json) that
`tariffcalc validate --report` shows, since the extract itself is test data.
"""
from __future__ import annotations

import csv
import gzip
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from .loader import read_list_file
from .model import Dataset, Layer

HEADING = re.compile(r"9903\.(\d\d)\.(\d\d)((?:/\.\d\d)*)")
MONTHS = {m: i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], start=1)}
DATE = r"(January|February|March|April|May|June|July|August|September|October|November|December) (\d{1,2}), (\d{4})"
ON_OR_AFTER = re.compile(r"on or after,? " + DATE)
THROUGH = re.compile(r"through " + DATE)
BEFORE = re.compile(r"(?<!on or )before " + DATE)
PLUS = re.compile(r"(?:\+|plus) ?(?:a duty of )?(\d+(?:\.\d+)?)%")
ONLY = re.compile(r"^(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True, order=True)
class Mismatch:
    """One disagreement between the data and the schedule. `where` is a layer id or a list file."""

    kind: str       # heading-missing, rate, start-before-heading, end-after-heading, row-not-footnoted, footnote-not-listed
    where: str
    start: str      # step start, or the list row's code
    heading: str
    revisions: str  # first..last revision where it holds
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.where, self.start, self.heading)


@dataclass(frozen=True)
class Revision:
    id: str
    published: date
    until: date  # exclusive: the next revision's publication date


@dataclass(frozen=True)
class HeadingText:
    general: str
    description: str

    @property
    def rate(self) -> float | None:
        """The additional ad valorem rate the heading prints, or None when it is not one."""
        text = self.general
        if text.startswith("The duty provided in") or text == "No change":
            found = PLUS.search(text)
            return float(found.group(1)) if found else 0.0
        if text == "Free":
            return 0.0
        found = ONLY.match(text)
        return float(found.group(1)) if found else None

    def dates(self) -> tuple[date | None, date | None]:
        """(first day, first day after) that the heading's own text gives, where it gives them."""
        start = end = None
        if found := ON_OR_AFTER.search(self.description):
            start = _date(found)
        if found := THROUGH.search(self.description):
            end = _date(found) + timedelta(days=1)
        elif found := BEFORE.search(self.description):
            end = _date(found)
        return start, end


def _date(match) -> date:
    return date(int(match.group(3)), MONTHS[match.group(1)], int(match.group(2)))


class Extract:
    """The chapter 99 headings and footnotes of every revision in the extract."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        with open(folder / "revisions.csv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        published = [date.fromisoformat(r["published"]) for r in rows]
        # The last revision is known to be in force only on the day it was published.
        until = published[1:] + [published[-1] + timedelta(days=1)]
        self.revisions = [Revision(r["revision"], p, u) for r, p, u in zip(rows, published, until)]
        self.index = {r.id: i for i, r in enumerate(self.revisions)}
        self.headings: dict[str, list[tuple[int, int, HeadingText]]] = {}
        with gzip.open(folder / "ch99_headings.csv.gz", "rt", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                self.headings.setdefault(r["heading"], []).append(
                    (self.index[r["first"]], self.index[r["last"]], HeadingText(r["general"], r["description"])))
        # footnotes[heading][i] = codes footnoted under heading in revision i
        self.footnotes: dict[str, list[set[str]]] = {}
        with gzip.open(folder / "footnotes.csv.gz", "rt", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                per_rev = self.footnotes.setdefault(r["heading"], [set() for _ in self.revisions])
                for i in range(self.index[r["first"]], self.index[r["last"]] + 1):
                    per_rev[i].add(r["code"])
        # lines[i] = every 8- and 10-digit product line printed in revision i
        self.lines: list[set[str]] = [set() for _ in self.revisions]
        with gzip.open(folder / "lines.csv.gz", "rt", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                for i in range(self.index[r["first"]], self.index[r["last"]] + 1):
                    self.lines[i].add(r["code"])

    @property
    def first_day(self) -> date:
        return self.revisions[0].published

    @property
    def last_day(self) -> date:
        """First day not covered by the extract."""
        return self.revisions[-1].until

    def in_force(self, start: date, end: date | None) -> list[int]:
        """Indexes of the revisions in force on some day of [start, end)."""
        end = min(end or self.last_day, self.last_day)
        if start >= end:
            return []
        first = max(bisect_right([r.published for r in self.revisions], start) - 1, 0)
        return [i for i in range(first, len(self.revisions))
                if self.revisions[i].published < end and self.revisions[i].until > start]

    def text(self, heading: str, rev: int) -> HeadingText | None:
        for first, last, text in self.headings.get(heading, ()):
            if first <= rev <= last:
                return text
        return None

    def span(self, revs: list[int]) -> str:
        return f"{self.revisions[revs[0]].id}..{self.revisions[revs[-1]].id}"


def cited_headings(text: str) -> list[str]:
    """Headings named in an instrument: '9903.91.12/.14' names 9903.91.12 and 9903.91.14."""
    out = []
    for found in HEADING.finditer(text):
        head = f"9903.{found.group(1)}"
        out.append(f"{head}.{found.group(2)}")
        out += [f"{head}.{tail}" for tail in re.findall(r"/\.(\d\d)", found.group(3))]
    return list(dict.fromkeys(out))


def _runs(extract: Extract, items: dict[tuple, list[int]], make) -> list[Mismatch]:
    """One Mismatch per run of consecutive revisions of each item."""
    out = []
    for item, revs in items.items():
        revs = sorted(revs)
        begin = prev = revs[0]
        for rev in revs[1:] + [None]:
            if rev is not None and rev == prev + 1:
                prev = rev
                continue
            out.append(make(item, extract.span([begin, prev])))
            if rev is not None:
                begin = prev = rev
    return out


def check_steps(dataset: Dataset, extract: Extract) -> tuple[list[Mismatch], dict[str, int]]:
    """Mismatches of the steps that cite chapter 99 headings, and counts of what was checked."""
    found: dict[tuple, list[int]] = {}
    checked = steps = 0
    cite = 0
    for layer in dataset.layers:
        for step in layer.steps:
            if step.status == "threatened":
                continue  # never enacted, so never printed in the HTS
            headings = cited_headings(step.instrument)
            cite += bool(headings)
            revs = extract.in_force(step.start, step.end)
            if not headings or not revs:
                continue
            steps += 1
            for rev in revs:
                checked += 1
                texts = {h: extract.text(h, rev) for h in headings}
                present = {h: t for h, t in texts.items() if t is not None}
                for h in headings:
                    if h not in present:
                        found.setdefault(("heading-missing", layer.id, step.start, h, ""), []).append(rev)
                if present and step.rate not in {t.rate for t in present.values()}:
                    shown = ", ".join(f"{h} {t.general!r}" for h, t in present.items())
                    key = ("rate", layer.id, step.start, "+".join(present), f"step {step.rate:g}; {shown}")
                    found.setdefault(key, []).append(rev)
                for h, t in present.items():
                    if t.rate != step.rate or step.status != "in_effect":
                        continue  # a suspended step need not lie inside the heading's dates
                    first, after = t.dates()
                    if first and step.start < first:
                        found.setdefault(("start-before-heading", layer.id, step.start, h,
                                          f"step from {step.start}, heading from {first}"), []).append(rev)
                    if after and (step.end is None or step.end > after):
                        found.setdefault(("end-after-heading", layer.id, step.start, h,
                                          f"step to {step.end or 'open'}, heading to {after}"), []).append(rev)
    mismatches = _runs(extract, found, lambda item, span: Mismatch(
        item[0], item[1], item[2].isoformat(), item[3], span, item[4]))
    stats = {"steps_citing_headings": cite, "steps_checked": steps, "step_revisions_checked": checked}
    return sorted(mismatches), stats


def _list_users(dataset: Dataset) -> dict[str, list[Layer]]:
    users: dict[str, list[Layer]] = {}
    for layer in dataset.layers:
        sets = ([layer.coverage.products] if layer.coverage.products else []) + list(layer.coverage.exempt)
        for product_set in sets:
            for path in product_set.lists:
                users.setdefault(path, []).append(layer)
    return users


def _list_rows(path: str) -> list[tuple[str, date | None, date | None, list[str]]]:
    """(code, start, end, headings) of each row of a list file that has a heading column."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    reader = csv.DictReader(lines)
    if "heading" not in (reader.fieldnames or []):
        return rows
    for row in reader:
        code = row["code"].replace(".", "")
        start = date.fromisoformat(row["start"]) if row.get("start") else None
        end = date.fromisoformat(row["end"]) if row.get("end") else None
        rows.append((code, start, end, cited_headings(row.get("heading") or "")))
    return rows


class _Codes:
    """A set of codes answering "is some code here a prefix of, or prefixed by, this one?" quickly."""

    def __init__(self, codes):
        self.codes = set(codes)
        self.prefixes = {c[:n] for c in self.codes for n in range(2, len(c) + 1, 2)}

    def related(self, code: str) -> bool:
        return code in self.prefixes or any(code[:n] in self.codes for n in range(2, len(code), 2))


def check_lists(dataset: Dataset, extract: Extract) -> tuple[list[Mismatch], dict[str, dict]]:
    """Mismatches between list rows and the HTS footnotes, and a per-file summary."""
    found: dict[tuple, list[int]] = {}
    summary: dict[str, dict] = {}
    root = Path(dataset.dirs[0])
    listed: dict[str, list[list[str]]] = {}  # heading -> per revision, codes listed under it
    cache: dict[tuple[str, int], _Codes] = {}

    def lines(rev: int) -> _Codes:
        if ("", rev) not in cache:
            cache[("", rev)] = _Codes(extract.lines[rev])
        return cache[("", rev)]

    def footnoted(heading: str, rev: int) -> _Codes:
        if (heading, rev) not in cache:
            cache[(heading, rev)] = _Codes(extract.footnotes[heading][rev])
        return cache[(heading, rev)]

    for path, layers in sorted(_list_users(dataset).items()):
        name = str(Path(path).relative_to(root)) if Path(path).is_relative_to(root) else path
        read_list_file(path)  # the loader's own checks first
        rows = _list_rows(path)
        steps = [s for layer in layers for s in layer.steps if s.status != "threatened"]
        windows = [(s.start, s.end) for s in steps]
        footnoted_headings = sorted({h for _, _, _, hs in rows for h in hs if h in extract.footnotes})
        entry = {"rows": len(rows), "headings": footnoted_headings, "checked_rows": 0, "mismatches": 0}
        summary[name] = entry
        if not footnoted_headings:
            continue
        for code, start, end, headings in rows:
            headings = [h for h in headings if h in extract.footnotes]
            if not headings:
                continue
            revs = sorted({rev for w_start, w_end in windows
                           for rev in extract.in_force(max(w_start, start or w_start),
                                                       min(x for x in (w_end, end) if x) if (w_end or end) else None)})
            if revs:
                entry["checked_rows"] += 1
            for rev in revs:
                for h in headings:
                    while len(listed.setdefault(h, [])) < len(extract.revisions):
                        listed[h].append([])
                    listed[h][rev].append(code)
                if any(footnoted(h, rev).related(code) for h in headings):
                    continue
                if not lines(rev).related(code):
                    entry["not_in_schedule"] = entry.get("not_in_schedule", 0) + 1
                    continue  # a code of an older nomenclature: not a line of this revision
                elsewhere = sorted(h for h in extract.footnotes if h not in headings
                                   and footnoted(h, rev).related(code))
                if elsewhere:
                    found.setdefault(("row-footnoted-elsewhere", name, code, "/".join(headings),
                                      "under " + ", ".join(elsewhere)), []).append(rev)
                else:
                    found.setdefault(("row-not-footnoted", name, code, "/".join(headings), ""), []).append(rev)
    for heading, per_rev in sorted(listed.items()):
        for rev, codes in enumerate(per_rev):
            if not codes:
                continue
            rows = _Codes(codes)
            for code in sorted(extract.footnotes[heading][rev]):
                if not rows.related(code):
                    found.setdefault(("footnote-not-listed", "*", code, heading, ""), []).append(rev)
    mismatches = _runs(extract, found, lambda item, span: Mismatch(
        item[0], item[1], item[2], item[3], span, item[4]))
    for m in mismatches:
        if m.where in summary:
            summary[m.where]["mismatches"] += 1
    return sorted(mismatches), summary


GROUPED = {"row-footnoted-elsewhere"}


def tally(mismatches: list[Mismatch]) -> dict[tuple[str, str, str, str], int]:
    """Mismatches keyed as known_mismatches.csv keys them: rows footnoted under another heading are
    grouped per list file and other heading (there are hundreds: lines the 2024 review moved)."""
    out: dict[tuple[str, str, str, str], int] = {}
    for m in mismatches:
        key = (m.kind, m.where, "*", m.detail) if m.kind in GROUPED else m.key
        out[key] = out.get(key, 0) + 1
    return out


def read_known(path: Path) -> dict[tuple[str, str, str, str], tuple[int, str]]:
    """known_mismatches.csv: kind, where, start (step start, code or *), heading (or "under ..."), count, reason."""
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    known = {}
    for n, row in enumerate(rows, start=2):
        if not row["reason"].strip():
            raise ValueError(f"{path}: row {n}: known mismatch without a reason")
        known[(row["kind"], row["where"], row["start"], row["heading"])] = (int(row["count"] or 1), row["reason"])
    return known
