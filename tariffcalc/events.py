"""The story of the trade war: one row per change date and direction, with what changed and the
headline (and trade-weighted average) after it."""
from __future__ import annotations

from datetime import date

import pandas as pd

from .engine import Engine, direction_diff, directions_for
from .model import EVENT_COLUMNS


def describe(changes: pd.DataFrame) -> str:
    """'IEEPA reciprocal 34→84; Section 232 autos +25' — the layers whose charged rate moved."""
    parts = []
    for row in changes.itertuples():
        name = row.short_name if isinstance(row.short_name, str) and row.short_name else row.name
        if row.old_rate == row.new_rate:
            continue
        if row.change == "added":
            parts.append(f"{name} +{row.new_rate:g}")
        elif row.change == "removed":
            ended = f" ({row.new_status.replace('_', ' ')})" if row.new_status else ""
            parts.append(f"{name} ended{ended} (was {row.old_rate:g})")
        else:
            parts.append(f"{name} {row.old_rate:g}→{row.new_rate:g}")
    return "; ".join(parts)


def change_events(engine: Engine, start: date, end: date, direction="both", include_threatened: bool = False,
                  averages=None, products=None) -> pd.DataFrame:
    """Every date in [start, end] on which a charged rate changes, per direction.

    ``averages``: an optional callable ``(direction, days) -> DataFrame(date, average_rate)`` that
    adds the trade-weighted average after each change. With ``products`` (a ProductEngine), dates
    on which product lists change (exemptions added, exclusions expiring) are events too.
    """
    rows = []
    for d in directions_for(direction):
        days = products.change_dates(d, start, end) if products is not None else engine.change_dates(d, start, end)
        average_of = {}
        if averages is not None and days:
            frame = averages(d, days)
            average_of = dict(zip(frame["date"], frame["average_rate"]))
        previous = days[0]
        states = engine.day_states(days, d, include_threatened)
        for day in days:
            if day == days[0]:
                diff = direction_diff(d, states, day, states, day)
                text = "(start of period)"
            else:
                diff = direction_diff(d, states, previous, states, day)
                text = describe(diff.changes)
                if products is not None:
                    text = "; ".join(part for part in (text, products.list_changes(d, day)) if part)
            if day != days[0] and not text:
                continue  # a step started or ended without changing any charged rate
            rows.append({"date": day, "direction": d.key, "imposer": d.imposer, "origin": d.origin,
                         "changes": text, "headline": diff.headline_to,
                         "average_rate": average_of.get(day)})
            previous = day
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return frame.sort_values(["date", "direction"], kind="stable").reset_index(drop=True)
