"""Training data: read and check `.ctxeng/dataset/*.jsonl`, cap it, and collect raw text for pre-training.

Rows are TRL conversational prompt-completion examples (`prompt`: system + user messages,
`completion`: one assistant message), which gives completion-only loss with any chat template.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError

SPLITS = ("train", "eval")
CPT_KINDS = ("doc", "file", "symbol")  # records whose text is the repository's own code or prose


@dataclass(frozen=True)
class DatasetFiles:
    """The dataset folder with its rows and a content hash (recorded in the adapter manifest)."""

    folder: Path
    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    sha256: str


def _check_messages(value: Any, roles: tuple[str, ...]) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(
            isinstance(m, dict) and m.get("role") in roles and isinstance(m.get("content"), str)
            for m in value
        )
    )


def read_split(path: Path) -> list[dict[str, Any]]:
    """The rows of one split; a malformed row is a `CtxengError` naming file and line."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CtxengError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
            ok = (
                isinstance(row, dict)
                and _check_messages(row.get("prompt"), ("system", "user", "assistant"))
                and _check_messages(row.get("completion"), ("assistant",))
                and len(row["completion"]) == 1
            )
            if not ok:
                raise CtxengError(
                    f"{path}:{number}: not a conversational prompt-completion row",
                    hint='expected {"prompt": [{"role", "content"}...], "completion": [{"role": "assistant", ...}]}',
                )
            row.setdefault("task", "unknown")
            row.setdefault("id", f"{path.stem}-{number}")
            row.setdefault("meta", {})
            rows.append(row)
    return rows


def load_dataset_files(folder: Path) -> DatasetFiles:
    """Read `train.jsonl` and `eval.jsonl` from `folder` (written by `ctxeng build`).

    `.ctxeng/dataset` is a link through `.ctxeng/current`: it is resolved once, so both splits
    (and `DatasetFiles.folder`) come from one generation even if a build publishes meanwhile.
    """
    folder = Path(os.path.realpath(folder))
    digest = hashlib.sha256()
    splits: dict[str, list[dict[str, Any]]] = {}
    for split in SPLITS:
        path = folder / f"{split}.jsonl"
        if not path.is_file():
            raise CtxengError(f"no dataset at {path}", hint="run `ctxeng build` first")
        digest.update(path.read_bytes())
        splits[split] = read_split(path)
    if not splits["train"]:
        raise CtxengError(
            f"{folder / 'train.jsonl'} has no rows", hint="the repository may be too small to train on"
        )
    return DatasetFiles(folder, splits["train"], splits["eval"], digest.hexdigest())


def _rank(seed: int, row_id: str) -> str:
    return hashlib.sha1(f"{seed}\x1f{row_id}".encode()).hexdigest()


def stratified_sample(rows: list[dict[str, Any]], limit: int, seed: int) -> list[dict[str, Any]]:
    """At most `limit` rows (0 = all), taken round-robin over tasks so every task keeps examples.

    Deterministic: tasks in name order, rows within a task by a seeded hash of their id; the
    result keeps the input order.
    """
    if not limit or len(rows) <= limit:
        return list(rows)
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(str(row["task"]), []).append(index)
    queues = [
        sorted(idx, key=lambda i: (_rank(seed, str(rows[i]["id"])), i)) for _, idx in sorted(groups.items())
    ]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < limit:
        for queue in queues:
            if depth < len(queue) and len(chosen) < limit:
                chosen.append(queue[depth])
        depth += 1
    return [rows[i] for i in sorted(chosen)]


def weighted_rows(rows: list[dict[str, Any]], weights: dict[str, float], seed: int) -> list[dict[str, Any]]:
    """Rows repeated by their task's weight (`"*"`: the default, else 1): weight 2.5 gives every row
    twice and half of them a third time, 0.25 keeps a quarter; which rows is fixed by a seeded hash.

    The result is ordered by a seeded hash of (id, copy), so copies are spread over the run and a
    run stopped early by its time budget has seen a mix of every weighted task.
    """
    if not weights:
        return list(rows)
    default = weights.get("*", 1.0)
    out: list[tuple[str, int, dict[str, Any]]] = []
    for row in rows:
        weight = weights.get(str(row["task"]), default)
        whole = int(weight)
        draw = int(_rank(seed, f"weight\x1f{row['id']}")[:12], 16) / float(16**12)
        copies = whole + (1 if draw < weight - whole else 0)
        out.extend((_rank(seed, f"{row['id']}\x1f{copy}"), copy, row) for copy in range(copies))
    out.sort(key=lambda item: (item[0], str(item[2]["id"]), item[1]))
    return [row for _, _, row in out]


def to_hf_dataset(rows: Iterable[dict[str, Any]]) -> Any:
    """A `datasets.Dataset` with only the columns TRL trains on (`prompt`, `completion`)."""
    from datasets import Dataset

    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])


def cpt_texts(records_path: Path, held_out: list[dict[str, Any]]) -> list[str]:
    """Raw text of file, symbol and doc records for continued pre-training, newest commits held out.

    A record is left out when it comes from a commit at or after the oldest held-out example's
    commit time, or when a held-out example was made from it: pre-training on it would leak the
    eval answers into the adapter.
    """
    if not records_path.is_file():
        raise CtxengError(f"no records at {records_path}", hint="run `ctxeng build` first")
    times = [int(r["time"]) for r in held_out if isinstance(r.get("time"), int) and r["time"] > 0]
    cutoff = min(times) if times else None
    sources = {str(r.get("source", "")) for r in held_out}
    texts = []
    with open(records_path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec["kind"] not in CPT_KINDS or not rec["text"].strip() or rec["id"] in sources:
                continue
            if cutoff is not None and (rec["time"] == 0 or rec["time"] >= cutoff):
                continue
            header = rec["path"] if rec["kind"] != "doc" else f"{rec['path']} > {rec['name']}"
            texts.append(f"{header}\n\n{rec['text'].strip()}\n")
    if not texts:
        raise CtxengError(
            "no raw text left for continued pre-training", hint="drop the cpt stage for this repository"
        )
    return texts


def text_dataset(texts: list[str]) -> Any:
    """A `datasets.Dataset` of plain `text` rows (language modelling, loss on every token)."""
    from datasets import Dataset

    return Dataset.from_list([{"text": t} for t in texts])
