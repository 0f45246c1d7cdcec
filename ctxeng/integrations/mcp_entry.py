"""Install and remove the `ctxeng` entry of the project's `.mcp.json` (Claude Code's project MCP servers).

Like `.claude/settings.json`, the file belongs to the user: install adds one server entry,
`mcpServers.ctxeng`, and keeps every other key and the file's indentation; uninstall removes exactly
that entry. The bytes the file had before install are kept in `.ctxeng/install/`, and uninstall
writes them back when nothing else changed meanwhile.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.core.repo import RepoView, open_repo
from ctxeng.integrations.json_edit import forget, load_object, write_installed, write_uninstalled
from ctxeng.integrations.launcher import LAUNCHER

MCP_JSON = ".mcp.json"
NAME = "ctxeng"
BACKUP = "install/mcp-json.before.json"  # under .ctxeng/: {"existed": bool, "text": str}
# Claude Code expands ${VAR:-default} in .mcp.json and sets CLAUDE_PROJECT_DIR for the server (it starts
# stdio servers in the project folder, hence the "." default). The server runs through the launcher, which
# finds this clone's ctxeng whatever Claude Code's PATH is; `sh` keeps it working if the mode bit is lost.
LAUNCHER_ARG = "${CLAUDE_PROJECT_DIR:-.}/" + LAUNCHER
ENTRY: dict[str, Any] = {
    "type": "stdio",
    "command": "sh",
    "args": [LAUNCHER_ARG, "mcp"],
    "env": {"CTXENG_ROOT": "${CLAUDE_PROJECT_DIR:-.}"},
}


def is_ours(entry: Any) -> bool:
    """Whether a server entry runs `ctxeng mcp`: this version's (through the launcher) or 0.1.0's bare
    `ctxeng mcp`, also when edited (extra arguments, another env)."""
    args = entry.get("args") if isinstance(entry, dict) else None
    if not isinstance(args, list):
        return False
    if entry.get("command") == "ctxeng":  # 0.1.0
        return args[:1] == ["mcp"]
    return entry.get("command") == "sh" and args[:2] == [LAUNCHER_ARG, "mcp"]


def has_entry(repo: RepoView) -> bool:
    """Whether `.mcp.json` holds ctxeng's server entry (unreadable counts as no)."""
    try:
        data, _ = _load(repo.root / MCP_JSON)
    except CtxengError:
        return False
    return is_ours(data.get("mcpServers", {}).get(NAME))


def _load(path: Path) -> tuple[dict[str, Any], str | None]:
    data, text = load_object(path, MCP_JSON)
    if not isinstance(data.get("mcpServers", {}), dict):
        raise CtxengError(
            f"{MCP_JSON} must be an object whose mcpServers is an object", hint="fix it (nothing was changed)"
        )
    return data, text


def with_entry(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `.mcp.json` data with ctxeng's server entry (replacing an older entry of ours)."""
    current = data.get("mcpServers", {}).get(NAME)
    if current is not None and not is_ours(current):
        raise CtxengError(
            f"{MCP_JSON} already has an MCP server named '{NAME}' that ctxeng did not write",
            hint="rename or remove it, then install again (nothing was changed)",
        )
    result = copy.deepcopy(data)
    result.setdefault("mcpServers", {})[NAME] = copy.deepcopy(ENTRY)
    return result


def without_entry(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `.mcp.json` data without ctxeng's entry (only an entry that runs `ctxeng mcp`)."""
    result = copy.deepcopy(data)
    servers = result.get("mcpServers")
    if isinstance(servers, dict) and is_ours(servers.get(NAME)):
        del servers[NAME]
    return result


def install_mcp(root: str | Path = ".", check: bool = True) -> list[str]:
    """Add the `ctxeng mcp` server to `.mcp.json` at the repository root; a second run changes no byte.

    Refused without the `[serve]` extra (the server would crash at start). The server runs through
    `.claude/hooks/ctxeng.sh`; `check` runs that the way Claude Code would.
    """
    from ctxeng.core.extras import require_extras
    from ctxeng.integrations.launcher import install_launcher, verify

    require_extras("install --mcp", "serve", modules=("mcp",))
    repo = open_repo(root)
    path = _path(repo)
    data, text = _load(path)
    merged = with_entry(data)
    done = install_launcher(repo)
    if text is not None and merged == data:
        done.append(f"{MCP_JSON} already has the ctxeng MCP server")
    else:
        write_installed(repo, path, BACKUP, merged, text)
        done.append(
            f"added the ctxeng MCP server to {MCP_JSON} (Claude Code asks once to approve it; `claude mcp list`)"
        )
    return [*done, *(verify(repo) if check else [])]


def uninstall_mcp(root: str | Path = ".") -> list[str]:
    """Remove ctxeng's entry from `.mcp.json`, restoring the file's exact earlier bytes when possible."""
    from ctxeng.integrations.claude_settings import has_hooks
    from ctxeng.integrations.launcher import uninstall_launcher

    repo = open_repo(root)
    path = _path(repo)
    data, text = _load(path)
    stripped = without_entry(data)
    done = []
    if text is None or stripped == data:
        forget(repo, BACKUP)
    else:
        write_uninstalled(repo, path, BACKUP, stripped, text, lambda before: _same(before, stripped))
        done.append(f"removed the ctxeng MCP server from {MCP_JSON}")
    if not has_hooks(repo):  # Claude Code's hooks run the launcher too
        done += uninstall_launcher(repo)
    return done


def _path(repo: RepoView) -> Path:
    path = repo.root / MCP_JSON
    if path.is_symlink():
        raise CtxengError(
            f"{MCP_JSON} is a symlink; ctxeng does not write through links",
            hint="edit it by hand (nothing was changed)",
        )
    return path


def _same(before: dict[str, Any], stripped: dict[str, Any]) -> bool:
    """Whether the file, ctxeng's entry removed, holds what it held before install ({}: no file);
    an `mcpServers` that install added and uninstall emptied does not count as a change."""
    if stripped.get("mcpServers") == {} and "mcpServers" not in before:
        stripped = {k: v for k, v in stripped.items() if k != "mcpServers"}
    return before == stripped
