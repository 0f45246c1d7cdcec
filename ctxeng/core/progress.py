"""Stage bookkeeping shared by the pipelines: the progress callback type and per-stage CPU, wall and RSS."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ctxeng.core.faults import pause_point

#: progress(stage, done, total) — total is 0 when unknown.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The progress callback that shows nothing (library calls, hooks, --quiet)."""


def cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children (git) so far."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class StageTimer:
    """CPU seconds, wall seconds and peak RSS (MB, running maximum) per stage."""

    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Measure the enclosed block as stage `name`; a stage entered again adds to its figures."""
        again = self.stages.get(name)
        if again is None:
            pause_point(name)  # where tests kill a real build at a chosen stage (ctxeng.core.faults)
        wall, cpu = time.perf_counter(), cpu_seconds()
        yield
        before = again or {"wall_s": 0.0, "cpu_s": 0.0}
        self.stages[name] = {
            "wall_s": round(before["wall_s"] + time.perf_counter() - wall, 3),
            "cpu_s": round(before["cpu_s"] + cpu_seconds() - cpu, 3),
            "peak_rss_mb": peak_rss_mb(),
        }
