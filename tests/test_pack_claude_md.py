"""The managed CLAUDE.md block: created if absent, replaced in place, user text untouched, idempotent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctxeng.core.errors import CtxengError
from ctxeng.pack.claude_md import BEGIN, END, MAX_LINES, merge_block, render_block, update_claude_md
from ctxeng.pack.conventions import Command, Conventions
from ctxeng.pack.facts import RepoFacts

BLOCK = f"{BEGIN}\n## demo\n- Test: `pytest`\n{END}\n"
OTHER = f"{BEGIN}\n## demo\n- Test: `make test`\n{END}\n"


def test_created_when_absent(tmp_path: Path) -> None:
    assert update_claude_md(tmp_path, BLOCK) == "created"
    assert (tmp_path / "CLAUDE.md").read_text() == BLOCK
    assert update_claude_md(tmp_path, BLOCK) == "unchanged"


def test_appended_and_replaced_keeping_user_text(tmp_path: Path) -> None:
    user_top = "# My project\n\nHand-written rules.\n- never push to main"  # no trailing newline
    (tmp_path / "CLAUDE.md").write_text(user_top)
    assert update_claude_md(tmp_path, BLOCK) == "updated"
    first = (tmp_path / "CLAUDE.md").read_bytes()
    assert first == (user_top + "\n\n" + BLOCK).encode()
    # the user adds text after the block; a new block replaces only what lies between the markers
    (tmp_path / "CLAUDE.md").write_bytes(first + b"\n## After\nmore user text\n")
    assert update_claude_md(tmp_path, OTHER) == "updated"
    text = (tmp_path / "CLAUDE.md").read_text()
    assert text == user_top + "\n\n" + OTHER + "\n## After\nmore user text\n"
    assert update_claude_md(tmp_path, OTHER) == "unchanged"
    twice = (tmp_path / "CLAUDE.md").read_bytes()
    update_claude_md(tmp_path, OTHER)
    assert (tmp_path / "CLAUDE.md").read_bytes() == twice


def test_crlf_files_keep_crlf_and_odd_bytes_survive(tmp_path: Path) -> None:
    raw = b"# Rules\r\n\r\ncaf\xe9 latin-1 byte\r\n"
    (tmp_path / "CLAUDE.md").write_bytes(raw)
    update_claude_md(tmp_path, BLOCK)
    data = (tmp_path / "CLAUDE.md").read_bytes()
    assert data.startswith(raw) and b"\n" not in data.replace(b"\r\n", b"")
    update_claude_md(tmp_path, OTHER)
    assert (tmp_path / "CLAUDE.md").read_bytes() == raw + b"\r\n" + OTHER.replace("\n", "\r\n").encode()


@pytest.mark.parametrize(
    "broken",
    [f"x\n{BEGIN}\nno end\n", f"x\n{END}\n{BEGIN}\n", f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n"],
)
def test_unbalanced_markers_are_refused_and_nothing_is_written(tmp_path: Path, broken: str) -> None:
    (tmp_path / "CLAUDE.md").write_text(broken)
    with pytest.raises(CtxengError, match="markers"):
        update_claude_md(tmp_path, BLOCK)
    assert (tmp_path / "CLAUDE.md").read_text() == broken


def test_dot_claude_location_is_used_when_it_is_the_only_one(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "CLAUDE.md").write_text("mine\n")
    update_claude_md(tmp_path, BLOCK)
    assert not (tmp_path / "CLAUDE.md").exists()
    assert (tmp_path / ".claude" / "CLAUDE.md").read_text() == "mine\n\n" + BLOCK


def test_symlinked_claude_md_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("secret\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside, repo / "CLAUDE.md")
    with pytest.raises(CtxengError, match="symlink"):
        update_claude_md(repo, BLOCK)
    assert outside.read_text() == "secret\n"


def test_merge_block_of_empty_file_is_the_block() -> None:
    assert merge_block("", BLOCK) == BLOCK
    assert merge_block(None, BLOCK) == BLOCK


def test_rendered_block_is_short_and_names_skill_commands_layout() -> None:
    facts = RepoFacts(
        name="demo", tracked=[f"d{i}/x.py" for i in range(30)] + ["tests/test_x.py", "README.md"]
    )
    conv = Conventions(commands=[Command("install", "pip install -e .", "pyproject.toml"),
                                 Command("test", "make test", "Makefile:1"), Command("test", "pytest", "p"),
                                 Command("test", "tox", "tox.ini"), Command("lint", "ruff check .", "p")])  # fmt: skip
    block = render_block(facts, conv, "demo-context")
    lines = block.splitlines()
    assert lines[0] == BEGIN and lines[-1] == END and len(lines) <= MAX_LINES
    assert "`.claude/skills/demo-context/`" in block
    assert "- Test: `make test` or `pytest`" in block and "tox" not in block
    assert "`tests/` (tests)" in block and "…" in block  # 31 folders: the layout line is cut
