"""Charts for a report (chart.py computes, figure.py draws): month ticks under two years, event
numbers that touch no line and no other number (measured with matplotlib's own text boxes and
line paths), the days past verified_through shaded and labelled, a footer saying what is plotted,
the busiest year enlarged beside a long range, the output format checked before any computing."""
import struct
from datetime import date, timedelta
from itertools import combinations, pairwise
from pathlib import Path

import matplotlib.dates as mdates
import pytest
from matplotlib.text import Text

from tariffcalc import chart
from tariffcalc.averages import convention_named
from tariffcalc.chart import busiest_year, chart_data
from tariffcalc.cli import cli
from tariffcalc.figure import figure, series_paths
from tariffcalc.products import ProductEngine


def _figure(engine, start, end, average=False, products=None):
    data = chart_data(engine, products, start, end, average, None, False, None)
    fig = figure(data)
    fig.canvas.draw()
    return data, fig


@pytest.fixture(scope="module")
def full_range(bundled_engine):
    """2018 to the last verified month and past it (the bundled data ends 2026-10-31 / 2026-10-07)."""
    return _figure(bundled_engine, date(2018, 1, 1), date(2026, 12, 1))


@pytest.fixture(scope="module")
def one_year(bundled_engine):
    return _figure(bundled_engine, date(2025, 12, 1), date(2026, 11, 30))


@pytest.fixture(scope="module")
def year_2025(bundled_engine):
    return _figure(bundled_engine, date(2025, 1, 1), date(2025, 12, 31))


def _major_days(ax) -> list[float]:
    return sorted(tick for tick in ax.xaxis.get_majorticklocs())


def _event_labels(fig) -> dict[int, Text]:
    return {int(text.get_gid().split("-")[1]): text for ax in fig.axes for text in ax.texts
            if (text.get_gid() or "").startswith("event-")}


def _assert_labels_clear(fig):
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        paths = series_paths(ax)
        assert paths, "no line drawn"
        axes_box = ax.get_window_extent(renderer)
        boxes = []
        for text in ax.texts:
            if not (text.get_gid() or "").startswith("event-"):
                continue
            box = Text.get_window_extent(text, renderer)
            assert not any(path.intersects_bbox(box, filled=False) for path in paths), f"{text.get_text()} on a line"
            assert axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1 and axes_box.y0 <= box.y0 and box.y1 <= axes_box.y1
            boxes.append((text.get_text(), box))
        for (a, box_a), (b, box_b) in combinations(boxes, 2):
            assert not box_a.overlaps(box_b), f"numbers {a} and {b} overlap"
    fig_box = fig.bbox
    words = [text for text in fig.texts if (text.get_gid() or "").startswith(("event-list", "footer", "title"))]
    word_boxes = [text.get_window_extent(renderer) for text in words]
    for box in word_boxes:
        assert fig_box.x0 <= box.x0 and box.x1 <= fig_box.x1 and fig_box.y0 <= box.y0, box
        assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)
    for box_a, box_b in combinations(word_boxes, 2):
        assert not box_a.overlaps(box_b)


def test_full_range_enlarges_2025_beside_it(full_range):
    data, fig = full_range
    assert data.zoom == (date(2025, 1, 1), date(2025, 12, 31))
    whole, enlarged = fig.axes
    years = [mdates.num2date(t).year for t in _major_days(whole)]
    assert years == list(range(2018, 2027))
    months = _major_days(enlarged)
    assert 6 <= len(months) <= 12 and all(28 <= b - a <= 62 for a, b in pairwise(months))
    assert "2025, enlarged" in enlarged.get_title(loc="right")


def test_every_event_is_numbered_once_and_clear_of_lines(full_range, one_year, year_2025):
    for (data, fig), least in ((full_range, 10), (one_year, 2), (year_2025, 10)):
        labels = _event_labels(fig)
        assert sorted(labels) == list(range(1, len(data.events) + 1)) and len(labels) >= least
        _assert_labels_clear(fig)


def test_a_long_title_stays_inside_and_pushes_the_legend_down(year_2025):
    """A convention's name (and a scenario's second line) make the title longer: it shrinks, then
    wraps, inside the margins, and the legend and plot move down under it."""
    import dataclasses

    data, fig = year_2025
    legend_top = fig.legends[0].get_window_extent(fig.canvas.get_renderer()).y1
    titles = [data.title.replace("headline additional tariff", "trade-weighted average tariff (MFN + additional), "
                                 "yale convention"),
              data.title + ", a convention with a long name\nrecord (solid) and what-if scenario x (dashed)"]
    for title in titles:
        longer = figure(dataclasses.replace(data, title=title))
        longer.canvas.draw()
        renderer = longer.canvas.get_renderer()
        box = next(t for t in longer.texts if t.get_gid() == "title").get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= 0.985 * longer.bbox.width and box.y1 <= longer.bbox.height
        legend = longer.legends[0].get_window_extent(renderer)
        assert legend.y1 <= box.y0 and not any(box.overlaps(ax.get_window_extent(renderer)) for ax in longer.axes)
        _assert_labels_clear(longer)
    assert legend.y1 < legend_top  # the two-line title moved the legend down


