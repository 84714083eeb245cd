"""``churn demo``: the main job on embedded defaults, one named step after another.

Simulate (or reuse) a dataset, validate it, train and register the models,
copy their reports, score with the champions (the demo date and a week before
it), and write the CRM team's lists and the nightly dashboard of the demo date.
Everything goes under ``data/`` of the working directory.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from serving.cli.console import err, out, summary_table
from serving.cli.data import print_realism, run_simulation
from serving.cli.lists import ListKind, list_summary
from serving.cli.tracking import use_mlflow
from serving.cli.train import download_report, simulated_truth
from serving.defaults import DEFAULT_STORE

REPORTS = Path("data/reports")
LISTS = Path("data/lists")
EXPORT = Path("data/scores.parquet")
TOP_ROWS = 10
PREVIOUS_NIGHT_DAYS = 7  # the demo also scores a week before its date, so the dashboard shows what changed


def demo(
    data: Annotated[Path, typer.Option("--data", help="Where the demo dataset lives.")] = Path("data/demo"),
    users: Annotated[int, typer.Option(help="Users in the demo dataset.")] = 20000,
    days: Annotated[int, typer.Option(help="Days in the demo dataset.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    budget: Annotated[float, typer.Option(help="The demo retention campaign's coupon budget.")] = 20000.0,
    coupon_value: Annotated[float, typer.Option(help="The demo campaign's coupon value.")] = 20.0,
) -> None:
    """The main job on embedded defaults: simulate (reused if it exists), validate, train, promote, score, write the lists."""
    dataset = prepare_dataset(data, users, days, seed)
    uri = use_mlflow()
    as_of, result = train_models(dataset, data)
    print_training(result)
    for r in result.results:
        out.print(f"{r.task} report: {download_report(r.run_id, REPORTS)}")
    scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    score_with_champions(data, as_of - dt.timedelta(days=PREVIOUS_NIGHT_DAYS), scored_at)  # the dashboard's "previous run"
    churn, activation = score_with_champions(data, as_of, scored_at)
    for line in write_lists(churn, activation, as_of, scored_at, budget, coupon_value):
        out.print(line, highlight=False)
    out.print(f"nightly dashboard: {write_dashboard(data, as_of).resolve()}  (make dashboard opens it)", highlight=False)
    out.print(f"MLflow: {uri}  (mlflow ui --backend-store-uri {uri})")


def same_config(manifest: Path, wanted) -> bool:
    """Whether the dataset described by ``manifest`` was simulated by this simulator with these settings."""
    from features.simulator.run import SIMULATOR_VERSION

    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("simulator_version") == SIMULATOR_VERSION and recorded.get("config") == json.loads(wanted.model_dump_json())


def prepare_dataset(data: Path, users: int, days: int, seed: int):
    """Step 1: the simulated dataset in ``data`` (reused when it was simulated with these settings), validated."""
    from features.simulator.config import DEFAULT_START, SimulationConfig
    from features.simulator.run import MANIFEST
    from features.validation import load_dataset

    wanted = SimulationConfig(users=users, days=days, start=DEFAULT_START, seed=seed)
    if (data / MANIFEST).exists() and same_config(data / MANIFEST, wanted):
        out.print(f"reusing the simulated dataset in {data} (delete it to simulate again)")
    else:
        config, result, seconds = run_simulation(users, days, DEFAULT_START, seed, data, overwrite=True)
        print_realism(config, result, with_model=False)  # the demo needs the data, not the model check
        out.print(f"simulated {users:,} users over {days} days in {seconds:.1f} s")
    dataset = load_dataset(data)
    out.print(summary_table(dataset.summary()))
    return dataset


def train_models(dataset, data: Path):
    """Step 2: train and register, as of the day whose validation snapshot is the last month-end with ground truth."""
    from features.simulator.ground_truth import training_day
    from training.pipeline import TrainConfig
    from training.pipeline import train as run_training

    config = TrainConfig(as_of=training_day(data))
    with err.status("training") as status:
        result = run_training(dataset, config, progress=status.update, reference=simulated_truth(data, config.horizon_days))
    return config.as_of, result


def print_training(result) -> None:
    """One line per model: its out-of-time figures, how close to the best possible, and the promotion decision."""
    for r in result.results:
        truth = f"; best possible {r.truth['truth_roc_auc']:.4f} (ratio {r.truth['auc_ratio_to_truth']:.3f})" if r.truth else ""
        out.print(
            f"{r.task} model v{r.version}: out-of-time ROC-AUC {r.metrics['roc_auc']:.4f}, ECE {r.metrics['ece']:.4f}{truth}; "
            f"{r.decision.reason}"
        )
    for line in result.skipped:
        out.print(line)


def score_with_champions(data: Path, as_of: dt.date, scored_at: dt.datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Step 3: the nightly job as of the training day; the published churn and activation scores."""
    from serving.batch.nightly import NightlyConfig, run_nightly
    from serving.batch.store import ScoreStore

    with err.status("scoring") as status:
        summary = run_nightly(NightlyConfig(data=data, as_of=str(as_of), export=EXPORT), scored_at=scored_at, progress=status.update)
    out.print(f"scored {summary.line()}", highlight=False)
    store = ScoreStore(DEFAULT_STORE)
    return store.read("churn", as_of), store.read("activation", as_of)


