"""Benchmark: `ctxeng train` with a recipe beside a plain hand-written TRL script, same data and model.

    python bench/train.py                       # CPU: cpu-default; on a CUDA machine: qwen2.5-coder-1.5b
    python bench/train.py --recipe cpu-default --steps 20 --repo /path/to/repo   # repo has .ctxeng/dataset

Each side runs in its own fresh process (so peak memory is its own) with the glibc malloc
settings .ci/run uses; both train the recipe's LoRA for the same number of steps on
the same rows. Prints tokens/s, seconds per step, peak RSS (and peak GPU memory) side by side,
and the same as JSON with --json. Without --repo it trains on the kvstore sample repository.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/train.py` puts bench/ first on sys.path, where sibling scripts (a bench/secrets.py once did)
# would shadow standard modules that huggingface_hub imports; the repository root goes there instead.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]


def _recipe_with_steps(name: str, steps: int, out_dir: Path) -> Path:
    """A copy of the recipe that stops after `steps` steps, saves no checkpoint, and skips held-out eval."""
    import yaml

    from ctxeng.train.recipe import find_recipe

    source = find_recipe(name)
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["sft"] = {**data.get("sft", {}), "max_steps": steps, "save_steps": 10**6, "logging_steps": 1}
    data["max_eval_examples"] = 1  # the benchmark compares training, not evaluation
    data["output"] = "bench"
    if "accelerate_config" in data:
        data["accelerate_config"] = str((source.parent / data["accelerate_config"]).resolve())
    path = out_dir / f"{source.stem}-bench.yaml"
    path.write_text(
        f"# {source.stem}-bench: {steps} steps of {source.stem}\n" + yaml.safe_dump(data), "utf-8"
    )
    return path


def _peak() -> dict[str, float | None]:
    import torch

    gpu = round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None
    return {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_mb": gpu,
    }


def run_ctxeng(repo: Path, recipe: Path) -> dict[str, Any]:
    """One side: the library entry point `ctxeng train` uses."""
    from ctxeng.train.trainer import train

    started = time.perf_counter()
    training = train(repo, str(recipe)).manifest["training"]
    return {"steps": training["steps"], "tokens": training["tokens_seen"], "train_s": training["train_s"],
            "process_s": round(time.perf_counter() - started, 1), **_peak()}  # fmt: skip


def run_plain(repo: Path, recipe_path: Path) -> dict[str, Any]:
    """Other side: what a user would write by hand with TRL + PEFT for the same recipe."""
    import torch
    import yaml
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ctxeng.train.models import resolve_base  # only to find the same (embedded) model folder

    started = time.perf_counter()
    recipe = yaml.safe_load(recipe_path.read_text(encoding="utf-8"))
    location = resolve_base(recipe["base_model"]).location
    dtype = recipe.get("dtype", "auto")
    model = AutoModelForCausalLM.from_pretrained(
        location, dtype=getattr(torch, dtype) if dtype != "auto" else "auto"
    )
    tokenizer = AutoTokenizer.from_pretrained(location)
    rows = [
        json.loads(line) for line in (repo / ".ctxeng/dataset/train.jsonl").read_text("utf-8").splitlines()
    ]
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(output_dir=out, max_length=recipe["max_length"], seed=recipe.get("seed", 0),
                         report_to="none", include_num_input_tokens_seen="all" if recipe["sft"].get("packing")
                         else "non_padding", **recipe["sft"])  # fmt: skip
        trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                             peft_config=LoraConfig(task_type="CAUSAL_LM", **recipe["lora"]))  # fmt: skip
        begin = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - begin
    return {"steps": trainer.state.global_step, "tokens": trainer.state.num_input_tokens_seen,
            "train_s": round(seconds, 2), "process_s": round(time.perf_counter() - started, 1), **_peak()}  # fmt: skip


def _sample_repo(folder: Path) -> Path:
    from tests.sample_repo import make_sample_repo
    from tests.tinymodel import kvstore_rows, write_dataset

    env = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    os.environ.update(env)
    repo = make_sample_repo(folder / "kvstore")
    write_dataset(repo.path, *kvstore_rows())
    return repo.path


def _child(side: str, repo: Path, recipe: Path) -> dict[str, Any]:
    from ctxeng.train.launch import MALLOC_ENV

    env = {**os.environ, **MALLOC_ENV, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--repo", str(repo), "--recipe-file",
           str(recipe)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{side} run failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["tokens_per_s"] = round(result["tokens"] / result["train_s"], 1) if result["train_s"] else 0.0
    result["s_per_step"] = round(result["train_s"] / max(result["steps"], 1), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipe", default=None, help="recipe name or path [default: the machine's default]")
    parser.add_argument(
        "--repo", type=Path, default=None, help="repository with .ctxeng/dataset [default: sample]"
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--side", choices=("ctxeng", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--recipe-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child process: one measurement, one JSON line
        runner = run_ctxeng if args.side == "ctxeng" else run_plain
        print(json.dumps(runner(args.repo, args.recipe_file)))
        return
    from ctxeng.train.launch import default_recipe

    with tempfile.TemporaryDirectory(prefix="ctxeng-bench-") as tmp:
        repo = args.repo.resolve() if args.repo else _sample_repo(Path(tmp))
        recipe = _recipe_with_steps(args.recipe or default_recipe(), args.steps, Path(tmp))
        results = {side: _child(side, repo, recipe) for side in ("ctxeng", "plain")}
    report = {"recipe": args.recipe or default_recipe(), "steps": args.steps, "repo": str(args.repo or "sample"),
              "threads": os.environ.get("OMP_NUM_THREADS", "1"), "results": results}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"recipe {report['recipe']}, {args.steps} steps, repo {report['repo']}")
    print(
        f"{'':8} {'tokens':>8} {'train s':>8} {'s/step':>7} {'tok/s':>8} {'RSS MB':>8} {'GPU MB':>8} {'proc s':>7}"
    )
    for side, r in results.items():
        gpu = f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] is not None else "-"
        print(f"{side:8} {r['tokens']:>8} {r['train_s']:>8.1f} {r['s_per_step']:>7.2f} {r['tokens_per_s']:>8.0f} "
              f"{r['peak_rss_mb']:>8.0f} {gpu:>8} {r['process_s']:>7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
