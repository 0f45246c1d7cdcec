"""Which recipe runs by default, and relaunching a multi-GPU recipe under `accelerate launch`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ctxeng.train.recipe import Recipe

GPU_DEFAULT_RECIPE = "qwen2.5-coder-1.5b"
CPU_DEFAULT_RECIPE = "cpu-default"
# glibc malloc settings that cut TRL step time ~40 % on CPUs (measured on 2-core VMs: fewer page faults
# from TRL's per-step allocations); they only work when set before Python starts, so they go into the
# environment of processes ctxeng spawns.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "536870912",
}


def has_gpu() -> bool:
    """Whether a CUDA device is usable."""
    import torch

    return bool(torch.cuda.is_available())


def default_recipe(configured: str = "") -> str:
    """The configured recipe, else the GPU default on a CUDA machine, else `cpu-default`."""
    if configured:
        return configured
    return GPU_DEFAULT_RECIPE if has_gpu() else CPU_DEFAULT_RECIPE


#: Set in the environment of the `accelerate launch` ctxeng starts, so its (possibly single) child
#: trains instead of launching again; a user's own ACCELERATE_* settings mean nothing here.
LAUNCHED_ENV = "CTXENG_LAUNCHED"
_SIZE_VARS = ["PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "WORLD_SIZE"]


def is_launched() -> bool:
    """Whether this process is a worker of a distributed launch, decided as accelerate decides it.

    accelerate's `PartialState` treats a process as distributed when `LOCAL_RANK` is set or a
    launcher's world size exceeds 1 (torchrun, MPI); an existing distributed state counts too.
    A child of ctxeng's own launch is marked by `CTXENG_LAUNCHED`. Stray `ACCELERATE_*`
    variables (log level, config paths) do not make a process a launched worker.
    """
    if os.environ.get(LAUNCHED_ENV) == "1":
        return True
    from accelerate.state import PartialState
    from accelerate.utils import get_int_from_env

    shared = getattr(PartialState, "_shared_state", {})
    if shared and int(shared.get("num_processes", 1) or 1) > 1:
        return True
    return int(os.environ.get("LOCAL_RANK", -1)) != -1 or get_int_from_env(_SIZE_VARS, 1) > 1


def launch_command(recipe: Recipe, argv: Sequence[str]) -> list[str]:
    """The `accelerate launch` command that reruns `ctxeng <argv>` with the recipe's accelerate config.

    On a CUDA machine it runs one process per visible GPU; elsewhere the config's `num_processes`.
    """
    import torch

    assert recipe.accelerate_config is not None
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(recipe.accelerate_config)]
    if torch.cuda.is_available():
        cmd += ["--num_processes", str(torch.cuda.device_count())]
    return [*cmd, "-m", "ctxeng", *argv]


def launch_env() -> dict[str, str]:
    """The environment for a launched training process: ours, with the malloc settings unless set,
    and the mark that tells the child it was launched."""
    return {**MALLOC_ENV, **os.environ, LAUNCHED_ENV: "1"}
