"""Write docs/cli-reference.md from the commands' --help texts (tests check it is current).

Run:  python scripts/cli_reference.py
"""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tariffcalc.cli import cli

TARGET = Path(__file__).resolve().parent.parent / "docs" / "cli-reference.md"


def reference() -> str:
    runner = CliRunner()
    parts = [
        "# CLI reference\n",
        "Generated from `--help` by `python scripts/cli_reference.py`; do not edit by hand.\n",
    ]
    for name in [None, *sorted(cli.commands)]:
        args = ([name] if name else []) + ["--help"]
        text = runner.invoke(cli, args, prog_name="tariffcalc", env={"COLUMNS": "100"}).output
        title = f"tariffcalc {name}" if name else "tariffcalc"
        parts.append(f"## {title}\n\n```\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    TARGET.write_text(reference(), encoding="utf-8")
    print(f"wrote {TARGET}")
