"""Finding and calling a running `ctxeng serve` from hooks and `ctxeng ask`, with the standard library only.

While it runs, `ctxeng serve` writes `.ctxeng/serve.json` (`url`, `pid`, `models`, `auth`; never the
token: clients read it from `CTXENG_SERVE_TOKEN`). Callers here must stay fast and never hang: the
file is checked against a live process and a connect with a very short timeout before any request,
and a request has one overall deadline, after which the partial answer is returned and the
connection closed (the server then cancels the generation).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SERVE_FILE = "serve.json"
TOKEN_ENV = "CTXENG_SERVE_TOKEN"
CONNECT_S = 0.25  # loopback answers in microseconds; a refused or dead port must not cost the hook


@dataclass(frozen=True)
class Running:
    """A `ctxeng serve` announced in `.ctxeng/serve.json`."""

    url: str
    pid: int
    models: tuple[str, ...]
    auth: bool


def _file(root: Path) -> Path:
    return Path(root) / ".ctxeng" / SERVE_FILE


def write_running(root: Path, url: str, models: list[str], auth: bool) -> None:
    """Announce this process's server (only where `.ctxeng/` exists: a repository ctxeng knows)."""
    path = _file(root)
    if not path.parent.is_dir():
        return
    from ctxeng.core.fsio import atomic_write_text

    info = {"url": url, "pid": os.getpid(), "models": models, "auth": auth, "started_at": int(time.time())}
    atomic_write_text(path, json.dumps(info, indent=2, sort_keys=True) + "\n")


def remove_running(root: Path) -> None:
    """Withdraw the announcement if it is still this process's (a newer server may have replaced it)."""
    found = read_running(root)
    if found is not None and found.pid == os.getpid():
        _file(root).unlink(missing_ok=True)


def read_running(root: Path) -> Running | None:
    """The announced server, or None when there is none or the file is unreadable. Never raises."""
    try:
        data = json.loads(_file(root).read_text(encoding="utf-8"))
        models = data["models"]
        running = Running(
            str(data["url"]), int(data["pid"]), tuple(str(m) for m in models), bool(data.get("auth"))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return running if running.url.startswith("http://") else None


def find_running(root: Path) -> Running | None:
    """The announced server if its process is alive and its port accepts a connection right now."""
    running = read_running(root)
    if running is None or not _alive(running.pid) or not reachable(running.url):
        return None
    return running


def pick_adapter(root: Path, models: tuple[str, ...] | list[str]) -> str | None:
    """The served adapter to ask by default: the most recently trained one (None if only `base` is served)."""
    best: tuple[float, str] | None = None
    for name in models:
        if name == "base":
            continue
        try:
            manifest = json.loads(
                (Path(root) / ".ctxeng" / "adapters" / name / "ctxeng-manifest.json").read_text()
            )
            finished = float(manifest.get("finished_at") or 0)
        except (OSError, ValueError, TypeError, AttributeError):
            finished = 0.0  # an adapter given by path, or without a manifest: still a candidate
        if best is None or (finished, name) > best:
            best = (finished, name)
    return best[1] if best else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return pid > 0


def reachable(url: str, timeout: float = CONNECT_S) -> bool:
    """Whether `url`'s host and port accept a TCP connection within `timeout` seconds."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class Answer:
    """What a chat request returned: the text, whether it is complete, its model, and why it ended.

    `finish`: "stop" (the model ended its answer), "length" (the max_tokens limit cut it),
    "deadline" (the caller's deadline passed) or "disconnected" (the server went away).
    """

    text: str
    complete: bool
    model: str
    finish: str = "stop"


def chat(
    url: str,
    model: str,
    messages: list[dict[str, str]],
    max_tokens: int = 256,
    timeout: float | None = None,
    on_text: Any = None,
) -> Answer:
    """Stream one greedy chat completion from the server at `url`, within `timeout` seconds overall
    (None: no deadline; the server's own limits still apply).

    `on_text(piece)` is called as text arrives. A partial answer comes back with `complete=False`
    and `finish` saying why. Raises `OSError` when the server cannot be reached, `ValueError` on an
    error reply.
    """
    deadline = time.monotonic() + timeout if timeout is not None else float("inf")
    timeout = timeout if timeout is not None else CONNECT_S * 100
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout=max(0.05, timeout)
    )
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True}
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if os.environ.get(TOKEN_ENV):
        headers["Authorization"] = f"Bearer {os.environ[TOKEN_ENV]}"
    pieces: list[str] = []
    finish = "stop"
    try:
        conn.request("POST", f"{parts.path.rstrip('/')}/v1/chat/completions", json.dumps(body), headers)
        response = conn.getresponse()
        if response.status != 200:
            raise ValueError(_error_message(response.status, response.read(65536)))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return Answer("".join(pieces), False, model, "deadline")
            if conn.sock is not None:
                conn.sock.settimeout(None if left == float("inf") else left)
            try:
                line = response.readline()
            except TimeoutError:
                return Answer("".join(pieces), False, model, "deadline")
            if not line:  # the server went away mid-answer
                return Answer("".join(pieces), False, model, "disconnected")
            text = line.decode("utf-8", "replace").strip()
            if not text.startswith("data:"):
                continue
            data = text[5:].strip()
            if data == "[DONE]":
                return Answer("".join(pieces), finish == "stop", model, finish)
            event = json.loads(data)
            finish = _finish(event) or finish
            piece = _piece(event)
            if piece:
                pieces.append(piece)
                if on_text is not None:
                    on_text(piece)
    finally:
        conn.close()


def _finish(event: dict[str, Any]) -> str:
    choices = event.get("choices") or [{}]
    return str(choices[0].get("finish_reason") or "")


def _piece(event: dict[str, Any]) -> str:
    if "error" in event:
        raise ValueError(str(event["error"].get("message", event["error"])))
    choices = event.get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")


def _error_message(status: int, raw: bytes) -> str:
    try:
        return f"HTTP {status}: {json.loads(raw)['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}"
