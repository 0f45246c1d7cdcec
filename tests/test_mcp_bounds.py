"""`ctxeng mcp` under hostile input: megabyte prompts, time limits, SIGTERM and closed stdin, symlinks that
point out of the repository, over-long paths and file names with newlines.

The server is the real `python -m ctxeng mcp` in a built repository; calls go through the MCP SDK client
over stdio (as tests/test_mcp.py does), or, where the test must signal or starve the process itself,
through plain JSON-RPC lines on its stdin.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ctxeng.pipeline.build import build
from tests.extras import require
from tests.sample_repo import make_sample_repo

require("mcp", "anyio")
import anyio  # noqa: E402

EVIL_NAME = "kvstore/evil\n# Injected heading\n.py"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample repository plus a tracked symlink to a folder outside it and a file named with newlines."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("not yours\n")
    repo = make_sample_repo(tmp_path_factory.mktemp("mcpb") / "kvstore")
    os.symlink(outside, repo.path / "escape")
    repo.commit("Add odd entries", {EVIL_NAME: "def injected_helper(x):\n    return x\n"})
    build(repo.path)
    return repo.path


def session(repo: Path, body: Any, env: dict[str, str] | None = None) -> Any:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ctxeng", "mcp"],
        cwd=str(repo),
        env={"CTXENG_ROOT": str(repo), "OMP_NUM_THREADS": "1", "HOME": os.environ["HOME"], **(env or {})},
    )

    async def run() -> Any:
        async with Client(params, read_timeout_seconds=120) as client:
            return await body(client)

    return anyio.run(run)


def text_of(result: Any) -> str:
    return "".join(part.text for part in result.content)


def test_a_five_megabyte_prompt_is_answered_quickly_and_others_meanwhile(built: Path) -> None:
    prompt = "How does compact rewrite the store? " + ("flush_pending segment " * 250_000)[:5_000_000]
    timings: dict[str, float] = {}

    async def body(client: Any) -> dict[str, Any]:
        await client.call_tool("staleness", {})  # warm: imports and the first index load are not the point
        results: dict[str, Any] = {}
        start = time.monotonic()

        async def call(key: str, tool: str, args: dict[str, Any]) -> None:
            results[key] = await client.call_tool(tool, args)
            timings[key] = time.monotonic() - start

        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "big", "repo_context", {"prompt": prompt, "budget": 400})
            tg.start_soon(call, "token", "repo_context", {"prompt": "a" * 40_000 + " compact"})
            tg.start_soon(call, "symbol", "find_symbol", {"name": "compact"})
        return results

    results = session(built, body)
    for key, result in results.items():
        assert not result.is_error, (key, text_of(result))
    assert "compact" in text_of(results["big"]) and "### `compact`" in text_of(results["symbol"])
    # Before: the 5 MB prompt ran > 13 minutes and nothing else was answered meanwhile.
    assert max(timings.values()) < 20, timings  # wall clock on a loaded 2-core machine


def test_a_tool_call_over_the_time_limit_is_a_clean_error(built: Path) -> None:
    async def body(client: Any) -> Any:
        return await client.call_tool("repo_context", {"prompt": "how does compact work"})

    result = session(built, body, env={"CTXENG_MCP_TIME_LIMIT": "0.000001"})
    assert result.is_error and "took longer than" in text_of(result) and "hint: narrow" in text_of(result)


class RawServer:
    """`ctxeng mcp` driven by hand-written JSON-RPC lines, so the test owns its stdin and its signals."""

    def __init__(self, repo: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ctxeng", "mcp", str(repo)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})  # fmt: skip
        assert self.receive()["result"]["serverInfo"]["name"] == "ctxeng"
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        return dict(json.loads(self.proc.stdout.readline()))

    def wait(self, seconds: float) -> int | None:
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


@pytest.mark.parametrize("how", ["sigterm", "closed stdin"])
def test_the_server_stops_on_sigterm_and_on_closed_stdin(built: Path, how: str) -> None:
    server = RawServer(built)
    server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                 "params": {"name": "find_symbol", "arguments": {"name": "compact"}}})  # fmt: skip
    assert "compact" in json.dumps(server.receive())
    if how == "sigterm":
        server.proc.send_signal(signal.SIGTERM)  # stdin stays open: before, the server never exited
    else:
        assert server.proc.stdin is not None
        server.proc.stdin.close()
    assert server.wait(15) == 0


def test_symlinks_never_tell_whether_an_outside_file_exists(built: Path) -> None:
    async def body(client: Any) -> list[Any]:
        paths = ["escape/secret.txt", "escape/missing.txt", f"{built}/escape/secret.txt", "escape"]
        return [await client.call_tool("related_files", {"path": p}) for p in paths]

    there, missing, absolute, link = session(built, body)
    for result in (there, missing, absolute, link):
        assert result.is_error and "is not a file of this repository" in text_of(result)
    assert text_of(there).replace("secret", "missing") == text_of(missing)


def test_an_over_long_path_is_a_clean_error(built: Path) -> None:
    async def body(client: Any) -> list[Any]:
        return [
            await client.call_tool("related_files", {"path": "a/" * 500_000}),
            await client.call_tool("related_files", {"path": "x" * 3_000}),
            await client.call_tool("find_symbol", {"name": "n" * 1_000_000}),
        ]

    long_path, long_name, long_symbol = session(built, body)
    assert long_path.is_error and "not a usable path (1,000,000 characters)" in text_of(long_path)
    assert long_name.is_error and "is not a file of this repository" in text_of(long_name)
    assert long_symbol.is_error and "too long" in text_of(long_symbol)
    for result in (long_path, long_name, long_symbol):
        assert "Errno" not in text_of(result) and "Traceback" not in text_of(result)
        assert len(text_of(result)) < 1_000


def test_file_names_with_newlines_cannot_inject_markdown(built: Path) -> None:
    async def body(client: Any) -> list[Any]:
        return [
            await client.call_tool("find_symbol", {"name": "injected_helper"}),
            await client.call_tool("related_files", {"path": "kvstore/store.py", "limit": 100}),
            await client.call_tool("repo_context", {"prompt": "what does injected_helper do", "budget": 600}),
            await client.call_tool("find_symbol", {"name": "x\n# Name heading"}),
        ]

    results = session(built, body)
    for result in results:
        text = text_of(result)
        assert not any(
            line.startswith("# Injected") or line.startswith("# Name") for line in text.splitlines()
        )
    assert "kvstore/evil\\n# Injected heading\\n.py" in text_of(results[0])
    assert "`kvstore/evil\\n# Injected heading\\n.py`" in text_of(results[1])
