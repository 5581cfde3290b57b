"""Stacking rules as data: one table of (layer, kind, target) and one of origins, built once.

Every consumer reads these tables and decides stacking with one function, ``RuleTable.stack``:
the headline and each group's total on its goods (``Engine.states``), the per-row product answer
(``products.evaluate_pairs``), the bulk product totals (``products.additional_totals``, used by
averages) and, through them, diffs, exports and the ledger. A layer id never appears in this code.

A rule kind says which of its two layers is *removed* when the other, the *trigger*, is liable
on the same goods (``KINDS``). To add a kind, add its row to ``KINDS`` (and its key to
``model.RULE_FIELDS`` and docs/data-format.md): the table and ``stack`` read it from there.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .model import Dataset


@dataclass(frozen=True)
class Kind:
    """How a rule ``layer --kind--> target`` stacks: which side is removed when the other is liable."""

    removed: str  # "layer" or "target"
    wording: str  # why a removed layer is not charged; {other} is the trigger's name or id


# In order of precedence: when two rules remove a layer, the first kind (then the first trigger
# by id) is the one given as the reason.
KINDS = {
    # the layer is not charged on goods the target applies to (EO 14257 sec. 3(b): not on 232 goods)
    "not_on_goods_of": Kind("layer", "not charged on goods subject to {other}"),
    # on goods the layer applies to, the target is not charged (a review rate replaces the list rate)
    "replaces": Kind("target", "replaced by {other}"),
    # the layer is not charged on the content the target charges: on goods the target charges on a
    # content's value (a Section 232 derivative), the layer is charged on the rest of the value;
    # where the target charges the full value, not at all (``RuleTable.outside``)
    "not_on_content_of": Kind("layer", "not charged on goods subject to {other}"),
}
OUTSIDE = list(KINDS).index("not_on_content_of")

RULE_COLUMNS = ["layer_id", "kind", "target", "removed", "trigger", "path", "line"]
ORIGIN_COLUMNS = ["layer_id", "imposer", "origin"]


@dataclass
class Stacked:
    """What ``RuleTable.stack`` decided for each liable (item, layer) row it was given."""

    removed: np.ndarray  # bool: a rule takes the layer off these goods
    kind: np.ndarray  # int: number of the rule kind in KINDS that removed it, -1 if none
    by: np.ndarray  # int: position (in RuleTable.layer_ids) of the layer that triggered it, -1

    def reasons(self, names) -> np.ndarray:
        """The reason of each removed row ('' for the others); ``names[position]`` names the trigger."""
        out = np.full(len(self.removed), "", dtype=object)
        wordings = [kind.wording for kind in KINDS.values()]
        for row in np.flatnonzero(self.removed):
            out[row] = wordings[self.kind[row]].format(other=names[self.by[row]])
        return out


class RuleTable:
    """The stacking rules and origins of a data set, each one DataFrame, with integer positions
    of the layers for vectorized use."""

    def __init__(self, dataset: Dataset):
        layers = dataset.layers
        self.layer_ids = pd.Index(sorted({layer.id for layer in layers}))
        scope = {layer.id: layer.coverage.scope for layer in layers}
        self.scope = pd.Series([scope[i] for i in self.layer_ids], index=self.layer_ids)
        rows = []
        for layer in layers:
            for kind, rule in KINDS.items():
                for target in getattr(layer.rules, kind, ()):
                    removed, trigger = (layer.id, target) if rule.removed == "layer" else (target, layer.id)
                    rows.append((layer.id, kind, target, removed, trigger, layer.path, layer.rules.line))
        # Rules on known targets (the loader refuses unknown ids) by kind, trigger and removed
        # layer (a stable sort), the first of each (kind, removed, trigger): chosen on the tuples,
        # the rows then taken once from the frame of them all.
        order = {kind: number for number, kind in enumerate(KINDS)}
        known = set(self.layer_ids)
        chosen = sorted((i for i, row in enumerate(rows) if row[2] in known),
                        key=lambda i: (order[rows[i][1]], rows[i][4], rows[i][3]))
        seen, keep = set(), []
        for i in chosen:
            if (rows[i][1], rows[i][3], rows[i][4]) not in seen:
                seen.add((rows[i][1], rows[i][3], rows[i][4]))
                keep.append(i)
        self.table = pd.DataFrame(rows, columns=RULE_COLUMNS).iloc[keep].reset_index(drop=True)
        pairs = [(layer.id, layer.imposer, origin) for layer in layers for origin in layer.origins]
        self.origins = pd.DataFrame(pairs, columns=ORIGIN_COLUMNS)
        self._layers_of: dict[tuple[str, str], set[str]] = {}
        for layer_id, imposer, origin in pairs:
            self._layers_of.setdefault((imposer, origin), set()).add(layer_id)
        self._kind = np.array([order[rows[i][1]] for i in keep], dtype=np.int64)
        self._removed = self.position([rows[i][3] for i in keep])
        self._trigger = self.position([rows[i][4] for i in keep])

    def position(self, layer_ids) -> np.ndarray:
        """Positions of layer ids in ``layer_ids`` (-1 for an unknown id)."""
        return self.layer_ids.get_indexer(pd.Index(layer_ids))

    def layers_of(self, imposer: str, origin: str) -> set[str]:
        """Ids of the layers ``imposer`` charges on goods of ``origin``."""
        return set(self._layers_of.get((imposer, origin), ()))

    def of_kind(self, kind: str) -> pd.DataFrame:
        return self.table[self.table["kind"] == kind]

    def stack(self, item: np.ndarray, layer: np.ndarray) -> Stacked:
        """Apply every rule to the liable rows (item, layer position): goods (an item: a code on a
        date, a date, ...) may be liable to several layers; a rule removes one of two layers liable
        on the same item. Rows must be distinct (item, layer) pairs. Triggers are the liable rows
        as given (a removed layer still triggers its own rules), so the answer does not depend on
        the order of the rules or of the rows."""
        item = np.asarray(item, dtype=np.int64)
        layer = np.asarray(layer, dtype=np.int64)
        n_rows, n_layers = len(item), len(self.layer_ids)
        removed = np.zeros(n_rows, dtype=bool)
        kind = np.full(n_rows, -1, dtype=np.int64)
        by = np.full(n_rows, -1, dtype=np.int64)
        if not n_rows or not len(self.table):
            return Stacked(removed, kind, by)
        keys = item * n_layers + layer
        by_key = np.argsort(keys, kind="stable")
        sorted_keys = keys[by_key]
        by_layer = np.argsort(layer, kind="stable")
        bounds = np.searchsorted(layer[by_layer], np.arange(n_layers + 1))
        for rule_kind, target, trigger in zip(self._kind, self._removed, self._trigger):
            rows = by_layer[bounds[trigger]:bounds[trigger + 1]]
            if not len(rows) or bounds[target] == bounds[target + 1]:
                continue
            wanted = item[rows] * n_layers + target
            at = np.searchsorted(sorted_keys, wanted).clip(max=n_rows - 1)
            hit = by_key[at[sorted_keys[at] == wanted]]
            hit = hit[kind[hit] < 0]  # the first rule (by kind, then trigger id) is the reason
            removed[hit], kind[hit], by[hit] = True, rule_kind, trigger
        return Stacked(removed, kind, by)

    def outside(self, item: np.ndarray, layer: np.ndarray, stacked: Stacked, share: np.ndarray) -> np.ndarray:
        """The share of the value left to each row a ``not_on_content_of`` rule removed (0 for
        the other rows): 1 less the shares charged by its triggers liable on the same item
        (``share``: per row, the content's share of the value its layer is charged on, 1 for
        the full value), at least 0. The rows are those given to ``stack``."""
        item = np.asarray(item, dtype=np.int64)
        layer = np.asarray(layer, dtype=np.int64)
        rest = np.zeros(len(item))
        rows = np.flatnonzero(stacked.kind == OUTSIDE)
        if not len(rows):
            return rest
        n_layers = len(self.layer_ids)
        keys = item * n_layers + layer
        by_key = np.argsort(keys, kind="stable")
        sorted_keys = keys[by_key]
        share = np.asarray(share, dtype=float)
        taken = np.zeros(len(rows))
        for rule_kind, target, trigger in zip(self._kind, self._removed, self._trigger):
            if rule_kind != OUTSIDE:
                continue
            mine = np.flatnonzero(layer[rows] == target)
            if not len(mine):
                continue
            wanted = item[rows[mine]] * n_layers + trigger
            at = np.searchsorted(sorted_keys, wanted).clip(max=len(keys) - 1)
            found = sorted_keys[at] == wanted
            taken[mine[found]] += share[by_key[at[found]]]
        rest[rows] = np.clip(1.0 - taken, 0.0, 1.0)
        return rest
