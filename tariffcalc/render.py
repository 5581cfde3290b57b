"""Answers -> rich renderables. Nothing here prints; ``cli.py`` owns the consoles."""
from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .codes import dotted
from .engine import DiffAnswer, RateAnswer

STATUS_STYLE = {
    "in_effect": "",
    "threatened": "yellow",
    "suspended": "dim",
    "struck_down": "dim strike",
    "scenario": "bold magenta",  # charged only in a what-if scenario
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
             "stacking rules, before product-level exemptions and on top of the MFN rate.", "dim"),
        )
        if d.footnote:
            headline.append("\n" + d.footnote, style="dim")
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
        sides = answer.labels or (answer.date_from, answer.date_to)
        table = Table(title=f"{d.direction.label}: {sides[0]} → {sides[1]}",
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


def product_view(answers) -> Group:
    """One block per direction: MFN, each layer bearing on the code and why, the total."""
    blocks = []
    for a in answers:
        d = a.direction
        title = f"{d.imposer} on goods from {d.origin}: {dotted(a.code)}"
        if a.description:
            title += f" — {short(a.description, 100)}"
        table = Table(title=f"{title} on {a.date}", title_justify="left")
        for column, justify in (("Layer", "left"), ("Authority", "left"), ("Rate", "right"),
                                ("Applies", "center"), ("Charged", "right"), ("Why", "left")):
            table.add_column(column, justify=justify, overflow="fold")
        shown = a.layers[a.layers["reason"] != "not covered"]
        for row in shown.itertuples():
            why = row.reason + (" (unconfirmed)" if row.confidence == "unconfirmed" else "")
            applies = "varies" if row.varies else "yes" if row.applies else "no"
            charged = f"{pct(row.low)}-{pct(row.high)}" if row.varies else pct(row.charged)
            table.add_row(f"{row.name}\n[dim]{row.layer_id}[/dim]", row.authority, pct(row.rate),
                          "conditional" if row.conditional and not row.applies else applies, charged, why,
                          style="" if row.applies or row.varies else "dim")
        hidden = a.layers[a.layers["reason"] == "not covered"]
        if a.mfn_rate is not None and a.mfn is not None:
            mfn = f"{pct(a.mfn_rate)} ({a.mfn.general}, {a.mfn.vintage.label})"
        else:
            mfn = "varies over the lines" if a.range("total") or a.varies else "unknown"
        additional = pct(a.additional_rate) if a.additional_rate is not None else _spread(a.range("additional"))
        if a.total_rate is not None:
            total = pct(a.total_rate)
        elif a.range("total"):
            total = _spread(a.range("total"))
        else:
            total = "unknown (MFN unknown)"
        parts = [
            table,
            Text(f"{len(hidden)} other product-group layers in effect do not cover this code.", style="dim")
            if len(hidden) else Text(""),
            Text.assemble(("MFN: ", "bold"), mfn),
            Text.assemble(("Additional: ", "bold"), additional),
            Text.assemble(("Total: ", "bold"), (total, "bold cyan")),
        ]
        waived = a.additional_if_waived
        if waived is not None and waived != a.additional_rate:
            parts.append(Text(f"If the waivers marked 'may be waived' are granted: additional "
                              f"{pct(waived)}"
                              + ("" if a.mfn_rate is None else f", total {pct(a.mfn_rate + waived)}"),
                              style="yellow"))
        if a.varies or a.total_rate is None and a.range("total"):
            parts.append(_lines_table(a))
        parts += [Text(f"note: {note}", style="yellow") for note in a.notes]
        parts.append(Text(""))
        blocks.append(Group(*parts))
    return Group(*blocks)


def _spread(pair) -> str:
    return "unknown" if pair is None else f"varies, {pct(pair[0])} to {pct(pair[1])} (see the lines)"


def _lines_table(a, limit: int = 20) -> Table:
    """The per-line breakdown of a code whose lines differ: each line's own totals."""
    table = Table(title=f"{len(a.lines)} lines under {dotted(a.code)}"
                  + (f" (first {limit})" if len(a.lines) > limit else ""), title_justify="left")
    for column, justify in (("Line", "left"), ("Description", "left"), ("MFN", "right"),
                            ("Additional", "right"), ("Total", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in a.lines.head(limit).itertuples():
        table.add_row(dotted(row.line), short(str(row.description), 60), pct(row.mfn_rate),
                      pct(row.additional_rate), pct(row.total_rate))
    return table


def product_diff_view(diffs) -> Group:
    blocks = []
    for diff in diffs:
        before, after = diff.before, diff.after
        d = after.direction
        sides = diff.labels or (before.date, after.date)
        table = Table(title=f"{d.imposer} on goods from {d.origin}: {dotted(diff.code)}, {sides[0]} → {sides[1]}",
                      title_justify="left")
        for column, justify in (("Layer", "left"), ("Old", "right"), ("New", "right"), ("Δ", "right"),
                                ("Why now", "left")):
            table.add_column(column, justify=justify, overflow="fold")
        for row in diff.changes.itertuples():
            table.add_row(row.name, pct(row.old_rate), pct(row.new_rate),
                          Text(signed(row.delta), style=_delta_style(row.delta)), row.new_reason or row.old_reason)
        if diff.changes.empty:
            table.add_row("(no change)", "", "", "", "")
        if before.total_rate is None or after.total_rate is None:
            total = Text(f"Additional: {pct(before.additional_rate) or 'varies'} → "
                         f"{pct(after.additional_rate) or 'varies'} (no single total: MFN unknown or varies)")
        else:
            delta = after.total_rate - before.total_rate
            total = Text.assemble(("Total: ", "bold"), pct(before.total_rate), " → ", (pct(after.total_rate), "bold"),
                                  "  (", (signed(delta), _delta_style(delta)), ")")
        blocks.append(Group(table, total, Text("")))
    return Group(*blocks)


def lookup_view(found: dict) -> Group:
    head = Text.assemble((dotted(found["code"]), "bold"), f"  {found['description'] or '(not a line of the schedule)'}")
    mfn = "unknown" if found["mfn_rate"] is None else f"{pct(found['mfn_rate'])} ({found['mfn_text']})"
    parts = [head, Text(f"MFN: {mfn} — {found['schedule'] or 'no schedule'}")]
    if found["note"]:
        parts.append(Text(f"note: {found['note']}", style="yellow"))
    if found["line_count"] > 1:
        lines = Table(title=f"{found['line_count']} lines under {found['code']}", title_justify="left")
        for column in ("Code", "Description", "MFN"):
            lines.add_column(column, overflow="fold")
        for line in found["lines"][:20]:
            lines.add_row(line["code"], short(line["description"], 80), line["general"])
        parts.append(lines)
    table = Table(title=f"Tariff lists naming {found['code']} ({found['imposer']} on goods from {found['origin']})",
                  title_justify="left")
    for column in ("Layer", "Authority", "Role", "List", "Match", "Rows from", "Rows to", "Layer from", "Layer to"):
        table.add_column(column, overflow="fold")
    for item in found["lists"]:
        table.add_row(f"{item['name']}\n[dim]{item['id']}[/dim]", item["authority"], item["role"], item["set"],
                      item["match"], item["from"] or "", item["to"] or "", item["layer_from"], item["layer_to"] or "open")
    if not found["lists"]:
        table.add_row("(on no product list; all-goods layers still apply)", "", "", "", "", "", "", "", "")
    parts.append(table)
    return Group(*parts)


def averages_view(frame) -> Table:
    table = Table(title="Trade-weighted average tariff (MFN + every applicable layer, product by product)",
                  title_justify="left")
    for column, justify in (("Date", "left"), ("Direction", "left"), ("Average", "right"),
                            ("Additional", "right"), ("Coverage", "right"), ("MFN unknown", "right"),
                            ("Weights", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    conventions = sorted(set(frame["convention"])) if "convention" in frame else []
    if conventions:
        table.caption = "Convention: " + ", ".join(conventions) + " (see --convention)"
    for row in frame.itertuples():
        table.add_row(str(row.date), f"{row.imposer} on {row.origin}", f"{row.average_rate:.1f}%",
                      f"{row.additional_average:.1f}%", f"{row.coverage:.0%}", f"{row.mfn_unknown_share:.1%}",
                      row.weights)
    return table


def events_view(frame) -> Table:
    table = Table(title="Change dates: what changed, and the rates after it", title_justify="left")
    for column, justify in (("Date", "left"), ("Dir.", "left"), ("What changed", "left"),
                            ("Headline", "right"), ("Average", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in frame.itertuples():
        average = "" if row.average_rate is None or row.average_rate != row.average_rate else f"{row.average_rate:.1f}%"
        table.add_row(str(row.date), row.direction, row.changes, pct(row.headline), average)
    return table


def duty_summary_view(result):
    """``duties.DutyResult`` -> totals by authority, the refundable IEEPA amount, Section 122, by month."""
    from .duties import _entries

    s, cur = result.summary, result.summary.currency
    title = (f"Duties on {result.ledger.path}: {_entries(s.entries)} ({s.rejected:,} rejected), "
             f"{result.direction.imposer} duties, customs value {s.customs_value:,.2f} {cur}")
    table = Table(title=title, title_justify="left")
    for column, justify in (("Authority", "left"), ("Entries", "right"), (f"Duty ({cur})", "right"),
                            ("Share", "right"), ("Status", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in s.by_authority.itertuples():
        share = f"{row.duty / s.duty_total:.1%}" if s.duty_total else ""
        table.add_row(row.authority, f"{row.entries:,}", f"{row.duty:,.2f}", share,
                      row.status if isinstance(row.status, str) else "")
    table.add_row(Text("Total", style="bold"), f"{s.entries:,}", Text(f"{s.duty_total:,.2f}", style="bold"), "", "")
    parts = [table]
    if s.refund_window:
        parts.append(Text.assemble(("IEEPA refundable: ", "bold"), (f"{s.ieepa_refundable:,.2f} {cur}", "bold cyan"),
                                   f"  (IEEPA duties on entries {s.refund_window[0]} to {s.refund_window[1]})"))
    if s.refunds is not None and len(s.refunds.by_route):
        parts += refunds_view(s.refunds, cur)
    months = Table(title="By month", title_justify="left")
    authorities = [a for a in s.by_authority["authority"]]
    for column in ("Month", "Entries", f"Value ({cur})", f"Duty ({cur})", *authorities):
        months.add_column(column, justify="left" if column == "Month" else "right")
    for row in s.by_month.to_dict("records"):
        months.add_row(row["month"], f"{row['entries']:,}", f"{row['customs_value']:,.2f}",
                       f"{row['duty_total']:,.2f}", *(f"{row[a]:,.2f}" for a in authorities))
    parts.append(months)
    parts += [Text(f"note: {note}", style="yellow") for note in s.notes]
    return Group(*parts)


def refunds_view(r, cur: str) -> list:
    """``refunds.RefundSummary`` -> the routes table (with the total) and the entries whose
    deadline falls within 30 days (the litigation status is in the authorities' Status column)."""
    table = Table(title=f"Refunds on {r.as_of}", title_justify="left")
    for column in ("Route", "Entries", f"Duty ({cur})", f"Interest ({cur})"):
        table.add_column(column, justify="left" if column == "Route" else "right")
    for row in r.by_route.itertuples():
        label = row.route if row.confidence == "confirmed" else f"{row.route} (unconfirmed)"
        table.add_row(label, f"{row.entries:,}", f"{row.duty:,.2f}", f"{row.interest:,.2f}")
    table.add_row(Text("Total", style="bold"), f"{int(r.by_route['entries'].sum()):,}",
                  Text(f"{r.duty:,.2f}", style="bold"), f"{r.interest:,.2f}")
    parts = [table]
    if len(r.due):
        due = Table(title=f"Due within 30 days of {r.as_of}", title_justify="left")
        for column in ("Entry", "Route", "Deadline", "Days left", f"Duty ({cur})"):
            due.add_column(column, justify="right" if column in ("Days left", f"Duty ({cur})") else "left")
        for row in r.due.itertuples():
            due.add_row(str(row.entry_id), row.route, _day(row.deadline), f"{row.days_left:,}", f"{row.duty:,.2f}")
        parts.append(due)
    else:
        parts.append(Text(f"No refund deadline falls within 30 days of {r.as_of}."))
    return parts


class Progress:
    """A rich progress bar on stderr (only when stderr is a terminal); calls are (stage, done, total)."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar, self.tasks = enabled, None, {}

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import Progress as Bar

        self.bar = Bar(console=Console(stderr=True), transient=True)
        self.bar.__enter__()
        return self

    def __call__(self, stage: str, done: int, total: int):
        if stage not in self.tasks:
            label = {"read": "reading ledger", "write": "writing duties"}.get(stage, stage)
            self.tasks[stage] = self.bar.add_task(label, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def progress_bar(enabled: bool | None = None) -> Progress:
    """Context manager giving a progress callback, or None when stderr is not a terminal."""
    import sys

    return Progress(sys.stderr.isatty() if enabled is None else enabled)


def average_diff_view(frame, labels) -> Table:
    """``averages.average_diff``: each direction's averages on the two sides and the change."""
    table = Table(title=f"Trade-weighted average tariff: {labels[0]} → {labels[1]}", title_justify="left")
    for column, justify in (("Direction", "left"), ("Average", "right"), ("Additional", "right"),
                            ("Coverage", "right"), ("Weights", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in frame.itertuples():
        table.add_row(f"{row.imposer} on {row.origin}",
                      f"{row.average_from:.1f}% → {row.average_to:.1f}% ({signed(row.average_delta)})",
                      f"{row.additional_from:.1f}% → {row.additional_to:.1f}%",
                      f"{row.coverage_from:.0%} → {row.coverage_to:.0%}", row.weights)
    return table
