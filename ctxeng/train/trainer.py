"""One training run: recipe + `.ctxeng/dataset` → `.ctxeng/adapters/<name>/`, resumable and interruptible.

Layout while a run is going (dot-folders are never listed as adapters)::

    .ctxeng/adapters/.work-<name>/lock, run.json          # the run's fingerprint and held-out loss before
    .ctxeng/adapters/.work-<name>/<stage>/checkpoint-N/    # Trainer checkpoints (Ctrl-C saves one)
    .ctxeng/adapters/.work-<name>/<stage>/adapter/, done.json   # a finished stage

When every stage is done, the last stage's adapter is copied to a temporary folder, completed
with the manifest and the training log, and renamed over `.ctxeng/adapters/<name>/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxeng.core.errors import EXIT_INTERRUPTED, CtxengError
from ctxeng.core.fsio import Lock
from ctxeng.core.repo import open_repo
from ctxeng.train.adapters import adapters_dir, publish_adapter
from ctxeng.train.data import (
    DatasetFiles,
    cpt_texts,
    load_dataset_files,
    stratified_sample,
    text_dataset,
    to_hf_dataset,
    weighted_rows,
)
from ctxeng.train.manifest import build_manifest, read_json, write_json
from ctxeng.train.models import BaseModel, load_model, load_tokenizer, resolve_base
from ctxeng.train.recipe import Recipe, load_recipe, lora_config, sft_config


class TrainingInterrupted(CtxengError):
    """Ctrl-C during training: a checkpoint was saved and `--resume` continues from it (exit 130)."""

    exit_code = EXIT_INTERRUPTED


@dataclass
class TrainResult:
    """What a run produced; `model`/`tokenizer` are the trained PeftModel and its tokenizer (in-process users)."""

    name: str
    path: Path
    manifest: dict[str, Any]
    model: Any = None
    tokenizer: Any = None


def train(
    path: str | Path,
    recipe: Recipe | str,
    base: str | None = None,
    resume: bool = False,
    console: Any = None,
    callbacks: Sequence[Any] = (),
    download: bool = False,
) -> TrainResult:
    """Train the recipe's LoRA adapter on the repository's dataset and publish it with a manifest.

    `base` overrides the recipe's base model; `resume` continues an interrupted run from its last
    checkpoint; `console` (a rich Console) shows progress; `callbacks` are extra TrainerCallbacks;
    `download` lets a hub base model be fetched (only when the user named the model or recipe).
    Raises `TrainingInterrupted` after Ctrl-C (with a checkpoint saved) and `CtxengError` on bad input.
    """
    recipe = load_recipe(recipe) if isinstance(recipe, str) else recipe
    started = time.time()
    repo = open_repo(path)
    data = load_dataset_files(repo.root / recipe.dataset)
    spec = base or recipe.base_model
    home = adapters_dir(repo.root)
    work = home / f".work-{recipe.output}"
    main_process = int(os.environ.get("RANK", "0")) == 0
    console = console if main_process else None  # one progress display per run, not one per rank
    if resume and not (work / "run.json").is_file():
        raise CtxengError(f"no interrupted run of adapter '{recipe.output}' to resume",
                          hint="start a new run without --resume")  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    with Lock(work) if main_process else contextlib.nullcontext():
        run = _prepare_run(work, recipe, spec, data, resume, main_process)
        note = (lambda msg: console.print(f"[dim]{msg}[/dim]")) if console is not None else (lambda msg: None)
        resolved = resolve_base(spec, note, download)
        model, tokenizer, stats = _run(
            repo.root, recipe, resolved, data, work, run, resume, console, callbacks
        )
        if not main_process:
            return TrainResult(recipe.output, home / recipe.output, {}, model, tokenizer)
        manifest = build_manifest(recipe, resolved, data, repo.name, repo.head, model, stats, started)
        trained = work / recipe.stages[-1] / "adapter"
        final = publish_adapter(home, recipe.output, trained, resolved.location, manifest, stats["logs"])
    shutil.rmtree(work, ignore_errors=True)
    return TrainResult(recipe.output, final, manifest, model, tokenizer)


def _fingerprint(recipe: Recipe, spec: str, data: DatasetFiles) -> dict[str, Any]:
    fingerprint: dict[str, Any] = json.loads(
        json.dumps({"recipe": recipe.raw, "base": spec, "dataset": data.sha256}, sort_keys=True)
    )
    return fingerprint


def _prepare_run(
    work: Path, recipe: Recipe, spec: str, data: DatasetFiles, resume: bool, main_process: bool
) -> dict[str, Any]:
    run_file = work / "run.json"
    fingerprint = _fingerprint(recipe, spec, data)
    if resume:
        run = read_json(run_file)
        if run.get("fingerprint") != fingerprint:
            raise CtxengError(
                "the interrupted run used another recipe, base model or dataset",
                hint="train again without --resume",
            )
        return dict(run)
    if main_process:  # a fresh run: drop an interrupted run's checkpoints
        for item in work.iterdir():
            if item.name != "lock":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        write_json(run_file, {"fingerprint": fingerprint})
    return {"fingerprint": fingerprint}


def _run(
    root: Path,
    recipe: Recipe,
    base: BaseModel,
    data: DatasetFiles,
    work: Path,
    run: dict[str, Any],
    resume: bool,
    console: Any,
    callbacks: Sequence[Any],
) -> tuple[Any, Any, dict[str, Any]]:
    import torch

    train_rows = weighted_rows(
        stratified_sample(data.train, recipe.max_train_examples, recipe.seed),
        recipe.task_weights,
        recipe.seed,
    )
    eval_rows = stratified_sample(data.eval, recipe.max_eval_examples, recipe.seed)
    # Built before the model is loaded: under accelerate, SFTConfig sets up the distributed state
    # that from_pretrained consults (FSDP's rank-0-only loading).
    configs = {stage: sft_config(recipe, work / stage, stage) for stage in recipe.stages}
    model = load_model(base, recipe.dtype, recipe.quantization)
    tokenizer = load_tokenizer(base)
    if recipe.quantization:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    measure = bool(eval_rows) and int(os.environ.get("WORLD_SIZE", "1")) == 1
    if (
        measure
        and not configs[recipe.stages[0]].use_cpu
        and torch.cuda.is_available()
        and not recipe.quantization
    ):
        model.to("cuda")
    before = run.get("eval_before")
    if measure and before is None:
        before = _losses(model, tokenizer, eval_rows, recipe.max_length, console, "held-out loss, base")
        run["eval_before"] = before
        write_json(work / "run.json", run)
    stats: dict[str, Any] = {
        "stages": {},
        "logs": {},
        "eval_before": before,
        "train_used": len(train_rows),
        "eval_used": len(eval_rows),
    }
    # The time budget covers the training loops of every stage, not the loading or the measuring.
    deadline = time.monotonic() + recipe.max_minutes * 60 if recipe.max_minutes else None
    finished = _finished_stages(recipe, work) if resume else []
    if finished:  # stages done before an interruption: continue from the last one's adapter
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(work / finished[-1] / "adapter"), is_trainable=True)
        for stage in finished:
            saved = read_json(work / stage / "done.json")
            stats["stages"][stage], stats["logs"][stage] = saved["stats"], saved["log"]
    for stage in recipe.stages[len(finished) :]:
        model, stage_stats, log = _stage(
            root,
            recipe,
            stage,
            configs[stage],
            model,
            tokenizer,
            train_rows,
            data,
            work / stage,
            resume,
            console,
            [*callbacks, *_budget(deadline, recipe.decay_share)],
        )
        stats["stages"][stage], stats["logs"][stage] = stage_stats, log
    stats["eval_after"] = (
        _losses(model, tokenizer, eval_rows, recipe.max_length, console, "held-out loss, adapter")
        if measure
        else None
    )
    if torch.cuda.is_available():
        stats["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return model, tokenizer, stats


def _budget(deadline: float | None, decay_share: float = 0.0) -> list[Any]:
    """A `TimeBudget` callback for what is left of the run's budget (none without a budget)."""
    if deadline is None:
        return []
    from ctxeng.train.callbacks import TimeBudget

    return [TimeBudget(max(1.0, deadline - time.monotonic()), decay_share)]


