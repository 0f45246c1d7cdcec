"""`ctxeng ask`: answer a question with the repository's adapter, grounded by retrieved context, with sources.

The context comes from `ctxeng context` retrieval (`context_for_prompt`) and goes into the prompt
before the question; the system message is the one the adapter was trained with. A running
`ctxeng serve` that serves the adapter answers (no model load); otherwise the base model and
the adapter are loaded in this process (kept loaded for long-lived callers such as the MCP server).
"""

from __future__ import annotations

import atexit
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctxeng.core.errors import CtxengError

if TYPE_CHECKING:
    from ctxeng.serve.engine import Engine

DEFAULT_BUDGET = 1_000  # tokens of retrieved context: room for the answer in a small model's window

# How `ctxeng.pack.context` renders its sections (its `_files`, `_defs`, `_docs`, `_history`, `_glossary`).
_SECTION = re.compile(r"^## (Files|Definitions|Docs|History|Glossary)\s*$")
_PATH_HEADING = re.compile(r"^### (.+?)\s*$")
_FILE = re.compile(r"^- `([^`]+)`")
_DEF = re.compile(
    r"^- `([^`\s]+):(\d+)` `([^`]+)`(?: `(.+?)`)?(?: — |$)"
)  # the `lines` layout (pack.defline)
_DEF_UNDER_PATH = re.compile(r"^- L(\d+) `(.+?)`")  # the `files` layout: under a `### path` heading
_DOC = re.compile(r"^- \*\*(.+?)\*\* \(`([^`]+?):(\d+)`\)")
_COMMIT = re.compile(r"^- (\S+) `([0-9a-f]+)` (.+?)(?: \(`.*)?$")
_TERM = re.compile(r"^- \*\*(.+?)\*\* — .*\(([^()]+?):(\d+)\)$")


@dataclass(frozen=True)
class Source:
    """One retrieved item the answer was grounded on: a definition, file, doc section, commit or term."""

    kind: str
    path: str
    line: int
    name: str

    def label(self) -> str:
        """`path:line  name` (commits: `sha  subject`)."""
        where = self.path if self.kind == "commit" or not self.line else f"{self.path}:{self.line}"
        return f"{where}  {self.name}".rstrip()


@dataclass
class AskResult:
    """The answer, the model and route that produced it, and the retrieved context with its sources."""

    answer: str
    model: str
    via: str  # "server <url>" | "in-process"
    complete: bool
    context: str
    sources: list[Source] = field(default_factory=list)
    finish: str = "stop"  # "stop" | "length" (max tokens) | "deadline" | "disconnected"

    def to_json(self) -> dict[str, Any]:
        """Plain data for `ctxeng ask --json`."""
        return {**asdict(self), "sources": [asdict(s) for s in self.sources]}


def sources_of(context: str) -> list[Source]:
    """The items a rendered context lists, in its order (definitions carry their file and line)."""
    out: list[Source] = []
    section, path = "", ""
    for line in context.splitlines():
        heading = _SECTION.match(line)
        if heading:
            section, path = heading.group(1), ""
            continue
        sub = _PATH_HEADING.match(line)
        if sub and section == "Definitions":
            path = sub.group(1)
            continue
        found = _parse_item(section, path, line)
        if found is not None:
            out.append(found)
    return out


def _parse_item(section: str, path: str, line: str) -> Source | None:
    if section == "Definitions" and (m := _DEF.match(line)):
        return Source("definition", m.group(1), int(m.group(2)), m.group(4) or m.group(3))
    if section == "Definitions" and path and (m := _DEF_UNDER_PATH.match(line)):
        return Source("definition", path, int(m.group(1)), m.group(2))
    if section == "Files" and (m := _FILE.match(line)):
        return Source("file", m.group(1), 0, "")
    if section == "Docs" and (m := _DOC.match(line)):
        return Source("doc", m.group(2), int(m.group(3)), m.group(1))
    if section == "History" and (m := _COMMIT.match(line)):
        return Source("commit", m.group(2), 0, f"{m.group(1)} {m.group(3)}")
    if section == "Glossary" and (m := _TERM.match(line)):
        return Source("term", m.group(2), int(m.group(3)), m.group(1))
    return None


def messages_for(repo_name: str, question: str, context: str) -> list[dict[str, str]]:
    """The chat messages: the adapter's training system message, then context and question."""
    from ctxeng.dataset.builder import system_message
    from ctxeng.dataset.templates import grounded_user

    # The layout the adapter's grounded rows were trained on (dataset.tasks_facts).
    user = grounded_user(context, question)
    return [{"role": "system", "content": system_message(repo_name)}, {"role": "user", "content": user}]


