"""What ctxeng installs (ctxeng/templates/) equals what this repository uses, and the wheel ships it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from ctxeng.integrations.claude_settings import COMMAND, SETTINGS, install_claude, merge_hooks, our_hooks
from ctxeng.integrations.git_hook import REFRESH_ARGS, render_hook
from ctxeng.integrations.launcher import LAUNCHER
from ctxeng.integrations.templates import TEMPLATE_END, TEMPLATE_START, template_text
from tests.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[1]


def test_this_repositorys_claude_folder_holds_the_shipped_templates() -> None:
    assert (ROOT / COMMAND).read_text(encoding="utf-8") == template_text("claude/commands/ctxeng-refresh.md")
    assert (ROOT / LAUNCHER).read_text(encoding="utf-8") == template_text("claude/hooks/ctxeng.sh")
    settings = json.loads((ROOT / SETTINGS).read_text(encoding="utf-8"))
    assert merge_hooks(settings) == settings  # installing again would change nothing
    assert {
        event: settings["hooks"][event] for event in our_hooks()
    } == our_hooks()  # ours, exactly as shipped


def test_installing_over_this_repositorys_claude_folder_changes_no_byte(git_repo: GitRepo) -> None:
    git_repo.commit("Add app", {"app.py": "x = 1\n"})
    files = (SETTINGS, COMMAND, LAUNCHER)
    for rel in files:
        git_repo.write(rel, (ROOT / rel).read_bytes())
    before = {rel: (git_repo.path / rel).read_bytes() for rel in files}
    done = install_claude(git_repo.path, check=False)
    assert all("already" in line for line in done if not line.startswith("no records yet"))
    assert {rel: (git_repo.path / rel).read_bytes() for rel in files} == before


def test_pre_commit_framework_hooks_run_what_the_git_hook_runs() -> None:
    hooks = {
        h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    }
    assert sorted(hooks) == ["ctxeng-refresh", "ctxeng-refresh-post"]
    for hook in hooks.values():
        assert (hook["language"], hook["pass_filenames"], hook["require_serial"], hook["always_run"]) == (
            "python", False, True, True)  # fmt: skip
    assert hooks["ctxeng-refresh"]["entry"] == "ctxeng " + " ".join(REFRESH_ARGS)
    assert hooks["ctxeng-refresh"]["stages"] == ["pre-commit"]
    # after a new HEAD the refresh runs detached, as the installed git hook does it (`--background`)
    assert hooks["ctxeng-refresh-post"]["entry"] == "ctxeng " + " ".join(REFRESH_ARGS) + " --background"
    assert 'CTXENG_ARGS="$CTXENG_ARGS --background"' in template_text("git-hook.sh")
    assert hooks["ctxeng-refresh-post"]["stages"] == ["post-commit", "post-merge", "post-checkout"]


def test_installed_git_hook_differs_from_the_template_only_in_its_templated_block() -> None:
    shipped, installed = template_text("git-hook.sh"), render_hook("/opt/py/bin/python", strict=True)
    assert shipped.split(TEMPLATE_START)[0] == installed.split(TEMPLATE_START)[0]
    assert shipped.split(TEMPLATE_END)[1] == installed.split(TEMPLATE_END)[1]
    assert "CTXENG_ARGS='refresh --hook --strict'" in installed
    assert subprocess.run(["sh", "-n"], input=installed, text=True, check=False).returncode == 0


def test_the_wheel_ships_every_subpackage_and_the_templates(tmp_path: Path) -> None:
    # pre-commit's `language: python` installs ctxeng from a wheel, so what the wheel lacks, the hook lacks.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("ctxeng", "extractors", "recipes"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*pip_wheel, "-w", str(tmp_path), str(src)], check=True, capture_output=True)
    with zipfile.ZipFile(next(tmp_path.glob("*.whl"))) as wheel:
        shipped = set(wheel.namelist())
    expected = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "ctxeng").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and (p.suffix == ".py" or "templates" in p.parts)
    }
    assert sorted(expected - shipped) == []
