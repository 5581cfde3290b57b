"""Answers -> blocks a person reads (``blocks.py``), laid out for a terminal or as Markdown.

Every view puts the answer first: the headline and what it is made of, then a compact table,
then notes and warnings, then what comes next. Nothing here prints; ``cli.py`` owns the consoles.
"""
from __future__ import annotations

import math

import pandas as pd
from rich.cells import cell_len

from . import money
from .blocks import Column, Grid, Line, Link, blank, note, title, warning
from .codes import dotted
from .engine import DiffAnswer, RateAnswer, records
from .model import country_name, imposer_name

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
    return "" if pd.isna(value) else value.date().isoformat()


def _status(value: str) -> str:
    return str(value).replace("_", " ")


def who(direction) -> str:
    """``US on goods from China``."""
    return direction.label


def _label(row) -> str:
    name = getattr(row, "short_name", None)
    return name if isinstance(name, str) and name else row.name


# -- rate ----------------------------------------------------------------------------------------

def headline_line(d) -> Line:
    """``US on goods from China: 145%  = IEEPA reciprocal 125 + IEEPA fentanyl 20``."""
    counted = [row for row in records(d.layers) if row.counted and row.scope == "all" and row.rate != 0]
    counted.sort(key=lambda row: row.rate, reverse=True)  # stable: ties keep their order
    parts = " + ".join(f"{_label(row)} {row.rate:g}" for row in counted)
    made_of = f"  = {parts}" if parts else "  (no all-goods layer in effect)"
    if len(counted) == 1:
        made_of = f"  = {parts}"
    return Line([(f"{who(d.direction)}: ", "bold"), (pct(d.headline_rate), "bold cyan"), made_of], kind="headline")


def _not_counted_all_goods(d) -> list[Line]:
    lines = []
    for row in records(d.layers):
        if row.counted or row.scope != "all":
            continue
        why = row.excluded_by or _status(row.status)
        if row.status == "threatened":
            continue  # the engine's notes already say it, with the date announced
        lines.append(note(f"not in the headline: {_label(row)} {pct(row.rate)} ({why})"))
    return lines


def group_grid(d) -> Grid:
    grid, styles = [], []
    for row in records(d.layers):
        if row.scope != "group":
            continue
        status = _status(row.status) + ("?" if row.confidence == "unconfirmed" else "")
        grid.append([_label(row), pct(row.rate), status, pct(row.total_on_covered_goods)])
        styles.append(STATUS_STYLE.get(row.status, "") if row.counted else "dim")
    columns = [Column(f"{d.direction.imposer} product-group layers ({len(grid)})", wrap=True, max_lines=2),
               Column("Rate", "right"), Column("Status"), Column("Goods pay", "right")]
    return Grid(columns, grid, styles, empty=f"{d.direction.imposer}: no product-group layer in effect")


def _upcoming_lines(answer: RateAnswer, width: int = 80) -> list[Line]:
    """One line per date and change (rate now -> rate then): steps making the same change on the
    same day share a line when it still fits ``width`` (the reciprocal and its countermeasure)."""
    items = []
    for d in answer.directions:
        now = dict(zip(d.layers["layer_id"].tolist(), d.layers["rate"].tolist()))
        for row in records(d.upcoming):
            old = now.get(row.layer_id)
            change = f"{pct(old)} → {pct(row.rate)}" if old is not None else pct(row.rate)
            extra = [] if old is not None else ["new"]
            extra += [] if row.status == "in_effect" else [_status(row.status)]
            if row.confidence == "unconfirmed":
                extra.append("unconfirmed")
            tail = f" ({', '.join(extra)})" if extra else ""
            items.append((row.start, d.direction.imposer, _label(row), change + tail))
    items.sort(key=lambda item: item[0])
    lines, used = [], set()
    for i, (start, imposer, name, change) in enumerate(items):
        if i in used:
            continue
        group = [(imposer, name)]
        for j in range(i + 1, len(items)):
            if j not in used and items[j][0] == start and items[j][3] == change:
                joined = _joined(group + [items[j][1:3]])
                if cell_len(f"{_day(start)}  {joined} {change}") <= width:
                    group.append(items[j][1:3])
                    used.add(j)
        lines.append(Line([f"{_day(start)}  {_joined(group)} {change}"], kind="item"))
    return lines


