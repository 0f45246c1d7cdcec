"""The repository as it was at one commit: its files' records and its history up to that commit, nothing later.

A replay visits a hundred parents of recent commits; rebuilding each with a worktree would re-read
and re-parse every file a hundred times. Instead the tree is listed with `git ls-tree` (no
checkout), blobs are read through one `cat-file` per snapshot for the blobs not seen before, and
extracted records are remembered per (path, blob) in memory and in ctxeng's extraction cache on
disk, so a snapshot after the first costs about one git listing plus the few files that differ.
History is one `git log` of the newest commit, cut per snapshot to the commits reachable from it;
the patches of each snapshot's window (the definitions each commit touched) are streamed once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ctxeng.core.cache import ExtractCache
from ctxeng.core.config import Config
from ctxeng.core.errors import CtxengError
from ctxeng.core.gitcli import decode
from ctxeng.core.records import Record, dedupe_ids
from ctxeng.core.repo import IndexEntry, RepoView
from ctxeng.extract.history.log import LogCommit, iter_log
from ctxeng.extract.history.parse import CommitPatch
from ctxeng.extract.history.stage import cochange_records, commit_record, file_commits, patch_window
from ctxeng.extract.selection import SourceFile, content_reason, decode_text, is_binary, path_reason


@dataclass
class Snapshot:
    """What a build at `sha` would have seen: tracked entries and every record (history included)."""

    sha: str
    entries: list[IndexEntry]
    records: list[Record]


@dataclass
class _Blob:
    outcome: str  # "" selected, else the skip reason
    records: list[Record] = field(default_factory=list)


class History:
    """Every commit of one tip, newest first, with the means to cut it at any ancestor."""

    def __init__(self, repo: RepoView, tip: str) -> None:
        self.log: list[LogCommit] = list(iter_log(repo, tip))
        self.by_sha = {c.sha: c for c in self.log}
        self.position = {c.sha: i for i, c in enumerate(self.log)}

    def reachable(self, sha: str) -> list[LogCommit]:
        """The commits reachable from `sha` (itself included), in the log's order (newest first)."""
        seen: set[str] = set()
        stack = [sha]
        while stack:
            cur = stack.pop()
            if cur in seen or cur not in self.by_sha:
                continue
            seen.add(cur)
            stack.extend(self.by_sha[cur].parents)
        return [self.log[i] for i in sorted(self.position[s] for s in seen)]

    def non_merge(self, limit: int, skip: int = 0) -> list[LogCommit]:
        """The newest `limit` non-merge commits that have a parent, after skipping `skip` of them."""
        rows = [c for c in self.log if len(c.parents) == 1]
        return rows[skip : skip + limit]


