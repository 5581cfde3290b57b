"""The registry in model.py is the one declaration of dates, directions, origins, currencies and
names: every other module's choices and lookups agree with it, and the data stay inside it."""
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tariffcalc import chart, cli, duties, engine, ledger, model
from tariffcalc.engine import direction_with_origin
from tariffcalc.errors import QueryError


def test_each_origin_belongs_to_one_direction_and_the_default_is_its_first():
    for side in model.SIDES:
        assert model.DIRECTIONS[side.key].origin == side.origins[0]
        assert all(model.DIRECTION_OF_ORIGIN[o] == side.key for o in side.origins)
        assert side.imposer not in side.origins
    assert sorted(model.DIRECTION_OF_ORIGIN) == sorted(o for s in model.SIDES for o in s.origins)
    assert set(model.ORIGINS) == set(model.DIRECTION_OF_ORIGIN)


def test_the_old_names_read_the_registry():
    assert engine.ORIGINS_OF is model.ORIGINS_OF
    assert ledger.DIRECTION_OF_ORIGIN is model.DIRECTION_OF_ORIGIN
    assert duties.CURRENCY is model.CURRENCY
    assert (engine.EARLIEST, engine.LATEST) == (model.EARLIEST, model.LATEST)
    assert not hasattr(chart, "LABELS")  # chart legends read model.LABELS


@pytest.mark.parametrize("origin", model.ORIGINS)
def test_every_origin_of_the_registry_is_answered_in_its_direction(origin):
    key = model.DIRECTION_OF_ORIGIN[origin]
    assert direction_with_origin(key, origin).origin == origin
    other = next(s.key for s in model.SIDES if s.key != key)
    with pytest.raises(QueryError, match=f"origin {origin} is not covered"):
        direction_with_origin(other, origin)


def test_cli_choices_and_date_range_come_from_the_registry():
    params = {p.name: p for p in cli.rate.params}
    assert list(params["direction"].type.choices) == [*model.DIRECTIONS, "both"]
    assert list(params["origin"].type.choices) == list(model.ORIGINS)
    for side in model.SIDES:
        assert side.title in params["direction"].help
    runner = CliRunner()
    for day in (model.EARLIEST, model.LATEST):
        outside = day.replace(year=day.year + (1 if day == model.LATEST else -1))
        result = runner.invoke(cli.cli, ["rate", outside.isoformat()])
        assert result.exit_code == 2
        assert f"outside the range tariffcalc covers ({model.EARLIEST} to {model.LATEST})" in result.output


def test_bundled_layers_charge_only_origins_of_their_imposer(bundled_engine):
    for layer in bundled_engine.dataset.layers:
        side = next(s for s in model.SIDES if s.imposer == layer.imposer)
        assert set(layer.origins) <= set(side.origins), layer.id


def test_direction_label_names_countries_in_words():
    assert model.DIRECTIONS["us"].label == "US on goods from China"
    assert model.DIRECTIONS["cn"].label == "China on goods from the US"
    assert direction_with_origin("us", "HK").label == "US on goods from Hong Kong"


def test_the_registry_imports_no_pandas():
    code = "import sys, tariffcalc.model; print('pandas' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
