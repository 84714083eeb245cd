"""The data contract: the raw tables a dataset holds, their columns and rules.

This module is the one place where table and column names are spelled out.
Everything else imports the constants below (``USERS``, ``Users.USER_ID``...)
and the :data:`TABLES` specification; ``docs/data-contract.md`` describes the
same contract for people.

Time semantics (used by features, labels and the simulator's ground truth):
timestamps are compared in UTC and naive timestamps are taken as UTC. An
``as_of`` *date* D means the end of that day: rows with a timestamp before
D + 1 day (00:00 UTC) are visible, later rows are not.

Plausibility: :class:`ContractLimits` holds the configurable bounds beyond the
fixed rules (the plausible range of timestamps, the ceiling of amounts and of
durations); ``ColumnSpec.ceiling`` says which ceiling bounds a column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Kind(str, Enum):
    """The logical type of a column."""

    ID = "id"  # string or integer; compared within its own type
    TIMESTAMP = "timestamp"  # timestamp, timestamp with time zone, date, or parseable text
    NUMBER = "number"  # integer or floating point
    INTEGER = "integer"  # whole numbers (ratings)
    TEXT = "text"  # free text or a category
    CATEGORY = "category"  # text or integer used as a category (city tier 1-4)


USERS = "users"
ORDERS = "orders"
EVENTS = "events"
COUPONS = "coupons"
TICKETS = "tickets"
REVIEWS = "reviews"


class Users:
    USER_ID = "user_id"
    SIGNUP_AT = "signup_at"
    MEMBER_TIER = "member_tier"
    CITY_TIER = "city_tier"
    REGION = "region"
    CHANNEL = "channel"


class Orders:
    ORDER_ID = "order_id"
    USER_ID = "user_id"
    ORDERED_AT = "ordered_at"
    AMOUNT = "amount"
    CATEGORY = "category"
    STATUS = "status"
    COUPON_ID = "coupon_id"


class Events:
    USER_ID = "user_id"
    EVENT_AT = "event_at"
    EVENT_TYPE = "event_type"
    SESSION_ID = "session_id"
    DURATION_S = "duration_s"
    CATEGORY = "category"


class Coupons:
    COUPON_ID = "coupon_id"
    USER_ID = "user_id"
    ISSUED_AT = "issued_at"
    VALUE = "value"
    CAMPAIGN_ID = "campaign_id"
    GROUP = "group"
    REDEEMED_AT = "redeemed_at"


class Tickets:
    USER_ID = "user_id"
    CREATED_AT = "created_at"
    KIND = "kind"
    RESOLVED_AT = "resolved_at"


class Reviews:
    USER_ID = "user_id"
    CREATED_AT = "created_at"
    RATING = "rating"


# Allowed values of the enumerated columns.
STATUS_PAID = "paid"
STATUS_REFUNDED = "refunded"
STATUS_CANCELLED = "cancelled"
ORDER_STATUSES = (STATUS_PAID, STATUS_REFUNDED, STATUS_CANCELLED)
# A purchase ("paid order" in features and labels) is an order the customer paid
# for: status paid or refunded. Cancelled orders were never paid.
PURCHASE_STATUSES = (STATUS_PAID, STATUS_REFUNDED)

EVENT_LOGIN = "login"
EVENT_PAGE_VIEW = "page_view"
EVENT_SEARCH = "search"
EVENT_ADD_TO_CART = "add_to_cart"

GROUP_TREATMENT = "treatment"
GROUP_CONTROL = "control"
COUPON_GROUPS = (GROUP_TREATMENT, GROUP_CONTROL)

TICKET_RETURN = "return"
TICKET_COMPLAINT = "complaint"
TICKET_INQUIRY = "inquiry"
TICKET_KINDS = (TICKET_RETURN, TICKET_COMPLAINT, TICKET_INQUIRY)

RATING_MIN = 1
RATING_MAX = 5

# The quantile of orders.ordered_at the data-relative timestamp bound starts from (see ContractLimits).
ORDERS_END_QUANTILE = 0.999


class Ceiling(str, Enum):
    """Which :class:`ContractLimits` field bounds a numeric column from above."""

    AMOUNT = "max_amount"
    DURATION = "max_duration_s"


class ContractLimits(BaseModel):
    """The configurable plausibility limits of the data contract (defaults: docs/data-contract.md).

    earliest, latest: every timestamp of every table must be ``>= earliest`` and
        ``< latest`` (naive UTC; an aware value is converted). Defaults 1990-01-01
        and 2100-01-01: wider than any e-commerce history, narrower than the
        placeholders (1970-01-01, 1900-01-01, 9999-12-31) and the years a
        corrupt file decodes to.
    max_days_after_orders: every timestamp must also be before the end of the day
        ``max_days_after_orders`` days after the day by which 99.9% of the orders
        (those within earliest..latest) were placed: the data's own end. Default
        90, a quarter: tables extracted weeks apart pass, a 2099-12-31 placeholder does not.
        None switches this rule off.
    max_amount: ceiling of orders.amount and coupons.value, in the platform's currency
        (default 1e9, above any real order in any currency in use).
    max_duration_s: ceiling of events.duration_s in seconds (default 86,400: one day).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    earliest: dt.datetime = dt.datetime(1990, 1, 1)
    latest: dt.datetime = dt.datetime(2100, 1, 1)
    max_days_after_orders: int | None = Field(90, ge=0, le=36_500)
    max_amount: float = Field(1e9, gt=0, allow_inf_nan=False)
    max_duration_s: float = Field(86_400.0, gt=0, allow_inf_nan=False)

    @field_validator("earliest", "latest")
    @classmethod
    def _naive_utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    @model_validator(mode="after")
    def _window(self) -> ContractLimits:
        if self.earliest >= self.latest:
            raise ValueError(f"earliest ({self.earliest}) must be before latest ({self.latest})")
        return self

    def ceiling(self, which: Ceiling) -> float:
        """The value of ceiling ``which``."""
        return getattr(self, which.value)


