"""The committed builders reproduce the committed data from the raw public copies.

The raw copies live outside the repository, in the project's shared/data-raw folder (CI has it beside
the repository at ../shared; set TARIFFCALC_SHARED to point elsewhere). Without it these tests skip.
"""
from __future__ import annotations

import filecmp
import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _raw() -> Path | None:
    for candidate in (os.environ.get("TARIFFCALC_SHARED"), REPO.parent / "shared"):
        if candidate and (Path(candidate) / "data-raw").is_dir():
            return Path(candidate) / "data-raw"
    return None


RAW = _raw()
needs_raw = pytest.mark.skipif(RAW is None, reason="raw data (../shared/data-raw or $TARIFFCALC_SHARED) not present")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same_tree(built: list[Path], committed: Path) -> None:
    for path in built:
        target = committed / path.name
        assert target.exists(), f"{path.name}: built, but not in {committed}"
        assert filecmp.cmp(path, target, shallow=False), f"{path.name}: differs from the committed file"


@needs_raw
def test_weights_rebuild_byte_for_byte(tmp_path):
    built = _script("build_weights").build(RAW, tmp_path)
    assert len(built) == 4
    _same_tree(built, REPO / "data" / "weights")
