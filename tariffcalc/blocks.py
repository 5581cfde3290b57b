"""A small document model for answers a person reads, and its terminal layout.

A view (``render.py``) describes an answer as a list of blocks: lines, grids (tables), links.
``to_rich`` lays them out for a terminal of a given width; ``markdown.to_markdown`` writes the
same blocks as GitHub-flavoured Markdown. Cells always hold the whole text; only the terminal
layout shortens a name (to at most ``max_lines`` lines, with an ellipsis) or drops a column
marked ``drop`` when the width is too small. Numbers, dates and ids are never split or cut.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.cells import cell_len

GAP = 2  # spaces between grid columns


@dataclass
class Line:
    """One line of text; ``parts`` are strings or (text, style) pairs.

    ``kind``: ``text``, ``headline`` (bold in Markdown), ``title`` (a heading), ``note`` and
    ``warning`` (list items in Markdown), ``blank``.
    """

    parts: list
    kind: str = "text"
    style: str = ""

    @property
    def plain(self) -> str:
        return "".join(p if isinstance(p, str) else p[0] for p in self.parts)


@dataclass
class Column:
    header: str
    justify: str = "left"
    wrap: bool = False  # may wrap onto more lines (names, reasons); otherwise never split
    max_lines: int | None = 2  # for wrapping columns: cut with an ellipsis beyond this
    drop: int = 0  # > 0: may be left out when too narrow (highest first)
    under: int | None = None  # when left out, shown instead on an extra line of this column
    min_width: int = 12  # wrapping columns: narrower than this, a droppable column goes first


@dataclass
class Grid:
    columns: list[Column]
    rows: list[list[str]]
    styles: list[str] = field(default_factory=list)
    title: str | None = None
    empty: str = "(none)"


@dataclass
class Link:
    """A label and a URL; the URL is printed whole on its own line (a hyperlink in terminals)."""

    label: str
    url: str
    detail: list[str] = field(default_factory=list)


def blank() -> Line:
    return Line([], kind="blank")


def title(text: str) -> Line:
    return Line([(text, "bold")], kind="title")


def note(text: str) -> Line:
    return Line([f"note: {text}"], kind="note", style="yellow")


def warning(text: str) -> Line:
    return Line([f"warning: {text}"], kind="warning", style="bold yellow")


# -- terminal layout -----------------------------------------------------------------------------

def _width_of(text: str) -> int:
    return max((cell_len(part) for part in str(text).split("\n")), default=0)


def _wrap_cells(paragraph: str, width: int) -> list[str]:
    """Words greedily into lines of at most ``width`` terminal cells (CJK characters take two),
    a word longer than a line cut by cells."""
    lines, current = [], ""
    for word in paragraph.split():
        while cell_len(word) > width:  # a word no line can hold: as much as fits, then the rest
            if current:
                lines.append(current)
                current = ""
            cut = width
            while cell_len(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        joined = f"{current} {word}" if current else word
        if cell_len(joined) <= width:
            current = joined
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _wrap(text: str, width: int, max_lines: int | None) -> str:
    lines = []
    for paragraph in str(text).split("\n"):
        lines += _wrap_cells(paragraph, width) or [""]
    if max_lines and len(lines) > max_lines:
        last = lines[max_lines - 1]
        lines = lines[: max_lines - 1] + [(last[: width - 1].rstrip() if cell_len(last) >= width else last) + "…"]
    return "\n".join(lines)


def column_widths(grid: Grid, width: int) -> list[int | None]:
    """Width of each column (None: left out) so the grid fits ``width`` where it can.

    Droppable columns go first (highest ``drop`` first) while the fixed columns and the
    narrowest useful wrapping columns do not fit; then wrapping columns share what is left."""
    natural = [max([_width_of(c.header)] + [_width_of(row[i]) for row in grid.rows]) for i, c in enumerate(grid.columns)]
    shown = list(range(len(grid.columns)))
    while True:
        fixed = sum(natural[i] for i in shown if not grid.columns[i].wrap)
        wrapping = [i for i in shown if grid.columns[i].wrap]
        room = width - fixed - GAP * (len(shown) - 1)
        needed = sum(min(natural[i], grid.columns[i].min_width) for i in wrapping)
        droppable = [i for i in shown if grid.columns[i].drop]
        if room >= needed or not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (grid.columns[i].drop, i)))
    # A column folded under another frees its room: take back dropped columns that now fit.
    for i in sorted(set(range(len(grid.columns))) - set(shown), key=lambda i: grid.columns[i].drop):
        if grid.columns[i].wrap or grid.columns[i].under is not None:
            continue
        if room - natural[i] - GAP >= needed:
            shown = sorted(shown + [i])
            room -= natural[i] + GAP
    widths: list[int | None] = [None] * len(grid.columns)
    for i in shown:
        widths[i] = natural[i]
    want = sum(natural[i] for i in wrapping)
    if wrapping and want > room:
        # Share the room out in proportion to what each wrapping column would like.
        spare = max(room, len(wrapping) * 4)
        for i in wrapping:
            widths[i] = max(4, min(natural[i], spare * natural[i] // want))
        # No column below its floor (so a short name is not cut mid-word): take the difference
        # from the columns that are furthest above theirs.
        floor = {i: min(natural[i], grid.columns[i].min_width) for i in wrapping}
        for i in wrapping:
            while widths[i] < floor[i]:
                donor = max(wrapping, key=lambda j: widths[j] - floor[j])
                if donor == i or widths[donor] <= floor[donor]:
                    break
                widths[donor] -= 1
                widths[i] += 1
    return widths


def _folded(grid: Grid, widths: list[int | None]) -> tuple[list[list[str]], list[int | None]]:
    """Rows with each left-out ``under`` column appended as an indented line of its host column."""
    rows = [list(map(str, row)) for row in grid.rows]
    for i, column in enumerate(grid.columns):
        host = column.under
        if widths[i] is not None or host is None or widths[host] is None:
            continue
        room = max(widths[host], 12)
        for row in rows:
            if row[i]:
                lines = _wrap(row[i], room - 2, column.max_lines or 2).split("\n")
                row[host] += "".join("\n  " + line for line in lines)
        widths[host] = max(widths[host], min(room, max(_width_of(row[host]) for row in rows)))
    return rows, widths


def _rich_grid(grid: Grid, width: int):
    from rich.table import Table
    from rich.text import Text

    parts = [Text(grid.title, style="bold")] if grid.title else []
    if not grid.rows:
        parts.append(Text(grid.empty, style="dim"))
        return parts
    if not grid.styles:
        # Laid out as the table below would be, as text: rich measures every cell of a table, some
        # 0.3 ms a row (a ledger's 15,000 refunds due took 4.5 s to print at a terminal).
        try:
            header, rows = _plain_table(grid, width)
        except _NotPlain:
            pass
        else:
            return parts + [Text(line, style="bold", no_wrap=True, overflow="ignore") for line in header] \
                + [Text("\n".join(rows), no_wrap=True, overflow="ignore")]
    widths = column_widths(grid, width)
    rows, widths = _folded(grid, widths)
    shown = [i for i, w in enumerate(widths) if w is not None]
    # The exact width: rich then never re-wraps a cell, even when the grid is wider than the terminal.
    total = sum(widths[i] for i in shown) + GAP * (len(shown) - 1)
    # No rules, as in `docker ps`: the header is bold in a terminal and first when piped.
    table = Table(box=None, padding=(0, GAP, 0, 0), pad_edge=False, header_style="bold", width=total)
    for i in shown:
        column = grid.columns[i]
        table.add_column(column.header, justify=column.justify, no_wrap=True, min_width=widths[i],
                         max_width=widths[i])
    for r, row in enumerate(rows):
        cells = []
        for i in shown:
            column = grid.columns[i]
            text = row[i]
            if column.wrap:
                text = _wrap(text, widths[i], column.max_lines)
            cells.append(Text(text))
        table.add_row(*cells, style=grid.styles[r] if r < len(grid.styles) else "")
    return parts + [table]


def _rich_line(line: Line):
    from rich.text import Text

    if line.kind == "blank":
        return Text("")
    text = Text.assemble(*line.parts, style=line.style)
    return text


def to_rich(blocks: list, width: int = 80):
    """Lay the blocks out for a terminal ``width`` columns wide (a rich ``Group``)."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.style import Style
    from rich.text import Text

    out = []
    for block in blocks:
        if isinstance(block, Line):
            out.append(_rich_line(block))
        elif isinstance(block, Grid):
            out += _rich_grid(block, width)
        elif isinstance(block, Link):
            out.append(Text(block.label))
            for detail in block.detail:
                out.append(Padding(Text(detail, style="dim"), (0, 0, 0, 4)))
            out.append(Text("    " + block.url, style=Style(link=block.url), no_wrap=True, overflow="ignore"))
        else:  # a rich renderable from an older view
            out.append(block)
    return Group(*out)


