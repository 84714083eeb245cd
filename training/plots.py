"""Evaluation charts as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.metrics import calibration_table, gain_curve


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def calibration_plot(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    """Observed rate vs mean prediction per probability bin, with each bin's user count and 95 % Wilson
    interval, above a histogram of the predictions (log scale: a thin tail of high risk stays visible)."""
    plt = _pyplot()
    table = calibration_table(y, p)
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.8, 7), gridspec_kw={"height_ratios": [3, 1.2]}, sharex=True)
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", label="perfect")
    err = np.vstack([table["observed"] - table["low"], table["high"] - table["observed"]])
    ax.errorbar(table["predicted"], table["observed"], yerr=err, marker="o", color="#1f77b4", capsize=3, label="model (95 % interval)")
    for _, row in table.iterrows():
        ax.annotate(f"n={int(row['n']):,}", (row["predicted"], row["observed"]), fontsize=7, xytext=(5, -11), textcoords="offset points")
    ax.set(ylabel="observed rate", title="Calibration (out of time)", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    hist.hist(p, bins=50, range=(0, 1), color="#4c72b0")
    hist.set_yscale("log")
    hist.set(xlabel="predicted probability", ylabel="users (log)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def backtest_plot(results: pd.DataFrame, path: Path, metrics: tuple[str, ...] = ("roc_auc", "pr_auc", "log_loss", "ece")) -> Path:
    """Each metric over the backtest's validation dates, one line per candidate (the model drawn thickest)."""
    plt = _pyplot()
    shown = [m for m in metrics if m in results.columns]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.8), squeeze=False)
    dates = pd.to_datetime(results["validation_date"])
    for ax, metric in zip(axes[0], shown, strict=True):
        for name, part in results.assign(_date=dates).groupby("candidate", sort=False):
            if part[metric].notna().any():
                model = name == "model"
                ax.plot(part["_date"], part[metric], marker="o", linewidth=2.6 if model else 1.2, label=name, zorder=3 if model else 2)
        ax.set(title=metric.replace("_", " "), xlabel="validation date")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle("Backtest: every candidate refitted at each date (out of time)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def gain_and_lift_plot(y: np.ndarray, scores: dict[str, np.ndarray], path: Path) -> Path:
    plt = _pyplot()
    fig, (gain, lift) = plt.subplots(1, 2, figsize=(11, 4.5))
    gain.plot([0, 1], [0, 1], color="#999", linestyle="--", label="random")
    for name, score in scores.items():
        curve = gain_curve(y, score)
        gain.plot(curve["share"], curve["captured"], label=name)
        lift.plot(curve["share"], curve["lift"], label=name)
    gain.set(xlabel="share of users targeted (highest risk first)", ylabel="share of churners captured", title="Gain")
    lift.axhline(1.0, color="#999", linestyle="--")
    lift.set(xlabel="share of users targeted", ylabel="lift over random", title="Lift", xlim=(0.01, 1))
    gain.legend(loc="lower right")
    lift.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def importance_plot(importance: pd.Series, path: Path, top: int = 20) -> Path:
    plt = _pyplot()
    data = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(data) + 1.2))
    ax.barh(data.index, data.to_numpy() / max(data.max(), 1e-12), color="#4c72b0")
    ax.set(xlabel="total gain (relative to the largest)", title=f"Global feature importance (top {len(data)})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def contribution_summary_plot(contrib: pd.DataFrame, values: pd.DataFrame, path: Path, top: int = 15, seed: int = 0) -> Path:
    """SHAP-style summary: each dot is a user; x is the feature's contribution (log-odds), colour its value."""
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    features = contrib.drop(columns=["baseline"]).abs().mean().sort_values(ascending=False).head(top).index[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(features) + 1.5))
    for i, name in enumerate(features):
        x = contrib[name].to_numpy()
        raw = values[name]
        if isinstance(raw.dtype, pd.CategoricalDtype):
            colour = raw.cat.codes.to_numpy(dtype=float)
        else:
            colour = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        rank = pd.Series(colour).rank(pct=True).to_numpy()
        ax.scatter(x, i + rng.uniform(-0.3, 0.3, len(x)), c=np.nan_to_num(rank, nan=0.5), cmap="coolwarm", s=6, alpha=0.6)
    ax.axvline(0, color="#999", linewidth=0.8)
    ax.set_yticks(range(len(features)), features)
    ax.set(xlabel="contribution to churn log-odds (right = more risk)", title="Per-user contributions (colour: feature value, blue low, red high)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
