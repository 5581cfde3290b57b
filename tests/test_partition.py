"""A ledger priced a part at a time: the same totals to the cent whatever the chunks, the files
or the formats; rows in = rows priced + rows rejected; rows named by file and line."""
import copy
import json
import re
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

from . import test_fuzz as fuzz

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


def small_files(tmp_path, frame: pd.DataFrame, rows: int = 10) -> Path:
    folder = tmp_path / "small"
    folder.mkdir()
    for number, start in enumerate(range(0, len(frame), rows)):
        frame.iloc[start:start + rows].to_csv(folder / f"part-{number:03d}.csv", index=False)
    return folder


def priced(folder, products, **options) -> tuple[partition.DutyRun, list]:
    run = partition.stream_duties(folder, products, skip_bad=True, as_of=AS_OF, **options)
    return run, list(run.results())


def entries_of(results) -> pd.DataFrame:
    """The priced entries of the results, one after the other (categoricals as their values)."""
    return pd.concat([r.entries.astype({c: object for c, t in r.entries.dtypes.items()
                                        if isinstance(t, pd.CategoricalDtype)}) for r in results], ignore_index=True)


def test_small_files_are_priced_a_pack_at_a_time_as_if_one_by_one(products, tmp_path):
    """A folder of 40 files of 10 rows is priced at once (a pricing costs some 0.1 s however few
    its rows), with each reject named by its own file and line, as when each file is priced alone."""
    frame = pd.read_csv(RANDOM, dtype=str, keep_default_na=False)
    frame.loc[75, "entry_date"] = "2025-02-30"  # rejected when read, in the eighth file
    folder = small_files(tmp_path, frame)
    packed, packs = priced(folder, products)
    alone, parts = priced(folder, products, chunk_rows=10)  # no two files fit in a chunk of 10 rows
    assert (len(packs), len(parts)) == (1, 40)
    assert summary_of(packed) == summary_of(alone)
    pd.testing.assert_frame_equal(entries_of(packs), entries_of(parts))
    rejects = packed.rejects()
    assert rejects.to_csv(index=False) == alone.rejects().to_csv(index=False)  # the rejects file, as written
    assert len(entries_of(packs)) + len(rejects) == 400  # rows in = rows priced + rows rejected
    assert {"entry-date-not-a-date", "hts-not-a-line", "hts-lines-differ"} <= set(rejects["problem"])
    # RANDOM's row r (its line r + 2) is line r % 10 + 2 of file r // 10
    at = frame.reset_index().set_index("entry_id").loc[rejects["entry_id"], "index"].to_numpy()
    assert rejects["file"].tolist() == [str(folder / f"part-{r // 10:03d}.csv") for r in at]
    assert rejects["row"].tolist() == [r % 10 + 2 for r in at]
    assert rejects["hts"].tolist() == frame["hts"].to_numpy()[at].tolist()  # the cells as written


def test_without_skip_bad_a_bad_row_in_a_pack_is_named_by_its_own_file(runner, no_user_data, products, tmp_path):
    frame = pd.read_csv(RANDOM, dtype=str, keep_default_na=False).iloc[10:]  # from RANDOM's line 12
    folder = small_files(tmp_path, frame)
    run = partition.stream_duties(folder, products, as_of=AS_OF)
    where = f"{folder / 'part-001.csv'}:11: hts 8501.20.69.99 is not a line"  # RANDOM's line 31, the first
    with pytest.raises(ledger.LedgerError, match=re.escape(where)):
        list(run.results())
    done = runner.invoke(cli, ["duty", str(folder), "--as-of", "2026-12-01"])
    assert done.exit_code == 2 and done.output.count("\n") == 1 and where in done.output


def test_files_of_other_columns_are_priced_in_packs_of_their_own(products, tmp_path):
    folder = small_files(tmp_path, pd.read_csv(RANDOM, dtype=str, keep_default_na=False))
    other = folder / "part-020.csv"
    written = pd.read_csv(other, dtype=str, keep_default_na=False)
    written[written.columns[::-1]].to_csv(other, index=False)  # the same fields in another order
    packed, packs = priced(folder, products)
    alone, _ = priced(folder, products, chunk_rows=10)
    assert [len(r.entries) + len(r.ledger.rejects) for r in packs] == [200, 10, 190]
    assert summary_of(packed) == summary_of(alone)
    assert packed.rejects().to_csv(index=False) == alone.rejects().to_csv(index=False)


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


HEADER = "entry_id,entry_date,hts,origin,customs_value\n"


def _good(n: int, *extra: str) -> str:
    """File n of a small ledger: three good rows, ``extra`` lines after the first."""
    rows = [f"A{n},2019-05-20,4202.22.15,CN,1000", *extra, f"B{n},2025-04-15,8517.13.00,CN,250.5",
            f"C{n},2019-05-20,4202.22.15,HK,99"]
    return HEADER + "".join(r + "\n" for r in rows)


