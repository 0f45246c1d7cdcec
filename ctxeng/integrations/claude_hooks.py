"""Claude Code hook handlers: SessionStart (repository summary and staleness) and UserPromptSubmit
(the context most relevant to the prompt).

Each handler takes the hook's stdin text and returns one JSON object as text. They never raise and
always return valid output, because a failing context hook is worse than none: exit 2 on
UserPromptSubmit erases the user's prompt, and any other failure shows an error on every turn. They
only read `.ctxeng/` (a refresh may be publishing at the same time, atomically), finish well inside
Claude Code's timeout (an internal deadline cuts them short), and re-scan their text for secrets
before it reaches the model.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ctxeng.core.config import Config

MAX_CONTEXT_CHARS = 10_000  # Claude Code's cap on additionalContext (longer text goes to a file + preview)
CLIP_NOTE = "\n[ctxeng: cut to fit the 10,000-character hook limit]\n"
PROMPT_BUDGET_TOKENS = (
    2_000  # ≈ 8k characters of code and prose: fits the cap with room for the adapter's answer
)
MAX_COMMANDS = 8  # key commands listed at session start
SKILL_MD_CHARS = 20_000  # SKILL.md is short; never read a huge one whole
# How the pack's SKILL.md lists one command per category (ctxeng/pack/skill.py).
_SKILL_COMMAND = re.compile(r"^- (install|build|test|lint|format|typecheck|run): `([^`\n]+)`$", re.MULTILINE)
DEADLINE_S = 10.0  # our own limit; the settings give Claude Code's timeout some slack on top
ADAPTER_S = 2.0  # all the adapter's answer may add to a prompt: the hook stays near 3 s (CPU: ~15-40 tokens)
ADAPTER_TOKENS = 96


class HookTimeout(Exception):
    """Raised inside a handler when its deadline passes."""


def read_stdin() -> str:
    """All of stdin as text, never raising: bytes that are not UTF-8 become U+FFFD, no stdin is ""."""
    import sys

    stream = getattr(sys.stdin, "buffer", None)
    try:
        return (
            stream.read().decode("utf-8", "replace") if stream is not None and not sys.stdin.isatty() else ""
        )
    except (OSError, ValueError):
        return ""


def parse_event(stdin_text: str) -> dict[str, Any]:
    """The hook's input object; {} for empty or invalid JSON (the handlers then use the environment)."""
    try:
        event = json.loads(stdin_text) if stdin_text.strip() else {}
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def find_root(event: dict[str, Any]) -> Path | None:
    """The git work tree the session is in: from the event's `cwd` (it follows `cd` and worktrees), else
    CLAUDE_PROJECT_DIR, else the current directory; found by walking up to a `.git` entry (no git call)."""
    start = event.get("cwd") if isinstance(event.get("cwd"), str) else None
    for candidate in (start, os.environ.get("CLAUDE_PROJECT_DIR"), os.getcwd()):
        if not candidate:
            continue
        path = Path(candidate)
        for folder in (path, *path.parents):
            if (folder / ".git").exists():
                return folder
    return None


def hook_output(event_name: str, context: str) -> str:
    """The JSON object Claude Code expects, with `context` clipped under the character cap.

    ASCII-escaped, so a C locale on stdout can never turn valid output into an encoding error.
    """
    return json.dumps(
        {"hookSpecificOutput": {"hookEventName": event_name, "additionalContext": clip(context)}}
    )


def clip(text: str, limit: int = MAX_CONTEXT_CHARS) -> str:
    """`text` if it fits in `limit` characters, else its longest whole-line prefix that fits with a note."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(CLIP_NOTE)]
    newline = cut.rfind("\n")
    return (cut[: newline + 1] if newline > 0 else cut) + CLIP_NOTE.lstrip("\n")


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise `HookTimeout` in the enclosed block after `seconds` (SIGALRM; a no-op off the main thread).

    A git child running at that moment is killed by `subprocess.run`'s own clean-up.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise HookTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _guarded(event_name: str, build: Callable[[dict[str, Any]], str], stdin_text: str) -> str:
    """Run `build(event)` under the deadline; any failure becomes a short note, never an exception."""
    try:
        with deadline(DEADLINE_S):
            context = build(parse_event(stdin_text))
    except HookTimeout:
        context = f"(ctxeng: no context this time, the {event_name} hook ran out of time)"
    except Exception as exc:  # a context hook must never fail the user's session
        context = f"(ctxeng: no context this time: {type(exc).__name__})"
    return hook_output(event_name, context)


def prompt_hook(stdin_text: str) -> str:
    """UserPromptSubmit: the context most relevant to the prompt (`ctxeng context --hook`)."""
    return _guarded("UserPromptSubmit", _prompt_context, stdin_text)


def session_start_hook(stdin_text: str) -> str:
    """SessionStart: a repository summary and how stale ctxeng's outputs are (`ctxeng status --hook`)."""
    return _guarded("SessionStart", _session_context, stdin_text)


