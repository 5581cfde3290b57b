"""YAML files -> typed model. Every check runs here, before anything is computed.

Messages name the file and line: ``data/us/x.yaml:14: step 2: end 2025-01-01 is not after start``.
A file is named as the path through the data directory as it was given (never resolved), so YAML
and list-file messages read alike. Only safe YAML is read (``SafeLoader`` or its C twin); mappings
and lists remember their line. The limits below keep a hostile or mistaken file (a YAML alias bomb,
a 50 MB note, millions of codes) from hanging the tool: each is a ``file:line`` error.
"""
from __future__ import annotations

import functools
import os
import re
from datetime import date
from operator import itemgetter
from pathlib import Path

from .cache import file_json
from .codes import VALID_LENGTHS, code_problem, normalize_code
from .errors import DataError
from .model import (
    CONDITION_FIELDS,
    COVERAGE_FIELDS,
    DATASET_FIELDS,
    DEADLINE_FIELDS,
    IMPOSERS,
    IN_TRANSIT_FIELDS,
    INTEREST_FIELDS,
    INTEREST_RATE_FIELDS,
    LAYER_FIELDS,
    LIST_COLUMNS,
    LITIGATION_FIELDS,
    MAX_RATE,
    ORIGINS,
    PRODUCT_SET_FIELDS,
    REFUND_FIELDS,
    ROUTE_FIELDS,
    RULE_FIELDS,
    SIDES,
    STEP_FIELDS,
    WINDOW_FIELDS,
    Condition,
    Coverage,
    Dataset,
    Deadline,
    InterestRate,
    InterestTable,
    InTransit,
    Layer,
    Litigation,
    ProductSet,
    RefundProgram,
    RefundRoute,
    Rules,
    Step,
)

ENV_DATA_DIR = "TARIFFCALC_DATA"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")

# Limits, documented in docs/data-format.md ("Limits"). The bundled data is far below each: its
# largest YAML file is 10 kB, all of it with its list files 2 MB, its longest list 6,200 codes.
MAX_YAML_BYTES = 1 << 20          # one YAML file (layer, dataset.yaml, an index)
MAX_LIST_BYTES = 16 << 20         # one list file
MAX_TOTAL_BYTES = 64 << 20        # every YAML and list file one load reads, together
MAX_ALIASES = 100                 # alias uses (*name, <<: *name) in one YAML file
MAX_ALIAS_NODES = 10_000          # values the aliases of one YAML file may stand for, expanded
MAX_LIST_CODES = 100_000          # rows of one list file, or codes of one `codes:` list


class _Map(dict):
    """A YAML mapping that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict


class _Seq(list):
    line: int = 0
    item_lines: list


class _DuplicateKey(Exception):
    def __init__(self, key, line):
        self.key, self.line = key, line


def _construct_map(loader, node):
    loader.flatten_mapping(node)
    result = _Map()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_seq(loader, node):
    result = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_timestamp(loader, node):
    # An impossible date (2019-13-01) stays text, so the schema check can name its line.
    import yaml

    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


@functools.lru_cache(maxsize=1)
def _loaders():
    """PyYAML's safe loader and the line-aware one built on it, made on first use: a warm start
    (``cache``) reads no YAML, so it does not import PyYAML."""
    import yaml

    try:  # libyaml is ten times faster; both are safe loaders.
        base = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover - depends on how PyYAML was built
        base = yaml.SafeLoader

    class _LineLoader(base):
        pass

    _LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
    _LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
    _LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
    return base, _LineLoader


def __getattr__(name):  # loader._LineLoader and loader._BaseLoader, built on first use
    if name in ("_BaseLoader", "_LineLoader"):
        return _loaders()[name == "_LineLoader"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def bundled_data_dir() -> Path:
    """The data shipped with tariffcalc: inside the wheel, or ``data/`` of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "data", here.parent / "data"):
        if (candidate / "dataset.yaml").is_file():
            return candidate
    raise DataError(here / "data", None, "bundled data not found (broken installation?)")


class Budget:
    """The bytes one load has read so far, against ``MAX_TOTAL_BYTES``."""

    def __init__(self, limit: int = MAX_TOTAL_BYTES):
        self.limit, self.used = limit, 0

    def take(self, path, data: bytes = b"", size: int | None = None) -> None:
        size = len(data) if size is None else size
        if self.used + size > self.limit:
            line = data[:self.limit - self.used].count(b"\n") + 1
            raise DataError(path, line, f"the data files read so far pass {_size(self.limit)} "
                                        "together (MAX_TOTAL_BYTES, see docs/data-format.md)")
        self.used += size


def _size(count: int) -> str:
    return f"{count / (1 << 20):g} MiB" if count >= 1 << 20 else f"{count:,} bytes"


