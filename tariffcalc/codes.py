"""HS / HTS product codes: normalising what users type and what list files hold."""
from __future__ import annotations

import re

import numpy as np

from .errors import QueryError

_SEPARATORS = re.compile(r"[\s.\-]")
VALID_LENGTHS = (2, 4, 6, 8, 10)


def code_problem(text: str) -> str | None:
    """Why ``text`` is not a usable code, or None. Dots, spaces and dashes are ignored."""
    digits = _SEPARATORS.sub("", str(text))
    if not digits:
        return "empty code"
    if not digits.isdigit():
        return f"code {text!r} has characters other than digits and dots"
    if len(digits) not in VALID_LENGTHS:
        return f"code {text!r} has {len(digits)} digits (use 2, 4, 6, 8 or 10)"
    return None


def normalize_code(text: str) -> str:
    """``8517.13.00`` / ``851713`` / ``8517130000`` -> digits only; QueryError if malformed."""
    problem = code_problem(text)
    if problem:
        raise QueryError(problem)
    return _SEPARATORS.sub("", str(text))


def dotted(code: str) -> str:
    """HTS style: 8517130000 -> 8517.13.00.00."""
    head, rest = code[:4], code[4:]
    return ".".join([head] + [rest[i:i + 2] for i in range(0, len(rest), 2)])


class CodeRows:
    """A row of facts per code (``width`` values of ``dtype``), each code's worked out once and
    kept in one array: a ledger asks for the same codes chunk after chunk. Not locked: a caller
    shared by threads holds a lock around it."""

    def __init__(self, width: int, dtype=float):
        self.row_of: dict[str, int] = {}  # code -> its row of ``rows``
        self.rows = np.zeros((0, width), dtype=dtype)

    def __call__(self, codes, work) -> np.ndarray:
        """The rows of ``codes``, in order; ``work(codes)`` gives those of codes not met before
        (one row each, in the order given)."""
        new = [code for code in dict.fromkeys(codes) if code not in self.row_of]
        if new:
            self.row_of.update(zip(new, range(len(self.rows), len(self.rows) + len(new))))
            self.rows = np.concatenate([self.rows, np.asarray(work(new), dtype=self.rows.dtype)])
        return self.rows[np.fromiter(map(self.row_of.__getitem__, codes), dtype=np.int64, count=len(codes))]
