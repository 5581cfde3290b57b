"""Refunds a broker can act on: for each entry with a refundable duty, the route, its deadline,
the days left and the interest accrued, on an as-of date (the day a claim would be filed).

Everything here is read from the refund programs of the data (``data/refunds/*.yaml``): which
layers a program refunds and for which entry window, its routes in order (the first whose
conditions hold on the as-of date is the answer), each route's deadline, the litigation status,
and the interest table (``data/refunds/interest/``). Nothing tests a layer id or an authority.
Every step is an array operation over the ledger's entries, so a million-row ledger costs a few
passes over a few arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .model import REFUND_ROUTES, UNKNOWN_ROUTE, InterestTable, RefundProgram

ROUTES = (*REFUND_ROUTES, UNKNOWN_ROUTE)
TIME_BARRED = ROUTES.index("time-barred")
UNKNOWN = ROUTES.index(UNKNOWN_ROUTE)
DUE_DAYS = 30  # the summary lists entries whose deadline falls within this many days
DEEMED_LIQUIDATION_DAYS = 365  # 19 U.S.C. 1504(a): liquidated by law one year after entry, unless extended
NAT = np.datetime64("NaT", "D")
MICRO = 1_000_000


@dataclass
class RefundSummary:
    as_of: date
    by_route: pd.DataFrame  # route, entries, duty, interest, confidence (routes with entries, in ROUTES order)
    duty: float  # the refundable total: the sum of by_route
    interest: float
    due: pd.DataFrame  # entry_id, route, deadline, days_left, duty, interest (deadline within DUE_DAYS)
    programs: list = field(default_factory=list)  # (program, entries, duty) of the programs met
    interest_through: date | None = None  # the last day interest accrued, where the rates run out before as_of
    notes: list[str] = field(default_factory=list)


@dataclass
class Refunds:
    """Per entry (aligned with ``DutyResult.entries``): the refund program (-1: none), the
    refundable duty, the route (index into ``ROUTES``; ``len(ROUTES)``: nothing refundable), the
    deadline (NaT: none), the days left and the interest accrued to the as-of date."""

    as_of: date
    program: np.ndarray
    duty: np.ndarray
    route: np.ndarray
    deadline: np.ndarray  # datetime64[D]
    days_left: np.ndarray  # float, NaN without a deadline
    interest: np.ndarray
    totals: RefundTotals  # the sums of the summary (they add across parts of a ledger)
    dataset: object = field(default=None, repr=False)

    @cached_property
    def summary(self) -> RefundSummary:
        """Worked out when first asked: a chunk of a ledger streamed never is (its totals are
        added to the others')."""
        return self.totals.summary(self.dataset)

    def route_names(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The route of entries start..stop as text ('' where nothing is refundable)."""
        names = np.array([*ROUTES, ""], dtype=object)
        return names[self.route[start:stop]]


def _days(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]")


def program_duty(result, program: RefundProgram, entered: np.ndarray | None = None) -> np.ndarray:
    """The duty of ``program``'s layers on each entry entered in its window (0 elsewhere): each
    key's rate over those layers, the in-transit rate where it held, times the entry's value.
    ``entered``: the entries' days of entry, if the caller has them."""
    layers = result.layers
    n = len(result.entries)
    if not len(layers) or not n:
        return np.zeros(n)
    mine = layers["layer_id"].isin(program.layers).to_numpy()
    key = layers["key"].to_numpy(dtype=np.int64)
    rate = np.bincount(key[mine], weights=result.charged[mine], minlength=len(result.key_rows))[result.key]
    if len(result.transit_entry):
        moved = mine[result.transit_layer]
        np.add.at(rate, result.transit_entry[moved],
                  result.transit_rate[result.transit_layer[moved]] - result.charged[result.transit_layer[moved]])
    entered = _days(result.entries["entry_date"]) if entered is None else entered
    inside = (entered >= np.datetime64(program.start)) & (entered < np.datetime64(program.end))
    return np.where(inside, result.value * rate / 100, 0.0)


def _add_years(days: np.ndarray, years: int) -> np.ndarray:
    """The same day of the month ``years`` later (29 February falls back to the 28th)."""
    month = days.astype("datetime64[M]")
    day_of_month = days - month.astype("datetime64[D]")
    later = (month + 12 * years).astype("datetime64[D]")
    last = (month + 12 * years + 1).astype("datetime64[D]") - 1
    return np.minimum(later + day_of_month, last)


def _deadline(route, liquidation: np.ndarray, deposit: np.ndarray) -> np.ndarray:
    base = liquidation if route.deadline.after == "liquidation" else deposit
    if route.deadline.years:
        out = _add_years(base, route.deadline.years)
        out[np.isnat(base)] = NAT
        return out
    return base + np.timedelta64(route.deadline.days, "D")


def _routes(program: RefundProgram, as_of: np.datetime64, known: np.ndarray, liquidation: np.ndarray,
            deposit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Route (index into ROUTES), deadline and rule (index into ``program.routes``, -1: none) of
    each entry: the first route of the program whose conditions hold on ``as_of``; ``unknown``
    where the first route that could hold needs the liquidation status and the entry has none;
    time-barred where none holds."""
    n = len(known)
    route = np.full(n, TIME_BARRED, dtype=np.int64)
    deadline = np.full(n, NAT)
    matched = np.full(n, -1, dtype=np.int64)
    open_ = np.ones(n, dtype=bool)
    liquidated = known & ~np.isnat(liquidation) & (liquidation <= as_of)
    since = (as_of - liquidation).astype(np.int64)  # meaningless where not liquidated
    for number, rule in enumerate(program.routes):
        if rule.opens is not None and as_of < np.datetime64(rule.opens):
            continue
        if rule.needs_liquidation:
            lacking = open_ & ~known
            route[lacking] = UNKNOWN
            open_ &= known
        holds = open_.copy()
        if rule.liquidated is True:
            holds &= liquidated
        elif rule.liquidated is False:
            holds &= ~liquidated
        if rule.max_days_since_liquidation is not None:
            holds &= liquidated & (since <= rule.max_days_since_liquidation)
        due = np.full(n, NAT)
        if rule.deadline is not None:
            due = _deadline(rule, np.where(liquidated, liquidation, NAT), deposit)
            holds &= np.isnat(due) | (due >= as_of)
        route[holds] = ROUTES.index(rule.route)
        deadline[holds] = due[holds]
        matched[holds] = number
        open_ &= ~holds
    return route, deadline, matched


class _Accrual:
    """Interest factors of one table and payer, day by day from ``first`` to ``as_of``: the
    cumulative (log) growth, so an entry's interest is one subtraction."""

    def __init__(self, table: InterestTable, payer: str, first: np.datetime64, as_of: np.datetime64):
        self.first = first
        span = np.arange(first, max(as_of, first))
        rate = np.full(len(span), np.nan)
        for r in table.rates:
            rate[(span >= np.datetime64(r.start)) & (span < np.datetime64(r.end))] = getattr(r, payer)
        gap = np.flatnonzero(np.isnan(rate))
        self.stop = int(gap[0]) if len(gap) else len(span)  # accrual ends before the first day without a rate
        self.through = span[self.stop] if self.stop < len(span) else None
        years = span.astype("datetime64[Y]").astype(np.int64) + 1970
        year_days = np.where((years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0)), 366, 365)
        daily = np.nan_to_num(rate[:self.stop]) / 100 / year_days[:self.stop]
        growth = np.log1p(daily) if table.compounding == "daily" else daily
        self.cumulative = np.concatenate(([0.0], np.cumsum(growth)))
        self.compound = table.compounding == "daily"
        self.unconfirmed = [r for r in table.rates if r.confidence != "confirmed"]

    def interest(self, principal: np.ndarray, deposit: np.ndarray) -> np.ndarray:
        start = np.clip((deposit - self.first).astype(np.int64), 0, self.stop)
        grown = self.cumulative[self.stop] - self.cumulative[start]
        return principal * (np.expm1(grown) if self.compound else grown)


def _count(n: int) -> str:
    return f"{n:,} entr{'y' if n == 1 else 'ies'}"


def _micro_sum(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    micro = np.rint(np.nan_to_num(values) * MICRO)
    return np.bincount(groups, weights=micro, minlength=n) / MICRO


def evaluate(result, dataset, as_of: date | None = None, payer: str | None = None) -> Refunds:
    """The refunds of every entry of a ``duties.DutyResult`` on ``as_of`` (default today);
    ``payer`` (corporate | noncorporate) overrides the programs' ``interest_payer``."""
    as_of = as_of or date.today()
    day = np.datetime64(as_of, "D")
    entries, names = result.entries, result.ledger.names
    n = len(entries)
    imposer = result.direction.imposer
    programs = [p for p in dataset.refunds if p.imposer == imposer]

    entered = _days(entries["entry_date"])
    program = np.full(n, -1, dtype=np.int64)
    duty = np.zeros(n)
    for number, p in enumerate(programs):
        amount = program_duty(result, p, entered)
        take = amount > 0
        program[take], duty[take] = number, amount[take]

    # Routes, deadlines and interest are worked out for the entries a program takes alone (15 in
    # 100 of the benchmark's ledger), then placed among all entries; the totals are sums over them.
    taken = np.flatnonzero(program >= 0)
    has_liquidation = "liquidation_date" in names
    has_summary = "entry_summary_date" in names
    liquidation = _days(entries["liquidation_date"].to_numpy()[taken]) if has_liquidation \
        else np.full(len(taken), NAT)
    unliquidated = entries["unliquidated"].to_numpy(dtype=bool)[taken] if has_liquidation \
        else np.zeros(len(taken), dtype=bool)
    known = ~np.isnat(liquidation) | unliquidated
    summary_date = _days(entries["entry_summary_date"].to_numpy()[taken]) if has_summary \
        else np.full(len(taken), NAT)
    deposit = np.where(np.isnat(summary_date), entered[taken], summary_date)
    program_of, duty_of = program[taken], duty[taken]

    route_of = np.full(len(taken), len(ROUTES), dtype=np.int64)  # len(ROUTES): no refund
    deadline_of = np.full(len(taken), NAT)
    interest_of = np.zeros(len(taken))
    rules = np.full(len(taken), -1, dtype=np.int64)
    for number, p in enumerate(programs):
        at = np.flatnonzero(program_of == number)
        if not len(at):
            continue
        r, d, rule = _routes(p, day, known[at], liquidation[at], deposit[at])
        route_of[at], deadline_of[at], rules[at] = r, d, rule
        if p.interest is not None:
            accrual = _Accrual(dataset.interest[p.interest], payer or p.interest_payer,
                               _accrual_start(dataset.interest[p.interest], deposit[at]), day)
            owed = accrual.interest(duty_of[at], deposit[at])
            owed[r == TIME_BARRED] = 0
            interest_of[at] = owed
    with np.errstate(invalid="ignore"):
        days_left_of = np.where(np.isnat(deadline_of), np.nan, (deadline_of - day).astype(np.int64).astype(float))
    totals = RefundTotals.of(as_of, payer, programs, entries["entry_id"].to_numpy(dtype=object)[taken], program_of,
                             rules, duty_of, route_of, deadline_of, days_left_of, interest_of, deposit, unliquidated,
                             entered[taken], has_liquidation,
                             ~np.isnat(summary_date) if has_summary else np.zeros(len(taken), dtype=bool))
    route, deadline = np.full(n, len(ROUTES), dtype=np.int64), np.full(n, NAT)
    days_left, interest = np.full(n, np.nan), np.zeros(n)
    route[taken], deadline[taken], days_left[taken], interest[taken] = route_of, deadline_of, days_left_of, interest_of
    return Refunds(as_of, program, duty, route, deadline, days_left, interest, totals, dataset)


def _accrual_start(table: InterestTable, deposits: np.ndarray) -> np.datetime64:
    """Interest factors are summed from the first day of the table (or an earlier deposit): the
    same start for every part of a ledger, so an entry's interest does not depend on its part."""
    first = np.datetime64(table.rates[0].start, "D") if table.rates else deposits.min()
    return min(first, deposits.min())


@dataclass
class RefundTotals:
    """The sums a refund summary is made of, for one part of a ledger or many (``+``): per route
    its entries, duty and interest (whole millionths), per program its entries, duty and rules
    taken, the earliest deposit, the counts behind the notes, and the entries due soon."""

    as_of: date
    payer: str | None
    programs: list
    route_entries: np.ndarray
    route_duty: np.ndarray  # millionths
    route_interest: np.ndarray
    program_entries: np.ndarray
    program_duty: np.ndarray
    rule_entries: list  # per program, entries per route rule
    program_routes: np.ndarray  # programs x ROUTES: entries
    first_deposit: np.ndarray  # datetime64[D] per program (NaT: none)
    unknown: int
    has_liquidation: bool  # every part had a liquidation_date column
    undated: bool  # a refundable entry has no entry_summary_date
    stale: int
    due: pd.DataFrame

    @classmethod
    def of(cls, as_of, payer, programs, entry_id, program, rules, duty, route, deadline, days_left, interest,
           deposit, unliquidated, entered, has_liquidation, dated) -> RefundTotals:
        refundable = route < len(ROUTES)
        micro = np.rint(np.nan_to_num(duty) * MICRO)
        interest_micro = np.rint(np.nan_to_num(interest) * MICRO)
        k = len(programs)
        taken = program >= 0
        first = np.full(k, NAT)
        for number in np.unique(program[taken]):
            first[number] = deposit[program == number].min()
        due_at = np.flatnonzero(refundable & (days_left >= 0) & (days_left <= DUE_DAYS))
        due = pd.DataFrame({"entry_id": entry_id[due_at], "route": np.array(ROUTES, dtype=object)[route[due_at]],
                            "deadline": deadline[due_at], "days_left": days_left[due_at].astype(np.int64),
                            "duty": duty[due_at], "interest": interest[due_at]})
        day = np.datetime64(as_of, "D")
        return cls(
            as_of, payer, list(programs),
            np.bincount(route[refundable], minlength=len(ROUTES)),
            np.bincount(route[refundable], weights=micro[refundable], minlength=len(ROUTES)),
            np.bincount(route[refundable], weights=interest_micro[refundable], minlength=len(ROUTES)),
            np.bincount(program[taken], minlength=k), np.bincount(program[taken], weights=micro[taken], minlength=k),
            [np.bincount(rules[(program == i) & (rules >= 0)], minlength=len(p.routes)) for i, p in enumerate(programs)],
            np.bincount(program[taken] * len(ROUTES) + route[taken], minlength=k * len(ROUTES)).reshape(k, len(ROUTES)),
            first, int((route == UNKNOWN).sum()), bool(has_liquidation),
            bool((refundable & ~dated).any()),
            int((refundable & unliquidated & ((day - entered).astype(np.int64) > DEEMED_LIQUIDATION_DAYS)).sum()),
            due)

    def __add__(self, other: RefundTotals) -> RefundTotals:
        first = np.where(np.isnat(self.first_deposit), other.first_deposit,
                         np.where(np.isnat(other.first_deposit), self.first_deposit,
                                  np.minimum(self.first_deposit, other.first_deposit)))
        return RefundTotals(
            self.as_of, self.payer, self.programs, self.route_entries + other.route_entries,
            self.route_duty + other.route_duty, self.route_interest + other.route_interest,
            self.program_entries + other.program_entries, self.program_duty + other.program_duty,
            [a + b for a, b in zip(self.rule_entries, other.rule_entries)], self.program_routes + other.program_routes,
            first, self.unknown + other.unknown,
            self.has_liquidation and other.has_liquidation, self.undated or other.undated, self.stale + other.stale,
            pd.concat([self.due, other.due], ignore_index=True) if len(other.due) else self.due)

    def summary(self, dataset) -> RefundSummary:
        """The summary on the as-of date: by route, the programs met, the due list, the notes."""
        as_of, day = self.as_of, np.datetime64(self.as_of, "D")
        notes: list[str] = []
        through = None
        met = []
        unconfirmed: set[str] = set()
        for number, p in enumerate(self.programs):
            if not self.program_entries[number]:
                continue
            met.append((p, int(self.program_entries[number]), float(self.program_duty[number]) / MICRO))
            for rule in np.flatnonzero(self.rule_entries[number]):
                taken = p.routes[rule]
                if taken.confidence != "confirmed":
                    unconfirmed.add(taken.route)
                    notes.append(f"route '{taken.route}' is unconfirmed ({_count(int(self.rule_entries[number][rule]))}): "
                                 f"see {Path(p.path).name}, route {rule + 1}")
            if p.confidence != "confirmed" or p.litigation.confidence != "confirmed":
                unconfirmed.update(ROUTES[i] for i in np.flatnonzero(self.program_routes[number]))
                notes.append(f"{p.name}: the record is unconfirmed in part: see {Path(p.path).name}")
            if p.interest is not None:
                rate_of = self.payer or p.interest_payer
                table = dataset.interest[p.interest]
                first = self.first_deposit[number]
                accrual = _Accrual(table, rate_of, _accrual_start(table, np.array([first])), day)
                method = "" if table.confidence == "confirmed" else "; how CBP computes it is unconfirmed"
                notes.append(f"interest: IRS overpayment rates ({rate_of}), compounded {table.compounding}, "
                             f"from the deposit of the duty (19 U.S.C. 1505(c)){method}")
                if accrual.through is not None:
                    through = (accrual.through - 1).astype(date)
                    notes.append(f"interest accrued to {through} only, not to {as_of}: no sourced rate after "
                                 f"{through} ({Path(table.path).name})")
                last = min(day, accrual.through or day)
                for rate in accrual.unconfirmed:
                    if np.datetime64(rate.start) < last and np.datetime64(rate.end) > first:
                        notes.append(f"interest uses an unconfirmed rate for {rate.start} to "
                                     f"{rate.end - timedelta(days=1)} ({getattr(rate, rate_of):g}% {rate_of})")
        by_route = pd.DataFrame({"route": list(ROUTES), "entries": self.route_entries.astype(np.int64),
                                 "duty": self.route_duty / MICRO, "interest": self.route_interest / MICRO})
        by_route["confidence"] = ["unconfirmed" if name in unconfirmed else "confirmed" for name in ROUTES]
        by_route = by_route[by_route["entries"] > 0].reset_index(drop=True)
        due = self.due.iloc[np.argsort(self.due["deadline"].to_numpy(), kind="stable")].reset_index(drop=True)
        if self.unknown:
            lacking = "no liquidation_date column" if not self.has_liquidation else "no liquidation date"
            notes.insert(0, f"{self.unknown:,} entr{'y' if self.unknown == 1 else 'ies'} with a refundable duty but "
                            f"{lacking}: route unknown (write the date of liquidation, or 'unliquidated')")
        if self.undated:
            notes.append("interest counted from the entry date where there is no entry_summary_date (the duty is "
                         "deposited with the entry summary, due within 10 working days after entry, 19 CFR 142.12): "
                         "a slight overstatement")
        if self.stale:
            notes.append(f"{self.stale:,} entr{'y' if self.stale == 1 else 'ies'} marked unliquidated more than "
                         "a year after entry: an entry is deemed liquidated one year after entry unless CBP extended "
                         "liquidation (19 U.S.C. 1504(a)); check ACE")
        notes = list(dict.fromkeys(notes))  # programs sharing a table say it once
        return RefundSummary(as_of, by_route, float(by_route["duty"].sum()), float(by_route["interest"].sum()), due,
                             met, through, notes)
