"""DataFrames and answers -> CSV / JSON with a fixed column order and number format.

Rates are written as plain numbers in percentage points (``25``, ``7.5``, ``145``). Files are
written by ``output.write_files`` (whole or not at all). JSON never holds NaN or Infinity.
"""
from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import money
from .engine import DiffAnswer, RateAnswer, records
from .errors import TariffcalcError
from .model import AVERAGE_COLUMNS, EVENT_COLUMNS

TIDY_COLUMNS = [
    "date", "direction", "imposer", "origin", "kind", "layer_id", "name", "authority", "scope",
    "status", "rate", "counted", "charged", "total_on_covered_goods", "confidence",
]
DIFF_COLUMNS = [
    "date_from", "date_to", "direction", "imposer", "origin", "layer_id", "name", "authority",
    "scope", "change", "old_rate", "new_rate", "delta", "old_status", "new_status",
]
RATE_COLUMNS = ("rate", "charged", "total_on_covered_goods", "old_rate", "new_rate", "delta")


def number(value) -> float | None:
    """A rate as JSON wants it: a float, or None for 'not applicable'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else value.date().isoformat()
    return str(value)


def _day(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()


def _tokens(values, encode) -> np.ndarray:
    """``encode`` applied to a column, each distinct value encoded once: exports repeat a few
    values (dates, layer ids, rates) over many rows, so this is column-wise, not per row."""
    values = pd.Series(values)
    if values.dtype == np.float64:
        keys = values.to_numpy().view(np.int64)  # by bit pattern: 0.0 and -0.0 are written apart
    elif values.dtype != object or pd.api.types.infer_dtype(values, skipna=False) in _ONE_KIND:
        keys = values
    else:
        keys = values.map(_kind_key)
    codes, _ = pd.factorize(keys, use_na_sentinel=False)
    if not len(codes):
        return np.array([], dtype=object)
    firsts = pd.Series(np.arange(len(codes))).groupby(codes).first().to_numpy()
    # tolist() gives the Python scalars that iterating the column gives (int, not numpy.int64).
    return np.array([encode(v) for v in values.take(firsts).tolist()], dtype=object)[codes]


# Object columns whose values are all of one kind (no None, no float) can be factorized as they are.
_ONE_KIND = {"string", "boolean", "integer", "date", "datetime", "empty"}


def _kind_key(value):
    """A hashable key that keeps apart what Python finds equal but we write differently: True, 1
    and 1.0; 0.0 and -0.0. Every NaN is one key."""
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


def csv_field(text: str) -> str:
    """A field as the csv module writes it (quoted only if it holds a comma, quote or line break)."""
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


_csv_field = csv_field


def frame_to_csv(frame: pd.DataFrame, columns: list[str]) -> str:
    """CSV text with exactly ``columns`` in order and every value formatted by ``_text``."""
    out = frame.reindex(columns=columns)
    header = ",".join(_csv_field(str(c)) for c in columns) + "\n"
    if out.empty:
        return header
    fields = [_tokens(out[c], lambda v: _csv_field(_text(v))) for c in columns]
    rows = fields[0]
    for column in fields[1:]:
        rows = rows + ("," + column)
    return header + "\n".join(rows.tolist()) + "\n"


class NonFiniteJSON(TariffcalcError, ValueError):
    """NaN or Infinity met on the way into JSON: refused (one line, exit 2), never written."""

    def __init__(self, exc):
        super().__init__(f"cannot write JSON: {exc} (NaN or Infinity in the answer)")


def _strict_json(value) -> str:
    """One JSON value, never NaN or Infinity (``to_json``'s rule, for ``records_json``).

    Scalars are written as ``json.dumps`` writes them, without building an encoder for each:
    a column of a hundred thousand distinct amounts is that many calls."""
    if isinstance(value, str):
        return _json_string(value)
    if value is None or value is True or value is False:
        return _JSON_CONSTANTS[value]
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and math.isfinite(value):
        return float.__repr__(value)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise NonFiniteJSON(exc) from None


_json_string = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False)
_JSON_CONSTANTS = {None: "null", True: "true", False: "false"}


def records_json(frame: pd.DataFrame, encoders: dict) -> str:
    """A JSON list of one object per row, byte for byte what ``to_json`` writes of the records,
    built column by column: ``encoders`` maps each key, in order, to a function from a cell to the
    JSON value of that key."""
    if frame.empty:
        return "[]\n"
    body = None
    for key, encode in encoders.items():
        prefix = "    " + json.dumps(key, ensure_ascii=False) + ": "
        tokens = _tokens(frame[key], lambda v, encode=encode: _strict_json(_plain_numbers(encode(v))))
        body = prefix + tokens if body is None else body + (",\n" + prefix + tokens)
    return "[\n" + ",\n".join(("  {\n" + body + "\n  }").tolist()) + "\n]\n"


LAYERS_COLUMNS = ["layer_id", "imposer", "origins", "authority", "scope", "first_start", "last_end", "steps", "name",
                  "short_name"]
LOOKUP_COLUMNS = ["code", "imposer", "origin", "id", "name", "authority", "role", "set", "match", "from", "to",
                  "layer_from", "layer_to"]


def layers_records(frame: pd.DataFrame) -> list[dict]:
    """``tariffcalc layers --format json``: one object per layer, the CSV's columns."""
    return [{column: (int(row[column]) if column == "steps" else row[column]) for column in LAYERS_COLUMNS}
            for row in frame.to_dict("records")]


def lookup_csv(found: list[dict]) -> str:
    """``tariffcalc hts --format csv``: one row per list naming the code, per direction."""
    rows = [{"code": one["code"], "imposer": one["imposer"], "origin": one["origin"], **item}
            for one in found for item in one["lists"]]
    return frame_to_csv(pd.DataFrame(rows, columns=LOOKUP_COLUMNS), LOOKUP_COLUMNS)


def tidy_csv(timeline: pd.DataFrame) -> str:
    return frame_to_csv(timeline, TIDY_COLUMNS)


def wide_frame(timeline: pd.DataFrame) -> pd.DataFrame:
    """One row per date x direction: the headline, then one column per layer (rate charged)."""
    head = timeline[timeline["kind"] == "headline"][["date", "direction", "rate"]].rename(
        columns={"rate": "headline"}
    )
    layers = timeline[timeline["kind"] == "layer"].pivot_table(
        index=["date", "direction"], columns="layer_id", values="charged", aggfunc="sum", fill_value=0.0
    )
    wide = head.merge(layers.reset_index(), on=["date", "direction"], how="left")
    layer_columns = sorted(c for c in wide.columns if c not in ("date", "direction", "headline"))
    wide[layer_columns] = wide[layer_columns].fillna(0.0)
    return wide[["date", "direction", "headline", *layer_columns]]


def wide_csv(timeline: pd.DataFrame) -> str:
    wide = wide_frame(timeline)
    return frame_to_csv(wide, list(wide.columns))


def timeline_json(timeline: pd.DataFrame) -> str:
    return records_json(timeline.reindex(columns=TIDY_COLUMNS),
                        {column: functools.partial(_json_value, column) for column in TIDY_COLUMNS})


def _json_value(column, value):
    if column in RATE_COLUMNS:
        return number(value)
    if column == "date":
        return _day(value)
    if column == "counted":
        return bool(value)
    return _text(value) if value is not None else None


def rate_dict(answer: RateAnswer) -> dict:
    """The documented JSON shape of ``tariffcalc rate --format json``."""
    directions = []
    for d in answer.directions:
        layers = [
            {
                "id": row.layer_id,
                "name": row.name,
                "authority": row.authority,
                "rate": number(row.rate),
                "coverage": row.coverage,
                "scope": row.scope,
                "status": row.status,
                "counted": bool(row.counted),
                "total_on_covered_goods": number(row.total_on_covered_goods),
                "confidence": row.confidence,
                "instrument": row.instrument,
                "source": row.source,
                "start": _day(row.start),
                "end": _day(row.end),
                "note": row.note if isinstance(row.note, str) else None,
            }
            for row in records(d.layers)
        ]
        upcoming = [
            {
                "start": _day(row.start),
                "id": row.layer_id,
                "name": row.name,
                "rate": number(row.rate),
                "status": row.status,
                "announced": _day(row.announced),
                "instrument": row.instrument,
                "source": row.source,
            }
            for row in records(d.upcoming)
        ]
        directions.append({
            "direction": d.direction.key,
            "imposer": d.direction.imposer,
            "origin": d.direction.origin,
            "headline_rate": number(d.headline_rate),
            "layers": layers,
            "upcoming": upcoming,
            "notes": d.notes,
            "warnings": d.warnings,
        })
    return {
        "date": answer.date.isoformat(),
        "include_threatened": answer.include_threatened,
        "directions": directions,
    }


def diff_frame(answer: DiffAnswer) -> pd.DataFrame:
    """Layer changes of every direction, with one 'headline' row per direction first."""
    parts = []
    for d in answer.directions:
        head = pd.DataFrame([{
            "layer_id": "", "name": "Headline (all goods)", "authority": "", "scope": "all",
            "change": "headline", "old_rate": d.headline_from, "new_rate": d.headline_to,
            "delta": d.headline_delta, "old_status": "", "new_status": "",
        }])
        part = pd.concat([head, d.changes], ignore_index=True)
        part.insert(0, "origin", d.direction.origin)
        part.insert(0, "imposer", d.direction.imposer)
        part.insert(0, "direction", d.direction.key)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "date_to", answer.date_to.isoformat())
    frame.insert(0, "date_from", answer.date_from.isoformat())
    return frame