def _joined(group: list[tuple[str, str]]) -> str:
    """'US  S232 aluminum, steel' (one imposer, shared first words said once) or
    'US IEEPA reciprocal, CN countermeasure' (two imposers)."""
    if len({imposer for imposer, _ in group}) > 1:
        return ", ".join(f"{imposer} {name}" for imposer, name in group)
    first = group[0][1]
    names = [first]
    for _, name in group[1:]:
        shared = 0
        for a, b in zip(first.split(" "), name.split(" ")):
            if a != b:
                break
            shared += 1
        names.append(" ".join(name.split(" ")[shared:]) or name)
    return f"{group[0][0]}  " + ", ".join(names)


def sources_blocks(answer: RateAnswer) -> list:
    """Each layer in effect with its full name, id, coverage and instrument, and its URL whole."""
    out = [title("Sources: the instrument of each step in effect, and where it was read")]
    for d in answer.directions:
        for row in records(d.layers):
            label = f"{d.direction.imposer}  {_label(row)} ({row.layer_id}), {pct(row.rate)} since {_day(row.start)}"
            out.append(Link(label, row.source, [row.name, f"covers: {row.coverage}", row.instrument]))
        for row in records(d.upcoming):
            label = f"{d.direction.imposer}  next: {row.name} ({row.layer_id}), {pct(row.rate)} from {_day(row.start)}"
            out.append(Link(label, row.source, [row.instrument]))
    return out


def rate_view(answer: RateAnswer, sources: bool = False) -> list:
    """Headlines first, then per direction the product groups, notes and warnings, then what's next."""
    out = [headline_line(d) for d in answer.directions]
    for d in answer.directions:
        out += [blank(), group_grid(d)]
        if getattr(d, "footnote", ""):
            out.append(Line([d.footnote], style="dim"))
        out += _not_counted_all_goods(d)
        out += [note(text) for text in d.notes]
        out += [warning(text) for text in d.warnings]
    upcoming = _upcoming_lines(answer)
    if upcoming:
        out += [title(f"Next 90 days after {answer.date}")] + upcoming
    if sources:
        out += [blank(), Line([("Goods pay: a group's rate plus the all-goods layers its goods also pay under the "
                                "stacking rules, before product-level exemptions and on top of MFN.")])]
        out += [blank()] + sources_blocks(answer) + [blank()]
    # Repeated last, so the answer is on the screen when the command ends.
    summary = ", ".join(f"{imposer_name(d.direction.imposer)} {pct(d.headline_rate)}"
                        for d in answer.directions)
    hint = "" if sources else " · --sources: instruments, URLs"
    out.append(Line([(f"Headline on {answer.date}: ", "bold"), (summary, "bold"), hint]))
    return out


# -- diff ----------------------------------------------------------------------------------------

def diff_view(answer: DiffAnswer) -> list:
    """The change in each headline first, then the layers that changed."""
    out = []
    sides = answer.labels or (answer.date_from, answer.date_to)
    for d in answer.directions:
        out.append(Line([(f"{who(d.direction)}: ", "bold"), pct(d.headline_from), " → ",
                         (pct(d.headline_to), "bold cyan"), "  (", (signed(d.headline_delta), _delta_style(d.headline_delta)),
                         f") from {sides[0]} to {sides[1]}"], kind="headline"))
    for d in answer.directions:
        rows, styles = [], []
        for row in d.changes.itertuples():
            change = row.change
            if row.change == "status" or (row.old_status and row.new_status and row.old_status != row.new_status):
                old, new = (_status(s) for s in (row.old_status, row.new_status))
                change = f"new, {new}" if not old else f"ended, was {old}" if not new else f"{old} → {new}"
            rows.append([_label(row), "all" if row.scope == "all" else "group", change, pct(row.old_rate),
                         pct(row.new_rate), signed(row.delta)])
            styles.append(_delta_style(row.delta))
        columns = [Column(f"{d.direction.imposer} layers changed ({len(rows)})", wrap=True), Column("Goods", drop=1),
                   Column("Change", wrap=True), Column("Old", "right"), Column("New", "right"), Column("Δ", "right")]
        out += [blank(), Grid(columns, rows, styles, empty=f"{d.direction.imposer}: no layer changed")]
    return out


# -- layers, timeline -----------------------------------------------------------------------------

def layers_view(frame, title_text: str = "Tariff layers") -> list:
    rows = [[row.layer_id, row.imposer, row.origins, row.authority, row.first_start, row.last_end, str(row.steps),
             row.name] for row in frame.itertuples()]
    columns = [Column("Id"), Column("By", drop=4), Column("On", drop=5), Column("Authority", drop=3),
               Column("From"), Column("To"), Column("Steps", "right", drop=2),
               Column("Name", wrap=True, max_lines=3, drop=1, under=0, min_width=30)]
    return [Grid(columns, rows, title=f"{title_text} ({len(rows)})", empty="no layer matches")]


