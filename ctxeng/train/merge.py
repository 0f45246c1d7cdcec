"""Merge an adapter into its base: a full model folder that plain transformers (or any engine) loads."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ctxeng.core.errors import CtxengError
from ctxeng.core.workdir import workdir
from ctxeng.train.manifest import MANIFEST, read_json, write_json

MARKER = "ctxeng-merge.json"  # marks a folder ctxeng may replace on the next merge


def default_out(root: Path, name: str) -> Path:
    """Where `ctxeng merge` writes by default: `.ctxeng/merged/<adapter>`."""
    return workdir(root) / "merged" / name


def merge_adapter(root: Path, adapter: str | None = None, out: Path | None = None) -> Path:
    """`merge_and_unload` the adapter into its base and save model + tokenizer to `out` (atomically).

    An existing `out` is replaced only when an earlier merge wrote it; any other non-empty folder
    is left alone and is an error.
    """
    from ctxeng.train.adapters import base_spec, find_adapter, load_adapters, load_base_for

    info = find_adapter(root, adapter)
    target = (out or default_out(root, info.name)).resolve()
    if target.exists() and not (target / MARKER).is_file() and (not target.is_dir() or any(target.iterdir())):
        raise CtxengError(f"{target} exists and is not an earlier merge", hint="choose another --out folder")
    # The base is loaded unquantized: a 4-bit (QLoRA) base cannot hold exactly merged weights.
    base, tokenizer = load_base_for(root, [str(info.path)], quantize=False)
    merged = load_adapters(base, [str(info.path)], root).merge_and_unload()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        source = {"adapter": info.name, "adapter_path": str(info.path), "base_model": base_spec(info)}
        if (info.path / MANIFEST).is_file():
            source["adapter_manifest"] = read_json(info.path / MANIFEST)
        write_json(tmp / MARKER, source)
        for item in tmp.iterdir():
            item.chmod(0o644)
        tmp.chmod(0o755)
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
