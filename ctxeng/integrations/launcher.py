"""The launcher Claude Code's hooks and MCP server run (`.claude/hooks/ctxeng.sh`), and the hook-failure log.

Claude Code starts hooks and MCP servers with its own PATH, so a bare `ctxeng` there runs nothing when
ctxeng lives in a virtual environment (the usual install). The launcher is the same bytes in every
clone (it may be committed with `.claude/`); the machine-specific part, the absolute path of the Python
that ran `ctxeng install`, is recorded per clone in `.ctxeng/install/python`, the way the git hooks
carry their interpreter. When the launcher cannot run ctxeng it appends one line to `.ctxeng/hooks.log`,
which `ctxeng status` reports, instead of failing silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ctxeng import __version__
from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import atomic_write_text
from ctxeng.core.repo import RepoView
from ctxeng.core.workdir import ensure_workdir, workdir
from ctxeng.integrations.templates import template_text
from ctxeng.pipeline.status import HOOK_LOG

LAUNCHER = ".claude/hooks/ctxeng.sh"
LAUNCHER_ID = "ctxeng-launcher-id: 5b1e0c7a"
TEMPLATE = "claude/hooks/ctxeng.sh"
PYTHON_FILE = "install/python"  # under .ctxeng/: the interpreter the launcher runs, one line
#: Claude Code's PATH is not the user's shell's; the launcher is checked under a bare one.
MINIMAL_PATH = "/usr/bin:/bin"


def shell_command(*args: str) -> str:
    """The hook command line that runs `ctxeng ARGS` through the launcher (Claude Code runs it with sh -c)."""
    return " ".join(['sh "$CLAUDE_PROJECT_DIR"/' + LAUNCHER, *args])


def is_ours(path: Path) -> bool:
    """Whether `path` is a launcher ctxeng wrote."""
    try:
        return LAUNCHER_ID in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def python_path() -> str:
    """The absolute path of this interpreter, symlinks kept: a venv's `bin/python` is what makes it the venv."""
    return os.path.abspath(sys.executable)


def install_launcher(repo: RepoView) -> list[str]:
    """Write the launcher (replacing only an earlier ctxeng version) and record this clone's interpreter."""
    path = repo.root / LAUNCHER
    text = template_text(TEMPLATE)
    if path.is_symlink() or (path.exists() and not is_ours(path)):
        raise CtxengError(
            f"{LAUNCHER} exists and ctxeng did not write it", hint="rename or remove it, then install again"
        )
    done = []
    if path.is_file() and path.read_text(encoding="utf-8", errors="replace") == text:
        done.append(f"{LAUNCHER} is already installed")
    else:
        atomic_write_text(path, text)
        done.append(f"wrote {LAUNCHER} (runs this ctxeng whatever Claude Code's PATH is)")
    os.chmod(path, 0o755)
    recorded = ensure_workdir(repo) / PYTHON_FILE
    python = python_path()
    if not recorded.is_file() or recorded.read_text(encoding="utf-8").strip() != python:
        atomic_write_text(recorded, python + "\n")
    (workdir(repo.root) / HOOK_LOG).unlink(missing_ok=True)  # old failures are fixed by this install
    return done


def uninstall_launcher(repo: RepoView) -> list[str]:
    """Remove the launcher (if ctxeng wrote it) and the recorded interpreter."""
    path = repo.root / LAUNCHER
    (workdir(repo.root) / PYTHON_FILE).unlink(missing_ok=True)
    if not path.exists() or path.is_symlink():
        return []
    if not is_ours(path):
        return [f"left {LAUNCHER} alone: ctxeng did not write it"]
    path.unlink()
    for folder in (path.parent, path.parent.parent):  # .claude/hooks, .claude: only when left empty
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            folder.rmdir()
    return [f"removed {LAUNCHER}"]


def verify(repo: RepoView) -> list[str]:
    """Run the launcher as Claude Code would (PATH=/usr/bin:/bin) and say what it ran; warn about PATH.

    Raises `CtxengError` when the launcher cannot run ctxeng at all (nothing Claude Code starts would work).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "CTXENG_"))}
    env["PATH"] = MINIMAL_PATH
    try:
        proc = subprocess.run(
            ["sh", str(repo.root / LAUNCHER), "--version"],
            cwd=repo.root, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CtxengError(f"cannot run {LAUNCHER}: {exc}", hint="check that `sh` works here") from None
    if proc.returncode != 0 or __version__ not in proc.stdout:
        why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise CtxengError(
            f"{LAUNCHER} cannot run ctxeng under Claude Code's PATH: {why}",
            hint=f"reinstall ctxeng into {python_path()}'s environment, then `ctxeng install` again",
        )
    lines = [f"checked: Claude Code's hooks run ctxeng {__version__} with {python_path()}"]
    on_path = shutil.which("ctxeng")
    if on_path is None or os.path.dirname(on_path) != os.path.dirname(python_path()):
        where = f"`ctxeng` on PATH is {on_path}" if on_path else "`ctxeng` is not on PATH"
        lines.append(
            f"note: {where}; the hooks and MCP server do not need it (they run {LAUNCHER}), "
            f"but to type `ctxeng` in a shell add {os.path.dirname(python_path())} to PATH"
        )
    return lines
