"""The work-tree half of a generation: the skill folder and CLAUDE.md block, applied after each switch.

The pack stage writes the skill's files and the CLAUDE.md block into the generation being staged
(`skill/`, `claude-md-block.md`, `worktree.json`); only once that generation is current are they
copied into the work tree (each file atomically, only when its bytes change). `.ctxeng/applied`
names the last generation applied in full: a run killed between the switch and the end of the
copy leaves it behind, and the next run (`recover`) applies the current generation again and
removes the temporary files the kill left in the skill folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import atomic_write_bytes, atomic_write_text, dumps_json
from ctxeng.core.generation import APPLIED, WORKTREE, Staging, needs_apply
from ctxeng.core.workdir import generation_dir, workdir
from ctxeng.pack.claude_md import update_claude_md
from ctxeng.pack.skill import Pack

SKILL_DIR = "skill"
BLOCK_FILE = "claude-md-block.md"
# What `atomic_writer` names its temporaries: ".<file name>.<random>.tmp".
_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.tmp")
_SKILL_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")  # what `ctxeng.pack.skill.skill_name` produces


def skill_folder(root: Path, name: str) -> Path:
    """The skill folder of skill `name` in the work tree at `root`."""
    return root / ".claude" / "skills" / name


def check_skill(root: Path, pack: Pack, keep: frozenset[str] = frozenset()) -> list[str]:
    """The skill files whose bytes would change; a `CtxengError` where they may not be written.

    Refuses symlinks on the way and, for paths in `keep` (repository-relative), files that git
    tracks (a git hook must not modify them).
    """
    base = skill_folder(root, pack.skill_name)
    for folder in (root / ".claude", root / ".claude" / "skills", base, base / "references"):
        if folder.is_symlink():
            raise CtxengError(f"{folder.relative_to(root)} is a symlink; ctxeng does not write through links")
    changed = []
    for rel, text in pack.files.items():
        path = base / rel
        if path.is_symlink():
            raise CtxengError(f"{path.relative_to(root)} is a symlink; ctxeng does not write through links")
        if path.is_file() and path.read_bytes() == text.encode("utf-8"):
            continue
        if path.relative_to(root).as_posix() in keep:
            raise CtxengError(
                f"{path.relative_to(root).as_posix()} is tracked by git; run `ctxeng pack` to update it"
            )
        changed.append(rel)
    return changed


def stage_worktree(
    staging: Staging, root: Path, pack: Pack, block: str | None, keep: frozenset[str]
) -> dict[str, Any]:
    """Put the skill and the CLAUDE.md block into `staging` and apply them once it is published.

    Returns what `pack.json` reports: `skill_changed`, `claude_md` (created, updated, unchanged or
    skipped; absent when the block is off) and `warnings` — found now, before anything is written.
    """
    info: dict[str, Any] = {}
    warnings = []
    for rel, text in pack.files.items():
        staging.path(f"{SKILL_DIR}/{rel}").write_bytes(text.encode("utf-8"))
    try:
        info["skill_changed"] = check_skill(root, pack, keep)
    except CtxengError as exc:
        warnings.append(exc.message)
    write_block = False
    if block is not None and "CLAUDE.md" in keep:
        info["claude_md"] = "skipped"
        warnings.append("CLAUDE.md is tracked by git; run `ctxeng pack` to update its ctxeng block")
    elif block is not None:
        try:
            info["claude_md"] = update_claude_md(root, block, dry_run=True)
            write_block = True
        except CtxengError as exc:
            info["claude_md"] = "skipped"
            warnings.append(exc.message)
    if write_block:
        staging.path(BLOCK_FILE).write_bytes((block or "").encode("utf-8"))
    mine = {f"{skill_folder(Path(''), pack.skill_name).as_posix()}/{rel}" for rel in pack.files}
    plan = {
        "skill": pack.skill_name,
        "files": sorted(pack.files),
        "keep": sorted(keep & mine),
        "claude_md": write_block,
    }
    staging.path(WORKTREE).write_text(dumps_json(plan) + "\n", encoding="utf-8")
    apply_after_switch(staging, root)
    info["warnings"] = warnings
    return info


def apply_after_switch(staging: Staging, root: Path) -> None:
    """Copy the staged skill and CLAUDE.md block into the work tree once `staging` is the current
    generation (a build whose pack ran in a forked child registers this itself: the child's own
    registration ends with the child)."""
    staging.after_switch.append(lambda gen: apply(root, gen))


def apply(root: Path, gen: Path) -> bool:
    """Copy generation `gen`'s skill and CLAUDE.md block into the work tree; True when all went in.

    What may not be written (a symlink, a tracked file in a hook) is left alone, as the plan
    reported; an OS error leaves `applied` unchanged so that the next run tries again.
    """
    try:
        plan = json.loads((gen / WORKTREE).read_text(encoding="utf-8"))
        name, files, keep = plan["skill"], plan["files"], frozenset(plan["keep"])
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no work-tree part (a build without a pack) or an unreadable one: nothing to do
    if not (isinstance(name, str) and _SKILL_NAME.fullmatch(name) and all(map(_inside, files))):
        return False  # not what ctxeng writes: never let it steer a write outside the skill folder
    try:
        remove_temporaries(root, name)
        texts = {rel: (gen / SKILL_DIR / rel).read_bytes().decode("utf-8") for rel in files}
        pack = Pack(skill_name=name, budget=0, files=texts)
        with contextlib.suppress(CtxengError):  # refused (a symlink, a tracked file): the plan warned
            for rel in check_skill(root, pack, keep):
                atomic_write_bytes(skill_folder(root, name) / rel, texts[rel].encode("utf-8"))
        if plan.get("claude_md"):
            with contextlib.suppress(CtxengError):
                update_claude_md(root, (gen / BLOCK_FILE).read_bytes().decode("utf-8"))
        atomic_write_text(workdir(root) / APPLIED, gen.name + "\n")
    except (OSError, UnicodeDecodeError):
        return False
    return True


def _inside(rel: object) -> bool:
    """Whether `rel` is a plain relative path inside the skill folder."""
    return isinstance(rel, str) and bool(rel) and not rel.startswith("/") and ".." not in rel.split("/")


def recover(root: Path) -> bool:
    """Finish applying the current generation when a killed run left it half done; True if it did.

    Call while holding the output directory's lock. Costs two small reads when nothing is pending.
    """
    out = workdir(root)
    return needs_apply(out) and apply(root, generation_dir(out))


def remove_temporaries(root: Path, skill: str) -> list[Path]:
    """Delete the temporary files killed writes left in the skill folder and beside CLAUDE.md."""
    base = skill_folder(root, skill)
    removed = []
    for folder in (base, base / "references", root, root / ".claude"):
        if folder.is_symlink() or not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                near_claude = folder in (root, root / ".claude") and entry.name.startswith(".CLAUDE.md.")
                if (folder in (base, base / "references") or near_claude) and _TEMPORARY.fullmatch(
                    entry.name
                ):
                    if entry.is_file(follow_symlinks=False):
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
    return removed
