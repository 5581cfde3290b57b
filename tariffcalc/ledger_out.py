"""The per-entry output of ``tariffcalc duty``: CSV (tidy lines or wide) and Parquet, column-wise.

A priced ledger (``duties.DutyResult``, or a ``partition.DutyRun`` of chunks) has few distinct
texts relative to its lines: layer rows, reasons, rates, dates, origins. Each distinct text is
formatted once. A CSV line is glued from pieces (``_glued``): per field a pool of texts (with
the separators) and an index per line; one Arrow ``take`` copies every line's pieces back to
back, in order, and the chunk is written as the bytes of that one string array: no Python work
per line. Amounts are the text of their whole units (a table of the small ones, Arrow's cast for
the rest) and a '.dd' piece. The CSV is exactly what the ``csv`` module would write for the same
fields (a field is quoted only if it holds a comma, quote or line break). A run's results are
formatted and written on a second thread while the next is priced (``threads.written_behind``).
Files are written by ``output.write_files``: whole or not at all.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from . import duties, money, threads
from .duties import ENTRY_COLUMNS, ENTRY_TAIL, LINE_COLUMNS, REFUND_COLUMNS, TOTAL_NAME, UNKNOWN_TOTAL
from .export import csv_field

CHUNK_ENTRIES = 100_000  # entries of a Parquet row group, formatted at a time
# Entries glued into CSV text at a time: each slice holds its pieces' positions (8 bytes a piece
# a line, some 130 pieces a wide line) while it is glued. 25,000 rather than 100,000 took the peak
# of `duty -o out.csv` on 1 M rows from 1.07 GB to 0.87 GB (--wide: 1.54 GB to 1.05 GB), no slower.
CSV_ENTRIES = 25_000
BUILDERS = 2  # slices of a result formatted at once (each holds its text or table until written)


def _slices(n: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of the slices of ``size`` entries of ``n`` (one empty slice if none)."""
    return [(start, min(start + size, n)) for start in range(0, max(n, 1), size)]


def in_order(build, slices, workers: int = BUILDERS):
    """``build(s)`` for each of ``slices``, yielded in order, up to ``workers`` built at once on
    threads: formatting releases the GIL in its Arrow and NumPy calls, so the slices of the last
    chunk, written once pricing is done, are formatted on both cores, not one after the other."""
    slices = list(slices)
    if workers <= 1 or len(slices) <= 1:
        yield from (build(s) for s in slices)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tariffcalc-format")
    try:
        waiting = [pool.submit(build, s) for s in slices[:workers]]
        for following in [*slices[workers:], *[None] * workers]:
            done = waiting.pop(0).result()
            if following is not None:
                waiting.append(pool.submit(build, following))
            yield done
            del done  # a slice's text is let go once written
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# -- fields: each distinct text formatted once; lines glued from pieces ------------------------

_csv_field = csv_field
_MONEY_TAILS = [f".{h:02d}" for h in range(100)]  # the cents of an amount: '.00' .. '.99'


_QUOTED = np.zeros(256, dtype=bool)  # the bytes that make a field quoted
_QUOTED[[ord(c) for c in ',"\r\n']] = True


def _any_quoted(texts) -> bool:
    """Whether any of an Arrow string array's texts needs quoting: one look at its bytes."""
    data = texts.buffers()[2]
    return data is not None and bool(_QUOTED[np.frombuffer(data, dtype=np.uint8)].any())


def _csv_fields(values) -> np.ndarray:
    """Many fields at once; the common case, nothing to quote, is found in one pass over the text."""
    pa, _ = _pa()
    values = np.asarray(values, dtype=object)
    if not _any_quoted(pa.array(values, type=pa.large_string())):
        return values
    return np.array([_csv_field(v) for v in values], dtype=object)


def _pa():
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


def _glued(rows: int, *pieces):
    """An Arrow large-string array of ``rows`` texts, each the concatenation of its pieces. A piece
    is a text shared by every row, or (texts, at): row i takes ``texts[at[i]]`` (``at`` an int
    array or one index; ``texts`` a list, an Arrow array or a list of Arrow arrays). The pieces'
    texts go in one pool and one ``take`` copies each row's pieces back to back: a copy of bytes
    per piece, where ``binary_join_element_wise`` costs several times as much per row."""
    pa, _ = _pa()
    merged = []
    for piece in pieces:  # neighbouring shared texts are one piece
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    if not rows:
        return pa.array([], type=pa.large_string())
    pools, at, size = [], np.empty((rows, len(merged)), dtype=np.int64), 0
    pooled = {}  # id of an Arrow array of texts -> where it is in the pool: pieces may share one
    for k, piece in enumerate(merged):
        texts, where = ([piece], 0) if isinstance(piece, str) else piece
        if isinstance(texts, pa.Array):
            if id(texts) in pooled:
                at[:, k] = np.asarray(where, dtype=np.int64) + pooled[id(texts)]
                continue
            pooled[id(texts)] = size
            texts = [texts]
        elif not (isinstance(texts, list) and texts and isinstance(texts[0], pa.Array)):
            texts = [pa.array(np.asarray(texts, dtype=object), type=pa.large_string())]
        at[:, k] = np.asarray(where, dtype=np.int64) + size
        for part in texts:
            pools.append(part if part.type == pa.large_string() else part.cast(pa.large_string()))
            size += len(part)
    taken = pa.concat_arrays(pools).take(pa.array(at.reshape(-1)))
    offsets = np.frombuffer(taken.buffers()[1], dtype=np.int64, count=len(taken) + 1, offset=taken.offset * 8)
    return pa.Array.from_buffers(pa.large_string(), rows,
                                 [None, pa.py_buffer(np.ascontiguousarray(offsets[::len(merged)])), taken.buffers()[2]])


