"""The command line: parse options, make one library call, render or export, print.

Heavy modules (pandas, rich) are imported inside the commands so that ``--help`` and
``--version`` stay fast.
"""
from __future__ import annotations

import collections
import functools
import signal
import sys
from datetime import date

import click

from . import __version__
from .model import DIRECTION_OF_ORIGIN, DIRECTIONS, EARLIEST, LATEST, ORIGINS, SIDES

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ExitStatus:
    OK = 0
    ERROR = 2  # bad input: data files, dates, ledgers; also click's usage errors


class CliError(click.ClickException):
    """A library error shown as one line, ``Error: …``, with exit status 2."""

    exit_code = ExitStatus.ERROR


class DateType(click.ParamType):
    """ISO dates (2025-04-12) or ``today``."""

    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        text = str(value).strip().lower()
        if text == "today":
            return date.today()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a date: use YYYY-MM-DD or 'today'", param, ctx)
        if not EARLIEST <= day <= LATEST:
            self.fail(f"{day} is outside the range tariffcalc covers ({EARLIEST} to {LATEST})", param, ctx)
        return day


DATE = DateType()


class OneLineUsageError(click.UsageError):
    """A usage error as one line plus a hint, instead of click's usage block."""

    def __init__(self, error: click.UsageError):
        super().__init__(error.format_message(), error.ctx)

    def show(self, file=None):
        where = self.ctx.command_path if self.ctx else "tariffcalc"
        click.echo(f"Error: {self.format_message()}", err=True)
        click.echo(f"hint: {where} --help", err=True)


def _short_usage(call):
    try:
        return call()
    except OneLineUsageError:
        raise
    except click.UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            raise
        raise OneLineUsageError(error) from None


class Group(click.Group):
    """The tariffcalc group: usage errors of any command are one line plus a hint."""

    def make_context(self, *args, **kwargs):
        return _short_usage(lambda: super(Group, self).make_context(*args, **kwargs))

    def invoke(self, ctx):
        return _short_usage(lambda: super(Group, self).invoke(ctx))


def data_options(command):
    """--data-dir and --verbose, shared by every command that reads data."""
    command = click.option(
        "--data-dir", type=click.Path(exists=True, file_okay=False), envvar="TARIFFCALC_DATA",
        help="Directory of extra layer files, added to the bundled data (same id replaces). "
             "Default: $TARIFFCALC_DATA.",
    )(command)
    command = click.option(
        "--standalone", is_flag=True, help="Use only --data-dir, without the bundled data.",
    )(command)
    command = click.option("-v", "--verbose", is_flag=True, help="Show the traceback of errors.")(command)
    return command


DIRECTION_CHOICES = [*DIRECTIONS, "both"]


def direction_option(command):
    return click.option(
        "-d", "--direction", type=click.Choice(DIRECTION_CHOICES, case_sensitive=False), default="both",
        show_default=True, help="; ".join(f"{side.key} = {side.title}" for side in SIDES) + ".",
    )(command)


def format_option(*choices):
    def decorate(command):
        return click.option(
            "-f", "--format", "fmt", type=click.Choice(choices, case_sensitive=False), default=choices[0],
            show_default=True, help="Output format (markdown: GitHub pipe tables, to paste into a report).",
        )(command)
    return decorate


AVERAGE_HELP = ("Add the trade-weighted average tariff (MFN + every applicable layer, weighted by import "
                "value) and the share of trade hit. Off by default in rate, timeline, chart and export.")


def _origins_in_words(origins) -> str:
    """``CN (default), HK or MO``; ``US``."""
    first, *rest = origins
    named = [f"{first} (default)" if rest else first, *rest]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]


ORIGIN_HELP = "; ".join(f"{_origins_in_words(side.origins)} for {side.key}" for side in SIDES)


def origin_option(command):
    return click.option(
        "--origin", type=click.Choice(ORIGINS, case_sensitive=False),
        help=f"Origin of the goods: {ORIGIN_HELP}.",
    )(command)


CONVENTION_HELP = ("Whose choices the average follows: tariffcalc (our statutory reading, default), yale "
                   "(the Yale Budget Lab tracker's denominator, exclusion and metal-content shares, auto "
                   "rebate, layers and dates) or piie (PIIE's chart: 2017-level weights unless --weights, "
                   "Section 301 exclusions not netted out, Section 232 metals on full value, the reciprocal "
                   "tariff kept on Section 232 autos and parts). See "
                   "docs/averages.md.")


def convention_option(command):
    return click.option("--convention", default="tariffcalc", show_default=True, metavar="NAME",
                        help=CONVENTION_HELP)(command)


def average_options(command):
    command = convention_option(command)
    command = click.option(
        "--weights", "weights_year", type=int, metavar="YEAR",
        help="Year of the trade weights (us: 2013-2020 by HS-2, 2024 by HTS-10; cn: 2017 by HS-8, "
             "2020-2024 by HS-2). Default: the detailed set (us 2024, cn 2017).",
    )(command)
    return click.option("--average/--no-average", default=False, help=AVERAGE_HELP)(command)


