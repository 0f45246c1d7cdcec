"""Training recipes: flat YAML files whose `lora:` and `sft:` blocks go to PEFT and TRL unchanged.

ctxeng owns these top-level keys (everything else is an error naming the file and the key):

- `base_model` (required): `embedded:<name>`, a local model folder, or a Hugging Face hub id.
- `dataset`: folder with `train.jsonl`/`eval.jsonl`, relative to the repository (`.ctxeng/dataset`).
- `output`: adapter name, i.e. the folder under `.ctxeng/adapters/` (default: the recipe's name).
- `max_length`, `seed`: passed to `SFTConfig` (so they may not appear inside `sft:`).
- `stages`: `[sft]` (default) or `[cpt, sft]` — continued pre-training on the repository's raw
  text (code and docs) before supervised fine-tuning; `cpt:` holds SFTConfig overrides for it.
- `dtype`: weights dtype when loading the base (`auto`, `float32`, `bfloat16`, `float16`).
- `quantization`: a mapping for `transformers.BitsAndBytesConfig` (QLoRA; needs bitsandbytes).
- `accelerate_config`: an `accelerate launch` config, relative to the recipe file (multi-GPU).
- `max_train_examples`, `max_eval_examples`: caps (0 = all) that keep CPU runs short.
- `max_minutes`: a wall-clock budget for the training loop (0 = none): training stops when the
  next step (by its measured time) would end past it, and the adapter is saved as usual.
- `decay_share`: with `max_minutes`, the last this share of the budget (0-1) decays the learning
  rate linearly toward 0 (warmup-stable-decay), so the saved adapter is an annealed one.
- `task_weights`: task name → how many times its rows are trained on per pass (0 drops the task;
  fractions keep that share of rows, chosen deterministically); `"*"` sets the default (1).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.core.schema import check_mapping, suggest

STAGES = ("cpt", "sft")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_FORCED = ("output_dir", "max_length", "seed")  # set from owned keys; a copy inside sft: would be ambiguous
# Defaults ctxeng gives SFTConfig unless the recipe sets them: no trackers, our own progress
# display and held-out evaluation, at most two checkpoints on disk, and no search for unused
# parameters under DDP (LoRA uses all of its parameters; the search costs a graph walk per step).
SFT_DEFAULTS: dict[str, Any] = {
    "report_to": "none",
    "disable_tqdm": True,
    "eval_strategy": "no",
    "save_total_limit": 2,
    "ddp_find_unused_parameters": False,
}


@dataclass(frozen=True)
class Recipe:
    """A parsed and type-checked recipe; `raw` is the file's content as loaded (for the manifest)."""

    name: str
    path: Path
    base_model: str
    dataset: str = ".ctxeng/dataset"
    output: str = ""
    max_length: int = 1024
    seed: int = 0
    stages: tuple[str, ...] = ("sft",)
    dtype: str = "auto"
    quantization: dict[str, Any] | None = None
    accelerate_config: Path | None = None
    max_train_examples: int = 0
    max_eval_examples: int = 0
    max_minutes: float = 0.0
    decay_share: float = 0.0
    task_weights: dict[str, float] = field(default_factory=dict)
    lora: dict[str, Any] = field(default_factory=dict)
    sft: dict[str, Any] = field(default_factory=dict)
    cpt: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


_TYPES: dict[str, type | tuple[type, ...]] = {
    "base_model": str,
    "dataset": str,
    "output": str,
    "max_length": int,
    "seed": int,
    "stages": list,
    "dtype": str,
    "quantization": (dict, type(None)),
    "accelerate_config": str,
    "max_train_examples": int,
    "max_eval_examples": int,
    "max_minutes": (int, float),
    "decay_share": (int, float),
    "task_weights": dict,
    "lora": dict,
    "sft": dict,
    "cpt": dict,
}


def bundled_dir() -> Path:
    """The folder of the recipes that ship with ctxeng."""
    return Path(str(resources.files("ctxeng.recipes")))


def recipe_names() -> list[str]:
    """Names of the bundled recipes, sorted."""
    return sorted(p.stem for p in bundled_dir().glob("*.yaml"))


