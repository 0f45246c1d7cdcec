"""Incremental refresh: bring `.ctxeng/` up to date with what changed since the last build.

Two paths, chosen by what changed:
- HEAD moved, the configuration or ctxeng changed, or many files changed (post-commit, merge,
  checkout, an explicit `ctxeng refresh`): a full build run through the caches, so only what
  changed is recomputed — files by blob (`core.cache`), commits and patches by sha
  (`extract.history.cache`: amend, rebase, reset and branch switches need no special case), task
  example outcomes by a digest of their records or of the example (`dataset.task_cache`,
  `dataset.blobtable`) — and the outputs are byte for byte what a cold `ctxeng build` writes.
- Otherwise, inside a pre-commit hook (`hook=True`): only the staged changes, fast. The changed files
  are re-extracted and their records put beside the prompt index (`ctxeng.pack.index.staged`), which
  its readers patch in as they load it, so `ctxeng context` (the Claude Code prompt hook) sees them at once; records, dataset and pack describe commits and catch up at the next full
  refresh. Which files they lag by is kept in `state/pending.json` (`ctxeng status` shows it).

A refresh never writes tracked files and never imports torch. In hook mode it fails open.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctxeng.core.config import Config, load_config
from ctxeng.core.fsio import Lock, LockBusy, dumps_json, dumps_json_bytes
from ctxeng.core.generation import Staging, needs_apply, verify
from ctxeng.core.repo import IndexEntry, RepoView, open_repo
from ctxeng.core.workdir import check_workdir, generation_dir, workdir

if TYPE_CHECKING:
    from collections.abc import Callable

    from ctxeng.core.records import Record

#: Past this many changed files a pre-commit refresh does the full (cached) build instead.
FAST_PATH_MAX_FILES = 50


@dataclass
class RefreshResult:
    """What a refresh did: `mode` is "none", "fast", "full" or "skipped"; `note` says why."""

    mode: str
    note: str = ""
    changed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """As plain data (for --json)."""
        return {
            "mode": self.mode,
            "note": self.note,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class BuildState:
    """What the last build recorded: every index entry's (blob, mode, outcome) and HEAD."""

    entries: dict[str, tuple[str, str, str]]
    head: str
    #: Each path's line of `state/blobs.jsonl` as read (newline included): the hook copies unchanged ones.
    lines: dict[str, bytes] = field(default_factory=dict)


def load_state(gen: Path) -> BuildState | None:
    """The state of the generation in folder `gen`, or None when there is none (or it is unreadable)."""
    loads = _line_decoder()
    try:
        entries, lines = {}, {}
        for line in (gen / "state" / "blobs.jsonl").read_bytes().splitlines(keepends=True):
            if not line.strip():
                continue
            r = loads(line)
            entries[r["path"]] = (r["blob"], r["mode"], r["outcome"])
            lines[r["path"]] = line if line.endswith(b"\n") else line + b"\n"
        head = (gen / "state" / "head").read_text(encoding="utf-8").strip()
        if not isinstance(json.loads((gen / "manifest.json").read_text(encoding="utf-8")), dict):
            return None
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return BuildState(entries=entries, head=head, lines=lines)


