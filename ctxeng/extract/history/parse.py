"""Parse `git diff-tree --stdin --always -p` output into bounded per-commit patches.

The text arrives in blocks. Only the few structural lines (a commit's sha, `diff --git`, `@@`,
file headers) are handled one by one in Python; runs of hunk lines are counted, kept and
searched with C-level bytes operations, and a changed line is tested against the language's
`definition_line` only when it holds one of the words every definition of that language
contains (`DEFINITION_HINTS`). Memory per commit stays below `max_bytes` plus one block.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ctxeng.core.gitcli import decode
from ctxeng.extract.history.hints import DEFINITION_HINTS
from ctxeng.extract.history.paths import NO_OMISSIONS, Omissions, header_path, omit_reason
from ctxeng.extract.languages import MAX_DEFINITION_LINE, LanguageSpec, language_for

BLOCK = 1 << 16  # bytes read at a time
LINE_LIMIT = 1 << 16  # a longer line is never held whole: its head is classified, the rest skipped
PLUS, MINUS, SPACE, BACKSLASH = b"+"[0], b"-"[0], b" "[0], b"\\"[0]
HUNK_BYTES = frozenset((PLUS, MINUS, SPACE, BACKSLASH))  # first bytes of the lines inside a hunk
CHANGED = frozenset((PLUS, MINUS))
STRUCTURAL = re.compile(rb"\n[^-+ \\]")  # a line that cannot be inside a hunk starts here (+1)
SHA_LINE = re.compile(rb"(?:[0-9a-f]{40}|[0-9a-f]{64})\n")
MEMO_SIZE = 1 << 16  # changed lines remembered per language; over half of all changed lines repeat
MEMO_LINE = 256  # longer lines are not remembered
_MISS = object()


@dataclass(slots=True)
class CommitPatch:
    """What the patch of one commit says: bounded text, line counts and touched definitions."""

    sha: str
    diff: str
    truncated: bool
    symbols: list[tuple[str, str]]  # (path, name), sorted and distinct
    added: int
    deleted: int
    bytes: int  # patch bytes git produced for this commit
    omitted: int  # files whose content was left out (binary, secret file, lock file, asset)
    omit_reasons: tuple[str, ...] = ()  # why, for each omitted file (in patch order)


@dataclass(frozen=True, slots=True)
class FilePlan:
    """How the hunks of one path are handled."""

    keep: bool  # False for secret files, lock files and assets: lines are counted, no text kept
    spec: LanguageSpec | None
    ascii_pattern: re.Pattern[bytes] | None  # `spec.definition_line` as bytes, for pure-ASCII lines
    hints: tuple[bytes, ...] | None
    hint_pattern: re.Pattern[bytes] | None  # any of `hints`


def decode_patch(data: bytes) -> str:
    """Patch text as str: UTF-8, and each hunk line that is not UTF-8 as Latin-1, as selection decodes files.

    With `\\xNN` escapes instead (`contrase\\xf1a_admin`), a Latin-1 file's secret keyword would
    no longer match in the secret stage.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        lines = data.split(b"\n")
    out: list[str] = []
    for line in lines:
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:  # paths (`diff --git` lines) stay as `decode` writes them everywhere
            out.append(line.decode("latin-1") if line[:1] in (b"+", b"-", b" ") else decode(line))
    return "\n".join(out)


@functools.lru_cache(maxsize=65536)
def file_plan(path: str, drop_files: tuple[str, ...] = ()) -> FilePlan:
    """The plan for a path; cached because paths recur across commits."""
    if omit_reason(path, drop_files):
        return OMIT
    spec = language_for(path)
    if spec is None:
        return PLAIN
    hints = DEFINITION_HINTS.get(spec.name)
    hint_pattern = re.compile(b"|".join(re.escape(h) for h in hints)) if hints else None
    return FilePlan(True, spec, _ascii_pattern(spec), hints, hint_pattern)


PLAIN = FilePlan(True, None, None, None, None)  # a file without a known language
OMIT = FilePlan(False, None, None, None, None)  # a file whose text is never kept


@functools.lru_cache(maxsize=64)
def _ascii_pattern(spec: LanguageSpec) -> re.Pattern[bytes] | None:
    # On ASCII text a bytes pattern matches like the str one, and lines need no decoding.
    try:
        return re.compile(
            spec.definition_line.pattern.encode("ascii"), spec.definition_line.flags & re.IGNORECASE
        )
    except (re.error, UnicodeEncodeError):
        return None


def definition_in(plan: FilePlan, body: bytes, hinted: bool = False) -> str | None:
    """The name of the definition that `body` (a line without its diff marker) starts, if any.

    `hinted` says the caller already knows the line holds one of the language's hint words.
    """
    if (
        plan.spec is None
        or len(body) > MAX_DEFINITION_LINE
        or (not hinted and plan.hint_pattern is not None and not plan.hint_pattern.search(body))
    ):
        return None
    if plan.ascii_pattern is not None and body.isascii():
        match = plan.ascii_pattern.match(body)
        return next((g.decode() for g in match.groups() if g), None) if match else None
    return plan.spec.definition_name(body.decode("utf-8", "backslashreplace"))


