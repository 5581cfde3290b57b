import atexit
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tariffcalc.engine import Engine
from tariffcalc.loader import load_dataset

# The warm cache (tariffcalc/cache.py) of this run is a fresh folder: the suite never reads or
# writes the user's, and every test (subprocesses too) goes through the cache as a user's run does.
_CACHE = tempfile.mkdtemp(prefix="tariffcalc-test-cache-")
os.environ["TARIFFCALC_CACHE_DIR"] = _CACHE
os.environ.pop("TARIFFCALC_NO_CACHE", None)
atexit.register(shutil.rmtree, _CACHE, True)

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
BASIC = FIXTURES / "good" / "basic"


@pytest.fixture(scope="session")
def basic_engine():
    """A tiny hand-written data set whose every number is visible in tests/fixtures/good/basic."""
    return Engine(load_dataset(BASIC, bundled=False))


@pytest.fixture(scope="session")
def bundled_engine():
    """The real data shipped with tariffcalc."""
    return Engine(load_dataset())


@pytest.fixture(scope="session")
def products(bundled_engine):
    """The product engine of the bundled data, built once per test process (it reads every list
    file). A module on other data overrides it with a ``products`` fixture of its own."""
    from tariffcalc.products import ProductEngine

    return ProductEngine.from_dataset(bundled_engine.dataset, bundled_engine)


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def no_user_data(monkeypatch):
    monkeypatch.delenv("TARIFFCALC_DATA", raising=False)


def d(text: str) -> date:
    return date.fromisoformat(text)
