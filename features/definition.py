"""What churn means, as the marketer chooses it: a validated definition, light enough for the CLI to import.

:mod:`features.labels` builds the populations and labels it describes; this module holds only the
settings, their defaults (defined once) and their file form (task.json beside a model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.errors import ConfigError

CHURN = "churn"
DEFAULT_LOOKBACK_DAYS = 180
DEFAULT_HORIZON_DAYS = 30
DEFAULT_SESSION_DAYS = 30
EVENT_ORDER = "order"
EVENT_SESSION = "session"
CHURN_EVENTS = (EVENT_ORDER, EVENT_SESSION)
DEFINITION_FILE = "task.json"


class ChurnDefinition(BaseModel):
    """What churn means: who is scored, and the event whose absence over the horizon is churn.

    order_days: the population made a paid (or refunded) order in ``(as_of - order_days, as_of]``;
    session_days: and had a session (any event) in ``(as_of - session_days, as_of]``; None: no
    session needed (orders-only data); event: ``order`` (no paid order) or ``session`` (no event)
    in ``(as_of, as_of + horizon_days]`` is churn.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_days: int = Field(DEFAULT_LOOKBACK_DAYS, ge=1, le=3650)
    session_days: int | None = Field(DEFAULT_SESSION_DAYS, ge=1, le=3650)
    event: Literal["order", "session"] = EVENT_ORDER
    horizon_days: int = Field(DEFAULT_HORIZON_DAYS, ge=1, le=365)

    @model_validator(mode="after")
    def _session_window_fits(self) -> ChurnDefinition:
        if self.session_days is not None and self.session_days > self.order_days:
            raise ValueError(
                f"session_days ({self.session_days}) must not exceed order_days ({self.order_days}): "
                "the population is users still active, a session window longer than the order window keeps lapsed buyers"
            )
        return self

    def describe(self) -> str:
        """One line for reports: the population and the label."""
        who = f"a paid order in the last {self.order_days} days"
        if self.session_days is not None:
            who += f" and a session in the last {self.session_days} days"
        what = "no paid order" if self.event == EVENT_ORDER else "no session"
        return f"users with {who}; churn = {what} in the next {self.horizon_days} days"

    def needs_events(self) -> bool:
        return self.session_days is not None or self.event == EVENT_SESSION

    def save(self, directory: Path) -> Path:
        """Write the definition as ``task.json`` in ``directory``."""
        path = Path(directory) / DEFINITION_FILE
        path.write_text(json.dumps({"task": CHURN, "definition": self.model_dump()}, indent=1))
        return path

    @classmethod
    def load(cls, directory: Path) -> ChurnDefinition | None:
        """The definition in ``directory/task.json``, or None when there is none (a model saved before definitions)."""
        path = Path(directory) / DEFINITION_FILE
        if not path.is_file():
            return None
        try:
            return cls(**json.loads(path.read_text())["definition"])
        except (ValueError, KeyError, TypeError, ValidationError) as e:
            raise ConfigError(f"{path}: not a churn definition ({str(e).splitlines()[0]})") from None


ORDERS_ONLY = ChurnDefinition(session_days=None)  # for data without an events table


def definition_from(
    *, order_days: int = DEFAULT_LOOKBACK_DAYS, session_days: int | None = DEFAULT_SESSION_DAYS, event: str = EVENT_ORDER, horizon_days: int = DEFAULT_HORIZON_DAYS
) -> ChurnDefinition:
    """A validated definition from plain values (the CLI's options); ConfigError naming the bad field and what is allowed."""
    try:
        return ChurnDefinition(order_days=order_days, session_days=session_days, event=event, horizon_days=horizon_days)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "definition"
        allowed = f" (allowed: {', '.join(CHURN_EVENTS)})" if field == "event" else ""
        raise ConfigError(f"churn definition {field}: {first['msg']}{allowed}") from None
