"""Staleness: how far records, dataset, pack and adapters lag behind HEAD and the work tree.

Reads only the current generation's `manifest.json` and `state/blobs.jsonl` (checking every output
against the manifest's checksums), the adapters' `ctxeng-manifest.json` and (to count definitions)
the file records, plus a handful of git calls: no GitPython, no torch, so the SessionStart hook can
call it on every start.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.config import RefreshConfig
from ctxeng.core.gitcli import decode
from ctxeng.core.repo import RepoView
from ctxeng.core.workdir import generation_dir, workdir

FRESH, STALE, MISSING, BROKEN, UNKNOWN = "fresh", "stale", "missing", "broken", "unknown"
HOOK_LOG = "hooks.log"  # under .ctxeng/: a line each time .claude/hooks/ctxeng.sh could not run ctxeng
CORRUPT = "corrupt"  # a file of the outputs differs from the manifest's checksums
_SHA = re.compile(r"[0-9a-f]{7,64}")
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? ")


@dataclass
class Lag:
    """How one output lags: commits since the commit it was built from, files and definitions changed since.

    `state` is fresh, stale, missing (never built), broken (unreadable manifest), corrupt (an output
    file differs from the manifest's checksums) or unknown (its commit is no longer in the repository,
    e.g. after a rebase). `changed_definitions` counts the definitions the records hold whose lines
    changed since that commit (a comment appended after them counts none; files new since then are
    counted in `changed_files` only).
    """

    name: str
    state: str
    head: str = ""
    built_at: int = 0
    commits_behind: int = 0
    changed_files: int = 0
    changed_definitions: int = 0
    detail: str = ""


@dataclass
class Status:
    """The staleness of every output of one repository, with what to do about it."""

    repository: str
    head: str
    branch: str
    outputs: list[Lag] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    pending: list[str] = field(
        default_factory=list
    )  # staged files a pre-commit refresh put in the prompt index only
    hook_failures: list[str] = field(default_factory=list)  # lines of .ctxeng/hooks.log, oldest first

    def to_json(self) -> dict[str, Any]:
        """Plain data for `ctxeng status --json`."""
        return asdict(self)

    def get(self, name: str) -> Lag | None:
        """The lag of output `name` (records, dataset, pack, adapter:<name>), if listed."""
        return next((lag for lag in self.outputs if lag.name == name), None)


def read_json(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(object, "") for a readable JSON object file; (None, MISSING or BROKEN) otherwise. Never raises."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, MISSING
    except (OSError, ValueError, RecursionError):
        return None, BROKEN
    return (data, "") if isinstance(data, dict) else (None, BROKEN)


class _Git:
    """The git queries status needs; the index and the work-tree diff are read once and shared."""

    def __init__(self, repo: RepoView) -> None:
        self.repo = repo
        self._index: dict[str, str] | None = None
        self._dirty: set[str] | None = None

    def is_commit(self, sha: str) -> bool:
        return bool(sha) and self.repo.git.ok(["cat-file", "-e", f"{sha}^{{commit}}"])

    def commits_since(self, base: str) -> int:
        if not self.repo.head or base == self.repo.head:
            return 0
        return int(self.repo.git.text(["rev-list", "--count", f"{base}..HEAD"]) or 0)

    def names(self, args: list[str]) -> set[str]:
        return {
            decode(p)
            for p in self.repo.git.run(["diff", "--name-only", "--no-renames", "-z", *args]).split(b"\0")
            if p
        }

    def hunks(self, base: str, paths: set[str]) -> dict[str, list[tuple[int, int]]]:
        """Old-side line ranges (start, count) changed in each of `paths` between `base` and the work tree."""
        if not paths:
            return {}
        out = self.repo.git.run(
            ["diff", "-U0", "--no-renames", "--no-ext-diff", "--no-textconv", base, "--", *sorted(paths)]
        )
        ranges: dict[str, list[tuple[int, int]]] = {}
        current: list[tuple[int, int]] = []
        for line in out.split(b"\n"):
            if line.startswith(b"--- "):
                name = decode(line[4:]).rstrip("\t")
                current = ranges.setdefault(name[2:] if name.startswith("a/") else name, [])
            elif line.startswith(b"@@ "):
                match = _HUNK.match(line)
                if match:
                    current.append((int(match[1]), int(match[2]) if match[2] is not None else 1))
        return ranges

    def index(self) -> dict[str, str]:
        if self._index is None:
            self._index = {e.path: e.blob for e in self.repo.index()}
        return self._index

    def dirty(self) -> set[str]:
        """Tracked paths whose work-tree content differs from the index."""
        if self._dirty is None:
            self._dirty = self.names([])
        return self._dirty

    def changed_since(self, base: str, recorded: dict[str, str] | None) -> set[str]:
        """Paths whose content now (index or work tree) differs from what an output was built from.

        With the blob ids recorded at build/refresh time the answer is exact (a refresh of staged
        content counts as done); without them it is everything changed since the base commit.
        """
        if recorded is None:
            return self.names([base])
        index = self.index()
        changed = {p for p, blob in recorded.items() if index.get(p) != blob}
        added = self.names(["--cached", "--diff-filter=A", base]) - recorded.keys()
        return changed | added | (self.dirty() & (recorded.keys() | added))


def _recorded_blobs(out: Path) -> dict[str, str] | None:
    try:
        with open(out / "state" / "blobs.jsonl", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        blobs = {row["path"]: row["blob"] for row in rows}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return blobs if all(isinstance(k, str) and isinstance(v, str) for k, v in blobs.items()) else None


def definitions_in(out: Path, paths: set[str], hunks: dict[str, list[tuple[int, int]]] | None = None) -> int:
    """How many definitions (symbol records) of `paths` the changed line ranges `hunks` touch; every
    definition of `paths` when `hunks` is None. 0 when the records are unreadable."""
    if not paths:
        return 0
    total = 0
    # Cheap filters first (records are compact, sorted-key JSON): one substring test, then one regex of
    # the wanted `"path":"…"` fields; only the matching lines are parsed.
    wanted = re.compile(
        "|".join(re.escape(f'"path":{json.dumps(p, ensure_ascii=False)}') for p in sorted(paths))
    )
    try:
        with open(out / "records.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if '"kind":"symbol"' not in line or wanted.search(line) is None:
                    continue
                row = json.loads(line)
                if row.get("path") not in paths:
                    continue
                if hunks is None or _touched(row, hunks.get(row["path"], [])):
                    total += 1
    except (OSError, ValueError, AttributeError, KeyError, TypeError, RecursionError):
        return 0
    return total


def _touched(row: dict[str, Any], ranges: list[tuple[int, int]]) -> bool:
    """Whether a definition's lines [start_line, end_line] meet a changed old-side range (start, count);
    a pure insertion (count 0, after line `start`) counts only strictly inside the definition."""
    first, last = int(row.get("start_line") or 0), int(row.get("end_line") or 0)
    for start, count in ranges:
        inserted_inside = count == 0 and first <= start < last
        if inserted_inside or (count > 0 and start <= last and start + count - 1 >= first):
            return True
    return False


def _lag(name: str, base: str, built_at: int, git: _Git, out: Path, recorded: dict[str, str] | None) -> Lag:
    if not git.is_commit(base):
        return Lag(
            name, UNKNOWN, base, built_at, detail="built from a commit that is no longer in the repository"
        )
    changed = git.changed_since(base, recorded)
    commits = git.commits_since(base)
    state = STALE if commits or changed else FRESH
    defs = definitions_in(out, changed, git.hunks(base, changed)) if changed else 0
    return Lag(name, state, base, built_at, commits, len(changed), defs)


def _pending(out: Path) -> list[str]:
    """Paths in `state/pending.json` (written by the fast pre-commit refresh), sorted; [] when unreadable."""
    data, _ = read_json(out / "state" / "pending.json")
    paths = data.get("paths") if data else None
    return sorted(p for p in paths if isinstance(p, str)) if isinstance(paths, list) else []


def hook_failures(root: Path) -> list[str]:
    """The lines of `.ctxeng/hooks.log`: each a time Claude Code's hook or MCP launcher could not run ctxeng."""
    try:
        text = (workdir(root) / HOOK_LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()]


