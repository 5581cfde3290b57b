"""Plain CSV: a file Arrow's parser reads as pandas' would, found in one pass over its bytes.

``ledger`` reads a plain file with Arrow (``parse``), any other with pandas. ``head_start``
makes that pass, and parses the first chunk, on a thread while ``tariffcalc duty`` imports
pandas and loads its data, not after (on 1 M rows the two take some 0.4 s; the run ends about
0.06 s sooner, the imports slowed by the parse beside them). ``ledger`` takes what it made
(``scan_of``, ``parse``) only if the file and its header are still the ones it began with, and
otherwise does the work itself, so a head start changes when a file is read, never what is read
or which error is raised. Light: NumPy here, pyarrow on the thread; nothing of pandas.
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import threads
from .fields import CHUNK_ROWS, coded_columns, is_parquet, resolve_names

BLOCK = 1 << 24  # bytes scanned at a time


class Plain:
    """Whether a file (fed block by block, in order) is plain CSV: UTF-8, no quotes (checked by
    the caller), lines ending in a newline (or CR LF), no blank line, and as many commas as
    lines times the header's. Such a file means the same to Arrow's CSV parser as to pandas',
    record n on line n, so Arrow reads it (``ledger._plain_chunks``); anything else goes to pandas.
    A line of the wrong number of fields in a plain file needs another with too many: Arrow
    stops there, and the error names the first long line, as pandas' parser would."""

    def __init__(self, width: int):
        self.width = width
        self.commas = self.newlines = 0
        self.last = b"\n"  # the last byte seen (a file starts as after a newline)
        self.ok = True
        self.decoder = None
        self.masks = None  # two masks of a block's size, used again for every block

    def add(self, block: bytes | bytearray) -> None:
        if not self.ok:
            return
        if not block.isascii():  # UTF-8 checked only where a byte is not ASCII
            import codecs
            self.decoder = self.decoder or codecs.getincrementaldecoder("utf-8")()
        if self.decoder is not None:
            try:
                self.decoder.decode(block)
            except UnicodeDecodeError:
                self.ok = False
                return
        # A blank line is two newlines in a row: found on a mask of the newlines, which counts
        # them too (searching bytes for b"\n\n" stops at every newline, three times slower).
        # The masks are written into arrays kept from block to block: a new 16 MB array costs its
        # pages' first writes, as much as the comparison.
        octets = np.frombuffer(block, dtype=np.uint8)
        n = len(octets)
        if self.masks is None or len(self.masks[0]) < n:
            self.masks = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
        newline, other = self.masks[0][:n], self.masks[1][:n]
        np.equal(octets, ord("\n"), out=newline)
        if (b"\r" in block and (block.count(b"\r") != block.count(b"\r\n") or b"\n\r\n" in block)) \
                or np.logical_and(newline[1:], newline[:-1], out=other[:n - 1]).any() \
                or (self.last == b"\n" and block[:1] in (b"\n", b"\r")):
            self.ok = False  # a bare carriage return (or CR LF split across blocks), a blank line
            return
        self.commas += int(np.count_nonzero(np.equal(octets, ord(","), out=other)))  # 3x bytes.count's speed
        self.newlines += int(np.count_nonzero(newline))
        self.last = bytes(block[-1:])

    def done(self) -> bool:
        if self.decoder is not None:
            try:
                self.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.ok = False
        lines = self.newlines + (self.last != b"\n")  # the last line may lack its newline
        # a header alone is left to pandas (Arrow cannot skip a header line with no newline)
        return self.ok and lines > 1 and self.commas == lines * (self.width - 1)


@dataclass(frozen=True)
class Scan:
    """What one pass over a file found: a '"' in it (then ``newlines``, its line count, else 0),
    and whether it is ``plain`` for a header of the width given."""

    quoted: bool
    newlines: int
    plain: bool


