"""Content basis: a step whose rate applies to the value of a content (steel, aluminum, copper).

A step with ``content: steel`` charges ``rate × share``, the share being the steel content's share
of the customs value: declared by the user (``Contents``), or else the shipped estimate of the code
(``ContentEstimates``, a CSV named by ``content_estimates`` in dataset.yaml), or else, with neither,
the full value (flagged as an upper bound). Every reason says which.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import file_table
from .codes import VALID_LENGTHS, CodeRows, code_problem, normalize_code
from .errors import DataError, QueryError
from .model import CONTENTS, clean_rate

ESTIMATE_COLUMNS = ("code",) + CONTENTS


@dataclass(frozen=True)
class Contents:
    """What the user asserts about the goods: content shares of the value and conditions met."""

    shares: dict = field(default_factory=dict)  # content -> share of the customs value (0..1)
    conditions: frozenset = frozenset()  # ids of the conditions asserted met

    @property
    def empty(self) -> bool:
        return not self.shares and not self.conditions


def parse_contents(text: str | None) -> dict:
    """``'steel=0.2,aluminum=0.1'`` -> {'steel': 0.2, 'aluminum': 0.1}; QueryError on anything else."""
    shares = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if name not in CONTENTS:
            raise QueryError(f"--content: unknown content {name!r} (use {', '.join(CONTENTS)})")
        try:
            share = float(value)
        except ValueError:
            raise QueryError(f"--content: {name}={value.strip()!r} is not a number (a share of the value, 0 to 1)") from None
        if not 0 <= share <= 1:
            raise QueryError(f"--content: {name}={share:g} is not a share of the value between 0 and 1")
        if name in shares:
            raise QueryError(f"--content: {name} given twice")
        shares[name] = share
    if sum(shares.values()) > 1 + 1e-9:
        raise QueryError(f"--content: the shares add up to {sum(shares.values()):g}, more than the whole value")
    return shares


_SHARES_LOCK = threading.Lock()


class ContentEstimates:
    """Estimated content shares by code prefix: the longest prefix with a row decides; a code
    shorter than the rows takes the mean of the rows under it."""

    def __init__(self, path):
        self.path = Path(path)
        self.table = _read_estimates(str(self.path))
        self.label = _label(self.path)
        self._kept = CodeRows(len(CONTENTS))  # each code's shares worked out once

    def shares(self, codes) -> pd.DataFrame:
        """One row per code (index), columns ``CONTENTS``; NaN where nothing is known. A ledger
        asks for the same codes chunk after chunk: each is worked out once (``_shares``)."""
        codes = pd.Index(pd.Series(list(codes), dtype=str).unique())
        with _SHARES_LOCK:  # partitions priced on threads share the estimates
            rows = self._kept(codes, lambda new: self._shares(pd.Index(pd.Series(new, dtype=str))).to_numpy())
        return pd.DataFrame(rows, index=codes, columns=list(CONTENTS))

    def _shares(self, codes: pd.Index) -> pd.DataFrame:
        out = pd.DataFrame(np.nan, index=codes, columns=list(CONTENTS))
        table = self.table
        lengths = sorted(set(table.index.str.len()), reverse=True)
        left = pd.Series(True, index=codes)
        for n in lengths:
            wanted = codes[left.to_numpy() & (codes.str.len() >= n)]
            if not len(wanted):
                continue
            heads = wanted.str[:n]
            hit = table.index.get_indexer(heads)
            found = hit >= 0
            out.loc[wanted[found]] = table.iloc[hit[found]].to_numpy()
            left[wanted[found]] = False
        for code in codes[left.to_numpy()]:  # shorter than every row that could match: the mean under it
            under = table[table.index.str.startswith(code)]
            if len(under):
                out.loc[code] = under.mean().to_numpy()
        return out


def _label(path: Path) -> str:
    """The '# label:' line (what the outputs call the estimate), else the file's name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.lower().startswith("# label:"):
            return line.split(":", 1)[1].strip()
    return path.name


@lru_cache(maxsize=4)
@file_table("content-estimates")
def _read_estimates(path: str) -> pd.DataFrame:
    import csv

    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, None, f"cannot read content estimates: {exc}") from None
    number, has_source = 0, False
    while number < len(lines) and (lines[number].startswith("#") or not lines[number].strip()):
        has_source = has_source or lines[number].lower().startswith("# source:")
        number += 1
    if not has_source:
        raise DataError(path, 1, "content estimates need a '# source: …' line before the header")
    reader = csv.reader(lines[number:])
    header = [c.strip() for c in next(reader, [])]
    if tuple(header) != ESTIMATE_COLUMNS:
        raise DataError(path, number + 1, f"header must be {','.join(ESTIMATE_COLUMNS)}")
    records = list(reader)
    frame = _plain_estimates(records, len(header))
    if frame is not None:
        return frame
    codes, values, seen = [], [], {}  # the careful loop: it finds and names the first problem
    for offset, record in enumerate(records, 1):
        line = number + 1 + offset
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise DataError(path, line, f"{len(record)} fields, header has {len(header)}")
        code = record[0].strip()
        if not (code.isdigit() and len(code) in VALID_LENGTHS):  # the usual row needs no normalising
            problem = code_problem(code)
            if problem:
                raise DataError(path, line, problem)
            code = normalize_code(code)
        if code in seen:
            raise DataError(path, line, f"code {code} repeats line {seen[code]}")
        seen[code] = line
        try:
            shares = [float(cell) for cell in record[1:]]
        except ValueError:
            raise DataError(path, line, "shares must be numbers between 0 and 1") from None
        if not all(0 <= s <= 1 for s in shares):  # per metal: industry shares need not partition
            raise DataError(path, line, "shares must be numbers between 0 and 1")
        codes.append(code)
        values.append(shares)
    return pd.DataFrame(values, index=pd.Index(codes, name="code"), columns=list(CONTENTS))


