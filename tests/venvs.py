"""Real, separate virtual environments with ctxeng pip-installed from this checkout, for install tests.

A new venv sees the packages of the test interpreter's environment through a folder of symlinks (a
`.pth` line), so nothing is downloaded; leaving some packages out of that folder builds the "extra not
installed" condition for real. ctxeng itself is pip-installed from a copy of the work tree (not editable),
so the venv runs exactly what a user's `pip install` would give. The venv's bin/ is never put on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Import names (and distribution-name prefixes) the `[train]` and `[serve]` extras bring.
EXTRA_MODULES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "starlette",
    "uvicorn",
    "mcp",
)


def _excluded(name: str, left_out: tuple[str, ...]) -> bool:
    """Whether a site-packages entry belongs to ctxeng's own install or to a package left out."""
    if name.startswith(("__editable__", "ctxeng", "_ctxeng")) or name.endswith(".pth"):
        return True
    stem = name.split("-")[0].lower() if name.endswith((".dist-info", ".egg-info")) else name.lower()
    stem = stem.removesuffix(".py")
    return stem in left_out or stem.replace("_", "-") in left_out


def make_venv(where: Path, left_out: tuple[str, ...] = ()) -> Path:
    """Create a venv at `where` with ctxeng installed from this checkout; returns its `bin/python`.

    The venv sees this environment's packages except those in `left_out` (top-level import names).
    """
    sites = sorted({Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")})
    farm = where.parent / f"{where.name}-site"
    farm.mkdir(parents=True)
    for site in sites:
        for entry in site.iterdir():
            if not _excluded(entry.name, left_out) and not (farm / entry.name).exists():
                (farm / entry.name).symlink_to(entry)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    venv_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    (venv_site / "deps.pth").write_text(f"{farm}\n", encoding="utf-8")
    source = where.parent / f"{where.name}-src"
    shutil.copytree(
        ROOT, source,
        ignore=shutil.ignore_patterns(".git", ".venv", ".ctxeng", "build", "*.egg-info", "__pycache__", ".*_cache"),
    )  # fmt: skip
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return python
