"""What every task template receives besides the records: repository name, seed and drop counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class TaskContext:
    """Shared inputs of the task templates; `drop(reason)` counts examples a template declined."""

    repo_name: str
    seed: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def drop(self, reason: str, n: int = 1) -> None:
        """Count `n` candidate examples skipped for `reason`."""
        self.dropped[reason] += n