def adapter_context(root: Path, prompt: str) -> str:
    """The short answer of the repository's adapter when `ctxeng serve` is running here; "" otherwise.

    Appended after the retrieved context. Never raises and stays short: no server costs a file read
    (or one refused loopback connect), a running one gets ADAPTER_S in all, after which the partial
    answer is used and the server cancels the rest.
    """
    try:
        from ctxeng.serve.local import chat, find_running, pick_adapter

        running = find_running(root)
        model = pick_adapter(root, running.models) if running is not None else None
        if running is None or model is None:
            return ""
        from ctxeng.dataset.builder import system_message

        system = {"role": "system", "content": system_message(root.name)}  # as the adapter was trained
        answer = chat(
            running.url, model, [system, {"role": "user", "content": prompt}], ADAPTER_TOKENS, ADAPTER_S
        )
    except HookTimeout:
        raise  # the hook's own deadline: its handler reports it
    except Exception:  # retrieval alone is the fallback
        return ""
    text = answer.text.strip()
    if not text:
        return ""
    cut = "" if answer.complete else " […cut at the hook's time limit]"
    heading = f"## Short answer from this repository's adapter ({model}, via ctxeng serve; may be wrong)"
    return f"{heading}\n\n{text}{cut}\n"


def _prompt_context(event: dict[str, Any]) -> str:
    raw = event.get("prompt")
    prompt = raw if isinstance(raw, str) else ""
    root = find_root(event)
    if root is None or not prompt.strip() or not (root / ".ctxeng").is_dir():
        return ""  # no data yet: the SessionStart summary already says how to build it, once
    from ctxeng.pack import context_for_prompt

    parts = [context_for_prompt(root, prompt, PROMPT_BUDGET_TOKENS, safe=True), adapter_context(root, prompt)]
    return rescan("\n\n".join(p for p in parts if p), _config(root))


def _session_context(event: dict[str, Any]) -> str:
    root = find_root(event)
    if root is None:
        return ""
    config = _config(root)
    return rescan(session_summary(root, config), config)


def session_summary(root: Path, config: Config) -> str:
    """Factual lines about the repository at `root`: layout, key commands, the pack, staleness."""
    from ctxeng.core.display import safe_text
    from ctxeng.core.repo import open_repo
    from ctxeng.pipeline.status import describe, repo_status

    repo = open_repo(root)
    branch, head = repo.branch or "(detached HEAD)", repo.head[:12] or "(none)"
    lines = [f"Repository {repo.name}: branch {branch}, HEAD {head}."]
    layout = _layout([safe_text(entry.path) for entry in repo.index()])  # a newline in a name: no new line
    if layout:
        lines.append(f"Layout: {layout}.")
    lines += _pack_lines(repo.root)
    status = repo_status(repo, config.refresh)
    lines.append("ctxeng outputs: " + "; ".join(describe(lag) for lag in status.outputs) + ".")
    lines += [f"Suggested: {line}." for line in status.recommendations]
    return "\n".join(lines) + "\n"


def _layout(paths: list[str], dirs: int = 8, files: int = 8) -> str:
    """Top-level folders by tracked-file count (ties by name) and the top-level files."""
    counts: dict[str, int] = {}
    top_files = []
    for path in paths:
        head, sep, _ = path.partition("/")
        if sep:
            counts[head] = counts.get(head, 0) + 1
        else:
            top_files.append(path)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{name}/ ({n} file{'s' * (n != 1)})" for name, n in ranked[:dirs]]
    if len(ranked) > dirs:
        parts.append(f"{len(ranked) - dirs} more folders")
    if top_files:
        more = f" and {len(top_files) - files} more" if len(top_files) > files else ""
        parts.append("files " + ", ".join(sorted(top_files)[:files]) + more)
    return "; ".join(parts)


def _pack_lines(root: Path) -> list[str]:
    """Where the context-pack skill is and the key commands its SKILL.md lists (from `.ctxeng/pack.json`).

    Small files only: the 1-10 MB index and the pack's modules would cost more than the whole hook.
    """
    from ctxeng.pipeline.status import read_json

    info, _ = read_json(root / ".ctxeng" / "pack.json")
    skill = info.get("skill") if info else None
    if not isinstance(skill, str) or not skill.startswith(".claude/skills/"):
        return []
    try:
        text = (root / skill / "SKILL.md").read_text(encoding="utf-8", errors="replace")[:SKILL_MD_CHARS]
    except OSError:
        return []
    lines = []
    commands = _SKILL_COMMAND.findall(text)[:MAX_COMMANDS]
    if commands:
        lines.append(
            "Commands: " + "; ".join(f"{category} `{command}`" for category, command in commands) + "."
        )
    name = skill.rsplit("/", 1)[-1]
    lines.append(
        f"The skill {name} ({skill}/) holds this repository's architecture, ranked repo map, conventions, "
        "history and design decisions."
    )
    return lines


def _config(root: Path) -> Config:
    """The repository's configuration; the defaults when it is broken (a hook must not fail on it)."""
    from ctxeng.core.config import load_config
    from ctxeng.core.errors import CtxengError

    try:
        return load_config(root)
    except CtxengError:
        return Config()  # also keeps the secret scan on: the defaults redact at least as much


def rescan(text: str, config: Config) -> str:
    """Redact secrets once more before the text reaches the model (records are redacted already)."""
    if not text:
        return text
    from ctxeng.secrets import Redactor

    return str(Redactor(config.secrets).text(text))
