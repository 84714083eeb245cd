"""The nightly dashboard end to end, opened in headless Chromium.

The service workspace's world (1,500 simulated users, the churn model trained and
registered in MLflow, the nightly scores of 2025-08-31) plus a second nightly run a
week earlier in a copy of its store; the CRM lists written by ``churn list``; the
page written by ``churn report nightly`` (real processes). Chromium opens the file:
every panel must be there with the numbers the store holds; screenshots at 1400 px and
at a laptop's 1280 x 800 are saved in the session's screenshot directory.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from serving.reports.page import PANELS

from chromium_page import Figures

AS_OF, BEFORE = "2025-08-31", "2025-08-24"
pytestmark = pytest.mark.slow


def _churn(cwd, env, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", "from serving.cli.app import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def night(service_workspace, tmp_path_factory):
    """A store with two nights, the lists of the second, and its dashboard written by the CLI."""
    from serving.batch.nightly import NightlyConfig, run_nightly
    from serving.batch.store import ScoreStore

    ws = service_workspace
    root = tmp_path_factory.mktemp("dashboard")
    shutil.copy(ws.store_url.removeprefix("duckdb:///"), root / "scores.duckdb")
    store = f"duckdb:///{root / 'scores.duckdb'}"
    with ws.mlflow():
        run_nightly(NightlyConfig(data=ws.data, as_of=BEFORE, store=store, features_dir=root / "features", activation_model=None,
                                  allow_drift=True), scored_at=dt.datetime(2025, 8, 25, 3, 0))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")} | {"MLFLOW_TRACKING_URI": ws.tracking_uri}
    lists = root / "lists"
    lists.mkdir()
    _churn(root, env, "list", "at-risk", "--as-of", AS_OF, "--store", store, "--out", str(lists / f"at-risk-{AS_OF}.csv"))
    _churn(root, env, "list", "coupons", "--as-of", AS_OF, "--store", store, "--budget", "2000", "--coupon-value", "20",
           "--out", str(lists / f"coupons-{AS_OF}.csv"))  # fmt: skip
    done = _churn(root, env, "report", "nightly", "--as-of", AS_OF, "--store", store, "--data", str(ws.data),
                  "--lists", str(lists), "--out", str(root / "reports"))  # fmt: skip
    page = root / "reports" / f"nightly-{AS_OF}.html"
    assert done.stdout.strip() == str(page)
    scores = ScoreStore(store)
    return page, scores.read("churn", dt.date.fromisoformat(AS_OF)), scores.read("churn", dt.date.fromisoformat(BEFORE)), lists


def test_every_panel_renders_in_chromium_with_the_stores_numbers(night, chromium, screenshots):
    page, tonight, before, lists = night
    dom = Figures(chromium.dump_dom(page.as_uri()))
    assert set(PANELS) <= set(dom.panels), set(PANELS) - set(dom.panels)
    f = dom.figures

    bands = tonight["risk_band"].astype(str).value_counts()
    previous = before["risk_band"].astype(str).value_counts()
    for band in ("high", "medium", "low"):
        assert f[f"band-{band}-users"] == f"{bands.get(band, 0):,}", band
        assert f[f"band-{band}-change"] in (f"{bands.get(band, 0) - previous.get(band, 0):+,}", "+0", "0")
    assert f["scored-users"] == f"{len(tonight):,}"

    was_high = set(before.loc[before["risk_band"] == "high", "user_id"])
    high_now = tonight.loc[tonight["risk_band"] == "high", "user_id"]
    assert f["newly-at-risk"] == f"{(~high_now.isin(was_high)).sum():,}"
    recovered = tonight["user_id"].isin(was_high) & (tonight["risk_band"] != "high")
    assert f["recovered"] == f"{recovered.sum():,}"

    gold = tonight[tonight["member_tier"] == "gold"]
    if len(gold):
        assert f["seg-member_tier-gold-users"] == f"{len(gold):,}"
        assert f["seg-member_tier-gold-high"] == f"{(gold['risk_band'] == 'high').sum():,}"
    assert f["reason-1"]  # the most common reason of the high band, in words

    coupons = pd.read_csv(lists / f"coupons-{AS_OF}.csv")
    assert f["list-coupons"] == f"{len(coupons):,}" and f["list-at-risk"] == f"{len(tonight):,}"
    assert f["coupon-cost"] == f"{coupons.loc[coupons['group'] == 'treatment', 'value'].sum():,.0f}"

    model = tonight["model_version"].iloc[0]
    assert f["model-version"] == f"churn v{model}" and f["tile-model"] == f"v{model}"
    assert f["quality-grade"].split(" of 100: ")[1] in ("excellent", "good", "fair", "poor")
    assert f["check-churn-row_count"] in ("ok", "warn") and f["check-churn-drift"] in ("ok", "warn", "allowed", "skipped")

    verdicts = {k: v for k, v in f.items() if k.startswith("verdict-")}
    assert verdicts and set(verdicts.values()) <= {"gain", "loss", "inconclusive", "unmeasured"}

    wide = chromium.screenshot(page.as_uri(), screenshots / f"nightly-{AS_OF}-1400.png", 1400, 2600)
    laptop = chromium.screenshot(page.as_uri(), screenshots / f"nightly-{AS_OF}-1280x800.png", 1280, 800)
    print(f"screenshots: {wide} {laptop}")


def test_the_page_fetches_nothing_from_the_network(night):
    text = night[0].read_text()
    assert "<script" not in text and "@import" not in text and "url(" not in text
    assert 'src="http' not in text and 'href="http' not in text
    assert "default-src 'none'" in text  # and the page forbids it anyway
