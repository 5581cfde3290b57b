"""Duties over an import ledger: per entry and layer, totals by authority and month, IEEPA refunds.

``read_ledger`` reads a CSV of entries in chunks and checks every row (``LEDGER.csv:ROW: reason``).
``compute_duties`` prices every entry with the product engine, vectorized: rates are constant
between change dates, so each entry date is mapped to the last change date on or before it, and
codes that the data treats alike (the same list rows, exemptions and rules) share one evaluation.
So ``evaluate`` runs once per (kind of code, change date) — the reasons are its own words, as in
``rate --hts`` — and the entries pick their rows from it with integer indexing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from .codes import code_problem
from .engine import EARLIEST, LATEST, direction_with_origin
from .errors import TariffcalcError
from .model import DIRECTIONS, Direction
from .products import ProductEngine, evaluate

FIELDS = ("entry_id", "entry_date", "hts", "origin", "customs_value", "export_date", "quantity")
REQUIRED = FIELDS[:5]
DIRECTION_OF_ORIGIN = {"CN": "us", "HK": "us", "MO": "us", "US": "cn"}
CURRENCY = {"US": "USD", "CN": "CNY"}
CHUNK_ROWS = 250_000
_CLEAN = re.compile(r"[\s.\-]")


class LedgerError(TariffcalcError):
    """A ledger file or one of its rows cannot be used: ``LEDGER.csv:ROW: reason``."""

    def __init__(self, path, row: int | None, reason: str):
        self.path, self.row, self.reason = str(path), row, reason
        super().__init__(f"{self.path}:{row}: {reason}" if row else f"{self.path}: {reason}")


def parse_columns(specs) -> dict[str, str]:
    """``["entry_date=Date,hts=HTS"]`` -> ``{"entry_date": "Date", "hts": "HTS"}`` (field -> CSV column)."""
    mapping = {}
    for spec in [specs] if isinstance(specs, str) else (specs or ()):
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, column = item.partition("=")
            name, column = name.strip(), column.strip()
            if not sep or not column:
                raise TariffcalcError(f"--columns: {item!r} is not FIELD=COLUMN")
            if name not in FIELDS:
                raise TariffcalcError(f"--columns: unknown field {name!r} (fields: {', '.join(FIELDS)})")
            mapping[name] = column
    return mapping


@dataclass
class Ledger:
    """The good rows of a ledger (typed) and the rejected ones (with their reason)."""

    path: str
    direction: str  # us | cn
    entries: pd.DataFrame  # row, entry_id, entry_date, export_date, origin, code, customs_value, quantity
    rejects: pd.DataFrame  # row, reason, then the ledger's own columns as read
    names: dict  # field -> the ledger's column name


# -- reading ---------------------------------------------------------------------------------

NUMBERS = ("customs_value", "quantity")


def _distinct(text: pd.Series, convert) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``convert`` to each distinct stripped string once; return (values per row, text per row)."""
    codes, uniques = pd.factorize(text.to_numpy(dtype=object))  # blank cells: -1, the last value below
    stripped = pd.Series(list(uniques) + [""], dtype=object).str.strip()
    values = convert(stripped)
    return values[codes], stripped.to_numpy(dtype=object)[codes]


def _parse_dates(stripped: pd.Series) -> np.ndarray:
    parsed = pd.to_datetime(pd.Index(stripped, dtype=object), format="%Y-%m-%d", errors="coerce")
    return np.asarray(parsed, dtype="datetime64[ns]")


