"""The warm start (tariffcalc/cache.py): a cache hit answers exactly as a fresh load, a changed
data file is noticed, a damaged cache is rebuilt, an unwritable one is worked around, and
nothing in it is a pickle."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tariffcalc import cache
from tariffcalc.cli import cli
from tariffcalc.loader import bundled_data_dir, load_dataset
from tariffcalc.output import temporary_name

from .conftest import BASIC

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder of this test alone, and no table of an earlier load in memory."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TARIFFCALC_CACHE_DIR", str(folder))
    monkeypatch.delenv("TARIFFCALC_NO_CACHE", raising=False)
    monkeypatch.delenv("TARIFFCALC_DATA", raising=False)
    monkeypatch.setitem(cache._state, "broken", False)
    monkeypatch.setitem(cache._state, "warned", False)
    _forget_tables()
    yield folder
    _forget_tables()


def _forget_tables():
    from tariffcalc import averages, content, schedule

    for function in (schedule._read_table, schedule._codes, schedule._leaves, schedule._duty_table,
                     content._read_estimates, averages._weights_frame):
        function.cache_clear()


def _overlay(tmp_path) -> Path:
    """A copy of the basic fixture whose files look a minute old (older than RACY_SECONDS, so
    their hashes are remembered with their stat)."""
    target = tmp_path / "overlay"
    shutil.copytree(BASIC, target)
    old = 10 ** 9 * (int(os.path.getmtime(target)) - 60)
    for path in target.rglob("*"):
        os.utime(path, ns=(old, old))
    return target


def _never_checked(monkeypatch):
    """Fail if the data files are read and checked: what a cache hit must avoid."""
    from tariffcalc import loader

    def refuse(*args, **kwargs):
        raise AssertionError("the data set was loaded from its files, not from the cache")

    monkeypatch.setattr(loader, "_load_checked", refuse)


def _json(runner, args, env=None):
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_hit_is_the_data_set_a_fresh_load_builds(fresh_cache, monkeypatch):
    fresh = load_dataset(cache=False)
    first = load_dataset()  # builds and stores
    assert first == fresh
    assert list((fresh_cache / "datasets").glob("*.manifest.json"))
    with monkeypatch.context() as patched:
        _never_checked(patched)
        second = load_dataset()
    assert second == fresh and second is not first
    assert cache.key_of(second) == cache.key_of(first) is not None


DATES = ["2018-09-24", "2019-06-01", "2025-04-12", "2026-03-01"]


@pytest.mark.parametrize("day", DATES)
def test_rate_json_is_the_same_with_and_without_the_cache(fresh_cache, runner, day):
    args = ["rate", "--date", day, "-f", "json"]
    without = _json(runner, args, env={"TARIFFCALC_NO_CACHE": "1"})
    cold = _json(runner, args)
    warm = _json(runner, args)
    assert without == cold == warm
    assert {d["direction"] for d in warm["directions"]} == {"us", "cn"}


@pytest.mark.parametrize("args", [
    ["rate", "--date", "2025-04-12", "--hts", "8517.13.00", "-d", "us", "-f", "json"],
    ["rate", "--date", "2025-09-01", "--hts", "7323.93.00", "-d", "us", "-f", "json"],
    ["rate", "--date", "2025-04-12", "--hts", "1201.90", "-d", "cn", "-f", "json"],
    ["rate", "--date", "2025-04-12", "--average", "-f", "json"],
])
def test_product_and_average_answers_are_the_same_with_and_without_the_cache(fresh_cache, runner, args):
    without = _json(runner, args, env={"TARIFFCALC_NO_CACHE": "1"})
    _forget_tables()
    cold = _json(runner, args)
    _forget_tables()  # the next run reads every table back from the cache folder
    warm = _json(runner, args)
    assert without == cold == warm
    assert list((fresh_cache / "tables").glob("*.arrow"))


def test_a_new_process_answers_from_the_cache_as_from_the_files(fresh_cache):
    args = [sys.executable, "-m", "tariffcalc", "rate", "--date", "2025-04-12", "--hts", "8471.30.01", "-d", "us", "-f", "json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TARIFFCALC_CACHE_DIR": str(fresh_cache)}
    runs = [subprocess.run(args, capture_output=True, text=True, env=env, timeout=120) for _ in range(2)]
    plain = subprocess.run(args, capture_output=True, text=True, env={**env, "TARIFFCALC_NO_CACHE": "1"}, timeout=120)
    assert [r.returncode for r in runs + [plain]] == [0, 0, 0], runs[0].stderr
    assert runs[0].stdout == runs[1].stdout == plain.stdout
    assert runs[1].stderr == plain.stderr == ""


def test_a_changed_overlay_file_is_noticed(fresh_cache, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "RACY_SECONDS", 0)  # remember the hashes: the stat must tell
    overlay = _overlay(tmp_path)
    args = ["rate", "--date", "2025-07-01", "-d", "us", "-f", "json", "--data-dir", str(overlay), "--standalone"]

    def steel():
        layers = _json(runner, args)["directions"][0]["layers"]
        return next(layer["rate"] for layer in layers if layer["id"] == "t-steel")

    assert steel() == steel() == 50
    path = overlay / "us" / "t-steel.yaml"
    before = path.stat()
    path.write_text(path.read_text().replace("rate: 50", "rate: 60"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime
    assert path.stat().st_size == before.st_size
    assert steel() == 60


def test_an_unchanged_directory_is_recognised_from_stat_alone(fresh_cache, monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "RACY_SECONDS", 0)  # the copies' ctime is now: trust it at once
    overlay = _overlay(tmp_path)
    first = cache.dir_digest(overlay)
    hashed = []
    real = cache._hash_file
    monkeypatch.setattr(cache, "_hash_file", lambda path: hashed.append(path) or real(path))
    assert cache.dir_digest(overlay) == first and hashed == []
    (overlay / "lists" / "note.txt").write_text("a new file changes the key\n")
    assert cache.dir_digest(overlay) != first and len(hashed) == 1


def test_files_written_just_now_are_hashed_again(fresh_cache, monkeypatch, tmp_path):
    """A file may change again within its mtime's resolution: its hash is not remembered."""
    overlay = tmp_path / "overlay"
    shutil.copytree(BASIC, overlay)
    cache.dir_digest(overlay)
    hashed = []
    real = cache._hash_file
    monkeypatch.setattr(cache, "_hash_file", lambda path: hashed.append(path) or real(path))
    cache.dir_digest(overlay)
    assert len(hashed) == sum(1 for p in overlay.rglob("*") if p.is_file())


