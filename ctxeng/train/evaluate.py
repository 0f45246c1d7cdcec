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
) -> dict[str, dict[str, Any]]:
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
        loss = total / count if count else None  # a sample whose completions were all cut away
        out[key] = {
            "loss": round(loss, 5) if loss is not None else None,
            "ppl": round(math.exp(min(loss, 50.0)), 4) if loss is not None else None,
            "tokens": int(count),
            "examples": int(examples),
        }
    return out


def evaluate_adapter(
    path: str | Path,
    adapter: str | None = None,
    max_examples: int | None = None,
    probes: int = 8,
    note: Callable[[str], None] = lambda msg: None,
    knowledge: int = 60,
    budget: int = 300,
    threads: int = 1,
) -> dict[str, Any]:
    """Base model vs adapter: what the adapter knows, what retrieval adds, and how it does on the future.

    - knowledge (`train.knowledge`): `knowledge` definition → file questions about facts training
      used, in reserved phrasings, closed-book and grounded with `budget` tokens of retrieved
      context (0 = closed-book only): the 2×2 with 95 % intervals;
    - future: loss/perplexity per task on the held-out newest commits (`max_examples` rows, default
      the recipe's `max_eval_examples`, 0 = all) and `probes` prompts per generation probe (0 = none).

    Held-out losses that training measured on the same rows (same dataset, the recipe's sample) are
    taken from the adapter's manifest. The base side (adapter disabled on the same loaded model) is cached in `.ctxeng/cache/eval-base`
    under a digest of the base model and every input (`train.evalcache`): re-evaluating after a
    retrain only runs the adapter. On a CPU, torch runs `threads` threads (0 = its default): one by
    default, as two OpenMP threads on a busy 2-core machine spin at every barrier (5-35x slower
    steps, training-stack.md). Every value is finite or null (strict JSON).
    """
    import time

    from ctxeng.core.repo import open_repo
    from ctxeng.train import evalcache
    from ctxeng.train.adapters import base_spec, find_adapter, load_adapters, load_base_for, load_settings
    from ctxeng.train.data import load_dataset_files, stratified_sample
    from ctxeng.train.knowledge import contexts_for, knowledge_cells, knowledge_report, questions_from
    from ctxeng.train.models import resolve_base
    from ctxeng.train.probes import (
        CUT_MARK_TOKENS,
        GENERATE_BATCH,
        MAX_NEW_TOKENS,
        ONE_LINE,
        Ticker,
        probe_rows,
        run_probes,
    )

    started = time.perf_counter()
    _threads(threads)
    repo = open_repo(path)
    info = find_adapter(repo.root, adapter)
    recipe = info.manifest.get("recipe", {}).get("content", {})
    data = load_dataset_files(repo.root / recipe.get("dataset", ".ctxeng/dataset"))
    limit = recipe.get("max_eval_examples", 0) if max_examples is None else max_examples
    seed = int(recipe.get("seed", 0))
    rows = stratified_sample(data.eval, limit, seed)
    trained = _training_losses(info.manifest, data.sha256, limit) if rows else None
    questions = questions_from(data.train, knowledge, seed) if knowledge else []
    if not rows and not questions:
        raise CtxengError(
            "nothing to evaluate: the held-out split is empty and the dataset has no facts rows",
            hint="rebuild the dataset with `ctxeng build` (a repository needs some history for a held-out split)",
        )
    contexts = contexts_for(repo.root, questions, budget) if questions and budget else None
    if questions and budget and contexts is None:
        note("no context index: grounded questions skipped (run `ctxeng build`)")
    max_length = int(recipe.get("max_length", 1024))
    note(f"loading the base model and adapter {info.name}")
    base, tokenizer = load_base_for(repo.root, [str(info.path)])
    model = _to_device(load_adapters(base, [str(info.path)], repo.root))
    located = resolve_base(base_spec(info))
    inputs = {
        "loss_rows": rows,
        "max_length": max_length,
        "probes": {t: probe_rows(data.eval, t, probes) for t in MAX_NEW_TOKENS} if probes else {},
        "questions": [[q.symbol, q.path, q.text] for q in questions],
        "contexts": contexts,
        "repo": repo.name,
        "generation": [knowledge_tokens(), MAX_NEW_TOKENS, GENERATE_BATCH, sorted(ONE_LINE), CUT_MARK_TOKENS],
        "device": str(next(model.parameters()).device),
    }
    key = evalcache.cache_key(
        evalcache.model_identity(located.spec, located.location, list(load_settings(info))), inputs
    )
    cached = evalcache.read(repo.root, key)
    results: dict[str, Any] = {}
    cells: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    for side in ("base", "adapter"):
        if side == "base" and cached is not None:
            note(
                "base model: answers and losses reused from .ctxeng/cache/eval-base (same model and questions)"
            )
            results["base"], cells["base"], answers["base"] = (
                tuple(cached["results"]),
                cached["cells"],
                cached["answers"],
            )
            continue
        if side == "adapter" and not _quantized(model):
            # Folded into the weights, the LoRA matrices cost nothing per token (unmerged they made
            # the adapter's side ~1.3-1.8x slower than the base's); the base side has run already.
            model.merge_adapter()
        with model.disable_adapter() if side == "base" else contextlib.nullcontext():
            if trained is not None:  # training measured these very rows before and after: reuse them
                losses = trained["before" if side == "base" else "after"]
                note(f"{side}: held-out loss of {len(rows)} examples as measured by training (same rows)")
            elif rows:
                losses = task_losses(
                    model, tokenizer, rows, max_length, Ticker(note, f"{side}: held-out loss")
                )
            else:
                losses = {}
            found = (
                run_probes(model, tokenizer, data.eval, probes, note, f"{side}: ", max_length)
                if probes
                else {}
            )
            results[side] = (losses, found)
            cells[side], answers[side] = (
                knowledge_cells(model, tokenizer, repo.name, questions, contexts, side, note)
                if questions
                else ({}, {})
            )
        if side == "base":
            value = {"results": list(results["base"]), "cells": cells["base"], "answers": answers["base"]}
            evalcache.write(repo.root, key, finite(value))
    report = _report(info, data, rows, results, time.perf_counter() - started)
    report["base_cached"] = cached is not None
    report["losses_from"] = "training" if trained is not None else "eval"
    report["knowledge"] = knowledge_report(questions, contexts, cells, answers, budget) if questions else None
    result: dict[str, Any] = finite(report)
    return result


