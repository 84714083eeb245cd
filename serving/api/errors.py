"""The service's own errors, and how a project error reaches the client: its HTTP status and one-line message."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from http import HTTPStatus

from bentoml.exceptions import BentoMLException

from features.errors import ChurnError
from serving.errors import StoreBusy

__all__ = ["ApiError", "NotFound", "StoreBusy", "http_errors"]


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
        raise ApiError(e.message, error_code=HTTPStatus(e.http_status)) from None
