"""What a data scientist looks at before promoting a retrained model, as tables, figures and HTML.

Used by ``notebooks/retrain.ipynb`` so that the notebook holds no logic:

- the label rate per snapshot date (:func:`label_rate_over_time`) and the
  features of churners vs the others (:func:`feature_summary`,
  :func:`distributions_by_label`);
- two registered versions side by side, read back from their MLflow training
  runs: metrics (:func:`compare_versions`), settings (:func:`compare_settings`)
  and plots (:func:`version_plots`, :func:`plots_side_by_side`);
- keeping the champion where it was until the data scientist decides
  (:func:`champion_state`, :func:`restore_champion`), because
  :func:`training.pipeline.train` promotes a better challenger by itself.

Figures are ``matplotlib.figure.Figure`` objects built without pyplot (no
global state; a notebook shows them with ``display``).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.asof import AsOf, as_of_date
from features.catalog import AS_OF, BY_NAME, FEATURE_NAMES, LABEL, FeatureKind
from features.errors import ConfigError
from features.labels import (
    ACTIVATION_HORIZON_DAYS,
    CHURN,
    DEFAULT_HORIZON_DAYS,
    TASKS,
    ChurnDefinition,
    activation_labels,
    churn_labels,
    restrict,
)
from training.registry import CHAMPION, HISTORY_TAG, PREVIOUS_CHAMPION_TAG, RegistryError, alias_version

# Columns of label_rate_over_time.
USERS = "users"
POSITIVES = "positives"
RATE = "label_rate"

# Where training.pipeline.train_task logs a run's evaluation (metric prefix and artifact folder).
VALIDATION_PREFIX = "valid."
PLOTS_DIR = "plots"
# Metrics compared, in the report's order; the ratio to the simulator's ground truth is logged on simulated data only.
METRICS = (
    "roc_auc", "pr_auc", "log_loss", "brier", "ece",
    "lift_top5", "capture_top5", "lift_top10", "capture_top10", "lift_top20", "capture_top20",
)  # fmt: skip
TRUTH_RATIO = "auc_ratio_to_truth"
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece"})
# Run parameters compared by compare_settings, in this order.
SETTINGS = (
    "validation_date", "train_dates", "train_rows", "validation_rows", "features", "best_iteration",
    "config.as_of", "config.snapshots", "config.every_days", "config.horizon_days", "config.learning_rate",
    "config.num_leaves", "config.max_rounds", "config.seed", "data_fingerprint", "code_version",
)  # fmt: skip
DIFFERENCE = "difference"
BETTER = "better"


def label_rate_over_time(
    tables: Mapping,
    dates: Sequence[AsOf],
    *,
    today: AsOf,
    task: str = CHURN,
    horizon_days: int | None = None,
    definition: ChurnDefinition | None = None,
) -> pd.DataFrame:
    """Population size and label rate at each snapshot date, with the definitions of :mod:`features.labels`.

    tables: contract tables (Ibis); everything after ``today`` is cut away first.
    dates: snapshot dates; each label window ``(date, date + horizon]`` must end by ``today``.
    Returns one row per date, oldest first: ``as_of`` (date), ``users``, ``positives``, ``label_rate``.
    """
    if task not in TASKS:
        raise ConfigError(f"task {task!r} is not one of {', '.join(TASKS)}")
    definition = definition or ChurnDefinition()
    if horizon_days is not None and task == CHURN:
        definition = definition.model_copy(update={"horizon_days": horizon_days})
    horizon = definition.horizon_days if task == CHURN else (horizon_days or ACTIVATION_HORIZON_DAYS)
    last = as_of_date(today)
    days = sorted(as_of_date(d) for d in dates)
    late = [d for d in days if d + dt.timedelta(days=horizon) > last]
    if late:
        raise ConfigError(
            f"snapshot date {late[0]}: its {horizon}-day label window ends after today ({last}); "
            f"the latest possible date is {last - dt.timedelta(days=horizon)}"
        )
    safe = restrict(tables, today)
    rows = []
    for day in days:
        if task == CHURN:
            labels = churn_labels(safe, day, definition)
        else:
            labels = activation_labels(safe, day, horizon)
        counts = labels.aggregate(n=labels.count(), k=labels[LABEL].sum()).to_pandas().iloc[0]
        n, k = int(counts["n"]), int(0 if pd.isna(counts["k"]) else counts["k"])
        rows.append({AS_OF: day, USERS: n, POSITIVES: k, RATE: k / n if n else float("nan")})
    return pd.DataFrame(rows, columns=[AS_OF, USERS, POSITIVES, RATE])


def label_rate_figure(rates: pd.DataFrame, title: str = "Label rate per snapshot date") -> Figure:
    """The label rate (left axis) and the population size (bars, right axis) of :func:`label_rate_over_time`."""
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    x = pd.to_datetime(rates[AS_OF])
    size = ax.twinx()
    size.bar(x, rates[USERS], width=8, color="#ddd", label="users")
    size.set_ylabel("users in the population")
    ax.set_zorder(size.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(x, rates[RATE], marker="o", color="#c44e52")
    for when, rate in zip(x, rates[RATE], strict=True):
        ax.annotate(f"{rate:.1%}", (when, rate), fontsize=8, xytext=(0, 6), textcoords="offset points", ha="center")
    ax.set(ylabel="label rate", title=title, ylim=(0, min(1.0, float(np.nanmax(rates[RATE])) * 1.25 + 0.02)))
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def feature_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per catalogue feature present in ``frame`` (a snapshot with ``label``), in catalogue order.

    Columns: ``family``, ``kind``, ``description`` (from :mod:`features.catalog`),
    ``missing`` (share of rows), ``mean, label 0``/``1``, ``median, label 0``/``1``
    and ``roc_auc alone`` (the feature alone as a score, max(AUC, 1 - AUC):
    0.5 says nothing, 1 separates perfectly). Numeric statistics are NaN for categories.
    """
    if LABEL not in frame.columns:
        raise ConfigError(f"frame has no column {LABEL!r}; pass a snapshot from features.labels.training_set")
    from sklearn.metrics import roc_auc_score

    y = frame[LABEL].to_numpy(dtype=int)
    rows = []
    for name in (n for n in FEATURE_NAMES if n in frame.columns):
        feature = BY_NAME[name]
        row = {
            "feature": name,
            "family": feature.family,
            "kind": feature.kind.value,
            "description": feature.description,
            "missing": float(frame[name].isna().mean()),
        }
        if feature.kind is not FeatureKind.CATEGORY:
            x = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
            for k in (0, 1):
                part = x[(y == k) & ~np.isnan(x)]
                row[f"mean, label {k}"] = float(part.mean()) if len(part) else float("nan")
                row[f"median, label {k}"] = float(np.median(part)) if len(part) else float("nan")
            known = ~np.isnan(x)
            if len(np.unique(y[known])) == 2:
                auc = float(roc_auc_score(y[known], x[known]))
                row["roc_auc alone"] = max(auc, 1.0 - auc)
        rows.append(row)
    columns = ["feature", "family", "kind", "description", "missing", "mean, label 0", "mean, label 1",
               "median, label 0", "median, label 1", "roc_auc alone"]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=columns).set_index("feature")