def assume_options(command):
    """--assume and --content: what the importer knows about the goods (conditions, contents)."""
    command = click.option(
        "--content", "content", metavar="METAL=SHARE,...",
        help="With --hts: shares of the value that are steel, aluminum or copper (steel=0.2,aluminum=0.1), "
             "for layers charged on a metal content. Default: the shipped estimate, labelled as such.",
    )(command)
    return click.option(
        "--assume", "assumed", metavar="CONDITION", multiple=True,
        help="With --hts: assert a condition of coverage or exemption (auto-part, civil-aircraft, ...; "
             "repeatable). Conditional layers are not charged unless asserted.",
    )(command)


def _assumptions(engine, assumed, content):
    """The Contents a user asserted; unknown condition ids are an error naming the known ones."""
    from .content import Contents, parse_contents
    from .errors import QueryError

    known = engine.dataset.conditions()
    for condition in assumed:
        if condition not in known:
            raise QueryError(f"--assume: unknown condition {condition!r} (known: {', '.join(sorted(known))})")
    return Contents(parse_contents(content), frozenset(assumed))


def threatened_option(command):
    return click.option(
        "--include-threatened", is_flag=True,
        help="Count threatened steps (announced, never in effect) as if they had been.",
    )(command)


def handle_errors(command):
    """Turn library errors into one line on stderr and exit status 2 (traceback with -v)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from .errors import TariffcalcError

        try:
            return command(*args, **kwargs)
        except TariffcalcError as exc:
            if kwargs.get("verbose"):
                raise
            raise CliError(str(exc)) from None

    return wrapper


def scenario_option(command):
    """--scenario, shared by the commands that evaluate: the one place is ``_engine``."""
    def remember(ctx, param, value):
        ctx.meta["scenario"] = value
        return value

    return click.option(
        "--scenario", metavar="NAME|FILE", expose_value=False, callback=remember,
        help="Answer under a what-if scenario (see `tariffcalc scenarios`) instead of the record; "
             "outputs name it and mark what differs.",
    )(command)


def _applied():
    """The scenario applied by ``_engine`` in this command, if any."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get("applied") if ctx else None


def _engine(data_dir, standalone=False):
    from .engine import Engine
    from .errors import QueryError
    from .loader import load_dataset

    if standalone and not data_dir:
        raise QueryError("--standalone needs --data-dir (or $TARIFFCALC_DATA)")
    engine = Engine(load_dataset(data_dir, bundled=not standalone))
    ctx = click.get_current_context(silent=True)
    if ctx and ctx.meta.get("scenario"):
        from .scenarios import find_scenario, scenario_engine

        engine = scenario_engine(engine, find_scenario(ctx.meta["scenario"], data_dir))
        ctx.meta["applied"] = engine.applied
    return engine


def _directions(direction, origin):
    """Directions asked for; an origin picks its direction when --direction is 'both'."""
    from .engine import direction_with_origin, directions_for

    if origin is None:
        return directions_for(direction)
    origin = origin.upper()
    keys = [direction] if direction != "both" else [DIRECTION_OF_ORIGIN[origin]]
    return [direction_with_origin(key, origin) for key in keys]


def _products(engine):
    from .products import ProductEngine

    return ProductEngine.from_dataset(engine.dataset, engine)


def _code(text):
    from .codes import normalize_code

    return normalize_code(text)


def _console(stderr: bool = False):
    from rich.console import Console

    console = Console(stderr=stderr, soft_wrap=False)
    applied, ctx = _applied(), click.get_current_context(silent=True)
    if applied and not stderr and not ctx.meta.get("banner_shown"):  # name the scenario above any table
        ctx.meta["banner_shown"] = True
        for line in applied.banner(console.width):
            console.print(line, style="bold magenta", highlight=False, markup=False)
    return console


def _check_output(output, suffixes, *inputs, option="-o", hint="") -> None:
    """Every -o FILE is checked before anything is computed (folder, extension, not an input)."""
    if output:
        from .output import check_target

        check_target(output, suffixes, inputs, option, hint)


def _emit(text: str, output=None) -> None:
    applied = _applied()
    if applied:
        from .scenarios import label_output

        text = label_output(text, click.get_current_context().params.get("fmt"), applied)
    if output:
        from .output import write_text

        write_text(output, text)
    else:
        click.echo(text, nl=False)


def _answer(fmt: str, output=None, *, view=None, json=None, csv=None) -> None:
    """The one output dispatcher: the format chosen picks one of the renderings of the answer, each
    a function called only when chosen. ``view`` gives blocks for table and markdown; ``json``
    and ``csv`` give text, printed or written whole to ``output``."""
    if fmt in ("table", "markdown"):
        _show(view(), fmt)
    else:
        _emit({"json": json, "csv": csv}[fmt](), output)


