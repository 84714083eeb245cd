"""``churn list`` and ``churn campaign report``: what the CRM team pulls from the published scores."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from serving.cli.console import err, out
from serving.cli.options import DataOption, Multi, StoreOption
from serving.crm.targeting import CouponPolicy
from serving.defaults import DEFAULT_FEATURES_DIR, DEFAULT_STORE


class ListKind(str, Enum):
    at_risk = "at-risk"
    coupons = "coupons"
    activation = "activation"


class ListFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    json = "json"


AT_RISK_ONLY = ("--band", "--member-tier", "--city-tier", "--region", "--channel", "--new-since")
PREVIEW_ROWS = 20
PREVIEW_COLUMNS = {
    ListKind.at_risk: ["rank", "user_id", "probability", "risk_band", "reason_1", "reason_2", "value_at_risk"],
    ListKind.coupons: ["user_id", "group", "action", "value", "expected_value", "probability", "reason_1"],
    ListKind.activation: ["rank", "user_id", "group", "probability", "top_category", "city_tier"],
}
_DEFAULT = {name: field.default for name, field in CouponPolicy.model_fields.items()}


def read_scores(store: str, model: str, as_of: str) -> pd.DataFrame:
    """The published scores of ``model`` at ``as_of``; ConfigError naming the latest published dates when there are none."""
    from features.asof import as_of_date, parse_as_of
    from features.errors import ConfigError
    from serving.batch.store import ScoreStore

    parse_as_of(as_of)
    day = as_of_date(as_of)
    scores_store = ScoreStore(store)
    scores = scores_store.read(model, day)
    if scores.empty:
        runs = scores_store.runs(model)
        latest = ", ".join(str(d) for d in runs["as_of"].head(3)) or "none"
        raise ConfigError(f"--as-of {day}: no {model} scores in {store}; latest published: {latest} (run churn score first)")
    return scores


def on_demand_reasons(scores: pd.DataFrame, features_dir: Path):
    """A list's ``explain``: reasons for listed users the nightly job did not explain, from that date's feature
    snapshot and the registered model version that scored it (both read only when a listed row needs them).

    When the snapshot or the model cannot be read the rows keep no reasons and one line on standard error says why.
    """
    from features.errors import ChurnError
    from serving.batch.contributions import ReasonsOnDemand, unexplained

    first = scores.iloc[0]
    name, version, day = str(first["model_name"]), str(first["model_version"]), pd.Timestamp(first["as_of"]).date()

    def explain(frame: pd.DataFrame) -> pd.DataFrame:
        missing = unexplained(frame)
        if not len(missing):
            return frame
        from serving.batch.snapshots import FeatureSnapshots
        from serving.cli.tracking import use_mlflow
        from serving.models import load_registered

        try:
            features = FeatureSnapshots(features_dir).read(name, day)
            use_mlflow()
            loaded = load_registered(f"models:/{name}/{version}", "the scores' model")
        except ChurnError as e:
            err.print(f"{len(missing):,} listed users have no reasons: {e}", highlight=False)
            return frame
        return ReasonsOnDemand(features, loaded.model, day).fill(frame)

    return explain


def json_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with date columns (Python dates) as ISO dates ("2025-08-31"), which JSON would write as timestamps."""
    import datetime as dt

    dates = {
        name: frame[name].map(lambda v: v.isoformat() if isinstance(v, dt.date) and not isinstance(v, dt.datetime) else v)
        for name in frame.columns
        if frame[name].dtype == object and frame[name].map(lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime)).any()
    }
    return frame.assign(**dates) if dates else frame


def preview(frame: pd.DataFrame, kind: ListKind) -> Table:
    """The first rows of a list as a terminal table (the file holds every column)."""
    wanted = (["change"] if "change" in frame.columns else []) + PREVIEW_COLUMNS[kind]
    table = Table()
    for column in wanted:
        numeric = frame[column].dtype.kind in "if"
        table.add_column(column, justify="right" if numeric else "left", no_wrap=numeric or column in ("rank", "user_id", "group"))
    for row in frame[wanted].head(PREVIEW_ROWS).itertuples(index=False):
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) and abs(v) < 1 else f"{v:,.0f}" if isinstance(v, float) else str(v) for v in row))
    return table


def list_summary(kind: ListKind, frame: pd.DataFrame) -> str:
    """One line: how many users, and for campaigns the groups and the money."""
    if frame.empty:
        return f"{kind.value}: no users"
    source = f"{frame['model_name'].iloc[0]} v{frame['model_version'].iloc[0]}, scores as of {frame['as_of'].iloc[0]}"
    if kind is ListKind.at_risk and "change" in frame.columns:
        changes = frame["change"].value_counts()
        return f"at-risk changes: {changes.get('entered', 0):,} entered the high band, {changes.get('left', 0):,} left it; {source}"
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


def _format(fmt: ListFormat | None, out_file: Path | None) -> str | None:
    """The file format asked for (None: a preview); ConfigError before any work when --format and --out disagree."""
    from features.errors import ConfigError
    from features.files import LIST_FORMATS, check_destination

    chosen = fmt.value if fmt else (out_file.suffix.lstrip(".").lower() if out_file else None)
    if out_file is not None:
        if chosen != out_file.suffix.lstrip(".").lower():
            raise ConfigError(f"--out {out_file}: its suffix does not match --format {chosen}")
        check_destination(out_file, LIST_FORMATS)
    elif chosen == "parquet":
        raise ConfigError("--format parquet needs --out FILE.parquet")
    return chosen


