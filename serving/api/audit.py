"""The audit log of list pulls: one JSON line per list the API hands out, never any user data.

A record says who (the token's name, never the secret), when (UTC), which
endpoint, with which filter or policy and page, how many rows it returned of
how many, and from which scores (as-of date, model name and version) by which
service model. The file is opened in append mode for every record and
written with one ``write`` call, so records of concurrent workers do not
interleave and nothing earlier is ever rewritten; rotate it from outside
(move it away; the next record creates a new file).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

from features.errors import ConfigError

DEFAULT_AUDIT_LOG = Path("data/audit/api.jsonl")


class AuditLog:
    """Append-only JSON lines at ``path``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def check(self) -> None:
        """Create the directory and make sure a record can be appended (at start, not at the first pull)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        except OSError as e:
            raise ConfigError(f"CHURN_API_AUDIT_LOG {self.path}: cannot be appended to ({e.strerror})") from None

    def record(
        self,
        *,
        caller: str,
        endpoint: str,
        request: dict,
        rows: int,
        total: int,
        as_of: dt.date,
        model_name: str,
        model_version: str,
        service_models: dict[str, str],
        at: dt.datetime,
    ) -> dict:
        """Append one record and return it. ``request``: the filter or policy and the page, no user data."""
        entry = {
            "time": at.isoformat(timespec="milliseconds"),
            "caller": caller,
            "endpoint": endpoint,
            "request": request,
            "rows": rows,
            "total": total,
            "as_of": as_of.isoformat(),
            "model_name": model_name,
            "model_version": model_version,
            "service_models": service_models,
        }
        line = (json.dumps(entry, sort_keys=True, default=str, separators=(",", ":")) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry
