"""A carried history result extended by the commits on top of its HEAD: the history stage of a refresh.

After a commit (or a fast-forward of plain commits), HEAD is the carried HEAD with a chain of
single-parent commits on top (`chain`), and a date-ordered walk is that chain followed by the
carried walk. Only those commits are read from git (one `iter_range` run) and mined for patches; every
other part of the result is the carried one updated by what they change: per-path commits and
co-change counts gain their files, the patch window gains them and loses as many of its oldest
commits (whose records are rebuilt without their patch), co-change records are rebuilt for the
paths whose counts, partners or newest commit changed. The result equals a full pass's (tests
compare them byte for byte); anything this cannot decide exactly returns None, and the caller runs
the full pass: a rewritten history (amend, rebase, reset, a branch switch), a merge on top, a
shallow clone, a commit limit reached, a path back at HEAD after older commits touched it, a string
that needed redaction outside a message or patch text, omissions that changed a carried patch's key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ctxeng.core.config import FilesConfig, HistoryConfig
from ctxeng.core.errors import CtxengError
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record, Row
from ctxeng.core.repo import RepoView
from ctxeng.extract.history.cache import HistoryCache, Scrub
from ctxeng.extract.history.carry import Carry, WindowRow, cut, load, peek, records_of, row
from ctxeng.extract.history.log import LogCommit, iter_range
from ctxeng.extract.history.order import MAX_CHAIN, ORDER_FILE, store
from ctxeng.extract.history.parse import CommitPatch
from ctxeng.extract.history.window import mine_patches, patch_keys


def omissions_key(repo: RepoView, files: FilesConfig | None, drop_files: tuple[str, ...]) -> str:
    """A digest of what `history_omissions` reads besides a path: the settings, `.ctxengignore`, the
    repository's `info/attributes` and the committed `.gitattributes` files (the index's blobs)."""
    digest = hashlib.sha1(json.dumps([dataclasses.asdict(files) if files else None, list(drop_files)],
                                     sort_keys=True, default=str).encode())  # fmt: skip
    for path in (repo.root / ".ctxengignore", repo.git_dir / "info" / "attributes"):
        try:
            digest.update(b"\0" + (b"-" if path.is_symlink() else path.read_bytes()))
        except OSError:
            digest.update(b"\0-")
    for entry in repo.index():
        if entry.path.rsplit("/", 1)[-1] == ".gitattributes":
            digest.update(f"\0{entry.path}\0{entry.blob}".encode("utf-8", "backslashreplace"))
    return digest.hexdigest()


def view_of(rec: Row) -> LogCommit:
    """The commit (as its record shows it) that a carried commit record was made from."""
    meta = rec[9]
    files = [(f["path"], f["status"]) for f in meta["files"]]
    return LogCommit(rec[5], (), rec[6], meta["date"], rec[7], rec[8], files, bool(meta.get("bot", False)))


def extend(
    repo: RepoView, config: HistoryConfig, carried: Carry, fresh: list[LogCommit], at_head: set[str], scrub: Scrub,
    cache: HistoryCache,
    files: FilesConfig | None, drop_files: tuple[str, ...], head_skips: Mapping[str, str],
) -> tuple[Any, Carry] | None:  # fmt: skip
    """The history result at HEAD and the state to carry on, from `carried` and `fresh`, the commits on top
    of its HEAD (`chain`); None where only a full pass can tell (see the module docstring). Commits and
    patches mined here are added to the history cache."""
    from ctxeng.extract.history.stage import HistoryResult, _omissions, commit_record

    if repo.shallow:
        return None
    if [rec[5] for rec in carried.records[: len(carried.window)]] != [entry[0] for entry in carried.window]:
        return None  # not a window this can slide (the newest records are the window's)
    if config.max_commits > 0 and len(fresh) + len(carried.order) > config.max_commits:
        return None
    chain = [c.sha for c in fresh]
    views: dict[str, tuple[LogCommit, dict[str, int]]] = {}
    for commit in fresh:
        view, counts, cacheable = scrub.commit(commit)
        if not cacheable:
            return None  # its date or a path needed redaction: never carried
        views[commit.sha] = (view, counts)
    old_head = set(carried.at_head)
    gone = set(carried.gone)
    if any(path in gone for path in at_head - old_head):
        return None  # back at HEAD: its older commits were not counted among the paths at HEAD
    gone.update(old_head - at_head)
    # Co-change counts, per-path commits and co-change records: only what the new commits change.
    touches, pairs, rows = carried.touches, carried.pairs, carried.cochange
    file_commits, ignored = carried.file_commits, carried.ignored
    affected: set[str] = set()
    for path in old_head - at_head:
        affected.update(pairs.pop(path, {}))
        touches.pop(path, None)
        file_commits.pop(path, None)
        rows.pop(path, None)
    for partner in affected:
        for path in old_head - at_head:
            pairs.get(partner, {}).pop(path, None)
    for commit in reversed(fresh):  # oldest first: each prepends to the per-path lists
        for path, _ in commit.files:
            if path not in at_head:
                gone.add(path)
            else:
                file_commits[path] = [(commit.sha, commit.time), *file_commits.get(path, ())]
                affected.add(path)
        if not commit.files:
            continue
        if len(commit.files) > config.cochange_max_files:
            ignored += 1
            continue
        present = sorted({p for p, _ in commit.files if p in at_head})
        for k, a in enumerate(present):
            touches[a] = touches.get(a, 0) + 1
            for b in present[k + 1 :]:
                mine, theirs = pairs.setdefault(a, {}), pairs.setdefault(b, {})
                mine[b] = mine.get(b, 0) + 1
                theirs[a] = theirs.get(a, 0) + 1
    from ctxeng.extract.history.stage import MAX_PARTNERS, cochange_record

    for path in affected:
        best = [(b, n) for b, n in pairs.get(path, {}).items() if n >= config.cochange_min_count]
        if path not in at_head or not best:
            rows.pop(path, None)
            continue
        best.sort(key=lambda item: (-item[1], item[0]))
        rows[path] = row(cochange_record(path, touches[path], best[:MAX_PARTNERS], file_commits[path][0]))
    # The patch window: the new commits, then the carried window less as many of its oldest.
    size = len(fresh) + len(carried.window) if config.patch_commits < 0 else config.patch_commits
    kept = carried.window[: max(0, size - len(fresh))]
    new_window = [c.sha for c in fresh][:size]
    window = new_window + [entry[0] for entry in kept]
    known = (
        carried.omit_reasons
        if carried.omit_key == (omit_key := omissions_key(repo, files, drop_files))
        else {}
    )
    stand_ins = [*fresh, *(view_of(rec) for rec in carried.records[: len(kept)])]
    omissions = _omissions(repo, stand_ins, window, files, drop_files, head_skips, cache.folder, known)
    keys = patch_keys(stand_ins, window, omissions)
    if any(keys[entry[0]] != entry[1] for entry in kept):
        return None  # what history leaves out changed: carried patches may differ from a cold build's
    mined = mine_patches(repo, new_window, config, drop_files, lambda *_: None, Counter(), omissions)
    if len(mined) != len(new_window):
        return None
    window_rows: list[WindowRow] = []
    patch_views: dict[str, tuple[CommitPatch, dict[str, int]]] = {}
    for sha in new_window:
        patch = mined[sha]
        redacted, counts, cacheable = scrub.patch(patch)
        if not cacheable:
            return None
        patch_views[sha] = (redacted, counts)
        window_rows.append((sha, keys[sha], counts, patch.bytes,
                            len(patch.diff), patch.truncated, patch.omitted, tuple(patch.omit_reasons)))  # fmt: skip
    window_rows += kept
    cache.append([views[c.sha] for c in fresh], [(patch_views[s], window_rows[i][4], keys[s])
                                                 for i, s in enumerate(new_window)])  # fmt: skip
    # Commit records: the new ones, then the carried ones (those that left the window without their patch);
    # only the new and the rebuilt go to a new segment (`carry.save`), the others stay where they lie.
    new_rows = [row(commit_record(views[c.sha][0], patch_views[c.sha][0] if c.sha in patch_views else None, False))
                for c in fresh]  # fmt: skip
    old_rows, n_kept, n_window = carried.records, len(kept), len(carried.window)
    rebuilt = [row(commit_record(view_of(rec), None, False)) for rec in old_rows[n_kept:n_window]]
    records = [*new_rows, *old_rows[:n_kept], *rebuilt, *old_rows[n_window:]]
    slices = [("", 0, len(new_rows)), *cut(carried.slices, 0, n_kept),
              ("", len(new_rows), len(new_rows) + len(rebuilt)), *cut(carried.slices, n_window, len(old_rows))]  # fmt: skip
    view_counts = carried.view_counts
    view_counts.update((c.sha, views[c.sha][1]) for c in fresh if views[c.sha][1])
    order = [*chain, *carried.order]
    head_time = fresh[0].time if fresh else carried.head_time
    state = Carry(carried.key, repo.head, head_time, order, carried.merges, records, view_counts, window_rows,
                  sorted(at_head), sorted(gone), {p: file_commits[p] for p in sorted(file_commits)}, touches, pairs,
                  {p: rows[p] for p in sorted(rows)}, ignored, omit_key, known,
                  [(seg, lo, hi) for seg, lo, hi in slices if lo < hi], [*new_rows, *rebuilt])  # fmt: skip
    store(cache.folder / ORDER_FILE, repo.head, config.max_commits, order)
    return result_of(state, cache.patches.salt, HistoryResult), state


def extend_carried(
    repo: RepoView, config: HistoryConfig, key: str, cache: HistoryCache, scrub: Scrub,
    files: FilesConfig | None, drop_files: tuple[str, ...], head_skips: Mapping[str, str], at_head: set[str],
) -> tuple[Any, Carry] | None:  # fmt: skip
    """`extend` of the result carried in the history cache under `key`, or None where there is none to
    extend: no carry, HEAD not on top of it, or a carry of the right key but the wrong shape (a miss).
    The carry's HEAD is peeked first, so a rewritten history never loads it; a loaded carry is let go
    on return (~100 MB on sqlalchemy), before any full pass."""
    base = peek(cache.folder, key)
    fresh = chain(repo, base) if base is not None else None
    last = load(cache.folder, key) if fresh is not None else None
    if last is None or fresh is None or last.head != base:
        return None
    try:
        return extend(repo, config, last, fresh, at_head, scrub, cache, files, drop_files, head_skips)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return None


def chain(repo: RepoView, base: str) -> list[LogCommit] | None:
    """The commits from HEAD down to `base` (excluded), newest first, read in one git run, when each has
    exactly one parent and there are at most `MAX_CHAIN` of them; else None (see `chain_on`)."""
    if repo.head == base:
        return []
    try:
        commits = list(iter_range(repo, repo.head, base, MAX_CHAIN + 1))
    except CtxengError:  # e.g. `base` is gone (a rewritten history, collected)
        return None
    expect = repo.head
    for i, commit in enumerate(commits):
        below = commits[i + 1].sha if i + 1 < len(commits) else base
        if commit.sha != expect or commit.parents != (below,):
            return None  # a merge, a root, or not a chain on top of `base`
        expect = below
    return commits if commits and len(commits) <= MAX_CHAIN else None


def result_of(state: Carry, salt: str, make: Any) -> Any:
    """The `HistoryResult` (made by `make`) that a carried state stands for."""
    provenance = Provenance(head=state.head, head_time=state.head_time)
    provenance.file_commits = state.file_commits
    redactions: Counter[str] = Counter()
    for counts in state.view_counts.values():
        redactions.update(counts)
    stats = {
        "commits_seen": len(state.order), "commits": len(state.records), "merges_skipped": state.merges,
        "shallow": 0, "shallow_boundary": 0, "patch_window": len(state.window), "patches_truncated": 0,
        "patch_bytes": 0, "patch_chars_kept": 0, "patch_files_omitted": 0, "patch_error": 0, "symbols_touched": 0,
        "cochange_files": len(state.cochange), "cochange_ignored_commits": state.ignored,
    }  # fmt: skip
    at_head = set(state.at_head)
    patch_keys: dict[str, str] = {}
    # The window's records are the newest: their touched definitions are the patches' (carried only if
    # none needed redaction).
    for (sha, key, counts, size, chars, truncated, omitted, reasons), rec in zip(state.window, state.records):
        patch_keys[sha] = key
        provenance.window.add(sha)
        redactions.update(counts)
        stats["patch_bytes"] += size
        stats["patch_chars_kept"] += chars
        stats["patches_truncated"] += truncated
        stats["patch_files_omitted"] += omitted
        for reason in reasons:
            stats[f"patch_omitted_{reason}"] = stats.get(f"patch_omitted_{reason}", 0) + 1
        when = rec[6]
        for symbol in rec[9]["symbols"]:
            if symbol["path"] in at_head:
                provenance.symbol_commits.setdefault((symbol["path"], symbol["name"]), (sha, when))
    stats["symbols_touched"] = len(provenance.symbol_commits)
    commits = records_of(state.records)
    prefix, get = f"{salt}\0", patch_keys.get
    keys = {rec.id: f"{prefix}{rec.commit}\0{get(rec.commit, '')}\0{0}" for rec in commits}
    cochange = records_of(list(state.cochange.values()))
    return make(commits=commits, cochange=cochange, provenance=provenance, stats=stats, redactions=redactions,
                keys=keys)  # fmt: skip


def carry_of_pass(
    key: str, provenance: Provenance, log: list[LogCommit], commits: list[Record],
    mined: list[tuple[LogCommit, Any, CommitPatch | None, Any]], keys: Mapping[str, str], sizes: Mapping[str, int],
    at_head: set[str], counts: dict[str, Any], cochange: list[Record], ignored: int, omit_key: str,
    omit_reasons: dict[str, str],
) -> Carry | None:  # fmt: skip
    """The state a full pass leaves to carry: `mined` holds each non-merge commit (in walk order) as git
    gave it, as its record shows it (with counts), its patch and its patch as shown, or None where a
    string other than a message or patch text needed redaction (never carried)."""
    window: list[WindowRow] = []
    view_counts: dict[str, dict[str, int]] = {}
    for commit, (view, counts_), patch, patch_shown in mined:
        if view is not commit and (view.date != commit.date or view.files != commit.files):
            return None
        if counts_:
            view_counts[commit.sha] = counts_
        if patch is None:
            continue
        patch_view, patch_counts = patch_shown
        if commit.sha not in sizes or patch_view.symbols != patch.symbols:
            return None
        window.append((commit.sha, keys[commit.sha], patch_counts,
                       patch.bytes, sizes[commit.sha], patch.truncated, patch.omitted, tuple(patch.omit_reasons)))  # fmt: skip
    if [entry[0] for entry in window] != [rec.commit for rec in commits[: len(window)]]:
        return None  # not the newest commits: not a window this module can slide
    gone = sorted({path for commit in log for path, _ in commit.files if path not in at_head})
    rows = [row(rec) for rec in commits]
    # One object per path across the state (marshal then writes each once; 100,000 paths at scale).
    intern = sys.intern
    heads = [intern(p) for p in sorted(at_head)]
    file_commits = {intern(p): v for p, v in provenance.file_commits.items()}
    omit_reasons = {intern(p): r for p, r in omit_reasons.items()}
    return Carry(
        key, provenance.head, provenance.head_time, [c.sha for c in log], sum(c.is_merge for c in log),
        rows, view_counts, window, heads, gone, file_commits, counts["touches"], counts["pairs"],
        {rec.path: row(rec) for rec in cochange}, ignored, omit_key, omit_reasons, [("", 0, len(rows))], rows,
    )  # fmt: skip