def write_dashboard(data: Path, as_of: dt.date) -> Path:
    """Step 5: the nightly dashboard of the demo date (scores, lists, registry, campaign readouts)."""
    from serving.reports.dashboard import DashboardConfig, write_nightly_report

    return write_nightly_report(DashboardConfig(as_of=str(as_of), data=data, lists_dir=LISTS, out_dir=REPORTS))


def top_table(at_risk: pd.DataFrame, scored: int, as_of: dt.date) -> Table:
    """The users most at risk, with their reasons and what they spent."""
    top = Table(title=f"the ten users most at risk of churning as of {as_of} (of {scored:,} scored)")
    for column in ("rank", "user_id", "probability", "reasons", "spent 90 days"):
        top.add_column(column, justify="right" if column in ("rank", "probability", "spent 90 days") else "left")
    for row in at_risk.head(TOP_ROWS).itertuples(index=False):
        said = "; ".join(r for r in (row.reason_1, row.reason_2, row.reason_3) if isinstance(r, str))
        top.add_row(str(row.rank), str(row.user_id), f"{row.probability:.2f}", said, f"{row.value_at_risk:,.0f}")
    return top


def write_lists(
    churn: pd.DataFrame, activation: pd.DataFrame, as_of: dt.date, scored_at: dt.datetime, budget: float, coupon_value: float
) -> list[str]:
    """Step 4: the at-risk, coupon and (with an activation model) activation lists as CSV; one line per list."""
    from features.files import write_frame
    from serving.crm.lists import ActivationPolicy, ListFilter, activation_list, at_risk_list, coupon_list
    from serving.crm.targeting import CouponPolicy

    LISTS.mkdir(parents=True, exist_ok=True)
    at_risk = at_risk_list(churn, ListFilter(), scored_at)
    out.print(top_table(at_risk, len(churn), as_of))
    written = {ListKind.at_risk: (at_risk, LISTS / f"at-risk-{as_of}.csv")}
    policy = CouponPolicy(campaign_id=f"retention-{as_of}", budget=budget, coupon_value=coupon_value)
    written[ListKind.coupons] = (coupon_list(churn, policy, scored_at), LISTS / f"coupons-{as_of}.csv")
    if len(activation):
        chosen = activation_list(activation, ActivationPolicy(campaign_id=f"activation-{as_of}"), scored_at)
        written[ListKind.activation] = (chosen, LISTS / f"activation-{as_of}.csv")
    lines = []
    for kind, (frame, path) in written.items():
        write_frame(frame, path, ("csv",))
        lines.append(f"{list_summary(kind, frame)} -> {path.resolve()}")
    lines.append(f"coupon campaign budget {budget:,.0f} at {coupon_value:,.0f} per coupon; scores exported to {EXPORT.resolve()}")
    return lines
