"""Typed model of the data set, and the schema of its YAML files.

The schema tables below are the single declaration of which keys a file may have, their types,
allowed values and defaults. The loader validates against them and ``docs/data-format.md`` is
checked against them by the tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# -- the registry: what tariffcalc answers, declared once -----------------------------------------
# The dates, directions, origins, currencies and names every module reads (the CLI too, for its
# choices and --help, so nothing here imports pandas). Which layer charges what on which origin is
# policy and lives in data/; this is the frame of the questions: a date in [EARLIEST, LATEST],
# one of two directions, an origin the direction covers.

EARLIEST = date(2018, 1, 1)  # the first and last dates tariffcalc answers for (inclusive)
LATEST = date(2030, 12, 31)


@dataclass(frozen=True)
class Side:
    """One direction of the registry: who charges, on goods of which origins, in what currency."""

    key: str  # us | cn: the --direction choice
    imposer: str
    origins: tuple[str, ...]  # the first is the default
    currency: str  # customs values and duties of this direction
    title: str  # chart legends: "US tariffs on goods from China"
    compact: str  # narrow terminal charts: "US on CN"

    @property
    def name(self) -> str:
        """``US``, ``China``: the imposer as a headline names it."""
        return imposer_name(self.imposer)


SIDES = (
    Side("us", "US", ("CN", "HK", "MO"), "USD", "US tariffs on goods from China", "US on CN"),
    Side("cn", "CN", ("US",), "CNY", "China's tariffs on US goods", "CN on US"),
)
# How a person names a country: as the imposer of a headline, and as the origin of goods.
IMPOSER_NAMES = {"US": "US", "CN": "China"}
COUNTRY_NAMES = {"CN": "China", "US": "the US", "HK": "Hong Kong", "MO": "Macau"}

SIDE = {side.key: side for side in SIDES}
IMPOSERS = tuple(side.imposer for side in SIDES)
ORIGINS_OF = {side.key: side.origins for side in SIDES}
DIRECTION_OF_ORIGIN = {origin: side.key for side in SIDES for origin in side.origins}
ORIGINS = tuple(sorted(DIRECTION_OF_ORIGIN))
CURRENCY = {side.imposer: side.currency for side in SIDES}
LABELS = {side.key: side.title for side in SIDES}


def imposer_name(imposer: str) -> str:
    """``US``, ``China``: the imposer as a headline names it."""
    return IMPOSER_NAMES.get(imposer, imposer)


def country_name(code: str) -> str:
    """``China``, ``Hong Kong``, ``the US``: an origin as a sentence names it."""
    return COUNTRY_NAMES.get(code, code)

AUTHORITIES = (
    "IEEPA",
    "Section 301",
    "Section 232",
    "Section 122",
    "Section 201",
    "Tariff Commission",
)
SCOPES = ("all", "group")
STATUSES = ("in_effect", "threatened", "suspended", "struck_down")
CONFIDENCES = ("confirmed", "unconfirmed")
# Contents a step's rate may be charged on instead of the full customs value.
CONTENTS = ("steel", "aluminum", "copper")

# Statuses a what-if scenario gives the steps it edits (never written in data files): charged
# only in the scenario, and a layer's steps it ends (kept, with their rate, but not charged).
SCENARIO_STATUS = "scenario"
SCENARIO_ENDED = "scenario_ended"

# Statuses whose rate is charged on goods. Threatened steps join them only on request.
COUNTED_STATUSES = ("in_effect", SCENARIO_STATUS)


@dataclass(frozen=True)
class Field:
    """One key of a YAML mapping: its type, whether it is required, its allowed values."""

    kind: str  # str | id | date | number | url | origins | ids | mapping | list
    required: bool = False
    default: object = None
    choices: tuple = ()
    doc: str = ""


LAYER_FIELDS = {
    "id": Field("id", True, doc="unique id, [a-z0-9-]+"),
    "name": Field("str", True),
    "short_name": Field("str", False, doc="a few words for headlines and narrow tables; defaults to name"),
    "imposer": Field("str", True, choices=IMPOSERS),
    "origin": Field("origins", True),
    "authority": Field("str", True, choices=AUTHORITIES),
    "coverage": Field("mapping", True),
    "steps": Field("list", True),
    "rules": Field("mapping", False),
    "conditions": Field("list", False,
                        doc="conditions (end use, certification, ...) that product sets and list rows name"),
    "note": Field("str", False),
}

CONDITION_FIELDS = {
    "id": Field("id", True, doc="named by `condition` keys and columns and by `--assume ID`; unique in the data set"),
    "text": Field("str", True, doc="the condition in words, as the answer shows it"),
    "source": Field("url", False),
    "note": Field("str", False),
}

COVERAGE_FIELDS = {
    "scope": Field("str", True, choices=SCOPES),
    "description": Field("str", True),
    "trade_value_usd_bn": Field("number", False),
    "trade_value_note": Field("str", False),
    "products": Field("mapping", False),
    "exempt": Field("list", False),
}

PRODUCT_SET_FIELDS = {
    "name": Field("str", False),
    "codes": Field("codes", False, default=()),
    "lists": Field("paths", False, default=()),
    "start": Field("date", False),
    "end": Field("date", False),
    "source": Field("url", False),
    "note": Field("str", False),
    "conditional": Field("bool", False, default=False,
                         doc="exempt sets: the exemption is granted on application (importer-specific), not automatically"),
    "complete": Field("bool", False, default=True,
                      doc="products: false when the data holds only part of the published list"),
    "condition": Field("id", False,
                       doc="id of a condition: products apply, or the exemption holds, only when it is met"),
    "confidence": Field("str", False, default="confirmed", choices=CONFIDENCES,
                        doc="unconfirmed when the list itself is not the published one (the answer says so)"),
}

# Columns a list file may have; `code` is required.
LIST_COLUMNS = ("code", "start", "end", "description", "note", "heading", "condition")

STEP_FIELDS = {
    "start": Field("date", True),
    "end": Field("date", False),
    "rate": Field("number", True),
    "status": Field("str", False, default="in_effect", choices=STATUSES),
    "instrument": Field("str", True),
    "source": Field("url", True),
    "effective_time": Field("str", False),
    "announced": Field("date", False),
    "in_transit": Field("mapping", False),
    "note": Field("str", False),
    "confidence": Field("str", False, default="confirmed", choices=CONFIDENCES),
    "content": Field("str", False, choices=CONTENTS,
                     doc="the rate applies to the value of this content of the good, not its full value"),
}

IN_TRANSIT_FIELDS = {
    "loaded_before": Field("date", True),
    "entered_before": Field("date", True),
    "rate": Field("number", True),
}

RULE_FIELDS = {
    "not_on_goods_of": Field("ids", False, default=()),
    "replaces": Field("ids", False, default=()),
    "not_on_content_of": Field("ids", False, default=()),
}

DATASET_FIELDS = {
    "verified_through": Field("mapping", False),
    "content_estimates": Field("mapping", False,
                               doc="per imposer, the file of estimated content shares by code (content/...)"),
    "footnotes": Field("mapping", False,
                       doc="per imposer, a line printed under that direction's layer table"),
}

# Keys of an entry of data/mfn/vintages.yaml.
VINTAGE_FIELDS = {
    "imposer": Field("str", True, choices=IMPOSERS),
    "id": Field("str", True),
    "file": Field("str", True),
    "start": Field("date", True),
    "source": Field("url", False),
    "provenance": Field("str", False),
    "note": Field("str", False),
    "specific_duties": Field("bool", False, default=False,
                             doc="the schedule's texts such as '30.5¢/kg + 8.5%' are parsed into specific duties"),
}

# -- refunds: data/refunds/<program>.yaml and data/refunds/interest/<table>.yaml ------------

# Routes a refund program may name, in the order the summary lists them. ``unknown`` is not
# written in the data: it is the answer when a route's condition needs a ledger column the
# entry lacks.
REFUND_ROUTES = ("CAPE phase 1", "protest", "later phase", "contingent", "time-barred")
UNKNOWN_ROUTE = "unknown"
LITIGATION_STATUSES = ("struck_down", "held_unlawful_stayed", "pending", "upheld")
DEADLINE_FROM = ("liquidation", "deposit")
INTEREST_PAYERS = ("corporate", "noncorporate")
COMPOUNDING = ("daily", "simple")

REFUND_FIELDS = {
    "id": Field("id", True, doc="unique id of the refund program"),
    "name": Field("str", True),
    "imposer": Field("str", True, choices=IMPOSERS),
    "layers": Field("ids", True, doc="the layers whose duty the program refunds"),
    "window": Field("mapping", True, doc="entries entered in [start, end)"),
    "mechanism": Field("str", True),
    "litigation": Field("mapping", True),
    "interest": Field("id", False, doc="id of the interest table (data/refunds/interest/)"),
    "interest_payer": Field("str", False, default="corporate", choices=INTEREST_PAYERS),
    "routes": Field("list", True),
    "instrument": Field("str", True),
    "source": Field("url", True),
    "confidence": Field("str", False, default="confirmed", choices=CONFIDENCES),
    "note": Field("str", False),
}

WINDOW_FIELDS = {
    "start": Field("date", True),
    "end": Field("date", True),
}

LITIGATION_FIELDS = {
    "status": Field("str", True, choices=LITIGATION_STATUSES),
    "summary": Field("str", True, doc="one line shown beside the authority's duty"),
    "decided": Field("date", False),
    "instrument": Field("str", True),
    "source": Field("url", True),
    "confidence": Field("str", False, default="confirmed", choices=CONFIDENCES),
}

ROUTE_FIELDS = {
    "route": Field("str", True, choices=REFUND_ROUTES),
    "liquidated": Field("bool", False, doc="true: only liquidated entries; false: only unliquidated ones"),
    "max_days_since_liquidation": Field("number", False, doc="liquidated at most this many days before the as-of date"),
    "from": Field("date", False, doc="the route is open to claims filed on or after this date"),
    "deadline": Field("mapping", False),
    "instrument": Field("str", True),
    "source": Field("url", True),
    "confidence": Field("str", False, default="confirmed", choices=CONFIDENCES),
    "note": Field("str", False),
}

DEADLINE_FIELDS = {
    "after": Field("str", True, choices=DEADLINE_FROM),
    "days": Field("number", False),
    "years": Field("number", False),
}

INTEREST_FIELDS = {
    "id": Field("id", True),
    "name": Field("str", True),
    "rule": Field("str", True, doc="what accrues, from when to when"),
    "compounding": Field("str", True, choices=COMPOUNDING),
    "rates": Field("list", True),
    "instrument": Field("str", True),
    "source": Field("url", True),
    "confidence": Field("str", False, default="confirmed", choices=CONFIDENCES),
    "note": Field("str", False),
}

INTEREST_RATE_FIELDS = {
    "start": Field("date", True),
    "end": Field("date", True),
    "corporate": Field("number", True),
    "noncorporate": Field("number", True),
    "instrument": Field("str", True),
    "source": Field("url", True),
    "confidence": Field("str", False, default="confirmed", choices=CONFIDENCES),
    "note": Field("str", False),
}

SCHEMA = {
    "layer": LAYER_FIELDS,
    "coverage": COVERAGE_FIELDS,
    "step": STEP_FIELDS,
    "in_transit": IN_TRANSIT_FIELDS,
    "rules": RULE_FIELDS,
    "dataset": DATASET_FIELDS,
    "product_set": PRODUCT_SET_FIELDS,
    "condition": CONDITION_FIELDS,
    "vintage": VINTAGE_FIELDS,
    "refund": REFUND_FIELDS,
    "refund_window": WINDOW_FIELDS,
    "litigation": LITIGATION_FIELDS,
    "route": ROUTE_FIELDS,
    "deadline": DEADLINE_FIELDS,
    "interest": INTEREST_FIELDS,
    "interest_rate": INTEREST_RATE_FIELDS,
}

# Rates are percentage points; anything above this is a typo, not a tariff.
MAX_RATE = 1000.0

# Rates are percentage points given with a few decimals (the data's have at most 6 significant
# digits). A rate worked out by arithmetic (a sum of layers, a rate times a content share) is
# rounded to this many decimals, so that float noise (5.849 + 35 = 40.849000000000004, 50 x
# 0.00956 = 0.47800000000000004) is in no answer, for one format to print and another to round away.
RATE_DECIMALS = 9


def clean_rate(values):
    """A rate (a number, an array or a Series) worked out by arithmetic, without its float noise."""
    return values.round(RATE_DECIMALS) if hasattr(values, "round") else round(values, RATE_DECIMALS)


@dataclass(frozen=True)
class InTransit:
    loaded_before: date
    entered_before: date
    rate: float


@dataclass(frozen=True)
class Step:
    start: date
    end: date | None
    rate: float
    instrument: str
    source: str
    status: str = "in_effect"
    effective_time: str | None = None
    announced: date | None = None
    in_transit: InTransit | None = None
    note: str | None = None
    confidence: str = "confirmed"
    content: str | None = None
    line: int | None = None

    def covers(self, day: date) -> bool:
        """Half-open interval: on or after start, before end."""
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True)
class ProductSet:
    """Goods named by code prefixes, inline or in list files, optionally for a date window."""

    name: str | None = None
    codes: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()  # absolute paths of list files
    start: date | None = None
    end: date | None = None
    source: str | None = None
    note: str | None = None
    conditional: bool = False
    complete: bool = True
    condition: str | None = None
    confidence: str = "confirmed"
    path: str = ""  # the layer file that declares it
    line: int | None = None


@dataclass(frozen=True)
class Condition:
    """Something only the importer knows (an end use, a certification): a product set or list
    row that names it applies only when it is met, and it is never assumed met."""

    id: str
    text: str
    source: str | None = None
    note: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Coverage:
    scope: str
    description: str
    trade_value_usd_bn: float | None = None
    trade_value_note: str | None = None
    products: ProductSet | None = None
    exempt: tuple[ProductSet, ...] = ()

    @property
    def all_goods(self) -> bool:
        return self.scope == "all"


@dataclass(frozen=True)
class Rules:
    not_on_goods_of: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    line: int | None = field(default=None, compare=False)
    not_on_content_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layer:
    id: str
    name: str
    imposer: str
    origins: tuple[str, ...]
    authority: str
    coverage: Coverage
    steps: tuple[Step, ...]
    rules: Rules = Rules()
    note: str | None = None
    short_name: str | None = None
    conditions: tuple[Condition, ...] = ()
    path: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Direction:
    """Who charges whom: ``us`` is the US on goods from China, ``cn`` China on US goods."""

    key: str
    imposer: str
    origin: str

    @property
    def label(self) -> str:
        """``US on goods from China``, ``US on goods from Hong Kong``."""
        return f"{imposer_name(self.imposer)} on goods from {country_name(self.origin)}"

    @property
    def side(self) -> Side:
        return SIDE[self.key]


DIRECTIONS = {side.key: Direction(side.key, side.imposer, side.origins[0]) for side in SIDES}

# Columns shared by a frame and its export, declared once: the change events of a timeline
# (``events.change_events``) and the trade-weighted averages (``averages.average_rates``).
EVENT_COLUMNS = ["date", "direction", "imposer", "origin", "changes", "headline", "average_rate"]
AVERAGE_COLUMNS = [
    "date", "direction", "imposer", "origin", "average_rate", "additional_average", "coverage",
    "mfn_unknown_share", "weights", "convention",
]


@dataclass(frozen=True)
class Litigation:
    status: str
    summary: str
    instrument: str
    source: str
    decided: date | None = None
    confidence: str = "confirmed"


@dataclass(frozen=True)
class Deadline:
    after: str  # liquidation | deposit
    days: int = 0
    years: int = 0


@dataclass(frozen=True)
class RefundRoute:
    """One route of a program: it applies to an entry when every condition it has holds on the
    as-of date (the date of filing). Routes are tried in order; the first that holds is the answer."""

    route: str
    instrument: str
    source: str
    liquidated: bool | None = None
    max_days_since_liquidation: int | None = None
    opens: date | None = None  # the key `from`
    deadline: Deadline | None = None
    confidence: str = "confirmed"
    note: str | None = None
    line: int | None = None

    @property
    def needs_liquidation(self) -> bool:
        """Whether deciding or dating this route needs the entry's liquidation status."""
        return (self.liquidated is not None or self.max_days_since_liquidation is not None
                or (self.deadline is not None and self.deadline.after == "liquidation"))


