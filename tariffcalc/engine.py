"""The pandas engine: layers in effect on a date, timelines, and differences between dates.

Everything is computed from one table, ``Engine.steps`` (one row per layer step, half-open
``[start, end)`` intervals), and the rule and origin tables of ``Engine.rules``
(``stacking.RuleTable``). Stacking follows only the data: layers add, except where a rule
removes one of two layers liable on the same goods (``RuleTable.stack``, the one place that
decides it for every consumer).
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .errors import QueryError
from .model import COUNTED_STATUSES, DIRECTIONS, EARLIEST, LATEST, ORIGINS_OF, Dataset, Direction
from .stacking import RuleTable

UPCOMING_DAYS = 90
FREQUENCIES = ("D", "W", "M", "changes")

STEP_COLUMNS = [
    "layer_id", "name", "short_name", "imposer", "origins", "authority", "scope", "coverage",
    "trade_value_usd_bn", "start", "end", "rate", "status", "confidence", "instrument",
    "source", "effective_time", "announced", "note", "layer_note", "step", "path", "line", "content",
]

# Columns of the per-date layer table, in output order.
LAYER_COLUMNS = [
    "layer_id", "name", "short_name", "authority", "scope", "coverage", "rate", "status", "counted",
    "charged", "total_on_covered_goods", "confidence", "instrument", "source", "start",
    "end", "note", "excluded_by",
]


def check_date(day: date) -> date:
    if not EARLIEST <= day <= LATEST:
        raise QueryError(f"date {day} is outside the range tariffcalc covers ({EARLIEST} to {LATEST})")
    return day


def check_period(start: date, end: date) -> None:
    """A period of dates (a series, a timeline, a chart): both dates covered, in order."""
    check_date(start), check_date(end)
    if end < start:
        raise QueryError(f"--to {end} is before --from {start}")


def direction_with_origin(key: str, origin: str | None = None) -> Direction:
    """``us`` with origin CN (default), HK or MO; ``cn`` with origin US."""
    base = DIRECTIONS[key]
    if origin is None or origin == base.origin:
        return base
    if origin not in ORIGINS_OF[key]:
        allowed = ", ".join(ORIGINS_OF[key])
        raise QueryError(f"origin {origin} is not covered for direction {key} (use {allowed})")
    return Direction(key, base.imposer, origin)


def directions_for(choice) -> list[Direction]:
    """``us``, ``cn``, ``both``, a Direction (e.g. the US on goods from Hong Kong) or a list of
    Directions (those the command line worked out once from --direction and --origin)."""
    if isinstance(choice, Direction):
        return [choice]
    if isinstance(choice, (list, tuple)) and all(isinstance(d, Direction) for d in choice):
        return list(choice)
    if choice == "both":
        return list(DIRECTIONS.values())
    try:
        return [DIRECTIONS[choice]]
    except (KeyError, TypeError):
        raise QueryError(f"unknown direction {choice!r} (use {', '.join(DIRECTIONS)} or both)") from None


_ROW_TYPES: dict[tuple, type] = {}


def records(frame: pd.DataFrame, columns=None) -> list:
    """The rows of a frame as named tuples of its columns (or of ``columns``), with the values
    ``itertuples`` gives (Python numbers and bools, Timestamps) and without the index: several
    times faster than ``itertuples`` on the small frames of one answer, read row by row."""
    columns = list(frame.columns if columns is None else columns)
    names = tuple(str(c) for c in columns)
    row_type = _ROW_TYPES.get(names)
    if row_type is None:
        row_type = _ROW_TYPES[names] = namedtuple("Row", names, rename=True)
    return list(map(row_type._make, zip(*(frame[c].tolist() for c in columns))))


@dataclass
class DirectionRate:
    """The answer for one direction on one date."""

    direction: Direction
    date: date
    headline_rate: float
    layers: pd.DataFrame  # LAYER_COLUMNS, one row per layer with a step covering the date
    upcoming: pd.DataFrame  # steps starting within UPCOMING_DAYS after the date
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    footnote: str = ""  # the direction's footnote from dataset.yaml


@dataclass
class RateAnswer:
    date: date
    directions: list[DirectionRate]
    include_threatened: bool = False


@dataclass
class DirectionDiff:
    direction: Direction
    headline_from: float
    headline_to: float
    changes: pd.DataFrame  # layer_id, name, authority, scope, change, old_rate, new_rate, delta, old_status, new_status

    @property
    def headline_delta(self) -> float:
        return self.headline_to - self.headline_from


@dataclass
class DiffAnswer:
    date_from: date
    date_to: date
    directions: list[DirectionDiff]
    labels: tuple[str, str] | None = None  # names of the two sides when they are not two dates


def _steps_frame(dataset: Dataset) -> pd.DataFrame:
    columns: dict[str, list] = {name: [] for name in STEP_COLUMNS}
    for layer in dataset.layers:
        for number, step in enumerate(layer.steps, 1):
            for name, value in (
                ("layer_id", layer.id), ("name", layer.name), ("short_name", layer.short_name or layer.name),
                ("imposer", layer.imposer), ("origins", layer.origins), ("authority", layer.authority),
                ("scope", layer.coverage.scope), ("coverage", layer.coverage.description),
                ("trade_value_usd_bn", layer.coverage.trade_value_usd_bn), ("start", step.start),
                ("end", step.end), ("rate", step.rate), ("status", step.status),
                ("confidence", step.confidence), ("instrument", step.instrument), ("source", step.source),
                ("effective_time", step.effective_time), ("announced", step.announced), ("note", step.note),
                ("layer_note", layer.note), ("step", number), ("path", layer.path), ("line", step.line),
                ("content", step.content or ""),
            ):
                columns[name].append(value)
    # Text as Python objects: pandas 3 stores text in pyarrow arrays when pyarrow is installed, and
    # their row-wise takes make states() on many dates 4x slower (daily timeline: 6.1 s -> 1.5 s).
    n = len(columns["layer_id"])
    frame = pd.DataFrame({name: np.fromiter(values, dtype=object, count=n) for name, values in columns.items()},
                         columns=STEP_COLUMNS, dtype=object)
    for column in ("start", "end", "announced"):
        frame[column] = _datetimes(columns[column])
    for column, dtype in (("rate", float), ("trade_value_usd_bn", float), ("step", np.int64)):
        frame[column] = np.array(columns[column], dtype=dtype)
    return frame


def _datetimes(values: list):
    """``pd.to_datetime`` of dates (and None), as datetime64[s], without its parsing machinery."""
    if any(value is not None for value in values) and all(value is None or type(value) is date for value in values):
        return np.array([np.datetime64("NaT") if value is None else np.datetime64(value) for value in values],
                        dtype="datetime64[s]")
    return pd.to_datetime(pd.Series(values, dtype=object))


class Engine:
    """Answers questions about one loaded data set."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.steps = _steps_frame(dataset)
        self.rules = RuleTable(dataset)  # stacking rules and origins: read by every consumer
        self.names = dict(zip(self.steps["layer_id"], self.steps["name"]))
        self._direction_steps: dict[tuple[str, str], pd.DataFrame] = {}

    # -- selection ---------------------------------------------------------------------------

    def direction_steps(self, direction: Direction) -> pd.DataFrame:
        """The steps of the layers the direction's imposer charges on its origin (a shared frame:
        do not change it in place)."""
        key = (direction.imposer, direction.origin)
        if key not in self._direction_steps:
            self._direction_steps[key] = self.steps[self.steps["layer_id"].isin(self.rules.layers_of(*key))]
        return self._direction_steps[key]

    def states(self, days, direction: Direction, include_threatened: bool = False) -> pd.DataFrame:
        """One row per (date, layer) whose step covers the date, with stacking applied.

        Columns: ``date`` plus the step columns, ``counted`` (charged on goods),
        ``charged`` (rate if counted else 0), ``excluded_by`` and ``total_on_covered_goods``.
        """
        dates = pd.to_datetime(pd.Index(days)).unique().sort_values()
        steps = self.direction_steps(direction)
        stamps = dates.to_numpy("datetime64[ns]")
        starts = steps["start"].to_numpy("datetime64[ns]")
        ends = steps["end"].to_numpy("datetime64[ns]")
        inside = (starts[:, None] <= stamps) & (np.isnat(ends)[:, None] | (stamps < ends[:, None]))
        step_at, date_at = np.nonzero(inside)  # half-open [start, end) for every date at once
        # Worked out on arrays, then the rows taken once in their final order (a frame per step
        # costs more than the arithmetic on a few hundred rows: this runs for every answer).
        column = {name: steps[name].to_numpy()[step_at] for name in ("status", "scope", "authority", "layer_id")}
        on = stamps[date_at]
        wanted = set(COUNTED_STATUSES + (("threatened",) if include_threatened else ()))
        counted = np.array([status in wanted for status in column["status"]], dtype=bool)
        excluded = np.full(len(step_at), "", dtype=object)
        self._replace(on, column["scope"], column["layer_id"], counted, excluded)
        rate = steps["rate"].to_numpy(dtype=float)[step_at]
        totals = self._totals(on, column["scope"], column["layer_id"], rate, counted)
        # sorted by date, scope, authority, layer id; ties keep the order above (a stable sort)
        keys = [np.unique(column[name], return_inverse=True)[1].reshape(-1)
                for name in ("layer_id", "authority", "scope")]
        order = np.lexsort([*keys, on.view("int64")])
        frame = steps.iloc[step_at[order]].reset_index(drop=True)
        frame.insert(0, "date", on[order])
        frame["counted"] = counted[order]
        frame["excluded_by"] = pd.Series(excluded[order], dtype="str")
        frame["charged"] = np.where(counted, rate, 0.0)[order]
        frame["total_on_covered_goods"] = totals[order]
        return frame

    def _replace(self, dates, scope, layer_id, counted, excluded) -> None:
        """Stacking among the all-goods layers of each date: a rule between two of them takes one
        off every good that day (and so off the headline). Sets ``counted`` and ``excluded``."""
        liable = np.flatnonzero(counted & (scope == "all"))
        if not len(liable):
            return
        item = np.unique(dates[liable], return_inverse=True)[1].reshape(-1)
        stacked = self.rules.stack(item, self.rules.position(layer_id[liable]))
        hit = liable[stacked.removed]
        counted[hit] = False
        excluded[hit] = stacked.reasons(self.rules.layer_ids)[stacked.removed]

    def _totals(self, dates, scope, layer_id, rate, counted) -> np.ndarray:
        """For each counted group layer: what goods it covers pay, under the stacking rules, with
        the all-goods layers of the date (before product-level exemptions); NaN for other rows."""
        totals = np.full(len(rate), np.nan)
        groups = np.flatnonzero(counted & (scope == "group"))
        headline = np.flatnonzero(counted & (scope == "all"))
        if not len(groups):
            return totals
        # one item per group row: the group layer itself and every all-goods layer of its date
        # (numpy, not a merge: this runs for every date of every answer)
        by_date = headline[np.argsort(dates[headline], kind="stable")]
        low = np.searchsorted(dates[by_date], dates[groups], side="left")
        counts = np.searchsorted(dates[by_date], dates[groups], side="right") - low
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        others = by_date[np.repeat(low, counts) + offset]
        item = np.concatenate([np.arange(len(groups)), np.repeat(np.arange(len(groups)), counts)])
        row = np.concatenate([groups, others])
        stacked = self.rules.stack(item, self.rules.position(layer_id[row]))
        kept = ~stacked.removed
        paid = pd.Series(rate[row][kept]).groupby(item[kept]).sum()
        totals[groups] = 0.0
        totals[groups[paid.index.to_numpy()]] = paid.to_numpy()
        return totals

    @staticmethod
    def headlines(states: pd.DataFrame, days) -> pd.Series:
        """Sum of counted all-goods layers per date (0 on dates with none)."""
        index = pd.to_datetime(pd.Index(days)).unique().sort_values()
        mask = states["counted"] & (states["scope"] == "all")
        return states[mask].groupby("date")["rate"].sum().reindex(index, fill_value=0.0)

    # -- questions ---------------------------------------------------------------------------

    def rate_on(self, day: date, direction: str = "both", include_threatened: bool = False) -> RateAnswer:
        """Layers in effect on ``day`` (as at the end of that day) and the headline rate."""
        check_date(day)
        answers = [self._direction_rate(day, d, include_threatened) for d in directions_for(direction)]
        return RateAnswer(date=day, directions=answers, include_threatened=include_threatened)

    def _direction_rate(self, day: date, direction: Direction, include_threatened: bool) -> DirectionRate:
        states = self.states([day], direction, include_threatened)
        headline = float(self.headlines(states, [day]).iloc[0])
        layers = states[LAYER_COLUMNS].reset_index(drop=True)
        answer = DirectionRate(direction, day, headline, layers, self.upcoming(day, direction))
        answer.notes = self._notes(states, include_threatened)
        answer.footnote = self.dataset.footnotes.get(direction.imposer, "")
        answer.warnings += self.unverified([direction], day)
        return answer

    def unverified(self, directions, last_day: date) -> list[str]:
        """A warning per imposer whose data is verified only up to a date before ``last_day``."""
        warnings = []
        for imposer in dict.fromkeys(d.imposer for d in directions):
            verified = self.dataset.verified_through.get(imposer)
            if verified and last_day > verified:
                warnings.append(f"{imposer} data verified through {verified}; actions after that date may be missing")
        return warnings

    @staticmethod
    def _notes(states: pd.DataFrame, include_threatened: bool) -> list[str]:
        notes = []
        for row in records(states, ["status", "announced", "name", "rate", "excluded_by", "confidence"]):
            if row.status == "threatened":
                announced = f", announced {row.announced.date()}" if pd.notna(row.announced) else ""
                counted = "counted as asked" if include_threatened else "not counted"
                notes.append(f"threatened, never in effect: {row.name} +{row.rate:g}%{announced} ({counted})")
            if row.excluded_by:
                notes.append(f"{row.name}: {row.excluded_by}")
            if row.confidence == "unconfirmed":
                notes.append(f"unconfirmed: {row.name} at {row.rate:g}% — the record is unclear, see its note")
        return notes

    def upcoming(self, day: date, direction: Direction, days: int = UPCOMING_DAYS) -> pd.DataFrame:
        """Steps of the direction that start after ``day`` and within ``days`` days of it."""
        steps = self.direction_steps(direction)
        after, until = pd.Timestamp(day), pd.Timestamp(day + timedelta(days=days))
        start = steps["start"]
        soon = np.flatnonzero(((start > after) & (start <= until)).to_numpy())
        # by start, then layer id; ties in step order (a stable sort)
        ids = np.unique(steps["layer_id"].to_numpy()[soon], return_inverse=True)[1].reshape(-1)
        soon = soon[np.lexsort([ids, start.to_numpy("datetime64[ns]")[soon].view("int64")])]
        columns = ["start", "layer_id", "name", "rate", "status", "announced", "instrument", "source", "confidence",
                   "short_name"]
        return steps.iloc[soon][columns].reset_index(drop=True)

    def change_dates(self, direction: Direction, start: date, end: date) -> list[date]:
        """``start`` and every date in (start, end] on which a step of the direction begins or ends."""
        check_period(start, end)
        steps = self.direction_steps(direction)
        edges = pd.concat([steps["start"], steps["end"].dropna()])
        inside = edges[(edges > pd.Timestamp(start)) & (edges <= pd.Timestamp(end))]
        return [start] + sorted({ts.date() for ts in inside})

    def timeline_dates(self, start: date, end: date, freq: str, direction: Direction) -> list[date]:
        check_period(start, end)
        if freq == "changes":
            return self.change_dates(direction, start, end)
        if freq == "D":
            index = pd.date_range(start, end, freq="D")
        elif freq == "W":
            index = pd.date_range(start, end, freq="7D")
        elif freq == "M":
            index = pd.date_range(start, end, freq="MS").union(pd.DatetimeIndex([pd.Timestamp(start)]))
        else:
            raise QueryError(f"unknown frequency {freq!r} (use {', '.join(FREQUENCIES)})")
        return [ts.date() for ts in index]

    def timeline(self, start: date, end: date, freq: str = "changes", direction: str = "both",
                 include_threatened: bool = False) -> pd.DataFrame:
        """Tidy table: one row per date x direction x layer, plus one headline row per date."""
        parts = []
        wanted = directions_for(direction)
        # With freq=changes every direction gets a row on every change date of any of them.
        days = sorted({day for d in wanted for day in self.timeline_dates(start, end, freq, d)})
        for d in wanted:
            states = self.states(days, d, include_threatened)
            layer_rows = states.assign(kind="layer")
            heads = self.headlines(states, days)
            head_rows = pd.DataFrame({
                "date": heads.index, "kind": "headline", "layer_id": "", "name": "Headline (all goods)",
                "authority": "", "scope": "all", "status": "", "rate": heads.to_numpy(),
                "counted": True, "charged": heads.to_numpy(), "confidence": "",
            })
            both = pd.concat([head_rows, layer_rows], ignore_index=True)
            both["direction"], both["imposer"], both["origin"] = d.key, d.imposer, d.origin
            parts.append(both)
        frame = pd.concat(parts, ignore_index=True)
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
        order = {"headline": 0, "layer": 1}
        frame["_order"] = frame["kind"].map(order)
        frame = frame.sort_values(["date", "direction", "_order", "scope", "authority", "layer_id"], kind="stable")
        return frame.drop(columns="_order").reset_index(drop=True)

    def diff(self, date_from: date, date_to: date, direction: str = "both",
             include_threatened: bool = False, against: Engine | None = None,
             labels: tuple[str, str] | None = None) -> DiffAnswer:
        """Layers added, removed and changed between two dates, and the change in headline.

        With ``against``, the ``date_to`` side is answered by that engine (a scenario's, to compare
        it with the record on one date)."""
        check_date(date_from), check_date(date_to)
        other = against or self
        results = [direction_diff(d, self.day_states([date_from], d, include_threatened), date_from,
                                  other.day_states([date_to], d, include_threatened), date_to)
                   for d in directions_for(direction)]
        return DiffAnswer(date_from, date_to, results, labels)

    def day_states(self, days, direction: Direction, include_threatened: bool = False) -> DayStates:
        """``states`` of many days of one direction, worked out at once and asked for a day at a
        time (``direction_diff``): a timeline of 69 change dates is one call, not 138."""
        return DayStates(self.states(days, direction, include_threatened), days)


