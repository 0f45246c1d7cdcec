"""aider's RepoMap (no chat files) at given commits and budgets; run with the aider venv's Python.

Usage: /work/aider-venv/bin/python bench/aider_map.py CLONE JOBS.json OUT.json

CLONE is a scratch clone this script checks out (detached, forced) at each parent; JOBS.json is
{"parents": [...], "budgets": [...]}. Writes {parent: {budget: map text}}. Tokens are counted
with tiktoken's o200k_base (what aider counts gpt-4o with), set TIKTOKEN_CACHE_DIR for offline
use; the target is exactly the budget (no multiplier, as peers.md measured). Run with
PYTHONHASHSEED=0: aider's map depends on the hash seed otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


class _IO:
    def read_text(self, fname: str) -> str | None:
        try:
            return Path(fname).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def tool_output(self, *args: Any, **kwargs: Any) -> None:
        pass

    tool_warning = tool_error = tool_output


class _Model:
    def __init__(self) -> None:
        import tiktoken

        self.enc = tiktoken.get_encoding("o200k_base")

    def token_count(self, text: str) -> int:
        return len(self.enc.encode_ordinary(text))


def main() -> int:
    from aider.repomap import RepoMap

    clone, jobs_file, out_file = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    jobs = json.loads(jobs_file.read_text())
    model, io = _Model(), _IO()
    out: dict[str, dict[str, str]] = {}
    for parent in jobs["parents"]:
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", "--detach", "-f", parent], check=True)
        files = subprocess.run(
            ["git", "-C", str(clone), "ls-files", "-z"], capture_output=True, check=True
        ).stdout
        other = sorted(str(clone / p.decode()) for p in files.split(b"\0") if p)
        out[parent] = {}
        for budget in jobs["budgets"]:
            rm = RepoMap(map_tokens=budget, root=str(clone), main_model=model, io=io, refresh="always")
            out[parent][str(budget)] = rm.get_repo_map([], other) or ""
        print(parent[:10], flush=True, file=sys.stderr)
    out_file.write_text(json.dumps(out, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