def _show(view, fmt: str = "table") -> None:
    """Print a view (blocks): laid out for the terminal, plain and unpadded when piped, or as Markdown."""
    if fmt == "markdown":
        from .markdown import to_markdown

        click.echo(to_markdown(view), nl=False)
        return
    width = _piped_width() if isinstance(view, list) and not _applied() else None
    if width is not None:
        from .blocks import to_plain

        text = to_plain(view, width)  # what rich would print, without loading rich
        if text is not None:
            click.echo(text, nl=False)
            return
    from .blocks import to_rich

    console = _console()
    renderable = to_rich(view, console.width) if isinstance(view, list) else view
    if console.is_terminal:
        console.print(renderable, crop=False)
        return
    with console.capture() as capture:
        console.print(renderable, crop=False)
    click.echo("".join(line.rstrip() + "\n" for line in capture.get().splitlines()), nl=False)


def _piped_width() -> int | None:
    """The width rich's console would lay stdout out at, when that is plainly not a terminal
    (a file or a pipe, nothing in the environment forcing a terminal); else None (use rich).
    As rich: $COLUMNS if a number, else the size of the first of stdin, stdout, stderr that is
    a terminal, else 80."""
    import os

    if sys.platform == "win32" or "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        return None
    if any(name in sys.modules for name in ("IPython", "idlelib")):
        return None
    out = getattr(sys.stdout, "rich_proxied_file", sys.stdout)
    isatty = getattr(out, "isatty", None)
    try:
        if isatty is None or isatty():
            return None
    except ValueError:  # a closed file: rich calls it no terminal too, but let rich decide
        return None
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns) or None
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def _warn_unverified(engine, dirs, last_day) -> None:
    """Dates past the data's verified_through get a warning on stderr, in every command."""
    _warn_lines(engine.unverified(dirs, last_day))


def _warn(answers) -> None:
    """Warnings go to stderr when the output is machine-readable (rich only if there are any)."""
    _warn_lines([warning for d in answers for warning in d.warnings])


def _warn_lines(warnings) -> None:
    if warnings:
        err = _console(stderr=True)
        for warning in warnings:
            if err.is_terminal:  # wrapped to the terminal, in colour
                err.print(f"warning: {warning}", style="yellow", highlight=False)
            else:  # a log or a pipe: one plain line per warning, as grep expects
                click.echo(f"warning: {warning}", err=True)


@click.group(cls=Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="tariffcalc")
def cli():
    """US tariffs on goods from China and China's on US goods, on any date since 2018, with sources.

    Every rate comes from a dated layer (Section 301 lists, IEEPA, Section 232, Section 122,
    China's Tariff Commission announcements) that names its legal instrument and a source URL.
    A day is answered with the rates in force at the end of that day. Errors: exit status 2.
    """
    signal.signal(signal.SIGPIPE, signal.SIG_DFL) if hasattr(signal, "SIGPIPE") else None


@cli.command()
@click.argument("when", metavar="[DATE]", required=False, type=DATE)
@click.option("--date", "day", type=DATE, help="Date of entry: YYYY-MM-DD or 'today' (the default); or give it as DATE.")
@click.option("--hts", "code", metavar="CODE", help="A product: HS/HTS code of 2-10 digits, dots optional (8517.13.00).")
@click.option("--exported", type=DATE, help="With --hts: date the goods were loaded for export, for in-transit rules.")
@click.option("--sources", "--detail", "sources", is_flag=True,
              help="List each layer's full name, coverage, instrument and source URL below the table.")
@direction_option
@origin_option
@average_options
@assume_options
@format_option("table", "markdown", "json", "csv")
@threatened_option
@scenario_option
@data_options
@handle_errors
def rate(when, day, code, exported, sources, direction, origin, average, weights_year, convention, assumed, content,
         fmt, include_threatened, data_dir, standalone, verbose):
    """The headline rate each way on a date and what it is made of, then the product-group layers;
    with --hts, the whole stack for one product.

    The headline is the sum of the layers that cover all goods (what the press quotes);
    product-group layers (Section 301 lists, Section 232, China's lists) follow with what their
    goods pay. Then notes, warnings and the steps starting within the next 90 days.

    With --hts CODE: the MFN rate, every layer that bears on the code with the reason it
    applies or not (exempt: Annex II, not on a Section 301 list, ...), and the total.

    With --average: the trade-weighted average tariff of each direction (MFN + every layer,
    product by product, weighted by import value), the share of trade hit by any additional
    tariff, and the weights used.

    Example:

        tariffcalc rate 2025-04-12

        tariffcalc rate --date 2025-04-12 --sources

        tariffcalc rate --date 2025-04-12 --hts 8517.13.00 --direction us

        tariffcalc rate --date 2019-05-20 --hts 4202.22.15 -d us --exported 2019-05-01

        tariffcalc rate --date 2025-09-01 --hts 8471.30.01 -d us --assume auto-part

        tariffcalc rate --date 2025-09-01 --hts 7323.93.00 -d us --content steel=0.6

        tariffcalc rate --date 2025-05-14 --direction us --origin HK --format json

        tariffcalc rate --date 2025-05-14 --average --weights 2024
    """
    from . import export
    from .errors import QueryError

    if when and day and when != day:
        raise QueryError(f"two dates: {when} and --date {day} (give one)")
    day = when or day or date.today()
    if exported and not code:
        raise QueryError("--exported needs --hts")
    if weights_year and not average:
        raise QueryError("--weights needs --average")
    if sources and fmt in ("json", "csv"):
        raise QueryError(f"--sources is for table and markdown output; {fmt} has every source already")
    engine = _engine(data_dir, standalone)
    dirs = _directions(direction, origin)
    products = _products(engine) if code or average else None
    if (assumed or content) and not code:
        raise QueryError("--assume and --content need --hts")
    assume = _assumptions(engine, assumed, content)
    if code:
        answers = [products.rate(_code(code), day, d, include_threatened, exported, assume) for d in dirs]
    averages = None
    if average:
        from .averages import averages_for
        from .render import working

        with working("averaging over every product"):
            averages = averages_for(products, dirs, [day], weights_year, include_threatened, convention)
    answer = engine.rate_on(day, dirs, include_threatened)
    if fmt not in ("table", "markdown"):
        _warn(answer.directions)  # a table shows them in place

    def view():
        from . import render

        shown = (render.product_view(answers, render.layer_names(engine.dataset)) if code
                 else render.rate_view(answer, sources))
        return render.average_lines(averages) + shown if average else shown

    def as_json():
        data = export.rate_dict(answer)
        for i, entry in enumerate(data["directions"]):
            if code:
                entry["product"] = export.product_dict(answers[i])
            if average:
                entry.update(export.average_dict(averages.iloc[i]))
        return export.to_json(data)

    def as_csv():
        if average:
            return export.averages_csv(averages)
        if code:
            from .products import answers_frame

            return export.product_csv([answers_frame(a.source, a.direction) for a in answers])
        return export.tidy_csv(engine.timeline(day, day, "D", dirs, include_threatened))

    _answer(fmt, view=view, json=as_json, csv=as_csv)


