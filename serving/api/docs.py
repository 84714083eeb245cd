"""This service's own API docs and the pages it serves: the OpenAPI description, a docs page, the dashboard.

:class:`ServicePages` is an ASGI middleware placed inside the token gate
(:class:`serving.api.auth.ApiGate`), so the gate decides who gets what:

* ``GET /docs.json``: BentoML's generated OpenAPI document with this service's
  title, version, contact and description, the bearer scheme declared (so that
  "Try it out" sends the token given under "Authorize"), and an example request
  for every endpoint (:func:`service_openapi`);
* ``GET /``: a Swagger UI page using the Swagger UI files the BentoML package
  ships (served by the service under ``/static_content/``): no script, style or
  font is fetched from another host;
* ``GET /reports/nightly/DATE`` (or ``/reports/nightly/latest``): the nightly
  dashboard of that scoring date (:mod:`serving.reports`), read from the
  service's ``reports_dir``. Behind the token like every other non-docs path.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from features import contract as C
from serving.api.auth import OPEN_PATHS
from features.catalog import FEATURES, FeatureKind

TITLE = "Churn and retention API"
CONTACT = {"name": "CRM data team: the churn and retention service"}
DESCRIPTION = """Churn and activation scores of the platform's users, and the CRM team's lists built from the nightly scores.

* **Scores**: by user id from the latest nightly feature snapshot (`/score_users`), from feature rows (`/score_features`),
  or from a user's raw recent rows (`/score_raw`), with the nightly job's own feature definitions and models.
* **Lists**: at-risk users, the retention coupon campaign (budget, callbacks, seeded control group) and the activation
  campaign, from the published scores of a date; every row carries `as_of`, `model_name`, `model_version`, `generated_at`.
* **Dashboard**: `GET /reports/nightly/DATE` (or `latest`) returns the CRM team's nightly page.

Every endpoint needs `Authorization: Bearer <token>` (press **Authorize** and paste the token);
`/livez`, `/readyz`, `/metrics` and these docs are open. Errors are `{"error": ..., "detail": ...}` with a 4xx status.
"""
BEARER = "bearerToken"
REPORTS_ROUTE = "/reports/nightly/"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def service_version() -> str:
    """The installed version of this project (the package ``churn-retention``)."""
    try:
        return metadata.version("churn-retention")
    except metadata.PackageNotFoundError:
        return "unknown"


def _column_example(spec: C.ColumnSpec, row: int) -> Any:
    if spec.allowed:
        return spec.allowed[0]
    if spec.kind is C.Kind.ID:
        return 1455 if spec.name == C.Users.USER_ID or spec.references else 90_000 + row
    if spec.kind is C.Kind.TIMESTAMP:
        return "2025-08-20T10:30:00"
    if spec.kind is C.Kind.INTEGER:
        return int(spec.max_value or 1)
    if spec.kind is C.Kind.NUMBER:
        return max(float(spec.min_value or 0.0), 49.9)
    return "app" if spec.kind is C.Kind.CATEGORY else "example"


def _raw_example() -> dict:
    """One user's rows: the users row and one row of every other table, required columns only."""
    tables = {}
    for i, (name, table) in enumerate(C.TABLES.items()):
        tables[name] = [{s.name: _column_example(s, i) for s in table.columns if s.required and not s.nullable}]
    return {"as_of": "2025-08-31", **tables}


def request_examples() -> dict[str, dict]:
    """An example request body for every endpoint that takes one (route -> JSON body)."""
    numbers = [f.name for f in FEATURES if f.kind in (FeatureKind.COUNT, FeatureKind.NUMBER)][:3]
    return {
        "/score_users": {"user_ids": [1455, 1456]},
        "/score_features": {"as_of": "2025-08-31", "rows": [{"user_id": 1455, **{name: 3 for name in numbers}}]},
        "/score_raw": _raw_example(),
        "/lists/at_risk": {"as_of": "2025-08-31", "filters": {"bands": ["high"], "member_tier": ["gold"]}, "limit": 50},
        "/lists/coupons": {"as_of": "2025-08-31", "policy": {"campaign_id": "winback-2025-09", "budget": 5000, "coupon_value": 20},
                           "limit": 100},  # fmt: skip
        "/lists/activation": {"as_of": "2025-08-31", "policy": {"campaign_id": "welcome-2025-09", "top": 500}},
    }


