"""`ctxeng scan` as a library: where in the files and the mined history a build would redact secrets."""

from __future__ import annotations

import bisect
import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.config import load_config
from ctxeng.core.gitcli import decode
from ctxeng.core.records import Record
from ctxeng.core.repo import open_repo
from ctxeng.secrets.files import secret_file_rule
from ctxeng.secrets.scanner import Scanner

_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True, slots=True, order=True)
class Hit:
    """One place a secret would be redacted; never the value.

    `where` is "file" (a tracked file at HEAD/index), "file-name", "message" (a commit message)
    or "added" / "deleted" / "context" (a line of a commit's patch). `line` is 1-based in the
    file (the old file for deleted lines), in the message, or 0 for a file name; `commit` is the
    commit's sha for history hits.
    """

    path: str
    line: int
    rule: str
    where: str
    commit: str = ""

    def to_json(self) -> dict[str, Any]:
        """The hit as a plain dict."""
        return {
            "path": self.path,
            "line": self.line,
            "rule": self.rule,
            "where": self.where,
            "commit": self.commit,
        }


@dataclass
class ScanReport:
    """Everything `ctxeng scan` found, sorted: file hits by path and line, history hits newest first."""

    files: list[Hit] = field(default_factory=list)
    history: list[Hit] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (path, rule): secret files, never read
    files_scanned: int = 0
    commits_scanned: int = 0

    @property
    def hits(self) -> list[Hit]:
        """File hits, then history hits."""
        return self.files + self.history

    def to_json(self) -> dict[str, Any]:
        """The report as plain data (the `--json` output)."""
        return {
            "files": [h.to_json() for h in self.files],
            "history": [h.to_json() for h in self.history],
            "dropped_files": [{"path": p, "rule": r} for p, r in self.dropped],
            "files_scanned": self.files_scanned,
            "commits_scanned": self.commits_scanned,
        }


def scan_repository(path: str | Path = ".", history: bool = True) -> ScanReport:
    """Scan the files a build would read and, with `history`, the commits it would mine.

    Uses the repository's configuration (file selection, `[history]` window, `[secrets]`
    allow-list and drop patterns), so the report matches what `ctxeng build` redacts.
    """
    repo = open_repo(path)
    config = load_config(repo.root)
    scanner = Scanner(allow=config.secrets.allow)
    report = ScanReport()
    drop = tuple(config.secrets.drop_files)
    for entry in repo.index():
        rule = secret_file_rule(entry.path, drop)
        if rule:
            report.dropped.append((entry.path, rule))
    from ctxeng.extract.selection import select_files

    selection = select_files(repo, config.files, config.secrets)
    for source in selection.files:
        report.files += [Hit(source.path, f.line, f.rule, "file") for f in scanner.find(source.text)]
        report.files += [
            Hit(_shown(scanner, source.path), 0, f.rule, "file-name") for f in scanner.find(source.path)
        ]
    report.files.sort()
    report.files_scanned = len(selection.files)
    if history and config.history.enabled and repo.head:
        from ctxeng.extract.history.stage import mine_history

        outcomes = selection.outcomes
        commits = mine_history(
            repo, config.history, drop_files=drop, files=config.files, head_skips=outcomes
        ).commits
        for rec in commits:
            report.history += commit_hits(scanner, rec)
        report.commits_scanned = len(commits)
    return report


def commit_hits(scanner: Scanner, rec: Record) -> list[Hit]:
    """Hits in one commit record: its message, then its patch, then its file names, in order."""
    hits = [Hit("", f.line, f.rule, "message", rec.commit) for f in scanner.find(rec.text)]
    diff = rec.meta.get("diff") or ""
    findings = scanner.find(diff)
    if findings:
        lines = DiffLines(diff)
        for f in findings:
            path, line, where = lines.locate(f.start)
            hits.append(Hit(_shown(scanner, path), line, f.rule, where, rec.commit))
    for item in rec.meta.get("files", []):
        name = item["path"]
        hits += [Hit(_shown(scanner, name), 0, f.rule, "file-name", rec.commit) for f in scanner.find(name)]
    return hits


def _shown(scanner: Scanner, path: str) -> str:
    """`path` as the report may show it: a secret in the name itself is redacted (never the value)."""
    return scanner.redact(path)[0]


class DiffLines:
    """Maps an offset in a unified diff (git's `diff --git` format) to (path, file line, side)."""

    def __init__(self, diff: str) -> None:
        self.starts: list[int] = []
        self.where: list[tuple[str, int, str]] = []
        path, old, new, in_hunk, pos = "", 0, 0, False, 0
        for raw in diff.split("\n"):  # git's line breaks only (str.splitlines also breaks at \x0c, \u2028...)
            first = raw[:1]
            if raw.startswith("diff --git "):
                path, in_hunk = diff_path(raw), False
                entry = (path, 0, "header")
            elif (m := _HUNK.match(raw)) is not None:
                old, new, in_hunk = int(m.group(1)), int(m.group(2)), True
                entry = (path, new, "header")
            elif in_hunk and first == "+":
                entry, new = (path, new, "added"), new + 1
            elif in_hunk and first == "-":
                entry, old = (path, old, "deleted"), old + 1
            elif in_hunk and first == " ":
                entry, old, new = (path, new, "context"), old + 1, new + 1
            else:
                entry = (path, 0, "header")
            self.starts.append(pos)
            self.where.append(entry)
            pos += len(raw) + 1

    def locate(self, offset: int) -> tuple[str, int, str]:
        """(path, line in that file, "added"/"deleted"/"context"/"header") of the diff line holding `offset`."""
        index = bisect.bisect_right(self.starts, offset) - 1
        return self.where[index] if index >= 0 else ("", 0, "header")


def diff_path(line: str) -> str:
    """The path of a `diff --git a/P b/P` line (both sides are equal: history runs without renames)."""
    rest = line[len("diff --git ") :]
    if not rest.startswith('"'):
        return rest[2 : 2 + (len(rest) - 5) // 2]
    # "a/P" "b/P" with C-style escapes (\t, \", \\, \303\251 for UTF-8 bytes): up to the first unescaped quote.
    i = 1
    while i < len(rest) and rest[i] != '"':
        i += 2 if rest[i] == "\\" else 1
    raw = codecs.escape_decode(rest[1:i].encode("utf-8", "surrogateescape"))[0]
    return decode(raw)[2:]
