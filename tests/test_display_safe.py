"""File names with newlines and control characters never inject Markdown: skill, repo map, CLAUDE.md block,
prompt context and the Claude Code hooks' context show them escaped.

A real repository with such names is built by the real pipeline; the hooks run as Claude Code runs them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ctxeng.core.display import safe_text, shortened
from ctxeng.integrations.claude_settings import our_hooks
from ctxeng.pack import context_for_prompt
from ctxeng.pipeline.build import build
from tests.sample_repo import make_sample_repo
from tests.test_hooks import run_shell

NESTED = "kvstore/evil\n# Injected nested\n.py"
TOP = "top\n# Injected top\r\x1b[31m\u202e.py"
BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = make_sample_repo(tmp_path_factory.mktemp("display") / "kvstore")
    code = 'def injected_helper(record):\n    """Encode one injected record."""\n    return record\n'
    repo.commit(
        "Add files with odd names", {NESTED: code, TOP: code.replace("injected_helper", "top_helper")}
    )
    build(repo.path)
    return repo.path


def injected(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("# Injected") or "\x1b" in line]


def test_safe_text_escapes_controls_and_keeps_the_rest() -> None:
    assert safe_text("kvstore/store.py") == "kvstore/store.py"
    assert safe_text("naïve/日本.py") == "naïve/日本.py"
    assert safe_text(TOP) == "top\\n# Injected top\\r\\x1b[31m\\u202e.py"
    assert safe_text("bad\udcff.py") == "bad\\udcff.py"  # a non-UTF-8 name from git, as a lone surrogate
    assert shortened("x" * 5000, 10) == "xxxxxxxxxx… (5,000 characters)"


def test_the_pack_shows_odd_names_escaped(built: Path) -> None:
    written = [p for p in (built / ".claude").rglob("*") if p.is_file()] + [built / "CLAUDE.md"]
    texts = {str(p): p.read_text(encoding="utf-8") for p in written if p.exists()}
    assert texts, "the build wrote no pack"
    for name, text in texts.items():
        assert not injected(text), name
    assert any("kvstore/evil\\n# Injected nested\\n.py" in text for text in texts.values())


def test_the_prompt_context_shows_odd_names_escaped(built: Path) -> None:
    text = context_for_prompt(built, "what do injected_helper and top_helper encode?", 1500)
    assert "injected_helper" in text and not injected(text)
    assert "kvstore/evil\\n# Injected nested\\n.py" in text


def run_hook(event: str, payload: dict[str, str], cwd: Path) -> str:
    command = str(our_hooks()[event][0]["hooks"][0]["command"])
    proc = run_shell(command, json.dumps({**payload, "cwd": str(cwd)}), cwd)  # as Claude Code runs it
    assert proc.returncode == 0, proc.stderr
    return str(json.loads(proc.stdout)["hookSpecificOutput"]["additionalContext"])


def test_the_hooks_show_odd_names_escaped(built: Path) -> None:
    start = run_hook("SessionStart", {"hook_event_name": "SessionStart", "source": "startup"}, built)
    assert "top\\n# Injected top" in start and not injected(start)
    prompt = run_hook(
        "UserPromptSubmit",
        {"hook_event_name": "UserPromptSubmit", "prompt": "What does injected_helper encode?"},
        built,
    )
    assert "injected_helper" in prompt and not injected(prompt)
