"""The adapter manifest (`ctxeng-manifest.json`): what an adapter was trained from, and how it measured."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctxeng import __version__
from ctxeng.core.errors import CtxengError
from ctxeng.core.fsio import atomic_write_text
from ctxeng.core.progress import peak_rss_mb

if TYPE_CHECKING:
    from ctxeng.train.data import DatasetFiles
    from ctxeng.train.models import BaseModel
    from ctxeng.train.recipe import Recipe

MANIFEST = "ctxeng-manifest.json"
TRAINING_LOG = "training-log.json"  # the Trainer's log history per stage (the loss curve)
LIBRARIES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")


def home_relative(path: str) -> str:
    """`path` with the user's home folder written `~` (the manifest travels with the adapter; the user's
    name and cache layout should not). Hub ids and paths outside the home folder are unchanged."""
    home = str(Path.home())
    if home not in ("", "/") and (path == home or path.startswith(home + "/")):
        return "~" + path[len(home) :]
    return path


def library_versions() -> dict[str, str]:
    """Versions of Python, ctxeng and the training libraries."""
    versions = {"python": platform.python_version(), "ctxeng": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = ""
    return versions


def folder_bytes(folder: Path) -> int:
    """Total size of the files directly in `folder`."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, indented with sorted keys (stable diffs, readable by people)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file ctxeng wrote; a damaged one is a `CtxengError`."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CtxengError(f"cannot read {path}: {exc}", hint="train the adapter again") from None


def read_manifest(adapter_dir: Path) -> dict[str, Any]:
    """The manifest of an adapter folder ({} for a PEFT folder that ctxeng did not write)."""
    path = adapter_dir / MANIFEST
    if not path.is_file():
        return {}
    data = read_json(path)
    return data if isinstance(data, dict) else {}


def build_manifest(
    recipe: Recipe,
    base: BaseModel,
    data: DatasetFiles,
    repo_name: str,
    head: str,
    model: Any,
    stats: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """The manifest of a finished run: inputs (recipe, base, dataset, HEAD, libraries) and measurements."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    dataset = {
        "folder": recipe.dataset,
        "sha256": data.sha256,
        "train_rows": len(data.train),
        "eval_rows": len(data.eval),
        "train_used": stats["train_used"],
        "eval_used": stats["eval_used"],
    }
    return {
        "name": recipe.output,
        "ctxeng_version": __version__,
        "recipe": {"name": recipe.name, "path": home_relative(str(recipe.path)), "content": recipe.raw},
        "base_model": {"spec": base.spec, "kind": base.kind, "location": home_relative(base.location)},
        "dataset": dataset,
        "repository": {"name": repo_name, "head": head},
        "libraries": library_versions(),
        "parameters": {
            "trainable": trainable,
            "total": total,
            "trainable_share": round(trainable / total, 6),
        },
        "training": {
            **training_totals(stats["stages"]),
            "wall_s": round(time.time() - started, 2),
            "peak_rss_mb": peak_rss_mb(),
            "peak_gpu_mb": stats.get("peak_gpu_mb"),
        },
        "eval": {"before": stats["eval_before"], "after": stats["eval_after"]},
        "started_at": int(started),
        "finished_at": int(time.time()),
    }


def training_totals(stages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Steps, tokens, seconds and throughput summed over the stages of a run."""
    seconds = sum(s["train_s"] for s in stages.values())
    # Throughput over the time this process trained (a resumed stage counts only its new steps).
    weighted = sum(s["tokens_per_s"] * s["train_s"] for s in stages.values())
    return {
        "stages": stages,
        "steps": sum(s["steps"] for s in stages.values()),
        "tokens_seen": sum(s["tokens_seen"] for s in stages.values()),
        "train_s": round(seconds, 2),
        "tokens_per_s": round(weighted / seconds, 1) if seconds else 0.0,
    }
