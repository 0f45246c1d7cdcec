"""The patch window's patches: streamed from git, or taken from the history cache, with their stats."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from ctxeng.core.config import HistoryConfig
from ctxeng.core.errors import CtxengError
from ctxeng.core.repo import RepoView
from ctxeng.extract.history.cache import HistoryCache, Scrub
from ctxeng.extract.history.log import LogCommit
from ctxeng.extract.history.parse import CommitPatch
from ctxeng.extract.history.patches import stream_patches
from ctxeng.extract.history.paths import NO_OMISSIONS, Omissions

PROGRESS_EVERY = 200

#: A commit (or patch) as its record shows it: strings redacted, with the redaction counts.
Shown = tuple[Any, dict[str, int]]


def patch_keys(log: list[LogCommit], window: list[str], omissions: Omissions) -> dict[str, str]:
    """The patch cache's key for each window commit: its sha, plus a digest of what the history leaves
    out of its files (and of the blobs over the size cap) when anything is — a file that became vendored
    or ignored since must drop out of a cached patch as it would in a cold build."""
    blobs = (
        hashlib.sha1("\n".join(sorted(omissions.large_blobs)).encode()).hexdigest()
        if omissions.large_blobs
        else ""
    )
    shas, keys = set(window), {}
    for commit in log:
        if commit.sha not in shas:
            continue
        skipped = sorted((path, omissions.paths[path]) for path, _ in commit.files if path in omissions.paths)
        if not skipped and not blobs:
            keys[commit.sha] = commit.sha
            continue
        digest = hashlib.sha1(
            json.dumps([skipped, blobs], ensure_ascii=False).encode("utf-8", "surrogateescape")
        )
        keys[commit.sha] = f"{commit.sha}:{digest.hexdigest()[:16]}"
    return keys


def cached_patches(
    repo: RepoView, window: list[str], config: HistoryConfig, drop_files: tuple[str, ...],
    progress: Callable[[str, int, int], None], stats: dict[str, int], scrub: Scrub | None,
    cache: HistoryCache | None, omissions: Omissions = NO_OMISSIONS, keys: Mapping[str, str] | None = None,
    sizes: dict[str, int] | None = None,
) -> tuple[dict[str, CommitPatch], dict[str, Shown]]:  # fmt: skip
    """`mine_patches`, streaming only the window's commits the cache lacks; with `scrub`, also
    each patch as its record shows it. With the cache, `sizes` receives each patch's unredacted
    length (the `patch_chars_kept` it counts).

    Cached patches come redacted (only the record reads their text). After a git failure the
    cache is set aside and the whole window streamed again, so the patches kept are exactly
    those a cold build keeps.
    """
    if cache is None:
        mined = mine_patches(repo, window, config, drop_files, progress, stats, omissions)
        return mined, ({sha: scrub.patch(p)[:2] for sha, p in mined.items()} if scrub is not None else {})
    assert scrub is not None
    keys = keys if keys is not None else {sha: sha for sha in window}
    known = {sha: hit for sha in window if (hit := cache.patch(sha, keys[sha])) is not None}
    missing = [sha for sha in window if sha not in known]
    fresh = mine_patches(repo, missing, config, drop_files, progress, Counter(), omissions)
    if len(known) + len(fresh) < len(window):  # git failed part-way
        return cached_patches(
            repo, window, config, drop_files, progress, stats, scrub, None, omissions, keys, sizes
        )
    shown: dict[str, Shown] = {}
    patches: dict[str, CommitPatch] = {}
    for sha in window:
        if sha in known:
            patch, counts, chars = known[sha]
            patches[sha], shown[sha] = patch, (patch, counts)
        else:
            patch = fresh[sha]
            chars = len(patch.diff)
            redacted, counts, cacheable = scrub.patch(patch)
            patches[sha], shown[sha] = patch, (redacted, counts)
            if cacheable:
                cache.put_patch(redacted, counts, chars, keys[sha])
        count_patch(stats, patch, chars)
        if sizes is not None:
            sizes[sha] = chars
    stats["patch_window"] = len(patches)
    return patches, shown


def count_patch(stats: dict[str, int], patch: CommitPatch, chars: int = -1) -> None:
    stats["patch_bytes"] += patch.bytes
    stats["patch_chars_kept"] += len(patch.diff) if chars < 0 else chars  # cached text is redacted
    stats["patches_truncated"] += patch.truncated
    stats["patch_files_omitted"] += patch.omitted
    for reason in patch.omit_reasons:  # e.g. patch_omitted_vendored, patch_omitted_too-large
        stats[f"patch_omitted_{reason}"] = stats.get(f"patch_omitted_{reason}", 0) + 1


def mine_patches(
    repo: RepoView, window: list[str], config: HistoryConfig, drop_files: tuple[str, ...],
    progress: Callable[[str, int, int], None], stats: dict[str, int], omissions: Omissions = NO_OMISSIONS,
) -> dict[str, CommitPatch]:  # fmt: skip
    """Stream the window's patches; a git failure part-way keeps the patches already read."""
    patches: dict[str, CommitPatch] = {}
    try:
        for patch in stream_patches(repo, window, config.max_patch_bytes, drop_files, omissions):
            patches[patch.sha] = patch
            count_patch(stats, patch)
            if len(patches) % PROGRESS_EVERY == 0:
                progress("history", len(patches), len(window))
    except CtxengError:
        stats["patch_error"] = 1  # e.g. a blob missing from a partial clone: degrade to fewer patches
    stats["patch_window"] = len(patches)
    return patches