def _indexed(codes: np.ndarray, texts, then: str = "", before: str = ""):
    """A piece: ``texts[codes]`` (blank where a code is negative) between ``before`` and ``then``;
    each text written once."""
    texts = [f"{before}{t}{then}" for t in texts]
    return [*texts, before + then], np.where(codes < 0, len(texts), codes)


def _short(values: np.ndarray, then: str = ""):
    """Rates and quantities as short numbers ('25', '7.5'), blank if NaN: a piece."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=float))
    return _indexed(codes, [f"{v:g}" for v in uniques.tolist()], then)


_SMALL = 100_000  # whole units below this are taken from a table of their texts, made once


@lru_cache(maxsize=1)
def _units_table():
    pa, _ = _pa()
    return pa.array([str(u) for u in range(_SMALL)], type=pa.large_string())


def _money_pieces(values: np.ndarray, then: str = "") -> list:
    """Amounts with 2 decimals, blank if NaN, rounded as everywhere (``money``), as pieces: the
    text of their whole units (from a table of the small ones; Arrow casts the others), then '.dd'
    (beyond 2**52 cents, formatted one by one)."""
    pa, pc = _pa()
    values = np.asarray(values, dtype=float)
    cents = money.cents(values)
    blank = np.isnan(cents)
    big = ~blank & (np.abs(cents) >= 2.0 ** 52)
    whole = np.abs(np.where(blank | big, 0, cents)).astype(np.int64)
    units_at = whole // 100
    large = units_at >= _SMALL
    odd = [""] + [f"{money.rounded(v):.2f}" for v in values[big].tolist()]  # the blank, the big ones
    units_at[large] = _SMALL + len(odd) + np.arange(int(large.sum()))
    units_at[blank] = _SMALL
    units_at[big] = _SMALL + 1 + np.arange(int(big.sum()))
    units = ([_units_table(), pa.array(odd, type=pa.large_string()),
              pc.cast(pa.array(whole[large] // 100), pa.large_string())], units_at)
    tails = ([*(t + then for t in _MONEY_TAILS), then], np.where(blank | big, 100, whole % 100))
    negative = np.signbit(cents) & ~blank & ~big
    return ([(["", "-"], negative.astype(np.int64))] if negative.any() else []) + [units, tails]


def _money(values: np.ndarray):
    """Amounts as ``_money_pieces`` writes them, an Arrow string array."""
    return _glued(len(values), *_money_pieces(values))


def _money_columns(values: np.ndarray, then: str = "") -> list:
    """The columns of a matrix of amounts (a wide CSV's layer duties: entries x layers) as
    ``_money_pieces`` writes them, but a zero as 0.00 (never -0.00): a piece per column. A
    layer's column is 0.00 but on a few entries: the other amounts are formatted once each, and
    a column of zeros is a shared text (glued to its neighbours: no position per line)."""
    other = values != 0  # NaN too: written blank
    found, uniques = pd.factorize(values[other], use_na_sentinel=False)
    codes = np.zeros(values.shape, dtype=np.int64)
    codes[other] = found + 1
    texts = _glued(len(uniques) + 1, *_money_pieces(np.concatenate([[0.0], uniques]), then))
    zero = texts[0].as_py()
    return [(texts, column) if some else zero for column, some in zip(codes.T, other.any(axis=0))]


def _dates(values: np.ndarray, then: str = "", before: str = ""):
    """Days as YYYY-MM-DD, blank if NaT: a piece, each distinct day formatted once."""
    codes, uniques = pd.factorize(np.asarray(values, dtype="datetime64[D]").view(np.int64))
    nat = uniques == np.iinfo(np.int64).min
    days = np.datetime_as_string(uniques.astype("datetime64[D]"), unit="D").astype(object)
    days[nat] = ""
    return _indexed(codes, days, then, before)


def _categorical(values):
    """(codes, texts) of a column of few distinct texts (a categorical, or text); -1 if blank."""
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    values = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories.astype(str).to_numpy(dtype=object)


def _categories(values, then: str = ""):
    """Fields of a column of few distinct texts (a categorical, or text), each escaped once: a piece."""
    codes, texts = _categorical(values)
    return _indexed(codes, _csv_fields(texts), then)


class _Escaped:
    """Fields of categorical columns (``_categories``) with their texts escaped once per priced
    result: its chunks share the categories (thousands of codes and reasons)."""

    def __init__(self):
        self.seen = {}

    def __call__(self, values: pd.Series, then: str = ""):
        if not isinstance(values.dtype, pd.CategoricalDtype):
            return _categories(values, then)
        categories = values.cat.categories
        key = (id(categories), then)
        if key not in self.seen:  # the categories are kept, so that their id stays theirs
            pa, _ = _pa()
            texts, _ = _indexed(np.zeros(0, dtype=np.int64), _csv_fields(categories.astype(str).to_numpy(dtype=object)),
                                then)
            self.seen[key] = categories, pa.array(texts, type=pa.large_string())
        texts = self.seen[key][1]
        codes = values.cat.codes.to_numpy()
        return texts, np.where(codes < 0, len(texts) - 1, codes)


def _ids(values: np.ndarray):
    """Entry ids (all distinct), escaped only where one holds a comma, quote or line break: a piece."""
    pa, pc = _pa()
    ids = pa.array(np.asarray(values, dtype=object), type=pa.large_string())
    if not _any_quoted(ids):  # the common case
        return ids, np.arange(len(ids))
    odd = pc.match_substring_regex(ids, '[,"\\r\\n]')
    if pc.any(odd).as_py():
        mask = odd.to_numpy(zero_copy_only=False)
        ids = pc.replace_with_mask(ids, odd, pa.array(
            [_csv_field(v) for v in np.asarray(values, dtype=object)[mask]], type=pa.large_string()))
    return ids, np.arange(len(ids))


def _bytes(lines) -> memoryview:
    """The bytes of an Arrow (large) string array of lines, back to back (the CSV text of those
    lines), without a copy: a view of the array's data."""
    if not len(lines):
        return memoryview(b"")
    width = 8 if lines.type.equals(_pa()[0].large_string()) else 4
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32 if width == 4 else np.int64, count=len(lines) + 1,
                            offset=lines.offset * width)
    return memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]]


