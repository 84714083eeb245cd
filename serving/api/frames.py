"""Request rows as frames: what a request carries, in the types the batch code computes with.

Ids are compared as text (:func:`user_key`), timestamps as naive UTC, and
missing values get the meaning the data contract gives them, so that a row
sent to the API is computed exactly as the nightly job would compute it.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from features import contract as C
from features.catalog import BY_NAME, USER_ID, FeatureKind
from features.dataset import FLOAT64, INT64, NULL_MEANS, STRING, TIMESTAMP
from features.errors import ConfigError
from serving.models import LoadedModel

_ONLINE_TYPES = {
    C.Kind.ID: STRING,  # ids are compared as text: feature values do not depend on the id type
    C.Kind.TIMESTAMP: TIMESTAMP,
    C.Kind.NUMBER: FLOAT64,
    C.Kind.INTEGER: INT64,
    C.Kind.TEXT: STRING,
    C.Kind.CATEGORY: STRING,
}


def online_schemas() -> dict[str, ibis.Schema]:
    """Every contract table with every contract column, in the normalised types of :mod:`features.dataset`."""
    return {name: ibis.schema({c.name: _ONLINE_TYPES[c.kind] for c in spec.columns}) for name, spec in C.TABLES.items()}


def user_key(user_id: object) -> str:
    """A user id as the service compares it: as text, so 42 and "42" are the same user, as in the score store."""
    return str(user_id)


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def raw_frames(request) -> dict[str, pd.DataFrame]:
    """The request's contract tables as frames of the normalised types (ids as text, naive UTC timestamps)."""
    frames = {}
    for name, spec in C.TABLES.items():
        rows = getattr(request, name)
        data: dict[str, object] = {}
        for col in spec.columns:
            values = [getattr(row, col.name) for row in rows]
            if (name, col.name) in NULL_MEANS:
                values = [NULL_MEANS[(name, col.name)] if v is None else v for v in values]
            if col.kind is C.Kind.ID:
                data[col.name] = pd.Series([None if v is None else user_key(v) for v in values], dtype=object)
            elif col.kind is C.Kind.TIMESTAMP:
                data[col.name] = pd.Series(pd.to_datetime([_naive_utc(v) for v in values]), dtype="datetime64[us]")
            elif col.kind is C.Kind.NUMBER:
                data[col.name] = pd.Series(values, dtype="float64")
            elif col.kind is C.Kind.INTEGER:
                data[col.name] = pd.Series(values, dtype="Int64")
            else:
                data[col.name] = pd.Series(values, dtype=object)
        frames[name] = pd.DataFrame(data)
    return frames


def feature_frame(rows: list, model: LoadedModel) -> pd.DataFrame:
    """Feature rows as the frame ``churn features`` writes; every row must give every feature the model uses."""
    needed = model.model.features_
    records = []
    for i, row in enumerate(rows):
        given = row.model_fields_set
        missing = [name for name in needed if name not in given]
        if missing:
            raise ConfigError(f"rows.{i}: lacks feature {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} (send null for a missing value)")
        records.append(row.model_dump(include={USER_ID, *needed, *given}))
    frame = pd.DataFrame.from_records(records)
    frame[USER_ID] = frame[USER_ID].map(user_key)
    for name in frame.columns:
        if name == USER_ID:
            continue
        if BY_NAME[name].kind is FeatureKind.CATEGORY:
            values = frame[name].astype(object).where(frame[name].notna(), None)
            frame[name] = pd.Categorical(values, categories=sorted({v for v in values if v is not None}))
        else:
            frame[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    return frame


def response_records(frame: pd.DataFrame, columns) -> list[dict]:
    """Rows of ``frame`` as plain Python values (NaN -> None), for the response models."""
    part = frame[list(columns)].astype(object)
    return part.where(frame[list(columns)].notna(), None).to_dict("records")


def unique_ids(ids: list, what: str) -> None:
    """ConfigError naming ``what`` when a request gives a user id twice."""
    keys = [user_key(u) for u in ids]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{what}: a user_id is given more than once")
