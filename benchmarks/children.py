"""The environment of the benchmarks' child processes: the repository first on the path, and
tariffcalc's bytecode cached as it is for an installed package (pip compiles it) and for pandas.

Where PYTHONDONTWRITEBYTECODE is set and the repository's bytecode is stale, every child would
compile tariffcalc's changed modules again (some 50-70 ms a process here): a cost no installed
copy pays. So the children write and read bytecode in a temporary PYTHONPYCACHEPREFIX folder,
filled by the first (warm-up) run; ``pycache=None`` measures compiling on every run instead.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environment(pycache: str | None, **extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


@contextlib.contextmanager
def bytecode_folder(enabled: bool = True):
    """A temporary PYTHONPYCACHEPREFIX folder (None if not ``enabled``), removed afterwards."""
    folder = tempfile.mkdtemp(prefix="tariffcalc-bench-pyc-") if enabled else None
    try:
        yield folder
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
