"""The task registry: each task is a pure function (record index, context) → examples."""

from __future__ import annotations

from collections.abc import Callable

from ctxeng.core.errors import CtxengError
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.example import Example
from ctxeng.dataset.index import RecordIndex
from ctxeng.dataset.tasks_body import symbol_body
from ctxeng.dataset.tasks_code import callers, file_contents, module_overview, symbol_lookup
from ctxeng.dataset.tasks_docs import doc_qa, glossary
from ctxeng.dataset.tasks_facts import facts, grounded
from ctxeng.dataset.tasks_history import cochange, commit_instruction, commit_message

Task = Callable[[RecordIndex, TaskContext], list[Example]]

#: Every task, in the order they run (the output order is by example id, not this).
TASKS: dict[str, Task] = {
    "symbol_lookup": symbol_lookup,
    "file_contents": file_contents,
    "symbol_body": symbol_body,
    "module_overview": module_overview,
    "callers": callers,
    "commit_instruction": commit_instruction,
    "commit_message": commit_message,
    "cochange": cochange,
    "doc_qa": doc_qa,
    "glossary": glossary,
    "facts": facts,
    "grounded": grounded,
}


def enabled_tasks(settings: dict[str, bool]) -> list[str]:
    """Task names switched on by `dataset.tasks` (all by default); unknown names are an error."""
    unknown = sorted(set(settings) - set(TASKS))
    if unknown:
        raise CtxengError(
            f"dataset.tasks: unknown task '{unknown[0]}'",
            hint=f"known tasks: {', '.join(sorted(TASKS))}",
        )
    for name in sorted(settings):
        if not isinstance(settings[name], bool):
            raise CtxengError(f"dataset.tasks.{name} must be true or false, got {settings[name]!r}")
    return [name for name in TASKS if settings.get(name, True)]


def run_tasks(index: RecordIndex, ctx: TaskContext, names: list[str]) -> list[Example]:
    """All examples of the named tasks."""
    out: list[Example] = []
    for name in names:
        out.extend(TASKS[name](index, ctx))
    return out
