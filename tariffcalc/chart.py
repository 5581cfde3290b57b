"""Step charts of both directions over time: a PNG/SVG with matplotlib, or a compact terminal chart.

matplotlib is imported only when a file is drawn, so the rest of tariffcalc starts fast.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from rich.console import Group
from rich.text import Text

COLOURS = {"us": "#c0392b", "cn": "#1f5fa8"}
LABELS = {"us": "US tariffs on goods from China", "cn": "China's tariffs on US goods"}
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


def save_chart(series: pd.DataFrame, events: pd.DataFrame, path, measure_label: str, title: str,
               threatened: pd.DataFrame | None = None, width_px: int = 1600, height_px: int = 900,
               dashed_label: str = "if threats had taken effect") -> None:
    """Draw the step chart to ``path`` (format from its suffix: .png or .svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    dpi = 160
    fig, ax = plt.subplots(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    for key, group in series.groupby("direction", sort=False):
        ax.step(pd.to_datetime(group["date"]), group["value"], where="post", color=COLOURS.get(key),
                linewidth=2.2, label=LABELS.get(key, key))
    if threatened is not None and not threatened.empty:
        for key, group in threatened.groupby("direction", sort=False):
            ax.step(pd.to_datetime(group["date"]), group["value"], where="post", color=COLOURS.get(key),
                    linewidth=1.4, linestyle="--", alpha=0.8, label=f"{LABELS.get(key, key)}, {dashed_label}")
    top = max(series["value"].max(), threatened["value"].max() if threatened is not None and not threatened.empty else 0)
    # Events: a numbered marker on the line, and the numbered list under the chart (no overlaps).
    for number, row in enumerate(events.itertuples(), 1):
        when = pd.Timestamp(row.date)
        ax.plot([when], [row.value], marker="o", markersize=4, color=COLOURS.get(row.direction, "#333333"))
        ax.annotate(str(number), xy=(when, row.value), xytext=(4, 4 + 9 * (number % 3)), textcoords="offset points",
                    fontsize=8, fontweight="bold", color=COLOURS.get(row.direction, "#333333"))
    lines = [f"{number}. {row.label}" for number, row in enumerate(events.itertuples(), 1)]
    half = (len(lines) + 1) // 2
    list_top = 0.05 + 0.026 * half
    for column, chunk in enumerate((lines[:half], lines[half:])):
        fig.text(0.07 + 0.46 * column, list_top, "\n".join(chunk), fontsize=8, color="#333333", va="top",
                 linespacing=1.5)
    ax.set_title(title, fontsize=13, loc="left")
    ax.set_ylabel(f"{measure_label} (percent)")
    ax.set_xlabel("date of entry")
    ax.set_ylim(bottom=0, top=top * 1.08 + 1)
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=[4, 7, 10]))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    fig.text(0.01, 0.005, "Source: tariffcalc (layer data with instruments and sources); rates in force at the end "
             "of each day; additional duties on top of MFN where the measure is the headline.",
             fontsize=7, color="#666666")
    fig.tight_layout(rect=(0, list_top + 0.02, 1, 1))
    from pathlib import Path

    from .output import write_files

    try:  # no half-written chart: drawn to a temporary file, then renamed
        write_files([(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".").lower()))])
    finally:
        plt.close(fig)


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
    lines = [Text(f"{measure_label}, {start} to {end}", style="bold"),
             Text(f"one column ≈ {span / columns:.0f} days; a full block = {top:.1f}%; · = 0", style="dim")]
    for key, group in series.groupby("direction", sort=False):
        values = column_maxima(group, edges)
        bar = "".join("·" if v <= 0 else BLOCKS[min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1) + 0.5))]
                      for v in values)
        label = {"us": "US on CN", "cn": "CN on US"}.get(key, key)
        now = float(group.sort_values("date")["value"].iloc[-1])
        lines.append(Text.assemble((f"{label:9}", COLOURS.get(key, "")), bar,
                                   f" {now:.1f}% (max {max(values):.1f}%)"))
    return Group(*lines)


@dataclass
class ChartData:
    series: pd.DataFrame  # date, direction, value (steps, closed at the end date)
    events: pd.DataFrame  # date, label: the largest moves, annotated
    threatened: pd.DataFrame | None
    measure_label: str
    title: str
    dashed_label: str = "if threats had taken effect"  # what the dashed lines (``threatened``) show


def _values(engine, products, start, end, average, weights_year, include_threatened, weights_for,
            convention=None) -> pd.DataFrame:
    from .averages import average_rates
    from .engine import directions_for

    parts = []
    for d in directions_for("both"):
        days = products.change_dates(d, start, end) if products is not None else engine.change_dates(d, start, end)
        if average:
            chosen, frame = weights_for(engine, d.key, weights_year, convention)
            values = average_rates(products, d, days, chosen, frame, include_threatened, convention)
            parts.append(pd.DataFrame({"date": values["date"], "direction": d.key, "value": values["average_rate"]}))
        else:
            states = engine.states(days, d, include_threatened)
            heads = engine.headlines(states, days)
            parts.append(pd.DataFrame({"date": [t.date() for t in heads.index], "direction": d.key,
                                       "value": heads.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def _largest_moves(values: pd.DataFrame, count: int = 10) -> pd.DataFrame:
    moves = []
    for key, group in values.groupby("direction", sort=False):
        group = group.sort_values("date")
        delta = group["value"].diff()
        for row, change in zip(group.itertuples(), delta):
            if not pd.isna(change) and abs(change) >= 0.5:
                who = "US" if key == "us" else "China"
                moves.append({"date": row.date, "size": abs(change), "direction": key, "value": row.value,
                              "label": f"{row.date:%d %b %Y}: {who} {change:+.1f} pts, to {row.value:.1f}%"})
    frame = pd.DataFrame(moves, columns=["date", "size", "direction", "value", "label"])
    return frame.nlargest(count, "size").sort_values("date").reset_index(drop=True)


def chart_data(engine, products, start: date, end: date, average: bool, weights_year, include_threatened: bool,
               weights_for, convention=None) -> ChartData:
    values = _values(engine, products, start, end, average, weights_year, False, weights_for, convention)
    threatened = None
    if include_threatened:
        threatened = chart_series(_values(engine, products, start, end, average, weights_year, True, weights_for,
                                          convention), end)
    measure = "Trade-weighted average tariff (MFN + additional)" if average else "Headline additional tariff"
    if average and convention is not None and convention.name != "tariffcalc":
        measure += f", {convention.name} convention"
    title = f"US–China tariffs, {start:%b %Y} – {end:%b %Y}: {measure[0].lower() + measure[1:]}"
    return ChartData(chart_series(values, end), _largest_moves(values), threatened, measure, title)


def draw(data: ChartData, path) -> None:
    from .output import check_target

    check_target(path, CHART_SUFFIXES)
    save_chart(data.series, data.events, path, data.measure_label, data.title, data.threatened,
               dashed_label=data.dashed_label)