def distributions_by_label(frame: pd.DataFrame, features: Sequence[str], *, bins: int = 30, columns: int = 3) -> Figure:
    """Histograms (share of each label's rows) of numeric ``features`` for label 0 and label 1.

    Values beyond the 1st and 99th percentiles are clipped so that a long tail does not hide the shape.
    """
    unknown = [f for f in features if f not in frame.columns]
    if unknown:
        raise ConfigError(f"frame has no feature {', '.join(unknown)}")
    y = frame[LABEL].to_numpy(dtype=int)
    rows = max(1, -(-len(features) // columns))
    fig = Figure(figsize=(4.2 * columns, 3.0 * rows))
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax, name in zip(axes, features, strict=False):
        x = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        known = ~np.isnan(x)
        if not known.any():
            ax.set_title(f"{name}: all missing")
            continue
        low, high = np.percentile(x[known], [1, 99])
        edges = np.linspace(low, high if high > low else low + 1, bins + 1)
        for k, colour in ((0, "#4c72b0"), (1, "#c44e52")):
            part = np.clip(x[known & (y == k)], low, high)
            if len(part):
                ax.hist(part, bins=edges, weights=np.full(len(part), 1 / len(part)), alpha=0.55, color=colour, label=f"label {k}")
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("share of rows")
        ax.legend(fontsize=8)
    for ax in axes[len(features):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _client():
    from mlflow import MlflowClient

    return MlflowClient()


def _run_of(client, name: str, version: str):
    from mlflow.exceptions import MlflowException

    try:
        run_id = client.get_model_version(name, str(version)).run_id
    except MlflowException:
        raise RegistryError(f"model {name} has no version {version}") from None
    if not run_id:
        raise RegistryError(f"model {name} version {version} was not logged from a training run")
    return client.get_run(run_id)


def _champion_or(client, name: str, version: str | None) -> str:
    if version is not None:
        return str(version)
    current = alias_version(client, name, CHAMPION)
    if current is None:
        raise RegistryError(f"model {name} has no champion; pass the version to compare with")
    return current


def compare_versions(name: str, challenger_version: str, champion_version: str | None = None) -> pd.DataFrame:
    """Out-of-time metrics of two registered versions side by side, as their training runs logged them.

    champion_version: default, the version holding the ``champion`` alias now.
    Returns one row per metric (:data:`METRICS`, then ``auc_ratio_to_truth`` when
    both runs have it) and the columns ``challenger vN``, ``champion vM``,
    ``difference`` (challenger - champion) and ``better`` (``challenger``,
    ``champion`` or ``same``; lower is better for log loss, Brier and ECE).
    Each run measured its own validation snapshot: the figures are comparable when
    both were validated on the same date and data (see :func:`compare_settings`).
    """
    client = _client()
    champion_version = _champion_or(client, name, champion_version)
    runs = {"challenger": _run_of(client, name, challenger_version), "champion": _run_of(client, name, champion_version)}
    values = {
        role: {m: run.data.metrics.get(VALIDATION_PREFIX + m, np.nan) for m in METRICS} for role, run in runs.items()
    }
    if all(TRUTH_RATIO in run.data.metrics for run in runs.values()):
        for role, run in runs.items():
            values[role][TRUTH_RATIO] = run.data.metrics[TRUTH_RATIO]
    new, old = f"challenger v{challenger_version}", f"champion v{champion_version}"
    table = pd.DataFrame({new: pd.Series(values["challenger"]), old: pd.Series(values["champion"])}, dtype=float)
    table.index.name = "metric"
    table[DIFFERENCE] = table[new] - table[old]
    signed = table[DIFFERENCE] * np.where(table.index.isin(list(LOWER_IS_BETTER)), -1.0, 1.0)
    table[BETTER] = np.select([signed > 0, signed < 0, signed == 0], ["challenger", "champion", "same"], default="")
    return table


def compare_settings(name: str, challenger_version: str, champion_version: str | None = None) -> pd.DataFrame:
    """What the two versions' training runs were given and saw (:data:`SETTINGS`), and whether it is the same.

    Columns ``challenger vN``, ``champion vM`` (text; empty when a run lacks the
    parameter) and ``same``; the last row is the run's promotion reason.
    """
    client = _client()
    champion_version = _champion_or(client, name, champion_version)
    new, old = f"challenger v{challenger_version}", f"champion v{champion_version}"
    runs = {new: _run_of(client, name, challenger_version), old: _run_of(client, name, champion_version)}
    table = pd.DataFrame(
        {column: [*(run.data.params.get(p, "") for p in SETTINGS), run.data.tags.get("promotion", "")] for column, run in runs.items()},
        index=pd.Index([*SETTINGS, "promotion"], name="setting"),
    )
    table["same"] = table[new] == table[old]
    return table


def version_plots(name: str, version: str, dst_dir: str | Path) -> dict[str, Path]:
    """Download the PNG plots of version ``version``'s training run into ``dst_dir/v<version>``.

    Returns ``{plot name: path}`` in name order (``calibration``, ``contributions``, ``gain_lift``, ``importance``).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    run = _run_of(_client(), name, version)
    target = Path(dst_dir) / f"v{version}"
    target.mkdir(parents=True, exist_ok=True)
    try:
        local = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=PLOTS_DIR, dst_path=str(target)))
    except (MlflowException, OSError):
        raise RegistryError(f"model {name} version {version}: its run {run.info.run_id} has no {PLOTS_DIR}/ artifacts") from None
    plots = {path.stem: path for path in sorted(local.glob("*.png"))}
    if not plots:
        raise RegistryError(f"model {name} version {version}: its run {run.info.run_id} has no PNG plots")
    return plots


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" style="max-width:100%" src="data:image/png;base64,{data}">'


def plots_side_by_side(left: Mapping[str, Path], right: Mapping[str, Path], titles: tuple[str, str]) -> str:
    """An HTML table: one row per plot name (``left``'s order, then ``right``'s others), the two images side by side.

    A plot one side lacks shows as "not logged". Images are embedded, so the HTML stands alone.
    """
    names = [*left, *(n for n in right if n not in left)]
    head = "".join(f'<th style="text-align:center">{html.escape(t)}</th>' for t in titles)
    rows = []
    for plot in names:
        shown = (_image(side[plot], f"{title}: {plot}") if plot in side else "<i>not logged</i>" for side, title in zip((left, right), titles))
        cells = "".join(f'<td style="vertical-align:top;width:50%">{image}</td>' for image in shown)
        rows.append(f'<tr><th colspan="2" style="text-align:left">{html.escape(plot)}</th></tr><tr>{cells}</tr>')
    return f'<table style="width:100%;table-layout:fixed"><tr>{head}</tr>{"".join(rows)}</table>'


@dataclass(frozen=True)
class ChampionState:
    """Who held the ``champion`` alias of a model, and which version a rollback would return to."""

    name: str
    version: str | None
    previous: str | None
    history: str | None = None  # the earlier champions, as the registry's history tag holds them


def champion_state(name: str) -> ChampionState:
    """The champion alias and the previous-champion tag of model ``name`` now (both None for an unknown model)."""
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        tags = client.get_registered_model(name).tags
    except MlflowException:
        return ChampionState(name, None, None)
    return ChampionState(name, alias_version(client, name, CHAMPION), tags.get(PREVIOUS_CHAMPION_TAG), tags.get(HISTORY_TAG))


def restore_champion(state: ChampionState) -> str:
    """Put the champion alias and the previous-champion tag back as ``state`` recorded them; says what happened.

    ``train`` promotes a better challenger by itself; this undoes that so that the
    promotion stays an explicit decision (``training.registry.promote``), and a
    later rollback still returns to the version it returned to before.
    """
    client = _client()
    name = state.name
    now = alias_version(client, name, CHAMPION)
    if now == state.version:
        return f"{name}: champion unchanged (version {now or 'none'})"
    if state.version is None:
        client.delete_registered_model_alias(name, CHAMPION)
    else:
        client.set_registered_model_alias(name, CHAMPION, state.version)
    if state.previous is None:
        if PREVIOUS_CHAMPION_TAG in client.get_registered_model(name).tags:
            client.delete_registered_model_tag(name, PREVIOUS_CHAMPION_TAG)
    else:
        client.set_registered_model_tag(name, PREVIOUS_CHAMPION_TAG, state.previous)
    if state.history is None:
        if HISTORY_TAG in client.get_registered_model(name).tags:
            client.delete_registered_model_tag(name, HISTORY_TAG)
    else:
        client.set_registered_model_tag(name, HISTORY_TAG, state.history)
    return f"{name}: champion put back to version {state.version or 'none'} (training had moved it to version {now})"
