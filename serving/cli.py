"""The ``churn`` command-line tool: a thin layer over the library functions.

Expected errors (:class:`features.errors.ChurnError`) become one line per
problem on stderr and the error's exit code; nothing is written when a command
fails. Exit codes: 0 success, 1 unexpected failure, 2 bad input (options or a
dataset that breaks the data contract).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from features.errors import ChurnError
from serving.bands import BandCutoffs
from serving.targeting import CouponPolicy
from serving.settings import ACTIVATION_MODEL_URI, CHURN_MODEL_URI, DEFAULT_FEATURES_DIR, DEFAULT_STORE

app = typer.Typer(
    name="churn",
    help="Churn prediction and retention: simulate and validate datasets, build point-in-time features, train and promote models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)  # paths and one-line summaries must not be wrapped
err = Console(stderr=True)

DataOption = Annotated[Path, typer.Option("--data", help="Dataset: a directory of <table>.parquet/.csv files, or a DuckDB file.")]


def _fail(error: ChurnError) -> typer.Exit:
    for line in error.lines():
        err.print(f"[bold red]error:[/] {line}", highlight=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


def _progress():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _summary_table(summary) -> Table:
    users = f"{summary.users:,} users" if summary.users is not None else "users"
    span = f", {summary.first:%Y-%m-%d} .. {summary.last:%Y-%m-%d} (UTC)" if summary.first and summary.last else ""
    table = Table(title=f"{summary.path}: {users}{span}")
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("first")
    table.add_column("last")
    for row in summary.tables:
        table.add_row(
            row.name,
            Path(row.file).name,
            f"{row.rows:,}",
            f"{row.first:%Y-%m-%d %H:%M}" if row.first is not None else "",
            f"{row.last:%Y-%m-%d %H:%M}" if row.last is not None else "",
        )
    return table


@app.command()
def validate(data: DataOption) -> None:
    """Check a dataset against the data contract and print a summary.

    Prints one line per problem and exits with code 2 if the dataset breaks the contract.
    """
    from features.validation import load_dataset

    try:
        dataset = load_dataset(data)
        summary = dataset.summary()
    except ChurnError as e:
        raise _fail(e) from None
    out.print(_summary_table(summary))
    out.print(f"[green]ok[/]: {data} follows the data contract")


class Engine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


def _tables(dataset, engine: Engine):
    """Contract tables on the chosen engine (Spark reads the same Parquet files)."""
    if engine is Engine.duckdb:
        return {name: dataset.table(name) for name in dataset.tables}
    from features.spark import local_session, spark_tables

    return spark_tables(dataset, local_session())


@app.command()
def features(
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Date (end of that day, UTC) or ISO timestamp; nothing after it is read.")],
    out_file: Annotated[Path, typer.Option("--out", help="Output file, .parquet or .csv: one row per user.")],
    engine: Annotated[Engine, typer.Option(help="Where to compute: embedded DuckDB or Spark (local mode).")] = Engine.duckdb,
) -> None:
    """Build the point-in-time feature table of every user signed up by --as-of."""
    from features.asof import parse_as_of
    from features.build import compute_features, write_features
    from features.files import check_destination, write_frame
    from features.validation import load_dataset

    started = time.perf_counter()
    try:
        parse_as_of(as_of)
        check_destination(out_file)
        with err.status(f"validating {data}"):
            dataset = load_dataset(data)
        with err.status(f"computing features as of {as_of} on {engine.value}"):
            if engine is Engine.duckdb and out_file.suffix.lower() == ".parquet":
                # Written by DuckDB itself: no result passes through Python (millions of users in a few GB).
                import pyarrow.parquet as pq

                write_features(_tables(dataset, engine), as_of, out_file)
                meta = pq.read_metadata(out_file)
                users, columns = meta.num_rows, meta.num_columns
            else:
                frame = compute_features(_tables(dataset, engine), as_of)
                write_frame(frame, out_file)
                users, columns = frame.shape
    except ChurnError as e:
        raise _fail(e) from None
    seconds = time.perf_counter() - started
    out.print(f"{users:,} users x {columns - 1} features as of {as_of} ({engine.value}) in {seconds:.1f} s -> {out_file}")


def _tracking() -> str:
    import logging
    import warnings

    from training.tracking import tracking_uri, use_tracking

    # MLflow's own progress lines would drown the command's output.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
    return use_tracking(tracking_uri())


@app.command()
def train(
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Today: nothing after this date is read; every label window ends by it.")],
    horizon_days: Annotated[int, typer.Option(help="Churn label window in days.")] = 30,
    snapshots: Annotated[int, typer.Option(help="Snapshots in all; the most recent validates, the others train.")] = 6,
    every_days: Annotated[int, typer.Option(help="Days between snapshots.")] = 30,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = "churn",
    seed: Annotated[int, typer.Option(help="Random seed of LightGBM.")] = 0,
    activation: Annotated[bool, typer.Option(help="Also train the new-user activation model.")] = True,
) -> None:
    """Train the churn (and activation) model, compare it with the champion, register it in MLflow."""
    from pydantic import ValidationError

    from features.asof import as_of_date
    from features.errors import ConfigError
    from features.validation import load_dataset
    from training.pipeline import TrainConfig
    from training.pipeline import train as run_training

    started = time.perf_counter()
    try:
        try:
            config = TrainConfig(
                as_of=as_of_date(as_of), horizon_days=horizon_days, snapshots=snapshots, every_days=every_days,
                experiment=experiment, seed=seed, activation=activation,
            )
        except ValidationError as e:
            first = e.errors()[0]
            raise ConfigError(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']} (got {first.get('input')!r})") from None
        uri = _tracking()
        with err.status(f"validating {data}") as status:
            dataset = load_dataset(data)
            result = run_training(dataset, config, progress=lambda message: status.update(message), reference=_truth(data, config.horizon_days))
    except ChurnError as e:
        raise _fail(e) from None
    table = Table(title=f"trained as of {config.as_of}")
    for col in ("model", "version", "validated on", "ROC-AUC", "PR-AUC", "ECE", "vs logistic", "vs recency"):
        table.add_column(col, justify="right")
    for r in result.results:
        table.add_row(
            r.task, r.version, str(r.validation_date), f"{r.metrics['roc_auc']:.4f}", f"{r.metrics['pr_auc']:.4f}",
            f"{r.metrics['ece']:.4f}", f"{r.metrics['roc_auc'] - r.baselines['logistic']['roc_auc']:+.4f}",
            f"{r.metrics['roc_auc'] - r.baselines['recency']['roc_auc']:+.4f}",
        )
    out.print(table)
    for r in result.results:
        out.print(f"{r.task} v{r.version}: {r.decision.reason}")
    for r in result.results:
        if r.truth:
            out.print(
                f"{r.task}: ROC-AUC {r.truth['model_roc_auc']:.4f} vs best possible {r.truth['truth_roc_auc']:.4f} "
                f"(ratio {r.truth['auc_ratio_to_truth']:.3f}, target >= 0.97)"
            )
    for line in result.skipped:
        out.print(line)
    out.print(f"MLflow: {uri} (browse: mlflow ui --backend-store-uri {uri})")
    out.print(f"trained in {time.perf_counter() - started:.0f} s; report: churn report --run-id {result.results[0].run_id}")


def _truth(data: Path, horizon_days: int):
    """The simulator's true churn probabilities of ``data`` as the training's reference (None outside simulated data)."""
    from functools import partial

    from features.simulator.ground_truth import churn_truth

    return partial(churn_truth, data, horizon_days=horizon_days)


@app.command()
def report(
    run_id: Annotated[str | None, typer.Option("--run-id", help="MLflow run; default: the latest run of the experiment.")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment to look in.")] = "churn",
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the HTML report.")] = Path("data/reports"),
) -> None:
    """Write a training run's HTML report and print its path."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from training.registry import RegistryError

    try:
        _tracking()
        client = MlflowClient()
        if run_id is None:
            found = client.get_experiment_by_name(experiment)
            runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"], max_results=1) if found else []
            if not runs:
                raise RegistryError(f"experiment {experiment} has no runs; train first")
            run_id = runs[0].info.run_id
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="report.html", dst_path=str(out_dir / run_id))
        except MlflowException:
            raise RegistryError(f"run {run_id} has no report (is it a training run?)") from None
    except ChurnError as e:
        raise _fail(e) from None
    out.print(Path(local).resolve())


