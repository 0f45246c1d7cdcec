"""Parse git's unified diffs (the `diff` of commit records) into files and hunks, and render sides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ctxeng.dataset.example import fence, fence_lang, lines_label

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_GIT_HEADER = re.compile(r'^diff --git "?a/(.*?)"? "?b/(.*?)"?$')


@dataclass
class Hunk:
    """One hunk: the old side (context + removed lines) and the new side (context + added lines)."""

    old_start: int
    new_start: int
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    complete: bool = False  # all lines announced by the @@ header were present


@dataclass
class FileDiff:
    """The change to one file; `status` is A (added), M, D (deleted) or R (renamed)."""

    old_path: str
    new_path: str
    status: str = "M"
    binary: bool = False
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The path after the change (before it, for a deletion)."""
        return self.old_path if self.status == "D" else self.new_path


def _strip_prefix(raw: str) -> str:
    raw = raw.split("\t", 1)[0].strip().strip('"')
    if raw == "/dev/null":
        return ""
    return raw[2:] if raw[:2] in ("a/", "b/") else raw


def parse_diff(text: str) -> list[FileDiff]:
    """Files and hunks of a unified diff; stops quietly at text that is not diff (a cut marker)."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    old_left = new_left = 0
    for line in text.splitlines():
        if hunk is not None and (old_left > 0 or new_left > 0):
            tag, body = line[:1], line[1:]
            if tag == " " or (tag == "" and line == ""):
                hunk.old.append(body)
                hunk.new.append(body)
                old_left, new_left = old_left - 1, new_left - 1
            elif tag == "-":
                hunk.old.append(body)
                old_left -= 1
            elif tag == "+":
                hunk.new.append(body)
                new_left -= 1
            elif tag == "\\":
                continue  # "\ No newline at end of file"
            else:
                hunk = None  # truncated hunk: the rest is not diff text
                continue
            if old_left <= 0 and new_left <= 0:
                hunk.complete = True
            continue
        if line.startswith("\\"):
            continue
        git = _GIT_HEADER.match(line)
        if git:
            current = FileDiff(git.group(1), git.group(2))
            files.append(current)
            hunk = None
        elif line.startswith("--- ") and (current is None or current.hunks):
            current = FileDiff(_strip_prefix(line[4:]), "")
            files.append(current)
            hunk = None
        elif current is None:
            continue
        elif line.startswith("--- "):
            current.old_path = _strip_prefix(line[4:])
            if not current.old_path:
                current.status = "A"
        elif line.startswith("+++ "):
            current.new_path = _strip_prefix(line[4:])
            if not current.new_path:
                current.status = "D"
        elif line.startswith("new file mode"):
            current.status = "A"
        elif line.startswith("deleted file mode"):
            current.status = "D"
        elif line.startswith(("rename from", "rename to", "copy from", "copy to")):
            current.status = "R"
        elif line.startswith(("Binary files", "GIT binary patch")):
            current.binary = True
        else:
            match = _HUNK.match(line)
            if match:
                old_n = int(match.group(2)) if match.group(2) is not None else 1
                new_n = int(match.group(4)) if match.group(4) is not None else 1
                hunk = Hunk(int(match.group(1)), int(match.group(3)), complete=old_n == new_n == 0)
                current.hunks.append(hunk)
                old_left, new_left = old_n, new_n
    return files


def render_side(files: list[FileDiff], side: str) -> str:
    """The old or new side of every hunk as fenced code, each headed by path and line numbers."""
    out = []
    for f in files:
        if side == "old" and f.status == "A":
            out.append(f"`{f.path}`: new file.\n")
            continue
        if side == "new" and f.status == "D":
            out.append(f"`{f.path}`: deleted.\n")
            continue
        for h in f.hunks:
            lines = h.old if side == "old" else h.new
            start = h.old_start if side == "old" else h.new_start
            if not lines:
                out.append(f"`{f.path}`: nothing at line {start}.\n")
                continue
            label = lines_label(start, start + len(lines) - 1)
            out.append(f"`{f.path}` {label}:\n" + fence("\n".join(lines), fence_lang(f.path)))
    return "\n".join(out)


def strip_index_lines(text: str) -> str:
    """The diff without `index <sha>..<sha>` lines (blob ids carry nothing a model can use)."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("index "))
