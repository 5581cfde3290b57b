"""The one exception hierarchy of tariffcalc.

``str(error)`` is always the whole one-line message a user sees, e.g.
``data/us/ieepa.yaml:14: step 3 ends before it starts``.
"""
from __future__ import annotations


class TariffcalcError(Exception):
    """Base class: anything the CLI turns into exit status 2 and one line on stderr."""


class DataError(TariffcalcError):
    """A data file (YAML layer, dataset.yaml) is malformed or inconsistent."""

    def __init__(self, path, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        # One line, always: a key or value quoted from a file may hold a line break.
        self.reason = reason = reason.replace("\r", "\\r").replace("\n", "\\n")
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}" if path is not None else reason)


class QueryError(TariffcalcError):
    """A question the data cannot answer as asked (bad date range, unknown direction...)."""
