"""The CLI shell: fast help without heavy imports, exit codes, one-line errors with hints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ctxeng.cli import main

HEAVY = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
    "git",
)  # git: GitPython (install only)


def _imports_after(args: list[str], cwd: Path) -> set[str]:
    code = (
        "import sys, json\nfrom ctxeng.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_lists_commands_without_heavy_imports(tmp_path: Path) -> None:
    assert _imports_after(["--help"], tmp_path) == set()
    out = subprocess.run(
        [sys.executable, "-m", "ctxeng", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("build", "pack", "context", "train", "scan"):
        assert f"  {name}" in out.stdout


def test_build_never_imports_training_libraries(sample_repo) -> None:  # type: ignore[no-untyped-def]
    assert _imports_after(["build", str(sample_repo.path), "-q"], sample_repo.path) == set()


def test_user_error_is_one_line_with_hint_and_exit_1(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["build", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: not a git repository")
    assert err[1].startswith("hint: ")


def test_unknown_command_is_a_usage_error(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["frobnicate"]) == 2


def test_version(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--version"]) == 0
    assert "ctxeng" in capsys.readouterr().out


def test_every_command_takes_the_repository_the_same_way() -> None:
    import click

    from ctxeng.cli import COMMANDS, cli

    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        params = {p.name: p for p in command.params}
        assert isinstance(params["path"], click.Argument) and not params["path"].required, name
        assert "-C" in params["root"].opts and "--root" in params["root"].opts, name
