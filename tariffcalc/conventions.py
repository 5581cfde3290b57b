"""Conventions for trade-weighted averages: named sets of choices another series makes.

A convention changes the data the one evaluation reads, never the evaluation. Each choice is a
field of ``Convention`` and can be set on its own:

- ``denominator`` (A): ``known`` leaves out products whose MFN is unknown on the date (ours);
  ``schedule`` keeps every weighted product and counts those not in the schedule in force as zero;
  ``listed`` counts as zero the products ``absent`` names for a window of dates (codes missing from
  another tracker's revision in force) and prices the others at MFN 0 where it is unknown.
- ``exclusion_shares`` (B): the share of each line on a named exemption set that is exempt; the
  rest of its value is priced without that exemption (ours: the whole line is exempt).
- ``metal_content`` (C): before ``until``, the named layers are charged on each product's metal
  share only; the rest of its value is priced without them (so the layers they displace apply).
  ``full_value`` (C): the named layers are charged on the full value where the data says content.
- ``rate_offsets`` (D): points added to every positive rate of the named layers (a rebate).
- ``exemptions`` and ``inclusions`` (E): codes taken out of, or added to, a layer's products.
- ``not_stacked`` and ``stacked`` (F): a layer not charged on goods subject to others; a layer
  charged on top of the rates it would replace.
- ``without_layers`` (G): layers left out.
- ``dating`` (H): a layer's rate or status on a window of dates.

``weights`` is not a choice of the evaluation but of the average: the weight set (by id and year)
each direction is averaged with when the caller names no weight year.

The conventions ship in ``data/conventions/conventions.yaml``, each choice with its source.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, QueryError
from .loader import read_index
from .model import STATUSES, Dataset, ProductSet, Rules

DENOMINATORS = ("known", "schedule", "listed")


@dataclass(frozen=True)
class ExclusionShare:
    """B: lines on exemption sets whose name starts with ``set`` are exempt for ``share`` of their value."""
    set: str
    share: float
    source: str = ""


@dataclass(frozen=True)
class MetalContent:
    """C: before ``until``, ``layers`` are charged on the metal share of derivative products."""
    layers: tuple[str, ...]
    until: date | None
    shares: str  # absolute path of a CSV code,metal_share
    fallback: float  # share of a covered product with no share in the file
    full_value_chapters: tuple[str, ...] = ()  # HS chapters charged on full value
    source: str = ""


@dataclass(frozen=True)
class RateOffset:
    """D: ``points`` added to every positive rate of ``layers`` (floored at zero)."""
    layers: tuple[str, ...]
    points: float
    source: str = ""


@dataclass(frozen=True)
class Exemption:
    """E: ``codes`` (prefixes) are not charged ``layer``."""
    layer: str
    codes: tuple[str, ...]
    name: str
    source: str = ""


@dataclass(frozen=True)
class Inclusion:
    """E: ``codes`` (prefixes) are covered by ``layer`` (whose steps date them)."""
    layer: str
    codes: tuple[str, ...]
    source: str = ""


@dataclass(frozen=True)
class NotStacked:
    """F: ``layer`` is not charged on goods subject to ``on_goods_of``."""
    layer: str
    on_goods_of: tuple[str, ...]
    source: str = ""


@dataclass(frozen=True)
class Redate:
    """H: on [start, end) the steps of ``layers`` have ``rate`` and/or ``status``."""
    layers: tuple[str, ...]
    start: date
    end: date
    rate: float | None = None
    status: str | None = None
    source: str = ""


@dataclass(frozen=True)
class ConventionWeights:
    """The weight set (``data/weights/weights.yaml`` id and year) a convention averages a direction with."""
    direction: str
    set: str
    year: int
    source: str = ""


@dataclass(frozen=True)
class Convention:
    """The choices behind one series of averages (see the module docstring for each field)."""
    name: str = "tariffcalc"
    label: str = "tariffcalc: the statutory reading of the data"
    denominator: str = "known"
    denominator_source: str = ""
    absent: str | None = None  # A: absolute path of a CSV code,start,end (end empty: open)
    exclusion_shares: tuple[ExclusionShare, ...] = ()
    metal_content: MetalContent | None = None
    full_value: tuple[str, ...] = ()  # C: layers charged on full value where the data says content
    full_value_source: str = ""
    rate_offsets: tuple[RateOffset, ...] = ()
    exemptions: tuple[Exemption, ...] = ()
    inclusions: tuple[Inclusion, ...] = ()
    not_stacked: tuple[NotStacked, ...] = ()
    stacked: tuple[NotStacked, ...] = ()  # F: rules of the data a convention does not follow (it stacks)
    without_layers: tuple[str, ...] = ()
    without_layers_source: str = ""
    dating: tuple[Redate, ...] = ()
    assume: tuple[str, ...] = ()  # condition ids treated as met (docs/data-format.md, Conditions)
    assume_source: str = ""
    weights: tuple[ConventionWeights, ...] = ()
    source: str = ""

    @classmethod
    def tariffcalc(cls) -> Convention:
        return cls()

    @classmethod
    def yale(cls) -> Convention:
        return Conventions.bundled().get("yale")

    @classmethod
    def piie(cls) -> Convention:
        return Conventions.bundled().get("piie")

    def weights_for(self, direction: str) -> ConventionWeights | None:
        """The weight set this convention averages ``direction`` with (None: the default set)."""
        return next((w for w in self.weights if w.direction == direction), None)

    @property
    def edits_data(self) -> bool:
        return bool(self.rate_offsets or self.exemptions or self.inclusions or self.not_stacked or self.without_layers
                    or self.dating or self.assume or self.metal_content or self.stacked or self.full_value)

    def only(self, *choices: str) -> Convention:
        """This convention with only the named fields kept (the others as tariffcalc's): one
        choice at a time, e.g. ``Convention.yale().only("dating")``."""
        unknown = set(choices) - set(CHOICES)
        if unknown:
            raise QueryError(f"no such convention choice: {', '.join(sorted(unknown))} (choices: {', '.join(CHOICES)})")
        kept = {name: getattr(self, name) for choice in choices for name in CHOICES[choice]}
        kept["weights"] = self.weights  # not a choice of the evaluation: the average's weights stay
        return dataclasses.replace(Convention(), name=f"{self.name}[{','.join(choices)}]", label=self.label, **kept)

    # -- the data this convention prices with -------------------------------------------------

    def apply(self, dataset: Dataset) -> Dataset:
        """The data set with choices D-H applied (B and C are splits of value: see ``parts``)."""
        if not self.edits_data:
            return dataset
        known = {layer.id for layer in dataset.layers}
        named = ([i for o in self.rate_offsets for i in o.layers] + [e.layer for e in self.exemptions]
                 + [i.layer for i in self.inclusions] + [n.layer for n in self.not_stacked]
                 + [n.layer for n in self.stacked] + list(self.without_layers) + list(self.full_value)
                 + [i for r in self.dating for i in r.layers])
        missing = sorted(set(named) - known)
        if missing:
            raise QueryError(f"convention {self.name!r} names layers not in the data: {', '.join(missing)}")
        layers = []
        for layer in dataset.layers:
            if layer.id in self.without_layers:
                continue
            steps = list(layer.steps)
            if layer.id in self.full_value or (self.metal_content is not None and layer.id in self.metal_content.layers):
                # full value, or the convention's own value split (C) prices the content
                steps = [dataclasses.replace(s, content=None) for s in steps]
            for offset in self.rate_offsets:
                if layer.id in offset.layers:
                    steps = [dataclasses.replace(s, rate=max(s.rate + offset.points, 0.0)) if s.rate > 0 else s
                             for s in steps]
            for redate in self.dating:
                if layer.id in redate.layers:
                    steps = _redated(steps, redate)
            coverage = layer.coverage
            extra = tuple(ProductSet(name=e.name, codes=e.codes, source=e.source or None)
                          for e in self.exemptions if e.layer == layer.id)
            if extra:
                coverage = dataclasses.replace(coverage, exempt=coverage.exempt + extra)
            added = tuple(c for i in self.inclusions if i.layer == layer.id for c in i.codes)
            if added:
                if coverage.products is None:
                    raise QueryError(f"convention {self.name!r}: layer {layer.id} has no product list to add to")
                products = dataclasses.replace(coverage.products, codes=coverage.products.codes + added)
                coverage = dataclasses.replace(coverage, products=products)
            rules = layer.rules
            more = tuple(o for n in self.not_stacked if n.layer == layer.id for o in n.on_goods_of
                         if o in known and o not in rules.not_on_goods_of)
            fewer = {o for n in self.stacked if n.layer == layer.id for o in n.on_goods_of}
            if more or fewer:  # `stacked`: charged on top of those layers (neither displaced nor replacing)
                kept = tuple(o for o in rules.not_on_goods_of + more if o not in fewer)
                rules = Rules(kept, tuple(o for o in rules.replaces if o not in fewer), rules.line)
            layers.append(dataclasses.replace(layer, steps=tuple(steps), coverage=coverage, rules=rules))
        return dataclasses.replace(dataset, layers=tuple(layers))

    def splits(self) -> list[tuple[str, ExclusionShare | MetalContent]]:
        """Choices that split a product's value: (key, choice); ``_other_part`` prices the rest."""
        out = []
        for share in self.exclusion_shares:
            out.append(("exclusion:" + share.set, share))
        if self.metal_content is not None:
            out.append(("metal", self.metal_content))
        return out


# Each choice and the fields that make it up (in the order of docs/averages.md, A-H).
CHOICES = {
    "denominator": ("denominator", "denominator_source", "absent"),
    "exclusion_shares": ("exclusion_shares",),
    "metal_content": ("metal_content", "full_value", "full_value_source"),
    "rate_offsets": ("rate_offsets",),
    "exemptions": ("exemptions", "inclusions"),
    "not_stacked": ("not_stacked", "stacked"),
    "without_layers": ("without_layers", "without_layers_source"),
    "dating": ("dating",),
    "assume": ("assume", "assume_source"),
}


def _redated(steps, redate: Redate):
    """Cut the steps at the window's edges; inside it, the window's rate/status."""
    out = []
    for step in steps:
        end = step.end or date.max
        pieces = [(step.start, min(end, redate.start)), (max(step.start, redate.start), min(end, redate.end)),
                  (max(step.start, redate.end), end)]
        for i, (a, b) in enumerate(pieces):
            if a >= b:
                continue
            piece = dataclasses.replace(step, start=a, end=None if b == date.max else b)
            if i == 1:
                piece = dataclasses.replace(piece, rate=step.rate if redate.rate is None else redate.rate,
                                            status=step.status if redate.status is None else redate.status)
            out.append(piece)
    covered = [(s.start, s.end or date.max) for s in out]
    if redate.rate is not None and not any(a <= redate.start and redate.end <= b for a, b in covered):
        template = steps[0]
        out.append(dataclasses.replace(template, start=redate.start, end=redate.end, rate=redate.rate,
                                       status=redate.status or "in_effect", in_transit=None))
    return sorted(out, key=lambda s: s.start)


# -- value splits (B, C): which part of each product is priced under which data ----------------

def value_parts(products, convention: Convention, codes) -> list[tuple[object, pd.Series]]:
    """(ProductEngine, share of each code's value it prices) pairs whose shares sum to 1 per code.

    Splits are independent: with two, a code's value is cut in up to four parts, one per
    combination of 'as the data says' and 'the other part' of each split."""
    codes = pd.Index(pd.Series(list(codes), dtype=str).unique())
    base = convention_engine(products, convention, ())
    parts = [((), pd.Series(1.0, index=codes))]
    for key, choice in convention.splits():
        share = _kept_share(base, choice, codes)  # share priced as the data says
        grown = []
        for others, weight in parts:
            grown.append((others, weight * share))
            grown.append((others + (key,), weight * (1 - share)))
        parts = grown
    out = []
    for others, weight in parts:
        weight = weight[weight > 0]
        if not weight.empty:
            out.append((convention_engine(products, convention, others), weight))
    return out


def _kept_share(products, choice, codes: pd.Index) -> pd.Series:
    found = products.index.matches(codes)
    found = found[found["match"] == "full"]
    if isinstance(choice, ExclusionShare):
        on = found[(found["role"] == "exempt") & found["set_name"].str.startswith(choice.set)]["code"].unique()
        kept = pd.Series(1.0, index=codes)
        kept[kept.index.isin(on)] = choice.share
        return kept
    on = found[(found["role"] == "cover") & found["layer_id"].isin(choice.layers)]["code"].unique()
    shares = _metal_shares(choice.shares)
    kept = pd.Series(1.0, index=codes)
    derivative = kept.index.isin(on) & ~kept.index.str[:2].isin(choice.full_value_chapters)
    kept[derivative] = shares.reindex(kept.index[derivative]).fillna(choice.fallback).to_numpy()
    return kept


@lru_cache(maxsize=4)
def _metal_shares(path: str) -> pd.Series:
    frame = pd.read_csv(path, dtype={"code": str}, comment="#")
    if {"code", "metal_share"} - set(frame.columns):
        raise DataError(path, 1, "metal shares need columns code and metal_share")
    return frame.set_index("code")["metal_share"].clip(0, 1)


_ENGINES: dict = {}


def convention_engine(products, convention: Convention, others: tuple[str, ...]):
    """The ProductEngine pricing the data under the convention, with the 'other part' of the
    named splits (exemption sets dropped, metal layers not charged before ``until``)."""
    from .engine import Engine
    from .products import ProductEngine

    if not convention.edits_data and not others:
        return products
    key = (id(products), convention, others)
    if key not in _ENGINES:
        dataset = convention.apply(products.engine.dataset)
        for name in others:
            dataset = _other_part(dataset, convention, name)
        if len(_ENGINES) > 16:
            _ENGINES.clear()
        from .content import Contents

        assume = Contents(conditions=frozenset(convention.assume)) if convention.assume else products.assume
        index = _edited_index(products.index, convention, others, dataset)
        _ENGINES[key] = (products, ProductEngine(Engine(dataset), products.schedules, assume, index))
    return _ENGINES[key][1]


def _edited_index(index, convention: Convention, others, dataset: Dataset):
    """The base product index with the product-set edits of ``apply`` and ``_other_part`` made
    on its rows (the same rows ``ProductIndex(dataset)`` would read, without the list files)."""
    table = index.table
    table = table[~table["layer_id"].isin(convention.without_layers)]
    for name in others:
        if name.startswith("exclusion:"):
            prefix = name.split(":", 1)[1]
            table = table[~((table["role"] != "cover") & table["set_name"].str.startswith(prefix))]
    layers = {layer.id: layer for layer in dataset.layers}
    rows = [(e.layer, "exempt", e.name, code, pd.NaT, pd.NaT, None) for e in convention.exemptions for code in e.codes]
    for inclusion in convention.inclusions:
        products = layers[inclusion.layer].coverage.products
        rows += [(inclusion.layer, "cover", products.name or layers[inclusion.layer].name, code,
                  pd.Timestamp(products.start) if products.start else pd.NaT,
                  pd.Timestamp(products.end) if products.end else pd.NaT, products.condition)
                 for code in inclusion.codes]
    if rows:
        extra = pd.DataFrame(rows, columns=["layer_id", "role", "set_name", "prefix", "start", "end", "condition"])
        extra["length"] = extra["prefix"].str.len()
        table = pd.concat([table, extra.astype({"start": "datetime64[ns]", "end": "datetime64[ns]"})],
                          ignore_index=True)
    edited = copy.copy(index)
    edited.table = table.reset_index(drop=True)
    return edited


def _other_part(dataset: Dataset, convention: Convention, key: str) -> Dataset:
    layers = []
    if key.startswith("exclusion:"):
        prefix = key.split(":", 1)[1]
        for layer in dataset.layers:
            kept = tuple(s for s in layer.coverage.exempt if not (s.name or "").startswith(prefix))
            layers.append(dataclasses.replace(layer, coverage=dataclasses.replace(layer.coverage, exempt=kept))
                          if len(kept) != len(layer.coverage.exempt) else layer)
    else:
        metal = convention.metal_content
        for layer in dataset.layers:
            if layer.id in metal.layers:
                steps = tuple(s for s in (_from(s, metal.until) for s in layer.steps) if s is not None)
                layer = dataclasses.replace(layer, steps=steps)
            layers.append(layer)
    return dataclasses.replace(dataset, layers=tuple(kept for kept in layers if kept.steps))


def _from(step, until):
    """The part of a step on or after ``until`` (None if none)."""
    if until is None or (step.end is not None and step.end <= until):
        return None
    return step if step.start >= until else dataclasses.replace(step, start=until)


# -- the conventions shipped in data/conventions -----------------------------------------------

class Conventions:
    """The conventions of a data directory (``data/conventions/conventions.yaml``), plus ours."""

    def __init__(self, data_dir):
        self.root = Path(data_dir) / "conventions"
        self.items = {"tariffcalc": Convention.tariffcalc()}
        for item, line in read_index(self.root / "conventions.yaml", "convention", {"id", "label"}):
            self.items[item["id"]] = self._parse(item, line)

    @classmethod
    def for_dataset(cls, dataset) -> Conventions:
        """The conventions of the last data directory that has them (an overlay may bring its own)."""
        from .loader import tables_dir

        return cls(tables_dir(dataset, "conventions", "conventions.yaml").parent)

    @classmethod
    @lru_cache(maxsize=1)
    def bundled(cls) -> Conventions:
        from .loader import bundled_data_dir

        return cls(bundled_data_dir())

    def names(self) -> list[str]:
        return list(self.items)

    def get(self, name: str) -> Convention:
        if name not in self.items:
            raise QueryError(f"unknown convention {name!r} (known: {', '.join(self.items)})")
        return self.items[name]

    def _parse(self, item: dict, line) -> Convention:
        path = self.root / "conventions.yaml"

        def fail(message):
            raise DataError(path, line, f"convention {item['id']}: {message}")

        def ids(value):
            return tuple([value] if isinstance(value, str) else value or ())

        def day(value, what):
            if value is None:
                return None
            if not isinstance(value, date):
                fail(f"{what} {value!r} is not a date")
            return value

        try:
            denominator = item.get("denominator", "known")
            if denominator not in DENOMINATORS:
                fail(f"denominator must be one of {', '.join(DENOMINATORS)}")
            absent = item.get("absent")
            if absent is not None:
                absent = self.root / absent
                if not absent.is_file():
                    fail(f"absent codes file '{absent.name}' not found")
                absent = str(absent)
            if denominator == "listed" and absent is None:
                fail("denominator listed needs an absent file")
            metal = item.get("metal_content")
            if metal is not None:
                shares = self.root / metal["shares"]
                if not shares.is_file():
                    fail(f"metal shares file '{metal['shares']}' not found")
                metal = MetalContent(ids(metal["layers"]), day(metal.get("until"), "until"), str(shares),
                                     float(metal.get("fallback", 1.0)), ids(metal.get("full_value_chapters")),
                                     metal.get("source", ""))
            weights = []
            for direction, w in (item.get("weights") or {}).items():
                if not isinstance(w, dict) or not isinstance(w.get("year"), int) or not w.get("set"):
                    fail(f"weights for {direction} need a set id and a year")
                weights.append(ConventionWeights(str(direction), str(w["set"]), w["year"], w.get("source", "")))
            dating = []
            for r in item.get("dating") or ():
                if r.get("status") is not None and r["status"] not in STATUSES:
                    fail(f"status {r['status']!r} is not one of {', '.join(STATUSES)}")
                dating.append(Redate(ids(r["layers"]), day(r["start"], "start"), day(r["end"], "end"),
                                     None if r.get("rate") is None else float(r["rate"]), r.get("status"),
                                     r.get("source", "")))
            return Convention(
                name=item["id"], label=item["label"], denominator=denominator, absent=absent,
                denominator_source=item.get("denominator_source", ""),
                exclusion_shares=tuple(ExclusionShare(e["set"], float(e["share"]), e.get("source", ""))
                                       for e in item.get("exclusion_shares") or ()),
                metal_content=metal, full_value=ids(item.get("full_value")),
                full_value_source=item.get("full_value_source", ""), weights=tuple(weights),
                rate_offsets=tuple(RateOffset(ids(o["layers"]), float(o["points"]), o.get("source", ""))
                                   for o in item.get("rate_offsets") or ()),
                exemptions=tuple(Exemption(e["layer"], tuple(str(c) for c in ids(e["codes"])), e["name"],
                                           e.get("source", "")) for e in item.get("exemptions") or ()),
                inclusions=tuple(Inclusion(i["layer"], tuple(str(c) for c in ids(i["codes"])), i.get("source", ""))
                                 for i in item.get("inclusions") or ()),
                not_stacked=tuple(NotStacked(n["layer"], ids(n["on_goods_of"]), n.get("source", ""))
                                  for n in item.get("not_stacked") or ()),
                stacked=tuple(NotStacked(n["layer"], ids(n["on_goods_of"]), n.get("source", ""))
                              for n in item.get("stacked") or ()),
                without_layers=ids(item.get("without_layers")),
                without_layers_source=item.get("without_layers_source", ""),
                dating=tuple(dating), assume=ids(item.get("assume")), assume_source=item.get("assume_source", ""),
                source=item.get("source", ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            fail(f"malformed choice ({exc})")


def combined_weights(parts, frame: pd.DataFrame) -> list[tuple[object, pd.DataFrame]]:
    """Each part's weights: the product's weight times the share of its value the part prices."""
    out = []
    weight = frame.set_index("code")["weight"]
    for engine, share in parts:
        part = share.reindex(weight.index).fillna(0.0) * weight
        part = part[part > 0]
        if not part.empty:
            out.append((engine, part.rename("weight").rename_axis("code").reset_index()))
    return out




@lru_cache(maxsize=4)
def absent_windows(path: str) -> pd.DataFrame:
    """code, start, end (datetime64; end NaT when open) of products counted as zero."""
    frame = pd.read_csv(path, dtype={"code": str, "start": str, "end": str}, keep_default_na=False)
    if {"code", "start", "end"} - set(frame.columns):
        raise DataError(path, 1, "absent codes need columns code, start and end")
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"].replace("", None))
    return frame


def absent_mask(convention: Convention, codes: pd.Series, days: pd.Series) -> np.ndarray:
    """True where (code, date) is a product the convention's ``absent`` file counts as zero."""
    if convention.absent is None:
        return np.zeros(len(codes), dtype=bool)
    windows = absent_windows(convention.absent)
    pairs = pd.DataFrame({"code": codes.to_numpy(), "date": pd.to_datetime(days).to_numpy(),
                          "row": np.arange(len(codes))})
    hit = pairs.merge(windows, on="code")
    inside = (hit["date"] >= hit["start"]) & (hit["end"].isna() | (hit["date"] < hit["end"]))
    mask = np.zeros(len(codes), dtype=bool)
    mask[hit.loc[inside, "row"].to_numpy()] = True
    return mask


def extra_change_dates(convention: Convention, start: date, end: date) -> list[date]:
    """Dates on which the convention's own data (absent windows) changes an average."""
    if convention.absent is None:
        return []
    windows = absent_windows(convention.absent)
    edges = pd.concat([windows["start"], windows["end"].dropna()]).dt.date
    return sorted({d for d in edges if start < d <= end})
