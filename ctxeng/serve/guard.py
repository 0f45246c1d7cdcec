"""Request checks before any work: Host and Origin (DNS rebinding, cross-site pages), a JSON content type,
and a body cap that also holds for chunked bodies, which carry no Content-Length.

In the default no-token loopback mode the API is open to every process on the machine, and — without
these checks — to any web page the user opens: a page can send a `text/plain` POST (no CORS preflight)
to 127.0.0.1, or rebind its own name to 127.0.0.1 so that its requests carry its Host header.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ctxeng.serve.protocol import ApiError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

MAX_BODY = 4 << 20  # bytes; prompts for a local model are far smaller
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_HOST = "*"


def host_name(value: str) -> str:
    """The lower-case host of a Host header or URL authority, without port or IPv6 brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names requests may use: the loopback names, the address the server is bound to (unless it is
    a wildcard) and `extra` (from `--allow-host`; `*` allows any)."""
    names = {*LOOPBACK_NAMES, *(host_name(h) for h in extra)}
    if bound not in ("0.0.0.0", "::", "[::]", ""):
        names.add(host_name(bound))
    return frozenset(names)


class HostGuard:
    """ASGI middleware: 403 for a Host or Origin outside `allowed` (any Origin is a browser's page)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ANY_HOST not in self.allowed:
            problem = self.problem(dict(scope.get("headers") or []))
            if problem:
                await _send_error(send, ApiError(403, problem, code="forbidden_host"))
                return
        await self.app(scope, receive, send)

    def problem(self, headers: dict[bytes, bytes]) -> str:
        """Why a request with these headers is refused, or "" when it may pass."""
        host = headers.get(b"host", b"").decode("latin-1")
        if host_name(host) not in self.allowed:
            return (
                f"the Host header '{host[:100]}' is not served here (add --allow-host to serve another name)"
            )
        origin = headers.get(b"origin")
        if origin is not None:
            text = origin.decode("latin-1")
            name = urlsplit(text).hostname or ""
            if name not in self.allowed:
                return f"requests from web pages at '{text[:100]}' are refused"
        return ""


async def _send_error(send: Send, error: ApiError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_json(request: Request) -> dict[str, Any]:
    """The body of a POST as a JSON object: 413 over `MAX_BODY` (also when chunked), 415 when the
    Content-Type is not JSON, 400 when it does not parse. Parsing runs off the event loop."""
    from starlette.concurrency import run_in_threadpool

    from ctxeng.serve.protocol import parse_json

    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_BODY:
        raise ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, "the request body must be JSON sent as Content-Type: application/json")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY:  # a chunked body has no Content-Length to check first
            raise ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return await run_in_threadpool(parse_json, b"".join(chunks))
