"""The MCP server (SDK 2.x `MCPServer`) over stdio, with the tools of `ctxeng.mcp.tools` for one repository.

stdout is the protocol: nothing here prints; logs go to stderr. The ask tool is registered only
when the repository has a trained adapter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.mcp import tools

TIME_LIMIT_S = float(os.environ.get("CTXENG_MCP_TIME_LIMIT", "60"))  # lookups take well under a second
ASK_TIME_LIMIT_S = max(TIME_LIMIT_S, 600.0)  # the first question loads the model
MAX_RUNNING = 4  # tool calls computing at once; more are refused (a timed-out call may still be running)
_RUNNING = threading.BoundedSemaphore(MAX_RUNNING)

INSTRUCTIONS = (
    "ctxeng knows this repository from its code structure, git history and design docs. Use find_symbol "
    "for where something is defined, related_files before changing a file, repo_context for a task's "
    "background, staleness to see whether that knowledge is current, and ask_adapter (when offered) for "
    "the answer of a model trained on this repository."
)


def build_server(root: Path) -> Any:
    """An `MCPServer` named `ctxeng` with the tools for the repository at `root`."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("ctxeng", instructions=INSTRUCTIONS, log_level="WARNING")

    redactor = _redactor(root)

    def guarded(fn: Callable[..., str], *args: Any) -> str:
        # Records are redacted when written; scanning again, as the hooks do, keeps answers safe even
        # from outputs built before a secret rule existed (and from whatever an adapter says).
        return str(redactor.text(fn(root, *args)))

    async def guard(fn: Callable[..., str], *args: Any, limit: float = TIME_LIMIT_S) -> str:
        try:
            return await run_bounded(guarded, fn, *args, limit=limit)
        except CtxengError as exc:  # the agent reads the message and the hint, as a user would
            raise ToolError(exc.message + (f" (hint: {exc.hint})" if exc.hint else "")) from None

    @server.tool(structured_output=False)
    async def find_symbol(name: str, limit: int = 20) -> str:
        """Where a class, function, method or constant is defined: file, line range, signature and docs.

        `name` is a plain or qualified name (`put`, `Store.put`); near names are listed when nothing matches.
        """
        return await guard(tools.find_symbol, name, limit)

    @server.tool(structured_output=False)
    async def related_files(path: str, limit: int = 15) -> str:
        """Files related to a repository file: changed together in git history, imported by it,
        importing it, and in the same folder. `path` is relative to the repository root."""
        return await guard(tools.related_files, path, limit)

    @server.tool(structured_output=False)
    async def repo_context(prompt: str, budget: int = 2000) -> str:
        """The definitions, files, design docs and commits most relevant to a task or question,
        within `budget` tokens (at most 10,000)."""
        return await guard(tools.repo_context, prompt, budget)

    @server.tool(structured_output=False)
    async def staleness() -> str:
        """How far ctxeng's records, dataset, context pack and adapters lag behind HEAD, and what to run."""
        return await guard(tools.staleness)

    if tools.has_adapter(root):

        @server.tool(structured_output=False)
        async def ask_adapter(question: str, adapter: str | None = None, budget: int = 1000) -> str:
            """Ask the model fine-tuned on this repository (its LoRA adapter), grounded by retrieved context
            of `budget` tokens; returns its answer and the sources it was given.
            The first call loads the model."""
            return await guard(tools.ask_adapter, question, adapter, budget, limit=ASK_TIME_LIMIT_S)

    return server


async def run_bounded(fn: Callable[..., str], *args: Any, limit: float) -> str:
    """`fn(*args)` on a daemon thread, awaited for at most `limit` seconds (then a `CtxengError`).

    The event loop stays free meanwhile, so other requests, a closed stdin and SIGTERM are handled
    at once; a call that runs over its limit is abandoned, not joined (a daemon thread never holds
    up the exit), and at most `MAX_RUNNING` calls compute at a time.
    """
    if not _RUNNING.acquire(blocking=False):
        raise CtxengError("ctxeng is still busy with earlier requests", hint="retry in a moment")
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def settle(result: str | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(str(result))

    def work() -> None:
        result: str | None = None
        error: BaseException | None = None
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the awaiting request, which reports it
            error = exc
        finally:
            _RUNNING.release()
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop closed: the server is stopping and nobody waits for this answer
            pass

    threading.Thread(target=work, name="ctxeng-mcp-tool", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(future), limit)
    except TimeoutError:
        raise CtxengError(
            f"the request took longer than {limit:g} s and was abandoned", hint="narrow the request"
        ) from None


def _redactor(root: Path) -> Any:
    from ctxeng.core.config import Config, load_config
    from ctxeng.secrets import Redactor

    try:
        config = load_config(root)
    except CtxengError:
        config = Config()  # a broken config must not stop the tools; the defaults redact at least as much
    return Redactor(config.secrets)


def run_stdio(root: Path) -> None:
    """Serve the tools over stdin/stdout until the client closes the connection or SIGTERM / Ctrl-C.

    The process ends here (`os._exit`): the SDK reads stdin on a worker thread that a normal
    interpreter exit would join, which left a server told to stop by SIGTERM running while its
    client kept stdin open. The tools only read, so there is nothing to clean up.
    """
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="ctxeng mcp: %(levelname)s %(message)s"
    )
    code = 0
    try:
        build_server(root).run()
    except KeyboardInterrupt:  # SIGTERM is mapped to it by the CLI: stopping is the normal end
        pass
    except BaseException:
        logging.getLogger("ctxeng.mcp").exception("the MCP server failed")
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a client that went away
                pass
        os._exit(code)
