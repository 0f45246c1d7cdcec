"""The `.ctxeng/` work directory: where it lives, where its current outputs are, keeping it out of git.

Every reader of build outputs gets their folder from `generation()` (or `generation_dir()`), once
per call, and opens each output inside that folder: `ctxeng.core.generation` explains the layout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ctxeng.core.errors import CtxengError

if TYPE_CHECKING:
    from ctxeng.core.repo import RepoView

WORKDIR = ".ctxeng"
CURRENT = "current"  # symlink to the current generation folder
GEN_PREFIX = "gen-"
MANIFEST = "manifest.json"
#: Top-level names of a generation; `.ctxeng/<name>` is a fixed link to `current/<name>`.
GENERATION_ENTRIES = (
    "dataset", "index-details.jsonl", "index.json", MANIFEST, "pack-model.json", "pack.json", "records.jsonl", "state",
)  # fmt: skip
_GEN_NAME = re.compile(re.escape(GEN_PREFIX) + r"[0-9]{1,12}")


def workdir(root: Path) -> Path:
    """The output directory of the repository at `root`."""
    return root / WORKDIR


def generation_dir(out: Path) -> Path:
    """The folder holding the current outputs of the output directory `out`.

    That is `out/gen-<n>` named by the `current` link, or `out` itself when there is no link (an
    older ctxeng's flat layout, or nothing built yet: the outputs are then simply missing). Resolve
    it once per operation and open every output inside it, so all come from one generation.
    """
    try:
        name = os.readlink(out / CURRENT)
    except FileNotFoundError:
        return out
    except OSError:  # `current` is not a link: not ours to interpret
        return out
    return out / name if _GEN_NAME.fullmatch(name) else out


def generation(root: Path) -> Path:
    """The current outputs' folder of the repository at `root` (see `generation_dir`)."""
    return generation_dir(workdir(root))


def check_workdir(out: Path) -> None:
    """A `CtxengError` when `out` (`.ctxeng`) exists but is not a directory."""
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise CtxengError(
            f"{out} is not a directory",
            hint=f"ctxeng keeps its outputs in {out.name}/: move that file away, then run the command again",
        )


def ensure_workdir(repo: RepoView) -> Path:
    """Create `.ctxeng/` and list it in `.git/info/exclude` (never in the user's .gitignore)."""
    out = workdir(repo.root)
    check_workdir(out)
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