@app.command()
def promote(
    model: Annotated[str, typer.Option(help="Registered model: churn or activation.")] = "churn",
    version: Annotated[str | None, typer.Option(help="Version to promote; default: the challenger.")] = None,
) -> None:
    """Make a version (default: the challenger) the champion."""
    from training.registry import promote as do_promote

    try:
        _tracking()
        out.print(do_promote(model, version))
    except ChurnError as e:
        raise _fail(e) from None


@app.command()
def rollback(model: Annotated[str, typer.Option(help="Registered model: churn or activation.")] = "churn") -> None:
    """Move the champion back to the previous champion."""
    from training.registry import rollback as do_rollback

    try:
        _tracking()
        out.print(do_rollback(model))
    except ChurnError as e:
        raise _fail(e) from None


@app.command()
def score(
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Score as of the end of this day (UTC).")],
    model: Annotated[str, typer.Option(help="Churn model: models:/NAME@ALIAS or models:/NAME/VERSION.")] = CHURN_MODEL_URI,
    activation_model: Annotated[
        str, typer.Option(help="Activation model for new users ('none': skip; the default is skipped with a note when not registered).")
    ] = ACTIVATION_MODEL_URI,
    store: Annotated[str, typer.Option(help="Score store: duckdb:///FILE or a SQLAlchemy URL.")] = DEFAULT_STORE,
    features_dir: Annotated[Path, typer.Option(help="Where the feature snapshots for the API are kept.")] = DEFAULT_FEATURES_DIR,
    engine: Annotated[Engine, typer.Option(help="Where to compute: embedded DuckDB or Spark (local mode).")] = Engine.duckdb,
    medium: Annotated[float, typer.Option(help="Probability from which a user is in the medium risk band.")] = BandCutoffs().medium,
    high: Annotated[float, typer.Option(help="Probability from which a user is in the high risk band.")] = BandCutoffs().high,
    max_drop: Annotated[float, typer.Option(help="Fail when the scored users drop by more than this share vs the previous run.")] = 0.2,
    allow_drift: Annotated[bool, typer.Option(help="Publish even when a population stability index is over the fail level.")] = False,
    drift_ignore: Annotated[
        list[str] | None,
        typer.Option(help="A feature whose drift neither warns nor fails (repeat the option; default: the calendar-driven ones)."),
    ] = None,
    export: Annotated[Path | None, typer.Option(help="Also write the published scores to this Parquet file.")] = None,
) -> None:
    """Nightly scoring: score the churn and activation populations, check, publish (idempotent; nothing half-written).

    Exit codes: 0 published, 2 bad input, 3 model not in the registry, 4 a check failed (nothing published).
    """
    from pydantic import ValidationError

    from serving.nightly import NightlyConfig, run_nightly

    started = time.perf_counter()
    try:
        try:
            config = NightlyConfig(
                data=data, as_of=as_of, store=store, features_dir=features_dir, churn_model=model,
                activation_model=None if activation_model.lower() == "none" else activation_model, engine=engine.value,
                cutoffs=BandCutoffs(medium=medium, high=high), max_drop=max_drop, allow_drift=allow_drift, export=export,
                **({"drift_ignore": tuple(drift_ignore)} if drift_ignore else {}),
            )  # fmt: skip
        except ValidationError as e:
            raise _config_error(e) from None
        _tracking()
        with err.status("scoring") as status:
            summary = run_nightly(
                config, scored_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0), progress=lambda message: status.update(message)
            )
    except ChurnError as e:
        raise _fail(e) from None
    out.print(f"scored {summary.line()}; published to {store} in {time.perf_counter() - started:.1f} s", highlight=False)


