"""The committed builders reproduce the committed data from the raw public copies.

The raw copies live outside the repository, in the project's shared/data-raw folder (CI has it beside
the repository at ../shared; set TARIFFCALC_SHARED to point elsewhere). Without it these tests skip.
"""
from __future__ import annotations

import csv
import filecmp
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _raw() -> Path | None:
    for candidate in (os.environ.get("TARIFFCALC_SHARED"), REPO.parent / "shared"):
        if candidate and (Path(candidate) / "data-raw").is_dir():
            return Path(candidate) / "data-raw"
    return None


RAW = _raw()
needs_raw = pytest.mark.skipif(RAW is None, reason="raw data (../shared/data-raw or $TARIFFCALC_SHARED) not present")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _same_tree(built: list[Path], committed: Path) -> None:
    for path in built:
        target = committed / path.name
        assert target.exists(), f"{path.name}: built, but not in {committed}"
        assert filecmp.cmp(path, target, shallow=False), f"{path.name}: differs from the committed file"


@needs_raw
def test_weights_rebuild_byte_for_byte(tmp_path):
    built = _script("build_weights").build(RAW, tmp_path)
    assert len(built) == 5
    _same_tree(built, REPO / "data" / "weights")


# Descriptions the rebuild shortens differently from the committed files (of those over 200
# characters; data/mfn/PROVENANCE.md, "Rebuilding"). Pinned, so a change either way is noticed.
MFN_DESCRIPTION_DIFFERENCES = {
    "cn/piie-2018-01-01.csv.gz": 147, "cn/piie-2018-05-01.csv.gz": 147, "cn/piie-2018-07-01.csv.gz": 147,
    "cn/piie-2018-11-01.csv.gz": 147, "cn/piie-2019-01-01.csv.gz": 147,
    "us/hts-2017.csv.gz": 0, "us/hts-2018r8.csv.gz": 210, "us/hts-2019r7.csv.gz": 212,
    "us/hts-2020r1.csv.gz": 213, "us/hts-2022r3.csv.gz": 219, "us/hts-2023r10.csv.gz": 223,
    "us/hts-2025basic.csv.gz": 223, "us/hts-2025r10.csv.gz": 223, "us/hts-2025r32.csv.gz": 223,
    "us/hts-2026basic.csv.gz": 223, "us/hts-2026r10.csv.gz": 227,
}


@pytest.mark.slow
@needs_raw
def test_mfn_rebuild_row_for_row(tmp_path):
    import csv
    import gzip

    built = _script("build_mfn").build(RAW, tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in built)
    committed = REPO / "data" / "mfn"
    assert names == sorted(str(p.relative_to(committed)) for p in committed.glob("*/*.csv.gz"))
    for name in names:
        ours = list(csv.DictReader(gzip.open(tmp_path / name, "rt", encoding="utf-8")))
        theirs = list(csv.DictReader(gzip.open(committed / name, "rt", encoding="utf-8")))
        assert [r["code"] for r in ours] == [r["code"] for r in theirs], name
        for a, b in zip(ours, theirs):
            assert [a[c] for c in ("general", "ad_valorem", "ave", "basis")] == \
                   [b[c] for c in ("general", "ad_valorem", "ave", "basis")], (name, a["code"])
        differ = [(a, b) for a, b in zip(ours, theirs) if a["description"] != b["description"]]
        assert len(differ) == MFN_DESCRIPTION_DIFFERENCES[name], name
        # only shortened descriptions differ: where the committed text is short and uncut, ours agrees
        assert sum(1 for _, b in differ if len(b["description"]) < 190 and "…" not in b["description"]) <= 5
        if not differ:
            assert filecmp.cmp(tmp_path / name, committed / name, shallow=False), name


# --- the product lists (data/lists): one recipe per file in scripts/build_lists.py ---------------

lists_builder = _script("build_lists")
LISTS = REPO / "data" / "lists"
LIST_FILES = sorted(str(p.relative_to(LISTS)) for p in LISTS.glob("*/*.csv"))
REBUILT = [n for n in LIST_FILES if lists_builder.RECIPES.get(n) and lists_builder.RECIPES[n].build]
CURATED = [n for n in LIST_FILES if lists_builder.RECIPES.get(n) and not lists_builder.RECIPES[n].build]


