"""A head start (the pass over a ledger and its first chunk's parse, begun on a thread before the
reader needs them) changes when a file is read, never what: every ledger reads alike with and
without one, a file changed since is read again, and one not taken is stopped."""
import contextlib
import threading

import pandas as pd
import pytest
from click.testing import CliRunner

from tariffcalc import ledger, plaincsv
from tariffcalc.cli import cli

from .ledgers import HEADER, write

GOOD = "ok,2025-04-01,8517.13.00,CN,10,,\n"
WIDTH = HEADER.count(",") + 1
ROWS = "".join(f"e{i},2025-04-0{1 + i % 9},8517.13.00,CN,{10 + i},,\n" for i in range(40))


def _read(path, columns=None, head_start=False, chunk_rows=7):
    """Entries and rejects of a ledger, or its error, read with a head start or without."""
    started = plaincsv.head_start(path, columns, rows=chunk_rows) if head_start else contextlib.nullcontext()
    with started:
        try:
            parts = list(ledger.LedgerReader(path, columns, skip_bad=True, chunk_rows=chunk_rows))
        except ledger.LedgerError as error:
            return str(error)
    entries = pd.concat([p.entries for p in parts], ignore_index=True).astype(object)
    rejects = pd.concat([p.rejects for p in parts], ignore_index=True)
    return entries, [(int(r), why) for r, why in zip(rejects["row"], rejects["reason"])]


def _same(a, b):
    assert type(a) is type(b)
    if isinstance(a, str):
        assert a == b
        return
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[1] == b[1]


def _counted(monkeypatch, name):
    calls = []
    original = getattr(plaincsv, name)

    def counted(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(plaincsv, name, counted)
    return calls


def _left_running():
    return [t.name for t in threading.enumerate() if t.name in ("tariffcalc-head-start", "tariffcalc-parser")]


@pytest.mark.parametrize(("name", "text"), [
    ("plain", HEADER + ROWS),
    ("a byte order mark", "\ufeff" + HEADER + ROWS),
    ("CR LF", (HEADER + ROWS).replace("\n", "\r\n")),
    ("no newline at the end", HEADER + ROWS.strip()),
    ("bad rows", HEADER + ROWS + "x,2025-13-01,85171,VN,ten,,\n" + ROWS.replace("e1,", "e1,", 1)),
    ("a quoted field", HEADER + ROWS + '"q",2025-04-01,8517.13.00,CN,10,,\n'),
    ("a blank line", HEADER + GOOD + "\n" + ROWS),
    ("a long row", HEADER + ROWS + "b,2025-04-01,8517.13.00,CN,10,,,\n"),
    ("a short row beside a long one", HEADER + GOOD + "b,2025-04-01,8517.13.00,CN,10,\n" + ROWS
     + "d,2025-04-01,8517.13.00,CN,10,,,\n"),
    ("a header with a quote", HEADER.replace("quantity", '"quantity"') + ROWS),
    ("a missing column", HEADER.replace("origin", "country") + ROWS),
    ("only a header", HEADER),
])
def test_a_head_start_reads_a_ledger_as_a_read_without_one(tmp_path, monkeypatch, name, text):
    path = write(tmp_path, text)
    scans = _counted(monkeypatch, "scan")
    hot = _read(path, head_start=True)
    assert not _left_running(), name
    assert not plaincsv._started
    # the pass is made once: by the head start where the header line is plain and names the
    # fields, else by the reader (none if the header is refused)
    plain_header = '"' not in text.splitlines()[0] and "origin" in text.splitlines()[0]
    assert scans == (["tariffcalc-head-start"] if plain_header else ["MainThread"] if '"' in text[:80] else []), name
    _same(hot, _read(path))


def test_the_parse_begun_is_taken_up_not_made_again(tmp_path, monkeypatch):
    path = write(tmp_path, HEADER + ROWS)
    opened = _counted(monkeypatch, "open_arrow")
    with plaincsv.head_start(path, rows=7):
        parts = list(ledger.LedgerReader(path, chunk_rows=7))
    assert opened == ["tariffcalc-head-start"]
    assert sum(len(p.entries) for p in parts) == ROWS.count("\n")


def test_columns_named_otherwise_are_read_as_mapped(tmp_path):
    text = HEADER.replace("entry_date", "Date").replace("hts", "HTS") + ROWS
    path = write(tmp_path, text)
    columns = ["entry_date=Date,hts=HTS"]
    _same(_read(path, columns, head_start=True), _read(path, columns))
    assert not isinstance(_read(path, columns, head_start=True), str)


def test_a_file_changed_since_the_head_start_is_read_again(tmp_path):
    path = write(tmp_path, HEADER + ROWS)
    with plaincsv.head_start(path, rows=7):
        plaincsv._started[plaincsv._key(path)].thread.join()  # the first chunk parsed
        path.write_text(HEADER + ROWS.replace(",CN,", ",HK,") + GOOD, encoding="utf-8")
        parts = list(ledger.LedgerReader(path, chunk_rows=7))
    entries = pd.concat([p.entries for p in parts], ignore_index=True)
    assert len(entries) == ROWS.count("\n") + 1 and set(entries["origin"]) == {"HK", "CN"}
    assert not _left_running()


def test_a_head_start_not_taken_is_stopped(tmp_path):
    """Left untaken (the command failed before reading), the thread and its parser stop at the
    end of the block, the file closed, though the parse was waiting for room."""
    path = write(tmp_path, HEADER + ROWS * 50)
    with plaincsv.head_start(path, rows=3):
        start = plaincsv._started[plaincsv._key(path)]
        start.thread.join()
        assert start.parsed is not None and not start.handle.closed
    assert start.handle is None and start.parsed is None
    assert not _left_running() and not plaincsv._started


def test_duty_answers_alike_with_and_without_a_head_start(tmp_path, monkeypatch):
    path = write(tmp_path, HEADER + ROWS + "x,2025-13-01,85171,VN,ten,,\n")
    runner = CliRunner()
    args = ["duty", str(path), "--as-of", "2026-12-01", "--format", "json"]
    hot = runner.invoke(cli, args)
    monkeypatch.setattr(plaincsv, "head_start", lambda *a, **k: contextlib.nullcontext())
    cold = runner.invoke(cli, args)
    assert (hot.exit_code, hot.output) == (cold.exit_code, cold.output)
    args = ["duty", str(path), "--as-of", "2026-12-01", "--format", "json", "--skip-bad", "-o",
            str(tmp_path / "out.csv")]
    assert runner.invoke(cli, args).exit_code == 0
    assert not _left_running()
