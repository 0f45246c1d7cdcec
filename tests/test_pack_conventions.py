"""Conventions mined from manifests, task files and CI; commit style; test layout."""

from __future__ import annotations

import json

from ctxeng.pack.commands import classify_task
from ctxeng.pack.conventions import classify, mine_conventions, project_files
from ctxeng.pack.facts import Commit
from ctxeng.pack.habits import commit_style, layout_of_tests

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "demo"
[project.optional-dependencies]
dev = ["pytest"]
[project.scripts]
demo = "demo.cli:main"

[tool.pytest.ini_options]
testpaths = ["tests"]
[tool.ruff]
line-length = 100
[tool.ruff.format]
quote-style = "double"
[tool.mypy]
strict = true
[tool.hatch.envs.default.scripts]
cov = "pytest --cov"
"""

PACKAGE_JSON = json.dumps(
    {
        "name": "web",
        "scripts": {
            "test": "vitest run",
            "lint": "eslint .",
            "build": "vite build",
            "dev": "vite",
            "postinstall": "node x.js",
            "deploy": "./deploy.sh",
        },
    }  # fmt: skip
)

WORKFLOW = """
name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    strategy: {matrix: {python: ["3.11"]}}
    steps:
      - uses: actions/checkout@v4
      - run: |
          python -m pip install -e '.[dev]'
          echo done
          pytest -q --maxfail=1
      - name: lint
        run: ruff check .
"""

TOX = """
[tox]
envlist = py311, lint

[testenv]
commands = pytest

[testenv:lint]
commands = ruff check .
"""

NOX = """
import nox

@nox.session(python=["3.11"])
def tests(session):
    session.run("pytest")

@nox.session
@nox.parametrize("x", [1])
def lint(session, x):
    session.run("ruff")
