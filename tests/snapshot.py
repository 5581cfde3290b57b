"""Golden text snapshots of what a person sees, easy to regenerate when an output changes on purpose.

    UPDATE_SNAPSHOTS=1 python -m pytest -q -p no:cacheprovider tests/test_render.py tests/test_cli_rate.py tests/test_cli_diff.py

(or ``python scripts/update_snapshots.py``) rewrites every snapshot the run compares; review the
diff with ``git diff tests/golden`` before committing it.
"""
import os

from .conftest import GOLDEN


def assert_snapshot(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path}; run with UPDATE_SNAPSHOTS=1 to write it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} changed; if on purpose, UPDATE_SNAPSHOTS=1 (see tests/snapshot.py)"
