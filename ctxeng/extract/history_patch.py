"""History stream 2: bounded patches and touched definitions from one `git diff-tree --stdin -p` run.

The patch text of a commit can exceed 10 MB, so it is read line by line (long lines in pieces)
and at most `max_bytes` of it is kept per commit; counts and touched definitions still cover
the whole patch.
"""

from __future__ import annotations

import contextlib
import functools
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctxeng.errors import CtxengError
from ctxeng.extract.languages import LanguageSpec, language_for, load_languages
from ctxeng.gitcli import SAFE_CONFIG, decode
from ctxeng.repo import RepoView
from ctxeng.secrets import secret_file_rule
from ctxeng.selection import ASSET_EXTENSIONS, LOCKFILES

# Lines are read in pieces of at most this many bytes, so one minified line never sits in memory whole.
LINE_LIMIT = 1 << 16
PLUS, MINUS, SPACE, BACKSLASH = b"+"[0], b"-"[0], b" "[0], b"\\"[0]
MEMO_SIZE = 1 << 16  # lines remembered per language (at most ~20 MB); over half of all changed lines hit
MEMO_LINE = 256  # longer lines are not remembered
MISS = object()
HUNK_BYTES = frozenset((PLUS, MINUS, SPACE, BACKSLASH))  # first bytes of the lines inside a hunk
SHA_LINE = re.compile(rb"(?:[0-9a-f]{40}|[0-9a-f]{64})\n")
# Repository or user settings that would change the patch text or its parsing; pinned for every run.
PATCH_CONFIG = (
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.suppressBlankEmpty=false",
    "-c", "diff.relative=false",
    "-c", "diff.orderFile=/dev/null",
    "-c", "diff.context=3",
    "-c", "diff.interHunkContext=0",
)  # fmt: skip
PATCH_OPTIONS = (
    "--stdin", "--root", "--always", "-p", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color",
    "--full-index", "--src-prefix=a/", "--dst-prefix=b/", "-U3",
)  # fmt: skip


@dataclass(slots=True)
class CommitPatch:
    """What the patch of one commit says: bounded text, counts and touched definitions."""

    sha: str
    diff: str
    truncated: bool
    symbols: list[tuple[str, str]]  # (path, name), sorted and distinct
    added: int
    deleted: int
    bytes: int  # patch bytes git produced for this commit
    omitted: int  # files whose hunks were left out (binary, secret, lock file, asset)


def omit_reason(path: str, drop_files: tuple[str, ...] = ()) -> str | None:
    """Why the hunks of `path` are never kept: a secret file, a lock file or an asset (else None).

    `drop_files` are the user's extra secret-file globs (`[secrets] drop_files`).
    """
    if secret_file_rule(path, drop_files):
        return "secret-file"
    base = posixpath.basename(path).lower()
    if base in LOCKFILES:
        return "lockfile"
    if base.endswith(tuple(ASSET_EXTENSIONS)):
        return "asset"
    return None


def diff_driver_setup(langs: dict[str, LanguageSpec], folder: Path) -> list[str]:
    """Write an attributes file mapping extensions to hunk-header drivers; return the `-c` options.

    A language with a git built-in driver (`diff_driver`) uses it; one with a `funcname` regex gets
    a driver `ctxeng-<lang>`. The file is `core.attributesFile`, the lowest-precedence attributes
    source, so a repository's own `.gitattributes` still wins (its textconv drivers stay disabled).
    """
    lines: list[str] = []
    options: list[str] = []
    for name in sorted(langs):
        spec = langs[name]
        driver = spec.diff_driver or (f"ctxeng-{name}" if spec.funcname else "")
        if not driver:
            continue
        lines += [f"*{ext} diff={driver}" for ext in spec.extensions]
        if not spec.diff_driver:
            options += ["-c", f"diff.{driver}.xfuncname={spec.funcname}"]
    attributes = folder / "attributes"
    attributes.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["-c", f"core.attributesFile={attributes}", *options]


_C_ESCAPES = {b"a"[0]: 7, b"b"[0]: 8, b"t"[0]: 9, b"n"[0]: 10, b"v"[0]: 11, b"f"[0]: 12, b"r"[0]: 13}


