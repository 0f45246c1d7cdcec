"""`build_dataset`: records → task examples → token bounds → time split → leak-free TRL rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.core.config import DatasetConfig
from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import atomic_writer
from ctxeng.core.gcpause import gc_paused
from ctxeng.core.records import Record
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.outcomes import Bounder
from ctxeng.dataset.prints import RecordKeys
from ctxeng.dataset.store import ExampleStore, Rows, Split
from ctxeng.dataset.store_compact import CompactStore
from ctxeng.dataset.task_cache import iter_outcomes
from ctxeng.dataset.tasks import enabled_tasks

MIN_MAX_TOKENS = 64  # below this not even a symbol lookup fits
#: Tasks that teach the repository as it is at HEAD: always trained on, never held out (the eval
#: asks about these facts in reserved phrasings instead; the held-out split measures the future).
HEAD_TASKS = frozenset({"facts", "grounded"})


@dataclass
class DatasetResult:
    """Rows of the train and eval splits (each sorted by id) and the statistics for the manifest.

    The rows are made one at a time as they are read (`store.Rows`, which compares equal to a list
    of the same rows); `write` writes them as `train.jsonl` and `eval.jsonl`.
    """

    train: Sequence[dict[str, Any]]
    eval: Sequence[dict[str, Any]]
    stats: dict[str, Any]

    def write(
        self, train: Path, eval: Path, base: Path | None = None, index: Path | None = None
    ) -> dict[str, int]:
        """Write the splits as JSON lines (atomically; the bytes `fsio.write_jsonl` writes for them).

        With `base` (the last generation's folder), rows it wrote that read the same are copied from
        it; with `index` (a generation's `rows_write.ROWS_FILE`), what the next write needs to do so is
        written there (`dataset.rows_write`). Returns the rows and bytes copied.
        """
        if (
            isinstance(self.train, Rows)
            and isinstance(self.eval, Rows)
            and self.train.split is self.eval.split
        ):
            split = self.train.split
            if split.store.data_name and (base is not None or index is not None):
                from ctxeng.dataset.rows_write import write_rows

                parts = [(train, self.train.indices), (eval, self.eval.indices)]
                return write_rows(split, parts, split.store.data_name, base, index)
        for path, rows in ((train, self.train), (eval, self.eval)):
            with atomic_writer(path, "wb") as fh:
                lines = rows.lines() if isinstance(rows, Rows) else (_line(row) for row in rows)
                for line in lines:
                    fh.write(line)
        return {"rows_reused": 0, "bytes_reused": 0}

    def close(self) -> None:
        """Let go of the rows and close the store's spill file behind them (written: not read again)."""
        for rows in (self.train, self.eval):
            if isinstance(rows, Rows):
                rows.split.store.close()
        self.train = self.eval = []


def _line(row: dict[str, Any]) -> bytes:
    from ctxeng.core.fsio import dumps_json_bytes

    return dumps_json_bytes(row) + b"\n"


def system_message(repo_name: str) -> str:
    """The system message shared by every row."""
    return f"You are an expert on the {repo_name} code base."


def build_dataset(
    records: Sequence[Record],
    config: DatasetConfig,
    repo_name: str,
    out_dir: Path | None = None,
    keys: RecordKeys | None = None,
) -> DatasetResult:
    """Turn (redacted) records into the supervised dataset; pure and deterministic.

    Same records and configuration give byte-identical rows. Raises `CtxengError` for an unknown
    task name or impossible bounds in `config`. With `out_dir`, work an earlier build did for
    unchanged examples is reused from its caches (same rows, less time).

    Examples stream: each is bounded, rendered and moved into a compact store (its row spilled to a
    temporary file) a chunk at a time, so memory holds a few dozen bytes per row, not the rows.
    """
    names = check_config(config)
    with gc_paused():
        ctx = TaskContext(repo_name=repo_name, seed=config.seed)
        bounder = Bounder(system_message(repo_name), config.min_tokens, config.max_tokens)
        if out_dir is None or not isinstance(records, list):
            # No carry for spilled records (`core.record_store.RecordsView`): it holds them all at once.
            # Nor a set of every id and a dict of every source (~300 MB at 100,000 files).
            store: ExampleStore = CompactStore(names, None if out_dir is None else out_dir / "tmp")
            for outcome in iter_outcomes(records, ctx, names, out_dir, bounder):
                store.add(outcome)
            store.done()
        else:
            store = _carried(records, keys or RecordKeys(), ctx, names, out_dir, bounder)
        del bounder  # its token memo
        dropped: Counter[str] = Counter(ctx.dropped)
        dropped.update(store.dropped)
        split = Split(store, config.eval_share, dropped, HEAD_TASKS)
        stats = _stats(names, store, split, dropped)
        return DatasetResult(Rows(split, split.train), Rows(split, split.held), stats)


def _carried(
    records: list[Record],
    keys: RecordKeys,
    ctx: TaskContext,
    names: list[str],
    out_dir: Path,
    bounder: Bounder,
) -> ExampleStore:
    """The store, carried from the last build where its records are unchanged; per-example caches for the rest."""
    import contextlib

    from ctxeng.dataset.blobtable import BlobTable
    from ctxeng.dataset.carry import build_store
    from ctxeng.dataset.task_cache import CACHE_FILE, OLD_FILES, tasks_salt

    for old in OLD_FILES:  # the caches before outcomes were cached whole (tens of MB)
        with contextlib.suppress(OSError):
            (out_dir / old).unlink()
    table = BlobTable(out_dir / CACHE_FILE, tasks_salt())
    try:
        store = build_store(records, keys, ctx, names, out_dir, bounder, table)
        table.save()
    finally:
        table.close()
    return store


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


def _stats(names: list[str], store: ExampleStore, split: Split, dropped: Counter[str]) -> dict[str, Any]:
    tasks = {name: {"train": 0, "eval": 0} for name in sorted(names)}
    tokens = {"train": 0, "eval": 0}
    for part, indices in (("train", split.train), ("eval", split.held)):
        for i in indices:
            tasks[store.tasks[store.task_no[i]]][part] += 1
            tokens[part] += store.tokens[i]
    return {
        "train": len(split.train),
        "eval": len(split.held),
        "tasks": tasks,
        "dropped": dict(sorted(dropped.items())),
        "shortened": store.shortened,
        "tokens": tokens,
        "eval_commits": split.eval_commits,
    }