DEFAULT_LIMITS = ContractLimits()


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table: its name, kind and rules."""

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    unique: bool = False
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] | None = None
    references: str | None = None  # "users.user_id": every value must exist there
    ceiling: Ceiling | None = None  # the ContractLimits field bounding finite values from above
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract."""

    name: str
    required: bool
    columns: tuple[ColumnSpec, ...]
    description: str = ""
    time_column: str | None = None

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


_USER_REF = f"{USERS}.{Users.USER_ID}"

TABLES: dict[str, TableSpec] = {
    USERS: TableSpec(
        USERS,
        required=True,
        time_column=Users.SIGNUP_AT,
        description="One row per user.",
        columns=(
            ColumnSpec(Users.USER_ID, Kind.ID, unique=True, description="user identifier, string or integer"),
            ColumnSpec(Users.SIGNUP_AT, Kind.TIMESTAMP, description="when the user signed up"),
            ColumnSpec(Users.MEMBER_TIER, Kind.CATEGORY, required=False, nullable=True, description="membership tier, known at signup"),
            ColumnSpec(Users.CITY_TIER, Kind.CATEGORY, required=False, nullable=True, description="city tier, 1 (largest cities) to 4"),
            ColumnSpec(Users.REGION, Kind.CATEGORY, required=False, nullable=True, description="geographic region"),
            ColumnSpec(Users.CHANNEL, Kind.CATEGORY, required=False, nullable=True, description="acquisition channel"),
        ),
    ),
    ORDERS: TableSpec(
        ORDERS,
        required=True,
        time_column=Orders.ORDERED_AT,
        description="One row per order.",
        columns=(
            ColumnSpec(Orders.ORDER_ID, Kind.ID, unique=True),
            ColumnSpec(Orders.USER_ID, Kind.ID, references=_USER_REF),
            ColumnSpec(Orders.ORDERED_AT, Kind.TIMESTAMP),
            ColumnSpec(Orders.AMOUNT, Kind.NUMBER, min_value=0, ceiling=Ceiling.AMOUNT, description="order value in the platform's currency"),
            ColumnSpec(Orders.CATEGORY, Kind.CATEGORY, required=False, nullable=True),
            ColumnSpec(Orders.STATUS, Kind.TEXT, required=False, nullable=True, allowed=ORDER_STATUSES, description="null means paid"),
            ColumnSpec(Orders.COUPON_ID, Kind.ID, required=False, nullable=True),
        ),
    ),
    EVENTS: TableSpec(
        EVENTS,
        required=False,
        time_column=Events.EVENT_AT,
        description="Behaviour events: logins, page views, searches, carts.",
        columns=(
            ColumnSpec(Events.USER_ID, Kind.ID, references=_USER_REF),
            ColumnSpec(Events.EVENT_AT, Kind.TIMESTAMP),
            ColumnSpec(Events.EVENT_TYPE, Kind.TEXT, description="free text; 'login' is special"),
            ColumnSpec(Events.SESSION_ID, Kind.ID, required=False, nullable=True),
            ColumnSpec(
                Events.DURATION_S,
                Kind.NUMBER,
                required=False,
                nullable=True,
                min_value=0,
                ceiling=Ceiling.DURATION,
                description="browse seconds",
            ),
            ColumnSpec(
                Events.CATEGORY,
                Kind.CATEGORY,
                required=False,
                nullable=True,
                description="category of the product a page view or cart event concerns; null for logins/searches",
            ),
        ),
    ),
    COUPONS: TableSpec(
        COUPONS,
        required=False,
        time_column=Coupons.ISSUED_AT,
        description="Coupons issued, and users held out of a campaign (group control).",
        columns=(
            ColumnSpec(Coupons.COUPON_ID, Kind.ID, unique=True),
            ColumnSpec(Coupons.USER_ID, Kind.ID, references=_USER_REF),
            ColumnSpec(Coupons.ISSUED_AT, Kind.TIMESTAMP),
            ColumnSpec(Coupons.VALUE, Kind.NUMBER, min_value=0, ceiling=Ceiling.AMOUNT),
            ColumnSpec(Coupons.CAMPAIGN_ID, Kind.ID),
            ColumnSpec(Coupons.GROUP, Kind.TEXT, allowed=COUPON_GROUPS),
            ColumnSpec(Coupons.REDEEMED_AT, Kind.TIMESTAMP, required=False, nullable=True, description="null: not redeemed"),
        ),
    ),
    TICKETS: TableSpec(
        TICKETS,
        required=False,
        time_column=Tickets.CREATED_AT,
        description="After-sales tickets.",
        columns=(
            ColumnSpec(Tickets.USER_ID, Kind.ID, references=_USER_REF),
            ColumnSpec(Tickets.CREATED_AT, Kind.TIMESTAMP),
            ColumnSpec(Tickets.KIND, Kind.TEXT, allowed=TICKET_KINDS),
            ColumnSpec(Tickets.RESOLVED_AT, Kind.TIMESTAMP, required=False, nullable=True, description="null: unresolved"),
        ),
    ),
    REVIEWS: TableSpec(
        REVIEWS,
        required=False,
        time_column=Reviews.CREATED_AT,
        description="Product reviews.",
        columns=(
            ColumnSpec(Reviews.USER_ID, Kind.ID, references=_USER_REF),
            ColumnSpec(Reviews.CREATED_AT, Kind.TIMESTAMP),
            ColumnSpec(Reviews.RATING, Kind.INTEGER, min_value=RATING_MIN, max_value=RATING_MAX),
        ),
    ),
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
REQUIRED_TABLES: tuple[str, ...] = tuple(t.name for t in TABLES.values() if t.required)
FILE_FORMATS: tuple[str, ...] = ("parquet", "csv")
