"""Draw a chart (``chart.ChartData``) with matplotlib, for a report.

The layout: title, then a legend above the plot (never on a line); the whole range, and beside it
the busiest year enlarged when the range spans two years or more; the days past the data's
verified_through shaded; each event a numbered marker whose number is placed, by measuring text
boxes against the drawn lines, where it touches no line and no other number (with a leader line
when it had to move away); the numbered list under the plot; a footer saying what is plotted.

matplotlib is imported here only, so the rest of tariffcalc starts fast.
"""
from __future__ import annotations

import math
import textwrap
from datetime import date, timedelta

import pandas as pd

from .chart import COLOURS, ChartData
from .model import LABELS, SIDE

DPI = 160
INK = "#333333"
UNVERIFIED = "#e4e4e4"
ZOOMED = "#fbefd0"
# Offsets (pixels) tried for an event's number, nearest first, above before below.
RADII = (14, 22, 32, 46, 64, 86, 112, 142, 176, 214)
ANGLES = (90, 60, 120, 30, 150, 0, 180, 330, 210, 300, 240, 270)
LEADER_FROM = 20  # a number this far from its point gets a leader line
TITLE_SIZE, TITLE_MIN_SIZE = 12.5, 10.5  # points: a long title shrinks to the minimum, then wraps
TITLE_LEFT, TITLE_RIGHT, TITLE_TOP = 0.055, 0.975, 0.975  # figure fractions (the plot ends at 0.985)


def step_points(group: pd.DataFrame) -> tuple[list, list]:
    """The vertices of a step line (rate held until the next date), drawn as a plain polyline
    so the path matplotlib measures is exactly the path it draws."""
    dates = list(pd.to_datetime(group.sort_values("date")["date"]))
    values = list(group.sort_values("date")["value"])
    xs, ys = [], []
    for i, (day, value) in enumerate(zip(dates, values)):
        if i:
            xs.append(day)
            ys.append(values[i - 1])
        xs.append(day)
        ys.append(value)
    return xs, ys


