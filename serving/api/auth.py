"""Who may call the API, and the gate every request passes before the service sees it.

Tokens: ``CHURN_API_TOKENS`` (comma-separated) or the file named by
``CHURN_API_TOKENS_FILE`` (one per line, ``#`` comments). An entry is
``NAME:SECRET`` or a bare ``SECRET``; the caller recorded in the audit log is
NAME, or ``token-`` plus the first 10 hex digits of the secret's SHA-256 for
a bare secret. The secret itself is never logged or stored.

:class:`ApiGate` is a plain ASGI middleware (``Service.add_asgi_middleware``),
in this order:

0. every request is counted by route template (:mod:`serving.api.metrics`),
   and ``/metrics`` is answered here;
1. health, metrics and the API docs are open (``OPEN_PATHS``, ``DOCS_PATHS``);
2. every other request needs ``Authorization: Bearer <secret>`` matching a
   configured token (compared as SHA-256 digests in constant time), else 401;
3. while the service warms up, 503 with ``Retry-After``;
4. a body over the byte limit is refused with 413 before anything reads it:
   by its ``Content-Length``, or while it streams when there is none;
5. every response carries ``X-Churn-Model`` (the models the service started
   with), error bodies are one JSON object ``{"error": ..., "detail": ...}``,
   and every 503 (warming up, a publish holding the score store) has ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from features.errors import ConfigError
from serving.api.errors import SERVER_ERROR_MESSAGE
from serving.api.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from serving.api.metrics import RequestMetrics

MIN_SECRET_LENGTH = 16
METRICS_PATH = "/metrics"
OPEN_PATHS = frozenset({"/livez", "/healthz", "/readyz", METRICS_PATH})
DOCS_PATHS = frozenset({"/", "/docs.json", "/schema.json"})
DOCS_PREFIXES = ("/static_content/", "/assets/")
CALLER_KEY = "churn_caller"  # where the gate leaves the caller's name in the ASGI scope's state
MODEL_HEADER = b"x-churn-model"
RETRY_AFTER = b"1"  # seconds, on every 503
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class ApiToken:
    name: str
    secret: str = field(repr=False)


def fingerprint(secret: str) -> str:
    """The name of a token given without one: not reversible, stable across restarts."""
    return "token-" + hashlib.sha256(secret.encode()).hexdigest()[:10]


def parse_tokens(text: str, source: str) -> list[ApiToken]:
    """Tokens from ``NAME:SECRET`` or ``SECRET`` entries separated by commas or newlines (``#`` starts a comment line)."""
    tokens: list[ApiToken] = []
    for raw in re.split(r"[,\n]", text):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, secret = entry.partition(":")
        if not sep:
            name, secret = fingerprint(entry), entry
        name, secret = name.strip(), secret.strip()
        if not _NAME.match(name):
            raise ConfigError(f"{source}: token name {name!r} must be 1-64 letters, digits or _.@-")
        if len(secret) < MIN_SECRET_LENGTH or any(c.isspace() for c in secret):
            raise ConfigError(f"{source}: the secret of token {name} must be at least {MIN_SECRET_LENGTH} characters without spaces")
        tokens.append(ApiToken(name, secret))
    names = [t.name for t in tokens]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"{source}: token name {', '.join(duplicated)} is given twice")
    return tokens


def load_tokens(inline: str | None, file: Path | None) -> list[ApiToken]:
    """The tokens of ``CHURN_API_TOKENS`` and of the file named by ``CHURN_API_TOKENS_FILE`` (both may be set)."""
    tokens = parse_tokens(inline, "CHURN_API_TOKENS") if inline else []
    if file is not None:
        try:
            text = Path(file).read_text()
        except OSError as e:
            raise ConfigError(f"CHURN_API_TOKENS_FILE {file}: cannot be read ({e.strerror})") from None
        tokens += parse_tokens(text, f"CHURN_API_TOKENS_FILE {file}")
    names = [t.name for t in tokens]
    if len(set(names)) != len(names):
        raise ConfigError("CHURN_API_TOKENS and CHURN_API_TOKENS_FILE give the same token name twice")
    return tokens


