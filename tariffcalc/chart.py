"""Step charts of both directions over time: a PNG/SVG with matplotlib, or a compact terminal chart.

matplotlib is imported only when a file is drawn, so the rest of tariffcalc starts fast.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from rich.console import Group
from rich.text import Text

from .model import SIDE

COLOURS = {"us": "#c0392b", "cn": "#1f5fa8"}
BLOCKS = "▁▂▃▄▅▆▇█"
CHART_SUFFIXES = (".png", ".svg")  # the formats save_chart draws, named by the file's extension


def chart_series(values: pd.DataFrame, end: date) -> pd.DataFrame:
    """Step series (date, direction, value) with a closing point at ``end`` for each direction."""
    parts = []
    for _, group in values.groupby("direction", sort=False):
        group = group.sort_values("date")
        last = group.iloc[[-1]].assign(date=end)
        parts.append(pd.concat([group, last], ignore_index=True))
    return pd.concat(parts, ignore_index=True)


def column_maxima(group: pd.DataFrame, edges: list[date]) -> list[float]:
    """The highest rate in force during each column's days [edges[i], edges[i+1])."""
    group = group.sort_values("date")
    dates, values = list(group["date"]), list(group["value"])
    out = []
    for left, right in zip(edges, edges[1:]):
        before = [v for d, v in zip(dates, values) if d <= left]
        inside = [v for d, v in zip(dates, values) if left < d < right]
        out.append(max(([before[-1]] if before else [0.0]) + inside))
    return out


def terminal_chart(series: pd.DataFrame, start: date, end: date, measure_label: str, width: int = 80) -> Group:
    """One bar line per direction that fits ``width`` columns: each character is the highest
    rate in force during its slice of the period (so a five-week spike still shows)."""
    columns = max(width - 30, 20)
    span = (end - start).days + 1
    edges = [start + timedelta(days=round(i * span / columns)) for i in range(columns + 1)]
    top = max(series["value"].max(), 1e-9)
    heading = f"{measure_label}, {start} to {end}"
    if len(heading) > width:  # a long measure (a convention named) keeps the period whole, below it
        heading = f"{measure_label},\n{start} to {end}"
    lines = [Text(heading, style="bold"),
             Text(f"one column ≈ {span / columns:.0f} days; a full block = {top:.1f}%; · = 0", style="dim")]
    for key, group in series.groupby("direction", sort=False):
        values = column_maxima(group, edges)
        bar = "".join("·" if v <= 0 else BLOCKS[min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1) + 0.5))]
                      for v in values)
        label = SIDE[key].compact if key in SIDE else key
        now = float(group.sort_values("date")["value"].iloc[-1])
        lines.append(Text.assemble((f"{label:9}", COLOURS.get(key, "")), bar,
                                   f" {now:.1f}% (max {max(values):.1f}%)"))
    return Group(*lines)


# -- the series (computing; no drawing) ------------------------------------------------------------

@dataclass
class ChartData:
    """Everything a chart shows, computed once; ``figure.py`` draws it and ``terminal_chart`` prints it."""

    series: pd.DataFrame  # date, direction, value (steps, closed at the end date)
    events: pd.DataFrame  # date, direction, value, size, label: the largest moves, annotated
    threatened: pd.DataFrame | None
    measure_label: str
    title: str
    dashed_label: str = "if threats had taken effect"  # what the dashed lines (``threatened``) show
    start: date | None = None
    end: date | None = None
    verified_through: dict = field(default_factory=dict)  # direction key -> last verified day
    footer: str = ""  # what is plotted, in words (the measure, its convention and weights)
    zoom: tuple[date, date] | None = None  # the busiest calendar year, drawn again in a second panel


