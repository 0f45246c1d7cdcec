"""Benchmark `ctxeng serve` on a real adapter: first token, a 64-token answer, 4 concurrent clients, memory.

Usage: .venv/bin/python bench/serve.py [--repo PATH] [--adapter NAME] [--threads 1] [--runs 3] [--json]

PATH is a built repository with a trained adapter (default: a clone of /work/repos/flask in
/tmp/ctxeng-bench-serve/flask, built and, if it has no adapter yet, trained with `--recipe cpu-default`,
which takes minutes; `--adapter-from DIR` copies an existing adapter folder in instead). The server is
the real `ctxeng serve` in a child process and the client the real `openai` package, as an agent uses it.

Figures: model load (start to "listening"); time to the first streamed token for a short question (what
the prompt hook sends) and for a question grounded by 1,000 tokens of retrieved context (what `ctxeng ask`
sends); latency of a 64-token answer (`min_tokens` = `max_tokens` = 64, so every run generates 64);
requests per second with 4 concurrent clients asking for 64 tokens each (one generation runs at a time, the
others queue); the server's peak and final RSS (VmHWM / VmRSS); the UserPromptSubmit hook's wall time
with the server up. Medians over --runs. The machine is shared: compare with care (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

WORK = Path("/tmp/ctxeng-bench-serve")
CTXENG = [sys.executable, "-m", "ctxeng"]
QUESTION = "Where is the application context pushed when a request is dispatched?"
READY = "ctxeng serve: listening on "


def prepare(args: argparse.Namespace) -> Path:
    """The repository to serve: as given, or a built clone of flask with an adapter."""
    repo = Path(args.repo) if args.repo else WORK / "flask"
    if not args.repo and not repo.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "/work/repos/flask", str(repo)], check=True)
    if not (repo / ".ctxeng" / "index.json").exists():
        subprocess.run([*CTXENG, "build", str(repo), "-q"], check=True)
    adapters = repo / ".ctxeng" / "adapters"
    if args.adapter_from and not (adapters / Path(args.adapter_from).name).exists():
        shutil.copytree(args.adapter_from, adapters / Path(args.adapter_from).name)
    if not any(p.is_dir() and not p.name.startswith(".") for p in adapters.glob("*")):
        print("no adapter yet: training one with --recipe cpu-default (minutes)", file=sys.stderr)
        subprocess.run([*CTXENG, "train", str(repo), "--recipe", "cpu-default", "-q"], check=True)
    return repo


class Server:
    """`ctxeng serve` in a child process, ready when it prints its URL."""

    def __init__(self, repo: Path, adapter: str | None, threads: int) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
        cmd = [*CTXENG, "serve", str(repo), "--port", "0", "--threads", str(threads), "--max-queue", "8"]
        cmd += ["--adapter", adapter] if adapter else []
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stderr or []], daemon=True).start()
        while True:
            line = lines.get(timeout=600)
            if line.startswith(READY):
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"ctxeng serve failed: {line}")
        self.load_s = time.perf_counter() - start
        self.url = line[len(READY) :].split("/v1", 1)[0]
        self.models = line.split("(models: ", 1)[1].split(")", 1)[0].split(", ")

    def memory_mb(self) -> dict[str, float]:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {key: int(fields[key].split()[0]) / 1024 for key in ("VmHWM", "VmRSS")}

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server has used: less sensitive to a busy machine than wall."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def ttft(client: Any, model: str, messages: list[dict[str, str]]) -> float:
    """Seconds from sending the request to the first streamed text (the stream is then closed: cancelled)."""
    start = time.perf_counter()
    stream = client.chat.completions.create(
        model=model, messages=messages, max_tokens=64, temperature=0, stream=True
    )
    try:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                return time.perf_counter() - start
    finally:
        stream.close()
    return float("nan")


def answer_64(client: Any, model: str, messages: list[dict[str, str]]) -> float:
    start = time.perf_counter()
    reply = client.chat.completions.create(
        model=model, messages=messages, max_tokens=64, temperature=0, extra_body={"min_tokens": 64}
    )
    assert reply.usage.completion_tokens == 64, reply.usage
    return time.perf_counter() - start


def concurrent(
    client: Any, model: str, messages: list[dict[str, str]], clients: int, each: int
) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(each):
            took = answer_64(client, model, messages)
            with lock:
                latencies.append(took)

    start = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 3),
        "tokens_per_s": round(64 * len(latencies) / wall, 1),
        "latency_median_s": round(statistics.median(latencies), 2),
        "latency_max_s": round(latencies[-1], 2),
    }


def hook_wall(repo: Path, runs: int) -> float:
    event = json.dumps({"cwd": str(repo), "prompt": QUESTION})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [*CTXENG, "context", "--hook"], input=event, capture_output=True, text=True, check=True
        )
        times.append(time.perf_counter() - start)
        assert "Short answer from this repository's adapter" in out.stdout, out.stdout[-300:]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", help="a built repository with an adapter (default: a flask clone)")
    parser.add_argument("--adapter", help="adapter to serve (default: all; the newest is measured)")
    parser.add_argument("--adapter-from", help="copy this adapter folder into the repository first")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--each", type=int, default=2, help="requests per concurrent client")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import openai

    from ctxeng.pack import context_for_prompt
    from ctxeng.serve.ask import messages_for
    from ctxeng.serve.local import pick_adapter

    repo = prepare(args)
    server = Server(repo, args.adapter, args.threads)
    try:
        model = pick_adapter(repo, server.models) or "base"
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=600)
        short = messages_for(repo.name, QUESTION, "")
        grounded = messages_for(repo.name, QUESTION, context_for_prompt(repo, QUESTION, 1_000))
        answer_64(client, model, short)  # warm-up: first-call allocations, lazy kernels
        results: dict[str, Any] = {
            "repository": str(repo),
            "model": model,
            "threads": args.threads,
            "load_s": round(server.load_s, 1),
        }
        results["prompt_tokens"] = {
            "short": client.chat.completions.create(
                model=model, messages=short, max_tokens=1
            ).usage.prompt_tokens,
            "grounded": client.chat.completions.create(
                model=model, messages=grounded, max_tokens=1
            ).usage.prompt_tokens,
        }
        results["ttft_s"] = {
            "short": round(statistics.median(ttft(client, model, short) for _ in range(args.runs)), 3),
            "grounded": round(statistics.median(ttft(client, model, grounded) for _ in range(args.runs)), 3),
        }
        cpu = server.cpu_s()
        results["answer_64_s"] = round(
            statistics.median(answer_64(client, model, short) for _ in range(args.runs)), 2
        )
        results["answer_64_cpu_s"] = round((server.cpu_s() - cpu) / args.runs, 2)
        results["concurrent"] = {
            "clients": args.clients,
            **concurrent(client, model, short, args.clients, args.each),
        }
        results["hook_with_server_s"] = round(hook_wall(repo, args.runs), 2)
        results["memory_mb"] = {k: round(v) for k, v in server.memory_mb().items()}
    finally:
        server.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    c = results["concurrent"]
    print(f"ctxeng serve on {repo} (model {model}, {args.threads} thread(s)); load {results['load_s']} s")
    print(
        f"  time to first token: {results['ttft_s']['short']} s short prompt "
        f"({results['prompt_tokens']['short']} "
        f"tokens), {results['ttft_s']['grounded']} s grounded ({results['prompt_tokens']['grounded']} tokens)"
    )
    print(
        f"  64-token answer: {results['answer_64_s']} s ({64 / results['answer_64_s']:.1f} tokens/s), "
        f"{results['answer_64_cpu_s']} CPU-s in the server"
    )
    print(
        f"  {c['clients']} concurrent clients, {c['requests']} requests: {c['requests_per_s']} req/s, "
        f"{c['tokens_per_s']} tokens/s, latency median {c['latency_median_s']} s, max {c['latency_max_s']} s"
    )
    print(f"  UserPromptSubmit hook with the adapter's answer: {results['hook_with_server_s']} s")
    print(f"  memory: peak RSS {results['memory_mb']['VmHWM']} MB, now {results['memory_mb']['VmRSS']} MB")


if __name__ == "__main__":
    main()
