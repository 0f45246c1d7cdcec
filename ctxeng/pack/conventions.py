"""How to install, build, test, lint and run the project, mined from its manifests, task files and CI."""

from __future__ import annotations

import configparser
import posixpath
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CATEGORIES = ("install", "build", "test", "lint", "format", "typecheck", "run", "docs")
MAX_FILE_CHARS = 200_000  # a manifest larger than this is not read (nothing useful hides in a huge one)
ROOT_FILES = frozenset(
    {"pyproject.toml", "setup.cfg", "tox.ini", "noxfile.py", "Makefile", "makefile", "GNUmakefile", "justfile",
     "Justfile", "package.json", "Cargo.toml", "go.mod", ".pre-commit-config.yaml", ".gitlab-ci.yml",
     "Taskfile.yml", "pytest.ini", "CMakeLists.txt", "pom.xml", "build.gradle", "build.gradle.kts", "Gemfile",
     "Rakefile", "composer.json", "deno.json"}
)  # fmt: skip
# Patterns (checked in this order) that put a command or a task name in a category.
_KEYWORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (category, re.compile(pattern))
    for category, pattern in (
        ("typecheck", r"\bmypy\b|pyright|\btype-?check|\btypes\b|tsc --noemit|pytype"),
        ("format", r"\bblack\b|ruff format|prettier|gofmt|cargo fmt|\bisort\b|\bfmt\b|\bformat|rustfmt|clang-format"),
        ("lint", r"ruff|flake8|pylint|eslint|golangci|clippy|lint|pre-commit|shellcheck|go vet|rubocop|codespell"),
        ("test", r"pytest|\btest|\btox\b|\bjest\b|vitest|mocha|unittest|ctest|rspec|phpunit|coverage|\bnox\b"),
        ("docs", r"sphinx|mkdocs|\bdocs?\b|typedoc"),
        ("install", r"pip install|npm (?:install|ci)\b|pnpm install|yarn install|poetry install|uv sync|pdm install"
                    r"|bundle install|go mod download|\binstall\b|\bsetup\b"),
        ("build", r"\bbuild|compile|cmake|\bdist\b|\bpackage\b|\bwheel\b"),
        ("run", r"\bserve|\bstart\b|\bdev\b|\brun\b|\bwatch\b"),
    )
)

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
    low = text.lower()
    if _INSTALLER.match(low):  # `pip install -e . pytest` installs; it does not test
        return "install"
    for category, pattern in _KEYWORDS:
        if pattern.search(low):
            return category
    return ""


def project_files(tracked: Iterable[str]) -> list[str]:
    """Tracked paths worth mining: root manifests/task files and CI configuration."""
    out = []
    for path in tracked:
        base = posixpath.basename(path)
        if ("/" not in path and base in ROOT_FILES) or (
            path.startswith((".github/workflows/", ".circleci/")) and base.endswith((".yml", ".yaml"))
        ):
            out.append(path)
    return sorted(out)


def mine_conventions(files: dict[str, str], tracked: Iterable[str]) -> Conventions:
    """Mine commands from `files` (path → text, already redacted); `tracked` tells lockfiles and layout."""
    tracked_set = set(tracked)
    found: list[tuple[int, Command]] = []  # (source priority, command)
    conv = Conventions()
    tools: set[str] = set()
    for path in sorted(files):
        text = files[path]
        if len(text) > MAX_FILE_CHARS:
            continue
        base = posixpath.basename(path)
        miner = _MINERS.get(base) or (_workflow if path.startswith((".github/", ".circleci/")) else None)
        if base == ".gitlab-ci.yml":
            miner = _workflow
        if miner is None:
            continue
        try:
            for prio, cmd in miner(path, text, tracked_set, conv, tools):
                found.append((prio, cmd))
        except (ValueError, TypeError, KeyError, AttributeError, configparser.Error, yaml.YAMLError):
            continue  # a malformed manifest contributes nothing rather than failing the pack
    seen: set[str] = set()
    for _, cmd in sorted(found, key=lambda pc: (CATEGORIES.index(pc[1].category), pc[0], _specific(pc[1]), pc[1])):
        if cmd.command not in seen:
            seen.add(cmd.command)
            conv.commands.append(cmd)
    conv.entry_points.sort()
    conv.scripts.sort()
    conv.tools = sorted(tools)
    return conv


Found = Iterable[tuple[int, Command]]
_TASK = re.compile(r"^(?:make|just|nox -s|tox -e|hatch run|(?:npm|pnpm|yarn|bun) run)\s+(\S+)$")
_GENERIC = frozenset({"test", "tests", "check", "lint", "format", "fmt", "typecheck", "types", "mypy", "docs", "doc",
                      "build", "install", "dev", "run", "start", "serve"})  # fmt: skip
