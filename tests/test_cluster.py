"""The Dask path on a local cluster: the same totals as one process, to the cent."""
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tariffcalc import cluster, duties, export, ledger

dd = pytest.importorskip("dask.dataframe")  # installed with the test extra: CI runs this
distributed = pytest.importorskip("distributed")

RANDOM = Path(__file__).parent / "fixtures" / "ledgers" / "random-us.csv"
AS_OF = date(2026, 12, 1)


class _Summary:
    def __init__(self, summary):
        self.summary = summary


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc) as c:
        yield c


@pytest.mark.slow
def test_a_dask_ledger_gets_the_single_process_totals(products, client, tmp_path):
    whole = duties.compute_duties(ledger.read_ledger(RANDOM, skip_bad=True), products, as_of=AS_OF)
    rows = dd.from_pandas(pd.read_csv(RANDOM, dtype=str, keep_default_na=False), npartitions=5)
    summary = cluster.summarize_dask(rows, products, as_of=AS_OF)
    assert export.duty_summary_dict(_Summary(summary)) == export.duty_summary_dict(whole)
    assert summary.entries + summary.rejected == 400
    priced = cluster.price_dask(rows, products, as_of=AS_OF).compute()
    good = priced[priced["rejected"] == ""].reset_index(drop=True)
    columns = ["entry_id", "mfn_duty", "additional_duty", "duty_total"]
    pd.testing.assert_frame_equal(good[columns], whole.entries[columns])
    written = cluster.price_and_summarize_dask(rows, products, str(tmp_path), as_of=AS_OF)
    assert export.duty_summary_dict(_Summary(written)) == export.duty_summary_dict(whole)
    assert len(pd.read_parquet(tmp_path)) == 400
