"""The warm start: the checked data set and the tables derived from it, kept on disk.

The first run over some data files reads and checks every one of them (``loader``) and keeps
what it built here; a later run over the same files reads that back instead of parsing and
checking 70 YAML files, 60 list files and the schedules again.

Where: ``$TARIFFCALC_CACHE_DIR``, else the user cache folder (``$XDG_CACHE_HOME/tariffcalc`` or
``~/.cache/tariffcalc``; ``~/Library/Caches/tariffcalc`` on macOS; ``%LOCALAPPDATA%/tariffcalc/Cache``
on Windows). ``TARIFFCALC_NO_CACHE=1`` turns it off. Deleting the folder is always safe.

Keys. A data set is cached under a SHA-256 of the package version, the package's own code, and
the path and content of every file of each data directory it was loaded from (the bundled data
and any ``--data-dir`` overlay). A table derived from files (an MFN schedule, the content
estimates, trade weights) is cached under the content of those files, so data sets that share
them share it. Content hashes are remembered with each file's size, mtime, ctime and inode (the
``stat/`` folder): an unchanged directory is recognised from ``stat`` calls alone, and a file
whose stat differs, or that was written less than ``RACY_SECONDS`` before it was hashed, is
hashed again.

Format. No pickle: the data set is JSON naming only the dataclasses of ``model`` (nothing else
is ever constructed), tables are Arrow IPC files, the YAML index files (``file_json``) plain
JSON. Each file has a JSON manifest naming its format, schema version, key, size and SHA-256;
a file that is missing, truncated, of another schema or whose hash differs is not trusted but
rebuilt. Files are written under a temporary name and renamed into place, the manifest last, so
a concurrent run sees a file whole or not at all. When the folder cannot be written, tariffcalc
says so once and works without it.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
import time
import weakref
from datetime import date
from pathlib import Path

from . import __version__
from .output import temporary_name, write_text

ENV_CACHE_DIR = "TARIFFCALC_CACHE_DIR"
ENV_NO_CACHE = "TARIFFCALC_NO_CACHE"
FORMAT = "tariffcalc-cache"
SCHEMA = 1                # bump when the layout or an encoding below changes
RACY_SECONDS = 2.0        # a file this recent may change again within its mtime's resolution
# Manifests kept per folder, the newest first. A data set (or an overlay of it) takes some 35
# tables (three per schedule vintage, about 23 MB): 192 keep five side by side, where 64 kept one
# and made two that alternate (two overlays, or two versions of the code) rebuild each other's.
KEEP = {"datasets": 16, "tables": 192}

_state = {"warned": False, "broken": False}


def enabled() -> bool:
    """Whether the cache is on: ``TARIFFCALC_NO_CACHE`` unset, empty or 0."""
    return (os.environ.get(ENV_NO_CACHE, "").strip().lower() in ("", "0", "false", "no")
            and not _state["broken"])


def cache_dir() -> Path:
    """The cache folder (it may not exist yet)."""
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":  # pragma: no cover - platform folders
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "tariffcalc" / "Cache"
    if sys.platform == "darwin":  # pragma: no cover
        return Path.home() / "Library" / "Caches" / "tariffcalc"
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "tariffcalc"


def clear() -> int:
    """Delete the cache folder's contents; the number of files deleted."""
    import shutil

    root, count = cache_dir(), 0
    for folder in ("datasets", "tables", "stat"):
        if (root / folder).is_dir():
            count += sum(1 for p in (root / folder).rglob("*") if p.is_file())
            shutil.rmtree(root / folder, ignore_errors=True)
    return count


def summary() -> dict:
    """Where the cache is, whether it is on, and what it holds (for ``tariffcalc cache``)."""
    root = cache_dir()
    files = [p for folder in ("datasets", "tables", "stat") for p in (root / folder).glob("*") if p.is_file()]
    return {
        "path": str(root), "enabled": enabled(),
        "datasets": len(list((root / "datasets").glob("*.manifest.json"))),
        "tables": len(list((root / "tables").glob("*.manifest.json"))),
        "bytes": sum(p.stat().st_size for p in files),
    }


def _warn(exc: OSError) -> None:
    """One line on stderr, once per process, then the cache is off for the rest of it."""
    _state["broken"] = True
    if not _state["warned"]:
        _state["warned"] = True
        reason = exc.strerror or str(exc)
        print(f"warning: cannot write the cache in {cache_dir()} ({reason}); working without it "
              f"(set {ENV_CACHE_DIR} to a writable folder, or {ENV_NO_CACHE}=1)", file=sys.stderr)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- hashing the data files -------------------------------------------------------------------

# Content hash of every file hashed or recognised in this process, by absolute path: the keys of
# the tables derived from files.
_DIGESTS: dict[str, str] = {}


