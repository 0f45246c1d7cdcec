"""Terminal output shared by the commands: a stderr console and a per-stage progress display."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from ctxeng.core.progress import Progress


def err_console() -> Console:
    """A rich console on stderr (stdout stays clean for --json and pipes)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[Progress]:
    """A rich progress display with one bar per stage; yields the `progress` callback."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    bars = Progress(
        SpinnerColumn(), TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console(), transient=False,
    )  # fmt: skip
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            for other in tasks.values():  # a new stage means the previous ones finished
                bars.update(
                    other, total=bars.tasks[other].completed or 1, completed=bars.tasks[other].completed or 1
                )
            tasks[stage] = bars.add_task(stage, total=total or None)
        bars.update(tasks[stage], completed=done, total=total or None)

    with bars:
        yield update
        for task in tasks.values():
            done = bars.tasks[task].completed or 1
            bars.update(task, completed=done, total=done)
