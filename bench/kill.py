"""Kill `ctxeng build` at random moments and count what readers would have seen: mixed or torn output sets.

Usage: .venv/bin/python bench/kill.py [--kills 50] [--seed 1] [--files 150] [--pythonpath DIR] [--json]

A sample repository (tests/sample_repo.py plus --files generated modules, so a build lasts a few
seconds) is built once under /tmp/ctxeng-kill; then, --kills times: commit a change, start `ctxeng
build`, wait a uniform random time in [0, 1.1 x the measured build time] and send SIGKILL
(even runs) or SIGINT (odd runs). After each kill the outputs a reader sees through `.ctxeng/` are
checked with plain file reads (no ctxeng imports, so `--pythonpath` can point at an older checkout
to measure it the same way):

- mixed: the files do not belong to one build — manifest head vs state/head vs pack.json head,
  pack-model.json's records stamp vs records.jsonl, record and dataset line counts vs the manifest,
  and (where the manifest lists them) every file's sha256 and size;
- interrupted_after_publish: SIGINT answered with exit 130 although the new build was published;
- skill_behind: the work tree's SKILL.md differs from the one of the outputs' build right after the
  kill (a later run must repair it; counted again after the final refresh);
- interrupted_at_start: SIGINT that arrived while Python itself was starting (exit -2, or 1 with
  "Fatal Python error"), before ctxeng ran: nothing written, and such runs' tracebacks are Python's;
  `tracebacks` counts the others;
- leftovers: bytes in `.ctxeng/tmp`, generations beyond current and previous, `.*.tmp` files in the
  skill folder — after the kill (max) and after one final `ctxeng refresh`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/ctxeng-kill")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(path: Path, files: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.sample_repo import make_sample_repo

    make_sample_repo(path)
    for n in range(files):
        body = "".join(
            f'def f{n}_{i}(x):\n    """Step {i} of {n}."""\n    return x * {i} + {n}\n\n' for i in range(12)
        )
        (path / "gen").mkdir(exist_ok=True)
        (path / "gen" / f"mod_{n}.py").write_text(body)
    git(path, "add", "-A")
    git(path, "commit", "-qm", f"Add {files} generated modules")


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return -1


def outputs_folder(repo: Path) -> Path:
    """The folder a reader resolves once: `.ctxeng/current` when it exists, else the flat `.ctxeng/`."""
    out = repo / ".ctxeng"
    return Path(os.path.realpath(out / "current")) if (out / "current").is_symlink() else out


def problems(repo: Path) -> list[str]:
    """Why the outputs a reader sees now do not form one whole build ([] when they do)."""
    gen = outputs_folder(repo)
    manifest = _json(gen / "manifest.json")
    if not isinstance(manifest, dict):
        return ["manifest unreadable"]
    found = []
    head = manifest.get("head")
    state_head = (gen / "state" / "head").read_text().strip() if (gen / "state" / "head").is_file() else None
    if state_head != head:
        found.append("state/head differs from the manifest")
    pack = _json(gen / "pack.json")
    if not isinstance(pack, dict) or pack.get("head") != head:
        found.append("pack.json head differs from the manifest")
    model = _json(gen / "pack-model.json")
    st = os.stat(gen / "records.jsonl") if (gen / "records.jsonl").exists() else None
    if not isinstance(model, dict) or st is None or model.get("stamp") != [st.st_size, st.st_mtime_ns]:
        found.append("pack-model.json was made from other records")
    if _lines(gen / "records.jsonl") != sum((manifest.get("records") or {}).values()):
        found.append("records.jsonl line count differs from the manifest")
    for split in ("train", "eval"):
        if _lines(gen / "dataset" / f"{split}.jsonl") != (manifest.get("dataset") or {}).get(split):
            found.append(f"dataset/{split}.jsonl line count differs from the manifest")
    for rel, want in sorted((manifest.get("outputs") or {}).items()):
        path = gen / rel
        if not path.is_file() or path.stat().st_size != want.get("size"):
            found.append(f"{rel} size differs from the manifest")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != want.get("sha256"):
            found.append(f"{rel} sha256 differs from the manifest")
    return found


def skill_behind(repo: Path) -> bool:
    """Whether the work tree's SKILL.md differs from the one belonging to the current outputs."""
    gen = outputs_folder(repo)
    pack = _json(gen / "pack.json") or {}
    skill = repo / str(pack.get("skill", ".claude/skills/none")) / "SKILL.md"
    staged = gen / "skill" / "SKILL.md"
    if staged.is_file():  # generations keep the skill they publish
        return not skill.is_file() or skill.read_bytes() != staged.read_bytes()
    # the flat layout keeps no copy: the skill names the commit it was generated at
    head = str((_json(gen / "manifest.json") or {}).get("head", ""))[:12]
    return not skill.is_file() or f"Generated by ctxeng at {head}" not in skill.read_text(errors="replace")


