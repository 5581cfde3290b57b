"""Every file tariffcalc writes goes through here (outputs and the cache): checked before any work,
written whole or not at all.

``check_target`` runs before anything is computed: the name has an extension the command writes,
its folder exists and takes a new file, and it is not one of the command's input files (``duty
in.csv -o in.csv`` would otherwise replace the ledger with its duties). ``write_files`` writes
each file to a hidden temporary file beside it (``.out.csv.XXXX.tmp``) and renames it over the
target only once every file is complete; on any exit path (an error, Ctrl-C, SIGTERM or SIGHUP)
the temporary files are removed.
"""
from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path

from .errors import TariffcalcError

# Signals that end a run from outside (timeout, kill, a closed terminal). While a temporary file
# exists they raise SystemExit (status 128 + signal, what a shell shows for a killed process), so
# the ``finally`` blocks remove it. A signal the caller chose to ignore (nohup) stays ignored.
CLEANUP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class OutputError(TariffcalcError):
    """An output file tariffcalc cannot or must not write (one line, exit status 2)."""


def public_mode() -> int:
    """0o666 less the process umask: the mode an ordinary open() would have given."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # also catches hard links and differently spelled paths
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_target(path, suffixes, inputs=(), option: str = "-o", hint: str = "") -> Path:
    """Check that ``path`` may be written, before any computing; ``OutputError`` otherwise.

    ``suffixes``: the extensions this output may have (``(".csv",)``); ``inputs``: the files the
    command reads, none of which may be the output; ``hint`` ends the message of a wrong extension."""
    target = Path(path)
    for source in inputs:
        if source is not None and _same_file(target, Path(source)):
            raise OutputError(f"{option} {path}: that is the input file {source}; "
                              "choose another name (inputs are never overwritten)")
    if target.suffix.lower() not in suffixes:
        raise OutputError(f"{option} {path}: the name must end in {' or '.join(suffixes)}, "
                          f"not '{target.suffix}'{hint}")
    if target.is_dir():
        raise OutputError(f"{option} {path}: is a directory")
    if os.path.lexists(target) and not os.path.isfile(target):
        raise OutputError(f"{option} {path}: exists and is not a regular file")
    folder = _real(target).parent
    if not folder.is_dir():
        raise OutputError(f"{option} {path}: folder {target.parent} does not exist")
    try:  # the only sure test of "a new file can be made here" (permissions, read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{option} {path}: cannot write in {target.parent}: {exc.strerror}") from None
    return target


def _real(path: Path) -> Path:
    """Where the bytes go: through a symbolic link to its file, which the rename then replaces."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


@contextlib.contextmanager
def _signals_exit():
    """While active, SIGTERM and SIGHUP raise SystemExit instead of killing the process outright."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for number in CLEANUP_SIGNALS:
        if signal.getsignal(number) == signal.SIG_DFL:
            previous[number] = signal.signal(number, _exit_on_signal)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _exit_on_signal(number, frame):
    raise SystemExit(128 + number)


def temporary_name(path: Path) -> bool:
    """Whether ``path`` is one of ``write_files``' temporary files (left behind only by a crash)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def write_files(outputs) -> None:
    """Write every ``(path, content)``: content is a text, bytes, an iterable of texts (written
    piece by piece) or a function called with a temporary path to write (e.g. matplotlib's savefig).

    All contents are written to temporary files first; the renames follow, so a failure in any
    leaves every target as it was."""
    outputs = [(Path(path), content) for path, content in outputs]
    temporaries: list[str] = []
    with _signals_exit():
        try:
            for path, content in outputs:
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=_real(path).parent)
                temporaries.append(tmp)
                if callable(content):
                    os.close(fd)
                    content(tmp)
                elif isinstance(content, bytes):
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(content)
                else:
                    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                        for chunk in [content] if isinstance(content, str) else content:
                            handle.write(chunk)
                os.chmod(tmp, public_mode())  # mkstemp makes files private; outputs are ordinary files
            for (path, _), tmp in zip(outputs, temporaries):
                os.replace(tmp, _real(path))
        finally:
            for tmp in temporaries:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)


def write_text(path, text) -> None:
    """One file, whole or not at all (``text``: a string, bytes or an iterable of strings)."""
    write_files([(path, text)])
