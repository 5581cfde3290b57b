"""HS / HTS product codes: normalising what users type and what list files hold."""
from __future__ import annotations

import re

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
