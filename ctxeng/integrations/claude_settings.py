"""Install and remove ctxeng's Claude Code integration: hook entries merged into `.claude/settings.json`,
the `/ctxeng-refresh` command and the context-pack skill.

settings.json belongs to the user: install adds our handlers (recognised later by their exact
command strings) and keeps every other key and hook; uninstall removes exactly those handlers and,
through `ctxeng.integrations.json_edit`, gives the file back byte for byte when nothing else changed.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import atomic_write_bytes, atomic_write_text
from ctxeng.core.repo import RepoView, open_repo
from ctxeng.integrations.json_edit import forget, load_object, write_installed, write_uninstalled
from ctxeng.integrations.templates import template_json, template_text

SETTINGS = ".claude/settings.json"
COMMAND = ".claude/commands/ctxeng-refresh.md"
COMMAND_ID = "ctxeng-command-id: 2d7f61c4"
HOOKS_TEMPLATE = "claude/settings.hooks.json"
# Hook commands of earlier versions, still recognised as ours (install replaces them, uninstall removes them).
# 0.1.0 ran a bare `ctxeng`, which Claude Code's PATH usually lacks; the launcher replaced it.
PRIOR_COMMANDS: frozenset[str] = frozenset({"ctxeng status --hook || true", "ctxeng context --hook || true"})
BACKUP = "install/claude-settings.before.json"  # under .ctxeng/: {"existed": bool, "text": str}


def our_hooks() -> dict[str, list[dict[str, Any]]]:
    """The hook entries ctxeng installs, by event (from the shipped template)."""
    hooks: dict[str, list[dict[str, Any]]] = template_json(HOOKS_TEMPLATE)["hooks"]
    return hooks


@functools.lru_cache(maxsize=1)
def our_commands() -> frozenset[str]:
    """The command strings that mark a hook handler as ctxeng's."""
    current = {h["command"] for groups in our_hooks().values() for g in groups for h in g["hooks"]}
    return frozenset(current) | PRIOR_COMMANDS


def _is_ours(handler: Any) -> bool:
    return isinstance(handler, dict) and handler.get("command") in our_commands()


