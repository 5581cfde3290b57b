"""Loading and validation of data files: the good fixture loads, every bad fixture is named."""
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffcalc.errors import DataError
from tariffcalc.loader import _LineLoader, check_list_files, load_dataset, load_directory, parse_layer, read_yaml

from .conftest import BASIC, FIXTURES, d

BAD_CASES = sorted(p for p in (FIXTURES / "bad").iterdir() if p.is_dir())


def test_good_fixture_loads_every_layer_with_sorted_steps():
    layers, meta = load_directory(BASIC)
    assert {layer.id for layer in layers} == {
        "t-fentanyl", "t-reciprocal", "t-steel", "t-threat", "t-suspended", "t-surcharge",
        "t-counter", "t-soy", "t-list3", "t-evs",
    }
    assert meta["verified_through"] == {"US": d("2025-12-31"), "CN": d("2025-12-31")}
    fentanyl = next(layer for layer in layers if layer.id == "t-fentanyl")
    assert [s.rate for s in fentanyl.steps] == [10, 20, 10]
    assert fentanyl.steps[2].confidence == "unconfirmed"
    assert fentanyl.origins == ("CN", "HK")


def test_defaults_are_filled_from_the_schema():
    layers, _ = load_directory(BASIC)
    steel = next(layer for layer in layers if layer.id == "t-steel")
    assert steel.steps[0].status == "in_effect"
    assert steel.steps[0].confidence == "confirmed"
    assert steel.origins == ("CN",)  # a single origin may be written as a string
    assert steel.coverage.trade_value_usd_bn == 1.5


@pytest.mark.parametrize("case", BAD_CASES, ids=[p.name for p in BAD_CASES])
def test_bad_fixture_is_rejected_with_file_line_and_reason(case):
    expected = (case / "expect.txt").read_text().strip()
    with pytest.raises(DataError) as info:
        check_list_files(load_dataset(case, bundled=False))
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_overlay_replaces_a_bundled_layer_by_id_and_adds_new_ones(tmp_path, monkeypatch):
    monkeypatch.setattr("tariffcalc.loader.bundled_data_dir", lambda: BASIC)
    (tmp_path / "us").mkdir()
    steel = (BASIC / "us" / "t-steel.yaml").read_text()
    (tmp_path / "us" / "t-steel.yaml").write_text(steel.replace("rate: 50", "rate: 60"))
    (tmp_path / "us" / "t-new.yaml").write_text(
        steel.replace("id: t-steel", "id: t-new").replace("name: Test steel", "name: New")
    )
    merged = load_dataset(tmp_path)
    base = load_dataset(BASIC, bundled=False)
    assert merged.layer("t-steel").steps[-1].rate == 60
    assert merged.layer("t-new").name == "New"
    assert len(merged.layers) == len(base.layers) + 1
    assert merged.dirs == (str(BASIC), str(tmp_path))


def test_overlay_rules_may_name_bundled_layers(tmp_path, monkeypatch):
    monkeypatch.setattr("tariffcalc.loader.bundled_data_dir", lambda: BASIC)
    (tmp_path / "us").mkdir()
    text = (BASIC / "us" / "t-threat.yaml").read_text().replace("id: t-threat", "id: t-other")
    (tmp_path / "us" / "t-other.yaml").write_text(text + "rules:\n  not_on_goods_of: [t-steel]\n")
    assert load_dataset(tmp_path).layer("t-other").rules.not_on_goods_of == ("t-steel",)
    with pytest.raises(DataError, match="unknown layer 't-steel'"):
        load_dataset(tmp_path, bundled=False)


def test_bundled_data_validates(no_user_data):
    dataset = load_dataset()
    assert len(dataset.layers) > 20
    assert set(dataset.verified_through) == {"US", "CN"}


def test_every_bundled_step_names_an_instrument_and_a_source(no_user_data):
    for layer in load_dataset().layers:
        for step in layer.steps:
            assert step.instrument.strip(), layer.id
            assert step.source.startswith("http"), layer.id


def test_loader_reads_only_safe_yaml(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(DataError, match="malformed YAML"):
        read_yaml(path)


yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 2000), st.floats(allow_nan=False, width=32),
    st.text(max_size=12), st.dates().map(str),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(
            ["id", "name", "imposer", "origin", "authority", "coverage", "steps", "rules", "scope",
             "description", "start", "end", "rate", "status", "instrument", "source", "x"]
        ), children, max_size=6),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(yaml_values)