def _config_error(e) -> ChurnError:
    """A pydantic validation error as one line naming the option."""
    from features.errors import ConfigError

    first = e.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "input"
    message = first["msg"].removeprefix("Value error, ")
    return ConfigError(f"--{where.replace('_', '-')}: {message}")


class ListKind(str, Enum):
    at_risk = "at-risk"
    coupons = "coupons"
    activation = "activation"


class ListFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    json = "json"


Multi = list[str] | None
StoreOption = Annotated[str, typer.Option(help="Score store: duckdb:///FILE or a SQLAlchemy URL.")]


def _read_scores(store: str, model: str, as_of: str):
    from features.asof import as_of_date, parse_as_of
    from features.errors import ConfigError
    from serving.store import ScoreStore

    parse_as_of(as_of)
    day = as_of_date(as_of)
    scores_store = ScoreStore(store)
    scores = scores_store.read(model, day)
    if scores.empty:
        runs = scores_store.runs(model)
        latest = ", ".join(str(d) for d in runs["as_of"].head(3)) or "none"
        raise ConfigError(f"--as-of {day}: no {model} scores in {store}; latest published: {latest} (run churn score first)")
    return scores


def _preview(frame, kind: ListKind) -> Table:
    """The first rows of a list as a terminal table (the file holds every column)."""
    wanted = {
        ListKind.at_risk: ["rank", "user_id", "probability", "risk_band", "reason_1", "reason_2", "value_at_risk"],
        ListKind.coupons: ["user_id", "group", "action", "value", "expected_value", "probability", "reason_1"],
        ListKind.activation: ["rank", "user_id", "group", "probability", "top_category", "city_tier"],
    }[kind]
    table = Table()
    for column in wanted:
        numeric = frame[column].dtype.kind in "if"
        table.add_column(column, justify="right" if numeric else "left", no_wrap=numeric or column in ("rank", "user_id", "group"))
    for row in frame[wanted].head(20).itertuples(index=False):
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) and abs(v) < 1 else f"{v:,.0f}" if isinstance(v, float) else str(v) for v in row))
    return table


