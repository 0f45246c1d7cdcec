"""The code base stays clean: ruff check, ruff format and mypy --strict (the `test` extra) run in the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_check_is_clean() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "ctxeng", "tests", "bench", "extractors", "recipes"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_is_applied() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "ctxeng", "tests", "bench"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_strict_is_clean() -> None:
    # strict = true and the library exceptions live in pyproject.toml's [tool.mypy]
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "ctxeng"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
