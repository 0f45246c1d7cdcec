"""The knowledge probe: does the adapter know where the repository's definitions are, closed-book and grounded?

Questions are about facts training used (the `facts` rows of the train split: definition → file at
HEAD), asked in the phrasings `dataset.templates.EVAL_DEFINED_IN` reserves for evaluation, so a
right answer shows knowledge that generalises past the wording it was trained on. Each question is
asked closed-book and grounded (with the context `ctxeng context` retrieves for it, as `ctxeng ask`
does, and asking for the path only), to the base model and to the adapter: the 2×2. An answer is
*exact* when the first file path it names is the defining file. Every cell has a 95 % Wilson
interval; the grounded cells also report the questions whose retrieved context really shows the
definition (`answerable`) separately from those where retrieval missed it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.dataset.templates import EVAL_DEFINED_IN, PATH_ONLY, first_path, grounded_user
from ctxeng.train.probes import Ticker, generate

DEFAULT_QUESTIONS = 60
# Tokens of retrieved context per grounded question. Prefilling the context is most of an eval's
# time; 300 shows the definition as often as 700 did (requests 57/60, gin 56/60 at both) at 40 %
# of the tokens (bench/README.md, "Knowledge adapter").
DEFAULT_BUDGET = 300
MAX_NEW_TOKENS = 24  # "`X` is defined in `a/b/c.py`, line 12." is ~20 tokens; generation stops at a newline
SIDES = ("base", "adapter")
MODES = ("closed_book", "grounded")

Note = Callable[[str], None]


@dataclass(frozen=True)
class Question:
    """One knowledge question: the definition, its file, and the reserved phrasing used."""

    symbol: str
    path: str
    text: str


def _rank(*key: str) -> int:
    return int.from_bytes(hashlib.sha1("\x1f".join(key).encode()).digest()[:8], "big")


def questions_from(train_rows: list[dict[str, Any]], limit: int, seed: int = 0) -> list[Question]:
    """Up to `limit` definition → file questions about facts in the train split, in reserved phrasings.

    Deterministic: symbols ordered by a seeded hash; the phrasing is chosen by another.
    """
    facts: dict[str, str] = {}
    for row in train_rows:
        meta = row.get("meta") or {}
        if row.get("task") == "facts" and meta.get("symbol") and meta.get("answer_path"):
            facts.setdefault(str(meta["symbol"]), str(meta["answer_path"]))
    names = sorted(facts, key=lambda s: (_rank(str(seed), "knowledge", s), s))[:limit]
    out = []
    for name in names:
        template = EVAL_DEFINED_IN[_rank(str(seed), "template", name) % len(EVAL_DEFINED_IN)]
        out.append(Question(name, facts[name], template.format(name=name)))
    return out


def wilson(hits: int, n: int, z: float = 1.96) -> list[float] | None:
    """The 95 % Wilson score interval of a proportion (None for n = 0)."""
    if n <= 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def score(questions: list[Question], answers: list[str], contexts: list[str] | None = None) -> dict[str, Any]:
    """Exact (first path named = the defining file), contains-the-path and right-file-name rates.

    With `contexts` (grounded), also exact on the questions whose context shows the definition
    (`answerable`) and the symbols whose context does not (`not_in_context`).
    """
    n = len(questions)
    exact = sum(first_path(a) == q.path for q, a in zip(questions, answers))
    contains = sum(q.path in a for q, a in zip(questions, answers))
    named = sum(q.path.rsplit("/", 1)[-1] in a for q, a in zip(questions, answers))
    rate = (lambda k: round(k / n, 4)) if n else (lambda k: None)
    cell: dict[str, Any] = {
        "n": n,
        "exact": rate(exact),
        "exact_hits": exact,
        "ci95": wilson(exact, n),
        "contains_path": rate(contains),
        "file_name": rate(named),
    }
    if contexts is not None:
        shown = [in_context(q, c) for q, c in zip(questions, contexts)]
        k = sum(shown)
        hits = sum(first_path(a) == q.path for q, a, s in zip(questions, answers, shown) if s)
        cell["answerable"] = {
            "n": k,
            "exact": round(hits / k, 4) if k else None,
            "exact_hits": hits,
            "ci95": wilson(hits, k),
        }
        cell["not_in_context"] = [q.symbol for q, s in zip(questions, shown) if not s]
    return cell


def in_context(question: Question, context: str) -> bool:
    """Whether a retrieved context shows the question's definition: a line with its `path:line` and name."""
    shown = re.compile(rf"^- `{re.escape(question.path)}:\d+` `{re.escape(question.symbol)}`", re.MULTILINE)
    return shown.search(context) is not None


def contexts_for(root: Path, questions: list[Question], budget: int) -> list[str] | None:
    """The retrieved context of every question (None when the repository has no context index)."""
    from ctxeng.core.errors import CtxengError
    from ctxeng.pack import context_for_prompt

    try:
        return [context_for_prompt(root, q.text, budget, layout="lines") for q in questions]
    except CtxengError:
        return None


