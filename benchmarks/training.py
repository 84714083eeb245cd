"""Training benchmark: the early-warning churn model against the ground truth and every baseline, per backtest date.

Usage: python -m benchmarks.training [--users N] [--days D] [--seed S] [--dates K] [--rows R]

1. Simulates N users over D days (cached under benchmarks/.cache) and builds monthly churn snapshots at
   the simulator's month-ends (the dates with ground truth) under the default definition (a paid order
   in the last 180 days and a session in the last 30; churn = no paid order in the next 30 days).
2. Rolling-origin backtest on the last K month-ends: the model and every baseline (days since last
   order, logistic regression, LightGBM on RFM columns, BG/NBD) refitted at each date on what was known
   then; per date, ROC-AUC of each and the ratio of the model's to the true probabilities' ROC-AUC on
   the same users, and the model's ECE.
3. The same on an orders-only copy (users and orders tables; the population is every buyer of the last
   180 days): the model against BG/NBD.
4. The at-risk list: of the model's 1,000 highest-risk users on the last date, the share still active
   (an event in the last 7 and 30 days) and their share of churners.
5. With R > 0: the fit time on R rows (snapshot rows repeated, numbers jittered by 1 %) against a
   logistic regression on the same rows in the same run.
Targets (issue 13): ratio >= 0.97 on every date, ECE <= 0.02, the model above every baseline on every date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

TOP = 1000


def month_ends(data: Path, horizon_days: int, count: int) -> tuple[list[dt.date], dt.date]:
    """The last ``count`` ground-truth dates whose label window ends within the simulation, and "today"."""
    from features.simulator.run import MANIFEST

    manifest = json.loads((data / MANIFEST).read_text())
    dates = [dt.date.fromisoformat(d) for d in manifest["truth_dates"]]
    end = dt.date.fromisoformat(manifest["config"]["start"]) + dt.timedelta(days=int(manifest["config"]["days"]) - 1)
    usable = [d for d in dates if d + dt.timedelta(days=horizon_days) <= end]
    return usable[-count:], usable[-1] + dt.timedelta(days=horizon_days)


def truth_ratio(data: Path, valid, p) -> dict:
    from features.simulator.ground_truth import churn_truth
    from training.evaluate import truth_metrics

    return truth_metrics(valid, p, reference=lambda day: churn_truth(data, day))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dates", type=int, default=4, help="backtest dates (month-ends)")
    parser.add_argument("--rows", type=int, default=0, help="rows for the fit-time comparison (0: skip)")
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/.cache"))
    args = parser.parse_args(argv)

    import numpy as np
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from features.catalog import AS_OF, LABEL
    from features.labels import ORDERS_ONLY, ChurnDefinition, training_set
    from features.simulator.config import SimulationConfig
    from features.simulator.run import MANIFEST, simulate
    from features.validation import load_dataset
    from training import baselines, candidates
    from training.backtest import make_folds, run_backtest
    from training.estimator import ChurnClassifier

    console = Console(width=max(Console().width, 170))
    data = args.cache / f"training-users{args.users}-days{args.days}-seed{args.seed}"
    if not (data / MANIFEST).exists():
        with console.status(f"simulating {args.users:,} users over {args.days} days"):
            simulate(SimulationConfig(users=args.users, days=args.days, seed=args.seed), data, overwrite=True)
    dataset = load_dataset(data)
    tables = {n: dataset.table(n) for n in dataset.tables}
    definition = ChurnDefinition()
    # two training snapshots before the first validation date, so the first fold trains on two dates
    dates, today = month_ends(data, definition.horizon_days, args.dates + 2)
    build = lambda: ChurnClassifier(horizon_days=float(definition.horizon_days))  # noqa: E731

    def backtest(tables, definition, what):
        started = time.perf_counter()
        with console.status(f"{what}: {len(dates)} snapshots") as status:
            frame = training_set(tables, today, definition=definition, dates=dates, on_snapshot=lambda d: status.update(f"{what}: snapshot {d}"))
            folds = make_folds(sorted(frame[AS_OF].unique()), definition.horizon_days, args.dates, min_train_snapshots=2)
            pool = candidates.churn_candidates(build, definition, frame)
            scores: dict = {}

            def keep(candidate):  # the model's scores per date, for the ratio to the truth and the at-risk list
                def fit(train):
                    scorer = candidate.fit(train)

                    def score(valid):
                        out = scorer(valid)
                        scores[valid[AS_OF].iloc[0]] = (valid, out)
                        return out

                    return score

                return candidates.Candidate(candidate.name, fit, candidate.probabilities)

            pool = [keep(c) if c.name == candidates.MODEL else c for c in pool]
            results = run_backtest(frame, folds, pool, progress=lambda m: status.update(f"{what}: {m}"))
        return frame, results, scores, time.perf_counter() - started

    frame, results, scores, seconds = backtest(tables, definition, "early warning")
    wide = results.pivot(index="validation_date", columns="candidate", values="roc_auc")
    others = [c for c in wide.columns if c != candidates.MODEL]
    table = Table(title=f"early warning: {definition.describe()}; {args.users:,} users, {args.days} days, seed {args.seed}; backtest in {seconds:.0f} s")
    for col in ("date", "users", "truth AUC", "model AUC", "ratio", "model ECE", *others, "beats all"):
        table.add_column(col, justify="right")
    ratios, eces = [], []
    for date in wide.index:
        valid, p = scores[date]
        truth = truth_ratio(data, valid, p)
        ece = float(results[(results["validation_date"] == date) & (results["candidate"] == candidates.MODEL)]["ece"].iloc[0])
        ratios.append(truth.get("auc_ratio_to_truth", float("nan")))
        eces.append(ece)
        beats = all(wide.loc[date, candidates.MODEL] > wide.loc[date, o] for o in others)
        table.add_row(
            str(date), f"{len(valid):,}", f"{truth.get('truth_roc_auc', float('nan')):.4f}", f"{wide.loc[date, candidates.MODEL]:.4f}",
            f"{ratios[-1]:.3f}", f"{ece:.4f}", *(f"{wide.loc[date, o]:.4f}" for o in others), "yes" if beats else "NO",
        )  # fmt: skip
    console.print(table)
    means = wide.mean()
    console.print(
        "mean ROC-AUC: " + ", ".join(f"{candidates.LABELS.get(c, c)} {means[c]:.4f}" for c in wide.columns)
        + f"; ratio to truth {np.nanmean(ratios):.3f} (min {np.nanmin(ratios):.3f}; target >= 0.97); ECE mean {np.mean(eces):.4f}, max {np.max(eces):.4f} (target <= 0.02)"
    )

    last = max(scores)
    valid, p = scores[last]
    top = valid.assign(_p=p).nlargest(min(TOP, len(valid)), "_p")
    since = pd.to_numeric(top["days_since_last_event"], errors="coerce")
    console.print(
        f"at-risk list {last}: of the top {len(top):,} (of {len(valid):,} scored), {(since <= 7).mean():.1%} visited in the last 7 days, "
        f"{(since <= 30).mean():.1%} in the last 30; {top[LABEL].mean():.1%} churned (population {valid[LABEL].mean():.1%})"
    )

    orders_only = {n: t for n, t in tables.items() if n in ("users", "orders")}
    _, plain, _, seconds = backtest(orders_only, ORDERS_ONLY, "orders only")
    flat = plain.pivot(index="validation_date", columns="candidate", values="roc_auc")
    table = Table(title=f"orders-only copy (users and orders tables): {ORDERS_ONLY.describe()}; backtest in {seconds:.0f} s")
    for col in ("date", *flat.columns, "model - BG/NBD"):
        table.add_column(col, justify="right")
    for date in flat.index:
        table.add_row(str(date), *(f"{flat.loc[date, c]:.4f}" for c in flat.columns), f"{flat.loc[date, 'model'] - flat.loc[date, 'bgnbd']:+.4f}")
    console.print(table)
    console.print("orders-only mean ROC-AUC: " + ", ".join(f"{candidates.LABELS.get(c, c)} {v:.4f}" for c, v in flat.mean().items()))

    if args.rows > 0:
        train = frame[frame[AS_OF] < last].reset_index(drop=True)
        rng = np.random.default_rng(0)
        big = pd.concat([train] * int(np.ceil(args.rows / len(train))), ignore_index=True).head(args.rows)
        numeric = [c for c in big.columns if c not in ("user_id", "as_of", "label") and big[c].dtype.kind == "f"]
        big[numeric] = big[numeric] * rng.normal(1.0, 0.01, size=(len(big), len(numeric)))
        started = time.perf_counter()
        model = build().fit(big, big[LABEL], groups=big[AS_OF])
        lgb_seconds = time.perf_counter() - started
        started = time.perf_counter()
        baselines.logistic_baseline(big, big[LABEL].to_numpy())
        lr_seconds = time.perf_counter() - started
        console.print(
            f"fit on {len(big):,} rows: LightGBM + BG/NBD inputs + calibration {lgb_seconds:.1f} s ({model.best_iteration_} trees), "
            f"logistic regression {lr_seconds:.1f} s; ratio {lgb_seconds / lr_seconds:.1f}"
        )


if __name__ == "__main__":
    main()
