"""Product-level rates: which layers apply to an HS/HTS code on a date, and why.

``ProductIndex`` turns every layer's product sets (inline codes and list files) into one table of
code prefixes. ``evaluate`` answers for many codes and dates at once with pandas joins: it never
loops over codes, and it follows only the data (coverage, exemptions, ``not_on_goods_of``,
``replaces``), never a particular layer id.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from .cache import dataset_frame
from .content import ContentEstimates, Contents, apply_content
from .engine import Engine
from .errors import QueryError
from .loader import read_list_file
from .model import CONTENTS, Dataset, Direction, ProductSet, clean_rate
from .schedule import Schedules, _objects, _timestamps, key_heads, sort_keys

RESULT_COLUMNS = [
    "code", "date", "layer_id", "name", "authority", "scope", "rate", "status", "applies",
    "charged", "waivable", "reason", "confidence", "conditional", "condition", "content", "content_share",
    "content_basis",
]
NO_ASSUMPTIONS = Contents()


def _later(a, b):
    return b if a is None else a if b is None else max(a, b)


def _earlier(a, b):
    return b if a is None else a if b is None else min(a, b)


def _key_codes(*sides: tuple[pd.DataFrame, list[str]]) -> list[np.ndarray]:
    """One int64 per row of each (frame, key columns) side, equal where the keys are equal (NaN
    equal to NaN, as merge has it): multi-column joins become integer joins."""
    sizes = [len(frame) for frame, _ in sides]
    key = np.zeros(sum(sizes), dtype=np.int64)
    for columns in zip(*(on for _, on in sides)):
        codes, uniques = pd.factorize(np.concatenate([frame[c].to_numpy() for (frame, _), c in zip(sides, columns)]),
                                      use_na_sentinel=False)
        key = pd.factorize(key * len(uniques) + codes)[0]  # renumbered: never overflows
    return np.split(key, np.cumsum(sizes)[:-1])


def _inner_join(left_key: np.ndarray, right_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left rows, right rows) of the inner join of two int64 keys, in merge's order: the left
    rows in order, each with its matches in the right's order."""
    order = np.argsort(right_key, kind="stable")
    sorted_keys = right_key[order]
    lo = np.searchsorted(sorted_keys, left_key, side="left")
    counts = np.searchsorted(sorted_keys, left_key, side="right") - lo
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(np.arange(len(left_key)), counts), order[np.repeat(lo, counts) + within]


def _joined(left: pd.DataFrame, left_rows: np.ndarray, right: pd.DataFrame, right_rows: np.ndarray,
            on: list[str]) -> pd.DataFrame:
    """The rows of an inner join on ``on`` (``_inner_join``) as merge gives them: left's columns,
    then right's but the keys (no other column in common); a key that is str on one side and
    object on the other is object."""
    if set(left.columns) & set(right.columns) - set(on):
        raise ValueError("_joined: the frames share columns other than the keys")
    out = left.iloc[left_rows].reset_index(drop=True)
    for key in on:
        if out[key].dtype != right[key].dtype and pd.api.types.is_object_dtype(right[key].dtype):
            out[key] = out[key].astype(object)
    return pd.concat([out, right.drop(columns=on).iloc[right_rows].reset_index(drop=True)], axis=1)


def _index_table(dataset: Dataset) -> pd.DataFrame:
    """The rows of ``ProductIndex.table``: every code prefix of every product set, list files read."""
    rows = []
    files: dict[str, list] = {}
    declared = dataset.conditions()
    for layer in dataset.layers:
        sets: list[tuple[str, ProductSet]] = []
        if layer.coverage.products:
            sets.append(("cover", layer.coverage.products))
        sets += [("waiver" if s.conditional else "exempt", s) for s in layer.coverage.exempt]
        for role, product_set in sets:
            name = product_set.name or layer.name
            for code in product_set.codes:
                rows.append((layer.id, role, name, code, product_set.start, product_set.end,
                             product_set.condition))
            for path in product_set.lists:
                if path not in files:
                    files[path] = read_list_file(path, declared)
                for code, start, end, _line, condition in files[path]:
                    rows.append((layer.id, role, name, code, _later(product_set.start, start),
                                 _earlier(product_set.end, end), condition or product_set.condition))
    table = pd.DataFrame(rows, columns=["layer_id", "role", "set_name", "prefix", "start", "end", "condition"])
    table["start"] = pd.to_datetime(table["start"])
    table["end"] = pd.to_datetime(table["end"])
    table = table[table["end"].isna() | table["start"].isna() | (table["start"] < table["end"])]
    table["length"] = table["prefix"].str.len()
    return table.reset_index(drop=True)


# Held while the rows ``ProductIndex.matches`` keeps are read and extended. Without it two
# threads adding codes at once could each extend the rows they read, one losing the other's:
# codes then kept as met with no rows, priced as if on no list.
_MATCHES_LOCK = threading.Lock()


