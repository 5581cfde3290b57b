"""The per-entry writers of ledger_out: the Parquet lines hold what the CSV lines say, cell by cell."""
import csv
import io
import math
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffcalc import duties, ledger, ledger_out, money

LEDGERS = Path(__file__).parent / "fixtures" / "ledgers"
AS_OF = date(2026, 12, 1)
MONEY = {"customs_value", "duty", "refund_duty", "refund_interest"}


def _as_csv_text(column: str, value) -> str:
    """A Parquet cell as the CSV writes it: money in cents, rates short, dates ISO, blank if null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{money.rounded(value):.2f}" if column in MONEY else f"{value:g}"
    return str(value)


@pytest.fixture(scope="module", params=["random-us.csv", "us-golden.csv", "cn-golden.csv"])
def result(request, products):
    return duties.compute_duties(ledger.read_ledger(LEDGERS / request.param, skip_bad=True), products, as_of=AS_OF)


def test_parquet_lines_say_what_the_csv_lines_say(result):
    text = "".join(ledger_out.duty_csv_chunks(result, chunk_entries=97))  # several chunks
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == duties.LINE_COLUMNS
    n = len(result.entries)
    tables = [ledger_out.lines_table(result, start, min(start + 97, n)) for start in range(0, n, 97)]
    table = pa.concat_tables(tables)
    assert table.num_rows == len(rows) - 1 > n  # an MFN and a total line per entry, layer lines between
    for name in duties.LINE_COLUMNS:
        cells = [_as_csv_text(name, v) for v in table[name].to_pylist()]
        written = [row[duties.LINE_COLUMNS.index(name)] for row in rows[1:]]
        assert cells == written, name



def test_wide_parquet_rows_say_what_the_wide_csv_rows_say(result):
    columns = duties.wide_columns(result)
    text = "".join(ledger_out.duty_csv_chunks(result, wide=True, chunk_entries=97))
    rows = list(csv.reader(io.StringIO(text)))
    n = len(result.entries)
    table = pa.concat_tables([ledger_out.wide_table(result, start, min(start + 97, n), columns)
                              for start in range(0, n, 97)])
    assert table.column_names == rows[0] and table.num_rows == len(rows) - 1 == n
    assert pa.types.is_date32(table["entry_date"].type) and pa.types.is_string(table["entry_id"].type)
    for at, name in enumerate(rows[0]):
        money_column = name in MONEY or name in columns or name in ("mfn_duty", "additional_duty", "duty_total")
        cells = [_as_csv_text("duty" if money_column else name, v) for v in table[name].to_pylist()]
        assert cells == [row[at] for row in rows[1:]], name

def test_parquet_texts_are_dictionary_columns_but_entry_ids(result):
    table = ledger_out.lines_table(result, 0, len(result.entries))
    texts = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    assert "entry_id" not in texts and {"code", "kind", "layer_id", "reason", "refund_route"} <= set(texts)
    for name in texts:  # each text once in its dictionary
        dictionary = table[name].combine_chunks().dictionary.to_pylist()
        assert len(dictionary) == len(set(dictionary)), name


def test_const_text_columns_hold_one_value(result):
    table = ledger_out.lines_table(result, 0, len(result.entries))
    assert set(table["direction"].to_pylist()) == {result.direction.key}
    assert set(table["imposer"].to_pylist()) == {result.direction.imposer}
    kinds = np.array(table["kind"].to_pylist())
    assert (kinds == "mfn").sum() == (kinds == "total").sum() == len(result.entries)


# -- slices formatted on threads, written in order ----------------------------------------------

def test_slices_come_in_order_with_at_most_the_workers_built_ahead():
    import threading
    import time

    from tariffcalc.ledger_out import in_order

    live, most, lock = [0], [0], threading.Lock()

    def build(s):
        with lock:
            live[0] += 1
            most[0] = max(most[0], live[0])
        time.sleep(0.002 * (s % 3))  # slices finish out of order
        return s

    out = []
    for s in in_order(build, range(20), workers=2):
        out.append(s)
        with lock:
            live[0] -= 1  # written: let go
    assert out == list(range(20))
    assert most[0] <= 3  # two being built and the one being written


def test_a_failing_slice_is_raised_and_no_later_slice_is_started():
    from tariffcalc.ledger_out import in_order

    started = []

    def build(s):
        started.append(s)
        if s == 3:
            raise ValueError("slice 3")
        return s

    got = []
    with pytest.raises(ValueError, match="slice 3"):
        for s in in_order(build, range(50), workers=2):
            got.append(s)
    assert got == [0, 1, 2]
    assert max(started) <= 5


amounts = st.one_of(st.just(0.0), st.just(-0.0), st.just(math.nan), st.sampled_from([0.004, -0.005, 1e15, 2.0 ** 53]),
                    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6).flatmap(lambda k: st.lists(st.lists(amounts, min_size=k, max_size=k), min_size=1,
                                                      max_size=30)))
def test_a_matrix_of_amounts_is_written_column_by_column_as_each_column_alone(rows):
    # the wide CSV's layer columns (_money_columns): each as _money writes it, a zero as 0.00
    values = np.array(rows, dtype=float)
    pieces = ledger_out._money_columns(values, ",")
    assert len(pieces) == values.shape[1]
    for column, piece in zip(values.T, pieces):
        written = ledger_out._glued(len(column), piece).to_pylist()
        assert written == [t + "," for t in ledger_out._money(np.where(column == 0, 0.0, column)).to_pylist()]
        assert all(t == "0.00," for t, v in zip(written, column) if v == 0)
