"""A ledger priced a part at a time: the same totals to the cent whatever the chunks, the files
or the formats; rows in = rows priced + rows rejected; rows named by file and line."""
import copy
import json
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffcalc import duties, export, ledger, partition
from tariffcalc.cli import cli

RANDOM = Path(__file__).parent / "fixtures" / "ledgers" / "random-us.csv"  # 400 rows, seeded, bundled codes
AS_OF = date(2026, 12, 1)


@pytest.fixture(scope="module")
def whole(products):
    return duties.compute_duties(ledger.read_ledger(RANDOM, skip_bad=True), products, as_of=AS_OF)


class _Summary:
    def __init__(self, summary):
        self.summary = summary


def summary_of(run_or_result) -> dict:
    return export.duty_summary_dict(_Summary(run_or_result.summary))


@pytest.mark.slow
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk_rows=st.integers(min_value=40, max_value=150))  # each chunk is priced whole: a few
def test_totals_are_the_same_to_the_cent_whatever_the_chunks(products, whole, chunk_rows):
    run = partition.stream_duties(RANDOM, products, skip_bad=True, chunk_rows=chunk_rows, as_of=AS_OF)
    priced = pd.concat([r.entries for r in run.results()], ignore_index=True)
    assert summary_of(run) == summary_of(whole)  # every total, by authority, month and route, to the cent
    assert run.summary.notes == whole.summary.notes
    assert len(priced) + len(run.rejects()) == 400  # rows in = rows priced + rows rejected
    pd.testing.assert_frame_equal(run.rejects().reset_index(drop=True), whole.ledger.rejects)
    columns = ["entry_id", "mfn_duty", "additional_duty", "duty_total"]
    pd.testing.assert_frame_equal(priced[columns], whole.entries[columns])