class DayStates:
    """The states of some days (``Engine.states``) and their headlines, by day."""

    def __init__(self, states: pd.DataFrame, days):
        self.headlines = Engine.headlines(states, days)
        self.by_day = {stamp: rows.set_index("layer_id") for stamp, rows in states.groupby("date", sort=False)}
        self.none = states.iloc[0:0].set_index("layer_id")  # a day no layer covers

    def of(self, day: date) -> tuple[float, pd.DataFrame]:
        stamp = pd.Timestamp(day)
        return float(self.headlines.loc[stamp]), self.by_day.get(stamp, self.none)


def direction_diff(direction: Direction, before: DayStates, date_from: date, after: DayStates,
                   date_to: date) -> DirectionDiff:
    """What changed in one direction from ``date_from`` (among ``before``) to ``date_to``."""
    headline_from, old = before.of(date_from)
    headline_to, new = after.of(date_to)
    return DirectionDiff(direction=direction, headline_from=headline_from, headline_to=headline_to,
                         changes=_compare(old, new))


def _compare(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    columns = ["layer_id", "name", "authority", "scope", "change", "old_rate", "new_rate", "delta",
               "old_status", "new_status", "short_name"]
    rows = []
    before, after = before.to_dict("index"), after.to_dict("index")  # a row by layer id, looked up as dicts
    for layer_id in sorted(set(before) | set(after)):
        old, new = before.get(layer_id), after.get(layer_id)
        old_rate = float(old["charged"]) if old is not None else 0.0
        new_rate = float(new["charged"]) if new is not None else 0.0
        old_status = old["status"] if old is not None else ""
        new_status = new["status"] if new is not None else ""
        old_counted = old is not None and bool(old["counted"])
        new_counted = new is not None and bool(new["counted"])
        if old_rate == new_rate and old_status == new_status and old_counted == new_counted:
            continue
        if new_counted and not old_counted:
            change = "added"
        elif old_counted and not new_counted:
            change = "removed"
        elif old_counted and new_counted:
            change = "changed"
        else:
            change = "status"
        meta = new if new is not None else old
        rows.append({
            "layer_id": layer_id, "name": meta["name"], "authority": meta["authority"],
            "scope": meta["scope"], "change": change, "old_rate": old_rate, "new_rate": new_rate,
            "delta": new_rate - old_rate, "old_status": old_status, "new_status": new_status,
            "short_name": meta["short_name"],
        })
    return pd.DataFrame(rows, columns=columns)


def layers_summary(engine: Engine, direction: str = "both", authority: str | None = None) -> pd.DataFrame:
    """One row per layer: who imposes it on whom, under what authority, from when to when."""
    wanted = directions_for(direction)
    steps = pd.concat([engine.direction_steps(d) for d in wanted]).drop_duplicates(["layer_id", "step"])
    if authority:
        steps = steps[steps["authority"].str.lower() == authority.lower()]
    grouped = steps.groupby("layer_id", sort=False)
    frame = grouped.agg(
        name=("name", "first"), short_name=("short_name", "first"), imposer=("imposer", "first"),
        origins=("origins", "first"),
        authority=("authority", "first"), scope=("scope", "first"), first_start=("start", "min"),
        steps=("step", "count"),
    ).reset_index()
    open_ended = grouped["end"].apply(lambda ends: ends.isna().any())
    last_end = grouped["end"].max()
    frame["last_end"] = [
        "open" if open_ended[i] else last_end[i].date().isoformat() for i in frame["layer_id"]
    ]
    frame["first_start"] = frame["first_start"].dt.date.astype(str)
    frame["origins"] = frame["origins"].map(",".join)
    frame = frame.sort_values(["imposer", "authority", "first_start", "layer_id"], ascending=[False, True, True, True])
    return frame.reset_index(drop=True)