def _number(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats, and whether the cell was blank (pandas already parsed clean numeric columns)."""
    if column.dtype.kind == "f" or column.dtype.kind in "iu":
        values = column.to_numpy(dtype=float)
        return values, np.isnan(values)
    text = column.fillna("").astype(str).str.strip()
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float), (text == "").to_numpy()


def _check(raw: pd.DataFrame, names: dict, direction: str) -> tuple[pd.DataFrame, pd.Series]:
    """Typed columns of a chunk and the reason each row is bad ('' if good), first problem first.

    Checks are vectorized masks; messages are built only for the rows that fail."""
    def column(f):
        return raw[names[f]] if f in names else pd.Series(np.nan, index=raw.index, dtype=object)

    ids = column("entry_id").to_numpy(dtype=object)
    ids = np.where(pd.isna(ids), "", ids)
    entry_date, entry_text = _distinct(column("entry_date"), _parse_dates)
    export_date, export_text = _distinct(column("export_date"), _parse_dates)
    hts, _ = _distinct(column("hts"), lambda s: np.array(
        [(_CLEAN.sub("", t), code_problem(t)) for t in s] or np.empty((0, 2)), dtype=object))
    code, problem = (hts[:, 0], hts[:, 1]) if len(hts) else (np.array([], dtype=object),) * 2
    origin, _ = _distinct(column("origin"), lambda s: s.str.upper().to_numpy(dtype=object))
    value, value_blank = _number(column("customs_value"))
    quantity, quantity_blank = _number(column("quantity"))
    def text(values):  # plain object columns: no conversion to pandas' string dtype per chunk
        return pd.Series(values, index=raw.index, dtype=object)

    typed = pd.DataFrame({"row": raw["_row"].to_numpy(), "entry_id": text(ids),
                          "entry_date": entry_date, "export_date": export_date, "origin": text(origin),
                          "code": text(code), "customs_value": value, "quantity": quantity}, index=raw.index)

    with np.errstate(invalid="ignore"):
        known = pd.Series(origin).isin(list(DIRECTION_OF_ORIGIN)).to_numpy()
        wanted = known if direction == "both" else (pd.Series(origin).map(DIRECTION_OF_ORIGIN) == direction).to_numpy()
        masks = [
            ids == "",
            np.isnat(entry_date),
            (entry_date < np.datetime64(EARLIEST)) | (entry_date > np.datetime64(LATEST)),
            pd.notna(problem),
            ~wanted,
            ~np.isfinite(value),
            value < 0,
            (export_text != "") & np.isnat(export_date),
            export_date > entry_date,
            ~quantity_blank & (~np.isfinite(quantity) | (quantity < 0)),
        ]
    first = np.select(masks, list(range(1, len(masks) + 1)), default=0)
    reasons = pd.Series("", index=raw.index, dtype=object)
    bad = np.flatnonzero(first)
    if len(bad):
        col = {f: names.get(f, f) for f in FIELDS}
        allowed = ", ".join(o for o, d in DIRECTION_OF_ORIGIN.items() if direction in ("both", d))
        cell = {f: np.array(["" if pd.isna(v) else f"{v:g}" if isinstance(v, float) else str(v)
                             for v in column(f).iloc[bad].to_numpy(dtype=object)], dtype=object) for f in FIELDS}
        messages = []
        for n, (i, kind) in enumerate(zip(bad, first[bad])):
            text = {f: cell[f][n].strip() for f in FIELDS}
            messages.append({
                1: f"{col['entry_id']} is empty",
                2: f"{col['entry_date']} {text['entry_date']!r} is not a date (YYYY-MM-DD)",
                3: f"{col['entry_date']} {text['entry_date']} is outside the range tariffcalc covers ({EARLIEST} to {LATEST})",
                4: f"{col['hts']}: {problem[i]}",
                5: f"{col['origin']} {text['origin']!r} is not an origin of this ledger (use {allowed})",
                6: f"{col['customs_value']} {text['customs_value']!r} is not a number",
                7: f"{col['customs_value']} {text['customs_value']} is negative",
                8: f"{col['export_date']} {text['export_date']!r} is not a date (YYYY-MM-DD)",
                9: f"{col['export_date']} {text['export_date']} is after {col['entry_date']} {text['entry_date']}",
                10: f"{col['quantity']} {text['quantity']!r} is not a number of 0 or more",
            }[int(kind)])
        reasons.iloc[bad] = messages
    return typed, reasons


def _strict(reader):
    """pandas drops the extra fields of rows longer than the header with only a warning."""
    import warnings

    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                chunk = next(reader)
            except StopIteration:
                return
            except pd.errors.ParserWarning:
                raise pd.errors.ParserError("a row has more fields than the header") from None
        yield chunk


def _chunks(path, chunk_rows: int, progress, numbers=NUMBERS):
    import os

    total = os.path.getsize(path)
    with open(path, "rb") as handle:
        try:
            header = pd.read_csv(handle, nrows=0, encoding="utf-8-sig").columns
            handle.seek(0)
            text = {c: object for c in header if c not in numbers}  # numbers: pandas parses clean columns itself
            reader = pd.read_csv(handle, dtype=text, keep_default_na=False, na_values=[""], encoding="utf-8-sig", index_col=False,
                                 skip_blank_lines=False, chunksize=chunk_rows)
            first = 2  # line 1 is the header
            for raw in _strict(reader):
                raw = raw.reset_index(drop=True)
                raw["_row"] = np.arange(first, first + len(raw))
                first += len(raw)
                if progress:
                    progress("read", min(handle.tell(), total), total)
                yield raw
        except pd.errors.EmptyDataError:
            raise LedgerError(path, None, "the file is empty (a header line is needed)") from None
        except pd.errors.ParserError as exc:
            found = re.search(r"line (\d+), saw (\d+)", str(exc))
            expected = re.search(r"Expected (\d+) fields", str(exc))
            if found and expected:
                raise LedgerError(path, int(found.group(1)),
                                  f"expected {expected.group(1)} fields, saw {found.group(2)}") from None
            raise LedgerError(path, None, f"not a readable CSV file: {str(exc).strip()}") from None
        except UnicodeDecodeError as exc:
            raise LedgerError(path, None, f"not UTF-8 text: {exc.reason}") from None


def read_ledger(path, columns=None, direction: str = "both", skip_bad: bool = False,
                chunk_rows: int = CHUNK_ROWS, progress=None) -> Ledger:
    """Read and check a ledger. Without ``skip_bad`` the first bad row raises ``LedgerError``.

    ``columns`` maps fields to the ledger's column names (``parse_columns``); ``direction`` is
    ``us`` (the US on goods from CN/HK/MO), ``cn`` (China on US goods) or ``both`` (taken from
    the origins, which must then all belong to one direction: amounts are in the imposer's currency).
    """
    names = parse_columns(columns) if not isinstance(columns, dict) else dict(columns)
    good, bad, header = [], [], None
    numbers = {names.get(f, f) for f in NUMBERS}
    for raw in _chunks(path, chunk_rows, progress, numbers):
        if header is None:
            header = [c for c in raw.columns if c != "_row"]
            for f, column in names.items():
                if column not in header:
                    raise LedgerError(path, 1, f"no column {column!r} (mapped from {f}); columns: {', '.join(header)}")
            names = {f: names.get(f, f) for f in FIELDS if names.get(f, f) in header}
            missing = [f for f in REQUIRED if f not in names]
            if missing:
                raise LedgerError(path, 1, f"missing column {missing[0]!r} (map another name with "
                                           f"--columns {missing[0]}=NAME); columns: {', '.join(header)}")
        maybe = raw[names["entry_id"]].isna().to_numpy()
        if maybe.any():  # blank lines (a row is blank only if its entry_id is)
            raw = raw[~(maybe & raw[header].isna().all(axis=1).to_numpy())]
        typed, reasons = _check(raw, names, direction)
        is_bad = reasons != ""
        if is_bad.any():
            if not skip_bad:
                first = int(is_bad.to_numpy().argmax())
                raise LedgerError(path, int(typed["row"].iloc[first]), reasons.iloc[first])
            bad.append(raw[is_bad][header].assign(row=raw.loc[is_bad, "_row"], reason=reasons[is_bad]))
        good.append(typed[~is_bad])
    if header is None:
        raise LedgerError(path, None, "the file is empty (a header line is needed)")
    entries = pd.concat(good, ignore_index=True) if good else _check(pd.DataFrame(columns=[*names.values(), "_row"]), names, direction)[0]
    repeated = entries["entry_id"].duplicated(keep="first")
    if repeated.any():
        first_row = entries.drop_duplicates("entry_id").set_index("entry_id")["row"]
        dup = entries[repeated]
        reasons = (names["entry_id"] + " " + dup["entry_id"] + " repeats row "
                   + dup["entry_id"].map(first_row).astype(str))
        if not skip_bad:
            raise LedgerError(path, int(dup["row"].iloc[0]), reasons.iloc[0])
        bad.append(pd.DataFrame({"row": dup["row"], "reason": reasons}))  # raw values: see the first row
        entries = entries[~repeated]
    rejects = pd.concat(bad, ignore_index=True) if bad else pd.DataFrame(columns=["row", "reason", *header])
    rejects = rejects.sort_values("row", kind="stable").reindex(columns=["row", "reason", *header])
    found = sorted({DIRECTION_OF_ORIGIN[o] for o in entries["origin"].unique()})
    if direction == "both":
        if len(found) > 1:
            raise LedgerError(path, None, "the ledger mixes goods from the US (China's duties, CNY) with goods "
                                          "from CN/HK/MO (US duties, USD): run with --direction us, then --direction cn")
        direction = found[0] if found else "us"
    return Ledger(str(path), direction, entries.reset_index(drop=True), rejects.reset_index(drop=True), names)


# -- MFN -------------------------------------------------------------------------------------

_SPECIFIC = re.compile(
    r"^\s*(?:(?P<cents>\d+(?:\.\d+)?)\s*¢|\$\s*(?P<dollars>\d+(?:\.\d+)?))\s*/\s*"
    r"(?P<unit>kg|g|t|liter|l|bbl|pr\.|doz\.|doz\. pr\.|No\.|m|m2|m3|gross|pf\. liter|proof liter|clean kg|cu\. m\.?)"
    r"(?:\s*\+\s*(?P<adv>\d+(?:\.\d+)?)\s*%)?\s*$"
)


def parse_specific(text: str) -> tuple[float, str, float] | None:
    """``'30.5¢/kg + 8.5%'`` -> (0.305 dollars per unit, 'kg', 8.5); None unless the whole text is
    one specific duty (cents or dollars per one unit) plus at most one ad-valorem part."""
    found = _SPECIFIC.match(str(text))
    if not found:
        return None
    per_unit = float(found["cents"]) / 100 if found["cents"] else float(found["dollars"])
    return per_unit, found["unit"], float(found["adv"] or 0)


def _mfn(products: ProductEngine, imposer: str, codes: np.ndarray, days: np.ndarray) -> pd.DataFrame:
    """MFN per distinct (code, day): rate (ad valorem or its equivalent), text, basis, specific part."""
    schedules = products.schedules
    rows = []
    for day in pd.DatetimeIndex(np.unique(days)):
        vintage = schedules.vintage_on(imposer, day.date())
        chosen = codes[days == day.to_datetime64()]
        if vintage is None:
            rows += [(c, day, np.nan, None, "unknown", f"no {imposer} schedule in the data") for c in chosen]
            continue
        table = schedules.table(vintage)
        exact = table.index.get_indexer(chosen)
        parent = table.index.get_indexer([c[:8] if len(c) == 10 else "-" for c in chosen])
        at = np.where(exact >= 0, exact, parent)
        found = at >= 0
        lines = table.iloc[at[found]]
        rates = lines["ad_valorem"].where(lines["ad_valorem"].notna(), lines["ave"]).to_numpy(dtype=float)
        parents = np.flatnonzero(exact[found] < 0)
        notes = np.full(int(found.sum()), "", dtype=object)
        notes[parents] = [f"; {c} is not in {vintage.label}: its 8-digit line {c[:8]} used" for c in chosen[found][parents]]
        labels = "MFN " + lines["general"].to_numpy(dtype=object) + f" ({vintage.label}" + notes + ")"
        rows += list(zip(chosen[found], [day] * int(found.sum()), rates, lines["general"].to_numpy(dtype=object),
                         lines["basis"].to_numpy(dtype=object), labels))
        for code in chosen[~found]:  # a short code: the single-product rules (lines under it)
            if len(code) == 10:
                rows.append((code, day, np.nan, None, "unknown",
                             f"MFN unknown: {code} is not in {vintage.label} (renumbered, or not a line of it)"))
                continue
            mfn, _v, note = schedules.mfn(imposer, code, day.date())
            if mfn is None:
                rows.append((code, day, np.nan, None, "unknown", f"MFN unknown: {note}"))
            else:
                rows.append((code, day, np.nan if mfn.rate is None else mfn.rate, mfn.general, mfn.basis,
                             f"MFN {mfn.general} ({vintage.label}{'; ' + note if note else ''})"))
    frame = pd.DataFrame(rows, columns=["code", "day", "mfn_rate", "general", "basis", "label"])
    specific = frame["general"].map(lambda g: parse_specific(g) if imposer == "US" and g else None)
    frame["per_unit"] = specific.map(lambda s: s[0] if s else np.nan)
    frame["unit"] = specific.map(lambda s: s[1] if s else "")
    frame["spec_adv"] = specific.map(lambda s: s[2] if s else np.nan)
    return frame


def _mfn_duties(entries: pd.DataFrame, mfn: pd.DataFrame, at: np.ndarray):
    """Per entry (``at``: its row of ``mfn``): MFN rate shown, MFN duty (NaN if it cannot be
    computed) and reason; plus notes."""
    value, quantity = entries["customs_value"].to_numpy(), entries["quantity"].to_numpy()
    ave = mfn["basis"].astype(str).str.startswith("ave").to_numpy()[at]
    rate, per_unit, spec_adv = (mfn[c].to_numpy(dtype=float)[at] for c in ("mfn_rate", "per_unit", "spec_adv"))
    reason = mfn["label"].to_numpy(dtype=object)[at]
    specific = ~np.isnan(per_unit)
    by_quantity = specific & ~np.isnan(quantity)
    duty = value * rate / 100
    duty[by_quantity] = quantity[by_quantity] * per_unit[by_quantity] + value[by_quantity] * spec_adv[by_quantity] / 100
    reason[by_quantity] = (reason[by_quantity] + ": quantity " + entries["quantity"][by_quantity].map("{:g}".format)
                           + " " + mfn["unit"].to_numpy(dtype=object)[at][by_quantity] + " (in the unit of the duty)").to_numpy()
    is_ave = ave & ~by_quantity & ~np.isnan(rate)
    reason[is_ave] = reason[is_ave] + np.where(
        specific[is_ave], "; specific/compound duty not computed (no quantity): ad-valorem equivalent used",
        "; specific/compound duty not computed: ad-valorem equivalent used")
    unknown = np.isnan(duty)
    reason[unknown] = reason[unknown] + ("; MFN duty not computed (not ad valorem, no ad-valorem equivalent"
                                         + np.where(specific[unknown], ", no quantity)", ")"))
    notes = []
    if is_ave.any():
        notes.append(f"{_entries(int(is_ave.sum()))} have a specific or compound MFN duty that was not computed: "
                     "the ad-valorem equivalent was used (give quantity, in the unit of the duty, for simple ones)")
    if unknown.any():
        notes.append(f"{_entries(int(unknown.sum()))} have an MFN duty the data cannot compute (specific/compound "
                     "without quantity or equivalent, or a code not in the schedule): left out of the totals")
    if by_quantity.any():
        notes.append(f"{_entries(int(by_quantity.sum()))} have a specific MFN duty computed from quantity")
    shown = np.where(by_quantity, np.where(value > 0, duty / np.where(value > 0, value, 1) * 100, np.nan), rate)
    return shown, duty, reason, notes


# -- duties ----------------------------------------------------------------------------------

LAYER_FIELDS = ["layer_id", "name", "authority", "scope", "rate", "status", "applies", "charged", "waivable",
                "reason", "confidence"]


@dataclass
class DutySummary:
    entries: int
    rejected: int
    customs_value: float
    duty_total: float
    currency: str
    by_authority: pd.DataFrame  # authority, entries, duty, status
    ieepa_refundable: float
    refund_window: tuple | None  # (first, last) entry date of IEEPA collection in the data
    by_month: pd.DataFrame  # month, entries, customs_value, duty_total, then one column per authority
    notes: list[str] = field(default_factory=list)


@dataclass
class DutyResult:
    """Every entry priced: ``entries`` (one row each, with MFN, additional and total duty) and the
    entry x layer lines as integer arrays into ``layers`` (the distinct evaluated layer rows)."""

    ledger: Ledger
    direction: Direction
    entries: pd.DataFrame
    layers: pd.DataFrame  # LAYER_FIELDS + transit_loaded, transit_entered, transit_rate
    line_entry: np.ndarray
    line_layer: np.ndarray
    line_charged: np.ndarray
    line_duty: np.ndarray
    line_transit: np.ndarray
    summary: DutySummary

    def lines(self, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Tidy: per entry (positions start..stop) an MFN row, one row per layer, a total row."""
        return lines_frame(self, start, len(self.entries) if stop is None else stop)


def _change_dates(products: ProductEngine, d: Direction) -> pd.DatetimeIndex:
    """Every date on which anything the answer for a code depends on can change."""
    steps = products.engine.direction_steps(d)
    table = products.index.table
    vintages = [pd.Timestamp(v.start) for v in products.schedules.vintages if v.imposer == d.imposer]
    edges = pd.concat([steps["start"], steps["end"], table["start"], table["end"],
                       pd.Series(vintages + [pd.Timestamp(EARLIEST)], dtype="datetime64[ns]")]).dropna()
    edges = edges[(edges >= pd.Timestamp(EARLIEST)) & (edges <= pd.Timestamp(LATEST))]
    return pd.DatetimeIndex(edges.unique()).sort_values()


def _signatures(products: ProductEngine, codes: pd.Index, layer_ids) -> tuple[np.ndarray, list[str]]:
    """Codes the data treats alike (same list rows, exemptions, dates) share a signature; a code
    shorter than a list's rows is resolved from its own schedule lines, so it is its own kind."""
    found = products.index.matches(codes)
    found = found[found["layer_id"].isin(layer_ids)]
    text = pd.Series("", index=found.index, dtype=object)
    for name in ("layer_id", "role", "set_name", "start", "end", "match"):
        text = text + "|" + found[name].astype(str).fillna("").to_numpy(dtype=object)
    found = found.assign(_k=text).sort_values(["code", "_k"])
    signature = found.groupby("code", sort=False)["_k"].agg("\n".join)
    partial = found.loc[found["match"] == "partial", "code"].unique()
    signature.loc[partial] = "partial:" + pd.Series(partial, index=partial, dtype=object)
    per_code = pd.Series(codes, dtype=object).map(signature).fillna("").to_numpy(dtype=object)
    ids, _ = pd.factorize(per_code)
    first = pd.Series(np.arange(len(ids))).groupby(ids).first().to_numpy()
    return ids, [codes[i] for i in first]


def _transit_rules(products: ProductEngine) -> dict:
    return {(layer.id, number): step.in_transit for layer in products.engine.dataset.layers
            for number, step in enumerate(layer.steps, 1) if step.in_transit is not None}


def _price_origin(products, d, entries, positions, all_code_ids, all_codes, include_threatened):
    """Evaluate the layers for the entries of one origin: (layer rows with key, key per entry)."""
    changes = _change_dates(products, d)
    period = np.searchsorted(changes.to_numpy(), entries["entry_date"].to_numpy()[positions], side="right") - 1
    here = np.flatnonzero(np.bincount(all_code_ids[positions], minlength=len(all_codes)))
    renumber = np.zeros(len(all_codes), dtype=np.int64)
    renumber[here] = np.arange(len(here))
    code_ids, codes = renumber[all_code_ids[positions]], np.asarray(all_codes, dtype=object)[here]
    layer_ids = set(products.engine.direction_steps(d)["layer_id"])
    sig_of_code, reps = _signatures(products, pd.Index(codes), layer_ids)
    n_periods = len(changes)
    keys = sig_of_code[code_ids].astype(np.int64) * n_periods + period
    used = np.flatnonzero(np.bincount(period, minlength=n_periods))
    frame = evaluate(products.engine, products.index, reps, changes[used], d, include_threatened)
    frame["key"] = (pd.Index(reps).get_indexer(frame["code"]).astype(np.int64) * n_periods
                    + changes.get_indexer(pd.to_datetime(frame["date"])))
    present = np.bincount(keys, minlength=(int(sig_of_code.max(initial=0)) + 1) * n_periods) > 0
    frame = frame[present[frame["key"].to_numpy()]]
    partly = frame["reason"].str.startswith("partly covered")
    if partly.any():
        resolved = [products._resolve_partial(code, day, d, include_threatened, group)
                    for (code, day), group in frame[frame["key"].isin(frame.loc[partly, "key"])].groupby(["code", "date"])]
        frame = pd.concat([frame[~frame["key"].isin(frame.loc[partly, "key"])], *resolved])
    states = products.engine.states(changes[used], d, include_threatened)[["date", "layer_id", "step"]]
    states["date"] = states["date"].dt.date
    frame = frame.merge(states, on=["date", "layer_id"], how="left")
    rules = _transit_rules(products)
    transit = [rules.get((layer, step)) for layer, step in zip(frame["layer_id"], frame["step"])]
    frame["transit_loaded"] = pd.to_datetime([t.loaded_before if t else None for t in transit])
    frame["transit_entered"] = pd.to_datetime([t.entered_before if t else None for t in transit])
    frame["transit_rate"] = [t.rate if t else np.nan for t in transit]
    return frame.sort_values("key", kind="stable"), keys, sig_of_code.max(initial=0) + 1, n_periods


def compute_duties(ledger: Ledger, products: ProductEngine, include_threatened: bool = False) -> DutyResult:
    """Price every entry of ``ledger``: MFN, each layer bearing on it (with the reason), the totals."""
    base = DIRECTIONS[ledger.direction]
    entries = ledger.entries.copy()
    n = len(entries)
    key = np.zeros(n, dtype=np.int64)
    parts, offset = [], 0
    code_ids, codes = pd.factorize(entries["code"])
    for origin, positions in sorted(entries.groupby("origin").indices.items()):
        d = direction_with_origin(ledger.direction, origin)
        frame, keys, n_sigs, n_periods = _price_origin(products, d, entries, positions, code_ids, codes,
                                                       include_threatened)
        frame["key"] += offset
        key[positions] = keys + offset
        parts.append(frame)
        offset += int(n_sigs) * n_periods
    columns = LAYER_FIELDS + ["transit_loaded", "transit_entered", "transit_rate", "key"]
    layers = (pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns))
    layers = layers.sort_values("key", kind="stable").reset_index(drop=True)

    per_key = np.bincount(layers["key"].to_numpy(dtype=np.int64), minlength=offset)  # keys are sorted
    start = (np.cumsum(per_key) - per_key)[key]
    counts = per_key[key]
    line_entry = np.repeat(np.arange(n), counts)
    within = np.arange(len(line_entry)) - np.repeat(np.cumsum(counts) - counts, counts)
    line_layer = np.repeat(start, counts) + within

    applies = layers["applies"].to_numpy(dtype=bool)[line_layer]
    transit_rate = layers["transit_rate"].to_numpy(dtype=float)[line_layer]
    exported = entries["export_date"].to_numpy("datetime64[ns]")[line_entry]
    entered = entries["entry_date"].to_numpy("datetime64[ns]")[line_entry]
    line_transit = (applies & ~np.isnan(transit_rate)
                    & (exported < layers["transit_loaded"].to_numpy("datetime64[ns]")[line_layer])
                    & (entered < layers["transit_entered"].to_numpy("datetime64[ns]")[line_layer]))
    line_charged = np.where(line_transit, transit_rate, layers["charged"].to_numpy(dtype=float)[line_layer])
    value = entries["customs_value"].to_numpy(dtype=float)
    line_duty = value[line_entry] * line_charged / 100

    period_day = np.asarray(entries["entry_date"].to_numpy("datetime64[ns]"))
    days = _mfn_days(products, base.imposer, period_day)
    day_ids, day_values = pd.factorize(days)
    pair = code_ids.astype(np.int64) * max(len(day_values), 1) + day_ids
    used = np.flatnonzero(np.bincount(pair, minlength=len(codes) * len(day_values)))
    distinct = pd.DataFrame({"code": np.asarray(codes, dtype=object)[used // max(len(day_values), 1)],
                             "day": np.asarray(day_values)[used % max(len(day_values), 1)]})
    mfn = _mfn(products, base.imposer, distinct["code"].to_numpy(dtype=object), distinct["day"].to_numpy())
    mfn = distinct.merge(mfn, on=["code", "day"], how="left")  # in the order of ``used``
    position = np.zeros(len(codes) * max(len(day_values), 1), dtype=np.int64)
    position[used] = np.arange(len(used))
    mfn_rate, mfn_duty, mfn_reason, notes = _mfn_duties(entries, mfn, position[pair])

    additional = np.bincount(line_entry, weights=line_duty, minlength=n)
    entries["mfn_rate"], entries["mfn_duty"], entries["mfn_reason"] = mfn_rate, mfn_duty, mfn_reason
    entries["additional_duty"] = additional
    entries["duty_total"] = additional + np.nan_to_num(mfn_duty)
    with np.errstate(divide="ignore", invalid="ignore"):
        entries["total_rate"] = np.where(value > 0, entries["duty_total"] / value * 100, np.nan)
    result = DutyResult(ledger, base, entries, layers, line_entry, line_layer, line_charged, line_duty,
                        line_transit, summary=None)
    result.summary = _summarize(result, products, notes)
    return result


def _mfn_days(products: ProductEngine, imposer: str, days: np.ndarray) -> np.ndarray:
    """The start of the schedule vintage in force on each day (MFN changes only between vintages)."""
    starts = sorted(pd.Timestamp(v.start).to_datetime64() for v in products.schedules.vintages if v.imposer == imposer)
    if not starts:
        return np.full(len(days), np.datetime64(pd.Timestamp(EARLIEST)), dtype="datetime64[ns]")
    starts = np.array(starts, dtype="datetime64[ns]")
    return starts[np.maximum(np.searchsorted(starts, days, side="right") - 1, 0)]


def _count_entries(positions: np.ndarray, n: int) -> int:
    return int(np.count_nonzero(np.bincount(positions, minlength=n)))


def litigation_status(products: ProductEngine, authority: str, imposer: str) -> str | None:
    """The 'Litigation: …' passage of the notes of the layers of an authority, if the data has one."""
    for layer in products.engine.dataset.layers:
        if layer.authority == authority and layer.imposer == imposer and layer.note:
            found = re.search(r"Litigation:\s*(.*?)(?:\s+Sources?:|$)", layer.note, re.S)
            if found:
                return " ".join(found.group(1).split())
    return None


def refund_window(products: ProductEngine, imposer: str) -> tuple[date, date] | None:
    """First and last entry date on which IEEPA duties were collected, from the data."""
    steps = products.engine.steps
    steps = steps[(steps["imposer"] == imposer) & (steps["authority"] == "IEEPA") & (steps["status"] == "in_effect")]
    if steps.empty:
        return None
    last = LATEST if steps["end"].isna().any() else (steps["end"].max() - pd.Timedelta(days=1)).date()
    return steps["start"].min().date(), last


def _summarize(result: DutyResult, products: ProductEngine, notes: list[str]) -> DutySummary:
    from .model import AUTHORITIES

    entries, layers = result.entries, result.layers
    imposer = result.direction.imposer
    authority_codes, authorities = pd.factorize(layers["authority"])
    present = [a for a in AUTHORITIES if a in set(authorities)] + sorted(set(authorities) - set(AUTHORITIES))
    names = ["MFN", *present]
    column = np.concatenate([[0], 1 + pd.Index(present).get_indexer(authorities)]) if len(authorities) else np.array([0])
    line_column = column[1:][authority_codes][result.line_layer] if len(result.line_layer) else np.array([], dtype=int)
    mfn_duty = np.nan_to_num(entries["mfn_duty"].to_numpy(dtype=float))

    months = entries["entry_date"].to_numpy("datetime64[M]").astype(np.int64)
    first_month = months.min(initial=0) if len(months) else 0
    used = np.flatnonzero(np.bincount(months - first_month)) if len(months) else np.array([], dtype=np.int64)
    lookup = np.zeros(len(used) and used[-1] + 1, dtype=np.int64)
    lookup[used] = np.arange(len(used))
    month_ids = lookup[months - first_month] if len(months) else months
    month_values = (used + first_month).astype("datetime64[M]")
    n_months, n_cols = len(month_values), len(names)
    grid = np.bincount(month_ids[result.line_entry] * n_cols + line_column, weights=result.line_duty,
                       minlength=n_months * n_cols).reshape(n_months, n_cols) if n_months else np.zeros((0, n_cols))
    grid[:, 0] = np.bincount(month_ids, weights=mfn_duty, minlength=n_months) if n_months else 0
    charged = result.line_duty > 0
    seen = np.zeros((len(entries), n_cols), dtype=bool)
    seen[result.line_entry[charged], line_column[charged]] = True
    counts = seen.sum(axis=0)
    counts[0] = int((mfn_duty > 0).sum())

    window = refund_window(products, imposer)
    refundable = 0.0
    if window and "IEEPA" in present:
        day = entries["entry_date"].to_numpy("datetime64[ns]")[result.line_entry]
        inside = (day >= np.datetime64(window[0])) & (day <= np.datetime64(window[1]))
        refundable = float(result.line_duty[inside & (line_column == names.index("IEEPA"))].sum())
    status = {a: litigation_status(products, a, imposer) for a in present}
    if window and "IEEPA" in present:
        status["IEEPA"] = (f"refundable: IEEPA duties on entries {window[0]} to {window[1]} "
                           f"({refundable:,.2f} {CURRENCY[imposer]} in this ledger)")
    by_authority = pd.DataFrame({"authority": names, "entries": counts, "duty": grid.sum(axis=0),
                                 "status": [None] + [status.get(a) for a in present]})
    by_month = pd.DataFrame({
        "month": [str(m)[:7] for m in month_values],
        "entries": np.bincount(month_ids, minlength=n_months),
        "customs_value": np.bincount(month_ids, weights=entries["customs_value"].to_numpy(float), minlength=n_months),
        "duty_total": grid.sum(axis=1),
    })
    for i, name in enumerate(names):
        by_month[name] = grid[:, i]

    verified = products.engine.dataset.verified_through.get(imposer)
    if verified is not None and len(entries) and entries["entry_date"].max() > pd.Timestamp(verified):
        notes.append(f"{imposer} data verified through {verified}; entries after that date may miss later actions")
    waivable = layers["waivable"].to_numpy(dtype=bool)[result.line_layer] & charged
    if waivable.any():
        notes.append(f"{_entries(_count_entries(result.line_entry[waivable], len(entries)))} include duties that may be waived "
                     "(exclusions granted on application): counted as charged")
    if result.line_transit.any():
        notes.append(f"an in-transit rate applied to {_entries(_count_entries(result.line_entry[result.line_transit], len(entries)))}"
                     " (exported and entered before the dates of the step)")
    return DutySummary(len(entries), len(result.ledger.rejects), float(entries["customs_value"].sum()),
                       float(entries["duty_total"].sum()), CURRENCY[imposer], by_authority, refundable, window,
                       by_month, notes)


# -- output ----------------------------------------------------------------------------------

LINE_COLUMNS = ["entry_id", "entry_date", "export_date", "direction", "imposer", "origin", "code", "customs_value",
                "quantity", "kind", "layer_id", "name", "authority", "rate", "applies", "charged", "duty", "reason"]
ENTRY_COLUMNS = ["entry_id", "entry_date", "export_date", "direction", "imposer", "origin", "code", "customs_value",
                 "quantity", "mfn_rate", "mfn_duty"]
ENTRY_TAIL = ["additional_duty", "duty_total", "total_rate", "mfn_reason"]
MONEY = ("customs_value", "duty", "mfn_duty", "additional_duty", "duty_total")
TOTAL_NAME = "Total (MFN + additional)"


def lines_frame(result: DutyResult, start: int, stop: int) -> pd.DataFrame:
    entries, layers = result.entries, result.layers
    lo, hi = np.searchsorted(result.line_entry, [start, stop])
    at = result.line_layer[lo:hi]
    reason = layers["reason"].to_numpy(dtype=object)[at].copy()
    moved = result.line_transit[lo:hi]
    if moved.any():
        picked = layers.iloc[at[moved]]
        reason[moved] = (reason[moved] + " (in transit: exported before " + picked["transit_loaded"].dt.strftime("%Y-%m-%d")
                         + " and entered before " + picked["transit_entered"].dt.strftime("%Y-%m-%d") + ": "
                         + picked["transit_rate"].map("{:g}%)".format)).to_numpy()
    chunk = entries.iloc[start:stop]
    positions = np.arange(start, stop)
    parts = [
        pd.DataFrame({"_pos": positions, "_kind": 0, "kind": "mfn", "layer_id": "mfn", "name": "MFN", "authority": "MFN",
                      "rate": chunk["mfn_rate"].to_numpy(), "applies": chunk["mfn_duty"].notna().to_numpy(),
                      "charged": chunk["mfn_rate"].to_numpy(), "duty": chunk["mfn_duty"].to_numpy(),
                      "reason": chunk["mfn_reason"].to_numpy()}),
        pd.DataFrame({"_pos": result.line_entry[lo:hi], "_kind": 1, "kind": "layer",
                      **{c: layers[c].to_numpy()[at] for c in ("layer_id", "name", "authority", "rate", "applies")},
                      "charged": result.line_charged[lo:hi], "duty": result.line_duty[lo:hi], "reason": reason}),
        pd.DataFrame({"_pos": positions, "_kind": 2, "kind": "total", "layer_id": "", "name": TOTAL_NAME, "authority": "",
                      "rate": np.nan, "applies": True, "charged": chunk["total_rate"].to_numpy(),
                      "duty": chunk["duty_total"].to_numpy(), "reason": ""}),
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.iloc[np.lexsort((frame["_kind"].to_numpy(), frame["_pos"].to_numpy()))]
    local = frame["_pos"].to_numpy() - start
    for column in ("entry_id", "entry_date", "export_date", "origin", "code", "customs_value", "quantity"):
        frame[column] = chunk[column].to_numpy()[local]
    frame["direction"], frame["imposer"] = result.direction.key, result.direction.imposer
    frame["applies"] = frame["applies"].astype(bool)
    return frame[LINE_COLUMNS].reset_index(drop=True)


def wide_columns(result: DutyResult) -> list[str]:
    """Layers that charge something on some entry, in authority then id order."""
    charged = np.unique(result.line_layer[result.line_duty != 0])
    picked = result.layers.iloc[charged][["authority", "layer_id"]].drop_duplicates()
    return list(picked.sort_values(["authority", "layer_id"])["layer_id"])


def wide_frame(result: DutyResult, start: int, stop: int, layer_columns: list[str]) -> pd.DataFrame:
    """One row per entry: MFN, the duty of each layer (columns named by layer id), totals."""
    chunk = result.entries.iloc[start:stop]
    frame = pd.DataFrame({c: chunk[c].to_numpy() for c in ENTRY_COLUMNS if c in chunk})
    frame["direction"], frame["imposer"] = result.direction.key, result.direction.imposer
    lo, hi = np.searchsorted(result.line_entry, [start, stop])
    column = pd.Index(layer_columns).get_indexer(result.layers["layer_id"].to_numpy()[result.line_layer[lo:hi]])
    keep = column >= 0
    n, k = stop - start, len(layer_columns)
    dense = np.bincount((result.line_entry[lo:hi][keep] - start) * k + column[keep],
                        weights=result.line_duty[lo:hi][keep], minlength=n * k).reshape(n, k)
    for i, name in enumerate(layer_columns):
        frame[name] = dense[:, i]
    for name in ENTRY_TAIL:
        frame[name] = chunk[name].to_numpy()
    return frame[ENTRY_COLUMNS + layer_columns + ENTRY_TAIL]


def _csv(frame: pd.DataFrame, header: bool, money=MONEY) -> str:
    """Fixed formats: dates ISO, money with 2 decimals, rates and quantities as short numbers."""
    out = frame.copy()
    for name in out.columns:
        values = out[name]
        if name in ("entry_date", "export_date"):
            text = np.datetime_as_string(values.to_numpy("datetime64[D]"), unit="D")
            out[name] = np.where(values.isna().to_numpy(), "", text)
        elif values.dtype == bool:
            out[name] = np.where(values.to_numpy(), "true", "false")
        elif name in money or (values.dtype.kind == "f" and name not in ("rate", "charged", "quantity", "mfn_rate", "total_rate")):
            out[name] = values.round(2)
        elif values.dtype.kind == "f":
            codes, uniques = pd.factorize(values)
            formatted = np.array([f"{v:g}" for v in uniques] + [""], dtype=object)
            out[name] = formatted[codes]
    return out.to_csv(index=False, header=header, lineterminator="\n", float_format="%.2f", na_rep="")


def csv_chunks(result: DutyResult, wide: bool = False, chunk_entries: int = 25_000, progress=None):
    """The per-entry CSV, piece by piece (tidy lines, or ``wide`` one row per entry)."""
    n = len(result.entries)
    layer_columns = wide_columns(result) if wide else None
    for start in range(0, max(n, 1), chunk_entries):
        stop = min(start + chunk_entries, n)
        frame = wide_frame(result, start, stop, layer_columns) if wide else lines_frame(result, start, stop)
        yield _csv(frame, header=start == 0)
        if progress:
            progress("write", stop, n)


def write_csv_atomic(chunks, path) -> None:
    """The per-entry CSV, made chunk by chunk, written whole or not at all."""
    from .export import write_atomic

    write_atomic(chunks, path)


def rejects_path(output) -> str:
    """``out.csv`` -> ``out.rejects.csv``."""
    text = str(output)
    return (text[:-4] if text.lower().endswith(".csv") else text) + ".rejects.csv"


def write_outputs(result: DutyResult, output, wide: bool = False, skip_bad: bool = False, progress=None) -> None:
    """The per-entry CSV to ``output`` and, with ``skip_bad``, the rejected rows beside it; each
    written whole or not at all."""
    from .export import write_atomic

    if skip_bad:
        write_atomic(result.ledger.rejects.to_csv(index=False, lineterminator="\n"), rejects_path(output))
    write_csv_atomic(csv_chunks(result, wide, progress=progress), output)


def _entries(count: int) -> str:
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"


def _money(value) -> float:
    return round(float(value), 2)


def summary_dict(result: DutyResult) -> dict:
    """The JSON summary: entries, rejected, customs_value, duty_total, by_authority, ieepa_refundable, by_month."""
    s = result.summary
    authorities = list(s.by_authority["authority"])
    return {
        "entries": s.entries,
        "rejected": s.rejected,
        "customs_value": _money(s.customs_value),
        "duty_total": _money(s.duty_total),
        "by_authority": {row.authority: {"duty": _money(row.duty), "entries": int(row.entries),
                                          "status": row.status if isinstance(row.status, str) else None}
                         for row in s.by_authority.itertuples()},
        "ieepa_refundable": _money(s.ieepa_refundable),
        "by_month": [{"month": row["month"], "entries": int(row["entries"]),
                      "customs_value": _money(row["customs_value"]), "duty_total": _money(row["duty_total"]),
                      "by_authority": {a: _money(row[a]) for a in authorities}}
                     for row in s.by_month.to_dict("records")],
    }


def summary_view(result: DutyResult):
    """Rich renderable: totals by authority, the refundable IEEPA amount, Section 122, by month."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

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


class _Progress:
    """A rich progress bar on stderr (only when stderr is a terminal); calls are (stage, done, total)."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar, self.tasks = enabled, None, {}

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
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


def progress_bar(enabled: bool | None = None) -> _Progress:
    """Context manager giving a progress callback, or None when stderr is not a terminal."""
    import sys

    return _Progress(sys.stderr.isatty() if enabled is None else enabled)
