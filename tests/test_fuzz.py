"""Fuzzing the two readers of user files, through the command line as a user runs them.

For any generated ledger or layer file: exit 0, or exit 2 with one line naming the file and line;
rows in = rows priced + rows rejected; no traceback; bounded time; no file left behind. The
default suite runs a few examples of each; ``pytest -m soak`` runs many more.
"""
import csv
import io
import json
import re
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tariffcalc.cli import cli

FIELDS = ["entry_id", "entry_date", "hts", "origin", "customs_value", "export_date", "quantity"]
SECONDS = 60  # per example, far above a normal run: a hang or a quadratic blow-up, not a slow machine

junk = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
cells = {
    "entry_id": st.one_of(st.text("ab1 ", max_size=3), junk, st.just('a "quoted"\nid')),
    "entry_date": st.one_of(st.sampled_from(["2025-04-15", "2019-05-20", "2017-01-01", "2031-01-01",
                                              "2025-13-01", "", "today"]), junk),
    "hts": st.one_of(st.sampled_from(["8517.13.00", "4202.22.15", "7208", "85171", "", "0511.99.10"]), junk),
    "origin": st.one_of(st.sampled_from(["CN", "HK", "cn", "US", "VN", ""]), junk),
    "customs_value": st.one_of(st.sampled_from(["100", "0", "-1", "1e308", "1e15", "inf", "nan", "1,000", ""]),
                               st.floats(allow_nan=True).map(repr), junk),
    "export_date": st.one_of(st.sampled_from(["", "2025-04-01", "2025-05-01", "x"]), junk),
    "quantity": st.one_of(st.sampled_from(["", "3", "-2", "1e300"]), junk),
}
rows = st.lists(st.fixed_dictionaries(cells), max_size=12)


def ledger_text(header, records, extra_lines) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        writer.writerow([record[name] for name in header])
    return out.getvalue() + "".join(line + "\n" for line in extra_lines)


def rows_in(text: str) -> int:
    """Records that are not blank, as a CSV reader counts them (a blank row is not an entry)."""
    return sum(any(cell != "" for cell in record) for record in list(csv.reader(io.StringIO(text, newline="")))[1:])


def check_one_line_error(result, path):
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(rf"^Error: {re.escape(str(path))}:\d+: \S", lines[0]), lines[0]
    assert "Traceback" not in result.output


def run_ledger(runner, folder, text):
    path = folder / "ledger.csv"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    result = runner.invoke(cli, ["duty", str(path), "-d", "us", "-o", str(folder / "out.csv"), "--skip-bad",
                                 "--format", "json"])
    assert time.monotonic() - started < SECONDS
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    names = sorted(p.name for p in folder.iterdir())
    if result.exit_code == 2:
        check_one_line_error(result, path)
        assert names == ["ledger.csv"]  # nothing written on an error
        return None
    assert names == ["ledger.csv", "out.csv", "out.rejects.csv"]  # and no temporary file
    return json.loads(result.stdout)


def ledger_fuzz(examples):
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
    @given(header=st.permutations(FIELDS), records=rows, extra=st.lists(junk, max_size=2))
    # a lone quote after the header: pandas said 'EOF inside string starting at row 1', no line
    @example(header=list(FIELDS), records=[], extra=['"'])
    def test(runner, no_user_data, tmp_path_factory, header, records, extra):
        folder = tmp_path_factory.mktemp("ledger")
        text = ledger_text(header, records, [])
        summary = run_ledger(runner, folder, text)
        if summary is not None:
            assert summary["entries"] + summary["rejected"] == rows_in(text)
        # junk lines after the rows, written as is (unbalanced quotes, stray commas): 0 or a clean 2
        run_ledger(runner, tmp_path_factory.mktemp("junk"), ledger_text(header, records, extra))
    return test


test_fuzzed_ledgers_are_priced_or_named = ledger_fuzz(12)
test_many_fuzzed_ledgers = pytest.mark.soak(ledger_fuzz(400))


# -- the YAML loader: layer files of generated YAML, aliases and anchors included --------------

LAYER = """id: fuzz
name: Fuzz layer
imposer: US
origin: CN
authority: Section 301
coverage:
  scope: all
steps:
  - start: 2025-01-01
    rate: 10
    instrument: Notice
    source: https://example.org/n
"""
yaml_bits = st.sampled_from([
    "&a ", "*a", "<<: *a\n", "&b [1, 2]", "*b", "{", "}", "[", "]", ": ", "- ", "\n", "  ", "'", '"', "!!str ",
    "!!python/object:os.system ", "%YAML 1.1\n", "---\n", "...\n", "? ", "#", "|\n  ", ">\n  ", "~", "2025-02-30",
    "id", "rate", "steps", "coverage", "10", "1e999", ".nan", "x" * 20,
])
yaml_texts = st.one_of(
    st.lists(yaml_bits, max_size=30).map("".join),
    st.tuples(st.integers(0, len(LAYER)), st.lists(yaml_bits, max_size=6).map("".join)).map(
        lambda cut: LAYER[:cut[0]] + cut[1] + LAYER[cut[0]:]),
    junk,
)


def yaml_fuzz(examples):
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
    @given(text=yaml_texts)
    def test(runner, tmp_path_factory, text):
        folder = tmp_path_factory.mktemp("data")
        (folder / "us").mkdir()
        path = folder / "us" / "fuzz.yaml"
        path.write_text(text, encoding="utf-8")
        started = time.monotonic()
        result = runner.invoke(cli, ["validate", str(folder), "--standalone"])
        assert time.monotonic() - started < SECONDS
        assert result.exit_code in (0, 2), (result.output, result.exception)
        if result.exit_code == 2:
            check_one_line_error(result, path)
        assert sorted(p.name for p in folder.rglob("*")) == ["fuzz.yaml", "us"]
    return test


test_fuzzed_layer_files_load_or_are_named = yaml_fuzz(60)
test_many_fuzzed_layer_files = pytest.mark.soak(yaml_fuzz(2000))


def test_a_key_with_a_line_break_is_named_on_one_line(runner, tmp_path):
    """Found by the fuzz test above: an unknown key quoted with its line break made two lines."""
    (tmp_path / "us").mkdir()
    path = tmp_path / "us" / "fuzz.yaml"
    path.write_text(LAYER + '"bad\\nkey": 1\n', encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(tmp_path), "--standalone"])
    assert result.exit_code == 2
    check_one_line_error(result, path)
    assert "unknown key 'bad\\nkey'" in result.output
