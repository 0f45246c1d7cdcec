"""Training orchestration: pick the recipe and base, launch multi-GPU runs, and summarise the result."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def run_train(
    root: Path, recipe_name: str | None, base: str | None, resume: bool, console: Any, argv: list[str]
) -> dict[str, Any] | int:
    """Train with the recipe and base from the options, else the configuration, else the defaults.

    A recipe with `accelerate_config` reruns `ctxeng <argv>` under `accelerate launch` on every GPU
    of this machine and returns its exit code; otherwise returns the adapter manifest.
    """
    from ctxeng.core.config import load_config
    from ctxeng.core.repo import open_repo
    from ctxeng.train.launch import default_recipe, is_launched, launch_command, launch_env
    from ctxeng.train.recipe import load_recipe
    from ctxeng.train.trainer import train

    config = load_config(open_repo(root).root).train
    recipe = load_recipe(recipe_name or default_recipe(config.recipe))
    if recipe.accelerate_config is not None and not is_launched():
        return subprocess.call(launch_command(recipe, argv), env=launch_env())
    # A hub model is downloaded only when the user named it or its recipe (option or configuration);
    # the machine's default recipe (the GPU one on a CUDA machine) uses the cache or says which flag.
    named = bool(recipe_name or base or config.recipe or config.base_model)
    return train(
        root, recipe, base=base or config.base_model or None, resume=resume, console=console, download=named
    ).manifest


def train_after_build(root: Path, quiet: bool) -> dict[str, Any]:
    """`ctxeng build --train`: train the configured recipe (else the machine's default); a short summary."""
    from ctxeng.core.extras import require_extras
    from ctxeng.core.ui import err_console

    require_extras("build --train", "train")  # train.after_build = true in the configuration
    from ctxeng.core.fsio import published

    published(forget=True)  # the build is out; Ctrl-C from here stops the training: exit 130
    from ctxeng.core import teardown

    teardown.release()  # the build's records, kept to be freed with the process: training needs the room
    result = run_train(root, None, None, False, None if quiet else err_console(), ["train", str(root)])
    if isinstance(result, int):
        from ctxeng.core.errors import CtxengError

        if result:
            raise CtxengError(f"training failed (exit {result})")
        return {"launched": True}
    return brief(result)


def brief(manifest: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an adapter manifest."""
    evals = manifest.get("eval") or {}
    return {
        "name": manifest["name"],
        "recipe": manifest["recipe"]["name"],
        "base_model": manifest["base_model"]["spec"],
        "steps": manifest["training"]["steps"],
        "wall_s": manifest["training"]["wall_s"],
        "eval_loss_before": ((evals.get("before") or {}).get("all") or {}).get("loss"),
        "eval_loss_after": ((evals.get("after") or {}).get("all") or {}).get("loss"),
    }