# -- the same layout as plain text, for output that is not a terminal -----------------------------
# Piped output has no styles, so it needs no rich console: ``to_plain`` writes the lines rich
# would print for ``to_rich`` (each with its trailing spaces removed, as cli._show prints them)
# in a fraction of the time. Anything it does not lay out exactly as rich would (a tab or other
# control character, a word longer than the width, a cell wider than its column, a header rich
# would read as markup or emoji, a renderable that is not a block) makes it return None, and
# the caller uses rich. tests/test_render.py checks that both give the same text.

_WORD = re.compile(r"\s*\S+\s*")  # rich's words: leading and trailing whitespace included
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class _NotPlain(Exception):
    """A block ``to_plain`` leaves to rich."""


def _plain_check(text: str) -> str:
    if _CONTROL.search(text):
        raise _NotPlain
    return text


def _plain_wrap(text: str, width: int) -> list[str]:
    """Lines of ``text`` word-wrapped to ``width`` cells, breaking where rich's ``divide_line``
    breaks (words that fit; a word longer than a line is left to rich)."""
    out = []
    for paragraph in _plain_check(text).split("\n"):
        breaks, offset = [0], 0
        for match in _WORD.finditer(paragraph):
            start, word = match.start(), match.group(0)
            length = cell_len(word.rstrip())
            if width - offset >= length:
                offset += cell_len(word)
            elif length > width:
                raise _NotPlain
            elif offset and start:
                breaks.append(start)
                offset = cell_len(word)
        breaks.append(len(paragraph))
        out += [paragraph[a:b].rstrip() for a, b in zip(breaks, breaks[1:])]
    return out