def _line_decoder() -> Callable[[bytes], Any]:
    """orjson's parser where installed (a 100,000-file state is 100,000 lines), else the stdlib's."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - a dependency
        return json.loads

    def loads(line: bytes) -> Any:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:  # what orjson refuses (lone surrogates): the stdlib decides
            return json.loads(line)

    return loads


def changed_entries(state: BuildState, index: list[IndexEntry]) -> tuple[list[IndexEntry], list[str]]:
    """Index entries that are new or differ (blob or mode) from the last build, and removed paths."""
    now = {e.path: e for e in index}
    changed = [e for e in index if state.entries.get(e.path, ("", "", ""))[:2] != (e.blob, e.mode)]
    removed = sorted(p for p in state.entries if p not in now)
    return changed, removed


def refresh(path: str | Path = ".", hook: bool = False) -> RefreshResult:
    """Refresh `.ctxeng/` of the repository at `path` (see the module docstring for the two paths).

    Raises `CtxengError` on user errors (the CLI turns them into a warning in hook mode). In hook
    mode a busy lock skips the refresh instead of waiting: another run is already refreshing.
    """
    started = time.perf_counter()
    repo = open_repo(path)
    if not repo.head:
        return RefreshResult("skipped", "no commits yet", seconds=time.perf_counter() - started)
    out_dir = workdir(repo.root)
    check_workdir(out_dir)
    _recover(repo.root)
    gen = generation_dir(out_dir)  # resolved once: state and manifest come from one generation
    state = load_state(gen)
    damaged = sorted(verify(gen).values()) if state is not None else []
    if state is None or damaged:
        built = (gen / "manifest.json").exists()
        why = (
            "first build"
            if not built
            else f"the outputs in .ctxeng/ are {'corrupt' if damaged else 'unreadable'}"
        )
        if hook:  # a rebuild is too slow for a commit: the post-commit refresh (or `ctxeng build`) does it
            note = f"{why}: run `ctxeng build`" if built else "no build yet: run `ctxeng build` once"
            return RefreshResult("skipped", note, seconds=time.perf_counter() - started)
        return _full(repo, started, f"{why} ({damaged[0]})" if damaged else why)
    config = load_config(repo.root)
    changed, removed = changed_entries(state, repo.index())
    paths = sorted({e.path for e in changed} | set(removed))
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    reason = _full_reason(repo, state, manifest, config, len(paths), hook, gen)
    if reason:
        return _full(repo, started, reason, paths, hook, config)
    if not paths:
        return RefreshResult("none", "up to date", seconds=time.perf_counter() - started)
    try:
        with Lock(out_dir, wait_seconds=0.0), Staging(out_dir) as staging:
            if staging.base != gen:  # another run published meanwhile: its state is the one to patch
                return RefreshResult(
                    "skipped", "another ctxeng run refreshed meanwhile", paths, time.perf_counter() - started
                )
            note = _fast(repo, config, out_dir, state, changed, removed, staging)
    except LockBusy:
        return RefreshResult(
            "skipped", "another ctxeng run holds the lock", paths, time.perf_counter() - started
        )
    return RefreshResult("fast", note, paths, time.perf_counter() - started)


def _full_reason(
    repo: RepoView,
    state: BuildState,
    manifest: dict[str, Any],
    config: Config,
    n_changed: int,
    hook: bool,
    gen: Path,
) -> str:
    """Why the full (cached) build is needed, or "" when the fast path will do."""
    from ctxeng import __version__

    if manifest.get("ctxeng_version") != __version__:
        return "ctxeng changed since the last build"
    if manifest.get("config") != config.to_json():
        return "the configuration changed"
    if repo.head != state.head:
        return "HEAD moved"
    if not hook and (n_changed or (gen / "state" / "pending.json").exists()):
        return "files changed"  # an explicit refresh brings every output up to date
    if n_changed > FAST_PATH_MAX_FILES:
        return f"{n_changed} files changed"
    return ""


def _full(
    repo: RepoView,
    started: float,
    reason: str,
    paths: list[str] | None = None,
    hook: bool = False,
    config: Config | None = None,
) -> RefreshResult:
    from ctxeng.pipeline.build import build

    try:  # the repository and configuration as read here (build reads HEAD again under the lock)
        build(
            repo.root, config=config, lock_wait=0.0 if hook else 30.0, in_hook=hook, repo=repo, parallel=True
        )
    except LockBusy:
        return RefreshResult(
            "skipped", "another ctxeng run holds the lock", paths or [], time.perf_counter() - started
        )
    return RefreshResult("full", reason, paths or [], time.perf_counter() - started)


def _recover(root: Path) -> None:
    """Finish applying the current generation's skill and CLAUDE.md when a killed run left that undone."""
    if not needs_apply(workdir(root)):
        return
    from ctxeng.pack.worktree import recover

    try:
        with Lock(workdir(root), wait_seconds=0.0):
            recover(root)
    except LockBusy:
        pass  # the run holding the lock publishes a generation and applies it itself


