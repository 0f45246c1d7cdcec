"""Which recipe runs by default, and relaunching a multi-GPU recipe under `accelerate launch`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ctxeng.train.recipe import Recipe

GPU_DEFAULT_RECIPE = "qwen2.5-coder-1.5b"
CPU_DEFAULT_RECIPE = "cpu-default"


def has_gpu() -> bool:
    """Whether a CUDA device is usable."""
    import torch

    return bool(torch.cuda.is_available())


def default_recipe(configured: str = "") -> str:
    """The configured recipe, else the GPU default on a CUDA machine, else `cpu-default`."""
    if configured:
        return configured
    return GPU_DEFAULT_RECIPE if has_gpu() else CPU_DEFAULT_RECIPE


def is_launched() -> bool:
    """Whether this process was started by `accelerate launch` / torchrun."""
    return "LOCAL_RANK" in os.environ or any(k.startswith("ACCELERATE_") for k in os.environ)


def launch_command(recipe: Recipe, argv: Sequence[str]) -> list[str]:
    """The `accelerate launch` command that reruns `ctxeng <argv>` on every visible GPU of this machine."""
    import torch

    assert recipe.accelerate_config is not None
    gpus = max(torch.cuda.device_count(), 1)
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(recipe.accelerate_config),
        "--num_processes",
        str(gpus),
        "-m",
        "ctxeng",
        *argv,
    ]
