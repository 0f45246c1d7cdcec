"""Optional extras (`[train]`, `[serve]`): check that a command's packages are installed before it starts.

A command that needs an extra calls `require_extras` first, so a missing package is one line naming the
exact `pip install` (exit 1), never a `ModuleNotFoundError` traceback from deep inside the command.
The check only looks the modules up (`importlib.util.find_spec`); nothing heavy is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from importlib.util import find_spec

from ctxeng.core.errors import CtxengError

DISTRIBUTION = "ctxeng-toolkit"
#: extra -> the import names it provides that ctxeng's commands import (pyproject.toml's lists).
EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("torch", "transformers", "peft", "trl", "datasets", "accelerate"),
    "serve": ("starlette", "uvicorn", "mcp"),
}


def missing_modules(modules: tuple[str, ...] | list[str]) -> list[str]:
    """The modules of `modules` that cannot be imported here (not installed), in the given order."""
    missing = []
    for module in modules:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):  # a broken parent package counts as missing
            found = False
        if not found:
            missing.append(module)
    return missing


def install_command(extras: list[str]) -> str:
    """The exact command that installs `extras` into the environment this ctxeng runs from.

    An editable install (`pip install -e .`) is named by its folder, so the command does not replace
    the checkout with the released package; `pip` is this interpreter's own when `pip` on PATH is another.
    """
    spec = f"{DISTRIBUTION}[{','.join(sorted(extras))}]"
    editable = _editable_folder()
    target = f"-e '{editable}[{','.join(sorted(extras))}]'" if editable else f"'{spec}'"
    return f"{_pip()} install {target}"


def require_extras(command: str, *extras: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise a one-line `CtxengError` naming the `pip install` when `command` lacks an extra's packages.

    `modules` narrows the check to the modules `command` really imports (default: every module of `extras`).
    """
    wanted = modules if modules is not None else tuple(m for extra in extras for m in EXTRAS[extra])
    missing = missing_modules(wanted)
    if not missing:
        return
    needed = [extra for extra in extras if set(EXTRAS[extra]) & set(missing)] or list(extras)
    raise CtxengError(
        f"`ctxeng {command}` needs the {' and '.join(f'[{e}]' for e in needed)} extra{'s' * (len(needed) > 1)} "
        f"({', '.join(missing)} not installed): run {install_command(needed)}"
    )


def _pip() -> str:
    """`pip` when the `pip` on PATH belongs to this interpreter's environment, else `<python> -m pip`."""
    on_path = shutil.which("pip")
    here = os.path.dirname(os.path.abspath(sys.executable))
    if on_path and os.path.dirname(os.path.abspath(on_path)) == here:
        return "pip"
    return f"{sys.executable} -m pip"


def _editable_folder() -> str | None:
    """The source folder of an editable install of ctxeng (PEP 610 `direct_url.json`), else None."""
    from importlib import metadata

    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        data = json.loads(text) if text else {}
    except (metadata.PackageNotFoundError, ValueError):
        return None
    url = data.get("url", "") if isinstance(data, dict) else ""
    editable = isinstance(data, dict) and (data.get("dir_info") or {}).get("editable") is True
    return url.removeprefix("file://") if editable and url.startswith("file://") else None