@cli.command()
@click.argument("date_from", metavar="D1", type=DATE)
@click.argument("date_to", metavar="D2", type=DATE, required=False)
@click.option("--hts", "code", metavar="CODE", help="Compare the two dates for one product.")
@direction_option
@origin_option
@click.option("--average", is_flag=True, help="Compare the trade-weighted averages (MFN + layers) instead.")
@click.option("--weights", "weights_year", type=int, metavar="YEAR", help="Year of the trade weights (see rate --help).")
@convention_option
@format_option("table", "markdown", "json", "csv")
@threatened_option
@scenario_option
@data_options
@handle_errors
def diff(date_from, date_to, code, direction, origin, average, weights_year, convention, fmt, include_threatened,
         data_dir, standalone, verbose):
    """What changed between two dates: layers added, removed and changed, and the headline.

    The change in each headline comes first, then the layers that changed. Changes are in
    percentage points charged (a suspended or threatened step charges 0).
    With --scenario and one date D1: the scenario against the record on that date (Old = the
    record, New = the scenario), layer by layer; with two dates, both sides are the scenario's.

    Example:

        tariffcalc diff 2025-04-01 2025-05-14

        tariffcalc diff 2025-04-09 2025-04-12 --hts 8517.13.00 -d us

        tariffcalc diff --scenario truce-lapses 2026-11-15
    """
    from . import export

    if code and average:
        raise CliError("--hts and --average are separate questions: use one")
    if average and fmt == "markdown":
        raise CliError("diff --average has no markdown view: use --format table, json or csv")
    if date_to is None and not click.get_current_context().meta.get("scenario"):
        raise click.UsageError("Missing argument 'D2' (or give --scenario to compare it with the record on D1)")
    engine = _engine(data_dir, standalone)
    dirs = _directions(direction, origin)
    before, labels = engine, None
    if date_to is None:
        before, date_to = engine.record, date_from
        labels = (f"record {date_from}", f"scenario {_applied().scenario.name} {date_from}")
    _warn_unverified(engine, dirs, max(date_from, date_to))
    from . import render

    if average:
        from .averages import AVERAGE_DIFF_COLUMNS, average_diff, averages_for

        old = averages_for(_products(before), dirs, [date_from], weights_year, include_threatened, convention)
        new = averages_for(_products(engine), dirs, [date_to], weights_year, include_threatened, convention)
        frame = average_diff(old, new)
        _answer(fmt, view=lambda: render.average_diff_view(frame, labels or (date_from, date_to)),
                json=lambda: export.to_json([{k: export.number(v) if isinstance(v, float) else str(v)
                                              for k, v in row.items()} for row in frame.to_dict("records")]),
                csv=lambda: export.frame_to_csv(frame, AVERAGE_DIFF_COLUMNS))
        return
    if code:
        from .products import product_diff

        products = _products(engine)
        old_products = products if before is engine else _products(before)
        diffs = [product_diff(old_products, _code(code), date_from, date_to, d, include_threatened, products, labels)
                 for d in dirs]
        _answer(fmt, view=lambda: render.product_diff_view(diffs, render.layer_names(engine.dataset)),
                json=lambda: export.to_json([export.product_diff_dict(d) for d in diffs]),
                csv=lambda: export.product_diff_csv(diffs))
        return
    answer = before.diff(date_from, date_to, dirs, include_threatened, engine, labels)
    _answer(fmt, view=lambda: render.diff_view(answer), json=lambda: export.to_json(export.diff_dict(answer)),
            csv=lambda: export.diff_csv(answer))