def _show(kind: ListKind, frame: pd.DataFrame, out_file: Path | None, chosen: str | None) -> None:
    """The list to its file, to standard output, or as a preview; the one-line summary."""
    from features.files import LIST_FORMATS, frame_text, write_frame

    summary = list_summary(kind, frame)
    if chosen == "json":
        frame = json_ready(frame)
    if out_file is not None:
        write_frame(frame, out_file, LIST_FORMATS)
        out.print(f"{summary} -> {out_file}", highlight=False)
    elif chosen is not None:
        sys.stdout.write(frame_text(frame, chosen))
        err.print(summary, highlight=False)
    else:
        out.print(preview(frame, kind))
        out.print(f"{summary} (first {min(PREVIEW_ROWS, len(frame))} shown; --out FILE writes them all)", highlight=False)


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
    new_since: Annotated[
        str | None, typer.Option("--new-since", help="at-risk: only users who entered the high band since this previous scoring date, and those who left it.")
    ] = None,
    features_dir: Annotated[Path, typer.Option(help="Feature snapshots, for the reasons of listed users the nightly job did not explain.")] = DEFAULT_FEATURES_DIR,
    budget: Annotated[float | None, typer.Option(help="coupons: total value of the coupons that may be issued.")] = None,
    coupon_value: Annotated[float | None, typer.Option(help="coupons: value of one coupon; activation: of a first-order coupon (default 0: a message only).")] = None,
    save_rate: Annotated[float, typer.Option(help="coupons: share of would-be churners a coupon keeps.")] = _DEFAULT["save_rate"],
    callback_value: Annotated[float, typer.Option(help="coupons: value at risk from which a user gets a customer-service callback instead.")] = _DEFAULT["callback_value"],
    max_callbacks: Annotated[int, typer.Option(help="coupons: callbacks the customer-service team can make; further high-value users get coupons.")] = _DEFAULT["max_callbacks"],
    control_share: Annotated[float, typer.Option(help="Share of the chosen users held out as the control group.")] = _DEFAULT["control_share"],
    seed: Annotated[int, typer.Option(help="Seed of the control group draw (recorded in the list's coupon ids' campaign).")] = 0,
    campaign: Annotated[str | None, typer.Option(help="Campaign id written in the list (default: retention-DATE or activation-DATE).")] = None,
    issued_at: Annotated[dt.datetime | None, typer.Option(help="coupons: when the coupons go out (UTC; a readout's horizon starts there; default: 00:00 the day after --as-of).")] = None,
) -> None:
    """Pull a list for the CRM team from the published scores: at-risk, coupons or activation.

    Lists never change the scores. Every row carries the model, its version, the as-of date and the generation time.
    """
    from features.errors import ConfigError
    from serving.crm.lists import ActivationPolicy, ListFilter, activation_list, at_risk_list, coupon_list

    generated_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    chosen = _format(fmt, out_file)
    filters_given = dict(zip(AT_RISK_ONLY, (band, member_tier, city_tier, region, channel, new_since), strict=True))
    misplaced = [name for name, value in filters_given.items() if value and kind is not ListKind.at_risk]
    if misplaced:
        raise ConfigError(f"{misplaced[0]} filters the at-risk list only, not {kind.value}")
    day = as_of[:10]
    if kind is ListKind.at_risk:
        since = _previous_date(new_since, as_of)
        filters = ListFilter(bands=tuple(band or ()), member_tier=tuple(member_tier or ()), city_tier=tuple(city_tier or ()),
                             region=tuple(region or ()), channel=tuple(channel or ()), top=top, new_since=since)  # fmt: skip
        scores = read_scores(store, "churn", as_of)
        previous = read_scores(store, "churn", new_since) if new_since else None
        frame = at_risk_list(scores, filters, generated_at, previous=previous, explain=on_demand_reasons(scores, features_dir))
    elif kind is ListKind.coupons:
        if budget is None or coupon_value is None:
            raise ConfigError("the coupons list needs --budget AMOUNT and --coupon-value V")
        policy = CouponPolicy(campaign_id=campaign or f"retention-{day}", budget=budget, coupon_value=coupon_value,
                              save_rate=save_rate, callback_value=callback_value, max_callbacks=max_callbacks,
                              control_share=control_share, seed=seed)  # fmt: skip
        scores = read_scores(store, "churn", as_of)
        frame = coupon_list(scores, policy, generated_at, issued_at, explain=on_demand_reasons(scores, features_dir))
        if top is not None:
            frame = frame.head(top)
    else:
        policy = ActivationPolicy(campaign_id=campaign or f"activation-{day}", coupon_value=coupon_value or 0.0, top=top,
                                  control_share=control_share, seed=seed)  # fmt: skip
        frame = activation_list(read_scores(store, "activation", as_of), policy, generated_at)
    _show(kind, frame, out_file, chosen)


def _previous_date(new_since: str | None, as_of: str):
    """``--new-since`` as a date before ``--as-of`` (None when not given); ConfigError otherwise."""
    from features.asof import as_of_date, parse_as_of
    from features.errors import ConfigError

    if new_since is None:
        return None
    parse_as_of(new_since)
    since, day = as_of_date(new_since), as_of_date(as_of)
    if since >= day:
        raise ConfigError(f"--new-since {since}: must be a scoring date before --as-of {day}")
    return since


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
    from serving.crm.campaign import DEFAULT_HORIZON_DAYS, campaign_readout, readout_dict, readout_table

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt}: expected table or json")
    dataset = load_dataset(data)
    tables = {name: dataset.table(name) for name in dataset.tables}
    readout = campaign_readout(tables, campaign, as_of=as_of, horizon_days=horizon or DEFAULT_HORIZON_DAYS)
    if fmt == "json":
        sys.stdout.write(json.dumps(readout_dict(readout), indent=2) + "\n")
    else:
        out.print(readout_table(readout))
