"""Trade-weighted average tariffs: the statutory total (MFN + every applicable layer) of each
product, weighted by import value, per direction and date.

Weights ship in ``data/weights`` (``weights.yaml`` lists them). A weight set is either detailed
(a value per product code) or a detailed set rescaled to another year's HS-2 chapter totals.
Products whose MFN rate is unknown on a date (a specific duty without an ad-valorem equivalent, or
a code that stands for no line of that date's schedule) are left out of the total average and
their share of trade is reported; a code that stands for lines of the schedule counts for the
additional-duty average and the coverage (a code standing for several lines: their mean), one that
stands for none does not (it has no answer, as ``rate --hts`` refuses it).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import file_table
from .conventions import (
    Convention,
    absent_mask,
    combined_weights,
    extra_change_dates,
    value_parts,
)
from .errors import DataError, QueryError
from .loader import read_index, tables_dir
from .model import AVERAGE_COLUMNS, Direction


@dataclass(frozen=True)
class WeightSet:
    id: str
    direction: str
    year: int
    label: str
    detail: str  # absolute path
    scale_to: str | None = None  # absolute path of HS-2 totals by year

    @property
    def name(self) -> str:
        return f"{self.direction}-{self.year}"


class WeightSets:
    """The weight sets of a data directory (``data/weights/weights.yaml``)."""

    def __init__(self, data_dir):
        self.root = Path(data_dir) / "weights"
        self.sets = self._read()

    @classmethod
    def for_dataset(cls, dataset) -> WeightSets:
        """The weights of the last data directory that has them (an overlay may bring its own)."""
        return cls(tables_dir(dataset, "weights", "weights.yaml").parent)

    def _read(self) -> list[WeightSet]:
        path = self.root / "weights.yaml"
        sets = []
        for item, line in read_index(path, "weight set", {"id", "direction", "detail", "label"}):
            detail = self.root / item["detail"]
            scale = self.root / item["scale_to"] if item.get("scale_to") else None
            for file in (detail, scale):
                if file is not None and not file.is_file():
                    raise DataError(path, line, f"file '{file.name}' not found")
            years = item.get("years") or [item.get("year")]
            for year in years:
                if not isinstance(year, int):
                    raise DataError(path, line, f"year {year!r} is not a year")
                sets.append(WeightSet(item["id"], item["direction"], year, item["label"].format(year=year),
                                      str(detail), None if scale is None else str(scale)))
        return sets

    def years(self, direction: str) -> list[int]:
        return sorted({s.year for s in self.sets if s.direction == direction})

    def choose(self, direction: str, year: int | None = None) -> WeightSet:
        """The set for a year; without a year, the direction's detailed (unscaled) set."""
        candidates = [s for s in self.sets if s.direction == direction]
        if not candidates:
            raise QueryError(f"no trade weights for direction {direction} in the data")
        if year is None:
            unscaled = [s for s in candidates if s.scale_to is None]
            return (unscaled or candidates)[-1]
        exact = [s for s in candidates if s.year == year]
        if not exact:
            raise QueryError(f"no {direction} weights for {year} (available: "
                             f"{', '.join(map(str, self.years(direction)))})")
        return next((s for s in exact if s.scale_to is None), exact[0])

    def get(self, set_id: str, year: int) -> WeightSet:
        """The set with this id (``weights.yaml``) for a year."""
        for s in self.sets:
            if s.id == set_id and s.year == year:
                return s
        raise QueryError(f"no weight set {set_id!r} for {year} in the data")

    def for_convention(self, direction: str, convention: Convention | None, year: int | None = None) -> WeightSet:
        """The set a convention averages a direction with, unless a year is asked for."""
        named = convention.weights_for(direction) if convention is not None and year is None else None
        return self.get(named.set, named.year) if named else self.choose(direction, year)

    def frame(self, weights: WeightSet) -> pd.DataFrame:
        return _weights_frame(weights.detail, weights.scale_to, weights.year)


