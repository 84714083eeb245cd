"""The simulator's validated configuration."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_START = dt.date(2025, 1, 1)
HORIZON_DAYS = 30  # ground truth: P(no purchase in the next 30 days)
COUPON_VALID_DAYS = 14


class SimulationConfig(BaseModel):
    """What to simulate.

    users: number of users (pre-existing and signing up during the window).
    days: length of the simulated window; day 0 is ``start``.
    start: first simulated day (a date; nothing defaults to today).
    seed: the same seed and settings give byte-identical files.
    chunk_users: users simulated and written together; part of the output's
        identity (a different chunk size gives a different, equally valid, world).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: int = Field(5000, ge=1, le=50_000_000)
    days: int = Field(365, ge=31, le=1461)
    start: dt.date = DEFAULT_START
    seed: int = Field(0, ge=0)
    chunk_users: int = Field(50_000, ge=100, le=1_000_000)

    @property
    def end(self) -> dt.date:
        """The last simulated day (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)