def _ticks(ax, lo: date, hi: date) -> None:
    """Months under two years (every month where there is room for its name, else every other
    one, with a minor tick each month); years above, with quarters as minor ticks."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter

    span = (hi - lo).days
    if span < 730:
        width = ax.get_window_extent().width
        interval = 1 if span <= 400 and width / max(span / 30.4, 1) >= 60 else 2
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=range(1, 13, interval)))  # January always
        ax.xaxis.set_minor_locator(mdates.MonthLocator())
        last = mdates.date2num(pd.Timestamp(hi) - pd.Timedelta(days=12))  # a tick at the very edge: no label
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, pos: "" if x > last else _month_label(x, pos)))
    else:
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=[4, 7, 10]))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))


def _month_label(x, position) -> str:
    """'Mar', and the year under January and under the first tick: 'Jan\n2026'."""
    import matplotlib.dates as mdates

    day = mdates.num2date(x)
    return f"{day:%b}\n{day:%Y}" if day.month == 1 or position == 0 else f"{day:%b}"


def _verified_text(data: ChartData) -> str:
    parts = [f"{SIDE[k].name if k in SIDE else k} {d:%-d %b %Y}" for k, d in sorted(data.verified_through.items(),
                                                                         key=lambda item: item[1], reverse=True)]
    return "past the data's verified date (" + ", ".join(parts) + ")"


def _unverified_from(data: ChartData) -> date | None:
    if not data.verified_through:
        return None
    first = min(data.verified_through.values()) + timedelta(days=1)
    return first if first <= data.end else None


def figure(data: ChartData, width_px: int = 1600, height_px: int = 900):
    """The chart as a matplotlib Figure (no pyplot, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    events = data.events.reset_index(drop=True)
    numbered = [f"{n}. {label}" for n, label in enumerate(events["label"], 1)]
    half = (len(numbered) + 1) // 2
    footer = textwrap.wrap(data.footer + " Rates in force at the end of each day of entry. Source: tariffcalc "
                           "(layer data with instruments and sources).", 190)
    footer_top = 0.012 + 0.021 * len(footer)
    list_top = footer_top + 0.02 + 0.03 * half
    extra = _fit_title(fig, data.title)  # the height a title of more than one line takes below one line
    bottom, top = list_top + 0.085, 0.825 - extra
    zoom = data.zoom
    if zoom:
        panels = [(fig.add_axes((0.055, bottom, 0.545, top - bottom)), data.start, data.end),
                  (fig.add_axes((0.655, bottom, 0.33, top - bottom)), zoom[0], zoom[1])]
    else:
        panels = [(fig.add_axes((0.055, bottom, 0.93, top - bottom)), data.start, data.end)]
    peak = data.series["value"].max()
    if data.threatened is not None and not data.threatened.empty:
        peak = max(peak, data.threatened["value"].max())
    unverified = _unverified_from(data)
    handles = []
    for index, (ax, lo, hi) in enumerate(panels):
        for key, group in data.series.groupby("direction", sort=False):
            xs, ys = step_points(group)
            line, = ax.plot(xs, ys, color=COLOURS.get(key), linewidth=2.2, label=LABELS.get(key, key),
                            gid=f"series-{key}", solid_joinstyle="miter")
            if index == 0:
                handles.append(line)
        if data.threatened is not None and not data.threatened.empty:
            for key, group in data.threatened.groupby("direction", sort=False):
                xs, ys = step_points(group)
                line, = ax.plot(xs, ys, color=COLOURS.get(key), linewidth=1.4, linestyle="--", alpha=0.85,
                                label=f"{LABELS.get(key, key)}, {data.dashed_label}", gid=f"dashed-{key}")
                if index == 0:
                    handles.append(line)
        if unverified is not None and unverified <= hi:
            ax.axvspan(pd.Timestamp(max(unverified, lo)), pd.Timestamp(hi) + pd.Timedelta(days=1), color=UNVERIFIED,
                       zorder=0, linewidth=0, gid="unverified")
        if zoom and index == 0:
            ax.axvspan(pd.Timestamp(zoom[0]), pd.Timestamp(zoom[1]) + pd.Timedelta(days=1), color=ZOOMED, zorder=0,
                       linewidth=0, gid="zoom-band")
        # To the end of the last day, not the next midnight (whose tick would crowd the last one).
        ax.set_xlim(pd.Timestamp(lo), pd.Timestamp(hi) + pd.Timedelta(hours=23))
        ax.set_ylim(0, peak * 1.12 + 2)
        _ticks(ax, lo, hi + timedelta(days=1))
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.tick_params(labelsize=8.5)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if index == 0:
            ax.set_ylabel("percent", fontsize=9)
        if index == 1:
            ax.set_title(f"{zoom[0]:%Y}, enlarged", fontsize=10, loc="right", color=INK)
    if unverified is not None:
        handles.append(Patch(facecolor=UNVERIFIED, label=_verified_text(data)))
    if zoom:
        handles.append(Patch(facecolor=ZOOMED, label=f"{zoom[0]:%Y}: enlarged at right"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.05, 0.925 - extra), ncol=2, frameon=False, fontsize=8,
               handlelength=2.2, columnspacing=1.6)
    left = 0.055
    for column, chunk in enumerate((numbered[:half], numbered[half:])):
        if chunk:
            text = fig.text(left, list_top, "\n".join(chunk), fontsize=7.5, color=INK, va="top", linespacing=1.55,
                            gid=f"event-list-{column}")
            # The second column starts halfway, or after the first one's longest line.
            right = text.get_window_extent(fig.canvas.get_renderer()).x1 / fig.bbox.width
            left = max(0.515, right + 0.02)
    fig.text(0.012, footer_top, "\n".join(footer), fontsize=7, color="#555555", va="top", gid="footer")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for index, (ax, lo, hi) in enumerate(panels):
        inside = (events["date"] >= lo) & (events["date"] <= hi)
        if zoom and index == 0:
            inside &= ~((events["date"] >= zoom[0]) & (events["date"] <= zoom[1]))
        shown = [(number, row) for number, row in enumerate(events.itertuples(), 1) if inside.iloc[number - 1]]
        _mark_events(ax, renderer, shown)
        if unverified is not None and unverified <= hi:
            _label_band(ax, renderer, max(unverified, lo), hi)
    return fig


def _fit_title(fig, title: str) -> float:
    """Draw the title within the figure's margins: at TITLE_SIZE if it fits, else smaller down to
    TITLE_MIN_SIZE, else wrapped at words. Returns how much lower than one line at TITLE_SIZE it
    ends (a figure fraction), for the legend and plot to move down by."""
    renderer = fig.canvas.get_renderer()
    room = (TITLE_RIGHT - TITLE_LEFT) * fig.bbox.width
    text = fig.text(TITLE_LEFT, TITLE_TOP, "Ag", fontsize=TITLE_SIZE, va="top", ha="left", gid="title")
    one_line = text.get_window_extent(renderer).height

    def widest(lines) -> float:
        text.set_text("\n".join(lines))
        return text.get_window_extent(renderer).width

    lines = title.split("\n")
    size = TITLE_SIZE
    while widest(lines) > room and size > TITLE_MIN_SIZE:  # text widths scale only nearly linearly
        size = max(TITLE_MIN_SIZE, min(size - 0.1, size * room / widest(lines)))
        text.set_fontsize(size)
    wrapped = []
    for line in lines:  # a line that still does not fit breaks at the last word that does
        while widest([line]) > room and " " in line:
            head, rest = line, []
            while widest([head]) > room and " " in head:
                head, word = head.rsplit(" ", 1)
                rest.insert(0, word)
            wrapped.append(head)
            line = " ".join(rest)
        wrapped.append(line)
    lines = wrapped
    text.set_text("\n".join(lines))
    height = text.get_window_extent(renderer).height
    return max(0.0, (height - one_line) / fig.bbox.height)


def series_paths(ax) -> list:
    """The drawn lines of an axes (series and dashed), as paths in display pixels."""
    return [line.get_transform().transform_path(line.get_path()) for line in ax.get_lines()
            if (line.get_gid() or "").startswith(("series-", "dashed-"))]


def _free(box, axes_box, paths, taken) -> bool:
    return (axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1 and axes_box.y0 <= box.y0 and box.y1 <= axes_box.y1
            and not any(path.intersects_bbox(box, filled=False) for path in paths)
            and not any(box.overlaps(other) for other in taken))


def _mark_events(ax, renderer, shown) -> None:
    """A marker on the line at each event, and its number where it touches no line, no marker
    and no other number (the first free offset, nearest first)."""
    import matplotlib.dates as mdates
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    paths = series_paths(ax)
    axes_box = ax.get_window_extent(renderer)
    points = []
    for number, row in shown:
        x, y = mdates.date2num(pd.Timestamp(row.date)), row.value
        ax.plot([x], [y], marker="o", markersize=4, color=COLOURS.get(row.direction, INK), gid=f"marker-{number}")
        points.append(ax.transData.transform((x, y)))
    taken = [Bbox.from_extents(px - 4, py - 4, px + 4, py + 4) for px, py in points]
    taken += [text.get_window_extent(renderer) for text in ax.texts]
    for number, row in shown:
        colour = COLOURS.get(row.direction, INK)
        probe = ax.annotate(str(number), xy=(pd.Timestamp(row.date), row.value), xytext=(0, 0),
                            textcoords="offset pixels", ha="center", va="center", fontsize=8, fontweight="bold",
                            color=colour, annotation_clip=False)
        best, best_box = None, None
        for radius in RADII:
            for angle in ANGLES:
                offset = (radius * math.cos(math.radians(angle)), radius * math.sin(math.radians(angle)))
                probe.xyann = offset
                probe.update_positions(renderer)  # an annotation's transform is set only when placed
                box = Text.get_window_extent(probe, renderer).padded(2)
                if _free(box, axes_box, paths, taken):
                    best, best_box = offset, box
                    break
            if best is not None:
                break
        probe.remove()
        if best is None:  # pragma: no cover - a crowd no offset can clear: the nearest spot above
            best = (0, RADII[0])
        arrow = None
        if math.hypot(*best) >= LEADER_FROM:
            arrow = {"arrowstyle": "-", "color": colour, "linewidth": 0.7, "shrinkA": 1, "shrinkB": 3, "alpha": 0.8}
        label = ax.annotate(str(number), xy=(pd.Timestamp(row.date), row.value), xytext=best,
                            textcoords="offset pixels", ha="center", va="center", fontsize=8, fontweight="bold",
                            color=colour, annotation_clip=False, arrowprops=arrow, gid=f"event-{number}")
        label.update_positions(renderer)
        taken.append(best_box if best_box is not None else Text.get_window_extent(label, renderer))


def _label_band(ax, renderer, lo: date, hi: date) -> None:
    """'not verified' inside the shaded band, where it touches no line (the legend says it in full)."""
    import matplotlib.dates as mdates
    from matplotlib.text import Text

    paths = series_paths(ax)
    axes_box = ax.get_window_extent(renderer)
    taken = [Text.get_window_extent(t, renderer) for t in ax.texts]
    middle = mdates.date2num(pd.Timestamp(lo) + (pd.Timestamp(hi) - pd.Timestamp(lo)) / 2)
    text = ax.text(middle, 0, "not yet\nverified", ha="center", va="top", fontsize=7, color="#777777",
                   gid="unverified-label")
    low, high = ax.get_ylim()
    for share in (0.97, 0.85, 0.7, 0.55, 0.4, 0.25):
        text.set_y(low + (high - low) * share)
        if _free(Text.get_window_extent(text, renderer).padded(2), axes_box, paths, taken):
            return
    text.remove()  # too narrow or crowded: the legend's label stands alone


def save(data: ChartData, path, width_px: int = 1600, height_px: int = 900) -> None:
    """Draw to ``path`` (format from its suffix), through a temporary file renamed into place."""
    from pathlib import Path

    from .output import write_files

    fig = figure(data, width_px, height_px)
    write_files([(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format=Path(path).suffix.lstrip(".").lower()))])