# CI steps worth showing start with a developer tool (after optional VAR=value assignments).
_CI_TOOL = re.compile(
    r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:python3?|pip3?|pytest|tox|nox|npm|npx|pnpm|yarn|bun|make|cargo|go|uv|poetry|pdm|"
    r"hatch|ruff|mypy|pyright|black|isort|flake8|pylint|pre-commit|just|bundle|rake|mvn|gradle|\./gradlew|dotnet|"
    r"cmake|ctest|bazel|sphinx-build|mkdocs|eslint|prettier|tsc|jest|vitest|deno)\b"
)


def _specific(cmd: Command) -> int:
    """0 for a category's generic entry (`make test`, `tox`, `pytest`), 1 for a specialised one
    (`nox -s github_cext`): within one source, the generic one is what a newcomer runs first."""
    match = _TASK.match(cmd.command)
    return 0 if match is None or match.group(1).lower() in _GENERIC else 1


def _cmd(category: str, command: str, source: str, note: str = "", prio: int = 1) -> tuple[int, Command]:
    """A found command; `prio` orders sources: 0 project task files (Makefile, package.json scripts),
    1 test runners' envs (tox, nox, hatch), 2-3 manifest defaults, 5 CI steps."""
    return prio, Command(category or "other", command.strip(), source, note)


