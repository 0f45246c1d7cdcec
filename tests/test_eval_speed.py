"""What keeps `ctxeng eval` within minutes: batched one-line generation and the base model's cache.

Batched generation (left padding, rows sorted by length) must give the answers each prompt gets
alone; the base side's cache key must change whenever the model or any question does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.tinymodel import build_tiny_model


def _chats() -> list[list[dict[str, str]]]:
    system = {"role": "system", "content": "You are an expert on the kvstore repository."}
    questions = [
        "Where is `Store.put` defined?",
        "Which file defines `encode_record`? " + "Context: `kvstore/codec.py:3` `encode_record`. " * 6,
        "List the methods of `Store`.",
        "What is the signature of `decode_record`? " + "kvstore/codec.py " * 20,
        "Where can I find `HEADER`?",
    ]
    return [[system, {"role": "user", "content": q}] for q in questions]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    folder = build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    model = AutoModelForCausalLM.from_pretrained(folder)
    torch.manual_seed(6)
    with torch.no_grad():  # larger random weights: the untrained model only ever says "\n"
        for param in model.parameters():
            param.normal_(0.0, 0.3)
    return model, AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("one_line", [False, True])
def test_batched_generation_gives_the_unbatched_answers(tiny: tuple[object, object], one_line: bool) -> None:
    from ctxeng.train.probes import generate

    model, tokenizer = tiny
    chats = _chats()
    batched = generate(model, tokenizer, chats, 16, one_line=one_line, batch_size=4)
    alone = [generate(model, tokenizer, [chat], 16, one_line=one_line, batch_size=1)[0] for chat in chats]
    assert batched == alone
    assert any(batched)  # the random model says something, so the comparison means something
    if one_line:
        assert not any("\n" in a for a in batched)
        full = generate(model, tokenizer, chats, 16, batch_size=4)
        assert [f.split("\n", 1)[0].strip() for f in full] == batched  # the first line, cut early
        assert any("\n" in f for f in full)  # some answers did go on past their first line


def test_base_cache_key_follows_the_model_and_the_inputs(tmp_path: Path) -> None:
    from ctxeng.train import evalcache

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    weights = model / "model.safetensors"
    weights.write_bytes(b"w" * 64)
    inputs = {"questions": [["Store", "kvstore/store.py", "Which file?"]], "contexts": None}

    def key(**change: object) -> str:
        identity = evalcache.model_identity(str(model), str(model), ["float32", None])
        return evalcache.cache_key(identity, {**inputs, **change})

    first = key()
    assert key() == first  # stable: same model, same questions
    assert key(questions=[["Store", "kvstore/store.py", "Which source file?"]]) != first
    assert key(contexts=["- `kvstore/store.py:3` `Store`"]) != first
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the model was replaced
    assert key() != first
    touched = key()
    weights.write_bytes(b"w" * 65)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert key() != touched  # same time, other size
    other = evalcache.cache_key(evalcache.model_identity("other", str(model), ["bfloat16", None]), inputs)
    assert other != key()

    root = tmp_path / "repo"
    assert evalcache.read(root, first) is None
    evalcache.write(root, first, {"cells": {"closed_book": {"exact": 0.5}}})
    assert evalcache.read(root, first) == {"cells": {"closed_book": {"exact": 0.5}}, "key": first}
    assert evalcache.read(root, touched) is None
    path = root / evalcache.FOLDER / f"{first}.json"
    json.loads(path.read_text(encoding="utf-8"))  # strict JSON on disk
    path.write_text("{not json", encoding="utf-8")
    assert evalcache.read(root, first) is None  # a damaged entry is a miss, not an error
    with pytest.raises(ValueError):
        evalcache.write(root, first, {"loss": float("nan")})
    for n in range(evalcache.KEEP + 3):  # old entries are dropped, the newest kept
        evalcache.write(root, f"k{n:02d}", {"n": n})
    kept = sorted(p.stem for p in (root / evalcache.FOLDER).glob("*.json"))
    assert len(kept) == evalcache.KEEP and f"k{evalcache.KEEP + 2:02d}" in kept