def _hunk_function(line: bytes) -> bytes:
    """The function context git prints after `@@ -a,b +c,d @@`."""
    end = line.find(b"@@", 2)
    return line[end + 2 :].strip() if end > 0 else b""


class PatchParser:
    """A state machine over the patch stream; `feed` takes complete lines and yields finished commits.

    Touched definitions of a file: those whose definition line is added or removed, plus the
    one git names in a hunk header unless every non-blank change of that hunk comes after
    another definition starts in it (a function appended below the named one does not touch it).
    """

    def __init__(
        self, max_bytes: int, drop_files: tuple[str, ...] = (), omissions: Omissions = NO_OMISSIONS
    ) -> None:
        self.max_bytes = max_bytes
        self.drop_files = drop_files
        self.omissions = omissions
        self.memos: dict[str, dict[bytes, str | None]] = {}
        self.sha = ""
        self._start_commit("")

    def _start_commit(self, sha: str) -> None:
        self.sha = sha
        self.kept: list[bytes] = []
        self.size = self.total = self.added = self.deleted = self.omitted = 0
        self.omit_reasons: list[str] = []
        self.keep_commit = bool(sha)
        self.symbols: set[tuple[str, str]] = set()
        self._start_file("", PLAIN)

    def _start_file(self, path: str, plan: FilePlan) -> None:
        self.path, self.plan = path, plan
        self.in_hunk = False
        self.pending: str | None = None  # the hunk header's definition until a change decides it
        self.memo = self.memos.setdefault(plan.spec.name, {}) if plan.spec is not None else {}

    def finish(self) -> CommitPatch | None:
        """The commit in progress, if any (call at the end of the stream)."""
        if not self.sha:
            return None
        diff = decode_patch(b"".join(self.kept))
        return CommitPatch(
            sha=self.sha, diff=diff, truncated=not self.keep_commit, symbols=sorted(self.symbols),
            added=self.added, deleted=self.deleted, bytes=self.total, omitted=self.omitted,
            omit_reasons=tuple(self.omit_reasons),
        )  # fmt: skip

    # -- input -------------------------------------------------------------------------------

    def feed(self, data: bytes, start: int, end: int) -> Iterator[CommitPatch]:
        """Consume the complete lines `data[start:end]` (`end` just after a newline)."""
        pos = start
        search = STRUCTURAL.search
        while pos < end:
            if data[pos] in HUNK_BYTES:
                match = search(data, pos, end)
                stop = match.start() + 1 if match else end
                self.total += stop - pos
                if self.in_hunk:
                    self._hunk(data, pos, stop)
                else:
                    self._keep(data, pos, stop)  # the ---/+++ lines of a file header
                pos = stop
            else:
                stop = data.find(b"\n", pos, end) + 1
                line = data[pos:stop]
                if (stop - pos == 41 or stop - pos == 65) and SHA_LINE.fullmatch(line):
                    done = self.finish()
                    if done is not None:
                        yield done
                    self._start_commit(line[:-1].decode())
                else:
                    self.total += stop - pos
                    self._structural(line)
                pos = stop

    def long_line(self, head: bytes, length: int) -> None:
        """A line longer than `LINE_LIMIT`: classify it by its head and keep none of it."""
        self.total += length
        if self.in_hunk and head[0] in HUNK_BYTES:
            if head[0] in CHANGED:
                self.added += head[0] == PLUS
                self.deleted += head[0] == MINUS
                if self.plan.spec is not None:
                    if self.pending is not None:
                        self._resolve_pending(head + b"\n", 0, len(head) + 1)
                    name = self._name(head[1:])
                    if name:
                        self.symbols.add((self.path, name))
        elif head.startswith(b"diff --git "):
            self._start_file("", OMIT)  # a path this long is not worth mapping
        self.keep_commit = False

    # -- lines -------------------------------------------------------------------------------

    def _structural(self, line: bytes) -> None:
        if line.startswith(b"@@"):
            self.in_hunk = True
            self.pending = definition_in(self.plan, _hunk_function(line)) if self.plan.spec else None
        elif line.startswith(b"diff --git "):
            path = header_path(line)
            plan = file_plan(path, self.drop_files)
            reason = omit_reason(path, self.drop_files) if not plan.keep else self.omissions.paths.get(path)
            self._start_file(path, OMIT if reason else plan)
            if reason:
                self._omit(reason)
                self._keep_line(line)  # the header shows the file changed; its content stays out
                return
        else:
            self.in_hunk = False  # index, mode, "Binary files ... differ" and the like
            if line.startswith(b"index ") and self.plan.keep and (reason := self.omissions.blob_reason(line)):
                self._start_file(self.path, OMIT)  # a file over the size cap at this commit
                self._omit(reason)
                return
            if line.startswith(b"Binary files ") and self.plan.keep:
                self._omit("binary")  # git shows no content for binary files
        if self.plan.keep:
            self._keep_line(line)

    def _omit(self, reason: str) -> None:
        self.omitted += 1
        self.omit_reasons.append(reason)

    def _keep_line(self, line: bytes) -> None:
        if self.keep_commit:
            if self.size + len(line) <= self.max_bytes:
                self.kept.append(line)
                self.size += len(line)
            else:
                self.keep_commit = False

    def _keep(self, data: bytes, start: int, stop: int) -> None:
        """Keep whole lines of `data[start:stop]` up to the byte cap; the cut ends the commit's text."""
        if not (self.keep_commit and self.plan.keep):
            return
        room = self.max_bytes - self.size
        if stop - start <= room:
            self.kept.append(data[start:stop])
            self.size += stop - start
            return
        cut = data.rfind(b"\n", start, start + room) + 1
        if cut > start:
            self.kept.append(data[start:cut])
            self.size += cut - start
        self.keep_commit = False

    def _hunk(self, data: bytes, start: int, stop: int) -> None:
        """A run of hunk lines: count, keep and look for definitions."""
        self.added += data.count(b"\n+", start, stop - 1) + (data[start] == PLUS)
        self.deleted += data.count(b"\n-", start, stop - 1) + (data[start] == MINUS)
        self._keep(data, start, stop)
        plan = self.plan
        if plan.spec is None:
            return
        if self.pending is not None:
            self._resolve_pending(data, start, stop)
        hints = plan.hints
        for begin in (
            _lines_with(data, start, stop, hints) if hints is not None else _line_starts(data, start, stop)
        ):
            if data[begin] in CHANGED:
                body = data[begin + 1 : data.find(b"\n", begin, stop) + 1 or stop]
                name = self._name(body, hints is not None)
                if name:
                    self.symbols.add((self.path, name))

    def _name(self, body: bytes, hinted: bool = False) -> str | None:
        """`definition_in` for this file, remembered per line text."""
        name = self.memo.get(body, _MISS)
        if name is _MISS:
            name = definition_in(self.plan, body, hinted)
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            if len(body) <= MEMO_LINE:
                self.memo[body] = name
        return name  # type: ignore[return-value]

    def _resolve_pending(self, data: bytes, start: int, stop: int) -> None:
        """Decide the hunk header's definition: touched unless a definition starts before the first change.

        With -U3 the first change is at most the hunk's fourth line. Only when a hint word occurs
        before it are those lines tested one by one.
        """
        end = start
        change = False
        while end < stop and not change:
            first, nl = data[end], data.find(b"\n", end, stop)
            line_end = nl + 1 if nl >= 0 else stop
            change = (first == PLUS or first == MINUS) and not data[end + 1 : line_end].isspace()
            end = line_end
        hint = self.plan.hint_pattern
        if hint is None or hint.search(data, start, end):
            for begin in _line_starts(data, start, end):
                if self._name(data[begin + 1 : data.find(b"\n", begin, end) + 1 or end]):
                    self.pending = None  # another definition starts first: the header's is untouched
                    return
        if change:
            self.symbols.add((self.path, self.pending))  # type: ignore[arg-type]
            self.pending = None


