"""Plain CSV ledgers are parsed by Arrow, others by pandas: both read a ledger alike (the same
entries, the same rejects with the same reasons, the same first error), and the test of
plainness sends every file Arrow could read differently to pandas."""
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffcalc import ledger, plaincsv

from .ledgers import HEADER, write

WIDTH = HEADER.count(",") + 1


def _read(path, plain: bool, monkeypatch, **options):
    """Entries and rejects of a ledger read by Arrow (``plain``) or by pandas, or the error."""
    with monkeypatch.context() as patch:
        if not plain:
            patch.setattr(plaincsv.Plain, "done", lambda self: False)
        try:
            parts = list(ledger.LedgerReader(path, **options))
        except ledger.LedgerError as error:
            return str(error)
    entries = pd.concat([p.entries for p in parts], ignore_index=True).astype(object)
    rejects = pd.concat([p.rejects for p in parts], ignore_index=True)
    return entries, [(int(r), why) for r, why in zip(rejects["row"], rejects["reason"])]


def _numbers(text: str) -> str:
    """A message with its numbers written one way: a number cell read as a number is written by
    its value (1e+308), read as text as written (1e308); which one pandas' parser gives depends
    on the other cells of its internal block, so the two readers agree on the check, not on that."""
    return re.sub(r"\d+(\.\d*)?(e[+-]?\d+)?", lambda m: repr(float(m.group())), text)


def _same(a, b):
    if isinstance(a, str) or isinstance(b, str):
        assert _numbers(str(a)) == _numbers(str(b))
        return
    pd.testing.assert_frame_equal(a[0], b[0])
    assert [(row, _numbers(why)) for row, why in a[1]] == [(row, _numbers(why)) for row, why in b[1]]


# Cells good and bad, none with a comma, quote or newline (the file stays plain).
CELLS = {
    "entry_id": ["a", "b", "c", "a", " ", "", "x1"],
    "entry_date": ["2025-04-12", "2019-01-01", "2025-13-01", "", "2017-12-31", " 2025-04-12"],
    "hts": ["8517.13.00", "8517130000", "85171", "", "9403.20.00.80", "x"],
    "origin": ["CN", "HK", "cn", "VN", ""],
    "customs_value": ["10", "1e3", " 12.5", "-3", "ten", "nan", "inf", "", "1e308", "0.1"],
    "export_date": ["", "2025-04-01", "2025-05-01", "2025-04-31"],
    "quantity": ["", "5", "1.5", "-1", "lots", "1e300"],
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in CELLS.items()}),
                     min_size=1, max_size=30),
       chunk_rows=st.integers(1, 12), skip_bad=st.booleans(), crlf=st.booleans(), last_newline=st.booleans())
def test_arrow_and_pandas_read_a_plain_ledger_alike(tmp_path, monkeypatch, rows, chunk_rows, skip_bad, crlf,
                                                     last_newline):
    end = "\r\n" if crlf else "\n"
    text = HEADER.replace("\n", end) + end.join(",".join(r[k] for k in CELLS) for r in rows)
    path = write(tmp_path, text + (end if last_newline else ""))
    assert ledger._Lines(path, WIDTH).plain
    options = dict(skip_bad=skip_bad, chunk_rows=chunk_rows)
    _same(_read(path, True, monkeypatch, **options), _read(path, False, monkeypatch, **options))



@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in CELLS.items()}),
                     min_size=1, max_size=30), chunk_rows=st.integers(1, 12))
def test_a_parquet_ledger_of_texts_reads_as_its_csv(tmp_path, monkeypatch, rows, chunk_rows):
    # the repeating columns come out of the file as the dictionaries they are stored as
    path = write(tmp_path, HEADER + "\n".join(",".join(r[k] for k in CELLS) for r in rows) + "\n")
    pd.DataFrame(rows, columns=list(CELLS)).to_parquet(tmp_path / "ledger.parquet", index=False)
    options = dict(skip_bad=True, chunk_rows=chunk_rows)
    from_csv, from_parquet = _read(path, True, monkeypatch, **options), _read(
        tmp_path / "ledger.parquet", True, monkeypatch, **options)
    pd.testing.assert_frame_equal(from_csv[0].assign(row=from_csv[0]["row"] - 1), from_parquet[0])
    assert [(row - 1, _numbers(why)) for row, why in from_csv[1]] == [(row, _numbers(why)) for row, why in from_parquet[1]]

GOOD = "ok,2025-04-01,8517.13.00,CN,10,,\n"


