"""Generation probes: does the model answer held-out questions about the repository correctly?

- symbol lookup: the greedy answer contains the defining file (`meta.answer_path`);
- commit message: ROUGE-L F1 of the greedy message against the real one, and the share of
  exactly reproduced subject lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

PROBE_TASKS = ("symbol_lookup", "commit_message")
MAX_NEW_TOKENS = {"symbol_lookup": 48, "commit_message": 64}
GENERATE_BATCH = 8
_WORD = re.compile(r"\w+|[^\w\s]")


def probe_rows(rows: list[dict[str, Any]], task: str, limit: int) -> list[dict[str, Any]]:
    """The held-out rows a probe uses (those with what it checks against), at most `limit`, stable order."""
    chosen = [r for r in rows if r["task"] == task]
    if task == "symbol_lookup":
        chosen = [r for r in chosen if isinstance(r.get("meta", {}).get("answer_path"), str)]
    chosen.sort(key=lambda r: str(r["id"]))
    return chosen[:limit] if limit else chosen


def generate(
    model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]], max_new_tokens: int
) -> list[str]:
    """Greedy answers to chat prompts (batched with left padding)."""
    import torch

    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues at the right end of every row
    answers: list[str] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(prompts), GENERATE_BATCH):
            chunk = prompts[start : start + GENERATE_BATCH]
            texts = [
                tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in chunk
            ]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.inference_mode():
                out = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, batch["input_ids"].shape[1] :]
            answers.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return [a.strip() for a in answers]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word and punctuation tokens."""
    a, b = _WORD.findall(candidate.lower()), _WORD.findall(reference.lower())
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:  # longest common subsequence, one row at a time
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def _subject(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def score(task: str, rows: list[dict[str, Any]], answers: list[str]) -> dict[str, float]:
    """The probe's metrics for answers to `rows` (accuracy, or ROUGE-L and subject match)."""
    if not rows:
        return {}
    if task == "symbol_lookup":
        hits = sum(r["meta"]["answer_path"] in a for r, a in zip(rows, answers))
        return {"accuracy": round(hits / len(rows), 4)}
    refs = [r["completion"][0]["content"] for r in rows]
    rouge = sum(rouge_l(a, ref) for a, ref in zip(answers, refs)) / len(rows)
    exact = sum(_subject(a) == _subject(ref) for a, ref in zip(answers, refs)) / len(rows)
    return {"rouge_l": round(rouge, 4), "subject_exact": round(exact, 4)}


def run_probes(
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    limit: int,
    note: Callable[[str], None] = lambda m: None,
) -> dict[str, dict[str, Any]]:
    """Every probe on `rows` with `model` as it is (adapter on or off): metrics and a few examples."""
    out: dict[str, dict[str, Any]] = {}
    for task in PROBE_TASKS:
        chosen = probe_rows(rows, task, limit)
        if not chosen:
            continue
        note(f"probe {task}: {len(chosen)} prompts")
        answers = generate(model, tokenizer, [r["prompt"] for r in chosen], MAX_NEW_TOKENS[task])
        out[task] = {
            "n": len(chosen),
            **score(task, chosen, answers),
            "examples": [{"id": r["id"], "answer": a} for r, a in zip(chosen[:3], answers[:3])],
        }
    return out