def read_limited(path, limit: int, name: str, budget: Budget | None = None) -> bytes:
    """The bytes of a data file; ``DataError`` at the line where it passes ``limit`` bytes
    (only ``limit`` + 1 bytes are ever read)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise DataError(path, None, f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > limit:
        line = data[:limit].count(b"\n") + 1
        raise DataError(path, line, f"the file passes {_size(limit)} here ({name}, see docs/data-format.md)")
    if budget is not None:
        budget.take(path, data)
    return data


def _check_aliases(path: Path, text: str) -> None:
    """Count alias uses and the values they stand for, from the parser's events, before anything
    is built: a "billion laughs" file of nine nested aliases fails at the alias that passes
    ``MAX_ALIAS_NODES`` instead of expanding to a billion values."""
    import yaml

    sizes: dict[str, int] = {}
    open_: list[list] = []  # [anchor, values so far] of each open list or mapping
    uses = stands_for = 0
    for event in yaml.parse(text, Loader=_loaders()[0]):
        if isinstance(event, yaml.AliasEvent):
            uses += 1
            size = sizes.get(event.anchor, 1)
            stands_for += size
            if uses > MAX_ALIASES or stands_for > MAX_ALIAS_NODES:
                raise DataError(path, event.start_mark.line + 1,
                                f"too many aliases (at most {MAX_ALIASES} uses standing for "
                                f"{MAX_ALIAS_NODES:,} values in all: MAX_ALIASES, MAX_ALIAS_NODES)")
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            open_.append([event.anchor, 1])
            continue
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = open_.pop()
            if anchor:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor:
                sizes[event.anchor] = 1
        else:
            continue
        if open_:
            open_[-1][1] += size


def read_yaml(path: Path, budget: Budget | None = None):
    """Parse one file with the safe line-aware loader, within the limits; errors become DataError."""
    data = read_limited(path, MAX_YAML_BYTES, "MAX_YAML_BYTES", budget)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(path, line, f"not UTF-8 text: {exc.reason}") from None
    import yaml

    try:
        if "*" in text:  # an alias needs a '*': files without one skip the count
            _check_aliases(path, text)
        return yaml.load(text, Loader=_loaders()[1])
    except _DuplicateKey as exc:
        raise DataError(path, exc.line, f"duplicate key '{exc.key}'") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "syntax error"
        raise DataError(path, line, f"malformed YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: name its line
        line = text[:exc.position].count("\n") + 1 if isinstance(exc.position, int) else 1
        raise DataError(path, line, f"malformed YAML: {exc.reason} (character {exc.character!r})") from None
    except yaml.YAMLError as exc:
        raise DataError(path, 1, f"malformed YAML: {str(exc).splitlines()[0]}") from None
    except (TypeError, ValueError, RecursionError) as exc:  # e.g. a list used as a key
        raise DataError(path, 1, f"malformed YAML: {str(exc).splitlines()[0]}") from None


class FieldChecker:
    """Validates one mapping against a schema table and converts its values."""

    def __init__(self, path: Path, what: str):
        self.path = path
        self.what = what  # prefix naming the place, e.g. "step 2" ('' at top level)

    def fail(self, line, reason):
        prefix = f"{self.what}: " if self.what else ""
        raise DataError(self.path, line, prefix + reason)

    def fields(self, mapping, schema, parent_line):
        if not isinstance(mapping, dict):
            self.fail(getattr(mapping, "line", parent_line), "expected a mapping of keys")
        for key in mapping:
            if key not in schema:
                allowed = ", ".join(schema)
                self.fail(mapping.key_lines.get(key), f"unknown key '{key}' (allowed: {allowed})")
        values = {}
        for key, spec in schema.items():
            if key not in mapping or mapping[key] is None:
                if spec.required:
                    self.fail(mapping.line or parent_line, f"missing required key '{key}'")
                values[key] = spec.default
                continue
            values[key] = self.value(key, mapping[key], spec, mapping.key_lines.get(key))
        return values

    def value(self, key, raw, spec, line):
        kind = spec.kind
        if kind in ("str", "id", "url"):
            if not isinstance(raw, str) or not raw.strip():
                self.fail(line, f"'{key}' must be a non-empty text, not {raw!r}")
            if kind == "id" and not _ID.match(raw):
                self.fail(line, f"'{key}' {raw!r} must be lowercase letters, digits and '-'")
            if kind == "url" and not raw.startswith(("http://", "https://")):
                self.fail(line, f"'{key}' must be a URL starting with http:// or https://")
            if spec.choices and raw not in spec.choices:
                self.fail(line, f"unknown {key} {raw!r} (allowed: {', '.join(spec.choices)})")
            return raw.strip()
        if kind == "date":
            return self.date(key, raw, line)
        if kind == "bool":
            if not isinstance(raw, bool):
                self.fail(line, f"'{key}' must be true or false, not {raw!r}")
            return raw
        if kind == "number":
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                self.fail(line, f"'{key}' must be a number, not {raw!r}")
            return float(raw)
        if kind == "origins":
            origins = [raw] if isinstance(raw, str) else raw
            if not isinstance(origins, list) or not origins:
                self.fail(line, f"'{key}' must be a code or a list of codes")
            for code in origins:
                if code not in ORIGINS:
                    self.fail(line, f"unknown origin {code!r} (allowed: {', '.join(ORIGINS)})")
            return tuple(origins)
        if kind in ("codes", "paths"):
            items = [raw] if isinstance(raw, str) else raw
            if not isinstance(items, list) or not all(isinstance(i, (str, int)) for i in items):
                self.fail(line, f"'{key}' must be a list of texts")
            if len(items) > MAX_LIST_CODES:
                self.fail(line, f"'{key}' has {len(items):,} items, more than {MAX_LIST_CODES:,} "
                                "(MAX_LIST_CODES, see docs/data-format.md)")
            if kind == "codes":
                for item in items:
                    problem = code_problem(str(item))
                    if problem:
                        self.fail(line, f"'{key}': {problem}")
                return tuple(normalize_code(str(item)) for item in items)
            return tuple(str(item) for item in items)
        if kind == "ids":
            ids = [raw] if isinstance(raw, str) else raw
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                self.fail(line, f"'{key}' must be a list of layer ids")
            return tuple(ids)
        if kind == "mapping" and not isinstance(raw, dict):
            self.fail(line, f"'{key}' must be a mapping")
        if kind == "list" and (not isinstance(raw, list) or not raw):
            self.fail(line, f"'{key}' must be a non-empty list")
        return raw

    def date(self, key, raw, line):
        if isinstance(raw, date) and not hasattr(raw, "hour"):
            return raw
        if isinstance(raw, str):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        self.fail(line, f"'{key}' must be a date YYYY-MM-DD, not {raw!r}")


def parse_step(path: Path, index: int, raw, line) -> Step:
    """Step ``index`` (from 1) of a layer file, checked against ``STEP_FIELDS``; ``DataError`` names
    the file and line of what is wrong. Scenario edits that add a step read theirs with it too."""
    check = FieldChecker(path, f"step {index}")
    v = check.fields(raw, STEP_FIELDS, line)
    where = getattr(raw, "line", line)
    if v["end"] is not None and v["end"] <= v["start"]:
        check.fail(where, f"end {v['end']} is not after start {v['start']}")
    if not 0 <= v["rate"] <= MAX_RATE:
        check.fail(raw.key_lines["rate"], f"rate {v['rate']:g} is outside 0..{MAX_RATE:g}")
    transit = None
    if v["in_transit"] is not None:
        t = FieldChecker(path, f"step {index}: in_transit").fields(
            v["in_transit"], IN_TRANSIT_FIELDS, where
        )
        transit = InTransit(**t)
    return Step(
        start=v["start"],
        end=v["end"],
        rate=v["rate"],
        instrument=v["instrument"],
        source=v["source"],
        status=v["status"],
        effective_time=v["effective_time"],
        announced=v["announced"],
        in_transit=transit,
        note=v["note"],
        confidence=v["confidence"],
        content=v["content"],
        line=where,
    )


def _conditions(path: Path, raw, line) -> tuple[Condition, ...]:
    conditions, seen = [], {}
    for i, item in enumerate(raw or (), 1):
        item_line = raw.item_lines[i - 1]
        v = FieldChecker(path, f"conditions {i}").fields(item, CONDITION_FIELDS, item_line)
        if v["id"] in seen:
            raise DataError(path, item_line, f"conditions {i}: id '{v['id']}' repeats conditions {seen[v['id']]}")
        seen[v["id"]] = i
        conditions.append(Condition(v["id"], v["text"], v["source"], v["note"], line=item_line))
    return tuple(conditions)


def _product_set(path: Path, root: Path, raw, line, what: str, named: bool) -> ProductSet:
    check = FieldChecker(path, what)
    v = check.fields(raw, PRODUCT_SET_FIELDS, line)
    where = getattr(raw, "line", line)
    if named and not v["name"]:
        check.fail(where, "missing required key 'name'")
    if not v["codes"] and not v["lists"]:
        check.fail(where, "needs 'codes' or 'lists'")
    if v["start"] and v["end"] and v["end"] <= v["start"]:
        check.fail(where, f"end {v['end']} is not after start {v['start']}")
    lists = []
    for rel in v["lists"]:
        target = Path(os.path.normpath(root / rel))  # named as given, like the YAML file itself
        if not target.is_file():
            check.fail(raw.key_lines.get("lists", where), f"list file '{rel}' not found under {root}")
        lists.append(str(target))
    return ProductSet(
        name=v["name"], codes=v["codes"], lists=tuple(lists), start=v["start"], end=v["end"],
        source=v["source"], note=v["note"], conditional=v["conditional"], complete=v["complete"],
        condition=v["condition"], confidence=v["confidence"], path=str(path), line=where,
    )


def parse_layer(path: Path, raw, root: Path | None = None) -> Layer:
    """Check one layer file's content and build the Layer (lists resolve against ``root``)."""
    root = root if root is not None else path.parent.parent
    check = FieldChecker(path, "")
    if not isinstance(raw, dict):
        check.fail(1, "top level must be a mapping with id, name, imposer, ... (see docs/data-format.md)")
    v = check.fields(raw, LAYER_FIELDS, 1)
    if v["imposer"] in v["origin"]:
        check.fail(raw.key_lines["origin"], f"origin {v['imposer']} is the imposer itself")
    covered = next(side.origins for side in SIDES if side.imposer == v["imposer"])
    for origin in v["origin"]:  # an origin no direction of this imposer asks about would never be charged
        if origin not in covered:
            check.fail(raw.key_lines["origin"], f"origin {origin} is not one {v['imposer']}'s tariffs are "
                                                f"answered for (allowed: {', '.join(covered)})")
    folder = path.parent.name.upper()
    if folder in IMPOSERS and folder != v["imposer"]:
        check.fail(raw.key_lines["imposer"], f"imposer {v['imposer']} in the folder for {folder}")
    cov = FieldChecker(path, "coverage").fields(v["coverage"], COVERAGE_FIELDS, raw.key_lines["coverage"])
    if cov["products"] is not None:
        cov["products"] = _product_set(path, root, cov["products"], raw.key_lines["coverage"],
                                       "coverage: products", named=False)
    cov["exempt"] = tuple(
        _product_set(path, root, item, cov["exempt"].item_lines[i], f"coverage: exempt {i + 1}", named=True)
        for i, item in enumerate(cov["exempt"] or ())
    )
    rules = Rules()
    if v["rules"] is not None:
        r = FieldChecker(path, "rules").fields(v["rules"], RULE_FIELDS, raw.key_lines["rules"])
        rules = Rules(**r, line=raw.key_lines["rules"])
    conditions = _conditions(path, v["conditions"], raw.key_lines.get("conditions"))
    step_list = v["steps"]
    steps = [parse_step(path, i, s, step_list.item_lines[i - 1]) for i, s in enumerate(step_list, 1)]
    ordered = sorted(enumerate(steps, 1), key=lambda pair: pair[1].start)
    for (i_prev, prev), (i_next, nxt) in zip(ordered, ordered[1:]):
        if prev.end is None or prev.end > nxt.start:
            check.fail(nxt.line, f"step {i_next} (from {nxt.start}) overlaps step {i_prev} (from {prev.start})")
    return Layer(
        id=v["id"],
        name=v["name"],
        imposer=v["imposer"],
        origins=v["origin"],
        authority=v["authority"],
        coverage=Coverage(**cov),
        steps=tuple(step for _, step in ordered),
        rules=rules,
        note=v["note"],
        short_name=v["short_name"],
        conditions=conditions,
        path=str(path),
        line=raw.key_lines["id"],
    )


