"""The API's requests and responses: typed pydantic models, shown in the service's OpenAPI docs.

Field names are the project's own column and feature names, generated from
their single definitions (the data contract, the feature catalogue, the scores
table and the list modules), so the API cannot drift from them. Policies and
filters are the library's own models (:class:`serving.crm.lists.ListFilter`,
:class:`serving.crm.targeting.CouponPolicy`, :class:`serving.crm.lists.ActivationPolicy`).

Every request model forbids unknown fields, so a misspelt field is a 400 that
names it rather than a silently ignored value. Size limits per request are
part of the models (``MAX_*`` below, shown in the docs as ``maxItems`` and
``maxLength``): every text field has a length limit, every number must be
finite (``Infinity``/``NaN`` are 400s) and every integer lies within 64 bits
(counts within 0 .. 2^53); the byte limit of a whole body is checked before
parsing (see :mod:`serving.api.auth`). A 400 names the field and the rule, never the value.

``as_of`` is always explicit where features are computed or given; the lists
take the latest published date unless one is asked for.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, create_model, model_validator

from features import contract as C
from features.asof import parse_as_of
from features.catalog import FEATURES, USER_ID, FeatureKind
from features.errors import ConfigError
from features.labels import ACTIVATION, CHURN
from serving.batch.scoring import BAND, PERCENTILE, PROBABILITY, REASONS, SEGMENTS, TOP_CATEGORY, VALUE_AT_RISK
from serving.crm.lists import CHANGE, PREVIOUS_BAND, PREVIOUS_PROBABILITY, RANK, ActivationPolicy, ListFilter
from serving.api.suggest import EXTRA, with_suggestions
from serving.crm.targeting import ACTION, EXPECTED_VALUE, CouponPolicy

MAX_USER_IDS = 1000  # user ids per by-id request
MAX_FEATURE_ROWS = 1000  # feature rows per batch request
MAX_RAW_USERS = 100  # users per raw-rows request
MAX_RAW_ROWS = 20_000  # rows per table per raw-rows request
MAX_PAGE = 1000  # list rows per page
DEFAULT_PAGE = 100
MAX_OFFSET = 10**9  # rows a page may skip
MAX_ID_CHARS = 128  # a user, order or session id given as text
MAX_TEXT_CHARS = 256  # any other text field (categories, statuses, segment values)
MAX_AS_OF_CHARS = 40  # an ISO timestamp with a time zone is at most 32
MAX_SEGMENT_VALUES = 50  # values per list filter
INT64 = 2**63 - 1
MAX_COUNT = 2**53  # counts stay exact as floats, which the model computes in

OK, NOT_FOUND = "ok", "not_found"
Task = Literal[CHURN, ACTIVATION]  # type: ignore[valid-type]

Int64 = Annotated[int, Field(ge=-INT64, le=INT64)]
IdText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
UserId = Annotated[Int64 | IdText, Field(description="user id, integer or string")]
BoundedText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]


def _text(value: object) -> object:
    """Categories may arrive as numbers (city tier 1): compare them as text, as the batch job does."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= INT64 else value


Text = Annotated[BoundedText, BeforeValidator(_text)]


