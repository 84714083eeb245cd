"""``churn score``: the nightly job from the command line."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from serving.batch.bands import BandCutoffs
from serving.cli.console import err, out
from serving.cli.options import DataOption, Engine, EngineOption, StoreOption
from serving.cli.tracking import use_mlflow
from serving.defaults import ACTIVATION_MODEL_URI, CHURN_MODEL_URI, DEFAULT_FEATURES_DIR, DEFAULT_STORE

ChurnModelOption = Annotated[str, typer.Option("--model", help="Churn model: models:/NAME@ALIAS or models:/NAME/VERSION.")]


def score(
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Score as of the end of this day (UTC).")],
    model: ChurnModelOption = CHURN_MODEL_URI,
    activation_model: Annotated[
        str, typer.Option(help="Activation model for new users ('none': skip; the default is skipped with a note when not registered).")
    ] = ACTIVATION_MODEL_URI,
    store: StoreOption = DEFAULT_STORE,
    features_dir: Annotated[Path, typer.Option(help="Where the feature snapshots for the API are kept.")] = DEFAULT_FEATURES_DIR,
    engine: EngineOption = Engine.duckdb,
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

    Exit codes: 0 published (an empty population is said in the summary), 2 bad input or an --as-of outside the data,
    3 model missing or damaged, 4 a check failed (nothing published), 5 store busy, 6 store or registry broken or
    unreachable, 7 nothing to score.
    """
    from serving.batch.nightly import NightlyConfig, run_nightly

    started = time.perf_counter()
    config = NightlyConfig(
        data=data, as_of=as_of, store=store, features_dir=features_dir, churn_model=model,
        activation_model=None if activation_model.lower() == "none" else activation_model, engine=engine.value,
        cutoffs=BandCutoffs(medium=medium, high=high), max_drop=max_drop, allow_drift=allow_drift, export=export,
        **({"drift_ignore": tuple(drift_ignore)} if drift_ignore else {}),
    )  # fmt: skip
    use_mlflow()
    with err.status("scoring") as status:
        summary = run_nightly(config, scored_at=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0), progress=status.update)
    out.print(f"scored {summary.line()}; published to {store} in {time.perf_counter() - started:.1f} s", highlight=False)
