"""Task templates over design documents: section Q&A (ADRs get decision questions) and the glossary."""

from __future__ import annotations

import re

from ctxeng.core.records import Record
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.example import Cut, Example, Part, first_sentence, make_meta, pick
from ctxeng.dataset.filters import IMPERATIVE_VERBS
from ctxeng.dataset.index import RecordIndex

MAX_ALSO = 5  # glossary: other files a term appears in
# `(?:\d+\s*)?`, not `\d*\s*`: both whitespace runs could take the same spaces (quadratic on a long run).
_ADR_PREFIX = re.compile(r"^\s*(adr|rfc|decision)[\s_-]*(?:\d+\s*)?[:.-]\s*", re.IGNORECASE)


def _is_adr(rec: Record) -> bool:
    kind = str(rec.meta.get("doc_kind") or "").lower()
    return (
        kind in ("adr", "decision")
        or "/adr/" in f"/{rec.path.lower()}"
        or "/decisions/" in f"/{rec.path.lower()}"
    )


def _adr_question(rec: Record, heading: list[str]) -> str | None:
    """A decision-record question for an ADR section, or None for a generic one."""
    if len(heading) < 2:
        return None
    title, section = heading[0], heading[-1].strip().lower()
    decision = _ADR_PREFIX.sub("", title).strip().rstrip(".")
    if not decision:
        return None
    first = decision.split()[0].lower()
    verb_form = decision[0].lower() + decision[1:]
    what = f"decide to {verb_form}" if first in IMPERATIVE_VERBS else f'decide on "{decision}"'
    if section in ("context", "motivation", "problem", "background", "context and problem statement"):
        return f"Why did the project {what}?"
    if section in ("decision", "decision outcome", "solution"):
        return f'What was decided in "{title}"?'
    if section in ("consequences", "implications", "trade-offs", "tradeoffs"):
        return (
            f"What are the consequences of the decision to {verb_form}?"
            if first in IMPERATIVE_VERBS
            else (f'What are the consequences of the decision "{decision}"?')
        )
    if section == "status":
        return f'What is the status of "{title}"?'
    return None


def doc_qa(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """A question from a section's heading path → the section text, citing its file."""
    out = []
    for rec in index.kind("doc"):
        text = rec.text.strip()
        if not text:
            continue  # a heading whose content is all in subsections
        heading = [part.strip() for part in rec.name.split(" > ") if part.strip()]
        label = " > ".join(heading) or rec.path
        question = _adr_question(rec, heading) if _is_adr(rec) else None
        if question is None:
            question = pick(
                (
                    f"What does the documentation say about {label}?",
                    f"What does `{rec.path}` say about {label}?",
                    f"Summarise the {ctx.repo_name} documentation on {label}.",
                ),
                ctx.seed,
                "doc_qa",
                rec.id,
            )
        answer: list[Part] = [f"From `{rec.path}` ({label}):\n\n", Cut(text + "\n")]
        meta = make_meta(path=rec.path, answer_path=rec.path, expected=first_sentence(text))
        out.append(Example("doc_qa", rec.id, "", rec.commit, rec.time, [question], answer, meta))
    return out


def glossary(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """'In this project, what does `Term` mean?' → its meaning and where it is defined."""
    out = []
    for rec in index.kind("glossary"):
        meaning = rec.text.strip()
        if not meaning:
            continue
        term = rec.name.strip()
        source = str(rec.meta.get("source") or "")
        path, _, line = source.rpartition(":")
        if not line.isdigit():
            path, line = source, ""
        path = path or rec.path
        question = pick(
            (
                f'In this project, what does "{term}" mean?',
                f'What is meant by "{term}" in {ctx.repo_name}?',
                f'Define the term "{term}" as the {ctx.repo_name} code base uses it.',
            ),
            ctx.seed,
            "glossary",
            rec.id,
        )
        where = f"\n\nDefined in `{path}`" + (f" (line {line})" if line else "") + "."
        also = [str(p) for p in rec.meta.get("also") or [] if str(p) != path]
        if also:
            shown = ", ".join(f"`{p}`" for p in also[:MAX_ALSO])
            where += f" Also used in {shown}" + (
                f" and {len(also) - MAX_ALSO} more" if len(also) > MAX_ALSO else ""
            )
            where += "."
        answer: list[Part] = [f"{term}: ", Cut(meaning), where + "\n"]
        meta = make_meta(path=path, symbol=term, answer_path=path, expected=first_sentence(meaning))
        out.append(Example("glossary", rec.id, "", rec.commit, rec.time, [question], answer, meta))
    return out