def _walk(root: str, recursive: bool, suffix: str | None) -> list[tuple[str, os.stat_result]]:
    found, stack, seen = [], [root], set()
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:  # a symlink loop
            continue
        seen.add(real)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    if recursive:
                        stack.append(entry.path)
                elif entry.is_file() and (suffix is None or entry.name.endswith(suffix)):
                    found.append((os.path.relpath(entry.path, root), entry.stat()))
    return sorted(found, key=lambda pair: pair[0])


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dir_digest(root, recursive: bool = True, suffix: str | None = None) -> str:
    """A SHA-256 over the relative path and content of every file under ``root``.

    Files whose size, mtime, ctime and inode match the stat index of the last run keep their
    hash; others are read and hashed (and the index is rewritten)."""
    base = os.path.abspath(root)
    files = _walk(base, recursive, suffix)
    stats = {rel: [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino] for rel, st in files}
    index_path = cache_dir() / "stat" / f"{_sha(f'{base}|{recursive}|{suffix}'.encode())[:32]}.json"
    known = _read_json(index_path) or {}
    remembered = known.get("files", {}) if known.get("schema") == SCHEMA and known.get("dir") == base else {}
    hashes, changed = {}, False
    for rel, stat in stats.items():
        old = remembered.get(rel)
        if isinstance(old, list) and len(old) == 5 and old[:4] == stat and isinstance(old[4], str):
            hashes[rel] = old[4]
        else:
            hashes[rel] = _hash_file(os.path.join(base, rel))
            changed = True
    changed = changed or set(remembered) != set(stats)
    for rel, digest in hashes.items():
        _DIGESTS[os.path.join(base, rel)] = digest
    if changed:
        recent = time.time_ns() - int(RACY_SECONDS * 1e9)
        _write_json(index_path, {"format": FORMAT, "schema": SCHEMA, "dir": base, "files": {
            rel: stat + [hashes[rel] if stat[1] < recent and stat[2] < recent else None]
            for rel, stat in stats.items()}})
    return _sha(json.dumps(sorted(hashes.items())).encode())


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """The package's own code: a cache written by other code is not read."""
    return dir_digest(Path(__file__).parent, recursive=False, suffix=".py")


def data_key(dirs) -> str | None:
    """The key of a data set loaded from ``dirs`` (in order), or None when a directory is missing
    (the loader then reports it)."""
    parts = {"format": FORMAT, "schema": SCHEMA, "version": __version__, "code": code_digest(), "dirs": []}
    for directory in dirs:
        if not os.path.isdir(directory):
            return None
        parts["dirs"].append([str(directory), dir_digest(directory)])
    return _sha(json.dumps(parts).encode())


# -- files: written whole, read only when their manifest vouches for them ----------------------

def _read_json(path: Path):
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read())
    except (OSError, ValueError):
        return None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, data)  # the one atomic writer (output.py): whole or not at all


def _write_json(path: Path, value) -> bool:
    try:
        _atomic_write(path, json.dumps(value, separators=(",", ":")).encode())
        return True
    except OSError as exc:
        _warn(exc)
        return False


def _put(folder: str, key: str, data: bytes, suffix: str, meta: dict) -> None:
    """Store ``data`` under ``key``: the content file (named by its hash, so concurrent writers
    never overwrite each other's), then the manifest that names it."""
    root = cache_dir() / folder
    digest = _sha(data)
    name = f"{key[:40]}.{digest[:16]}{suffix}"
    manifest = {"format": FORMAT, "schema": SCHEMA, "version": __version__, "key": key, "file": name,
                "size": len(data), "sha256": digest, **meta}
    try:
        _atomic_write(root / name, data)
        _atomic_write(root / f"{key[:40]}.manifest.json", json.dumps(manifest, indent=1).encode())
    except OSError as exc:
        _warn(exc)
        return
    _prune(root, KEEP[folder])