@app.command("list")
def list_(
    kind: Annotated[ListKind, typer.Argument(help="Which list: at-risk users, coupon targets, or new users to activate.")],
    as_of: Annotated[str, typer.Option("--as-of", help="The scoring date whose published scores the list is built from.")],
    store: StoreOption = DEFAULT_STORE,
    fmt: Annotated[ListFormat | None, typer.Option("--format", help="File format (default: from --out's suffix; csv on standard output).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the list here (atomically); without it, CSV/JSON go to standard output, or a preview is shown.")] = None,
    top: Annotated[int | None, typer.Option(help="At most this many users (highest risk, or most likely to activate, first).", min=1)] = None,
    band: Annotated[Multi, typer.Option(help="at-risk: keep this risk band (repeat for several): low, medium, high.")] = None,
    member_tier: Annotated[Multi, typer.Option(help="at-risk: keep this member tier (repeatable).")] = None,
    city_tier: Annotated[Multi, typer.Option(help="at-risk: keep this city tier (repeatable).")] = None,
    region: Annotated[Multi, typer.Option(help="at-risk: keep this region (repeatable).")] = None,
    channel: Annotated[Multi, typer.Option(help="at-risk: keep this acquisition channel (repeatable).")] = None,
    budget: Annotated[float | None, typer.Option(help="coupons: total value of the coupons that may be issued.")] = None,
    coupon_value: Annotated[float | None, typer.Option(help="coupons: value of one coupon; activation: of a first-order coupon (default 0: a message only).")] = None,
    save_rate: Annotated[float, typer.Option(help="coupons: share of would-be churners a coupon keeps.")] = CouponPolicy.model_fields["save_rate"].default,
    callback_value: Annotated[float, typer.Option(help="coupons: value at risk from which a user gets a customer-service callback instead.")] = CouponPolicy.model_fields["callback_value"].default,
    max_callbacks: Annotated[int, typer.Option(help="coupons: callbacks the customer-service team can make; further high-value users get coupons.")] = CouponPolicy.model_fields["max_callbacks"].default,
    control_share: Annotated[float, typer.Option(help="Share of the chosen users held out as the control group.")] = CouponPolicy.model_fields["control_share"].default,
    seed: Annotated[int, typer.Option(help="Seed of the control group draw (recorded in the list's coupon ids' campaign).")] = 0,
    campaign: Annotated[str | None, typer.Option(help="Campaign id written in the list (default: retention-DATE or activation-DATE).")] = None,
) -> None:
    """Pull a list for the CRM team from the published scores: at-risk, coupons or activation.

    Lists never change the scores. Every row carries the model, its version, the as-of date and the generation time.
    """
    from pydantic import ValidationError

    from features.errors import ConfigError
    from features.files import LIST_FORMATS, check_destination, frame_text, write_frame
    from serving.lists import ActivationPolicy, ListFilter, activation_list, at_risk_list, coupon_list

    generated_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    try:
        chosen = fmt.value if fmt else (out_file.suffix.lstrip(".").lower() if out_file else None)
        if out_file is not None:
            if chosen != out_file.suffix.lstrip(".").lower():
                raise ConfigError(f"--out {out_file}: its suffix does not match --format {chosen}")
            check_destination(out_file, LIST_FORMATS)
        elif chosen == "parquet":
            raise ConfigError("--format parquet needs --out FILE.parquet")
        at_risk_only = {"--band": band, "--member-tier": member_tier, "--city-tier": city_tier, "--region": region, "--channel": channel}
        misplaced = [name for name, value in at_risk_only.items() if value and kind is not ListKind.at_risk]
        if misplaced:
            raise ConfigError(f"{misplaced[0]} filters the at-risk list only, not {kind.value}")
        day = as_of[:10]
        try:
            if kind is ListKind.at_risk:
                filters = ListFilter(bands=tuple(band or ()), member_tier=tuple(member_tier or ()), city_tier=tuple(city_tier or ()),
                                     region=tuple(region or ()), channel=tuple(channel or ()), top=top)  # fmt: skip
                frame = at_risk_list(_read_scores(store, "churn", as_of), filters, generated_at)
            elif kind is ListKind.coupons:
                if budget is None or coupon_value is None:
                    raise ConfigError("the coupons list needs --budget AMOUNT and --coupon-value V")
                policy = CouponPolicy(campaign_id=campaign or f"retention-{day}", budget=budget, coupon_value=coupon_value,
                                      save_rate=save_rate, callback_value=callback_value, max_callbacks=max_callbacks,
                                      control_share=control_share, seed=seed)  # fmt: skip
                frame = coupon_list(_read_scores(store, "churn", as_of), policy, generated_at)
                if top is not None:
                    frame = frame.head(top)
            else:
                policy = ActivationPolicy(campaign_id=campaign or f"activation-{day}", coupon_value=coupon_value or 0.0, top=top,
                                          control_share=control_share, seed=seed)  # fmt: skip
                frame = activation_list(_read_scores(store, "activation", as_of), policy, generated_at)
        except ValidationError as e:
            raise _config_error(e) from None
    except ChurnError as e:
        raise _fail(e) from None
    summary = _list_summary(kind, frame)
    if out_file is not None:
        write_frame(frame, out_file, LIST_FORMATS)
        out.print(f"{summary} -> {out_file}", highlight=False)
    elif chosen is not None:
        sys.stdout.write(frame_text(frame, chosen))
        err.print(summary, highlight=False)
    else:
        out.print(_preview(frame, kind))
        out.print(f"{summary} (first {min(20, len(frame))} shown; --out FILE writes them all)", highlight=False)


