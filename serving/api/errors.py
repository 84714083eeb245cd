"""The service's own errors, and how a project error reaches the client: its HTTP status and one-line message."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from http import HTTPStatus

from bentoml.exceptions import BentoMLException

from features.errors import ChurnError
from serving.errors import StoreBusy

__all__ = ["ApiError", "NotFound", "StoreBusy", "http_errors", "SERVER_ERROR_MESSAGE"]

# BentoML replaces the message of every 5xx with a generic one. The gate (serving.api.auth) puts a fresh
# dict here for each request; an expected 5xx (a busy store: 503) leaves its one line in it for the gate
# to answer with. The endpoint's thread sees the same dict: contextvars are copied into it, the dict shared.
SERVER_ERROR_MESSAGE: ContextVar[dict | None] = ContextVar("churn_server_error_message", default=None)


class NotFound(ChurnError):
    """What a request asks for does not exist (no snapshot, no published scores, no such model)."""

    exit_code = 3
    http_status = 404


class ApiError(BentoMLException):
    """A ChurnError on its way to the client: its status and one-line message."""


@contextlib.contextmanager
def http_errors() -> Iterator[None]:
    """Inside an endpoint: a ChurnError leaves as an ApiError with its status; anything else stays a 500."""
    try:
        yield
    except ChurnError as e:
        note = SERVER_ERROR_MESSAGE.get()
        if e.http_status >= 500 and note is not None:
            note["error"] = e.message
        raise ApiError(e.message, error_code=HTTPStatus(e.http_status)) from None