def _pyproject(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    data = tomllib.loads(text)
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    extras = sorted(project.get("optional-dependencies", {}) or {})
    dev = next((e for e in ("dev", "test", "tests", "testing") if e in extras), "")
    if "poetry" in tool:
        yield _cmd("install", "poetry install", path, prio=2)
    elif "uv.lock" in tracked:
        yield _cmd("install", "uv sync", path, prio=2)
    elif "pdm.lock" in tracked:
        yield _cmd("install", "pdm install", path, prio=2)
    elif project or "build-system" in data:
        yield _cmd("install", f"pip install -e '.[{dev}]'" if dev else "pip install -e .", path, prio=2)
    if "build-system" in data:
        yield _cmd("build", "python -m build", path, prio=3)
    scripts = dict(project.get("scripts", {}) or {})
    scripts.update((tool.get("poetry", {}) or {}).get("scripts", {}) or {})
    for name in sorted(scripts):
        target = str(scripts[name])
        conv.scripts.append((name, target))
        _entry_point(target, tracked, conv)
        yield _cmd("run", name, path, f"console script → {target}", prio=2)
    for env, spec in sorted(((tool.get("hatch", {}) or {}).get("envs", {}) or {}).items()):
        scripts_table = (spec or {}).get("scripts", {}) or {}
        for script in sorted(scripts_table):
            label = script if env == "default" else f"{env}:{script}"
            category = classify(script) or classify(str(scripts_table[script])) or "run"
            yield _cmd(category, f"hatch run {label}", path)
    checks = (("pytest", "test", "pytest"), ("ruff", "lint", "ruff check ."), ("black", "format", "black --check ."),
              ("isort", "format", "isort --check ."), ("mypy", "typecheck", "mypy ."), ("pyright", "typecheck", "pyright"),
              ("pylint", "lint", "pylint"), ("coverage", "test", "coverage run -m pytest"))  # fmt: skip
    for key, category, command in checks:
        if key in tool:
            tools.add(key)
            if key == "pytest":
                paths = ((tool["pytest"] or {}).get("ini_options", {}) or {}).get("testpaths")
                note = f"testpaths: {', '.join(map(str, paths))}" if isinstance(paths, list) and paths else ""
                yield _cmd(category, command, path, note, prio=3)
            elif key != "coverage":
                yield _cmd(category, command, path, prio=3)
    if "ruff" in tool and "format" in (tool["ruff"] or {}):
        yield _cmd("format", "ruff format .", path, prio=3)


def _entry_point(target: str, tracked: set[str], conv: Conventions) -> None:
    module, _, func = target.partition(":")
    func = func.split("[", 1)[0].strip()
    if not module or not func:
        return
    rel = module.strip().replace(".", "/")
    for candidate in (f"{rel}.py", f"{rel}/__init__.py", f"src/{rel}.py", f"src/{rel}/__init__.py"):
        if candidate in tracked:
            conv.entry_points.append((candidate, func))
            return


def _setup_cfg(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    sections = _ini_sections(text)
    for line in sections.get("options.entry_points", {}).get("console_scripts", "").splitlines():
        name, _, target = line.partition("=")
        if name.strip() and target.strip():
            conv.scripts.append((name.strip(), target.strip()))
            _entry_point(target.strip(), tracked, conv)
            yield _cmd("run", name.strip(), path, f"console script → {target.strip()}", prio=2)
    for section, tool, category, command in (("tool:pytest", "pytest", "test", "pytest"),
                                             ("flake8", "flake8", "lint", "flake8"), ("mypy", "mypy", "typecheck", "mypy .")):  # fmt: skip
        if section in sections:
            tools.add(tool)
            yield _cmd(category, command, path, prio=3)


def _tox(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    tools.add("tox")
    sections = _ini_sections(text)
    envlist = sections.get("tox", {}).get("envlist", "")
    envs = [e.strip() for e in re.split(r"[,\s]+", envlist) if e.strip() and "{" not in e][:6]
    yield _cmd("test", "tox", path, f"environments: {', '.join(envs)}" if envs else "", prio=1)
    for name in sorted(s for s in sections if s.startswith("testenv:")):
        env = name.split(":", 1)[1]
        yield _cmd(classify(env) or "test", f"tox -e {env}", path)


def _nox(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    tools.add("nox")
    for name in sorted(nox_sessions(text)):
        yield _cmd(classify(name) or "test", f"nox -s {name}", path)


def nox_sessions(text: str) -> set[str]:
    """Names of the functions decorated with `@nox.session` (other decorators and blank lines between).

    A line scan, linear in the file: the regex it replaces restarted at every `@nox.session` of a
    decorator block and rescanned the block (quadratic: 8,000 such lines took 4.6 s).
    """
    names: set[str] = set()
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if "@nox.session" not in lines[i]:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].lstrip().startswith("@")):
            j += 1
        match = _NOX_DEF.match(lines[j]) if j < len(lines) else None
        if match:
            names.add(match.group(1))
        i = j
    return names


_NOX_DEF = re.compile(r"\s*def (\w+)")


def _makefile(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^([A-Za-z][\w.-]*)\s*:(?![=:])", line)
        if not match or match.group(1).startswith("."):
            continue
        target = match.group(1)
        recipe = ""
        for nxt in lines[i + 1 : i + 4]:
            if nxt.startswith("\t") and nxt.strip() and not nxt.strip().startswith("#"):
                recipe = nxt.strip().lstrip("@-")
                break
        category = classify(target) or classify(recipe)
        if category:
            note = f"runs `{recipe[:80]}`" if recipe else ""
            yield _cmd(category, f"make {target}", f"{path}:{i + 1}", note, prio=0)


def _justfile(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    for i, line in enumerate(text.splitlines()):
        match = re.match(r"^@?([A-Za-z][\w-]*)(?:\s+[^:=]*)?:(?!=)", line)
        if match and classify(match.group(1)):
            yield _cmd(classify(match.group(1)), f"just {match.group(1)}", f"{path}:{i + 1}", prio=0)


def _package_json(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    import json

    data = json.loads(text)
    manager = next((m for lock, m in (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("bun.lockb", "bun"),
                                      ("bun.lock", "bun")) if lock in tracked), "npm")  # fmt: skip
    yield _cmd("install", f"{manager} install", path, prio=2)
    scripts = data.get("scripts", {}) if isinstance(data.get("scripts"), dict) else {}
    for name in sorted(scripts):
        category = classify(name) or classify(str(scripts[name]))
        if not category:
            continue
        run = f"{manager} test" if name == "test" else f"{manager} run {name}"
        yield _cmd(category, run, path, f"runs `{str(scripts[name])[:80]}`", prio=0)


def _cargo(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    tools.add("cargo")
    for category, command in (("build", "cargo build"), ("test", "cargo test"), ("lint", "cargo clippy"),
                              ("format", "cargo fmt --check")):  # fmt: skip
        yield _cmd(category, command, path, prio=3)


def _gomod(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    tools.add("go")
    for category, command in (("build", "go build ./..."), ("test", "go test ./..."), ("lint", "go vet ./..."),
                              ("format", "gofmt -l .")):  # fmt: skip
        yield _cmd(category, command, path, prio=3)


def _precommit(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
    tools.add("pre-commit")
    yield _cmd("lint", "pre-commit run --all-files", path, prio=2)


def _workflow(path: str, text: str, tracked: set[str], conv: Conventions, tools: set[str]) -> Found:
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
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(reversed(node))
    for run in runs:
        for line in run.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "echo", "cd ", "export ", "set ", "if ", "fi", "then", "else")):
                continue
            category = classify(line)
            if category and len(line) <= 160 and _CI_TOOL.match(line) and "|" not in line:
                yield _cmd(category, line, path, "in CI", prio=5)


def _ini_sections(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text)
    return {s: dict(parser.items(s)) for s in parser.sections()}


Miner = Callable[[str, str, set[str], Conventions, set[str]], Found]
_MINERS: dict[str, Miner] = {
    "pyproject.toml": _pyproject, "setup.cfg": _setup_cfg, "tox.ini": _tox, "noxfile.py": _nox,
    "Makefile": _makefile, "makefile": _makefile, "GNUmakefile": _makefile, "justfile": _justfile,
    "Justfile": _justfile, "package.json": _package_json, "Cargo.toml": _cargo, "go.mod": _gomod,
    ".pre-commit-config.yaml": _precommit,
}  # fmt: skip