def service_openapi(generated: dict) -> dict:
    """BentoML's generated OpenAPI document (not modified) as this service's: info, bearer scheme, examples."""
    spec = copy.deepcopy(generated)
    spec["info"] = {"title": TITLE, "version": service_version(), "contact": CONTACT, "description": DESCRIPTION}
    spec.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER] = {
        "type": "http", "scheme": "bearer", "description": "a token of CHURN_API_TOKENS (NAME:SECRET: paste the SECRET)",
    }  # fmt: skip
    spec["security"] = [{BEARER: []}]
    examples = request_examples()
    for route, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            if route in OPEN_PATHS:
                operation["security"] = []  # health and metrics need no token
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and route in examples:
                body["example"] = examples[route]
    spec.setdefault("paths", {})[REPORTS_ROUTE + "{date}"] = {
        "get": {
            "tags": ["Reports"],
            "summary": "The nightly dashboard of a scoring date (HTML)",
            "description": "One self-contained page: bands, segments, reasons, movers, lists, checks, model, campaign readouts.",
            "parameters": [{"name": "date", "in": "path", "required": True, "schema": {"type": "string"},
                            "example": "latest", "description": "YYYY-MM-DD, or latest"}],  # fmt: skip
            "responses": {"200": {"description": "the page", "content": {"text/html": {}}}, "404": {"description": "no page for that date"}},
        }
    }
    return spec


def docs_page() -> str:
    """The docs page: Swagger UI from the service's own ``/static_content/`` files, reading ``./docs.json``."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="./static_content/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="./static_content/swagger-ui-bundle.js"></script>
<script src="./static_content/swagger-ui-standalone-preset.js"></script>
<script>
window.onload = function () {{
  // validatorUrl null: Swagger UI would otherwise fetch a badge from an outside validator.
  window.ui = SwaggerUIBundle({{ url: "./docs.json", dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout" }});
}};
</script></body></html>
"""


def dashboard_file(reports_dir: Path, name: str) -> Path | None:
    """The page of ``name`` (YYYY-MM-DD or ``latest``) in ``reports_dir``, or None when there is none."""
    if name == "latest":
        pages = sorted(Path(reports_dir).glob("nightly-????-??-??.html"))
        return pages[-1] if pages else None
    if not _DATE.match(name):
        return None
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        return None
    path = Path(reports_dir) / f"nightly-{name}.html"
    return path if path.is_file() else None


async def _send(send, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ServicePages:
    """ASGI middleware serving the docs and the dashboard (module docstring); everything else passes on.

    openapi: returns BentoML's generated document; reports_dir: the running service's directory of pages.
    """

    def __init__(self, app: Callable, openapi: Callable[[], dict], reports_dir: Callable[[], Path | None]) -> None:
        self.app, self.openapi, self.reports_dir = app, openapi, reports_dir

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == "/docs.json":
            await _send(send, 200, json.dumps(service_openapi(self.openapi())).encode(), "application/json")
        elif path == "/":
            await _send(send, 200, docs_page().encode(), "text/html; charset=utf-8")
        elif path.startswith(REPORTS_ROUTE):
            name = path.removeprefix(REPORTS_ROUTE)
            directory = self.reports_dir()
            page = dashboard_file(directory, name) if directory is not None else None
            if page is None:
                known = sorted(p.stem.removeprefix("nightly-") for p in Path(directory or ".").glob("nightly-*.html"))[-3:]
                message = {"error": f"no nightly dashboard for {name!r}", "detail": f"expected YYYY-MM-DD or latest; latest pages: {', '.join(known) or 'none'}"}
                await _send(send, 404, json.dumps(message).encode(), "application/json")
            else:
                await _send(send, 200, page.read_bytes(), "text/html; charset=utf-8")
        else:
            await self.app(scope, receive, send)