def _lead_header(lead: tuple[str, str] | None) -> str:
    return _csv_field(lead[0]) + "," if lead else ""


def _lead_field(lead: tuple[str, str] | None) -> list:
    """The pieces every line starts with: the lead column's value and a comma (none if no lead)."""
    return [_csv_field(lead[1]) + ","] if lead else []


def _prefix_pieces(result, start: int, stop: int, escaped: _Escaped) -> list:
    """The fields every line of an entry starts with, entry_id … quantity, and a comma: pieces."""
    chunk = result.entries.iloc[start:stop]
    lead = f"{result.direction.key},{result.direction.imposer}"
    return [_ids(chunk["entry_id"].to_numpy(dtype=object)), _dates(chunk["entry_date"].to_numpy(), ",", ","),
            _dates(chunk["export_date"].to_numpy(), f",{lead},"), escaped(chunk["origin"], ","),
            escaped(chunk["code"], ","), *_money_pieces(chunk["customs_value"].to_numpy(), ","),
            _short(chunk["quantity"].to_numpy(), ",")]


def _refund_pieces(refund: dict, then: str = "") -> list:
    """``duties.REFUND_COLUMNS`` (``duties.refund_columns``) after the route, duty,deadline,interest: pieces."""
    return [*_money_pieces(refund["refund_duty"], ","), _dates(refund["refund_deadline"], ","),
            *_money_pieces(refund["refund_interest"], then)]


class _Rows:
    """Where the lines of entries start..stop go (``result.line_arrays``): per entry its MFN line,
    its layer lines, its total line. Lines are sorted by entry, so each position is arithmetic."""

    def __init__(self, lines, start: int, n: int):
        local = lines.entry - start
        counts = np.bincount(local, minlength=n)
        m = len(local)
        self.n, self.m, self.count = n, m, m + 2 * n
        mfn = np.cumsum(counts) - counts + 2 * np.arange(n)
        # order[line]: the line's place in the MFN lines, the layer lines, the total lines back to
        # back (a gather from those is some 2.5 times faster than scattering into the lines)
        self.order = np.empty(self.count, dtype=np.int64)
        self.order[mfn] = np.arange(n)
        self.order[np.arange(m) + 2 * local + 1] = n + np.arange(m)
        self.order[mfn + counts + 1] = n + m + np.arange(n)
        self.entry = np.repeat(np.arange(n), counts + 2)  # the entry of each line

    def stacked(self, mfn, layer, total) -> np.ndarray:
        """One value per line: the MFN line's, the layer line's, the total line's (arrays, or one value)."""
        parts = [np.broadcast_to(mfn, self.n), np.broadcast_to(layer, self.m), np.broadcast_to(total, self.n)]
        return np.concatenate(parts).take(self.order)


