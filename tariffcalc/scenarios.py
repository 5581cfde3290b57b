"""What-if scenarios: named edits to the record, applied to the loaded Dataset.

A scenario file (``data/scenarios/*.yaml``, a data directory's ``scenarios/`` folder, or any
file) names the instrument or announcement it rests on and lists edits: count a layer's
suspended or threatened steps from a date, end a layer on a date, set a new rate from a date,
add a step or a whole layer. ``apply_scenario`` builds a new Dataset from them; every engine is
then built on that Dataset exactly as on the record, so a scenario is evaluated by the one path
that evaluates the record.

Steps a scenario charges get the status ``scenario``; steps of a layer it ends keep their rate
with the status ``scenario_ended`` (not charged). Every output shows those statuses, so what
differs from the record is marked wherever a layer is listed.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from .errors import DataError, QueryError
from .loader import (
    FieldChecker,
    bundled_data_dir,
    check_rules,
    parse_layer,
    parse_step,
    read_yaml,
)
from .model import (
    COUNTED_STATUSES,
    SCENARIO_ENDED,
    SCENARIO_STATUS,
    STATUSES,
    Dataset,
    Direction,
    Field,
    Layer,
    Step,
)

FOLDER = "scenarios"
EDIT_KINDS = ("count", "end", "set_rate", "add_step", "add_layer")
# Statuses an edit may count: those the record lists without charging them.
COUNTABLE = tuple(s for s in STATUSES if s not in COUNTED_STATUSES)

SCENARIO_FIELDS = {
    "name": Field("id", True, doc="the scenario's name, [a-z0-9-]+ (what --scenario takes)"),
    "description": Field("str", True, doc="what the scenario supposes, in a sentence or two"),
    "rests_on": Field("str", True, doc="the instrument or announcement the scenario rests on"),
    "source": Field("url", True, doc="a source URL for it"),
    "edits": Field("edits", True, doc="the edits to the record, in order (see below); [] for none"),
    "note": Field("str", False),
}

_PROVENANCE = {
    "instrument": Field("str", False, doc="what the edited steps rest on (default: the scenario's rests_on)"),
    "source": Field("url", False, doc="its source URL (default: the scenario's source)"),
    "note": Field("str", False, doc="why, in a sentence: shown with the edit in every output"),
}

EDIT_FIELDS = {
    "count": {
        "count": Field("id", True, doc="layer id: its steps of these statuses are charged from the date"),
        "from": Field("date", True),
        "until": Field("until", False, doc="date, or 'open': the counted rate runs to it (default: the steps' own ends)"),
        "statuses": Field("ids", False, default=COUNTABLE, doc=f"statuses to count (default: {', '.join(COUNTABLE)})"),
        **_PROVENANCE,
    },
    "end": {
        "end": Field("id", True, doc="layer id: not charged on goods entered from the date"),
        "from": Field("date", True),  # not `on`: YAML 1.1 reads a bare `on` key as true
        **_PROVENANCE,
    },
    "set_rate": {
        "set_rate": Field("id", True, doc="layer id: its steps from the date are replaced by one at the rate"),
        "from": Field("date", True),
        "until": Field("date", False, doc="end of the new rate (default: open)"),
        "rate": Field("number", True),
        **_PROVENANCE,
    },
    "add_step": {
        "add_step": Field("id", True, doc="layer id: the step replaces the layer's steps in its dates"),
        "step": Field("mapping", True, doc="a step, with the keys of a layer file's steps"),
        "note": Field("str", False),
    },
    "add_layer": {
        "add_layer": Field("mapping", True, doc="a whole layer, with the keys of a layer file"),
        "note": Field("str", False),
    },
}


@dataclass(frozen=True)
class Edit:
    kind: str
    layer_id: str
    start: date | None = None
    until: date | None | str = None  # None: default; "open": no end
    rate: float | None = None
    statuses: tuple[str, ...] = ()
    instrument: str = ""
    source: str = ""
    note: str | None = None
    step: Step | None = None
    layer: Layer | None = None
    line: int | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    rests_on: str
    source: str
    edits: tuple[Edit, ...]
    note: str | None = None
    path: str = ""
    bundled: bool = False


@dataclass(frozen=True)
class Effect:
    """What one edit did to the record, in words, and for which imposer."""

    edit: Edit
    imposer: str
    changed: bool
    text: str
    start: date | None = None
    end: date | None = None  # None: open


@dataclass
class Applied:
    """A scenario applied: the new Dataset and what each edit did."""

    scenario: Scenario
    dataset: Dataset
    effects: list[Effect]

    def notes_for(self, direction: Direction, day: date) -> list[str]:
        """Effects of edits on the direction's imposer that bear on ``day`` (or explain why not)."""
        notes = []
        for effect in self.effects:
            if effect.imposer != direction.imposer:
                continue
            if effect.changed and not (effect.start <= day and (effect.end is None or day < effect.end)):
                continue
            if not effect.changed and effect.start is not None and day < effect.start:
                continue
            notes.append(f"scenario {self.scenario.name}: {effect.text}")
        return notes

    def summary(self) -> dict:
        """The ``scenario`` object of JSON outputs."""
        s = self.scenario
        return {
            "name": s.name, "description": s.description, "rests_on": s.rests_on, "source": s.source,
            "file": s.path, "compared_with_record": "steps with status 'scenario' are charged only in the "
                                                    "scenario; 'scenario_ended' ones only in the record",
            "edits": [{"edit": e.edit.kind, "layer_id": e.edit.layer_id, "imposer": e.imposer,
                       "changes_record": e.changed, "effect": e.text} for e in self.effects],
        }

    def banner(self, width: int = 80) -> list[str]:
        """Lines naming the scenario above a table, wrapped to ``width`` with no trailing spaces.

        What it supposes, in its own words; what it rests on and each edit's effect are in
        ``tariffcalc scenarios -f json`` and in the notes of the dates they bear on."""
        import textwrap

        s = self.scenario

        def wrap(text: str, indent: str = "") -> list[str]:
            return textwrap.wrap(text, max(width, 40), initial_indent=indent, subsequent_indent=indent,
                                 break_long_words=False, break_on_hyphens=False)

        return [*wrap(f"SCENARIO {s.name}: a what-if, not the record (sources: scenarios -f json)"),
                *wrap(s.description, "  "),
                *wrap("Rows marked 'scenario' are charged only in the scenario; 'scenario ended' only in the record.")]


