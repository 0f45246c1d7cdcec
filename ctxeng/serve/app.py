"""The OpenAI-compatible ASGI app (Starlette): models, chat and text completions with SSE streaming, health.

Every error is OpenAI's JSON error object: bad JSON or fields 400, missing/wrong bearer token 401,
unknown model or route 404, wrong method 405, body too large 413, queue full 503 (with Retry-After).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ctxeng.serve import grounding
from ctxeng.serve import protocol as p
from ctxeng.serve.engine import Engine, Job, Outcome, Overloaded

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

MAX_BODY = 4 << 20  # bytes; prompts for a local model are far smaller
RETRY_AFTER_S = 2


def create_app(engine: Engine, token: str | None = None, max_tokens: int = 512) -> Starlette:
    """The ASGI app serving `engine`; with `token`, `/v1` routes need `Authorization: Bearer <token>`."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    async def health(request: Request) -> Response:
        return _json({"status": "ok", "models": len(engine.names), **engine.load_state()})

    async def models(request: Request) -> Response:
        _authorize(request, token)
        return _json(p.model_list(engine.names, engine.created, engine.root_name))

    async def model(request: Request) -> Response:
        _authorize(request, token)
        name = request.path_params["name"]
        engine.check_model(name)
        return _json(
            next(
                m
                for m in p.model_list(engine.names, engine.created, engine.root_name)["data"]
                if m["id"] == name
            )
        )

    async def chat(request: Request) -> Response:
        _authorize(request, token)
        data, budget = grounding.requested(p.parse_json(await _body(request)))
        req = p.parse_chat(data, max_tokens)
        engine.check_model(req.model)
        messages = req.messages or []
        if budget is not None:  # opt-in: ctxeng's retrieved context before the question (blocking I/O)
            messages = await asyncio.to_thread(grounding.ground, engine.root, messages, budget)
        return await _generate(engine, req, engine.chat_ids(messages), chat=True)

    async def completions(request: Request) -> Response:
        _authorize(request, token)
        req = p.parse_completion(p.parse_json(await _body(request)), max_tokens)
        engine.check_model(req.model)
        return await _generate(engine, req, engine.text_ids(req.prompt or ""), chat=False)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, p.ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if exc.status == 503:
            headers["Retry-After"] = str(RETRY_AFTER_S)
        return _json(exc.body(), exc.status, headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {
            404: f"no route {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }
        error = p.ApiError(exc.status_code, message.get(exc.status_code, str(exc.detail)))
        return _json(error.body(), exc.status_code, dict(exc.headers or {}))

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{name:path}", model, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={p.ApiError: api_error, HTTPException: http_error})


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status, headers=headers)


def _authorize(request: Request, token: str | None) -> None:
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise p.ApiError(
            401, "missing or wrong bearer token (Authorization: Bearer <token>)", code="invalid_api_key"
        )


async def _body(request: Request) -> bytes:
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_BODY:
        raise p.ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise p.ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
    return body


async def _generate(engine: Engine, req: p.GenerationRequest, ids: list[int], chat: bool) -> Response:
    """Queue the generation now (so a full queue is a 503 before any byte is sent), then answer."""
    from starlette.responses import StreamingResponse

    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def emit(kind: str, payload: Any) -> None:  # called on the worker thread
        loop.call_soon_threadsafe(events.put_nowait, (kind, payload))

    job = Job(req.model, ids, engine.fit(ids, req.sampling), emit)
    try:
        engine.submit(job)
    except Overloaded:
        raise p.ApiError(
            503, "the server is busy (generation slot and queue are full); retry shortly", code="overloaded"
        ) from None
    rid = p.new_id("chatcmpl" if chat else "cmpl")
    if req.stream:
        stream = _chat_stream if chat else _completion_stream
        return StreamingResponse(
            stream(_events(events, job), rid, req),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    try:
        async for kind, payload in _events(events, job):
            if kind == "done":
                out: Outcome = payload
                counts = (out.prompt_tokens, out.completion_tokens)
                if chat:
                    return _json(p.chat_response(rid, req.model, out.text, out.finish, counts))
                return _json(p.completion_response(rid, req.model, out.text, out.finish, counts))
    finally:
        job.cancel()  # a client that disconnected stops the generation; a finished job ignores it
    raise AssertionError("unreachable: _events always ends with done or an error")


async def _events(events: asyncio.Queue[tuple[str, Any]], job: Job) -> AsyncIterator[tuple[str, Any]]:
    """The job's events until it finishes; an error in the worker becomes a 500 `ApiError`."""
    try:
        while True:
            kind, payload = await events.get()
            if kind == "error":
                raise p.ApiError(500, f"generation failed: {payload}", code="generation_failed")
            yield kind, payload
            if kind == "done":
                return
    finally:
        job.cancel()


async def _chat_stream(
    source: AsyncIterator[tuple[str, Any]], rid: str, req: p.GenerationRequest
) -> AsyncIterator[bytes]:
    yield p.sse(p.chat_chunk(rid, req.model, {"role": "assistant", "content": ""}))
    try:
        async for kind, payload in source:
            if kind == "text":
                yield p.sse(p.chat_chunk(rid, req.model, {"content": payload}))
            else:
                yield p.sse(p.chat_chunk(rid, req.model, {}, payload.finish))
                if req.include_usage:
                    yield p.sse(p.usage_chunk(rid, req.model, "chat.completion.chunk", _counts(payload)))
    except p.ApiError as exc:  # headers are gone: the error travels as an event, as OpenAI's servers do
        yield p.sse(exc.body())
    yield p.sse("[DONE]")


async def _completion_stream(
    source: AsyncIterator[tuple[str, Any]], rid: str, req: p.GenerationRequest
) -> AsyncIterator[bytes]:
    try:
        async for kind, payload in source:
            if kind == "text":
                yield p.sse(p.completion_response(rid, req.model, payload, None, None))
            else:
                yield p.sse(p.completion_response(rid, req.model, "", payload.finish, None))
                if req.include_usage:
                    yield p.sse(p.usage_chunk(rid, req.model, "text_completion", _counts(payload)))
    except p.ApiError as exc:
        yield p.sse(exc.body())
    yield p.sse("[DONE]")


def _counts(out: Outcome) -> tuple[int, int]:
    return out.prompt_tokens, out.completion_tokens