class TokenCheck:
    """Finds the caller of an ``Authorization`` header; compares digests in constant time."""

    def __init__(self, tokens: list[ApiToken]) -> None:
        self._digests = [(t.name, hashlib.sha256(t.secret.encode()).digest()) for t in tokens]

    def caller(self, authorization: str | None) -> str | None:
        """The token's name, or None for a missing, malformed or unknown token."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        given = hashlib.sha256(value.strip().encode()).digest()
        found = None
        for name, digest in self._digests:  # no early exit: the time does not tell which token matched
            if hmac.compare_digest(given, digest):
                found = name
        return found


class Gatekeeper(Protocol):
    """What the gate needs from the running service."""

    max_body_bytes: int
    model_header: str

    def caller(self, authorization: str | None) -> str | None: ...

    def ready(self) -> bool: ...


async def _json(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _error_body(status: int, body: bytes) -> bytes:
    """BentoML's error bodies as one object ``{"error", "detail"?}``: it wraps some in a one-item list."""
    try:
        data = json.loads(body)
    except ValueError:
        return json.dumps({"error": body.decode(errors="replace").strip() or f"HTTP {status}"}).encode()
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict) or "error" not in data:
        data = {"error": data.get("detail", f"HTTP {status}") if isinstance(data, dict) else f"HTTP {status}"}
    detail = data.get("detail")
    if status == 400 and isinstance(detail, list) and detail and all(isinstance(d, dict) and "loc" in d for d in detail):
        # A pydantic validation error: say which fields, in the message too ("rows.3.spend_90d: ...").
        said = [f"{'.'.join(str(p) for p in d['loc']) or 'body'}: {d.get('msg', 'invalid')}" for d in detail[:10]]
        more = f"; and {len(detail) - 10} more" if len(detail) > 10 else ""
        data = {"error": f"invalid request: {'; '.join(said)}{more}", "detail": [{k: d[k] for k in ("type", "loc", "msg") if k in d} for d in detail]}
    return json.dumps(data).encode()


class ApiGate:
    """ASGI middleware: authentication, readiness, body size, model header, error shape (module docstring)."""

    def __init__(self, app: Callable, keeper: Callable[[], Gatekeeper | None], routes: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.keeper = keeper  # the running service, or None while it is not instantiated
        self.metrics = RequestMetrics(frozenset(routes) | OPEN_PATHS | DOCS_PATHS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == METRICS_PATH:
            body = self.metrics.render()
            headers = [(b"content-type", METRICS_CONTENT_TYPE), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        route, started, status, done = self.metrics.route(path), time.perf_counter(), 0, False

        async def counted(message: Message) -> None:
            nonlocal status, done
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False) and not done:
                done = True
                self.metrics.finished(route, status, time.perf_counter() - started)
            await send(message)

        self.metrics.started(route)
        SERVER_ERROR_MESSAGE.set({})
        try:
            await self._gate(scope, receive, counted)
        finally:
            if not done:  # the client left, or the app failed before answering
                self.metrics.finished(route, status, time.perf_counter() - started)

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path in OPEN_PATHS or path in DOCS_PATHS or path.startswith(DOCS_PREFIXES):
            await self.app(scope, receive, send)
            return
        keeper = self.keeper()
        retry = [(b"retry-after", RETRY_AFTER)]
        if keeper is None:
            await _json(send, 503, {"error": "the service is starting; retry shortly"}, retry)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        caller = keeper.caller(headers.get(b"authorization", b"").decode("latin-1") or None)
        if caller is None:
            await _json(send, 401, {"error": "missing or invalid bearer token"}, [(b"www-authenticate", b"Bearer")])
            return
        if not keeper.ready():
            await _json(send, 503, {"error": "the service is warming up; retry shortly"}, retry)
            return
        limit = keeper.max_body_bytes
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _json(send, 400, {"error": "Content-Length is not a number"})
                return
            if declared > limit:
                await _json(send, 413, {"error": f"request body of {declared} bytes is over the limit of {limit} bytes"})
                return
        else:
            body, more, size = [], True, 0
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await _json(send, 413, {"error": f"request body is over the limit of {limit} bytes"})
                    return
                body.append(chunk)
                more = message.get("more_body", False)
            receive = _replay(b"".join(body), receive)
        scope.setdefault("state", {})[CALLER_KEY] = caller
        await self.app(scope, receive, _shaping(send, keeper.model_header.encode()))


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _shaping(send: Send, model: bytes) -> Send:
    """``send`` that adds the model header and reshapes error bodies (buffered: they are small)."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def shaped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (MODEL_HEADER, model)]}
            if message["status"] < 400:
                await send(message)
            else:
                start = message
            return
        if message["type"] == "http.response.body" and start is not None:
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            note = SERVER_ERROR_MESSAGE.get() or {}
            body = json.dumps(note).encode() if start["status"] >= 500 and note.get("error") else _error_body(start["status"], b"".join(chunks))
            headers = [(k, v) for k, v in start["headers"] if k.lower() not in (b"content-length", b"content-type")]
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            if start["status"] == 503 and not any(k.lower() == b"retry-after" for k, _ in headers):
                headers.append((b"retry-after", RETRY_AFTER))  # a busy store or a dependency: retry shortly
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return shaped
