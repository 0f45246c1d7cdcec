"""A built sample repository with two trained tiny adapters, made once per test session.

Shared by the serve, ask, MCP and export tests: the real pipeline (`ctxeng build`: records, index,
pack) on the kvstore sample with two extra commits that change the codec and the store together
(so co-change partners exist), and two LoRA adapters, `first` and `second`, trained for real with
TRL on the tiny offline Llama (`tests/tinymodel.py`) with different seeds. Tests that change the
repository work on a copy (`copy_repo`).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.sample_repo import make_sample_repo
from tests.tinymodel import build_tiny_model, isolate, kvstore_rows, write_dataset

ADAPTERS = ("first", "second")
QUESTION = "Where is `compact` defined?"


@dataclass(frozen=True)
class AdapterRepo:
    """The built repository, the tiny base model folder, and the adapters trained on it."""

    path: Path
    tiny: Path
    adapters: tuple[str, ...] = ADAPTERS


_MADE: dict[str, AdapterRepo] = {}


def recipe(base: Path, output: str, dataset: Path, seed: int, steps: int = 30) -> str:
    """A training recipe for the tiny model: a few CPU steps at a high learning rate."""
    return (
        f"base_model: {base}\noutput: {output}\ndataset: {dataset}\nmax_length: 256\nseed: {seed}\n"
        "dtype: float32\nlora: {r: 8, lora_alpha: 16, lora_dropout: 0.0, target_modules: all-linear}\n"
        f"sft: {{max_steps: {steps}, per_device_train_batch_size: 4, learning_rate: 0.01, logging_steps: 5,\n"
        "      save_steps: 1000, use_cpu: true, bf16: false, activation_checkpointing: false}\n"
    )


def adapter_repo(factory: pytest.TempPathFactory) -> AdapterRepo:
    """The session's adapter repository, built and trained on first use (about 30 s on one thread)."""
    if "repo" in _MADE:
        return _MADE["repo"]
    import torch

    from ctxeng.pipeline.build import build
    from ctxeng.train.trainer import train

    home = factory.mktemp("adapter-home")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)
        mp.setenv("CTXENG_CACHE_DIR", str(home / "cache"))
        torch.set_num_threads(1)
        tiny = build_tiny_model(factory.mktemp("adapter-tiny") / "model")
        repo = make_sample_repo(factory.mktemp("adapter-repo") / "kvstore")
        for n in (1, 2):  # the codec and the store change together twice: co-change partners
            codec, store = (repo.path / "kvstore" / f for f in ("codec.py", "store.py"))
            repo.commit(
                f"Document format version {n}",
                {
                    "kvstore/codec.py": codec.read_text() + f"\n# format version {n}\n",
                    "kvstore/store.py": store.read_text() + f"\n# format version {n}\n",
                },
            )
        build(repo.path)
        data = write_dataset(factory.mktemp("adapter-data"), *kvstore_rows())
        recipes = factory.mktemp("adapter-recipes")
        for seed, name in enumerate(ADAPTERS):
            (recipes / f"{name}.yaml").write_text(recipe(tiny, name, data, seed), encoding="utf-8")
            train(repo.path, str(recipes / f"{name}.yaml"))
    _MADE["repo"] = AdapterRepo(repo.path, tiny)
    return _MADE["repo"]


def copy_repo(made: AdapterRepo, dest: Path) -> Path:
    """A private copy of the repository (git data, `.ctxeng/` and adapters) at `dest`; returns its path."""
    shutil.copytree(made.path, dest, symlinks=True)
    return dest


@contextmanager
def serve_in_thread(
    engine: Any, root: Path | None = None, token: str | None = None, max_tokens: int = 512
) -> Iterator[str]:
    """Run the real app under uvicorn on a free loopback port in a thread; yields the base URL.

    With `root`, the server is announced in `.ctxeng/serve.json` as `ctxeng serve` does.
    """
    import uvicorn

    from ctxeng.serve.app import create_app
    from ctxeng.serve.local import remove_running, write_running
    from ctxeng.serve.server import bind, url_of

    sock = bind("127.0.0.1", 0)
    url = url_of(sock)
    config = uvicorn.Config(create_app(engine, token, max_tokens), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if root is not None:
        write_running(root, url, engine.names, auth=token is not None)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        if root is not None:
            remove_running(root)
