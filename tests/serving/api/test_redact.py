"""The log filter sits on the loggers BentoML really logs requests with (a private detail of BentoML: checked here)."""

from __future__ import annotations

import importlib
import logging

import pytest

from serving.api.redact import RedactUserData, bentoml_request_loggers, install_redaction

# BentoML's modules that log a failed request's exception, and the module attribute holding their logger.
REQUEST_MODULES = ("bentoml._internal.server.http_app", "_bentoml_impl.server.app", "_bentoml_sdk.service.factory")


@pytest.mark.parametrize("module", REQUEST_MODULES)
def test_bentoml_logs_requests_through_the_filtered_loggers(module):
    logger = getattr(importlib.import_module(module), "logger", None)
    assert isinstance(logger, logging.Logger), f"{module} has no module logger any more: find where BentoML logs requests now"
    assert logger.name in bentoml_request_loggers(), f"{module} logs through {logger.name!r}, which is not redacted"


def test_installing_twice_adds_one_filter():
    install_redaction()
    install_redaction()
    for name in bentoml_request_loggers():
        assert sum(isinstance(f, RedactUserData) for f in logging.getLogger(name).filters) == 1