def _distinct(*columns) -> tuple[np.ndarray, np.ndarray]:
    """(number of each row's combination of ``columns``, first row of each number), NaN a value."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for values in columns:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        key, _ = pd.factorize(key * (len(uniques) + 1) + codes)
    return key, np.unique(key, return_index=True)[1]


class TidyCsv:
    """The tidy per-entry CSV (``duties.LINE_COLUMNS``): per entry an MFN line, one line per
    layer bearing on it, a total line; written straight from the result's arrays."""

    def __init__(self, result, lead: tuple[str, str] | None = None):
        self.result, self.lead = result, _lead_field(lead)
        self.header = _lead_header(lead) + ",".join(LINE_COLUMNS) + "\n"
        layers = result.layers
        # Layer rows repeat per key: each distinct (layer, name, authority, rate, applies), with
        # the rate it charges, and reason is formatted once.
        ids, names, authorities = (layers[c].astype(str).to_numpy(dtype=object) for c in ("layer_id", "name", "authority"))
        rate, applies = layers["rate"].to_numpy(dtype=float), layers["applies"].to_numpy(dtype=bool)
        at, first = _distinct(ids, names, authorities, rate, applies)
        rates, rate_at = _short(rate[first])
        texts = [f"layer,{i},{name},{a},{rates[r]},{'true' if ok else 'false'},"
                 for i, name, a, r, ok in zip(_csv_fields(ids[first]), _csv_fields(names[first]),
                                              _csv_fields(authorities[first]), rate_at, applies[first])]
        self.layer_part = np.asarray(texts, dtype=object)[at]  # per layer row, up to the rate charged
        charged = layers["charged"].to_numpy(dtype=float)
        self.layer_at, first = _distinct(at, charged)  # per layer row: its text up to the duty
        charged_texts, charged_at = _short(charged[first], ",")
        self.layer_texts = [texts[at[row]] + charged_texts[c] for row, c in zip(first, charged_at)]
        reason_at, reasons = pd.factorize(layers["reason"].astype(str).to_numpy(dtype=object))
        self.reason_texts = [f"{r},,,,\n" for r in _csv_fields(np.asarray(reasons, dtype=object))]
        self.reason_at = reason_at
        self.total_part = f"total,,{_csv_field(TOTAL_NAME)},,,true,"
        self.escaped = _Escaped()

    def lines(self, start: int, stop: int):
        """The lines of entries start..stop (an Arrow string array), in order."""
        result, n = self.result, stop - start
        chunk = result.entries.iloc[start:stop]
        lines = result.line_arrays(start, stop)
        rows = _Rows(lines, start, n)
        moved = np.flatnonzero(lines.transit)  # lines charged the in-transit rate: their own texts

        # Up to the duty: the MFN line's rate and whether it applies, the layer's fields and rate
        # charged, the total rate.
        rates, rate_at = _short(chunk["mfn_rate"].to_numpy())
        mfn_texts = [f"mfn,mfn,MFN,MFN,{r},{ok},{r}," for r in rates for ok in ("false", "true")]
        mfn_at = 2 * rate_at + chunk["mfn_duty"].notna().to_numpy()
        layer_at = self.layer_at[lines.layer] + len(mfn_texts)
        moved_texts, moved_at = _short(lines.charged[moved], ",")
        moved_texts = [p + moved_texts[c] for p, c in zip(self.layer_part[lines.layer[moved]], moved_at)]
        layer_at[moved] = len(mfn_texts) + len(self.layer_texts) + np.arange(len(moved))
        totals, total_at = _short(chunk["total_rate"].to_numpy(), ",")
        head = ([*mfn_texts, *self.layer_texts, *moved_texts, *(self.total_part + t for t in totals)],
                rows.stacked(mfn_at, layer_at, total_at + len(mfn_texts) + len(self.layer_texts) + len(moved_texts)))

        duty = _money_pieces(rows.stacked(chunk["mfn_duty"].to_numpy(dtype=float), lines.duty,
                                          chunk["duty_total"].to_numpy(dtype=float)), ",")

        # After the duty: the reason (and, on the total line, the refund columns).
        mfn_reasons, mfn_reason_at = self.escaped(chunk["mfn_reason"], ",,,,\n")
        reason_at = self.reason_at[lines.layer] + len(mfn_reasons)
        moved_reasons = [f"{r},,,,\n" for r in _csv_fields(duties.line_reasons(result, lines)[moved])]
        reason_at[moved] = len(mfn_reasons) + len(self.reason_texts) + np.arange(len(moved))
        refund = duties.refund_columns(result, start, stop)
        route_at, routes = pd.factorize(refund["refund_route"])
        route_at = np.where(route_at < 0, len(routes), route_at)
        unknown = chunk["duty_total"].isna().to_numpy()  # on the total line: the MFN duty is not known
        flags = [f"{u},{r}," for u in ("", _csv_field(UNKNOWN_TOTAL)) for r in [*_csv_fields(routes), ""]]
        flag_at = unknown * (len(routes) + 1) + route_at
        # Most entries refund nothing: their total line ends in blanks, a text per flag; the others'
        # refund columns are glued.
        refunding = np.flatnonzero(~(np.isnan(refund["refund_duty"]) & np.isnat(refund["refund_deadline"])
                                     & np.isnan(refund["refund_interest"])))
        some = {name: values[refunding] for name, values in refund.items()}
        refunds = _glued(len(refunding), (flags, flag_at[refunding]), *_refund_pieces(some, "\n"))
        total_at = flag_at + len(mfn_reasons) + len(self.reason_texts) + len(moved_reasons)
        total_at[refunding] = len(mfn_reasons) + len(self.reason_texts) + len(moved_reasons) + len(flags) \
            + np.arange(len(refunding))
        pa, _ = _pa()
        tail = ([mfn_reasons, pa.array([*self.reason_texts, *moved_reasons, *(f + ",,\n" for f in flags)],
                                       type=pa.large_string()), refunds],
                rows.stacked(mfn_reason_at, reason_at, total_at))
        prefixes = _glued(n, *_prefix_pieces(result, start, stop, self.escaped))
        return _glued(rows.count, *self.lead, (prefixes, rows.entry), head, *duty, tail)

    def pieces(self, start: int, stop: int, header: bool) -> list:
        """The header (if asked) and the bytes of the lines of entries start..stop."""
        return ([self.header.encode()] if header else []) + ([_bytes(self.lines(start, stop))] if stop > start else [])


