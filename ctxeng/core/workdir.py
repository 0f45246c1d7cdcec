"""The `.ctxeng/` work directory: where it lives and keeping it out of the user's tracked files."""

from __future__ import annotations

from pathlib import Path

from ctxeng.core.repo import RepoView

WORKDIR = ".ctxeng"


def workdir(root: Path) -> Path:
    """The output directory of the repository at `root`."""
    return root / WORKDIR


def ensure_workdir(repo: RepoView) -> Path:
    """Create `.ctxeng/` and list it in `.git/info/exclude` (never in the user's .gitignore)."""
    out = workdir(repo.root)
    out.mkdir(exist_ok=True)
    exclude = Path(repo.git.text(["rev-parse", "--git-path", "info/exclude"]))
    if not exclude.is_absolute():
        exclude = repo.root / exclude
    line = f"/{WORKDIR}/"
    existing = exclude.read_text(encoding="utf-8", errors="replace") if exclude.exists() else ""
    if line not in existing.splitlines():
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a", encoding="utf-8") as fh:
            if existing and not existing.endswith("\n"):
                fh.write("\n")
            fh.write(f"{line}\n")
    return out
