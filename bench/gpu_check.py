"""One-GPU smoke check of the training stack with the GPU recipes' settings; driven by bench/gpu_check.sh.

On a single CUDA GPU, offline: builds the kvstore sample repository (`ctxeng build`), trains the
tiny test model (tests/tinymodel.py) for a few steps with bf16, packing, activation checkpointing
and, when bitsandbytes is installed, a 4-bit (QLoRA) base; then evaluates it (`ctxeng eval`, the
knowledge 2×2), serves it (`ctxeng serve` + one plain and one grounded chat request), and merges it.
Writes a JSON summary (`--out`) with each step's seconds; exit 0 only when every step passed.

`--cpu` runs the same flow with the settings a CPU cannot run (bf16, 4 bits) switched off, so the
script itself is checked on machines without a GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS = 12


def gpu_recipe(base: Path, quantize: bool, cpu: bool = False, steps: int = STEPS) -> str:
    """The recipe the check trains: the GPU recipes' settings on the tiny model (CPU-safe with `cpu`)."""
    lines = [
        "# gpu-check: the GPU recipes' settings (bf16, packing, activation checkpointing, 4-bit) on a tiny model",
        f"base_model: {base}",
        "output: gpu-check",
        "max_length: 256",
        "seed: 0",
        f"dtype: {'float32' if cpu else 'bfloat16'}",
        "max_eval_examples: 16",
        "max_minutes: 3",
        "task_weights: {facts: 2, grounded: 1, '*': 0.5}",
    ]
    if quantize and not cpu:
        lines += [
            "quantization:",
            "  load_in_4bit: true",
            "  bnb_4bit_quant_type: nf4",
            "  bnb_4bit_compute_dtype: bfloat16",
            "  bnb_4bit_use_double_quant: true",
        ]
    lines += [
        "lora: {r: 8, lora_alpha: 16, lora_dropout: 0.05, target_modules: all-linear}",
        "sft:",
        f"  max_steps: {steps}",
        "  per_device_train_batch_size: 4",
        "  packing: true",
        "  learning_rate: 5.0e-3",
        "  logging_steps: 2",
        "  save_steps: 1000",
        f"  bf16: {'false' if cpu else 'true'}",
        f"  activation_checkpointing: {'false' if cpu else 'true'}",
    ]
    if cpu:
        lines.append("  use_cpu: true")
    if quantize and not cpu:
        lines.append("  optim: paged_adamw_8bit")
    return "\n".join(lines) + "\n"


def _env(home: Path, cpu: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "CTXENG_CACHE_DIR": str(home / "cache"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "GIT_AUTHOR_NAME": "GPU Check",
        "GIT_AUTHOR_EMAIL": "gpu@example.com",
        "GIT_COMMITTER_NAME": "GPU Check",
        "GIT_COMMITTER_EMAIL": "gpu@example.com",
    }
    if cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
        env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _ctxeng(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctxeng", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _serve_check(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    """Start `ctxeng serve --port 0`, ask one plain and one grounded question, stop it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ctxeng", "serve", str(repo), "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = ""
        deadline = time.monotonic() + 240
        assert proc.stderr is not None
        while time.monotonic() < deadline and not url:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError("ctxeng serve exited before it was ready")
            if line.startswith("ctxeng serve: listening on "):
                url = line.split("listening on ", 1)[1].split()[0].split("/v1", 1)[0]
        if not url:
            raise RuntimeError("ctxeng serve did not announce its address")
        out = {}
        for label, model, extra in (
            ("plain", "gpu-check", {}),
            ("grounded", "gpu-check+context", {"ctxeng": {"budget": 300}}),
        ):
            body = {"model": model, "messages": [{"role": "user", "content": "Where is `compact` defined?"}],
                    "max_tokens": 24, "temperature": 0, **extra}  # fmt: skip
            request = urllib.request.Request(
                f"{url}/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback)
                reply = json.loads(response.read())
            out[label] = {
                "answer": reply["choices"][0]["message"]["content"],
                "prompt_tokens": reply["usage"]["prompt_tokens"],
            }
        if out["grounded"]["prompt_tokens"] <= out["plain"]["prompt_tokens"]:
            raise RuntimeError("the grounded request got no context")
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def run_check(work: Path, cpu: bool, summary: dict[str, Any]) -> dict[str, Any]:
    """The whole check in `work`, filling `summary` as it goes (raises on the first failing step)."""
    sys.path.insert(0, str(ROOT))
    import torch

    from tests.sample_repo import make_sample_repo
    from tests.tinymodel import build_tiny_model

    if not cpu and not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: run on a GPU machine, or pass --cpu for the CPU smoke run")
    quantize = not cpu and importlib.util.find_spec("bitsandbytes") is not None
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = _env(home, cpu)
    os.environ.update({k: env[k] for k in ("HOME", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL",
                                             "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")})  # fmt: skip
    summary.update(
        device=torch.cuda.get_device_name(0) if not cpu else "cpu",
        torch=torch.__version__,
        bitsandbytes=quantize,
        steps={},
    )

    def step(name: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        print(f"gpu_check: {name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        done = _ctxeng(args, env, timeout)
        summary["steps"][name] = {"seconds": round(time.perf_counter() - started, 1), "rc": done.returncode}
        if done.returncode != 0:
            summary["steps"][name]["stderr"] = done.stderr[-4000:]
            raise RuntimeError(f"{name} failed (exit {done.returncode}): {done.stderr[-2000:]}")
        return done

    started = time.perf_counter()
    tiny = build_tiny_model(work / "tiny")
    repo = make_sample_repo(work / "kvstore").path
    summary["steps"]["fixture"] = {"seconds": round(time.perf_counter() - started, 1), "rc": 0}
    step("build", ["build", str(repo), "-q"], 300)
    recipe = work / "gpu-check.yaml"
    recipe.write_text(gpu_recipe(tiny, quantize, cpu), encoding="utf-8")
    step("train", ["train", str(repo), "--recipe", str(recipe)], 420)
    manifest = json.loads((repo / ".ctxeng" / "adapters" / "gpu-check" / "ctxeng-manifest.json").read_text())
    summary["training"] = manifest["training"]
    evaluated = step(
        "eval", ["eval", str(repo), "--json", "--knowledge", "8", "--probes", "2", "--budget", "300"], 300
    )
    report = json.loads(evaluated.stdout)
    summary["knowledge"] = report["knowledge"]["table"] if report.get("knowledge") else None
    started = time.perf_counter()
    summary["serve"] = _serve_check(repo, env)
    summary["steps"]["serve"] = {"seconds": round(time.perf_counter() - started, 1), "rc": 0}
    step("merge", ["merge", str(repo), "--out", str(work / "merged")], 300)
    return summary


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="gpu_check.json", help="where the JSON summary goes")
    parser.add_argument("--work", default="", help="working folder [default: a temporary one]")
    parser.add_argument("--cpu", action="store_true", help="CPU smoke run (no bf16, no 4 bits)")
    args = parser.parse_args()
    started = time.perf_counter()

    def stop(signum: int, frame: Any) -> None:  # `timeout` in gpu_check.sh: still write what was done
        raise TimeoutError(f"stopped by signal {signum} (time limit)")

    signal.signal(signal.SIGTERM, stop)
    with tempfile.TemporaryDirectory(prefix="ctxeng-gpu-check-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        summary: dict[str, Any] = {}
        try:
            run_check(work, args.cpu, summary)
            summary["ok"] = True
        except Exception as exc:  # the summary says what failed; the exit code says that it did
            summary.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:4000])
        summary["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
