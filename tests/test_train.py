"""Training on a tiny local model: LoRA learns, the base stays frozen, adapters reload, merge and swap.

Everything is real (TRL SFTTrainer, PEFT, transformers) and offline: the model and tokenizer are
built from a config by `tests/tinymodel.py`; one training run is shared by the module.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ctxeng.cli import main
from ctxeng.core.errors import CtxengError
from ctxeng.train.launch import MALLOC_ENV
from ctxeng.train.trainer import TrainingInterrupted
from tests.extras import require
from tests.gitrepo import GitRepo
from tests.sample_repo import make_sample_repo
from tests.tinymodel import build_tiny_model, isolate, kvstore_rows, write_dataset

require("torch", "transformers", "trl")
import torch  # noqa: E402
import transformers  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
# The glibc malloc settings ctxeng gives the training processes it spawns, and one OpenMP thread.
CHILD_ENV = {**MALLOC_ENV, "OMP_NUM_THREADS": "1"}


def recipe_text(base: Path, output: str, steps: int, seed: int = 0, lr: float = 5e-3, extra: str = "") -> str:
    return (
        f"# {output}: tiny test model, a few CPU steps\n"
        f"base_model: {base}\noutput: {output}\nmax_length: 256\nseed: {seed}\ndtype: float32\n{extra}"
        "lora: {r: 8, lora_alpha: 16, lora_dropout: 0.0, target_modules: all-linear}\n"
        f"sft: {{max_steps: {steps}, per_device_train_batch_size: 4, learning_rate: {lr}, logging_steps: 1,\n"
        "      save_steps: 1000, use_cpu: true, bf16: false, activation_checkpointing: false}\n"
    )


class Snapshot(transformers.TrainerCallback):  # type: ignore[misc]
    """Copies every parameter when training begins (after PEFT wrapped the model)."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.params = {n: p.detach().clone() for n, p in model.named_parameters()}


class CtrlCAt(transformers.TrainerCallback):  # type: ignore[misc]
    """Sends this process a SIGINT (as Ctrl-C does) during step `step` of stage `stage`."""

    def __init__(self, stage: str, step: int) -> None:
        self.stage, self.step = stage, step

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if Path(args.output_dir).name == self.stage and state.global_step == self.step - 1:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The conftest isolation (fixed git identity, no network), held for the whole module."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)
        mp.setenv("CTXENG_CACHE_DIR", str(home / "cache"))
        torch.set_num_threads(1)
        yield home