def _values(engine, products, start, end, average, weights_year, include_threatened, convention=None,
            weights=None) -> pd.DataFrame:
    """The plotted value of each direction on each change date (``weights``: filled with the
    label of the weights used per direction)."""
    from .averages import average_rates, weights_for
    from .engine import directions_for

    parts = []
    for d in directions_for("both"):
        days = products.change_dates(d, start, end) if products is not None else engine.change_dates(d, start, end)
        if average:
            chosen, frame = weights_for(engine.dataset, d.key, weights_year, convention)
            if weights is not None:
                weights[d.key] = chosen.label
            values = average_rates(products, d, days, chosen, frame, include_threatened, convention)
            parts.append(pd.DataFrame({"date": values["date"], "direction": d.key, "value": values["average_rate"]}))
        else:
            states = engine.states(days, d, include_threatened)
            heads = engine.headlines(states, days)
            parts.append(pd.DataFrame({"date": [t.date() for t in heads.index], "direction": d.key,
                                       "value": heads.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


EVENT_COLUMNS = ["date", "size", "direction", "value", "label"]


def _moves(values: pd.DataFrame) -> pd.DataFrame:
    """Every move of half a point or more: date, size, direction, value after, change."""
    moves = []
    for key, group in values.groupby("direction", sort=False):
        group = group.sort_values("date")
        for row, change, before in zip(group.itertuples(), group["value"].diff(), group["date"].shift()):
            if not pd.isna(change) and abs(change) >= 0.5:
                moves.append({"date": row.date, "size": abs(change), "direction": key, "value": row.value,
                              "change": change, "before": before})
    frame = pd.DataFrame(moves, columns=["date", "size", "direction", "value", "change", "before"])
    return frame.astype({"size": float, "value": float, "change": float})  # typed even when empty


def busiest_year(values: pd.DataFrame, start: date, end: date) -> tuple[date, date] | None:
    """On a range of two years or more, the calendar year with the most movement (the 2025
    spike), clipped to the range; None on shorter ranges, which are drawn at month scale."""
    if (end - start).days < 730:
        return None
    moves = _moves(values)
    if moves.empty:
        return None
    year = moves.groupby(moves["date"].map(lambda d: d.year))["size"].sum().idxmax()
    return max(start, date(year, 1, 1)), min(end, date(year, 12, 31))


def pick_events(values: pd.DataFrame, zoom, count: int = 10, outside: int = 5) -> pd.DataFrame:
    """The largest moves: ``count`` of them, or with a zoom panel ``count`` inside the zoomed
    year and ``outside`` elsewhere (so the years before the spike keep their story)."""
    moves = _moves(values)
    if zoom is not None:
        inside = moves["date"].map(lambda d: zoom[0] <= d <= zoom[1])
        moves = pd.concat([moves[inside].nlargest(count, "size"), moves[~inside].nlargest(outside, "size")])
    else:
        moves = moves.nlargest(count, "size")
    return moves.sort_values(["date", "direction"], kind="stable").reset_index(drop=True)


def _label_events(moves: pd.DataFrame, engine, include_threatened: bool) -> pd.DataFrame:
    """'09 Apr 2025  US +74 pts to 104%: IEEPA reciprocal 34→84' — what moved, in the layers' names."""
    from .events import describe

    labels = []
    for row in moves.itertuples():
        who = SIDE[row.direction].name
        what = ""
        if engine is not None and isinstance(row.before, date):
            changes = engine.diff(row.before, row.date, row.direction, include_threatened).directions[0].changes
            what = describe(changes)
            what = f": {_first_parts(what, 44)}" if what else ""
        labels.append(f"{row.date:%d %b %Y}  {who} {row.change:+.1f} pts to {row.value:.1f}%{what}")
    return moves.assign(label=labels)[EVENT_COLUMNS].reset_index(drop=True)


def _first_parts(text: str, limit: int) -> str:
    """The '; '-separated parts of ``text`` that fit ``limit`` characters, then '…' for the rest."""
    parts, kept = text.split("; "), []
    for part in parts:
        if len("; ".join(kept + [part])) > limit:
            break
        kept.append(part)
    if not kept:
        return parts[0][:limit - 1].rsplit(" ", 1)[0] + "…"
    return "; ".join(kept) + ("; …" if len(kept) < len(parts) else "")


def _footer(average: bool, convention, weights: dict) -> str:
    if average:
        used = "; ".join(f"{SIDE[key].name}: {label}" for key, label in weights.items())
        named = f"; convention: {convention.label}" if convention is not None else ""
        return ("Plotted: the trade-weighted average tariff each way, MFN plus every additional layer that applies, "
                f"product by product, weighted by import value ({used}){named}.")
    return ("Plotted: the headline additional tariff each way, the sum of the layers that cover all goods (what the "
            "press quotes), on top of MFN; product-group layers (Section 301, 232, China's lists) are not in it.")


def chart_data(engine, products, start: date, end: date, average: bool, weights_year, include_threatened: bool,
               convention=None) -> ChartData:
    """The series, events, shading and words of a chart of both directions from ``start`` to ``end``."""
    from .engine import check_period

    check_period(start, end)
    weights: dict = {}
    values = _values(engine, products, start, end, average, weights_year, False, convention, weights)
    threatened = None
    if include_threatened:
        threatened = chart_series(_values(engine, products, start, end, average, weights_year, True, convention),
                                  end)
    measure = "Trade-weighted average tariff (MFN + additional)" if average else "Headline additional tariff"
    if average and convention is not None and convention.name != "tariffcalc":
        measure += f", {convention.name} convention"
    title = f"US–China tariffs, {start:%b %Y} – {end:%b %Y}: {measure[0].lower() + measure[1:]}"
    zoom = busiest_year(values, start, end)
    events = _label_events(pick_events(values, zoom), engine, False)
    from .engine import directions_for

    verified = {d.key: engine.dataset.verified_through[d.imposer] for d in directions_for("both")
                if d.imposer in engine.dataset.verified_through}
    return ChartData(chart_series(values, end), events, threatened, measure, title, start=start, end=end,
                     verified_through=verified, footer=_footer(average, convention, weights), zoom=zoom)


def draw(data: ChartData, path) -> None:
    """Write the chart to ``path`` (.png or .svg, checked first; nothing half-written)."""
    from .figure import save
    from .output import check_target

    check_target(path, CHART_SUFFIXES)
    save(data, path)