class Strict(BaseModel):
    """Requests: unknown fields are errors naming the closest valid one; numbers must be finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="wrap")
    @classmethod
    def _suggest_unknown_fields(cls, data: object, handler):
        try:
            return handler(data)
        except ValidationError as e:
            if not any(d["type"] == EXTRA for d in e.errors()):
                raise
            raise with_suggestions(cls, e) from None


def _as_of(value: object) -> str:
    # The message never quotes the value: error bodies and logs do not echo requests.
    if not isinstance(value, str) or len(value) > MAX_AS_OF_CHARS:
        raise ValueError(f"expected a date (YYYY-MM-DD) or an ISO timestamp of at most {MAX_AS_OF_CHARS} characters")
    try:
        parse_as_of(value)
    except ConfigError:
        raise ValueError("not a date (YYYY-MM-DD) or an ISO timestamp") from None
    return value


AsOfField = Annotated[
    str,
    BeforeValidator(_as_of),
    Field(description="date (end of that day, UTC) or ISO timestamp; rows after it are not read", examples=["2025-08-31"]),
]


# Scoring requests ------------------------------------------------------------------------------
class ScoreByIdRequest(Strict):
    """Users to score from the latest nightly feature snapshot."""

    model: Task = Field(CHURN, description="which model: churn (default) or activation")
    user_ids: list[UserId] = Field(min_length=1, max_length=MAX_USER_IDS)


_FEATURE_TYPES = {FeatureKind.COUNT: Annotated[int, Field(ge=0, le=MAX_COUNT)], FeatureKind.NUMBER: float, FeatureKind.CATEGORY: Text}

FeatureRow = create_model(
    "FeatureRow",
    __base__=Strict,
    __doc__="One user's features (the columns of `churn features`); null or absent means missing.",
    **{USER_ID: (UserId, ...)},
    **{f.name: (_FEATURE_TYPES[f.kind] | None, Field(None, description=f.description)) for f in FEATURES},
)


class ScoreFeaturesRequest(Strict):
    """Feature rows computed elsewhere (the nightly features at ``as_of``), to score as they are."""

    model: Task = Field(CHURN, description="which model: churn (default) or activation")
    as_of: AsOfField
    rows: list[FeatureRow] = Field(min_length=1, max_length=MAX_FEATURE_ROWS)  # type: ignore[valid-type]


def _column_type(spec: C.ColumnSpec):
    if spec.allowed:
        return Literal[spec.allowed]  # type: ignore[valid-type]
    return {
        C.Kind.ID: Int64 | IdText,
        C.Kind.TIMESTAMP: dt.datetime,
        C.Kind.NUMBER: float,
        C.Kind.INTEGER: Int64,
        C.Kind.TEXT: BoundedText,
        C.Kind.CATEGORY: Text,
    }[spec.kind]


def _row_model(table: C.TableSpec) -> type[BaseModel]:
    """A row of a contract table; the contract's required, nullable, range and allowed-value rules apply."""
    fields = {}
    for spec in table.columns:
        bounds = {k: v for k, v in (("ge", spec.min_value), ("le", spec.max_value)) if v is not None}
        if spec.required and not spec.nullable:
            fields[spec.name] = (_column_type(spec), Field(..., description=spec.description, **bounds))
        else:
            fields[spec.name] = (_column_type(spec) | None, Field(None, description=spec.description, **bounds))
    name = "".join(part.title() for part in table.name.split("_")) + "Row"
    return create_model(name, __base__=Strict, __doc__=table.description, **fields)


ROW_MODELS: dict[str, type[BaseModel]] = {name: _row_model(spec) for name, spec in C.TABLES.items()}


class _RawBase(Strict):
    model: Task = Field(CHURN, description="which model: churn (default) or activation")
    as_of: AsOfField


RawScoreRequest = create_model(
    "RawScoreRequest",
    __base__=_RawBase,
    __doc__=(
        "Users' raw recent rows in the data contract's tables; features are computed at `as_of` with the "
        "nightly job's definitions. `users` holds the users to score; absent tables count as empty."
    ),
    **{
        name: (
            list[ROW_MODELS[name]],  # type: ignore[valid-type]
            Field(..., min_length=1, max_length=MAX_RAW_USERS)
            if name == C.USERS
            else Field(default_factory=list, max_length=MAX_RAW_ROWS),
        )
        for name in C.TABLES
    },
)


# Scoring responses -----------------------------------------------------------------------------
_SCORE_FIELDS = {
    PROBABILITY: (float | None, Field(None, description="probability of the label (churn, or first order) in the horizon")),
    BAND: (str | None, Field(None, description="risk band: low, medium, high")),
    PERCENTILE: (float | None, Field(None, description="percentile among the nightly population (by-id scoring only)")),
    **{name: (str | None, Field(None, description="a reason, in words")) for name in REASONS},
    VALUE_AT_RISK: (float | None, Field(None, description="spend of the last 90 days")),
    **{name: (str | None, None) for name in SEGMENTS},
    TOP_CATEGORY: (str | None, None),
}