# -- reading ---------------------------------------------------------------------------------

def _until(check: FieldChecker, raw, line):
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip() == "open":
        return "open"
    return check.date("until", raw, line)


def parse_scenario(path: Path, raw, bundled: bool = False) -> Scenario:
    """Check a scenario file's content (file:line messages, as for layer files)."""
    check = FieldChecker(path, "")
    if not isinstance(raw, dict):
        check.fail(1, "top level must be a mapping with name, description, rests_on, source, edits")
    v = check.fields(raw, SCENARIO_FIELDS, 1)
    if path.stem != v["name"] and bundled:
        check.fail(raw.key_lines["name"], f"name {v['name']!r} differs from the file name {path.stem!r}")
    if not isinstance(v["edits"], list):
        check.fail(raw.key_lines["edits"], "'edits' must be a list (of edits, or [] for none)")
    edits = []
    for number, (item, line) in enumerate(zip(v["edits"], v["edits"].item_lines), 1):
        edits.append(_edit(path, number, item, line, v, raw))
    return Scenario(v["name"], v["description"], v["rests_on"], v["source"], tuple(edits), v["note"],
                    str(path), bundled)


def _edit(path: Path, number: int, item, line: int, top: dict, raw_top) -> Edit:
    check = FieldChecker(path, f"edit {number}")
    if not isinstance(item, dict):
        check.fail(line, f"expected a mapping with one of {', '.join(EDIT_KINDS)}")
    kinds = [k for k in EDIT_KINDS if k in item]
    if len(kinds) != 1:
        check.fail(item.line, f"needs exactly one of {', '.join(EDIT_KINDS)}")
    kind = kinds[0]
    v = check.fields(item, EDIT_FIELDS[kind], line)
    instrument = v.get("instrument") or top["rests_on"]
    source = v.get("source") or top["source"]
    if kind == "count":
        for status in v["statuses"]:
            if status not in COUNTABLE:
                check.fail(item.key_lines.get("statuses", line),
                           f"cannot count status {status!r} (allowed: {', '.join(COUNTABLE)})")
        until = _until(check, v["until"], item.key_lines.get("until"))
        if isinstance(until, date) and until <= v["from"]:
            check.fail(item.key_lines["until"], f"until {until} is not after from {v['from']}")
        return Edit(kind, v["count"], v["from"], until, None, tuple(v["statuses"]), instrument, source,
                    v["note"], line=item.line)
    if kind == "end":
        return Edit(kind, v["end"], v["from"], None, None, (), instrument, source, v["note"], line=item.line)
    if kind == "set_rate":
        if v["until"] and v["until"] <= v["from"]:
            check.fail(item.key_lines["until"], f"until {v['until']} is not after from {v['from']}")
        if not 0 <= v["rate"] <= 1000:
            check.fail(item.key_lines["rate"], f"rate {v['rate']:g} is outside 0..1000")
        return Edit(kind, v["set_rate"], v["from"], v["until"] or "open", v["rate"], (), instrument, source,
                    v["note"], line=item.line)
    if kind == "add_step":
        step = parse_step(path, 1, v["step"], item.key_lines["step"])
        return Edit(kind, v["add_step"], step.start, step.end or "open", step.rate, (), step.instrument,
                    step.source, v["note"], step=step, line=item.line)
    layer = parse_layer(path, v["add_layer"], _list_root(path, v["add_layer"]))
    return Edit(kind, layer.id, None, None, None, (), "", "", v["note"], layer=layer, line=item.line)