def _layer_files(directory: Path) -> list[Path]:
    """Layer files: YAML anywhere below the directory except dataset.yaml and the folders of
    tables (mfn/, weights/, lists/, conventions/, refunds/, content/) and scenarios/, which have their
    own formats."""
    tables = {"mfn", "weights", "lists", "conventions", "refunds", "content", "scenarios"}
    return sorted(
        p for p in directory.rglob("*.y*ml")
        if p.suffix in (".yaml", ".yml") and p.name != "dataset.yaml"
        and not tables & set(p.relative_to(directory).parts[:-1])
    )


def _read_dataset_meta(directory: Path, budget: Budget | None = None) -> dict:
    """dataset.yaml: {key: {imposer: value}} for verified_through, content_estimates, footnotes."""
    path = directory / "dataset.yaml"
    if not path.is_file():
        return {}
    raw = read_yaml(path, budget)
    if not isinstance(raw, dict):
        raise DataError(path, 1, "top level must be a mapping")
    v = FieldChecker(path, "").fields(raw, DATASET_FIELDS, 1)
    meta = {"verified_through": {}, "content_estimates": {}, "footnotes": {}}
    for key in meta:
        for imposer, value in (v[key] or {}).items():
            line = v[key].key_lines.get(imposer)
            check = FieldChecker(path, key)
            if imposer not in IMPOSERS:
                check.fail(line, f"unknown imposer {imposer!r}")
            if key == "verified_through":
                meta[key][imposer] = check.date(imposer, value, line)
                continue
            if not isinstance(value, str) or not value.strip():
                check.fail(line, f"'{imposer}' must be a non-empty text, not {value!r}")
            if key == "content_estimates":
                target = Path(os.path.normpath(directory / value))  # named as given (see module doc)
                if not target.is_file():
                    check.fail(line, f"file '{value}' not found under {directory}")
                value = str(target)
            meta[key][imposer] = value.strip()
    return meta