def events_view(frame, has_average: bool = True) -> list:
    rows = []
    for row in frame.itertuples():
        average = "" if row.average_rate is None or row.average_rate != row.average_rate else f"{row.average_rate:.1f}%"
        rows.append([str(row.date), row.direction, row.changes, pct(row.headline), average])
    columns = [Column("Date"), Column("Dir."), Column("What changed", wrap=True, max_lines=None),
               Column("Headline", "right")]
    if has_average:
        columns.append(Column("Average", "right"))
    else:
        rows = [row[:4] for row in rows]
    return [Grid(columns, rows, title="Change dates: what changed, and the rates after it", empty="no change")]


def averages_view(frame) -> list:
    rows = [[str(row.date), f"{row.imposer} on {row.origin}", f"{row.average_rate:.1f}%", f"{row.additional_average:.1f}%",
             f"{row.coverage:.0%}", f"{row.mfn_unknown_share:.1%}", row.weights] for row in frame.itertuples()]
    columns = [Column("Date"), Column("Direction"), Column("Average", "right"), Column("Additional", "right"),
               Column("Coverage", "right"), Column("MFN unknown", "right", drop=1), Column("Weights", wrap=True)]
    out = [Grid(columns, rows, title="Trade-weighted average tariff (MFN + every applicable layer, product by product)")]
    conventions = sorted(set(frame["convention"])) if "convention" in frame else []
    if conventions:
        out.append(Line(["Convention: " + ", ".join(conventions) + " (see --convention)"], style="dim"))
    return out


def average_lines(frame) -> list:
    """One line per direction for ``rate --average``: the average, what is hit, the weights."""
    return [Line([(f"{imposer_name(row.imposer)} on goods from {country_name(row.origin)}: ", "bold"),
                  (f"average {row.average_rate:.1f}%", "bold cyan"),
                  f" (additional {row.additional_average:.1f}%, {row.coverage:.0%} of trade hit; {row.weights}"
                  + (f"; convention {row.convention})" if isinstance(getattr(row, "convention", None), str) else ")")],
                 kind="headline") for row in frame.itertuples()]


# -- hts lookup ----------------------------------------------------------------------------------

def lookup_view(found: dict) -> list:
    mfn = "unknown" if found["mfn_rate"] is None else f"{pct(found['mfn_rate'])} ({found['mfn_text']})"
    out = [Line([(dotted(found["code"]), "bold"), f"  {found['description'] or '(not a line of the schedule)'}"],
                kind="headline"),
           Line([f"MFN: {mfn} — {found['schedule'] or 'no schedule'}"])]
    if found["note"]:
        out.append(note(found["note"]))
    rows = [[item["id"], item["role"], item["match"], item["from"] or "", item["to"] or "", item["layer_from"],
             item["layer_to"] or "open", item["authority"], item["set"], item["name"]] for item in found["lists"]]
    columns = [Column("Layer"), Column("Role"), Column("Match"), Column("Rows from", drop=5), Column("Rows to", drop=6),
               Column("Layer from", drop=3), Column("Layer to", drop=4), Column("Authority", drop=7),
               Column("List", wrap=True, drop=8), Column("Name", wrap=True, drop=2, under=0, min_width=30)]
    out += [blank(), Grid(columns, rows,
                          title=f"Tariff lists naming {found['code']} ({found['imposer']} on goods from {found['origin']})",
                          empty="(on no product list; all-goods layers still apply)")]
    if found["line_count"] > 1:
        lines = [[line["code"], line["description"], line["general"]] for line in found["lines"][:20]]
        more = f", first {len(lines)}" if found["line_count"] > len(lines) else ""
        out += [blank(), Grid([Column("Code"), Column("Description", wrap=True), Column("MFN", wrap=True, max_lines=1)],
                              lines, title=f"{found['line_count']} lines under {found['code']}{more}")]
    return out


# -- duty summary --------------------------------------------------------------------------------

def _money(value) -> str:
    return f"{money.rounded(value):,.2f}"


def _two_lines(header: str) -> str:
    """'Section 301' -> 'Section\\n301', so a column of amounts is not widened by its header."""
    head, _, tail = header.rpartition(" ")
    return f"{head}\n{tail}" if head else header