def test_fuzzed_layer_content_raises_only_data_error(value):
    path = Path("fuzz/us/layer.yaml")
    try:
        parse_layer(path, yaml.load(yaml.safe_dump(value), Loader=_LineLoader))
    except DataError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_yaml_text_raises_only_data_error(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("fuzz") / "us"
    folder.mkdir()
    (folder / "layer.yaml").write_text(text, encoding="utf-8")
    try:
        load_directory(folder.parent)
    except DataError:
        pass


def test_list_files_read_column_wise_as_row_by_row(monkeypatch):
    """The column-wise reading of a list file without problems (``_plain_rows``) gives the rows
    the careful loop gives, for every list file shipped."""
    from tariffcalc import loader
    from tariffcalc.loader import bundled_data_dir

    files = sorted((bundled_data_dir() / "lists").rglob("*.csv"))
    fast = [loader._read_list_file(path, None) for path in files]
    monkeypatch.setattr(loader, "_plain_rows", lambda *args: None)
    slow = [loader._read_list_file(path, None) for path in files]
    assert len(files) > 50 and fast == slow


_LIST_BODIES = {
    "plain": "code,description\n7208,steel\n720810,\"flat, rolled\"\n",
    "blank lines": "code,start,end,description\n\n7208,,,a\n\n7209,2025-01-01,,b\n",
    "spaces": "code,start,end,description\n 7208 , 2025-01-01 ,,a\n",
    "dotted code": "code,description\n7208.10,a\n",
    "odd length": "code,description\n720,a\n",
    "wide digits": "code,description\n\uff17\uff12\uff10\uff18,a\n",
    "fields": "code,description\n7208,a,b\n",
    "bad date": "code,start,end,description\n7208,2025-13-01,,a\n",
    "end before start": "code,start,end,description\n7208,2025-02-01,2025-01-01,a\n",
    "repeat, dates apart": "code,start,end,description\n7208,,2025-01-01,a\n7209,,,b\n7208,2025-01-01,,c\n",
    "repeat, dates overlap": "code,start,end,description\n7208,,2025-02-01,a\n7208,2025-01-01,,c\n",
    "repeat, undated": "code,description\n7208,a\n7208,b\n",
    "condition": "code,start,end,description,condition\n7208,,,a,cond-x\n7209,,,b, \n",
    "quoted line break": "code,description\n7208,\"a\nb\"\n7209,c\n",
    "header only": "code,description\n",
}


@pytest.mark.parametrize("name", sorted(_LIST_BODIES))
def test_list_file_edge_cases_read_column_wise_as_row_by_row(tmp_path, monkeypatch, name):
    """Blank lines, spaces, repeated codes, bad dates, ...: the column-wise reading gives the rows
    (or the error, found by the careful loop) that the row-by-row loop gives."""
    from tariffcalc import loader

    path = tmp_path / "list.csv"
    path.write_text("# source: https://example.org\n" + _LIST_BODIES[name], encoding="utf-8")

    def read():
        try:
            return loader._read_list_file(path, None)
        except DataError as exc:
            return str(exc)

    fast = read()
    monkeypatch.setattr(loader, "_plain_rows", lambda *args: None)
    assert fast == read()


_ESTIMATE_BODIES = {
    "plain": "7208,1,0,0\n8471,0.05,0.1,0.02\n",
    "spaces": " 7208 , 0.5 ,0,0\n",
    "blank line": "7208,1,0,0\n\n8471,0.1,0,0\n",
    "dotted code": "7208.10,1,0,0\n",
    "repeat": "7208,1,0,0\n7208,0.5,0,0\n",
    "not a number": "7208,x,0,0\n",
    "nan": "7208,nan,0,0\n",
    "above one": "7208,1.5,0,0\n",
    "fields": "7208,1,0\n",
    "no rows": "",
}


@pytest.mark.parametrize("name", sorted(_ESTIMATE_BODIES))
def test_content_estimates_read_column_wise_as_row_by_row(tmp_path, monkeypatch, name):
    """The column-wise reading of a content estimates file gives the table (or the error) of the
    row-by-row loop."""
    import pandas as pd

    from tariffcalc import content

    path = tmp_path / "estimates.csv"
    path.write_text("# source: https://example.org\ncode,steel,aluminum,copper\n" + _ESTIMATE_BODIES[name],
                    encoding="utf-8")
    build = content._read_estimates.__wrapped__.__wrapped__  # neither lru_cache nor the disk cache

    def read():
        try:
            return build(str(path))
        except DataError as exc:
            return str(exc)

    fast = read()
    monkeypatch.setattr(content, "_plain_estimates", lambda *args: None)
    slow = read()
    if isinstance(slow, str):
        assert fast == slow
    else:
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def test_shipped_content_estimates_read_column_wise_as_row_by_row(monkeypatch):
    import pandas as pd

    from tariffcalc import content
    from tariffcalc.loader import bundled_data_dir

    build = content._read_estimates.__wrapped__.__wrapped__
    path = str(bundled_data_dir() / "content" / "us-metal-content-bea.csv")
    fast = build(path)
    monkeypatch.setattr(content, "_plain_estimates", lambda *args: None)
    pd.testing.assert_frame_equal(fast, build(path), check_exact=True)
    assert len(fast) > 5000
