"""The service's parts without a model: tokens, settings, the ASGI gate, the audit log, request models, log redaction."""

from __future__ import annotations

import asyncio
import json
import logging
import os

import pytest
from pydantic import ValidationError

from features.errors import ConfigError
from serving.api import schemas as M
from serving.api.audit import AuditLog
from serving.api.auth import ApiGate, TokenCheck, fingerprint, load_tokens, parse_tokens

SECRET = "0123456789abcdef-secret"


def test_tokens_are_named_or_fingerprinted_and_checked():
    tokens = parse_tokens(f"crm:{SECRET}, # a comment\n  {SECRET}-two  ", "CHURN_API_TOKENS")
    assert [t.name for t in tokens] == ["crm", fingerprint(f"{SECRET}-two")]
    assert SECRET not in repr(tokens) and fingerprint(SECRET).startswith("token-") and SECRET not in fingerprint(SECRET)
    check = TokenCheck(tokens)
    assert check.caller(f"Bearer {SECRET}") == "crm"
    assert check.caller(f"bearer {SECRET}-two") == fingerprint(f"{SECRET}-two")
    for header in (None, "", "Bearer", f"Basic {SECRET}", f"Bearer {SECRET}x", "Bearer crm"):
        assert check.caller(header) is None, header


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("crm:short", "at least 16 characters"),
        (f"crm:{SECRET},crm:{SECRET}-2", "token name crm is given twice"),
        (f"bad name:{SECRET}", "token name 'bad name'"),
    ],
)
def test_bad_tokens_are_refused_by_name_never_by_secret(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_tokens(text, "CHURN_API_TOKENS")
    assert SECRET not in caught.value.message


def test_tokens_file(tmp_path):
    file = tmp_path / "tokens"
    file.write_text(f"# CRM and the data team\ncrm:{SECRET}\n\ndata:{SECRET}-data\n")
    assert [t.name for t in load_tokens(None, file)] == ["crm", "data"]
    with pytest.raises(ConfigError, match="CHURN_API_TOKENS_FILE .*: cannot be read"):
        load_tokens(None, tmp_path / "missing")


@pytest.fixture
def environment(monkeypatch):
    """Set the process environment's ``CHURN_API_*`` variables to those given (every other one removed)."""

    def given(variables: dict[str, str]) -> None:
        for key in [k for k in os.environ if k.startswith("CHURN_API_")]:
            monkeypatch.delenv(key)
        for key, value in variables.items():
            monkeypatch.setenv(key, value)

    return given


def test_settings_from_the_environment(environment):
    from serving.api.settings import ServiceSettings

    environment({"CHURN_API_TOKENS": f"crm:{SECRET}", "CHURN_API_MAX_BODY_BYTES": "1000", "OTHER": "x"})
    settings = ServiceSettings.from_env()
    assert settings.max_body_bytes == 1000 and settings.store == "duckdb:///data/scores.duckdb"
    assert SECRET not in repr(settings) and settings.token_check().caller(f"Bearer {SECRET}") == "crm"
    environment({"CHURN_API_TOKEN": f"crm:{SECRET}"})
    with pytest.raises(ConfigError, match="CHURN_API_TOKEN: not a setting of the service; known: .*CHURN_API_TOKENS"):
        ServiceSettings.from_env()
    environment({"CHURN_API_TOKENS": f"crm:{SECRET}", "CHURN_API_MAX_BODY_BYTES": "0"})
    with pytest.raises(ConfigError, match="CHURN_API_MAX_BODY_BYTES: Input should be greater than 0"):
        ServiceSettings.from_env()
    environment({"CHURN_API_TOKENS": f"crm:{SECRET}", "CHURN_API_BAND_MEDIUM": "0.7"})
    with pytest.raises(ConfigError, match="band cut-offs must increase"):
        ServiceSettings.from_env()


def test_no_token_refuses_to_start_unless_explicitly_open(environment):
    from serving.api.settings import ServiceSettings

    environment({})
    with pytest.raises(ConfigError, match="no API token configured: set CHURN_API_TOKENS"):
        ServiceSettings.from_env()
    environment({"CHURN_API_ALLOW_NO_AUTH": "true"})
    assert ServiceSettings.from_env().token_check() is None


def test_audit_log_appends_one_json_line_per_record(tmp_path):
    import datetime as dt

    log = AuditLog(tmp_path / "audit" / "api.jsonl")
    log.check()
    for rows in (3, 0):
        log.record(
            caller="crm", endpoint="lists/at_risk", request={"filters": {"bands": ["high"]}}, rows=rows, total=10,
            as_of=dt.date(2025, 8, 31), model_name="churn", model_version="4", service_models={"churn": "churn v4"},
            at=dt.datetime(2025, 9, 1, 8, 0),
        )  # fmt: skip
    lines = (tmp_path / "audit" / "api.jsonl").read_text().splitlines()
    assert [json.loads(line)["rows"] for line in lines] == [3, 0]
    assert json.loads(lines[0]) == {
        "time": "2025-09-01T08:00:00.000", "caller": "crm", "endpoint": "lists/at_risk", "request": {"filters": {"bands": ["high"]}},
        "rows": 3, "total": 10, "as_of": "2025-08-31", "model_name": "churn", "model_version": "4", "service_models": {"churn": "churn v4"},
    }  # fmt: skip
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="CHURN_API_AUDIT_LOG .*: cannot be appended to"):
        AuditLog(tmp_path / "file" / "api.jsonl").check()  # its directory is a file


class _Keeper:
    max_body_bytes = 100
    model_header = "churn=7"

    def __init__(self, ready: bool = True) -> None:
        self._ready = ready

    def caller(self, authorization):
        return TokenCheck(parse_tokens(f"crm:{SECRET}", "test")).caller(authorization)

    def ready(self):
        return self._ready