@cli.command(name="export")
@click.option("--from", "date_from", type=DATE, required=True, help="First date (inclusive).")
@click.option("--to", "date_to", type=DATE, default="today", show_default=True, help="Last date (inclusive).")
@click.option("--freq", type=click.Choice(["D", "W", "M", "changes"]), default="changes", show_default=True,
              help="D daily, W every 7 days from --from, M first of each month, changes = --from and every change date.")
@click.option("--wide", is_flag=True, help="One row per date and direction, one column per layer.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE instead of stdout.")
@click.option("--hts", "codes", metavar="CODE", multiple=True, help="A product code (repeatable): rates per product.")
@click.option("--hts-file", type=click.Path(exists=True, dir_okay=False),
              help="File of product codes, one per line ('#' comments allowed).")
@direction_option
@origin_option
@average_options
@format_option("csv", "json")
@threatened_option
@scenario_option
@data_options
@handle_errors
def export_(date_from, date_to, freq, wide, output, codes, hts_file, direction, origin, average, weights_year,
            convention, fmt, include_threatened, data_dir, standalone, verbose):
    """A timeline of every layer and the headline, as tidy CSV (or JSON).

    One row per date x direction x layer, plus a headline row (kind=headline) per date and
    direction. Rates are percentage points; 'charged' is 0 for steps not in effect.

    With --hts/--hts-file: one row per code x date x layer bearing on it (whether it applies,
    why, the rate charged) plus a 'total' row per code and date with MFN, additional and total.

    With --average: one row per date x direction with the trade-weighted average, the
    average of the additional duties, the coverage (share of trade hit) and the weights used.

    Example:

        tariffcalc export --from 2025-01-01 --to 2025-12-31 --freq changes -o timeline.csv

        tariffcalc export --from 2025-01-01 --to 2025-12-31 --hts-file codes.txt -d us

        tariffcalc export --from 2018-01-01 --to 2026-11-23 --average -o averages.csv
    """
    from . import export
    from .render import working

    if wide and (average or codes or hts_file or fmt == "json"):
        what = "--average" if average else "--hts" if codes or hts_file else "--format json"
        raise CliError(f"--wide is for the layer timeline in CSV, not with {what}")
    if weights_year and not average:
        raise CliError("--weights needs --average")
    _check_output(output, (f".{fmt}",), hts_file, hint=" (or choose it with --format csv|json)")
    engine = _engine(data_dir, standalone)
    dirs = _directions(direction, origin)
    _warn_unverified(engine, dirs, date_to)
    if average:
        products = _products(engine)

        def dates_of(d):
            if freq == "changes":
                return products.change_dates(d, date_from, date_to)
            return engine.timeline_dates(date_from, date_to, freq, d)

        from .averages import averages_for

        with working("averaging over every product"):
            frame = averages_for(products, dirs, dates_of, weights_year, include_threatened, convention)
        _answer(fmt, output, json=lambda: export.averages_json(frame), csv=lambda: export.averages_csv(frame))
        return
    if codes or hts_file:
        from .products import product_timeline

        wanted = [_code(c) for c in codes] + (_read_codes(hts_file) if hts_file else [])
        products = _products(engine)
        frames = []
        with working(f"pricing {len(wanted)} codes"):
            for d in dirs:
                days = engine.timeline_dates(date_from, date_to, freq, d)
                frames.append(product_timeline(products, wanted, days, d, include_threatened))
        _answer(fmt, output, json=lambda: export.product_json(frames), csv=lambda: export.product_csv(frames))
        return
    timeline = engine.timeline(date_from, date_to, freq, dirs, include_threatened)
    _answer(fmt, output, json=lambda: export.timeline_json(timeline),
            csv=lambda: export.wide_csv(timeline) if wide else export.tidy_csv(timeline))


def _read_codes(path) -> list[str]:
    from .codes import code_problem
    from .errors import QueryError

    codes = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            text = line.split("#", 1)[0].strip().split(",")[0].strip()
            if not text:
                continue
            problem = code_problem(text)
            if problem:
                raise QueryError(f"{path}:{number}: {problem}")
            codes.append(_code(text))
    if not codes:
        raise QueryError(f"{path}: no product codes found")
    return codes


@cli.command()
@click.argument("code")
@click.option("--date", "day", type=DATE, default="today", show_default=True, help="Schedule date.")
@click.option("-d", "--direction", type=click.Choice(DIRECTION_CHOICES, case_sensitive=False), default="us",
              show_default=True, help="us = the US schedule (HTS); cn = China's schedule; both.")
@origin_option
@format_option("table", "markdown", "json", "csv")
@data_options
@handle_errors
def hts(code, day, direction, origin, fmt, data_dir, standalone, verbose):
    """Look a product code up: description, MFN rate, and every tariff list it is on.

    JSON is one object for one direction and a list of them with --direction both; CSV has one
    row per list naming the code.

    Example:

        tariffcalc hts 8517.13

        tariffcalc hts 1201.90 --direction cn

        tariffcalc hts 8703.80 --direction both --format markdown
    """
    from . import export
    from .products import product_lookup

    engine = _engine(data_dir, standalone)
    products = _products(engine)
    found = [product_lookup(products, _code(code), day, d) for d in _directions(direction, origin)]

    def view():
        from .blocks import blank
        from .render import lookup_view

        return [block for i, one in enumerate(found) for block in ([blank()] if i else []) + lookup_view(one)]

    _answer(fmt, view=view, json=lambda: export.to_json(found[0] if len(found) == 1 else found),
            csv=lambda: export.lookup_csv(found))


