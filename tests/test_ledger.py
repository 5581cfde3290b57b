"""Reading a ledger: every bad row named by file and row, with its problem code; rejects as written.
(Pricing a ledger is tests/test_duties.py.)"""
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffcalc import duties, fields, ledger
from tariffcalc.cli import cli

from .ledgers import HEADER, write

# -- bad rows ----------------------------------------------------------------------------------

@pytest.mark.parametrize("row, reason", [
    ("a,2025-13-01,8517.13.00,CN,10,,", "entry_date '2025-13-01' is not a date (YYYY-MM-DD)"),
    # pandas reads 'today' and 'now' as this moment (a time of day, another on every run)
    ("a,today,8517.13.00,CN,10,,", "entry_date 'today' is not a date (YYYY-MM-DD)"),
    ("a,2025-04-01,8517.13.00,CN,10,now,", "export_date 'now' is not a date (YYYY-MM-DD)"),
    ("a,2025-04-01,85171,CN,10,,", "hts: code '85171' has 5 digits (use 2, 4, 6, 8 or 10)"),
    ("a,2025-04-01,8517.13.00,VN,10,,", "origin 'VN' is not an origin of this ledger (use CN, HK, MO, US)"),
    ("a,2025-04-01,8517.13.00,CN,ten,,", "customs_value 'ten' is not a number"),
    ("a,2025-04-01,8517.13.00,CN,-3,,", "customs_value -3 is negative"),
    ("a,2025-04-01,8517.13.00,CN,10,2025-05-01,", "export_date 2025-05-01 is after entry_date 2025-04-01"),
    (",2025-04-01,8517.13.00,CN,10,,", "entry_id is empty (or only spaces)"),
    (" \t ,2025-04-01,8517.13.00,CN,10,,", "entry_id is empty (or only spaces)"),
    ("a,2025-04-01,8517.13.00,CN,1e308,,", "customs_value 1e+308 is more than 1e+15, the largest tariffcalc accepts"),
    ("a,2025-04-01,8517.13.00,CN,inf,,", "customs_value 'inf' is not a number"),
    ("a,2025-04-01,8517.13.00,CN,nan,,", "customs_value 'nan' is not a number"),
    ("a,2025-04-01,8517.13.00,CN,10,,1e300", "quantity 1e+300 is more than 1e+15, the largest tariffcalc accepts"),
])
def test_a_bad_row_is_named_by_file_and_row(tmp_path, row, reason):
    path = write(tmp_path, HEADER + "ok,2025-04-01,8517.13.00,CN,10,,\n" + row + "\n")
    with pytest.raises(ledger.LedgerError) as error:
        ledger.read_ledger(path)
    assert str(error.value) == f"{path}:3: {reason}"


def test_the_first_bad_row_is_named_whatever_its_problem(tmp_path):
    path = write(tmp_path, HEADER + "ok,2025-04-01,8517.13.00,CN,10,,\na,2025-04-01,8517.13.00,VN,10,,\n"
                 "b,2025-04-01,8517.13.00,CN,-3,,\n")
    with pytest.raises(ledger.LedgerError) as error:
        ledger.read_ledger(path)
    assert str(error.value).startswith(f"{path}:3: origin 'VN'")


def test_skip_bad_keeps_the_good_rows_and_the_reasons(tmp_path):
    path = write(tmp_path, HEADER + "a,2025-04-01,8517.13.00,CN,10,,\nb,2025-04-01,85171,CN,10,,\n"
                 "a,2025-04-02,8517.13.00,CN,10,,\n")
    read = ledger.read_ledger(path, skip_bad=True)
    assert list(read.entries["entry_id"]) == ["a"]
    assert list(read.rejects["row"]) == [3, 4]
    assert read.rejects["reason"].iloc[1] == "entry_id a repeats row 2"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=40), chunk_rows=st.integers(1, 12))
def test_a_repeated_id_names_its_first_row_whatever_the_chunks(tmp_path, ids, chunk_rows):
    """Row by row: an id met before is a reject naming the row it was first met on."""
    path = write(tmp_path, HEADER + "".join(f"{i},2025-04-01,8517.13.00,CN,10,,\n" for i in ids))
    reader = ledger.LedgerReader(path, skip_bad=True, chunk_rows=chunk_rows)
    rejects = pd.concat([part.rejects for part in reader], ignore_index=True)
    first, expected = {}, []
    for row, i in enumerate(ids, start=2):
        if i in first:
            expected.append((row, f"entry_id {i} repeats row {first[i]}"))
        first.setdefault(i, row)
    assert list(zip(rejects["row"].astype(int), rejects["reason"])) == expected


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.lists(st.integers(0, 30), max_size=25), min_size=1, max_size=12),
       sorted_merge=st.sampled_from([0, 8, 10 ** 9]))