def _has_tables(directory: Path) -> bool:
    """Whether an overlay brings YAML of its own other than layers (an MFN or weights index,
    refund programs): it may then have no layer files."""
    return any(p.suffix in (".yaml", ".yml") for p in directory.rglob("*.y*ml"))


def load_directory(directory, budget: Budget | None = None, *, tables_suffice: bool = False
                   ) -> tuple[list[Layer], dict]:
    """Load and check every layer file of one directory; ids must be unique within it.

    A directory without layer files is an error (a mistyped --data-dir must not answer "0%"),
    unless ``tables_suffice`` and it brings tables of its own (an overlay of MFN schedules)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(directory, None, "data directory not found")
    budget = budget if budget is not None else Budget()
    files = _layer_files(directory)
    if not files and not (tables_suffice and _has_tables(directory)):
        raise DataError(None, None, f"no layer files in {directory} (a layer is a .yaml file, e.g. "
                                    f"{directory / 'us' / 'my-layer.yaml'}; see docs/data-format.md)")
    layers, seen = [], {}
    for path in files:
        layer = parse_layer(path, read_yaml(path, budget), directory)
        if layer.id in seen:
            raise DataError(path, layer.line, f"duplicate id '{layer.id}' (also in {seen[layer.id]})")
        seen[layer.id] = path
        layers.append(layer)
    return layers, _read_dataset_meta(directory, budget)


def _check_conditions(layers: list[Layer]) -> None:
    """Condition ids are unique in the data set, and every product set names a declared one."""
    declared: dict[str, Layer] = {}
    for layer in layers:
        for condition in layer.conditions:
            other = declared.get(condition.id)
            if other is not None and other.id != layer.id:
                raise DataError(layer.path, condition.line,
                                f"condition '{condition.id}' is also declared in {other.path}")
            declared[condition.id] = layer
    for layer in layers:
        sets = ([layer.coverage.products] if layer.coverage.products else []) + list(layer.coverage.exempt)
        for product_set in sets:
            if product_set.condition and product_set.condition not in declared:
                raise DataError(layer.path, product_set.line,
                                f"condition '{product_set.condition}' is not declared (conditions: of any layer)")


def check_rules(layers: list[Layer]) -> None:
    """Every layer a rule names (not_on_goods_of, replaces, not_on_content_of) exists and is not
    the layer itself; else ``DataError`` at the rule's line."""
    known = {layer.id for layer in layers}
    for layer in layers:
        for kind in ("not_on_goods_of", "replaces", "not_on_content_of"):
            for target in getattr(layer.rules, kind):
                if target not in known:
                    raise DataError(layer.path, layer.rules.line, f"rules: {kind} names unknown layer '{target}'")
                if target == layer.id:
                    raise DataError(layer.path, layer.rules.line, f"rules: {kind} names the layer itself")