@cli.command()
@click.option("--from", "date_from", type=DATE, default="2018-01-01", show_default=True, help="First date.")
@click.option("--to", "date_to", type=DATE, default="today", show_default=True, help="Last date.")
@direction_option
@average_options
@format_option("table", "markdown", "json", "csv")
@threatened_option
@scenario_option
@data_options
@handle_errors
def timeline(date_from, date_to, direction, average, weights_year, convention, fmt, include_threatened, data_dir,
             standalone, verbose):
    """The story of the trade war: one line per change date with what changed (layer, old → new)
    and the headline and trade-weighted average of each direction after it.

    Example:

        tariffcalc timeline --from 2025-01-01 --to 2025-12-31

        tariffcalc timeline --from 2025-01-01 --to 2025-12-31 --average --format markdown
    """
    from . import export
    from .events import change_events
    from .render import working

    if weights_year and not average:
        raise CliError("--weights needs --average")
    from .averages import averages_for
    from .render import events_view

    engine = _engine(data_dir, standalone)
    dirs = _directions(direction, None)
    _warn_unverified(engine, dirs, date_to)
    products = _products(engine) if average else None

    def averages(d, days):
        return averages_for(products, [d], days, weights_year, include_threatened, convention)

    with working("averaging over every product" if average else "finding the change dates"):
        events = change_events(engine, date_from, date_to, dirs, include_threatened,
                               averages if average else None, products)
    _answer(fmt, view=lambda: events_view(events, average), json=lambda: export.events_json(events),
            csv=lambda: export.events_csv(events))


@cli.command()
@click.option("--from", "date_from", type=DATE, default="2018-01-01", show_default=True, help="First date.")
@click.option("--to", "date_to", type=DATE, default="today", show_default=True, help="Last date.")
@click.option("--average/--headline", "average", default=False,
              help="Plot the trade-weighted average (MFN + every applicable layer) instead of the headline "
                   "(all-goods layers). Off by default in rate, timeline, chart and export.")
@click.option("--weights", "weights_year", type=int, metavar="YEAR", help="Year of the trade weights (see rate --help).")
@convention_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write a chart file (.png or .svg); without it, draw in the terminal.")
@threatened_option
@scenario_option
@data_options
@handle_errors
def chart(date_from, date_to, average, weights_year, convention, output, include_threatened, data_dir, standalone,
          verbose):
    """A step chart of both directions over time, with events annotated.

    With --include-threatened a dashed line shows the path had threatened steps taken effect.
    A file chart numbers the largest moves (listed under the plot, each number clear of the
    lines), shades the days past the data's verified date, says in its footer what is plotted,
    and on a range of two years or more draws the busiest year enlarged beside it; ranges
    under two years have month ticks. Without -o, a compact chart that fits 80 columns is
    drawn in the terminal.

    Example:

        tariffcalc chart --from 2018-01-01 --average -o trade-war.png

        tariffcalc chart --from 2025-01-01 --to 2025-12-31
    """
    from .chart import CHART_SUFFIXES, chart_data, draw
    from .render import working

    _check_output(output, CHART_SUFFIXES)  # before any computing: -o chart.jpg fails at once
    if weights_year and not average:
        raise CliError("--weights needs --average")
    engine = _engine(data_dir, standalone)
    _warn_unverified(engine, _directions("both", None), date_to)

    def data_of(evaluated, threatened):
        from .averages import convention_named

        return chart_data(evaluated, _products(evaluated) if average else None, date_from, date_to, average,
                          weights_year, threatened, convention_named(evaluated.dataset, convention) if average else None)

    with working("averaging over every product" if average else "computing the headlines"):
        applied = _applied()
        data = data_of(engine.record if applied else engine, include_threatened and not applied)
        if applied:  # the record solid, the scenario dashed beside it
            from .scenarios import dashed_scenario

            dashed_scenario(data, data_of(engine, include_threatened), applied)
    if output:
        with working("drawing the chart"):
            draw(data, output)
        click.echo(f"wrote {output}", err=True)
    else:
        from .chart import terminal_chart

        _console().print(terminal_chart(data.series, date_from, date_to, data.measure_label,
                                        width=min(_console().width, 120)))
        if applied:
            _console().print(terminal_chart(data.threatened, date_from, date_to,
                                            f"{data.measure_label}, {data.dashed_label}",
                                            width=min(_console().width, 120)))


