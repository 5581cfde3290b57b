"""A ledger priced on a Dask cluster (``pip install 'tariffcalc[dask]'``; docs/scaling.md).

Every partition of a Dask DataFrame of ledger rows is priced by ``partition.price_partition`` (pure:
the rows and the arguments decide the result), and the summary is the sum of the partitions'
``duties.DutyTotals`` (whole millionths: the totals of the ledger priced in one process, to the
cent, however it is partitioned). The product engine is sent to the workers once, as one task.

    import dask.dataframe as dd
    from distributed import Client
    from tariffcalc import ProductEngine, load_dataset
    from tariffcalc.cluster import price_dask, summarize_dask

    client = Client()                                   # or a cluster's scheduler address
    dataset = load_dataset()                            # the bundled data (or a data directory)
    products = ProductEngine.from_dataset(dataset)
    rows = dd.read_parquet("ledger/*.parquet")          # or dd.read_csv(..., dtype=str)
    priced = price_dask(rows, products, as_of=date(2026, 12, 1))   # lazy, one priced row per row
    priced.to_parquet("duties/")
    summary = summarize_dask(rows, products, as_of=date(2026, 12, 1))
"""
from __future__ import annotations

from . import partition
from .output import write_files


def _shared(products):
    """The engine as one named task: not hashed again for every partition."""
    from dask import delayed

    return delayed(products, name=f"tariffcalc-products-{id(products)}", traverse=False)


def priced_meta():
    """The empty frame with the columns and dtypes of ``price_partition``'s result (Dask's meta)."""
    import pandas as pd

    return partition.typed_partition(pd.DataFrame(columns=partition.PARTITION_COLUMNS))


def price_dask(rows, products, **options):
    """``rows`` (a Dask DataFrame of ledger rows) priced partition by partition: a lazy Dask
    DataFrame of ``partition.PARTITION_COLUMNS``; ``options`` are ``price_partition``'s (give
    ``as_of``). A bad row is not an error here: its reason is in ``rejected``."""
    return rows.map_partitions(partition.price_partition, _shared(products), meta=priced_meta(), **options)


def summarize_dask(rows, products, **options):
    """The ``duties.DutySummary`` of ``rows``: each partition's totals computed where it lives,
    added on the client."""
    import dask
    from dask import delayed

    engine = _shared(products)
    totals = [delayed(partition.partition_totals)(part, engine, **options) for part in rows.to_delayed()]
    return dask.compute(delayed(partition.combine_totals)(totals))[0].summary(products)


def price_and_summarize_dask(rows, products, folder, **options):
    """Price ``rows`` once: every partition writes its priced rows to ``folder/part-NNNNN.parquet``
    and returns its totals; returns the ledger's ``duties.DutySummary``."""
    import dask
    from dask import delayed

    engine = _shared(products)
    tasks = [delayed(_write_part)(part, engine, f"{folder}/part-{number:05d}.parquet", options)
             for number, part in enumerate(rows.to_delayed())]
    return dask.compute(delayed(partition.combine_totals)(tasks))[0].summary(products)


def _write_part(part, products, path, options):
    frame, totals = partition.price_partition_and_totals(part, products, **options)
    write_files([(path, lambda tmp: frame.to_parquet(tmp, index=False))])  # a killed worker leaves no half part
    return totals
