"""Risk bands and percentiles: how the CRM team reads a churn probability."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

LOW, MEDIUM, HIGH = "low", "medium", "high"
BANDS = (LOW, MEDIUM, HIGH)


class BandCutoffs(BaseModel):
    """``low`` below ``medium``, ``high`` from ``high`` up (probabilities of churning in the horizon)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    medium: float = Field(0.3, gt=0, lt=1)
    high: float = Field(0.6, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> BandCutoffs:
        if not self.medium < self.high:
            raise ValueError(f"band cut-offs must increase: medium {self.medium} < high {self.high}")
        return self


def risk_band(p: np.ndarray | pd.Series, cutoffs: BandCutoffs = BandCutoffs()) -> pd.Categorical:
    """The band of each probability: [0, medium) low, [medium, high) medium, [high, 1] high."""
    p = np.asarray(p, dtype=float)
    index = (p >= cutoffs.medium).astype(int) + (p >= cutoffs.high).astype(int)
    return pd.Categorical.from_codes(index, categories=list(BANDS))


def percentile(p: np.ndarray | pd.Series) -> np.ndarray:
    """Each score's percentile among all scores (100 = highest risk); ties share the highest rank."""
    return pd.Series(np.asarray(p, dtype=float)).rank(method="max", pct=True).mul(100).round(1).to_numpy()
