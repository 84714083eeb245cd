"""The nightly job's checks before anything is published: the row count against the previous run, and drift.

Each check returns a plain dict stored with the run (``status``, ``message`` and
its figures). ``status`` is one of ok, warn, fail, allowed (a failure let
through by the operator) and skipped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.models import LoadedModel
from training import drift

OK, WARN, FAIL, ALLOWED, SKIPPED = "ok", "warn", "fail", "allowed", "skipped"


def row_count_check(rows: int, previous: int | None, max_drop: float) -> dict:
    """Whether ``rows`` is acceptable after a previous run of ``previous`` rows."""
    if previous is None or previous == 0:
        return {"status": OK, "rows": rows, "previous": previous, "message": f"{rows} rows (no previous run)"}
    drop = 1 - rows / previous
    status = OK if drop <= max_drop else FAIL
    message = f"{rows} rows vs {previous} in the previous run ({-drop:+.0%}; a drop over {max_drop:.0%} fails)"
    return {"status": status, "rows": rows, "previous": previous, "message": message}


def drift_check(
    model: LoadedModel,
    features: pd.DataFrame,
    score: np.ndarray,
    *,
    psi_warn: float,
    psi_fail: float,
    allow_drift: bool = False,
    ignore: tuple[str, ...] = (),
) -> dict:
    """Population stability of the features and the score against the model's training rows.

    Over ``psi_fail`` fails (allowed with ``allow_drift``), over ``psi_warn`` warns; features in
    ``ignore`` are computed and stored but judge nothing.
    """
    reference = getattr(model.model, "reference_", None)
    if not reference:
        return {"status": SKIPPED, "message": f"{model.name} v{model.version} has no training profile; drift not checked"}
    if len(features) < drift.MIN_ROWS:
        return {"status": SKIPPED, "message": f"{model.name}: {len(features)} rows, too few for a stable PSI (at least {drift.MIN_ROWS})"}
    values = drift.stability(reference, features, score)
    worst = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    judged = [(n, v) for n, v in worst if n not in ignore]
    over_fail = [(n, v) for n, v in judged if v > psi_fail]
    over_warn = [(n, v) for n, v in judged if psi_warn < v <= psi_fail]
    top = ", ".join(f"{n} {v:.2f}" for n, v in (over_fail or over_warn)[:3])
    more = len(over_fail or over_warn) - 3
    listed = f"{top}{f' and {more} more' if more > 0 else ''}"
    if over_fail:
        status = ALLOWED if allow_drift else FAIL
        message = f"{model.name}: population stability index over {psi_fail} for {listed}"
    elif over_warn:
        status = WARN
        message = f"{model.name}: population stability index over {psi_warn} for {listed}"
    else:
        status = OK
        message = f"{model.name}: every PSI at most {psi_warn} (largest {judged[0][0]} {judged[0][1]:.3f})"
    psi = {n: round(v, 6) for n, v in worst}
    return {"status": status, "message": message, "psi": psi, "ignored": [n for n in ignore if n in psi]}