def user_data_dir(explicit=None) -> Path | None:
    """The overlay directory: ``--data-dir`` if given, else ``$TARIFFCALC_DATA``, else none."""
    chosen = explicit or os.environ.get(ENV_DATA_DIR) or None
    return Path(chosen) if chosen else None


def load_dataset(overlay=None, *, bundled: bool = True, cache: bool = True) -> Dataset:
    """Bundled layers, then an overlay directory whose layers add to or replace them by id.

    Every file is checked, list files included, within the limits above: on each call with
    ``cache=False``, else once per content of the data files (``cache``: a later run over the
    same files reads the checked data set back from the user cache folder)."""
    dirs = []
    if bundled:
        dirs.append(bundled_data_dir())
    if overlay is not None:
        dirs.append(Path(overlay))
    if cache:
        from . import cache as warm

        return warm.load(dirs, lambda: _load_checked(dirs, bundled))
    return _load_checked(dirs, bundled)


def _load_checked(dirs: list[Path], bundled: bool) -> Dataset:
    by_id: dict[str, Layer] = {}
    meta: dict = {"verified_through": {}, "content_estimates": {}, "footnotes": {}}
    budget = Budget()
    for directory in dirs:
        layers, found = load_directory(directory, budget, tables_suffice=bundled)
        for layer in layers:
            by_id[layer.id] = layer
        for key, values in found.items():
            meta[key].update(values)
    layers = list(by_id.values())
    check_rules(layers)
    _check_conditions(layers)
    programs, interest = load_refunds(dirs, layers)
    dataset = Dataset(layers=tuple(layers), dirs=tuple(str(d) for d in dirs), refunds=programs,
                      interest=interest, **meta)
    check_list_files(dataset, budget)
    return dataset


