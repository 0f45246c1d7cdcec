"""How to install, build, test, lint and run the project, mined from its manifests, task files and CI."""

from __future__ import annotations

import configparser
import posixpath
import re
import sys
from collections.abc import Iterable

import yaml

from ctxeng.pack.ci_commands import TOOL_CONFIGS, precommit, tool_config, workflow
from ctxeng.pack.commands import (
    CATEGORIES,
    Command,
    Conventions,
    Found,
    Miner,
    classify,
    classify_task,
    python_module,
)
from ctxeng.pack.commands import found as _cmd
from ctxeng.pack.paths import is_example, is_test

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["CATEGORIES", "Command", "Conventions", "classify", "mine_conventions", "project_files"]
MAX_FILE_CHARS = 200_000  # a manifest larger than this is not read (nothing useful hides in a huge one)
ROOT_FILES = frozenset(
    {"pyproject.toml", "setup.cfg", "tox.ini", "noxfile.py", "Makefile", "makefile", "GNUmakefile", "justfile",
     "Justfile", "package.json", "Cargo.toml", "go.mod", ".pre-commit-config.yaml", ".gitlab-ci.yml",
     "Taskfile.yml", "pytest.ini", "CMakeLists.txt", "pom.xml", "build.gradle", "build.gradle.kts", "Gemfile",
     "Rakefile", "composer.json", "deno.json", "tsconfig.json", "mypy.ini", ".mypy.ini", "pyrightconfig.json",
     ".golangci.yml", ".golangci.yaml", ".golangci.toml", "eslint.config.js", "eslint.config.mjs", ".eslintrc.json",
     ".eslintrc.js", ".eslintrc.cjs", ".eslintrc.yml", ".eslintrc", "biome.json"}
)  # fmt: skip


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
        miner = _MINERS.get(base) or (workflow if path.startswith((".github/", ".circleci/")) else None)
        if base == ".gitlab-ci.yml":
            miner = workflow
        if miner is None:
            continue
        try:
            for prio, cmd in miner(path, text, tracked_set, conv, tools):
                found.append((prio, cmd))
        except (ValueError, TypeError, KeyError, AttributeError, configparser.Error, yaml.YAMLError):
            continue  # a malformed manifest contributes nothing rather than failing the pack
    found.extend(_module_mains(tracked_set))
    seen: set[str] = set()
    for _, cmd in sorted(
        found, key=lambda pc: (CATEGORIES.index(pc[1].category), pc[0], _specific(pc[1]), pc[1])
    ):
        if cmd.command not in seen:
            seen.add(cmd.command)
            conv.commands.append(cmd)
    conv.entry_points.sort()
    conv.scripts.sort()
    conv.tools = sorted(tools)
    return conv


def _module_mains(tracked: set[str]) -> Found:
    """`python -m <package>` for each package with a `__main__.py` (not a test's or an example's)."""
    for path in sorted(tracked):
        if path.endswith("/__main__.py") and not is_test(path) and not is_example(path):
            folder = posixpath.dirname(path)
            module = python_module(folder, tracked)
            parts = folder.split("/")
            packaged = all("/".join(parts[: i + 1]) + "/__init__.py" in tracked for i in range(len(parts)))
            if packaged or module != folder.replace(
                "/", "."
            ):  # an importable package, not a folder of scripts
                yield _cmd("run", f"python -m {module}", path, prio=2)


_TASK = re.compile(r"^(?:make|just|nox -s|tox -e|hatch run|(?:npm|pnpm|yarn|bun) run)\s+(\S+)$")
_GENERIC = frozenset({"test", "tests", "check", "lint", "format", "fmt", "typecheck", "types", "mypy", "docs", "doc",
                      "build", "install", "dev", "run", "start", "serve"})  # fmt: skip


def _specific(cmd: Command) -> int:
    """0 for a category's generic entry (`make test`, `tox`, `pytest`), 1 for a specialised one
    (`nox -s github_cext`): within one source, the generic one is what a newcomer runs first."""
    match = _TASK.match(cmd.command)
    return 0 if match is None or match.group(1).lower() in _GENERIC else 1


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
            category = classify_task(script, str(scripts_table[script])) or "run"
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
    envs = _envlist(envlist)[:6]
    yield _cmd("test", "tox", path, f"environments: {', '.join(envs)}" if envs else "", prio=1)
    for name in sorted(s for s in sections if s.startswith("testenv:")):
        env = name.split(":", 1)[1]
        yield _cmd(classify(env) or "test", f"tox -e {env}", path)


def _envlist(text: str) -> list[str]:
    """tox's envlist entries, split at commas and whitespace outside braces (`py{39,310}-{a, b}` is one)."""
    out, depth, word = [], 0, ""
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth <= 0 and (ch == "," or ch.isspace()):
            if word:
                out.append(word)
            word, depth = "", 0
        elif not (depth and ch.isspace()):
            word += ch
    return [*out, word] if word else out


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
        recipe = _recipe(lines[i + 1 : i + 8])
        category = classify_task(target, recipe)
        if category:
            note = f"runs `{recipe[:80]}`" if recipe else ""
            yield _cmd(category, f"make {target}", f"{path}:{i + 1}", note, prio=0)


# Recipe lines that are shell plumbing (checks, messages, control flow), not the work itself.
_PLUMBING = re.compile(
    r"^(?:echo|printf|hash|command -v|which|if|then|else|elif|fi|for|do|done|set|export|true|:|test -|\[)\b"
)


def _recipe(following: list[str]) -> str:
    """The first recipe line of a make target that does the work (tab-indented, not plumbing)."""
    for line in following:
        if not line.startswith("\t"):
            break
        text = line.strip().lstrip("@-+").strip()
        if text and not text.startswith("#") and not _PLUMBING.match(text) and not text.endswith("\\"):
            return text
    return ""


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
        category = classify_task(name, str(scripts[name]))
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


def _ini_sections(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text)
    return {s: dict(parser.items(s)) for s in parser.sections()}


_MINERS: dict[str, Miner] = {
    "pyproject.toml": _pyproject, "setup.cfg": _setup_cfg, "tox.ini": _tox, "noxfile.py": _nox,
    "Makefile": _makefile, "makefile": _makefile, "GNUmakefile": _makefile, "justfile": _justfile,
    "Justfile": _justfile, "package.json": _package_json, "Cargo.toml": _cargo, "go.mod": _gomod,
    ".pre-commit-config.yaml": precommit,
    **dict.fromkeys(TOOL_CONFIGS, tool_config),
}  # fmt: skip