def leftovers(repo: Path) -> dict[str, int]:
    out = repo / ".ctxeng"
    tmp_bytes = (
        sum(p.stat().st_size for p in (out / "tmp").rglob("*") if p.is_file())
        if (out / "tmp").is_dir()
        else 0
    )
    gens = [p for p in out.glob("gen-*") if p.is_dir()]
    skill_tmp = list((repo / ".claude" / "skills").rglob(".*.tmp")) if (repo / ".claude").is_dir() else []
    return {"tmp_bytes": tmp_bytes, "stage_dirs": len(list((out / "tmp").glob("stage-*"))) if (out / "tmp").is_dir() else 0,
            "generations_beyond_two": max(0, len(gens) - 2), "skill_tmp_files": len(skill_tmp)}  # fmt: skip


def ctxeng(repo: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ctxeng", *args, str(repo)], cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--files", type=int, default=150)
    parser.add_argument("--pythonpath", default="", help="import ctxeng from here (e.g. an older checkout)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    os.environ.update({k: v for k, v in env.items() if k.startswith("GIT_")})
    repo = WORK / "repo"
    shutil.rmtree(WORK, ignore_errors=True)
    make_repo(repo, args.files)
    for n in range(2):  # the second build is timed: later builds, like it, follow a commit and reuse caches
        if n:  # else the timed build finds nothing changed (~0.1 s) and every kill lands at start-up
            (repo / "gen" / "kill_warmup.py").write_text("def warmed(x):\n    return x\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", "Warm-up change")
        started = time.monotonic()
        first = ctxeng(repo, env, "build", "-q")
        _, err = first.communicate()
        if first.returncode != 0:
            raise SystemExit(f"the first build failed: {err}")
    span = time.monotonic() - started
    rng = random.Random(args.seed)
    counts = {
        "mixed": 0,
        "interrupted_after_publish": 0,
        "skill_behind": 0,
        "interrupted_at_start": 0,
        "tracebacks": 0,
    }
    exits: dict[str, int] = {}
    worst = {"tmp_bytes": 0, "stage_dirs": 0, "generations_beyond_two": 0, "skill_tmp_files": 0}
    examples: list[str] = []
    traces: list[str] = []
    for n in range(args.kills):
        (repo / "gen" / f"kill_{n}.py").write_text(f"def killed_{n}(x):\n    return x - {n}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"Change {n}")
        head = git(repo, "rev-parse", "HEAD")
        proc = ctxeng(repo, env, "build", "-q")
        time.sleep(rng.uniform(0.0, span * 1.1))
        sig = signal.SIGKILL if n % 2 == 0 else signal.SIGINT
        proc.send_signal(sig)
        _, err = proc.communicate()
        exits[f"{sig.name}:{proc.returncode}"] = exits.get(f"{sig.name}:{proc.returncode}", 0) + 1
        at_start = proc.returncode == -signal.SIGINT or "Fatal Python error" in err
        counts["interrupted_at_start"] += at_start
        if "Traceback" in err and not at_start:
            counts["tracebacks"] += 1
            traces.append(
                f"kill {n} ({sig.name}, exit {proc.returncode}): " + " | ".join(err.strip().splitlines()[-3:])
            )
        found = problems(repo)
        if found:
            counts["mixed"] += 1
            examples.append(f"kill {n} ({sig.name}): {'; '.join(found[:3])}")
        published = (_json(outputs_folder(repo) / "manifest.json") or {}).get("head") == head
        if sig == signal.SIGINT and proc.returncode == 130 and published:
            counts["interrupted_after_publish"] += 1
        counts["skill_behind"] += skill_behind(repo)
        for key, value in leftovers(repo).items():
            worst[key] = max(worst[key], value)
    final = ctxeng(repo, env, "refresh")
    _, err = final.communicate()
    result = {
        "kills": args.kills, "build_seconds": round(span, 2), "exits": dict(sorted(exits.items())), **counts,
        "mixed_examples": examples[:5], "traceback_examples": traces[:5], "leftovers_max_after_a_kill": worst,
        "final_refresh_exit": final.returncode, "after_final_refresh": {
            **leftovers(repo), "mixed": len(problems(repo)) > 0, "skill_behind": skill_behind(repo)},
    }  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
