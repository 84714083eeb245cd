"""Recommended first categories for new users: hit rate against the baselines, out of time.

Usage: python -m benchmarks.recommender [--users N] [--days D] [--seed S] [--data DIR]

Simulates N users over D days from 2025-01-01 (cached under benchmarks/.cache; or reads
--data), builds weekly snapshots of new users without a purchase (signed up in the 14 days
before) labelled with the category of a first purchase in the next 30 days: training
snapshots every week from day 60 to day D - 120, test snapshots every week from day D - 90
to day D - 30, so every test window starts after every training window ends (strictly out
of time). Prints the hit rate of the true first category in the top 3, overall and by how
much the user browsed, for the model, the popularity baseline and the most-browsed
baseline, the ratio of the model's to popularity's, and the fit and scoring time against
the popularity baseline's in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

START = dt.date(2025, 1, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=None, help="a simulated dataset to read instead of simulating")
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/.cache"))
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from features.first_purchase import EVENTS_TOTAL, FIRST_CATEGORY
    from features.simulator.config import SimulationConfig
    from features.simulator.run import MANIFEST, simulate
    from features.validation import load_dataset
    from training.recommender import CategoryRecommender, MostBrowsedRecommender, PopularityRecommender, hit_rates, recommendation_snapshots

    console = Console(width=max(Console().width, 110))
    data = args.data or args.cache / f"recommender-users{args.users}-days{args.days}-seed{args.seed}"
    if args.data is None and not (data / MANIFEST).exists():
        with console.status(f"simulating {args.users:,} users"):
            simulate(SimulationConfig(users=args.users, days=args.days, seed=args.seed, start=START), data, overwrite=True)
    dataset = load_dataset(data)
    tables = {n: dataset.table(n) for n in dataset.tables}
    first, last = START + dt.timedelta(days=60), START + dt.timedelta(days=args.days - 1)
    train_dates = [first + dt.timedelta(days=7 * i) for i in range(((last - first).days - 120) // 7 + 1)]
    test_dates = [last - dt.timedelta(days=90 - 7 * i) for i in range(9)]
    with console.status("building snapshots"):
        train = recommendation_snapshots(tables, train_dates)
        test = recommendation_snapshots(tables, test_dates)
    console.print(
        f"{data}: {len(train):,} training rows ({train_dates[0]} .. {train_dates[-1]}, {len(train_dates)} weekly snapshots), "
        f"{len(test):,} test rows ({test_dates[0]} .. {test_dates[-1]})"
    )
    models = {"model": CategoryRecommender(), "popularity": PopularityRecommender(), "most browsed": MostBrowsedRecommender()}
    recommended, seconds = {}, {}
    for name, model in models.items():
        started = time.perf_counter()
        model.fit(train, train[FIRST_CATEGORY])
        recommended[name] = model.recommend(test)
        seconds[name] = time.perf_counter() - started
    table = hit_rates(recommended, test[FIRST_CATEGORY], test[EVENTS_TOTAL])
    out = Table(title="hit rate of the first category bought in the top 3 (out of time)")
    out.add_column("recommender")
    for column in table.columns:
        out.add_column(column, justify="right")
    out.add_column("fit + recommend", justify="right")
    for name, row in table.iterrows():
        if name == "users":
            out.add_row("users", *(f"{int(v):,}" for v in row), "")
        else:
            out.add_row(name, *(f"{v:.3f}" for v in row), f"{seconds[name]:.2f} s")
    console.print(out)
    ratio = table.loc["model", "all"] / table.loc["popularity", "all"]
    console.print(
        f"model / popularity hit rate: {ratio:.2f}x; model / most browsed: {table.loc['model', 'all'] / table.loc['most browsed', 'all']:.2f}x; "
        f"prior strength chosen: {models['model'].prior_strength_:g}; time model / popularity: {seconds['model'] / seconds['popularity']:.0f}x"
    )


if __name__ == "__main__":
    main()