"""

MAKEFILE = """.PHONY: test
VAR := 1
test: build
\t@pytest -q
lint:
\truff check .
docs:
\tsphinx-build docs out
clean:
\trm -rf out
"""


def test_project_files_picks_manifests_and_ci() -> None:
    tracked = ["pyproject.toml", "src/pyproject.toml", ".github/workflows/ci.yml", "Makefile", "README.md",
               ".github/ISSUE_TEMPLATE/bug.yml", "go.mod"]  # fmt: skip
    assert project_files(tracked) == [".github/workflows/ci.yml", "Makefile", "go.mod", "pyproject.toml"]


def test_python_project() -> None:
    files = {
        "pyproject.toml": PYPROJECT,
        "tox.ini": TOX,
        "noxfile.py": NOX,
        ".github/workflows/ci.yml": WORKFLOW,
    }
    conv = mine_conventions(files, [*files, "demo/cli.py", "demo/__init__.py"])
    got = {(c.category, c.command) for c in conv.commands}
    assert ("install", "pip install -e '.[dev]'") in got
    assert ("build", "python -m build") in got
    assert ("run", "demo") in got and conv.scripts == [("demo", "demo.cli:main")]
    assert conv.entry_points == [("demo/cli.py", "main")]
    assert {
        ("test", "pytest"),
        ("lint", "ruff check ."),
        ("format", "ruff format ."),
        ("typecheck", "mypy ."),
    } <= got
    assert {
        ("test", "tox"),
        ("lint", "tox -e lint"),
        ("test", "nox -s tests"),
        ("lint", "nox -s lint"),
    } <= got
    assert ("test", "hatch run cov") in got
    assert ("test", "pytest -q --maxfail=1") in got  # from the CI step, with its flags
    assert not any(c.command.startswith("echo") for c in conv.commands)
    assert conv.tools == ["mypy", "nox", "pytest", "ruff", "tox"]
    pytest_cmd = next(c for c in conv.commands if c.command == "pytest")
    assert pytest_cmd.note == "testpaths: tests"


def test_project_task_runners_come_before_tool_defaults_and_ci() -> None:
    files = {"pyproject.toml": PYPROJECT, "Makefile": MAKEFILE, ".github/workflows/ci.yml": WORKFLOW}
    conv = mine_conventions(files, list(files))
    assert conv.first("test").command == "make test"
    assert conv.first("test").note == "runs `pytest -q`"
    assert conv.first("lint").command == "make lint"
    assert conv.first("docs").command == "make docs"
    assert not any(c.command == "make clean" for c in conv.commands)  # not developer workflow we can name


def test_node_rust_go_and_precommit() -> None:
    files = {"package.json": PACKAGE_JSON, "Cargo.toml": "[package]\nname='x'\n", "go.mod": "module x\n",
             ".pre-commit-config.yaml": "repos: []\n"}  # fmt: skip
    conv = mine_conventions(files, [*files, "pnpm-lock.yaml"])
    got = {(c.category, c.command) for c in conv.commands}
    assert {("install", "pnpm install"), ("test", "pnpm test"), ("lint", "pnpm run lint"),
            ("build", "pnpm run build"), ("run", "pnpm run dev")} <= got  # fmt: skip
    assert not any("deploy" in c.command for c in conv.commands)
    assert {("test", "cargo test"), ("lint", "cargo clippy"), ("test", "go test ./..."),
            ("lint", "pre-commit run --all-files")} <= got  # fmt: skip


def test_broken_manifests_contribute_nothing() -> None:
    files = {"pyproject.toml": "[project\nname=", "package.json": "{nope", ".github/workflows/x.yml": "a: [b",
             "tox.ini": "[tox\nenvlist", "Makefile": "test:\n\tpytest\n"}  # fmt: skip
    conv = mine_conventions(files, list(files))
    assert [c.command for c in conv.commands] == ["make test"]


def test_classify() -> None:
    assert classify("pip install -e . pytest") == "install"
    assert classify("docker build .") == "build"
    assert classify("uv run pytest") == "test"
    assert classify("npm run test:unit") == "test"
    assert classify("cleanup") == ""
    assert classify("rimraf temp .eslintcache") == ""  # whole tool words: a cache folder is no linter
    assert (
        classify("tsc --incremental --noEmit") == "typecheck" and classify("vue-tsc --build") == "typecheck"
    )
    assert classify("tsc -p tsconfig.build.json") == "build"  # compiling is no typecheck
    assert classify("hash misspell > /dev/null 2>&1") == "lint"  # /dev/null is no dev server
    assert (
        classify_task("clean", "rm -rf .mypy_cache") == ""
        and classify_task("check", "pyright") == "typecheck"
    )


def test_tox_envlist_with_braces_and_make_recipes_past_plumbing() -> None:
    tox = "[tox]\nenvlist = py{310,311}-{default, extra}, lint\n"
    make = "lint:\n\t@hash golint > /dev/null 2>&1; if [ $$? -ne 0 ]; then \\\n\t\tgo get x; \\\n\tfi\n\tgolint ./...\n"
    conv = mine_conventions({"tox.ini": tox, "Makefile": make}, ["tox.ini", "Makefile"])
    notes = {c.command: c.note for c in conv.commands}
    assert notes["tox"] == "environments: py{310,311}-{default,extra}, lint"
    assert notes["make lint"] == "runs `golint ./...`"


def test_tool_configs_and_ci_actions() -> None:
    ci = "jobs:\n  x:\n    steps:\n      - uses: golangci/golangci-lint-action@v6\n      - run: pip install twine\n"
    files = {"mypy.ini": "[mypy]\n", ".github/workflows/w.yml": ci, "go.mod": "module x\n"}
    conv = mine_conventions(files, list(files))
    commands = [(c.category, c.command) for c in conv.commands]
    assert ("typecheck", "mypy .") in commands and ("lint", "golangci-lint run") in commands
    assert not any("twine" in c for _, c in commands)
    hooks = "repos:\n- repo: https://github.com/pre-commit/mirrors-mypy\n  rev: v1\n  hooks:\n  - id: mypy\n  - id: end-of-file-fixer\n"
    conv = mine_conventions({".pre-commit-config.yaml": hooks}, [".pre-commit-config.yaml"])
    assert [(c.category, c.command) for c in conv.commands] == [
        ("lint", "pre-commit run --all-files"), ("typecheck", "pre-commit run mypy --all-files")]  # fmt: skip


def _commits(subjects: list[str]) -> list[Commit]:
    return [Commit(f"{i:040x}", 1000 - i, "2024-01-01", s, "", (), 0, 0) for i, s in enumerate(subjects)]


def test_commit_style_imperative_plain() -> None:
    facts = commit_style(
        _commits(["Add codec", "Fix the store when empty", "Support deletes", "Document keydir"])
    )
    text = "\n".join(facts)
    assert "No conventional-commit prefixes" in text
    assert "Mostly imperative mood: 100 %" in text
    assert "100 % capitalised" in text and "`Add codec`" in text


def test_commit_style_conventional_and_past_tense() -> None:
    subjects = ["feat(api): added login", "fix: fixed crash (#12)", "feat: added x", "docs: updated readme."]
    text = "\n".join(commit_style(_commits(subjects)))
    assert "Conventional-commit prefixes are used (100 % of subjects): `feat:` 50 %" in text
    assert "Mostly past tense" in text
    assert "25 % reference an issue" in text and "25 % end with a period" in text


def test_layout_of_tests() -> None:
    facts = layout_of_tests(
        ["tests/test_a.py", "tests/test_b.py", "tests/conftest.py", "src/a.py", "docs/x.md"]
    )
    assert facts[0] == "Test files: `tests/` (3); 3 in total."
    assert "Naming: `test_*.py`." in facts
    assert "pytest fixtures live in `conftest.py` files." in facts
    go = layout_of_tests(["pkg/a.go", "pkg/a_test.go", "cmd/b_test.go"])
    assert "Tests mostly live beside the code they test." in go
    assert layout_of_tests(["a.py"]) == ["No test files were found."]


def test_generic_tasks_first_and_ci_noise_dropped() -> None:
    nox = "import nox\n\n@nox.session\ndef github_cext(session):\n    pass\n\n@nox.session\ndef tests(session):\n    pass\n"
    ci = ("jobs:\n  x:\n    steps:\n      - run: (get-content pyproject.toml) | %{$_ -replace 'a','b'} | set-content x\n"
          "      - run: DISABLE_CEXT=y python -m build --wheel\n      - run: ./deploy.sh build\n")  # fmt: skip
    conv = mine_conventions({"noxfile.py": nox, ".github/workflows/w.yml": ci}, ["noxfile.py"])
    tests = [c.command for c in conv.commands if c.category == "test"]
    assert tests == ["nox -s tests", "nox -s github_cext"]
    builds = [c.command for c in conv.commands if c.category == "build"]
    assert builds == ["DISABLE_CEXT=y python -m build --wheel"]  # no PowerShell pipeline, no unknown script
