"""Logging without user data: logged exceptions keep where and what, never a request's values.

A message may quote a request value (a user id, a feature value); the
project's own errors (ChurnError, answered as 4xx) never do, so they are kept.
"""

from __future__ import annotations

import logging
import traceback

from pydantic import ValidationError

from serving.api.errors import ApiError


class RedactUserData(logging.Filter):
    """Logged exceptions without their messages: validation errors say where, other errors keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        exc = record.exc_info[1]
        if isinstance(exc, ValidationError) or (isinstance(exc, ApiError) and exc.error_code.value < 500):
            record.levelno, record.levelname = logging.INFO, "INFO"  # the client's mistake, answered with a 4xx
        if isinstance(exc, ValidationError):
            where = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors()[:10])
            record.msg = f"{record.getMessage()}: invalid request ({exc.error_count()} errors at {where})"
        elif isinstance(exc, ApiError):
            record.msg = f"{record.getMessage()}: {exc.error_code.value} {exc.message}"
        else:
            frames = "".join(traceback.format_tb(exc.__traceback__))
            record.msg = f"{record.getMessage()}\nTraceback (most recent call last):\n{frames}{type(exc).__name__} (message withheld: it may quote request data)"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


def bentoml_request_loggers() -> tuple[str, ...]:
    """The loggers through which BentoML logs a failed request's exception (with its message).

    BentoML offers no public hook to filter what it logs about a request (its logging guide
    documents the access log only), so the filter goes on the loggers of the modules that log
    them, named inside BentoML's private packages (``bentoml._internal``, ``_bentoml_impl``):
    they may change in any release. Kept here alone; tests/serving/api/test_redact.py fails
    when a module that handles requests logs through another logger.
    """
    return ("bentoml._internal.server.http_app", "bentoml.serve")


def install_redaction() -> None:
    """Attach :class:`RedactUserData` to BentoML's request loggers (once; safe to call again)."""
    for name in bentoml_request_loggers():
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactUserData) for f in logger.filters):
            logger.addFilter(RedactUserData())
