"""Duties over an import ledger: per entry and layer, totals by authority and month, IEEPA refunds.

``compute_duties`` prices every entry of a ``ledger.Ledger`` with the product engine, vectorized:
rates are constant between change dates, so each entry date maps to its period (the last change
date on or before it), and codes the data treats alike (the same list rows, exemptions and dates)
share a kind (a code shorter than a line is a kind of its own). ``ProductEngine.answer_pairs``, the
one evaluation path of ``rate --hts``, answers each (origin, kind, period) key present once — the
reasons are its own words — and an entry's lines are its key's layer rows,
made only when written. MFN is looked up once per (code, schedule vintage); the summary is summed
by (key, month) groups, in whole millionths.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import money
from .codes import CodeRows
from .content import Contents
from .engine import EARLIEST, LATEST, direction_with_origin
from .ledger import Ledger, Problem, condition_ids, reject_rows
from .model import AUTHORITIES, CONTENTS, CURRENCY, DIRECTIONS, Direction
from .money import MICRO
from .products import ProductEngine, transit_holds, transit_note
from .refunds import ROUTES as ROUTE_NAMES
from .schedule import code_keys, not_in, parent_used, parse_specific

LAYER_FIELDS = ["layer_id", "name", "authority", "scope", "rate", "status", "applies", "charged", "waivable",
                "reason", "confidence"]
# Per entry, on its total line (tidy) or its row (wide): the refund route on the as-of date, the
# refundable duty, the deadline of the route and the interest accrued (blank: nothing refundable).
REFUND_COLUMNS = ["refund_route", "refund_duty", "refund_deadline", "refund_interest"]
LINE_COLUMNS = ["entry_id", "entry_date", "export_date", "direction", "imposer", "origin", "code", "customs_value",
                "quantity", "kind", "layer_id", "name", "authority", "rate", "applies", "charged", "duty", "reason",
                *REFUND_COLUMNS]
ENTRY_COLUMNS = ["entry_id", "entry_date", "export_date", "direction", "imposer", "origin", "code", "customs_value",
                 "quantity", "mfn_rate", "mfn_duty"]
ENTRY_TAIL = ["additional_duty", "duty_total", "total_rate", "mfn_reason"]
TOTAL_NAME = "Total (MFN + additional)"
UNKNOWN_TOTAL = "unknown: the MFN duty is not computed (see the MFN line)"


@dataclass
class DutySummary:
    entries: int
    rejected: int
    customs_value: float
    duty_total: float
    currency: str
    by_authority: pd.DataFrame  # authority, entries, duty, status
    ieepa_refundable: float
    refund_window: tuple | None  # (first, last) entry date of IEEPA collection in the data
    by_month: pd.DataFrame  # month, entries, customs_value, duty_total, then one column per authority
    notes: list[str] = field(default_factory=list)
    refunds: object = None  # refunds.RefundSummary: routes, deadlines, interest on the as-of date
    mfn_unknown: int = 0  # entries whose MFN duty is not computed: not in duty_total, which is then a floor


class Lines(NamedTuple):
    """Entry x layer lines as aligned arrays: entry position, layer row, rate charged, duty, and
    whether the in-transit rate of the step was charged instead of its rate."""

    entry: np.ndarray
    layer: np.ndarray
    charged: np.ndarray
    duty: np.ndarray
    transit: np.ndarray


@dataclass
class DutyResult:
    """Every entry priced.

    ``entries`` has one row per entry, with MFN, additional and total duty. ``layers`` holds the
    distinct evaluated layer rows, grouped by key (a kind of code in a period) and sorted by it;
    ``key`` is each entry's key. An entry's lines are the rows of its key, with the in-transit
    rate on the (entry, layer row) pairs of ``transit_entry``/``transit_layer``: they are made on
    demand, a slice of entries at a time (``line_arrays``, ``lines``)."""

    ledger: Ledger
    direction: Direction
    entries: pd.DataFrame
    layers: pd.DataFrame  # LAYER_FIELDS + transit_loaded, transit_entered, transit_rate, key
    key: np.ndarray
    key_days: tuple  # (first day, day after the last) of the period of each key
    transit_entry: np.ndarray  # sorted
    transit_layer: np.ndarray
    varying: np.ndarray = None  # keys whose lines get different duties (their entries are rejected)
    refunds: object = None  # refunds.Refunds, per entry
    totals: object = None  # DutyTotals: the sums the summary is made of (they add across parts of a ledger)
    products: object = field(default=None, repr=False)  # what ``summary`` is worked out with

    @cached_property
    def summary(self) -> DutySummary:
        """Worked out when first asked: a chunk of a ledger streamed never is (its totals are
        added to the others')."""
        return self.totals.summary(self.products)

    def __post_init__(self):
        rows = np.bincount(self.layers["key"].to_numpy(dtype=np.int64), minlength=len(self.key_days[0]))
        self.key_rows, self.key_first = rows, np.cumsum(rows) - rows
        self.charged = self.layers["charged"].to_numpy(dtype=float)
        self.transit_rate = self.layers["transit_rate"].to_numpy(dtype=float)
        self.value = self.entries["customs_value"].to_numpy(dtype=float)

    def expand(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entry, layer row) of the lines of the entries at ``positions``, entry by entry."""
        key = self.key[positions]
        counts = self.key_rows[key]
        entry = np.repeat(positions, counts)
        first_line = np.cumsum(counts) - counts
        layer = np.arange(len(entry)) + np.repeat(self.key_first[key] - first_line, counts)
        return entry, layer

    def line_arrays(self, start: int = 0, stop: int | None = None) -> Lines:
        """The lines of entries start..stop."""
        stop = len(self.entries) if stop is None else stop
        entry, layer = self.expand(np.arange(start, stop))
        return self._priced(entry, layer)

    def _priced(self, entry: np.ndarray, layer: np.ndarray) -> Lines:
        charged = self.charged[layer]
        transit = np.zeros(len(entry), dtype=bool)
        lo, hi = np.searchsorted(self.transit_entry, [entry.min(initial=0), entry.max(initial=-1) + 1])
        if hi > lo and len(entry):  # lines are sorted by (entry, layer row), and so are the pairs
            n_layers = len(self.layers)
            lines = entry * n_layers + layer
            pairs = self.transit_entry[lo:hi] * n_layers + self.transit_layer[lo:hi]
            at = np.searchsorted(lines, pairs).clip(max=len(lines) - 1)
            at = at[lines[at] == pairs]
            transit[at] = True
            charged[at] = self.transit_rate[layer[at]]
        return Lines(entry, layer, charged, self.value[entry] * charged / 100, transit)

    def lines(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Tidy: per entry (positions start..stop) an MFN row, one row per layer, a total row."""
        return lines_frame(self, start, len(self.entries) if stop is None else stop)


# -- additional layers ----------------------------------------------------------------------

class _Changes:
    """The change dates of a direction (``all``: every date on which anything the answer for a code
    depends on can change), and the subset that bears on one kind of code.

    A code's answer changes only on the steps of the layers that can bear on it (those its product
    index rows name, and those with no product list: a ``scope: all`` layer or one without cover
    rows), on the dates of its own rows, and where its schedule lines change (a vintage that adds or
    drops it). Periods cut at these dates alone are longer, so a ledger has fewer keys to answer."""

    def __init__(self, products: ProductEngine, d: Direction):
        steps = products.engine.direction_steps(d)
        table = products.index.table
        table = table[table["layer_id"].isin(set(steps["layer_id"]))]
        vintages = np.array([v.start for v in products.schedules.vintages if v.imposer == d.imposer],
                            dtype="datetime64[D]")
        edges = pd.concat([steps["start"], steps["end"], table["start"], table["end"],
                           pd.Series(np.append(vintages, np.datetime64(EARLIEST, "D")), dtype="datetime64[ns]")]).dropna()
        edges = edges[(edges >= pd.Timestamp(EARLIEST)) & (edges <= pd.Timestamp(LATEST))]
        self.all = np.unique(edges.to_numpy("datetime64[D]"))
        covered = set(table.loc[table["role"] == "cover", "layer_id"])
        universal = set(steps.loc[steps["scope"] == "all", "layer_id"]) | (set(steps["layer_id"]) - covered)
        ends = pd.concat([steps[["layer_id", "start"]], steps[["layer_id", "end"]].rename(columns={"end": "start"})])
        # each set of dates as a bit mask over ``all`` (bit i: the i-th change date; EARLIEST is bit 0)
        self.layer_mask = {layer: self._mask(rows.to_numpy("datetime64[D]"))
                           for layer, rows in ends.dropna().groupby("layer_id", sort=False)["start"]}
        self.universal_mask = 1 | self._union(universal)
        self.vintage_mask = [self._mask(vintages[i:i + 1]) for i in range(len(vintages))]

    def _mask(self, dates: np.ndarray) -> int:
        at = np.searchsorted(self.all, dates).clip(max=len(self.all) - 1)
        return sum(1 << int(i) for i in np.unique(at[self.all[at] == dates]))

    def _union(self, layers) -> int:
        mask = 0
        for layer in layers:
            mask |= self.layer_mask.get(layer, 0)
        return mask

    def of_kind(self, layers, row_dates: np.ndarray, lines_in: np.ndarray | None) -> np.ndarray:
        """The change dates bearing on a kind: ``layers`` its rows name, ``row_dates`` its rows'
        starts and ends, ``lines_in`` whether it stands for lines of each vintage (None: unknown,
        every vintage counts)."""
        mask = self.universal_mask | self._union(layers) | self._mask(np.asarray(row_dates, dtype="datetime64[D]"))
        for number, vintage in enumerate(self.vintage_mask):
            if lines_in is None or (number and lines_in[number] != lines_in[number - 1]):
                mask |= vintage
        return self.all[[i for i in range(len(self.all)) if mask >> i & 1]]


def _unique(values: np.ndarray, index: bool = False, inverse: bool = False):
    """``np.unique`` of integers with ``return_index`` or ``return_inverse``, by hashing: the
    distinct values (few, next to the entries) are sorted, not the entries."""
    at, distinct = pd.factorize(values)
    order = np.argsort(distinct, kind="stable")
    if index:  # factorize numbers values as first met: the first of each is where the count rises
        first = np.flatnonzero(np.diff(np.maximum.accumulate(at), prepend=-1) > 0) if len(at) \
            else np.zeros(0, dtype=np.int64)
        return distinct[order], first[order]
    if inverse:
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return distinct[order], rank[at]
    return distinct[order]


class Days:
    """The entries' days as offsets into the span they cover: anything that depends only on the
    day (its period, schedule vintage, month) is worked out once per day of the span and looked up."""

    def __init__(self, days: np.ndarray):  # datetime64[D]
        low = days.min() if len(days) else np.datetime64(EARLIEST, "D")
        self.span = np.arange(low, (days.max() if len(days) else low) + 1)
        self.offset = days.view(np.int64) - low.astype(np.int64)

    def lookup(self, table: np.ndarray) -> np.ndarray:
        """``table`` (one value per day of the span) for each entry."""
        return table[self.offset]

    def periods(self, starts: np.ndarray) -> np.ndarray:
        """For each day of the span, the index of the last of the sorted ``starts`` on or before it
        (-1 before the first): its period, or its schedule vintage."""
        return np.searchsorted(starts, self.span, side="right") - 1


class PricingMemo:
    """What pricing works out once per distinct value, kept across the chunks (or partitions) of a
    ledger: the kind of each code, the answer of each (origin, kind, period) key, the MFN line of
    each (code, vintage) and whether a code is a line of a vintage. A ledger has few distinct codes
    and days relative to its rows, so after the first chunks a chunk's pricing is mostly lookups.
    The answers do not depend on which chunk asked first: codes of a kind are answered alike."""

    def __init__(self):
        self.keys: dict = {}  # (direction, include_threatened, layer ids) -> _KeyMemo
        self.mfn: dict = {}  # imposer -> _MfnMemo
        self.lines_in: dict = {}  # imposer -> CodeRows: whether each code stands for lines of each vintage
        self.named: dict = {}  # (imposer, origin) -> (code, vintage start) -> whether a list names it

    def lines_of(self, schedules, imposer: str, codes) -> np.ndarray:
        """Whether each code stands for some line of each of the imposer's vintages (codes x
        vintages, ``Schedules.stands_for_lines``), each code looked up once across the chunks."""
        if imposer not in self.lines_in:
            self.lines_in[imposer] = CodeRows(len(schedules.vintage_numbers(imposer, [])[0]), bool)
        return self.lines_in[imposer](codes, lambda new: schedules.stands_for_lines(imposer, np.array(new, dtype=object)))

    def named_in_full(self, products, direction, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Whether a product list of ``direction`` in force on each day names each code in full
        (``ProductEngine.resolve`` gives the code as its own line), each (code, day) asked once
        across the chunks."""
        known = self.named.setdefault((direction.imposer, direction.origin), {})
        days = np.asarray(days, dtype="datetime64[ns]")
        asked = list(zip(codes.tolist(), days.view(np.int64).tolist()))
        new = [i for i, a in enumerate(asked) if a not in known]
        if new:
            found = products.resolve(direction, codes[new], days[new])
            lines = set(zip(found["code"].tolist(), found["date"].to_numpy("datetime64[ns]").view(np.int64).tolist()))
            known.update((asked[i], asked[i] in lines) for i in new)
        return np.array([known[a] for a in asked], dtype=bool)

    def key_memo(self, direction: str, include_threatened: bool, layer_ids) -> _KeyMemo:
        return self.keys.setdefault((direction, include_threatened, frozenset(layer_ids)), _KeyMemo())


class _KeyMemo:
    """Kinds of codes and the evaluated layer rows of each key, for one direction and layer set."""

    # a key as one integer: kind << 32 | block << 12 | period; a block is an origin with what its
    # entries assert (``entry_assumptions``), up to 2**20 of them
    KIND, ORIGIN = 32, 12
    BLOCKS = (1 << (KIND - ORIGIN)) - 1

    def __init__(self):
        self.row_id: dict = {}  # a product-index row's (layer, role, set, dates, match, condition) -> id
        self.kind_of_signature: dict = {}
        self.kind_of_code: dict = {}
        self.reps: list = []  # kind -> the code answered for it
        self.kind_dates: list = []  # kind -> (layers, row dates, vintages in) of _Changes.of_kind, None: all
        self.periods: dict = {}  # (kind, origin) -> its change dates, as days from EARLIEST
        self.changes: dict = {}  # origin -> _Changes
        self.origins: dict = {}  # block (origin, conditions, shares) -> its number in the keys
        self.known = np.zeros(0, dtype=np.int64)  # the keys answered, sorted
        self.known_gid = np.zeros(0, dtype=np.int64)  # of each, its number in the tables below
        self.first: list = []  # gid -> first row of its layer rows in ``rows``
        self.count: list = []
        self.varies: list = []
        self.parts: list = []  # frames of layer rows, in gid order
        self.n_rows = 0
        self._rows = None

    def gids(self, keys: np.ndarray) -> np.ndarray:
        """The number of each key (int64) in the tables, -1 for a key not answered yet."""
        at = np.searchsorted(self.known, keys).clip(max=max(len(self.known) - 1, 0))
        found = self.known[at] == keys if len(self.known) else np.zeros(len(keys), dtype=bool)
        return np.where(found, self.known_gid[at] if len(self.known) else -1, -1)

    def add(self, keys: np.ndarray) -> np.ndarray:
        """Numbers the new ``keys`` in their order, after the keys answered; returns their numbers."""
        gid = len(self.known) + np.arange(len(keys), dtype=np.int64)
        known, known_gid = np.concatenate([self.known, keys]), np.concatenate([self.known_gid, gid])
        order = np.argsort(known, kind="stable")
        self.known, self.known_gid = known[order], known_gid[order]
        return gid

    def rows(self) -> pd.DataFrame:
        if self._rows is None or len(self._rows) != self.n_rows:
            self._rows = pd.concat(self.parts, ignore_index=True) if len(self.parts) > 1 else self.parts[0]
            self.parts = [self._rows]
        return self._rows


class _MfnMemo:
    """The MFN line of each (code, vintage) pair met, as arrays: codes are numbered as met and a
    pair (code number x vintages + vintage) maps to its row of the arrays (-1: not met yet)."""

    def __init__(self):
        self.code_number: dict = {}  # code -> its number
        self.row = np.zeros(0, dtype=np.int64)  # pair -> row in the arrays, -1: not worked out
        self.arrays: dict | None = None
        self.size = 0


def _kinds(products: ProductEngine, codes: np.ndarray, layer_ids, imposer: str | None = None,
           memo: _KeyMemo | None = None, lines_of=None) -> np.ndarray:
    """Codes the data treats alike share a kind: the same set of (layer, role, set, dates, match)
    rows of the product index, and lines of the same schedule vintages (a code renumbered in 2022
    cannot stand for a 2021 entry of another code). A code shorter than a list's rows is resolved
    from its own schedule lines, so it is a kind of its own. Returns the kind of each code; the
    code answered for each kind (the first met) is ``memo.reps``. Kinds are kept in ``memo`` across
    calls: only codes not met before are looked at. ``lines_of`` gives ``stands_for_lines`` of codes
    for every vintage (``PricingMemo.lines_of``, which ``_not_lines`` has filled already)."""
    memo = _KeyMemo() if memo is None else memo
    new = np.array([c for c in dict.fromkeys(codes) if c not in memo.kind_of_code], dtype=object)
    if len(new):
        found = products.index.matches(new)
        found = found[found["layer_id"].isin(layer_ids)]
        columns = ["layer_id", "role", "set_name", "start", "end", "match", "condition"]
        # Rows alike (all but the prefix) are described once: the frame has many rows per description.
        group = found.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
        alike = found.iloc[np.unique(group, return_index=True)[1]]
        described = zip(*(alike[c].where(alike[c].notna(), None).tolist() for c in columns))
        row_id = np.array([memo.row_id.setdefault(d, len(memo.row_id)) for d in described], dtype=np.int64)
        row_kind = row_id[group] if len(group) else np.zeros(0, dtype=np.int64)
        new_index = pd.Index(new)
        code_at = new_index.get_indexer(found["code"])
        order = np.lexsort((row_kind, code_at))
        code_at, row_kind = code_at[order], row_kind[order]
        signature = [b""] * len(new)
        # each code's sorted rows as bytes: a slice of the bytes of all of them
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(code_at)) + 1, [len(code_at)])) if len(code_at) \
            else np.zeros(1, dtype=np.int64)
        everything, width = row_kind.tobytes(), row_kind.itemsize
        for position, lo, hi in zip(code_at[bounds[:-1]].tolist(), bounds[:-1].tolist(), bounds[1:].tolist()):
            signature[position] = everything[lo * width:hi * width]
        for position in np.unique(new_index.get_indexer(found.loc[found["match"] == "partial", "code"])):
            signature[position] = b"partial:" + new[position].encode()
        for position in np.flatnonzero([len(c) < 10 for c in new]):  # it stands for the lines under it
            signature[position] = b"lines:" + new[position].encode()
        lines_of = lines_of or (lambda c: products.schedules.stands_for_lines(imposer, c))
        lines_in = lines_of(new) if imposer is not None else None
        if lines_in is not None:
            for position, vintages in enumerate(lines_in):
                signature[position] += b"in:" + vintages.tobytes()
        # Codes on a layer charged on a metal content are alike only if their estimated contents are.
        content_layers = {layer.id for layer in products.engine.dataset.layers if any(s.content for s in layer.steps)}
        on = found.loc[(found["role"] == "cover") & found["layer_id"].isin(content_layers), "code"].unique()
        for estimates in products.index.content_estimates():
            if len(on):
                shares = estimates.shares(on).to_numpy()
                for position, row in zip(new_index.get_indexer(on), shares):
                    signature[position] += b"content:" + row.tobytes()
        made = []  # positions in ``new`` of the codes that are the first of a new kind
        for position, (code, s) in enumerate(zip(new, signature)):
            kind = memo.kind_of_signature.setdefault(s, len(memo.kind_of_signature))
            if kind == len(memo.reps):
                memo.reps.append(code)
                made.append(position)
            memo.kind_of_code[code] = kind
        _describe_kinds(memo, found, new_index, signature, made, lines_in)
    return np.array([memo.kind_of_code[c] for c in codes], dtype=np.int64)


def _describe_kinds(memo: _KeyMemo, found: pd.DataFrame, new_index: pd.Index, signature: list, made: list,
                    lines_in: np.ndarray | None) -> None:
    """What the change dates of each new kind depend on (``_Changes.of_kind``): the layers its
    rows name, its rows' dates, the vintages it has lines in. A kind that stands for the lines under
    it, or matches a list row in part, takes every change date of its direction."""
    position = new_index.get_indexer(found["code"])
    take = np.flatnonzero(np.isin(position, made))
    take = take[np.argsort(position[take], kind="stable")]
    at_row = position[take]
    layer = found["layer_id"].to_numpy(dtype=object)[take]
    start, end = (found[c].to_numpy("datetime64[D]")[take] for c in ("start", "end"))
    lo, hi = np.searchsorted(at_row, made, side="left"), np.searchsorted(at_row, made, side="right")
    for at, a, b in zip(made, lo.tolist(), hi.tolist()):
        if signature[at].startswith((b"lines:", b"partial:")):
            memo.kind_dates.append(None)
            continue
        dates = np.concatenate([start[a:b], end[a:b]])
        memo.kind_dates.append((frozenset(layer[a:b].tolist()), dates[~np.isnat(dates)],
                                None if lines_in is None else lines_in[at]))


def entry_assumptions(ledger: Ledger, products: ProductEngine) -> tuple[list[Contents], np.ndarray]:
    """What each entry asserts, as ``rate --assume … --content …`` would: the conditions of its
    ``assume`` column (ids separated by ';') and the shares of customs_value its ``*_value``
    columns declare (``steel_value`` 200 on 1,000: steel=0.2), on top of the engine's own (a
    convention's). Returns the distinct assertions, the first being the engine's (entries that
    assert nothing), and the number of each entry's."""
    entries, base = ledger.entries, products.assume
    metals = [m for m in CONTENTS if f"{m}_value" in entries]
    if "assume" not in entries and not metals:
        return [base], np.zeros(len(entries), dtype=np.int64)
    parts = {}
    if "assume" in entries:
        parts["assume"] = entries["assume"].cat.codes.to_numpy().astype(np.int64)
    value = entries["customs_value"].to_numpy(dtype=float)
    for metal in metals:
        with np.errstate(divide="ignore", invalid="ignore"):  # nothing of no value: a share of 0
            parts[metal] = np.where(value > 0, entries[f"{metal}_value"].to_numpy(dtype=float) / value, 0.0)
        parts[metal][np.isnan(entries[f"{metal}_value"].to_numpy(dtype=float))] = np.nan
    frame = pd.DataFrame(parts)
    number = frame.groupby(list(parts), dropna=False, sort=False).ngroup().to_numpy()
    distinct = frame.groupby(list(parts), dropna=False, sort=False).head(1)
    texts = list(entries["assume"].cat.categories) if "assume" in entries else []
    assumed, of_group = [base], np.zeros(len(distinct), dtype=np.int64)
    for group, row in zip(number[distinct.index.to_numpy()], distinct.itertuples(index=False)):
        row = row._asdict()
        ids = frozenset(condition_ids(texts[row["assume"]])) if row.get("assume", -1) >= 0 else frozenset()
        shares = {m: float(row[m]) for m in metals if not pd.isna(row[m])}
        if ids or shares:
            of_group[group] = len(assumed)
            assumed.append(Contents({**base.shares, **shares}, base.conditions | ids))
    return assumed, of_group[number]


def _price_layers(products: ProductEngine, ledger: Ledger, codes: np.ndarray, code_at: np.ndarray,
                  days: Days, include_threatened: bool, memo: PricingMemo | None = None):
    """The layer rows bearing on the entries, each with its ``key``, and the key of each entry.

    A key is (origin, kind of code, period): origins differ in the layers that apply (the US
    charges some on goods of China but not of Hong Kong), and a period runs between the change
    dates that bear on the kind for the origin (``_Changes.of_kind``, ``_Periods``). Each key
    is answered once (``ProductEngine.answer_pairs``) and kept in ``memo`` for later chunks; the
    keys of this ledger are numbered from 0 in key order. Also returns the first day and the day
    after the last of the period of every key, and the keys whose lines get different duties."""
    memo = PricingMemo() if memo is None else memo
    origin_at = ledger.entries["origin"].cat.codes.to_numpy()
    origins = list(ledger.entries["origin"].cat.categories)
    layer_ids = set().union(*(products.engine.direction_steps(direction_with_origin(ledger.direction, o))["layer_id"]
                              for o in origins))
    keys = memo.key_memo(ledger.direction, include_threatened, layer_ids)
    present = np.flatnonzero(np.bincount(code_at, minlength=len(codes)))
    kind_of_code = np.zeros(len(codes), dtype=np.int64)
    imposer = DIRECTIONS[ledger.direction].imposer
    kind_of_code[present] = _kinds(products, codes[present], layer_ids, imposer, keys,  # alike for every origin
                                   lambda c: memo.lines_of(products.schedules, imposer, c))
    for origin in origins:
        if origin not in keys.changes:
            keys.changes[origin] = _Changes(products, direction_with_origin(ledger.direction, origin))
    changes = [keys.changes[origin] for origin in origins]
    if any(len(c.all) >= 1 << _KeyMemo.ORIGIN for c in changes):
        raise ValueError("more change dates than a pricing key holds")
    # A block is an origin with what its entries assert (the ledger's assume and *_value columns);
    # a ledger without those columns has its origins as blocks. A block is a group of answer_pairs.
    assumed, assume_at = entry_assumptions(ledger, products)
    if len(assumed) == 1:
        block_at, block_pairs = origin_at.astype(np.int64), np.arange(len(origins), dtype=np.int64)
    else:
        block_at, block_pairs = pd.factorize(origin_at.astype(np.int64) * len(assumed) + assume_at, sort=True)
        block_at = block_at.astype(np.int64)
    block_origin, block_assume = block_pairs // len(assumed), block_pairs % len(assumed)
    names = [(origins[o], tuple(sorted(assumed[a].conditions)), tuple(sorted(assumed[a].shares.items())))
             for o, a in zip(block_origin, block_assume)]
    number = np.array([keys.origins.setdefault(n, len(keys.origins)) for n in names], dtype=np.int64)
    if len(keys.origins) > _KeyMemo.BLOCKS:
        raise ValueError("more distinct assertions than a pricing key holds")
    directions = {int(n): direction_with_origin(ledger.direction, origins[o]) for n, o in zip(number, block_origin)}
    assumes = {int(n): assumed[a] for n, a in zip(number, block_assume)}
    if not len(code_at):
        empty = np.zeros(0, dtype="datetime64[D]")
        return pd.DataFrame(columns=[*LAYER_FIELDS, "transit_loaded", "transit_entered", "transit_rate", "key"]), \
            np.zeros(0, dtype=np.int64), (empty, empty), np.zeros(0, dtype=np.int64)
    entry_kind = kind_of_code[code_at]
    periods = _Periods(keys, changes, origins, np.unique(kind_of_code[present]))
    full = (entry_kind << _KeyMemo.KIND) | (number[block_at] << _KeyMemo.ORIGIN) \
        | periods.of(entry_kind, origin_at, days)
    used, key = _unique(full, inverse=True)
    kind_of, block_of = used >> _KeyMemo.KIND, (used >> _KeyMemo.ORIGIN) & _KeyMemo.BLOCKS
    period_of = used & ((1 << _KeyMemo.ORIGIN) - 1)
    local_origin = block_origin[pd.Index(number).get_indexer(block_of)]
    first_day, end_day = periods.bounds(kind_of, local_origin, period_of)

    gid = keys.gids(used)
    if (gid < 0).any():
        at = np.flatnonzero(gid < 0)
        new = used[at]
        pairs = pd.DataFrame({"group": block_of[at],
                              "code": np.asarray(keys.reps, dtype=object)[kind_of[at]],
                              "date": first_day[at].astype("datetime64[ns]")})
        pairs["_full"] = new
        # The one evaluation path (ProductEngine.answer_pairs): each code's schedule lines, folded.
        answers = products.answer_pairs(pairs[["group", "code", "date"]], directions, include_threatened,
                                        explain=False, assume=assumes)
        lookup = pairs.set_index(["group", "code", "date"])["_full"]

        def full_of(frame):
            return lookup.reindex(pd.MultiIndex.from_frame(frame[["group", "code", "date"]])).to_numpy(dtype=np.int64)

        frame = answers.layers[answers.layers["bears"].astype(bool)].reset_index(drop=True)
        frame["_full"] = full_of(frame)
        varies = set(frame.loc[frame["varies"].astype(bool), "_full"].tolist())
        varies |= set(full_of(answers.totals)[answers.totals["varies"].to_numpy(dtype=bool)].tolist())
        frame = frame.merge(products.transit, on=["layer_id", "step"], how="left")
        columns = LAYER_FIELDS + ["transit_loaded", "transit_entered", "transit_rate"]
        gid = keys.add(new)
        frame["_gid"] = gid[np.searchsorted(new, frame["_full"].to_numpy(dtype=np.int64))]  # new is sorted
        frame = frame.sort_values("_gid", kind="stable")[columns + ["_gid"]].reset_index(drop=True)
        count = np.bincount(frame["_gid"].to_numpy() - gid[0], minlength=len(gid))
        first = keys.n_rows + np.cumsum(count) - count
        keys.first.extend(first.tolist())
        keys.count.extend(count.tolist())
        keys.varies.extend(k in varies for k in new.tolist())
        keys.parts.append(frame[columns])
        keys.n_rows += len(frame)

    gid = keys.gids(used)
    first, count = np.asarray(keys.first, dtype=np.int64)[gid], np.asarray(keys.count, dtype=np.int64)[gid]
    take = np.repeat(first - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))
    frame = keys.rows().iloc[take].reset_index(drop=True)
    frame["key"] = np.repeat(np.arange(len(used), dtype=np.int64), count)
    varying = np.flatnonzero(np.asarray(keys.varies, dtype=bool)[gid])
    return frame, key, (first_day, end_day), varying


class _Periods:
    """The period of each (kind, origin, day): the number of the last change date of the kind for
    the origin (``_Changes.of_kind``) on or before the day. One sorted array holds every (kind,
    origin) slot's dates as slot << 16 | days since EARLIEST (``bounds``). A slot's dates are
    some of its origin's change dates (``_Changes.all``), so ``rank`` holds, for every slot and
    every change date of its origin, the period it begins: an entry's period is the rank of the
    last change date on or before its day, two lookups (``of``)."""

    def __init__(self, keys: _KeyMemo, changes: list, origins: list, kinds: np.ndarray):
        self.slot_of_kind = np.full(len(keys.reps), -1, dtype=np.int64)
        self.slot_of_kind[kinds] = np.arange(len(kinds))
        self.n_origins = len(origins)
        tables = []
        for kind in kinds.tolist():
            for origin, change in zip(origins, changes):
                dates = keys.periods.get((kind, origin))
                if dates is None:
                    facts = keys.kind_dates[kind]
                    dates = change.all if facts is None else change.of_kind(*facts)
                    dates = keys.periods.setdefault((kind, origin), (dates - np.datetime64(EARLIEST, "D")).astype(np.int64))
                tables.append(dates)
        self.count = np.array([len(t) for t in tables], dtype=np.int64)
        self.first = np.cumsum(self.count) - self.count
        self.dates = np.concatenate([(slot << 16) | t for slot, t in enumerate(tables)]) if tables \
            else np.zeros(0, dtype=np.int64)
        self.changes = [(c.all - np.datetime64(EARLIEST, "D")).astype(np.int64) for c in changes]
        self.width = max([len(c) for c in self.changes] + [1])
        marks = np.zeros((len(tables), self.width), dtype=np.int32)  # slot x its origin's change dates
        slot_at = np.repeat(np.arange(len(tables)), self.count)
        for number, days in enumerate(self.changes):  # every slot's dates are among its origin's
            mine = slot_at % self.n_origins == number
            marks[slot_at[mine], np.searchsorted(days, self.dates[mine] & 0xFFFF)] = 1
        self.rank = np.maximum(np.cumsum(marks, axis=1) - 1, 0).ravel()

    def _slots(self, kind: np.ndarray, origin: np.ndarray) -> np.ndarray:
        return self.slot_of_kind[kind] * self.n_origins + origin

    def of(self, kind: np.ndarray, origin: np.ndarray, days: Days) -> np.ndarray:
        """The period of each (kind, origin number) on the entries' ``days``; a day before the
        first date is in period 0."""
        since = (days.span - np.datetime64(EARLIEST, "D")).astype(np.int64)
        last = np.stack([np.searchsorted(c, since, side="right") - 1 for c in self.changes]).clip(min=0) \
            if self.changes else np.zeros((1, len(since)), dtype=np.int64)  # origin x day of the span
        return self.rank[self._slots(kind, origin) * self.width + last[origin, days.offset]]

    def bounds(self, kind: np.ndarray, origin: np.ndarray, period: np.ndarray):
        """The first day of each period and the day after its last (after the last: LATEST + 1)."""
        slot = self._slots(kind, origin)
        at = self.first[slot] + period
        earliest = np.datetime64(EARLIEST, "D")
        first = earliest + (self.dates[at] & 0xFFFF) if len(at) else np.zeros(0, dtype="datetime64[D]")
        last = period + 1 >= self.count[slot]
        after = self.dates[np.where(last, at, at + 1)] & 0xFFFF if len(at) else np.zeros(0, dtype=np.int64)
        end = np.where(last, np.datetime64(LATEST, "D") + 1, earliest + after)
        return first, end


def _transit_pairs(result: DutyResult) -> tuple[np.ndarray, np.ndarray]:
    """The (entry, layer row) lines on which the in-transit rule of the layer's step holds: the
    layer applies, the entry was exported before one date and entered before another."""
    layers, entries = result.layers, result.entries
    ruled = layers["applies"].to_numpy(dtype=bool) & ~np.isnan(result.transit_rate)
    if not ruled.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    key_ruled = np.bincount(layers["key"].to_numpy(dtype=np.int64)[ruled], minlength=len(result.key_rows)) > 0
    exported = entries["export_date"].to_numpy("datetime64[ns]")
    candidates = np.flatnonzero(key_ruled[result.key] & ~np.isnat(exported))
    entry, layer = result.expand(candidates)
    keep = ruled[layer]
    entry, layer = entry[keep], layer[keep]
    held = transit_holds(np.ones(len(entry), dtype=bool), exported[entry],
                         entries["entry_date"].to_numpy("datetime64[ns]")[entry],
                         layers["transit_loaded"].to_numpy("datetime64[ns]")[layer],
                         layers["transit_entered"].to_numpy("datetime64[ns]")[layer])
    return entry[held], layer[held]


# -- MFN -------------------------------------------------------------------------------------

class MfnCase(enum.IntEnum):
    """How the MFN duty of a (code, vintage) pair is found; its reason ends with ``MFN_SUFFIX``."""

    COMPUTED = 0  # ad valorem (a specific duty computed from quantity is worded per entry)
    EQUIVALENT_NO_QUANTITY = 1  # specific/compound, no quantity: the ad-valorem equivalent
    EQUIVALENT = 2  # compound or not computable from quantity: the ad-valorem equivalent
    UNKNOWN_NO_QUANTITY = 3  # specific/compound, no equivalent, no quantity: not computed
    UNKNOWN = 4  # no ad-valorem rate or equivalent: not computed


MFN_SUFFIX = {
    MfnCase.COMPUTED: "",
    MfnCase.EQUIVALENT_NO_QUANTITY: "; specific/compound duty not computed (no quantity): ad-valorem equivalent used",
    MfnCase.EQUIVALENT: "; specific/compound duty not computed: ad-valorem equivalent used",
    MfnCase.UNKNOWN_NO_QUANTITY: "; MFN duty not computed (not ad valorem, no ad-valorem equivalent, no quantity)",
    MfnCase.UNKNOWN: "; MFN duty not computed (not ad valorem, no ad-valorem equivalent)",
}


def _mfn_lines(products: ProductEngine, imposer: str, codes: np.ndarray, code_at: np.ndarray,
               vintage_at: np.ndarray) -> dict:
    """The MFN line of each (code ``codes[code_at]``, vintage) pair: rate (ad valorem or
    equivalent), basis, the specific part (per_unit, unit, spec_adv) and the label shown as the reason."""
    schedules = products.schedules
    vintages = [v for v in schedules.vintages if v.imposer == imposer]
    keys = code_keys(codes)
    parents = code_keys([c[:8] if len(c) == 10 else "" for c in codes])
    n = len(code_at)
    out = {"rate": np.full(n, np.nan), "basis": np.full(n, "unknown", dtype=object), "per_unit": np.full(n, np.nan),
           "unit": np.full(n, "", dtype=object), "spec_adv": np.full(n, np.nan),
           "label": np.full(n, f"MFN unknown: no {imposer} schedule in the data", dtype=object)}
    for number in np.unique(vintage_at) if vintages else []:
        vintage = vintages[number]
        here = np.flatnonzero(vintage_at == number)
        table = schedules.duty_table(vintage)
        # Schedules.mfn's order: the code's own line, else the lines under it (priced below, one
        # code at a time), else a 10-digit code's 8-digit line.
        exact = table.index.get_indexer(keys[code_at[here]])
        under = np.zeros(len(here), dtype=bool)
        missing = np.flatnonzero(exact < 0)
        under[missing] = schedules.has_lines_under(vintage, codes[code_at[here[missing]]])
        line = np.where(exact >= 0, exact, np.where(under, -1, table.index.get_indexer(parents[code_at[here]])))
        found = line >= 0
        lines = table.iloc[line[found]]
        fill = here[found]
        for column in ("rate", "basis", "per_unit", "unit", "spec_adv"):
            out[column][fill] = lines[column].to_numpy()
        notes = np.full(len(fill), "", dtype=object)
        by_parent = np.flatnonzero(exact[found] < 0)
        label = vintage.label
        notes[by_parent] = ["; " + parent_used(c, vintage) for c in codes[code_at[fill[by_parent]]]]
        out["label"][fill] = "MFN " + lines["general"].to_numpy(dtype=object) + f" ({label}" + notes + ")"
        for position in here[~found & ~under]:
            out["label"][position] = f"MFN unknown: {not_in(codes[code_at[position]], vintage)}"
        for position in here[under]:  # the lines under the code: one rate if they share it
            code = codes[code_at[position]]
            mfn, _v, note = schedules.mfn(imposer, code, vintage.start)
            if mfn is None:
                out["label"][position] = f"MFN unknown: {note}"
            else:
                out["rate"][position] = np.nan if mfn.rate is None else mfn.rate
                out["basis"][position] = mfn.basis
                specific = parse_specific(mfn.general) if vintage.specific_duties else None
                if specific:
                    out["per_unit"][position], out["unit"][position], out["spec_adv"][position] = specific
                out["label"][position] = f"MFN {mfn.general} ({label}{'; ' + note if note else ''})"
    return out


def _memo_mfn_lines(products: ProductEngine, imposer: str, codes: np.ndarray, code_at: np.ndarray,
                    vintage_at: np.ndarray, memo: PricingMemo | None, n_vintages: int) -> dict:
    """``_mfn_cases`` of ``_mfn_lines``, each (code, vintage) worked out once across the chunks
    sharing ``memo``; ``n_vintages`` is the imposer's (at least 1, as ``_mfn`` numbers pairs).
    The pairs asked must be distinct."""
    if memo is None or not len(code_at):
        return _mfn_cases(_mfn_lines(products, imposer, codes, code_at, vintage_at))
    store = memo.mfn.setdefault(imposer, _MfnMemo())
    numbers = store.code_number
    code_number = np.array([numbers.setdefault(c, len(numbers)) for c in codes], dtype=np.int64)
    if len(store.row) < len(numbers) * n_vintages:  # room for the codes met now
        store.row = np.concatenate([store.row, np.full(len(numbers) * n_vintages - len(store.row), -1, np.int64)])
    pair = code_number[code_at] * n_vintages + vintage_at
    new = np.flatnonzero(store.row[pair] < 0)
    if len(new):
        found = _mfn_cases(_mfn_lines(products, imposer, codes, np.asarray(code_at)[new], np.asarray(vintage_at)[new]))
        store.row[pair[new]] = store.size + np.arange(len(new))
        store.size += len(new)
        store.arrays = found if store.arrays is None else {
            name: np.concatenate([store.arrays[name], found[name]]) for name in found}
    row = store.row[pair]
    return {name: values[row] for name, values in store.arrays.items()}


def _mfn_cases(mfn: dict) -> dict:
    """``mfn`` (``_mfn_lines``) with the ``MfnCase`` of each pair and its reason text (the label
    and the case's suffix): they depend on the pair only."""
    rate, specific = mfn["rate"], ~np.isnan(mfn["per_unit"])
    ave = np.array([str(b).startswith("ave") for b in mfn["basis"]], dtype=bool) & ~np.isnan(rate)
    unknown = np.isnan(rate)
    case = np.select([ave & specific, ave, unknown & specific, unknown],
                     [MfnCase.EQUIVALENT_NO_QUANTITY, MfnCase.EQUIVALENT, MfnCase.UNKNOWN_NO_QUANTITY, MfnCase.UNKNOWN],
                     MfnCase.COMPUTED)
    text = mfn["label"].copy()
    for c in np.unique(case[case != MfnCase.COMPUTED]):
        text[case == c] += MFN_SUFFIX[MfnCase(c)]
    return {**mfn, "case": case, "text": text}


def _mfn(products: ProductEngine, imposer: str, codes: np.ndarray, code_at: np.ndarray, days: Days,
         value: np.ndarray, quantity: np.ndarray, memo: PricingMemo | None = None):
    """Per entry (its code ``codes[code_at]``, day, customs value and quantity): MFN rate shown,
    MFN duty (NaN if it cannot be computed) and reason; plus the counts of its notes (``_mfn_notes``).

    Everything but a specific duty computed from quantity depends only on the (code, vintage)
    pair, so it is worked out per pair and taken per entry."""
    starts = np.array([v.start for v in products.schedules.vintages if v.imposer == imposer], dtype="datetime64[D]")
    n_vintages = max(len(starts), 1)
    pair = code_at * n_vintages
    if len(starts):
        pair += days.lookup(np.maximum(days.periods(starts), 0))  # before the first vintage: the first
    per_pair = np.bincount(pair, minlength=len(codes) * n_vintages)
    used = np.flatnonzero(per_pair)
    at = np.zeros(len(codes) * n_vintages, dtype=np.int32)
    at[used] = np.arange(len(used))
    at = at[pair]
    del pair
    mfn = _memo_mfn_lines(products, imposer, codes, used // n_vintages, used % n_vintages, memo, n_vintages)

    rate, per_unit, case, text = mfn["rate"], mfn["per_unit"], mfn["case"], mfn["text"]
    specific = ~np.isnan(per_unit)

    shown = rate[at]
    duty = np.multiply(value, shown)
    duty /= 100
    maybe = np.flatnonzero(specific[at])
    by_quantity = maybe[~np.isnan(quantity[maybe])]  # a simple specific duty and its quantity
    line = at[by_quantity]
    duty[by_quantity] = (quantity[by_quantity] * per_unit[line]
                         + value[by_quantity] * mfn["spec_adv"][line] / 100)
    with np.errstate(divide="ignore", invalid="ignore"):
        shown[by_quantity] = np.where(value[by_quantity] > 0, duty[by_quantity] / value[by_quantity] * 100, np.nan)
    # The reason, as a categorical over the distinct texts: the pair's text, or one of its own
    # for an entry whose specific duty was computed from its quantity.
    own = [f"{label}: quantity {q:g} {unit} (in the unit of the duty)" for label, q, unit
           in zip(mfn["label"][line], quantity[by_quantity], mfn["unit"][line])]
    number, texts = pd.factorize(np.concatenate([text, np.array(own, dtype=object)]))
    reason_at = number.astype(np.int32)[at]
    reason_at[by_quantity] = number[len(text):]
    reason = pd.Categorical.from_codes(reason_at, categories=pd.Index(texts, dtype=object))

    per_case = (np.bincount(case, weights=per_pair[used], minlength=len(MfnCase)).astype(np.int64)
                - np.bincount(case[line], minlength=len(MfnCase)))
    counts = np.array([per_case[MfnCase.EQUIVALENT_NO_QUANTITY] + per_case[MfnCase.EQUIVALENT],
                       per_case[MfnCase.UNKNOWN_NO_QUANTITY] + per_case[MfnCase.UNKNOWN], len(by_quantity)], dtype=np.int64)
    return shown, duty, reason, counts


HAVE = ("has", "have")


def _mfn_notes(counts: np.ndarray) -> list[str]:
    """The notes of ``_mfn``'s counts: (equivalent used, not computed, computed from quantity)."""
    notes = []
    if counts[0]:
        notes.append(f"{entries_text(int(counts[0]), HAVE)} a specific or compound MFN duty that was not "
                     "computed: the ad-valorem equivalent was used (give quantity, in the unit of the duty, for simple ones)")
    if counts[1]:
        notes.append(f"{entries_text(int(counts[1]), HAVE)} an MFN duty the data cannot compute "
                     "(specific/compound without quantity or equivalent, or a code not in the schedule): "
                     "left out of the totals")
    if counts[2]:
        notes.append(f"{entries_text(int(counts[2]), HAVE)} a specific MFN duty computed from quantity")
    return notes


# -- pricing ---------------------------------------------------------------------------------

def _not_lines(ledger: Ledger, products: ProductEngine, memo: PricingMemo | None = None
               ) -> tuple[np.ndarray, list[str]]:
    """Entries whose code stands for no line of the schedule in force on their date, and why.

    Each distinct (code, vintage) pair is resolved once, as integers: the schedule's lines for
    every pair at once, then, for the few pairs with none, the product lists of each origin
    (``ProductEngine.resolve``); the verdict is broadcast to the entries by pair number."""
    imposer = DIRECTIONS[ledger.direction].imposer
    schedules = products.schedules
    entries = ledger.entries
    vintages, _ = schedules.vintage_numbers(imposer, [])
    if not len(entries) or not vintages:
        return np.zeros(0, dtype=np.int64), []
    starts = np.array([v.start for v in vintages], dtype="datetime64[D]")
    days = Days(entries["entry_date"].to_numpy("datetime64[D]"))
    vintage_at = days.lookup(np.maximum(days.periods(starts), 0))
    codes = entries["code"].cat.categories.to_numpy(dtype=object)
    code_at = entries["code"].cat.codes.to_numpy().astype(np.int64)
    pair = code_at * len(starts) + vintage_at
    used = np.flatnonzero(np.bincount(pair, minlength=len(codes) * len(starts)))  # few pairs: counted, not hashed
    memo = PricingMemo() if memo is None else memo
    lost = ~memo.lines_of(schedules, imposer, codes)[used // len(starts), used % len(starts)]
    if lost.any():  # a product list in force may name the code in full: a line of its date
        for origin in entries["origin"].cat.categories:
            if not lost.any():
                break
            at = np.flatnonzero(lost)
            lost[at] = ~memo.named_in_full(products, direction_with_origin(ledger.direction, origin),
                                           codes[used[at] // len(starts)],
                                           starts[used[at] % len(starts)].astype("datetime64[ns]"))
    if not lost.any():
        return np.zeros(0, dtype=np.int64), []
    bad = np.flatnonzero(np.isin(pair, used[lost]))
    lost_pairs, first = _unique(pair[bad], index=True)
    day_of = days.span[days.offset[bad[first]]].astype(date)  # the day of the pair's first entry
    reason_of = dict(zip(lost_pairs, (schedules.not_a_line(imposer, codes[p // len(starts)], d)
                                      for p, d in zip(lost_pairs, day_of))))
    return bad, [reason_of[p] for p in pair[bad]]


def _unknown_conditions(ledger: Ledger, products: ProductEngine) -> tuple[np.ndarray, list[str]]:
    """Entries whose ``assume`` names a condition the data does not declare, and why."""
    if "assume" not in ledger.entries:
        return np.zeros(0, dtype=np.int64), []
    known = products.index.conditions
    texts = ledger.entries["assume"].cat.categories
    why = {}
    for number, text in enumerate(texts):
        unknown = [c for c in condition_ids(text) if c not in known]
        if unknown:
            why[number] = f"{text!r}: unknown condition {unknown[0]!r} (known: {', '.join(sorted(known))})"
    if not why:
        return np.zeros(0, dtype=np.int64), []
    at = ledger.entries["assume"].cat.codes.to_numpy()
    bad = np.flatnonzero(np.isin(at, list(why)))
    return bad, [why[int(n)] for n in at[bad]]


def compute_duties(ledger: Ledger, products: ProductEngine, include_threatened: bool = False,
                   as_of: date | None = None, interest_payer: str | None = None,
                   memo: PricingMemo | None = None) -> DutyResult:
    """Price every entry of ``ledger``: MFN, each layer bearing on it (with the reason), the totals,
    and the refund of each entry (route, deadline, interest) on ``as_of`` (default today), with
    interest at the ``interest_payer`` rates (default: each refund program's).

    An entry whose code stands for no line of the schedule in force on its date, or for lines
    that get different duties, cannot be priced: it is a bad row (``ledger.reject_rows``: an
    error, or with ``skip_bad`` a reject). ``memo`` (a ``PricingMemo``) keeps what is worked out
    once per distinct code and key for the next parts of the same ledger: give the same one to
    every chunk; the result does not depend on it."""
    memo = PricingMemo() if memo is None else memo
    ledger = reject_rows(ledger, *_unknown_conditions(ledger, products), Problem.ASSUME_UNKNOWN_CONDITION,
                         field="assume")
    ledger = reject_rows(ledger, *_not_lines(ledger, products, memo), Problem.HTS_NOT_A_LINE)
    result = _compute_duties(ledger, products, include_threatened, as_of, interest_payer, memo)
    if len(result.varying):
        bad = np.flatnonzero(np.isin(result.key, result.varying))
        codes = result.entries["code"].to_numpy(dtype=object)[bad]
        days = result.entries["entry_date"].dt.date.to_numpy()[bad]
        reasons = [f"{c} stands for schedule lines that get different duties on {t}: give the full line code"
                   for c, t in zip(codes, days)]
        result = _compute_duties(reject_rows(ledger, bad, reasons, Problem.HTS_LINES_DIFFER), products,
                                 include_threatened, as_of, interest_payer, memo)
    return result


def _compute_duties(ledger: Ledger, products: ProductEngine, include_threatened: bool = False,
                    as_of: date | None = None, interest_payer: str | None = None,
                    memo: PricingMemo | None = None) -> DutyResult:
    from . import refunds

    base = DIRECTIONS[ledger.direction]
    entries = ledger.entries
    codes = entries["code"].cat.categories.to_numpy(dtype=object)
    code_at = entries["code"].cat.codes.to_numpy().astype(np.int64)
    days = Days(entries["entry_date"].to_numpy("datetime64[D]"))
    frame, key, key_days, varying = _price_layers(products, ledger, codes, code_at, days, include_threatened,
                                                  memo)
    columns = LAYER_FIELDS + ["transit_loaded", "transit_entered", "transit_rate", "key"]
    layers = frame[columns].sort_values("key", kind="stable").reset_index(drop=True)
    empty = np.zeros(0, dtype=np.int64)
    result = DutyResult(ledger, base, entries, layers, key, key_days, empty, empty)
    result.varying = varying
    result.transit_entry, result.transit_layer = _transit_pairs(result)

    # The additional rate of an entry is the sum over its key's rows, but where a transit rate holds.
    value = result.value
    rate = np.bincount(layers["key"].to_numpy(dtype=np.int64), weights=result.charged,
                       minlength=len(result.key_rows))[key]
    if len(result.transit_entry):
        np.add.at(rate, result.transit_entry,
                  result.transit_rate[result.transit_layer] - result.charged[result.transit_layer])
    additional = value * rate / 100
    mfn_rate, mfn_duty, mfn_reason, mfn_counts = _mfn(products, base.imposer, codes, code_at, days, value,
                                                  entries["quantity"].to_numpy(dtype=float), memo)
    total = additional + mfn_duty  # unknown where the MFN duty is: never a total that looks known
    with np.errstate(divide="ignore", invalid="ignore"):
        total_rate = np.where(value > 0, total / value * 100, np.nan)
    result.entries = pd.DataFrame({**{c: entries[c] for c in entries}, "mfn_rate": mfn_rate, "mfn_duty": mfn_duty,
                                   "mfn_reason": mfn_reason, "additional_duty": additional, "duty_total": total,
                                   "total_rate": total_rate}, copy=False)
    result.refunds = refunds.evaluate(result, products.engine.dataset, as_of, interest_payer)
    result.totals = DutyTotals.of(result, products, days, mfn_duty, mfn_counts)
    result.products = products
    return result


# -- summary ---------------------------------------------------------------------------------

def _program_authorities(products: ProductEngine, program) -> set[str]:
    dataset = products.engine.dataset
    return {dataset.layer(layer_id).authority for layer_id in program.layers}


def litigation_status(products: ProductEngine, authority: str, imposer: str) -> str | None:
    """The litigation status (``litigation: summary`` of the refund programs in data/refunds/)
    of the program that refunds layers of an authority, if there is one."""
    for program in products.engine.dataset.refunds:
        if program.imposer == imposer and authority in _program_authorities(products, program):
            return program.litigation.summary
    return None


def _refund_programs(products: ProductEngine, imposer: str) -> list:
    """The imposer's refund programs that are not contingent on litigation."""
    return [p for p in products.engine.dataset.refunds if p.imposer == imposer and not p.contingent]


def refund_window(products: ProductEngine, imposer: str) -> tuple[date, date] | None:
    """First and last entry date of the refundable duties (the windows of data/refunds/)."""
    programs = _refund_programs(products, imposer)
    if not programs:
        return None
    return min(p.start for p in programs), max(p.end for p in programs) - timedelta(days=1)


def entries_text(count: int, verbs: tuple[str, str] | None = None) -> str:
    """'1 entry', '12,345 entries': a count of entries as the notes and summaries write it; with
    ``verbs`` (singular, plural) the verb that agrees: '1 entry has', '2 entries have'."""
    text = f"{count:,} entr{'y' if count == 1 else 'ies'}"
    return text if verbs is None else f"{text} {verbs[count != 1]}"


def _micro(amounts: np.ndarray) -> np.ndarray:
    """Amounts in millionths, as whole numbers (blanks as 0): their sums are exact (below 2**53
    millionths, about 9 billion) and so do not depend on the order of the rows, as float sums would."""
    out = np.multiply(amounts, MICRO)
    np.rint(out, out=out)
    out[np.isnan(out)] = 0
    return out


def _authority_columns(products: ProductEngine) -> list[str]:
    """MFN, then every authority of the data's layers (known ones in their order): the columns of
    the totals, the same for every part of a ledger."""
    found = {layer.authority for layer in products.engine.dataset.layers}
    return ["MFN", *[a for a in AUTHORITIES if a in found], *sorted(found - set(AUTHORITIES))]


MONTHS = np.arange(np.datetime64(EARLIEST, "M"), np.datetime64(LATEST, "M") + 1)  # every month entries can be in


@dataclass
class DutyTotals:
    """The sums a ``DutySummary`` is made of, for one part of a ledger or for many (``a + b``).

    Amounts are whole millionths (``_micro``) of each entry's duty by authority, summed by
    (month, inside the refund window): sums of whole numbers do not depend on how the entries
    are split into parts or ordered, so a ledger priced in chunks, or on a cluster, gets the totals
    of the ledger priced at once, to the cent."""

    imposer: str
    names: list  # "MFN" and the authorities (``_authority_columns``)
    grid: np.ndarray  # (2 x len(MONTHS)) x names: millionths; row 2m+1: month m inside the refund window
    counts: np.ndarray  # entries paying something to each column
    present: np.ndarray  # columns with a layer bearing on some entry
    entries_by_month: np.ndarray
    value_by_month: np.ndarray  # millionths
    mfn_counts: np.ndarray  # the counts behind the MFN notes (``_mfn_notes``)
    waived: int
    moved: int
    after_verified: int  # entries after the date the data is verified through
    rejected: int
    refunds: object  # refunds.RefundTotals
    mfn_unknown: int = 0  # entries of positive value whose MFN duty is not computed

    @classmethod
    def of(cls, result: DutyResult, products: ProductEngine, days: Days, mfn_duty: np.ndarray,
           mfn_counts: np.ndarray) -> DutyTotals:
        """The totals of one priced part. The lines are not made one by one: each entry's duty by
        authority is its value times its key's rate there; only entries with an in-transit line
        are priced line by line."""
        entries, layers, value = result.entries, result.layers, result.value
        imposer = result.direction.imposer
        names = _authority_columns(products)
        n, n_keys, n_cols = len(entries), len(result.key_rows), len(names)
        if len(layers):  # the few distinct authorities looked up, not every row's
            authority_at, authorities = pd.factorize(layers["authority"], use_na_sentinel=False)
            column = pd.Index(names).get_indexer(pd.Index(authorities).astype(str))[authority_at]
        else:
            column = np.zeros(0, int)
        layer_key = layers["key"].to_numpy(dtype=np.int64)
        present = np.zeros(n_cols, dtype=bool)
        present[column] = True
        present[0] = False

        window = refund_window(products, imposer)
        inside = np.zeros(len(days.span), dtype=np.int64)
        if window:
            inside = ((days.span >= np.datetime64(window[0])) & (days.span <= np.datetime64(window[1]))).astype(np.int64)
        month_of_day = (days.span.astype("datetime64[M]") - MONTHS[0]).astype(np.int64)
        month_of = days.lookup(month_of_day)
        bucket = days.lookup(month_of_day * 2 + inside)  # (month, inside the refund window)
        n_buckets = 2 * len(MONTHS)

        # Each key's rate by authority column, and whether it charges anything (waivable or not) there.
        per_key = np.zeros((n_keys, n_cols))
        np.add.at(per_key, (layer_key, column), result.charged)
        charges = np.zeros((n_keys, n_cols), dtype=bool)
        charges[layer_key[result.charged > 0], column[result.charged > 0]] = True
        waivable_key = np.zeros(n_keys, dtype=bool)
        waivable_key[layer_key[layers["waivable"].to_numpy(dtype=bool) & (result.charged > 0)]] = True

        grid = np.zeros((n_buckets, n_cols))
        value_micro, mfn_micro = _micro(value), _micro(mfn_duty)
        grid[:, 0] = np.bincount(bucket, weights=mfn_micro, minlength=n_buckets)
        counts = np.zeros(n_cols, dtype=np.int64)
        counts[0] = int((mfn_micro > 0).sum())
        waived = 0
        moved = np.unique(result.transit_entry)
        if n:
            still = np.ones(n, dtype=bool)
            still[moved] = False  # priced line by line below
            per_column = np.ascontiguousarray(per_key.T)  # a column's rates: a 1-d take per entry
            for c in range(1, n_cols):
                charging = per_column[c] != 0
                if not charging.any():
                    continue
                at = np.flatnonzero(charging[result.key] & still)  # the entries it charges: most pay few authorities
                terms = np.rint(value_micro[at] * per_column[c][result.key[at]] / 100)
                grid[:, c] += np.bincount(bucket[at], weights=terms, minlength=n_buckets)
            paying = np.bincount(result.key, minlength=n_keys)  # entries of positive value, but the moved ones
            not_paying = np.concatenate([np.flatnonzero(value <= 0), moved[value[moved] > 0]])
            paying -= np.bincount(result.key[not_paying], minlength=n_keys)
            counts += paying @ charges
            waived = int(paying @ waivable_key)
        if len(moved):  # entries with an in-transit line: line by line
            lines = result._priced(*result.expand(moved))
            line_column = column[lines.layer]
            terms = np.rint(value_micro[lines.entry] * lines.charged / 100)
            grid += np.bincount(bucket[lines.entry] * n_cols + line_column, weights=terms,
                                minlength=n_buckets * n_cols).reshape(n_buckets, n_cols)
            paid = (lines.duty > 0)
            pairs = np.unique(lines.entry[paid] * n_cols + line_column[paid])
            counts += np.bincount(pairs % n_cols, minlength=n_cols)
            waived += len(np.unique(lines.entry[paid & layers["waivable"].to_numpy(dtype=bool)[lines.layer]]))
        verified = products.engine.dataset.verified_through.get(imposer)
        after = 0
        if verified is not None and n:
            after = int(np.count_nonzero(days.lookup(days.span > np.datetime64(verified))))
        rejected = len(result.ledger.rejects)
        return cls(imposer, names, grid, counts, present, np.bincount(month_of, minlength=len(MONTHS)),
                   np.bincount(month_of, weights=value_micro, minlength=len(MONTHS)), np.asarray(mfn_counts),
                   waived, len(moved), after, rejected, result.refunds.totals,
                   int((np.isnan(mfn_duty) & (value > 0)).sum()))

    def __add__(self, other: DutyTotals) -> DutyTotals:
        return DutyTotals(self.imposer, self.names, self.grid + other.grid, self.counts + other.counts,
                          self.present | other.present, self.entries_by_month + other.entries_by_month,
                          self.value_by_month + other.value_by_month, self.mfn_counts + other.mfn_counts,
                          self.waived + other.waived, self.moved + other.moved,
                          self.after_verified + other.after_verified, self.rejected + other.rejected,
                          self.refunds + other.refunds, self.mfn_unknown + other.mfn_unknown)

    def with_rejected(self, rejected: int) -> DutyTotals:
        """The same totals, with ``rejected`` more rows rejected (found bad before pricing)."""
        return dataclasses.replace(self, rejected=self.rejected + rejected)

    def summary(self, products: ProductEngine, dataset=None) -> DutySummary:
        """Totals by authority and month, the refundable amount, the refunds and the notes."""
        imposer, grid, names = self.imposer, self.grid, self.names
        keep = [0, *np.flatnonzero(self.present)]
        present = [names[i] for i in keep[1:]]
        window = refund_window(products, imposer)
        refundable = 0.0
        status = {a: litigation_status(products, a, imposer) for a in present}
        for program in _refund_programs(products, imposer):
            for authority in sorted(_program_authorities(products, program) & set(present)):
                amount = float(grid[1::2, names.index(authority)].sum()) / MICRO
                refundable += amount
                status[authority] = (f"refundable: {authority} duties on entries {window[0]} to {window[1]} "
                                     f"({money.rounded(amount):,.2f} {CURRENCY[imposer]} in this ledger)")
        by_authority = pd.DataFrame({"authority": [names[i] for i in keep], "entries": self.counts[keep],
                                     "duty": grid[:, keep].sum(axis=0) / MICRO,
                                     "status": [None] + [status.get(a) for a in present]})
        by_month_grid = grid.reshape(len(MONTHS), 2, len(names)).sum(axis=1) / MICRO
        by_month = pd.DataFrame({
            "month": [str(m)[:7] for m in MONTHS],
            "entries": self.entries_by_month.astype(np.int64),
            "customs_value": self.value_by_month / MICRO,
            "duty_total": grid[:, keep].reshape(len(MONTHS), 2, len(keep)).sum(axis=(1, 2)) / MICRO,
        })
        for i in keep:
            by_month[names[i]] = by_month_grid[:, i]
        by_month = by_month[by_month["entries"] > 0].reset_index(drop=True)

        notes = _mfn_notes(self.mfn_counts)
        verified = products.engine.dataset.verified_through.get(imposer)
        if self.after_verified:
            notes.append(f"{imposer} data verified through {verified}; entries after that date may miss later actions")
        if self.waived:
            notes.append(f"{entries_text(self.waived, ('includes', 'include'))} duties that may be waived (exclusions granted on "
                         "application): counted as charged")
        if self.moved:
            notes.append(f"an in-transit rate applied to {entries_text(self.moved)} (exported and entered before the "
                         "dates of the step)")
        refunds = self.refunds.summary(dataset or products.engine.dataset)
        entries = int(self.entries_by_month.sum())
        return DutySummary(entries, self.rejected, float(self.value_by_month.sum()) / MICRO,
                           float(grid[:, keep].sum()) / MICRO, CURRENCY[imposer], by_authority, refundable, window,
                           by_month, notes + refunds.notes, refunds, mfn_unknown=self.mfn_unknown)


# -- per-entry frames ------------------------------------------------------------------------

def line_reasons(result: DutyResult, lines: Lines) -> np.ndarray:
    """The reason of each layer line of ``lines`` (``result.line_arrays``): its layer's reason, plus
    the in-transit note where the in-transit rate applied."""
    layers = result.layers
    texts = layers["reason"].to_numpy(dtype=object)
    reason = texts[lines.layer]
    moved = np.flatnonzero(lines.transit)
    if len(moved):  # each layer row's note written once: its lines are many
        rows, at = np.unique(lines.layer[moved], return_inverse=True)
        picked = layers.iloc[rows]
        noted = [r + transit_note(a, b, rate) for r, a, b, rate in
                 zip(texts[rows], picked["transit_loaded"], picked["transit_entered"], picked["transit_rate"])]
        reason[moved] = np.array(noted, dtype=object)[at]
    return reason


def _column(chunk: pd.DataFrame, name: str) -> np.ndarray:
    values = chunk[name]
    return values.to_numpy(dtype=object) if isinstance(values.dtype, pd.CategoricalDtype) else values.to_numpy()


def lines_frame(result: DutyResult, start: int, stop: int) -> pd.DataFrame:
    """Tidy lines of entries start..stop: per entry an MFN row, its layer rows, a total row."""
    layers = result.layers
    lines = result.line_arrays(start, stop)
    chunk = result.entries.iloc[start:stop]
    positions = np.arange(start, stop)
    parts = [
        pd.DataFrame({"_pos": positions, "_kind": 0, "kind": "mfn", "layer_id": "mfn", "name": "MFN", "authority": "MFN",
                      "rate": chunk["mfn_rate"].to_numpy(), "applies": chunk["mfn_duty"].notna().to_numpy(),
                      "charged": chunk["mfn_rate"].to_numpy(), "duty": chunk["mfn_duty"].to_numpy(),
                      "reason": chunk["mfn_reason"].to_numpy()}),
        pd.DataFrame({"_pos": lines.entry, "_kind": 1, "kind": "layer",
                      **{c: layers[c].to_numpy()[lines.layer] for c in ("layer_id", "name", "authority", "rate", "applies")},
                      "charged": lines.charged, "duty": lines.duty, "reason": line_reasons(result, lines)}),
        pd.DataFrame({"_pos": positions, "_kind": 2, "kind": "total", "layer_id": "", "name": TOTAL_NAME, "authority": "",
                      "rate": np.nan, "applies": True, "charged": chunk["total_rate"].to_numpy(),
                      "duty": chunk["duty_total"].to_numpy(),
                      "reason": np.where(chunk["duty_total"].isna().to_numpy(), UNKNOWN_TOTAL, "")}),
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.iloc[np.lexsort((frame["_kind"].to_numpy(), frame["_pos"].to_numpy()))]
    local = frame["_pos"].to_numpy() - start
    for column in ("entry_id", "entry_date", "export_date", "origin", "code", "customs_value", "quantity"):
        frame[column] = _column(chunk, column)[local]
    frame["direction"], frame["imposer"] = result.direction.key, result.direction.imposer
    frame["applies"] = frame["applies"].astype(bool)
    total = frame["_kind"].to_numpy() == 2
    refund = refund_columns(result, start, stop)
    for name, values in refund.items():
        column = np.full(len(frame), "" if values.dtype == object else np.nan, dtype=values.dtype)
        column[total] = values[local[total]]
        frame[name] = column
    return frame[LINE_COLUMNS].reset_index(drop=True)


def refund_columns(result: DutyResult, start: int, stop: int) -> dict[str, np.ndarray]:
    """``REFUND_COLUMNS`` of entries start..stop (route '' and NaN/NaT where nothing is refundable)."""
    r = result.refunds
    none = r.route[start:stop] >= len(ROUTE_NAMES)
    return {
        "refund_route": r.route_names(start, stop),
        "refund_duty": np.where(none, np.nan, r.duty[start:stop]),
        "refund_deadline": r.deadline[start:stop].astype("datetime64[ns]"),
        "refund_interest": np.where(none, np.nan, r.interest[start:stop]),
    }


def wide_columns(result: DutyResult) -> list[str]:
    """Layers that charge something on some entry, in authority then id order."""
    valued = np.bincount(result.key[result.value > 0], minlength=len(result.key_rows)) > 0
    charging = (result.charged != 0) & valued[result.layers["key"].to_numpy(dtype=np.int64)]
    charging[result.transit_layer[result.transit_rate[result.transit_layer] != 0]] = True
    picked = result.layers.loc[charging, ["authority", "layer_id"]].drop_duplicates()
    return list(picked.sort_values(["authority", "layer_id"])["layer_id"])


def wide_duties(result: DutyResult, start: int, stop: int, layer_columns: list[str]) -> np.ndarray:
    """The duty of each of ``layer_columns`` (layer ids) on entries start..stop: (entries x layers)."""
    lines = result.line_arrays(start, stop)
    # the column of each layer row (a few thousand), not of each line: the lines are many more
    column = pd.Index(layer_columns).get_indexer(result.layers["layer_id"].to_numpy())[lines.layer]
    keep = column >= 0
    n, k = stop - start, len(layer_columns)
    # laid out column by column (a layer's duties are contiguous: an Arrow column without a copy)
    return np.bincount(column[keep] * n + (lines.entry[keep] - start), weights=lines.duty[keep],
                       minlength=n * k).reshape(k, n).T


def wide_columns_of(result: DutyResult, start: int, stop: int, layer_columns: list[str]) -> dict[str, np.ndarray]:
    """The wide per-entry columns of entries start..stop, in order: the entry's fields,
    direction and imposer, the duty of each layer (named by layer id), the totals, the refund."""
    chunk = result.entries.iloc[start:stop]
    n = stop - start
    columns = {c: _column(chunk, c) for c in ENTRY_COLUMNS if c in chunk}
    columns["direction"] = np.full(n, result.direction.key, dtype=object)
    columns["imposer"] = np.full(n, result.direction.imposer, dtype=object)
    columns = {c: columns[c] for c in ENTRY_COLUMNS}
    dense = wide_duties(result, start, stop, layer_columns)
    columns.update((name, dense[:, i]) for i, name in enumerate(layer_columns))
    columns.update((name, chunk[name].to_numpy()) for name in ENTRY_TAIL)
    columns.update(refund_columns(result, start, stop))
    return columns


def wide_frame(result: DutyResult, start: int, stop: int, layer_columns: list[str]) -> pd.DataFrame:
    """One row per entry: MFN, the duty of each layer (columns named by layer id), totals."""
    return pd.DataFrame(wide_columns_of(result, start, stop, layer_columns))