def _list_root(path: Path, raw) -> Path:
    """Lists of an added layer resolve against the scenario's folder, else the bundled data."""
    coverage = raw.get("coverage") if isinstance(raw, dict) else None
    sets = []
    if isinstance(coverage, dict):
        sets = [coverage.get("products")] + list(coverage.get("exempt") or [])
    names = [n for s in sets if isinstance(s, dict) for n in (s.get("lists") or [])]
    for root in (path.parent, bundled_data_dir()):
        if all((root / str(n)).is_file() for n in names):
            return root
    return path.parent


def scenario_dirs(data_dir=None) -> list[tuple[Path, bool]]:
    """Folders of scenarios: the overlay's ``scenarios/`` first, then the bundled ones."""
    dirs = []
    if data_dir:
        dirs.append((Path(data_dir) / FOLDER, False))
    dirs.append((bundled_data_dir() / FOLDER, True))
    return dirs


def read_scenario(path, bundled: bool = False) -> Scenario:
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "scenario file not found")
    return parse_scenario(path, read_yaml(path), bundled)


def find_scenario(name_or_file: str, data_dir=None) -> Scenario:
    """A scenario by name (the overlay's, then the bundled ones) or by file path."""
    text = str(name_or_file).strip()
    if text.endswith((".yaml", ".yml")) or "/" in text or Path(text).is_file():
        return read_scenario(text)
    for folder, bundled in scenario_dirs(data_dir):
        for suffix in (".yaml", ".yml"):
            if (folder / f"{text}{suffix}").is_file():
                return read_scenario(folder / f"{text}{suffix}", bundled)
    known = ", ".join(s.name for s in list_scenarios(data_dir)) or "none"
    raise QueryError(f"unknown scenario {text!r} (known: {known}; or give a .yaml file)")


