"""Blocks (``blocks.py``) -> GitHub-flavoured Markdown: pipe tables with whole cells, for pasting
into an article or a pull request."""
from __future__ import annotations

import re

from .blocks import Grid, Line, Link

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def escape(text) -> str:
    """Markdown-escape text so it reads back literally (also inside a table cell)."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _cell(text) -> str:
    return escape(text) or " "


def grid_markdown(grid: Grid) -> str:
    head = "| " + " | ".join(_cell(c.header) for c in grid.columns) + " |"
    rule = "|" + "|".join(("---:" if c.justify == "right" else ":---:" if c.justify == "center" else "---")
                          for c in grid.columns) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in grid.rows]
    if not rows:
        return escape(grid.empty)
    return "\n".join([head, rule, *rows])


def to_markdown(blocks: list) -> str:
    """One paragraph, list or table per block, separated by blank lines; no trailing spaces."""
    out: list[str] = []
    items: list[str] = []

    def flush():
        if items:
            out.append("\n".join(items))
            items.clear()

    for block in blocks:
        if isinstance(block, Line):
            text = escape(block.plain)
            if block.kind == "blank" or not text:
                flush()
            elif block.kind in ("note", "warning", "item"):
                items.append(f"- {text}")
            else:
                flush()
                out.append(f"### {text}" if block.kind == "title" else f"**{text}**" if block.kind == "headline"
                           else text)
        elif isinstance(block, Grid):
            flush()
            if block.title:
                out.append(f"### {escape(block.title)}")
            out.append(grid_markdown(block))
        elif isinstance(block, Link):
            details = "".join(f"<br>{escape(d)}" for d in block.detail)
            items.append(f"- {escape(block.label)}{details}<br><{block.url}>")
    flush()
    return "\n\n".join(out) + "\n"
