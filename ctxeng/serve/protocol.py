"""OpenAI request validation and response shapes for `/v1/chat/completions`, `/v1/completions`, `/v1/models`.

Pure Python (no Starlette, no torch), so it is cheap to test on its own. Requests are checked field
by field; anything wrong is an `ApiError` that the app turns into OpenAI's error object:
`{"error": {"message", "type", "param", "code"}}` with the matching HTTP status.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "developer", "user", "assistant", "tool")
MAX_STOPS = 4  # OpenAI's limit on `stop` strings


class ApiError(Exception):
    """A request the server refuses: HTTP status plus OpenAI's error fields."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind or ("invalid_request_error" if status < 500 else "server_error")

    def body(self) -> dict[str, Any]:
        """The JSON error object OpenAI clients parse."""
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass
class Sampling:
    """How to generate: greedy (and deterministic) when `temperature` is 0."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    min_tokens: int = 0  # vLLM's extension: generate at least this many tokens (eos is ignored before)


@dataclass
class GenerationRequest:
    """A validated chat or completion request: either `messages` or `prompt` is set."""

    model: str
    sampling: Sampling
    stream: bool = False
    include_usage: bool = False
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None


def parse_json(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 `ApiError` saying what is wrong with it."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8") from None
    except ValueError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def parse_chat(data: dict[str, Any], max_tokens_cap: int) -> GenerationRequest:
    """Validate a `/v1/chat/completions` body."""
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list of {role, content} objects", "messages")
    parsed = [_message(m, i) for i, m in enumerate(messages)]
    limit = data.get("max_completion_tokens", data.get("max_tokens"))
    return _request(data, max_tokens_cap, limit, messages=parsed)


def parse_completion(data: dict[str, Any], max_tokens_cap: int) -> GenerationRequest:
    """Validate a `/v1/completions` body (one prompt string; lists of one string are accepted)."""
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise ApiError(400, "'prompt' must be a string (batches of prompts are not supported)", "prompt")
    return _request(data, max_tokens_cap, data.get("max_tokens", 16), prompt=prompt)


def _message(message: Any, index: int) -> dict[str, str]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise ApiError(400, f"{where} must be an object with 'role' and 'content'", where)
    role = message.get("role")
    if role not in ROLES:
        raise ApiError(400, f"{where}.role must be one of {', '.join(ROLES)}", f"{where}.role")
    content = message.get("content")
    if isinstance(content, list):  # content parts: only text parts can be served by a text model
        texts = []
        for part in content:
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise ApiError(400, f"{where}.content: only text parts are supported", f"{where}.content")
            texts.append(part["text"])
        content = "".join(texts)
    if not isinstance(content, str):
        raise ApiError(400, f"{where}.content must be a string or a list of text parts", f"{where}.content")
    # `developer` is OpenAI's newer name for `system`; chat templates know only the old one.
    return {"role": "system" if role == "developer" else str(role), "content": content}


def _request(
    data: dict[str, Any],
    cap: int,
    limit: Any,
    messages: list[dict[str, str]] | None = None,
    prompt: str | None = None,
) -> GenerationRequest:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required: an adapter name or 'base' (see GET /v1/models)", "model")
    if data.get("n", 1) != 1:
        raise ApiError(400, "only n=1 is supported", "n")
    max_tokens = cap if limit is None else _int(limit, "max_tokens", 1, cap)
    sampling = Sampling(
        max_tokens=max_tokens,
        temperature=_number(data.get("temperature", 1.0), "temperature", 0.0, 2.0),
        top_p=_number(data.get("top_p", 1.0), "top_p", 0.0, 1.0),
        stop=_stops(data.get("stop")),
        seed=None if data.get("seed") is None else _int(data["seed"], "seed", 0, 2**63 - 1),
        min_tokens=_int(data.get("min_tokens", 0), "min_tokens", 0, max_tokens),
    )
    if sampling.top_p == 0.0:
        raise ApiError(400, "'top_p' must be greater than 0", "top_p")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", "stream")
    options = data.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "'stream_options' must be an object", "stream_options")
    return GenerationRequest(
        model=model,
        sampling=sampling,
        stream=stream,
        include_usage=bool(options.get("include_usage")),
        messages=messages,
        prompt=prompt,
    )


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, f"'{name}' must be an integer from {low} to {high}", name)
    return value


def _number(value: Any, name: str, low: float, high: float) -> float:
    if value is None:
        return {"temperature": 1.0, "top_p": 1.0}[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, f"'{name}' must be a number from {low:g} to {high:g}", name)
    return float(value)


def _stops(value: Any) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOPS
        or not all(isinstance(s, str) and s for s in stops)
    ):
        raise ApiError(
            400, f"'stop' must be a non-empty string or a list of up to {MAX_STOPS} of them", "stop"
        )
    return list(stops)


# -- responses -----------------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    """An id like OpenAI's (`chatcmpl-…`, `cmpl-…`)."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    """Creation time in Unix seconds, as OpenAI objects carry it."""
    return int(time.time())


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """OpenAI's usage object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_response(rid: str, model: str, text: str, finish: str, counts: tuple[int, int]) -> dict[str, Any]:
    """A complete `chat.completion` object."""
    return {
        "id": rid,
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": usage(*counts),
    }


def chat_chunk(rid: str, model: str, delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    """One `chat.completion.chunk` of a stream."""
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": now(),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def completion_response(
    rid: str, model: str, text: str, finish: str | None, counts: tuple[int, int] | None
) -> dict[str, Any]:
    """A `text_completion` object (also each chunk of a streamed completion, without usage)."""
    out: dict[str, Any] = {
        "id": rid,
        "object": "text_completion",
        "created": now(),
        "model": model,
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
    }
    if counts is not None:
        out["usage"] = usage(*counts)
    return out


def usage_chunk(rid: str, model: str, kind: str, counts: tuple[int, int]) -> dict[str, Any]:
    """The last chunk of a stream with `stream_options.include_usage`: no choices, only usage."""
    return {
        "id": rid,
        "object": kind,
        "created": now(),
        "model": model,
        "choices": [],
        "usage": usage(*counts),
    }


def model_list(names: list[str], created: int, root: str) -> dict[str, Any]:
    """The `/v1/models` list; adapters name the base as their parent, as vLLM does."""
    data = []
    for name in names:
        entry: dict[str, Any] = {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "ctxeng",
            "root": root,
        }
        entry["parent"] = None if name == "base" else "base"
        data.append(entry)
    return {"object": "list", "data": data}


def sse(obj: dict[str, Any] | str) -> bytes:
    """One server-sent event carrying a JSON object (or the literal `[DONE]`)."""
    payload = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()
