"""The MCP server (SDK 2.x `MCPServer`) over stdio, with the tools of `ctxeng.mcp.tools` for one repository.

stdout is the protocol: nothing here prints; logs go to stderr. The ask tool is registered only
when the repository has a trained adapter.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.mcp import tools

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

    def guard(fn: Callable[..., str], *args: Any) -> str:
        try:
            text = fn(root, *args)
        except CtxengError as exc:  # the agent reads the message and the hint, as a user would
            raise ToolError(exc.message + (f" (hint: {exc.hint})" if exc.hint else "")) from None
        # Records are redacted when written; scanning again, as the hooks do, keeps answers safe even
        # from outputs built before a secret rule existed (and from whatever an adapter says).
        return str(redactor.text(text))

    @server.tool(structured_output=False)
    def find_symbol(name: str, limit: int = 20) -> str:
        """Where a class, function, method or constant is defined: file, line range, signature and docs.

        `name` is a plain or qualified name (`put`, `Store.put`); near names are listed when nothing matches.
        """
        return guard(tools.find_symbol, name, limit)

    @server.tool(structured_output=False)
    def related_files(path: str, limit: int = 15) -> str:
        """Files related to a repository file: changed together in git history, imported by it,
        importing it, and in the same folder. `path` is relative to the repository root."""
        return guard(tools.related_files, path, limit)

    @server.tool(structured_output=False)
    def repo_context(prompt: str, budget: int = 2000) -> str:
        """The definitions, files, design docs and commits most relevant to a task or question,
        within `budget` tokens (at most 10,000)."""
        return guard(tools.repo_context, prompt, budget)

    @server.tool(structured_output=False)
    def staleness() -> str:
        """How far ctxeng's records, dataset, context pack and adapters lag behind HEAD, and what to run."""
        return guard(tools.staleness)

    if tools.has_adapter(root):

        @server.tool(structured_output=False)
        def ask_adapter(question: str, adapter: str | None = None, budget: int = 1000) -> str:
            """Ask the model fine-tuned on this repository (its LoRA adapter), grounded by retrieved context
            of `budget` tokens; returns its answer and the sources it was given.
            The first call loads the model."""
            return guard(tools.ask_adapter, question, adapter, budget)

    return server


def _redactor(root: Path) -> Any:
    from ctxeng.core.config import Config, load_config
    from ctxeng.secrets import Redactor  # type: ignore[attr-defined]

    try:
        config = load_config(root)
    except CtxengError:
        config = Config()  # a broken config must not stop the tools; the defaults redact at least as much
    return Redactor(config.secrets)


def run_stdio(root: Path) -> None:
    """Serve the tools over stdin/stdout until the client closes the connection."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="ctxeng mcp: %(levelname)s %(message)s"
    )
    build_server(root).run()