@pytest.mark.parametrize(("name", "text", "plain"), [
    ("plain", HEADER + GOOD * 3, True),
    ("no newline at the end", HEADER + GOOD + GOOD.strip(), True),
    ("CR LF", (HEADER + GOOD * 2).replace("\n", "\r\n"), True),
    ("a byte order mark", "\ufeff" + HEADER + GOOD, True),
    ("UTF-8 text", HEADER + GOOD.replace("ok", "café"), True),
    ("a quoted field", HEADER + GOOD + '"q",2025-04-01,8517.13.00,CN,10,,\n', False),
    ("a blank line", HEADER + GOOD + "\n" + GOOD, False),
    ("a blank line in CR LF", (HEADER + GOOD + "\n" + GOOD).replace("\n", "\r\n"), False),
    ("a blank last line", HEADER + GOOD + GOOD + "\n", False),
    # the commas add up (a blank line and a row of a line's commas too many): plain by the count
    ("a blank line beside a long row", HEADER + GOOD + "\n" + GOOD.strip() + "," * (WIDTH - 1) + "\n", False),
    ("a bare carriage return", HEADER + GOOD + "b\r,2025-04-01,8517.13.00,CN,10,,\n", False),
    ("a short row", HEADER + GOOD + "b,2025-04-01,8517.13.00,CN,10\n", False),
    ("a long row", HEADER + GOOD + "b,2025-04-01,8517.13.00,CN,10,,,\n", False),
    ("only a header", HEADER, False),
    ("only a header, without its newline", HEADER.strip(), False),
])
def test_what_is_plain(tmp_path, monkeypatch, name, text, plain):
    path = write(tmp_path, text)
    assert ledger._Lines(path, WIDTH).plain is plain, name
    _same(_read(path, True, monkeypatch, skip_bad=True), _read(path, False, monkeypatch, skip_bad=True))


def test_a_short_row_beside_a_long_one_is_named_as_pandas_names_it(tmp_path, monkeypatch):
    """Commas add up (one row short, one long): plain by the count, and Arrow stops at the rows;
    the error names the long row's line, as pandas' parser does."""
    path = write(tmp_path, HEADER + GOOD + "b,2025-04-01,8517.13.00,CN,10,\n" + GOOD.replace("ok", "c")
                 + "d,2025-04-01,8517.13.00,CN,10,,,\n")
    assert ledger._Lines(path, WIDTH).plain
    arrow, pandas = _read(path, True, monkeypatch), _read(path, False, monkeypatch)
    assert arrow == pandas == f"{path}:5: expected {WIDTH} fields, saw {WIDTH + 1}"


def test_not_utf8_is_read_by_pandas_and_named(tmp_path, monkeypatch):
    path = tmp_path / "ledger.csv"
    path.write_bytes((HEADER + GOOD).encode() + b"b\xff,2025-04-01,8517.13.00,CN,10,,\n")
    assert not ledger._Lines(path, WIDTH).plain
    error = _read(path, True, monkeypatch)
    assert isinstance(error, str) and "not UTF-8 text" in error


def test_a_parquet_ledger_of_texts_is_checked_as_its_csv(tmp_path, monkeypatch):
    """Numbers stored as text are cast by Arrow where every cell is a number, else checked as text:
    the bad cell is named as in the CSV."""
    text = HEADER + GOOD + "b,2025-04-02,8517.13.00,CN, 12.5,,3\n" + "c,2025-04-02,8517.13.00,CN,ten,,\n"
    csv = write(tmp_path, text)
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    frame.to_parquet(tmp_path / "ledger.parquet", index=False)
    from_csv = _read(csv, True, monkeypatch, skip_bad=True)
    from_parquet = _read(tmp_path / "ledger.parquet", True, monkeypatch, skip_bad=True)
    # Parquet has no header line: its rows are numbered from 1, a CSV's lines from 2
    pd.testing.assert_frame_equal(from_csv[0].drop(columns="row"), from_parquet[0].drop(columns="row"))
    assert from_csv[1] == [(4, "customs_value 'ten' is not a number")]
    assert from_parquet[1] == [(3, "customs_value 'ten' is not a number")]
    clean = frame.iloc[:2]
    clean.to_parquet(tmp_path / "clean.parquet", index=False)
    assert list(_read(tmp_path / "clean.parquet", True, monkeypatch)[0]["customs_value"]) == [10.0, 12.5]