@lru_cache(maxsize=8)
@file_table("trade-weights", paths=2)
def _weights_frame(detail: str, scale_to: str | None, year: int) -> pd.DataFrame:
    frame = pd.read_csv(detail, dtype={"code": str})
    if {"code", "value_usd"} - set(frame.columns):
        raise DataError(detail, 1, "weights need columns code and value_usd")
    frame = frame.groupby("code", as_index=False)["value_usd"].sum()
    if scale_to:
        totals = pd.read_csv(scale_to, dtype={"hs2": str})
        totals = totals[totals["year"] == year].set_index("hs2")["value_usd"]
        chapter = frame["code"].str[:2]
        share = frame["value_usd"] / frame.groupby(chapter)["value_usd"].transform("sum")
        frame["value_usd"] = share * chapter.map(totals).fillna(0.0)
    return frame.rename(columns={"value_usd": "weight"})


def average_rates(products, direction: Direction, days, weights: WeightSet, frame: pd.DataFrame,
                  include_threatened: bool = False, convention: Convention | None = None) -> pd.DataFrame:
    """One row per date: trade-weighted average total rate, additional average, coverage.

    Averages are constant between change dates (``ProductEngine.change_dates``), so each date is
    answered from the change date at or before it: a daily series over years costs what the
    change-point series costs. ``convention``: whose choices (``conventions.Convention``; default
    ours, the statutory reading)."""
    days = sorted({pd.Timestamp(day).date() for day in days})
    if not days:
        return pd.DataFrame(columns=AVERAGE_COLUMNS)
    convention = convention or Convention.tariffcalc()
    shares = value_parts(products, convention, frame["code"])  # once: average_on prices the same parts
    engines = {id(e): e for e, _share in shares}
    changes = sorted({c for e in engines.values() for c in e.change_dates(direction, days[0], days[-1])}
                     | set(extra_change_dates(convention, days[0], days[-1])))
    governing = [changes[i] for i in np.searchsorted(changes, days, side="right") - 1]
    at_changes = average_on(products, direction, sorted(set(governing)), weights, frame, include_threatened,
                            convention, shares)
    out = at_changes.set_index("date").loc[governing].reset_index()
    out["date"] = days
    return out[AVERAGE_COLUMNS]


def average_on(products, direction: Direction, days, weights: WeightSet, frame: pd.DataFrame,
               include_threatened: bool = False, convention: Convention | None = None,
               shares=None) -> pd.DataFrame:
    """``average_rates`` evaluated on every date given (no forward fill): the reference the
    filled series is tested against.

    Under a convention that splits products' value (exclusion or metal-content shares), each part
    is priced by the one evaluation over the data that part follows, weighted by its share.
    ``shares``: ``value_parts`` of the frame's codes, if the caller has them (it reads the lists)."""
    convention = convention or Convention.tariffcalc()
    if frame["weight"].sum() <= 0:
        raise QueryError(f"weights {weights.label!r} sum to zero")
    if shares is None:
        shares = value_parts(products, convention, frame["code"])
    parts = combined_weights(shares, frame)
    table = pd.concat([_bulk(engine, part["code"], days, direction, include_threatened).merge(part, on="code")
                       for engine, part in parts], ignore_index=True)
    # A code's weight is spread evenly over the schedule lines it stands for (the ``*_mean`` of
    # the bulk table); a code that stands for no line of the schedule in force has no answer.
    table["known"] = table["total_mean"].notna()
    if not table["known"].any():
        raise QueryError(f"no code of the weights {weights.label!r} matches the schedules in the data")
    w = table["weight"].to_numpy()
    known = table["known"].to_numpy()
    lined = table["lines"].to_numpy() > 0
    add = np.where(lined, table["additional_mean"].to_numpy(), 0.0)
    total = np.where(known, table["total_mean"].to_numpy(), 0.0)
    in_schedule = known
    if convention.denominator == "schedule":  # not in the schedule in force: counted, at zero
        add = np.where(known, add, 0.0)
        known = np.ones_like(known)
        lined = np.ones_like(lined)
    elif convention.denominator == "listed":  # zero where named absent; MFN 0 where unknown
        absent = absent_mask(convention, table["code"], table["date"])
        add = np.where(absent, 0.0, add)
        total = np.where(absent, 0.0, np.where(known, total, add))
        known = np.ones_like(known)
        lined = np.ones_like(lined)
    groups = pd.Index(table["date"])
    sums = pd.DataFrame({
        "w": w, "w_known": w * known, "w_lined": w * lined, "w_scheduled": w * in_schedule, "w_total": w * total,
        "w_add": w * add, "w_covered": w * (add > 0),
    }).groupby(groups.to_numpy()).sum()
    out = pd.DataFrame({
        "date": sums.index,
        "average_rate": sums["w_total"] / sums["w_known"],
        "additional_average": sums["w_add"] / sums["w_lined"],
        "coverage": sums["w_covered"] / sums["w_lined"],
        "mfn_unknown_share": 1 - sums["w_scheduled"] / sums["w"],
    }).reset_index(drop=True)
    out["direction"], out["imposer"], out["origin"] = direction.key, direction.imposer, direction.origin
    out["weights"] = weights.label
    out["convention"] = convention.name
    return out[AVERAGE_COLUMNS]


