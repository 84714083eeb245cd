"""Reading a simulated dataset's ground truth: what the simulator knew that no model can see.

For code that knows its dataset was simulated (the ``churn`` command, the
benchmarks, the notebooks) and wants to compare a model with the best possible
one. Production code never imports this module: training takes the reference
probabilities as a plain function (see :func:`training.pipeline.train`).

``folder`` is the dataset's directory as :func:`features.simulator.run.simulate`
wrote it; the truth lives in its ``truth/`` subdirectory and the simulated
settings in its manifest.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from features.catalog import USER_ID
from features.errors import ConfigError
from features.simulator.config import HORIZON_DAYS
from features.simulator.run import AS_OF, MANIFEST, P_CHURN, TRUTH_CHURN, TRUTH_DIR


def churn_truth(folder: Path, as_of: dt.date, horizon_days: int = 30) -> pd.DataFrame | None:
    """Columns user_id, p_churn for every user the simulator scored at as_of; None when the folder holds no truth for that date and horizon.

    p_churn: the true probability that the user makes no purchase in the
    ``horizon_days`` days after the end of day ``as_of`` (UTC), given
    everything the simulator knew at that moment. The simulator records it at
    month-ends for its own horizon only (30 days).
    """
    if horizon_days != HORIZON_DAYS:
        return None
    path = Path(folder) / TRUTH_DIR / f"{TRUTH_CHURN}.parquet"
    if not path.is_file():
        return None
    truth = pd.read_parquet(path, columns=[USER_ID, AS_OF, P_CHURN], filters=[(AS_OF, "=", as_of)])
    if truth.empty:
        return None
    return truth[[USER_ID, P_CHURN]].reset_index(drop=True)


def training_day(folder: Path, horizon_days: int = HORIZON_DAYS) -> dt.date:
    """The ``as_of`` to train on so that the validation snapshot (``as_of - horizon_days``) is the last date with truth.

    Reads the simulation manifest; ConfigError for a folder without one (real
    data has no such day: pass the training date explicitly).
    """
    path = Path(folder) / MANIFEST
    try:
        dates = json.loads(path.read_text())["truth_dates"]
    except (OSError, ValueError, KeyError):
        raise ConfigError(f"{path}: no simulation manifest with truth_dates; give the training date explicitly") from None
    if not dates:
        raise ConfigError(f"{path}: the simulation has no ground-truth dates (too few days); give the training date explicitly")
    return dt.date.fromisoformat(dates[-1]) + dt.timedelta(days=horizon_days)