def duty_summary_view(result) -> list:
    """Total and refundable amount first; then by authority, the statuses, by month. Amounts whole."""
    from .duties import entries_text

    s, cur = result.summary, result.summary.currency
    floor = getattr(s, "mfn_unknown", 0)
    out = [Line([(f"{result.direction.imposer} duties: ", "bold"),
                 (f"{'at least ' if floor else ''}{_money(s.duty_total)} {cur}", "bold cyan"),
                 f" on {entries_text(s.entries)}, customs value {_money(s.customs_value)} {cur}"], kind="headline")]
    if floor:
        out.append(Line([f"MFN duty unknown on {entries_text(floor)}: not in the totals"], kind="headline"))
    if s.refund_window:
        out.append(Line([("IEEPA refundable: ", "bold"), (f"{_money(s.ieepa_refundable)} {cur}", "bold cyan"),
                         f" (entries {s.refund_window[0]} to {s.refund_window[1]})"], kind="headline"))
    out.append(Line([f"ledger: {result.ledger.path}, {s.rejected:,} row{'' if s.rejected == 1 else 's'} rejected"], style="dim"))
    rows = []
    statuses = []
    for row in s.by_authority.itertuples():
        share = f"{row.duty / s.duty_total:.1%}" if s.duty_total else ""
        rows.append([row.authority, f"{row.entries:,}", _money(row.duty), share])
        if isinstance(row.status, str) and row.status:
            statuses.append(Line([(f"{row.authority}: ", "bold"), row.status], kind="item"))
    rows.append(["Total (known part)" if floor else "Total", f"{s.entries:,}", _money(s.duty_total), ""])
    columns = [Column("Authority"), Column("Entries", "right"), Column(f"Duty ({cur})", "right"), Column("Share", "right")]
    out += [blank(), Grid(columns, rows, ["" for _ in rows[:-1]] + ["bold"])]
    out += statuses
    if getattr(s, "refunds", None) is not None and len(s.refunds.by_route):
        out += refunds_view(s.refunds, cur)
    authorities = list(s.by_authority["authority"])
    months = [[row["month"], f"{row['entries']:,}", _money(row["customs_value"]), _money(row["duty_total"]),
               *(_money(row[a]) for a in authorities)] for row in s.by_month.to_dict("records")]
    columns = [Column("Month"), Column("Entries", "right", drop=2), Column("Value", "right", drop=1),
               Column("Duty", "right"), *(Column(_two_lines(a), "right") for a in authorities)]
    out += [blank(), Grid(columns, months, title=f"By month ({cur})")]
    out += [note(text) for text in s.notes]
    return out


def layer_names(dataset) -> dict[str, str]:
    """Layer id -> the few words a headline or a narrow table uses (``short_name``, else name)."""
    return {layer.id: layer.short_name or layer.name for layer in dataset.layers}


def _product_total(a) -> str:
    if a.total_rate is not None:
        return pct(a.total_rate)
    if _one_number(a.range("total")):
        return f"{pct(a.range('total')[0])} on every line"
    if a.range("total"):
        return _spread(a.range("total"))
    return "unknown (MFN unknown)"


def _one_number(pair) -> bool:
    """A range over the lines that is one number: the lines pay alike through different layers."""
    return pair is not None and pair[0] == pair[1]


def _layer_split(a, names: dict | None = None) -> str:
    """'S301 List 1 ($34 bn) on 20 lines, S301 List 3 ($200 bn) on 7': the layers that differ
    over the lines, each with the number of lines it applies to (or its range where it applies to all)."""
    names, parts = names or {}, []
    for row in a.layers[a.layers["varies"].astype(bool)].itertuples():
        name = names.get(row.layer_id, row.name)
        if row.lines_applying == row.lines:
            parts.append(f"{name} at {row.low:g}-{row.high:g}%")
        elif row.lines_applying:
            parts.append(f"{name} on {row.lines_applying}" + ("" if parts else " lines"))
    return ", ".join(parts)


def _mfn_text(a) -> str:
    if a.mfn_rate is not None and a.mfn is not None:
        return f"{pct(a.mfn_rate)} ({a.mfn.general}, {a.mfn.vintage.label})"
    return "varies over the lines" if a.range("total") or a.varies else "unknown"


def _additional_text(a, names: dict | None = None) -> str:
    if a.additional_rate is None and _one_number(a.range("additional")):
        return (f"{pct(a.range('additional')[0])} on every line, through different layers "
                f"({_layer_split(a, names)})")
    return pct(a.additional_rate) if a.additional_rate is not None else _spread(a.range("additional"))


