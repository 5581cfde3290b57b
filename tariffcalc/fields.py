"""A ledger before its rows: the files it is made of and the columns its header names the fields by.

Light (no pandas), so that ``tariffcalc duty`` can begin reading a ledger on a thread while it
imports the rest (``plaincsv.head_start``); ``ledger`` reads the rows.
"""
from __future__ import annotations

import glob
import re
from pathlib import Path

from .errors import TariffcalcError
from .model import CONTENTS

# What the importer knows of the goods, as ``rate --assume``/``--content`` take it: condition ids
# separated by ';', and the value of each metal content, in the ledger's currency.
CONTENT_FIELDS = tuple(f"{content}_value" for content in CONTENTS)
FIELDS = ("entry_id", "entry_date", "hts", "origin", "customs_value", "export_date", "quantity",
          "liquidation_date", "entry_summary_date", "assume", *CONTENT_FIELDS)
REQUIRED = FIELDS[:5]
NUMBERS = ("customs_value", "quantity", *CONTENT_FIELDS)
# Read as categorical: the parser hashes the few distinct values in C. Not hts: pandas turns
# categories that all look like numbers into numbers, and 05119910 would lose its leading zero.
REPEATING = ("entry_date", "export_date", "origin", "liquidation_date", "entry_summary_date", "assume")
# Rows read, checked and priced at a time. Each chunk pays a fixed cost for the keys it is the
# first to meet (a ledger's later chunks bring fewer), so fewer, larger chunks price faster;
# memory grows with the chunk: on a 5 M-row ledger the peak was 793 MB at 250,000 rows,
# 965 MB at 500,000 and 1,323 MB at 1,000,000 (-f json); on 18.3 M rows 1,265 MB (97 s) at
# 250,000 and 1,456 MB (77 s) at 500,000, the largest under the 1.5 GB of issue 13.
CHUNK_ROWS = 500_000


class LedgerError(TariffcalcError):
    """A ledger file or one of its rows cannot be used: ``LEDGER.csv:ROW: reason``."""

    def __init__(self, path, row: int | None, reason: str):
        self.path, self.row, self.reason = str(path), row, reason
        super().__init__(f"{self.path}:{row}: {reason}" if row else f"{self.path}: {reason}")


def parse_columns(specs) -> dict[str, str]:
    """``["entry_date=Date,hts=HTS"]`` -> ``{"entry_date": "Date", "hts": "HTS"}`` (field -> CSV column)."""
    mapping = {}
    for spec in [specs] if isinstance(specs, str) else (specs or ()):
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, column = item.partition("=")
            name, column = name.strip(), column.strip()
            if not sep or not column:
                raise TariffcalcError(f"--columns: {item!r} is not FIELD=COLUMN")
            if name not in FIELDS:
                raise TariffcalcError(f"--columns: unknown field {name!r} (fields: {', '.join(FIELDS)})")
            mapping[name] = column
    return mapping


SEPARATORS = {"\t": "tabs", ";": "semicolons", "|": "vertical bars"}


def resolve_names(path, header: list[str], columns) -> dict[str, str]:
    """The ledger's column of each field it has (field -> column), from ``columns`` (``--columns``
    specs or a dict) and the header; a missing required field or a column not in the header is an
    error naming the columns there are."""
    names = parse_columns(columns) if not isinstance(columns, dict) else dict(columns)
    if len(header) == 1:  # another separator: name it rather than every field missing
        for separator, called in SEPARATORS.items():
            if separator in header[0]:
                raise LedgerError(path, 1, f"the header is one column, its fields separated by {called}: "
                                           "a ledger is comma-separated (export it as CSV with commas)")
    for f, column in names.items():
        if column not in header:
            raise LedgerError(path, 1, f"no column {column!r} (mapped from {f}); columns: {', '.join(header)}")
    names = {f: names.get(f, f) for f in FIELDS if names.get(f, f) in header}
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        raise LedgerError(path, 1, f"missing column {missing[0]!r} (map another name with "
                                   f"{columns_hint(header, names, missing[0])}); columns: {', '.join(header)}")
    return names


def columns_hint(header: list[str], names: dict, missing: str) -> str:
    """``--columns`` for the header's names that are fields written otherwise ('Entry ID' for
    entry_id), the missing field's own if none is: a suggestion the user runs, never a guess
    tariffcalc acts on."""
    import shlex

    spelled = {re.sub(r"[\s_.-]+", "_", column.strip().lower()): column for column in header}
    found = {f: spelled[f] for f in FIELDS if f not in names and f in spelled}
    if missing not in found:
        return f"--columns {missing}=NAME"
    return "--columns " + shlex.quote(",".join(f"{f}={column}" for f, column in found.items()))


def coded_columns(names: dict) -> set[str]:
    """The columns read as categoricals: those that repeat, and hts."""
    return {names[f] for f in (*REPEATING, "hts") if f in names}


# -- ledgers of any size: files, folders and patterns, read a chunk at a time ------------------

PARQUET_SUFFIXES = (".parquet", ".pq")
LEDGER_SUFFIXES = (".csv", *PARQUET_SUFFIXES)


def ledger_files(spec) -> list[Path]:
    """The files of a ledger: a file, a folder (its .csv and .parquet files, by name) or a glob
    pattern (``'exports/2025-*.csv'``), so a ledger split into partition files reads as one."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() in LEDGER_SUFFIXES)
        if not files:
            raise LedgerError(spec, None, "no .csv or .parquet files in this folder")
        return files
    if path.is_file():
        return [path]
    if glob.has_magic(str(spec)):
        files = sorted(Path(f) for f in glob.glob(str(spec), recursive=True) if Path(f).is_file())
        if not files:
            raise LedgerError(spec, None, "no file matches this pattern")
        return files
    raise LedgerError(spec, None, "no such file, folder or pattern")


def is_parquet(path) -> bool:
    return Path(path).suffix.lower() in PARQUET_SUFFIXES