BAD = "X,2025-02-30,4202.22.15,CN,1"
BAD_FILES = {  # files 1 and 2 of five small files, where something goes wrong (the others are good)
    "a bad row, then a file without hts": {1: _good(1, BAD), 2: "entry_id,entry_date,origin,customs_value\nZ,2019-05-20,CN,1\n"},
    "a bad row, then a bad row": {1: _good(1, BAD), 2: _good(2, "Y,2019-05-20,4202.22.15,CN,-5")},
    "goods of the US, then a bad row": {1: _good(1, "U,2019-05-20,4202.22.15,US,10"), 2: _good(2, BAD)},
    "an id of file 0 again": {2: _good(2, "A0,2019-05-20,4202.22.15,CN,5")},
    "an id twice in a file": {1: _good(1, "A1,2019-05-20,4202.22.15,CN,5")},
    "a quoted line break, then a bad row": {1: _good(1, '"Q\nR",2019-05-20,4202.22.15,CN,1',
                                                     "X,2031-01-01,4202.22.15,CN,1")},
    "a blank line, then a bad row": {1: _good(1, "", "X,2019-05-20,42,CN,1")},
    "a header alone, then a bad row": {1: HEADER, 2: _good(2, BAD)},
    "a bad row of numbers, then an amount in words": {1: _good(1, BAD), 2: _good(2, "Y,2019-05-20,4202.22.15,CN,ten")},
}


def _small_ledger(folder: Path, files: dict) -> Path:
    folder.mkdir()
    for n in range(5):
        (folder / f"part-{n}.csv").write_text(files.get(n) or _good(n))
    return folder


def _read_all(folder, **options):
    """The entries and rejects of each part, or the error: what the reader gives."""
    try:
        parts = list(ledger.LedgerReader(folder, **options))
    except ledger.LedgerError as error:
        return str(error)
    return [(p.entries.astype(object).to_csv(index=False), p.rejects.to_csv(index=False), p.parts.paths,
             p.parts.part_at.tolist()) for p in parts]


@pytest.mark.parametrize("skip_bad", [False, True])
@pytest.mark.parametrize("case", BAD_FILES)
def test_small_files_checked_together_read_as_each_alone(tmp_path, monkeypatch, case, skip_bad):
    """Small CSV files are checked a pack at a time (``_small_files``): each file's rows, rejects
    and errors are what reading the files one by one gives, the first error still the first."""
    folder = _small_ledger(tmp_path / "ledger", BAD_FILES[case])
    together = _read_all(folder, skip_bad=skip_bad)
    with monkeypatch.context() as patch:
        patch.setattr(ledger, "SMALL_FILE_BYTES", -1)  # every file read and checked alone
        alone = _read_all(folder, skip_bad=skip_bad)
    with monkeypatch.context() as patch:
        patch.setattr(ledger, "PACK_FILES", 2)  # packs of two files, then one
        in_twos = _read_all(folder, skip_bad=skip_bad)
    assert together == alone == in_twos
    if isinstance(alone, str):
        assert re.match(rf"{re.escape(str(folder))}/part-[12]\.csv(:\d+)?: ", alone), alone



@pytest.mark.parametrize("skip_bad", [False, True])
def test_small_parquet_files_checked_together_read_as_each_alone(tmp_path, monkeypatch, skip_bad):
    """Parquet files among CSV ones are packed apart; one stores its amounts as numbers, the
    others as text (that one is read alone), one has a bad cell ('ten')."""
    frame = pd.read_csv(RANDOM, dtype=str, keep_default_na=False)
    frame.loc[130, "customs_value"] = "ten"  # file 3's row 11
    folder = tmp_path / "mixed"
    folder.mkdir()
    for n, start in enumerate(range(0, 400, 40)):
        part = frame.iloc[start:start + 40]
        part.to_parquet(folder / f"p{n:02d}.parquet", index=False) if 3 <= n <= 6 \
            else part.to_csv(folder / f"p{n:02d}.csv", index=False)
    typed = frame.iloc[:10].assign(entry_id=lambda f: f["entry_id"] + "x", customs_value=lambda f: f["customs_value"]
                                   .astype(float))
    typed.to_parquet(folder / "p05b.parquet", index=False)
    together = _read_all(folder, skip_bad=skip_bad)
    with monkeypatch.context() as patch:
        patch.setattr(ledger, "SMALL_FILE_BYTES", -1)
        assert _read_all(folder, skip_bad=skip_bad) == together
    if not skip_bad:
        assert together == f"{folder / 'p03.parquet'}:11: customs_value 'ten' is not a number"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(fuzz.rows, min_size=2, max_size=4), skip_bad=st.booleans())
def test_fuzzed_small_files_checked_together_read_as_each_alone(tmp_path_factory, monkeypatch, files, skip_bad):
    folder = tmp_path_factory.mktemp("fuzzed")
    for n, records in enumerate(files):
        (folder / f"part-{n}.csv").write_text(fuzz.ledger_text(fuzz.FIELDS, records, []), encoding="utf-8")
    together = _read_all(folder, skip_bad=skip_bad)
    with monkeypatch.context() as patch:
        patch.setattr(ledger, "SMALL_FILE_BYTES", -1)
        assert _read_all(folder, skip_bad=skip_bad) == together

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