def strip_hooks(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of `settings` without ctxeng's handlers; groups, events and `hooks` emptied by that go too.

    Anything the user wrote (even an empty group of their own) is left exactly as it was.
    """
    result = copy.deepcopy(settings)
    hooks = result.get("hooks")
    if not isinstance(hooks, dict):
        return result
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept = []
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if isinstance(handlers, list) and any(_is_ours(h) for h in handlers):
                group = {**group, "hooks": [h for h in handlers if not _is_ours(h)]}
                if not group["hooks"]:
                    continue
            kept.append(group)
        if kept or not groups:
            hooks[event] = kept
        else:
            del hooks[event]
    if not hooks and "hooks" in settings and settings["hooks"]:
        del result["hooks"]
    return result


def merge_hooks(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of `settings` with ctxeng's hook entries; unchanged if they are already there as shipped."""
    ours = our_hooks()
    hooks = settings.get("hooks", {})
    if not isinstance(hooks, dict) or any(not isinstance(hooks.get(e, []), list) for e in ours):
        raise CtxengError(
            f"{SETTINGS}: 'hooks' does not have the shape Claude Code uses", hint="fix it, then install again"
        )
    if all(group in hooks.get(event, []) for event, groups in ours.items() for group in groups):
        return copy.deepcopy(settings)
    result = strip_hooks(settings)  # an older version of our entries is replaced, not duplicated
    merged = result.setdefault("hooks", {})
    for event, groups in ours.items():
        merged.setdefault(event, []).extend(copy.deepcopy(groups))
    return result


def _load(path: Path) -> tuple[dict[str, Any], str | None]:
    return load_object(path, SETTINGS)


def install_settings(repo: RepoView) -> list[str]:
    """Merge ctxeng's SessionStart and UserPromptSubmit hooks into `.claude/settings.json`."""
    path = repo.root / SETTINGS
    data, text = _load(path)
    merged = merge_hooks(data)
    if text is not None and merged == data:
        return [f"{SETTINGS} already has ctxeng's hooks"]
    write_installed(repo, path, BACKUP, merged, text)
    return [f"added ctxeng's SessionStart and UserPromptSubmit hooks to {SETTINGS}"]


def has_hooks(repo: RepoView) -> bool:
    """Whether `.claude/settings.json` holds any of ctxeng's hook handlers (unreadable counts as no)."""
    try:
        data, _ = _load(repo.root / SETTINGS)
    except CtxengError:
        return False
    return strip_hooks(data) != data


def uninstall_settings(repo: RepoView) -> list[str]:
    """Remove ctxeng's hook entries from `.claude/settings.json`, restoring its earlier bytes if possible."""
    path = repo.root / SETTINGS
    data, text = _load(path)
    stripped = strip_hooks(data)
    if text is None or stripped == data:
        forget(repo, BACKUP)
        return []
    # "unchanged": what install would make of the old file, less our entries (an emptied `hooks` the
    # old file had stays comparable that way), is what the file now holds less our entries. An old file
    # that held an earlier version's entries is not restored: those are ours to remove too.
    write_uninstalled(
        repo, path, BACKUP, stripped, text,
        lambda before: strip_hooks(before) == before and strip_hooks(merge_hooks(before)) == stripped,
    )  # fmt: skip
    return [f"removed ctxeng's hooks from {SETTINGS}"]


def install_command(repo: RepoView) -> list[str]:
    """Write the `/ctxeng-refresh` slash command (replacing only an earlier ctxeng version of it)."""
    path = repo.root / COMMAND
    text = template_text("claude/commands/ctxeng-refresh.md")
    if path.exists():
        current = path.read_text(encoding="utf-8", errors="replace")
        if current == text:
            return [f"{COMMAND} is already installed"]
        if COMMAND_ID not in current:
            raise CtxengError(
                f"{COMMAND} exists and ctxeng did not write it",
                hint="rename or remove it, then install again",
            )
    atomic_write_text(path, text)
    return [f"wrote {COMMAND} (the /ctxeng-refresh command)"]


def uninstall_command(repo: RepoView) -> list[str]:
    """Remove the `/ctxeng-refresh` command if ctxeng wrote it."""
    path = repo.root / COMMAND
    if not path.exists():
        return []
    if COMMAND_ID not in path.read_text(encoding="utf-8", errors="replace"):
        return [f"left {COMMAND} alone: ctxeng did not write it"]
    path.unlink()
    return [f"removed {COMMAND}"]


def install_claude(root: str | Path = ".", check: bool = True) -> list[str]:
    """Install the Claude Code integration into the repository at `root`; returns one line per action.

    The hooks run `.claude/hooks/ctxeng.sh`, which runs the ctxeng of this interpreter whatever Claude
    Code's PATH is; `check` then runs it the way Claude Code would (a `CtxengError` if it cannot).
    Idempotent: a second run changes no byte.
    """
    from ctxeng.integrations.launcher import install_launcher, verify

    repo = open_repo(root)
    _refuse_links(repo.root)
    _load(repo.root / SETTINGS)  # refuse on a broken settings.json before writing anything
    done = [*install_command(repo), *install_launcher(repo), *install_settings(repo), *install_skill(repo)]
    return [*done, *(verify(repo) if check else [])]


def uninstall_claude(root: str | Path = ".") -> list[str]:
    """Remove exactly what `install_claude` added (entries of earlier versions too); emptied folders go."""
    from ctxeng.integrations.launcher import uninstall_launcher
    from ctxeng.integrations.mcp_entry import has_entry

    repo = open_repo(root)
    _refuse_links(repo.root)
    done = [*uninstall_settings(repo), *uninstall_command(repo), *uninstall_skill(repo)]
    if not has_entry(repo):  # the MCP server runs the launcher too
        done += uninstall_launcher(repo)
    for folder in (".claude/commands", ".claude/hooks", ".claude/skills", ".claude"):
        path = repo.root / folder
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return done


def _refuse_links(root: Path) -> None:
    """A symlinked settings file or folder may point anywhere (dotfiles, other projects): not ours to edit."""
    for rel in (".claude", ".claude/commands", ".claude/hooks", SETTINGS, COMMAND):
        if (root / rel).is_symlink():
            raise CtxengError(
                f"{rel} is a symlink; ctxeng does not write through links",
                hint="edit it by hand (nothing was changed)",
            )


def install_skill(repo: RepoView) -> list[str]:
    """Write the context-pack skill (and the CLAUDE.md block) from the current records, via `ctxeng pack`."""
    if not (repo.root / ".ctxeng" / "records.jsonl").is_file():
        return ["no records yet: `ctxeng build` mines the repository and writes the context-pack skill"]
    from ctxeng.pack import write_pack

    info = write_pack(repo.root)
    return [f"wrote the context-pack skill {info['skill']}/ ({info['total_tokens']} tokens)"]


def uninstall_skill(repo: RepoView) -> list[str]:
    """Remove the files the pack wrote into its skill folder and the managed CLAUDE.md block.

    The file list comes from `.ctxeng/pack.json`; anything else in the folder is the user's and stays.
    """
    from ctxeng.pipeline.status import read_json

    info, _ = read_json(repo.root / ".ctxeng" / "pack.json")
    skill, files = (info or {}).get("skill"), (info or {}).get("tokens")
    done = []
    if isinstance(skill, str) and skill.startswith(".claude/skills/") and isinstance(files, dict):
        folder = repo.root / skill
        removed = [rel for rel in sorted(files) if _unlink(folder, rel)]
        for sub in sorted({(folder / rel).parent for rel in files}, key=lambda p: -len(p.parts)):
            if sub.is_dir() and not sub.is_symlink() and not any(sub.iterdir()):
                sub.rmdir()
        if removed:
            done.append(f"removed the context-pack skill {skill}/ ({len(removed)} files)")
    if _remove_claude_md_block(repo.root):
        done.append("removed ctxeng's block from CLAUDE.md")
    if done:
        done.append("`ctxeng build` writes them again; `ctxeng build --no-pack` does not")
    return done


def _unlink(folder: Path, rel: str) -> bool:
    path = folder / rel
    if ".." in Path(rel).parts or not path.is_file() or path.is_symlink():
        return False
    path.unlink()
    return True


def _remove_claude_md_block(root: Path) -> bool:
    """Cut the managed block out of CLAUDE.md (and the blank line the pack put before it)."""
    from ctxeng.pack.claude_md import BEGIN_PREFIX, END, claude_md_path

    path = claude_md_path(root)
    if not path.is_file() or path.is_symlink():
        return False
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    start, end = text.find(BEGIN_PREFIX), text.find(END)
    if start < 0 or end < start or text.count(BEGIN_PREFIX) != 1 or text.count(END) != 1:
        return False
    newline = "\r\n" if "\r\n" in text else "\n"
    before, after = text[:start], text[end + len(END) :]
    after = after.removeprefix(newline)
    if before.endswith(newline * 2):
        before = before[: -len(newline)]
    rest = before + after
    if rest.strip():
        atomic_write_bytes(path, rest.encode("utf-8", "surrogateescape"))  # bytes that are not UTF-8 survive
    else:
        path.unlink()
    return True