@cli.command()
@direction_option
@click.option("--authority", help="Only layers of this authority, e.g. 'Section 301' (case-insensitive).")
@format_option("table", "markdown", "json", "csv")
@data_options
@handle_errors
def layers(direction, authority, fmt, data_dir, standalone, verbose):
    """List the tariff layers in the data.

    Example:

        tariffcalc layers --direction us --authority "Section 232"
    """
    from . import export
    from .engine import layers_summary

    engine = _engine(data_dir, standalone)
    if authority:
        known = sorted({layer.authority for layer in engine.dataset.layers})
        if authority.lower() not in {a.lower() for a in known}:
            raise CliError(f"unknown authority {authority!r}: use one of {', '.join(known)}")
    from .render import layers_view

    frame = layers_summary(engine, direction, authority)
    _answer(fmt, view=lambda: layers_view(frame), json=lambda: export.to_json(export.layers_records(frame)),
            csv=lambda: export.frame_to_csv(frame, export.LAYERS_COLUMNS))


@cli.command()
@click.argument("directory", required=False, envvar="TARIFFCALC_DATA", type=click.Path(exists=True, file_okay=False))
@click.option("--standalone", is_flag=True, help="Check DIRECTORY on its own, not as an overlay of the bundled data.")
@click.option("--report", is_flag=True,
              help="After the checks, print the data set's health: verified-through dates, steps by "
                   "confidence, known gaps, each list file with its source, the HTS cross-check.")
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of errors.")
@handle_errors
def validate(directory, standalone, report, verbose):
    """Check data files: YAML syntax, keys, types, dates, overlaps, ids, rules, list files, schedules.

    Without DIRECTORY, checks $TARIFFCALC_DATA if set (as every command reads it), else the
    bundled data. A DIRECTORY is checked as an overlay of the
    bundled data (its rules may name bundled layers) unless --standalone. The first problem is
    reported as FILE:LINE: reason, with exit status 2.

    Example:

        tariffcalc validate my-layers/
        tariffcalc validate --report
    """
    from .loader import check_list_files, load_dataset
    from .schedule import Schedules

    dataset = load_dataset(directory, bundled=not (standalone and directory), cache=False)  # check, never trust
    steps = sum(len(layer.steps) for layer in dataset.layers)
    lists = check_list_files(dataset)
    schedules = Schedules.for_dataset(dataset)
    for vintage in schedules.vintages:
        schedules.table(vintage)
    from .scenarios import check_scenarios

    check_scenarios(dataset, directory)  # every scenario of the data applies to it (file:line otherwise)
    click.echo(f"ok: {len(dataset.layers)} layers, {steps} steps, {lists} list files, "
               f"{len(schedules.vintages)} schedules in {', '.join(dataset.dirs)}")
    if report:
        from .health import health, render

        click.echo("")
        click.echo(render(health(dataset)), nl=False)


@cli.command()
@click.argument("ledger_path", metavar="LEDGER")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the per-entry duties to FILE (.csv, or .parquet); stdout then gets the summary.")
@click.option("--wide", is_flag=True, help="Per-entry CSV with one row per entry and one duty column per layer.")
@click.option("--columns", metavar="FIELD=NAME,…", multiple=True,
              help="The ledger's names for the fields, e.g. entry_date=Date,hts=HTS (repeatable).")
@click.option("--skip-bad", is_flag=True,
              help="Price the good rows and write the bad ones, with their reason, to OUT.rejects.csv (needs -o).")
@click.option("--as-of", "as_of", type=DATE, default="today", show_default=True,
              help="Date the refund routes, deadlines and interest are worked out for (the day a claim is filed).")
@click.option("--noncorporate", is_flag=True,
              help="Refund interest at the IRS overpayment rate for importers that are not corporations (1 point higher).")