def ask(
    root: Path,
    question: str,
    adapter: str | None = None,
    budget: int = DEFAULT_BUDGET,
    max_tokens: int = 256,
    use_server: bool = True,
    on_text: Callable[[str], None] | None = None,
    keep_loaded: bool = False,
    deadline: float | None = None,
) -> AskResult:
    """Answer `question` about the repository at `root` (see the module docstring).

    `budget` tokens of retrieved context ground the answer (0: closed-book). `deadline` seconds
    (None: none) bound the generation; an answer cut by it or by `max_tokens` comes back with
    `complete=False` and `finish` saying which. Raises `CtxengError` without retrieval data (`ctxeng build`), without adapters (`ctxeng train`),
    or when the prompt does not fit the model.
    """
    from ctxeng.pack import context_for_prompt

    if not question.strip():
        raise CtxengError("the question is empty")
    context = context_for_prompt(root, question, budget, layout="lines")
    messages = messages_for(root.name, question, context)
    sources = sources_of(context)
    if use_server:
        served = _ask_server(root, adapter, messages, max_tokens, on_text, deadline)
        if served is not None:
            answer, model, via = served
            return AskResult(answer.text, model, via, answer.complete, context, sources, answer.finish)
    load, name = _adapter(root, adapter)
    from ctxeng.core.extras import require_extras

    require_extras(
        "ask", "train", modules=("torch", "transformers", "peft")
    )  # no server: the model loads here
    engine = _engine(root, load, keep_loaded)
    try:
        text, finish = _generate(engine, name, messages, max_tokens, on_text, deadline)
    finally:
        if not keep_loaded:
            engine.close()
    return AskResult(text, name, "in-process", finish == "stop", context, sources, finish)


def _ask_server(
    root: Path,
    adapter: str | None,
    messages: list[dict[str, str]],
    max_tokens: int,
    on_text: Any,
    deadline: float | None,
) -> tuple[Any, str, str] | None:
    from ctxeng.serve.local import chat, find_running, pick_adapter

    running = find_running(root)
    if running is None:
        return None
    model = (
        adapter
        if adapter in running.models
        else pick_adapter(root, running.models)
        if adapter is None
        else None
    )
    if model is None:
        return None  # the server does not serve the adapter asked for: load it here
    try:
        answer = chat(running.url, model, messages, max_tokens, timeout=deadline, on_text=on_text)
    except ValueError as exc:
        raise CtxengError(
            f"ctxeng serve at {running.url} refused the question: {exc}",
            hint="a smaller --budget leaves more room in the model's context",
        ) from None
    except OSError:
        return None  # it went away meanwhile
    return answer, model, f"server {running.url}"


def _adapter(root: Path, adapter: str | None) -> tuple[str, str]:
    """(what to load: the name or folder given, or the newest adapter; the name it is served under)."""
    from ctxeng.train.adapters import find_adapter

    try:
        info = find_adapter(root, adapter)
    except CtxengError as exc:
        raise CtxengError(
            exc.message,
            hint=f"{exc.hint or 'train one with `ctxeng train`'}; "
            "`ctxeng context` prints the retrieved context alone",
        ) from None
    return adapter or info.name, info.name


_ENGINES: dict[tuple[str, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(root: Path, load: str, keep: bool) -> Engine:
    from ctxeng.serve.engine import load_engine

    key = (str(root.resolve()), load)
    with _ENGINES_LOCK:  # concurrent callers (MCP tool threads) load a model once
        if key in _ENGINES:
            return _ENGINES[key]
        engine = load_engine(root, [load])
        if keep:
            if not _ENGINES:
                atexit.register(_close_all)
            _ENGINES[key] = engine
        return engine


def _close_all() -> None:
    """Stop the kept engines' workers before the interpreter tears torch down."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.close()
        _ENGINES.clear()


def _generate(
    engine: Engine,
    name: str,
    messages: list[dict[str, str]],
    max_tokens: int,
    on_text: Any,
    deadline: float | None = None,
) -> tuple[str, str]:
    """Greedy answer through the engine's worker (which also keeps concurrent callers one at a time),
    and why it ended: "stop", "length" or "deadline" (the job is cancelled when `deadline` s pass)."""
    from ctxeng.serve.engine import Job, Overloaded
    from ctxeng.serve.protocol import ApiError, Sampling

    done = threading.Event()
    result: dict[str, Any] = {}

    def emit(kind: str, payload: Any) -> None:  # on the worker thread
        if kind == "text" and on_text is not None:
            on_text(payload)
        elif kind != "text":
            result[kind] = payload
            done.set()

    try:
        ids = engine.chat_ids(messages)
        job = Job(name, ids, engine.fit(ids, Sampling(max_tokens=max_tokens, temperature=0.0)), emit)
        engine.submit(job)
    except ApiError as exc:
        raise CtxengError(
            exc.message, hint="a smaller --budget leaves more room in the model's context"
        ) from None
    except Overloaded:
        raise CtxengError("the adapter is busy with other questions", hint="ask again shortly") from None
    timed_out = False
    try:
        timed_out = not done.wait(deadline)
        if timed_out:
            job.cancel()  # stops at the next token; the text so far comes back as "done"
            done.wait()
    finally:
        job.cancel()  # Ctrl-C: stop generating
    if "error" in result:
        if timed_out:  # the deadline passed before the worker got to this question
            return "", "deadline"
        raise CtxengError(f"generation failed: {result['error']}")
    outcome = result["done"]
    return str(outcome.text), "deadline" if timed_out else str(outcome.finish)
