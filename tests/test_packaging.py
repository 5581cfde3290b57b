"""The package declares what it imports and ships what it says (issue 15, packaging)."""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
# Import names of distributions whose names differ, and the optional ones (extras).
IMPORT_NAMES = {"pyyaml": "yaml"}
OPTIONAL = {"dask", "distributed"}  # tariffcalc.cluster only, the [dask] extra


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _third_party_imports() -> set[str]:
    stdlib = set(sys.stdlib_module_names)
    found = set()
    for path in (ROOT / "tariffcalc").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - stdlib - {"tariffcalc"}


def test_every_imported_library_is_a_declared_dependency():
    declared = set()
    for spec in _project()["dependencies"]:
        name = spec.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        declared.add(IMPORT_NAMES.get(name, name))
    missing = _third_party_imports() - declared - OPTIONAL
    assert not missing, f"imported but not in pyproject.toml dependencies: {sorted(missing)}"


def test_the_license_file_is_the_declared_license():
    assert _project()["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_ci_lints_with_ruff():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "ruff check ." in ci
    assert "ruff" in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
