"""The layout is the architecture: packages own concerns, modules stay small, every package says what it owns."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ctxeng"
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "cli.py"}
MAX_LINES = 400


def test_the_top_level_holds_only_packages_and_the_entry_points() -> None:
    modules = {p.name for p in PACKAGE.glob("*.py")}
    assert modules == TOP_LEVEL_MODULES


def test_every_package_has_a_docstring_saying_what_it_owns() -> None:
    missing = [
        str(init.relative_to(PACKAGE))
        for init in sorted(PACKAGE.rglob("__init__.py"))
        if not init.read_text(encoding="utf-8").lstrip().startswith('"""')
    ]
    assert missing == []


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(p.relative_to(PACKAGE))
        for p in sorted(PACKAGE.rglob("*.py"))
        if not p.read_text(encoding="utf-8").lstrip().startswith(('"""', "#!"))
    ]
    assert missing == []