def _fast(
    repo: RepoView,
    config: Config,
    out_dir: Path,
    state: BuildState,
    changed: list[IndexEntry],
    removed: list[str],
    staging: Staging,
) -> str:
    """Re-extract the staged changes and patch them into the prompt index; record what is pending.

    Index, state and pending list go into `staging` and are published together as one generation.
    """
    from ctxeng.core.cache import ExtractCache
    from ctxeng.core.provenance import Provenance
    from ctxeng.extract.code import header_language
    from ctxeng.extract.files import extract_files
    from ctxeng.extract.selection import select_entries
    from ctxeng.pipeline.build import extract_settings
    from ctxeng.secrets import Redactor

    selection = select_entries(repo, changed, config.files, config.secrets)
    redactor = Redactor(config.secrets)
    cache = ExtractCache(out_dir, extract_settings(config))
    docs = config.docs if config.docs.enabled else None
    # `.h` files are read as the whole selection says (C or C++), not as the few changed files say;
    # only a `.h` file needs it (counting 100,000 paths was a third of a hook run).
    headers = "c"
    if any(source.path.lower().endswith(".h") for source in selection.files):
        gone = set(removed) | {entry.path for entry in changed}
        selected = {p for p, (_, _, outcome) in state.entries.items() if not outcome and p not in gone}
        headers = header_language(selected | {source.path for source in selection.files})
    extracted = extract_files(selection.files, docs, redactor, cache, lambda *_: None, headers)
    # Staged content is not committed yet: its records are dated "" / 0, the newest there is.
    dating = Provenance(head=state.head, staged={e.path for e in changed})
    replaced: dict[str, list[Record]] = {p: [] for p in [*removed, *(e.path for e in changed)]}
    for rec in dating.stamp([*extracted.code, *extracted.docs]):
        replaced.setdefault(rec.path, []).append(rec)
    if not _stage_index_changes(replaced, staging):
        # Leave the state alone: the next run sees the same changes and tries again.
        return "prompt index unavailable; run `ctxeng build`"
    _record_pending(staging, sorted(replaced))
    _update_state(staging, state, changed, removed, selection.outcomes)
    _keep_applied(out_dir, staging)
    staging.publish()
    return "prompt index patched"


def _keep_applied(out_dir: Path, staging: Staging) -> None:
    """The new generation carries the base's skill and CLAUDE.md block unchanged: when the base's were
    applied to the work tree, so are the new one's (else the next run would apply them again)."""
    from ctxeng.core.generation import APPLIED

    try:
        applied = (out_dir / APPLIED).read_text(encoding="utf-8").strip() == staging.base.name
    except OSError:
        return
    if applied:
        staging.after_switch.append(lambda gen: _mark_applied(out_dir / APPLIED, gen.name))


def _mark_applied(path: Path, name: str) -> None:
    from ctxeng.core.fsio import atomic_write_text

    with contextlib.suppress(OSError):  # unmarked, the next run only applies the same files again
        atomic_write_text(path, name + "\n")


def _update_state(
    staging: Staging,
    state: BuildState,
    changed: list[IndexEntry],
    removed: list[str],
    outcomes: dict[str, str],
) -> None:
    """Record the staged versions as seen, so the next hook run finds nothing new to patch."""
    entries = dict(state.entries)
    for entry in changed:
        entries[entry.path] = (entry.blob, entry.mode, outcomes.get(entry.path, ""))
    for path in removed:
        entries.pop(path, None)
    fresh = {entry.path for entry in changed}
    with open(staging.path("state/blobs.jsonl"), "wb") as fh:
        for p, (b, m, o) in sorted(entries.items()):
            line = state.lines.get(p) if p not in fresh else None
            if line is None:  # the line `write_jsonl` writes for this row (as a build's `save_state` does)
                line = dumps_json_bytes({"path": p, "blob": b, "mode": m, "outcome": o}) + b"\n"
            fh.write(line)


def _stage_index_changes(replaced: dict[str, list[Record]], staging: Staging) -> bool:
    """Put the changed files' records beside the index (`ctxeng.pack.index.staged`): readers patch the
    index with them, so the hook need not parse and rewrite it (48 MB at 100,000 files)."""
    from ctxeng.pack.index.reader import INDEX_FILE
    from ctxeng.pack.index.staged import stage_changes

    if not (staging.base / INDEX_FILE).is_file():
        return False
    stage_changes(staging, replaced)
    return True


def _record_pending(staging: Staging, paths: list[str]) -> None:
    """Add `paths` to the files that records, dataset and pack have not caught up with yet."""
    try:
        known = set(
            json.loads((staging.base / "state" / "pending.json").read_text(encoding="utf-8")).get("paths", [])
        )
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        known = set()
    staging.path("state/pending.json").write_text(
        dumps_json({"paths": sorted(known | set(paths))}) + "\n", encoding="utf-8"
    )


def spawn_background(path: str | Path) -> int:
    """Start `ctxeng refresh` detached (own session, output to .ctxeng/refresh.log); returns its pid.

    Used from post-commit / post-merge / post-checkout hooks, whose full refresh may take seconds
    on a large repository and must not hold up git.
    """
    root = open_repo(path).root
    log_path = workdir(root) / "refresh.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ctxeng", "refresh", str(root)],
            cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True, env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        )  # fmt: skip
    return proc.pid
