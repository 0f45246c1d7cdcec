"""Held-out evaluation: completion-only loss and perplexity per task, for a base model and an adapter.

The loss is computed the way TRL trains: the prompt rendered with the chat template and a
generation prompt, the completion = the tokens after the common prefix with the full rendered
conversation, truncated at `max_length` (keep the start). Every example is its own padded row
(no packing) and the forward pass runs with `use_cache=False`, so no example sees another.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError

#: progress(done, total)
Progress = Callable[[int, int], None]
TOKENS_PER_BATCH = 1024  # padded tokens per forward pass: bounds the (batch x length x vocab) logits


def encode_example(tokenizer: Any, row: dict[str, Any], max_length: int) -> tuple[list[int], int]:
    """Token ids of prompt + completion (truncated) and the index where the completion starts."""
    prompt = tokenizer.apply_chat_template(
        row["prompt"], tokenize=True, add_generation_prompt=True, return_dict=True
    )
    full = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True, return_dict=True)
    prompt_ids, ids = list(prompt["input_ids"]), list(full["input_ids"])
    start = 0
    for a, b in zip(prompt_ids, ids):  # where they diverge, like TRL's common_prefix_length
        if a != b:
            break
        start += 1
    return ids[:max_length], start


def _batches(lengths: list[int]) -> list[list[int]]:
    # Longest first, so each batch pads little and memory peaks at the first batch.
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for index in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= TOKENS_PER_BATCH:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def completion_nll(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], max_length: int, progress: Progress | None = None
) -> list[tuple[float, int]]:
    """Per row: (sum of the negative log-likelihood of its completion tokens, number of those tokens)."""
    import torch

    encoded = [encode_example(tokenizer, row, max_length) for row in rows]
    lengths = [len(ids) for ids, _ in encoded]
    results: list[tuple[float, int]] = [(0.0, 0)] * len(rows)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    done = 0
    with torch.inference_mode():
        for batch in _batches(lengths):
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.zeros((len(batch), width), dtype=torch.bool)
            for row, index in enumerate(batch):
                tokens, start = encoded[index]
                ids[row, : len(tokens)] = torch.tensor(tokens)
                mask[row, : len(tokens)] = 1
                labels[row, start : len(tokens)] = True
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).logits
            logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            target = ids[:, 1:].to(device)
            picked = logprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            scored = labels[:, 1:].to(device)
            for row, index in enumerate(batch):
                nll = -picked[row][scored[row]].sum().item()
                results[index] = (nll, int(scored[row].sum().item()))
            done += len(batch)
            if progress:
                progress(done, len(rows))
    model.train(was_training)
    return results


def task_losses(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], max_length: int, progress: Progress | None = None
) -> dict[str, dict[str, float]]:
    """Token-weighted completion loss and perplexity per task, plus `all` over every row."""
    nll = completion_nll(model, tokenizer, rows, max_length, progress)
    sums: dict[str, list[float]] = {}
    for row, (row_nll, row_tokens) in zip(rows, nll):
        for key in (str(row["task"]), "all"):
            acc = sums.setdefault(key, [0.0, 0.0, 0.0])
            acc[0] += row_nll
            acc[1] += row_tokens
            acc[2] += 1
    out = {}
    for key, (total, count, examples) in sorted(sums.items()):
        loss = total / count if count else float("nan")
        out[key] = {
            "loss": round(loss, 5),
            "ppl": round(math.exp(min(loss, 50.0)), 4),
            "tokens": int(count),
            "examples": int(examples),
        }
    return out


def evaluate_adapter(
    path: str | Path,
    adapter: str | None = None,
    max_examples: int | None = None,
    probes: int = 16,
    note: Callable[[str], None] = lambda msg: None,
) -> dict[str, Any]:
    """Base model vs adapter on the held-out split: loss/perplexity per task and generation probes.

    `max_examples` caps the loss rows (default: the recipe's `max_eval_examples`; 0 = all);
    `probes` caps the prompts per generation probe (0 = skip probes).
    """
    import time

    from ctxeng.core.repo import open_repo
    from ctxeng.train.adapters import find_adapter, load_adapters, load_base_for
    from ctxeng.train.data import load_dataset_files, stratified_sample
    from ctxeng.train.probes import run_probes

    started = time.perf_counter()
    repo = open_repo(path)
    info = find_adapter(repo.root, adapter)
    recipe = info.manifest.get("recipe", {}).get("content", {})
    data = load_dataset_files(repo.root / recipe.get("dataset", ".ctxeng/dataset"))
    limit = recipe.get("max_eval_examples", 0) if max_examples is None else max_examples
    rows = stratified_sample(data.eval, limit, int(recipe.get("seed", 0)))
    if not rows:
        raise CtxengError(
            "the held-out split is empty", hint="a repository needs some history for a held-out split"
        )
    max_length = int(recipe.get("max_length", 1024))
    note(f"loading the base model and adapter {info.name}")
    base, tokenizer = load_base_for(repo.root, [str(info.path)], str(recipe.get("dtype", "auto")))
    model = _to_device(load_adapters(base, [str(info.path)], repo.root))
    results: dict[str, Any] = {}
    for side in ("base", "adapter"):
        with model.disable_adapter() if side == "base" else contextlib.nullcontext():
            note(f"{side}: held-out loss on {len(rows)} examples")
            losses = task_losses(model, tokenizer, rows, max_length)
            results[side] = (losses, run_probes(model, tokenizer, data.eval, probes, note) if probes else {})
    return _report(info, data, rows, results, time.perf_counter() - started)


def _to_device(model: Any) -> Any:
    import torch

    return model.to("cuda") if torch.cuda.is_available() else model


def _report(
    info: Any, data: Any, rows: list[dict[str, Any]], results: dict[str, Any], seconds: float
) -> dict[str, Any]:
    (base_loss, base_probes), (ada_loss, ada_probes) = results["base"], results["adapter"]
    losses = {}
    for task in sorted(base_loss):
        b, a = base_loss[task], ada_loss[task]
        losses[task] = {
            "examples": b["examples"],
            "tokens": b["tokens"],
            "base_loss": b["loss"],
            "adapter_loss": a["loss"],
            "base_ppl": b["ppl"],
            "adapter_ppl": a["ppl"],
            "delta": round(a["loss"] - b["loss"], 5),
        }
    probes = {}
    for task in sorted(ada_probes):
        a, b = dict(ada_probes[task]), dict(base_probes.get(task, {}))
        examples = {"base": b.pop("examples", []), "adapter": a.pop("examples", [])}
        probes[task] = {
            "n": a.pop("n"),
            "base": {k: v for k, v in b.items() if k != "n"},
            "adapter": a,
            "examples": examples,
        }
    trained_on = info.manifest.get("dataset", {}).get("sha256")
    return {
        "adapter": info.name,
        "path": str(info.path),
        "base_model": info.manifest.get("base_model", {}).get("spec", ""),
        "dataset": {
            "sha256": data.sha256,
            "same_as_training": trained_on == data.sha256 if trained_on else None,
            "eval_rows": len(data.eval),
            "examples": len(rows),
        },
        "losses": losses,
        "probes": probes,
        "seconds": round(seconds, 1),
    }