def test_a_parquet_ledger_of_dictionary_columns_is_read_as_its_csv(tmp_path, monkeypatch):
    """Columns stored as dictionaries (pandas writes its categoricals so), an empty text among
    their values, and a dictionary for a column that is not read as one (entry_id, a number):
    the same entries and rejects as the CSV."""
    text = (HEADER + GOOD + "b,2025-04-02,8517.13.00,CN,12.5,,3\n" + "c,,8517.13.00,CN,7,2025-04-01,\n"
            + "d,2025-04-02,x,HK,ten,,\n" + "e,2025-04-02,,CN,9,,\n")
    csv = write(tmp_path, text)
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False).astype("category")
    assert "" in frame["entry_date"].cat.categories and "" in frame["hts"].cat.categories
    frame.to_parquet(tmp_path / "ledger.parquet", index=False)
    from_csv = _read(csv, True, monkeypatch, skip_bad=True)
    from_parquet = _read(tmp_path / "ledger.parquet", True, monkeypatch, skip_bad=True)
    pd.testing.assert_frame_equal(from_csv[0].drop(columns="row"), from_parquet[0].drop(columns="row"))
    assert [why for _, why in from_parquet[1]] == [why for _, why in from_csv[1]]
    assert len(from_csv[1]) == 3


def test_a_dictionary_column_keeps_the_texts_present_in_the_order_they_come():
    """A chunk cut from Arrow's batches keeps each batch's whole dictionary: only the texts of the
    chunk's cells are categories, numbered as first met, and an empty text is a blank."""
    import pyarrow as pa

    column = pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array([2, 0, None, 3, 0]),
                                                              pa.array(["a", "b", "c", ""])),
                               pa.DictionaryArray.from_arrays(pa.array([1, 0]), pa.array(["d", "c"]))])
    got = ledger._categorical(column.slice(1, 6))  # a, null, "", a | c, d
    assert list(got.categories) == ["a", "c", "d"]
    assert [None if pd.isna(v) else v for v in got] == ["a", None, None, "a", "c", "d"]

def test_a_header_alone_is_an_empty_ledger_with_or_without_its_newline(tmp_path, monkeypatch):
    for text in (HEADER, HEADER.strip()):
        entries, rejects = _read(write(tmp_path, text), True, monkeypatch)
        assert len(entries) == 0 and rejects == []


class _Batch:
    def __init__(self, number, rows=10):
        self.number, self.num_rows = number, rows


class _Handle:
    def __init__(self):
        self.at = 0

    def tell(self):
        return self.at


def _stream(handle, count, made, fail_at=None):
    """A fake Arrow stream: ``count`` batches of 10 rows, each 'reading' 100 bytes of ``handle``;
    ``made`` records how many were made when each was."""
    for number in range(count):
        if number == fail_at:
            raise ValueError(f"bad block {number}")
        handle.at += 100
        made.append(number)
        yield _Batch(number)


def test_parsing_ahead_keeps_the_order_and_at_most_a_chunk_ahead():
    import threading

    handle, made, taken = _Handle(), [], []
    for batch, at in plaincsv.parsed_ahead(_stream(handle, 50, made), handle, rows_ahead=30):
        if batch is None:
            assert at == 5000  # the file's size, read by the end
            break
        assert at >= 100 * (batch.number + 1)  # bytes read by the time the batch was made
        assert len(made) <= len(taken) + 1 + 3 + 1  # the one taken, 30 rows (3 batches) queued, one being made
        taken.append(batch.number)
    assert taken == list(range(50))
    assert not any(t.name == "tariffcalc-parser" for t in threading.enumerate())


def test_parsing_ahead_raises_an_error_where_its_batch_would_come_and_stops_when_the_caller_does():
    import threading

    handle = _Handle()
    taken = []
    with pytest.raises(ValueError, match="bad block 4"):
        for batch, _at in plaincsv.parsed_ahead(_stream(handle, 9, [], fail_at=4), handle, rows_ahead=100):
            taken.append(batch.number)
    assert taken == [0, 1, 2, 3]
    made = []
    stream = plaincsv.parsed_ahead(_stream(handle, 1000, made), handle, rows_ahead=20)
    next(stream)
    stream.close()  # the caller stops early: the thread is stopped and waited for
    assert not any(t.name == "tariffcalc-parser" for t in threading.enumerate())
    assert len(made) < 10


QUOTED = '"q,2025-04-01,8517.13.00,CN,10,,\n'  # a quote never closed, at a line of its own


@pytest.mark.parametrize(("text", "line"), [
    (HEADER + '"\n', 2),
    (HEADER + GOOD * 2 + QUOTED, 4),
    (HEADER + GOOD + QUOTED + GOOD * 2, 3),  # the rest of the file is inside the quote
    (HEADER + GOOD + '"b\n",2025-04-01,8517.13.00,CN,10,,\n' + QUOTED, 5),  # after a field over two lines
    (HEADER.replace("entry_date", '"entry_date'), 1),  # in the header
])
def test_a_quote_never_closed_is_named_by_the_line_it_opens(tmp_path, monkeypatch, text, line):
    path = write(tmp_path, text)
    assert _read(path, True, monkeypatch, skip_bad=True) == (
        f'{path}:{line}: a quoted field starts on this line and is never closed (a " without its closing ")')
