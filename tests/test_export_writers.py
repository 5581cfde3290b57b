"""The column-wise CSV and JSON writers write byte for byte what the row-by-row reference writes.

The references below are the writers as they were before (one Python call per cell): pandas
``to_csv`` of ``_text`` cells, and ``json.dumps`` of one dict per row."""
import functools
import json
import math
from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tariffcalc import export


def reference_csv(frame, columns):
    out = frame.reindex(columns=columns).copy()
    for column in columns:
        out[column] = [export._text(v) for v in out[column]]
    return out.to_csv(index=False, lineterminator="\n")


def reference_json(frame, encoders):
    rows = [{key: encode(row[key]) for key, encode in encoders.items()} for _, row in frame.iterrows()]
    return export.to_json(rows)  # json.dumps, with integral rates written as 145 (not 145.0)


@pytest.fixture(scope="module")
def timeline(bundled_engine):
    return bundled_engine.timeline(date(2024, 12, 1), date(2025, 6, 30), "W")


def test_timeline_csv_matches_reference(timeline):
    assert export.tidy_csv(timeline) == reference_csv(timeline, export.TIDY_COLUMNS)


def test_timeline_json_matches_reference(timeline):
    encoders = {c: functools.partial(export._json_value, c) for c in export.TIDY_COLUMNS}
    framed = timeline.reindex(columns=export.TIDY_COLUMNS)
    assert export.timeline_json(timeline) == reference_json(framed, encoders)
    assert json.loads(export.timeline_json(timeline))[0]["date"] == "2024-12-01"


def test_empty_frames():
    empty = pd.DataFrame(columns=export.TIDY_COLUMNS)
    assert export.tidy_csv(empty) == reference_csv(empty, export.TIDY_COLUMNS)
    assert export.timeline_json(empty) == "[]\n"


cells = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=False, width=32),
    st.sampled_from(["", "a", "a,b", 'say "x"', "line\nbreak", "é"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=12))
def test_any_cells_match_reference(rows):
    """Mixed kinds in one column (True, 1 and 1.0 are equal in Python but written differently)."""
    frame = pd.DataFrame(rows, columns=["a", "b"], dtype=object)
    frame["c"] = 1  # a third column, so an empty row is never a lone empty field
    assert export.frame_to_csv(frame, ["a", "b", "c"]) == reference_csv(frame, ["a", "b", "c"])
    text = lambda v: None if v is None else export._text(v)  # noqa: E731
    encoders = {"a": text, "b": export.number if all(isinstance(v, float) for _, v in rows) else text}
    assert export.records_json(frame, encoders) == reference_json(frame, encoders)


def test_json_refuses_non_finite():
    frame = pd.DataFrame({"x": [math.inf]})
    with pytest.raises(ValueError):
        export.records_json(frame, {"x": float})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["E1", "a,b", 'say "x"', "é", "line\nbreak"]),
                          st.integers(-40, 40), st.floats(-1e6, 1e6, allow_nan=False)), max_size=8),
       st.integers(0, 3))
def test_records_splice_into_json_as_the_list_would(rows, depth):
    """``Records`` nested at any depth: ``to_json`` writes what it writes of the list of dicts,
    and the Records compare equal to that list (the library's dict API is unchanged)."""
    frame = pd.DataFrame(rows, columns=["id", "days", "duty"])
    encoders = {"id": lambda v: v, "days": int, "duty": export._money}
    records = export.Records(frame, encoders)
    dicts = [{"id": i, "days": d, "duty": export._money(m)} for i, d, m in rows]

    def nest(value):
        for level in range(depth):
            value = {"before": level, f"level{level}": value, "after": [level]}
        return value

    assert export.to_json(nest(records)) == export.to_json(nest(dicts))
    assert records == dicts and len(records) == len(dicts)
    if dicts:
        assert records[-1] == dicts[-1] and records[1:] == dicts[1:]


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.floats(), st.integers(), st.booleans(), st.none()))
def test_one_json_value_is_what_json_dumps_writes(value):
    """``records_json`` writes each distinct cell with ``_strict_json``: its fast paths for
    text, numbers and constants write what ``json.dumps`` writes, and NaN or Infinity is refused."""
    try:
        expected = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        with pytest.raises(export.NonFiniteJSON):
            export._strict_json(value)
        return
    assert export._strict_json(value) == expected