@dataclass(frozen=True)
class RefundProgram:
    id: str
    name: str
    imposer: str
    layers: tuple[str, ...]
    start: date
    end: date  # exclusive
    mechanism: str
    litigation: Litigation
    routes: tuple[RefundRoute, ...]
    instrument: str
    source: str
    interest: str | None = None
    interest_payer: str = "corporate"
    confidence: str = "confirmed"
    note: str | None = None
    path: str = ""
    line: int | None = None

    @property
    def contingent(self) -> bool:
        """Every route is ``contingent``: the refund waits on litigation."""
        return all(r.route == "contingent" for r in self.routes)


@dataclass(frozen=True)
class InterestRate:
    start: date
    end: date  # exclusive
    corporate: float
    noncorporate: float
    instrument: str
    source: str
    confidence: str = "confirmed"
    note: str | None = None


@dataclass(frozen=True)
class InterestTable:
    id: str
    name: str
    rule: str
    compounding: str
    rates: tuple[InterestRate, ...]  # sorted, not overlapping; a gap is a period with no known rate
    instrument: str
    source: str
    confidence: str = "confirmed"
    note: str | None = None
    path: str = ""


@dataclass
class Dataset:
    layers: tuple[Layer, ...]
    verified_through: dict[str, date] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()
    content_estimates: dict[str, str] = field(default_factory=dict)  # imposer -> absolute path
    footnotes: dict[str, str] = field(default_factory=dict)  # imposer -> text

    def conditions(self) -> dict[str, Condition]:
        """Every condition the layers declare, by id."""
        return {c.id: c for layer in self.layers for c in layer.conditions}
    refunds: tuple[RefundProgram, ...] = ()
    interest: dict = field(default_factory=dict)  # id -> InterestTable

    def layer(self, layer_id: str) -> Layer:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(layer_id)