class WideCsv:
    """The wide per-entry CSV: one line per entry, a duty column for each of ``layer_columns``."""

    def __init__(self, result, layer_columns: list[str], lead: tuple[str, str] | None = None):
        self.result, self.layer_columns, self.lead = result, layer_columns, _lead_field(lead)
        self.header = _lead_header(lead) + ",".join(
            _csv_fields([*ENTRY_COLUMNS, *layer_columns, *ENTRY_TAIL, *REFUND_COLUMNS])) + "\n"
        self.escaped = _Escaped()

    def pieces(self, start: int, stop: int, header: bool) -> list:
        """The header (if asked) and the bytes of the lines of entries start..stop."""
        result, n = self.result, stop - start
        head = [self.header.encode()] if header else []
        if not n:
            return head
        chunk = result.entries.iloc[start:stop]
        dense = duties.wide_duties(result, start, stop, self.layer_columns)
        refund = duties.refund_columns(result, start, stop)
        layer_fields = _money_columns(dense, ",")
        lines = _glued(n, *self.lead, *_prefix_pieces(result, start, stop, self.escaped),
                       _short(chunk["mfn_rate"].to_numpy(), ","),
                       *_money_pieces(chunk["mfn_duty"].to_numpy(), ","), *layer_fields,
                       *_money_pieces(chunk["additional_duty"].to_numpy(), ","),
                       *_money_pieces(chunk["duty_total"].to_numpy(), ","), _short(chunk["total_rate"].to_numpy(), ","),
                       self.escaped(chunk["mfn_reason"], ","), _indexed(*pd.factorize(refund["refund_route"]), ","),
                       *_refund_pieces(refund, "\n"))
        return head + [_bytes(lines)]


# -- one priced result, a run of chunks -------------------------------------------------------

def duty_csv_chunks(result, wide: bool = False, chunk_entries: int = CSV_ENTRIES, progress=None,
                    layer_columns=None, as_bytes: bool = False, header: bool = True,
                    lead: tuple[str, str] | None = None):
    """The per-entry CSV of ``duties.compute_duties``, piece by piece (tidy lines, or ``wide`` one
    row per entry, with a duty column for each of ``layer_columns``: default, the layers that
    charge something in ``result``): texts, or UTF-8 ``as_bytes`` (bytes-like views, valid until
    the next piece is asked for); the header first unless not ``header``. ``lead``: (name,
    value) of a first column of one value on every row (a scenario names itself so)."""
    n = len(result.entries)
    if wide and layer_columns is None:
        layer_columns = duties.wide_columns(result)
    writer = WideCsv(result, layer_columns, lead) if wide else TidyCsv(result, lead)
    slices = _slices(n, chunk_entries)
    for (_start, stop), pieces in zip(slices, in_order(lambda s: writer.pieces(s[0], s[1], header and s[0] == 0),
                                                       slices)):
        if as_bytes:
            yield from pieces
        else:
            yield "".join(bytes(p).decode("utf-8") for p in pieces)
        if progress:
            progress("write", stop, n)


def rejects_path(output) -> str:
    """``out.csv`` (or ``out.parquet``) -> ``out.rejects.csv``."""
    text = str(output)
    for suffix in (".csv", ".parquet"):
        if text.lower().endswith(suffix):
            text = text[:-len(suffix)]
    return text + ".rejects.csv"


