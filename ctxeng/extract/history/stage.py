"""The history stage: commit and co-change records plus commit provenance, from two streaming git runs.

Stream 1 (`history_log`) lists every commit of HEAD with its changed files; it is cheap (tree
diffs only) and feeds co-change statistics and `Provenance.file_commits`. Stream 2
(`history_patch`, parsed by `history_parse`) adds bounded patches and touched definitions for
the newest `patch_commits` non-merge commits (the patch window).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.config import FilesConfig, HistoryConfig
from ctxeng.core.gcpause import gc_paused
from ctxeng.core.progress import Progress, no_progress
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record, record_id
from ctxeng.core.repo import RepoView
from ctxeng.extract.history.cache import HistoryCache, Scrub
from ctxeng.extract.history.log import LogCommit, iter_commits, iter_log
from ctxeng.extract.history.order import cached_walk_order
from ctxeng.extract.history.parse import CommitPatch
from ctxeng.extract.history.paths import NO_OMISSIONS, Omissions
from ctxeng.extract.history.window import PROGRESS_EVERY, Shown, cached_patches, patch_keys

MAX_PARTNERS = 10
MAX_NAMED_COMMITS = 10_000  # commits named on git's command line at most (~400 KB of arguments)


@dataclass
class HistoryResult:
    """What the history stage produced."""

    commits: list[Record] = field(default_factory=list)
    cochange: list[Record] = field(default_factory=list)
    provenance: Provenance = field(default_factory=Provenance)
    stats: dict[str, int] = field(default_factory=dict)
    redactions: Counter[str] = field(default_factory=Counter)  # made in commit records, when redacted here
    #: With the history cache: per commit record id, what fixes the record's bytes (the cache's salt, the
    #: sha, its patch's key, whether it is a shallow boundary), for `ctxeng.pipeline.records_write`.
    keys: dict[str, str] = field(default_factory=dict)


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
    if commit.bot:
        meta["bot"] = True
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
    newest: dict[str, list[tuple[str, int]]], state: dict[str, Any] | None = None,
) -> tuple[list[Record], int]:  # fmt: skip
    """One `cochange` record per file at HEAD with partners; also the count of commits ignored as too wide.

    With `state`, also its counts by path, to be carried (`ctxeng.extract.history.carry`): "touches"
    (co-change commits per path) and "pairs" (per path, the commits shared with each other path).
    """
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
        path = names[a]
        best = sorted(partners[a], key=lambda item: (-item[1], item[0]))[:MAX_PARTNERS]  # ids sort like paths
        records.append(cochange_record(path, touches[a], [(names[b], n) for b, n in best], newest[path][0]))
    if state is not None:
        state["touches"] = {names[a]: n for a, n in touches.items()}
        by_path: dict[str, dict[str, int]] = {}
        for key, count in pairs.items():
            a, b = divmod(key, width)
            by_path.setdefault(names[a], {})[names[b]] = count
            by_path.setdefault(names[b], {})[names[a]] = count
        state["pairs"] = by_path
    return records, ignored


def cochange_record(path: str, commits: int, best: list[tuple[str, int]], newest: tuple[str, int]) -> Record:
    """The `cochange` record of `path`: touched by `commits` commits, `best` its partners (path, count) in
    order, dated by `newest` (sha, time), the newest commit touching it."""
    sha, when = newest
    meta = {
        "commits": commits,
        "partners": [{"path": b, "count": n, "share": round(n / commits, 3)} for b, n in best],
    }
    return Record(record_id("cochange", path), "cochange", path, 0, 0, sha, when, path, "", meta)


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
    progress: Progress = no_progress,
    drop_files: tuple[str, ...] = (),
    files: FilesConfig | None = None,
    head_skips: Mapping[str, str] | None = None,
    out_dir: Path | None = None,
    redactor: Any = None,
    salt: str = "",
) -> HistoryResult:
    """Mine HEAD's history into commit records, co-change records and provenance.

    Merge commits are skipped (counted); `drop_files` are extra secret-file globs whose patch
    content is never kept. With `files`, the patches also leave out every file that selection
    would skip (vendored, ignored, generated, over the size cap at that commit), and the paths
    that `head_skips` (HEAD's selection outcomes) marks skipped for a path-wide reason. Output is
    deterministic: git's date order (children before parents), then sorted lists everywhere.
    With a `redactor` (a `ctxeng.secrets.Redactor`) the commit records come out redacted, string
    by string as `Redactor.record` does it, and the counts are in `redactions`. With a redactor and
    `out_dir`, commits and patches mined before are taken from its history cache (`HistoryCache`,
    salted with `salt`, which must name the secret settings, and keyed by the omissions): the
    result is the same, only new commits cost.
    """
    if not repo.head:
        return HistoryResult(provenance=Provenance(), stats={"commits_seen": 0})
    scrub = Scrub(redactor) if redactor is not None else None
    cache = None
    if out_dir is not None and scrub is not None:
        settings = {"max_patch_bytes": config.max_patch_bytes, "drop_files": list(drop_files)}
        cache = HistoryCache(out_dir, salt, settings)
    with gc_paused():  # ~200k acyclic objects (commits, file lists, records): collections only rescan them
        return _mine(repo, config, progress, drop_files, files, head_skips or {}, scrub, cache)


def _omissions(
    repo: RepoView, log: list[LogCommit], window: list[str], files: FilesConfig | None,
    drop_files: tuple[str, ...], head_skips: Mapping[str, str], memo: Path | None = None,
    known: dict[str, str] | None = None,
) -> Omissions:  # fmt: skip
    """What the window's patches leave out besides `omit_reason`'s files: selection's skips (the large
    blobs' packed part remembered in folder `memo`, see `ctxeng.extract.history.blobs`).

    `known` holds `history_omissions`' reason ("" for none) of paths asked before under the same
    rules (`ctxeng.extract.history.extend.omissions_key`); only the other paths are asked, and added.
    """
    if files is None or not window:
        return NO_OMISSIONS
    from ctxeng.extract.history.blobs import large_blobs_cached
    from ctxeng.extract.selection import PATH_WIDE_REASONS, history_omissions

    known = {} if known is None else known
    shas = set(window)
    paths = {path for commit in log if commit.sha in shas for path, _ in commit.files}
    skipped = {p: r for p, r in head_skips.items() if r in PATH_WIDE_REASONS}
    ask = [p for p in paths if p not in skipped and p not in known]
    found = history_omissions(repo, ask, files, drop_files) if ask else {}
    for path in ask:
        known[path] = found.get(path, "")
    skipped.update((p, known[p]) for p in paths if p not in skipped and known[p])  # a mapping: order is moot
    return Omissions(skipped, large_blobs_cached(repo, files.max_file_bytes, memo))


def read_log(
    repo: RepoView, max_commits: int, boundary: set[str], scrub: Scrub | None, cache: HistoryCache | None,
    progress: Progress = no_progress,
) -> tuple[list[LogCommit], dict[str, Shown]]:  # fmt: skip
    """Every commit of HEAD's walk in git's date order, and (with `scrub`) each as its record shows it.

    Cached commits come from the cache (their messages redacted: only the record reads them),
    the others from git. The order comes from git (`walk_order`; after plain commits on top of the
    last build's HEAD, from its stored walk: `cached_walk_order`), so a rewritten history
    is no special case.
    """
    shown: dict[str, Shown] = {}
    if cache is None:
        log: list[LogCommit] = []
        for commit in iter_log(repo, repo.head, max_commits):
            log.append(commit)
            if scrub is not None:
                shown[commit.sha] = scrub.commit(commit)[:2]
            if len(log) % (PROGRESS_EVERY * 10) == 0:
                progress("history", len(log), 0)
        return log, shown
    assert scrub is not None
    order = cached_walk_order(repo, repo.head, max_commits, cache.folder)
    cached = cache.commits(order)
    known = {sha: commit for sha, (commit, _) in cached.items()}
    shown.update(cached)
    missing = [sha for sha in order if sha not in known]
    # Mostly new (a first build), or too many to name on a command line (~41 bytes each): one walk.
    walk = len(missing) > min(len(order) // 2, MAX_NAMED_COMMITS)
    fresh = iter_log(repo, repo.head, max_commits) if walk else iter_commits(repo, missing)
    for n, commit in enumerate(fresh, 1):
        if commit.sha not in known:
            known[commit.sha] = commit
            redacted, counts, cacheable = scrub.commit(commit)
            shown[commit.sha] = (redacted, counts)
            if cacheable and commit.sha not in boundary:  # a boundary commit is a root only until deepened
                cache.put_commit(redacted, counts)
        if n % (PROGRESS_EVERY * 10) == 0:
            progress("history", n, len(missing))
    return [known[sha] for sha in order], shown


def _mine(
    repo: RepoView,
    config: HistoryConfig,
    progress: Callable[[str, int, int], None],
    drop_files: tuple[str, ...],
    files: FilesConfig | None = None,
    head_skips: Mapping[str, str] | None = None,
    scrub: Scrub | None = None,
    cache: HistoryCache | None = None,
) -> HistoryResult:
    at_head = {entry.path for entry in repo.index()}
    head_skips = head_skips or {}
    key = None
    if cache is not None and scrub is not None and not repo.shallow:
        from ctxeng.extract.history import carry
        from ctxeng.extract.history.extend import extend_carried

        key = carry.carry_key(cache.patches.salt, config, files, drop_files)
        extended = extend_carried(repo, config, key, cache, scrub, files, drop_files, head_skips, at_head)
        if extended is not None:
            result, state = extended
            carry.save(cache.folder, state)
            progress("history", len(state.order), len(state.order))
            return result  # type: ignore[no-any-return]
    boundary = shallow_boundary(repo)
    log, shown = read_log(repo, config.max_commits, boundary, scrub, cache, progress)
    head_entry = next((c for c in log if c.sha == repo.head), None)
    provenance = Provenance(head=repo.head, head_time=head_entry.time if head_entry else repo.head_time())
    provenance.file_commits = file_commits(log, at_head, boundary)
    counts_state: dict[str, Any] | None = {} if key is not None else None
    cochange, ignored = cochange_records(
        log, at_head, boundary, config, provenance.file_commits, counts_state
    )
    stats = {
        "commits_seen": len(log), "commits": 0, "merges_skipped": 0, "shallow": int(repo.shallow),
        "shallow_boundary": 0, "patch_window": 0, "patches_truncated": 0, "patch_bytes": 0,
        "patch_chars_kept": 0, "patch_files_omitted": 0, "patch_error": 0, "symbols_touched": 0,
        "cochange_files": len(cochange), "cochange_ignored_commits": ignored,
    }  # fmt: skip
    window = patch_window(log, boundary, config.patch_commits)
    memo = cache.folder if cache is not None else None
    known: dict[str, str] = {}
    omissions = _omissions(repo, log, window, files, drop_files, head_skips, memo, known)
    keys = patch_keys(log, window, omissions)
    sizes: dict[str, int] = {}
    patches, shown_patches = cached_patches(
        repo, window, config, drop_files, progress, stats, scrub, cache, omissions, keys, sizes
    )
    if cache is not None:
        cache.save({c.sha for c in log}, {keys[sha] for sha in patches})
    redactions: Counter[str] = Counter()
    commits: list[Record] = []
    record_keys: dict[str, str] = {}
    carried: list[tuple[LogCommit, Any, CommitPatch | None, Any]] | None = [] if key is not None else None
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
        if scrub is None:
            commits.append(commit_record(commit, patch, is_boundary))
            continue
        view, counts = shown[commit.sha]
        if counts:  # mostly none: Counter.update costs even when empty (15k commits on sqlalchemy)
            redactions.update(counts)
        patch_view = None
        if patch is not None:
            patch_view, counts = shown_patches[commit.sha]
            if counts:
                redactions.update(counts)
        commits.append(commit_record(view, patch_view, is_boundary))
        if cache is not None:
            mark = f"{cache.patches.salt}\0{commit.sha}\0{keys[commit.sha] if patch is not None else ''}"
            record_keys[commits[-1].id] = f"{mark}\0{int(is_boundary)}"
        if carried is not None:
            carried.append((commit, shown[commit.sha], patch, shown_patches.get(commit.sha)))
    stats["commits"] = len(commits)
    stats["symbols_touched"] = len(provenance.symbol_commits)
    if key is not None and cache is not None and carried is not None and counts_state is not None:
        from ctxeng.extract.history import carry
        from ctxeng.extract.history.extend import carry_of_pass, omissions_key

        kept = carry_of_pass(
            key, provenance, log, commits, carried, keys, sizes, at_head, counts_state, cochange, ignored,
            omissions_key(repo, files, drop_files), known,
        )  # fmt: skip
        # The patches as mined (their text and definitions: ~50 MB at 100,000 files) go before it is written.
        del carried, shown_patches, shown
        if kept is None:
            carry.drop(cache.folder)
        else:
            carry.save(cache.folder, kept)
    progress("history", len(log), len(log))
    return HistoryResult(
        commits=commits,
        cochange=cochange,
        provenance=provenance,
        stats=stats,
        redactions=redactions,
        keys=record_keys,
    )