def product_headline(a, names: dict) -> Line:
    """'US on goods from China, 8517.13.00: 20%  = MFN 0 + IEEPA fentanyl 20'."""
    shown = a.layers[a.layers["reason"] != "not covered"]
    parts = []
    for row in shown.itertuples():
        name = names.get(row.layer_id, row.name)
        if row.varies:
            parts.append(f"{name} {row.low:g}-{row.high:g}")
        elif row.applies and row.charged:
            parts.append(f"{name} {row.charged:g}")
    if a.mfn_rate is not None and a.additional_rate is None and _one_number(a.range("additional")):
        made_of = (f"  = MFN {a.mfn_rate:g} + {a.range('additional')[0]:g} through different layers "
                   f"({_layer_split(a, names)})")
    elif a.mfn_rate is not None:
        made_of = "  = " + " + ".join([f"MFN {a.mfn_rate:g}", *parts])
    else:
        made_of = f"  (additional {_additional_text(a)})"
    return Line([(f"{who(a.direction)}, {dotted(a.code)}: ", "bold"), (_product_total(a), "bold cyan"), made_of],
                kind="headline")


def _name_floor(rows) -> int:
    """A layer-name column no narrower than its longest word, nor than 20 (or its longest name)."""
    names = [row[0] for row in rows] or [""]
    return max([len(word) for name in names for word in name.split()] + [min(max(map(len, names)), 20), 12])


def _applies(row) -> str:
    if row.varies:
        return "varies"
    if row.applies:
        return "yes"
    return "conditional" if row.conditional else "no"


def product_view(answers, names: dict | None = None) -> list:
    """Each direction's total first and what it is made of; then per direction the description,
    MFN, and the layer stack with the reason each layer applies or not; notes; the totals again."""
    names = names or {}
    out = [product_headline(a, names) for a in answers]
    for a in answers:
        d = a.direction
        out += [blank(), Line([f"{dotted(a.code)} on {a.date}: {a.description or '(not a line of the schedule)'}"],
                              style="dim"),
                Line([("MFN: ", "bold"), _mfn_text(a)]),
                Line([("Additional: ", "bold"), _additional_text(a, names), "  ", ("Total: ", "bold"),
                      _product_total(a)])]
        shown = a.layers[a.layers["reason"] != "not covered"]
        rows, styles = [], []
        for row in shown.itertuples():
            why = row.reason + (" (unconfirmed)" if row.confidence == "unconfirmed" else "")
            charged = f"{pct(row.low)}-{pct(row.high)}" if row.varies else pct(row.charged)
            rows.append([names.get(row.layer_id, row.name), row.layer_id, row.authority, pct(row.rate), _applies(row),
                         charged, why])
            styles.append("" if row.applies or row.varies else "dim")
        columns = [Column(f"{d.imposer} layer", wrap=True, max_lines=2, min_width=_name_floor(rows)),
                   Column("Id", drop=3),
                   Column("Authority", drop=2), Column("Rate", "right"), Column("Applies", drop=1),
                   Column("Charged", "right"), Column("Why", wrap=True, max_lines=None, min_width=20)]
        out.append(Grid(columns, rows, styles, empty=f"{d.imposer}: no layer bears on {dotted(a.code)}"))
        hidden = int((a.layers["reason"] == "not covered").sum())
        if hidden:
            out.append(Line([f"{hidden} other product-group layers in effect do not cover this code."], style="dim"))
        waived = a.additional_if_waived
        if waived is not None and waived != a.additional_rate:
            total = "" if a.mfn_rate is None else f", total {pct(a.mfn_rate + waived)}"
            out.append(note(f"if the waivers marked 'may be waived' are granted: additional {pct(waived)}{total}"))
        if a.varies or a.total_rate is None and a.range("total"):
            out += [blank(), _lines_grid(a)]
        out += [note(text) for text in a.notes]
    if len(answers) > 1:  # repeated last, so both totals are on the screen when the command ends
        out += [blank(), Line([(f"Total on {answers[0].date}: ", "bold"),
                               (", ".join(f"{imposer_name(a.direction.imposer)} {_product_total(a)}"
                                          for a in answers), "bold")])]
    return out


def _spread(pair) -> str:
    return "unknown" if pair is None else f"varies, {pct(pair[0])} to {pct(pair[1])} (see the lines)"