def list_scenarios(data_dir=None) -> list[Scenario]:
    """Every scenario of the overlay and the bundled data (an overlay's replaces a bundled one's name)."""
    found: dict[str, Scenario] = {}
    for folder, bundled in reversed(scenario_dirs(data_dir)):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.y*ml")):
            if path.suffix in (".yaml", ".yml"):
                scenario = read_scenario(path, bundled)
                found[scenario.name] = scenario
    return sorted(found.values(), key=lambda s: (not s.bundled, s.name))


# -- applying --------------------------------------------------------------------------------

def _cut(steps, start: date, end: date | None) -> list[Step]:
    """The steps with the dates [start, end) taken out (end None: to the open end)."""
    kept = []
    for s in steps:
        if s.start < start:
            kept.append(replace(s, end=start if s.end is None or s.end > start else s.end))
        if end is not None and (s.end is None or s.end > end):
            if s.start >= end:
                kept.append(s)
            else:
                kept.append(replace(s, start=end, in_transit=None, announced=None))
    return kept


def _last_step_text(layer: Layer, edit: Edit) -> str:
    """Why an edit found nothing to change: the layer's last step, and the edit's or the step's note."""
    last = layer.steps[-1]
    end = "is open" if last.end is None else f"ended {last.end}"
    why = edit.note or (last.note and " ".join(last.note.split()))
    return f"its last step ({last.status.replace('_', ' ')}, {last.rate:g}%) {end}" + (f" — {why}" if why else "")


def _window(steps) -> tuple[date, date | None]:
    ends = [s.end for s in steps]
    return min(s.start for s in steps), None if None in ends else max(ends)


def _scenario_step(step: Step, edit: Edit, name: str, was: str) -> Step:
    note = f"scenario {name}: {was}" + (f" — {edit.note}" if edit.note else "")
    return replace(step, status=SCENARIO_STATUS, instrument=edit.instrument, source=edit.source, note=note,
                   confidence="confirmed")


def _count(layer: Layer, edit: Edit, name: str):
    start = edit.start
    hit = [s for s in layer.steps if s.status in edit.statuses and (s.end is None or s.end > start)]
    if not hit:
        statuses = " or ".join(edit.statuses)
        return layer.steps, None, (f"{layer.id}: no {statuses} step on or after {start} to count, so nothing "
                                   f"changes; {_last_step_text(layer, edit)}")
    rest = [s for s in layer.steps if s not in hit] + [replace(s, end=start) for s in hit if s.start < start]
    new = [_scenario_step(replace(s, start=max(s.start, start), in_transit=s.in_transit if s.start >= start else None),
                          edit, name, f"{s.status.replace('_', ' ')} in the record ({s.instrument})") for s in hit]
    if edit.until is not None:
        until = None if edit.until == "open" else edit.until
        new = [s for s in new if until is None or s.start < until]
        new = [replace(s, end=until if s.end is None or (until is not None and s.end > until) else s.end)
               for s in new]
        if new:
            last = new[-1]
            later = [s.start for s in rest if s.start >= last.start]
            stop = min(later + ([until] if until else [])) if later or until else None
            new[-1] = replace(last, end=stop)
    if not new:
        return layer.steps, None, f"{layer.id}: nothing to count between {start} and {edit.until}"
    lo, hi = _window(new)
    rates = ", ".join(sorted({f"{s.rate:g}%" for s in new}))
    text = f"{layer.name} ({layer.id}): {rates} charged from {lo} to {hi or 'no end'}" + (
        f" — {edit.note}" if edit.note else "")
    return tuple(rest + new), (lo, hi), text


