"""`tests.extras.require`: a missing extra skips a developer's run but fails CI's; no other way to skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEEDS_MISSING = "from tests.extras import require\n\nrequire('ctxeng_no_such_extra')\n\n\ndef test_x() -> None:\n    pass\n"


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_needs_missing.py"
    test.write_text(NEEDS_MISSING, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip


def test_a_missing_extra_skips_outside_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, None)
    assert result.returncode in (0, 5), result.stdout  # 5: pytest's "no test ran" once the module is skipped
    assert "1 skipped" in result.stdout


def test_a_missing_extra_fails_under_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, "true")
    assert result.returncode != 0, result.stdout
    assert "CI is set and this test cannot run: needs ctxeng_no_such_extra" in result.stdout


def test_no_test_module_hides_behind_importorskip() -> None:
    offenders = [
        p.name
        for p in sorted((ROOT / "tests").glob("test_*.py"))
        if p.name != "test_extras.py" and "importorskip(" in p.read_text(encoding="utf-8")
    ]
    assert offenders == [], f"use tests.extras.require instead of pytest.importorskip in {offenders}"


#: The only skips allowed outside tests/extras.py, each for a machine CI never is.
ALLOWED_SKIPS = {"test_recipes.py": 'pytest.skip("this machine has a GPU")'}


def test_no_test_skips_except_through_extras() -> None:
    """A bare `pytest.skip`/`skipif` would pass CI while testing nothing: `tests.extras.unavailable` fails there."""
    offenders = []
    for p in sorted((ROOT / "tests").glob("test_*.py")):
        text = p.read_text(encoding="utf-8").replace(ALLOWED_SKIPS.get(p.name, "\0"), "")
        if p.name != "test_extras.py" and ("pytest.skip(" in text or "mark.skip" in text):
            offenders.append(p.name)
    assert offenders == [], f"use tests.extras.require/unavailable instead of skipping in {offenders}"