@direction_option
@format_option("table", "markdown", "json", "csv")
@scenario_option
@data_options
@handle_errors
def duty(ledger_path, output, wide, columns, skip_bad, as_of, noncorporate, direction, fmt, data_dir, standalone,
         verbose):
    """Duties and refunds over an import ledger: per entry and layer, by authority and month.

    LEDGER is a CSV or Parquet file, a folder of them or a quoted glob pattern ('exports/*.csv'):
    the files are read in order, a chunk at a time, in bounded memory whatever their size. It has
    columns entry_id, entry_date (date of entry), hts (any code form), origin
    (CN, HK, MO for US duties; US for China's), customs_value (in the imposer's currency) and
    optionally export_date (for in-transit rules) and quantity (for specific MFN duties, in the
    unit of the duty), liquidation_date (a date, or 'unliquidated') and entry_summary_date (when
    the duty was deposited) for refunds, and what rate --assume and --content take: assume
    (condition ids separated by ';') and steel_value, aluminum_value, copper_value (the metal
    content's value, in the ledger's currency). The summary gives totals by authority and month and the
    refunds on the --as-of date: for every entry with a refundable duty its route (CAPE phase 1,
    protest, later phase, time-barred; unknown without a liquidation date; Section 122 duties
    contingent on the appeal), deadline and interest, totals by route and the entries due
    within 30 days. The per-entry CSV has an MFN row, one row per layer bearing on the entry
    (with the reason, as in rate --hts) and a total row per entry carrying refund_route,
    refund_duty, refund_deadline and refund_interest; it goes to -o FILE, or to stdout with
    --format csv.

    A bad row stops the command before anything is written (FILE:LINE: reason, exit
    status 2), unless --skip-bad. Files are written whole or not at all.

    Example:

        tariffcalc duty examples/sample-ledger.csv --as-of 2026-12-01

        tariffcalc duty ledger.csv -o duties.csv --format json --columns entry_date=Date,hts=HTS

        tariffcalc duty broker.csv -o duties.csv --skip-bad --wide -d us

        tariffcalc duty 'exports/2025-*.parquet' -o duties.parquet --skip-bad
    """
    from . import fields, plaincsv

    if skip_bad and not output:
        raise CliError("--skip-bad needs -o OUT.csv (the rejected rows go to OUT.rejects.csv)")
    files = fields.ledger_files(ledger_path)
    # the first file's pass and first chunk are read on a thread while pandas is imported and
    # the data loaded: the reader below takes them up
    with plaincsv.head_start(files[0], columns):
        from . import export, ledger, partition, render

        _check_output(output, (".csv", ".parquet"), *files)
        if skip_bad:
            _check_output(export.rejects_path(output), (".csv",), *files, option="--skip-bad: rejects file")
        with render.progress_bar() as progress:
            reader = ledger.LedgerReader(files, columns, direction, skip_bad, progress=progress)
            result = partition.DutyRun(reader, _products(_engine(data_dir, standalone)), as_of=as_of,
                                       interest_payer="noncorporate" if noncorporate else None)
            lead = ("scenario", _applied().scenario.name) if _applied() else None  # named on every row
            if output:
                export.write_duty_run(result, output, wide, skip_bad, lead=lead)
            elif fmt == "csv":
                for text in export.duty_run_csv(result, wide, lead=lead):
                    click.echo(text, nl=False)
            else:
                # priced chunk by chunk for the summary, each let go before the next is waited for
                collections.deque(result.results(), maxlen=0)
    if fmt != "csv":  # csv: the per-entry rows were the answer, above or in -o
        _answer(fmt, view=lambda: render.duty_summary_view(result),
                json=lambda: export.to_json(export.duty_summary_dict(result)))
    if fmt not in ("table", "markdown"):
        for note in result.summary.notes:
            click.echo(f"note: {note}", err=True)


@cli.command(name="scenarios")
@format_option("table", "json")
@data_options
@handle_errors
def scenarios_(fmt, data_dir, standalone, verbose):
    """List the what-if scenarios --scenario takes: the bundled ones and those in the
    scenarios/ folder of --data-dir, with what each supposes and what it rests on.

    A scenario is a YAML file of edits to the record (see docs/data-format.md); --scenario
    also takes the path of one.

    Example:

        tariffcalc scenarios

        tariffcalc rate --date 2026-11-15 --scenario truce-lapses
    """
    from . import export
    from .scenarios import list_scenarios, scenario_dicts, scenarios_view

    found = list_scenarios(data_dir)
    _answer(fmt, view=lambda: scenarios_view(found), json=lambda: export.to_json(scenario_dicts(found)))


@cli.command(name="cache")
@click.option("--clear", is_flag=True, help="Delete the cached data sets and tables (always safe).")
def cache_(clear):
    """Where the warm cache is and what it holds; --clear empties it.

    The first run over some data files checks them all and keeps the result in the user cache
    folder; later runs over the same files (bundled data and --data-dir, compared by content)
    start from it. Set TARIFFCALC_CACHE_DIR to move it, TARIFFCALC_NO_CACHE=1 to turn it off.
    Deleting the folder is always safe. See docs/cache.md.

    Example:

        tariffcalc cache

        tariffcalc cache --clear
    """
    from . import cache

    if clear:
        click.echo(f"deleted {cache.clear()} files in {cache.cache_dir()}")
        return
    info = cache.summary()
    state = "on" if info["enabled"] else f"off ({cache.ENV_NO_CACHE} is set)"
    plural = "" if info["datasets"] == 1 else "s"
    click.echo(f"cache: {info['path']} ({state})\n"
               f"{info['datasets']} data set{plural}, {info['tables']} tables, {info['bytes'] / 1e6:.1f} MB")


def main():
    """The ``tariffcalc`` command (and ``python -m tariffcalc``): the CLI, then a quick exit.

    Python's exit collects every object pandas and pyarrow made on import, some 60 ms on each
    command (longer than most answers). Frozen first (``gc.freeze``), those objects are skipped;
    exit handlers, flushing and closing still run as usual. Library callers and tests, which call
    ``cli``, keep the collector as it was.

    Arrow's buffers come from the C library's allocator, not from mimalloc (pyarrow's default),
    unless ``ARROW_DEFAULT_MEMORY_POOL`` is set: mimalloc gave the per-entry output's buffers,
    made and let go a slice at a time, back to the system and faulted them in again (1 M rows,
    ``duty -o out.csv``: 4.73 s and 1.9-2.4 s of system time against 4.21 s and 0.8-1.0 s, peak
    840-877 MB against 751-793 MB). It must be set before pyarrow is first imported."""
    import gc
    import os

    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    try:
        cli(prog_name="tariffcalc")
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