def _list_summary(kind: ListKind, frame) -> str:
    """One line: how many users, and for campaigns the groups and the money."""
    if frame.empty:
        return f"{kind.value}: no users"
    source = f"{frame['model_name'].iloc[0]} v{frame['model_version'].iloc[0]}, scores as of {frame['as_of'].iloc[0]}"
    if kind is ListKind.at_risk:
        bands = frame["risk_band"].astype(str).value_counts()
        said = ", ".join(f"{bands.get(b, 0):,} {b}" for b in ("high", "medium", "low") if bands.get(b, 0))
        return f"at-risk: {len(frame):,} users ({said}); {source}"
    control = int((frame["group"] == "control").sum())
    if kind is ListKind.coupons:
        treated = frame[frame["group"] == "treatment"]
        coupons = int((treated["action"] == "coupon").sum())
        callbacks = int((treated["action"] == "callback").sum())
        return (f"coupons: {coupons:,} coupons costing {treated['value'].sum():,.0f}, {callbacks:,} callbacks, "
                f"{control:,} held out as control; campaign {frame['campaign_id'].iloc[0]}; {source}")  # fmt: skip
    return f"activation: {len(frame) - control:,} users to nudge, {control:,} held out; campaign {frame['campaign_id'].iloc[0]}; {source}"


