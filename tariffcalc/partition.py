"""Ledgers of any size: priced a part at a time, the parts' totals added.

A ledger is read a chunk at a time (``ledger.LedgerReader``: CSV or Parquet, one file or many), each
chunk is priced on its own (``duties.compute_duties``) and written out before the next is read, and
the summary is the sum of the chunks' ``duties.DutyTotals`` (whole millionths: the same to the
cent however the ledger is split). Memory holds one chunk and its output.

The same pricing of one part is the public, pure ``price_partition`` (a DataFrame of ledger rows
in, a DataFrame of priced entries out), which a distributed engine runs on its partitions
(``tariffcalc.cluster`` for Dask; docs/scaling.md for Spark); ``partition_totals`` gives the part's
totals, and ``combine_totals`` adds them.
"""
from __future__ import annotations

from datetime import date
from functools import reduce

import numpy as np
import pandas as pd

from . import duties, threads
from .engine import direction_with_origin
from .ledger import CHUNK_ROWS, LedgerReader
from .model import ORIGINS_OF
from .products import ProductEngine

# The columns of ``price_partition``: the per-entry (wide) columns without one column per layer,
# so that every partition has the same schema; ``row`` is the row in the partition (from 1) and
# ``rejected`` the reason a row was not priced ('' if it was).
PARTITION_COLUMNS = ["row", *duties.ENTRY_COLUMNS, *duties.ENTRY_TAIL, *duties.REFUND_COLUMNS, "rejected"]


class DutyRun:
    """A ledger priced chunk by chunk: iterate ``results()`` (a ``DutyResult`` per chunk, to write
    out); then ``summary`` is the ledger's and ``rejects()`` its rejected rows, in file order."""

    def __init__(self, reader: LedgerReader, products: ProductEngine, include_threatened: bool = False,
                 as_of: date | None = None, interest_payer: str | None = None):
        self.reader, self.products = reader, products
        self.options = dict(include_threatened=include_threatened, as_of=as_of, interest_payer=interest_payer)
        self.totals: duties.DutyTotals | None = None
        self._rejects: list[pd.DataFrame] = []
        self._unpriced = 0  # rows rejected in chunks with no good row (not priced)
        self.direction = None
        self.memo = duties.PricingMemo()  # codes, keys and MFN lines worked out once for all chunks

    def results(self):
        for part in threads.made_ahead(self.reader):
            if not len(part.entries):
                self._rejects.append(part.rejects)
                self._unpriced += len(part.rejects)
                continue
            result = duties.compute_duties(part, self.products, memo=self.memo, **self.options)
            self._rejects.append(result.ledger.rejects)  # of many files: each names its file
            self.direction = result.direction
            self.totals = result.totals if self.totals is None else self.totals + result.totals
            yield result
            part = result = None  # not held while the next chunk is waited for
        if self.totals is None:  # nothing to price: an empty ledger (its totals, the header of its output)
            result = duties.compute_duties(self.reader.empty(), self.products, memo=self.memo, **self.options)
            self.direction, self.totals = result.direction, result.totals
            yield result

    @property
    def summary(self) -> duties.DutySummary:
        return self.totals.with_rejected(self._unpriced).summary(self.products)

    def rejects(self) -> pd.DataFrame:
        frames = [f for f in self._rejects if len(f)]
        if not frames:
            return pd.DataFrame(columns=self._rejects[0].columns if self._rejects else ["row", "reason"])
        return self.reader.as_written(pd.concat(frames, ignore_index=True))

    @property
    def ledger(self):  # what the summary view names: the ledger read
        return self.reader


def wide_layer_columns(products: ProductEngine, direction: str, include_threatened: bool = False) -> list[str]:
    """The layer columns of a wide per-entry output written chunk by chunk: every layer of the
    direction that charges something at some step (the same for every chunk), by authority and id."""
    picked = []
    for origin in ORIGINS_OF[direction]:
        steps = products.engine.direction_steps(direction_with_origin(direction, origin))
        if not include_threatened:
            steps = steps[steps["status"] != "threatened"]
        picked.append(steps.loc[steps["rate"].fillna(0) != 0, ["authority", "layer_id"]])
    if not picked:
        return []
    found = pd.concat(picked).drop_duplicates().sort_values(["authority", "layer_id"])
    return list(found["layer_id"])


# -- one partition, pure ------------------------------------------------------------------------

