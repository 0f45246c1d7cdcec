"""Commands mined from CI workflows and from the configuration files of developer tools."""

from __future__ import annotations

import posixpath
import re
from typing import Any

import yaml

from ctxeng.pack.commands import Conventions, Found, classify
from ctxeng.pack.commands import found as _cmd

# CI steps worth showing start with a developer tool (after optional VAR=value assignments).
_CI_TOOL = re.compile(
    r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:python3?|pip3?|pytest|tox|nox|npm|npx|pnpm|yarn|bun|make|cargo|go|uv|poetry|pdm|"
    r"hatch|ruff|mypy|pyright|black|isort|flake8|pylint|pre-commit|just|bundle|rake|mvn|gradle|\./gradlew|dotnet|"
    r"cmake|ctest|bazel|sphinx-build|mkdocs|eslint|prettier|tsc|jest|vitest|deno)\b"
)


def precommit(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    """pre-commit runs every hook as a lint; a typecheck or formatter hook (mypy, black) is also its own command."""
    tools.add("pre-commit")
    yield _cmd("lint", "pre-commit run --all-files", path, prio=2)
    data = yaml.safe_load(text)
    repos = data.get("repos", []) if isinstance(data, dict) else []
    ids = sorted(
        {
            str(h.get("id"))
            for r in repos
            if isinstance(r, dict)
            for h in r.get("hooks", []) or []
            if isinstance(h, dict)
        }
    )
    for hook in ids:
        category = classify(hook)
        if category in ("typecheck", "format"):
            tools.add(hook)
            yield _cmd(category, f"pre-commit run {hook} --all-files", path, prio=4)


def workflow(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    data = yaml.safe_load(text)
    runs: list[str] = []
    stack: list[Any] = [data]
    while stack:  # iterative walk: CI files can nest arbitrarily
        node = stack.pop()
        if isinstance(node, dict):
            for key in sorted(node, key=str, reverse=True):
                value = node[key]
                if key in ("run", "script") and isinstance(value, (str, list)):
                    runs.extend([value] if isinstance(value, str) else [str(v) for v in value])
                elif key == "uses" and isinstance(value, str):
                    action = _ACTIONS.get(value.split("@", 1)[0].lower())
                    if action:
                        yield _cmd(
                            action[0], action[1], path, f"in CI via `{value.split('@', 1)[0]}`", prio=5
                        )
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(reversed(node))
    for run in runs:
        for line in run.splitlines():
            line = " ".join(line.split())
            if not line or line.startswith(
                ("#", "echo", "cd ", "export ", "set ", "if ", "fi", "then", "else")
            ):
                continue
            category = classify(line)
            if category == "install" and not _installs_project(line):
                continue  # `pip install --upgrade pip`, `pip install twine`: CI plumbing, not how to set up
            if category and len(line) <= 160 and _CI_TOOL.match(line) and "|" not in line:
                yield _cmd(category, line, path, "in CI", prio=5)


# GitHub Actions that run a developer tool: (category, the command they amount to).
_ACTIONS = {
    "golangci/golangci-lint-action": ("lint", "golangci-lint run"), "astral-sh/ruff-action": ("lint", "ruff check"),
    "chartboost/ruff-action": ("lint", "ruff check"), "pre-commit/action": ("lint", "pre-commit run --all-files"),
    "jakebailey/pyright-action": ("typecheck", "pyright"), "psf/black": ("format", "black --check ."),
}  # fmt: skip
# An install line that sets the project up (itself, its requirement files, its lockfile), as opposed to
# installing one named tool.
_PROJECT_INSTALL = re.compile(
    r"(?:^|\s)(?:-e|--editable|-r|--requirement|--group|-c)(?:\s|=|$)|(?:^|\s)-r\S|(?:^|\s)\.(?:\[|\s|$|/)|requirements"
    r"|^(?:npm ci|npm install|pnpm install|yarn install|yarn|bun install|poetry install|uv sync|pdm install|"
    r"bundle install|go mod download|composer install)(?:\s+-\S+)*$"
)


def _installs_project(line: str) -> bool:
    """Whether a CI install line installs the project or its declared dependencies."""
    return bool(_PROJECT_INSTALL.search(line))


TOOL_CONFIGS = ("tsconfig.json", "mypy.ini", ".mypy.ini", "pyrightconfig.json", ".golangci.yml", ".golangci.yaml",
                ".golangci.toml", "eslint.config.js", "eslint.config.mjs", ".eslintrc.json", ".eslintrc.js",
                ".eslintrc.cjs", ".eslintrc.yml", ".eslintrc", "biome.json")  # fmt: skip


def _node_runner(tracked: set[str]) -> str:
    """How this project runs a locally installed tool (`npx`, `pnpm exec`, `yarn`, `bunx`)."""
    for lock, runner in (
        ("pnpm-lock.yaml", "pnpm exec"),
        ("yarn.lock", "yarn"),
        ("bun.lockb", "bunx"),
        ("bun.lock", "bunx"),
    ):
        if lock in tracked:
            return runner
    return "npx"


def tool_config(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    """A tool's own configuration file at the root: the tool is in use, so its default command applies."""
    base = posixpath.basename(path)
    if base == "tsconfig.json":
        tools.add("tsc")
        yield _cmd("typecheck", f"{_node_runner(tracked)} tsc --noEmit", path, prio=3)
    elif base in ("mypy.ini", ".mypy.ini"):
        tools.add("mypy")
        yield _cmd("typecheck", "mypy .", path, prio=3)
    elif base == "pyrightconfig.json":
        tools.add("pyright")
        yield _cmd("typecheck", "pyright", path, prio=3)
    elif base.startswith(".golangci."):
        tools.add("golangci-lint")
        yield _cmd("lint", "golangci-lint run", path, prio=3)
    elif base == "biome.json":
        tools.add("biome")
        yield _cmd("lint", f"{_node_runner(tracked)} biome check .", path, prio=3)
    else:  # an ESLint configuration
        tools.add("eslint")
        yield _cmd("lint", f"{_node_runner(tracked)} eslint .", path, prio=3)
