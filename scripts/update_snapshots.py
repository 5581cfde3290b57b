"""Rewrite the golden text snapshots (tests/golden/*.txt, tests/golden/snapshots/) after an
intended change of output, then review them with `git diff tests/golden`.

Usage: python scripts/update_snapshots.py
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/test_render.py", "tests/test_cli_rate.py", "tests/test_cli_diff.py"]

if __name__ == "__main__":
    env = dict(os.environ, UPDATE_SNAPSHOTS="1", PYTHONPATH=str(ROOT))
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT, env=env))