def _lines_grid(a, limit: int = 20) -> Grid:
    """The per-line breakdown of a code whose lines differ: each line's own totals."""
    # The last part of a line's description is what tells it from its siblings (JSON has it whole).
    rows = [[dotted(row.line), str(row.description).split(": ")[-1], pct(row.mfn_rate), pct(row.additional_rate),
             pct(row.total_rate)]
            for row in a.lines.head(limit).itertuples()]
    more = f" (first {limit})" if len(a.lines) > limit else ""
    columns = [Column("Line"), Column("Description", wrap=True, max_lines=2), Column("MFN", "right"),
               Column("Additional", "right"), Column("Total", "right")]
    return Grid(columns, rows, title=f"{len(a.lines)} lines under {dotted(a.code)}{more}")


def _points(value) -> str:
    return "varies" if value is None or pd.isna(value) else signed(value)


def product_diff_view(diffs, names: dict | None = None) -> list:
    """The change in each direction's total first; then the layers whose charge or reason changed."""
    names = names or {}
    out = []
    for diff in diffs:
        before, after = diff.before, diff.after
        sides = diff.labels or (before.date, after.date)
        if before.total_rate is None or after.total_rate is None:
            change = ["additional ", pct(before.additional_rate) or "varies", " → ",
                      (pct(after.additional_rate) or "varies", "bold cyan"), " (no single total: MFN unknown or varies)"]
        else:
            delta = after.total_rate - before.total_rate
            change = ["total ", pct(before.total_rate), " → ", (pct(after.total_rate), "bold cyan"), "  (",
                      (signed(delta), _delta_style(delta)), ")"]
        out.append(Line([(f"{who(after.direction)}, {dotted(diff.code)}: ", "bold"), *change,
                         f" from {sides[0]} to {sides[1]}"], kind="headline"))
    for diff in diffs:
        imposer = diff.after.direction.imposer
        rows, styles = [], []
        for row in diff.changes.itertuples():
            rows.append([names.get(row.layer_id, row.name), pct(row.old_rate), pct(row.new_rate), _points(row.delta),
                         row.new_reason or row.old_reason])
            styles.append("" if pd.isna(row.delta) else _delta_style(row.delta))
        columns = [Column(f"{imposer} layer changed", wrap=True, max_lines=2, min_width=_name_floor(rows)),
                   Column("Old", "right"),
                   Column("New", "right"), Column("Δ", "right"), Column("Why now", wrap=True, max_lines=None, min_width=20)]
        out += [blank(), Grid(columns, rows, styles, empty=f"{imposer}: no layer changed for {dotted(diff.code)}")]
    return out


def refunds_view(r, cur: str) -> list:
    """``refunds.RefundSummary`` -> the routes table (with the total) and the entries whose
    deadline falls within 30 days (the litigation status is in the authorities' lines)."""
    rows = [[row.route if row.confidence == "confirmed" else f"{row.route} (unconfirmed)", f"{row.entries:,}",
             _money(row.duty), _money(row.interest)] for row in r.by_route.itertuples()]
    rows.append(["Total", f"{int(r.by_route['entries'].sum()):,}", _money(r.duty), _money(r.interest)])
    columns = [Column("Route", wrap=True), Column("Entries", "right"), Column(f"Duty ({cur})", "right"),
               Column(f"Interest ({cur})", "right")]
    out = [blank(), Grid(columns, rows, [""] * (len(rows) - 1) + ["bold"], title=f"Refunds on {r.as_of}")]
    if len(r.due):
        due = [[str(row.entry_id), row.route, _day(row.deadline), f"{row.days_left:,}", _money(row.duty)]
               for row in r.due.itertuples()]
        columns = [Column("Entry"), Column("Route", wrap=True), Column("Deadline"), Column("Days left", "right"),
                   Column(f"Duty ({cur})", "right")]
        out += [blank(), Grid(columns, due, title=f"Due within 30 days of {r.as_of}")]
    else:
        out.append(Line([f"No refund deadline falls within 30 days of {r.as_of}."]))
    return out


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


class working:
    """A spinner on stderr while something slow runs, only when stderr is a terminal."""

    def __init__(self, what: str):
        self.what, self.status = what, None

    def __enter__(self):
        import sys

        if sys.stderr.isatty():
            from rich.console import Console

            self.status = Console(stderr=True).status(f"{self.what}…")
            self.status.__enter__()
        return self

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.__exit__(*exc)
        return False


def average_diff_view(frame, labels):
    """``averages.average_diff``: each direction's averages on the two sides and the change (a
    rich ``Table``)."""
    from rich.table import Table

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