def diff_csv(answer: DiffAnswer) -> str:
    return frame_to_csv(diff_frame(answer), DIFF_COLUMNS)


def diff_dict(answer: DiffAnswer) -> dict:
    return {
        "date_from": answer.date_from.isoformat(),
        "date_to": answer.date_to.isoformat(),
        "directions": [
            {
                "direction": d.direction.key,
                "imposer": d.direction.imposer,
                "origin": d.direction.origin,
                "headline_from": number(d.headline_from),
                "headline_to": number(d.headline_to),
                "headline_delta": number(d.headline_delta),
                "changes": [
                    {
                        "id": row.layer_id, "name": row.name, "authority": row.authority,
                        "scope": row.scope, "change": row.change, "old_rate": number(row.old_rate),
                        "new_rate": number(row.new_rate), "delta": number(row.delta),
                        "old_status": row.old_status, "new_status": row.new_status,
                    }
                    for row in d.changes.itertuples()
                ],
            }
            for d in answer.directions
        ],
    }


class Records(Sequence):
    """A list of one dict per row of a frame, kept as the frame: ``to_json`` writes it column by
    column (``records_json``), so a long list (a ledger's entries due within 30 days) never
    exists as Python dicts. Indexing, iterating and ``==`` give the dicts, as a list would."""

    def __init__(self, frame: pd.DataFrame, encoders: dict):
        self.frame, self.encoders = frame.reset_index(drop=True), encoders

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, at):
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        at = range(len(self))[at]  # IndexError past the end, as a list
        row = self.frame.iloc[at:at + 1]
        # tolist(): the Python scalars records_json encodes (str, int), not numpy's
        return {key: _plain_numbers(encode(row[key].tolist()[0])) for key, encode in self.encoders.items()}

    def __eq__(self, other) -> bool:
        return isinstance(other, (list, Records)) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Records({list(self)!r})"

    def json(self) -> str:
        return records_json(self.frame, self.encoders).rstrip("\n")


