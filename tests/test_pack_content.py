"""What a newcomer reads in the pack, built from real repositories whose files reproduce each case
that used to come out wrong: commands, recent changes, design notes, descriptions and signatures."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctxeng.pack.commit_filter import distinct, why
from ctxeng.pack.facts import Commit
from ctxeng.pipeline.build import build
from tests.gitrepo import GitRepo

BOT = {
    "GIT_AUTHOR_NAME": "dependabot[bot]",
    "GIT_AUTHOR_EMAIL": "49699333+dependabot[bot]@users.noreply.github.com",
}
RENOVATE = {
    "GIT_AUTHOR_NAME": "renovate[bot]",
    "GIT_AUTHOR_EMAIL": "29139614+renovate[bot]@users.noreply.github.com",
}

PACKAGE_JSON = {
    "name": "webkit",
    "scripts": {
        "clean": "rimraf dist temp .eslintcache",  # used to be classified as lint (".eslintcache")
        "lint": "eslint .",
        "check": "tsc --incremental --noEmit",  # the typecheck, under a name that says nothing
        "test": "vitest run",
        "build": "node scripts/build.js",
        "release": "node scripts/release.js --test",
    },
    "devDependencies": {"typescript": "^5.4.0"},
}
WORKFLOW = """name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: python -m pip install --upgrade pip
      - run: pnpm install --frozen-lockfile
      - run: pnpm run lint
"""
INDEX_TS = """/**
 * Make a set of the given words.
 */
/*@__NO_SIDE_EFFECTS__*/
export function makeSet(words: string[]): Set<string> {
  return new Set(words)
}

/*#__NO_SIDE_EFFECTS__*/
export function makeMap(str: string): (key: string) => boolean {
  const set = makeSet(str.split(","))
  return (key) => set.has(key)
}

export type Handler =
  | ((req: Request) => void)
  | { handle(req: Request): void }
  | null

export type Options = {
  readonly strict: boolean  // reject unknown keys
  depth?: number
}
"""
UTIL_TS = """export class Tokenizer {
  constructor(private readonly text: string) {}
  next(): string { return this.text }
}

export function tokenize(text: string): string[] {
  return new Tokenizer(text).next().split(" ")
}
"""
README = """# webkit

