"""Import ledgers: reading a CSV of entries in chunks and checking every row.

``read_ledger`` returns the good rows, typed, and the bad ones with ``LEDGER.csv:ROW: reason``.
Pricing is ``duties.compute_duties``. Dates, codes and origins repeat across a ledger, so they are
read as categorical columns (the CSV parser hashes them in C) and each distinct value is parsed
and checked once; the checks are vectorized masks, messages are built only for rows that fail.
"""
from __future__ import annotations

import contextlib
import csv
import enum
import functools
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import plaincsv
from .codes import code_problem
from .engine import EARLIEST, LATEST
from .fields import (
    CHUNK_ROWS,
    CONTENT_FIELDS,
    FIELDS,
    NUMBERS,
    REPEATING,
    LedgerError,
    coded_columns,
    is_parquet,
    ledger_files,
    resolve_names,
)
from .model import COUNTRY_NAMES, DIRECTION_OF_ORIGIN, SIDES

UNLIQUIDATED = "unliquidated"  # written in liquidation_date for an entry not liquidated yet
# One ledger is priced in one direction (its currency, its schedules): the origins name it.
MIXED_DIRECTIONS = ("the ledger mixes goods of " + " with goods of ".join(
    f"{'/'.join(side.origins)} (duties of {COUNTRY_NAMES.get(side.imposer, side.imposer)}, {side.currency})"
    for side in SIDES) + ": run with " + ", then ".join(f"--direction {side.key}" for side in SIDES))
# The largest customs value and quantity accepted (README "Ledgers"): a quadrillion is thirty times
# a year of world trade; above it duties lose cents to rounding, and 1e308 would price as Infinity.
MAX_CUSTOMS_VALUE = 1e15
MAX_QUANTITY = 1e15
_CLEAN = re.compile(r"[\s.\-]")


@dataclass
class Ledger:
    """The good rows of a ledger (typed) and the rejected ones (with their reason).

    ``entries``: row (line in the file), entry_id, entry_date, export_date (datetime64, NaT if
    blank), origin and code (categorical: codes are digits only), customs_value, quantity (NaN if
    blank), liquidation_date (NaT if blank or 'unliquidated'), unliquidated (the cell said so),
    entry_summary_date (NaT if blank). ``names`` holds only the columns the file has."""

    path: str
    direction: str  # us | cn
    entries: pd.DataFrame
    rejects: pd.DataFrame  # row, problem, reason (REJECT_COLUMNS), then the ledger's own columns as read
    names: dict  # field -> the ledger's column name
    skip_bad: bool = False  # rows found bad when pricing (a code not in the schedule) go to rejects too
    cells: object = None  # rows -> their cells as written (a part of a ledger keeps its raw chunk)
    packed: Packed | None = None  # parts of several files joined (``_packed``): which one each entry is from

    @property
    def parts(self) -> Packed:
        """Which part each entry is from: ``packed``, or this ledger as its one part."""
        return self.packed or Packed((self.path,), (self.cells,), np.zeros(len(self.entries), dtype=np.int64))


@dataclass(frozen=True)
class Packed:
    """Which part each entry of a ledger packed from several parts came from: a partition of many
    small files is priced a pack at a time, not a file at a time (pricing a part costs some 0.1 s
    however few its rows). ``paths`` and ``cells`` are each part's (``Ledger.path``, ``.cells``)."""

    paths: tuple[str, ...]
    cells: tuple
    part_at: np.ndarray  # per entry: its part's number

    def keep(self, kept: np.ndarray) -> Packed:
        return Packed(self.paths, self.cells, self.part_at[kept])


class _Registry:
    """Stable integer ids for the distinct values met across chunks (for one categorical column)."""

    def __init__(self):
        self.ids: dict[str, int] = {}

    def __call__(self, values) -> np.ndarray:
        return np.array([self.ids.setdefault(v, len(self.ids)) for v in values], dtype=np.int32)

    def categorical(self, ids: np.ndarray) -> pd.Categorical:
        """The column of these ids, with only the values that occur as categories."""
        values = np.array(list(self.ids), dtype=object)
        used = np.flatnonzero(np.bincount(ids, minlength=len(values)))
        number = np.zeros(len(values), dtype=np.int32)
        number[used] = np.arange(len(used))
        return pd.Categorical.from_codes(number[ids], categories=pd.Index(values[used], dtype=object))