def _corrupt_each(folder: Path, damage):
    files = [p for p in folder.iterdir() if p.is_file() and not temporary_name(p)]
    assert files
    for path in files:
        damage(path)


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
    lambda p: p.write_bytes(b"\x00garbage"),
    lambda p: p.unlink(),
    lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "schema": 999}))
    if p.name.endswith(".manifest.json") else None,  # another schema
], ids=["truncated", "garbage", "missing", "schema"])
def test_a_damaged_cache_is_rebuilt_never_trusted(fresh_cache, runner, damage):
    args = ["rate", "--date", "2025-04-12", "--hts", "8517.13.00", "-d", "us", "-f", "json"]
    good = _json(runner, args)
    for folder in ("datasets", "tables"):
        _corrupt_each(fresh_cache / folder, damage)
    _forget_tables()
    assert _json(runner, args) == good
    _forget_tables()
    assert load_dataset() == load_dataset(cache=False)
    for manifest in (fresh_cache / "datasets").glob("*.manifest.json"):  # rewritten whole
        assert cache._get("datasets", json.loads(manifest.read_text())["key"]) is not None


def test_a_payload_that_names_another_class_is_refused(fresh_cache, monkeypatch):
    load_dataset()
    manifest = next((fresh_cache / "datasets").glob("*.manifest.json"))
    meta = json.loads(manifest.read_text())
    evil = json.dumps({"!": "Popen", "args": ["false"]}).encode()
    (fresh_cache / "datasets" / meta["file"]).write_bytes(evil)
    manifest.write_text(json.dumps({**meta, "size": len(evil), "sha256": cache._sha(evil)}))
    with pytest.raises(ValueError, match="unknown class"):
        cache.decode_dataset(evil)
    assert load_dataset() == load_dataset(cache=False)  # rebuilt from the files