def _get(folder: str, key: str) -> tuple[bytes, dict] | None:
    """The bytes stored under ``key`` and their manifest, if every check passes."""
    root = cache_dir() / folder
    manifest = _read_json(root / f"{key[:40]}.manifest.json")
    if not (isinstance(manifest, dict) and manifest.get("format") == FORMAT and manifest.get("schema") == SCHEMA
            and manifest.get("key") == key and isinstance(manifest.get("file"), str)
            and os.path.basename(manifest["file"]) == manifest["file"]):
        return None
    try:
        with open(root / manifest["file"], "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if len(data) != manifest.get("size") or _sha(data) != manifest.get("sha256"):
        return None
    return data, manifest


def _prune(root: Path, keep: int) -> None:
    """Keep the ``keep`` newest manifests of a folder and the files they name; leftovers of
    interrupted writes older than an hour go too."""
    try:
        manifests = sorted(root.glob("*.manifest.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in manifests[keep:]:
            old.unlink(missing_ok=True)
        named = {(_read_json(p) or {}).get("file") for p in manifests[:keep]}
        hour_ago = time.time() - 3600
        for path in root.iterdir():
            stale = temporary_name(path) and path.stat().st_mtime < hour_ago
            orphan = not path.name.endswith(".manifest.json") and not temporary_name(path) \
                and path.name not in named and path.stat().st_mtime < hour_ago
            if stale or orphan:
                path.unlink(missing_ok=True)
    except OSError:
        pass


# -- the data set as JSON -----------------------------------------------------------------------

class _Unsupported(Exception):
    """A value the JSON form cannot carry exactly: that data set is simply not cached."""


@functools.lru_cache(maxsize=1)
def _classes() -> dict:
    from . import model

    return {name: cls for name, cls in vars(model).items()
            if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == model.__name__}


def _encode(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if type(value) is date:
        return {"!d": value.isoformat()}
    if isinstance(value, tuple):
        return {"!t": [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) and not k.startswith("!") for k in value):
            raise _Unsupported(f"mapping keys {list(value)[:3]}")
        return {k: _encode(v) for k, v in value.items()}
    name = type(value).__name__
    if dataclasses.is_dataclass(value) and _classes().get(name) is type(value):
        encoded = {"!": name}
        for f in dataclasses.fields(value):
            encoded[f.name] = _encode(getattr(value, f.name))
        return encoded
    raise _Unsupported(name)


def _decode(mapping: dict):
    if "!" in mapping:
        name = mapping.pop("!")
        cls = _classes().get(name)
        if cls is None:
            raise ValueError(f"unknown class {name!r}")
        return cls(**mapping)
    if "!d" in mapping:
        return date.fromisoformat(mapping["!d"])
    if "!t" in mapping:
        return tuple(mapping["!t"])
    return mapping


def encode_dataset(dataset) -> bytes:
    return json.dumps(_encode(dataset), separators=(",", ":"), allow_nan=False).encode()


def decode_dataset(data: bytes):
    from .model import Dataset

    value = json.loads(data, object_hook=_decode)
    if not isinstance(value, Dataset):
        raise ValueError("not a data set")
    return value


# Data sets loaded in this process, by id: (weak reference, key). A data set derived from one
# (a scenario, a convention: ``dataclasses.replace``) is another object, so it has no key.
_LOADED: dict[int, tuple] = {}


def _remember(dataset, key: str) -> None:
    _LOADED[id(dataset)] = (weakref.ref(dataset), key)


def key_of(dataset) -> str | None:
    found = _LOADED.get(id(dataset))
    return found[1] if found and found[0]() is dataset else None


def _inside(path: str, dirs) -> bool:
    path = os.path.abspath(path)
    return any(os.path.commonpath([path, os.path.abspath(d)]) == os.path.abspath(d) for d in dirs)


def _self_contained(dataset) -> bool:
    """Every file the data set names lies in its directories (so the key covers it): a list file
    reached by ``../`` from an overlay is outside, and such a data set is not cached."""
    named = [layer.path for layer in dataset.layers]
    for layer in dataset.layers:
        sets = ([layer.coverage.products] if layer.coverage.products else []) + list(layer.coverage.exempt)
        named += [path for product_set in sets for path in product_set.lists]
    named += list(dataset.content_estimates.values()) + [p.path for p in dataset.refunds]
    named += [table.path for table in dataset.interest.values()]
    return all(_inside(path, dataset.dirs) for path in named if path)


def load(dirs, build):
    """The data set of ``dirs``: from the cache when an entry for their exact content exists,
    else ``build()`` (which reads and checks every file), stored for the next run."""
    if not enabled():
        return build()
    try:
        key = data_key(dirs)
    except OSError:
        key = None
    if key is None:
        return build()
    found = _get("datasets", key)
    if found is not None:
        try:
            dataset = decode_dataset(found[0])
        except Exception:  # noqa: BLE001 - whatever a damaged file raises, it is rebuilt
            dataset = None
        if dataset is not None and list(dataset.dirs) == [str(d) for d in dirs]:
            _remember(dataset, key)
            return dataset
    dataset = build()
    if _self_contained(dataset):
        try:
            data = encode_dataset(dataset)
            exact = decode_dataset(data) == dataset
        except (_Unsupported, ValueError, TypeError):
            exact = False
        if exact and enabled():
            _put("datasets", key, data, ".json", {"dirs": [str(d) for d in dirs]})
        if exact:
            _remember(dataset, key)
    return dataset


# -- tables as Arrow files ----------------------------------------------------------------------

def _versions() -> dict:
    import pandas as pd
    import pyarrow as pa

    return {"pandas": pd.__version__, "pyarrow": pa.__version__}


def _compression():
    import pyarrow as pa

    return "lz4" if pa.Codec.is_available("lz4") else None


def frame_bytes(frame) -> tuple[bytes, dict]:
    """A DataFrame as an Arrow IPC file, and what reading it back needs (its object columns)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc

    if not all(isinstance(c, str) for c in frame.columns) or frame.columns.has_duplicates:
        raise _Unsupported("column names")
    table = pa.Table.from_pandas(frame, preserve_index=None)
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema, options=ipc.IpcWriteOptions(compression=_compression())) as writer:
        writer.write_table(table)
    objects = [str(c) for c, dtype in frame.dtypes.items() if dtype == np.dtype(object)]
    return sink.getvalue().to_pybytes(), {"columns": [str(c) for c in frame.columns], "objects": objects}


def frame_from_bytes(data: bytes, meta: dict):
    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc

    table = ipc.open_file(pa.py_buffer(data)).read_all()
    frame = table.to_pandas()
    if [str(c) for c in frame.columns] != meta.get("columns"):
        raise ValueError("columns differ from the manifest")
    for column in meta.get("objects", ()):  # text kept as Python objects, None as None
        frame[column] = np.array(table.column(column).to_pylist(), dtype=object)
    return frame


def _frame(key: str, build, what: dict):
    import pandas as pd

    found = _get("tables", key)
    if found is not None:
        try:
            return frame_from_bytes(*found)
        except Exception:  # noqa: BLE001 - whatever a damaged file raises, it is rebuilt
            pass
    frame = build()
    if not isinstance(frame, pd.DataFrame) or not enabled():
        return frame
    try:
        data, meta = frame_bytes(frame)
        pd.testing.assert_frame_equal(frame_from_bytes(data, meta), frame, check_exact=True)
    except (_Unsupported, AssertionError, ValueError, TypeError):
        return frame  # a table Arrow does not carry exactly is rebuilt on each run
    _put("tables", key, data, ".arrow", {**what, **meta})
    return frame


def dataset_frame(dataset, kind: str, build):
    """``build()``, a DataFrame derived from a loaded data set, kept under its key."""
    key = key_of(dataset) if enabled() else None
    if key is None:
        return build()
    what = {"kind": kind, "data": key, **_versions()}
    return _frame(_sha(json.dumps(what).encode()), build, what)


def file_json(kind: str):
    """Decorate ``f(path, *args)``, a value read from one file of a data directory: kept as JSON
    under the file's content (as ``file_table``), so that a warm start parses no YAML. The value
    may hold JSON's types and dates; one that JSON would not give back exactly (a tuple, a key
    that is not text, NaN) is rebuilt on each run."""
    def decorate(build):
        @functools.wraps(build)
        def cached(*args):
            digest = _DIGESTS.get(os.path.abspath(args[0])) if enabled() else None
            if digest is None:
                return build(*args)
            what = {"kind": kind, "files": [digest], "args": repr(args[1:]), "code": code_digest()}
            key = _sha(json.dumps(what).encode())
            found = _get("tables", key)
            if found is not None:
                try:
                    return json.loads(found[0], object_hook=_undated)
                except ValueError:  # a damaged file: rebuilt
                    pass
            value = build(*args)
            try:
                data = json.dumps(value, default=_dated, ensure_ascii=False, allow_nan=False).encode()
                exact = repr(json.loads(data, object_hook=_undated)) == repr(value)
            except (TypeError, ValueError):
                exact = False
            if exact and enabled():
                _put("tables", key, data, ".json", what)
            return value
        return cached
    return decorate


def _dated(value):
    if type(value) is date:
        return {"$date": value.isoformat()}
    raise TypeError(f"not JSON: {type(value).__name__}")


def _undated(item: dict):
    return date.fromisoformat(item["$date"]) if list(item) == ["$date"] else item


def file_table(kind: str, paths: int = 1):
    """Decorate ``f(path, ..., *args) -> DataFrame`` derived from files: its result is kept under
    the content of its first ``paths`` arguments (files of a data directory hashed in this
    process; others are not cached) and the other arguments."""
    def decorate(build):
        @functools.wraps(build)
        def cached(*args):
            if not enabled():
                return build(*args)
            digests = [None if p is None else _DIGESTS.get(os.path.abspath(p)) for p in args[:paths]]
            if any(d is None for d, p in zip(digests, args[:paths]) if p is not None):
                return build(*args)
            what = {"kind": kind, "files": digests, "args": repr(args[paths:]), "code": code_digest(),
                    **_versions()}
            return _frame(_sha(json.dumps(what).encode()), lambda: build(*args), what)
        return cached
    return decorate