def duty_run_csv(run, wide: bool = False, products=None, as_bytes: bool = False, lead=None):
    """The per-entry CSV of a ``partition.DutyRun``, chunk after chunk, one header. A wide CSV
    has a column for every layer of the direction that charges something (``wide_layer_columns``):
    the columns are fixed before the first chunk is written."""
    from .partition import wide_layer_columns

    layer_columns, first = None, True
    for result in run.results():
        if wide and layer_columns is None:
            layer_columns = wide_layer_columns(products or run.products, result.direction.key,
                                               run.options["include_threatened"])
        yield from duty_csv_chunks(result, wide, layer_columns=layer_columns, as_bytes=as_bytes, header=first,
                                   lead=lead)
        first, result = False, None  # not held while the next chunk is waited for


def _write_bytes(pieces):
    """A ``write_files`` content that writes byte pieces to the temporary file."""
    def write(path):
        with open(path, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
    return write


def _write_run_csv(run, wide: bool, lead=None):
    """A ``write_files`` content: the per-entry CSV of a ``partition.DutyRun`` (``duty_run_csv``),
    each result formatted and written on a second thread while the next is priced
    (``threads.written_behind``)."""
    def write(path):
        with open(path, "wb") as handle:
            header = [True]

            def put(item):
                result, layer_columns = item
                for piece in duty_csv_chunks(result, wide, layer_columns=layer_columns, as_bytes=True,
                                             header=header[0], lead=lead):
                    handle.write(piece)
                header[0] = False

            threads.written_behind(put, _with_layer_columns(run, wide), wait=False)
    return write


def _with_layer_columns(run, wide: bool):
    """(result, its wide layer columns or None) for each result of ``run``: the columns fixed
    before the first is written (``duty_run_csv``), on the pricing thread."""
    from .partition import wide_layer_columns

    layer_columns = None
    for result in run.results():
        if wide and layer_columns is None:
            layer_columns = wide_layer_columns(run.products, result.direction.key, run.options["include_threatened"])
        yield result, layer_columns
        result = None  # not held while the next chunk is waited for


# -- Parquet ------------------------------------------------------------------------------------

PARQUET_DATES = ("entry_date", "export_date", "refund_deadline")


def _arrow_dates(values: np.ndarray):
    pa, _ = _pa()
    days = np.asarray(values, dtype="datetime64[D]")
    return pa.array(days.view(np.int64).astype(np.int32), type=pa.date32(), mask=np.isnat(days))


def _arrow_floats(values):
    pa, _ = _pa()
    return pa.array(np.asarray(values, dtype=float), type=pa.float64(), from_pandas=True)


def _dictionary(at: np.ndarray, texts):
    """An Arrow dictionary array: row i is ``texts[at[i]]`` (null where ``at`` is negative). The
    Parquet writer writes it as the dictionary page it is, without hashing a text per row."""
    pa, _ = _pa()
    codes, distinct = pd.factorize(np.asarray(texts, dtype=object))  # the dictionary, each text once
    at = np.asarray(at, dtype=np.int64)
    blank = at < 0
    taken = codes.astype(np.int32)[np.where(blank, 0, at)] if len(codes) else np.zeros(len(at), dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(taken, mask=blank if blank.any() else None),
                                          pa.array(np.asarray(distinct, dtype=object), type=pa.string()))


class _Dictionary:
    """A dictionary column of few distinct texts, each once: ``codes`` maps positions in ``texts``
    (as given, repeats allowed) to the dictionary's."""

    def __init__(self, texts):
        pa, _ = _pa()
        codes, distinct = pd.factorize(np.asarray(texts, dtype=object))
        self.codes = codes.astype(np.int32)
        self.dictionary = pa.array(np.asarray(distinct, dtype=object), type=pa.string())

    def column(self, at: np.ndarray):
        """The column whose row i is text ``at[i]`` (given codes already mapped by ``codes``)."""
        pa, _ = _pa()
        return pa.DictionaryArray.from_arrays(pa.array(np.asarray(at, dtype=np.int32)), self.dictionary)


class LinesTable:
    """The tidy lines of a priced result as Arrow tables, a slice of entries at a time (``table``):
    what depends on the layer rows only is worked out once."""

    def __init__(self, result):
        self.result = result
        layers = result.layers
        self.layer_texts = {}  # column: (dictionary, code of the MFN line, of each layer row, of the total line)
        for column, mfn_text, total_text in (("layer_id", "mfn", ""), ("name", "MFN", TOTAL_NAME),
                                             ("authority", "MFN", "")):
            at, texts = pd.factorize(layers[column].astype(str).to_numpy(dtype=object))
            dictionary = _Dictionary([mfn_text, total_text, *texts])
            self.layer_texts[column] = dictionary, dictionary.codes[0], dictionary.codes[2 + at], dictionary.codes[1]
        self.reason_at, self.reasons = pd.factorize(layers["reason"].astype(str).to_numpy(dtype=object))
        self.mfn_reasons = {}  # the categories of the MFN reasons (shared by the chunks): their texts
        self.rate = layers["rate"].to_numpy(dtype=float)
        self.applies = layers["applies"].to_numpy(dtype=bool)

    def table(self, start: int, stop: int):
        """The lines of entries start..stop (``duties.LINE_COLUMNS``): per entry an MFN row, its
        layer rows, its total row; dates as dates; the texts of few distinct values (all but
        entry_id) as dictionary columns."""
        pa, _ = _pa()
        result = self.result
        lines = result.line_arrays(start, stop)
        chunk = result.entries.iloc[start:stop]
        rows = _Rows(lines, start, stop - start)
        entry = rows.entry

        def per_entry(values):  # a value per entry, on each of its lines
            return np.asarray(values)[entry]

        def texts(values):  # a categorical column of the entries, on each line
            at, names = _categorical(values)
            dictionary = _Dictionary(names)
            at = at[entry]
            blank = at < 0
            codes = dictionary.codes[np.where(blank, 0, at)] if len(names) else np.zeros(len(at), dtype=np.int32)
            return pa.DictionaryArray.from_arrays(pa.array(codes, mask=blank if blank.any() else None),
                                                  dictionary.dictionary)

        def same(text):  # one text on every row
            return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows.count, dtype=np.int32)),
                                                  pa.array([text], type=pa.string()))

        def layer_text(column):  # the MFN row's, the layer's, the total row's
            dictionary, mfn, layer, total = self.layer_texts[column]
            return dictionary.column(rows.stacked(mfn, layer[lines.layer], total))

        mfn_reasons = chunk["mfn_reason"]
        mfn_at, mfn_texts = _categorical(mfn_reasons)
        moved = np.flatnonzero(lines.transit)
        transit = duties.line_reasons(result, lines)[moved] if len(moved) else np.array([], dtype=object)
        layer_reason = self.reason_at[lines.layer] + len(mfn_texts) + 2
        layer_reason[moved] = len(mfn_texts) + 2 + len(self.reasons) + np.arange(len(moved))
        total_reason = np.where(chunk["duty_total"].isna().to_numpy(), 0, 1)  # UNKNOWN_TOTAL, or none
        reason = _dictionary(rows.stacked(np.where(mfn_at < 0, 1, mfn_at + 2), layer_reason, total_reason),
                             [UNKNOWN_TOTAL, "", *mfn_texts, *self.reasons, *transit])
        refund = duties.refund_columns(result, start, stop)
        route_at, routes = pd.factorize(np.asarray(refund["refund_route"], dtype=object))
        nat = np.datetime64("NaT", "D")
        columns = {
            "entry_id": pa.array(chunk["entry_id"].to_numpy(dtype=object), type=pa.string()).take(pa.array(entry)),
            "entry_date": _arrow_dates(per_entry(chunk["entry_date"].to_numpy(dtype="datetime64[D]"))),
            "export_date": _arrow_dates(per_entry(chunk["export_date"].to_numpy(dtype="datetime64[D]"))),
            "direction": same(result.direction.key),
            "imposer": same(result.direction.imposer),
            "origin": texts(chunk["origin"]),
            "code": texts(chunk["code"]),
            "customs_value": _arrow_floats(per_entry(chunk["customs_value"].to_numpy(dtype=float))),
            "quantity": _arrow_floats(per_entry(chunk["quantity"].to_numpy(dtype=float))),
            "kind": _Dictionary(["mfn", "layer", "total"]).column(rows.stacked(0, 1, 2)),
            "layer_id": layer_text("layer_id"),
            "name": layer_text("name"),
            "authority": layer_text("authority"),
            "rate": _arrow_floats(rows.stacked(chunk["mfn_rate"].to_numpy(dtype=float), self.rate[lines.layer],
                                               np.nan)),
            "applies": pa.array(rows.stacked(chunk["mfn_duty"].notna().to_numpy(), self.applies[lines.layer], True)),
            "charged": _arrow_floats(rows.stacked(chunk["mfn_rate"].to_numpy(dtype=float), lines.charged,
                                                  chunk["total_rate"].to_numpy(dtype=float))),
            "duty": _arrow_floats(rows.stacked(chunk["mfn_duty"].to_numpy(dtype=float), lines.duty,
                                               chunk["duty_total"].to_numpy(dtype=float))),
            "reason": reason,
            "refund_route": _dictionary(rows.stacked(0, 0, route_at + 1), ["", *routes]),
            "refund_duty": _arrow_floats(rows.stacked(np.nan, np.nan, refund["refund_duty"])),
            "refund_deadline": _arrow_dates(rows.stacked(nat, nat, np.asarray(refund["refund_deadline"],
                                                                              dtype="datetime64[D]"))),
            "refund_interest": _arrow_floats(rows.stacked(np.nan, np.nan, refund["refund_interest"])),
        }
        return pa.table([columns[c] for c in LINE_COLUMNS], names=LINE_COLUMNS)


