"""Staged changes beside the prompt index: what the pre-commit refresh writes instead of rewriting `index.json`.

On a 100,000-file repository `index.json` is ~48 MB; parsing and writing it again for a one-file
edit was most of the pre-commit hook's time. The hook instead writes the changed files' records
into `index-staged.jsonl` in the generation it publishes (one line per path, sorted: `{"path",
"records"}`; no records means the file was deleted), merged with the lines the previous
generation had (a later edit of a path replaces its line). Readers of the index
(`ctxeng.pack.index.reader.load_index`, so `ctxeng context`, the prompt hook and MCP) patch the
index in memory with those records (`ctxeng.pack.index.update.patched`): what they see is what
`patch_index` would have written. The next full build or refresh folds the changes into the
records and writes a new index without this file (a build never carries it over).

A torn or corrupt line (or one whose records belong elsewhere) is skipped; if the patch cannot
be applied the index is used as built: a stale answer beats none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctxeng.core.records import Record
from ctxeng.pack.index.reader import DETAILS_BYTES, DETAILS_FILE, STAGED_FILE

if TYPE_CHECKING:
    from ctxeng.core.generation import Staging


def read_staged(folder: Path) -> dict[str, list[Record]]:
    """Path → records from `folder`'s side file ({} when there is none); unreadable lines are skipped."""
    out: dict[str, list[Record]] = {}
    try:
        data = (folder / STAGED_FILE).read_bytes()
    except OSError:
        return out
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            path = row["path"]
            records = [Record.from_json(r) for r in row["records"]]
            if not isinstance(path, str) or any(rec.path != path for rec in records):
                continue
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue
        out[path] = records
    return out


def stage_changes(staging: Staging, replaced: Mapping[str, Sequence[Record]]) -> None:
    """Write the side file into `staging`: the base generation's lines with `replaced`'s paths replaced."""
    from ctxeng.core.fsio import dumps_json_bytes

    merged: dict[str, Sequence[Record]] = dict(read_staged(staging.base))
    merged.update(replaced)
    with open(staging.path(STAGED_FILE), "wb") as fh:
        for path in sorted(merged):
            row = {"path": path, "records": [rec.to_json() for rec in merged[path]]}
            fh.write(dumps_json_bytes(row) + b"\n")


def apply_staged(index: dict[str, Any], folder: Path) -> dict[str, Any]:
    """`index` (as read from `folder`) patched with the side file's records; `index` itself when there
    are none or the patch fails. A patched index carries its details bytes under `DETAILS_BYTES`."""
    replaced = read_staged(folder)
    if not replaced:
        return index
    try:
        from ctxeng.pack.index.update import is_consistent, patched

        details = (folder / DETAILS_FILE).read_bytes()
        if not is_consistent(index, len(details)):
            return index
        new_index, body = patched(index, details, replaced)
    except Exception:  # a stale index beats a failed prompt hook
        return index
    new_index[DETAILS_BYTES] = body
    return new_index
