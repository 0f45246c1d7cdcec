"""`ctxeng mcp` through a real MCP SDK client session over stdio, and `ctxeng install --mcp`.

The server is `python -m ctxeng mcp`, spawned by the SDK's stdio client in a built repository with
trained tiny adapters; every tool is listed and called.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ctxeng.cli import main
from ctxeng.core.tokens import count_tokens
from tests.adapterrepo import QUESTION, AdapterRepo, adapter_repo, copy_repo
from tests.extras import require
from tests.gitrepo import GitRepo

require("mcp", "anyio")
import anyio  # noqa: E402

TOOLS = ["ask_adapter", "find_symbol", "related_files", "repo_context", "staleness"]
Session = Callable[[Any], Awaitable[Any]]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> AdapterRepo:
    return adapter_repo(tmp_path_factory)


def with_session(repo: Path, body: Session, cwd: Path | None = None) -> Any:
    """Spawn `ctxeng mcp` over stdio (root from CTXENG_ROOT, as `.mcp.json` sets it); run `body(client)`."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ctxeng", "mcp"],
        cwd=str(cwd or repo),
        env={"CTXENG_ROOT": str(repo), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )

    async def run() -> Any:
        async with Client(params, read_timeout_seconds=300) as client:
            return await body(client)

    return anyio.run(run)


def text_of(result: Any) -> str:
    return "".join(part.text for part in result.content)


def test_a_client_session_lists_every_tool_and_calls_each(made: AdapterRepo, tmp_path: Path) -> None:
    repo = copy_repo(made, tmp_path / "kvstore")
    calls = {
        "find_symbol": {"name": "compact"},
        "find_symbol ": {"name": "Store.put"},
        "related_files": {"path": "kvstore/store.py"},
        "repo_context": {"prompt": "Where is compact defined and what does it do?", "budget": 300},
        "repo_context ": {
            "prompt": "How are records encoded, stored, compacted and read back?",
            "budget": 50_000,
        },
        "staleness": {},
        "ask_adapter": {"question": QUESTION, "budget": 200},
    }

    async def body(client: Any) -> tuple[list[Any], dict[str, Any]]:
        listed = (await client.list_tools()).tools
        return listed, {key: await client.call_tool(key.strip(), args) for key, args in calls.items()}

    listed, results = with_session(repo, body, cwd=tmp_path)  # the root comes from CTXENG_ROOT, not the cwd
    assert sorted(t.name for t in listed) == TOOLS
    for tool in listed:
        assert tool.description and tool.input_schema["type"] == "object"
    assert {t.name: sorted(t.input_schema.get("required", [])) for t in listed} == {
        "ask_adapter": ["question"],
        "find_symbol": ["name"],
        "related_files": ["path"],
        "repo_context": ["prompt"],
        "staleness": [],
    }
    for key, result in results.items():
        assert not result.is_error, (key, text_of(result))
        assert count_tokens(text_of(result)) <= 10_000, key
    compact = text_of(results["find_symbol"])
    assert "### `compact` (function) — kvstore/compact.py:7-" in compact
    assert "`def compact(store: Store) -> int`" in compact and "Rewrite every live key" in compact
    assert "### `Store.put` (method) — kvstore/store.py:23-" in text_of(results["find_symbol "])
    related = text_of(results["related_files"])
    changed, rest = related.split("## Imports", 1)
    assert "- `kvstore/codec.py` — 3 commits, 75%" in changed  # tombstones + the two format commits
    imports, rest = rest.split("## Imported by", 1)
    assert "- `kvstore/codec.py`" in imports
    importers, same = rest.split("## Same folder", 1)
    assert "- `kvstore/compact.py`" in importers and "- `kvstore/cli.py`" in same
    context = text_of(results["repo_context"])
    assert "kvstore/compact.py" in context and count_tokens(context) <= 300
    assert "records: up to date" in text_of(results["staleness"]) and "adapter:second: up to date" in text_of(
        results["staleness"]
    )
    answer = text_of(results["ask_adapter"])
    assert "(model second, in-process)" in answer and "Sources:\n" in answer
    assert "- [definition] kvstore/compact.py:7  def compact(store: Store) -> int" in answer