def _adapters(out: Path) -> list[tuple[str, dict[str, Any] | None, str]]:
    folder = out / "adapters"
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith((".", "tmp")):
            data, problem = read_json(Path(entry.path) / "ctxeng-manifest.json")
            found.append((entry.name, data, problem))
    return found


def _adapter_head(manifest: dict[str, Any]) -> tuple[str, int]:
    """The commit and time an adapter's data came from; the training manifest is read defensively."""
    repository = manifest.get("repository")
    repo_info: dict[str, Any] = repository if isinstance(repository, dict) else {}
    head = _sha(repo_info.get("head")) or _sha(manifest.get("head"))
    return head, _int(manifest.get("finished_at")) or _int(manifest.get("started_at"))


def _sha(value: Any) -> str:
    """A commit id from a manifest, or "" for anything else (it is passed to git: no option-like text)."""
    return value if isinstance(value, str) and _SHA.fullmatch(value) else ""


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def repo_status(repo: RepoView, refresh: RefreshConfig | None = None) -> Status:
    """The staleness of every output of `repo`, and recommendations (refresh, build, retrain)."""
    from ctxeng.core.generation import verify

    refresh = refresh or RefreshConfig()
    home = workdir(repo.root)
    out = generation_dir(home)  # resolved once: every output below comes from this one generation
    status = Status(repository=repo.name, head=repo.head, branch=repo.branch, pending=_pending(out))
    status.hook_failures = hook_failures(repo.root)
    if status.hook_failures:
        status.recommendations.append(
            f"Claude Code could not run ctxeng {len(status.hook_failures)} time(s) (.ctxeng/hooks.log); "
            "run `ctxeng install --claude` (and `--mcp` if you use it) with the ctxeng you want it to use"
        )
    git = _Git(repo)
    manifest, problem = read_json(out / "manifest.json")
    if manifest is not None and not _sha(manifest.get("head")):
        manifest, problem = None, BROKEN
    damaged = sorted(verify(out).values()) if manifest is not None else []
    if damaged:
        status.outputs = [Lag(n, CORRUPT, detail=damaged[0]) for n in ("records", "dataset", "pack")]
        status.recommendations.append(f"run `ctxeng build` (or `ctxeng refresh`): {damaged[0]} in .ctxeng/")
    elif manifest is None:
        status.outputs = [Lag(n, problem) for n in ("records", "dataset", "pack")]
        status.recommendations.append("run `ctxeng build` to mine the repository" if problem == MISSING else
                                      "run `ctxeng build`: .ctxeng/manifest.json is unreadable")  # fmt: skip
    else:
        base, built_at = _sha(manifest.get("head")), _int(manifest.get("built_at"))
        records = _lag("records", base, built_at, git, out, _recorded_blobs(out))
        status.outputs.append(records)
        pack_file, _ = read_json(out / "pack.json")  # `ctxeng pack` rewrites it without a new manifest
        for name in ("dataset", "pack"):
            own = pack_file if name == "pack" and pack_file else manifest.get(name)
            own = own if isinstance(own, dict) else {}
            if not own:
                status.outputs.append(Lag(name, MISSING))
            elif _sha(own.get("head")) not in ("", base):  # written by a later, partial refresh
                status.outputs.append(
                    _lag(name, _sha(own["head"]), _int(own.get("built_at")), git, out, None)
                )
            else:
                status.outputs.append(Lag(**{**asdict(records), "name": name}))
        if any(lag.state in (STALE, UNKNOWN) for lag in status.outputs):
            status.recommendations.append(
                "run `ctxeng refresh` (or `ctxeng build`) to bring .ctxeng/ up to date"
            )
    for name, data, problem in _adapters(home):
        if data is None:
            status.outputs.append(Lag(f"adapter:{name}", problem or BROKEN))
            continue
        head, created = _adapter_head(data)
        lag = _lag(f"adapter:{name}", head, created, git, out, None)
        status.outputs.append(lag)
        if lag.state == UNKNOWN or lag.commits_behind >= refresh.retrain_after_commits or (
            lag.changed_definitions >= refresh.retrain_after_symbols
        ):  # fmt: skip
            status.recommendations.append(
                f"retrain adapter {name} (`ctxeng train`): {lag.commits_behind} commits and "
                f"{lag.changed_definitions} changed definitions since its data (thresholds "
                f"{refresh.retrain_after_commits} / {refresh.retrain_after_symbols}: "
                "refresh.retrain_after_commits / retrain_after_symbols in .ctxeng.toml)"
            )
    return status


def describe(lag: Lag) -> str:
    """One short line for a lag, e.g. `pack: 3 commits, 2 files (14 definitions) behind`."""
    if lag.state in (MISSING, BROKEN, UNKNOWN, CORRUPT):
        return f"{lag.name}: {lag.state}{f' ({lag.detail})' if lag.detail else ''}"
    if lag.state == FRESH:
        return f"{lag.name}: up to date"
    return (
        f"{lag.name}: {lag.commits_behind} commit{'s' * (lag.commits_behind != 1)}, "
        f"{lag.changed_files} changed file{'s' * (lag.changed_files != 1)} "
        f"({lag.changed_definitions} definition{'s' * (lag.changed_definitions != 1)}) behind"
    )