def _plain_numbers(value, spliced: list | None = None):
    """145.0 -> 145, so JSON shows rates as the CSV and the tables do (and jq prints 145).
    With ``spliced``, each ``Records`` becomes a placeholder string and is appended to it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _plain_numbers(item, spliced) for key, item in value.items()}
    if isinstance(value, Records) and spliced is not None:
        spliced.append(value)
        return f"{_SPLICE}{len(spliced) - 1}{_SPLICE}"
    if isinstance(value, (list, tuple, Records)):
        return [_plain_numbers(item, spliced) for item in value]
    return value


_SPLICE = "\x00records\x00"  # no JSON text of ours holds a NUL; json.dumps writes it \u0000
_SPLICED = re.compile(r'"\\u0000records\\u0000(\d+)\\u0000records\\u0000"')


def to_json(data) -> str:
    """The one JSON writer: strict JSON, so NaN or Infinity is an error, never ``NaN`` in the file.
    ``Records`` in ``data`` are written column-wise and spliced in at their place and indent."""
    spliced: list = []
    try:
        text = json.dumps(_plain_numbers(data, spliced), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError as exc:  # a value no JSON reader accepts: refuse rather than write it
        raise NonFiniteJSON(exc) from None
    if not spliced:
        return text
    out, done = [], 0
    for found in _SPLICED.finditer(text):
        indent = text[text.rfind("\n", 0, found.start()) + 1:found.start()]
        indent = indent[:len(indent) - len(indent.lstrip(" "))]
        out += [text[done:found.start()], spliced[int(found.group(1))].json().replace("\n", "\n" + indent)]
        done = found.end()
    return "".join(out) + text[done:]


def product_dict(answer) -> dict:
    """The ``product`` object of ``rate --hts --format json``: the evaluated ``ProductAnswer``.

    Totals are null where the lines under the code differ (``varies``); the ranges and the
    ``lines`` list (each line's own totals and the layers charged on it) say how."""
    mfn = answer.mfn

    def span(name):
        pair = answer.range(name)
        return None if pair is None else [pair[0], pair[1]]

    charged = answer.line_layers if answer.line_layers is not None else pd.DataFrame(columns=["code"])
    by_line = {code: {row.layer_id: number(row.charged) for row in rows.itertuples() if row.applies}
               for code, rows in charged.groupby("code")}
    return {
        "code": answer.code,
        "description": answer.description or None,
        "mfn_rate": number(answer.mfn_rate),
        "mfn_text": None if mfn is None else mfn.general,
        "mfn_basis": None if mfn is None else mfn.basis,
        "schedule": None if mfn is None else mfn.vintage.label,
        "exported": None if answer.exported is None else answer.exported.isoformat(),
        "additional_rate": number(answer.additional_rate),
        "total_rate": number(answer.total_rate),
        "additional_rate_if_waived": number(answer.additional_if_waived),
        "varies": answer.varies,
        "additional_range": span("additional"),
        "total_range": span("total"),
        "layers": [
            {
                "id": row.layer_id, "name": row.name, "authority": row.authority, "scope": row.scope,
                "rate": number(row.rate), "status": row.status, "applies": bool(row.applies),
                "charged": number(row.charged), "varies": bool(row.varies),
                "charged_range": [number(row.low), number(row.high)] if row.varies else None,
                "lines_applying": int(row.lines_applying), "waivable": bool(row.waivable), "reason": row.reason,
                "confidence": row.confidence, "conditional": bool(row.conditional),
                "condition": row.condition or None, "content": row.content or None,
                "content_share": number(row.content_share), "content_basis": row.content_basis or None,
            }
            for row in answer.layers.itertuples()
        ],
        "lines": [
            {"code": row.line, "description": row.description or None, "mfn_rate": number(row.mfn_rate),
             "additional_rate": number(row.additional_rate), "total_rate": number(row.total_rate),
             "charged": by_line.get(row.line, {})}
            for row in answer.lines.itertuples()
        ],
        "notes": answer.notes,
    }


def product_csv(frames) -> str:
    from .products import PRODUCT_EXPORT_COLUMNS

    return frame_to_csv(pd.concat(frames, ignore_index=True), PRODUCT_EXPORT_COLUMNS)


def product_json(frames) -> str:
    from .products import PRODUCT_EXPORT_COLUMNS

    frame = pd.concat(frames, ignore_index=True)
    numeric = ("rate", "charged", "mfn_rate", "additional_rate", "total_rate")
    records = []
    for row in frame.itertuples(index=False):
        record = {}
        for column in PRODUCT_EXPORT_COLUMNS:
            value = getattr(row, column)
            if column in numeric:
                record[column] = number(value)
            elif column in ("applies", "waivable", "varies", "conditional"):
                record[column] = bool(value)
            elif column == "date":
                record[column] = _day(value)
            else:
                record[column] = _text(value)
        records.append(record)
    return to_json(records)


def product_diff_dict(diff) -> dict:
    before, after = diff.before, diff.after
    return {
        "code": diff.code,
        "direction": after.direction.key, "imposer": after.direction.imposer, "origin": after.direction.origin,
        "date_from": before.date.isoformat(), "date_to": after.date.isoformat(),
        "total_from": number(before.total_rate), "total_to": number(after.total_rate),
        "additional_from": number(before.additional_rate), "additional_to": number(after.additional_rate),
        "mfn_from": number(before.mfn_rate), "mfn_to": number(after.mfn_rate),
        "changes": [
            {"id": r.layer_id, "name": r.name, "old_rate": number(r.old_rate), "new_rate": number(r.new_rate),
             "delta": number(r.delta), "old_reason": r.old_reason, "new_reason": r.new_reason}
            for r in diff.changes.itertuples()
        ],
    }


PRODUCT_DIFF_COLUMNS = ["code", "date_from", "date_to", "direction", "imposer", "origin", "layer_id", "name",
                        "old_rate", "new_rate", "delta", "old_reason", "new_reason"]


def product_diff_csv(diffs) -> str:
    parts = []
    for diff in diffs:
        before, after = diff.before, diff.after
        total = pd.DataFrame([{
            "layer_id": "", "name": "Total (MFN + additional)", "old_rate": before.total_rate,
            "new_rate": after.total_rate,
            "delta": None if before.total_rate is None or after.total_rate is None else after.total_rate - before.total_rate,
            "old_reason": "", "new_reason": "",
        }])
        part = pd.concat([total, diff.changes], ignore_index=True)
        part["code"], part["date_from"], part["date_to"] = diff.code, before.date.isoformat(), after.date.isoformat()
        part["direction"], part["imposer"], part["origin"] = after.direction.key, after.direction.imposer, after.direction.origin
        parts.append(part)
    return frame_to_csv(pd.concat(parts, ignore_index=True), PRODUCT_DIFF_COLUMNS)


def average_dict(row) -> dict:
    """The keys `rate --average --format json` adds to a direction object."""
    return {
        "average_rate": number(row["average_rate"]),
        "additional_average": number(row["additional_average"]),
        "coverage": number(row["coverage"]),
        "mfn_unknown_share": number(row["mfn_unknown_share"]),
        "weights": row["weights"],
        "convention": row["convention"],
    }


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("average_rate", "additional_average"):
        out[column] = out[column].round(3)
    for column in ("coverage", "mfn_unknown_share"):
        out[column] = out[column].round(4)
    return out


def averages_csv(frame: pd.DataFrame) -> str:
    return frame_to_csv(_rounded(frame), AVERAGE_COLUMNS)


def averages_json(frame: pd.DataFrame) -> str:
    same = lambda value: value  # noqa: E731
    return records_json(_rounded(frame), {
        "date": _day, "direction": same, "imposer": same, "origin": same, "average_rate": number,
        "additional_average": number, "coverage": number, "mfn_unknown_share": number, "weights": same,
    })


def events_csv(frame: pd.DataFrame) -> str:
    out = frame.copy()
    out["average_rate"] = out["average_rate"].astype(float).round(3)
    return frame_to_csv(out, EVENT_COLUMNS)


def events_json(frame: pd.DataFrame) -> str:
    same = lambda value: value  # noqa: E731
    return records_json(frame, {
        "date": _day, "direction": same, "imposer": same, "origin": same, "changes": same,
        "headline": number,
        "average_rate": lambda value: None if value is None else number(round(float(value), 3)),
    })


# -- duties over a ledger (tariffcalc duty) ------------------------------------------------

# The per-entry writers live beside the ledger code (``ledger_out``); these names stay here for
# callers of ``export``, loaded on first use (``rate`` does not import the pricing modules).
LEDGER_WRITERS = ("duty_csv_chunks", "duty_run_csv", "rejects_path", "write_duty_outputs", "write_duty_parquet",
                  "write_duty_run")


def __getattr__(name):
    if name in LEDGER_WRITERS:
        from . import ledger_out

        return getattr(ledger_out, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _money(value) -> float:
    return money.rounded(value)


def duty_summary_dict(result) -> dict:
    """The JSON summary: entries, rejected, customs_value, duty_total, mfn_unknown_entries (entries
    whose MFN duty is unknown, left out of duty_total), by_authority, ieepa_refundable, by_month,
    refunds."""
    s = result.summary
    authorities = list(s.by_authority["authority"])
    return {
        "entries": s.entries,
        "rejected": s.rejected,
        "customs_value": _money(s.customs_value),
        "duty_total": _money(s.duty_total),
        "mfn_unknown_entries": int(getattr(s, "mfn_unknown", 0)),  # not in duty_total: it is then a floor
        "by_authority": {row.authority: {"duty": _money(row.duty), "entries": int(row.entries),
                                          "status": row.status if isinstance(row.status, str) else None}
                         for row in s.by_authority.itertuples()},
        "ieepa_refundable": _money(s.ieepa_refundable),
        "by_month": [{"month": row["month"], "entries": int(row["entries"]),
                      "customs_value": _money(row["customs_value"]), "duty_total": _money(row["duty_total"]),
                      "by_authority": {a: _money(row[a]) for a in authorities}}
                     for row in s.by_month.to_dict("records")],
        "refunds": refunds_dict(s.refunds),
    }


# The keys of an entry due within 30 days, in order, each with its JSON value from the cell.
DUE_ENCODERS = {"entry_id": lambda v: v, "route": lambda v: v, "deadline": _day, "days_left": int, "duty": _money,
                "interest": _money}


def refunds_dict(r) -> dict:
    """The refunds on the as-of date: by route, the total (their sum), the entries due within 30
    days (deadline order), the programs met with their litigation status, the notes."""
    return {
        "as_of": r.as_of.isoformat(),
        "by_route": {row.route: {"entries": int(row.entries), "duty": _money(row.duty), "interest": _money(row.interest),
                                 "confidence": row.confidence}
                     for row in r.by_route.itertuples()},
        "total": {"entries": int(r.by_route["entries"].sum()), "duty": _money(r.duty), "interest": _money(r.interest)},
        "due_within_30_days": Records(r.due, DUE_ENCODERS),
        "interest_through": _day(r.interest_through) if r.interest_through else None,
        "programs": [{"id": p.id, "name": p.name, "entries": entries, "duty": _money(duty),
                      "mechanism": " ".join(p.mechanism.split()), "litigation": p.litigation.status,
                      "status": " ".join(p.litigation.summary.split()), "confidence": p.confidence}
                     for p, entries, duty in r.programs],
        "notes": list(r.notes),
    }
