"""What the retraining notebook shows: label rates, features by label, two versions side by side, the champion kept.

The label tests use hand-built logs (``today`` = 2024-07-30, snapshots at
2024-05-31 and 2024-06-30, 30-day label windows). The MLflow tests use a real
temporary SQLite store with two hand-made training runs registered as versions
1 (champion) and 2 (challenger), so every expected figure is known.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from mlflow import MlflowClient
from pandas.testing import assert_frame_equal

from features.build import memtables
from features.catalog import AS_OF, LABEL, USER_ID
from features.contract import ORDERS, STATUS_CANCELLED, STATUS_PAID, USERS, Orders, Users
from features.errors import ConfigError
from features.labels import ACTIVATION, ORDERS_ONLY
from training import compare, registry
from training.tracking import use_tracking

D = dt.datetime
TODAY = dt.date(2024, 7, 30)
MAY31, JUN30 = dt.date(2024, 5, 31), dt.date(2024, 6, 30)


def _tables():
    """Five users; purchase days chosen so the churn labels at 05-31 and 06-30 are known by hand.

    05-31 (window 06-01..06-30): population = users 1-4 (purchase by 05-31 in the lookback);
        1 buys 06-10 (stays), 2 buys 06-30 23:00 (stays, last day of the window), 3 only cancels (churns), 4 nothing (churns).
    06-30 (window 07-01..07-30): population = users 1-4 and 5 (first purchase 06-20);
        1 buys 07-05 (stays), 5 buys 07-30 (stays), 2, 3, 4 churn. The order after today (07-31) is never read.
    """
    users = pd.DataFrame(
        {Users.USER_ID: np.arange(1, 6, dtype="int64"), Users.SIGNUP_AT: pd.Series(pd.to_datetime(["2024-01-01"] * 5), dtype="datetime64[us]")}
    )
    rows = [
        (1, D(2024, 5, 1), STATUS_PAID), (1, D(2024, 6, 10), STATUS_PAID), (1, D(2024, 7, 5), STATUS_PAID),
        (2, D(2024, 5, 2), STATUS_PAID), (2, D(2024, 6, 30, 23), STATUS_PAID), (2, D(2024, 7, 31), STATUS_PAID),
        (3, D(2024, 5, 3), STATUS_PAID), (3, D(2024, 6, 5), STATUS_CANCELLED),
        (4, D(2024, 5, 31, 12), STATUS_PAID),
        (5, D(2024, 6, 20), STATUS_PAID), (5, D(2024, 7, 30, 8), STATUS_PAID),
    ]  # fmt: skip
    user_id, at, status = zip(*rows, strict=True)
    orders = pd.DataFrame(
        {
            Orders.ORDER_ID: np.arange(1, len(rows) + 1, dtype="int64"),
            Orders.USER_ID: np.asarray(user_id, dtype="int64"),
            Orders.ORDERED_AT: pd.Series(pd.to_datetime(list(at)), dtype="datetime64[us]"),
            Orders.AMOUNT: np.full(len(rows), 10.0),
            Orders.STATUS: pd.Series(list(status), dtype="str"),
        }
    )
    return memtables({USERS: users, ORDERS: orders})


def test_label_rate_over_time_counts_the_population_and_the_churners():
    got = compare.label_rate_over_time(_tables(), [JUN30, MAY31], today=TODAY, definition=ORDERS_ONLY)
    expected = pd.DataFrame(
        {AS_OF: [MAY31, JUN30], compare.USERS: [4, 5], compare.POSITIVES: [2, 3], compare.RATE: [0.5, 0.6]}
    )
    assert_frame_equal(got, expected)


def test_label_rate_refuses_a_window_ending_after_today_and_unknown_tasks():
    said = r"snapshot date 2024-07-01: its 30-day label window ends after today \(2024-07-30\); the latest possible date is 2024-06-30"
    with pytest.raises(ConfigError, match=said):
        compare.label_rate_over_time(_tables(), [JUN30, dt.date(2024, 7, 1)], today=TODAY, definition=ORDERS_ONLY)
    with pytest.raises(ConfigError, match="task 'uplift' is not one of churn, activation"):
        compare.label_rate_over_time(_tables(), [JUN30], today=TODAY, task="uplift")


def test_label_rate_of_activation_uses_its_own_population():
    # Everyone signed up on 01-01, months before: nobody is a new user at 06-30.
    got = compare.label_rate_over_time(_tables(), [JUN30], today=TODAY, task=ACTIVATION)
    assert got[compare.USERS].tolist() == [0] and np.isnan(got[compare.RATE].iloc[0])


def test_label_rate_figure_has_a_point_per_date():
    rates = compare.label_rate_over_time(_tables(), [MAY31, JUN30], today=TODAY, definition=ORDERS_ONLY)
    fig = compare.label_rate_figure(rates)
    assert isinstance(fig, Figure)
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_ydata()) == [0.5, 0.6]


def _snapshot() -> pd.DataFrame:
    return pd.DataFrame(
        {
            USER_ID: [1, 2, 3, 4, 5, 6],
            "days_since_last_order": [2.0, 4.0, np.nan, 30.0, 50.0, 70.0],
            "orders_30d": [3, 2, 1, 0, 0, 1],
            "member_tier": pd.Categorical(["gold", "basic", "basic", "gold", "basic", "basic"]),
            "not_a_feature": [1, 1, 1, 1, 1, 1],
            LABEL: np.array([0, 0, 0, 1, 1, 1], dtype="int8"),
        }
    )


def test_feature_summary_by_hand():
    got = compare.feature_summary(_snapshot())
    assert got.index.tolist() == ["member_tier", "orders_30d", "days_since_last_order"]  # catalogue order, features only
    days = got.loc["days_since_last_order"]
    assert days["family"] == "purchases" and days["description"] == "days since the last purchase"
    assert days["missing"] == pytest.approx(1 / 6)
    assert (days["mean, label 0"], days["mean, label 1"]) == (3.0, 50.0)
    assert (days["median, label 0"], days["median, label 1"]) == (3.0, 50.0)
    assert days["roc_auc alone"] == 1.0  # every churner has more days than every stayer
    orders = got.loc["orders_30d"]
    assert orders["mean, label 0"] == 2.0 and orders["mean, label 1"] == pytest.approx(1 / 3)
    # Fewer orders, more churn: AUC of the raw value is 1/18 (one tie pair counts half), reported as 1 - that.
    assert orders["roc_auc alone"] == pytest.approx(1 - 0.5 / 9)
    assert np.isnan(got.loc["member_tier", "mean, label 0"]) and got.loc["member_tier", "kind"] == "category"
    with pytest.raises(ConfigError, match="frame has no column 'label'"):
        compare.feature_summary(_snapshot().drop(columns=[LABEL]))


def test_distributions_by_label_draws_one_panel_per_feature():
    fig = compare.distributions_by_label(_snapshot(), ["days_since_last_order", "orders_30d"], columns=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["days_since_last_order", "orders_30d"]
    # Each label's bars are shares of that label's rows: they sum to 1.
    heights = [sum(p.get_height() for p in container) for container in visible[0].containers]
    assert heights == [pytest.approx(1.0), pytest.approx(1.0)]
    with pytest.raises(ConfigError, match="frame has no feature nope"):
        compare.distributions_by_label(_snapshot(), ["nope"])


# --- two hand-made training runs in a real MLflow store (slow: creating the store takes seconds) -----------------

NAME = "churn-test"
CHAMPION_METRICS = {"roc_auc": 0.80, "pr_auc": 0.60, "log_loss": 0.50, "ece": 0.02, "lift_top10": 2.0}
CHALLENGER_METRICS = {"roc_auc": 0.85, "pr_auc": 0.60, "log_loss": 0.55, "ece": 0.01, "lift_top10": 2.5}


def _png(path: Path, colour: str) -> Path:
    fig = Figure(figsize=(1, 1))
    fig.subplots().set_facecolor(colour)
    fig.savefig(path, dpi=20)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-mlflow")
    previous, cwd = mlflow.get_tracking_uri(), os.getcwd()
    os.chdir(root)
    use_tracking(f"sqlite:///{root / 'mlflow.db'}")
    client = MlflowClient()
    experiment = client.create_experiment("compare", artifact_location=(root / "artifacts").resolve().as_uri())
    client.create_registered_model(NAME)
    runs = {}
    for version, (metrics, truth, leaves, plots) in enumerate(
        [(CHAMPION_METRICS, 0.97, "31", ("calibration", "importance")), (CHALLENGER_METRICS, 0.98, "15", ("calibration", "gain_lift"))], start=1
    ):
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.log_metrics({f"valid.{k}": v for k, v in metrics.items()} | {"auc_ratio_to_truth": truth, "baseline_recency.roc_auc": 0.7})
            mlflow.log_params({"validation_date": "2025-07-31", "config.num_leaves": leaves, "train_rows": "1000"})
            mlflow.set_tag("promotion", f"reason {version}")
            for plot in plots:
                mlflow.log_artifact(str(_png(root / f"{plot}.png", "red" if version == 1 else "blue")), "plots")
        client.create_model_version(NAME, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        runs[str(version)] = run.info.run_id
    registry.set_champion(client, NAME, "1")
    try:
        yield root
    finally:
        os.chdir(cwd)
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(previous)


@pytest.mark.slow
def test_compare_versions_side_by_side_with_difference_and_winner(store):
    got = compare.compare_versions(NAME, "2")  # champion: the alias, version 1
    assert got.columns.tolist() == ["challenger v2", "champion v1", "difference", "better"]
    assert got.index.tolist() == [*compare.METRICS, "auc_ratio_to_truth"]
    assert got.loc["roc_auc"].tolist()[:3] == pytest.approx([0.85, 0.80, 0.05])
    assert got.loc["roc_auc", "better"] == "challenger"
    assert got.loc["pr_auc", "better"] == "same"
    assert got.loc["log_loss", "better"] == "champion"  # higher log loss is worse
    assert got.loc["ece", "better"] == "challenger"  # lower calibration error is better
    assert got.loc["auc_ratio_to_truth", "difference"] == pytest.approx(0.01)
    assert np.isnan(got.loc["brier", "difference"]) and got.loc["brier", "better"] == ""  # not logged
    reverse = compare.compare_versions(NAME, "1", "2")
    assert reverse.loc["roc_auc", "better"] == "champion" and reverse.loc["roc_auc", "difference"] == pytest.approx(-0.05)


@pytest.mark.slow
def test_compare_versions_names_what_is_missing(store):
    with pytest.raises(registry.RegistryError, match="model churn-test has no version 9"):
        compare.compare_versions(NAME, "9")
    with pytest.raises(registry.RegistryError, match="model nope has no champion; pass the version to compare with"):
        compare.compare_versions("nope", "1")


@pytest.mark.slow
def test_compare_settings(store):
    got = compare.compare_settings(NAME, "2", "1")
    assert got.loc["config.num_leaves"].tolist() == ["15", "31", False]
    assert got.loc["validation_date"].tolist() == ["2025-07-31", "2025-07-31", True]
    assert got.loc["promotion"].tolist() == ["reason 2", "reason 1", False]
    assert got.loc["code_version"].tolist() == ["", "", True]  # not logged by either run


@pytest.mark.slow
def test_version_plots_and_the_side_by_side_html(store, tmp_path):
    champion = compare.version_plots(NAME, "1", tmp_path)
    challenger = compare.version_plots(NAME, "2", tmp_path)
    assert list(champion) == ["calibration", "importance"] and list(challenger) == ["calibration", "gain_lift"]
    assert champion["calibration"].read_bytes() != challenger["calibration"].read_bytes()
    assert champion["calibration"].parent.parent == tmp_path / "v1"
    page = compare.plots_side_by_side(challenger, champion, ("challenger v2", "champion v1"))
    assert page.count("data:image/png;base64,") == 4
    assert page.index(">calibration<") < page.index(">gain_lift<") < page.index(">importance<")
    assert page.count("not logged") == 2  # gain_lift for v1, importance for v2
    assert 'alt="challenger v2: gain_lift"' in page


@pytest.mark.slow
def test_restore_champion_undoes_an_automatic_promotion(store):
    client = MlflowClient()
    before = compare.champion_state(NAME)
    assert before == compare.ChampionState(NAME, "1", None)
    assert compare.restore_champion(before) == "churn-test: champion unchanged (version 1)"
    registry.set_champion(client, NAME, "2")  # what train() does with a better challenger
    said = compare.restore_champion(before)
    assert said == "churn-test: champion put back to version 1 (training had moved it to version 2)"
    assert compare.champion_state(NAME) == before  # a later rollback has nowhere to go, as before
    # With a previous champion recorded, that record is what comes back.
    registry.set_champion(client, NAME, "2")
    registry.set_champion(client, NAME, "1")
    recorded = compare.champion_state(NAME)
    assert recorded == compare.ChampionState(NAME, "1", "2", "1,2")
    registry.set_champion(client, NAME, "2")
    compare.restore_champion(recorded)
    assert compare.champion_state(NAME) == recorded
    assert compare.champion_state("nope") == compare.ChampionState("nope", None, None)