def test_seen_ids_find_the_first_row_of_a_hash_whichever_way_the_runs_merge(chunks, sorted_merge):
    """The runs merged in place (``_merged``), by a sort of the two (``_sorted_together``) or
    both: every hash is found with the row and file it was first added with."""
    import numpy as np

    seen, first, row = ledger._SeenIds(), {}, 0
    seen.SORTED_MERGE = sorted_merge
    for number, chunk in enumerate(chunks):
        hashes = np.array(chunk, dtype=np.int64)
        found_row, found_file = seen.find(np.sort(hashes))
        expected = [first.get(h, (-1, -1)) for h in sorted(chunk)]
        assert list(zip(found_row.tolist(), found_file.tolist())) == expected
        new = [h not in first for h in chunk]
        rows = np.arange(row, row + len(chunk))
        for h, r in zip(chunk, rows.tolist()):
            first.setdefault(h, (r, number))
        seen.add(hashes[new], rows[new], number)
        row += len(chunk)
    assert [list(r[0]) == sorted(r[0]) for r in seen.runs] == [True] * len(seen.runs)


def test_columns_are_mapped_and_named_in_messages(tmp_path):
    path = write(tmp_path, "ID,Date,HTS,Origin,Value\na,2025-04-01,8517.13.00,CN,10\nb,someday,8517.13.00,CN,10\n")
    mapping = fields.parse_columns("entry_id=ID,entry_date=Date,hts=HTS,origin=Origin,customs_value=Value")
    with pytest.raises(ledger.LedgerError, match=r":3: Date 'someday' is not a date"):
        ledger.read_ledger(path, mapping)
    with pytest.raises(ledger.LedgerError, match=r":1: missing column 'entry_id'"):
        ledger.read_ledger(path)


@pytest.mark.parametrize(("separator", "called"), [("\t", "tabs"), (";", "semicolons"), ("|", "vertical bars")])
def test_a_ledger_of_another_separator_is_named_so(tmp_path, separator, called):
    path = write(tmp_path, HEADER.replace(",", separator) + "a,2025-04-01,8517.13.00,CN,10,,\n".replace(",", separator))
    with pytest.raises(ledger.LedgerError) as error:
        ledger.read_ledger(path)
    assert str(error.value) == (f"{path}:1: the header is one column, its fields separated by {called}: "
                                "a ledger is comma-separated (export it as CSV with commas)")


def test_a_header_spelling_the_fields_otherwise_gets_the_columns_to_map(tmp_path):
    path = write(tmp_path, "Entry ID,Entry Date,HTS,Origin,Customs Value,Export-Date,notes\n"
                           "a,2025-04-01,8517.13.00,CN,10,,x\n")
    with pytest.raises(ledger.LedgerError) as error:
        ledger.read_ledger(path)
    hint = "entry_id=Entry ID,entry_date=Entry Date,hts=HTS,origin=Origin,customs_value=Customs Value,export_date=Export-Date"
    assert f"(map another name with --columns '{hint}')" in str(error.value)
    # the suggestion, as given, reads the ledger
    assert len(ledger.read_ledger(path, fields.parse_columns(hint)).entries) == 1
    other = write(tmp_path, "id,day,hts,origin,customs_value\na,2025-04-01,8517.13.00,CN,10\n")
    with pytest.raises(ledger.LedgerError, match=r"map another name with --columns entry_id=NAME\)"):
        ledger.read_ledger(other)  # nothing spelled otherwise: the field's own NAME


def test_a_ledger_mixing_directions_needs_a_direction(tmp_path):
    path = write(tmp_path, HEADER + "a,2025-04-01,8517.13.00,CN,10,,\nb,2025-04-01,1201.90,US,10,,\n")
    with pytest.raises(ledger.LedgerError, match="mixes goods"):
        ledger.read_ledger(path)
    assert ledger.read_ledger(path, direction="cn", skip_bad=True).rejects["row"].tolist() == [2]