def test_every_list_file_is_rebuilt_or_marked_hand_curated():
    assert sorted(lists_builder.RECIPES) == LIST_FILES
    assert len(REBUILT) + len(CURATED) == len(LIST_FILES)
    for name in CURATED:
        assert lists_builder.RECIPES[name].curated, f"{name}: hand-curated without a reason"
        header, _ = lists_builder.split((LISTS / name).read_text(encoding="utf-8"))
        assert "# curated:" in header, f"{name}: the file's header does not say it is hand-curated"


@pytest.mark.parametrize("name", REBUILT)
def test_list_file_rebuilds_byte_for_byte(name):
    recipe = lists_builder.RECIPES[name]
    if recipe.uses_raw and RAW is None:
        pytest.skip("raw data (../shared/data-raw or $TARIFFCALC_SHARED) not present")
    assert lists_builder.rebuild(name, RAW) == (LISTS / name).read_text(encoding="utf-8"), \
        f"{name}: run python scripts/build_lists.py to see the difference"


def _rows(name):
    return lists_builder.committed_rows(name)


def _official_count(name):
    header, _ = lists_builder.split((LISTS / name).read_text(encoding="utf-8"))
    return [int(n) for n in re.findall(r"official count (\d+)", header)]


@pytest.mark.parametrize("name", [n for n in LIST_FILES if _official_count(n)])
def test_list_matches_the_annex_count_it_states(name):
    """Where the header gives the annex's official count, the file has that many lines (successor
    rows, which map the list into the 2025 nomenclature, aside)."""
    counts = _official_count(name)
    rows = [r for r in _rows(name) if not r["description"].startswith("successor of")]
    assert len(rows) == counts[0] and len({r["code"] for r in rows}) == len(rows)


# What the hand-curated files are checked against (scripts/build_lists.py CURATED says why each
# cannot be rebuilt).

FARM_10_NOT_IN_CSV = {  # items 466-485 the CSV lacks, and the PDF's codes where the CSV slipped
    "03019110", "03032300", "03032400", "03063190", "03076010", "03076090", "03083011", "03083019",
    "03083090", "03091000", "03099000", "08129000", "08131000", "08132000", "08133000", "08134010",
    "08134020", "08134030", "08134040", "08134090", "08135000", "08140000", "11063000", "16041990",
    "20060010", "20060020", "20060090", "20071000", "20079100", "20079910", "20079990", "20081110"}
FARM_10_CSV_SLIPS = {"03019100", "03032100", "03032200", "03076100", "03076900", "03083110", "03083190",
                     "03083900", "03090010", "03090020", "16041991"}


def _curated_farm_10():
    rows = _rows("cn/2025-farm-10.csv")
    assert len(rows) == 711 and all(len(r["code"]) == 8 and r["code"].isdigit() for r in rows)
    if RAW is None:
        return
    csv_codes = {r["code"] for r in lists_builder.farm_codes("china-10-percent-030425.csv")(RAW) if r["code"].isdigit()}
    ours = {r["code"] for r in rows}
    assert ours - csv_codes == FARM_10_NOT_IN_CSV
    assert csv_codes - ours == FARM_10_CSV_SLIPS


def _curated_farm_15():
    rows = _rows("cn/2025-farm-15.csv")
    assert len(rows) == 29
    if RAW is not None:
        assert sorted(r["code"] for r in rows) == sorted(r["code"] for r in lists_builder.CODES_ONLY["cn/2025-farm-15.csv"](RAW))


def _curated_electronics():
    rows = _rows("us/ieepa-electronics-2025-04-11.csv")
    headings = [r["code"] for r in rows]
    assert len(headings) == 20 and {r["start"] for r in rows} == {"2025-04-05"}
    if RAW is None:
        return
    lines = lists_builder.read_column(RAW / lists_builder.WAUGH_LISTS / "consumer_electronics_EO14257_apr11.csv")
    assert len(lines) == 109
    assert all(line.startswith(tuple(headings)) for line in lines)
    assert all(any(line.startswith(h) for line in lines) for h in headings)
    tracker = {r["prefix"] for r in lists_builder.read_csv(
        RAW / lists_builder.YALE_FORK / "resources" / "annex_ii_first_appearance.csv")
        if r["first_effective_date"] == "2025-04-05"}
    assert tracker and tracker <= set(headings)