def _finished_stages(recipe: Recipe, work: Path) -> list[str]:
    finished = []
    for stage in recipe.stages:
        if not (work / stage / "done.json").is_file():
            break
        finished.append(stage)
    return finished


def _losses(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], max_length: int, console: Any, what: str
) -> Any:
    from ctxeng.train.evaluate import task_losses

    if console is not None:
        console.print(f"[dim]{what} on {len(rows)} examples[/dim]")
    return task_losses(model, tokenizer, rows, max_length)


def _stage(
    root: Path,
    recipe: Recipe,
    stage: str,
    args: Any,
    model: Any,
    tokenizer: Any,
    train_rows: list[dict[str, Any]],
    data: DatasetFiles,
    stage_dir: Path,
    resume: bool,
    console: Any,
    callbacks: Sequence[Any],
) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    from peft import PeftModel
    from transformers import PrinterCallback
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTTrainer

    from ctxeng.train.callbacks import Meter, RichProgress, StopOnInterrupt, graceful_interrupts

    if stage == "cpt":
        dataset = text_dataset(cpt_texts(_records_beside(root, data.folder), data.eval))
    else:
        dataset = to_hf_dataset(train_rows)
    stopper, meter = StopOnInterrupt(), Meter()
    extra = [RichProgress(console, f"{recipe.output} {stage}")] if console is not None else []
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=None if isinstance(model, PeftModel) else lora_config(recipe),
        callbacks=[*extra, stopper, meter, *callbacks],
    )
    trainer.remove_callback(PrinterCallback)  # it prints raw log dicts to stdout
    checkpoint = get_last_checkpoint(str(stage_dir)) if resume and stage_dir.is_dir() else None
    with graceful_interrupts(stopper):
        trainer.train(resume_from_checkpoint=checkpoint)
    if stopper.interrupted:
        saved_at = stage_dir / f"checkpoint-{trainer.state.global_step}"
        raise TrainingInterrupted(
            f"interrupted: checkpoint saved at {saved_at}",
            hint="continue with `ctxeng train --resume` (same recipe)",
        )
    new_tokens = meter.end_tokens - meter.start_tokens
    budget = next((c for c in callbacks if type(c).__name__ == "TimeBudget"), None)
    stats = {
        "steps": trainer.state.global_step,
        "examples": len(dataset),
        "resumed_from_step": meter.start_step,
        "tokens_seen": int(trainer.state.num_input_tokens_seen or 0),
        "train_s": round(meter.seconds, 2),
        "tokens_per_s": round(new_tokens / meter.seconds, 1) if meter.seconds else 0.0,
    }
    if budget is not None:
        stats["time_budget_s"] = round(budget.seconds, 1)
        stats["stopped_by_time"] = budget.stopped_at is not None
        if budget.decay_share:  # how far the rate had decayed at the last step (1 = not yet)
            stats["lr_factor_at_end"] = round(budget.factor, 3)
    log = [dict(entry) for entry in trainer.state.log_history]
    trainer.save_model(str(stage_dir / "adapter"))  # gathers sharded weights; writes on the main process
    if trainer.is_world_process_zero():
        write_json(stage_dir / "done.json", {"stats": stats, "log": log})
    return trainer.model, stats, log


def _records_beside(root: Path, dataset: Path) -> Path:
    """The records of the generation the dataset came from (else the current generation's)."""
    from ctxeng.core.workdir import GEN_PREFIX, generation

    beside = dataset.parent / "records.jsonl"
    return (
        beside
        if dataset.parent.name.startswith(GEN_PREFIX) and beside.is_file()
        else generation(root) / "records.jsonl"
    )
