"""Offline test fixtures for training: a tiny Llama model + BPE tokenizer, and a kvstore dataset.

Nothing is downloaded. The tokenizer is trained with `tokenizers` on a fixed corpus (the sample
repository's files and the dataset rows), the model is a randomly initialised 2-layer Llama
(a Llama config keeps tokenizer.json as trained; `qwen2` would force Qwen2's pre-tokenizer on
reload). Building both takes about a second.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests import sample_repo
from tests.gitrepo import BASE_TIME

SYSTEM = "You are an expert on the kvstore repository."
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# (symbol, defining file, index of the commit that last touched the definition)
SYMBOLS = [
    ("HEADER", "kvstore/codec.py", 0),
    ("encode_record", "kvstore/codec.py", 0),
    ("decode_record", "kvstore/codec.py", 0),
    ("Store", "kvstore/store.py", 1),
    ("put", "kvstore/store.py", 1),
    ("get", "kvstore/store.py", 1),
    ("close", "kvstore/store.py", 1),
    ("main", "kvstore/cli.py", 7),
    ("getValue", "clients/js/client.js", 8),
    ("Client", "clients/js/client.js", 8),
    ("Result", "tools/bench/bench.go", 9),
    ("Rate", "tools/bench/bench.go", 9),
    ("TOMBSTONE", "kvstore/codec.py", 11),
    ("is_tombstone", "kvstore/codec.py", 11),
    ("delete", "kvstore/store.py", 11),
    ("compact", "kvstore/compact.py", 13),
]
HELD_OUT_FROM = 11  # rows from commit 11 on are the eval split (the newest commits)


def isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    """The conftest isolation (fixed git identity, no user config, no network) for module-scoped fixtures."""
    for var in list(os.environ):
        if var.startswith("GIT_"):
            mp.delenv(var)
    values = {
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Ada Tester", "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_COMMITTER_NAME": "Ada Tester",
        "GIT_COMMITTER_EMAIL": "ada@example.com", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    }  # fmt: skip
    for key, value in values.items():
        mp.setenv(key, value)


def _row(
    task: str, key: str, question: str, answer: str, commit: int, meta: dict[str, str]
) -> dict[str, Any]:
    return {
        "id": f"{task}-{key}",
        "task": task,
        "source": f"rec-{key}",
        "commit": f"{commit:040x}",
        "time": BASE_TIME + 3600 * commit,
        "meta": meta,
        "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        "completion": [{"role": "assistant", "content": answer}],
    }


def kvstore_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train and eval rows in ctxeng's dataset format, split by commit time like `ctxeng build`."""
    rows = []
    for name, path, commit in SYMBOLS:
        rows.append(
            _row(
                "symbol_lookup",
                name,
                f"Where is `{name}` defined?",
                f"`{name}` is defined in `{path}`.",
                commit,
                {"path": path, "symbol": name, "answer_path": path},
            )
        )
    for index, (message, files) in enumerate(sample_repo.COMMITS):
        changed = ", ".join(sorted(files))
        rows.append(
            _row(
                "commit_message",
                f"c{index}",
                f"Write the commit message for a change to {changed}.",
                message,
                index,
                {"path": min(files)},
            )
        )
    train = [r for r in rows if r["time"] < BASE_TIME + 3600 * HELD_OUT_FROM]
    held = [r for r in rows if r["time"] >= BASE_TIME + 3600 * HELD_OUT_FROM]
    return train, held


def write_dataset(root: Path, train: list[dict[str, Any]], held: list[dict[str, Any]]) -> Path:
    """Write `.ctxeng/dataset/{train,eval}.jsonl` under `root`; returns the dataset folder."""
    folder = root / ".ctxeng" / "dataset"
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("eval", held)):
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
        (folder / f"{name}.jsonl").write_text(text, encoding="utf-8")
    return folder


def _corpus() -> list[str]:
    texts = [v for k, v in sorted(vars(sample_repo).items()) if isinstance(v, str) and k.isupper()]
    train, held = kvstore_rows()
    for row in train + held:
        texts.append(" ".join(m["content"] for m in row["prompt"] + row["completion"]))
    return texts


def build_tiny_model(out: Path, seed: int = 0) -> Path:
    """Save a tiny Llama causal LM and its tokenizer (ChatML template) to `out`; returns `out`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