campaign_app = typer.Typer(help="Campaign readouts: what a coupon campaign bought, against its control group.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")


@campaign_app.command("report")
def campaign_report(
    campaign: Annotated[str, typer.Option(help="The campaign id (coupons.campaign_id).")],
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Read data up to the end of this day (UTC); users whose horizon ends later are pending.")],
    horizon: Annotated[
        int | None, typer.Option(help="Days after the coupon in which a purchase counts as retained (default: the churn horizon).", min=1)
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Compare retention of treated and held-out users after the horizon, with a confidence interval."""
    from features.errors import ConfigError
    from features.validation import load_dataset
    from serving.campaign import DEFAULT_HORIZON_DAYS, campaign_readout, readout_dict, readout_table

    try:
        if fmt not in ("table", "json"):
            raise ConfigError(f"--format {fmt}: expected table or json")
        dataset = load_dataset(data)
        tables = {name: dataset.table(name) for name in dataset.tables}
        readout = campaign_readout(tables, campaign, as_of=as_of, horizon_days=horizon or DEFAULT_HORIZON_DAYS)
    except ChurnError as e:
        raise _fail(e) from None
    if fmt == "json":
        sys.stdout.write(json.dumps(readout_dict(readout), indent=2) + "\n")
    else:
        out.print(readout_table(readout))


def _simulate(users: int, days: int, start: dt.date, seed: int, out_dir: Path, overwrite: bool):
    from pydantic import ValidationError

    from features.errors import ConfigError
    from features.simulator.config import SimulationConfig
    from features.simulator.run import simulate

    try:
        config = SimulationConfig(users=users, days=days, start=start, seed=seed)
    except ValidationError as e:
        first = e.errors()[0]
        raise ConfigError(f"--{first['loc'][0]}: {first['msg']} (got {first.get('input')!r})") from None
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task(f"simulating {users:,} users x {days} days", total=users * days)
        result = simulate(config, out_dir, overwrite=overwrite, progress=lambda k: progress.advance(task, k))
    return config, result, time.perf_counter() - started


def _print_realism(config, result) -> bool:
    from features.simulator.realism import measure

    realism = measure(result.out, config.start, config.end)
    counts = Table(title=f"simulated dataset in {result.out}")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, rows in realism.counts.items():
        counts.add_row(name, f"{rows:,}")
    out.print(counts)
    checks = Table(title="realism targets")
    checks.add_column("check")
    checks.add_column("measured")
    checks.add_column("target")
    checks.add_column("")
    for c in realism.checks:
        checks.add_row(c.name, c.value, c.target, "[green]ok[/]" if c.ok else "[red]missed[/]")
    out.print(checks)
    truth = ", ".join(f"{k} {v:.3f}" for k, v in realism.truth.items())
    dates = f"{result.truth_dates[0]} .. {result.truth_dates[-1]}" if result.truth_dates else "none (window too short)"
    out.print(f"ground truth in {result.out / 'truth'}: {len(result.truth_dates)} month-ends ({dates}); {truth}")
    return realism.ok


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the dataset into.")],
    users: Annotated[int, typer.Option(help="Number of users.")] = 5000,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 365,
    start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First simulated day.")] = dt.datetime(2025, 1, 1),
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it holds files.")] = False,
) -> None:
    """Simulate an e-commerce platform: the contract's tables plus ground truth in truth/."""
    try:
        config, result, seconds = _simulate(users, days, start.date(), seed, out_dir, overwrite)
        _print_realism(config, result)
    except ChurnError as e:
        raise _fail(e) from None
    out.print(f"simulated {config.users:,} users over {config.days} days in {seconds:.1f} s -> {result.out}")


@app.command()
def demo(
    data: Annotated[Path, typer.Option("--data", help="Where the demo dataset lives.")] = Path("data/demo"),
    users: Annotated[int, typer.Option(help="Users in the demo dataset.")] = 20000,
    days: Annotated[int, typer.Option(help="Days in the demo dataset.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    budget: Annotated[float, typer.Option(help="The demo retention campaign's coupon budget.")] = 20000.0,
    coupon_value: Annotated[float, typer.Option(help="The demo campaign's coupon value.")] = 20.0,
) -> None:
    """The main job on embedded defaults: simulate (reused if it exists), validate, train, promote, score, write the lists."""
    from features.simulator.config import DEFAULT_START, SimulationConfig
    from features.simulator.ground_truth import training_day
    from features.simulator.run import MANIFEST
    from features.validation import load_dataset

    try:
        wanted = SimulationConfig(users=users, days=days, start=DEFAULT_START, seed=seed)
        manifest = data / MANIFEST
        if manifest.exists() and _same_config(manifest, wanted):
            out.print(f"reusing the simulated dataset in {data} (delete it to simulate again)")
        else:
            config, result, seconds = _simulate(users, days, DEFAULT_START, seed, data, overwrite=True)
            _print_realism(config, result)
            out.print(f"simulated {users:,} users over {days} days in {seconds:.1f} s")
        dataset = load_dataset(data)
        out.print(_summary_table(dataset.summary()))
        # Train as of the day whose validation snapshot is the last month-end with ground truth.
        as_of = training_day(data)
        uri = _tracking()
        from training.pipeline import TrainConfig
        from training.pipeline import train as run_training

        with err.status("training") as status:
            config = TrainConfig(as_of=as_of)
            result = run_training(dataset, config, progress=lambda message: status.update(message), reference=_truth(data, config.horizon_days))
    except ChurnError as e:
        raise _fail(e) from None
    for r in result.results:
        truth = f"; best possible {r.truth['truth_roc_auc']:.4f} (ratio {r.truth['auc_ratio_to_truth']:.3f})" if r.truth else ""
        out.print(
            f"{r.task} model v{r.version}: out-of-time ROC-AUC {r.metrics['roc_auc']:.4f}, ECE {r.metrics['ece']:.4f}{truth}; "
            f"{r.decision.reason}"
        )
    for line in result.skipped:
        out.print(line)
    reports = Path("data/reports")
    import mlflow

    for r in result.results:
        target = reports / r.run_id
        target.mkdir(parents=True, exist_ok=True)
        path = mlflow.artifacts.download_artifacts(run_id=r.run_id, artifact_path="report.html", dst_path=str(target))
        out.print(f"{r.task} report: {Path(path).resolve()}")
    try:
        lists = _demo_score_and_lists(data, as_of, budget, coupon_value)
    except ChurnError as e:
        raise _fail(e) from None
    for line in lists:
        out.print(line, highlight=False)
    out.print(f"MLflow: {uri}  (mlflow ui --backend-store-uri {uri})")


def _demo_score_and_lists(data: Path, as_of: dt.date, budget: float, coupon_value: float) -> list[str]:
    """Score with the champions as of the training day, write the three lists, show the top of the at-risk one."""
    from features.files import write_frame
    from serving.lists import ActivationPolicy, ListFilter, activation_list, at_risk_list, coupon_list
    from serving.nightly import NightlyConfig, run_nightly
    from serving.store import ScoreStore

    scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    export = Path("data/scores.parquet")
    with err.status("scoring") as status:
        summary = run_nightly(NightlyConfig(data=data, as_of=str(as_of), export=export), scored_at=scored_at, progress=status.update)
    out.print(f"scored {summary.line()}", highlight=False)
    store = ScoreStore(DEFAULT_STORE)
    churn = store.read("churn", as_of)
    folder = Path("data/lists")
    folder.mkdir(parents=True, exist_ok=True)
    at_risk = at_risk_list(churn, ListFilter(), scored_at)
    top = Table(title=f"the ten users most at risk of churning as of {as_of} (of {len(churn):,} scored)")
    for column in ("rank", "user_id", "probability", "reasons", "spent 90 days"):
        top.add_column(column, justify="right" if column in ("rank", "probability", "spent 90 days") else "left")
    for row in at_risk.head(10).itertuples(index=False):
        said = "; ".join(r for r in (row.reason_1, row.reason_2, row.reason_3) if isinstance(r, str))
        top.add_row(str(row.rank), str(row.user_id), f"{row.probability:.2f}", said, f"{row.value_at_risk:,.0f}")
    out.print(top)
    written = {ListKind.at_risk: (at_risk, folder / f"at-risk-{as_of}.csv")}
    policy = CouponPolicy(campaign_id=f"retention-{as_of}", budget=budget, coupon_value=coupon_value)
    written[ListKind.coupons] = (coupon_list(churn, policy, scored_at), folder / f"coupons-{as_of}.csv")
    activation = store.read("activation", as_of)
    if len(activation):
        chosen = activation_list(activation, ActivationPolicy(campaign_id=f"activation-{as_of}"), scored_at)
        written[ListKind.activation] = (chosen, folder / f"activation-{as_of}.csv")
    lines = []
    for kind, (frame, path) in written.items():
        write_frame(frame, path, ("csv",))
        lines.append(f"{_list_summary(kind, frame)} -> {path.resolve()}")
    lines.append(f"coupon campaign budget {budget:,.0f} at {coupon_value:,.0f} per coupon; scores exported to {export.resolve()}")
    return lines


def _same_config(manifest: Path, wanted) -> bool:
    """Whether the dataset described by ``manifest`` was simulated by this simulator with these settings."""
    from features.simulator.run import SIMULATOR_VERSION

    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    return recorded.get("simulator_version") == SIMULATOR_VERSION and recorded.get("config") == json.loads(wanted.model_dump_json())


def _register_service_commands() -> None:
    from serving.cli_serve import register

    register(app)


_register_service_commands()


def main() -> None:
    """Entry point of the ``churn`` script: usage errors too are one line, with exit code 2."""
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err.print("interrupted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except TyperException as e:  # Click's usage errors: unknown command or option, bad value
        if not hasattr(e, "format_message"):
            raise
        path = getattr(getattr(e, "ctx", None), "command_path", "") or ""
        command = " ".join(["churn", *path.split(" ")[1:]])  # the program name may be a path
        if not e.format_message():  # no arguments at all: the help was shown
            sys.exit(getattr(e, "exit_code", 2) or 2)
        err.print(f"[bold red]error:[/] {e.format_message()} (see: {command} --help)", highlight=False, soft_wrap=True)
        sys.exit(getattr(e, "exit_code", 2) or 2)
    sys.exit(code if isinstance(code, int) else 0)
