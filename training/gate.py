"""The promotion gate: absolute tests a challenger must pass, then the champion it must beat.

Each test gives a plain-words line; the challenger is promoted only when every one passes. The lines
go into the training report and the MLflow run's tags, so a data scientist can see why a model was
kept out. A grade in the spirit of Braze's "prediction quality" sits on top: 0 is random ranking, 100
perfect knowledge (the accuracy ratio of the gains curve, which equals 2 ROC-AUC - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

GRADES = ((60.0, "excellent"), (40.0, "good"), (20.0, "fair"), (0.0, "poor"))


class GateConfig(BaseModel):
    """What a challenger must achieve to be promoted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field("roc_auc", pattern="^(roc_auc|pr_auc)$")
    max_ece: float = Field(0.02, gt=0, le=1, description="expected calibration error on the latest backtest date")
    min_validation_rows: int = Field(1000, ge=1, description="users in the latest validation snapshot")
    min_validation_positives: int = Field(100, ge=1, description="of each label in the latest validation snapshot")
    max_calibration_auc_drop: float = Field(0.002, ge=0, description="ROC-AUC lost by calibrating")


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)


def quality_grade(roc_auc: float) -> tuple[float, str]:
    """(score 0-100, word) for a ROC-AUC: the accuracy ratio 2 AUC - 1 in percent, clipped at 0."""
    if roc_auc is None or not math.isfinite(roc_auc):
        return float("nan"), "unknown"
    score = max(0.0, min(100.0, 100.0 * (2.0 * roc_auc - 1.0)))
    word = next(w for floor, w in GRADES if score >= floor)
    return score, word


def absolute_checks(
    config: GateConfig,
    *,
    backtest_means: dict[str, float],
    model: str,
    ece: float,
    ece_floor: float = 0.0,
    validation_rows: int,
    validation_positives: int,
    validation_negatives: int,
    auc_before_calibration: float,
    auc_after_calibration: float,
) -> list[Check]:
    """The tests that do not involve the champion.

    backtest_means: mean of ``config.metric`` over the backtest dates, per candidate (the model and every baseline).
    ece_floor: the calibration error a perfectly calibrated model would still show on this many users
    (:func:`training.metrics.ece_noise_floor`); the target is the larger of it and ``config.max_ece``.
    """
    checks = []
    own = backtest_means[model]
    for other, value in backtest_means.items():
        if other == model:
            continue
        beaten = own > value
        checks.append(
            Check(
                f"beats {other}",
                beaten,
                f"backtest mean {config.metric} {own:.4f} {'>' if beaten else '<='} {other} {value:.4f}",
            )
        )
    target = max(config.max_ece, ece_floor)
    calibrated = ece <= target
    if ece_floor > config.max_ece:
        said = f"{target:.4f} (the noise floor on these users, above the target {config.max_ece:.3f})"
    else:
        said = f"{target:.3f}"
    checks.append(Check("calibrated", calibrated, f"expected calibration error {ece:.4f} {'<=' if calibrated else '>'} {said}"))
    enough = validation_rows >= config.min_validation_rows
    checks.append(Check("enough validation users", enough, f"{validation_rows:,} users (at least {config.min_validation_rows:,})"))
    fewest = min(validation_positives, validation_negatives)
    both = fewest >= config.min_validation_positives
    checks.append(
        Check(
            "both outcomes seen",
            both,
            f"{validation_positives:,} positive and {validation_negatives:,} negative (at least {config.min_validation_positives:,} of each)",
        )
    )
    drop = auc_before_calibration - auc_after_calibration
    kept = drop <= config.max_calibration_auc_drop + 1e-12
    checks.append(
        Check(
            "calibration keeps the ranking",
            kept,
            f"ROC-AUC {auc_before_calibration:.4f} before and {auc_after_calibration:.4f} after calibrating "
            f"(drop {drop:.4f}, at most {config.max_calibration_auc_drop:.3f})",
        )
    )
    return checks


def decide(checks: list[Check], *, challenger: float, champion: float | None, champion_version: str | None, metric: str) -> GateDecision:
    """Promote only when every absolute check passes and the challenger beats the champion on the same rows."""
    all_checks = list(checks)
    if champion is not None:
        beaten = challenger > champion
        all_checks.append(
            Check(
                f"beats champion v{champion_version}",
                beaten,
                f"{metric} {challenger:.4f} {'>' if beaten else '<='} {champion:.4f} on the same validation users",
            )
        )
    failed = [c for c in all_checks if not c.passed]
    if failed:
        reason = "not promoted: " + "; ".join(f"{c.name} failed ({c.detail})" for c in failed)
        return GateDecision(False, reason, tuple(all_checks))
    if champion is None:
        return GateDecision(True, f"promoted: passed every check, and there was no champion yet ({metric} {challenger:.4f})", tuple(all_checks))
    return GateDecision(True, f"promoted: passed every check and beats champion v{champion_version} ({metric} {challenger:.4f} > {champion:.4f})", tuple(all_checks))