def split(tmp_path, cuts=(0, 130, 260, 400), formats=("csv", "parquet", "csv")) -> Path:
    frame = pd.read_csv(RANDOM, dtype=str, keep_default_na=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    for number, (lo, hi, kind) in enumerate(zip(cuts, cuts[1:], formats)):
        part = frame.iloc[lo:hi]
        name = folder / f"part-{number}.{kind}"
        part.to_csv(name, index=False) if kind == "csv" else part.to_parquet(name, index=False)
    return folder


@pytest.mark.slow
def test_a_folder_of_csv_and_parquet_partitions_is_one_ledger(products, whole, tmp_path):
    folder = split(tmp_path)
    run = partition.stream_duties(folder, products, skip_bad=True, chunk_rows=50, as_of=AS_OF)
    for _ in run.results():
        pass
    assert summary_of(run) == summary_of(whole)
    rejects = run.rejects()
    assert list(rejects.columns[:4]) == ["file", "row", "problem", "reason"]
    # rows are each file's own lines (CSV: the header is line 1) or rows (Parquet: from 1)
    first = whole.ledger.rejects.iloc[0]
    assert (rejects.iloc[0]["file"], rejects.iloc[0]["row"]) == (str(folder / "part-0.csv"), first["row"])
    in_parquet = rejects[rejects["file"].str.endswith(".parquet")]
    assert len(in_parquet) and in_parquet["row"].max() <= 130
    same = whole.ledger.rejects.set_index("entry_id")["reason"]
    assert (rejects.set_index("entry_id")["reason"] == same).all()


def test_an_id_repeated_in_another_file_is_named_with_that_file(products, tmp_path):
    frame = pd.read_csv(RANDOM, dtype=str, keep_default_na=False).iloc[:20]
    frame.iloc[:10].to_csv(tmp_path / "a.csv", index=False)
    later = frame.iloc[10:].copy()
    later.iloc[3, 0] = frame.iloc[2, 0]
    later.to_csv(tmp_path / "b.csv", index=False)
    run = partition.stream_duties(tmp_path, products, skip_bad=True, as_of=AS_OF)
    for _ in run.results():
        pass
    rejects = run.rejects().set_index("entry_id")
    assert rejects.loc[frame.iloc[2, 0], ["file", "row", "reason"]].tolist() == [
        str(tmp_path / "b.csv"), 5, f"entry_id {frame.iloc[2, 0]} repeats row 4 of {tmp_path / 'a.csv'}"]


def test_ids_of_a_mixed_column_are_texts_wherever_they_are(products):
    """A partition's entry_id column of texts with a number far down (past any sample of its
    first rows): the number is its text, so it repeats the same text earlier on."""
    frame = pd.read_csv(RANDOM, dtype=str, keep_default_na=False)
    frame = pd.concat([frame] * (1200 // len(frame) + 1), ignore_index=True).iloc[:1200]
    ids = pd.Series([f"id{i}" for i in range(len(frame))], dtype=object)
    ids.iloc[1100], ids.iloc[1150] = "5", 5
    frame["entry_id"] = ids
    priced = partition.price_partition(frame, products, as_of=AS_OF)
    repeats = priced.loc[priced["rejected"].str.contains("repeats"), "rejected"]
    assert repeats.tolist() == ["entry_id 5 repeats row 1101"]


def test_rejects_keep_their_fields_exactly_as_written(products, tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("entry_id,entry_date,hts,origin,customs_value,export_date,quantity\n"
                    "a,2025-04-16,8517.13.00,CN,0100.50,2025-04-01,007\n"
                    "a,2025-04-16,8517.13.00,CN,0100.50,2025-04-01,007\n")
    run = partition.stream_duties(path, products, skip_bad=True, as_of=AS_OF)
    for _ in run.results():
        pass
    assert run.rejects().to_csv(index=False).splitlines()[1] == \
        "3,entry-id-repeated,entry_id a repeats row 2,a,2025-04-16,8517.13.00,CN,0100.50,2025-04-01,007"


@pytest.mark.slow
def test_price_partition_is_pure_and_its_totals_add_up(products, whole):
    frame = pd.read_csv(RANDOM, dtype=str, keep_default_na=False)
    parts = [frame.iloc[i:i + 97].reset_index(drop=True) for i in range(0, len(frame), 97)]
    priced = [partition.price_partition_and_totals(p, products, as_of=AS_OF) for p in parts]
    frames = [f for f, _ in priced]
    assert all(list(f.columns) == partition.PARTITION_COLUMNS for f in frames)
    assert all((f.dtypes == frames[0].dtypes).all() for f in frames)  # one schema for every partition
    assert sum(len(f) for f in frames) == len(frame)
    totals = partition.combine_totals([t for _, t in reversed(priced)])  # in any order
    assert export.duty_summary_dict(_Summary(totals.summary(products))) == summary_of(whole)
    again = partition.price_partition(parts[1], products, as_of=AS_OF)
    pd.testing.assert_frame_equal(again, frames[1])
    good = pd.concat(frames).query("rejected == ''")
    assert good["duty_total"].sum() == pytest.approx(whole.entries["duty_total"].sum())


@pytest.mark.slow
def test_duty_writes_parquet_and_reads_it_back(runner, no_user_data, tmp_path):
    folder = split(tmp_path)
    out = tmp_path / "duties.parquet"
    done = runner.invoke(cli, ["duty", str(folder), "-o", str(out), "--skip-bad", "--as-of", "2026-12-01",
                               "-f", "json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    csv_out = tmp_path / "duties.csv"
    assert runner.invoke(cli, ["duty", str(RANDOM), "-o", str(csv_out), "--skip-bad", "--as-of", "2026-12-01"]
                         ).exit_code == 0
    lines = pd.read_parquet(out)
    written = pd.read_csv(csv_out, dtype={"code": str})
    assert len(lines) == len(written) and list(lines.columns) == list(written.columns)
    assert lines["duty"].sum() == pytest.approx(written["duty"].sum())
    assert summary["entries"] + summary["rejected"] == 400
    assert (tmp_path / "duties.rejects.csv").exists()


def test_parquet_ledger_in_gives_what_the_csv_gives(runner, no_user_data, tmp_path):
    frame = pd.read_csv(RANDOM, dtype=str, keep_default_na=False)
    typed = frame.assign(customs_value=frame["customs_value"].astype(float),
                         entry_date=pd.to_datetime(frame["entry_date"]))
    typed.to_parquet(tmp_path / "l.parquet", index=False)
    outputs = []
    for source in (RANDOM, tmp_path / "l.parquet"):
        done = runner.invoke(cli, ["duty", str(source), "-o", str(tmp_path / "o.csv"), "--skip-bad",
                                   "--as-of", "2026-12-01", "-f", "json"])
        assert done.exit_code == 0, done.output
        outputs.append((done.stdout, (tmp_path / "o.csv").read_text()))
    assert outputs[0] == outputs[1]


def test_no_file_matches(runner, no_user_data, tmp_path):
    done = runner.invoke(cli, ["duty", str(tmp_path / "none-*.csv")])
    assert done.exit_code == 2 and "no file matches this pattern" in done.output
    empty = tmp_path / "empty"
    empty.mkdir()
    done = runner.invoke(cli, ["duty", str(empty)])
    assert done.exit_code == 2 and "no .csv or .parquet files in this folder" in done.output


def test_matches_from_threads_at_once_keep_every_codes_rows(products):
    """Partitions priced on threads (Dask's threaded scheduler, or a worker of several threads)
    share the product index: its kept rows must hold every code's, however the threads interleave."""
    weights = Path(__file__).parent.parent / "data" / "weights" / "us-imports-2024-hts10.csv"
    codes = pd.read_csv(weights, dtype={"code": str})["code"].drop_duplicates().to_numpy()[:6000]
    expected = products.index._matched(codes).groupby("code").size()
    for _ in range(3):
        index = copy.copy(products.index)  # a memo of its own (``_memo``: a copy starts afresh)
        index.table = products.index.table.copy()
        parts, start = np.array_split(codes, 24), threading.Barrier(4)

        def work(mine, index=index, start=start):
            start.wait()
            for part in mine:
                index.matches(part)

        threads = [threading.Thread(target=work, args=(parts[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        found = index.matches(codes).groupby("code").size()
        assert found.reindex(expected.index, fill_value=0).equals(expected)