def _threads(threads: int) -> None:
    import torch

    if threads > 0 and not torch.cuda.is_available():
        torch.set_num_threads(threads)


def _training_losses(manifest: dict[str, Any], dataset_sha: str, limit: int) -> dict[str, Any] | None:
    """The held-out losses training measured (before and after), when they are of the rows this eval
    would score: the same dataset and the recipe's own sample size (the sample is seeded the same)."""
    measured = manifest.get("eval") or {}
    recipe = manifest.get("recipe", {}).get("content", {})
    same = manifest.get("dataset", {}).get("sha256") == dataset_sha and limit == recipe.get(
        "max_eval_examples", 0
    )
    if same and all(isinstance(measured.get(k), dict) and measured[k] for k in ("before", "after")):
        return {"before": measured["before"], "after": measured["after"]}
    return None


def knowledge_tokens() -> int:
    """`max_new_tokens` of a knowledge answer (part of the base cache's key)."""
    from ctxeng.train.knowledge import MAX_NEW_TOKENS

    return MAX_NEW_TOKENS


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None, so it serialises as strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _to_device(model: Any) -> Any:
    """The model on the GPU when there is one; a quantized model is already placed (and cannot move)."""
    import torch

    if not torch.cuda.is_available() or getattr(model, "is_quantized", False) or _quantized(model):
        return model
    return model.to("cuda")


def _quantized(model: Any) -> bool:
    base = getattr(model, "get_base_model", lambda: model)()
    return bool(getattr(base, "is_loaded_in_4bit", False) or getattr(base, "is_loaded_in_8bit", False))


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
            "delta": round(a["loss"] - b["loss"], 5)
            if a["loss"] is not None and b["loss"] is not None
            else None,
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
        "losses": losses,  # the future: held-out newest commits
        "probes": probes,
        "seconds": round(seconds, 1),
    }
