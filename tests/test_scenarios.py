"""What-if scenarios: reading and checking files, applying edits, golden answers, and the
property that the empty scenario answers exactly as the record in every command and format.

Golden facts (sources in the data and the scenario files):
- China suspended 24 of the 34 points of 税委会公告2025年第4号 from 2025-05-14; the one-year
  suspension of 税委会公告2025年第10号 runs to 2026-11-10. truce-lapses charges them from then.
- The US suspension (EO 14358) also ran to 2026-11-10, but every IEEPA tariff stopped on
  2026-02-24 (EO 14389, CBP CSMS #67834313), so the US headline is unchanged.
- The 100% threat of 2025-10-10 (Truth Social) was announced for 2025-11-01; threat-100 carries
  it out, so on 2025-11-03 the US headline is the record's plus 100.
"""
import json
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffcalc.cli import cli
from tariffcalc.engine import Engine
from tariffcalc.errors import DataError, QueryError
from tariffcalc.loader import load_dataset
from tariffcalc.model import DIRECTIONS, SCENARIO_ENDED, SCENARIO_STATUS
from tariffcalc.products import ProductEngine
from tariffcalc.scenarios import (
    EDIT_FIELDS,
    SCENARIO_FIELDS,
    apply_scenario,
    find_scenario,
    list_scenarios,
    read_scenario,
    scenario_engine,
)

ROOT = Path(__file__).resolve().parent.parent
LEDGER_HEADER = "entry_id,entry_date,hts,origin,customs_value\n"


@pytest.fixture(scope="module")
def record():
    return Engine(load_dataset())


def _products(engine):
    return ProductEngine.from_dataset(engine.dataset, engine)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


EMPTY = """name: empty
description: Nothing changes.
rests_on: the record itself
source: https://example.org/record
edits: []
"""

END_LIST3 = """name: list3-ends
description: Section 301 List 3 ends on 2019-06-01 (a test, not a forecast).
rests_on: none, a test
source: https://example.org/test
edits:
  - end: us-s301-list3
    from: 2019-06-01
"""


# -- golden answers ----------------------------------------------------------------------------

def test_truce_lapses_adds_chinas_24_points_and_not_the_us(record):
    day = date(2026, 11, 15)  # after the suspensions' end, 2026-11-10
    engine = scenario_engine(record, find_scenario("truce-lapses"))
    before = {d.direction.key: d for d in record.rate_on(day).directions}
    after = {d.direction.key: d for d in engine.rate_on(day).directions}
    assert after["cn"].headline_rate == before["cn"].headline_rate + 24
    assert after["us"].headline_rate == before["us"].headline_rate
    why = " ".join(after["us"].notes)
    assert "us-ieepa-reciprocal-suspended" in why and "2026-02-24" in why and "Supreme Court" in why
    layer = after["cn"].layers.set_index("layer_id").loc["cn-countermeasure-suspended"]
    assert layer["status"] == SCENARIO_STATUS and layer["charged"] == 24


def test_truce_lapses_changes_nothing_before_the_suspensions_end(record):
    engine = scenario_engine(record, find_scenario("truce-lapses"))
    for day in (date(2025, 6, 1), date(2026, 11, 9)):
        for old, new in zip(record.rate_on(day).directions, engine.rate_on(day).directions):
            assert old.headline_rate == new.headline_rate


def test_threat_100_adds_100_to_the_us_headline_on_2025_11_03(record):
    day = date(2025, 11, 3)
    engine = scenario_engine(record, find_scenario("threat-100"))
    before = {d.direction.key: d.headline_rate for d in record.rate_on(day).directions}
    after = {d.direction.key: d.headline_rate for d in engine.rate_on(day).directions}
    assert after["us"] == before["us"] + 100
    assert after["cn"] == before["cn"]
    # Carried out until every IEEPA tariff stopped (2026-02-24), not only the record's window.
    late = engine.rate_on(date(2026, 2, 23), "us").directions[0].headline_rate
    assert late == record.rate_on(date(2026, 2, 23), "us").directions[0].headline_rate + 100
    assert engine.rate_on(date(2026, 2, 24), "us").directions[0].headline_rate == \
        record.rate_on(date(2026, 2, 24), "us").directions[0].headline_rate