def lines_table(result, start: int, stop: int):
    """The tidy lines of entries start..stop as an Arrow table (``LinesTable.table``)."""
    return LinesTable(result).table(start, stop)


def wide_table(result, start: int, stop: int, layer_columns: list[str]):
    """One row per entry (``duties.wide_columns_of``) as an Arrow table, dates as dates."""
    pa, _ = _pa()
    columns = duties.wide_columns_of(result, start, stop, layer_columns)
    arrays = []
    for name, values in columns.items():
        if name in PARQUET_DATES:
            arrays.append(_arrow_dates(values))
        elif values.dtype.kind in "fiub":
            arrays.append(pa.array(values, from_pandas=True))
        else:  # texts, NaN where blank (null): as they are, without a categorical of them
            arrays.append(pa.array(values, type=pa.string(), from_pandas=True))
    return pa.table(arrays, names=[str(c) for c in columns])


def write_duty_parquet(run, path, wide: bool = False, chunk_entries: int = CHUNK_ENTRIES, lead=None) -> None:
    """The per-entry output of a ``partition.DutyRun`` as one Parquet file (``duty -o out.parquet``),
    a row group per chunk: the lines (or ``wide`` one row per entry) written column-wise by pyarrow;
    ``lead`` as for ``duty_csv_chunks``."""
    import pyarrow.parquet as pq

    pa, _ = _pa()
    writer = []

    def write(item):  # a result's tables, built and written on the writer thread
        result, layer_columns = item
        n, lines = len(result.entries), None if wide else LinesTable(result)
        slices = _slices(n, chunk_entries)
        for table in in_order(lambda s: wide_table(result, s[0], s[1], layer_columns) if wide
                              else lines.table(s[0], s[1]), slices):
            if lead:
                table = table.add_column(0, lead[0], pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(len(table), dtype=np.int32)), pa.array([lead[1]], type=pa.string())))
            if not writer:
                writer.append(pq.ParquetWriter(path, table.schema, use_dictionary=_dictionary_encoded(table.schema),
                                               write_statistics=_with_statistics(table.schema)))
            writer[0].write_table(table.cast(writer[0].schema))

    try:
        threads.written_behind(write, _with_layer_columns(run, wide))
    finally:
        if writer:
            writer[0].close()


