"""Trained adapters: list them, find one by name, and swap several on one base model.

Swapping, for servers and scripts::

    from ctxeng.train.adapters import load_base_for, load_adapters, set_adapter
    base, tokenizer = load_base_for(root, ["cpu-default", "docs-only"])  # one base, checked to be shared
    model = load_adapters(base, ["cpu-default", "docs-only"], root)      # a PeftModel, first one active
    set_adapter(model, "docs-only")                                      # switch per request
    with model.disable_adapter(): ...                                    # the plain base model

Adapters are named by their folder under `.ctxeng/adapters/`; a path to any PEFT folder also works.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.core.workdir import workdir
from ctxeng.train.manifest import MANIFEST, TRAINING_LOG, folder_bytes, read_json, read_manifest, write_json


@dataclass(frozen=True)
class AdapterInfo:
    """One adapter folder with its manifest."""

    name: str
    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain data for `ctxeng adapters --json`."""
        return {"name": self.name, "path": str(self.path), "bytes": self.bytes, "manifest": self.manifest}


def adapters_dir(root: Path) -> Path:
    """Where the adapters of the repository at `root` live."""
    return workdir(root) / "adapters"


def list_adapters(root: Path) -> list[AdapterInfo]:
    """Every complete adapter (a folder with `adapter_config.json`), sorted by name."""
    folder = adapters_dir(root)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not (path / "adapter_config.json").is_file():
            continue  # dot-folders are runs in progress and checkpoints
        out.append(AdapterInfo(path.name, path, read_manifest(path), folder_bytes(path)))
    return out


def find_adapter(root: Path, name: str | None = None) -> AdapterInfo:
    """The adapter called `name` (or at that path); without a name the only, else newest, adapter."""
    if (
        name
        and Path(name).expanduser().is_dir()
        and (Path(name).expanduser() / "adapter_config.json").is_file()
    ):
        path = Path(name).expanduser().resolve()
        return AdapterInfo(path.name, path, read_manifest(path), folder_bytes(path))
    known = list_adapters(root)
    if not known:
        raise CtxengError(f"no adapters in {adapters_dir(root)}", hint="train one with `ctxeng train`")
    if name is None:
        return max(known, key=lambda a: (a.manifest.get("finished_at", 0), a.name))
    for info in known:
        if info.name == name:
            return info
    raise CtxengError(f"no adapter named '{name}'", hint=f"known: {', '.join(a.name for a in known)}")


def base_spec(info: AdapterInfo) -> str:
    """The base model an adapter was trained on: the manifest's spec, else adapter_config.json's path."""
    spec = info.manifest.get("base_model", {}).get("spec")
    if isinstance(spec, str) and spec:
        return spec
    config = read_json(info.path / "adapter_config.json")
    location = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    if not location:
        raise CtxengError(f"{info.path}: adapter_config.json names no base model")
    return str(location)


def load_settings(info: AdapterInfo) -> tuple[str, dict[str, Any] | None]:
    """(dtype, quantization) of the recipe an adapter was trained with ("auto", None when unknown)."""
    recipe = info.manifest.get("recipe", {}).get("content", {}) if info.manifest else {}
    quantization = recipe.get("quantization") if isinstance(recipe, dict) else None
    dtype = recipe.get("dtype", "auto") if isinstance(recipe, dict) else "auto"
    return str(dtype or "auto"), quantization if isinstance(quantization, dict) and quantization else None


def load_base_for(
    root: Path, names: Sequence[str], dtype: str | None = None, quantize: bool = True
) -> tuple[Any, Any]:
    """Load the one base model that all adapters in `names` share, and its tokenizer.

    The base loads as the adapters' recipe loaded it for training: its `dtype` (unless `dtype` is
    given) and its `quantization` (a QLoRA adapter runs on the 4-bit base it was trained on),
    unless `quantize=False` (merging needs full-precision weights). A hub base comes from the
    cache only: evaluating or serving never downloads.
    """
    from ctxeng.train.models import load_model, load_tokenizer, resolve_base

    infos = [find_adapter(root, n) for n in names] or [find_adapter(root)]
    specs = sorted({base_spec(i) for i in infos})
    if len(specs) != 1:
        raise CtxengError(f"these adapters have different base models: {', '.join(specs)}")
    plans = {json.dumps(load_settings(i), sort_keys=True) for i in infos}
    if len(plans) != 1 and quantize:
        raise CtxengError("these adapters were trained on differently loaded (dtype/quantized) bases")
    recipe_dtype, quantization = load_settings(infos[0])
    base = resolve_base(specs[0])
    model = load_model(base, dtype or recipe_dtype, quantization if quantize else None)
    return model, load_tokenizer(base)


def load_adapters(base_model: Any, names: Sequence[str], root: Path = Path(".")) -> Any:
    """Wrap `base_model` in a `PeftModel` holding every adapter in `names` under its name.

    The first adapter is active; switch with `set_adapter`. Weights are shared: each further
    adapter costs only its LoRA matrices.
    """
    from peft import PeftModel

    if not names:
        raise CtxengError("no adapter names given")
    infos = [find_adapter(root, n) for n in names]
    if len({i.name for i in infos}) != len(infos):
        raise CtxengError("the same adapter name appears twice")
    model = PeftModel.from_pretrained(base_model, str(infos[0].path), adapter_name=infos[0].name)
    for info in infos[1:]:
        model.load_adapter(str(info.path), adapter_name=info.name)
    model.set_adapter(infos[0].name)
    model.eval()
    return model


def set_adapter(model: Any, name: str) -> None:
    """Make adapter `name` of a model from `load_adapters` the active one."""
    known = sorted(getattr(model, "peft_config", {}))
    if name not in known:
        raise CtxengError(f"adapter '{name}' is not loaded", hint=f"loaded: {', '.join(known)}")
    model.set_adapter(name)


def publish_adapter(
    home: Path, name: str, adapter: Path, base_location: str, manifest: dict[str, Any], logs: dict[str, Any]
) -> Path:
    """Copy a trained PEFT folder to `home/<name>` with manifest and training log, replacing any old one.

    The copy is completed in a dot-folder and renamed into place, so readers see the old adapter
    or the new one, never a partial folder (between the two renames, briefly, none).
    """
    tmp = home / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(adapter, tmp)
    (tmp / "training_args.bin").unlink(missing_ok=True)  # a pickle: nothing a reader of the adapter needs
    config_path = tmp / "adapter_config.json"
    config = read_json(config_path)
    config["base_model_name_or_path"] = base_location  # a hub id or an absolute path: loads from any folder
    write_json(config_path, config)
    manifest["adapter_bytes"] = (tmp / "adapter_model.safetensors").stat().st_size
    write_json(tmp / TRAINING_LOG, logs)
    write_json(tmp / MANIFEST, manifest)
    for item in tmp.iterdir():
        item.chmod(0o644)  # safetensors writes 0600; serving daemons often run as another user
    final = home / name
    old = home / f".old-{name}-{os.getpid()}"
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final