def _call(path: str, *, token: str | None = SECRET, body: bytes = b"{}", chunked: bool = False, keeper=None, status=200, answer=b"{}"):
    """Send one request through the gate to an app answering ``status``/``answer``; returns (status, headers, body, seen)."""
    seen = []

    async def app(scope, receive, send):
        message = await receive()
        seen.append((scope.get("state", {}).get("churn_caller"), message["body"]))
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})

    chunks = [body[i : i + 40] for i in range(0, len(body), 40)] if chunked else [body]
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return pending.pop(0)

    sent = []

    async def send(message):
        sent.append(message)

    headers = [] if chunked else [(b"content-length", str(len(body)).encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {"type": "http", "path": path, "method": "POST", "headers": headers}
    asyncio.run(ApiGate(app, keeper=lambda: keeper or _Keeper())(scope, receive, send))
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:]), seen


def test_gate_lets_health_through_and_needs_a_token_for_the_rest():
    assert _call("/readyz", token=None)[0] == 200
    assert _call("/metrics", token=None)[0] == 200
    status, headers, body, seen = _call("/score_users", token=None)
    assert (status, headers[b"www-authenticate"], seen) == (401, b"Bearer", [])
    assert _call("/score_users", token="wrong-secret-0000000")[0] == 401
    status, headers, _, seen = _call("/score_users")
    assert status == 200 and headers[b"x-churn-model"] == b"churn=7" and seen == [("crm", b"{}")]
    assert _call("/score_users", keeper=_Keeper(ready=False))[0] == 503


def test_gate_refuses_oversize_bodies_before_the_app_reads_them():
    big = json.dumps({"user_ids": list(range(50))}).encode()
    assert len(big) > _Keeper.max_body_bytes
    status, _, body, seen = _call("/score_users", body=big)
    assert status == 413 and seen == [] and b"limit of 100 bytes" in body
    status, _, _, seen = _call("/score_users", body=big, chunked=True)
    assert status == 413 and seen == []
    small = b'{"user_ids": [1, 2]}'
    status, _, _, seen = _call("/score_users", body=small, chunked=True)
    assert status == 200 and seen == [("crm", small)]  # a chunked body within the limit arrives whole


def test_gate_gives_error_bodies_one_shape():
    _, _, body, _ = _call("/x", status=404, answer=b'[{"error": "no snapshot"}]')
    assert json.loads(body) == {"error": "no snapshot"}
    detail = [{"type": "missing", "loc": ["rows", 0, "as_of"], "msg": "Field required", "url": "https://errors.pydantic.dev"}]
    _, _, body, _ = _call("/x", status=400, answer=json.dumps({"error": "1 validation error for X", "detail": detail}).encode())
    assert json.loads(body) == {"error": "invalid request: rows.0.as_of: Field required", "detail": [{"type": "missing", "loc": ["rows", 0, "as_of"], "msg": "Field required"}]}


def test_request_models_follow_the_contract_and_the_limits():
    with pytest.raises(ValidationError) as caught:
        M.RawScoreRequest.model_validate(
            {"as_of": "2025-08-31", "users": [{"user_id": 1, "signup_at": "2025-01-01T00:00:00"}],
             "orders": [{"order_id": 1, "user_id": 1, "ordered_at": "2025-02-01T00:00:00", "amount": -3, "status": "lost"}]}
        )  # fmt: skip
    assert {".".join(map(str, e["loc"])) for e in caught.value.errors()} == {"orders.0.amount", "orders.0.status"}
    with pytest.raises(ValidationError, match="users"):
        M.RawScoreRequest.model_validate({"as_of": "2025-08-31", "users": []})
    with pytest.raises(ValidationError, match="as_of"):
        M.ScoreFeaturesRequest.model_validate({"as_of": "2025-02-30", "rows": [{"user_id": 1}]})
    with pytest.raises(ValidationError, match="user_ids"):
        M.ScoreByIdRequest.model_validate({"user_ids": list(range(M.MAX_USER_IDS + 1))})
    row = M.FeatureRow.model_validate({"user_id": "u-1", "city_tier": 2, "orders_all": 3.0})
    assert (row.city_tier, row.orders_all, row.model_fields_set) == ("2", 3, {"user_id", "city_tier", "orders_all"})
    assert "maxItems" in json.dumps(M.ScoreFeaturesRequest.model_json_schema())


def test_logged_exceptions_lose_their_messages():
    from serving.api.errors import ApiError
    from serving.api.redact import RedactUserData

    def record(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException as e:
            import sys

            info = sys.exc_info()
            assert info[1] is e
        item = logging.LogRecord("bentoml", logging.ERROR, __file__, 1, "Exception on %s [%s]", ("/score_users", "POST"), info)
        RedactUserData().filter(item)
        return item

    internal = record(KeyError("user 4711 spend_90d=12.5"))
    assert "KeyError (message withheld" in internal.getMessage() and "4711" not in internal.getMessage() and internal.exc_info is None
    try:
        M.ScoreByIdRequest.model_validate({"user_ids": [{"secret": 4711}]})
    except ValidationError as e:
        invalid = record(e)
    assert "invalid request" in invalid.getMessage() and "user_ids.0" in invalid.getMessage() and "4711" not in invalid.getMessage()
    assert invalid.levelno == logging.INFO  # the client's mistake
    from http import HTTPStatus

    ours = record(ApiError("no churn feature snapshot", error_code=HTTPStatus.NOT_FOUND))
    assert ours.getMessage().endswith("404 no churn feature snapshot")
