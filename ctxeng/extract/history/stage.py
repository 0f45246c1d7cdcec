"""The history stage: commit and co-change records plus commit provenance, from two streaming git runs.

Stream 1 (`history_log`) lists every commit of HEAD with its changed files; it is cheap (tree
diffs only) and feeds co-change statistics and `Provenance.file_commits`. Stream 2
(`history_patch`, parsed by `history_parse`) adds bounded patches and touched definitions for
the newest `patch_commits` non-merge commits (the patch window).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.config import HistoryConfig
from ctxeng.core.errors import CtxengError
from ctxeng.core.gcpause import gc_paused
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record, record_id
from ctxeng.core.repo import RepoView
from ctxeng.extract.history.cache import HistoryCache
from ctxeng.extract.history.log import LogCommit, iter_commits, iter_log, walk_order
from ctxeng.extract.history.parse import CommitPatch
from ctxeng.extract.history.patches import stream_patches

MAX_PARTNERS = 10
PROGRESS_EVERY = 200


@dataclass
class HistoryResult:
    """What the history stage produced."""

    commits: list[Record] = field(default_factory=list)
    cochange: list[Record] = field(default_factory=list)
    provenance: Provenance = field(default_factory=Provenance)
    stats: dict[str, int] = field(default_factory=dict)


def _quiet(stage: str, done: int, total: int) -> None:
    pass


def shallow_boundary(repo: RepoView) -> set[str]:
    """The commits whose parents a shallow clone lacks (git shows them as roots); empty if not shallow."""
    if not repo.shallow:
        return set()
    where = Path(repo.git.text(["rev-parse", "--git-path", "shallow"]))
    path = where if where.is_absolute() else repo.root / where
    try:
        return set(path.read_text(encoding="ascii").split())
    except (OSError, UnicodeDecodeError):
        return set()


def commit_record(commit: LogCommit, patch: CommitPatch | None, boundary: bool) -> Record:
    """The `commit` record of a non-merge commit (with its patch inside the window).

    A shallow clone's boundary commit shows the whole tree as added; that is not its change, so
    its file list is left empty and it is marked `shallow_boundary`.
    """
    files = [] if boundary else [{"path": p, "status": s} for p, s in sorted(commit.files)]
    meta: dict[str, Any] = {
        "date": commit.date,
        "files": files,
        "symbols": [],
        "diff_truncated": False,
        "stats": {"files": len(files)},
    }
    if boundary:
        meta["shallow_boundary"] = True
    if patch is not None:
        meta["diff"] = patch.diff
        meta["diff_truncated"] = patch.truncated
        meta["symbols"] = [{"path": p, "name": n} for p, n in patch.symbols]
        meta["stats"].update(added=patch.added, deleted=patch.deleted)
    return Record(
        id=record_id("commit", commit.sha), kind="commit", path="", start_line=0, end_line=0,
        commit=commit.sha, time=commit.time, name=commit.subject, text=commit.message, meta=meta,
    )  # fmt: skip


def file_commits(
    log: Iterable[LogCommit], at_head: set[str], boundary: set[str]
) -> dict[str, list[tuple[str, int]]]:
    """(sha, time) of the non-merge commits touching each path present at HEAD, newest first.

    A boundary commit of a shallow clone is listed for the files of its tree: their true last
    change is at or before it, and it is the oldest commit there is to date them by.
    """
    out: dict[str, list[tuple[str, int]]] = {}
    for commit in log:
        if commit.is_merge:
            continue
        for path, status in commit.files:
            if path in at_head and (commit.sha not in boundary or status == "A"):
                out.setdefault(path, []).append((commit.sha, commit.time))
    return {path: out[path] for path in sorted(out)}


def cochange_records(
    log: Iterable[LogCommit], at_head: set[str], boundary: set[str], config: HistoryConfig,
    newest: dict[str, list[tuple[str, int]]],
) -> tuple[list[Record], int]:  # fmt: skip
    """One `cochange` record per file at HEAD with partners; also the count of commits ignored as too wide."""
    names = sorted(at_head)
    ids = {path: i for i, path in enumerate(names)}
    width = len(names)
    touches: Counter[int] = Counter()
    pairs: dict[int, int] = {}  # a * width + b (a < b) -> commits changing both; ints keep it compact
    ignored = 0
    for commit in log:
        if commit.is_merge or commit.sha in boundary or not commit.files:
            continue
        if len(commit.files) > config.cochange_max_files:
            ignored += 1
            continue
        present = sorted({ids[p] for p, _ in commit.files if p in ids})
        for k, a in enumerate(present):
            touches[a] += 1
            base = a * width
            for b in present[k + 1 :]:
                pairs[base + b] = pairs.get(base + b, 0) + 1
    partners: dict[int, list[tuple[int, int]]] = {}
    for key, count in pairs.items():
        if count >= config.cochange_min_count:
            a, b = divmod(key, width)
            partners.setdefault(a, []).append((b, count))
            partners.setdefault(b, []).append((a, count))
    records = []
    for a in sorted(partners):
        path, commits = names[a], touches[a]
        best = sorted(partners[a], key=lambda item: (-item[1], item[0]))[:MAX_PARTNERS]  # ids sort like paths
        sha, when = newest[path][0]
        meta = {
            "commits": commits,
            "partners": [{"path": names[b], "count": n, "share": round(n / commits, 3)} for b, n in best],
        }
        records.append(Record(record_id("cochange", path), "cochange", path, 0, 0, sha, when, path, "", meta))
    return records, ignored


def patch_window(log: list[LogCommit], boundary: set[str], patch_commits: int) -> list[str]:
    """The shas mined with patches: the newest `patch_commits` non-merge commits (-1 = all).

    A shallow clone's boundary commits are left out: their "patch" would be the whole tree.
    """
    if patch_commits == 0:
        return []
    shas = [c.sha for c in log if not c.is_merge and c.sha not in boundary]
    return shas if patch_commits < 0 else shas[:patch_commits]


def mine_history(
    repo: RepoView,
    config: HistoryConfig,
    progress: Callable[[str, int, int], None] = _quiet,
    drop_files: tuple[str, ...] = (),
    out_dir: Path | None = None,
) -> HistoryResult:
    """Mine HEAD's history into commit records, co-change records and provenance.

    Merge commits are skipped (counted); `drop_files` are extra secret-file globs whose patch
    content is never kept. Output is deterministic: git's date order (children before parents),
    then sorted lists everywhere. With `out_dir`, commits and patches mined before are taken
    from its history cache (`HistoryCache`): the result is the same, only new commits cost.
    """
    if not repo.head:
        return HistoryResult(provenance=Provenance(), stats={"commits_seen": 0})
    cache = None
    if out_dir is not None:
        from ctxeng.core.cache import code_salt

        settings = {"max_patch_bytes": config.max_patch_bytes, "drop_files": list(drop_files)}
        cache = HistoryCache(out_dir, code_salt(), settings)
    with gc_paused():  # ~200k acyclic objects (commits, file lists, records): collections only rescan them
        return _mine(repo, config, progress, drop_files, cache)


def read_log(
    repo: RepoView, max_commits: int, boundary: set[str], cache: HistoryCache | None,
    progress: Callable[[str, int, int], None] = _quiet,
) -> list[LogCommit]:  # fmt: skip
    """Every commit of HEAD's walk in git's date order: from the cache where it has them, else from git.

    The order always comes from git (`walk_order`), so a rewritten history is no special case.
    """
    if cache is None:
        log: list[LogCommit] = []
        for commit in iter_log(repo, repo.head, max_commits):
            log.append(commit)
            if len(log) % (PROGRESS_EVERY * 10) == 0:
                progress("history", len(log), 0)
        return log
    order = walk_order(repo, repo.head, max_commits)
    known = cache.commits(order)
    missing = [sha for sha in order if sha not in known]
    # Mostly new (a first build): one walk costs less than naming every sha to git.
    fresh = iter_log(repo, repo.head, max_commits) if len(missing) > len(order) // 2 else iter_commits(repo, missing)
    for n, commit in enumerate(fresh, 1):
        if commit.sha not in known:
            known[commit.sha] = commit
            if commit.sha not in boundary:  # a boundary commit shows as a root only until deepened
                cache.put_commit(commit)
        if n % (PROGRESS_EVERY * 10) == 0:
            progress("history", n, len(missing))
    return [known[sha] for sha in order]


def _mine(
    repo: RepoView,
    config: HistoryConfig,
    progress: Callable[[str, int, int], None],
    drop_files: tuple[str, ...],
    cache: HistoryCache | None = None,
) -> HistoryResult:
    at_head = {entry.path for entry in repo.index()}
    boundary = shallow_boundary(repo)
    log = read_log(repo, config.max_commits, boundary, cache, progress)
    head_entry = next((c for c in log if c.sha == repo.head), None)
    provenance = Provenance(head=repo.head, head_time=head_entry.time if head_entry else repo.head_time())
    provenance.file_commits = file_commits(log, at_head, boundary)
    cochange, ignored = cochange_records(log, at_head, boundary, config, provenance.file_commits)
    stats = {
        "commits_seen": len(log), "commits": 0, "merges_skipped": 0, "shallow": int(repo.shallow),
        "shallow_boundary": 0, "patch_window": 0, "patches_truncated": 0, "patch_bytes": 0,
        "patch_chars_kept": 0, "patch_files_omitted": 0, "patch_error": 0, "symbols_touched": 0,
        "cochange_files": len(cochange), "cochange_ignored_commits": ignored,
    }  # fmt: skip
    window = patch_window(log, boundary, config.patch_commits)
    patches = _cached_patches(repo, window, config, drop_files, progress, stats, cache)
    if cache is not None:
        cache.save({c.sha for c in log}, set(patches))
    commits: list[Record] = []
    for commit in log:
        if commit.is_merge:
            stats["merges_skipped"] += 1
            continue
        is_boundary = commit.sha in boundary
        stats["shallow_boundary"] += is_boundary
        patch = patches.pop(commit.sha, None)
        if patch is not None:
            provenance.window.add(commit.sha)
            for path, name in patch.symbols:
                if path in at_head:
                    provenance.symbol_commits.setdefault((path, name), (commit.sha, commit.time))
        commits.append(commit_record(commit, patch, is_boundary))
    stats["commits"] = len(commits)
    stats["symbols_touched"] = len(provenance.symbol_commits)
    progress("history", len(log), len(log))
    return HistoryResult(commits=commits, cochange=cochange, provenance=provenance, stats=stats)


def _cached_patches(
    repo: RepoView, window: list[str], config: HistoryConfig, drop_files: tuple[str, ...],
    progress: Callable[[str, int, int], None], stats: dict[str, int], cache: HistoryCache | None,
) -> dict[str, CommitPatch]:  # fmt: skip
    """`_mine_patches`, streaming only the window's commits the cache lacks.

    After a git failure the cache is set aside and the whole window streamed again, so the
    patches kept are exactly those a cold build keeps.
    """
    if cache is None:
        return _mine_patches(repo, window, config, drop_files, progress, stats)
    known = {sha: patch for sha in window if (patch := cache.patch(sha)) is not None}
    fresh = _mine_patches(repo, [sha for sha in window if sha not in known], config, drop_files, progress, Counter())
    if len(known) + len(fresh) < len(window):  # git failed part-way
        return _mine_patches(repo, window, config, drop_files, progress, stats)
    for patch in fresh.values():
        cache.put_patch(patch)
    patches = {sha: known.get(sha) or fresh[sha] for sha in window}
    for patch in patches.values():
        _count_patch(stats, patch)
    stats["patch_window"] = len(patches)
    return patches


def _count_patch(stats: dict[str, int], patch: CommitPatch) -> None:
    stats["patch_bytes"] += patch.bytes
    stats["patch_chars_kept"] += len(patch.diff)
    stats["patches_truncated"] += patch.truncated
    stats["patch_files_omitted"] += patch.omitted


def _mine_patches(
    repo: RepoView, window: list[str], config: HistoryConfig, drop_files: tuple[str, ...],
    progress: Callable[[str, int, int], None], stats: dict[str, int],
) -> dict[str, CommitPatch]:  # fmt: skip
    """Stream the window's patches; a git failure part-way keeps the patches already read."""
    patches: dict[str, CommitPatch] = {}
    try:
        for patch in stream_patches(repo, window, config.max_patch_bytes, drop_files):
            patches[patch.sha] = patch
            _count_patch(stats, patch)
            if len(patches) % PROGRESS_EVERY == 0:
                progress("history", len(patches), len(window))
    except CtxengError:
        stats["patch_error"] = 1  # e.g. a blob missing from a partial clone: degrade to fewer patches
    stats["patch_window"] = len(patches)
    return patches
