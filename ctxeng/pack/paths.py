"""Path roles that ranking and rendering care about: tests, vendored code, examples, package inits."""

from __future__ import annotations

import functools
import posixpath

TEST_DIRS = frozenset(
    {"test", "tests", "testing", "__tests__", "spec", "specs", "t", "test_data", "testdata"}
)
VENDORED_DIRS = frozenset(
    {"node_modules", "bower_components", "vendor", "vendored", "_vendor", "third_party", "third-party", "external",
     "externals", ".yarn"}
)  # fmt: skip
EXAMPLE_DIRS = frozenset(
    {"example", "examples", "sample", "samples", "demo", "demos", "bench", "benchmark", "benchmarks", "doc", "docs",
     "documentation", "tools", "scripts", "script", "contrib", "fixtures"}
)  # fmt: skip
# Files that make a folder a package and usually re-export its public API.
PACKAGE_INITS = frozenset(
    {"__init__.py", "__init__.pyi", "index.js", "index.ts", "index.mjs", "index.tsx", "mod.rs", "lib.rs"}
)
ENTRY_FILES = frozenset(
    {"__main__.py", "main.py", "cli.py", "main.go", "main.rs", "main.c", "main.cpp", "index.js", "cli.js",
     "cli.ts", "main.ts", "Program.cs", "Main.java", "app.py", "manage.py", "wsgi.py", "asgi.py"}
)  # fmt: skip


def is_test(path: str) -> bool:
    """Whether `path` holds tests (by folder or by the usual test-file naming of each ecosystem)."""
    parts = path.split("/")
    if TEST_DIRS.intersection(p.lower() for p in parts[:-1]):
        return True
    base = parts[-1].lower()
    stem = base.split(".", 1)[0]
    return (
        stem.startswith("test_")
        or stem.endswith(("_test", "_tests", "_spec"))
        or base in ("conftest.py", "test.py", "tests.py")
        or ".test." in base
        or ".spec." in base
        or (base.endswith(".java") and stem.endswith("test"))
    )


def is_vendored(path: str) -> bool:
    """Whether `path` lies in a folder of third-party code."""
    return bool(VENDORED_DIRS.intersection(p.lower() for p in path.split("/")[:-1]))


def is_example(path: str) -> bool:
    """Whether `path` lies in examples, docs, benchmarks or tooling rather than the product itself."""
    return bool(EXAMPLE_DIRS.intersection(p.lower() for p in path.split("/")[:-1]))


def is_package_init(path: str) -> bool:
    """Whether `path` is a package's init / index module (where re-exports live)."""
    return posixpath.basename(path) in PACKAGE_INITS


def is_entry_file(path: str) -> bool:
    """Whether `path` is conventionally a program's entry point."""
    return posixpath.basename(path) in ENTRY_FILES


def top_level(path: str) -> str:
    """The top-level folder of `path` ("" for files at the repository root)."""
    head, sep, _ = path.partition("/")
    return head if sep else ""


@functools.lru_cache(maxsize=65_536)
def role_factor(path: str) -> float:
    """A multiplier for how much a file's code matters to a newcomer (product code 1.0, tests 0.05 ...)."""
    if is_vendored(path):
        return 0.01
    if is_test(path):
        return 0.05
    if is_example(path):
        return 0.3
    return 1.0