def _with_statistics(schema) -> list[str]:
    """The columns given min/max statistics: not the dictionary columns, whose statistics pyarrow
    works out row by row (a third of the writer's time) and which could prune no row group (each
    chunk holds most codes, kinds and reasons)."""
    pa, _ = _pa()
    return [f.name for f in schema if not pa.types.is_dictionary(f.type)]


# Rates take few distinct values (a line's rate is one of a few dozen percentages): a dictionary
# of them halves their size for the same time. Amounts and entry ids are nearly all distinct.
_FEW_VALUES = ("rate", "charged")


def _dictionary_encoded(schema) -> list[str]:
    """The columns worth a Parquet dictionary: texts of few distinct values and the rates. Not
    the entry ids nor amounts, nearly all distinct: the writer would hash every value only to
    give up on the dictionary; nor dates, 4 bytes each, written plain a third faster (measured
    on the 1 M-row ledger's 3.2 M lines: entry_date 0.047 s with a dictionary, 0.031 s plain,
    4.3 MB and 4.8 MB)."""
    pa, _ = _pa()
    return [f.name for f in schema if f.name != "entry_id"
            and (pa.types.is_dictionary(f.type) or pa.types.is_string(f.type) or f.name in _FEW_VALUES)]


def write_duty_run(run, output, wide: bool = False, skip_bad: bool = False, lead=None) -> None:
    """The per-entry output of a ``partition.DutyRun`` to ``output`` (.csv or .parquet) and, with
    ``skip_bad``, its rejected rows beside it (``rejects_path``), each written whole or not at all.
    ``lead``: a first column of one value (a scenario names itself so), as ``duty_csv_chunks``."""
    from .output import write_files

    if str(output).lower().endswith(".parquet"):
        files = [(output, lambda tmp: write_duty_parquet(run, tmp, wide, lead=lead))]
    else:
        files = [(output, _write_run_csv(run, wide, lead))]
    if skip_bad:
        files.append((rejects_path(output), lambda tmp: run.rejects().to_csv(tmp, index=False, lineterminator="\n")))
    write_files(files)


def write_duty_outputs(result, output, wide: bool = False, skip_bad: bool = False, progress=None,
                       lead=None) -> None:
    """The per-entry CSV to ``output`` and, with ``skip_bad``, the rejected rows beside it; each
    written whole or not at all. ``lead`` as for ``duty_csv_chunks``."""
    from .output import write_files

    files = [(output, _write_bytes(duty_csv_chunks(result, wide, progress=progress, as_bytes=True, lead=lead)))]
    if skip_bad:
        files.append((rejects_path(output), result.ledger.rejects.to_csv(index=False, lineterminator="\n")))
    write_files(files)
