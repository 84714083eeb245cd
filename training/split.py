"""The out-of-time split: the latest snapshot validates, the earlier ones train; each needs both labels."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.catalog import AS_OF, LABEL
from features.errors import ChurnError


class NotEnoughData(ChurnError):
    """Too few positive or negative examples to train or validate."""

    exit_code = 2
    http_status = 422


def check_counts(frame: pd.DataFrame, what: str, minimum: int) -> None:
    """NotEnoughData naming ``what`` unless ``frame`` has at least ``minimum`` rows of each label."""
    positives = int(frame[LABEL].sum())
    negatives = int(len(frame) - positives)
    if positives < minimum or negatives < minimum:
        raise NotEnoughData(
            f"{what}: {positives} positive and {negatives} negative examples; at least {minimum} of each are needed "
            "(use more users, more --snapshots, or a later --as-of)"
        )


def out_of_time_split(frame: pd.DataFrame, what: str, min_class_rows: int) -> tuple[pd.DataFrame, pd.DataFrame, dt.date]:
    """(train, validation, validation date) of a snapshot frame; no random split.

    frame: rows of several ``as_of`` dates (``features.labels.training_set``). The
    training side needs ``min_class_rows`` of each label, the validation side a
    tenth of that (at least 20). ``what`` names the task in the error.
    """
    validation_date = frame[AS_OF].max()
    train = frame[frame[AS_OF] < validation_date].reset_index(drop=True)
    valid = frame[frame[AS_OF] == validation_date].reset_index(drop=True)
    check_counts(train, f"{what} training snapshots", min_class_rows)
    check_counts(valid, f"{what} validation snapshot {validation_date}", max(20, min_class_rows // 10))
    return train, valid, validation_date


def pooled_split(
    frame: pd.DataFrame, what: str, min_class_rows: int, *, pool: int, horizon_days: int
) -> tuple[pd.DataFrame, pd.DataFrame, dt.date]:
    """(train, validation, latest validation date): the latest ``pool`` snapshot dates validate together.

    The training side keeps only snapshots whose label window closed by the first pooled date
    (as_of + horizon_days <= it), so nothing it learns from happened after a validation date.
    With ``pool`` = 1 this is :func:`out_of_time_split` for snapshots at least ``horizon_days`` apart.
    """
    dates = sorted(frame[AS_OF].unique())
    pooled = dates[-pool:]
    first = pooled[0]
    train = frame[frame[AS_OF].map(lambda d: d + dt.timedelta(days=horizon_days) <= first)].reset_index(drop=True)
    valid = frame[frame[AS_OF].isin(pooled)].reset_index(drop=True)
    check_counts(train, f"{what} training snapshots", min_class_rows)
    check_counts(valid, f"{what} validation snapshots {pooled[0]}..{pooled[-1]}", max(20, min_class_rows // 10))
    return train, valid, pooled[-1]