def test_event_list_names_what_moved(year_2025):
    data, fig = year_2025
    listed = "\n".join(t.get_text() for t in fig.texts if (t.get_gid() or "").startswith("event-list"))
    assert "6. 10 Apr 2025  US +41.0 pts to 145.0%: IEEPA reciprocal 84→125" in listed
    assert len(data.events) == listed.count("\n") + 1  # one line each, in two columns


def test_one_year_has_month_ticks_and_shades_the_unverified_days(one_year):
    data, fig = one_year
    (ax,) = fig.axes
    months = _major_days(ax)
    assert len(months) >= 11 and all(28 <= b - a <= 31 for a, b in pairwise(months))
    bands = [p for p in ax.patches if p.get_gid() == "unverified"]
    assert len(bands) == 1
    start = mdates.num2date(bands[0].get_x()).date()
    assert start == min(data.verified_through.values()) + timedelta(days=1) == date(2026, 10, 8)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "past the data's verified date (US 31 Oct 2026, China 7 Oct 2026)" in legend
    assert [t for t in ax.texts if t.get_gid() == "unverified-label"]


def test_no_shading_inside_the_verified_range(year_2025):
    data, fig = year_2025
    assert not [p for ax in fig.axes for p in ax.patches if p.get_gid() == "unverified"]
    assert len(fig.axes) == 1 and data.zoom is None


def test_footer_says_what_is_plotted(full_range, bundled_engine):
    footer = next(t.get_text() for t in full_range[1].texts if t.get_gid() == "footer")
    assert footer.startswith("Plotted: the headline additional tariff each way")
    assert "Rates in force at the end of each day of entry" in footer
    products = ProductEngine.from_dataset(bundled_engine.dataset, bundled_engine)
    data = chart_data(bundled_engine, products, date(2025, 5, 1), date(2025, 5, 2), True, None,
                      False, convention_named(bundled_engine.dataset, None))
    assert data.footer.startswith("Plotted: the trade-weighted average tariff each way")
    assert "US imports from China 2024" in data.footer and "China's imports from the US 2017" in data.footer
    assert "convention: tariffcalc" in data.footer


def test_busiest_year_only_on_long_ranges(full_range):
    data, _ = full_range
    values = data.series
    assert busiest_year(values, date(2024, 1, 1), date(2025, 12, 30)) is None
    assert busiest_year(values, date(2024, 1, 1), date(2026, 1, 1)) == (date(2025, 1, 1), date(2025, 12, 31))


def test_wrong_format_fails_before_any_computing(runner, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("computed before checking the output")

    monkeypatch.setattr(chart, "chart_data", boom)
    result = runner.invoke(cli, ["chart", "--from", "2018-01-01", "--average", "-o", str(tmp_path / "x.jpg")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "must end in .png or .svg" in result.stderr
    assert not list(tmp_path.iterdir())


def test_svg_is_written_too(runner, tmp_path):
    target = tmp_path / "c.svg"
    result = runner.invoke(cli, ["chart", "--from", "2025-03-01", "--to", "2025-06-30", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_chart_writes_a_png_of_the_expected_size(runner, tmp_path, no_user_data):
    target = tmp_path / "chart.png"
    result = runner.invoke(cli, ["chart", "--from", "2024-06-01", "--to", "2026-01-01", "--headline",
                                 "--include-threatened", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert png_size(target) == (1600, 900)
    assert [p.name for p in tmp_path.iterdir()] == ["chart.png"]


def test_chart_refuses_other_formats(runner, tmp_path, no_user_data):
    result = runner.invoke(cli, ["chart", "--headline", "--from", "2025-01-01", "-o", str(tmp_path / "c.jpg")])
    assert result.exit_code == 2 and "must end in .png or .svg" in result.stderr


def test_terminal_chart_fits_80_columns(runner, no_user_data):
    result = runner.invoke(cli, ["chart", "--headline", "--from", "2018-01-01", "--to", "2026-11-01"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert "US on CN" in result.stdout and "max 145.0%" in result.stdout


def test_terminal_chart_with_a_convention_fits_80_columns(runner, no_user_data):
    result = runner.invoke(cli, ["chart", "--average", "--convention", "piie", "--from", "2025-01-01",
                                 "--to", "2025-12-31"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].endswith("piie convention,") and lines[1] == "2025-01-01 to 2025-12-31"