def test_cli_threat_100_json_names_the_scenario(runner):
    result = runner.invoke(cli, ["rate", "--date", "2025-11-03", "-d", "us", "--scenario", "threat-100",
                                 "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scenario"]["name"] == "threat-100"
    record = json.loads(runner.invoke(cli, ["rate", "--date", "2025-11-03", "-d", "us", "-f", "json"]).stdout)
    assert data["directions"][0]["headline_rate"] == record["directions"][0]["headline_rate"] + 100
    statuses = {layer["id"]: layer["status"] for layer in data["directions"][0]["layers"]}
    assert statuses["us-threat-100pct-2025-11"] == "scenario"


def test_ending_a_layer_removes_it_from_the_product_answer(tmp_path, record):
    scenario = read_scenario(_write(tmp_path, "s.yaml", END_LIST3))
    engine = scenario_engine(record, scenario)
    old = _products(record).rate("4202221500", date(2019, 7, 8), DIRECTIONS["us"])
    new = _products(engine).rate("4202221500", date(2019, 7, 8), DIRECTIONS["us"])
    old_layer = old.layers.set_index("layer_id").loc["us-s301-list3"]
    new_layer = new.layers.set_index("layer_id").loc["us-s301-list3"]
    assert old_layer["charged"] == 25 and new_layer["charged"] == 0
    assert new_layer["status"] == SCENARIO_ENDED
    assert new.additional_rate == old.additional_rate - 25
    # Before the end date nothing changes.
    early_old = _products(record).rate("4202221500", date(2019, 5, 20), DIRECTIONS["us"])
    early_new = _products(engine).rate("4202221500", date(2019, 5, 20), DIRECTIONS["us"])
    assert early_new.additional_rate == early_old.additional_rate == 25


def test_ending_a_layer_removes_it_from_the_ledger(tmp_path, runner):
    scenario = _write(tmp_path, "s.yaml", END_LIST3)
    ledger = _write(tmp_path, "l.csv", LEDGER_HEADER + "A,2019-05-20,4202.22.15,CN,1000\nB,2019-07-08,4202.22.15,CN,1000\n")
    base = ["duty", str(ledger), "-f", "json", "-d", "us"]
    old = json.loads(runner.invoke(cli, base).stdout)
    result = runner.invoke(cli, [*base, "--scenario", str(scenario)])
    assert result.exit_code == 0, result.output
    new = json.loads(result.stdout)
    assert new["scenario"]["name"] == "list3-ends"
    assert old["by_authority"]["Section 301"]["duty"] == 500  # 25% on both entries
    assert new["by_authority"]["Section 301"]["duty"] == 250  # only on the entry before the end
    assert new["duty_total"] == old["duty_total"] - 250
    # The per-entry CSV names the scenario and shows the ended layer, charged 0.
    out = tmp_path / "duties.csv"
    assert runner.invoke(cli, ["duty", str(ledger), "-d", "us", "-o", str(out), "--scenario", str(scenario)]).exit_code == 0
    rows = pd.read_csv(out, dtype=str)
    assert set(rows["scenario"]) == {"list3-ends"}
    ended = rows[(rows["entry_id"] == "B") & (rows["layer_id"] == "us-s301-list3")]
    assert list(ended["charged"]) == ["0"] and "scenario ended" in ended["reason"].iloc[0]


@pytest.mark.parametrize("wide", [False, True])
def test_every_per_entry_format_names_the_scenario_alike(tmp_path, runner, wide):
    """-o out.csv, -o out.parquet and -f csv on stdout: the same rows, each under a first column
    'scenario' (a Parquet output lacked it; the CSV was labelled by parsing it again, row by row)."""
    scenario = _write(tmp_path, "s.yaml", END_LIST3)
    ledger = _write(tmp_path, "l.csv", LEDGER_HEADER + 'A,2019-05-20,4202.22.15,CN,1000\n"B,1",2019-07-08,4202.22.15,CN,1000\n')
    base = ["duty", str(ledger), "-d", "us", "--scenario", str(scenario), *(["--wide"] if wide else [])]
    for name in ("out.csv", "out.parquet"):
        done = runner.invoke(cli, [*base, "-o", str(tmp_path / name)])
        assert done.exit_code == 0, done.output
    shown = runner.invoke(cli, [*base, "-f", "csv"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == (tmp_path / "out.csv").read_text()
    written = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    parquet = pd.read_parquet(tmp_path / "out.parquet")
    assert list(parquet.columns) == list(written.columns) and written.columns[0] == "scenario"
    assert set(written["scenario"]) == set(parquet["scenario"]) == {"list3-ends"}
    assert parquet["entry_id"].tolist() == written["entry_id"].tolist()
    assert list(dict.fromkeys(written["entry_id"])) == ["A", "B,1"]


def test_diff_one_date_compares_scenario_with_record(runner):
    result = runner.invoke(cli, ["diff", "--scenario", "truce-lapses", "2026-11-15", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by = {d["direction"]: d for d in data["directions"]}
    assert by["cn"]["headline_delta"] == 24
    assert [c["id"] for c in by["cn"]["changes"]] == ["cn-countermeasure-suspended"]
    assert by["us"]["headline_delta"] == 0 and by["us"]["changes"] == []
    assert any(not e["changes_record"] and "2026-02-24" in e["effect"] for e in data["scenario"]["edits"])
    table = runner.invoke(cli, ["diff", "--scenario", "truce-lapses", "2026-11-15"]).stdout
    assert table.startswith("SCENARIO truce-lapses")
    assert "from record 2026-11-15 to" in table and "scenario truce-lapses 2026-11-15" in table


def test_diff_one_date_product_and_average(runner):
    result = runner.invoke(cli, ["diff", "--scenario", "threat-100", "2025-11-03", "--hts", "8517.13.00", "-d", "us",
                                 "-f", "json"])
    assert result.exit_code == 0, result.output
    diff = json.loads(result.stdout)[0]
    assert diff["additional_to"] == diff["additional_from"] + 100
    result = runner.invoke(cli, ["diff", "--scenario", "threat-100", "2025-11-03", "--average", "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["direction"]: row for row in json.loads(result.stdout)}
    assert rows["us"]["additional_to"] == pytest.approx(rows["us"]["additional_from"] + 100)
    assert rows["cn"]["average_delta"] == 0


def test_diff_needs_a_second_date_without_scenario(runner):
    result = runner.invoke(cli, ["diff", "2025-04-01"])
    assert result.exit_code == 2 and "Missing argument" in result.stderr


def test_chart_draws_the_scenario_dashed(tmp_path, runner, monkeypatch):
    from tariffcalc import chart

    seen = {}

    def fake_draw(data, path):
        seen.update(series=data.series, threatened=data.threatened, title=data.title, dashed_label=data.dashed_label)

    monkeypatch.setattr(chart, "draw", fake_draw)
    out = tmp_path / "c.png"
    result = runner.invoke(cli, ["chart", "--headline", "--from", "2025-10-01", "--to", "2025-12-31",
                                 "--scenario", "threat-100", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert seen["dashed_label"] == "scenario threat-100" and "threat-100" in seen["title"]
    record = seen["series"][seen["series"]["direction"] == "us"]["value"].max()
    dashed = seen["threatened"][seen["threatened"]["direction"] == "us"]["value"].max()
    assert dashed == record + 100


# -- listing and checking ------------------------------------------------------------------------

def test_scenarios_lists_bundled_and_user(tmp_path, runner):
    (tmp_path / "scenarios").mkdir()
    _write(tmp_path / "scenarios", "empty.yaml", EMPTY)
    result = runner.invoke(cli, ["scenarios", "--data-dir", str(tmp_path), "-f", "json"])
    assert result.exit_code == 0, result.output
    found = {s["name"]: s for s in json.loads(result.stdout)}
    assert found["truce-lapses"]["bundled"] and found["threat-100"]["bundled"]
    assert not found["empty"]["bundled"]
    assert runner.invoke(cli, ["rate", "--date", "2025-05-01", "--data-dir", str(tmp_path),
                               "--scenario", "empty"]).exit_code == 0


def test_every_bundled_scenario_applies_and_names_its_basis(record):
    found = list_scenarios()
    assert {"truce-lapses", "threat-100"} <= {s.name for s in found}
    for scenario in found:
        assert scenario.rests_on and scenario.source.startswith("http")
        applied = apply_scenario(record.dataset, scenario)
        assert any(e.changed for e in applied.effects)


def test_scenario_files_are_not_loaded_as_layers():
    ids = {layer.id for layer in load_dataset().layers}
    assert not {"truce-lapses", "threat-100"} & ids


@pytest.mark.parametrize("text, where, reason", [
    ("name: x\ndescription: d\nrests_on: r\nsource: https://e.org\nedits:\n  - end: no-such-layer\n    from: 2025-01-01\n",
     ":6:", "unknown layer 'no-such-layer'"),
    ("name: x\ndescription: d\nrests_on: r\nsource: https://e.org\nedits:\n  - end: us-s301-list3\n", ":6:",
     "missing required key 'from'"),
    (("name: x\ndescription: d\nrests_on: r\nsource: https://e.org\nedits:\n  - end: us-s301-list3\n    from: 2025-01-01\n"
     "    count: us-s301-list3\n"), ":6:", "exactly one of"),
    (("name: x\ndescription: d\nrests_on: r\nsource: https://e.org\nedits:\n  - count: us-s301-list3\n"
     "    from: 2025-01-01\n    statuses: [in_effect]\n"), ":8:", "cannot count status 'in_effect'"),
    (("name: x\ndescription: d\nrests_on: r\nsource: https://e.org\nedits:\n  - set_rate: us-s301-list3\n"
     "    from: 2025-01-01\n    rate: 5000\n"), ":8:", "outside"),
    (("name: x\ndescription: d\nrests_on: r\nsource: https://e.org\nedits:\n  - count: us-s301-list3\n"
     "    from: 2025-01-01\n    until: soon\n"), ":8:", "'until' must be a date"),
    ("name: x\ndescription: d\nrests_on: r\nedits: []\n", ":1:", "missing required key 'source'"),
    ("name: x\ndescription: d\nrests_on: r\nsource: https://e.org\nedits: []\nbogus: 1\n", ":6:", "unknown key 'bogus'"),
])
def test_bad_scenarios_name_file_and_line(tmp_path, record, text, where, reason):
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(DataError) as caught:
        apply_scenario(record.dataset, read_scenario(path))
    message = str(caught.value)
    assert message.startswith(str(path)) and where in message and reason in message


def test_bad_scenario_on_the_command_line_is_one_line(tmp_path, runner):
    path = _write(tmp_path, "bad.yaml", "name: x\n  - :\n")
    result = runner.invoke(cli, ["rate", "--date", "2025-05-01", "--scenario", str(path)])
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: {path}:") and "Traceback" not in result.output
    result = runner.invoke(cli, ["rate", "--date", "2025-05-01", "--scenario", "no-such-scenario"])
    assert result.exit_code == 2 and "unknown scenario 'no-such-scenario'" in result.stderr


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(QueryError, match="truce-lapses"):
        find_scenario("nope")


# -- edits ---------------------------------------------------------------------------------------

def _layer_steps(dataset, layer_id):
    return [(s.start, s.end, s.rate, s.status) for s in dataset.layer(layer_id).steps]


def test_set_rate_and_add_step_replace_the_steps_in_their_dates(tmp_path, record):
    text = """name: x
description: d
rests_on: r
source: https://e.org
edits:
  - set_rate: us-s301-list3
    from: 2027-01-01
    until: 2027-06-01
    rate: 50
  - add_step: us-s301-list3
    step:
      start: 2028-01-01
      rate: 60
      instrument: a test
      source: https://e.org
"""
    applied = apply_scenario(record.dataset, read_scenario(_write(tmp_path, "x.yaml", text)))
    steps = _layer_steps(applied.dataset, "us-s301-list3")
    d = date
    assert steps[-4:] == [(d(2019, 5, 10), d(2027, 1, 1), 25, "in_effect"), (d(2027, 1, 1), d(2027, 6, 1), 50, "scenario"),
                          (d(2027, 6, 1), d(2028, 1, 1), 25, "in_effect"), (d(2028, 1, 1), None, 60, "scenario")]
    engine = scenario_engine(record, read_scenario(tmp_path / "x.yaml"))
    rate = _products(engine).rate("4202221500", d(2027, 3, 1), DIRECTIONS["us"])
    assert rate.layers.set_index("layer_id").loc["us-s301-list3", "charged"] == 50


def test_add_layer(tmp_path, record):
    text = """name: x
description: d
rests_on: r
source: https://e.org
edits:
  - add_layer:
      id: us-test-new
      name: A new all-goods tariff
      imposer: US
      origin: [CN]
      authority: Section 301
      coverage: {scope: all, description: everything}
      steps:
        - {start: 2027-01-01, rate: 15, instrument: a test, source: "https://e.org"}
"""
    engine = scenario_engine(record, read_scenario(_write(tmp_path, "x.yaml", text)))
    day = date(2027, 2, 1)
    assert engine.rate_on(day, "us").directions[0].headline_rate == \
        record.rate_on(day, "us").directions[0].headline_rate + 15
    with pytest.raises(DataError, match="already exists"):
        apply_scenario(engine.dataset, read_scenario(tmp_path / "x.yaml"))


def test_data_format_documents_every_scenario_key():
    text = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    for key in [*SCENARIO_FIELDS, *(k for fields in EDIT_FIELDS.values() for k in fields)]:
        assert f"`{key}" in text, f"scenario key {key} missing from docs/data-format.md"


# -- the empty scenario is the record ----------------------------------------------------------

def test_empty_scenario_dataset_is_the_record(tmp_path, record):
    applied = apply_scenario(record.dataset, read_scenario(_write(tmp_path, "empty.yaml", EMPTY)))
    assert applied.dataset.layers == record.dataset.layers and applied.effects == []


CODES = ["8517130000", "4202221500", "7208100000", "8703800000", "1201900000", "0203120000", "8541420010"]


@pytest.fixture(scope="module")
def empty_pair(tmp_path_factory, record):
    """(record engine, its products) and the same for the empty scenario, built once."""
    path = tmp_path_factory.mktemp("e") / "empty.yaml"
    path.write_text(EMPTY, encoding="utf-8")
    engine = scenario_engine(record, read_scenario(path))
    return (record, _products(record)), (engine, _products(engine))


@settings(max_examples=15, deadline=None)
@given(day=st.dates(date(2018, 1, 1), date(2027, 12, 31)), key=st.sampled_from(["us", "cn"]),
       code=st.sampled_from(CODES))
def test_empty_scenario_answers_as_the_record(empty_pair, day, key, code):
    (record, record_products), (engine, products) = empty_pair
    old, new = record.rate_on(day, key).directions[0], engine.rate_on(day, key).directions[0]
    assert old.headline_rate == new.headline_rate
    pd.testing.assert_frame_equal(old.layers, new.layers)
    assert [n for n in new.notes if not n.startswith("scenario empty:")] == old.notes
    try:
        a = record_products.rate(code, day, DIRECTIONS[key])
    except QueryError as error:  # not a line of the schedule then: the scenario says the same
        with pytest.raises(QueryError, match=re.escape(str(error))):
            products.rate(code, day, DIRECTIONS[key])
        return
    b = products.rate(code, day, DIRECTIONS[key])
    pd.testing.assert_frame_equal(a.layers, b.layers)
    assert a.total_rate == b.total_rate


def _strip_json(value):
    if isinstance(value, dict):
        return {k: _strip_json(v) for k, v in value.items() if k != "scenario"}
    if isinstance(value, list):
        return [_strip_json(v) for v in value if not (isinstance(v, str) and v.startswith("scenario empty:"))]
    return value


def _strip_csv(text):
    lines = text.splitlines(keepends=True)
    assert lines[0].startswith("scenario,") and all(line.startswith("empty,") for line in lines[1:])
    return "".join(line.split(",", 1)[1] for line in lines)


def _strip_table(text):
    lines = text.splitlines(keepends=True)
    assert lines[0].startswith("SCENARIO empty")
    end = next(i for i, line in enumerate(lines) if line.startswith("Rows marked 'scenario'"))
    while not lines[end].rstrip().endswith("record."):
        end += 1
    return "".join(line for line in lines[end + 1:] if not line.startswith("note: scenario empty:"))


COMMANDS = [
    ["rate", "--date", "2025-04-12"],
    ["rate", "--date", "2026-11-15", "--hts", "8517.13.00", "-d", "us"],
    ["rate", "--date", "2025-11-03", "--average", "-d", "us"],
    ["diff", "2025-04-01", "2025-05-14"],
    ["diff", "2025-04-09", "2025-04-12", "--hts", "8517.13.00", "-d", "us"],
    ["timeline", "--from", "2025-03-01", "--to", "2025-05-31", "--no-average", "-d", "cn"],
    ["duty", "examples/sample-ledger.csv"],
]
EXPORTS = [
    ["export", "--from", "2025-01-01", "--to", "2025-12-31"],
    ["export", "--from", "2025-01-01", "--to", "2025-12-31", "--wide"],
    ["export", "--from", "2025-03-01", "--to", "2025-06-30", "--hts", "8517.13.00", "-d", "us"],
    ["export", "--from", "2025-03-01", "--to", "2025-06-30", "--average", "--freq", "M", "-d", "cn"],
]


@pytest.mark.parametrize("args, fmt", [(a, f) for a in COMMANDS for f in ("table", "json", "csv")]
                         + [(a, f) for a in EXPORTS for f in ("csv", "json") if not (f == "json" and "--wide" in a)]
                         + [(["chart", "--headline", "--from", "2025-01-01", "--to", "2025-12-31"], "table")])
def test_empty_scenario_output_is_the_record_output(tmp_path, runner, monkeypatch, args, fmt):
    monkeypatch.setenv("COLUMNS", "100")
    path = _write(tmp_path, "empty.yaml", EMPTY)
    options = [] if args[0] == "chart" else ["-f", fmt]
    old = runner.invoke(cli, [*args, *options])
    new = runner.invoke(cli, [*args, *options, "--scenario", str(path)])
    assert old.exit_code == 0 and new.exit_code == 0, new.output
    strip = {"json": lambda t: _strip_json(json.loads(t)), "csv": _strip_csv, "table": _strip_table}[fmt]
    expected = json.loads(old.stdout) if fmt == "json" else old.stdout
    got = strip(new.stdout)
    if args[0] == "chart":  # the record's chart, then the scenario's (the same, for the empty scenario)
        assert got == expected + expected.replace("tariff, ", "tariff, scenario empty, ", 1)
    else:
        assert got == expected


@pytest.mark.parametrize("width", [80, 120])
def test_banner_fits_the_width_without_trailing_spaces(runner, width):
    result = runner.invoke(cli, ["rate", "--date", "2025-04-12", "--scenario", "truce-lapses"],
                           env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("US on goods from China:"))
    banner = lines[:end]
    assert banner[0].startswith("SCENARIO truce-lapses: a what-if, not the record")
    assert all(line == line.rstrip() and len(line) <= width for line in banner), banner
    assert len(banner) <= 9  # the description in full, and how to read the rows
    assert "The truce lapses" in " ".join(banner)