[![build](https://github.com/acme/webkit/actions/workflows/ci.yml/badge.svg)](https://github.com/acme/webkit/actions)
[![npm](https://img.shields.io/npm/v/webkit.svg)](https://npmjs.com/package/webkit)

webkit is a tiny toolkit for building word maps and request handlers without side effects.

## Design

Maps are built once at import time and never mutated afterwards, so that bundlers may drop
unused ones: every factory is annotated as free of side effects.

## Sponsors

- [Acme Corp](https://acme.example.com)
- [Globex](https://globex.example.com)
- [Initech](https://initech.example.com)

## Badges

[![coverage](https://img.shields.io/badge/coverage-100%25-green.svg)](https://example.com)
"""
EXAMPLE_README = "# Hello example\n\nThis example starts a server that answers hello on port 3000.\n"
TEMPLATE_README = "# {{ project_name }}\n\nReplace this paragraph with a description of your new project.\n"


def _author(repo: GitRepo, message: str, files: dict[str, str], env: dict[str, str]) -> None:
    """A commit by another author (a bot): the same fixed dates as `GitRepo.commit`."""
    for rel, content in files.items():
        repo.write(rel, content)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", message, env={**repo.date_env(), **env})
    repo.commits += 1


def _lines(n: int, word: str) -> str:
    return "".join(f"export const {word}{i} = {i}\n" for i in range(n))


def _texts(root: Path, skill: str) -> dict[str, str]:
    base = root / ".claude" / "skills" / skill
    out = {p.relative_to(base).as_posix(): p.read_text(encoding="utf-8") for p in sorted(base.rglob("*.md"))}
    out["CLAUDE.md"] = (root / "CLAUDE.md").read_text(encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def isolated_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pytest.MonkeyPatch]:
    """The fixed git identity of `conftest.isolated_env`, for repositories built once per module."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("home")
        for var in list(os.environ):
            if var.startswith("GIT_"):
                mp.delenv(var, raising=False)
        for key, value in {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1",
                           "GIT_AUTHOR_NAME": "Ada Tester", "GIT_AUTHOR_EMAIL": "ada@example.com",
                           "GIT_COMMITTER_NAME": "Ada Tester", "GIT_COMMITTER_EMAIL": "ada@example.com",
                           "HF_HUB_OFFLINE": "1"}.items():  # fmt: skip
            mp.setenv(key, value)
        yield mp


@pytest.fixture(scope="module")
def webkit(isolated_module: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A TypeScript project with pnpm scripts, CI, bot commits, repeats, a revert and sample READMEs."""
    repo = GitRepo(tmp_path_factory.mktemp("webkit") / "webkit")
    repo.commit("Add word maps", {
        "package.json": json.dumps(PACKAGE_JSON, indent=2), "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
        "tsconfig.json": '{"compilerOptions": {"strict": true}}\n', ".github/workflows/ci.yml": WORKFLOW,
        "src/index.ts": INDEX_TS, "src/util.ts": UTIL_TS, "README.md": README,
        "examples/hello/README.md": EXAMPLE_README, "templates/app/README.md": TEMPLATE_README,
        "index.js": "module.exports = require('./src/util')\n",
    })  # fmt: skip
    repo.commit("Support handlers as objects\n\nA handler may now be an object with a handle method.",
                {"src/handlers.ts": _lines(30, "h")})  # fmt: skip
    _author(repo, "Bump lodash from 4.17.20 to 4.17.21", {"src/deps.ts": _lines(400, "d")}, BOT)
    _author(
        repo, "chore(deps): update actions/checkout action to v4", {"src/ci.ts": _lines(300, "c")}, RENOVATE
    )
    _author(
        repo, "Lock file maintenance", {"src/lock.ts": _lines(500, "k")}, RENOVATE
    )  # a bot's, whatever it says
    repo.commit("Update dependency eslint to v9", {"src/lint.ts": _lines(200, "l")})
    repo.commit("build(deps-dev): bump vitest from 1.0.0 to 1.6.0 (#12)", {"src/vitest.ts": _lines(200, "v")})
    repo.commit("Fix parser crash on empty input (#40)", {"src/parse.ts": _lines(50, "p")})
    repo.commit("Fix parser crash on empty input (#41)", {"src/parse2.ts": _lines(60, "q")})  # re-landed
    repo.commit("Cache compiled maps between calls", {"src/cache.ts": _lines(120, "m")})
    repo.commit('Revert "Cache compiled maps between calls"', {"src/cache.ts": _lines(1, "m")})
    repo.commit("- 2.1.0b3", {"src/version.ts": _lines(80, "r")})
    build(repo.path)
    return _texts(repo.path, "webkit-context")


def test_commands_come_from_scripts_ci_and_configs_classified_by_what_they_run(
    webkit: dict[str, str],
) -> None:
    conventions, claude = webkit["references/conventions.md"], webkit["CLAUDE.md"]
    assert "pnpm run clean" not in conventions and "pnpm run clean" not in claude  # housekeeping, not lint
    assert "- Lint: `pnpm run lint`" in claude
    assert "- typecheck: `pnpm run check` — runs `tsc --incremental --noEmit`" in conventions
    assert (
        "- Typecheck: `pnpm run check` or `pnpm exec tsc --noEmit`" in claude
    )  # script first, then tsconfig.json
    assert "pnpm run release" not in conventions  # `--test` in a release script makes it no test
    assert "`pnpm install --frozen-lockfile` — in CI" in conventions
    assert "pip install --upgrade pip" not in conventions  # CI plumbing, not how to set the project up


def test_recent_changes_skip_bots_dependency_bumps_releases_and_repeats(webkit: dict[str, str]) -> None:
    history = webkit["references/history.md"]
    recent = history.split("## Recent significant changes", 1)[1]
    for routine in (
        "Bump lodash",
        "actions/checkout",
        "Lock file",
        "Update dependency eslint",
        "bump vitest",
        "2.1.0b3",
    ):
        assert routine not in recent, routine
    assert recent.count("Fix parser crash on empty input") == 1
    assert "(#41)" in recent  # the newest of the repeated subject
    assert "Cache compiled maps" not in recent  # a change and its revert cancel out
    assert "Support handlers as objects" in recent and "— A handler may now be an object" in recent
    assert "commit subjects written by people (bots' left out)." in webkit["references/conventions.md"]
    examples = next(
        line for line in webkit["references/conventions.md"].splitlines() if "Recent examples" in line
    )
    assert "Bump" not in examples and "deps" not in examples and "2.1.0b3" not in examples


def test_decisions_leave_out_samples_sponsors_badges_and_the_summary_shown_elsewhere(
    webkit: dict[str, str],
) -> None:
    decisions, overview = webkit["references/decisions.md"], webkit["references/overview.md"]
    summary = "webkit is a tiny toolkit for building word maps and request handlers without side effects."
    assert summary in overview and summary in webkit["SKILL.md"]
    assert "tiny toolkit" not in decisions
    assert "## webkit > Design" in decisions and "bundlers may drop" in decisions
    for noise in (
        "Sponsors",
        "Acme Corp",
        "Badges",
        "coverage-100",
        "port 3000",
        "project_name",
        "Replace this",
    ):
        assert noise not in decisions, noise


def test_descriptions_are_never_markup_and_type_aliases_are_whole(webkit: dict[str, str]) -> None:
    repo_map, overview = webkit["references/repo-map.md"], webkit["references/overview.md"]
    assert "__NO_SIDE_EFFECTS__" not in repo_map and "__NO_SIDE_EFFECTS__" not in overview
    assert (
        "`export function makeSet(words: string[]): Set<string>` — Make a set of the given words." in repo_map
    )
    assert (
        "`export type Handler = | ((req: Request) => void) | { handle(req: Request): void } | null`"
        in repo_map
    )
    assert "`export type Options = { readonly strict: boolean; depth?: number }`" in repo_map
    assert "- `src/util.ts` — Defines `Tokenizer` (class) and `tokenize` (function)." in overview
    assert "- `index.js` — Re-exports `./src/util`." in overview


PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "kvlite"
version = "1.0"

[tool.mypy]
strict = true
"""
MAKEFILE = """test:
\tpytest -q
clean:
\trm -rf build .mypy_cache .ruff_cache
"""
STORE_PY = '''"""
    kvlite.store
    ~~~~~~~~~~~~

    The store keeps every value in an append-only log.
"""

type Pair = tuple[
    str,
    bytes,
]


class Store:
    """An append-only key-value store."""

    def put(
        self,
        key: str,  # type: ignore[override]
        value: bytes = b"#",  # a default with a hash sign
    ) -> None:
        """Append a value."""
'''
CODEC_PY = '''"""
Codec
-----

Encodes records as length-prefixed frames.
"""


def encode(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value
'''
DOCS_ARCH = """# Architecture

The write path goes through `kvlite/compaction.py`, which merges old segments into one file.
"""


@pytest.fixture(scope="module")
def kvlite(isolated_module: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A src-layout Python package with mypy configured, RST docstrings and commented signatures."""
    repo = GitRepo(tmp_path_factory.mktemp("kvlite") / "kvlite")
    repo.commit("Add the store", {
        "pyproject.toml": PYPROJECT, "Makefile": MAKEFILE, "README.md": "# kvlite\n\nkvlite is a key-value store.\n",
        "src/kvlite/__init__.py": '"""kvlite: a tiny key-value store."""\n', "src/kvlite/__main__.py": "print(1)\n",
        "src/kvlite/store.py": STORE_PY, "src/kvlite/codec.py": CODEC_PY, "docs/architecture.md": DOCS_ARCH,
        "src/kvlite/compaction.py": "def compact(paths: list[str]) -> str:\n    return paths[0]\n",
        "docs/talks.rst": "Talks\n=====\n\n- `Intro to kvlite <https://example.com/a>`_\n- `Logs <https://example.com/b>`_\n",
    })  # fmt: skip
    build(repo.path)
    return _texts(repo.path, "kvlite-context")


def test_python_commands_and_module_entry_point(kvlite: dict[str, str]) -> None:
    conventions, claude, overview = (
        kvlite["references/conventions.md"],
        kvlite["CLAUDE.md"],
        kvlite["references/overview.md"],
    )
    assert "- Typecheck: `mypy .`" in claude
    assert "make clean" not in conventions and "make clean" not in claude  # its recipe mentions .mypy_cache
    assert (
        "(`python -m kvlite`)" in overview and "python -m src.kvlite" not in overview + conventions + claude
    )
    assert "- Run: `python -m kvlite`" in claude


def test_rst_titles_never_describe_a_module_and_signatures_hold_no_comments(kvlite: dict[str, str]) -> None:
    overview, repo_map = kvlite["references/overview.md"], kvlite["references/repo-map.md"]
    assert "- `src/kvlite/store.py` — The store keeps every value in an append-only log." in overview
    assert "- `src/kvlite/codec.py` — Encodes records as length-prefixed frames." in overview
    assert "~~~" not in overview + repo_map and "-----" not in overview + repo_map
    assert '`def put(self, key: str, value: bytes = b"#") -> None`' in repo_map
    assert "type: ignore" not in repo_map and "hash sign" not in repo_map
    assert "`type Pair = tuple[str, bytes]`" in repo_map
    decisions = kvlite["references/decisions.md"]
    assert "merges old segments" in decisions and "Intro to kvlite" not in decisions  # an RST link list
    # a module without a docstring: the documentation's sentence that names it
    assert re.search(
        r"- `src/kvlite/compaction\.py` — The write path goes through `kvlite/compaction\.py`", overview
    )


def _commit(subject: str, body: str = "", n: int = 0) -> Commit:
    return Commit(f"{n:040x}", 1000 - n, "2024-01-01", subject, body, ("a.py",), 10, 1)


def test_the_why_of_a_change_skips_trailers_headings_code_and_the_subject_again() -> None:
    body = ("### Description\n\n* feat(api): add the login flow\n\nChange-Id: I0ef6e304\nSigned-off-by: A <a@x.org>\n\n"
            "Main changes:\n```go\nfunc main() {}\n```\n    indented code\n"
            "Sessions now expire after an hour so that\nstolen cookies stop working.\n\nFixes: #12\n")  # fmt: skip
    assert why(_commit("fix(auth): add the login flow (#9)", body)) == (
        "Sessions now expire after an hour so that stolen cookies stop working."
    )
    assert why(_commit("Add x", "Change-Id: I0ef6\n\nThis reverts commit abc.\n")) == ""


def test_distinct_keeps_the_newest_of_a_repeated_subject_and_drops_routine_commits() -> None:
    commits = [_commit("Fix crash (#41)", n=0), _commit("fix crash", n=1), _commit("v1.2.3", n=2),
               _commit("Update module golang.org/x/net to v0.23.0", n=3), _commit("Refactor the parser", n=4),
               _commit("fix(deps): bump golang.org/x/net and golang.org/x/text to patched versions", n=5),
               Commit("f" * 40, 1, "2024-01-01", "Regenerate docs", "", (), 1, 1, bot=True)]  # fmt: skip
    assert [c.subject for c in distinct(commits)] == ["Fix crash (#41)", "Refactor the parser"]


def test_first_sentence_skips_markup_and_renders_rst_roles() -> None:
    from ctxeng.pack.facts import first_sentence

    mssql = ".. dialect:: mssql\n    :name: SQL Server\n\nExternal Dialects\n-----------------\nThird-party dialects exist."
    assert first_sentence(mssql) == "Third-party dialects exist."
    assert first_sentence("    kvlite.store\n    ~~~~~~~~~~~~\n\n    Keeps values.") == "Keeps values."
    assert first_sentence("#__NO_SIDE_EFFECTS__") == "" and first_sentence("@__PURE__\n\n-----") == ""
    assert first_sentence("Wraps a :pep:`249` connection; see :meth:`~.Pool.connect` and ``close()``.") == (
        "Wraps a PEP 249 connection; see `Pool.connect` and `close()`."
    )
