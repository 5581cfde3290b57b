"""Run the command examples of README.md and check (or rewrite) the output shown under them.

An example is a fenced block whose first line is `$ tariffcalc ...` (pipes into grep, head or jq
are run by the shell, from the repository root, at COLUMNS=100). The lines after it must be what
the command prints; a block whose last line is `…` shows only the first lines of the output.

Usage: python scripts/readme_examples.py [--check | --write]
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"^```\n(\$ tariffcalc[^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def run(command: str) -> str:
    env = dict(os.environ, COLUMNS="100", PYTHONPATH=str(ROOT))
    env.pop("TARIFFCALC_DATA", None)
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command[2:]], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"README example failed ({done.returncode}): {command}\n{done.stderr}")
    return done.stdout


def examples(text: str):
    for match in BLOCK.finditer(text):
        yield match, match.group(1), match.group(2)


def problems(text: str) -> list[str]:
    found = []
    for _, command, shown in examples(text):
        lines = shown.splitlines()
        out = run(command).splitlines()
        if lines and lines[-1] == "…":
            lines = lines[:-1]
            out = out[: len(lines)]
        if out != lines:
            found.append(f"{command}\n  shown: {lines[:3]}…\n  prints: {out[:3]}…")
    return found


def rewrite(text: str) -> str:
    def new(match):
        command, shown = match.group(1), match.group(2)
        lines = shown.splitlines()
        out = run(command).splitlines()
        if lines and lines[-1] == "…":
            out = out[: len(lines) - 1] + ["…"]
        return "```\n" + command + "\n" + "".join(line + "\n" for line in out) + "```"
    return BLOCK.sub(new, text)


if __name__ == "__main__":
    if "--write" in sys.argv:
        README.write_text(rewrite(README.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote {README}")
    else:
        issues = problems(README.read_text(encoding="utf-8"))
        print("\n".join(issues) or "README examples match")
        sys.exit(1 if issues else 0)
