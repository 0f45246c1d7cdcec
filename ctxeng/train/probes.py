"""Generation probes: does the model answer held-out questions about the repository correctly?

- symbol lookup: the greedy answer contains the defining file (`meta.answer_path`);
- commit message: the greedy subject line (generation stops at its newline) against the real
  one: ROUGE-L F1 and the share reproduced exactly. The diff is cut to the tokens the adapter was
  trained on (the recipe's `max_length`): a longer prompt costs prefill time and shows the model
  what training never did.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

PROBE_TASKS = ("symbol_lookup", "commit_message")
# Short: the symbol probe scores the path (said first), the commit probe the subject line.
MAX_NEW_TOKENS = {"symbol_lookup": 32, "commit_message": 24}
ONE_LINE = frozenset({"commit_message"})  # answers that stop at their first newline
CUT_MARK_TOKENS = 8  # room for what marks a cut prompt ("…" and a closing fence)
GENERATE_BATCH = 16  # on a CPU a decode step of 16 rows costs little more than one of 8
_WORD = re.compile(r"\w+|[^\w\s]")


def probe_rows(rows: list[dict[str, Any]], task: str, limit: int) -> list[dict[str, Any]]:
    """The held-out rows a probe uses (those with what it checks against), at most `limit`, stable order."""
    chosen = [r for r in rows if r["task"] == task]
    if task == "symbol_lookup":
        chosen = [r for r in chosen if isinstance(r.get("meta", {}).get("answer_path"), str)]
    chosen.sort(key=lambda r: str(r["id"]))
    return chosen[:limit] if limit else chosen


def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[list[dict[str, str]]],
    max_new_tokens: int,
    progress: Callable[[int, int], None] | None = None,
    one_line: bool = False,
    batch_size: int = 0,
) -> list[str]:
    """Greedy answers to chat prompts, batched with left padding; `progress(done, total)` after each batch.

    Prompts are batched by token length (little padding), answers come back in the prompts' order.
    With `one_line`, a row stops at its first newline (a batch ends when every row has) and the
    answer is that line: a one-line answer costs its own tokens, not `max_new_tokens`.
    """
    import torch

    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues at the right end of every row
    size = batch_size or GENERATE_BATCH
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: (lengths[i], i))
    answers: dict[int, str] = {}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            batch = tokenizer(
                [texts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(device)
            width = batch["input_ids"].shape[1]
            stop = {"stopping_criteria": _first_line(tokenizer, width)} if one_line else {}
            with torch.inference_mode():
                out = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    **stop,
                )
            new = out[:, batch["input_ids"].shape[1] :]
            for i, text in zip(chunk, tokenizer.batch_decode(new, skip_special_tokens=True)):
                answers[i] = (text.strip().split("\n", 1)[0].strip()) if one_line else text.strip()
            if progress is not None:
                progress(min(start + size, len(order)), len(order))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return [answers[i] for i in range(len(texts))]


def _first_line(tokenizer: Any, start: int) -> Any:
    """Stopping criteria ending each row once its answer (leading blank lines aside) has a newline."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class FirstLine(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            return torch.tensor(["\n" in t.lstrip() for t in texts], device=input_ids.device)

    return StoppingCriteriaList([FirstLine()])


class Ticker:
    """progress(done, total) for one probe: a line with the rate and an ETA, at most every `every` s."""

    def __init__(self, note: Callable[[str], None], label: str, every: float = 5.0) -> None:
        self.note, self.label, self.every = note, label, every
        self.started = time.perf_counter()
        self.shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self.shown < self.every:
            return
        self.shown = now
        spent = now - self.started
        eta = spent / done * (total - done) if done else 0.0
        tail = f"ETA {eta:.0f} s" if done < total else f"done in {spent:.0f} s"
        self.note(f"{self.label}: {done}/{total} ({tail})")


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
    rouge = sum(rouge_l(_subject(a), _subject(ref)) for a, ref in zip(answers, refs)) / len(rows)
    exact = sum(_subject(a) == _subject(ref) for a, ref in zip(answers, refs)) / len(rows)
    return {"rouge_l": round(rouge, 4), "subject_exact": round(exact, 4)}


def run_probes(
    model: Any,
    tokenizer: Any,
    rows: list[dict[str, Any]],
    limit: int,
    note: Callable[[str], None] = lambda m: None,
    label: str = "",
    max_length: int = 0,
) -> dict[str, dict[str, Any]]:
    """Every probe on `rows` with `model` as it is (adapter on or off): metrics and a few examples.

    With `max_length`, a prompt plus its answer fits that many tokens (`fit_prompt`).
    """
    out: dict[str, dict[str, Any]] = {}
    for task in PROBE_TASKS:
        chosen = probe_rows(rows, task, limit)
        if not chosen:
            continue
        chats = [r["prompt"] for r in chosen]
        if max_length:
            chats = [fit_prompt(tokenizer, c, max_length - MAX_NEW_TOKENS[task]) for c in chats]
        answers = generate(
            model,
            tokenizer,
            chats,
            MAX_NEW_TOKENS[task],
            Ticker(note, f"{label}probe {task}"),
            one_line=task in ONE_LINE,
        )
        out[task] = {
            "n": len(chosen),
            **score(task, chosen, answers),
            "examples": [{"id": r["id"], "answer": a} for r, a in zip(chosen[:3], answers[:3])],
        }
    return out


def fit_prompt(tokenizer: Any, chat: list[dict[str, str]], limit: int) -> list[dict[str, str]]:
    """`chat` with its last message's text cut (keeping its start, closing a code fence the cut left
    open) so that the templated prompt has at most `limit` tokens; unchanged when it fits."""
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    over = len(tokenizer(text, add_special_tokens=False)["input_ids"]) - limit
    if over <= 0 or limit <= 0:
        return chat
    ids = tokenizer(chat[-1]["content"], add_special_tokens=False)["input_ids"]
    cut = tokenizer.decode(ids[: max(0, len(ids) - over - CUT_MARK_TOKENS)])
    tail = "\n…\n```\n" if cut.count("```") % 2 else "\n…\n"
    return [*chat[:-1], {**chat[-1], "content": cut + tail}]
