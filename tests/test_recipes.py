"""Recipes: every bundled recipe builds its PEFT and TRL configs; bad recipes fail with the file named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctxeng.cli import main
from ctxeng.core.errors import CtxengError
from ctxeng.train.data import cpt_texts, read_split, stratified_sample
from ctxeng.train.models import cache_dir, resolve_base
from ctxeng.train.probes import rouge_l, score
from ctxeng.train.recipe import bundled_dir, load_recipe, lora_config, recipe_names, sft_config
from tests.extras import require

HEAVY = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")


def test_bundled_recipes_cover_the_issue() -> None:
    names = recipe_names()
    for needed in (
        "cpu-default",
        "qwen2.5-coder-1.5b",
        "qwen2.5-coder-7b-qlora",
        "qwen2.5-coder-7b-fsdp",
        "qwen2.5-coder-1.5b-cpt",
    ):
        assert needed in names


@pytest.mark.parametrize("name", recipe_names())
def test_every_recipe_builds_lora_and_sft_configs(name: str, tmp_path: Path) -> None:
    from peft import LoraConfig
    from trl import SFTConfig

    path = bundled_dir() / f"{name}.yaml"
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith(f"# {name}: ") and len(header) > len(name) + 30, (
        "one-line header: purpose, hardware"
    )
    recipe = load_recipe(name)
    lora = lora_config(recipe)
    assert isinstance(lora, LoraConfig) and lora.r == 16 and lora.task_type == "CAUSAL_LM"
    assert lora.modules_to_save is None  # serving engines reject adapters that carry full modules
    for stage in recipe.stages:
        config = sft_config(recipe, tmp_path / stage, stage, validate_only=True)
        assert isinstance(config, SFTConfig)
        assert config.max_length == recipe.max_length and config.seed == recipe.seed
        assert config.output_dir == str(tmp_path / stage) and config.report_to in ("none", [])


def test_cpu_default_is_cpu_safe_and_capped(tmp_path: Path) -> None:
    recipe = load_recipe("cpu-default")
    assert recipe.base_model == "embedded:smollm2-135m-instruct" and recipe.dtype == "float32"
    config = sft_config(recipe, tmp_path)  # no validate_only: must build on this CPU-only machine as is
    assert config.use_cpu and not config.bf16 and not config.gradient_checkpointing
    assert 0 < recipe.max_minutes <= 30 and recipe.max_length <= 512  # sized by time on a CPU
    assert 0 < config.max_steps and recipe.task_weights["facts"] > recipe.task_weights["commit_message"]
    assert config.include_num_input_tokens_seen == "all"  # packed rows: no padding to leave out


def test_qlora_recipe_builds_quantization_without_bitsandbytes() -> None:
    from transformers import BitsAndBytesConfig

    recipe = load_recipe("qwen2.5-coder-7b-qlora")
    assert recipe.quantization
    config = BitsAndBytesConfig(**recipe.quantization)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert "bitsandbytes" not in sys.modules  # imported only when the recipe really trains


def test_multi_gpu_recipe_has_a_valid_accelerate_config() -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    recipe = load_recipe("qwen2.5-coder-7b-fsdp")
    assert recipe.accelerate_config is not None and recipe.accelerate_config.parent.name == "accelerate"
    cluster = ClusterConfig.from_yaml_file(str(recipe.accelerate_config))
    assert cluster.distributed_type.value in ("FSDP", "DEEPSPEED")
    assert cluster.fsdp_config.get("fsdp_state_dict_type") == "FULL_STATE_DICT"
    for path in sorted((bundled_dir() / "accelerate").glob("*.yaml")):
        ClusterConfig.from_yaml_file(str(path))


def test_cpt_recipe_has_a_pretraining_stage(tmp_path: Path) -> None:
    recipe = load_recipe("qwen2.5-coder-1.5b-cpt")
    assert recipe.stages == ("cpt", "sft")
    cpt = sft_config(recipe, tmp_path, "cpt", validate_only=True)
    sft = sft_config(recipe, tmp_path, "sft", validate_only=True)
    assert cpt.learning_rate != sft.learning_rate and cpt.packing_strategy == "bfd_split"


def test_gpu_recipe_on_a_cpu_names_the_file_and_suggests_cpu_default(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    recipe = load_recipe("qwen2.5-coder-1.5b")
    with pytest.raises(CtxengError) as info:
        sft_config(recipe, tmp_path)
    assert str(recipe.path) in info.value.message and "cpu-default" in (info.value.hint or "")


def _write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "custom.yaml"
    path.write_text("# custom: a test recipe\nbase_model: some/model\n" + body, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("learning_rate: 0.1\n", "unknown recipe key 'learning_rate'"),
        ("lora:\n  rank: 16\n", "lora:"),
        ("sft:\n  max_seq_length: 512\n", "sft:"),
        ("sft:\n  warmup_ratio: 0.1\n", "sft:"),
        ("sft:\n  max_length: 512\n", "set 'max_length' at the top level"),
        ("sft:\n  output_dir: /tmp/x\n", "set 'output_dir' at the top level"),
        ("max_length: '512'\n", "'max_length' must be int, got str"),
        ("max_length: 0\n", "'max_length' is out of range"),
        ("stages: [sft, sft]\n", "'stages'"),
        ("stages: [pretrain]\n", "'stages'"),
        ("stages: [cpt, sft]\n", "needs a 'cpt:' block"),
        ("output: ../escape\n", "'output' must be a plain folder name"),
        ("accelerate_config: nowhere.yaml\n", "accelerate_config nowhere.yaml does not exist"),
        ("lora: [1, 2]\n", "'lora' must be dict, got list"),
    ],
)
def test_bad_recipes_fail_naming_file_and_problem(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(CtxengError) as info:
        recipe = load_recipe(path)
        lora_config(recipe)
        sft_config(recipe, tmp_path / "out", validate_only=True)
    assert path in info.value.message and expected in info.value.message


def test_unreadable_recipes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("base_model: [unclosed\n", encoding="utf-8")
    with pytest.raises(CtxengError, match="invalid YAML"):
        load_recipe(str(bad))
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(CtxengError, match="must be a YAML mapping"):
        load_recipe(str(bad))
    bad.write_text("# no base\nseed: 1\n", encoding="utf-8")
    with pytest.raises(CtxengError, match="'base_model' is required"):
        load_recipe(str(bad))
    with pytest.raises(CtxengError) as info:
        load_recipe("no-such-recipe")
    assert "cpu-default" in (info.value.hint or "")
    with pytest.raises(CtxengError, match="does not exist"):
        load_recipe(str(tmp_path / "missing.yaml"))


def test_train_list_prints_every_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    for name in recipe_names():
        assert name in out


def test_cli_and_library_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from ctxeng.cli import main\n"
        "import ctxeng.commands.train, ctxeng.commands.evaluate, ctxeng.commands.merge, ctxeng.commands.adapters\n"
        "import ctxeng.train.recipe, ctxeng.train.adapters, ctxeng.train.models, ctxeng.train.data\n"
        "import ctxeng.train.evaluate, ctxeng.train.probes, ctxeng.train.merge, ctxeng.train.plot\n"
        "import ctxeng.train.trainer, ctxeng.train.manifest, ctxeng.train.launch\n"
        "main(['--help']); main(['train', '--help']); main(['eval', '--help']); main(['train', '--list'])\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Train a LoRA adapter" in proc.stdout


def test_resolve_base_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_base("Qwen/Qwen2.5-Coder-1.5B-Instruct").kind == "hub"
    folder = tmp_path / "model"
    folder.mkdir()
    with pytest.raises(CtxengError, match="without config.json"):
        resolve_base(str(folder))
    (folder / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    local = resolve_base("model")
    assert local.kind == "local" and local.location == str(folder.resolve())  # absolute: loads from anywhere
    with pytest.raises(CtxengError, match="does not exist"):
        resolve_base("./missing/model")
    with pytest.raises(CtxengError, match="unknown embedded model"):
        resolve_base("embedded:gpt-5")
    monkeypatch.setenv("CTXENG_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CTXENG_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "ctxeng"


def _row(row_id: str, task: str, time: int = 0, source: str = "") -> dict[str, object]:
    return {
        "id": row_id,
        "task": task,
        "time": time,
        "source": source,
        "meta": {},
        "prompt": [{"role": "user", "content": "q"}],
        "completion": [{"role": "assistant", "content": "a"}],
    }


def test_dataset_rows_are_checked_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    good = json.dumps(_row("a", "t"))
    path.write_text(good + "\n{not json\n", encoding="utf-8")
    with pytest.raises(CtxengError, match=r"train.jsonl:2: invalid JSON"):
        read_split(path)
    path.write_text(good + "\n" + json.dumps({"messages": []}) + "\n", encoding="utf-8")
    with pytest.raises(CtxengError, match=r"train.jsonl:2: not a conversational prompt-completion row"):
        read_split(path)
    path.write_text(good + "\n\n", encoding="utf-8")
    assert [r["id"] for r in read_split(path)] == ["a"]


def test_stratified_sample_keeps_every_task_and_is_deterministic() -> None:
    rows = [_row(f"a{i}", "big") for i in range(50)] + [_row("b0", "small"), _row("b1", "small")]
    picked = stratified_sample(rows, 6, seed=0)
    assert len(picked) == 6 and sum(r["task"] == "small" for r in picked) == 2
    assert picked == stratified_sample(rows, 6, seed=0)
    assert [r["id"] for r in picked] == [r["id"] for r in rows if r in picked]  # input order kept
    assert stratified_sample(rows, 6, seed=1) != picked
    assert stratified_sample(rows, 0, seed=0) == rows


def test_cpt_texts_hold_out_the_newest_commits(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"

    def rec(rid: str, kind: str, time: int) -> str:
        return json.dumps(
            {
                "id": rid,
                "kind": kind,
                "path": f"{rid}.py",
                "start_line": 1,
                "end_line": 2,
                "commit": "c",
                "time": time,
                "name": rid,
                "text": f"text of {rid}",
                "meta": {},
            }
        )

    lines = [
        rec("old", "symbol", 100),
        rec("new", "symbol", 300),
        rec("src", "doc", 100),
        rec("msg", "commit", 100),
    ]
    records.write_text("\n".join(lines) + "\n", encoding="utf-8")
    texts = cpt_texts(records, [_row("e", "t", time=200, source="src")])
    assert texts == ["old.py\n\ntext of old\n"]
    with pytest.raises(CtxengError, match="no records"):
        cpt_texts(tmp_path / "none.jsonl", [])


def test_probe_metrics() -> None:
    assert rouge_l("Add store with put", "Add store with put and get") == pytest.approx(
        2 * 1 * (4 / 6) / (1 + 4 / 6)
    )
    assert rouge_l("", "x") == 0.0 and rouge_l("a b", "c d") == 0.0
    rows = [{"meta": {"answer_path": "kvstore/codec.py"}}, {"meta": {"answer_path": "kvstore/store.py"}}]
    assert score("symbol_lookup", rows, ["In `kvstore/codec.py`.", "In kvstore/cli.py"]) == {"accuracy": 0.5}
    commits = [{"completion": [{"content": "Add compaction\n\nBody."}]}]
    metrics = score("commit_message", commits, ["Add compaction"])  # the subject lines are compared
    assert metrics == {"rouge_l": 1.0, "subject_exact": 1.0}
    metrics = score("commit_message", commits, ["Add compaction of logs"])
    assert metrics["subject_exact"] == 0.0 and 0 < metrics["rouge_l"] < 1


def test_a_long_probe_prompt_is_cut_to_what_training_saw(tmp_path: Path) -> None:
    """The commit probe's diff is cut so prompt + answer fit the recipe's `max_length`: its start
    kept, its code fence closed; a prompt that fits is left alone."""
    require("torch", "transformers", "tokenizers")
    from transformers import AutoTokenizer

    from ctxeng.train.probes import fit_prompt
    from tests.tinymodel import build_tiny_model

    tokenizer = AutoTokenizer.from_pretrained(str(build_tiny_model(tmp_path / "tiny")))
    diff = "".join(f"+line {i} of the change\n" for i in range(400))
    chat = [{"role": "system", "content": "You know kvstore."},
            {"role": "user", "content": f"Write the commit message:\n\n```diff\n{diff}```\n"}]  # fmt: skip

    def length(c: list[dict[str, str]]) -> int:
        text = tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    assert length(chat) > 1_000
    cut = fit_prompt(tokenizer, chat, 200)
    assert 150 < length(cut) <= 200 and cut[0] == chat[0]
    text = cut[-1]["content"]
    assert text.startswith("Write the commit message:\n\n```diff\n+line 0 ") and text.endswith("…\n```\n")
    assert fit_prompt(tokenizer, chat, 5_000) == chat


def test_multi_gpu_recipe_relaunches_itself_under_accelerate(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from ctxeng.train.launch import MALLOC_ENV, default_recipe, is_launched, launch_command, launch_env

    recipe = load_recipe("qwen2.5-coder-7b-fsdp")
    cmd = launch_command(recipe, ["train", ".", "--recipe", "qwen2.5-coder-7b-fsdp"])
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--config_file") + 1] == str(recipe.accelerate_config)
    assert cmd[-6:] == ["-m", "ctxeng", "train", ".", "--recipe", "qwen2.5-coder-7b-fsdp"]
    assert ("--num_processes" in cmd) == torch.cuda.is_available()  # one process per GPU when there are GPUs
    launch_vars = ("LOCAL_RANK", "WORLD_SIZE", "CTXENG_LAUNCHED")
    for var in [v for v in os.environ if v.startswith("ACCELERATE_") or v in launch_vars]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("ACCELERATE_LOG_LEVEL", "info")  # a user's accelerate setting is no launch
    monkeypatch.setenv("ACCELERATE_CONFIG_FILE", "/nonexistent.yaml")
    assert not is_launched()
    assert launch_env()["CTXENG_LAUNCHED"] == "1"  # ctxeng's own (even single-process) child trains
    monkeypatch.setenv("CTXENG_LAUNCHED", "1")
    assert is_launched()
    monkeypatch.delenv("CTXENG_LAUNCHED")
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun / accelerate multi-process worker
    assert is_launched()
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert is_launched()  # a child of the launcher trains instead of launching again
    monkeypatch.setenv("MALLOC_TOP_PAD_", "1")
    env = launch_env()
    assert (
        env["MALLOC_TOP_PAD_"] == "1"
        and env["MALLOC_TRIM_THRESHOLD_"] == MALLOC_ENV["MALLOC_TRIM_THRESHOLD_"]
    )
    assert default_recipe("my.yaml") == "my.yaml"
    assert default_recipe() == ("qwen2.5-coder-1.5b" if torch.cuda.is_available() else "cpu-default")


@pytest.mark.parametrize("quantize", [False, True])
def test_gpu_check_trains_with_the_gpu_recipes_settings(tmp_path: Path, quantize: bool) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.gpu_check import gpu_recipe

    path = tmp_path / "gpu-check.yaml"
    path.write_text(gpu_recipe(tmp_path, quantize), encoding="utf-8")
    recipe = load_recipe(str(path))
    assert recipe.dtype == "bfloat16" and recipe.max_minutes > 0 and bool(recipe.quantization) is quantize
    assert recipe.sft["bf16"] is True and recipe.sft["activation_checkpointing"] is True
    assert recipe.sft["packing"] is True
    config = sft_config(recipe, tmp_path / "out", validate_only=True)  # a GPU recipe, checked on this CPU
    assert config.bf16 and config.packing
    cpu = tmp_path / "cpu.yaml"
    cpu.write_text(gpu_recipe(tmp_path, quantize, cpu=True), encoding="utf-8")
    cpu_recipe = load_recipe(str(cpu))
    assert cpu_recipe.quantization is None and not sft_config(cpu_recipe, tmp_path / "c").bf16
