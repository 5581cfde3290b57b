"""Properties that must hold on the bundled data for any dates (hypothesis)."""
import csv
import io
import json
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffcalc.cli import cli
from tariffcalc.model import DIRECTIONS

days = st.dates(min_value=date(2018, 1, 1), max_value=date(2027, 12, 31))
directions = st.sampled_from(["us", "cn"])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def charged(engine, day, direction):
    answer = engine.rate_on(day, direction).directions[0]
    layers = answer.layers.set_index("layer_id")
    return answer.headline_rate, layers["charged"].to_dict(), layers["status"].to_dict()


@SETTINGS
@given(day=days, direction=directions)
def test_rate_is_constant_between_change_points(bundled_engine, day, direction):
    changes = bundled_engine.change_dates(DIRECTIONS[direction], date(2018, 1, 1), date(2030, 12, 31))
    last_change = max(c for c in changes if c <= day)
    assert charged(bundled_engine, day, direction) == charged(bundled_engine, last_change, direction)


@SETTINGS
@given(a=days, b=days, c=days, direction=directions)
def test_diffs_compose(bundled_engine, a, b, c, direction):
    ab = bundled_engine.diff(a, b, direction).directions[0]
    bc = bundled_engine.diff(b, c, direction).directions[0]
    ac = bundled_engine.diff(a, c, direction).directions[0]
    assert ab.headline_delta + bc.headline_delta == ac.headline_delta

    def deltas(diff):
        return dict(zip(diff.changes["layer_id"], diff.changes["delta"]))

    composed = deltas(ab)
    for layer_id, delta in deltas(bc).items():
        composed[layer_id] = composed.get(layer_id, 0.0) + delta
    assert {k: v for k, v in composed.items() if v} == {k: v for k, v in deltas(ac).items() if v}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=days, length=st.integers(0, 120), freq=st.sampled_from(["D", "W", "M", "changes"]))
def test_export_agrees_with_rate_on_every_date(runner, no_user_data, start, length, freq):
    end = start + timedelta(days=length)
    result = runner.invoke(cli, ["export", "--from", str(start), "--to", str(end), "--freq", freq])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    dates = sorted({row["date"] for row in rows})
    for day in dates[:6]:  # every date of short exports; the first six of long ones
        rate = json.loads(runner.invoke(cli, ["rate", "--date", day, "-f", "json"]).stdout)
        for direction in rate["directions"]:
            mine = [r for r in rows if r["date"] == day and r["direction"] == direction["direction"]]
            headline = [r for r in mine if r["kind"] == "headline"]
            assert float(headline[0]["rate"]) == direction["headline_rate"]
            exported = {r["layer_id"]: (float(r["rate"]), r["status"]) for r in mine if r["kind"] == "layer"}
            shown = {layer["id"]: (layer["rate"], layer["status"]) for layer in direction["layers"]}
            assert exported == shown