# -- named problem codes: every one from a real bad row, in the rejects file's problem column --

CODES_HEADER = ("entry_id,entry_date,hts,origin,customs_value,export_date,quantity,liquidation_date,entry_summary_date,"
                "assume,steel_value,aluminum_value,copper_value\n")
GOOD = {"entry_id": "", "entry_date": "2025-05-01", "hts": "8517.13.00", "origin": "CN", "customs_value": "1000",
        "export_date": "", "quantity": "", "liquidation_date": "", "entry_summary_date": "", "assume": "",
        "steel_value": "", "aluminum_value": "", "copper_value": ""}
# problem -> the cells that differ from a good row (each row has that one problem)
BAD_ROWS = {
    ledger.Problem.ENTRY_ID_EMPTY: {"entry_id": "  "},
    ledger.Problem.ENTRY_DATE_NOT_A_DATE: {"entry_date": "2025-13-01"},
    ledger.Problem.ENTRY_DATE_OUT_OF_RANGE: {"entry_date": "2017-12-31"},
    ledger.Problem.HTS_NOT_A_CODE: {"hts": "85x7"},
    ledger.Problem.ORIGIN_NOT_ALLOWED: {"origin": "FR"},
    ledger.Problem.CUSTOMS_VALUE_NOT_A_NUMBER: {"customs_value": "lots"},
    ledger.Problem.CUSTOMS_VALUE_NEGATIVE: {"customs_value": "-5"},
    ledger.Problem.EXPORT_DATE_NOT_A_DATE: {"export_date": "soon"},
    ledger.Problem.EXPORT_DATE_AFTER_ENTRY: {"export_date": "2025-06-01"},
    ledger.Problem.QUANTITY_INVALID: {"quantity": "-1"},
    ledger.Problem.LIQUIDATION_DATE_NOT_A_DATE: {"liquidation_date": "later"},
    ledger.Problem.LIQUIDATION_BEFORE_ENTRY: {"liquidation_date": "2025-04-01"},
    ledger.Problem.ENTRY_SUMMARY_DATE_NOT_A_DATE: {"entry_summary_date": "May"},
    ledger.Problem.CUSTOMS_VALUE_TOO_LARGE: {"customs_value": "1e16"},
    ledger.Problem.QUANTITY_TOO_LARGE: {"quantity": "1e16"},
    ledger.Problem.ENTRY_ID_REPEATED: {"entry_id": "good"},
    # lines of the golden rejects (tests/golden/ledgers/random-us.rejects.csv)
    ledger.Problem.HTS_NOT_A_LINE: {"hts": "4407140999", "entry_date": "2025-09-20"},
    ledger.Problem.HTS_LINES_DIFFER: {"hts": "731700", "entry_date": "2021-05-26"},
    ledger.Problem.ASSUME_NOT_A_CONDITION_ID: {"assume": "auto part"},
    ledger.Problem.STEEL_VALUE_NOT_A_NUMBER: {"steel_value": "lots"},
    ledger.Problem.STEEL_VALUE_NEGATIVE: {"steel_value": "-1"},
    ledger.Problem.ALUMINUM_VALUE_NOT_A_NUMBER: {"aluminum_value": "some"},
    ledger.Problem.ALUMINUM_VALUE_NEGATIVE: {"aluminum_value": "-1"},
    ledger.Problem.COPPER_VALUE_NOT_A_NUMBER: {"copper_value": "a little"},
    ledger.Problem.COPPER_VALUE_NEGATIVE: {"copper_value": "-1"},
    ledger.Problem.CONTENT_VALUES_EXCEED_CUSTOMS_VALUE: {"steel_value": "600", "aluminum_value": "500"},
    ledger.Problem.ASSUME_UNKNOWN_CONDITION: {"assume": "auto-prt"},  # found when pricing
}


def test_every_problem_has_a_bad_row():
    assert set(BAD_ROWS) == set(ledger.Problem)
    assert set(ledger.MESSAGES) <= set(ledger.Problem)


@pytest.fixture(scope="module")
def problems_ledger(tmp_path_factory):
    path = tmp_path_factory.mktemp("problems") / "bad.csv"
    rows = [{**GOOD, "entry_id": "good"}]
    rows += [{**GOOD, "entry_id": problem.code, **cells} for problem, cells in BAD_ROWS.items()]
    path.write_text(CODES_HEADER + "".join(",".join(row.values()) + "\n" for row in rows), encoding="utf-8")
    return path


