"""Task templates over git history: commit instructions, commit messages and co-change partners."""

from __future__ import annotations

from ctxeng.core.records import Record
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.diffs import parse_diff, render_side, strip_index_lines
from ctxeng.dataset.example import Example, fenced, make_meta, pick, plural
from ctxeng.dataset.filters import clean_subject, instruction_reason, message_reason, strip_trailers
from ctxeng.dataset.index import RecordIndex

MAX_INSTRUCTION_FILES = 3  # CommitPackFT keeps single-file commits; "one to a few" here
MAX_SIDE_CHARS = 12_000  # old or new side of an instruction (~3,000 tokens of code: past any sane bound)
MAX_PARTNERS = 10


def _patch(rec: Record) -> str:
    return str(rec.meta.get("diff") or "")


def _body(rec: Record) -> str:
    """The message after the subject line, without trailers."""
    lines = strip_trailers(rec.text or rec.name).splitlines()
    return "\n".join(lines[1:]).strip()


def commit_instruction(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """CommitPackFT-style: the message and the code before → the code after.

    The completion is the new side of each hunk (context + added lines, with path and line
    numbers) rather than the unified diff: the prompt already holds the old side, so a diff would
    repeat every removed line, and plain code is what a model is asked to write when it edits.
    """
    out = []
    for rec in index.kind("commit"):
        diff = _patch(rec)
        if not diff:
            continue  # outside the patch window: nothing to learn the change from
        reason = _instruction_filter(rec, diff)
        if reason:
            ctx.drop(f"commit_instruction:{reason}")
            continue
        files = parse_diff(diff)
        subject = clean_subject(rec.name)
        body = _body(rec)
        lead = pick(
            (
                f"Make this change to the {ctx.repo_name} code base: {subject}",
                f"Change the {ctx.repo_name} code as follows: {subject}",
                f"Apply this change: {subject}",
            ),
            ctx.seed,
            "commit_instruction",
            rec.id,
        )
        user = lead + (f"\n\n{body}" if body else "") + "\n\nThe code before the change:\n\n"
        user += render_side(files, "old")
        answer = render_side(files, "new")
        symbols = rec.meta.get("symbols") or []
        meta = make_meta(
            path=files[0].path,
            symbol=str(symbols[0].get("name", "")) if symbols else "",
            answer_path=files[0].path,
            expected=subject,
        )
        out.append(Example("commit_instruction", rec.id, "", rec.commit, rec.time, [user], [answer], meta))
    return out


def _instruction_filter(rec: Record, diff: str) -> str:
    """Why a commit does not become an instruction ("" = it does)."""
    if rec.meta.get("diff_truncated"):
        return "diff_truncated"
    files = parse_diff(diff)
    paths = sorted({str(f.get("path", "")) for f in rec.meta.get("files") or []} | {f.path for f in files})
    reason = instruction_reason(clean_subject(rec.name), paths)
    if reason:
        return reason
    if not 1 <= len(files) <= MAX_INSTRUCTION_FILES:
        return "file_count"
    if any(f.binary or f.status in ("D", "R") or not f.hunks for f in files):
        return "file_status"
    if any(not h.complete for f in files for h in f.hunks):
        return "diff_truncated"
    for side in ("old", "new"):
        if sum(len(line) + 1 for f in files for h in f.hunks for line in getattr(h, side)) > MAX_SIDE_CHARS:
            return "size"
    return ""


def commit_message(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """The diff → the commit message as written (trailers removed); no other commits as examples."""
    out = []
    for rec in index.kind("commit"):
        diff = _patch(rec)
        if not diff:
            continue
        reason = message_reason(rec.name)
        if reason:
            ctx.drop(f"commit_message:{reason}")
            continue
        message = strip_trailers(rec.text or rec.name)
        ask = pick(
            (
                "Write the commit message in this repository's style for this change:",
                "Write a commit message for this diff, in the style of this repository:",
            ),
            ctx.seed,
            "commit_message",
            rec.id,
        )
        user = [f"{ask}\n\n", *fenced(strip_index_lines(diff), "diff", keep="head")]
        files = rec.meta.get("files") or []
        path = str(files[0].get("path", "")) if files else ""
        meta = make_meta(path=path, answer_path="", expected=rec.name.strip())
        out.append(Example("commit_message", rec.id, "", rec.commit, rec.time, user, [message + "\n"], meta))
    return out


def cochange(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """'When `path` changes, which other files usually change with it?' → partners with counts."""
    out = []
    for rec in index.kind("cochange"):
        listed = [p for p in rec.meta.get("partners") or [] if isinstance(p, dict) and p.get("path")]
        partners = sorted(listed, key=lambda p: (-int(p.get("count", 0)), str(p["path"])))
        if not partners:
            continue
        path = rec.name or rec.path
        commits = int(rec.meta.get("commits") or 0)
        question = pick(
            (
                f"When `{path}` changes, which other files usually change with it?",
                f"Which files tend to change together with `{path}`?",
            ),
            ctx.seed,
            "cochange",
            rec.id,
        )
        head = f"`{path}` changed in {plural(commits, 'commit')}. " if commits else f"For `{path}`, "
        lines = [head + "These files changed in the same commits:\n"]
        for p in partners[:MAX_PARTNERS]:
            count = int(p.get("count", 0))
            share = f", {round(100 * count / commits)}%" if commits else ""
            lines.append(f"- `{p['path']}` ({plural(count, 'commit')}{share})\n")
        if len(partners) > MAX_PARTNERS:
            lines.append(f"- ... and {len(partners) - MAX_PARTNERS} more\n")
        top = str(partners[0]["path"])
        meta = make_meta(path=path, answer_path=top, expected=top)
        out.append(Example("cochange", rec.id, "", rec.commit, rec.time, [question], ["".join(lines)], meta))
    return out