def unquote_c(text: bytes) -> bytes:
    """Undo git's C-style quoting of a path (`"a/x\\ny"` → `a/x<newline>y`)."""
    out = bytearray()
    i, end = 1, len(text) - 1
    while i < end:
        ch = text[i]
        if ch != BACKSLASH:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if 48 <= nxt <= 55:  # \ooo: an octal byte
            out.append(int(text[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(_C_ESCAPES.get(nxt, nxt))
            i += 2
    return bytes(out)


def header_path(line: bytes) -> str:
    """The path of a `diff --git a/P b/P` line (both sides are equal without rename detection)."""
    rest = line[11:].rstrip(b"\n")
    if rest.startswith(b'"'):
        # "a/P" "b/P": the first quoted string ends at the first quote not escaped by a backslash.
        i = 1
        while i < len(rest) and rest[i] != b'"'[0]:
            i += 2 if rest[i] == BACKSLASH else 1
        return decode(unquote_c(rest[: i + 1])[2:])
    return decode(rest[2 : 2 + (len(rest) - 5) // 2])


@dataclass(frozen=True, slots=True)
class _Plan:
    """How the hunks of one path are handled."""

    keep: bool  # False: binary-like, secret, lock file or asset: count lines, keep no text
    spec: LanguageSpec | None
    ascii_pattern: re.Pattern[bytes] | None  # `spec.definition_line` for pure-ASCII lines, as bytes


@functools.lru_cache(maxsize=65536)
def _file_plan(path: str, drop_files: tuple[str, ...]) -> _Plan:
    """The plan for a path; cached because paths recur across commits."""
    if omit_reason(path, drop_files):
        return _Plan(False, None, None)
    spec = language_for(path)
    return _Plan(True, spec, _ascii_pattern(spec) if spec else None)


@functools.lru_cache(maxsize=64)
def _ascii_pattern(spec: LanguageSpec) -> re.Pattern[bytes] | None:
    # On ASCII text a bytes pattern matches exactly like the str one and skips decoding each line.
    try:
        return re.compile(spec.definition_line.pattern.encode("ascii"), spec.definition_line.flags & re.IGNORECASE)
    except (re.error, UnicodeEncodeError):
        return None


def definition_in(plan: _Plan, body: bytes) -> str | None:
    """The name of the definition that `body` (a diff line without its +/-/space) starts, if any."""
    if plan.ascii_pattern is not None and body.isascii():
        match = plan.ascii_pattern.match(body)
        return next((g.decode() for g in match.groups() if g), None) if match else None
    assert plan.spec is not None
    return plan.spec.definition_name(body.decode("utf-8", "backslashreplace"))


def _hunk_function(line: bytes) -> bytes:
    """The function context git prints after `@@ -a,b +c,d @@`."""
    end = line.find(b"@@", 2)
    return line[end + 2 :].strip() if end > 0 else b""


def parse_patches(
    readline: Callable[[int], bytes], max_bytes: int, drop_files: tuple[str, ...] = ()
) -> Iterator[CommitPatch]:
    """Parse `git diff-tree --stdin --always -p` output into one `CommitPatch` per commit.

    Touched definitions per file: those whose definition line is added or removed, and the one
    git names in a hunk header, unless every non-blank change of that hunk comes after another
    definition starts in it (a new function appended below the named one does not touch it).
    Hot loop: hunk lines are classified by their first byte; file headers, hunk headers and
    the commit's sha line take the slower branches.
    """
    sha = ""
    kept: list[bytes] = []
    size = total = added = deleted = omitted = 0
    keep_commit = keep_file = in_hunk = False
    plan = _Plan(True, None, None)
    path = ""
    pending: str | None = None  # the hunk header's definition, until a change shows it is touched
    memos: dict[str, dict[bytes, str | None]] = {}  # per language: changed line -> name it defines
    memo: dict[bytes, str | None] = {}
    symbols: set[tuple[str, str]] = set()
    while True:
        line = readline(LINE_LIMIT)
        if not line:
            break
        total += len(line)
        whole = line[-1] == 10
        if not whole:  # a piece of an over-long line: keep none of it, skip the rest of the line
            while True:
                rest = readline(LINE_LIMIT)
                total += len(rest)
                if not rest or rest[-1] == 10:
                    break
        first = line[0]
        if in_hunk and first in HUNK_BYTES:
            if first == SPACE:
                if pending is not None and definition_in(plan, line[1:]):
                    pending = None  # another definition starts before any change: the header's is untouched
            elif first != BACKSLASH:
                if first == PLUS:
                    added += 1
                else:
                    deleted += 1
                if plan.spec is not None:
                    body = line[1:]
                    name = memo.get(body, MISS)  # changed lines repeat a lot (moves, reverts, blank lines)
                    if name is MISS:
                        name = definition_in(plan, body)
                        if len(memo) >= MEMO_SIZE:
                            memo.clear()
                        if len(body) <= MEMO_LINE:
                            memo[body] = name
                    if name:
                        pending = None
                        symbols.add((path, name))
                    elif pending is not None and not body.isspace():
                        symbols.add((path, pending))
                        pending = None
        elif first == 64 and line.startswith(b"@@"):  # "@"
            in_hunk = True
            pending = definition_in(plan, _hunk_function(line)) if plan.spec is not None else None
        elif line.startswith(b"diff --git "):
            in_hunk = False
            path = header_path(line)
            plan = _file_plan(path, drop_files)
            keep_file = plan.keep
            memo = memos.setdefault(plan.spec.name, {}) if plan.spec is not None else {}
            if not keep_file:
                omitted += 1
                if keep_commit and size + len(line) <= max_bytes:
                    kept.append(line)  # the file header shows the file changed; its content stays out
                    size += len(line)
                continue
        elif SHA_LINE.fullmatch(line):
            if sha:
                yield CommitPatch(sha, decode(b"".join(kept)), not keep_commit, sorted(symbols), added, deleted,
                                  total - len(line), omitted)  # fmt: skip
            sha = line[:-1].decode()
            kept, symbols = [], set()
            size = added = deleted = omitted = total = 0
            keep_commit, keep_file, in_hunk, plan = True, True, False, _Plan(True, None, None)
            continue
        else:
            in_hunk = False  # other file header lines: index, modes, ---/+++, "Binary files"
        if keep_commit and keep_file:
            if whole and size + len(line) <= max_bytes:
                kept.append(line)
                size += len(line)
            else:
                keep_commit = False  # cut at a line boundary: this line and all after it are left out
    if sha:
        yield CommitPatch(sha, decode(b"".join(kept)), not keep_commit, sorted(symbols), added, deleted, total,
                          omitted)  # fmt: skip


def stream_patches(
    repo: RepoView, shas: Sequence[str], max_bytes: int, drop_files: tuple[str, ...] = ()
) -> Iterator[CommitPatch]:
    """Yield the bounded patch of each commit in `shas`, in that order, from one git process.

    A git failure part-way (e.g. a missing blob in a partial clone) ends the stream after the
    commits already parsed and raises `CtxengError`; callers keep what they got.
    """
    if not shas:
        return
    with tempfile.TemporaryDirectory(prefix="ctxeng-history-") as tmp:
        folder = Path(tmp)
        drivers = diff_driver_setup(load_languages(), folder)
        (folder / "commits").write_bytes("".join(f"{sha}\n" for sha in shas).encode())
        argv = ["git", *SAFE_CONFIG, *PATCH_CONFIG, *drivers, "diff-tree", *PATCH_OPTIONS]
        with open(folder / "commits", "rb") as stdin, open(folder / "stderr", "w+b") as stderr:
            proc = subprocess.Popen(argv, cwd=repo.git.root, env=repo.git.env, stdin=stdin, bufsize=1 << 20,
                                    stdout=subprocess.PIPE, stderr=stderr)  # fmt: skip
            assert proc.stdout is not None
            try:
                yield from parse_patches(proc.stdout.readline, max_bytes, drop_files)
                if proc.wait() != 0:
                    stderr.seek(0)
                    msg = decode(stderr.read()).strip().splitlines()
                    raise CtxengError(f"git diff-tree failed: {msg[-1] if msg else f'exit {proc.returncode}'}")
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                with contextlib.suppress(OSError):
                    proc.stdout.close()
