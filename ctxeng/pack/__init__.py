"""Context packs for Claude Code: a ranked, hard-budgeted skill, a CLAUDE.md block and prompt-seeded context.

The public entry points import their modules lazily, so `from ctxeng.pack import context_for_prompt`
stays cheap on the paths of hooks and `ctxeng context`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ctxeng.core.config import Config
    from ctxeng.core.generation import Staging
    from ctxeng.core.records import Record
    from ctxeng.core.repo import RepoView

__all__ = ["context_for_prompt", "pack_document", "patch_index", "render_pack_into", "write_pack"]


def render_pack_into(
    repo: RepoView,
    config: Config,
    records: Sequence[Record],
    staging: Staging,
    protect_tracked: bool = False,
    keys: tuple[Mapping[str, str], Mapping[str, str]] | None = None,
    records_written: Callable[[], None] | None = None,
    model_written: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The build's pack stage (see `ctxeng.pack.publish.render_pack_into`)."""
    from ctxeng.pack.publish import render_pack_into as run

    return run(repo, config, records, staging, protect_tracked, keys, records_written, model_written)


def write_pack(path: str | Path = ".", budget: int | None = None) -> dict[str, Any]:
    """Re-render the pack from existing records (see `ctxeng.pack.publish.write_pack`)."""
    from ctxeng.pack.publish import write_pack as run

    return run(path, budget)


def pack_document(path: str | Path = ".", budget: int | None = None, fmt: str = "markdown") -> str:
    """The pack as one Markdown/XML/JSON document (see `ctxeng.pack.publish.pack_document`)."""
    from ctxeng.pack.publish import pack_document as run

    return run(path, budget, fmt)


def context_for_prompt(
    root: Path, prompt: str, budget: int = 2_000, safe: bool = False, layout: str = "files"
) -> str:
    """Context for one prompt from the index (see `ctxeng.pack.context.context_for_prompt`)."""
    from ctxeng.pack.context import context_for_prompt as run

    return run(root, prompt, budget, safe, layout)


def patch_index(root: Path, replaced: Mapping[str, Sequence[Record]], staging: Staging | None = None) -> bool:
    """Patch the context index for a few changed files (see `ctxeng.pack.index.update.patch_index`)."""
    from ctxeng.pack.index.update import patch_index as run

    return run(root, replaced, staging)