def _end(layer: Layer, edit: Edit, name: str):
    on = edit.start
    after = [s for s in layer.steps if s.end is None or s.end > on]
    if not after:
        return layer.steps, None, f"{layer.id}: already over before {on} in the record; {_last_step_text(layer, edit)}"
    ended = [replace(s, start=max(s.start, on), status=SCENARIO_ENDED, in_transit=None if s.start < on else s.in_transit,
                     note=f"scenario {name}: ended on {on}; {s.status.replace('_', ' ')} in the record"
                          + (f" — {edit.note}" if edit.note else ""))
             for s in after]
    lo, hi = _window(ended)
    text = f"{layer.name} ({layer.id}): ended on {on}, not charged after" + (f" — {edit.note}" if edit.note else "")
    return tuple(_cut(layer.steps, on, None) + ended), (lo, hi), text


def _set_rate(layer: Layer, edit: Edit, name: str):
    until = None if edit.until == "open" else edit.until
    step = Step(start=edit.start, end=until, rate=edit.rate, instrument=edit.instrument, source=edit.source,
                status=SCENARIO_STATUS, note=f"scenario {name}: new rate" + (f" — {edit.note}" if edit.note else ""),
                line=edit.line)
    text = f"{layer.name} ({layer.id}): {edit.rate:g}% from {edit.start} to {until or 'no end'}" + (
        f" — {edit.note}" if edit.note else "")
    return tuple(_cut(layer.steps, edit.start, until) + [step]), (edit.start, until), text


def _add_step(layer: Layer, edit: Edit, name: str):
    step = edit.step
    if step.status in COUNTED_STATUSES:
        step = replace(step, status=SCENARIO_STATUS)
    step = replace(step, note=f"scenario {name}: added step" + (f" — {step.note}" if step.note else ""))
    text = (f"{layer.name} ({layer.id}): step {step.rate:g}% ({step.status.replace('_', ' ')}) from {step.start} "
            f"to {step.end or 'no end'} added" + (f" — {edit.note}" if edit.note else ""))
    return tuple(_cut(layer.steps, step.start, step.end) + [step]), (step.start, step.end), text


_APPLY = {"count": _count, "end": _end, "set_rate": _set_rate, "add_step": _add_step}


def apply_scenario(dataset: Dataset, scenario: Scenario) -> Applied:
    """A new Dataset with the scenario's edits, in order, and what each did."""
    layers = {layer.id: layer for layer in dataset.layers}
    order = [layer.id for layer in dataset.layers]
    effects = []
    for edit in scenario.edits:
        where = (scenario.path, edit.line)
        if edit.kind == "add_layer":
            if edit.layer_id in layers:
                raise DataError(*where, f"add_layer: layer '{edit.layer_id}' already exists (use add_step or set_rate)")
            steps = tuple(replace(s, status=SCENARIO_STATUS) if s.status in COUNTED_STATUSES else s
                          for s in edit.layer.steps)
            layers[edit.layer_id] = replace(edit.layer, steps=steps)
            order.append(edit.layer_id)
            lo, hi = _window(steps)
            effects.append(Effect(edit, edit.layer.imposer, True, f"{edit.layer.name} ({edit.layer_id}): layer added"
                                  + (f" — {edit.note}" if edit.note else ""), lo, hi))
            continue
        if edit.layer_id not in layers:
            raise DataError(*where, f"{edit.kind}: unknown layer '{edit.layer_id}'")
        layer = layers[edit.layer_id]
        steps, window, text = _APPLY[edit.kind](layer, edit, scenario.name)
        steps = tuple(sorted(steps, key=lambda s: s.start))
        for prev, nxt in itertools.pairwise(steps):
            if prev.end is None or prev.end > nxt.start:  # pragma: no cover - _cut makes room
                raise DataError(*where, f"{edit.kind}: steps of '{layer.id}' would overlap from {nxt.start}")
        layers[edit.layer_id] = replace(layer, steps=steps)
        effects.append(Effect(edit, layer.imposer, window is not None, text,
                              window[0] if window else edit.start, window[1] if window else None))
    new_layers = [layers[i] for i in order]
    try:
        check_rules(new_layers)
    except DataError as exc:
        raise DataError(scenario.path, None, f"after the edits: {exc}") from None
    return Applied(scenario, replace(dataset, layers=tuple(new_layers)), effects)