class Replayer:
    """Builds `Snapshot`s of one repository at any of its commits, sharing work between them."""

    def __init__(
        self, repo: RepoView, config: Config, cache_dir: Path | None, tip: str | None = None
    ) -> None:
        from ctxeng.pipeline.build import extract_settings
        from ctxeng.secrets import Redactor

        self.repo = repo
        self.config = config
        self.history = History(repo, tip or repo.head)
        self.redactor = Redactor(config.secrets)
        self.cache = ExtractCache(cache_dir, extract_settings(config)) if cache_dir is not None else None
        self._blobs: dict[tuple[str, str], _Blob] = {}
        self._commits: dict[str, Record] = {}
        self._patches: dict[str, CommitPatch] = {}  # sha → its patch's touched definitions (no text kept)
        self.memo: dict[Any, Any] = {}  # for callers: results that depend only on the files they key them by

    def entries(self, sha: str) -> list[IndexEntry]:
        """The tracked files of commit `sha`, sorted by path (its tree, not the work tree)."""
        out = []
        for raw in self.repo.git.stream(["ls-tree", "-r", "-z", "--full-tree", sha]):
            if not raw:
                continue
            meta, _, path = raw.partition(b"\t")
            mode, kind, blob = meta.decode().split()
            if kind in ("blob", "commit"):
                out.append(IndexEntry(decode(path), blob, mode))
        return sorted(out, key=lambda e: e.path)

    def snapshot(self, sha: str) -> Snapshot:
        """Records of the repository at `sha`: files, docs, glossary, commits and co-change up to `sha`."""
        from ctxeng.extract.glossary import build_glossary

        entries = self.entries(sha)
        self._extract(entries)
        code: list[Record] = []
        for e in entries:
            blob = self._blobs.get((e.path, e.blob))
            if blob is not None and not blob.outcome:
                code.extend(blob.records)
        glossary = [self.redactor.record(r) for r in build_glossary(code)]
        return Snapshot(
            sha=sha, entries=entries, records=dedupe_ids([*code, *self._history(sha, entries), *glossary])
        )

    def _history(self, sha: str, entries: list[IndexEntry]) -> list[Record]:
        if not self.config.history.enabled:
            return []
        log = self.history.reachable(sha)
        if self.config.history.max_commits > 0:
            log = log[: self.config.history.max_commits]
        at = {e.path for e in entries}
        newest = file_commits(log, at, set())
        cochange, _ = cochange_records(log, at, set(), self.config.history, newest)
        window = set(self._mine_patches(patch_window(log, set(), self.config.history.patch_commits)))
        commits = []
        for c in log:
            if c.is_merge:
                continue
            key = (
                f"{c.sha}:{int(c.sha in window)}"  # in one parent's patch window, maybe not in an older one's
            )
            rec = self._commits.get(key)
            if rec is None:
                patch = self._patches.get(c.sha) if c.sha in window else None
                rec = self._commits[key] = self.redactor.record(commit_record(c, patch, False))
            commits.append(rec)
        return [*commits, *(self.redactor.record(r) for r in cochange)]

    def _mine_patches(self, window: list[str]) -> list[str]:
        """The touched definitions of the window's commits, as the history stage finds them from their
        hunks; each commit's patch is streamed once for the whole replay, and only its symbols are kept."""
        from ctxeng.extract.history.patches import stream_patches

        missing = [sha for sha in window if sha not in self._patches]
        try:
            for patch in stream_patches(self.repo, missing, self.config.history.max_patch_bytes):
                self._patches[patch.sha] = replace(patch, diff="")
        except CtxengError:  # as in a build: a git failure part-way keeps the patches read so far
            pass
        return window

    def _extract(self, entries: Iterable[IndexEntry]) -> None:
        """Select and extract every (path, blob) not seen before, like a build would."""
        from ctxeng.extract.code import header_language
        from ctxeng.extract.files import extract_files

        files, secrets = self.config.files, self.config.secrets
        entries = list(entries)
        new: list[IndexEntry] = []
        for e in entries:
            if (e.path, e.blob) in self._blobs:
                continue
            reason = path_reason(e, files, secrets)
            if reason:
                self._blobs[(e.path, e.blob)] = _Blob(reason)
            else:
                new.append(e)
        if not new:
            return
        sizes = self.repo.git.blob_sizes(e.blob for e in new)
        readable = [e for e in new if sizes.get(e.blob, files.max_file_bytes + 1) <= files.max_file_bytes]
        for e in new:
            if e not in readable:
                self._blobs[(e.path, e.blob)] = _Blob("too-large" if e.blob in sizes else "missing-object")
        contents = dict(self.repo.git.read_blobs(sorted({e.blob for e in readable})))
        sources: list[SourceFile] = []
        for e in readable:
            data = contents.get(e.blob)
            if data is None or is_binary(data):
                self._blobs[(e.path, e.blob)] = _Blob("missing-object" if data is None else "binary")
                continue
            text, encoding = decode_text(data)
            reason = content_reason(data, text, files)
            if reason:
                self._blobs[(e.path, e.blob)] = _Blob(reason)
                continue
            sources.append(SourceFile(e.path, e.blob, text, len(data), encoding))
        headers = header_language(e.path for e in entries)
        docs = self.config.docs if self.config.docs.enabled else None
        extracted = extract_files(sources, docs, self.redactor, self.cache, lambda *_: None, headers)
        by_path: dict[str, list[Record]] = {}
        for rec in [*extracted.code, *extracted.docs]:
            by_path.setdefault(rec.path, []).append(rec)
        for source in sources:
            self._blobs[(source.path, source.blob)] = _Blob("", by_path.get(source.path, []))