def test_tool_errors_come_back_as_tool_results_with_a_hint(made: AdapterRepo, tmp_path: Path) -> None:
    repo = copy_repo(made, tmp_path / "kvstore")

    async def body(client: Any) -> dict[str, Any]:
        return {
            "unknown path": await client.call_tool("related_files", {"path": "kvstore/stor.py"}),
            "plain file": await client.call_tool("related_files", {"path": "./Makefile"}),
            "outside": await client.call_tool("related_files", {"path": "/etc/passwd"}),
            "up": await client.call_tool("related_files", {"path": "kvstore/../../x.py"}),
            "no symbol": await client.call_tool("find_symbol", {"name": "nothing_like_this"}),
            "near": await client.call_tool("find_symbol", {"name": "TOMBSTON"}),
            "bad adapter": await client.call_tool("ask_adapter", {"question": "x", "adapter": "nope"}),
        }

    results = with_session(repo, body)
    unknown = text_of(results["unknown path"])
    assert results["unknown path"].is_error and "kvstore/stor.py is not a file of this repository" in unknown
    assert "similar: kvstore/store.py" in unknown
    plain = text_of(results["plain file"])  # tracked, but neither code nor changed with others
    assert not results["plain file"].is_error and plain.startswith("Files related to `Makefile`:")
    for key in ("outside", "up"):
        assert results[key].is_error and "outside the repository" in text_of(results[key])
    assert not results["no symbol"].is_error and "No definition named `nothing_like_this`" in text_of(
        results["no symbol"]
    )
    assert "No exact match for `TOMBSTON`; similar names" in text_of(results["near"])
    assert "kvstore/codec.py:25" in text_of(results["near"])
    assert results["bad adapter"].is_error and "no adapter named 'nope'" in text_of(results["bad adapter"])


def test_without_an_adapter_there_is_no_ask_tool_and_without_a_build_tools_say_so(
    made: AdapterRepo, tmp_path: Path
) -> None:
    repo = copy_repo(made, tmp_path / "kvstore")
    shutil.rmtree(repo / ".ctxeng" / "adapters")

    async def names(client: Any) -> list[str]:
        return sorted(t.name for t in (await client.list_tools()).tools)

    assert with_session(repo, names) == [t for t in TOOLS if t != "ask_adapter"]
    shutil.rmtree(repo / ".ctxeng")

    async def body(client: Any) -> list[Any]:
        return [
            await client.call_tool("find_symbol", {"name": "Store"}),
            await client.call_tool("repo_context", {"prompt": "store"}),
            await client.call_tool("staleness", {}),
        ]

    symbol, context, status = with_session(repo, body)
    assert symbol.is_error and "run `ctxeng build`" in text_of(symbol)
    assert context.is_error and "ctxeng build" in text_of(context)
    assert not status.is_error and "records: missing" in text_of(status) and "ctxeng build" in text_of(status)


def test_answers_are_scanned_for_secrets_once_more(made: AdapterRepo, tmp_path: Path) -> None:
    repo = copy_repo(made, tmp_path / "kvstore")
    token = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5"
    records = repo / ".ctxeng" / "records.jsonl"  # as an older build, before a rule for it existed, wrote it
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    for row in rows:
        if row["kind"] == "symbol" and row["name"] == "compact":
            row["meta"]["doc"] = f"Rewrite live keys; deploys with GITHUB_TOKEN = {token}"
    records.write_text("".join(json.dumps(row) + "\n" for row in rows))

    async def body(client: Any) -> Any:
        return await client.call_tool("find_symbol", {"name": "compact"})

    text = text_of(with_session(repo, body))
    assert token not in text and "[REDACTED:github-token]" in text


def test_capped_answers_stay_under_ten_thousand_tokens() -> None:
    from ctxeng.mcp.tools import CUT_NOTE, capped

    line = "- `kvstore/store.py` — the store keeps segments on disk and a keydir in memory\n"
    text = capped(line * 2_000)
    assert count_tokens(text) <= 10_000 and text.endswith(CUT_NOTE) and text.startswith(line)
    assert capped("short") == "short"


# -- ctxeng install --mcp --------------------------------------------------------------------------