def read_list_file(path, conditions=None, budget: Budget | None = None
                   ) -> list[tuple[str, date | None, date | None, int, str | None]]:
    """Rows ``(code, start, end, line, condition)`` of a list file, every check done; DataError otherwise.

    The file starts with ``#`` comment lines (a ``# source:`` line is required), then a CSV header
    with a ``code`` column and optional ``start``/``end`` dates (half-open) and ``condition`` (the id
    of a condition the row's goods must meet; with ``conditions``, the ids declared, it is checked).
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(path, None, f"cannot read list file: {exc.strerror or exc}") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _LISTS_READ:
        _LISTS_READ.clear() if len(_LISTS_READ) > 1000 else None
        _LISTS_READ[key] = _read_list_file(path, budget)
    elif budget is not None:
        budget.take(path, size=stat.st_size)
    rows = _LISTS_READ[key]
    if conditions is not None:
        for _code, _start, _end, line, condition in rows:
            if condition is not None and condition not in conditions:
                raise DataError(path, line, f"condition '{condition}' is not declared (conditions: of any layer)")
    return rows


# Checked list files of this process by (path, mtime, size): the loader checks each list file it
# loads, and pricing then reads the same rows without parsing the file again.
_LISTS_READ: dict[tuple, list] = {}


def _read_list_file(path: Path, budget: Budget | None):
    import csv

    data = read_limited(path, MAX_LIST_BYTES, "MAX_LIST_BYTES", budget)
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(path, data[:exc.start].count(b"\n") + 1, f"not UTF-8 text: {exc.reason}") from None
    number = 0
    has_source = False
    while number < len(lines) and (lines[number].startswith("#") or not lines[number].strip()):
        has_source = has_source or lines[number].lower().startswith("# source:")
        number += 1
    if not has_source:
        raise DataError(path, 1, "list file needs a '# source: …' line before the header")
    if number >= len(lines):
        raise DataError(path, number, "list file has no header line")
    reader = csv.reader(lines[number:])
    header = [column.strip() for column in next(reader)]
    header_line = number + 1
    if "code" not in header:
        raise DataError(path, header_line, "header needs a 'code' column")
    unknown = [c for c in header if c not in LIST_COLUMNS]
    if unknown:
        raise DataError(path, header_line, f"unknown column '{unknown[0]}' (allowed: {', '.join(LIST_COLUMNS)})")
    where = {name: header.index(name) for name in ("code", "start", "end", "condition") if name in header}
    code_at, dated = where["code"], "start" in where or "end" in where
    records = list(reader)
    if reader.line_num == len(records) + 1:  # one line per record: no quoted line break
        rows = _plain_rows(records, len(header), header_line, where)
        if rows is not None:
            return rows
    # The careful loop: it finds and names the first problem (or reads a file with line breaks
    # in quoted fields).
    reader = csv.reader(lines[number:])
    next(reader)
    rows, seen, consumed, days = [], {}, reader.line_num, {}
    for record in reader:
        line = number + consumed + 1  # the physical line, also after a quoted line break
        consumed = reader.line_num
        code_text = record[code_at].strip() if len(record) > code_at else ""
        if not code_text and not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise DataError(path, line, f"{len(record)} fields, header has {len(header)}")
        if len(rows) == MAX_LIST_CODES:
            raise DataError(path, line, f"more than {MAX_LIST_CODES:,} codes in one list file "
                                        "(MAX_LIST_CODES, see docs/data-format.md)")
        if code_text.isdigit() and len(code_text) in VALID_LENGTHS:
            code = code_text  # the usual row: plain digits, nothing to normalise
        else:
            problem = code_problem(code_text)
            if problem:
                raise DataError(path, line, problem)
            code = normalize_code(code_text)
        start = end = None
        if dated:
            start = _list_date(path, line, "start", record, where, days)
            end = _list_date(path, line, "end", record, where, days)
            if start and end and end <= start:
                raise DataError(path, line, f"end {end} is not after start {start}")
        for other_start, other_end, other_line in seen.get(code, ()):
            if (end is None or other_start is None or other_start < end) and (
                other_end is None or start is None or start < other_end
            ):
                raise DataError(path, line, f"code {code} repeats line {other_line} with overlapping dates")
        seen.setdefault(code, []).append((start, end, line))
        condition = record[where["condition"]].strip() or None if "condition" in where else None
        rows.append((code, start, end, line, condition))
    return rows


_PLAIN_CODES = re.compile(r"(?:(?:\d\d){1,5}\n)*")  # codes of 2, 4, 6, 8 or 10 digits, one a line
_PLAIN_LENGTHS = frozenset(VALID_LENGTHS)


def _plain_rows(records: list, width: int, header_line: int, where: dict):
    """The rows of a list file without any problem, checked column-wise (27,000 rows are read on
    a cold start: each check runs over a whole column, or over its distinct values, not row by
    row); None as soon as anything is unusual: the careful loop then names it."""
    if [] in records:  # a blank line: the rows keep their line numbers
        numbered = [(header_line + 1 + i, record) for i, record in enumerate(records) if record]
        lines = [line for line, _ in numbered]
        records = [record for _, record in numbered]
    else:
        lines = range(header_line + 1, header_line + 1 + len(records))
    if not records:
        return []
    if len(records) > MAX_LIST_CODES or set(map(len, records)) != {width}:
        return None
    columns = {name: list(map(itemgetter(at), records)) for name, at in where.items()}
    codes = list(map(str.strip, columns["code"]))
    joined = "".join(codes)  # ASCII digits of 2-10 digits, else the regex (any decimal digits)
    if not (joined.isascii() and joined.isdigit() and set(map(len, codes)) <= _PLAIN_LENGTHS) \
            and not _PLAIN_CODES.fullmatch("\n".join(codes) + "\n"):
        return None
    none = [None] * len(codes)
    starts = ends = none
    texts = {name: list(map(str.strip, columns[name])) for name in ("start", "end") if name in where}
    if texts:
        try:  # a list repeats a few dates over thousands of rows: each is parsed once
            days = {text: date.fromisoformat(text) for column in texts.values() for text in set(column) if text}
        except ValueError:
            return None
        days[""] = None
        starts = list(map(days.__getitem__, texts["start"])) if "start" in texts else none
        ends = list(map(days.__getitem__, texts["end"])) if "end" in texts else none
        if any(s is not None and e is not None and e <= s for s, e in set(zip(starts, ends))):
            return None
    if len(set(codes)) != len(codes):  # a code twice: only with dates that do not overlap
        spans: dict = {}
        for code, start, end in zip(codes, starts, ends):
            spans.setdefault(code, []).append((start, end))
        for code_spans in spans.values():
            for i, (start, end) in enumerate(code_spans):
                for other_start, other_end in code_spans[:i]:
                    if (end is None or other_start is None or other_start < end) and (
                            other_end is None or start is None or start < other_end):
                        return None
    conditions = none
    if "condition" in where:
        conditions = [text or None for text in map(str.strip, columns["condition"])]
    return list(zip(codes, starts, ends, lines, conditions))


def _list_date(path, line, name, record, where, days: dict):
    text = record[where[name]].strip() if name in where else ""
    if not text:
        return None
    day = days.get(text)  # a list repeats a few dates over thousands of rows: parse each once
    if day is None:
        try:
            day = days[text] = date.fromisoformat(text)
        except ValueError:
            raise DataError(path, line, f"{name} {text!r} is not a date YYYY-MM-DD") from None
    return day


def check_list_files(dataset: Dataset, budget: Budget | None = None) -> int:
    """Read and check every list file the layers name (``load_dataset`` does, every time)."""
    files = {
        name
        for layer in dataset.layers
        for product_set in ([layer.coverage.products] if layer.coverage.products else []) + list(layer.coverage.exempt)
        for name in product_set.lists
    }
    declared = dataset.conditions()
    for name in sorted(files):
        read_list_file(name, declared, budget)
    from .content import ContentEstimates  # the content estimates are read lazily too

    for path in dataset.content_estimates.values():
        ContentEstimates(path)
    return len(files)


def tables_dir(dataset: Dataset, folder: str, index: str) -> Path:
    """``folder`` of the last data directory that has ``folder/index`` (an overlay may bring its
    own tables), else of the first one."""
    for directory in reversed(dataset.dirs):
        if (Path(directory) / folder / index).is_file():
            return Path(directory) / folder
    return Path(dataset.dirs[0] if dataset.dirs else ".") / folder


def read_index(path: Path, what: str, required: set) -> list[tuple[dict, int]]:
    """A YAML list of mappings (``vintages.yaml``, ``weights.yaml``): ``(item, line)`` pairs,
    each with the ``required`` keys; [] when the file is absent. Kept in the warm cache."""
    if not Path(path).is_file():
        return []
    read = _read_index(str(path), what, sorted(required))
    return list(zip(read["items"], read["lines"]))


@file_json("index")
def _read_index(path: str, what: str, required: list) -> dict:
    raw = read_yaml(Path(path))
    if not isinstance(raw, list):
        raise DataError(path, 1, f"expected a list of {what}s")
    for item, line in zip(raw, raw.item_lines):
        if not isinstance(item, dict) or not set(required) <= set(item):
            raise DataError(path, line, f"a {what} needs {', '.join(required)}")
    return {"items": list(raw), "lines": list(raw.item_lines)}


# -- refund programs and interest tables (data/refunds/) --------------------------------------

def _whole(check: FieldChecker, value, line, key: str) -> int | None:
    if value is None:
        return None
    if value < 0 or value != int(value):
        check.fail(line, f"'{key}' must be a whole number of 0 or more, not {value:g}")
    return int(value)


def _route(path: Path, index: int, raw, line) -> RefundRoute:
    check = FieldChecker(path, f"route {index}")
    v = check.fields(raw, ROUTE_FIELDS, line)
    where = getattr(raw, "line", line)
    days = _whole(check, v["max_days_since_liquidation"], raw.key_lines.get("max_days_since_liquidation"),
                  "max_days_since_liquidation") if isinstance(raw, dict) else None
    if days is not None and v["liquidated"] is False:
        check.fail(where, "max_days_since_liquidation needs a liquidated entry, but liquidated is false")
    deadline = None
    if v["deadline"] is not None:
        d_check = FieldChecker(path, f"route {index}: deadline")
        d = d_check.fields(v["deadline"], DEADLINE_FIELDS, raw.key_lines["deadline"])
        d_line = getattr(v["deadline"], "line", where)
        if (d["days"] is None) == (d["years"] is None):
            d_check.fail(d_line, "needs one of 'days' or 'years'")
        deadline = Deadline(d["after"], _whole(d_check, d["days"], d_line, "days") or 0,
                            _whole(d_check, d["years"], d_line, "years") or 0)
    return RefundRoute(route=v["route"], instrument=v["instrument"], source=v["source"], liquidated=v["liquidated"],
                       max_days_since_liquidation=days, opens=v["from"], deadline=deadline,
                       confidence=v["confidence"], note=v["note"], line=where)


def parse_refund(path: Path, raw) -> RefundProgram:
    """Check one refund program file (data/refunds/<id>.yaml) and build it."""
    check = FieldChecker(path, "")
    if not isinstance(raw, dict):
        check.fail(1, "top level must be a mapping with id, name, imposer, layers, ... (see docs/data-format.md)")
    v = check.fields(raw, REFUND_FIELDS, 1)
    w = FieldChecker(path, "window").fields(v["window"], WINDOW_FIELDS, raw.key_lines["window"])
    if w["end"] <= w["start"]:
        check.fail(raw.key_lines["window"], f"window: end {w['end']} is not after start {w['start']}")
    lit = FieldChecker(path, "litigation").fields(v["litigation"], LITIGATION_FIELDS, raw.key_lines["litigation"])
    routes = tuple(_route(path, i, r, v["routes"].item_lines[i - 1]) for i, r in enumerate(v["routes"], 1))
    return RefundProgram(
        id=v["id"], name=v["name"], imposer=v["imposer"], layers=v["layers"], start=w["start"], end=w["end"],
        mechanism=v["mechanism"], litigation=Litigation(**lit), routes=routes, instrument=v["instrument"],
        source=v["source"], interest=v["interest"], interest_payer=v["interest_payer"],
        confidence=v["confidence"], note=v["note"], path=str(path), line=raw.key_lines["id"],
    )


def parse_interest(path: Path, raw) -> InterestTable:
    """Check one interest table (data/refunds/interest/<id>.yaml): dated rates that do not overlap."""
    check = FieldChecker(path, "")
    if not isinstance(raw, dict):
        check.fail(1, "top level must be a mapping with id, name, rule, compounding, rates, ...")
    v = check.fields(raw, INTEREST_FIELDS, 1)
    rates = []
    for i, item in enumerate(v["rates"], 1):
        line = v["rates"].item_lines[i - 1]
        r_check = FieldChecker(path, f"rate {i}")
        r = r_check.fields(item, INTEREST_RATE_FIELDS, line)
        if r["end"] <= r["start"]:
            r_check.fail(line, f"end {r['end']} is not after start {r['start']}")
        for key in ("corporate", "noncorporate"):
            if not 0 <= r[key] <= 100:
                r_check.fail(item.key_lines[key], f"{key} {r[key]:g} is outside 0..100 (percent a year)")
        if rates and r["start"] < rates[-1][0].end:
            r_check.fail(line, f"starts {r['start']}, before the rate above ends ({rates[-1][0].end}); "
                               "list the rates in order, without overlaps")
        rates.append((InterestRate(**r), line))
    return InterestTable(id=v["id"], name=v["name"], rule=v["rule"], compounding=v["compounding"],
                         rates=tuple(rate for rate, _ in rates), instrument=v["instrument"], source=v["source"],
                         confidence=v["confidence"], note=v["note"], path=str(path))


def load_refunds(dirs, layers) -> tuple[tuple[RefundProgram, ...], dict]:
    """Refund programs (refunds/*.yaml) and interest tables (refunds/interest/*.yaml) of the data
    directories, a later directory's file replacing an earlier one with the same id; every
    reference checked: layers known and of the program's imposer, interest table known, the
    windows of one imposer's programs disjoint (an entry's refund has one route)."""
    programs: dict[str, RefundProgram] = {}
    tables: dict[str, InterestTable] = {}
    for directory in dirs:
        folder = Path(directory) / "refunds"
        if not folder.is_dir():
            continue
        for path in sorted((folder / "interest").glob("*.yaml")) if (folder / "interest").is_dir() else ():
            table = parse_interest(path, read_yaml(path))
            tables[table.id] = table
        for path in sorted(folder.glob("*.yaml")):
            program = parse_refund(path, read_yaml(path))
            programs[program.id] = program
    by_id = {layer.id: layer for layer in layers}
    for program in programs.values():
        for layer_id in program.layers:
            if layer_id not in by_id:
                raise DataError(program.path, program.line, f"layers names unknown layer '{layer_id}'")
            if by_id[layer_id].imposer != program.imposer:
                raise DataError(program.path, program.line,
                                f"layer '{layer_id}' is imposed by {by_id[layer_id].imposer}, not {program.imposer}")
        if program.interest is not None and program.interest not in tables:
            raise DataError(program.path, program.line, f"interest names unknown table '{program.interest}'")
    ordered = sorted(programs.values(), key=lambda p: (p.imposer, p.start))
    for before, after in zip(ordered, ordered[1:]):
        if before.imposer == after.imposer and after.start < before.end:
            raise DataError(after.path, after.line, f"window overlaps refund program '{before.id}' ({before.path})")
    return tuple(ordered), tables