def find_recipe(name_or_path: str) -> Path:
    """A recipe file: an existing path, else a bundled recipe of that name."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate.resolve()
    if candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        raise CtxengError(f"recipe file {name_or_path} does not exist")
    bundled = bundled_dir() / f"{name_or_path}.yaml"
    if bundled.is_file():
        return bundled
    raise CtxengError(
        f"unknown recipe '{name_or_path}'", hint=f"bundled recipes: {', '.join(recipe_names())}"
    )


def load_recipe(name_or_path: str) -> Recipe:
    """Read, parse and type-check a recipe (by bundled name or path)."""
    import yaml

    path = find_recipe(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CtxengError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CtxengError(f"{path}: a recipe must be a YAML mapping")
    check_mapping(str(path), data, _TYPES, what="recipe key")
    if "base_model" not in data:
        raise CtxengError(f"{path}: 'base_model' is required")
    return _build(path, data)


def _build(path: Path, data: dict[str, Any]) -> Recipe:
    stages = tuple(str(s) for s in data.get("stages", ["sft"]))
    if not stages or len(set(stages)) != len(stages) or any(s not in STAGES for s in stages):
        raise CtxengError(f"{path}: 'stages' must list distinct stages out of {', '.join(STAGES)}")
    output = data.get("output") or path.stem
    if not _NAME.match(output):
        raise CtxengError(f"{path}: 'output' must be a plain folder name (letters, digits, . _ -)")
    for block in ("sft", "cpt"):
        clash = sorted(set(data.get(block, {})) & set(_FORCED))
        if clash:
            raise CtxengError(
                f"{path}: set '{clash[0]}' at the top level of the recipe, not inside '{block}:'"
            )
    for key in ("max_length", "max_train_examples", "max_eval_examples"):
        if data.get(key, 1) < (1 if key == "max_length" else 0):
            raise CtxengError(f"{path}: '{key}' is out of range")
    if data.get("max_minutes", 0) < 0:
        raise CtxengError(f"{path}: 'max_minutes' is out of range")
    if not 0 <= data.get("decay_share", 0) <= 1:
        raise CtxengError(f"{path}: 'decay_share' is out of range (0 to 1)")
    weights = data.get("task_weights", {})
    for task in sorted(weights, key=str):
        value = weights[task]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise CtxengError(f"{path}: task_weights.{task} must be a number >= 0")
    accel = None
    if "accelerate_config" in data:
        accel = (path.parent / data["accelerate_config"]).resolve()
        if not accel.is_file():
            raise CtxengError(f"{path}: accelerate_config {data['accelerate_config']} does not exist")
    if "cpt" in stages and "cpt" not in data:
        raise CtxengError(f"{path}: stage 'cpt' needs a 'cpt:' block (SFTConfig overrides for that stage)")
    return Recipe(
        name=path.stem,
        path=path,
        base_model=data["base_model"],
        dataset=data.get("dataset", ".ctxeng/dataset"),
        output=output,
        max_length=data.get("max_length", 1024),
        seed=data.get("seed", 0),
        stages=stages,
        dtype=data.get("dtype", "auto"),
        quantization=data.get("quantization"),
        accelerate_config=accel,
        max_train_examples=data.get("max_train_examples", 0),
        max_eval_examples=data.get("max_eval_examples", 0),
        max_minutes=float(data.get("max_minutes", 0)),
        decay_share=float(data.get("decay_share", 0)),
        task_weights={str(k): float(v) for k, v in weights.items()},
        lora=dict(data.get("lora", {})),
        sft=dict(data.get("sft", {})),
        cpt=dict(data.get("cpt", {})),
        raw=data,
    )


def lora_config(recipe: Recipe) -> Any:
    """`peft.LoraConfig(**recipe.lora)` (task type CAUSAL_LM unless set); errors name the recipe file."""
    from peft import LoraConfig

    kwargs = {"task_type": "CAUSAL_LM", **recipe.lora}
    try:
        return LoraConfig(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CtxengError(f"{recipe.path}: lora: {exc}", hint=_keyword_hint(exc, LoraConfig)) from None


def sft_settings(recipe: Recipe, output_dir: Path, stage: str = "sft") -> dict[str, Any]:
    """The keyword arguments for `trl.SFTConfig` of one stage: defaults, `sft:`, `cpt:` overrides, owned keys."""
    settings = {**SFT_DEFAULTS, **recipe.sft, **(recipe.cpt if stage == "cpt" else {})}
    settings.update(output_dir=str(output_dir), max_length=recipe.max_length, seed=recipe.seed)
    # Tokens seen, for the manifest. Packed rows hold no padding, and the pad token may be the eos
    # (SmolLM2), so counting "non-padding" ids there would skip every real end-of-turn token.
    settings.setdefault("include_num_input_tokens_seen", "all" if settings.get("packing") else "non_padding")
    return settings


def sft_config(recipe: Recipe, output_dir: Path, stage: str = "sft", validate_only: bool = False) -> Any:
    """`trl.SFTConfig` for one stage; errors (unknown keys, bad values, no GPU) name the recipe file.

    `validate_only` builds the config of a GPU recipe on a machine without one (device checks are
    left to the machine that trains): it adds `use_cpu=True` when no CUDA device is present.
    """
    from trl import SFTConfig

    settings = sft_settings(recipe, output_dir, stage)
    if validate_only and not _has_cuda():
        settings["use_cpu"] = True
    try:
        return SFTConfig(**settings)
    except (TypeError, ValueError) as exc:
        hint = _keyword_hint(exc, SFTConfig)
        if "bf16" in str(exc) or "fp16" in str(exc) or "gpu" in str(exc).lower():
            hint = "this recipe expects a GPU; on a CPU use --recipe cpu-default"
        block = "sft/cpt" if stage == "cpt" else "sft"
        raise CtxengError(f"{recipe.path}: {block}: {str(exc).splitlines()[0]}", hint=hint) from None


def _keyword_hint(exc: Exception, config_class: type) -> str | None:
    """ "did you mean" for an unknown keyword in `lora:`/`sft:` (the dataclass's fields are the schema)."""
    import dataclasses

    unknown = _UNEXPECTED.search(str(exc))
    if unknown is None or not dataclasses.is_dataclass(config_class):
        return None
    return suggest(unknown.group(1), [f.name for f in dataclasses.fields(config_class)]) or None


_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")


def _has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())