_LAST_BULK: list = []  # [(engine, key, codes, days, table)]: the last ``ProductEngine.table`` answer


def _bulk(engine, codes, days, direction: Direction, include_threatened: bool) -> pd.DataFrame:
    """``engine.table(codes, days, ...)``, cut from the last answer when it was the same engine's
    for these codes and dates or more: averages one after another under conventions that keep the
    data (PIIE's weights, Yale's denominator) price the same grid. A row of the table depends on
    its own code and date only, and its rows are code-major over the distinct codes, dates sorted."""
    codes = pd.Index(pd.Series(list(codes), dtype=str).unique())
    day_index = pd.DatetimeIndex(pd.to_datetime(pd.Index(days))).unique().sort_values()
    key = (direction, include_threatened, engine.assume)
    if _LAST_BULK:
        last, last_key, known, known_days, table = _LAST_BULK[0]
        if (last is engine and last_key[:2] == key[:2] and last_key[2] is key[2] and codes.isin(known).all()
                and day_index.isin(known_days).all()):
            rows = known.get_indexer(codes)[:, None] * len(known_days) + known_days.get_indexer(day_index)
            return table.iloc[rows.ravel()].reset_index(drop=True)
    table = engine.table(codes, day_index, direction, include_threatened)
    _LAST_BULK[:] = [(engine, key, codes, day_index, table)]
    return table.copy()


def weights_for(dataset, direction_key: str, year: int | None = None,
                convention: Convention | None = None) -> tuple[WeightSet, pd.DataFrame]:
    """The weight set a direction is averaged with (a year asked for, else the convention's, else
    the detailed set) and its table of codes and weights."""
    sets = WeightSets.for_dataset(dataset)
    chosen = sets.for_convention(direction_key, convention, year)
    return chosen, sets.frame(chosen)


def convention_named(dataset, name: str | None) -> Convention:
    """The convention ``--convention NAME`` names in the data (ours when None)."""
    from .conventions import Conventions

    return Conventions.for_dataset(dataset).get(name or "tariffcalc")


def averages_for(products, directions, days, year: int | None = None, include_threatened: bool = False,
                 convention: Convention | str | None = None) -> pd.DataFrame:
    """``average_rates`` of each direction, one frame: ``days`` a list of dates or a function of
    the direction giving its dates; ``convention`` a Convention or the name of one."""
    dataset = products.engine.dataset
    if not isinstance(convention, Convention):
        convention = convention_named(dataset, convention)
    frames = []
    for d in directions:
        chosen, frame = weights_for(dataset, d.key, year, convention)
        frames.append(average_rates(products, d, days(d) if callable(days) else days, chosen, frame,
                                    include_threatened, convention))
    return pd.concat(frames, ignore_index=True)


AVERAGE_DIFF_COLUMNS = ["date_from", "date_to", "direction", "imposer", "origin", "average_from", "average_to",
                        "average_delta", "additional_from", "additional_to", "coverage_from", "coverage_to",
                        "weights"]


def average_diff(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Two ``average_rates`` answers (one date each, same directions) side by side, with the change."""
    keys = ["direction", "imposer", "origin", "weights"]
    both = before.merge(after, on=keys, suffixes=("_from", "_to"))
    out = pd.DataFrame({
        "date_from": both["date_from"], "date_to": both["date_to"],
        **{k: both[k] for k in keys},
        "average_from": both["average_rate_from"], "average_to": both["average_rate_to"],
        "average_delta": both["average_rate_to"] - both["average_rate_from"],
        "additional_from": both["additional_average_from"], "additional_to": both["additional_average_to"],
        "coverage_from": both["coverage_from"], "coverage_to": both["coverage_to"],
    })
    return out[AVERAGE_DIFF_COLUMNS]