ScoreItem = create_model(
    "ScoreItem",
    __doc__="One user's score, or why there is none (`status` not_found: no features for this id).",
    **{USER_ID: (UserId, ...)},
    status=(Literal["ok", "not_found"], ...),
    detail=(str | None, None),
    **_SCORE_FIELDS,
)


class ScoreResponse(BaseModel):
    """Scores of the users asked for, in the order asked; the model version is the one the service started with."""

    model_name: str
    model_version: str
    as_of: str = Field(description="the date the features describe")
    results: list[ScoreItem]  # type: ignore[valid-type]


# Lists -----------------------------------------------------------------------------------------
class _ListPage(Strict):
    as_of: dt.date | None = Field(None, description="scores of this date; default: the latest published")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="rows to skip")
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="rows to return")


class AtRiskRequest(_ListPage):
    """The at-risk list, filtered as `churn list at-risk` filters it."""

    filters: ListFilter = Field(default_factory=ListFilter)


class CouponListRequest(_ListPage):
    """The retention coupon campaign under a budget (see serving.crm.targeting)."""

    policy: CouponPolicy


class ActivationListRequest(_ListPage):
    """The new-user activation campaign (from the activation model's published scores)."""

    policy: ActivationPolicy


_SEGMENT_FIELDS = {name: (str | None, None) for name in (*SEGMENTS, TOP_CATEGORY)}
_REASON_FIELDS = {name: (str | None, None) for name in REASONS}
_CAMPAIGN_FIELDS = {
    C.Coupons.COUPON_ID: (str, ...),
    USER_ID: (UserId, ...),
    C.Coupons.ISSUED_AT: (dt.datetime, ...),
    C.Coupons.VALUE: (float, ...),
    C.Coupons.CAMPAIGN_ID: (str, ...),
    C.Coupons.GROUP: (str, ...),
}

AtRiskRow = create_model(
    "AtRiskRow",
    # rank, probability and percentile are empty only for a user who left the high band and is not scored now (new_since)
    **{RANK: (int | None, ...), USER_ID: (UserId, ...), PROBABILITY: (float | None, ...), BAND: (str, ...), PERCENTILE: (float | None, ...)},
    **_REASON_FIELDS,
    **{VALUE_AT_RISK: (float | None, None)},
    **_SEGMENT_FIELDS,
    **{name: (str | None, None) for name in (CHANGE, PREVIOUS_BAND)},
    **{PREVIOUS_PROBABILITY: (float | None, None)},
)
CouponRow = create_model(
    "CouponRow",
    **_CAMPAIGN_FIELDS,
    **{ACTION: (str, ...), EXPECTED_VALUE: (float, ...), PROBABILITY: (float, ...), VALUE_AT_RISK: (float | None, None)},
    **{BAND: (str | None, None)},
    **_REASON_FIELDS,
    **_SEGMENT_FIELDS,
)
ActivationRow = create_model(
    "ActivationRow",
    **_CAMPAIGN_FIELDS,
    **{RANK: (int, ...), PROBABILITY: (float, ...)},
    **_SEGMENT_FIELDS,
)


class _ListResponse(BaseModel):
    model_name: str = Field(description="the model whose published scores the list is built from")
    model_version: str = Field(description="the version that published those scores")
    as_of: dt.date
    generated_at: dt.datetime
    total: int = Field(description="rows in the whole list; page through with offset and limit")
    offset: int
    limit: int


class AtRiskResponse(_ListResponse):
    rows: list[AtRiskRow]  # type: ignore[valid-type]


class CouponListResponse(_ListResponse):
    rows: list[CouponRow]  # type: ignore[valid-type]


class ActivationListResponse(_ListResponse):
    rows: list[ActivationRow]  # type: ignore[valid-type]


class ModelInfo(BaseModel):
    """What the service serves: fixed when it started."""

    bundle: str = Field(description="the BentoML model (bundle) tag")
    models: dict[str, str] = Field(description="task -> 'registry name vversion'")
    as_of: str | None = Field(description="date of the feature snapshot by-id scoring uses (None: none yet)")