def prompts(
    repo_name: str, questions: list[Question], contexts: list[str] | None
) -> list[list[dict[str, str]]]:
    """Chat prompts: the training system message, then the question (after its context when grounded)."""
    from ctxeng.dataset.builder import system_message

    system = {"role": "system", "content": system_message(repo_name)}
    if contexts is None:
        return [[system, {"role": "user", "content": q.text}] for q in questions]
    return [
        [system, {"role": "user", "content": grounded_user(c, f"{q.text} {PATH_ONLY}")}]
        for q, c in zip(questions, contexts)
    ]


def ask_all(
    model: Any, tokenizer: Any, chats: list[list[dict[str, str]]], note: Note, label: str
) -> list[str]:
    """Greedy one-line answers to every chat (batched), with progress."""
    return generate(model, tokenizer, chats, MAX_NEW_TOKENS, Ticker(note, label), one_line=True)


def knowledge_cells(
    model: Any,
    tokenizer: Any,
    repo_name: str,
    questions: list[Question],
    contexts: list[str] | None,
    side: str,
    note: Note,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """One side (model as it is: adapter on or off) of the 2×2: scores per mode and the answers."""
    cells: dict[str, Any] = {}
    answers: dict[str, list[str]] = {}
    for mode in MODES:
        if mode == "grounded" and contexts is None:
            cells[mode] = None
            continue
        chats = prompts(repo_name, questions, contexts if mode == "grounded" else None)
        answers[mode] = ask_all(model, tokenizer, chats, note, f"{side}: knowledge {mode.replace('_', '-')}")
        cells[mode] = score(questions, answers[mode], contexts if mode == "grounded" else None)
    return cells, answers


def knowledge_report(
    questions: list[Question],
    contexts: list[str] | None,
    cells: dict[str, dict[str, Any]],
    answers: dict[str, dict[str, list[str]]],
    budget: int,
    samples: int = 4,
) -> dict[str, Any]:
    """The 2×2 (mode × side), the reserved templates used, and a few sample answers."""
    table = {mode: {side: cells[side].get(mode) for side in SIDES} for mode in MODES}
    examples = []
    for i, q in enumerate(questions[:samples]):
        entry: dict[str, Any] = {"symbol": q.symbol, "path": q.path, "question": q.text}
        for mode in MODES:
            if all(mode in answers[side] for side in SIDES):
                entry[mode] = {side: answers[side][mode][i] for side in SIDES}
        examples.append(entry)
    paths = [q.path for q in questions]
    top = max(sorted(set(paths)), key=paths.count) if paths else ""
    return {
        "questions": len(questions),
        # What always answering the most common defining file would score (gin: context.go).
        "most_common_path": {
            "path": top,
            "share": round(paths.count(top) / len(paths), 4) if paths else None,
        },
        "templates": list(EVAL_DEFINED_IN),
        "context_budget": budget,
        "grounded_available": contexts is not None,
        "table": table,
        "examples": examples,
    }


def knowledge_curve(
    root: Path, marks: list[dict[str, Any]], limit: int, grounded_at_end: bool, note: Note
) -> dict[str, Any]:
    """Closed-book accuracy of adapter snapshots (`marks`: minutes, path) against minutes of training.

    Minute 0 is the base model. With `grounded_at_end`, the base and the last snapshot also get
    the grounded questions. Used by `bench/adapter_curve.py`.
    """
    from peft import PeftModel

    from ctxeng.core.repo import open_repo
    from ctxeng.train.adapters import load_base_for
    from ctxeng.train.data import load_dataset_files

    repo = open_repo(root)
    data = load_dataset_files(repo.root / ".ctxeng" / "dataset")
    questions = questions_from(data.train, limit)
    paths = [str(Path(m["path"])) for m in marks]
    base, tokenizer = load_base_for(repo.root, [paths[-1]], "float32")
    contexts = contexts_for(repo.root, questions, DEFAULT_BUDGET) if grounded_at_end else None
    points: list[dict[str, Any]] = []
    model = PeftModel.from_pretrained(base, paths[0], adapter_name="m0")
    for i, path in enumerate(paths[1:], 1):
        model.load_adapter(path, adapter_name=f"m{i}")
    model.eval()
    with model.disable_adapter():
        cells, _ = knowledge_cells(model, tokenizer, repo.name, questions, contexts, "minute 0 (base)", note)
    points.append({"minutes": 0.0, "step": 0, "tokens": 0, **_flat(cells)})
    for i, mark in enumerate(marks):
        model.set_adapter(f"m{i}")
        use = contexts if i == len(marks) - 1 else None
        cells, _ = knowledge_cells(
            model, tokenizer, repo.name, questions, use, f"minute {mark['minutes']}", note
        )
        points.append(
            {
                **{k: mark[k] for k in ("minutes", "step", "tokens")},
                "adapter": Path(mark["path"]).name,
                **_flat(cells),
            }
        )
    return {"repo": repo.name, "questions": len(questions), "points": points}


def _flat(cells: dict[str, Any]) -> dict[str, Any]:
    return {mode: cell for mode, cell in cells.items() if cell is not None}
