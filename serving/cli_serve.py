"""``churn serve``: start the HTTP service (see serving/service.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the service commands to the ``churn`` app."""
