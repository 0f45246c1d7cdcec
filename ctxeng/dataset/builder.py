"""`build_dataset`: records → task examples → token bounds → time split → leak-free TRL rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.core.config import DatasetConfig
from ctxeng.core.errors import CtxengError
from ctxeng.core.gcpause import gc_paused
from ctxeng.core.records import Record
from ctxeng.dataset.bounds_cache import bounded_examples
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.split import Dated, date_by_source, dedupe, remove_leaks, split_by_time
from ctxeng.dataset.task_cache import run_tasks_cached
from ctxeng.dataset.tasks import enabled_tasks

MIN_MAX_TOKENS = 64  # below this not even a symbol lookup fits
#: Tasks that teach the repository as it is at HEAD: always trained on, never held out (the eval
#: asks about these facts in reserved phrasings instead; the held-out split measures the future).
HEAD_TASKS = frozenset({"facts", "grounded"})


@dataclass
class DatasetResult:
    """Rows of the train and eval splits (each sorted by id) and the statistics for the manifest."""

    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    stats: dict[str, Any]


def system_message(repo_name: str) -> str:
    """The system message shared by every row."""
    return f"You are an expert on the {repo_name} code base."


def build_dataset(
    records: list[Record], config: DatasetConfig, repo_name: str, out_dir: Path | None = None
) -> DatasetResult:
    """Turn (redacted) records into the supervised dataset; pure and deterministic.

    Same records and configuration give byte-identical rows. Raises `CtxengError` for an unknown
    task name or impossible bounds in `config`. With `out_dir`, work an earlier build did for
    unchanged examples is reused from its caches (same rows, less time).
    """
    names = check_config(config)
    with gc_paused():
        ctx = TaskContext(repo_name=repo_name, seed=config.seed)
        examples = run_tasks_cached(records, ctx, names, out_dir)
        dropped: Counter[str] = Counter(ctx.dropped)
        examples = _unique(examples, dropped)
        system = system_message(repo_name)
        bounded, shortened = bounded_examples(
            examples, system, config.min_tokens, config.max_tokens, dropped, out_dir
        )
        dated = date_by_source(bounded)
        head = [d for d in dated if d.item.example.task in HEAD_TASKS]
        rest = [d for d in dated if d.item.example.task not in HEAD_TASKS]
        train, held, eval_commits = split_by_time(rest, config.eval_share)
        train += head
        held = dedupe(held, dropped)
        train = remove_leaks(dedupe(train, dropped), held, dropped)
        stats = _stats(names, train, held, dropped, eval_commits, shortened)
        return DatasetResult([_row(d, system) for d in train], [_row(d, system) for d in held], stats)


def check_config(config: DatasetConfig) -> list[str]:
    """Validate the dataset settings (a `CtxengError` naming the key); returns the enabled task names.

    Cheap, so a build can call it before the slow stages instead of failing at the end.
    """
    if not 0.0 <= config.eval_share < 1.0:
        raise CtxengError(f"dataset.eval_share must be in [0, 1), got {config.eval_share}")
    if config.max_tokens < MIN_MAX_TOKENS:
        raise CtxengError(f"dataset.max_tokens must be at least {MIN_MAX_TOKENS}, got {config.max_tokens}")
    if not 0 <= config.min_tokens < config.max_tokens:
        raise CtxengError(
            f"dataset.min_tokens must be between 0 and max_tokens ({config.max_tokens}), "
            f"got {config.min_tokens}"
        )
    return enabled_tasks(config.tasks)


def _unique(examples: list[Any], dropped: Counter[str]) -> list[Any]:
    """One example per id (the first in task order); a repeat can only come from repeated record ids."""
    seen: set[str] = set()
    out = []
    for ex in examples:
        if ex.id in seen:
            dropped["duplicate_id"] += 1
            continue
        seen.add(ex.id)
        out.append(ex)
    return out


def _row(d: Dated, system: str) -> dict[str, Any]:
    ex = d.item.example
    return {
        "id": ex.id,
        "task": ex.task,
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": d.item.user}],
        "completion": [{"role": "assistant", "content": d.item.answer}],
        "source": ex.source,
        "commit": d.commit,
        "time": d.time,
        "meta": dict(sorted(ex.meta.items())),
    }


def _stats(
    names: list[str],
    train: list[Dated],
    held: list[Dated],
    dropped: Counter[str],
    eval_commits: int,
    shortened: int,
) -> dict[str, Any]:
    tasks = {name: {"train": 0, "eval": 0} for name in sorted(names)}
    for split, items in (("train", train), ("eval", held)):
        for d in items:
            tasks[d.item.example.task][split] += 1
    return {
        "train": len(train),
        "eval": len(held),
        "tasks": tasks,
        "dropped": dict(sorted(dropped.items())),
        "shortened": shortened,
        "tokens": {"train": sum(d.item.tokens for d in train), "eval": sum(d.item.tokens for d in held)},
        "eval_commits": eval_commits,
    }
