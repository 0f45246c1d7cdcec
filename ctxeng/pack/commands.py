"""What a developer command is and which kind of work it does (install, test, lint ...)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

CATEGORIES = ("install", "build", "test", "lint", "format", "typecheck", "run", "docs")

# Patterns (checked in this order) that put a command or a task name in a category. Tool names are
# whole words: `.eslintcache` in a clean script is no lint, `/dev/null` in a recipe is no dev server.
_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (category, re.compile(pattern))
    for category, pattern in (
        (
            "typecheck",
            r"\bmypy\b|\bpyright\b|\btype-?check|\btypes\b|\bcheck[:-]types\b|\b(?:vue-)?tsc\b[^;&|]*--noemit"
            r"|\bvue-tsc\b|\bpytype\b|\bflow check\b",
        ),
        (
            "format",
            r"\bblack\b|ruff format|\bprettier\b|\bgofmt\b|\bgofumpt\b|cargo fmt|\bisort\b|\bfmt\b|\bformat"
            r"|\brustfmt\b|clang-format|\bbiome format\b",
        ),
        (
            "lint",
            r"\bruff\b|\bflake8\b|\bpylint\b|\beslint\b|golangci|\bclippy\b|\blint\b|\blint[:-]|pre-commit"
            r"|\bshellcheck\b|go vet|\brubocop\b|\bcodespell\b|\bmisspell\b|\bcspell\b|\btypos\b|\bbiome\b"
            r"|\bstylelint\b|\bmarkdownlint\b|\bstaticcheck\b",
        ),
        (
            "test",
            r"pytest|\btest|\btox\b|\bjest\b|vitest|mocha|unittest|ctest|rspec|phpunit|coverage|\bnox\b",
        ),
        ("docs", r"sphinx|mkdocs|\bdocs?\b|typedoc"),
        (
            "install",
            r"pip install|npm (?:install|ci)\b|pnpm install|yarn install|poetry install|uv sync|pdm install"
            r"|bundle install|go mod download|\binstall\b|\bsetup\b",
        ),
        ("build", r"\bbuild|compile|cmake|\bdist\b|\bpackage\b|\bwheel\b"),
        ("run", r"\bserve|\bstart\b|\bdev\b|\brun\b|\bwatch\b"),
    )
)
# Task names that are housekeeping, never one of the categories, whatever their recipe mentions.
NOT_WORKFLOW = frozenset({"clean", "clear", "distclean", "prepare", "prepublish", "prepublishonly", "preinstall",
                          "postinstall", "version", "preversion", "postversion", "release", "changelog", "size",
                          "deploy", "publish", "prepack", "postpack"})  # fmt: skip
# Shell plumbing that says nothing about what a command does (`> /dev/null 2>&1`).
_REDIRECT = re.compile(r"\d?>>?&?\s*\S+|<\s*\S+")

_INSTALLER = re.compile(
    r"(?:python3? -m )?(?:pip3?|uv pip|npm|pnpm|yarn|poetry|pdm|bundle|apt-get|apt|brew|cargo|go|gem) "
    r"(?:install|ci|sync|add|get|mod download)\b"
)


@dataclass(frozen=True, order=True)
class Command:
    """A command a developer runs, where it was found, and what kind of work it does."""

    category: str
    command: str
    source: str
    note: str = ""


@dataclass
class Conventions:
    """What was mined: commands, console-script entry points and the tools configured."""

    commands: list[Command] = field(default_factory=list)
    entry_points: list[tuple[str, str]] = field(default_factory=list)  # (path, qualname) of console scripts
    scripts: list[tuple[str, str]] = field(default_factory=list)  # (script name, "module:function")
    tools: list[str] = field(default_factory=list)

    def by_category(self) -> dict[str, list[Command]]:
        """Commands grouped by category, in `CATEGORIES` order."""
        out: dict[str, list[Command]] = {}
        for cat in CATEGORIES:
            cmds = [c for c in self.commands if c.category == cat]
            if cmds:
                out[cat] = cmds
        return out

    def first(self, category: str) -> Command | None:
        """The preferred command of a category (project task runners before tool defaults and CI)."""
        return next((c for c in self.commands if c.category == category), None)


def classify(text: str) -> str:
    """The category of a command or task name ("" when it does not look like developer workflow)."""
    low = " ".join(text.lower().split())
    if _INSTALLER.match(low):  # `pip install -e . pytest` installs; it does not test
        return "install"
    if low in NOT_WORKFLOW or low.split(":", 1)[0] in NOT_WORKFLOW:
        return ""
    if ">" in low or "<" in low:
        low = _REDIRECT.sub(" ", low)
    for category, pattern in _KEYWORDS:
        if pattern.search(low):
            return category
    return ""


def classify_task(name: str, recipe: str) -> str:
    """The category of a named task (package.json script, make target) running `recipe`.

    The name decides when it says something; housekeeping names (`clean`, `release`) are never a
    category, whatever their recipe mentions; otherwise the recipe decides.
    """
    low = name.lower()
    if low in NOT_WORKFLOW or low.split(":", 1)[0] in NOT_WORKFLOW:
        return ""
    return classify(name) or classify(recipe)


Found = Iterable[tuple[int, Command]]


def found(category: str, command: str, source: str, note: str = "", prio: int = 1) -> tuple[int, Command]:
    """A found command; `prio` orders sources: 0 project task files (Makefile, package.json scripts),
    1 test runners' envs (tox, nox, hatch), 2-3 manifest defaults, 5 CI steps."""
    return prio, Command(category or "other", " ".join(command.split()), source, note)


Miner = Callable[[str, str, set[str], "Conventions", set[str]], Found]


SOURCE_ROOTS = frozenset(
    {"src", "lib", "source", "python", "py"}
)  # folders that hold packages, not a package


def python_module(folder: str, tracked: set[str]) -> str:
    """The name `python -m` runs `folder` by: its package path below a source root (`src/flask` → `flask`),
    else the dotted folder path from the repository root (`examples/perf`: namespace packages)."""
    parts = folder.split("/")
    top = len(parts)
    while top > 0 and "/".join(parts[:top]) + "/__init__.py" in tracked:
        top -= 1  # parts[top:] are packages (each has an __init__.py)
    if top < len(parts) and top > 0 and parts[top - 1].lower() in SOURCE_ROOTS:
        return ".".join(parts[top:])
    return ".".join(parts)