class ProductIndex:
    """Every (layer, role, set, code prefix, dates) the data declares, as one DataFrame."""

    def __init__(self, dataset: Dataset):
        declared = dataset.conditions()
        # the list files are read and the table built once per content of the data files
        self.table = dataset_frame(dataset, "product-index", lambda: _index_table(dataset))
        self.conditions = declared
        self.unconfirmed_sets = {s.name or layer.name for layer in dataset.layers
                                 for s in ([layer.coverage.products] if layer.coverage.products else [])
                                 + list(layer.coverage.exempt) if s.confidence == "unconfirmed"}
        self._estimates = {imposer: ContentEstimates(path) for imposer, path in dataset.content_estimates.items()}
        self.with_products = {layer.id for layer in dataset.layers if layer.coverage.products}
        self.incomplete = {layer.id for layer in dataset.layers
                           if layer.coverage.products and not layer.coverage.products.complete}

    def content_estimates(self) -> list[ContentEstimates]:
        return list(self._estimates.values())

    def estimates(self, imposer: str) -> ContentEstimates | None:
        """The shipped content estimates of an imposer's goods, if the data has them."""
        return self._estimates.get(imposer)

    def edges(self, layer_ids) -> pd.DataFrame:
        """Dates on which a product set row of these layers starts or ends: (date, set_name, kind)."""
        rows = self.table[self.table["layer_id"].isin(set(layer_ids))]
        starts = rows.dropna(subset=["start"]).assign(date=lambda f: f["start"], kind="added")
        ends = rows.dropna(subset=["end"]).assign(date=lambda f: f["end"], kind="removed")
        both = pd.concat([starts, ends], ignore_index=True)
        return both[["date", "layer_id", "role", "set_name", "prefix", "kind"]]

    def matches(self, codes) -> pd.DataFrame:
        """Rows (code, layer_id, role, set_name, start, end, match) for every prefix hit.

        ``match`` is ``full`` when the listed prefix covers the code, ``partial`` when the code
        asked is shorter than the listed one (only some lines under it are listed).

        A code's rows depend on the table only: they are kept (``_memo``), and the rows of the
        codes asked come in the order ``_matched`` would give them for these codes at once.
        """
        asked = pd.Series(list(codes), dtype=str).unique()
        with _MATCHES_LOCK:  # partitions priced on threads (Dask) share the index: one writer at a time
            memo = self._memo()
            span = memo["span"]
            new = [code for code in asked if code not in span]
            if new:
                found = self._matched(new)
                # kept code by code: a code's rows are one slice of the rows, found in its span
                of_code = pd.Index(new).get_indexer(found["code"])
                found = found.iloc[np.argsort(of_code, kind="stable")]
                count = np.bincount(of_code, minlength=len(new))
                start = (len(memo["rows"]) if memo["rows"] is not None else 0) + np.cumsum(count) - count
                span.update(zip(new, zip(start.tolist(), (start + count).tolist())))
                if len(found):  # (an empty frame may have other dtypes: never concatenated)
                    memo["rows"] = pd.concat([memo["rows"], found], ignore_index=True) if memo["rows"] is not None \
                        else found.reset_index(drop=True)
            rows = memo["rows"]  # replaced, never changed in place: read after the lock as it is
            bounds = np.array([span[code] for code in asked], dtype=np.int64).reshape(len(asked), 2)
        count = bounds[:, 1] - bounds[:, 0]
        if rows is None or not count.sum():  # no rows: the frame as computed, with its columns' dtypes
            return self._matched(asked).drop(columns=["_length", "_n", "_row"])
        at = np.repeat(np.arange(len(asked)), count)  # the code asked of each of its rows
        mine = np.repeat(bounds[:, 0], count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        # _matched's order: by part (prefix length, then full before partial by code length),
        # then by code asked, then by row of the table
        order = mine[np.lexsort((rows["_row"].to_numpy()[mine], at, rows["_n"].to_numpy()[mine],
                                 rows["_length"].to_numpy()[mine]))]
        return rows.iloc[order].drop(columns=["_length", "_n", "_row"]).reset_index(drop=True)

    def _memo(self) -> dict:
        """The rows found so far, of the current table (a copy of the index with its table
        replaced, as a convention's, starts afresh), and each code's slice of them (``span``)."""
        memo = getattr(self, "_matches_memo", None)
        if memo is None or memo["table"] is not self.table:
            memo = self._matches_memo = {"table": self.table, "span": {}, "rows": None}
        return memo

    def _matched(self, codes) -> pd.DataFrame:
        """``matches`` computed, with the part of each row (``_length``, ``_n``: 0 for a full
        match, the code's length for a partial one) and its row of the table (``_row``), in
        ``_by_merge``'s order. Codes and prefixes of digits and capital letters are matched on
        their ``sort_keys``: a code's head of a prefix's length is its key truncated, and the
        prefixes under a shorter code a range of keys, so each code costs a few binary searches
        and not a join over the table's rows (some 20 ms a call, however few the codes asked)."""
        asked = pd.Series(list(codes), dtype=str).unique()
        keyed = sort_keys(asked) if len(asked) else None
        by_length = self._prefix_keys()
        if keyed is None or by_length is None:  # (no codes: the frame of no parts, as it is)
            return self._by_merge(asked)
        found = []  # (code asked, table row, prefix length, part: 0 full, else the code's length)
        for length, (keys, rows) in by_length.items():
            longer = np.flatnonzero(keyed.length >= length)
            heads = key_heads(keyed.key[longer], length)
            lo, hi = np.searchsorted(keys, heads, side="left"), np.searchsorted(keys, heads, side="right")
            found.append(_ranges(longer, lo, hi, rows, length, np.zeros(len(longer), dtype=np.int64)))
            shorter = np.flatnonzero(keyed.length < length)
            lo = np.searchsorted(keys, keyed.key[shorter], side="left")
            hi = np.searchsorted(keys, keyed.last[shorter], side="right")
            found.append(_ranges(shorter, lo, hi, rows, length, keyed.length[shorter]))
        code_at, row_at, length_at, part_at = (np.concatenate(c) for c in zip(*found))
        order = np.lexsort((row_at, code_at, part_at, length_at))
        code_at, row_at, length_at, part_at = code_at[order], row_at[order], length_at[order], part_at[order]
        out = self.table.iloc[row_at][["layer_id", "role", "set_name", "start", "end", "condition"]]
        out = out.reset_index(drop=True)
        out.insert(0, "code", pd.Series(asked[code_at], dtype=str))
        out.insert(6, "match", pd.Series(np.where(part_at > 0, "partial", "full"), dtype=str))
        return out.assign(_length=length_at, _n=part_at, _row=row_at)

    def _prefix_keys(self) -> dict | None:
        """For each prefix length of the table, ascending: the ``sort_keys`` of its prefixes,
        sorted, and their rows; None if a prefix has no key. Kept with the table it is of."""
        kept = getattr(self, "_prefix_keys_of", None)
        if kept is None or kept[0] is not self.table:
            keyed = sort_keys(self.table["prefix"].to_numpy(dtype=object))
            by_length = None
            if keyed is not None:
                by_length, lengths = {}, self.table["length"].to_numpy()
                for length in np.unique(lengths).tolist():
                    rows = np.flatnonzero(lengths == length)
                    rows = rows[np.argsort(keyed.key[rows], kind="stable")]
                    by_length[length] = keyed.key[rows], rows
            kept = self._prefix_keys_of = (self.table, by_length)
        return kept[1]

    def _by_merge(self, codes) -> pd.DataFrame:
        """``_matched`` by joins on the prefixes' texts: for codes or prefixes that have no keys."""
        asked = pd.DataFrame({"code": pd.Series(list(codes), dtype=str).unique()})
        asked["n"] = asked["code"].str.len()
        parts = []
        table = self.table.assign(_row=np.arange(len(self.table)))
        for length, group in table.groupby("length"):
            longer = asked[asked["n"] >= length]
            if not longer.empty:
                hit = longer.assign(prefix=longer["code"].str[:length]).merge(group, on="prefix")
                parts.append(hit.assign(match="full", _length=length, _n=0))
            for n in sorted(asked.loc[asked["n"] < length, "n"].unique()):
                keyed = group.assign(key=group["prefix"].str[:n])
                hit = asked[asked["n"] == n].merge(keyed, left_on="code", right_on="key")
                parts.append(hit.drop(columns="key").assign(match="partial", _length=length, _n=n))
        columns = ["code", "layer_id", "role", "set_name", "start", "end", "match", "condition", "_length", "_n", "_row"]
        if not parts:
            return pd.DataFrame(columns=columns)
        return pd.concat(parts, ignore_index=True)[columns]


def _ranges(codes: np.ndarray, lo: np.ndarray, hi: np.ndarray, rows: np.ndarray, length: int, part: np.ndarray):
    """(code, row, length, part) for every row ``rows[lo:hi]`` of each code."""
    count = hi - lo
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return (np.repeat(codes, count), rows[np.repeat(lo, count) + within],
            np.full(int(count.sum()), length, dtype=np.int64), np.repeat(part, count).astype(np.int64))


def _dated(matches: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The index rows of each pair's code in force on its date: ``matches`` joined to ``pairs``
    on the code (as merge orders them), without start and end."""
    at_match, at_pair = _inner_join(*_key_codes((matches, ["code"]), (pairs, ["code"])))
    start = matches["start"].to_numpy("datetime64[ns]")[at_match]
    end = matches["end"].to_numpy("datetime64[ns]")[at_match]
    day = pairs["date"].to_numpy("datetime64[ns]")[at_pair]
    inside = (np.isnat(start) | (start <= day)) & (np.isnat(end) | (day < end))
    return _joined(matches.drop(columns=["start", "end"]), at_match[inside], pairs, at_pair[inside], ["code"])


def _looked_up(key: np.ndarray, table_key: np.ndarray, values: pd.Series, index: pd.Index) -> pd.Series:
    """``values`` of the row of ``table_key`` (distinct) equal to each ``key``, NaN where none
    (a left merge on a unique key, the dtype kept), on ``index``."""
    at = pd.Index(table_key).get_indexer(key)
    return pd.Series(values.array.take(at, allow_fill=True), index=index)


def _least_by_key(key: np.ndarray, values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(distinct keys, the least non-null value of each): when two exemptions (say) both apply,
    the one named does not depend on the order of the index rows, which differs from code to code."""
    known = values.notna().to_numpy()
    key, values = key[known], values[known]
    order = np.lexsort((pd.factorize(values, sort=True)[0], key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]] if len(order) else order
    return key[first], values.iloc[first]


def evaluate(engine: Engine, index: ProductIndex, codes, days, direction: Direction,
             include_threatened: bool = False, explain: bool = False,
             assume: Contents = NO_ASSUMPTIONS) -> pd.DataFrame:
    """One row per (code, date, layer) that bears on the code: whether it applies and why.

    With ``explain`` the group layers in effect that do not cover the code are listed too
    (reason ``not covered``), as a single-product view wants; bulk use leaves them out.
    ``assume``: the conditions the user asserts met and the contents declared.
    """
    codes = pd.Series(list(codes), dtype=str).unique()
    days_frame = pd.DataFrame({"date": pd.to_datetime(pd.Index(days)).unique().sort_values()})
    pairs = pd.DataFrame({"code": codes}).merge(days_frame, how="cross")
    frame = evaluate_pairs(engine, index, pairs, direction, include_threatened, assume=assume)
    if explain:
        states = engine.states(days_frame["date"], direction, include_threatened)
        every = pd.DataFrame({"code": codes}).merge(states[states["scope"] == "group"], how="cross")
        frame = pd.concat([frame, _uncovered(every, frame, index, ["code", "date", "layer_id"])], ignore_index=True)
        frame = frame.sort_values(["code", "date", "scope", "authority", "layer_id"])
    frame["date"] = frame["date"].dt.date
    for column in ("condition", "content", "content_basis"):
        frame[column] = frame[column].fillna("")
    frame["conditional"] = frame["conditional"].fillna(False).astype(bool)
    return frame[RESULT_COLUMNS].reset_index(drop=True)


def unmet(found: pd.DataFrame, assume: Contents | dict) -> pd.Series:
    """Index rows under a condition the user has not asserted: a condition is never assumed met.
    ``assume``: one ``Contents``, or one per value of ``found``'s ``group`` column (a ledger's
    entries each assert their own)."""
    if not isinstance(assume, dict):
        return found["condition"].notna() & ~found["condition"].isin(assume.conditions)
    asserted = pd.DataFrame([(group, c) for group, a in assume.items() for c in sorted(a.conditions)],
                            columns=["group", "condition"]).assign(_met=True)
    met = found[["group", "condition"]].merge(asserted, on=["group", "condition"], how="left")["_met"]
    return found["condition"].notna() & ~pd.Series(met.notna().to_numpy(), index=found.index)


def evaluate_pairs(engine: Engine, index: ProductIndex, pairs: pd.DataFrame, direction,
                   include_threatened: bool = False, matches: pd.DataFrame | None = None,
                   assume: Contents | dict = NO_ASSUMPTIONS) -> pd.DataFrame:
    """``evaluate`` for the given (code, date) pairs only, dates as datetime64 (bulk use).

    ``direction`` is a Direction, or a dict of them keyed by the values of a ``group`` column of
    ``pairs`` (say, one per origin), so that several directions are answered in one pass;
    ``assume`` likewise one ``Contents`` or a dict of them by group (a ledger's entries assert
    their own conditions and contents).
    ``matches``: ``index.matches`` of the codes, if the caller has it already."""
    if isinstance(direction, Direction):
        pairs, direction = pairs.assign(group=0), {0: direction}
        if isinstance(assume, dict):
            assume = assume.get(0, NO_ASSUMPTIONS)
    pairs = pairs[["group", "code", "date"]].drop_duplicates().reset_index(drop=True)
    pairs["pair"] = np.arange(len(pairs))  # one integer key for (group, code, date) in the joins below
    by_group = [(group, rows["date"].unique()) for group, rows in pairs.groupby("group", sort=False)]
    if not by_group:  # no pairs: the states of no date, for the columns
        by_group = [(next(iter(direction)), [])]
    states = pd.concat([engine.states(dates, direction[group], include_threatened).assign(group=group)
                        for group, dates in by_group], ignore_index=True)
    found = _dated(index.matches(pairs["code"].unique()) if matches is None else matches, pairs)
    found["unmet"] = unmet(found, assume)

    keep = ["group", "date", "layer_id", "step", "name", "authority", "scope", "rate", "status", "counted",
            "excluded_by", "confidence", "content"]
    by_day = states[states["scope"] == "all"][keep]
    at_pair, at_state = _inner_join(*_key_codes((pairs, ["group", "date"]), (by_day, ["group", "date"])))
    all_goods = _joined(pairs, at_pair, by_day, at_state, ["group", "date"])
    all_goods["match"], all_goods["set_name"] = "all", ""
    covers = found[found["role"] == "cover"]
    by_layer = states[states["scope"] == "group"][keep]
    on = ["group", "date", "layer_id"]
    at_cover, at_state = _inner_join(*_key_codes((covers, on), (by_layer, on)))
    groups = _joined(covers, at_cover, by_layer, at_state, on)
    # A code matched fully and partly by one layer (two rows of a list) is fully covered, and
    # one covered with and without a condition is covered without it.
    keys = ["pair", "layer_id"]
    groups = groups.sort_values(["match", "unmet"]).drop_duplicates(keys)
    frame = pd.concat([all_goods, groups.drop(columns="role")], ignore_index=True)
    frame["unmet"] = frame["unmet"].fillna(False).astype(bool)

    # Exemptions and waivers of each row's (pair, layer), looked up by one integer key.
    frame_key, found_key = _key_codes((frame, keys), (found, keys))
    role, match = found["role"].to_numpy(), found["match"].to_numpy()
    met = ~found["unmet"].to_numpy(dtype=bool)
    exempt_if = found[(role == "exempt") & (match == "full") & ~met]
    exempt_if = exempt_if.sort_values("set_name").drop_duplicates(keys)
    at = found.index.get_indexer(exempt_if.index)
    frame["exempt_if_by"] = _looked_up(frame_key, found_key[at], exempt_if["set_name"], frame.index)
    frame["exempt_if"] = _looked_up(frame_key, found_key[at], exempt_if["condition"], frame.index)
    for column, rows in (("exempt_by", (role == "exempt") & (match == "full")),
                         ("partly_exempt_by", (role == "exempt") & (match == "partial")),
                         ("waivable_by", (role == "waiver") & (match == "full"))):
        frame[column] = _looked_up(frame_key, *_least_by_key(found_key[rows & met], found["set_name"][rows & met]),
                                   frame.index)

    # The stacking rules: one table, one function (stacking.RuleTable.stack), over the liable rows.
    # A layer covering the code only under a condition the user has not asserted is not liable.
    liable = (frame["counted"] & frame["match"].isin(["all", "full"]) & frame["exempt_by"].isna()
              & ~frame["unmet"])
    rules = engine.rules
    rows = np.flatnonzero(liable.to_numpy())
    stacked = rules.stack(frame["pair"].to_numpy()[rows], rules.position(frame["layer_id"].to_numpy()[rows]))
    frame["removed_by"] = pd.Series(np.nan, index=frame.index, dtype=object)
    frame.loc[frame.index[rows[stacked.removed]], "removed_by"] = stacked.reasons(
        [engine.names.get(i, i) for i in rules.layer_ids])[stacked.removed]

    frame["applies"] = liable & frame["removed_by"].isna()
    frame["charged"] = frame["rate"].where(frame["applies"], 0.0)
    frame["reason"] = _reasons(frame, {cid: c.text for cid, c in index.conditions.items()})
    caveat = frame["applies"] & frame["partly_exempt_by"].notna()
    frame.loc[caveat, "reason"] += (" (some lines under this code are exempt: "
                                    + frame.loc[caveat, "partly_exempt_by"] + "; ask for a longer code)")
    frame["waivable"] = frame["applies"] & frame["waivable_by"].notna()
    frame.loc[frame["waivable"], "reason"] += " (may be waived: " + frame.loc[frame["waivable"], "waivable_by"] + ")"
    frame["conditional"] = frame["unmet"] & ~frame["applies"]
    frame = _condition_notes(frame, index)
    frame = _charge_content(frame, index, direction, assume)
    frame = _charge_outside(frame, rows, stacked, engine)
    frame = frame.sort_values(["group", "code", "date", "scope", "authority", "layer_id"])
    return frame.drop(columns="pair").reset_index(drop=True)


def _condition_notes(frame: pd.DataFrame, index: ProductIndex) -> pd.DataFrame:
    """Say what each condition decided: a layer covering the code only under an unmet condition
    is 'conditional' (rate if met), one applying under an asserted condition says so, and an
    exemption open under an unmet condition is named."""
    texts = {cid: c.text for cid, c in index.conditions.items()}
    frame["condition"] = frame["condition"].where(frame["condition"].notna(), frame["exempt_if"]).fillna("")
    met = frame["applies"] & frame["condition"].ne("") & frame["exempt_if"].isna()
    if met.any():
        frame.loc[met, "reason"] += " (condition asserted: " + frame.loc[met, "condition"].map(texts) + ")"
    exempt_if = frame["applies"] & frame["exempt_if"].notna()
    if exempt_if.any():
        frame.loc[exempt_if, "reason"] += (" (exempt if " + frame.loc[exempt_if, "exempt_if"].map(texts) + ": "
                                           + frame.loc[exempt_if, "exempt_if_by"] + "; assert it with --assume "
                                           + frame.loc[exempt_if, "exempt_if"] + ")")
    shaky = frame["exempt_by"].isin(index.unconfirmed_sets) | (
        frame["applies"] & frame["set_name"].isin(index.unconfirmed_sets))
    if shaky.any():
        frame.loc[shaky, "reason"] += " (unconfirmed list: see its note in the layer file)"
        frame.loc[shaky, "confidence"] = "unconfirmed"
    return frame


def _charge_content(frame: pd.DataFrame, index: ProductIndex, direction, assume: Contents | dict) -> pd.DataFrame:
    """Rows of content-basis steps are charged on the content's share of the value (only those rows
    are touched: a bulk frame is mostly rows without a content)."""
    frame["content"] = frame["content"].fillna("")
    frame["content_share"], frame["content_basis"] = np.nan, ""
    has = frame["content"].ne("").to_numpy()
    if not has.any():
        return frame
    groups = direction if isinstance(direction, dict) else {0: direction}
    declared = assume if isinstance(assume, dict) else {group: assume for group in groups}
    # only the columns apply_content reads: it copies and assigns into what it is given
    needed = frame.loc[has, ["group", "code", "content", "rate", "applies", "charged", "reason"]]
    done = pd.concat([apply_content(rows, index.estimates(groups[group].imposer),
                                    declared.get(group, NO_ASSUMPTIONS).shares)
                      for group, rows in needed.groupby("group", sort=False)])
    columns = ["charged", "reason", "content_share", "content_basis"]
    frame.loc[done.index, columns] = done[columns]
    return frame


def outside_text(contents, rest: float, basis: str) -> str:
    """', on the value outside the steel and aluminum content (88% of the value, estimated)'."""
    how = {"declared": "as declared", "estimate": "estimated"}.get(basis, basis)
    return (f", on the value outside the {' and '.join(contents)} content ({100 * rest:.3g}% of the value"
            + (f", {how})" if how else ")"))


def _charge_outside(frame: pd.DataFrame, rows: np.ndarray, stacked, engine: Engine) -> pd.DataFrame:
    """A layer a ``not_on_content_of`` rule took off goods whose trigger charges only a content's
    value is charged on the rest of the value (``RuleTable.outside``): ``rate × rest``, with the
    rest as its ``content_share`` and the triggers' basis (declared or estimated) as its own."""
    rules = engine.rules
    at = frame.index[rows]
    basis = frame.loc[at, "content_basis"].to_numpy(dtype=object)
    share = np.where(basis != "", frame.loc[at, "content_share"].to_numpy(dtype=float), 1.0)
    rest = rules.outside(frame["pair"].to_numpy()[rows], rules.position(frame["layer_id"].to_numpy()[rows]),
                         stacked, share)
    paid = rest > 0
    if not paid.any():
        return frame
    hit = at[paid]
    pairs = rules.of_kind("not_on_content_of")[["removed", "trigger"]]
    metal = frame.loc[at[basis != ""], ["pair", "layer_id", "content", "content_basis"]]
    why = frame.loc[hit, ["pair", "layer_id"]].reset_index().merge(pairs, left_on="layer_id", right_on="removed") \
        .merge(metal.rename(columns={"layer_id": "trigger"}), on=["pair", "trigger"])
    # per row hit: the sorted contents of its triggers, and 'estimate' if any trigger's share is
    # estimated, else the first trigger's basis (one pass over sorted rows, no Python per group)
    grouped = why.groupby("index", sort=True)
    estimated = (why["content_basis"] == "estimate").groupby(why["index"], sort=True).any()
    basis = pd.Series(np.where(estimated.to_numpy(), "estimate", grouped["content_basis"].first().to_numpy()),
                      index=estimated.index, dtype=object)
    names = why[["index", "content"]].drop_duplicates().sort_values(["index", "content"])
    starts = np.flatnonzero(np.r_[True, np.diff(names["index"].to_numpy()) != 0]) if len(names) else []
    contents = pd.Series([list(c) for c in np.split(names["content"].to_numpy(dtype=object), starts[1:])]
                         if len(names) else [], index=names["index"].to_numpy()[starts], dtype=object)
    why = pd.DataFrame({"contents": contents, "basis": basis}).reindex(hit)
    frame.loc[hit, "applies"] = True
    frame.loc[hit, "charged"] = clean_rate(frame.loc[hit, "rate"].to_numpy() * rest[paid])
    frame.loc[hit, "content_share"] = rest[paid]
    frame.loc[hit, "content_basis"] = why["basis"].fillna("").to_numpy(dtype=object)
    base = np.where(frame.loc[hit, "match"].to_numpy() == "all", "applies: all goods",
                    "applies: on " + frame.loc[hit, "set_name"].fillna("").astype(str).to_numpy())
    frame.loc[hit, "reason"] = [b + outside_text(c if isinstance(c, list) else [], r, k) for b, c, r, k in
                                zip(base, why["contents"], rest[paid], why["basis"].fillna(""))]
    return frame


def _reasons(frame: pd.DataFrame, conditions: dict | None = None) -> np.ndarray:
    """Why each row applies or not: the first rule that holds, each text built only for its rows."""
    rules = [
        (~frame["counted"] & (frame["excluded_by"] != ""), lambda f: f["excluded_by"]),
        (~frame["counted"], lambda f: f["status"].str.replace("_", " ") + ": not charged"),
        (frame["match"] == "partial", lambda f: "partly covered: only some lines under this code are on "
                                                + f["set_name"] + "; ask for a longer code"),
        (frame["exempt_by"].notna(), lambda f: "exempt: " + f["exempt_by"]),
        (frame["unmet"], lambda f: "conditional: applies only if " + f["condition"].map(conditions or {})
         .fillna(f["condition"]) + " (" + f["rate"].map("{:g}%".format) + " if so; assert it with --assume "
         + f["condition"] + ")"),
        (frame["removed_by"].notna(), lambda f: f["removed_by"]),
        (frame["match"] == "all", lambda f: pd.Series("applies: all goods", index=f.index)),
        (pd.Series(True, index=frame.index), lambda f: "applies: on " + f["set_name"]),
    ]
    reason = np.empty(len(frame), dtype=object)
    decided = np.zeros(len(frame), dtype=bool)
    texts = frame[["excluded_by", "status", "set_name", "exempt_by", "condition", "rate", "removed_by"]]
    for condition, text in rules:
        rows = condition.to_numpy(dtype=bool) & ~decided
        if rows.any():
            reason[rows] = text(texts[rows]).to_numpy(dtype=object)  # a narrow frame: cheaper to slice
            decided |= rows
    return reason


def _uncovered(every: pd.DataFrame, frame: pd.DataFrame, index: ProductIndex, keys: list[str]) -> pd.DataFrame:
    """The rows of ``every`` (group layers in effect, per key) that ``frame`` has no row for, each
    saying why: not covered, or unknown when the data's list is missing or incomplete."""
    seen = frame[keys].assign(_seen=True)
    missing = every.merge(seen, on=keys, how="left")
    missing = missing[missing["_seen"].isna()].drop(columns="_seen").copy()
    missing["applies"], missing["charged"], missing["waivable"] = False, 0.0, False
    has_list = missing["layer_id"].isin(index.with_products)
    partial_list = missing["layer_id"].isin(index.incomplete)
    missing["reason"] = np.select(
        [partial_list, has_list],
        ["unknown: not on the part of this layer's list that the data holds (list incomplete)", "not covered"],
        "unknown: the data has no product list for this layer",
    )
    return missing


def additional_totals(engine: Engine, index: ProductIndex, codes, days, direction: Direction,
                      include_threatened: bool = False, assume: Contents = NO_ASSUMPTIONS,
                      by_layer: bool | str = False) -> pd.DataFrame:
    """Additional rate per (code, date) for many codes at once: the answer of ``evaluate``, fast.

    Sparse and integer-keyed: a (code, date) item is one int64, a (code, date, layer) row another.
    An item that no product set names pays its date's all-goods layers (the headline). The others
    get their liable rows (group layers covering them, all-goods layers they are not exempt from)
    and the one stacking function, ``engine.rules.stack``, decides which are charged, as for
    ``evaluate``; sums are ``bincount``. Only full matches count: a code shorter than a list's
    rows is answered from its schedule lines by ``ProductEngine.answers``.
    """
    day_index = pd.DatetimeIndex(pd.to_datetime(pd.Index(days))).unique().sort_values()
    codes = pd.Index(pd.Series(list(codes), dtype=str).unique())
    n_days, n_codes = len(day_index), len(codes)
    states = engine.states(day_index, direction, include_threatened)
    rules = engine.rules
    n_layers = len(rules.layer_ids)

    day_pos = day_index.get_indexer(states["date"])
    layer_pos = rules.position(states["layer_id"])
    rate = np.zeros((n_days, n_layers))
    counted = np.zeros((n_days, n_layers), dtype=bool)
    rate[day_pos, layer_pos] = states["rate"].to_numpy()
    counted[day_pos, layer_pos] = states["counted"].to_numpy()
    is_all = np.zeros(n_layers, dtype=bool)
    is_all[rules.position(states.loc[states["scope"] == "all", "layer_id"].unique())] = True
    headline = counted & is_all
    base = (rate * headline).sum(axis=1)

    found = index.matches(codes)
    found = found[(found["match"] == "full") & found["layer_id"].isin(set(states["layer_id"]))
                  & ~unmet(found, assume)]
    starts = found["start"].to_numpy("datetime64[ns]")
    ends = found["end"].to_numpy("datetime64[ns]")
    stamps = day_index.to_numpy("datetime64[ns]")
    inside = (np.isnat(starts)[:, None] | (starts[:, None] <= stamps)) & (
        np.isnat(ends)[:, None] | (stamps < ends[:, None]))
    row, d = np.nonzero(inside)
    c = codes.get_indexer(found["code"].to_numpy()[row])
    lay = rules.position(found["layer_id"].to_numpy()[row])
    role = found["role"].to_numpy()[row]
    keys = (c.astype(np.int64) * n_days + d) * n_layers + lay

    def unique(values):  # sorted distinct keys; sorting beats numpy's hash-based unique here
        values = np.sort(values)
        return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values

    exempt = unique(keys[role == "exempt"])
    liable = unique(keys[(role == "cover") & counted[d, lay] & ~is_all[lay]])
    liable = liable[~np.isin(liable, exempt)]
    touched = unique(np.concatenate([liable // n_layers, exempt // n_layers]))
    # The all-goods rows of the touched items: every all-goods layer charged that day, less exemptions.
    day_layers = [np.flatnonzero(headline[day]) for day in range(n_days)]
    per_day = np.array([len(layers) for layers in day_layers], dtype=np.int64)
    t_day = touched % n_days
    counts = per_day[t_day]
    flat = np.concatenate(day_layers + [np.zeros(0, dtype=np.int64)]).astype(np.int64)
    first = np.cumsum(per_day) - per_day
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    goods = np.repeat(touched, counts) * n_layers + flat[np.repeat(first[t_day], counts) + within]
    goods = goods[~np.isin(goods, exempt)]
    rows = np.concatenate([liable, goods])
    stacked = rules.stack(rows // n_layers, rows % n_layers)
    r_item, r_layer = rows // n_layers, rows % n_layers
    # Content-basis steps are charged on the content's share of the value, and a layer kept off
    # that content (``not_on_content_of``) on the rest of it.
    factor = content_factors(states, day_index, rules.layer_ids, codes, index.estimates(direction.imposer),
                             assume.shares, r_item // n_days, r_item % n_days, r_layer)
    share = np.where(stacked.removed, rules.outside(r_item, r_layer, stacked, factor), factor)
    weights = rate[r_item % n_days, r_layer] * share
    if by_layer:  # (code, date, layer_id, charged) of every layer charged: what the sums add up
        # ``by_layer="applied"``: every layer that applies, charged or not (a 0% step, a content
        # declared 0), as ``evaluate`` says ``applies``: what tells lines alike (``layers_vary``)
        applied = by_layer == "applied"
        charged = np.where(stacked.removed, share > 0, True) if applied else weights != 0
        plain = np.setdiff1d(np.arange(n_codes * n_days), touched)
        p_day, p_layer = np.nonzero(headline[plain % n_days])
        p_item = plain[p_day]
        p_layer = np.asarray(p_layer, dtype=np.int64)
        # np.nonzero over the rows of headline[plain % n_days] gives (row, layer): row -> item
        item = np.concatenate([r_item[charged], p_item])
        layer = np.concatenate([r_layer[charged], p_layer])
        value = np.concatenate([weights[charged], rate[p_item % n_days, p_layer]])
        keep = np.ones(len(value), dtype=bool) if applied else value != 0
        return pd.DataFrame({"code": codes.to_numpy()[item[keep] // n_days],
                             "date": day_index.date[item[keep] % n_days],
                             "layer_id": rules.layer_ids.to_numpy()[layer[keep]], "charged": value[keep]})
    paid = np.bincount(r_item, weights=weights, minlength=n_codes * n_days)
    total = np.tile(base, n_codes)
    total[touched] = paid[touched]
    return pd.DataFrame({
        "code": np.repeat(codes.to_numpy(), n_days),
        "date": np.tile(day_index.date, n_codes),
        "additional_rate": total,
    })


def content_factors(states: pd.DataFrame, day_index, layer_ids, codes, estimates, declared: dict,
                    code_at: np.ndarray, day_at: np.ndarray, layer_at: np.ndarray) -> np.ndarray:
    """Per applied (code, day, layer) row, the share of the value its rate is charged on: 1, or for
    a content-basis step the content's declared or estimated share (1 where neither is known)."""
    factors = np.ones(len(code_at))
    with_content = states[states["content"].fillna("") != ""]
    if with_content.empty or not len(code_at):
        return factors
    contents = list(CONTENTS)
    content_at = np.full((len(day_index), max(len(layer_ids), 1)), -1)
    content_at[day_index.get_indexer(with_content["date"]), layer_ids.get_indexer(with_content["layer_id"])] = [
        contents.index(c) for c in with_content["content"]]
    which = content_at[day_at, layer_at]
    rows = np.flatnonzero(which >= 0)
    if not len(rows):
        return factors
    wanted = pd.Index(codes)[np.unique(code_at[rows])]
    shares = estimates.shares(wanted) if estimates is not None else pd.DataFrame(np.nan, index=wanted, columns=contents)
    for content, value in declared.items():
        shares[content] = value
    table = shares.reindex(pd.Index(codes)).fillna(1.0).to_numpy()
    factors[rows] = table[code_at[rows], which[rows]]
    return factors


def condition_notes(layers: pd.DataFrame) -> list[str]:
    """What a reader must know about conditions and content shares in an answer."""
    notes = []
    if layers["conditional"].any():
        ids = ", ".join(sorted(set(layers.loc[layers["conditional"], "condition"])))
        notes.append(f"conditional layers are not in the totals: assert a condition with --assume ({ids})")
    basis = set(layers.loc[layers["applies"], "content_basis"]) if "content_basis" in layers else set()
    if "estimate" in basis:
        notes.append("content shares marked 'an estimate' are industry averages, not this shipment's: "
                     "declare the contents with --content steel=…,aluminum=…")
    if "unknown" in basis:
        notes.append("a content-basis layer has no content estimate for this code and is charged on the full "
                     "value (an upper bound): declare the contents with --content")
    return notes


def transit_note(loaded_before, entered_before, rate: float) -> str:
    """What a reason gains when a step's in-transit rate is charged (``rate --exported``, ``duty``)."""
    return f" (in transit: loaded before {loaded_before:%Y-%m-%d}, entered before {entered_before:%Y-%m-%d}: {rate:g}%)"


def transit_table(engine: Engine) -> pd.DataFrame:
    """The in-transit rule of every step that has one: (layer_id, step, transit_loaded, transit_entered, transit_rate)."""
    rows = [(layer.id, number, pd.Timestamp(step.in_transit.loaded_before),
             pd.Timestamp(step.in_transit.entered_before), step.in_transit.rate)
            for layer in engine.dataset.layers for number, step in enumerate(layer.steps, 1)
            if step.in_transit is not None]
    return pd.DataFrame(rows, columns=["layer_id", "step", "transit_loaded", "transit_entered", "transit_rate"])


def transit_holds(applies, exported, entered, loaded_before, entered_before) -> np.ndarray:
    """Where a step's in-transit rate is charged instead of its rate: the layer applies, the goods
    were loaded (exported) before the step's cut-off and entered before its deadline. The one test
    of the rule, for ``rate --exported`` and for every ledger entry."""
    exported = np.asarray(exported, dtype="datetime64[ns]")
    return (np.asarray(applies, dtype=bool) & ~np.isnat(exported)
            & (exported < np.asarray(loaded_before, dtype="datetime64[ns]"))
            & (np.asarray(entered, dtype="datetime64[ns]") < np.asarray(entered_before, dtype="datetime64[ns]")))


def leaf_lines(codes) -> list[str]:
    """The most detailed lines: 10-digit lines, and 8-digit lines with none under them."""
    codes = sorted(set(codes))
    return [c for c in codes if not any(other != c and other.startswith(c) for other in codes)]


ANSWER_COLUMNS = ["group", "code", "date", "layer_id", "step", "name", "authority", "scope", "rate", "status",
                  "applies", "charged", "waivable", "reason", "confidence", "conditional", "condition", "content",
                  "content_share", "content_basis", "varies", "low", "high", "lines", "lines_applying", "bears"]
TOTAL_COLUMNS = ["group", "code", "date", "lines", "mfn_rate", "additional_rate", "total_rate",
                 "additional_if_waived", "varies", "additional_low", "additional_high", "total_low", "total_high"]


def _filled(frame: pd.DataFrame) -> pd.DataFrame:
    """The condition and content columns without blanks (as ``evaluate`` gives them)."""
    for column in ("condition", "content", "content_basis"):
        frame[column] = frame[column].fillna("") if column in frame else ""
    frame["conditional"] = frame["conditional"].fillna(False).astype(bool) if "conditional" in frame else False
    if "content_share" not in frame:
        frame["content_share"] = np.nan
    return frame


def _explained(engine: Engine, index: ProductIndex, pairs: pd.DataFrame, directions: dict,
               include_threatened: bool, assume: Contents | dict = NO_ASSUMPTIONS) -> pd.DataFrame:
    """``evaluate_pairs`` of (group, code, date) pairs plus the group layers in effect that do
    not cover the code (reason 'not covered', or 'unknown' when the data lacks the list)."""
    frame = evaluate_pairs(engine, index, pairs, directions, include_threatened, assume=assume).assign(bears=True)
    groups = []
    for group, rows in pairs.groupby("group", sort=False):
        states = engine.states(rows["date"].unique(), directions[group], include_threatened)
        states = states[states["scope"] == "group"]
        every = rows[["group", "code", "date"]].merge(states, on="date")
        groups.append(every)
    if not groups:
        return frame
    every = pd.concat(groups, ignore_index=True)
    missing = _uncovered(every, frame, index, ["group", "code", "date", "layer_id"]).assign(bears=False)
    frame = pd.concat([frame, missing[[c for c in frame.columns if c in missing.columns]]], ignore_index=True)
    frame = _filled(frame)
    return frame.sort_values(["group", "code", "date", "scope", "authority", "layer_id"]).reset_index(drop=True)


def _fold(resolved: pd.DataFrame, line_rows: pd.DataFrame) -> pd.DataFrame:
    """Per (group, code, date, layer): the answer of every line the code stands for, or 'varies'.

    If every line gets the same answer (applies alike, the same rate charged), that is the code's
    answer; if not, it varies: ``charged`` is NaN, ``low``/``high`` the range over the lines."""
    keys = ["group", "code", "date"]
    # integer-coded joins: each resolved row's (group, code, date) and (group, line, date)
    asked, line_key, row_key = _key_codes((resolved, keys), (resolved, ["group", "line", "date"]),
                                          (line_rows, ["group", "code", "date"]))
    at_line, at_row = _inner_join(line_key, row_key)
    if not len(at_line):
        return pd.DataFrame(columns=ANSWER_COLUMNS)
    rows = _joined(resolved, at_line, line_rows.rename(columns={"code": "line"}), at_row, ["group", "line", "date"])
    # the reason shown for a layer that covers only some lines: one of the lines it bears on
    order = np.argsort((rows["reason"] == "not covered").to_numpy(dtype=bool), kind="stable")
    rows = rows.iloc[order].reset_index(drop=True)
    rows["_at"] = np.arange(len(rows))  # (key, layer) answers come in the order they first appear
    n_lines = np.bincount(asked)  # rows of resolved (lines) per code asked
    asked = asked[at_line[order]]
    rows["lines"] = n_lines[asked]
    # A code of one line (most of a ledger's) has one row per layer: it is its own answer.
    alone = (rows["lines"] == 1).to_numpy()
    if alone.any():
        layer = pd.factorize(rows["layer_id"].to_numpy(), use_na_sentinel=False)[0]
        _, per_layer, count = np.unique(asked * (layer.max() + 1) + layer, return_inverse=True, return_counts=True)
        alone = alone & (count[per_layer] == 1)
    single = rows[alone]
    single = single.assign(reasons=single["reason"].notna().astype(int), present=1,
                           lines_applying=single["applies"].astype(bool).astype(int), low=single["charged"],
                           high=single["charged"], share_low=single["content_share"],
                           share_high=single["content_share"])
    folded = dict(step=("step", "first"), name=("name", "first"), authority=("authority", "first"),
                  scope=("scope", "first"), rate=("rate", "first"), status=("status", "first"),
                  confidence=("confidence", "first"), reason=("reason", "first"),
                  reasons=("reason", "nunique"), present=("reason", "size"),
                  lines_applying=("applies", "sum"), low=("charged", "min"), high=("charged", "max"),
                  waivable=("waivable", "any"), bears=("bears", "any"),
                  conditional=("conditional", "any"), condition=("condition", "first"),
                  content=("content", "first"), content_basis=("content_basis", "first"),
                  share_low=("content_share", "min"), share_high=("content_share", "max"),
                  lines=("lines", "first"), _at=("_at", "first"))
    if alone.all():  # nothing to fold (a ledger's codes are mostly of one line): skip the groupby
        out = single[keys + ["layer_id", *folded]].reset_index(drop=True)
    else:
        out = rows[~alone].groupby(keys + ["layer_id"], sort=False).agg(**folded).reset_index()
        if len(single):
            out = pd.concat([out, single[out.columns]], ignore_index=True)
            out = out.sort_values("_at", kind="stable").reset_index(drop=True)
    out["content_share"] = out["share_low"].where(out["share_low"] == out["share_high"])
    short = out["present"] < out["lines"]  # lines the layer has no row for: not charged
    out.loc[short, "low"] = np.minimum(out.loc[short, "low"], 0.0)
    out.loc[short, "high"] = np.maximum(out.loc[short, "high"], 0.0)
    applying = out["lines_applying"].to_numpy()
    every = applying == out["lines"].to_numpy()
    same = out["low"].to_numpy() == out["high"].to_numpy()
    uniform = (every & same) | ((applying == 0) & (out["high"].to_numpy() == 0))
    out["varies"] = ~uniform
    out["applies"] = every & uniform
    out["charged"] = np.where(uniform, out["high"].to_numpy(), np.nan)
    out["waivable"] = out["waivable"] & out["applies"]
    many = out["lines"] > 1
    alike = many & uniform & (out["reasons"] == 1) & (out["present"] == out["lines"])
    hidden = alike & (out["reason"] == "not covered")
    # the texts of codes of several lines, built for their rows only (most rows are of one line)
    def of(mask, build):
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            part = out.loc[mask]
            out.loc[mask, "reason"] = build(part, part["lines"].astype(str))

    of(alike & ~hidden, lambda f, n: f["reason"] + " (all " + n + " lines under this code)")
    mixed = many & uniform & ~alike
    of(mixed & out["applies"], lambda f, n: "applies to all " + n + " lines under this code (e.g. " + f["reason"] + ")")
    of(mixed & ~out["applies"], lambda f, n: "not charged on any of the " + n + " lines under this code (e.g. "
       + f["reason"] + ")")
    of(out["varies"], lambda f, n: "varies: applies to " + f["lines_applying"].astype(int).astype(str) + " of the "
       + n + " lines under this code (" + f["low"].map("{:g}".format) + "-" + f["high"].map("{:g}".format)
       + "%); see the lines, or ask for a longer code")
    out["lines_applying"] = out["lines_applying"].astype(int)
    return out[ANSWER_COLUMNS]


@dataclass
class Answers:
    """The one evaluated answer for (code, date) pairs of one or more groups (origins): every
    format (table, JSON, CSV, export, duty lines) renders these frames and recomputes nothing.

    ``layers``: per (group, code, date, layer), ANSWER_COLUMNS (``varies`` where the lines under
    the code differ; ``charged`` is then NaN; ``bears`` false for the group layers in effect that
    cover none of the lines, shown only to explain). ``totals``: per (group, code, date), TOTAL_COLUMNS
    (scalars NaN when they vary; the range beside them). ``lines``: per line the code stands for,
    its own totals (the breakdown). ``line_layers``: the lines' layer rows. ``missing``: pairs
    that stand for no line of the schedule in force, with the reason."""

    layers: pd.DataFrame
    totals: pd.DataFrame
    lines: pd.DataFrame
    line_layers: pd.DataFrame
    missing: pd.DataFrame


@dataclass
class ProductAnswer:
    """One code in one direction on one date: MFN, every layer that bears on it, the totals, and
    the lines of the schedule it stands for. A view of one (code, date) of ``Answers``."""

    code: str
    date: date
    direction: Direction
    layers: pd.DataFrame  # ANSWER_COLUMNS
    totals: dict  # TOTAL_COLUMNS
    lines: pd.DataFrame  # line, description, mfn_rate, additional_rate, total_rate
    line_layers: pd.DataFrame = None
    mfn: object = None  # schedule.MfnRate or None: the schedule text shown
    schedule_note: str = ""
    notes: list[str] = field(default_factory=list)
    exported: date | None = None
    source: Answers | None = None  # the evaluated answer this is a view of (CSV renders it)

    @staticmethod
    def _number(value) -> float | None:
        return None if value is None or pd.isna(value) else float(value)

    @property
    def varies(self) -> bool:
        return bool(self.totals["varies"])

    @property
    def additional_rate(self) -> float | None:
        return self._number(self.totals["additional_rate"])

    @property
    def additional_if_waived(self) -> float | None:
        """The additional rate if every waiver open to the code (e.g. exclusions granted on
        application) were granted."""
        return self._number(self.totals["additional_if_waived"])

    @property
    def mfn_rate(self) -> float | None:
        return self._number(self.totals["mfn_rate"])

    @property
    def total_rate(self) -> float | None:
        return self._number(self.totals["total_rate"])

    def range(self, name: str) -> tuple[float, float] | None:
        """(low, high) of ``additional`` or ``total`` over the lines, or None if unknown."""
        low, high = self.totals[f"{name}_low"], self.totals[f"{name}_high"]
        return None if pd.isna(low) or pd.isna(high) else (float(low), float(high))

    @property
    def description(self) -> str:
        return "" if self.mfn is None else self.mfn.description



def fold_totals(lines: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per key (a code asked on a date), the totals of the lines it stands for (``lines``: keys,
    line, mfn_rate, additional_rate, if_waived): the lines' value where they all agree, else NaN
    with the range; a total is known only where every line's MFN is. Also the mean over the lines
    (``additional_mean``, ``total_mean``), for averages that spread a code's weight over its lines."""
    lines = lines.assign(total_rate=clean_rate(lines["mfn_rate"] + lines["additional_rate"]))
    grouped = lines.groupby(keys, sort=False)
    totals = grouped.agg(lines=("line", "size"), additional_low=("additional_rate", "min"),
                         additional_high=("additional_rate", "max"), mfn_low=("mfn_rate", "min"),
                         mfn_high=("mfn_rate", "max"), mfn_known=("mfn_rate", "count"),
                         total_low=("total_rate", "min"), total_high=("total_rate", "max"),
                         waived_low=("if_waived", "min"), waived_high=("if_waived", "max"),
                         additional_mean=("additional_rate", "mean"), total_mean=("total_rate", "mean"),
                         mfn_mean=("mfn_rate", "mean")).reset_index()
    known = totals["mfn_known"] == totals["lines"]
    totals["additional_rate"] = totals["additional_low"].where(totals["additional_low"] == totals["additional_high"])
    totals["additional_if_waived"] = totals["waived_low"].where(totals["waived_low"] == totals["waived_high"])
    totals["mfn_rate"] = totals["mfn_low"].where(known & (totals["mfn_low"] == totals["mfn_high"]))
    totals["total_rate"] = totals["total_low"].where(known & (totals["total_low"] == totals["total_high"]))
    totals.loc[~known, ["total_low", "total_high", "total_mean", "mfn_mean"]] = np.nan
    totals["varies"] = (totals["additional_low"] != totals["additional_high"]) | (
        known & (totals["total_low"] != totals["total_high"]))
    return totals


def layers_vary(resolved: pd.DataFrame, applied: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The keys (codes asked on a date) whose lines differ in a layer: it applies on some of
    the lines only, or is charged at different rates on them. Lines that pay one total through
    different layers (List 1 on some, List 3 on others) are not one answer (issue 10).

    ``resolved``: keys and ``line``; ``applied``: per line and date (``code`` is the line, plus
    ``group`` if in ``keys``) the layers that apply (``layer_id``, ``charged``). The one test, for
    ``answer_pairs`` and the bulk ``table``."""
    on = [k for k in keys if k not in ("code", "date")]
    lines = resolved[keys + ["line"]].drop_duplicates()
    n_lines = lines.groupby(keys, sort=False).size().rename("n_lines")
    rows = lines.merge(applied[on + ["code", "date", "layer_id", "charged"]].rename(columns={"code": "line"}),
                       on=on + ["line", "date"])
    if rows.empty:
        return pd.DataFrame(columns=keys)
    per_layer = rows.groupby(keys + ["layer_id"], sort=False)["charged"].agg(["size", "min", "max"]).reset_index()
    per_layer = per_layer.merge(n_lines.reset_index(), on=keys)
    differ = (per_layer["size"] < per_layer["n_lines"]) | (per_layer["min"] != per_layer["max"])
    return per_layer.loc[differ, keys].drop_duplicates().reset_index(drop=True)


def through_layers(totals: pd.DataFrame, varying: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``totals`` (``fold_totals``) with the keys of ``varying`` (``layers_vary``) answered as
    varying: no scalar total, the range (which may be one number) and the lines stay."""
    if varying.empty or totals.empty:
        return totals
    hit = totals[keys].merge(varying.assign(_hit=True), on=keys, how="left")["_hit"].fillna(False)
    hit = hit.to_numpy(dtype=bool)
    totals = totals.copy()
    totals.loc[hit, "varies"] = True
    totals.loc[hit, [c for c in ("additional_rate", "total_rate", "additional_if_waived") if c in totals]] = np.nan
    return totals


BULK_COLUMNS = ["code", "date", "additional_rate", "mfn_rate", "total_rate", "lines", "varies",
                "additional_mean", "mfn_mean", "total_mean"]


class ProductEngine:
    """Product questions over one data set: the layer engine, the product index, the schedules."""

    def __init__(self, engine: Engine, schedules, assume: Contents = NO_ASSUMPTIONS,
                 index: ProductIndex | None = None):
        """``index``: the product index of ``engine.dataset``, if the caller has it (a variant of
        the data whose product sets it edited), instead of reading every list file again."""
        self.engine = engine
        self.schedules = schedules
        self.index = index if index is not None else ProductIndex(engine.dataset)
        self.transit = transit_table(engine)
        self.assume = assume  # what rate() and table() assume unless told otherwise (a convention's)

    @classmethod
    def from_dataset(cls, dataset: Dataset, engine: Engine | None = None,
                     assume: Contents = NO_ASSUMPTIONS) -> ProductEngine:
        """The product engine of a data set: its layer engine (``engine``, if the caller has one
        of ``dataset`` already), its product index and the schedules it ships (``Schedules.for_dataset``)."""
        return cls(engine if engine is not None else Engine(dataset), Schedules.for_dataset(dataset), assume)

    def change_dates(self, direction: Direction, start: date, end: date) -> list[date]:
        """Layer change dates plus the dates product lists change (rows added or removed), and
        the dates a new schedule vintage starts: a product's rate is constant between them."""
        layer_dates = set(self.engine.change_dates(direction, start, end))
        layer_ids = set(self.engine.direction_steps(direction)["layer_id"])
        edges = self.index.edges(layer_ids)["date"].dt.date
        vintages = [v.start for v in self.schedules.vintages if v.imposer == direction.imposer]
        extra = {day for day in list(edges) + vintages if start < day <= end}
        return sorted(layer_dates | extra)

    def list_changes(self, direction: Direction, day: date) -> str:
        """'Annex II of EO 14257: 12 codes added' for product-set rows starting or ending on a day."""
        layer_ids = set(self.engine.direction_steps(direction)["layer_id"])
        edges = self.index.edges(layer_ids)
        today = edges[edges["date"].dt.date == day]
        parts = []
        for (name, kind), group in today.groupby(["set_name", "kind"], sort=True):
            count = group["prefix"].nunique()
            parts.append(f"{name}: {count} code{'' if count == 1 else 's'} {kind}")
        return "; ".join(parts)

    def resolve(self, direction: Direction, codes, days) -> pd.DataFrame:
        """(code, date, line): the lines each code stands for on its date (``Schedules.resolve``),
        and, for a code that is no line of the data's schedule but that a product list in force of
        the direction names in full (China's 2025 lists name 2025 lines; the data's last CN schedule
        is of 2019), the code itself: the instrument proves it a line of its date."""
        lines = self.schedules.resolve(direction.imposer, codes, days)
        asked = pd.DataFrame({"code": _objects(codes), "date": _timestamps(days)}).drop_duplicates()
        asked_key, found_key = _key_codes((asked, ["code", "date"]), (lines, ["code", "date"]))
        lost = asked[~np.isin(asked_key, found_key)]  # the pairs that resolve gave no line
        if lost.empty:
            return lines
        table = self.index.table
        ids = self.engine.rules.layers_of(direction.imposer, direction.origin)
        named = table[table["layer_id"].isin(ids) & table["prefix"].isin(set(lost["code"]))]
        named = lost.merge(named[["prefix", "start", "end"]], left_on="code", right_on="prefix")
        inside = (named["start"].isna() | (named["start"] <= named["date"])) & (
            named["end"].isna() | (named["date"] < named["end"]))
        own = named.loc[inside, ["code", "date"]].drop_duplicates().assign(line=lambda f: f["code"])
        return pd.concat([lines, own], ignore_index=True)

    def answer_pairs(self, pairs: pd.DataFrame, directions: dict, include_threatened: bool = False,
                     exported=None, explain: bool = True, assume: Contents | dict | None = None) -> Answers:
        """The evaluation path: (group, code, date) pairs -> ``Answers``.

        Each code stands for the lines of the schedule in force on its date (``Schedules.resolve``);
        every line is evaluated (``evaluate_pairs``: coverage, exemptions, the stacking rules), the
        in-transit rule applied when ``exported`` (one date, or a column of ``pairs``) is given,
        and the lines folded into the code's answer (``_fold``). Without ``explain`` the group
        layers that cover none of the lines are left out, and ``totals`` and ``lines`` hold only
        the codes that stand for several lines (bulk use: the ledger, which needs the totals only
        to find the codes whose lines differ; a code of one line is that line). ``assume``: the
        conditions asserted and contents declared (default: the engine's), or a dict of them by
        group (``directions``' keys)."""
        assume = self.assume if assume is None else assume
        pairs = pairs[["group", "code", "date"]].drop_duplicates().reset_index(drop=True)
        if exported is not None and "exported" not in pairs:
            pairs["exported"] = pd.Timestamp(exported)
        resolved, missing = [], []
        for group, rows in pairs.groupby("group", sort=False):
            imposer = directions[group].imposer
            lines = self.resolve(directions[group], rows["code"], rows["date"])
            asked, found = _key_codes((rows, ["code", "date"]), (lines, ["code", "date"]))
            at_row, at_line = _inner_join(asked, found)
            resolved.append(_joined(rows, at_row, lines, at_line, ["code", "date"]).assign(group=group))
            lost = rows.iloc[np.flatnonzero(np.bincount(at_row, minlength=len(rows)) == 0)]
            missing += [(group, c, t, self.schedules.not_a_line(imposer, c, t.date()))
                        for c, t in zip(lost["code"], lost["date"])]
        resolved = pd.concat(resolved, ignore_index=True) if resolved else pd.DataFrame(
            columns=["group", "code", "date", "line"])
        missing = pd.DataFrame(missing, columns=["group", "code", "date", "reason"])
        line_pairs = resolved[["group", "line", "date"]].drop_duplicates().rename(columns={"line": "code"})
        if explain:
            rows = _explained(self.engine, self.index, line_pairs, directions, include_threatened, assume)
        else:
            rows = _filled(evaluate_pairs(self.engine, self.index, line_pairs, directions, include_threatened,
                                          assume=assume).assign(bears=True))
        if "exported" in pairs and len(rows):
            rows = self._in_transit(rows, resolved)
        layers = _fold(resolved, rows)
        keys = ["group", "code", "date"]
        if not explain:  # bulk: a code of one line has its line's answer, which cannot vary
            resolved = resolved[resolved.groupby(keys, sort=False)["line"].transform("size").to_numpy() > 1]
        if len(resolved) or explain:
            totals, lines = self._totals(resolved, rows, directions)
            totals = through_layers(totals, layers_vary(resolved, rows[rows["applies"].astype(bool)], keys), keys)
        else:
            totals, lines = pd.DataFrame(columns=TOTAL_COLUMNS), pd.DataFrame(columns=keys + ["line"])
        return Answers(layers, totals, lines, rows, missing)

    def answers(self, codes, days, direction: Direction, include_threatened: bool = False,
                exported: date | None = None, assume: Contents | None = None) -> Answers:
        """``answer_pairs`` for every code on every date, in one direction."""
        codes = pd.Series(list(codes), dtype=object).unique()
        days = pd.to_datetime(pd.Index(days)).unique().sort_values()
        pairs = pd.DataFrame({"code": codes}).merge(pd.DataFrame({"date": days}), how="cross").assign(group=0)
        return self.answer_pairs(pairs, {0: direction}, include_threatened, exported, assume=assume)

    def _in_transit(self, rows: pd.DataFrame, resolved: pd.DataFrame) -> pd.DataFrame:
        exported = resolved[["group", "line", "date"]].drop_duplicates()
        rows = rows.merge(self.transit, on=["layer_id", "step"], how="left")
        export_of = pd.DataFrame({"group": [], "code": [], "date": [], "exported": []})
        if "exported" in resolved:
            export_of = resolved[["group", "line", "date", "exported"]].drop_duplicates(["group", "line", "date"]) \
                .rename(columns={"line": "code"})
        del exported
        rows = rows.merge(export_of, on=["group", "code", "date"], how="left")
        held = transit_holds(rows["applies"], rows["exported"], rows["date"], rows["transit_loaded"],
                             rows["transit_entered"])
        rows.loc[held, "charged"] = rows.loc[held, "transit_rate"]
        rows.loc[held, "reason"] = [r + transit_note(a, b, rate) for r, a, b, rate in zip(
            rows.loc[held, "reason"], rows.loc[held, "transit_loaded"], rows.loc[held, "transit_entered"],
            rows.loc[held, "transit_rate"])]
        return rows.drop(columns=["transit_loaded", "transit_entered", "transit_rate", "exported"])

    def _totals(self, resolved: pd.DataFrame, rows: pd.DataFrame, directions: dict):
        """Per line its MFN, additional and total; per (group, code, date) the same if every line
        agrees, else NaN with the range."""
        keys = ["group", "code", "date"]
        charged = rows.assign(unwaived=rows["charged"].where(~rows["waivable"].astype(bool), 0.0))
        per_line = charged.groupby(["group", "code", "date"])[["charged", "unwaived"]].sum()
        lines = resolved.merge(per_line.rename(columns={"charged": "additional_rate", "unwaived": "if_waived"}),
                               left_on=["group", "line", "date"], right_index=True, how="left")
        lines[["additional_rate", "if_waived"]] = clean_rate(lines[["additional_rate", "if_waived"]].fillna(0.0))
        lines["mfn_rate"] = np.nan
        lines["description"] = ""
        for group, part in lines.groupby("group", sort=False):
            imposer = directions[group].imposer
            lines.loc[part.index, "mfn_rate"] = self.schedules.mfn_column(imposer, part["line"], part["date"])
            lines.loc[part.index, "description"] = self._descriptions(imposer, part)
        lines["total_rate"] = clean_rate(lines["mfn_rate"] + lines["additional_rate"])
        totals = fold_totals(lines, keys)
        lines = lines[keys + ["line", "description", "mfn_rate", "additional_rate", "total_rate"]]
        return totals[TOTAL_COLUMNS], lines.reset_index(drop=True)

    def _descriptions(self, imposer: str, part: pd.DataFrame) -> np.ndarray:
        out = np.full(len(part), "", dtype=object)
        for vintage, rows in self.schedules._by_vintage(imposer, part[["line", "date"]].rename(columns={"line": "code"})):
            table = self.schedules.table(vintage)
            found = table["description"].reindex(rows["code"].to_numpy())
            out[part.index.get_indexer(rows.index)] = found.fillna("").to_numpy(dtype=object)
        return out

    def rate(self, code: str, day: date, direction: Direction, include_threatened: bool = False,
             exported: date | None = None, assume: Contents | None = None) -> ProductAnswer:
        """The answer for one code; with ``exported`` (date the goods were loaded), the steps'
        in-transit rules apply; ``assume``: conditions asserted, contents declared. A code that
        stands for no line of the schedule in force is a QueryError naming the nearest lines."""
        if exported is not None and exported > day:
            raise QueryError(f"--exported {exported} is after the date of entry {day}")
        answers = self.answers([code], [day], direction, include_threatened, exported, assume)
        return self.view(answers, code, day, direction, exported)

    def view(self, answers: Answers, code: str, day: date, direction: Direction, exported=None,
             group=0) -> ProductAnswer:
        """The ``ProductAnswer`` of one (code, date) of ``answers``."""
        stamp = pd.Timestamp(day)
        missing = answers.missing[(answers.missing["code"] == code) & (answers.missing["date"] == stamp)
                                  & (answers.missing["group"] == group)]
        if len(missing):
            raise QueryError(missing["reason"].iloc[0])

        def pick(frame):
            mine = frame[(frame["group"] == group) & (frame["code"] == code) & (frame["date"] == stamp)]
            return mine.reset_index(drop=True)

        layers = pick(answers.layers)
        layers = layers.sort_values(["scope", "authority", "layer_id"]).reset_index(drop=True)
        totals = pick(answers.totals).iloc[0].to_dict()
        lines = pick(answers.lines)
        line_layers = answers.line_layers[(answers.line_layers["group"] == group)
                                          & answers.line_layers["code"].isin(set(lines["line"]))
                                          & (answers.line_layers["date"] == stamp)]
        layers["date"] = pd.to_datetime(layers["date"]).dt.date
        mfn, _vintage, schedule_note = self.schedules.mfn(direction.imposer, code, day)
        answer = ProductAnswer(code, day, direction, layers, totals, lines, line_layers, mfn, schedule_note,
                               exported=exported, source=answers)
        if mfn is not None and mfn.note:
            answer.notes.append(mfn.note)
        if schedule_note:
            answer.notes.append(schedule_note)
        spread = answer.range("additional")
        if answer.varies and spread and spread[0] == spread[1] and layers["varies"].astype(bool).any():
            answer.notes.append(f"the {len(lines)} lines under {code} all pay {spread[0]:g}% additional, but "
                                "through different layers: no single answer; see the lines, or ask for a "
                                "longer code")
        elif answer.varies:
            answer.notes.append(f"the {len(lines)} lines under {code} get different duties (additional "
                                f"{spread[0]:g}-{spread[1]:g}%): no single total; see the lines")
        if (layers["reason"].str.startswith("unknown")).any():
            answer.notes.append("some product-group layers in effect have no product list in the data: "
                                "see the rows marked 'unknown'")
        if (layers["confidence"] == "unconfirmed").any():
            answer.notes.append("some layers bearing on this code are unconfirmed in the record")
        answer.notes += condition_notes(layers)
        return answer

    def table(self, codes, days, direction: Direction, include_threatened: bool = False,
              assume: Contents | None = None) -> pd.DataFrame:
        """Bulk: one row per (code, date), ``BULK_COLUMNS``, vectorized: the totals ``answers``
        gives (property-tested equal). Each code stands for the lines of the schedule in force on
        the date (``resolve``); the lines are priced by ``additional_totals`` and folded as
        ``answers`` folds them (``fold_totals``): NaN where the lines differ (the ``*_mean``
        columns give their mean) and where the code stands for no line (``lines`` 0)."""
        assume = self.assume if assume is None else assume
        codes = pd.Index(pd.Series(list(codes), dtype=str).unique())
        day_index = pd.DatetimeIndex(pd.to_datetime(pd.Index(days))).unique().sort_values()
        grid = pd.DataFrame({"code": np.repeat(codes.to_numpy(dtype=object), len(day_index)),
                             "date": np.tile(day_index.to_numpy(), len(codes))})
        resolved = self.resolve(direction, grid["code"], grid["date"]).drop_duplicates(["code", "date", "line"])
        priced = additional_totals(self.engine, self.index, resolved["line"].unique(), day_index, direction,
                                   include_threatened, assume)
        priced["date"] = pd.to_datetime(priced["date"])
        lines = resolved.merge(priced.rename(columns={"code": "line"}), on=["line", "date"], how="left")
        lines["if_waived"] = lines["additional_rate"]
        lines["mfn_rate"] = self.schedules.mfn_column(direction.imposer, lines["line"], lines["date"]) \
            .to_numpy(dtype=float) if len(lines) else np.zeros(0)
        totals = fold_totals(lines, ["code", "date"])
        # lines alike in a total may differ in the layers charging it: then no total is one answer
        # (a code whose MFN varies may still have one additional rate: check it too)
        alike = totals.loc[(totals["lines"] > 1) & (totals["additional_rate"].notna() | totals["total_rate"].notna()),
                           ["code", "date"]]
        several = lines.merge(alike, on=["code", "date"])
        if len(several):
            applied = additional_totals(self.engine, self.index, several["line"].unique(), day_index, direction,
                                        include_threatened, assume, by_layer="applied")
            applied["date"] = pd.to_datetime(applied["date"])
            totals = through_layers(totals, layers_vary(several, applied, ["code", "date"]), ["code", "date"])
        out = grid.merge(totals, on=["code", "date"], how="left")
        out["lines"] = out["lines"].fillna(0).astype(int)
        out["varies"] = out["varies"].fillna(False).astype(bool)
        out["date"] = out["date"].dt.date
        return out[BULK_COLUMNS]


@dataclass
class ProductDiff:
    code: str
    before: ProductAnswer
    after: ProductAnswer
    changes: pd.DataFrame  # layer_id, name, old_rate, new_rate, delta, old_reason, new_reason
    labels: tuple[str, str] | None = None  # names of the two sides when they are not two dates


def product_diff(products: ProductEngine, code: str, date_from: date, date_to: date, direction: Direction,
                 include_threatened: bool = False, against: ProductEngine | None = None,
                 labels: tuple[str, str] | None = None) -> ProductDiff:
    """What changed for one code between two dates, layer by layer (rates charged); with
    ``against``, the ``date_to`` side is answered by that engine (a scenario against the record)."""
    before = products.rate(code, date_from, direction, include_threatened)
    after = (against or products).rate(code, date_to, direction, include_threatened)
    old = before.layers.set_index("layer_id")
    new = after.layers.set_index("layer_id")
    rows = []
    for layer_id in sorted(set(old.index) | set(new.index)):
        o = old.loc[layer_id] if layer_id in old.index else None
        n = new.loc[layer_id] if layer_id in new.index else None
        old_rate = 0.0 if o is None else float(o["charged"])
        new_rate = 0.0 if n is None else float(n["charged"])
        old_reason = "" if o is None else o["reason"]
        new_reason = "" if n is None else n["reason"]
        if (old_rate == new_rate or (pd.isna(old_rate) and pd.isna(new_rate))) and old_reason == new_reason:
            continue
        name = (n if n is not None else o)["name"]
        rows.append({"layer_id": layer_id, "name": name, "old_rate": old_rate, "new_rate": new_rate,
                     "delta": new_rate - old_rate, "old_reason": old_reason, "new_reason": new_reason})
    columns = ["layer_id", "name", "old_rate", "new_rate", "delta", "old_reason", "new_reason"]
    return ProductDiff(code, before, after, pd.DataFrame(rows, columns=columns), labels)


PRODUCT_EXPORT_COLUMNS = [
    "date", "direction", "imposer", "origin", "code", "kind", "layer_id", "name", "authority", "rate",
    "applies", "charged", "waivable", "reason", "mfn_rate", "additional_rate", "total_rate",
    "conditional", "condition", "content_share", "content_basis", "varies", "line",
]


def answers_frame(answers: Answers, direction: Direction, group=0) -> pd.DataFrame:
    """Tidy rows of ``Answers`` (the CSV/JSON of ``rate --hts`` and ``export --hts``): per code x
    date one ``total`` row (MFN + additional), one row per layer bearing on it, and, where the
    lines under the code differ, one ``line`` row per line with its own totals."""
    if len(answers.missing[answers.missing["group"] == group]):
        raise QueryError(answers.missing.loc[answers.missing["group"] == group, "reason"].iloc[0])
    totals = answers.totals[answers.totals["group"] == group]
    layers = answers.layers[(answers.layers["group"] == group) & answers.layers["bears"].astype(bool)]
    total_rows = totals.assign(kind="total", layer_id="", name="Total (MFN + additional)", authority="", rate=np.nan,
                               applies=True, charged=totals["additional_rate"], waivable=False, line="",
                               reason=np.where(totals["varies"], "varies over the lines under this code: see the "
                                                                 "line rows", ""))
    varies = totals.loc[totals["varies"], ["code", "date"]]
    lines = answers.lines[answers.lines["group"] == group].merge(varies, on=["code", "date"])
    line_rows = lines.assign(kind="line", layer_id="", name=lines["description"], authority="", rate=np.nan,
                             applies=True, charged=lines["additional_rate"], waivable=False, reason="",
                             varies=False)
    frame = pd.concat([total_rows, layers.assign(kind="layer", line=""), line_rows], ignore_index=True)
    frame["direction"], frame["imposer"], frame["origin"] = direction.key, direction.imposer, direction.origin
    frame["_order"] = frame["kind"].map({"total": 0, "layer": 1, "line": 2})
    frame = frame.sort_values(["code", "date", "_order", "layer_id", "line"], kind="stable").drop(columns="_order")
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame.reindex(columns=PRODUCT_EXPORT_COLUMNS).reset_index(drop=True)


def product_timeline(products: ProductEngine, codes, days, direction: Direction,
                     include_threatened: bool = False, assume: Contents | None = None,
                     exported: date | None = None) -> pd.DataFrame:
    """Tidy: per code x date, the layers that bear on it and one ``total`` row (MFN + additional)."""
    return answers_frame(products.answers(codes, days, direction, include_threatened, exported, assume), direction)


def product_lookup(products: ProductEngine, code: str, day: date, direction: Direction) -> dict:
    """What the data knows about a code: description, MFN, lines under it, every list it is on.
    A code that stands for no line of the schedule in force is a QueryError naming the nearest."""
    if products.resolve(direction, [code], [day]).empty:
        raise QueryError(products.schedules.not_a_line(direction.imposer, code, day))
    mfn, vintage, note = products.schedules.mfn(direction.imposer, code, day)
    lines = products.schedules.lines_under(direction.imposer, code, day)
    found = products.index.matches([code])
    layers = products.engine.direction_steps(direction).groupby("layer_id").agg(
        name=("name", "first"), authority=("authority", "first"), first=("start", "min"),
        last=("end", lambda ends: None if ends.isna().any() else ends.max()),
    )
    memberships = []
    for row in found.itertuples():
        if row.layer_id not in layers.index:
            continue
        layer = layers.loc[row.layer_id]
        memberships.append({
            "id": row.layer_id, "name": layer["name"], "authority": layer["authority"],
            "role": "covered by" if row.role == "cover" else "exempt from",
            "set": row.set_name, "match": row.match,
            "from": None if pd.isna(row.start) else row.start.date().isoformat(),
            "to": None if pd.isna(row.end) else row.end.date().isoformat(),
            "layer_from": layer["first"].date().isoformat(),
            "layer_to": None if pd.isna(layer["last"]) else pd.Timestamp(layer["last"]).date().isoformat(),
        })
    return {
        "code": code, "date": day.isoformat(), "direction": direction.key, "imposer": direction.imposer,
        "origin": direction.origin,
        "description": None if mfn is None else mfn.description,
        "mfn_rate": None if mfn is None else mfn.rate,
        "mfn_text": None if mfn is None else mfn.general,
        "mfn_basis": None if mfn is None else mfn.basis,
        "schedule": None if vintage is None else vintage.label,
        "note": note or (mfn.note if mfn is not None else ""),
        "lines": [{"code": c, "description": d, "general": g} for c, d, g in
                  zip(lines.index[:50], lines["description"][:50], lines["general"][:50])] if not lines.empty else [],
        "line_count": int(len(lines)),
        "lists": memberships,
    }
