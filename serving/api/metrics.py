"""The service's Prometheus metrics, labelled by route template only, so that no request can add a series.

BentoML's own metrics label every request by its raw path: 2,000 requests to
distinct unknown paths (each a 401) grew its ``/metrics`` from 143 KB to 7.7 MB.
The service therefore turns them off and counts here instead, in the gate
(:mod:`serving.api.auth`): a path that is not one of the service's routes is
counted as ``other``, and the status codes an HTTP server can send are a
bounded set, so the number of series is fixed by the code, not by the callers.

Exposed at ``GET /metrics`` in Prometheus' text format (version 0.0.4):
``churn_http_requests_total{route, status}``,
``churn_http_request_duration_seconds{route}`` (a histogram) and
``churn_http_requests_in_progress{route}``.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

OTHER = "other"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class RequestMetrics:
    """Request counts, durations and requests in progress per route template (thread-safe)."""

    def __init__(self, routes: frozenset[str]) -> None:
        self.routes = routes
        self._lock = threading.Lock()
        self._count: dict[tuple[str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sum: dict[str, float] = defaultdict(float)
        self._in_progress: dict[str, int] = defaultdict(int)

    def route(self, path: str) -> str:
        """The label of ``path``: itself when it is one of the service's routes, else ``other``."""
        return path if path in self.routes else OTHER

    def started(self, route: str) -> None:
        with self._lock:
            self._in_progress[route] += 1

    def finished(self, route: str, status: int, seconds: float) -> None:
        status = status if 100 <= status <= 599 else 0
        with self._lock:
            self._in_progress[route] -= 1
            self._count[(route, status)] += 1
            self._buckets[route][bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sum[route] += seconds

    def render(self) -> bytes:
        """Every series in Prometheus' text exposition format."""
        with self._lock:
            count, buckets, sums, progress = dict(self._count), {k: list(v) for k, v in self._buckets.items()}, dict(self._sum), dict(self._in_progress)
        lines = ["# HELP churn_http_requests_total HTTP requests by route template and status.", "# TYPE churn_http_requests_total counter"]
        lines += [f'churn_http_requests_total{{route="{r}",status="{s}"}} {n}' for (r, s), n in sorted(count.items())]
        lines += ["# HELP churn_http_request_duration_seconds HTTP request duration by route template.",
                  "# TYPE churn_http_request_duration_seconds histogram"]  # fmt: skip
        for route in sorted(buckets):
            total = 0
            for bound, n in zip((*BUCKETS, float("inf")), buckets[route], strict=True):
                total += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'churn_http_request_duration_seconds_bucket{{route="{route}",le="{le}"}} {total}')
            lines.append(f'churn_http_request_duration_seconds_sum{{route="{route}"}} {sums[route]:.6f}')
            lines.append(f'churn_http_request_duration_seconds_count{{route="{route}"}} {total}')
        lines += ["# HELP churn_http_requests_in_progress HTTP requests being answered, by route template.",
                  "# TYPE churn_http_requests_in_progress gauge"]  # fmt: skip
        lines += [f'churn_http_requests_in_progress{{route="{r}"}} {n}' for r, n in sorted(progress.items())]
        return ("\n".join(lines) + "\n").encode()