def scan(path, width: int | None, stop: threading.Event | None = None) -> Scan | None:
    """The pass over ``path``; ``width`` (the header's fields) given, whether it is plain
    (``Plain``). None if ``stop`` is set before the pass ends."""
    quoted, newlines = False, 0
    plain = Plain(width) if width else None
    with open(path, "rb") as handle:
        # block by block into one buffer, not mapped: a mapped 20 GB file would count in the
        # peak memory, and a new buffer a block costs its pages' first writes
        buffer = bytearray(min(BLOCK, os.fstat(handle.fileno()).st_size + 1))  # a small file, a small buffer
        while size := handle.readinto(buffer):
            if stop is not None and stop.is_set():
                return None
            block = buffer if size == len(buffer) else buffer[:size]
            if b'"' in block:
                quoted = True
                break
            if plain is not None:
                plain.add(block)
        if quoted:
            handle.seek(0)
            last = b""
            for block in iter(lambda: handle.read(BLOCK), b""):
                newlines += block.count(b"\n")
                last = block[-1:]
            newlines += last not in (b"", b"\n")
    return Scan(quoted, newlines, plain is not None and not quoted and plain.done())


def open_arrow(handle, header: list[str], coded: set[str]):
    """Arrow's streaming CSV reader of a plain file (``handle`` at its start): every field as
    text, the columns that repeat (``coded``) dictionary-encoded by the parser's threads."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    return pcsv.open_csv(
        handle,
        read_options=pcsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 20),
        parse_options=pcsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
        convert_options=pcsv.ConvertOptions(
            column_types={c: pa.dictionary(pa.int32(), pa.string()) if c in coded else pa.string() for c in header},
            null_values=[""], strings_can_be_null=True))


def parsed_ahead(reader, handle, rows_ahead: int):
    """(batch, bytes of the file read by then) for each batch of an Arrow CSV stream, then
    (None, the file's size read), parsed on a second thread up to about ``rows_ahead`` rows
    ahead of the caller (``threads.made_ahead``): Arrow's parser runs without the GIL, so the
    next chunk's text is parsed while the one before is checked and priced, and memory holds at
    most a chunk of Arrow text more."""
    return threads.made_ahead(_batches(reader, handle), "tariffcalc-parser", room=rows_ahead,
                              size=lambda made: made[0].num_rows if made[0] is not None else 0)


def _batches(reader, handle):
    """(batch, bytes of the file read by then) for each batch of an Arrow CSV stream, then (None,
    bytes read): the position is taken as the batch is made (on the parser's thread, if ahead)."""
    for batch in reader:
        yield batch, handle.tell()
    yield None, handle.tell()


def _opened(path, header: list[str], coded: set[str], rows_ahead: int, ahead: bool = True):
    """(the open file, its Arrow parse: ``parsed_ahead``, or on the caller's thread if not
    ``ahead``), not begun until first asked."""
    handle = open(path, "rb")  # noqa: SIM115 - closed with the parse, by whoever holds it
    try:
        reader = open_arrow(handle, header, coded)
        return handle, parsed_ahead(reader, handle, rows_ahead) if ahead else _batches(reader, handle)
    except BaseException:
        handle.close()
        raise


# -- a head start: the pass and the first chunk's parse begun before the command needs them -----

def _identity(path) -> tuple:
    """What must not change between the head start and the read: the file and its contents' stamp."""
    found = os.stat(path)
    return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns


def plain_header(path) -> list[str] | None:
    """The header's fields if its line is plain (no quote, UTF-8) and they are distinct and none
    is blank: then they are what pandas reads. None for ``ledger`` to read with pandas."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    line, newline, _ = head.partition(b"\n")
    if not newline or b'"' in line:
        return None
    try:
        text = line.removeprefix(b"\xef\xbb\xbf").removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        return None
    fields = text.split(",")
    return fields if all(fields) and len(set(fields)) == len(fields) else None  # else pandas renames them


class _HeadStart:
    """The pass over one file and, if it is plain, the parse of its first ``rows`` rows, on a
    thread. Whatever goes wrong there is left for ``ledger`` to meet again, and to name."""

    def __init__(self, path, columns, rows: int):
        self.path, self.columns, self.rows = path, columns, rows
        self.header = self.coded = self.identity = self.scan = None
        self.handle = self.parsed = None
        self.batches: list = []  # (batch, bytes read) parsed before the reader takes them
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tariffcalc-head-start", daemon=True)

    def _run(self) -> None:
        try:
            self.identity = _identity(self.path)
            header = plain_header(self.path)
            if header is None:
                return
            coded = coded_columns(resolve_names(self.path, header, self.columns))
            found = scan(self.path, len(header), self.stop)
            self.header, self.coded, self.scan = header, coded, found
        except Exception:  # noqa: BLE001 - the reader does the work again and raises what it meets
            return
        if found is None or not found.plain:
            return
        try:
            self.handle, self.parsed = _opened(self.path, header, coded, self.rows)
            rows = 0
            while rows < self.rows and not self.stop.is_set():
                batch, at = next(self.parsed)
                self.batches.append((batch, at))
                if batch is None:
                    break
                rows += batch.num_rows
        except Exception:  # noqa: BLE001 - a line Arrow refuses: the reader parses again, and names it
            self.close_parse()

    def matches(self, header: list[str], coded: set[str] | None = None) -> bool:
        self.thread.join()
        try:
            same = self.identity == _identity(self.path)
        except OSError:
            return False
        return same and self.header == header and (coded is None or self.coded == coded)

    def close_parse(self) -> None:
        parsed, handle, self.parsed, self.handle, self.batches = self.parsed, self.handle, None, None, []
        if parsed is not None:
            parsed.close()  # stops the parser's thread and waits for it
        if handle is not None:
            handle.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.close_parse()


_started: dict[str, _HeadStart] = {}
_lock = threading.Lock()


def _key(path) -> str:
    return os.path.abspath(str(path))


@contextlib.contextmanager
def head_start(path, columns=None, rows: int = CHUNK_ROWS):
    """Begin the pass over the CSV file ``path`` and the parse of its first ``rows`` rows on a
    thread, for the ``ledger`` reading it inside the block to take; what it has not taken by the
    end of the block is stopped and let go."""
    start = None
    if Path(path).is_file() and not is_parquet(path):
        start = _HeadStart(path, columns, rows)
        with _lock:
            if _key(path) in _started:  # one head start a file
                start = None
            else:
                _started[_key(path)] = start
        if start is not None:
            start.thread.start()
    try:
        yield
    finally:
        if start is not None:
            with _lock:
                mine = _started.get(_key(path)) is start
                if mine:
                    del _started[_key(path)]
            if mine:  # not taken: nobody else holds its parse
                start.close()


def scan_of(path, header: list[str]) -> Scan | None:
    """The head start's pass over ``path`` if one began, for this header, and the file is as it
    was; None otherwise."""
    with _lock:
        start = _started.get(_key(path))
    return start.scan if start is not None and start.matches(header) else None


def parse(path, header: list[str], coded: set[str], rows_ahead: int, ahead: bool = True):
    """The (batch, bytes read) of the plain file ``path`` to its end, parsed ahead
    (``parsed_ahead``), and the function that stops the parse and closes the file, now the
    caller's to call: the parse a head start of ``path`` began, if it is one of this header,
    else one begun now; not ``ahead``, on the caller's thread (a small file: a thread to parse
    it ahead costs more than its parse)."""
    with _lock:
        start = _started.pop(_key(path), None)
    if start is not None:
        if start.parsed is not None and start.matches(header, coded):
            import itertools

            return itertools.chain(start.batches, start.parsed), start.close
        start.close()
    handle, parsed = _opened(path, header, coded, rows_ahead, ahead)

    def close():
        parsed.close()  # a thread parsing ahead stopped before the file closes
        handle.close()

    return parsed, close