OURS = {
    "type": "stdio",
    "command": "sh",
    "args": ["${CLAUDE_PROJECT_DIR:-.}/.claude/hooks/ctxeng.sh", "mcp"],
    "env": {"CTXENG_ROOT": "${CLAUDE_PROJECT_DIR:-.}"},
}
OLD = {  # what 0.1.0 wrote: a bare `ctxeng`, which Claude Code's PATH usually lacks
    "type": "stdio",
    "command": "ctxeng",
    "args": ["mcp"],
    "env": {"CTXENG_ROOT": "${CLAUDE_PROJECT_DIR:-.}"},
}


def test_install_writes_mcp_json_and_uninstall_removes_it(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"README.md": "hi\n"})
    path = git_repo.path / ".mcp.json"
    assert main(["install", "--mcp", str(git_repo.path)]) == 0
    assert json.loads(path.read_text()) == {"mcpServers": {"ctxeng": OURS}}
    before = path.read_bytes()
    assert main(["install", "--mcp", str(git_repo.path)]) == 0
    assert path.read_bytes() == before  # idempotent
    assert (git_repo.path / ".claude/hooks/ctxeng.sh").is_file()
    assert main(["uninstall", "--mcp", str(git_repo.path)]) == 0
    assert not path.exists() and not (git_repo.path / ".claude").exists()


def test_an_entry_written_by_an_older_version_is_replaced_and_removed(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"README.md": "hi\n"})
    path = git_repo.path / ".mcp.json"
    path.write_text(json.dumps({"mcpServers": {"ctxeng": OLD, "x": {"command": "x"}}}, indent=2) + "\n")
    assert main(["install", "--mcp", str(git_repo.path)]) == 0
    assert json.loads(path.read_text())["mcpServers"] == {"ctxeng": OURS, "x": {"command": "x"}}
    path.write_text(json.dumps({"mcpServers": {"ctxeng": OLD, "x": {"command": "x"}}}, indent=2) + "\n")
    assert main(["uninstall", "--mcp", str(git_repo.path)]) == 0
    assert json.loads(path.read_text()) == {"mcpServers": {"x": {"command": "x"}}}


def test_install_merges_with_the_users_servers_and_uninstall_restores_their_bytes(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"README.md": "hi\n"})
    path = git_repo.path / ".mcp.json"
    docs = '"docs": {"type": "http", "url": "https://example.com/mcp"}'
    original = '{\n    "mcpServers": {\n        ' + docs + '\n    },\n    "x": 1\n}'
    path.write_text(original)
    assert main(["install", "--mcp", str(git_repo.path)]) == 0
    merged = json.loads(path.read_text())
    assert merged["mcpServers"] == {
        "docs": {"type": "http", "url": "https://example.com/mcp"},
        "ctxeng": OURS,
    }
    assert merged["x"] == 1 and '\n    "mcpServers"' in path.read_text()  # the user's indentation is kept
    assert main(["uninstall", "--mcp", str(git_repo.path)]) == 0
    assert path.read_text() == original


def test_uninstall_keeps_changes_made_after_install(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"README.md": "hi\n"})
    path = git_repo.path / ".mcp.json"
    path.write_text('{"mcpServers": {}}\n')
    assert main(["install", "--mcp", str(git_repo.path)]) == 0
    data = json.loads(path.read_text())
    data["mcpServers"]["other"] = {"type": "stdio", "command": "other"}
    path.write_text(json.dumps(data, indent=2) + "\n")
    assert main(["uninstall", "--mcp", str(git_repo.path)]) == 0
    assert json.loads(path.read_text()) == {"mcpServers": {"other": {"type": "stdio", "command": "other"}}}
    assert main(["uninstall", "--mcp", str(git_repo.path)]) == 0  # nothing of ours left: nothing to do


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"mcpServers": {"ctxeng": {"type": "http", "url": "https://x"}}}', "that ctxeng did not write"),
        ("{not json", "is not valid JSON"),
        ('{"mcpServers": []}', "mcpServers is an object"),
    ],
)
def test_install_refuses_what_it_cannot_merge_and_changes_nothing(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    git_repo.commit("init", {"README.md": "hi\n"})
    path = git_repo.path / ".mcp.json"
    path.write_text(text)
    assert main(["install", "--mcp", str(git_repo.path)]) == 1
    assert message in capsys.readouterr().err and path.read_text() == text
