"""Answers -> rich renderables. Nothing here prints; ``cli.py`` owns the consoles."""
from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .engine import DiffAnswer, RateAnswer

STATUS_STYLE = {
    "in_effect": "",
    "threatened": "yellow",
    "suspended": "dim",
    "struck_down": "dim strike",
}


def pct(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:g}%"


def signed(value: float) -> str:
    return f"{value:+g} pts" if value else "0 pts"


def _delta_style(value: float) -> str:
    return "red" if value > 0 else "green" if value < 0 else ""


def short(text: str, limit: int = 90) -> str:
    """The table shows the start of long coverage texts; JSON and CSV keep them whole."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _day(value) -> str:
    return "" if value is None or value != value else value.date().isoformat()


def rate_view(answer: RateAnswer) -> Group:
    """One block per direction: layers in effect, headline, notes, upcoming steps."""
    blocks = []
    for d in answer.directions:
        title = f"{d.direction.label} on {answer.date} — tariffs {d.direction.imposer} charges"
        table = Table(title=title, title_justify="left", show_lines=False, expand=False)
        table.add_column("Layer", overflow="fold")
        table.add_column("Authority")
        table.add_column("Rate", justify="right")
        table.add_column("Status")
        table.add_column("Goods pay*", justify="right")
        table.add_column("Coverage", overflow="fold")
        table.add_column("Instrument", overflow="fold")
        table.add_column("Source", overflow="fold")
        for row in d.layers.itertuples():
            scope = "all goods" if row.scope == "all" else "group"
            status = row.status.replace("_", " ")
            if row.confidence == "unconfirmed":
                status += " (unconfirmed)"
            style = STATUS_STYLE.get(row.status, "") if row.counted else "dim"
            if row.excluded_by:
                status += f"; {row.excluded_by}"
            table.add_row(
                f"{row.name}\n[dim]{row.layer_id}[/dim]",
                row.authority,
                pct(row.rate),
                status,
                pct(row.total_on_covered_goods),
                short(f"{scope}: {row.coverage}"),
                row.instrument,
                row.source,
                style=style,
            )
        if d.layers.empty:
            table.add_row("(no layer in effect)", "", "", "", "", "", "", "")
        headline = Text.assemble(
            ("Headline rate (all goods): ", "bold"),
            (pct(d.headline_rate), "bold cyan"),
            "  = sum of the all-goods layers in effect.\n",
            ("* Goods pay: a group's rate plus the all-goods layers its goods also pay under the "
             "stacking rules, before product-level exemptions (Annex II, the 2025-04-11 electronics "
             "list) and on top of the MFN rate.", "dim"),
        )
        parts = [table, headline]
        for note in d.notes:
            parts.append(Text(f"note: {note}", style="yellow"))
        for warning in d.warnings:
            parts.append(Text(f"warning: {warning}", style="bold yellow"))
        if not d.upcoming.empty:
            soon = Table(title="Steps starting within 90 days", title_justify="left")
            for column in ("Date", "Layer", "Rate", "Status", "Announced", "Instrument"):
                soon.add_column(column, overflow="fold")
            for row in d.upcoming.itertuples():
                soon.add_row(_day(row.start), row.name, pct(row.rate), row.status.replace("_", " "),
                             _day(row.announced), row.instrument)
            parts.append(soon)
        parts.append(Text(""))
        blocks.append(Group(*parts))
    return Group(*blocks)


def diff_view(answer: DiffAnswer) -> Group:
    blocks = []
    for d in answer.directions:
        table = Table(title=f"{d.direction.label}: {answer.date_from} → {answer.date_to}",
                      title_justify="left")
        for column, justify in (("Layer", "left"), ("Authority", "left"), ("Scope", "left"),
                                ("Change", "left"), ("Old", "right"), ("New", "right"), ("Δ", "right")):
            table.add_column(column, justify=justify, overflow="fold")
        for row in d.changes.itertuples():
            change = row.change
            if row.change == "status" or (row.old_status and row.new_status and row.old_status != row.new_status):
                old, new = (status.replace("_", " ") or "none" for status in (row.old_status, row.new_status))
                change += f" ({old} → {new})"
            table.add_row(row.name, row.authority, row.scope, change, pct(row.old_rate),
                          pct(row.new_rate), Text(signed(row.delta), style=_delta_style(row.delta)))
        if d.changes.empty:
            table.add_row("(no change)", "", "", "", "", "", "")
        headline = Text.assemble(
            ("Headline: ", "bold"), pct(d.headline_from), " → ", (pct(d.headline_to), "bold"), "  (",
            (signed(d.headline_delta), _delta_style(d.headline_delta)), ")",
        )
        blocks.append(Group(table, headline, Text("")))
    return Group(*blocks)


def layers_view(frame) -> Table:
    table = Table(title="Tariff layers", title_justify="left")
    for column in ("Id", "Imposer", "Origin", "Authority", "Scope", "From", "To", "Steps", "Name"):
        table.add_column(column, overflow="fold")
    for row in frame.itertuples():
        table.add_row(row.layer_id, row.imposer, row.origins, row.authority, row.scope,
                      row.first_start, row.last_end, str(row.steps), row.name)
    return table