@pytest.fixture(scope="module")
def tiny(env: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def repo(env: Path, tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    sample = make_sample_repo(tmp_path_factory.mktemp("repo") / "kvstore")
    write_dataset(sample.path, *kvstore_rows())
    return sample


@pytest.fixture(scope="module")
def trained(
    tiny: Path, repo: GitRepo, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, Snapshot, Path]:
    from ctxeng.train.trainer import train

    recipe = tmp_path_factory.mktemp("recipes") / "first.yaml"
    recipe.write_text(recipe_text(tiny, "first", steps=30), encoding="utf-8")
    snapshot = Snapshot()
    result = train(repo.path, str(recipe), callbacks=[snapshot])
    return result, snapshot, recipe


def logits(model: Any, tokenizer: Any) -> Any:
    ids = tokenizer("Where is `compact` defined?", return_tensors="pt")["input_ids"]
    model.eval()
    with torch.inference_mode():
        return model(input_ids=ids).logits.float()


def test_lora_parameters_change_and_base_parameters_do_not(trained: tuple[Any, Snapshot, Path]) -> None:
    result, snapshot, _ = trained
    after = dict(result.model.named_parameters())
    lora = [n for n in snapshot.params if "lora_" in n]
    base = [n for n in snapshot.params if "lora_" not in n]
    assert lora and base
    for name in lora:
        assert after[name].requires_grad
        assert not torch.equal(after[name].detach(), snapshot.params[name]), f"{name} did not train"
    for name in base:
        assert not after[name].requires_grad
        assert torch.equal(after[name].detach(), snapshot.params[name]), f"{name} changed"


def test_adapter_folder_is_a_standard_peft_folder_with_a_manifest(
    trained: tuple[Any, Snapshot, Path], repo: GitRepo, tiny: Path
) -> None:
    from ctxeng.train.data import load_dataset_files

    result, _, recipe = trained
    folder = repo.path / ".ctxeng" / "adapters" / "first"
    assert result.path == folder
    names = sorted(p.name for p in folder.iterdir())
    assert {
        "adapter_model.safetensors",
        "adapter_config.json",
        "ctxeng-manifest.json",
        "training-log.json",
    } <= set(names)
    assert "training_args.bin" not in names
    assert not list((repo.path / ".ctxeng" / "adapters").glob(".*")), "work and temp folders are cleaned up"
    for item in folder.iterdir():
        assert item.stat().st_mode & 0o777 == 0o644, item.name
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tiny.resolve()) and config["r"] == 8
    manifest = json.loads((folder / "ctxeng-manifest.json").read_text())
    assert manifest == result.manifest
    assert manifest["recipe"]["path"] == str(recipe) and manifest["recipe"]["content"]["output"] == "first"
    assert manifest["dataset"]["sha256"] == load_dataset_files(repo.path / ".ctxeng" / "dataset").sha256
    assert manifest["repository"]["head"] == repo.head()
    assert manifest["base_model"] == {"spec": str(tiny), "kind": "local", "location": str(tiny.resolve())}
    assert {"torch", "transformers", "peft", "trl", "datasets", "ctxeng"} <= set(manifest["libraries"])
    params, training = manifest["parameters"], manifest["training"]
    assert 0 < params["trainable"] < params["total"] and 0 < params["trainable_share"] < 1
    assert training["steps"] == 30 and training["tokens_seen"] > 30 * 4 * 10
    assert training["tokens_per_s"] > 0 and training["wall_s"] >= training["train_s"] > 0
    assert training["peak_rss_mb"] > 100
    assert manifest["adapter_bytes"] == (folder / "adapter_model.safetensors").stat().st_size
    log = json.loads((folder / "training-log.json").read_text())
    assert [e["step"] for e in log["sft"] if "loss" in e] == list(range(1, 31))


def test_held_out_loss_goes_down_for_every_task(trained: tuple[Any, Snapshot, Path]) -> None:
    evals = trained[0].manifest["eval"]
    assert set(evals["after"]) == {"all", "commit_message", "symbol_lookup"}
    for task, after in evals["after"].items():
        assert after["loss"] < evals["before"][task]["loss"], task
        assert after["examples"] == evals["before"][task]["examples"] > 0


def test_adapter_reloads_with_plain_peft_and_gives_the_same_logits(
    trained: tuple[Any, Snapshot, Path], tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from peft import AutoPeftModelForCausalLM, PeftModel
    from transformers import AutoModelForCausalLM

    result, _, _ = trained
    expected = logits(result.model, result.tokenizer)
    base = AutoModelForCausalLM.from_pretrained(tiny)
    reloaded = PeftModel.from_pretrained(base, str(result.path))
    assert torch.allclose(logits(reloaded, result.tokenizer), expected, atol=1e-5)
    monkeypatch.chdir(tmp_path)  # the recorded base path is absolute: loads from any folder
    auto = AutoPeftModelForCausalLM.from_pretrained(str(result.path))
    assert torch.allclose(logits(auto, result.tokenizer), expected, atol=1e-5)


def test_completion_loss_matches_what_trl_trains_on(tiny: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ctxeng.train.data import to_hf_dataset
    from ctxeng.train.evaluate import completion_nll

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny), AutoTokenizer.from_pretrained(tiny)
    _, rows = kvstore_rows()
    ours = completion_nll(model, tokenizer, rows, max_length=256)
    args = SFTConfig(
        output_dir=str(tmp_path),
        per_device_eval_batch_size=1,
        max_length=256,
        report_to="none",
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=to_hf_dataset(rows),
        eval_dataset=to_hf_dataset(rows),
        processing_class=tokenizer,
    )
    trl_loss = trainer.evaluate()["eval_loss"]  # mean over examples of the per-token mean
    assert sum(nll / count for nll, count in ours) / len(ours) == pytest.approx(trl_loss, rel=1e-4)


def test_merged_model_equals_base_plus_adapter(trained: tuple[Any, Snapshot, Path], repo: GitRepo) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result, _, _ = trained
    assert main(["merge", str(repo.path), "--adapter", "first"]) == 0
    out = repo.path / ".ctxeng" / "merged" / "first"
    merged = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert torch.allclose(logits(merged, tokenizer), logits(result.model, result.tokenizer), atol=1e-4)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert json.loads((out / "ctxeng-merge.json").read_text())["adapter"] == "first"
    assert (
        main(["merge", str(repo.path), "--adapter", "first", "--out", str(out)]) == 0
    )  # replaces its own merge
    foreign = repo.path / "not-a-merge"
    (foreign / "keep.txt").parent.mkdir()
    (foreign / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(CtxengError, match="is not an earlier merge"):
        from ctxeng.train.merge import merge_adapter

        merge_adapter(repo.path, "first", foreign)
    assert (foreign / "keep.txt").read_text() == "mine"


def test_eval_command_reports_losses_probes_and_a_plot(
    trained: tuple[Any, Snapshot, Path], repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "report.png"
    assert (
        main(["eval", str(repo.path), "--adapter", "first", "--json", "--probes", "2", "--plot", str(plot)])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    after = trained[0].manifest["eval"]["after"]
    assert set(report["losses"]) == set(after)
    for task, row in report["losses"].items():
        assert row["adapter_loss"] == pytest.approx(after[task]["loss"], abs=1e-4)  # same rows, same method
        assert row["adapter_loss"] < row["base_loss"] and row["adapter_ppl"] < row["base_ppl"]
    assert set(report["probes"]) == {"symbol_lookup", "commit_message"}
    assert set(report["probes"]["symbol_lookup"]["adapter"]) == {"accuracy"}
    assert set(report["probes"]["commit_message"]["base"]) == {"rouge_l", "subject_exact"}
    assert report["dataset"]["same_as_training"] is True
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_adapters_command_lists_manifests(
    trained: tuple[Any, Snapshot, Path], repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["adapters", str(repo.path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    first = next(a for a in listed if a["name"] == "first")
    assert first["manifest"]["recipe"]["content"]["output"] == "first" and first["bytes"] > 0


def test_two_adapters_swap_on_one_base(
    trained: tuple[Any, Snapshot, Path], repo: GitRepo, tiny: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ctxeng.train.adapters import load_adapters, load_base_for, set_adapter
    from ctxeng.train.trainer import train

    recipe = tmp_path / "second.yaml"
    recipe.write_text(recipe_text(tiny, "second", steps=5, seed=1, lr=1e-2), encoding="utf-8")
    screen = io.StringIO()
    train(repo.path, str(recipe), console=Console(file=screen, force_terminal=True, width=100))
    assert "second sft" in screen.getvalue() and "5/5" in screen.getvalue()  # the rich progress bar
    base, tokenizer = load_base_for(repo.path, ["first", "second"])
    model = load_adapters(base, ["first", "second"], repo.path)
    assert isinstance(model, PeftModel) and sorted(model.peft_config) == ["first", "second"]
    alone = {}
    for name in ("first", "second"):
        single = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(tiny), str(repo.path / ".ctxeng" / "adapters" / name)
        )
        alone[name] = logits(single, tokenizer)
    set_adapter(model, "second")
    assert torch.allclose(logits(model, tokenizer), alone["second"], atol=1e-5)
    set_adapter(model, "first")
    assert torch.allclose(logits(model, tokenizer), alone["first"], atol=1e-5)
    assert not torch.allclose(alone["first"], alone["second"], atol=1e-3)
    with model.disable_adapter():
        assert torch.allclose(
            logits(model, tokenizer), logits(AutoModelForCausalLM.from_pretrained(tiny), tokenizer), atol=1e-5
        )
    with pytest.raises(CtxengError, match="is not loaded"):
        set_adapter(model, "third")


def test_ctrl_c_leaves_a_usable_checkpoint_and_resume_finishes(
    tiny: Path, repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    recipe = tmp_path / "long.yaml"
    recipe.write_text(recipe_text(tiny, "long", steps=150), encoding="utf-8")
    cmd = [sys.executable, "-m", "ctxeng", "train", str(repo.path), "--recipe", str(recipe)]
    child = subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        env={**os.environ, **CHILD_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in child.stderr:  # progress lines: "long sft: training 150 steps", then one per logged step
        seen.append(line)
        if "step 1/150" in line or time.monotonic() > deadline:
            break
    child.send_signal(signal.SIGINT)
    _, rest = child.communicate(timeout=120)
    stderr = "".join(seen) + rest
    assert child.returncode == 130, stderr
    assert "checkpoint saved" in stderr and "--resume" in stderr
    work = repo.path / ".ctxeng" / "adapters" / ".work-long" / "sft"
    checkpoints = sorted(work.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert checkpoints, stderr
    stopped = int(checkpoints[-1].name.split("-")[1])
    assert 1 <= stopped < 150
    for needed in ("adapter_model.safetensors", "optimizer.pt", "trainer_state.json"):
        assert (checkpoints[-1] / needed).is_file()
    PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny), str(checkpoints[-1])
    )  # usable as is
    assert not (repo.path / ".ctxeng" / "adapters" / "long").exists()

    assert main(["train", str(repo.path), "--recipe", str(recipe), "--resume", "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["training"]["steps"] == 150
    assert manifest["training"]["stages"]["sft"]["resumed_from_step"] == stopped
    assert not (repo.path / ".ctxeng" / "adapters" / ".work-long").exists()


def test_resume_without_an_interrupted_run_is_a_clear_error(
    tiny: Path, repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "never.yaml"
    recipe.write_text(recipe_text(tiny, "never", steps=2), encoding="utf-8")
    assert main(["train", str(repo.path), "--recipe", str(recipe), "--resume"]) == 1
    assert "no interrupted run of adapter 'never'" in capsys.readouterr().err


def test_training_without_a_dataset_says_to_build_first(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit("initial", {"a.py": "x = 1\n"})
    assert main(["train", str(git_repo.path), "--recipe", "cpu-default"]) == 1
    err = capsys.readouterr().err
    assert "no dataset" in err and "ctxeng build" in err


def test_cpt_stage_then_sft_continues_one_adapter(tiny: Path, repo: GitRepo, tmp_path: Path) -> None:
    from ctxeng.train.trainer import train

    records = [
        {
            "id": f"sym-{i}",
            "kind": "symbol",
            "path": "kvstore/codec.py",
            "start_line": 1,
            "end_line": 3,
            "commit": "c",
            "time": 1_704_067_200 + 3600 * i,
            "name": f"f{i}",
            "text": f"def f{i}():\n    return {i}\n",
            "meta": {},
        }
        for i in range(8)
    ]
    (repo.path / ".ctxeng" / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    recipe = tmp_path / "cpt.yaml"
    recipe.write_text(
        recipe_text(tiny, "cpt", steps=4, extra="stages: [cpt, sft]\ncpt: {max_steps: 3, packing: true}\n")
    )
    with pytest.raises(TrainingInterrupted):  # Ctrl-C in the second stage, after cpt finished
        train(repo.path, str(recipe), callbacks=[CtrlCAt("sft", 2)])
    result = train(repo.path, str(recipe), resume=True)
    stages = result.manifest["training"]["stages"]
    assert list(stages) == ["cpt", "sft"] and stages["cpt"]["steps"] == 3 and stages["sft"]["steps"] == 4
    assert stages["sft"]["resumed_from_step"] == 2 and stages["cpt"]["resumed_from_step"] == 0
    assert stages["cpt"]["examples"] == 8  # every record is older than the held-out split
    log = json.loads((result.path / "training-log.json").read_text())
    assert sorted(log) == ["cpt", "sft"]


def test_build_train_setting_trains_the_configured_recipe(tiny: Path, repo: GitRepo, tmp_path: Path) -> None:
    from ctxeng.train.run import train_after_build

    recipe = tmp_path / "configured.yaml"
    recipe.write_text(recipe_text(tiny, "configured", steps=2), encoding="utf-8")
    config = repo.path / ".ctxeng.toml"
    config.write_text(f'[train]\nrecipe = "{recipe}"\n', encoding="utf-8")
    try:
        summary = train_after_build(repo.path, quiet=True)
        first = json.loads((repo.path / ".ctxeng/adapters/configured/ctxeng-manifest.json").read_text())
        train_after_build(repo.path, quiet=True)  # training again replaces the adapter as a whole
    finally:
        config.unlink()
    assert (
        summary["name"] == "configured" and summary["steps"] == 2 and summary["eval_loss_after"] is not None
    )
    again = json.loads((repo.path / ".ctxeng/adapters/configured/ctxeng-manifest.json").read_text())
    assert again["started_at"] >= first["finished_at"]
    assert not [p.name for p in (repo.path / ".ctxeng" / "adapters").iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_distributed_run_publishes_one_adapter_from_rank_zero(
    tiny: Path, repo: GitRepo, tmp_path: Path
) -> None:
    """Two CPU processes under torchrun (gloo DDP): the code path of the multi-GPU recipes, without GPUs."""
    recipe = tmp_path / "ddp.yaml"
    recipe.write_text(recipe_text(tiny, "ddp", steps=4), encoding="utf-8")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "ctxeng", "train",
           str(repo.path), "--recipe", str(recipe)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env={**os.environ, **CHILD_ENV}, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("ddp sft: training 4 steps") == 1  # progress from rank 0 only
    folder = repo.path / ".ctxeng" / "adapters" / "ddp"
    manifest = json.loads((folder / "ctxeng-manifest.json").read_text())
    assert manifest["training"]["steps"] == 4 and manifest["eval"] == {"before": None, "after": None}
    assert (folder / "adapter_model.safetensors").stat().st_size > 10_000
    assert not (repo.path / ".ctxeng" / "adapters" / ".work-ddp").exists()


def test_time_budget_stops_training_and_leaves_a_loadable_adapter(
    tiny: Path, repo: GitRepo, tmp_path: Path
) -> None:
    from peft import PeftModel

    from ctxeng.train.trainer import train

    recipe = tmp_path / "budget.yaml"
    weights = "task_weights: {symbol_lookup: 3, commit_message: 0}\n"
    extra = f"max_minutes: 0.1\ndecay_share: 0.5\n{weights}"
    recipe.write_text(recipe_text(tiny, "budget", steps=100_000, extra=extra), encoding="utf-8")
    started = time.monotonic()
    result = train(repo.path, str(recipe))
    assert time.monotonic() - started < 120  # 6 s of steps, not 100,000 of them
    stage = result.manifest["training"]["stages"]["sft"]
    assert stage["stopped_by_time"] is True and 0 < stage["steps"] < 100_000
    assert 0.05 <= stage["lr_factor_at_end"] < 0.5  # the last half of the budget decayed the rate
    assert stage["train_s"] <= 6 + 5  # the budget, plus at most the slowest step and the save
    base = transformers.AutoModelForCausalLM.from_pretrained(tiny)
    model = PeftModel.from_pretrained(base, str(result.path))
    assert model(input_ids=torch.tensor([[1, 2, 3]])).logits.shape[-1] == base.config.vocab_size


def test_time_budget_decays_the_scheduled_rate_over_its_last_share() -> None:
    """With `decay_share`, the last share of the budget scales the scheduler's rate linearly down to a
    floor; before it the rate is as scheduled (a real optimizer and scheduler, a real TrainerState)."""
    from transformers import TrainerControl, TrainerState, get_constant_schedule

    from ctxeng.train.callbacks import MIN_DECAY, TimeBudget

    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=2e-3)
    scheduler = get_constant_schedule(optimizer)
    budget = TimeBudget(100.0, decay_share=0.2)
    budget.on_train_begin(None, TrainerState(), TrainerControl())
    for elapsed, factor in ((10.0, 1.0), (85.0, 0.75), (95.0, 0.25), (99.9, MIN_DECAY)):
        budget.started = time.perf_counter() - elapsed  # as if `elapsed` seconds had gone by
        budget.on_step_end(
            None, TrainerState(), TrainerControl(), optimizer=optimizer, lr_scheduler=scheduler
        )
        assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-3 * factor, rel=0.01)
        scheduler.step()  # the scheduler sets its own rate again before the next step
        assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-3)


def test_task_weights_repeat_and_drop_rows_deterministically() -> None:
    from ctxeng.train.data import weighted_rows

    rows = [{"id": f"{t}{i}", "task": t} for t in ("a", "b", "c") for i in range(200)]
    out = weighted_rows(rows, {"a": 2, "b": 0.25, "c": 0}, seed=0)
    counts = {t: sum(r["task"] == t for r in out) for t in "abc"}
    assert counts["a"] == 400 and counts["c"] == 0 and 30 <= counts["b"] <= 70
    assert out == weighted_rows(rows, {"a": 2, "b": 0.25, "c": 0}, seed=0)
    assert [r["id"] for r in out] != [
        r["id"] for r in weighted_rows(rows, {"a": 2, "b": 0.25, "c": 0}, seed=1)
    ]
    assert weighted_rows(rows, {}, 0) == rows


def test_the_recipe_decides_quantized_loading_for_eval_serve_and_not_for_merge(
    trained: tuple[Any, Snapshot, Path], repo: GitRepo, tmp_path: Path
) -> None:
    import importlib.util
    import shutil

    from ctxeng.train.adapters import find_adapter, load_base_for, load_settings
    from ctxeng.train.models import quantization_plan

    qlora = tmp_path / "qlora"
    shutil.copytree(trained[0].path, qlora)
    manifest = json.loads((qlora / "ctxeng-manifest.json").read_text())
    quant = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": "bfloat16"}
    manifest["recipe"]["content"]["quantization"] = quant
    (qlora / "ctxeng-manifest.json").write_text(json.dumps(manifest))
    assert load_settings(find_adapter(repo.path, str(qlora))) == ("float32", quant)
    if (
        importlib.util.find_spec("bitsandbytes") is None
    ):  # this CPU machine: the 4-bit path is taken, and says so
        with pytest.raises(CtxengError) as info:
            load_base_for(repo.path, [str(qlora)])
        assert "bitsandbytes" in info.value.message and "ctxeng[gpu]" in (info.value.hint or "")
    else:
        plan = quantization_plan(quant)
        assert plan["quantization_config"].load_in_4bit and plan["device_map"] == {"": 0}
    model, _ = load_base_for(repo.path, [str(qlora)], quantize=False)  # merge: full precision
    assert not getattr(model, "is_loaded_in_4bit", False)
    assert quantization_plan(None) == {}


def test_a_hub_model_is_never_downloaded_unless_named(env: Path) -> None:
    from ctxeng.train.models import load_tokenizer, resolve_base

    base = resolve_base("ctxeng-tests/no-such-model")
    assert base.kind == "hub" and base.download is False
    started = time.monotonic()
    with pytest.raises(CtxengError) as info:
        load_tokenizer(base)
    assert time.monotonic() - started < 30  # the cache only: no network attempt
    assert "not in the Hugging Face cache" in info.value.message and "--base" in (info.value.hint or "")
    named = resolve_base("ctxeng-tests/no-such-model", download=True)
    with pytest.raises(CtxengError) as info:
        load_tokenizer(named)  # HF_HUB_OFFLINE=1 here: the network hint, not the "name it" one
    assert "cannot load base model" in info.value.message


def test_a_task_whose_sample_has_no_scored_tokens_gets_a_null_loss_not_nan(tiny: Path) -> None:
    from ctxeng.train.evaluate import finite, task_losses
    from tests.tinymodel import kvstore_rows

    model = transformers.AutoModelForCausalLM.from_pretrained(tiny)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny)
    rows = kvstore_rows()[1][:2]
    losses = task_losses(model, tokenizer, rows, max_length=4)  # the prompt fills it: no completion left
    assert all(v["tokens"] == 0 and v["loss"] is None and v["ppl"] is None for v in losses.values())
    json.dumps(losses, allow_nan=False)
    assert finite({"a": [float("nan"), 1.5, float("inf")]}) == {"a": [None, 1.5, None]}