def test_nothing_in_the_cache_is_a_pickle(fresh_cache, runner):
    _json(runner, ["rate", "--date", "2025-04-12", "--hts", "8517.13.00", "-d", "us", "--average", "-f", "json"])
    files = [p for p in fresh_cache.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json", ".arrow"}
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".arrow":
            assert data[:6] == b"ARROW1"
        else:
            json.loads(data)
    source = Path(cache.__file__).read_text()
    assert "pickle" not in source.replace("No pickle", "").replace("a pickle", "")


def test_no_cache_writes_nothing(fresh_cache, runner):
    _json(runner, ["rate", "--date", "2025-04-12", "-f", "json"], env={"TARIFFCALC_NO_CACHE": "1"})
    assert not fresh_cache.exists()


def test_an_unwritable_cache_folder_warns_once_and_answers(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TARIFFCALC_CACHE_DIR": str(blocker / "cache")}
    args = [sys.executable, "-m", "tariffcalc", "rate", "--date", "2025-04-12", "--hts", "8517.13.00", "-d", "us", "-f", "json"]
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    plain = subprocess.run(args, capture_output=True, text=True, env={**env, "TARIFFCALC_NO_CACHE": "1"}, timeout=120)
    assert run.returncode == 0 and run.stdout == plain.stdout
    assert run.stderr.count("warning: cannot write the cache") == 1
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1


def test_concurrent_cold_runs_agree(fresh_cache):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TARIFFCALC_CACHE_DIR": str(fresh_cache)}
    args = [sys.executable, "-m", "tariffcalc", "rate", "--date", "2025-04-12", "--hts", "8517.13.00", "-d", "us", "-f", "json"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(3)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert len({out for out, _ in outputs}) == 1 and all(err == b"" for _, err in outputs)
    assert load_dataset() == load_dataset(cache=False)


def test_validate_checks_the_files_not_the_cache(fresh_cache, runner, monkeypatch):
    load_dataset()
    from tariffcalc import loader

    calls = []
    real = loader._load_checked
    monkeypatch.setattr(loader, "_load_checked", lambda *a: calls.append(a) or real(*a))
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert calls


def test_a_data_set_derived_from_a_loaded_one_is_not_served_its_tables(fresh_cache):
    """Scenarios and conventions edit a copy (dataclasses.replace): its product index is its own."""
    import dataclasses

    from tariffcalc.products import ProductIndex

    dataset = load_dataset()
    fewer = dataclasses.replace(dataset, layers=tuple(layer for layer in dataset.layers if not layer.coverage.products))
    assert cache.key_of(dataset) is not None and cache.key_of(fewer) is None
    assert len(ProductIndex(fewer).table) < len(ProductIndex(dataset).table)


def test_frames_round_trip_exactly(fresh_cache):
    from tariffcalc.schedule import _read_table

    path = str(next((bundled_data_dir() / "mfn" / "us").glob("*.csv.gz")))
    table = _read_table.__wrapped__.__wrapped__(path)
    data, meta = cache.frame_bytes(table)
    pd.testing.assert_frame_equal(cache.frame_from_bytes(data, meta), table, check_exact=True)


def test_the_cache_command_shows_and_clears(fresh_cache, runner):
    load_dataset()
    shown = runner.invoke(cli, ["cache"])
    assert shown.exit_code == 0 and str(fresh_cache) in shown.stdout and "1 data set" in shown.stdout
    cleared = runner.invoke(cli, ["cache", "--clear"])
    assert cleared.exit_code == 0 and "deleted" in cleared.stdout
    assert not list(fresh_cache.rglob("*.json"))


@pytest.mark.parametrize("args", [
    ["rate", "--date", "2025-04-12"],
    ["rate", "--date", "2025-04-12", "--hts", "8517.13.00", "-d", "us"],  # the schedules' vintages.yaml
    ["rate", "--date", "2025-04-12", "--average", "-d", "us"],  # weights.yaml and conventions.yaml too
])
def test_a_warm_start_parses_no_yaml(fresh_cache, args):
    code = (f"import sys\nsys.argv = ['tariffcalc', *{args!r}]\nfrom tariffcalc.cli import cli\n"
            "try:\n    cli()\nexcept SystemExit:\n    pass\nprint('yaml' in sys.modules, file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TARIFFCALC_CACHE_DIR": str(fresh_cache)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
            for _ in range(2)]
    assert [r.stderr.splitlines()[-1] for r in runs] == ["True", "False"]  # cold reads the files, warm the cache
    assert runs[0].stdout == runs[1].stdout


def test_a_file_value_is_kept_as_json_only_when_it_comes_back_exactly(fresh_cache, tmp_path):
    from datetime import date

    path = tmp_path / "index.yaml"
    path.write_text("x")
    cache._DIGESTS[str(path)] = cache._hash_file(str(path))
    built = []

    @cache.file_json("test")
    def read(_path, value):
        built.append(value)
        return value

    exact = {"items": [{"start": date(2025, 4, 5), "rate": 0.1, "ok": True, "none": None}], "lines": [3]}
    assert read(str(path), exact) == exact and read(str(path), exact) == exact
    assert len(built) == 1  # the second answer came from the cache, dates and all
    inexact = {"items": [(1, 2)], "keys": {1: "a"}}  # a tuple and a number as a key: JSON changes both
    assert read(str(path), inexact) == inexact and read(str(path), inexact) == inexact
    assert len(built) == 3  # built on each call, never stored