def _priced_frame(result: duties.DutyResult, rejects: pd.DataFrame) -> pd.DataFrame:
    entries = result.entries
    frame = pd.DataFrame({"row": entries["row"].to_numpy()})
    for name in duties.ENTRY_COLUMNS:
        if name in ("direction", "imposer"):
            frame[name] = result.direction.key if name == "direction" else result.direction.imposer
        else:
            values = entries[name]
            frame[name] = values.astype(str).to_numpy(dtype=object) if isinstance(values.dtype, pd.CategoricalDtype) \
                else values.to_numpy()
    for name in duties.ENTRY_TAIL:
        values = entries[name]
        frame[name] = values.astype(str).to_numpy(dtype=object) if name == "mfn_reason" else values.to_numpy()
    for name, values in duties.refund_columns(result, 0, len(entries)).items():
        frame[name] = values
    frame["rejected"] = ""
    if len(rejects):
        bad = pd.DataFrame({"row": rejects["row"].to_numpy(dtype=np.int64),
                            "rejected": rejects["reason"].astype(str).to_numpy(dtype=object)})
        frame = pd.concat([frame, bad], ignore_index=True).sort_values("row", kind="stable")
    frame = frame.reindex(columns=PARTITION_COLUMNS).reset_index(drop=True)
    return typed_partition(frame)


def typed_partition(frame: pd.DataFrame) -> pd.DataFrame:
    """The same dtypes whatever rows a partition has (a distributed frame needs one schema)."""
    out = frame.copy()
    for name in PARTITION_COLUMNS:
        if name in ("entry_date", "export_date", "refund_deadline"):
            out[name] = pd.to_datetime(out[name]).astype("datetime64[ns]")
        elif name == "row":
            out[name] = out[name].astype(np.int64)
        elif name in ("customs_value", "quantity", "mfn_rate", "mfn_duty", "additional_duty", "duty_total",
                      "total_rate", "refund_duty", "refund_interest"):
            out[name] = out[name].astype(float)
        else:
            out[name] = out[name].astype(object).where(out[name].notna(), "")
    return out


def _price(frame: pd.DataFrame, products: ProductEngine, direction: str = "us", as_of: date | None = None,
           interest_payer: str | None = None, columns=None, include_threatened: bool = False,
           label: str = "partition") -> tuple[pd.DataFrame, duties.DutyTotals]:
    reader = LedgerReader(frame, columns, direction, skip_bad=True, chunk_rows=max(len(frame), 1), label=label)
    run = DutyRun(reader, products, include_threatened, as_of, interest_payer)
    priced = list(run.results())  # one chunk: the whole partition
    rejects = run.rejects()
    if priced:
        out = _priced_frame(priced[0], rejects)
    else:
        out = typed_partition(pd.DataFrame({"row": rejects["row"].to_numpy(dtype=np.int64) if len(rejects) else [],
                                   "rejected": rejects["reason"].to_numpy(dtype=object) if len(rejects) else []})
                     .reindex(columns=PARTITION_COLUMNS))
    return out, run.totals.with_rejected(run._unpriced)


def price_partition(frame: pd.DataFrame, products: ProductEngine, direction: str = "us", as_of: date | None = None,
                    interest_payer: str | None = None, columns=None, include_threatened: bool = False) -> pd.DataFrame:
    """Price one partition of a ledger: ``frame`` has the ledger's columns (as in the CSV: entry_id,
    entry_date, hts, origin, customs_value and the optional ones; ``columns`` maps other names),
    as text, numbers or dates. Returns ``PARTITION_COLUMNS``: a row per row of ``frame``, priced
    (MFN, additional and total duty, the refund) or, for a bad row, its reason in ``rejected``.

    Pure: the result depends only on ``frame`` and the arguments (give ``as_of``: the refund
    routes depend on the day), so a distributed engine can run it on each partition."""
    return _price(frame, products, direction, as_of, interest_payer, columns, include_threatened)[0]


def partition_totals(frame: pd.DataFrame, products: ProductEngine, **options) -> duties.DutyTotals:
    """The ``duties.DutyTotals`` of one partition (``price_partition``'s arguments): add those of
    every partition (``combine_totals``) and ``.summary(products)`` is the ledger's summary."""
    return _price(frame, products, **options)[1]


def price_partition_and_totals(frame: pd.DataFrame, products: ProductEngine,
                               **options) -> tuple[pd.DataFrame, duties.DutyTotals]:
    """``price_partition`` and ``partition_totals`` of one partition, priced once."""
    return _price(frame, products, **options)


def combine_totals(totals) -> duties.DutyTotals:
    """The sum of the totals of the partitions of one ledger (in any order: they are whole numbers)."""
    return reduce(lambda a, b: a + b, totals)


def stream_duties(spec, products: ProductEngine, columns=None, direction: str = "both", skip_bad: bool = False,
                  chunk_rows: int = CHUNK_ROWS, progress=None, **options) -> DutyRun:
    """A ``DutyRun`` over a ledger file, folder or glob pattern (``ledger.ledger_files``)."""
    return DutyRun(LedgerReader(spec, columns, direction, skip_bad, chunk_rows, progress), products, **options)
