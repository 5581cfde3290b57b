"""The data against the official schedule: chapter 99 headings and per-line footnotes of each HTS revision.

The extract (tests/data/hts, see its PROVENANCE.md) is written by scripts/extract_hts_ch99.py. Every
disagreement must be listed, with its reason, in tests/data/hts/known_mismatches.csv, and every listed
one must still occur: fixing a mismatch, or making a new one, fails here until the list is updated.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
from datetime import date
from pathlib import Path

import pytest

from tariffcalc.htscheck import Extract, HeadingText, check_lists, check_steps, cited_headings, read_known, tally
from tariffcalc.loader import load_dataset
from tariffcalc.model import Dataset

EXTRACT = Path(__file__).parent / "data" / "hts"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


@pytest.fixture(scope="module")
def extract():
    return Extract(EXTRACT)


@pytest.fixture(scope="module")
def step_result(dataset, extract):
    return check_steps(dataset, extract)


@pytest.fixture(scope="module")
def list_result(dataset, extract):
    return check_lists(dataset, extract)


@pytest.fixture(scope="module")
def known():
    return read_known(EXTRACT / "known_mismatches.csv")


def test_extract_is_small_and_names_its_revisions():
    size = sum(p.stat().st_size for p in EXTRACT.iterdir())
    assert size < 2_000_000
    rows = list(csv.DictReader(open(EXTRACT / "revisions.csv", encoding="utf-8")))
    assert rows[0]["revision"] == "2025_basic" and rows[-1]["revision"] == "2026_rev_10"
    assert len(rows) == 44
    assert all(len(r["sha256"]) == 64 for r in rows)
    assert [r["published"] for r in rows] == sorted(r["published"] for r in rows)


def test_heading_rates_and_dates_are_read_from_the_text():
    assert HeadingText("The duty provided in the applicable subheading + 25%", "").rate == 25
    assert HeadingText("The duty provided in the applicable subheading plus 25%", "").rate == 25
    assert HeadingText("The duty provided in the applicable subheading +25%", "").rate == 25
    assert HeadingText("The duty provided in the applicable subheading + a duty of 25%", "").rate == 25
    assert HeadingText("The duty provided in the applicable subheading", "").rate == 0
    assert HeadingText("15%", "").rate == 15
    assert HeadingText("1.7¢/kg", "").rate is None
    text = HeadingText("", "Effective with respect to entries on or after June 15, 2024 and through November 9, 2026, ...")
    assert text.dates() == (date(2024, 6, 15), date(2026, 11, 10))
    text = HeadingText("", "Effective with respect to entries on or after January 1, 2024, and before June 1, 2025, ...")
    assert text.dates() == (date(2024, 1, 1), date(2025, 6, 1))
    assert cited_headings("HTS 9903.91.12/.14 and 9903.92.10") == ["9903.91.12", "9903.91.14", "9903.92.10"]


def test_heading_text_in_the_extract(extract):
    # 9903.88.69's end date moved with each extension of the exclusions; the extract keeps each text.
    ends = [extract.text("9903.88.69", extract.index[r]).dates()[1]
            for r in ("2025_basic", "2025_rev_14", "2025_rev_21", "2026_rev_10")]
    assert ends == [date(2025, 6, 1), date(2025, 9, 1), date(2025, 11, 30), date(2026, 11, 10)]
    assert extract.text("9903.91.14", extract.index["2026_rev_10"]).rate == 100


def test_most_steps_that_cite_a_heading_are_checked(step_result):
    _, stats = step_result
    assert stats["steps_checked"] >= 40
    assert stats["step_revisions_checked"] >= 1000


def test_steps_agree_with_the_schedule(step_result, known):
    found = tally(step_result[0])
    listed = {k: v for k, v in known.items() if not (k[1] == "*" or k[1].startswith("lists/"))}
    new = sorted(set(found) - set(listed))
    fixed = sorted(set(listed) - set(found))
    assert not new, f"mismatches not in known_mismatches.csv: {new}"
    assert not fixed, f"known mismatches that no longer occur (remove them): {fixed}"


@pytest.mark.slow
def test_lists_agree_with_the_footnotes(list_result, known):
    found = tally(list_result[0])
    listed = {k: v for k, v in known.items() if k[1] == "*" or k[1].startswith("lists/")}
    new = sorted(set(found) - set(listed))
    fixed = sorted(set(listed) - set(found))
    assert not new, f"mismatches not in known_mismatches.csv: {new}"
    assert not fixed, f"known mismatches that no longer occur (remove them): {fixed}"
    wrong_counts = {k: (found[k], listed[k][0]) for k in found if found[k] != listed[k][0]}
    assert not wrong_counts, f"found vs listed counts differ: {wrong_counts}"


def test_the_footnoted_lists_are_checked_row_by_row(list_result):
    _, files = list_result
    for name in ("lists/us/s301-list1.csv", "lists/us/s301-list3.csv", "lists/us/s301-list4a.csv",
                 "lists/us/s301-exclusions-9903-88-69.csv", "lists/us/s301-review-steel-aluminum.csv"):
        assert files[name]["headings"], name
        assert files[name]["checked_rows"] == files[name]["rows"], name


def _with_step(dataset: Dataset, layer_id: str, **changes) -> Dataset:
    layers = []
    for layer in dataset.layers:
        if layer.id == layer_id:
            layer = dataclasses.replace(layer, steps=tuple(dataclasses.replace(s, **changes) for s in layer.steps))
        layers.append(layer)
    return dataclasses.replace(dataset, layers=layers)


def test_a_wrong_rate_is_caught(dataset, extract):
    wrong = _with_step(dataset, "us-s301-list1", rate=26)
    kinds = {(m.kind, m.where) for m in check_steps(wrong, extract)[0]}
    assert ("rate", "us-s301-list1") in kinds


def test_a_step_outside_the_heading_dates_is_caught(dataset, extract):
    # The exclusion heading 9903.88.69 runs to 2026-11-09; a step citing it past then is flagged.
    probe = _with_step(dataset, "us-s301-review-tungsten", rate=0, instrument="HTS 9903.88.69",
                       start=date(2025, 6, 1), end=date(2026, 12, 1))
    kinds = {(m.kind, m.heading) for m in check_steps(probe, extract)[0] if m.where == "us-s301-review-tungsten"}
    assert ("end-after-heading", "9903.88.69") in kinds


@pytest.mark.slow
def test_the_shipped_summary_is_current():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "hts_crosscheck.py"), "--check"],
                            cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert result.returncode == 0, "data/hts-check.json is stale: run python scripts/hts_crosscheck.py"


def test_extract_provenance_matches_revisions():
    text = (EXTRACT / "PROVENANCE.md").read_text(encoding="utf-8")
    for row in csv.DictReader(open(EXTRACT / "revisions.csv", encoding="utf-8")):
        assert row["sha256"] in (EXTRACT / "revisions.csv").read_text()
    assert "scripts/extract_hts_ch99.py" in text and "9919812fe16ad61d72318dc7b96d387cc6c226da" in text
    digest = hashlib.sha256((EXTRACT / "footnotes.csv.gz").read_bytes()).hexdigest()
    assert digest in text