def _schedules_in_force(layer: str):
    """The US MFN schedules (data/mfn/us) in force at some time during the layer's steps."""
    import gzip

    import yaml
    vintages = [v for v in yaml.safe_load((REPO / "data" / "mfn" / "vintages.yaml").read_text()) if v["imposer"] == "US"]
    steps = yaml.safe_load((REPO / "data" / "us" / f"{layer}.yaml").read_text())["steps"]
    start, end = str(steps[0]["start"]), str(steps[-1].get("end") or "9999")
    out = []
    for v, nxt in zip(vintages, vintages[1:] + [None]):
        if str(v["start"]) < end and (nxt is None or str(nxt["start"]) > start):
            with gzip.open(REPO / "data" / "mfn" / v["file"], "rt", encoding="utf-8") as fh:
                out.append((v["id"], {r["code"] for r in csv.DictReader(fh)}))
    return out


def _covers(code, lines):
    return any(line.startswith(code) for line in lines)


def _curated_solar():
    codes = [r["code"] for r in _rows("us/s201-solar.csv")]
    schedules = _schedules_in_force("us-s201-solar")
    assert len(schedules) >= 5
    assert all(any(_covers(c, lines) for _, lines in schedules) for c in codes)
    assert all(any(_covers(c, lines) for c in codes) for _, lines in schedules)
    old, new = "85414060", ("854142", "854143")  # the 2022 HS split 8541.40 into .41-.49
    assert all(_covers(old, lines) != all(_covers(c, lines) for c in new) for _, lines in schedules)


def _curated_washers():
    codes = [r["code"] for r in _rows("us/s201-washers.csv")]
    schedules = _schedules_in_force("us-s201-washers")
    assert len(schedules) >= 4
    assert all(_covers(c, lines) for c in codes for _, lines in schedules)


CURATED_CHECKS = {
    "cn/2025-farm-10.csv": _curated_farm_10,
    "cn/2025-farm-15.csv": _curated_farm_15,
    "us/ieepa-electronics-2025-04-11.csv": _curated_electronics,
    "us/s201-solar.csv": _curated_solar,
    "us/s201-washers.csv": _curated_washers,
}


@pytest.mark.parametrize("name", CURATED)
def test_hand_curated_list_file_is_checked(name):
    assert name in CURATED_CHECKS, f"{name}: hand-curated, but nothing checks it"
    CURATED_CHECKS[name]()


def test_statistical_numbers_named_by_the_annex_are_footnoted_to_their_heading():
    """The review groups whose codes the recipe takes from the 2024 annex: the official schedule
    footnotes each (or the 8-digit line it is part of) to one of the file's headings."""
    import gzip
    with gzip.open(REPO / "tests" / "data" / "hts" / "footnotes.csv.gz", "rt", encoding="utf-8") as fh:
        footnoted = {(r["code"], r["heading"]) for r in csv.DictReader(fh)}
    checked = 0
    for name in REBUILT:
        if not name.startswith("us/s301-review-"):
            continue
        rows = _rows(name)
        for r in rows:
            if "annex" not in (r["note"] or "") and len(r["code"]) < 10:
                continue
            headings = [h.strip() for h in r["heading"].split("/")]
            assert any((code, h) in footnoted for h in headings for code in (r["code"], r["code"][:8])), (name, r["code"])
            checked += 1
    assert checked >= 9


def test_list_sources_are_the_upstream_files():
    """tests/data/list-sources holds unmodified upstream files; their PROVENANCE.md pins each hash."""
    import hashlib
    text = (REPO / "tests" / "data" / "list-sources" / "PROVENANCE.md").read_text(encoding="utf-8")
    for path in (REPO / "tests" / "data" / "list-sources").glob("*.csv"):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in text, path.name
