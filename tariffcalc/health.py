"""The data set's health, for `tariffcalc validate --report`.

What a user needs before trusting an answer: up to when the facts were checked, how many steps are
confirmed, which are not (the known gaps), where each list file comes from, and how the data fared
against the official schedule (the HTS cross-check, read from its shipped summary, data/hts-check.json,
which scripts/hts_crosscheck.py writes from the test extract).
"""
from __future__ import annotations

import json
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .loader import bundled_data_dir, read_list_file
from .model import Dataset

WIDTH = 80


@dataclass(frozen=True)
class ListSource:
    file: str          # relative to the data directory
    rows: int
    source: str        # the first '# source:' line, without the prefix
    layers: tuple[str, ...]


@dataclass(frozen=True)
class Gap:
    layer: str
    start: date
    rate: float
    status: str
    what: str          # a short description of why it is a gap


@dataclass
class Health:
    verified_through: dict[str, date]
    steps: Counter = field(default_factory=Counter)     # (imposer, confidence) -> steps
    statuses: Counter = field(default_factory=Counter)  # status -> steps
    gaps: list[Gap] = field(default_factory=list)
    lists: list[ListSource] = field(default_factory=list)
    hts: dict | None = None


def _source_line(path: Path) -> str:
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            if line.lower().startswith("# source:"):
                return line.split(":", 1)[1].strip()
    return ""


def health(dataset: Dataset) -> Health:
    report = Health(verified_through=dict(dataset.verified_through))
    users: dict[str, list[str]] = {}
    for layer in dataset.layers:
        for step in layer.steps:
            report.steps[(layer.imposer, step.confidence)] += 1
            report.statuses[step.status] += 1
            if step.confidence == "unconfirmed":
                report.gaps.append(Gap(layer.id, step.start, step.rate, step.status, "step unconfirmed"))
        sets = ([layer.coverage.products] if layer.coverage.products else []) + list(layer.coverage.exempt)
        for product_set in sets:
            for name in product_set.lists:
                users.setdefault(name, []).append(layer.id)
        products = layer.coverage.products
        if products is not None and not products.complete:
            report.gaps.append(Gap(layer.id, layer.steps[0].start, layer.steps[0].rate, layer.steps[0].status,
                                   "product list incomplete"))
        if layer.coverage.scope == "group" and products is None:
            report.gaps.append(Gap(layer.id, layer.steps[0].start, layer.steps[0].rate, layer.steps[0].status,
                                   "no product list: cannot be matched to a code"))
    roots = [Path(d) for d in dataset.dirs]
    for name, layer_ids in sorted(users.items()):
        path = Path(name)
        shown = next((str(path.relative_to(r)) for r in roots if path.is_relative_to(r)), name)
        report.lists.append(ListSource(shown, len(read_list_file(path)), _source_line(path),
                                       tuple(dict.fromkeys(layer_ids))))
    summary = bundled_data_dir() / "hts-check.json"
    if summary.is_file():
        report.hts = json.loads(summary.read_text(encoding="utf-8"))
    return report


def _wrap(text: str, indent: str = "  ", width: int = WIDTH) -> list[str]:
    # URLs are never split, so they stay usable; a line longer than 80 columns is then a long URL.
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False) or [indent]


def render(report: Health) -> str:
    """Plain text, 80 columns, answer first."""
    out: list[str] = []
    confirmed = sum(n for (_, c), n in report.steps.items() if c == "confirmed")
    total = sum(report.steps.values())
    hts = report.hts
    head = f"Data health: {confirmed} of {total} steps confirmed, {total - confirmed} unconfirmed"
    if hts:
        unexplained = hts.get("unexplained", 0)
        head += "; HTS cross-check " + ("clean" if not unexplained else f"{unexplained} unexplained")
    out.append(head)
    out.append("")
    out.append("Verified through")
    for imposer, day in sorted(report.verified_through.items()):
        out.append(f"  {imposer}: {day}  (later dates are answered with a warning)")
    out.append("")
    out.append("Steps by confidence")
    for imposer in sorted({i for i, _ in report.steps}):
        c = report.steps[(imposer, "confirmed")]
        u = report.steps[(imposer, "unconfirmed")]
        out.append(f"  {imposer}: {c} confirmed, {u} unconfirmed")
    statuses = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(report.statuses.items()))
    out.append(f"  by status: {statuses}")
    out.append("")
    out.append(f"Known gaps ({len(report.gaps)})")
    for gap in sorted(report.gaps, key=lambda g: (g.layer, g.start)):
        rate = f"{gap.rate:g}%"
        status = "" if gap.status == "in_effect" else f" {gap.status.replace('_', ' ')}"
        out += _wrap(f"{gap.layer} from {gap.start}, {rate}{status}: {gap.what}")
    out.append("")
    out.append(f"List files ({len(report.lists)}), rows and source")
    for item in report.lists:
        rows = f"{item.rows} row" + ("" if item.rows == 1 else "s")
        out += _wrap(f"{item.file}: {rows}, used by {', '.join(item.layers)}")
        out += _wrap(f"source: {item.source}", indent="    ")
    out.append("")
    out.append("HTS cross-check (official schedule, chapter 99)")
    if not hts:
        out.append("  no summary shipped (data/hts-check.json is missing)")
    else:
        ext, steps, lists = hts["extract"], hts["steps"], hts["lists"]
        verdict = "all known" if not hts.get("unexplained") else "not all explained"
        out += _wrap(f"revisions: {ext['revisions']}, {ext['first']} to {ext['last']}; steps after the "
                     "last revision are not checked")
        out += _wrap(f"steps: {steps['steps_checked']} of {steps['steps_citing_headings']} that cite a "
                     f"9903 heading checked against {steps['step_revisions_checked']} step-revision pairs; "
                     f"{steps['mismatches']} mismatches, {verdict}")
        out += _wrap(f"lists: {lists['rows_checked']} rows of {lists['files_with_footnoted_headings']} "
                     f"files checked against the per-line footnotes; {lists['mismatches']} mismatches, "
                     f"{verdict}")
        if hts.get("unexplained"):
            out += _wrap(f"{hts['unexplained']} mismatches are not explained: the summary is stale or "
                         "the data changed")
        kinds = Counter()
        for known in hts.get("known", []):
            kinds[known["kind"]] += known.get("count", 1)
        if kinds:
            out += _wrap("known, by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        out += _wrap("each known mismatch and its reason: tests/data/hts/known_mismatches.csv in the "
                     "source distribution")
    return "\n".join(out) + "\n"