def _distinct(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(category number per row, the distinct values stripped); a blank cell gets the last
    number, whose value is ''."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, categories = column.cat.codes.to_numpy().astype(np.int32), column.cat.categories
    else:  # text (or an optional column the ledger lacks)
        codes, categories = pd.factorize(column.to_numpy(dtype=object))
        codes = codes.astype(np.int32)
    values = np.array([str(v).strip() for v in np.asarray(categories, dtype=object).tolist()] + [""], dtype=object)
    codes[codes < 0] = len(values) - 1
    return codes, values


def _spaces_only(ids: np.ndarray, texts: bool = False) -> np.ndarray:
    """Whether each id is a text of spaces only (blank cells are NaN: not these); ``texts``: every
    id is a text. A plain loop: pandas' ``str.isspace`` takes a third longer on object arrays."""
    if texts:
        return np.fromiter(map(str.isspace, ids), dtype=bool, count=len(ids))
    return np.fromiter((isinstance(i, str) and i.isspace() for i in ids), dtype=bool, count=len(ids))


def _dates(values: pd.Series) -> np.ndarray:
    texts = pd.Index(values, dtype=object)
    parsed = np.array(pd.to_datetime(texts, format="%Y-%m-%d", errors="coerce"), dtype="datetime64[ns]")
    parsed[texts.isin(_NOT_DATES)] = np.datetime64("NaT")
    return parsed


# pandas reads these as this moment, whatever the format: in a ledger they are not dates
_NOT_DATES = ["today", "now"]


def _number(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats, and whether the cell was blank (the parser has already read clean numeric columns)."""
    if column.dtype.kind in "fiu":
        values = column.to_numpy(dtype=float)
        return values, np.isnan(values)
    text = column.fillna("").astype(str).str.strip()
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float), (text == "").to_numpy()


class Problem(enum.IntEnum):
    """Why a ledger row is rejected. ``code`` ('entry-id-empty') is what the rejects file's
    ``problem`` column says beside the reason; the checks of a row are tried in this order and
    its first problem is the one reported (``MESSAGES`` words those found while reading)."""

    ENTRY_ID_EMPTY = 1
    ENTRY_DATE_NOT_A_DATE = 2
    ENTRY_DATE_OUT_OF_RANGE = 3
    HTS_NOT_A_CODE = 4
    ORIGIN_NOT_ALLOWED = 5
    CUSTOMS_VALUE_NOT_A_NUMBER = 6
    CUSTOMS_VALUE_NEGATIVE = 7
    EXPORT_DATE_NOT_A_DATE = 8
    EXPORT_DATE_AFTER_ENTRY = 9
    QUANTITY_INVALID = 10
    LIQUIDATION_DATE_NOT_A_DATE = 11
    LIQUIDATION_BEFORE_ENTRY = 12
    ENTRY_SUMMARY_DATE_NOT_A_DATE = 13
    CUSTOMS_VALUE_TOO_LARGE = 14
    QUANTITY_TOO_LARGE = 15
    ENTRY_ID_REPEATED = 16  # found across the rows read so far
    HTS_NOT_A_LINE = 17  # found when pricing: the code is no line of the schedule in force
    HTS_LINES_DIFFER = 18  # found when pricing: the code's lines get different duties
    ASSUME_NOT_A_CONDITION_ID = 19
    STEEL_VALUE_NOT_A_NUMBER = 20
    STEEL_VALUE_NEGATIVE = 21
    ALUMINUM_VALUE_NOT_A_NUMBER = 22
    ALUMINUM_VALUE_NEGATIVE = 23
    COPPER_VALUE_NOT_A_NUMBER = 24
    COPPER_VALUE_NEGATIVE = 25
    CONTENT_VALUES_EXCEED_CUSTOMS_VALUE = 26
    ASSUME_UNKNOWN_CONDITION = 27  # found when pricing: a condition id the data does not declare

    @property
    def code(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_code(cls, code: str) -> Problem:
        """The problem a rejects file's ``problem`` cell names ('entry-id-empty')."""
        return cls[code.upper().replace("-", "_")]


# A rejected row's code by problem number (0: not rejected), to pick many at once.
PROBLEM_CODES = np.array(["", *(p.code for p in Problem)], dtype=object)
# The rejects' own columns; then the ledger's columns, as written (``_rejects``).
REJECT_COLUMNS = ("row", "problem", "reason")

MESSAGES = {
    Problem.ENTRY_ID_EMPTY: "{entry_id} is empty (or only spaces)",
    Problem.ENTRY_DATE_NOT_A_DATE: "{entry_date} {entry_date_text!r} is not a date (YYYY-MM-DD)",
    Problem.ENTRY_DATE_OUT_OF_RANGE:
        "{entry_date} {entry_date_text} is outside the range tariffcalc covers ({earliest} to {latest})",
    Problem.HTS_NOT_A_CODE: "{hts}: {problem}",
    Problem.ORIGIN_NOT_ALLOWED: "{origin} {origin_text!r} is not an origin of this ledger (use {allowed})",
    Problem.CUSTOMS_VALUE_NOT_A_NUMBER: "{customs_value} {customs_value_text!r} is not a number",
    Problem.CUSTOMS_VALUE_NEGATIVE: "{customs_value} {customs_value_text} is negative",
    Problem.EXPORT_DATE_NOT_A_DATE: "{export_date} {export_date_text!r} is not a date (YYYY-MM-DD)",
    Problem.EXPORT_DATE_AFTER_ENTRY: "{export_date} {export_date_text} is after {entry_date} {entry_date_text}",
    Problem.QUANTITY_INVALID: "{quantity} {quantity_text!r} is not a number of 0 or more",
    Problem.LIQUIDATION_DATE_NOT_A_DATE:
        "{liquidation_date} {liquidation_date_text!r} is not a date (YYYY-MM-DD) or 'unliquidated'",
    Problem.LIQUIDATION_BEFORE_ENTRY: "{liquidation_date} {liquidation_date_text} is before {entry_date} {entry_date_text}",
    Problem.ENTRY_SUMMARY_DATE_NOT_A_DATE: "{entry_summary_date} {entry_summary_date_text!r} is not a date (YYYY-MM-DD)",
    Problem.CUSTOMS_VALUE_TOO_LARGE:
        "{customs_value} {customs_value_text} is more than {max_value:g}, the largest tariffcalc accepts",
    Problem.QUANTITY_TOO_LARGE: "{quantity} {quantity_text} is more than {max_quantity:g}, the largest tariffcalc accepts",
    Problem.ASSUME_NOT_A_CONDITION_ID: "{assume} {assume_text!r}: {condition_problem}",
    Problem.STEEL_VALUE_NOT_A_NUMBER: "{steel_value} {steel_value_text!r} is not a number",
    Problem.STEEL_VALUE_NEGATIVE: "{steel_value} {steel_value_text} is negative",
    Problem.ALUMINUM_VALUE_NOT_A_NUMBER: "{aluminum_value} {aluminum_value_text!r} is not a number",
    Problem.ALUMINUM_VALUE_NEGATIVE: "{aluminum_value} {aluminum_value_text} is negative",
    Problem.COPPER_VALUE_NOT_A_NUMBER: "{copper_value} {copper_value_text!r} is not a number",
    Problem.COPPER_VALUE_NEGATIVE: "{copper_value} {copper_value_text} is negative",
    Problem.CONTENT_VALUES_EXCEED_CUSTOMS_VALUE: "{contents_text} add up to more than {customs_value} {customs_value_text}",
}
CONDITION_ID = re.compile(r"[a-z0-9][a-z0-9-]*$")


def condition_ids(text: str) -> tuple[str, ...]:
    """An ``assume`` cell -> its condition ids, sorted (``'auto-part; civil-aircraft'``)."""
    return tuple(sorted({part.strip().lower() for part in str(text).split(";") if part.strip()}))


class _Checker:
    """Types and checks the chunks of one ledger; keeps the codes and origins met so far."""

    def __init__(self, names: dict, direction: str, conditions=None):
        """``conditions``: the condition ids the data declares (an ``assume`` cell naming another
        is a bad row); None: checked when pricing (``duties.compute_duties``)."""
        self.names, self.direction, self.conditions = names, direction, conditions
        self.codes, self.origins, self.assumes = _Registry(), _Registry(), _Registry()
        self.hts: dict[str, tuple[int, str | None]] = {}  # text -> (code id, problem), across chunks

    def column(self, raw: pd.DataFrame, name: str) -> pd.Series:
        return raw[self.names[name]] if name in self.names else pd.Series(np.nan, index=raw.index, dtype=object)

    def distinct(self, raw: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``_distinct`` of a column; of one the ledger lacks, every row blank without a pass."""
        if name not in self.names:
            return np.zeros(len(raw), dtype=np.int32), np.array([""], dtype=object)
        return _distinct(raw[self.names[name]])

    def __call__(self, raw: pd.DataFrame) -> tuple[dict, np.ndarray, np.ndarray]:
        """Typed columns of the rows of a chunk that are not blank lines, the number of the first
        problem of each row (its ``Problem``, 0 if good) and its wording (for bad rows only)."""
        ids = self.column(raw, "entry_id").to_numpy(dtype=object)
        if pd.api.types.infer_dtype(ids, skipna=False) == "string":  # every id a text (in C: a sixth of isna)
            no_id = _spaces_only(ids, texts=True)
        else:
            no_id = pd.isna(ids)
            if no_id.any():  # blank lines (a row is blank only if its entry_id is)
                blank = no_id & raw.drop(columns="_row").isna().all(axis=1).to_numpy()
                if blank.any():
                    return self(raw[~blank].reset_index(drop=True))
            no_id = no_id | _spaces_only(ids)
        entry_at, entry_text = self.distinct(raw, "entry_date")
        export_at, export_text = self.distinct(raw, "export_date")
        entry_dates, export_dates = _dates(entry_text), _dates(export_text)
        entry_date, export_date = entry_dates[entry_at], export_dates[export_at]
        hts_at, hts_text = self.distinct(raw, "hts")
        new = [text for text in hts_text if text not in self.hts]  # texts met first in this chunk
        for text, code in zip(new, self.codes([_CLEAN.sub("", text) for text in new]).tolist()):
            self.hts[text] = (code, code_problem(text))
        known = [self.hts[text] for text in hts_text]
        code = np.array([k[0] for k in known], dtype=np.int32)[hts_at]
        problems = np.array([k[1] for k in known], dtype=object)
        if self.names.get("hts") in raw.attrs.get("numbers", ()):  # a column of numbers (Parquet)
            problems = np.array([_lost_zero(problem, text) for problem, text in zip(problems, hts_text)],
                                dtype=object)
        origin_at, origin_text = self.distinct(raw, "origin")
        origin_text = [text.upper() for text in origin_text]
        origin = self.origins(origin_text)[origin_at]
        wanted = np.array([DIRECTION_OF_ORIGIN.get(text) in (("us", "cn") if self.direction == "both"
                                                              else (self.direction,)) for text in origin_text])
        value, _ = _number(self.column(raw, "customs_value"))
        quantity, quantity_blank = _number(self.column(raw, "quantity"))
        liquidation_at, liquidation_text = self.distinct(raw, "liquidation_date")
        liquidation_dates = _dates(liquidation_text)
        open_text = np.array([t.lower() == UNLIQUIDATED for t in liquidation_text])
        bad_liquidation = (liquidation_text != "") & np.isnat(liquidation_dates) & ~open_text
        liquidation_date = liquidation_dates[liquidation_at]
        summary_at, summary_text = self.distinct(raw, "entry_summary_date")
        summary_dates = _dates(summary_text)
        bad_summary = (summary_text != "") & np.isnat(summary_dates)
        typed = {"row": raw["_row"].to_numpy(), "entry_id": ids, "entry_date": entry_date,
                 "export_date": export_date, "origin": origin, "code": code,
                 "customs_value": value, "quantity": quantity, "liquidation_date": liquidation_date,
                 "unliquidated": open_text[liquidation_at], "entry_summary_date": summary_dates[summary_at]}
        # assume and *_value: only where the ledger has the columns (a 20 M-row ledger without
        # them carries no column of blanks)
        assume_at, assume_text = self.distinct(raw, "assume")
        assumed = [condition_ids(text) for text in assume_text]
        condition_problem = np.array([self.condition_problem(ids) for ids in assumed], dtype=object)
        if "assume" in self.names:
            typed["assume"] = self.assumes(assume_text)[assume_at]
        contents = {f: _number(self.column(raw, f)) for f in CONTENT_FIELDS if f in self.names}
        for f, (content, _blank) in contents.items():
            typed[f] = content
        declared = np.zeros(len(raw))
        for content, blank in contents.values():
            declared += np.where(blank | ~np.isfinite(content), 0.0, content)

        # The checks, in the order their messages are tried; those on a column of few distinct
        # values are made once per value (``[at]`` picks each row's).
        with np.errstate(invalid="ignore"):
            checks = {
                Problem.ENTRY_ID_EMPTY: lambda at: no_id[at],
                Problem.ENTRY_DATE_NOT_A_DATE: lambda at: np.isnat(entry_dates)[entry_at[at]],
                Problem.ENTRY_DATE_OUT_OF_RANGE: lambda at: ((entry_dates < np.datetime64(EARLIEST))
                                                    | (entry_dates > np.datetime64(LATEST)))[entry_at[at]],
                Problem.HTS_NOT_A_CODE: lambda at: pd.notna(problems)[hts_at[at]],
                Problem.ORIGIN_NOT_ALLOWED: lambda at: ~wanted[origin_at[at]],
                Problem.CUSTOMS_VALUE_NOT_A_NUMBER: lambda at: ~np.isfinite(value[at]),
                Problem.CUSTOMS_VALUE_NEGATIVE: lambda at: value[at] < 0,
                Problem.EXPORT_DATE_NOT_A_DATE: lambda at: ((export_text != "") & np.isnat(export_dates))[export_at[at]],
                Problem.EXPORT_DATE_AFTER_ENTRY: lambda at: export_date[at] > entry_date[at],
                Problem.QUANTITY_INVALID: lambda at: ~quantity_blank[at] & (~np.isfinite(quantity[at]) | (quantity[at] < 0)),
                Problem.LIQUIDATION_DATE_NOT_A_DATE: lambda at: bad_liquidation[liquidation_at[at]],
                Problem.LIQUIDATION_BEFORE_ENTRY: lambda at: liquidation_date[at] < entry_date[at],
                Problem.ENTRY_SUMMARY_DATE_NOT_A_DATE: lambda at: bad_summary[summary_at[at]],
                Problem.CUSTOMS_VALUE_TOO_LARGE: lambda at: value[at] > MAX_CUSTOMS_VALUE,
                Problem.QUANTITY_TOO_LARGE: lambda at: ~quantity_blank[at] & (quantity[at] > MAX_QUANTITY),
                Problem.ASSUME_NOT_A_CONDITION_ID: lambda at: pd.notna(condition_problem)[assume_at[at]],
            }
            for f in CONTENT_FIELDS:  # steel_value, aluminum_value, copper_value: not a number, negative
                content, blank = contents.get(f, (np.zeros(len(raw)), np.ones(len(raw), dtype=bool)))
                name = f.upper()
                checks[Problem[f"{name}_NOT_A_NUMBER"]] = lambda at, c=content, b=blank: ~b[at] & ~np.isfinite(c[at])
                checks[Problem[f"{name}_NEGATIVE"]] = lambda at, c=content, b=blank: ~b[at] & (c[at] < 0)
            checks[Problem.CONTENT_VALUES_EXCEED_CUSTOMS_VALUE] = lambda at: declared[at] > value[at]
            suspect = ((~np.isfinite(value) | (value < 0)) | (export_date > entry_date) | no_id
                       | (~quantity_blank & (~np.isfinite(quantity) | (quantity < 0)))
                       | (liquidation_date < entry_date) | (value > MAX_CUSTOMS_VALUE)
                       | (~quantity_blank & (quantity > MAX_QUANTITY)) | (declared > value))
            for content, blank in contents.values():
                suspect |= ~blank & (~np.isfinite(content) | (content < 0))
            for distinct, at in ((np.isnat(entry_dates) | (entry_dates < np.datetime64(EARLIEST))
                                  | (entry_dates > np.datetime64(LATEST)), entry_at),
                                 (pd.notna(problems), hts_at), (~wanted, origin_at),
                                 ((export_text != "") & np.isnat(export_dates), export_at),
                                 (bad_liquidation, liquidation_at), (bad_summary, summary_at),
                                 (pd.notna(condition_problem), assume_at)):
                if distinct.any():
                    suspect |= distinct[at]
            bad = np.flatnonzero(suspect)
            first = np.zeros(len(raw), dtype=np.int8)
            for problem in reversed(checks):  # the first problem wins
                first[bad[checks[problem](bad)]] = problem
        bad = bad[first[bad] > 0]
        reasons = self.messages(raw, bad, first[bad], problems[hts_at[bad]], condition_problem[assume_at[bad]])
        return typed, first, reasons

    def condition_problem(self, ids) -> str | None:
        """What is wrong with the condition ids of an ``assume`` cell, if anything."""
        for condition in ids:
            if not CONDITION_ID.match(condition):
                return f"{condition!r} is not a condition id (ids are separated by ';')"
            if self.conditions is not None and condition not in self.conditions:
                return f"unknown condition {condition!r} (known: {', '.join(sorted(self.conditions))})"
        return None

    def messages(self, raw: pd.DataFrame, rows: np.ndarray, kinds, problems, condition_problems) -> np.ndarray:
        """The wording of each bad row of ``rows`` (its ``Problem`` in ``kinds``). The cells of the
        bad rows are taken once per column: a chunk of 50,000 bad rows took 8 s read cell by cell."""
        if not len(rows):
            return np.array([], dtype=object)

        def texts(name):
            values = raw[self.names[name]].to_numpy(dtype=object)[rows]
            return ["" if pd.isna(v) else f"{v:g}" if isinstance(v, float) else str(v).strip() for v in values]

        cells = {f"{f}_text": texts(f) if f in self.names else [""] * len(rows) for f in FIELDS}
        words = {f: self.names.get(f, f) for f in FIELDS}
        words.update(earliest=EARLIEST, latest=LATEST, max_value=MAX_CUSTOMS_VALUE, max_quantity=MAX_QUANTITY,
                     allowed=", ".join(o for o, d in DIRECTION_OF_ORIGIN.items() if self.direction in ("both", d)))
        reasons = []
        for j, (kind, problem, condition_problem) in enumerate(zip(kinds, problems, condition_problems)):
            row = {name: values[j] for name, values in cells.items()}
            contents = " + ".join(f"{words[f]} {row[f + '_text']}" for f in CONTENT_FIELDS if row[f + "_text"])
            reasons.append(MESSAGES[Problem(kind)].format(**words, **row, problem=problem,
                                                          condition_problem=condition_problem, contents_text=contents))
        return np.array(reasons, dtype=object)


def _strict(reader):
    """pandas drops the extra fields of rows longer than the header with only a warning."""
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                chunk = next(reader)
            except StopIteration:
                return
            except pd.errors.ParserWarning:
                raise pd.errors.ParserError("a row has more fields than the header") from None
        yield chunk


class _Lines:
    """The physical line of each record. pandas numbers records, and a quoted field may span
    lines: without a '"' in the file the two agree; otherwise one pass of the csv module maps
    them (only for a file whose records outnumber its lines, or to name a bad row)."""

    def __init__(self, path, width: int | None = None, found: plaincsv.Scan | None = None):
        """``width``: the fields of the header; given, the pass (``plaincsv.scan``) also finds
        whether the file is ``plain``: what lets Arrow's parser read it as pandas' would.
        ``found``: that pass, made already (``plaincsv.scan_of``)."""
        self.path = path
        self._starts = None
        found = found or plaincsv.scan(path, width)
        self.quoted, self.newlines, self.plain = found.quoted, found.newlines, found.plain

    def exact(self, records: int) -> bool:
        """Whether record n (the header is 1) is on line n, given how many records pandas read."""
        return not self.quoted or records == self.newlines

    def starts(self) -> np.ndarray:
        """First physical line of each record (index 0: the header)."""
        if self._starts is None:
            starts, consumed = [], 0
            with open(self.path, encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                for _ in reader:
                    starts.append(consumed + 1)
                    consumed = reader.line_num
            self._starts = np.array(starts or [1], dtype=np.int64)
        return self._starts

    def __call__(self, rows):
        """Physical lines of record numbers ``rows`` (as ``_row`` counts them)."""
        if not self.quoted:
            return rows
        starts = self.starts()
        rows = np.asarray(rows, dtype=np.int64)
        return starts[np.minimum(rows - 1, len(starts) - 1)]

    def records(self, rows) -> list[list[str]]:
        """The fields of records ``rows``, as written (unquoted), in that order."""
        if not self.quoted:  # record n is line n: find the lines by their byte offsets
            return self._lines(rows)
        wanted = {int(r) - 1: None for r in rows}
        with open(self.path, encoding="utf-8-sig", newline="") as handle:
            for number, record in enumerate(csv.reader(handle)):
                if number in wanted:
                    wanted[number] = record
        return [wanted[int(r) - 1] or [] for r in rows]

    def _lines(self, rows) -> list[list[str]]:
        """The fields of lines ``rows`` of a file without quotes: newlines found block by block
        with numpy, so a few rows of a large file cost a fast pass over its bytes."""
        rows = np.asarray(rows, dtype=np.int64)
        wanted = np.unique(rows)
        starts, ends = {}, {}
        with open(self.path, "rb") as handle:
            offset, line = 0, 1  # the line that begins at ``offset``
            for block in iter(lambda: handle.read(1 << 24), b""):
                newlines = offset + np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
                numbers = line + np.arange(len(newlines))  # the line each newline ends
                ending = np.isin(numbers, wanted)
                ends.update(zip(numbers[ending].tolist(), newlines[ending].tolist()))
                beginning = np.isin(numbers + 1, wanted)
                starts.update(zip((numbers[beginning] + 1).tolist(), (newlines[beginning] + 1).tolist()))
                line += len(newlines)
                offset += len(block)
            out = {}
            for number in wanted.tolist():
                if number not in starts and number != 1:
                    out[number] = []
                    continue
                handle.seek(starts.get(number, 0))
                size = ends.get(number, offset) - starts.get(number, 0)
                text = handle.read(size).decode("utf-8-sig").rstrip("\r")
                try:
                    out[number] = next(csv.reader([text]), [])
                except csv.Error:  # a bare carriage return inside an unquoted field: keep it as written
                    out[number] = text.split(",")
        return [out[int(r)] for r in rows]

    def first_long_record(self, width: int) -> tuple[int, int] | None:
        """(physical line, fields) of the first record with more than ``width`` fields."""
        with open(self.path, encoding="utf-8-sig", newline="") as handle:
            reader, consumed = csv.reader(handle), 0
            for record in reader:
                if len(record) > width:
                    return consumed + 1, len(record)
                consumed = reader.line_num
        return None


def _header(path) -> list[str]:
    plain = plaincsv.plain_header(path)
    if plain:  # as pandas reads it, ten times faster
        return plain
    try:
        return list(pd.read_csv(path, nrows=0, encoding="utf-8-sig", index_col=False).columns)
    except pd.errors.EmptyDataError:
        raise LedgerError(path, None, "the file is empty (a header line is needed)") from None
    except pd.errors.ParserError as exc:
        raise _unclosed_quote(path, str(exc), lambda record: _Lines(path)(np.array([record + 1]))[0]) or LedgerError(
            path, None, f"not a readable CSV file: {str(exc).strip()}") from None
    except UnicodeDecodeError as exc:
        raise LedgerError(path, None, f"not UTF-8 text: {exc.reason}") from None


def _unclosed_quote(path, message: str, line_of) -> LedgerError | None:
    """pandas' 'EOF inside string starting at row N' (N counts records, the header 0) as the
    physical line where the quote that is never closed opens (``line_of(N)``); None for another
    message."""
    found = re.search(r"EOF inside string starting at row (\d+)", message)
    if not found:
        return None
    return LedgerError(path, int(line_of(int(found.group(1)))),
                       'a quoted field starts on this line and is never closed (a " without its closing ")')


def _chunks(path, header: list[str], names: dict, chunk_rows: int, progress, lines: _Lines, count: list):
    """The ledger in chunks of raw columns, with ``_row`` (the record number in the file, the
    header being 1: see ``_Lines``), each with the share of the file read so far; ``count`` gets
    the number of records read."""
    if lines.plain:
        yield from _plain_chunks(path, header, names, chunk_rows, progress, lines, count)
        return
    repeating = {names[f] for f in REPEATING if f in names}
    numbers = {names[f] for f in NUMBERS if f in names}
    dtype = {c: "category" if c in repeating else object for c in header if c not in numbers}
    total = os.path.getsize(path)
    with open(path, "rb") as handle:
        try:
            reader = pd.read_csv(handle, dtype=dtype, keep_default_na=False, na_values=[""], encoding="utf-8-sig",
                                 index_col=False, skip_blank_lines=False, chunksize=chunk_rows)
            first = 2  # line 1 is the header
            for raw in _strict(reader):
                raw = raw.reset_index(drop=True)
                raw["_row"] = np.arange(first, first + len(raw))
                first += len(raw)
                count[0] = first - 1
                done = min(handle.tell(), total)
                if progress:
                    progress("read", done, total)
                yield raw, done / total if total else 1.0
        except pd.errors.EmptyDataError:
            return
        except pd.errors.ParserError as exc:  # pandas names no line, or a record number
            raise _unreadable(path, header, lines, str(exc).strip()) from None
        except UnicodeDecodeError as exc:
            raise LedgerError(path, None, f"not UTF-8 text: {exc.reason}") from None


def _unreadable(path, header: list[str], lines: _Lines, message: str) -> LedgerError:
    """A parser's error, as the first record with more fields than the header if there is one."""
    long = lines.first_long_record(len(header))
    if long:
        return LedgerError(path, long[0], f"expected {len(header)} fields, saw {long[1]}")
    unclosed = _unclosed_quote(path, message, lambda record: lines(np.array([record + 1]))[0])
    return unclosed or LedgerError(path, None, f"not a readable CSV file: {message}")


def _plain_chunks(path, header: list[str], names: dict, chunk_rows: int, progress, lines: _Lines, count: list):
    """``_chunks`` of a plain file (``plaincsv``), parsed by Arrow (``_plain_tables``) and turned
    into the columns pandas' parser would give (``_arrow_frame``) without a Python string per
    cell of the columns that repeat (dictionary-encoded by the parser's threads: ``_categorical``)."""
    for table, first, share in _plain_tables(path, header, names, chunk_rows, progress, lines, count):
        raw = _arrow_frame(table, names)
        raw["_row"] = np.arange(first, first + len(raw))
        yield raw, share


def _plain_tables(path, header: list[str], names: dict, chunk_rows: int, progress, lines: _Lines, count: list,
                  ahead: bool = True):
    """A plain file as Arrow tables of up to ``chunk_rows`` rows, every field read as text, in
    parallel, each with the record number of its first row and the share of the file read. The
    parse a head start began is taken up where it is; ``ahead``: parsed ahead on a thread."""
    import pyarrow as pa

    total, coded = os.path.getsize(path), coded_columns(names)
    first = 2  # line 1 is the header
    with contextlib.ExitStack() as stack:
        try:
            parsed, close = plaincsv.parse(path, header, coded, chunk_rows, ahead)  # a head start's, if begun
            stack.callback(close)
            waiting, rows, at = [], 0, 0
            for batch, at in parsed:
                if batch is not None:
                    waiting.append(batch)
                    rows += batch.num_rows
                while rows >= chunk_rows or (batch is None and rows):
                    table = pa.Table.from_batches(waiting)
                    part, rest = table.slice(0, chunk_rows), table.slice(chunk_rows)
                    waiting, rows = rest.to_batches(), rest.num_rows
                    count[0] = first + part.num_rows - 1
                    done = min(at, total) if rows or batch is not None else total
                    if progress:
                        progress("read", done, total)
                    yield part, first, done / total if total else 1.0
                    first += part.num_rows
        except pa.ArrowInvalid as exc:  # a line of too many fields (``plaincsv.Plain``): named as pandas would
            raise _unreadable(path, header, lines, str(exc).strip().splitlines()[0]) from None


def _as_written(cells: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows as text close to the ledger's: the parser read clean number columns as
    numbers, and 5 would come back as 5.0 in one chunk and 5 in another."""
    def number(value) -> str:
        if pd.isna(value):
            return ""
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)

    out = cells.astype(object)
    for name in cells.columns:
        if cells[name].dtype.kind in "fiu":
            out[name] = cells[name].map(number)
        elif cells[name].dtype == object and pd.api.types.infer_dtype(cells[name], skipna=True) not in ("string", "empty"):
            # a pack's numbers beside another file's texts (``_numbers_as_alone``); the test is in C
            values = out[name].to_numpy()
            floats = [i for i, v in enumerate(values) if isinstance(v, float) and not np.isnan(v)]
            if floats:
                values = values.copy()
                values[floats] = [number(values[i]) for i in floats]
                out[name] = values
    return out


class _Columns:
    """The typed columns of the good rows, filled chunk by chunk into arrays sized for the whole
    file from the first chunk (and grown if that was short): no copy of every chunk at the end."""

    NAMES = ("row", "entry_id", "entry_date", "export_date", "origin", "code", "customs_value", "quantity",
             "liquidation_date", "unliquidated", "entry_summary_date")

    def __init__(self):
        self.filled, self.columns = 0, None

    def add(self, typed: dict, share: float) -> None:
        rows = len(typed["row"])
        if self.columns is None:
            expected = int(rows / share * 1.02) + 16 if share > 0 else rows
            self.columns = {name: np.empty(max(expected, rows), dtype=typed[name].dtype) for name in typed}
        capacity = len(self.columns["row"])
        if self.filled + rows > capacity:
            grown = max(2 * capacity, self.filled + rows)
            self.columns = {name: np.concatenate([column[:self.filled], np.empty(grown - self.filled, column.dtype)])
                            for name, column in self.columns.items()}
        for name in self.columns:
            self.columns[name][self.filled:self.filled + rows] = typed[name]
        self.filled += rows

    def arrays(self) -> dict:
        if self.columns is None:
            return {name: np.array([]) for name in self.NAMES}
        return {name: column[:self.filled] for name, column in self.columns.items()}


def _reject_names(header) -> list[str]:
    """The ledger's column names in its rejects: one named as a rejects' own column is suffixed."""
    return [f"{h} (ledger)" if h in REJECT_COLUMNS else h for h in header]


def _rejects(rows, problems, reasons, cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rejected rows: row, problem (its ``Problem.code``), reason, then the ledger's ``cells``."""
    frame = pd.DataFrame({"row": rows, "problem": problems, "reason": reasons})
    if cells is None:
        return frame
    return frame.join(cells.reset_index(drop=True).set_axis(_reject_names(cells.columns), axis=1))


def _no_rejects(rejects: list, header) -> pd.DataFrame:
    """The rejects of a ledger (or a chunk), in row order, with every column even if none."""
    columns = [*REJECT_COLUMNS, *_reject_names(header)]
    frame = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=columns)
    return frame.sort_values("row", kind="stable").reindex(columns=columns)


def _duplicates_as_written(lines: _Lines, rows: np.ndarray, reasons: np.ndarray, header: list[str]) -> pd.DataFrame:
    """Rejected duplicates with every field as the ledger has it (read again: pandas's typed
    values of the good rows are all that is kept while reading)."""
    starts = lines.starts() if lines.quoted else None
    records = rows if starts is None else np.searchsorted(starts, rows) + 1  # line -> record number
    cells = [(record + [""] * len(header))[:len(header)] for record in lines.records(records)]
    return _rejects(rows, Problem.ENTRY_ID_REPEATED.code, reasons, pd.DataFrame(cells, columns=header, dtype=object))


def _entries_frame(merged: dict, check: _Checker) -> pd.DataFrame:
    """The typed columns of the good rows as the ``Ledger.entries`` frame."""
    return pd.DataFrame({
        "row": merged["row"].astype(np.int64, copy=False),
        "entry_id": pd.Series(merged["entry_id"], dtype=object, copy=False),
        "entry_date": merged["entry_date"].astype("datetime64[ns]", copy=False),
        "export_date": merged["export_date"].astype("datetime64[ns]", copy=False),
        "origin": check.origins.categorical(merged["origin"].astype(np.int32)),
        "code": check.codes.categorical(merged["code"].astype(np.int32)),
        "customs_value": merged["customs_value"].astype(float, copy=False),
        "quantity": merged["quantity"].astype(float, copy=False),
        "liquidation_date": merged["liquidation_date"].astype("datetime64[ns]", copy=False),
        "unliquidated": merged["unliquidated"].astype(bool, copy=False),
        "entry_summary_date": merged["entry_summary_date"].astype("datetime64[ns]", copy=False),
        # the optional columns the ledger has: assume (as written, ``condition_ids`` reads it) and *_value
        **({"assume": check.assumes.categorical(merged["assume"].astype(np.int32))} if "assume" in merged else {}),
        **{f: merged[f].astype(float, copy=False) for f in CONTENT_FIELDS if f in merged},
    }, copy=False)  # the arrays are new: no copy, no consolidation into 2-D blocks


def read_ledger(path, columns=None, direction: str = "both", skip_bad: bool = False,
                chunk_rows: int = CHUNK_ROWS, progress=None) -> Ledger:
    """Read and check a ledger. Without ``skip_bad`` the first bad row raises ``LedgerError``.

    ``columns`` maps fields to the ledger's column names (``parse_columns``); ``direction`` is
    ``us`` (the US on goods from CN/HK/MO), ``cn`` (China on US goods) or ``both`` (taken from
    the origins, which must then all belong to one direction: amounts are in the imposer's currency).
    """
    header = _header(path)
    names = resolve_names(path, header, columns)
    check = _Checker(names, direction)
    good, bad = _Columns(), []
    lines, count = _Lines(path), [1]
    for raw, share in _chunks(path, header, names, chunk_rows, progress, lines, count):
        typed, first, reasons = check(raw)
        if len(reasons):
            if not skip_bad:
                raise LedgerError(path, int(lines([typed["row"][np.flatnonzero(first)[0]]])[0]), reasons[0])
            is_bad = first > 0
            cells = raw.set_index("_row").loc[typed["row"][is_bad], header].reset_index(drop=True)
            bad.append(_rejects(typed["row"][is_bad], PROBLEM_CODES[first[is_bad]], reasons, _as_written(cells)))
            typed = {name: values[~is_bad] for name, values in typed.items()}
        good.add(typed, share)

    entries = _entries_frame(good.arrays(), check)
    if not lines.exact(count[0]):  # a quoted field spans lines: records and lines differ
        entries["row"] = lines(entries["row"].to_numpy())
        for frame in bad:
            frame["row"] = lines(frame["row"].to_numpy())
    if not pd.Index(entries["entry_id"]).is_unique:
        repeated = entries["entry_id"].duplicated(keep="first")
        first_row = entries.drop_duplicates("entry_id").set_index("entry_id")["row"]
        dup = entries[repeated]
        reasons = (names["entry_id"] + " " + dup["entry_id"] + " repeats row "
                   + dup["entry_id"].map(first_row).astype(str))
        if not skip_bad:
            raise LedgerError(path, int(dup["row"].iloc[0]), reasons.iloc[0])
        bad.append(_duplicates_as_written(lines, dup["row"].to_numpy(), reasons.to_numpy(), header))
        entries = entries[~repeated].reset_index(drop=True)
    rejects = _no_rejects(bad, header)
    found = sorted({DIRECTION_OF_ORIGIN[o] for o in entries["origin"].cat.categories})
    if direction == "both":
        if len(found) > 1:
            raise LedgerError(path, None, MIXED_DIRECTIONS)
        direction = found[0] if found else "us"
    return Ledger(str(path), direction, entries, rejects.reset_index(drop=True), names, skip_bad)


def reject_rows(ledger: Ledger, positions, reasons, problem: Problem, field: str = "hts") -> Ledger:
    """``ledger`` less the entries at ``positions``, found bad after reading (``problem``: say, a
    code that is not a line of the schedule in force; the reasons are about ``field``'s cell):
    without ``skip_bad`` the first of them (by row) raises
    ``LedgerError``; with it they join the rejects, their cells as written in the file."""
    positions = np.asarray(positions, dtype=np.int64)
    if not len(positions):
        return ledger
    packed = ledger.parts
    rows, parts = ledger.entries["row"].to_numpy()[positions], packed.part_at[positions]
    order = np.lexsort((rows, parts))  # in file order: by part, then row
    rows, parts, reasons = rows[order], parts[order], np.asarray(reasons, dtype=object)[order]
    name = ledger.names.get(field, field)  # the reasons are about this field's cell
    reasons = np.array([f"{name} {r}" for r in reasons], dtype=object)
    if not ledger.skip_bad:
        raise LedgerError(packed.paths[parts[0]], int(rows[0]), reasons[0])
    bad = _rejects(rows, problem.code, reasons, pd.concat(
        [_cells_of(packed.paths[part], packed.cells[part], rows[parts == part]) for part in np.unique(parts)],
        ignore_index=True))
    if "file" in ledger.rejects.columns:  # a ledger of many files names each reject's
        bad.insert(0, "file", np.asarray(packed.paths, dtype=object)[parts])
    keep = np.ones(len(ledger.entries), dtype=bool)
    keep[positions] = False
    entries = ledger.entries[keep].reset_index(drop=True)
    for column in ("origin", "code"):
        entries[column] = entries[column].cat.remove_unused_categories()
    rejects = pd.concat([ledger.rejects, bad], ignore_index=True)
    if ledger.packed is None:
        rejects = rejects.sort_values("row", kind="stable")
    else:  # a part's path may repeat (two chunks of a file): its first part stands for it
        part_of = {path: number for number, path in reversed(list(enumerate(packed.paths)))}
        rejects = rejects.iloc[np.lexsort((rejects["row"].to_numpy(), rejects["file"].map(part_of).to_numpy()))]
    return Ledger(ledger.path, ledger.direction, entries, rejects.reset_index(drop=True), ledger.names, ledger.skip_bad,
                  ledger.cells, ledger.packed.keep(keep) if ledger.packed else None)


def _cells_of(path, cells, rows: np.ndarray) -> pd.DataFrame:
    """The cells of ``rows`` as written: from the part's raw chunk, else read again from the file."""
    if cells is not None:
        return cells(rows)
    wanted = {int(r) for r in rows}
    header = _header(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, header=0, names=header,
                       skiprows=lambda i: i > 0 and (i + 1) not in wanted)


# -- ledgers of any size: CSV and Parquet files read a chunk at a time --------------------------

def _lost_zero(problem: str | None, text: str) -> str | None:
    """A code's problem, with its cause, for a column that holds numbers (Parquet; the caller
    asks only for those) and a code of an odd count of digits: numbers drop a leading or
    trailing 0. Text is told only what it shows (85171 may be a typo as well as 085171 with its
    0 lost)."""
    digits = _CLEAN.sub("", text)
    if problem is None or not digits.isdigit() or len(digits) % 2 == 0:
        return problem
    return (f"{problem}; the column holds numbers, which drop a code's leading or trailing 0 "
            "(0102.29.40 is read as 1022940, 8517.10 as 8517.1): store the codes as text")


def _arrow_frame(batch, names: dict) -> pd.DataFrame:
    """An Arrow batch (or table) as the CSV reader gives it (``_text_columns``), worked out in
    Arrow: texts as Python strings (not pandas' Arrow-backed strings, converted back and forth by
    every check), NaN where blank or empty; the columns that repeat (``REPEATING``, and hts) as
    categoricals from Arrow's dictionary encoding; number columns of text as numbers where every
    cell is one (cast by Arrow), else as text for the checks to name the bad cell. Columns of
    other types go through ``_text_columns``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    coded = coded_columns(names)
    numbers = {names[f] for f in NUMBERS if f in names}
    out = {}
    for name, column in zip(batch.schema.names, batch.columns):
        if pa.types.is_dictionary(column.type) and _is_text(column.type.value_type):
            if name in coded:  # as the CSV parser gives them (``_plain_chunks``), or a Parquet file
                out[name] = _categorical(column)
                continue
            column = column.cast(column.type.value_type)
        if not _is_text(column.type):
            out[name] = _text_columns(pd.DataFrame({name: column.to_pandas()}), names)[name]
            continue
        column = _blank_as_null(column)
        if name in numbers:
            values = _arrow_numbers(column)
            if values is not None:
                out[name] = pd.Series(values, dtype=float)
                continue
        if name in coded:  # texts (Parquet): encoded here
            out[name] = _categorical(pc.dictionary_encode(column))
        else:
            text = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
            text = text if text.flags.writeable else text.copy()  # Arrow's may be read-only
            if column.null_count:
                text[pc.is_null(column).to_numpy(zero_copy_only=False)] = np.nan
            out[name] = pd.Series(text, dtype=object)  # no inference of a string dtype
    frame = pd.DataFrame(out, copy=False)  # the columns are new: a copy of them took 8-12 ms a chunk
    # the columns stored as numbers (Parquet): an hts number has lost a leading 0 (``_Checker``)
    frame.attrs["numbers"] = [name for name, column in zip(batch.schema.names, batch.columns)
                              if pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
                              or pa.types.is_decimal(column.type)]
    return frame


def _numbers_as_alone(raw: pd.DataFrame, small: list, names: dict) -> pd.DataFrame:
    """``raw`` of a pack of files with each number column as each file alone would give it: a
    column is read as numbers only if all its cells are numbers (``_arrow_numbers``), so a bad
    cell in one file made the pack's column text. The rows of the files whose cells are all
    numbers get their numbers back, so their messages and rejects write them as alone."""
    import pyarrow as pa

    start = np.cumsum([0, *(s.table.num_rows for s in small)])
    for name in (names[f] for f in NUMBERS if f in names):
        if raw[name].dtype.kind == "f":
            continue
        values = raw[name].to_numpy(dtype=object).copy()
        for at, s in enumerate(small):
            column = s.table.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            if not _is_text(column.type):  # numbers (Parquet): the pack's column would be numbers too
                continue
            numbers = _arrow_numbers(_blank_as_null(column))
            if numbers is not None:
                values[start[at]:start[at + 1]] = numbers
        raw[name] = pd.Series(values, dtype=object)
    return raw


def _blank_as_null(column):
    """A text column with its empty texts null: an empty text is a blank cell, as in a CSV."""
    import pyarrow as pa
    import pyarrow.compute as pc

    empty = pc.equal(column, "")
    return pc.if_else(empty, pa.scalar(None, column.type), column) if pc.any(empty).as_py() else column


def _is_text(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _categorical(column) -> pd.Categorical:
    """A dictionary column of texts as a categorical: blank and empty cells missing, and only
    the texts present as categories (a chunk cut from Arrow's batches keeps their whole
    dictionaries), in the dictionary's order: the order they first come in the batches, which
    nothing downstream depends on (a kind's codes are answered alike, ``duties.PricingMemo``).
    Counting the indices costs a fifth of numbering them as first met (``pd.factorize``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.unify_dictionaries().combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    dictionary = column.dictionary
    indices = pc.fill_null(column.indices, -1).to_numpy(zero_copy_only=False)
    keep = np.bincount(indices + 1, minlength=len(dictionary) + 1)[1:] > 0
    keep &= ~pc.equal(dictionary, "").to_numpy(zero_copy_only=False)  # an empty text is a blank cell
    if not keep.all():
        number = np.where(keep, np.cumsum(keep) - 1, -1)
        indices = np.where(indices >= 0, number[indices], -1)
        dictionary = dictionary.filter(pa.array(keep))
    return pd.Categorical.from_codes(indices, categories=pd.Index(dictionary.to_pylist(), dtype=object))


def _arrow_numbers(column) -> np.ndarray | None:
    """A text column as floats (NaN where blank) if every other cell is a number (pandas'
    parser reads the same cells as numbers, to the same floats); None if one is not: the text is
    checked, and a bad cell named, as text. The checks decide alike either way; only a number
    in a message may be written differently (1e308 as 1e+308), as between pandas' chunks."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:  # as they are, else trimmed (the cast refuses a trailing space): a trim copies every text
        values = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        try:
            values = pc.cast(pc.utf8_trim_whitespace(column), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    if pc.any(pc.is_nan(values)).as_py():
        return None  # 'nan' is text to pandas' parser too ('inf' is a number to both: not a finite one)
    return values.to_numpy(zero_copy_only=False).astype(float)


def _text_columns(frame: pd.DataFrame, names: dict) -> pd.DataFrame:
    """A frame from Parquet or from a caller as the CSV reader gives it: text (NaN if blank),
    dates as YYYY-MM-DD, number columns as numbers where they are numbers."""
    out = {}
    numbers = {names[f] for f in NUMBERS if f in names}
    for column in frame.columns:
        values = frame[column]
        if column in numbers and values.dtype.kind in "fiu":
            out[column] = values.astype(float)
        elif values.dtype.kind == "M":
            out[column] = values.dt.strftime("%Y-%m-%d").astype(object)
        elif values.dtype.kind in "fiub":
            out[column] = values.astype(object).map(_number_text)
        elif isinstance(values.dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in values.cat.categories):
            out[column] = values.cat.remove_categories([""]) if "" in values.cat.categories else values
        else:
            text = values.to_numpy(dtype=object)
            text = text if text.flags.writeable else text.copy()  # Arrow's may be read-only
            blank = pd.isna(text)
            if pd.api.types.infer_dtype(text[~blank], skipna=False) not in ("string", "empty"):  # in C
                text = np.array([v if isinstance(v, str) or b else str(v) for v, b in zip(text, blank)], dtype=object)
            text[blank] = np.nan
            text[~blank & (text == "")] = np.nan  # as the CSV reader reads an empty field
            out[column] = pd.Series(text, index=frame.index, dtype=object)  # no inference of a string dtype
    return pd.DataFrame(out, index=frame.index)


def _number_text(value):
    """A number in a text column (an entry id stored as an integer) as the CSV would have it."""
    if pd.isna(value):
        return np.nan
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return str(value)


def _parquet_header(path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise LedgerError(path, None, f"not a readable Parquet file: {str(exc).strip().splitlines()[0]}") from None


def _parquet_whole(path, names: dict, chunk_rows: int, progress) -> list:
    """A small Parquet ledger as ``_plain_tables`` gives a CSV one: one table (rows from 1), or
    the chunks of one of more rows than ``chunk_rows``."""
    handle = _parquet_file(path, names)
    if handle.metadata.num_rows > chunk_rows:
        return list(_parquet_batches(handle, names, chunk_rows, progress))
    table = handle.read(columns=list(dict.fromkeys(names.values())))
    if progress:
        progress("read", table.num_rows, table.num_rows)
    return [(table, 1, 1.0)] if table.num_rows else []


def _parquet_batches(handle, names: dict, chunk_rows: int, progress):
    total, first = handle.metadata.num_rows, 1
    for batch in handle.iter_batches(batch_size=chunk_rows, columns=list(dict.fromkeys(names.values()))):
        if progress:
            progress("read", first - 1 + batch.num_rows, total)
        yield batch, first, (first - 1 + batch.num_rows) / total if total else 1.0
        first += batch.num_rows


def _parquet_file(path, names: dict):
    """The Parquet file, its columns of texts that repeat (``coded_columns``) read as the
    dictionaries they are stored as: not decoded into a text per row, then encoded again
    (``_arrow_frame``). 1 M rows read and typed: 0.46-0.68 s, 0.22-0.25 s so."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    coded = [name for name in coded_columns(names) if name in schema.names
             and (pa.types.is_string(schema.field(name).type) or pa.types.is_large_string(schema.field(name).type))]
    return pq.ParquetFile(path, read_dictionary=coded)


def _parquet_chunks(path, names: dict, chunk_rows: int, progress):
    """The rows of a Parquet ledger in chunks, numbered from 1 (``_row``): Parquet has no lines."""
    for batch, first, share in _parquet_batches(_parquet_file(path, names), names, chunk_rows, progress):
        raw = _arrow_frame(batch, names)
        raw["_row"] = np.arange(first, first + len(raw))
        yield raw, share


class _SeenIds:
    """The entry ids met so far, as 64-bit hashes with the row (and file) of each: sorted runs
    merged as they grow (as a log-structured index does), so a chunk is checked against a few
    sorted arrays. Ids are compared by hash: two different ids collide with odds of about
    n**2 / 2**65 (1 in 100,000 for 20 million rows)."""

    def __init__(self):
        self.runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    @staticmethod
    def hashes(ids: np.ndarray) -> np.ndarray:
        """Python's own 64-bit hash of each id (SipHash, salted per process: the hashes are
        compared within one run only), in half the time of ``pd.util.hash_array``. The ids are
        texts (``_Checker``): equal texts, equal hashes."""
        return np.fromiter(map(hash, np.asarray(ids, dtype=object)), dtype=np.int64, count=len(ids))

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, file number) of the earlier occurrence of each hash; -1 where none. Sorted
        hashes are found several times faster (the runs are read in order, not at random)."""
        row = np.full(len(hashes), -1, dtype=np.int64)
        file = np.full(len(hashes), -1, dtype=np.int64)
        for keys, rows, files in self.runs:
            at = np.searchsorted(keys, hashes).clip(max=len(keys) - 1)
            hit = (keys[at] == hashes) & (row < 0)
            row[hit], file[hit] = rows[at[hit]], files[at[hit]]
        return row, file

    def add(self, hashes: np.ndarray, rows: np.ndarray, file, ordered: bool = False) -> None:
        """Keep ``hashes`` (already sorted if ``ordered``) with their rows, of file ``file`` (a
        number, or one per hash)."""
        order = np.arange(len(hashes)) if ordered else np.argsort(hashes, kind="stable")
        rows = np.asarray(rows)
        # 8 bytes of hash, 4 of row and 2 of file an id (narrower only where they fit): a 20 M-row
        # ledger's ids take some 280 MB
        row_type = np.uint32 if not len(rows) or rows.max() < 2 ** 32 else np.int64
        files = np.broadcast_to(np.asarray(file, dtype=np.int64), len(order))  # one, or one an id
        file_type = np.uint16 if not len(files) or files.max() < 2 ** 16 else np.int32
        run = (hashes[order], rows.astype(row_type)[order], files.astype(file_type)[order])
        while self.runs and len(self.runs[-1][0]) <= len(run[0]):
            if len(self.runs[-1][0]) + len(run[0]) <= self.SORTED_MERGE:
                run = self._sorted_together(self.runs.pop(), run)
                continue
            pair, run = [list(self.runs.pop()), list(run)], None  # no name holds the runs but pair
            run = self._merged(pair)
        if len(run[0]):
            self.runs.append(run)

    # Runs of up to this many ids together are merged by a stable sort of the two (numpy's
    # timsort finds the two sorted runs): 14-15 ns an id against 31-33 for ``_merged`` alone,
    # 13-29 ns in a run beside the parser. Larger runs are merged in place by ``_merged``: a
    # sort holds the order (8 bytes an id) besides, and beside the parser it was slower at 8 M.
    SORTED_MERGE = 4_000_000

    @staticmethod
    def _sorted_together(older: tuple, newer: tuple) -> tuple:
        """Two sorted runs as one, the older's entries first among equal hashes."""
        keys = np.concatenate([older[0], newer[0]])
        order = np.argsort(keys, kind="stable")
        merged = [keys[order]]
        del keys
        for i in range(1, len(older)):
            merged.append(np.concatenate([older[i], newer[i]])[order])
        return tuple(merged)

    @staticmethod
    def _merged(pair) -> tuple:
        """Two sorted runs (older, newer: lists of columns) as one, the older's entries first among
        equal hashes (as a stable sort of the two would have them), placed straight into the
        result column by column, each column of the two let go once placed: no sort, and at
        most one column more than the runs in memory."""
        older, newer = pair
        size = len(older[0]) + len(newer[0])
        # where each newer entry goes: 4 bytes an id while they fit (this is the run's peak)
        to = np.searchsorted(older[0], newer[0], side="right").astype(np.int32 if size < 2 ** 31 else np.int64)
        to += np.arange(len(newer[0]), dtype=to.dtype)
        from_older = np.ones(size, dtype=bool)
        from_older[to] = False
        merged = []
        for i in range(len(older)):
            out = np.empty(size, dtype=np.result_type(older[i], newer[i]))
            out[to], out[from_older] = newer[i], older[i]
            older[i] = newer[i] = None
            merged.append(out)
        return tuple(merged)


def _packed(parts, rows: int):
    """``parts`` (Ledgers of a ledger's files, in order) with consecutive small ones joined into
    one of at most ``rows`` entries, so that a folder of many small files costs a pricing per
    pack. Parts are joined only if their columns, names and direction agree; the rejects of a
    part with no entries join any pack."""
    pending, count = [], 0
    try:
        for part in parts:
            if pending and (count + len(part.entries) > rows or not _joinable(pending, part)):
                yield _joined(pending)
                pending, count = [], 0
            pending.append(part)
            count += len(part.entries)
        if pending:
            yield _joined(pending)
    finally:
        parts.close()  # a caller that stops early closes the file being read now, not at collection


def _joinable(pending: list[Ledger], part: Ledger) -> bool:
    priced = [p for p in pending if len(p.entries)]
    if not priced or not len(part.entries):
        return True
    first = priced[0]
    return (part.direction == first.direction and part.names == first.names and part.skip_bad == first.skip_bad
            and list(part.entries.columns) == list(first.entries.columns)
            and list(part.rejects.columns) == list(first.rejects.columns))


def _joined(parts: list[Ledger]) -> Ledger:
    """One ledger of ``parts``: their entries and rejects in order, and which part each entry is from."""
    if len(parts) == 1:
        return parts[0]
    priced = [p for p in parts if len(p.entries)] or parts[:1]
    columns = {}
    for name in priced[0].entries.columns:
        values = [p.entries[name] for p in priced]
        columns[name] = _union(values) if isinstance(values[0].dtype, pd.CategoricalDtype) \
            else pd.Series(np.concatenate([v.to_numpy() for v in values]), dtype=values[0].dtype, copy=False)
    entries = pd.DataFrame(columns, copy=False)
    rejects = pd.concat([p.rejects for p in parts if len(p.rejects)] or [parts[0].rejects], ignore_index=True)
    paths, cells, part_at = [], [], []
    for p in parts:  # a part may be a pack already (``LedgerReader._pack``)
        inner = p.parts
        part_at.append(inner.part_at + len(paths))
        paths += inner.paths
        cells += inner.cells
    packed = Packed(tuple(paths), tuple(cells), np.concatenate(part_at))
    first = priced[0]  # the parts' cells are the pack's (``Packed.cells``), not one part's
    return Ledger(first.path, first.direction, entries, rejects, first.names, first.skip_bad, None, packed)


def _union(columns: list[pd.Series]) -> pd.Categorical:
    """Categorical columns one after the other, their categories united (in order of first
    appearance): ``union_categoricals``' answer at a fraction of its cost for many short columns."""
    categories = [c.cat.categories.to_numpy(dtype=object) for c in columns]
    number, united = pd.factorize(np.concatenate(categories))
    starts = np.cumsum([0] + [len(c) for c in categories[:-1]])
    codes = np.concatenate([c.cat.codes.to_numpy().astype(np.int64) for c in columns])
    at = codes + np.repeat(starts, [len(c) for c in columns])  # in the categories one after the other
    known = codes >= 0  # -1: a missing value, kept missing
    codes[known] = number[at[known]]
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=pd.Index(united, dtype=object))


# A CSV or Parquet file up to this size is read whole and checked together with its neighbours
# (``LedgerReader._small_files``): some 100,000 rows of CSV, a fifth of a chunk. A pack holds up
# to a chunk's rows and this many files (each file's table holds some kilobytes however short).
SMALL_FILE_BYTES = 8 << 20
PACK_FILES = 2_000


@dataclass
class _Small:
    """A small CSV or Parquet file read whole: its number and path, header, names, lines (None:
    Parquet) and table, and the record (or row) number of the table's first row."""

    number: int
    path: Path
    header: list
    names: dict
    lines: _Lines
    table: object  # pyarrow.Table
    first: int

    def lines_of_rows(self) -> np.ndarray:
        rows = np.arange(self.first, self.first + self.table.num_rows)
        quoted = self.lines is not None and self.lines.quoted  # a quoted field may span lines (CSV)
        return self.lines(rows) if quoted else rows


class LedgerReader:
    """A ledger of one or many files (CSV or Parquet) read a chunk at a time, each chunk checked
    into a ``Ledger`` of its own rows: memory holds one chunk, whatever the size of the files.

    Across chunks and files it keeps what must hold for the whole ledger: entry ids are unique
    (``_SeenIds``) and the origins belong to one direction. Rows are named by file and physical
    line (CSV) or row (Parquet). ``rows_read`` counts the rows read (blank lines are not rows)."""

    def __init__(self, spec, columns=None, direction: str = "both", skip_bad: bool = False,
                 chunk_rows: int = CHUNK_ROWS, progress=None, label: str = "partition"):
        self._frame, self.label = (spec, label) if isinstance(spec, pd.DataFrame) else (None, label)
        self.files = [] if self._frame is not None else ledger_files(spec) if not isinstance(spec, (list, tuple)) \
            else [Path(f) for f in spec]
        self.columns, self.asked, self.skip_bad = columns, direction, skip_bad
        self.direction = None if direction == "both" else direction
        self.chunk_rows, self.progress = chunk_rows, progress
        self.seen = _SeenIds()
        self._lines: dict = {}  # CSV file -> (its _Lines, header), for the rejects as written
        self.rows_read = 0
        self.names: dict = {}

    @property
    def path(self) -> str:
        if self._frame is not None:
            return self.label
        return str(self.files[0]) if len(self.files) == 1 else f"{len(self.files)} files"

    def empty(self) -> Ledger:
        """A ledger of no rows with the columns this reader reads (the columns of the first file
        read, or the default names): what prices to the header and zero totals."""
        names = self.names or {f: f for f in ("entry_id", "entry_date", "hts", "origin", "customs_value")}
        check = _Checker(names, self.asked)
        return Ledger(self.path, self.direction or "us", _entries_frame(_Columns().arrays(), check),
                      _rejects([], [], []), names, self.skip_bad)

    def __iter__(self):
        if self._frame is not None:
            yield from self.frame(self._frame, self.label)
            return
        parts = self._parts()
        yield from _packed(parts, self.chunk_rows) if len(self.files) > 1 else parts

    def _parts(self):
        small, held = [], 0  # small files read whole, to be checked together (``_small_files``); their rows
        for number, path in enumerate(self.files):
            tables = None  # a small file's, read whole
            try:
                if is_parquet(path):
                    header = _parquet_header(path)
                    names = resolve_names(path, header, self.columns)
                    lines = None
                    if os.path.getsize(path) <= SMALL_FILE_BYTES:
                        tables = _parquet_whole(path, names, self.chunk_rows, self.progress)
                    else:
                        chunks = _parquet_chunks(path, names, self.chunk_rows, self.progress)
                else:
                    header = _header(path)
                    names = resolve_names(path, header, self.columns)
                    lines, count = _Lines(path, len(header), plaincsv.scan_of(path, header)), [1]
                    if lines.plain and os.path.getsize(path) <= SMALL_FILE_BYTES:
                        tables = list(_plain_tables(path, header, names, self.chunk_rows, self.progress, lines,
                                                    count, ahead=False))
                    else:
                        chunks = _chunks(path, header, names, self.chunk_rows, self.progress, lines, count)
            except Exception:
                yield from self._small_files(small)  # an earlier file's bad row is named first
                raise
            self.names = names
            self._lines[str(path)] = (lines, header)
            if tables is not None and len(tables) <= 1:  # none: a header alone
                rows = sum(t.num_rows for t, _, _ in tables)
                if small and (small[0].header != header or small[0].names != names or held + rows > self.chunk_rows
                              or len(small) >= PACK_FILES or (small[0].lines is None) != (lines is None)
                              or any(not small[0].table.schema.equals(t.schema) for t, _, _ in tables)):
                    yield from self._small_files(small)
                    small, held = [], 0
                small.extend(_Small(number, path, header, names, lines, t, first) for t, first, _ in tables)
                held += rows
                continue
            yield from self._small_files(small)
            small, held = [], 0
            if tables is not None:  # a small file of several chunks (``chunk_rows`` is small)
                chunks = ((_arrow_frame(t, names).assign(_row=np.arange(first, first + t.num_rows)), share)
                          for t, first, share in tables)
            yield from self._ledgers(path, number, header, names, chunks, lines)
        yield from self._small_files(small)

    def _small_files(self, small: list[_Small]):
        """The Ledger of small files (CSV, or Parquet) of one header, each read whole, typed and
        checked in one pass (``_pack``): doing that for a chunk costs some 5 ms however few its
        rows, so a folder of many small files is read a pack at a time. A lone file, or one
        whose columns Arrow typed otherwise, is a Ledger of its own (``_ledger``)."""
        if not small:
            return
        import pyarrow as pa

        header, names = small[0].header, small[0].names
        try:
            table = pa.concat_tables([s.table for s in small])
        except pa.ArrowInvalid:  # the files' columns were typed differently: one at a time
            for s in small:
                yield from self._small_files([s])
            return
        raw = _numbers_as_alone(_arrow_frame(table, names), small, names)
        sizes = [s.table.num_rows for s in small]
        line_of = np.concatenate([s.lines_of_rows() for s in small])
        part_of = np.repeat(np.arange(len(small)), sizes)
        raw["_row"] = np.arange(len(raw))  # the position, while checked: lines repeat across files
        check = _Checker(names, self.asked)
        typed, first, reasons = check(raw)
        starts = np.cumsum([0, *sizes])
        if len(small) > 1:
            yield self._pack(small, check, raw, typed, first, reasons, part_of, line_of, starts)
            return
        typed["row"] = line_of[typed["row"]]  # from positions (blank lines are not checked) to lines
        cells = raw.assign(_row=line_of) if self.skip_bad else None
        yield self._ledger(small[0].path, small[0].number, header, names, check, typed, first, reasons, cells)

    def _pack(self, small: list[_Small], check: _Checker, raw: pd.DataFrame, typed: dict, first: np.ndarray,
              reasons: np.ndarray, part_of: np.ndarray, line_of: np.ndarray, starts: np.ndarray) -> Ledger:
        """One Ledger of the checked rows of several small files (``Ledger.packed`` names each
        entry's file): the entries, rejects and errors that reading the files one at a time
        (``_ledger``) and joining them (``_joined``) give. A file's bad row, then its repeated
        id, then its other direction stop the run before anything of the next file."""
        header, names, n = small[0].header, small[0].names, len(small)
        position = typed["row"]  # in raw, of each row checked (blank lines are not)
        part, rows = part_of[position], line_of[position]
        self.rows_read += len(rows)
        is_bad = first > 0
        stop_at = n  # the file whose bad row stops the run (without --skip-bad), its rows unread
        if len(reasons) and not self.skip_bad:
            stop_at = part[np.flatnonzero(is_bad)[0]]
        keep = ~is_bad & (part < stop_at)
        kept = {name: values[keep] for name, values in typed.items()}
        kept["row"] = rows[keep]
        numbers = np.array([s.number for s in small], dtype=np.int64)
        entry_part = part[keep]
        entries, repeats, repeated = self._unique(small[0].path, numbers[entry_part], names, _entries_frame(kept, check),
                                                  stop=False)
        repeat_part = entry_part[repeated]
        first_repeat = repeat_part[0] if len(repeated) and not self.skip_bad else n
        entry_part = np.delete(entry_part, repeated)
        # each file's direction, in file order, up to the file whose error comes first
        categories = entries["origin"].cat.categories
        pairs = np.unique(entry_part * (len(categories) + 1) + entries["origin"].cat.codes.to_numpy())
        pair_part, pair_origin = pairs // (len(categories) + 1), pairs % (len(categories) + 1)
        for p in range(min(stop_at, first_repeat)):
            self._one_direction(small[p].path, categories[pair_origin[pair_part == p]])
        if first_repeat < n:  # before stop_at: the rows of that file and after were not kept
            raise LedgerError(small[first_repeat].path, int(repeats["row"].iloc[0]), repeats["reason"].iloc[0])
        if stop_at < n:
            raise LedgerError(small[stop_at].path, int(rows[np.flatnonzero(is_bad)[0]]), reasons[0])

        paths = np.array([str(s.path) for s in small], dtype=object)
        rejects = _no_rejects([], header)
        if len(reasons) or len(repeated):  # (with --skip-bad) by file, then line
            bad = _rejects(rows[is_bad], PROBLEM_CODES[first[is_bad]], reasons, _as_written(
                raw.iloc[position[is_bad]][header]))
            again = _rejects(repeats["row"], repeats["problem"], repeats["reason"], _as_written(
                raw.iloc[position[keep][repeated]][header]))
            found = pd.concat([f for f in (bad, again) if len(f)], ignore_index=True)
            where = np.concatenate([part[is_bad], repeat_part])
            order = np.lexsort((found["row"].to_numpy(), where))
            rejects = found.iloc[order].reindex(columns=rejects.columns).reset_index(drop=True)
            where = where[order]
        else:
            where = np.zeros(0, dtype=np.int64)
        rejects.insert(0, "file", paths[where] if len(rejects) else str(small[0].path))

        def cells_of(rows, start, stop):
            part_raw = raw.iloc[start:stop].set_axis(line_of[start:stop])
            return _as_written(part_raw.loc[np.asarray(rows), header].reset_index(drop=True))
        cells = tuple(functools.partial(cells_of, start=starts[p], stop=starts[p + 1]) if self.skip_bad else None
                      for p in range(n))
        return Ledger(str(small[0].path), self.direction or "us", entries, rejects, names, self.skip_bad, None,
                      Packed(tuple(paths), cells, entry_part))

    def as_written(self, rejects: pd.DataFrame) -> pd.DataFrame:
        """``rejects`` of CSV files with every field exactly as the file has it (numbers were read
        as numbers: 007 would come back as 7); one fast pass over each file that has rejects."""
        if not len(rejects) or not self._lines:
            return rejects
        out = rejects.copy()
        files = out["file"].to_numpy(dtype=object) if "file" in out else np.full(len(out), self.path, dtype=object)
        for path, (lines, header) in self._lines.items():
            mine = np.flatnonzero(files == path) if "file" in out else np.arange(len(out))
            if lines is None or not len(mine):
                continue
            rows = out["row"].to_numpy(dtype=np.int64)[mine]
            starts = lines.starts() if lines.quoted else None
            records = rows if starts is None else np.searchsorted(starts, rows) + 1  # line -> record number
            cells = [(record + [""] * len(header))[:len(header)] for record in lines.records(records)]
            out.loc[out.index[mine], _reject_names(header)] = pd.DataFrame(cells, columns=header, dtype=object).to_numpy()
        return out

    def frame(self, frame: pd.DataFrame, label: str = "partition"):
        """The Ledgers of an in-memory frame (rows numbered from 1), in chunks."""
        header = [str(c) for c in frame.columns]
        names = resolve_names(label, header, self.columns)
        frame = frame.set_axis(header, axis=1)
        self.names = names

        def chunks():
            for start in range(0, len(frame), self.chunk_rows):
                raw = _text_columns(frame.iloc[start:start + self.chunk_rows].reset_index(drop=True), names)
                raw["_row"] = np.arange(start + 1, start + 1 + len(raw))
                yield raw, min(start + self.chunk_rows, len(frame)) / len(frame)
        yield from self._ledgers(label, 0, header, names, chunks(), None)

    def _ledgers(self, path, number: int, header: list[str], names: dict, chunks, lines):
        check = _Checker(names, self.asked)
        for raw, _share in chunks:
            if lines is not None and lines.quoted:  # a quoted field may span lines: name rows by line
                raw["_row"] = lines(raw["_row"].to_numpy())
            typed, first, reasons = check(raw)
            part = self._ledger(path, number, header, names, check, typed, first, reasons,
                                raw if self.skip_bad else None)
            raw = typed = None  # not held while the ledger is priced
            yield part

    def _ledger(self, path, number: int, header: list[str], names: dict, check: _Checker, typed: dict,
                first: np.ndarray, reasons: np.ndarray, raw: pd.DataFrame | None) -> Ledger:
        """The Ledger of a checked chunk of file ``path`` (number ``number``): its good rows, its
        rejects (``raw``: its cells, given with --skip-bad only), each id unique across files;
        without --skip-bad its first bad row raises ``LedgerError``."""
        self.rows_read += len(typed["row"])
        bad = []
        # The raw cells of the chunk are kept only for rejects, which need --skip-bad (else the
        # first bad row stops the run): a chunk's texts are as large as its entries.
        by_row = raw.set_index("_row") if raw is not None else None
        if len(reasons):
            if not self.skip_bad:
                raise LedgerError(path, int(typed["row"][np.flatnonzero(first)[0]]), reasons[0])
            is_bad = first > 0
            cells = by_row.loc[typed["row"][is_bad], header].reset_index(drop=True)
            bad.append(_rejects(typed["row"][is_bad], PROBLEM_CODES[first[is_bad]], reasons, _as_written(cells)))
            typed = {name: values[~is_bad] for name, values in typed.items()}
        entries = _entries_frame(typed, check)
        entries, repeated, _ = self._unique(path, number, names, entries)
        if len(repeated):
            cells = by_row.loc[repeated["row"].to_numpy(), header].reset_index(drop=True)
            bad.append(_rejects(repeated["row"], repeated["problem"], repeated["reason"], _as_written(cells)))
        rejects = _no_rejects(bad, header)
        if len(self.files) > 1:
            rejects.insert(0, "file", str(path))
        self._one_direction(path, entries["origin"].cat.categories)

        def cells_of(rows, by_row=by_row, header=header):
            return _as_written(by_row.loc[np.asarray(rows), header].reset_index(drop=True))
        return Ledger(str(path), self.direction or "us", entries, rejects.reset_index(drop=True), names,
                      self.skip_bad, cells_of if self.skip_bad else None)

    def _one_direction(self, path, origins) -> None:
        """The ledger's direction, taken from the first file (or chunk) whose ``origins`` name one
        when it is not given; a file whose origins name another, or both, is an error."""
        found = sorted({DIRECTION_OF_ORIGIN[o] for o in origins})
        if self.direction is None and len(found) == 1:
            self.direction = found[0]
        if len(found) > 1 or (found and found[0] != self.direction):
            raise LedgerError(path, None, MIXED_DIRECTIONS)

    def _unique(self, path, number, names: dict, entries: pd.DataFrame, stop: bool = True):
        """The entries less those whose id came before (in this chunk, an earlier one or another
        file), and those as rejects (row, reason) with their positions in ``entries``. ``number``:
        the file number of the entries (one, or one per entry: a pack of small files, ``path``
        then being the first's). Without --skip-bad a repeated id raises ``LedgerError``, unless
        not ``stop`` (the caller raises it, in its turn)."""
        ids = entries["entry_id"].to_numpy(dtype=object)
        rows = entries["row"].to_numpy()
        numbers = np.broadcast_to(np.asarray(number, dtype=np.int64), len(ids))
        hashes = self.seen.hashes(ids)
        # One stable sort serves the three steps: earlier chunks' ids found in order, repeats in
        # this chunk next to their first (the earliest row: rows ascend), the run to keep. Equal
        # hashes (a repeated id) are rare: the sort is stable only if there are some (a quarter
        # of the time of a stable sort of random 64-bit keys).
        order = np.argsort(hashes)
        ordered = hashes[order]
        if (ordered[1:] == ordered[:-1]).any():
            order = np.argsort(hashes, kind="stable")
            ordered = hashes[order]
        ordered_rows, ordered_numbers = rows[order], numbers[order]
        found_row, found_file = self.seen.find(ordered)
        here = np.zeros(len(order), dtype=bool)
        here[1:] = ordered[1:] == ordered[:-1]
        if here.any():  # a repeat names the id's first row: in an earlier chunk, else this one's first
            first = np.maximum.accumulate(np.where(here, 0, np.arange(len(order))))[here]
            before = found_row[first] >= 0
            found_row[here] = np.where(before, found_row[first], ordered_rows[first])
            found_file[here] = np.where(before, found_file[first], ordered_numbers[first])
        kept = found_row < 0
        self.seen.add(ordered[kept], ordered_rows[kept], ordered_numbers[kept], ordered=True)
        earlier_row, earlier_file = np.empty_like(found_row), np.empty_like(found_file)
        earlier_row[order], earlier_file[order] = found_row, found_file
        repeated = earlier_row >= 0
        if not repeated.any():
            return entries, _rejects([], [], []), np.zeros(0, dtype=np.int64)
        where = np.array(["" if f == n else f" of {self.files[f]}" for f, n in
                          zip(earlier_file[repeated], numbers[repeated])], dtype=object)
        reasons = np.array([f"{names['entry_id']} {i} repeats row {r}{w}" for i, r, w in
                            zip(ids[repeated], earlier_row[repeated], where)], dtype=object)
        if not self.skip_bad and stop:
            raise LedgerError(path, int(rows[repeated][0]), reasons[0])
        kept = entries[~repeated].reset_index(drop=True)
        for column in ("origin", "code"):
            kept[column] = kept[column].cat.remove_unused_categories()
        return kept, _rejects(rows[repeated], Problem.ENTRY_ID_REPEATED.code, reasons), np.flatnonzero(repeated)