def _problem_by_row(rejects: pd.DataFrame) -> dict:
    return {int(row): ledger.Problem.from_code(code) for row, code in zip(rejects["row"], rejects["problem"])}


def _expected_by_row() -> dict:
    return {number: problem for number, problem in enumerate(BAD_ROWS, 3)}  # line 1 the header, 2 the good row


def test_each_problem_code_is_produced_by_its_bad_row(problems_ledger, products):
    result = duties.compute_duties(ledger.read_ledger(problems_ledger, skip_bad=True), products)
    rejects = result.ledger.rejects
    assert list(rejects.columns[:3]) == ["row", "problem", "reason"]
    assert _problem_by_row(rejects) == _expected_by_row()
    assert result.entries["entry_id"].tolist() == ["good"]


def test_the_problem_column_round_trips_through_the_rejects_file(problems_ledger, tmp_path, runner):
    from tariffcalc.cli import cli

    out = tmp_path / "out.csv"
    result = runner.invoke(cli, ["duty", str(problems_ledger), "-o", str(out), "--skip-bad", "-f", "json"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "out.rejects.csv", dtype=str, keep_default_na=False)
    assert _problem_by_row(written) == _expected_by_row()
    # the reason beside each code is the message of that problem; the cells are as written
    assert written.set_index("entry_id").loc["customs-value-negative", "reason"] == "customs_value -5 is negative"
    assert written.set_index("entry_id").loc["hts-not-a-code", "hts"] == "85x7"
    # and read again as a ledger, the same rows have the same problems
    again = ledger.read_ledger(tmp_path / "out.rejects.csv", skip_bad=True).rejects
    assert sorted(again["problem"]) == sorted(p.code for p in BAD_ROWS if p not in (
        ledger.Problem.ENTRY_ID_REPEATED, ledger.Problem.HTS_NOT_A_LINE, ledger.Problem.HTS_LINES_DIFFER,
        ledger.Problem.ASSUME_UNKNOWN_CONDITION))


def test_a_ledger_column_named_like_a_rejects_column_is_kept(tmp_path):
    path = write(tmp_path, "entry_id,entry_date,hts,origin,customs_value,reason,problem\n"
                           "a,2025-04-01,8517.13.00,CN,10,mine,x\nb,2025-04-01,8517.13.00,CN,lots,theirs,y\n")
    rejects = ledger.read_ledger(path, skip_bad=True).rejects
    assert list(rejects.columns) == ["row", "problem", "reason", "entry_id", "entry_date", "hts", "origin",
                                     "customs_value", "reason (ledger)", "problem (ledger)"]
    assert rejects.iloc[0][["problem", "reason (ledger)", "problem (ledger)"]].tolist() == [
        "customs-value-not-a-number", "theirs", "y"]


def test_the_readme_lists_every_problem_code():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert [p.code for p in ledger.Problem if f"`{p.code}`" not in readme] == []


# -- the assume and *_value columns: bad cells (pricing with them: tests/test_duties.py) ---------

KNOWN = "entry_id,entry_date,hts,origin,customs_value,assume,steel_value,aluminum_value\n"


@pytest.mark.parametrize(("row", "message"), [
    ("x,2025-09-01,8482.40.00,CN,1000,auto-prt,,", "assume 'auto-prt': unknown condition 'auto-prt' (known: auto-part"),
    ("x,2025-09-01,8482.40.00,CN,1000,auto part,,", "assume 'auto part': 'auto part' is not a condition id"),
    ("x,2025-09-01,8482.40.00,CN,1000,,lots,", "steel_value 'lots' is not a number"),
    ("x,2025-09-01,8482.40.00,CN,1000,,,-5", "aluminum_value -5 is negative"),
    ("x,2025-09-01,8482.40.00,CN,1000,,600,500",
     "steel_value 600 + aluminum_value 500 add up to more than customs_value 1000"),
])
def test_bad_assume_and_content_cells_are_bad_rows(products, tmp_path, runner, no_user_data, row, message):
    path = write(tmp_path, KNOWN + "ok,2025-09-01,8482.40.00,CN,1000,auto-part; civil-aircraft,0,\n" + row + "\n")
    result = runner.invoke(cli, ["duty", str(path)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"Error: {path}:3: {message}" + result.stderr.split(message, 1)[1]
    assert len(result.stderr.strip().splitlines()) == 1
    out = tmp_path / "out.csv"
    result = runner.invoke(cli, ["duty", str(path), "-o", str(out), "--skip-bad"])
    assert result.exit_code == 0, result.output
    rejects = pd.read_csv(tmp_path / "out.rejects.csv", dtype=str, keep_default_na=False)
    assert list(rejects["row"]) == ["3"] and rejects["reason"].iloc[0].startswith(message)
    assert list(pd.read_csv(out, dtype=str)["entry_id"].unique()) == ["ok"]


def test_a_mapped_assume_column_and_parquet(products, tmp_path):
    """--columns maps the new fields like the others; a Parquet ledger reads them as numbers."""
    frame = pd.DataFrame({"id": ["pan"], "entry_date": ["2025-09-01"], "hts": ["7323.93.00.35"], "origin": ["CN"],
                          "customs_value": [1000.0], "Conditions": [""], "Steel": [600.0]})
    frame.to_parquet(tmp_path / "l.parquet")
    reader = ledger.LedgerReader(tmp_path / "l.parquet", ["entry_id=id,assume=Conditions,steel_value=Steel"])
    part = next(iter(reader))
    result = duties.compute_duties(part, products)
    lines = result.lines()
    steel = lines[(lines["entry_id"] == "pan") & (lines["layer_id"] == "us-s232-steel")]["duty"]
    assert steel.tolist() == [pytest.approx(300)]




def test_a_code_stored_as_a_number_is_named_with_its_lost_zero(tmp_path):
    numbers = pd.DataFrame({"entry_id": ["a", None, "b"], "entry_date": ["2025-04-12", None, "2025-04-12"],
                            "hts": [8517130000, None, 102294000], "origin": ["CN", None, "CN"],
                            "customs_value": [10.0, None, 20.0]})  # the middle row is blank
    numbers.to_parquet(tmp_path / "numbers.parquet")
    (read,) = ledger.LedgerReader(tmp_path / "numbers.parquet", skip_bad=True)
    assert read.entries["entry_id"].tolist() == ["a"]
    assert read.rejects["reason"].tolist() == [
        ("hts: code '102294000' has 9 digits (use 2, 4, 6, 8 or 10); the column holds numbers, which drop "
         "a code's leading or trailing 0 (0102.29.40 is read as 1022940, 8517.10 as 8517.1): store the codes as text")]
    texts = numbers.assign(hts=["8517130000", None, "102294000"])  # written as text: the digits as given
    texts.to_parquet(tmp_path / "texts.parquet")
    (read,) = ledger.LedgerReader(tmp_path / "texts.parquet", skip_bad=True)
    assert read.rejects["reason"].tolist() == [  # text: perhaps a lost 0, perhaps a typo; not said
        "hts: code '102294000' has 9 digits (use 2, 4, 6, 8 or 10)"]


# -- reading many files ------------------------------------------------------------------------

@pytest.mark.parametrize("head", [
    b"entry_id,entry_date,hts,origin,customs_value\n", b"\xef\xbb\xbfa,b\r\n", b" a , b\n", b"a,a,b\n",
    b"a,,b\n", b"a,b,\n", b"\n\na,b\n", b'"a",b\n', "pr\u00eas,b\n".encode(), b"a;b\n", b"a,b",
])
def test_a_header_is_read_as_pandas_reads_it(tmp_path, head):
    """The header of each file of a folder is read without pandas where that gives the same."""
    path = tmp_path / "l.csv"
    path.write_bytes(head + b"1,2\n")
    assert ledger._header(path) == list(pd.read_csv(path, nrows=0, encoding="utf-8-sig", index_col=False).columns)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["8517", "9503", "CN", "HK", ""]), min_size=1, max_size=6),
                min_size=1, max_size=5))
def test_categoricals_of_several_parts_are_united_in_order(parts):
    columns = [pd.Series(pd.Categorical([v or None for v in values],  # '' stands for a missing value
                                        categories=pd.Index(list(dict.fromkeys(filter(None, values))), dtype=object)))
               for values in parts]
    united = ledger._union(columns)
    pd.testing.assert_series_equal(pd.Series(united, dtype=object),
                                   pd.concat([c.astype(object) for c in columns], ignore_index=True))
    assert list(united.categories) == list(pd.api.types.union_categoricals(columns).categories)