def _line_starts(data: bytes, start: int, stop: int) -> Iterator[int]:
    """Offsets of the lines in `data[start:stop]` (which starts at a line start)."""
    pos = start
    while pos < stop:
        yield pos
        nxt = data.find(b"\n", pos, stop)
        if nxt < 0:
            return
        pos = nxt + 1


def _lines_with(data: bytes, start: int, stop: int, words: tuple[bytes, ...]) -> list[int]:
    """Sorted offsets of the lines in `data[start:stop]` that contain any of `words`."""
    found: set[int] = set()
    find, rfind = data.find, data.rfind
    for word in words:
        hit = find(word, start, stop)
        while hit >= 0:
            found.add(max(rfind(b"\n", start, hit) + 1, start))
            nxt = find(b"\n", hit, stop)
            if nxt < 0:
                break
            hit = find(word, nxt + 1, stop)
    return sorted(found)


def parse_patches(
    read: Callable[[int], bytes],
    max_bytes: int,
    drop_files: tuple[str, ...] = (),
    block: int = BLOCK,
    omissions: Omissions = NO_OMISSIONS,
) -> Iterator[CommitPatch]:
    """Parse the patch stream that `read(n)` returns piece by piece (b"" at the end)."""
    parser = PatchParser(max_bytes, drop_files, omissions)
    carry = b""
    skipping = False  # inside an over-long line whose head was handled
    while True:
        chunk = read(block)
        if not chunk:
            break
        if skipping:
            nl = chunk.find(b"\n")
            parser.total += len(chunk) if nl < 0 else nl + 1
            if nl < 0:
                continue
            skipping, chunk = False, chunk[nl + 1 :]
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield from parser.feed(data, 0, cut)
        carry = data[cut:]
        if len(carry) > LINE_LIMIT:
            parser.long_line(carry[:LINE_LIMIT], len(carry))
            carry, skipping = b"", True
    if carry and not skipping:
        yield from parser.feed(carry + b"\n", 0, len(carry) + 1)
    done = parser.finish()
    if done is not None:
        yield done