def _plain_cell(text: str, width: int, justify: str) -> list[str]:
    lines = _plain_check(str(text)).split("\n")
    out = []
    for line in lines:
        pad = width - cell_len(line)
        if pad < 0 or justify not in ("left", "right"):
            raise _NotPlain
        out.append(line + " " * pad if justify == "left" else " " * pad + line)
    return out


def _plain_grid(grid: Grid, width: int) -> list[str]:
    if grid.title:
        out = _plain_wrap(grid.title, width)
    else:
        out = []
    if not grid.rows:
        return out + _plain_wrap(grid.empty, width)
    header, rows = _plain_table(grid, width)
    return out + header + rows


def _plain_table(grid: Grid, width: int) -> tuple[list[str], list[str]]:
    """The lines of a grid's header and of its rows (it has some) as rich's table lays them out."""
    widths = column_widths(grid, width)
    rows, widths = _folded(grid, widths)
    shown = [i for i, w in enumerate(widths) if w is not None]
    headers = [grid.columns[i].header for i in shown]
    if any("[" in header or ":" in header for header in headers):  # rich would read markup, emoji
        raise _NotPlain
    out = []
    for cells in [headers] + [[row[i] for i in shown] for row in rows]:
        laid = []
        for i, text in zip(shown, cells):
            column = grid.columns[i]
            if column.wrap and cells is not headers:
                text = _wrap(text, widths[i], column.max_lines)
            laid.append(_plain_cell(text, widths[i], column.justify))
        height = max(len(lines) for lines in laid)
        if cells is headers:  # rich aligns a header row at the bottom, other rows at the top
            laid = [[" " * widths[i]] * (height - len(lines)) + lines for i, lines in zip(shown, laid)]
            header_height = height
        for n in range(height):
            parts = [lines[n] if n < len(lines) else " " * widths[i] for i, lines in zip(shown, laid)]
            out.append((" " * GAP).join(parts).rstrip())
    return out[:header_height], out[header_height:]


def to_plain(blocks: list, width: int = 80) -> str | None:
    """The text ``to_rich`` prints for the blocks on a console ``width`` columns wide that is not
    a terminal, each line without trailing spaces; None where only rich lays it out exactly."""
    out = []
    try:
        for block in blocks:
            if isinstance(block, Line):
                out += [""] if block.kind == "blank" else _plain_wrap(block.plain, width)
            elif isinstance(block, Grid):
                out += _plain_grid(block, width)
            elif isinstance(block, Link):
                out += _plain_wrap(block.label, width)
                for detail in block.detail:
                    out += [("    " + line).rstrip() for line in _plain_wrap(detail, max(width - 4, 1))]
                if "\n" in block.url:
                    raise _NotPlain
                out.append(("    " + _plain_check(block.url)).rstrip())
            else:
                return None
    except _NotPlain:
        return None
    return "".join(line + "\n" for line in out)
