"""A sha-keyed cache of mined history, so a rebuild mines only the commits it has not seen.

A commit's sha names its content (message, parents, tree), so what `git log --name-status`
says about it (`LogCommit`) and its bounded patch (`CommitPatch`) never change; the cache holds
them per sha under `<out_dir>/cache/history/`, salted with ctxeng's extractor and secret code and
the settings that shape them. The walk order always comes from git (`rev-list`), so rewritten
history (amend, rebase, reset, a branch switch) needs no special case: commits the cache lacks
are mined, the others are reused. Shallow-boundary commits are never cached: git shows them as
roots only until the clone is deepened. A torn or unreadable file is a miss; never a source of truth.

No secret is cached: messages and patch text are stored redacted (`Scrub`), with the redaction
counts they gave, and a commit or patch is cached only when its other strings (date, paths,
touched definitions) hold nothing to redact, so those are stored as git gave them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ctxeng.core.cache import _load_table, _store_table
from ctxeng.core.cache_journal import JournalTable
from ctxeng.extract.history.log import LogCommit
from ctxeng.extract.history.parse import CommitPatch

CACHE_DIR = "cache/history"
#: The log rows' format (2: with the bot flag, which format 1 lost: a cached bot commit read as a person's).
LOG_ROW_FORMAT = 2
_JOIN = "\n\0\n"  # between strings checked together, as `ctxeng.secrets.redact` joins a record's


class Scrub:
    """Redaction string by string, with each string's rule counts kept apart from the redactor's."""

    def __init__(self, redactor: Any) -> None:
        self.redactor = redactor

    def text(self, text: str) -> tuple[str, dict[str, int]]:
        """`text` redacted, and how many redactions each rule made in it.

        Called for every string of a commit or patch that the prefilter flags as a whole, so a
        string is redacted alike whatever else its record holds.
        """
        redacted, findings = self.redactor.scanner.redact(text)
        if not findings:
            return text, {}
        counts: Counter[str] = Counter(f.rule for f in findings)
        return redacted, dict(counts)

    def clean(self, strings: list[str]) -> bool:
        """Whether no rule's prefilter matches any of `strings` (then none holds a secret), in one pass
        as `Redactor.record` checks a record."""
        return not self.redactor.scanner.candidates(_JOIN.join(strings))

    def commit(self, commit: LogCommit) -> tuple[LogCommit, dict[str, int], bool]:
        """The commit with every string redacted, its counts, and whether it may be cached (only its message
        held secrets: date and paths are stored as they are)."""
        if self.clean([commit.subject, commit.message, commit.date, *(p for p, _ in commit.files)]):
            return commit, {}, True
        counts: Counter[str] = Counter()
        subject, found = self.text(commit.subject)
        counts.update(found)
        message, found = self.text(commit.message)
        counts.update(found)
        message_counts = dict(counts)
        date, found = self.text(commit.date)
        counts.update(found)
        files = []
        for path, status in commit.files:
            clean, found = self.text(path)
            counts.update(found)
            files.append((clean, status))
        out = LogCommit(commit.sha, commit.parents, commit.time, date, subject, message, files, commit.bot)
        return out, dict(counts), dict(counts) == message_counts

    def patch(self, patch: CommitPatch) -> tuple[CommitPatch, dict[str, int], bool]:
        """The patch with text and touched definitions redacted, its counts, and whether it may be cached
        (only its text held secrets)."""
        if self.clean([patch.diff, *(s for pair in patch.symbols for s in pair)]):
            return patch, {}, True
        counts: Counter[str] = Counter()
        diff, found = self.text(patch.diff)
        counts.update(found)
        diff_counts = dict(counts)
        symbols = []
        for path, name in patch.symbols:
            clean_path, found = self.text(path)
            counts.update(found)
            clean_name, found = self.text(name)
            counts.update(found)
            symbols.append((clean_path, clean_name))
        # The omission reasons too: without them a redacted patch read back from the cache counted fewer
        # `patch_omitted_*` than the cold build that mined it.
        out = CommitPatch(patch.sha, diff, patch.truncated, symbols, patch.added, patch.deleted, patch.bytes,
                          patch.omitted, patch.omit_reasons)  # fmt: skip
        return out, dict(counts), dict(counts) == diff_counts


class HistoryCache:
    """Redacted `LogCommit`s and `CommitPatch`es by sha, with their redaction counts (see the module docstring)."""

    def __init__(self, out_dir: Path, salt: str, patch_settings: Any) -> None:
        folder = out_dir / CACHE_DIR
        self.folder = folder
        # The rows' format is part of the salt: rows of another format read as misses, never misread.
        salt = f"{salt}\0log-{LOG_ROW_FORMAT}"
        self.log = JournalTable(folder / "log.json", salt)
        patch_salt = hashlib.sha1((salt + json.dumps(patch_settings, sort_keys=True)).encode()).hexdigest()
        self.patches = JournalTable(folder / "patches.json", patch_salt)

    def commits(self, shas: Iterable[str]) -> dict[str, tuple[LogCommit, dict[str, int]]]:
        """The cached commits among `shas` (message redacted) and their redaction counts."""
        entries = self.log.entries
        out = {}
        for sha in shas:
            row = entries.get(sha)
            if row is not None:
                parents, when, date, subject, message, files, counts, bot = row
                commit = LogCommit(
                    sha, tuple(parents), when, date, subject, message, [(p, s) for p, s in files], bot
                )
                out[sha] = (commit, counts)
        return out

    def put_commit(self, redacted: LogCommit, counts: dict[str, int]) -> None:
        """Remember a commit whose date and paths needed no redaction (message redacted)."""
        self.log.put(redacted.sha, self._commit_row(redacted, counts))

    @staticmethod
    def _commit_row(redacted: LogCommit, counts: dict[str, int]) -> list[Any]:
        return [list(redacted.parents), redacted.time, redacted.date, redacted.subject, redacted.message,
                [[p, s] for p, s in redacted.files], counts, redacted.bot]  # fmt: skip

    def patch(self, sha: str, key: str) -> tuple[CommitPatch, dict[str, int], int] | None:
        """The cached patch of `sha` under `key` (see `patch_keys`), text redacted, its redaction counts and
        its unredacted length; or None."""
        row = self.patches.entries.get(key)
        if row is None:
            return None
        diff, truncated, symbols, added, deleted, size, omitted, reasons, counts, chars = row
        patch = CommitPatch(
            sha, diff, truncated, [(p, n) for p, n in symbols], added, deleted, size, omitted, tuple(reasons)
        )
        return patch, counts, chars

    def put_patch(self, redacted: CommitPatch, counts: dict[str, int], chars: int, key: str) -> None:
        """Remember a patch whose touched definitions needed no redaction (text redacted; `chars`: its raw length)."""
        self.patches.put(key, self._patch_row(redacted, counts, chars))

    @staticmethod
    def _patch_row(redacted: CommitPatch, counts: dict[str, int], chars: int) -> list[Any]:
        return [redacted.diff, redacted.truncated, [[p, n] for p, n in redacted.symbols], redacted.added,
                redacted.deleted, redacted.bytes, redacted.omitted, list(redacted.omit_reasons), counts,
                chars]  # fmt: skip

    def save(self, walk: set[str], window: set[str]) -> None:
        """Write back what changed (`walk`: the commits of this build; `window`: those with patches)."""
        self.log.save(walk)
        self.patches.save(window)

    def append(
        self,
        commits: list[tuple[LogCommit, dict[str, int]]],
        patches: list[tuple[tuple[CommitPatch, dict[str, int]], int, str]],
    ) -> None:
        """Add commits (redacted, with counts) and patches ((redacted, counts), raw length, key) to the tables'
        journals without reading the main files (`save` folds journals in on a full pass)."""
        for table, rows in (
            (self.log, {c.sha: self._commit_row(c, n) for c, n in commits}),
            (self.patches, {key: self._patch_row(p, n, chars) for (p, n), chars, key in patches}),
        ):
            if rows:
                added = _load_table(table.journal, table.salt)
                added.update(rows)
                with contextlib.suppress(OSError):
                    _store_table(table.journal, table.salt, added)
