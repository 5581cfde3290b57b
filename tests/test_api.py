"""The public API: every name ``tariffcalc.__all__`` lists imports and says what it is."""
import inspect
from pathlib import Path

import pytest

import tariffcalc

SAMPLE = Path(__file__).parents[1] / "examples" / "sample-ledger.csv"
NAMES = [n for n in tariffcalc.__all__ if n != "__version__"]


@pytest.mark.parametrize("name", NAMES)
def test_public_name_imports_and_has_a_docstring(name):
    obj = getattr(tariffcalc, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__module__.startswith("tariffcalc."), name
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
    else:  # a data constant: the package docstring says what it holds
        assert f"``{name}``" in tariffcalc.__doc__, f"{name} is not described in tariffcalc's docstring"


def test_all_lists_the_ledger_entry_points():
    assert {"ProductEngine", "read_ledger", "compute_duties", "price_partition"} <= set(tariffcalc.__all__)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        tariffcalc.no_such_name  # noqa: B018


def test_library_example_in_the_docstring_runs():
    from datetime import date

    products = tariffcalc.ProductEngine.from_dataset(tariffcalc.load_dataset())
    result = tariffcalc.compute_duties(tariffcalc.read_ledger(SAMPLE), products,
                                       as_of=date(2026, 12, 1))
    assert result.summary.duty_total > 0
    assert result.summary.entries == len(result.entries)