def _plain_estimates(records: list, width: int) -> pd.DataFrame | None:
    """The table of an estimates file without any problem, checked column-wise (6,400 rows are
    read on a cold start); None as soon as anything is unusual: the careful loop then names it."""
    if not records or [] in records or set(map(len, records)) != {width}:
        return None
    columns = list(zip(*records))
    codes = list(map(str.strip, columns[0]))
    joined = "".join(codes)  # plain ASCII digits of a valid length, each code once
    if not (joined.isascii() and joined.isdigit() and set(map(len, codes)) <= set(VALID_LENGTHS)
            and len(set(codes)) == len(codes)):
        return None
    try:
        shares = np.array([list(map(float, column)) for column in columns[1:]], dtype=float).T
    except ValueError:
        return None
    if not ((shares >= 0) & (shares <= 1)).all():  # NaN fails too
        return None
    return pd.DataFrame(shares, index=pd.Index(codes, name="code"), columns=list(CONTENTS))


def content_shares(frame: pd.DataFrame, estimates: ContentEstimates | None, declared: dict) -> tuple[np.ndarray, np.ndarray]:
    """For rows with a ``content``: (share, basis) where basis is 'declared', 'estimate' or 'unknown'
    (share 1: the full value)."""
    n = len(frame)
    share = np.ones(n)
    basis = np.full(n, "", dtype=object)
    rows = np.flatnonzero(frame["content"].notna().to_numpy() & (frame["content"] != "").to_numpy()) \
        if "content" in frame else np.zeros(0, dtype=int)
    if not len(rows):
        return share, basis
    contents = frame["content"].to_numpy()[rows]
    codes = frame["code"].to_numpy()[rows]
    if estimates is not None:
        known = estimates.shares(pd.unique(codes))
        column = pd.Index(known.columns).get_indexer(contents)
        values = known.to_numpy()[known.index.get_indexer(codes), column]
    else:
        values = np.full(len(rows), np.nan)
    declared_share = np.array([declared.get(c, np.nan) for c in contents], dtype=float)
    is_declared = ~np.isnan(declared_share)
    is_estimate = ~is_declared & ~np.isnan(values)
    share[rows] = np.where(is_declared, declared_share, np.where(is_estimate, values, 1.0))
    basis[rows] = np.where(is_declared, "declared", np.where(is_estimate, "estimate", "unknown"))
    return share, basis


def apply_content(frame: pd.DataFrame, estimates: ContentEstimates | None, declared: dict) -> pd.DataFrame:
    """Charge content-basis rows on their content: ``charged = rate × share`` where they apply, and
    say so in the reason. Adds ``content_share`` and ``content_basis`` columns."""
    share, basis = content_shares(frame, estimates, declared)
    frame = frame.copy()
    frame["content_share"] = np.where(basis != "", share, np.nan)
    frame["content_basis"] = basis
    rows = basis != ""
    if not rows.any():
        return frame
    applies = frame["applies"].to_numpy(dtype=bool)
    charge = rows & applies
    frame.loc[charge, "charged"] = clean_rate(frame.loc[charge, "rate"].to_numpy() * share[charge])
    label = estimates.label if estimates is not None else ""
    texts, seen = [], {}  # many rows share a text: build each once
    for key in zip(frame["content"].to_numpy()[rows], frame["rate"].to_numpy()[rows],
                   share[rows], basis[rows]):
        text = seen.get(key)
        if text is None:
            text = seen[key] = basis_text(*key, label)
        texts.append(text)
    frame.loc[rows, "reason"] = frame.loc[rows, "reason"].to_numpy() + np.array(texts, dtype=object)
    return frame


def basis_text(content: str, rate: float, share: float, basis: str, label: str = "") -> str:
    """' (50% of the steel content's value; steel 12.3% of the value, estimated: …)'."""
    head = f" ({rate:g}% of the {content} content's value"
    if basis == "declared":
        return head + f"; {content} {100 * share:.4g}% of the value, as declared)"
    if basis == "estimate":
        return head + f"; {content} {100 * share:.3g}% of the value, estimated from {label})"
    return head + f"; no {content} estimate for this code: charged on the full value, an upper bound; declare it with --content)"
