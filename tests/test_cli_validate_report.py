"""tariffcalc validate --report: the data set's health, from the same data the checks read."""
from __future__ import annotations

import json
import re

from click.testing import CliRunner

from tariffcalc import health as health_module
from tariffcalc.cli import cli
from tariffcalc.loader import bundled_data_dir, check_list_files, load_dataset


def run(*args):
    return CliRunner().invoke(cli, ["validate", *args], env={"COLUMNS": "80"})


def test_report_answers_first_and_counts_every_step():
    result = run("--report")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok: ")
    dataset = load_dataset()
    total = sum(len(layer.steps) for layer in dataset.layers)
    unconfirmed = sum(s.confidence == "unconfirmed" for layer in dataset.layers for s in layer.steps)
    assert lines[2] == (f"Data health: {total - unconfirmed} of {total} steps confirmed, {unconfirmed} "
                        "unconfirmed; HTS cross-check clean")
    for imposer, day in dataset.verified_through.items():
        assert f"  {imposer}: {day}" in result.output
    per_imposer = re.findall(r"^  (US|CN): (\d+) confirmed, (\d+) unconfirmed$", result.output, re.M)
    assert sum(int(c) + int(u) for _, c, u in per_imposer) == total


def test_report_lists_every_list_file_with_its_source():
    result = run("--report")
    dataset = load_dataset()
    assert f"List files ({check_list_files(dataset)})" in result.output
    root = bundled_data_dir()
    for layer in dataset.layers:
        for product_set in ([layer.coverage.products] if layer.coverage.products else []) + list(layer.coverage.exempt):
            for name in product_set.lists:
                rel = str(__import__("pathlib").Path(name).relative_to(root))
                block = result.output.split(f"\n  {rel}: ", 1)[1]
                used, source = block.split("\n    source:", 1)
                assert layer.id in used.replace(",", " ").split(), (rel, layer.id)
                assert source.split()[0]


def test_every_unconfirmed_step_is_a_known_gap():
    result = run("--report")
    gaps = result.output.split("Known gaps", 1)[1].split("List files", 1)[0]
    for layer in load_dataset().layers:
        for step in layer.steps:
            if step.confidence == "unconfirmed":
                assert f"{layer.id} from {step.start}" in gaps


def test_report_shows_the_shipped_cross_check_summary():
    summary = json.loads((bundled_data_dir() / "hts-check.json").read_text(encoding="utf-8"))
    result = run("--report")
    section = result.output.split("HTS cross-check (official schedule", 1)[1]
    assert f"revisions: {summary['extract']['revisions']}" in section
    assert f"{summary['steps']['mismatches']} mismatches, all known" in section
    assert f"{summary['lists']['rows_checked']} rows" in section


def test_lines_fit_80_columns_unless_they_are_one_url():
    # The data directory's path is the checkout's (CI's may be long): count it as four characters.
    for line in run("--report").output.replace(str(bundled_data_dir()), "DATA").splitlines():
        assert len(line) <= 80 or re.fullmatch(r"\s*(source: )?\S*https?://\S+", line), line


def test_without_a_summary_the_report_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(health_module, "bundled_data_dir", lambda: tmp_path)
    text = health_module.render(health_module.health(load_dataset()))
    assert "no summary shipped" in text
    assert "HTS cross-check clean" not in text.splitlines()[0]


def test_plain_validate_is_unchanged():
    result = run()
    assert result.exit_code == 0
    assert len(result.output.splitlines()) == 1
