"""What the nightly dashboard reads: the score store, the lists written for the date, the registry, the dataset.

The I/O edge of :mod:`serving.reports`; everything it returns is plain data for
:mod:`serving.reports.page`. ``as_of`` is the scoring date the page is about; the
previous run is the latest published date before it. Missing optional inputs
(no previous run, no list file, no registry, no dataset) become notes on the page,
never errors; a date without published churn scores is an error.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.errors import ChurnError, ConfigError
from serving.batch.store import ScoreStore

CHURN, ACTIVATION = "churn", "activation"
LIST_KINDS = ("at-risk", "coupons", "activation")
RETENTION_MONTHS = 6
MAX_READOUTS = 3


@dataclass(frozen=True)
class RunInfo:
    """One published run of a model: what the store's runs table says about it."""

    model_name: str
    as_of: dt.date
    model_version: str
    rows: int
    scored_at: dt.datetime
    checks: dict


@dataclass(frozen=True)
class ModelQuality:
    """The model's out-of-time ROC-AUC and its grade (:func:`training.gate.quality_grade`)."""

    roc_auc: float
    grade: float
    word: str
    validation_date: str | None


@dataclass(frozen=True)
class NightlyInputs:
    as_of: dt.date
    scores: pd.DataFrame
    run: RunInfo
    previous: pd.DataFrame | None
    previous_run: RunInfo | None
    activation_run: RunInfo | None
    lists: dict[str, pd.DataFrame]  # kind -> the list file written for as_of
    quality: ModelQuality | None
    readouts: list  # serving.crm.campaign.CampaignReadout, most recent campaign first
    notes: list[str] = field(default_factory=list)
    retention: pd.DataFrame | None = None  # serving.crm.retention.retention by member tier; None: no dataset


def _runs(store: ScoreStore, model: str) -> list[RunInfo]:
    frame = store.runs(model)
    out = []
    for row in frame.itertuples(index=False):
        checks = json.loads(row.checks) if isinstance(row.checks, str) and row.checks else {}
        out.append(RunInfo(row.model_name, pd.Timestamp(row.as_of).date(), str(row.model_version), int(row.rows),
                           pd.Timestamp(row.scored_at).to_pydatetime(), checks))  # fmt: skip
    return out


def model_quality(name: str, version: str) -> ModelQuality:
    """The registered version's validation ROC-AUC (logged by training as ``valid.roc_auc``) and its grade.

    Uses the MLflow tracking URI already set; raises ChurnError when the registry does not have it.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from training.gate import quality_grade

    client = MlflowClient()
    try:
        run = client.get_run(client.get_model_version(name, version).run_id)
    except MlflowException as e:
        raise ChurnError(f"model {name} v{version} not in the registry ({str(e).splitlines()[0][:120]})") from None
    auc = run.data.metrics.get("valid.roc_auc")
    if auc is None:
        raise ChurnError(f"model {name} v{version}: its training run logged no valid.roc_auc")
    grade, word = quality_grade(auc)
    return ModelQuality(float(auc), grade, word, run.data.params.get("validation_date"))


def dataset_tables(data: Path) -> dict:
    """The dataset's tables (validated against the contract once, for every panel that reads it)."""
    from features.validation import load_dataset

    dataset = load_dataset(data)
    return {name: dataset.table(name) for name in dataset.tables}


def tier_retention(tables: dict, as_of: dt.date, notes: list[str]) -> pd.DataFrame | None:
    """Retention by member tier at ``as_of`` (:func:`serving.crm.retention.retention`), or None with a note."""
    from features import contract as C
    from serving.crm.retention import retention

    try:
        return retention(tables, as_of, by=C.Users.MEMBER_TIER, months=RETENTION_MONTHS)
    except ConfigError as e:
        notes.append(f"retention by member tier: {e.message}")
        return None


def campaign_readouts(tables: dict, data: Path, as_of: dt.date, notes: list[str], limit: int = MAX_READOUTS) -> list:
    """Readouts at ``as_of`` of the ``limit`` most recent campaigns in the dataset (``tables``, read from ``data``)
    whose horizon is complete."""
    import ibis

    from features import contract as C
    from serving.crm.campaign import DEFAULT_HORIZON_DAYS, campaign_readout

    if C.COUPONS not in tables:
        notes.append(f"the dataset {data} has no coupons table: no campaign readouts")
        return []
    coupons = tables[C.COUPONS]
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1) - pd.Timedelta(days=DEFAULT_HORIZON_DAYS)
    done = coupons.filter(coupons[C.Coupons.ISSUED_AT] < ibis.literal(end.to_pydatetime()))
    ids = (
        done.group_by(_id=done[C.Coupons.CAMPAIGN_ID].cast("string"))
        .aggregate(_last=done[C.Coupons.ISSUED_AT].max())
        .order_by([ibis.desc("_last"), "_id"])
        .limit(limit)
        .to_pyarrow()
        .to_pylist()
    )
    readouts = []
    for row in ids:
        try:
            readouts.append(campaign_readout(tables, row["_id"], as_of=as_of.isoformat()))
        except ConfigError as e:
            notes.append(f"campaign {row['_id']}: {e.message}")
    if not ids:
        notes.append(f"no campaign in {data} has a complete {DEFAULT_HORIZON_DAYS}-day horizon at {as_of}")
    return readouts


def load_inputs(as_of: dt.date, store_url: str, lists_dir: Path, data: Path | None, with_registry: bool) -> NightlyInputs:
    """Everything the page of ``as_of`` shows (see the module docstring).

    Raises ConfigError when the store has no churn scores for ``as_of`` (naming the published dates).
    """
    store = ScoreStore(store_url)
    runs = _runs(store, CHURN)
    run = next((r for r in runs if r.as_of == as_of), None)
    if run is None:
        latest = ", ".join(r.as_of.isoformat() for r in runs[:3]) or "none"
        raise ConfigError(f"--as-of {as_of}: no churn scores in {store_url}; latest published: {latest} (run churn score first)")
    notes: list[str] = []
    previous_run = next((r for r in runs if r.as_of < as_of), None)
    scores = store.read(CHURN, as_of)
    previous = store.read(CHURN, previous_run.as_of) if previous_run else None
    if previous_run is None:
        notes.append(f"no churn run published before {as_of}: no changes shown")
    activation_run = next((r for r in _runs(store, ACTIVATION) if r.as_of == as_of), None)
    lists = {}
    for kind in LIST_KINDS:
        path = lists_dir / f"{kind}-{as_of}.csv"
        if path.exists():
            lists[kind] = pd.read_csv(path, dtype={"user_id": str})
        else:
            notes.append(f"no {kind} list for {as_of} in {lists_dir} ({path.name})")
    quality = None
    if with_registry:
        try:
            quality = model_quality(run.model_name, run.model_version)
        except ChurnError as e:
            notes.append(f"model quality unknown: {e.message}")
    readouts, retention = [], None
    if data is None:
        notes.append("no dataset given (--data): no campaign readouts, no retention by member tier")
    else:
        tables = dataset_tables(data)
        readouts = campaign_readouts(tables, data, as_of, notes)
        retention = tier_retention(tables, as_of, notes)
    return NightlyInputs(as_of, scores, run, previous, previous_run, activation_run, lists, quality, readouts, notes, retention)