# -- naming the scenario in outputs ------------------------------------------------------------

def label_json(text: str, applied: Applied) -> str:
    """Every top-level object of a JSON output gets a ``scenario`` key (first)."""
    from .export import to_json

    data = json.loads(text)
    summary = applied.summary()
    if isinstance(data, dict):
        data = {"scenario": summary, **data}
    elif isinstance(data, list):
        data = [{"scenario": summary, **item} if isinstance(item, dict) else item for item in data]
    return to_json(data)


def label_csv(text: str, applied: Applied) -> str:
    """A first column ``scenario`` with the scenario's name on every row (a per-entry output
    names it as it is written: ``ledger_out.duty_csv_chunks``' ``lead``)."""
    if not text:
        return text
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for number, row in enumerate(csv.reader(io.StringIO(text, newline=""))):
        writer.writerow(["scenario" if number == 0 else applied.scenario.name, *row])
    return out.getvalue()


def label_output(text: str, fmt: str, applied: Applied) -> str:
    if fmt == "json":
        return label_json(text, applied)
    if fmt == "csv":
        return label_csv(text, applied)
    return text


# -- engines ---------------------------------------------------------------------------------

def scenario_engine(record, scenario: Scenario):
    """An Engine over the scenario's Dataset that keeps the record's engine beside it."""
    from .engine import Engine

    class ScenarioEngine(Engine):
        """The record's engine on the edited Dataset; rate answers carry the scenario's notes."""

        def __init__(self, applied: Applied, record_engine: Engine):
            super().__init__(applied.dataset)
            self.applied = applied
            self.record = record_engine

        def _direction_rate(self, day, direction, include_threatened):
            answer = super()._direction_rate(day, direction, include_threatened)
            before = self.record._direction_rate(day, direction, include_threatened).headline_rate
            name = self.applied.scenario.name
            if before == answer.headline_rate:
                head = f"scenario {name}: headline {answer.headline_rate:g}%, as in the record"
            else:
                head = (f"scenario {name}: headline {answer.headline_rate:g}% against {before:g}% in the record "
                        f"({answer.headline_rate - before:+g} points)")
            answer.notes = [head, *self.applied.notes_for(direction, day), *answer.notes]
            return answer

    return ScenarioEngine(apply_scenario(record.dataset, scenario), record)


def dashed_scenario(record_data, scenario_data, applied: Applied) -> None:
    """Put the scenario's lines (with threatened steps if they were asked for) beside the record's
    chart as its dashed lines, and name the scenario in the title."""
    name = applied.scenario.name
    record_data.threatened = scenario_data.threatened if scenario_data.threatened is not None else scenario_data.series
    record_data.dashed_label = f"scenario {name}"
    record_data.title = f"{record_data.title}\nrecord (solid) and what-if scenario {name} (dashed)"


# -- listing ---------------------------------------------------------------------------------

def check_scenarios(dataset: Dataset, data_dir=None) -> int:
    """Read every scenario and apply it to ``dataset`` (unknown layers, overlaps: file:line)."""
    found = list_scenarios(data_dir)
    for scenario in found:
        apply_scenario(dataset, scenario)
    return len(found)


def scenario_dicts(found) -> list[dict]:
    return [{"name": s.name, "bundled": s.bundled, "description": s.description, "rests_on": s.rests_on,
             "source": s.source, "edits": len(s.edits), "file": s.path} for s in found]


def scenarios_view(found):
    from rich.table import Table

    table = Table(title="What-if scenarios (--scenario NAME)", title_justify="left")
    for column in ("Name", "Kind", "What it supposes", "Rests on"):
        table.add_column(column, overflow="fold")
    for s in found:
        table.add_row(s.name, "bundled" if s.bundled else "user", s.description, s.rests_on)
    if not found:
        table.add_row("(none)", "", "", "")
    return table
