"""MFN base rates and the tariff schedules in force on a date (``data/mfn/``).

Each imposer has schedule vintages (US: USITC HTS revisions; China: the PIIE schedule of 2018–2019),
listed in ``data/mfn/vintages.yaml`` with the date from which each applies. A date is answered from
the latest vintage starting on or before it. Tables are read only when a product is asked about.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .cache import file_table
from .errors import DataError
from .loader import read_index, tables_dir
from .model import VINTAGE_FIELDS


@dataclass(frozen=True)
class Vintage:
    imposer: str
    id: str
    file: str
    start: date
    source: str
    note: str = ""
    specific_duties: bool = False  # the schedule's '¢/kg' texts are parsed into specific duties

    @property
    def label(self) -> str:
        return f"{self.imposer} schedule {self.id} (from {self.start})"


@dataclass(frozen=True)
class MfnRate:
    code: str  # the schedule line used (may be the 8-digit parent of a 10-digit code asked)
    description: str
    general: str  # as printed in the schedule
    rate: float | None  # ad valorem percent, or the ad-valorem equivalent, or None if unknown
    basis: str  # ad_valorem | free | ave_2017 | unknown
    vintage: Vintage

    @property
    def note(self) -> str:
        if self.basis.startswith("ave") and self.rate is not None:
            source = {"ave_2017": "the 2017 USITC tariff database", "ave_piie": "PIIE's schedule"}.get(self.basis, self.basis)
            return f"specific/compound duty {self.general}; ad-valorem equivalent {self.rate:g}% from {source}"
        if self.basis == "unknown":
            return (f"MFN duty {self.general} is not ad valorem and the data has no ad-valorem equivalent: "
                    f"total shown without it")
        return ""


class Schedules:
    """The MFN tables of one data directory."""

    def __init__(self, data_dir):
        self.root = Path(data_dir) / "mfn"
        self.vintages = self._read_vintages()

    @classmethod
    def for_dataset(cls, dataset) -> Schedules:
        """The schedules of the last data directory that has them (an overlay may bring its own)."""
        return cls(tables_dir(dataset, "mfn", "vintages.yaml").parent)

    def _read_vintages(self) -> list[Vintage]:
        path = self.root / "vintages.yaml"
        vintages = []
        required = {key for key, spec in VINTAGE_FIELDS.items() if spec.required}
        for item, line in read_index(path, "vintage", required):
            unknown = set(item) - set(VINTAGE_FIELDS)
            if unknown:
                raise DataError(path, line, f"unknown key '{sorted(unknown)[0]}'")
            specific = item.get("specific_duties", False)
            if not isinstance(specific, bool):
                raise DataError(path, line, f"specific_duties must be true or false, not {specific!r}")
            if not (self.root / item["file"]).is_file():
                raise DataError(path, line, f"file '{item['file']}' not found")
            start = item["start"]
            if not isinstance(start, date):
                raise DataError(path, line, f"start {start!r} is not a date")
            vintages.append(Vintage(item["imposer"], str(item["id"]), item["file"], start,
                                    str(item.get("source", "")), str(item.get("note", "")).strip(), specific))
        return sorted(vintages, key=lambda v: (v.imposer, v.start))

    def vintage_on(self, imposer: str, day: date) -> Vintage | None:
        chosen = None
        for vintage in self.vintages:
            if vintage.imposer == imposer and vintage.start <= day:
                chosen = vintage
        if chosen is None:  # before the first vintage: the earliest one, flagged by its start date
            chosen = next((v for v in self.vintages if v.imposer == imposer), None)
        return chosen

    def table(self, vintage: Vintage) -> pd.DataFrame:
        return _read_table(str(self.root / vintage.file))

    def duty_table(self, vintage: Vintage) -> pd.DataFrame:
        """The table with what pricing needs per line: ``rate`` (ad valorem, else the equivalent)
        and the specific part of simple US specific/compound duties (``per_unit``, ``unit``,
        ``spec_adv``), indexed by ``code_keys`` of the codes."""
        return _duty_table(str(self.root / vintage.file), vintage.specific_duties)

    def mfn(self, imposer: str, code: str, day: date) -> tuple[MfnRate | None, Vintage | None, str]:
        """The MFN rate of ``code`` on ``day``, the vintage used, and a note ('' if exact)."""
        vintage = self.vintage_on(imposer, day)
        if vintage is None:
            return None, None, f"no {imposer} schedule in the data"
        table = self.table(vintage)
        if code in table.index:
            return self._rate(table, code, vintage), vintage, ""
        under = table[table.index.str.startswith(code)]
        if not under.empty:
            rates = under["ad_valorem"].where(under["ad_valorem"].notna(), under["ave"])
            if rates.notna().all() and rates.nunique() == 1:
                mfn = self._rate(table, under.index[0], vintage)
                note = f"all {len(under)} lines under {code} in {vintage.label} have MFN {mfn.general}"
                return MfnRate(code, common_description(under["description"]), mfn.general, mfn.rate,
                               mfn.basis, vintage), vintage, note
            low, high = rates.min(), rates.max()
            spread = f"{low:g}–{high:g}%" if rates.notna().any() else "not ad valorem"
            return None, vintage, (f"{code} covers {len(under)} lines of {vintage.label} with different MFN "
                                   f"rates ({spread}): ask for a longer code")
        parent = code[:8]
        if len(code) == 10 and parent in table.index:
            return self._rate(table, parent, vintage), vintage, parent_used(code, vintage)
        return None, vintage, not_in(code, vintage)

    def has_lines_under(self, vintage: Vintage, codes) -> np.ndarray:
        """Whether ``vintage`` has lines under each code (longer lines that start with it), the
        second rule of ``mfn`` after the code's own line; for many codes at once."""
        every = _codes(str(self.root / vintage.file))
        text = np.asarray(codes, dtype=object).astype(str)
        if not len(every) or not len(text):
            return np.zeros(len(text), dtype=bool)
        keys, every_keys = sort_keys(text), _code_sort_keys(str(self.root / vintage.file))
        if keys is not None and every_keys is not None:
            key, last, _length = keys
            after = np.searchsorted(every_keys, key, side="right")
            return (after < len(every_keys)) & (every_keys[after.clip(max=len(every_keys) - 1)] <= last)
        # the first line after the code starts with it if any line does (the lines are sorted)
        after = np.searchsorted(every, text, side="right")
        return (after < len(every)) & np.char.startswith(every[after.clip(max=len(every) - 1)], text)

    @staticmethod
    def _rate(table: pd.DataFrame, code: str, vintage: Vintage) -> MfnRate:
        row = table.loc[code]
        rate = row["ad_valorem"] if pd.notna(row["ad_valorem"]) else row["ave"]
        return MfnRate(code, row["description"], row["general"], None if pd.isna(rate) else float(rate),
                       row["basis"], vintage)

    def mfn_column(self, imposer: str, codes: pd.Series, days: pd.Series) -> pd.Series:
        """Vectorized MFN rates for aligned codes and dates (NaN where the schedule has no rate):
        exact line, else the 8-digit parent of a 10-digit code. Each distinct code is looked up
        once per vintage; dates only pick the vintage."""
        vintages, number = self.vintage_numbers(imposer, days)
        used = np.unique(number[number >= 0])
        order = [vintages[i] for i in used]
        unique_codes = pd.Index(codes.unique())
        lookup = np.full((len(order) + 1, len(unique_codes)), np.nan)  # last row: no vintage
        parents = pd.Index(unique_codes.str[:8])
        is_ten = np.asarray(unique_codes.str.len() == 10)
        for i, vintage in enumerate(order):
            table = self.table(vintage)
            rates = table["ad_valorem"].where(table["ad_valorem"].notna(), table["ave"]).to_numpy()
            exact = table.index.get_indexer(unique_codes)
            parent = table.index.get_indexer(parents)
            values = np.where(exact >= 0, rates[exact], np.nan)
            use_parent = (exact < 0) & is_ten & (parent >= 0)
            values[use_parent] = rates[parent[use_parent]]
            # A code with no line of its own (an HS-8 weight over HS-10 lines): the simple mean
            # of the lines under it, when every one of them has a rate.
            missing = np.isnan(values)
            if missing.any():
                values[missing] = _children_mean(str(self.root / vintage.file), unique_codes[missing])
            lookup[i] = values
        rows = np.searchsorted(used, number) if len(order) else np.full(len(codes), -1)
        cols = unique_codes.get_indexer(codes)
        return pd.Series(lookup[rows, cols], index=codes.index)

    def leaves(self, vintage: Vintage) -> np.ndarray:
        """The most detailed lines of a vintage, sorted: 10-digit lines, and shorter lines with none
        under them (the lines goods are entered under)."""
        return _leaves(str(self.root / vintage.file))

    def resolve(self, imposer: str, codes, days) -> pd.DataFrame:
        """The schedule lines each (code, date) pair stands for on its date: (code, date, line).

        A code of any length stands for the most detailed lines under it in the vintage in force;
        a line with none under it for itself; a 10-digit code that is not a line but whose 8-digit
        line is (a schedule without statistical suffixes, or a suffix renumbered: the duty is the
        8-digit line's) for itself too. A pair
        with no row stands for no line of the schedule in force (see ``nearest``)."""
        pairs = pd.DataFrame({"code": _objects(codes), "date": _timestamps(days)}).drop_duplicates()
        vintages, number = self.vintage_numbers(imposer, pairs["date"].to_numpy("datetime64[D]"))
        code_at, distinct = pd.factorize(pairs["code"].to_numpy(dtype=object))
        parts = []
        used, first = np.unique(number, return_index=True) if vintages else ([], [])
        for n in used[np.argsort(first)] if len(used) else []:  # vintages in the order their pairs come
            vintage = vintages[n]
            rows = np.flatnonzero(number == n)
            mine, at = np.unique(code_at[rows], return_inverse=True)  # the vintage's distinct codes
            text = np.asarray(distinct[mine], dtype=object).astype(str)
            leaves = self.leaves(vintage)
            lo, counts, own = self._spans(vintage, text)
            # each pair (in order) gets its code's lines (in schedule order)
            row_counts = counts[at]
            pair_of = np.repeat(rows, row_counts)
            code_of = np.repeat(at, row_counts)
            offset = np.arange(row_counts.sum()) - np.repeat(np.cumsum(row_counts) - row_counts, row_counts)
            position = (lo[code_of] + offset).clip(0, max(len(leaves) - 1, 0))
            line = text[code_of].astype(object)
            from_leaves = ~own[code_of]
            if len(leaves):
                line[from_leaves] = leaves[position[from_leaves]]
            parts.append(pd.DataFrame({"code": pd.Series(pairs["code"].to_numpy()[pair_of], dtype=object),
                                       "date": pairs["date"].to_numpy()[pair_of], "line": line}))
        if not parts:
            return pd.DataFrame(columns=["code", "date", "line"])
        return pd.concat(parts, ignore_index=True)

    def _spans(self, vintage: Vintage, text: np.ndarray, keys=False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rule of ``resolve`` for codes (a str array) in one vintage: the first of the leaves
        each stands for, how many, and whether it stands for itself (a 10-digit code whose 8-digit
        line is in the schedule, with no leaf under it)."""
        path = str(self.root / vintage.file)
        keys = sort_keys(text) if keys is False else keys  # ``keys``: sort_keys(text), if the caller has it
        leaf_keys, every_keys = _leaf_sort_keys(path), _code_sort_keys(path)
        if keys is not None and leaf_keys is not None and every_keys is not None:  # the same, on integers
            key, last, length = keys
            lo = np.searchsorted(leaf_keys, key, side="left")
            hi = np.searchsorted(leaf_keys, last, side="right")
            every, parent = every_keys, key_heads(key, 8)
            ten = length == 10
        else:
            leaves = self.leaves(vintage)
            lo = np.searchsorted(leaves, text, side="left")
            hi = np.searchsorted(leaves, np.char.add(text, "~"), side="left")  # '~' sorts after digits
            ten = np.char.str_len(text) == 10
            every, parent = _codes(path), np.where(ten, text.astype("U8"), "")  # U8: the first 8 characters
        at_parent = np.searchsorted(every, parent).clip(max=max(len(every) - 1, 0))
        own = (hi == lo) & ten & (every[at_parent] == parent) if len(every) else hi < lo
        return lo, np.where(own, 1, hi - lo), own

    def stands_for_lines(self, imposer: str, codes, numbers=None) -> np.ndarray:
        """Whether each code stands for some line of each of the imposer's vintages (codes x
        vintages, as ``resolve`` would find rows), or, given ``numbers`` (a vintage number per
        code), of that vintage only. Codes are looked up once per vintage, without pairs."""
        vintages, _ = self.vintage_numbers(imposer, [])
        text = np.asarray(codes, dtype=object).astype(str)
        if numbers is None:
            keys = sort_keys(text)  # once for every vintage
            return np.stack([self._spans(v, text, keys)[1] > 0 for v in vintages], axis=1) if vintages \
                else np.zeros((len(text), 0), dtype=bool)
        numbers = np.asarray(numbers, dtype=np.int64)
        found = np.zeros(len(text), dtype=bool)
        for n in np.unique(numbers[numbers >= 0]):
            mine = np.flatnonzero(numbers == n)
            found[mine] = self._spans(vintages[n], text[mine])[1] > 0
        return found

    def vintage_numbers(self, imposer: str, days) -> tuple[list[Vintage], np.ndarray]:
        """The imposer's vintages and, for each of ``days``, the number of the one in force
        (``vintage_on``, as integers: the latest starting on or before the day, else the first)."""
        vintages = [v for v in self.vintages if v.imposer == imposer]
        days = np.asarray(days, dtype="datetime64[D]")
        if not vintages:
            return vintages, np.full(len(days), -1, dtype=np.int64)
        starts = np.array([v.start for v in vintages], dtype="datetime64[D]")
        return vintages, np.maximum(np.searchsorted(starts, days, side="right") - 1, 0)

    def _by_vintage(self, imposer: str, pairs: pd.DataFrame):
        """(vintage, the rows of ``pairs`` on its dates), vintages in the order their rows first come."""
        vintages, number = self.vintage_numbers(imposer, pairs["date"].to_numpy("datetime64[D]"))
        if not vintages or not len(pairs):
            return
        used, first = np.unique(number, return_index=True)
        for n in used[np.argsort(first)]:
            yield vintages[n], pairs.iloc[np.flatnonzero(number == n)]

    def nearest(self, imposer: str, code: str, day: date, count: int = 3) -> list[str]:
        """Lines of the schedule in force that are closest to ``code``: those sharing its longest
        prefix, the nearest in number first (for the error of a code that is not a line)."""
        vintage = self.vintage_on(imposer, day)
        if vintage is None:
            return []
        leaves = self.leaves(vintage)
        for length in range(len(code) - 1, 0, -1):
            head = code[:length]
            lo, hi = np.searchsorted(leaves, [head, head + "~"])
            if hi > lo:
                near = leaves[lo:hi]
                width = len(code)
                distance = [abs(int(c[:width].ljust(width, "0")) - int(code)) for c in near]
                return [str(near[i]) for i in np.argsort(distance, kind="stable")[:count]]
        return []

    def not_a_line(self, imposer: str, code: str, day: date) -> str:
        """The one-line reason a code stands for no line of the schedule in force."""
        from .codes import dotted

        vintage = self.vintage_on(imposer, day)
        if vintage is None:
            return f"{dotted(code)}: no {imposer} schedule in the data"
        near = ", ".join(dotted(c) for c in self.nearest(imposer, code, day))
        return (f"{dotted(code)} is not a line of {vintage.label} on {day}"
                + (f"; nearest lines: {near}" if near else ""))

    def lines_under(self, imposer: str, code: str, day: date) -> pd.DataFrame:
        vintage = self.vintage_on(imposer, day)
        if vintage is None:
            return pd.DataFrame()
        table = self.table(vintage)
        return table[table.index.str.startswith(code)]


def _objects(values) -> pd.Series:
    return values.reset_index(drop=True).astype(object) if isinstance(values, pd.Series) \
        else pd.Series(list(values), dtype=object)


def _timestamps(values) -> pd.Series:
    """Dates of any form (date, Timestamp, datetime64) as a datetime64[ns] column."""
    if isinstance(values, (pd.Series, pd.Index, np.ndarray)) and np.asarray(values).dtype.kind == "M":
        return pd.Series(np.asarray(values, dtype="datetime64[ns]"))
    return pd.to_datetime(pd.Series(list(values)))


def _children_mean(path: str, codes: pd.Index) -> np.ndarray:
    out = np.full(len(codes), np.nan)
    lengths = np.asarray(codes.str.len())
    for length in sorted(set(lengths)):
        positions = np.flatnonzero(lengths == length)
        out[positions] = _children_means(path, int(length)).reindex(codes[positions]).to_numpy()
    return out


@lru_cache(maxsize=64)
def _children_means(path: str, length: int) -> pd.Series:
    """The simple mean rate of the lines under each ``length``-digit head of a schedule, where
    every one of them has a rate (NaN otherwise); once per schedule and length."""
    table = _read_table(path)
    rates = table["ad_valorem"].where(table["ad_valorem"].notna(), table["ave"]).to_numpy(dtype=float)
    heads = table.index.to_numpy(dtype=str).astype(f"U{length}")  # a narrower width cuts the text
    number, distinct = pd.factorize(heads, sort=True)
    groups = pd.Series(rates).groupby(number)  # by integer: the same means as by text, faster
    mean = groups.mean().where(groups.count() == groups.size()).reindex(range(len(distinct))).to_numpy()
    return pd.Series(mean, index=pd.Index(distinct.astype(object), name="head"))


def common_description(descriptions) -> str:
    """The ': '-separated parts shared by every description (the heading a short code names)."""
    split = [str(text).split(": ") for text in descriptions]
    shared = []
    for parts in zip(*split):
        if len(set(parts)) != 1:
            break
        shared.append(parts[0])
    return ": ".join(shared) if shared else f"{len(split)} lines, e.g. {split[0][-1]}"


_SPECIFIC = re.compile(
    r"^\s*(?:(?P<cents>\d+(?:\.\d+)?)\s*¢|\$\s*(?P<dollars>\d+(?:\.\d+)?))\s*/\s*"
    r"(?P<unit>kg|g|t|liter|l|bbl|pr\.|doz\.|doz\. pr\.|No\.|m|m2|m3|gross|pf\. liter|proof liter|clean kg|cu\. m\.?)"
    r"(?:\s*\+\s*(?P<adv>\d+(?:\.\d+)?)\s*%)?\s*$"
)


def parse_specific(text: str) -> tuple[float, str, float] | None:
    """``'30.5¢/kg + 8.5%'`` -> (0.305 dollars per unit, 'kg', 8.5); None unless the whole text is
    one specific duty (cents or dollars per one unit) plus at most one ad-valorem part."""
    found = _SPECIFIC.match(str(text))
    if not found:
        return None
    per_unit = float(found["cents"]) / 100 if found["cents"] else float(found["dollars"])
    return per_unit, found["unit"], float(found["adv"] or 0)


def code_keys(codes) -> np.ndarray:
    """Codes of digits as int64 keys (the number and its length), for fast lookups; anything
    else (a blank, a schedule line with a letter) gets a distinct negative key that no code has."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = -2 - np.arange(len(codes), dtype=np.int64)
    try:  # whole-column string kernels: no Python loop over the codes
        text = pa.array(np.asarray(codes, dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: each value as str() gives it
        text = pa.array([str(c) for c in codes], type=pa.large_string())
    # ASCII digits only, and few enough to fit an int64 key (a code has at most 10)
    digits = pc.fill_null(pc.match_substring_regex(text, "^[0-9]{1,17}$"), False).to_numpy(zero_copy_only=False)
    if digits.any():
        chosen = pc.filter(text, pa.array(digits))
        keys[digits] = (pc.cast(chosen, pa.int64()).to_numpy() * 16
                        + pc.utf8_length(chosen).to_numpy().astype(np.int64))
    return keys


def parent_used(code: str, vintage: Vintage) -> str:
    """How a 10-digit code without a line of its own is priced: at its 8-digit line."""
    return f"{code} is not in {vintage.label}: its 8-digit line {code[:8]} used"


def not_in(code: str, vintage: Vintage) -> str:
    """Why ``code`` has no MFN rate in ``vintage``: no line of its own, none under it, no 8-digit
    line above it."""
    return f"{code} is not in {vintage.label}: renumbered, or not a line of this schedule"


# Codes as integers in their sort order: each character a digit of base 37 (0 after the end of the
# code, 1-10 the digits, 11-36 the capital letters), 12 characters (37**12 < 2**63). Searching the
# lines of the 11 US vintages for 9,400 codes this way took 0.43 of the time it takes on the texts.
_KEY_BASE, _KEY_WIDTH = 37, 12
_KEY_DIGIT = np.full(256, -1, dtype=np.int64)
_KEY_DIGIT[0] = 0
_KEY_DIGIT[np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = np.arange(1, 37)
_KEY_POWERS = _KEY_BASE ** np.arange(_KEY_WIDTH - 1, -1, -1, dtype=np.int64)


class SortKeys(NamedTuple):
    key: np.ndarray  # of each code: keys sort as the codes do
    last: np.ndarray  # the greatest key of a code that starts with it: those are keyed key..last
    length: np.ndarray  # its characters


def sort_keys(codes) -> SortKeys | None:
    """The ``SortKeys`` of codes; None if a code is not made of digits and capital letters, or is
    longer than 12."""
    text = np.asarray(codes, dtype=object).astype(str)
    try:
        octets = text.astype(f"S{_KEY_WIDTH}") if len(text) else np.zeros(0, dtype=f"S{_KEY_WIDTH}")
    except UnicodeEncodeError:
        return None
    if text.dtype.itemsize > 4 * _KEY_WIDTH and (np.char.str_len(text) > _KEY_WIDTH).any():  # U13 or wider
        return None
    table = np.frombuffer(octets.tobytes(), dtype=np.uint8).reshape(len(text), _KEY_WIDTH)
    digits = _KEY_DIGIT[table]
    if (digits < 0).any():
        return None
    key = digits @ _KEY_POWERS
    length = np.count_nonzero(table, axis=1)
    return SortKeys(key, key + _KEY_BASE ** (_KEY_WIDTH - length) - 1, length)


def key_heads(keys: np.ndarray, length: int) -> np.ndarray:
    """The ``sort_keys`` of the codes' first ``length`` characters (of codes at least as long)."""
    return keys - keys % _KEY_BASE ** (_KEY_WIDTH - length)


@lru_cache(maxsize=32)
def _codes(path: str) -> np.ndarray:
    return _code_table(path)["code"].to_numpy(dtype=str)


@lru_cache(maxsize=32)
@file_table("mfn-codes")  # the lines alone, sorted: reading the whole schedule costs ten times more
def _code_table(path: str) -> pd.DataFrame:
    """The lines, sorted, whether each is a leaf, and their ``sort_keys`` (-1 on every line if
    some line has none): worked out once, with the cache, not on every run (some 0.25 s for the
    11 US vintages)."""
    codes = np.sort(_read_table(path).index.to_numpy(dtype=str))
    # a code is a leaf unless the next code in sorted order starts with it
    leaf = ~np.char.startswith(np.append(codes[1:], ""), codes) if len(codes) else np.zeros(0, dtype=bool)
    keys = sort_keys(codes)
    return pd.DataFrame({"code": codes.astype(object), "leaf": leaf,
                         "key": keys.key if keys is not None else np.full(len(codes), -1, dtype=np.int64)})


@lru_cache(maxsize=32)
def _leaves(path: str) -> np.ndarray:
    return _codes(path)[_code_table(path)["leaf"].to_numpy(dtype=bool)]


@lru_cache(maxsize=32)
def _code_sort_keys(path: str) -> np.ndarray | None:
    keys = _code_table(path)["key"].to_numpy(dtype=np.int64)
    return None if (keys < 0).any() else keys


@lru_cache(maxsize=32)
def _leaf_sort_keys(path: str) -> np.ndarray | None:
    keys = _code_sort_keys(path)
    return None if keys is None else keys[_code_table(path)["leaf"].to_numpy(dtype=bool)]


@lru_cache(maxsize=16)
@file_table("mfn-duties")  # parsing every line's duty text costs more than reading the schedule
def _duty_table(path: str, specific_duties: bool) -> pd.DataFrame:
    table = _read_table(path)
    general = table["general"].to_numpy(dtype=object)
    distinct = {text: parse_specific(text) if specific_duties else None for text in set(general)}
    specific = [distinct[text] or (np.nan, "", np.nan) for text in general]
    return pd.DataFrame({
        "rate": table["ad_valorem"].where(table["ad_valorem"].notna(), table["ave"]).to_numpy(dtype=float),
        "general": general,
        "basis": table["basis"].to_numpy(dtype=object),
        "per_unit": np.array([s[0] for s in specific], dtype=float),
        "unit": np.array([s[1] for s in specific], dtype=object),
        "spec_adv": np.array([s[2] for s in specific], dtype=float),
    }, index=pd.Index(code_keys(table.index), name="key"))


@lru_cache(maxsize=16)
@file_table("mfn-schedule")
def _read_table(path: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"code": str, "description": str, "general": str, "basis": str},
                            keep_default_na=False, na_values={"ad_valorem": [""], "ave": [""]})
    except (OSError, ValueError) as exc:
        raise DataError(path, None, f"cannot read schedule: {exc}") from None
    missing = {"code", "description", "general", "ad_valorem", "ave", "basis"} - set(frame.columns)
    if missing:
        raise DataError(path, 1, f"schedule lacks column(s) {', '.join(sorted(missing))}")
    return frame.drop_duplicates("code").set_index("code")
