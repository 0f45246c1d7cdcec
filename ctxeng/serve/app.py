"""The OpenAI-compatible ASGI app (Starlette): models, chat and text completions with SSE streaming, health.

Every error is OpenAI's JSON error object: bad JSON or fields 400, missing/wrong bearer token 401,
a Host or Origin not served 403, unknown model or route 404, wrong method 405, body too large 413,
not JSON 415, queue full 503 (with Retry-After). A request takes its queue place before its prompt is
tokenized (off the event loop), and a client that goes away cancels its generation.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ctxeng.serve import grounding
from ctxeng.serve import protocol as p
from ctxeng.serve.engine import Engine, Job, Outcome, Overloaded
from ctxeng.serve.guard import MAX_BODY, HostGuard, allowed_hosts, read_json

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["MAX_BODY", "create_app"]
RETRY_AFTER_S = 2


def create_app(
    engine: Engine,
    token: str | None = None,
    max_tokens: int = 512,
    hosts: Iterable[str] = (),
    bound: str = "127.0.0.1",
) -> Starlette:
    """The ASGI app serving `engine`; with `token`, `/v1` routes need `Authorization: Bearer <token>`.

    Requests must name a loopback host, the `bound` address or one of `hosts` (`*`: any) in Host and
    (when sent) Origin.
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
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
        budget: list[int | None] = [None]  # from parse to tokenize, both run for this one request

        def parse(data: dict[str, Any]) -> p.GenerationRequest:
            data, budget[0] = grounding.requested(data)
            return p.parse_chat(data, max_tokens)

        def tokenize(req: p.GenerationRequest) -> list[int]:
            messages = req.messages or []
            if (
                budget[0] is not None
            ):  # opt-in: ctxeng's retrieved context before the question (on a worker thread)
                messages = grounding.ground(engine.root, messages, budget[0])
            return engine.chat_ids(messages)

        return await _generate(engine, request, parse, tokenize, chat=True)

    async def completions(request: Request) -> Response:
        _authorize(request, token)
        return await _generate(
            engine,
            request,
            lambda data: p.parse_completion(data, max_tokens),
            lambda req: engine.text_ids(req.prompt or ""),
            chat=False,
        )

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
    return Starlette(
        routes=routes,
        exception_handlers={p.ApiError: api_error, HTTPException: http_error},
        middleware=[Middleware(HostGuard, allowed=allowed_hosts(bound, hosts))],
    )


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


async def _generate(
    engine: Engine,
    request: Request,
    parse: Callable[[dict[str, Any]], p.GenerationRequest],
    tokenize: Callable[[p.GenerationRequest], list[int]],
    chat: bool,
) -> Response:
    """Take a queue place first (a full server answers 503 before reading, parsing or tokenizing
    anything), then read and parse the body and tokenize the prompt on worker threads (a megabyte
    prompt must not stall the event loop), queue the generation, and answer."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import StreamingResponse

    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def emit(kind: str, payload: Any) -> None:  # called on the worker thread
        try:
            loop.call_soon_threadsafe(events.put_nowait, (kind, payload))
        except RuntimeError:  # the loop closed (shutdown): nobody is left to read this
            pass

    try:
        engine.reserve()
    except Overloaded:
        raise p.ApiError(
            503, "the server is busy (generation slot and queue are full); retry shortly", code="overloaded"
        ) from None
    try:
        req = parse(await read_json(request))
        engine.check_model(req.model)
        ids = await run_in_threadpool(tokenize, req)
        job = Job(req.model, ids, engine.fit(ids, req.sampling), emit)
    except BaseException:
        engine.release()
        raise
    try:
        engine.submit(job, reserved=True)
    except Overloaded:  # closed meanwhile: the server is stopping
        raise p.ApiError(503, "the server is stopping", code="overloaded") from None
    rid = p.new_id("chatcmpl" if chat else "cmpl")
    if req.stream:
        stream = _chat_stream if chat else _completion_stream
        return StreamingResponse(
            stream(_events(events, job, request), rid, req),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    try:
        async for kind, payload in _events(events, job, request):
            if kind == "done":
                out: Outcome = payload
                counts = (out.prompt_tokens, out.completion_tokens)
                if chat:
                    return _json(p.chat_response(rid, req.model, out.text, out.finish, counts))
                return _json(p.completion_response(rid, req.model, out.text, out.finish, counts))
    finally:
        job.cancel()  # a client that disconnected stops the generation; a finished job ignores it
    raise AssertionError("unreachable: _events always ends with done or an error")


async def _events(
    events: asyncio.Queue[tuple[str, Any]], job: Job, request: Request
) -> AsyncIterator[tuple[str, Any]]:
    """The job's events until it finishes; an error in the worker becomes a 500 `ApiError`.

    Meanwhile a watcher cancels the job as soon as the client disconnects, streaming or not (a client
    that timed out must not keep the only generation slot until its answer is complete).
    """
    watcher = asyncio.ensure_future(_cancel_on_disconnect(request, job))
    try:
        while True:
            kind, payload = await events.get()
            if kind == "error":
                raise p.ApiError(500, f"generation failed: {payload}", code="generation_failed")
            yield kind, payload
            if kind == "done":
                return
    finally:
        watcher.cancel()
        job.cancel()


async def _cancel_on_disconnect(request: Request, job: Job) -> None:
    """Cancel `job` when the client's connection closes (the body is read by now: only a disconnect is left)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            job.cancel()
            return


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
