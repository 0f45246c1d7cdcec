"""The base model's side of `ctxeng eval`, cached: it only changes when the model or the questions do.

An eval runs every probe twice, adapter off (the base) and on. After a retrain only the adapter
changed, so the base side (held-out losses, probe answers, knowledge answers) is read back from
`.ctxeng/cache/eval-base/<key>.json`. The key is a digest of everything that decides those
numbers: the base model (spec, where it was loaded from, its files' sizes and modification times,
dtype and quantization), every prompt and row the probes use, the generation settings, and the
library versions (greedy decoding can change with them). Anything else is a miss.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ctxeng.core.fsio import atomic_write_text

#: Bump when what the base side computes (or how) changes without a change in its inputs.
VERSION = 1
FOLDER = Path(".ctxeng") / "cache" / "eval-base"
KEEP = 8  # entries kept (a few KB each)


def model_identity(spec: str, location: str, settings: Any) -> dict[str, Any]:
    """What identifies a loaded base model: spec, location, load settings and its files' stats."""
    files: list[list[Any]] = []
    folder = Path(location)
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                st = path.stat()
                files.append([path.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns])
    else:  # a hub id: the snapshot the cache would load names the revision
        files.append(["hub-snapshot", _hub_snapshot(location)])
    return {"spec": spec, "location": location, "settings": settings, "files": files}


def _hub_snapshot(repo_id: str) -> str:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # not a valid id, or no hub library: the id alone identifies it
        return ""
    return str(found) if isinstance(found, str) else ""


def cache_key(identity: dict[str, Any], inputs: dict[str, Any]) -> str:
    """The digest of the model identity, the probes' inputs and the library versions."""
    import peft
    import torch
    import transformers

    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }
    blob = json.dumps(
        {"version": VERSION, "model": identity, "inputs": inputs, "libraries": versions},
        sort_keys=True,
        ensure_ascii=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def read(root: Path, key: str) -> dict[str, Any] | None:
    """The cached base side for `key`, None when there is none (or it cannot be read)."""
    path = root / FOLDER / f"{key}.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and value.get("key") == key else None


def write(root: Path, key: str, value: dict[str, Any]) -> None:
    """Store the base side for `key` (atomically; strict JSON)."""
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({**value, "key": key}, sort_keys=True, allow_nan=False)
    atomic_write_text(folder / f"{key}.json", text + "\n")
    entries = sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    for stale in entries[KEEP:]:  # other models or question sets, least recently written first
        stale.unlink(missing_ok=True)
