"""Does GitPython fit the build path? Its import time and its object reader beside ctxeng's git CLI reader.

Usage: .venv/bin/python bench/gitpython.py PATH [--runs 3]

Reads every tracked blob of the repository at PATH three ways: ctxeng's `Git.read_blobs` (one pipelined
`git cat-file --batch`, a writer thread feeding ids), GitPython's object database (`repo.odb.stream`,
its persistent `cat-file --batch` with one request/response round trip per object) and GitPython's
`Git.get_object_data`. Also times `import git` in a fresh interpreter. Figures are the best of --runs
(wall and CPU seconds of this process and its git children).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ctxeng.core.repo import open_repo


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _read(root: Path, blobs: list[str], how: str) -> int:
    total = 0
    if how == "ctxeng cat-file --batch":
        for _, data in open_repo(root).git.read_blobs(blobs):
            total += len(data)
        return total
    import git

    with git.Repo(root) as repo:  # closed: no cat-file children left behind
        for blob in blobs:
            if how == "GitPython odb.stream":
                total += len(repo.odb.stream(bytes.fromhex(blob)).read())
            else:
                total += len(repo.git.get_object_data(blob)[3])
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    blobs = sorted({e.blob for e in open_repo(args.path).index() if e.mode.startswith("100")})
    imports = []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import git"], check=True)
        imports.append(time.perf_counter() - started)
    baseline = []
    for _ in range(args.runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - started)
    print(f"import git: +{min(imports) - min(baseline):.3f} s wall over a bare interpreter")
    for how in ("ctxeng cat-file --batch", "GitPython odb.stream", "GitPython get_object_data"):
        walls, cpus, size = [], [], 0
        for _ in range(args.runs):
            started, cpu = time.perf_counter(), _cpu()
            size = _read(args.path, blobs, how)
            walls.append(time.perf_counter() - started)
            cpus.append(_cpu() - cpu)
        print(
            f"{how:28} {len(blobs)} blobs, {size / 1e6:.1f} MB: wall {min(walls):.3f} s, CPU {min(cpus):.3f} s"
        )


if __name__ == "__main__":
    main()
