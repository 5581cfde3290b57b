from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tariffcalc.engine import Engine
from tariffcalc.loader import load_dataset

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


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def no_user_data(monkeypatch):
    monkeypatch.delenv("TARIFFCALC_DATA", raising=False)


def d(text: str) -> date:
    return date.fromisoformat(text)
