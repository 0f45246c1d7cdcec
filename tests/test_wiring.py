"""ctxeng on a real user's machine: installed in a venv that is not on PATH, with or without its extras.

Claude Code runs hooks and MCP servers with its own PATH; these tests run the exact commands that
`ctxeng install` wrote, under PATH=/usr/bin:/bin, from a separate venv pip-installed from this checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctxeng.cli import main
from tests.gitrepo import GitRepo
from tests.venvs import EXTRA_MODULES, make_venv

MINIMAL_PATH = "/usr/bin:/bin"
PROMPT = "How does the ledger compute the balance of an account?"


@pytest.fixture(scope="module")
def venv_full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("venvs") / "full")


@pytest.fixture(scope="module")
def venv_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv that has only ctxeng's base dependencies: no [train], no [serve]."""
    return make_venv(tmp_path_factory.mktemp("venvs") / "base", left_out=EXTRA_MODULES)


def _ledger(path: Path) -> GitRepo:
    repo = GitRepo(path)
    repo.commit("Add the ledger", {
        "ledger.py": 'class Ledger:\n    """Double-entry ledger."""\n\n'
                     "    def balance(self, account: str) -> int:\n"
                     '        """The balance of `account`: credits minus debits."""\n'
                     "        return self.credits(account) - self.debits(account)\n",
        "README.md": "# Ledger\n\nA double-entry ledger; `Ledger.balance` sums an account.\n",
    })  # fmt: skip
    return repo


def _claude_env(root: Path) -> dict[str, str]:
    """What Claude Code gives a hook: its own (here: minimal) PATH and the project folder."""
    keep = ("HOME", "LANG", "TMPDIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return {**env, "PATH": MINIMAL_PATH, "CLAUDE_PROJECT_DIR": str(root)}


def _expand(value: str, env: dict[str, str]) -> str:
    """Claude Code's `${VAR:-default}` expansion in .mcp.json (the one form ctxeng writes)."""
    return value.replace("${CLAUDE_PROJECT_DIR:-.}", env.get("CLAUDE_PROJECT_DIR", "."))


def _hook_commands(root: Path) -> dict[str, str]:
    settings = json.loads((root / ".claude/settings.json").read_text())
    return {event: groups[0]["hooks"][0]["command"] for event, groups in settings["hooks"].items()}


def test_hooks_and_mcp_server_run_from_a_venv_that_is_not_on_path(venv_full: Path, tmp_path: Path) -> None:
    repo = _ledger(tmp_path / "ledger")
    ctxeng = str(venv_full.parent / "ctxeng")
    subprocess.run(
        [ctxeng, "build", str(repo.path), "-q"], check=True, capture_output=True, env=_claude_env(repo.path)
    )
    proc = subprocess.run(
        [ctxeng, "install", "--claude", "--mcp", str(repo.path)], capture_output=True, text=True, check=False,
        env=_claude_env(repo.path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "checked: Claude Code's hooks run ctxeng" in proc.stderr and str(venv_full) in proc.stderr
    assert "`ctxeng` is not on PATH" in proc.stderr  # the warning, with the folder to add
    env = _claude_env(repo.path)
    commands = _hook_commands(repo.path)
    assert "ctxeng" not in subprocess.run(["sh", "-c", "command -v ctxeng || true"], env=env, capture_output=True,
                                          text=True).stdout  # fmt: skip
    event = {"hook_event_name": "UserPromptSubmit", "prompt": PROMPT, "cwd": str(repo.path)}
    prompt = subprocess.run(["sh", "-c", commands["UserPromptSubmit"]], input=json.dumps(event), env=env,
                            cwd=repo.path, capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    context = json.loads(prompt.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "balance" in context and "no context this time" not in context
    start = subprocess.run(["sh", "-c", commands["SessionStart"]], input=json.dumps({"cwd": str(repo.path)}),
                           env=env, cwd=repo.path, capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert "Repository ledger" in json.loads(start.stdout)["hookSpecificOutput"]["additionalContext"]

    server = json.loads((repo.path / ".mcp.json").read_text())["mcpServers"]["ctxeng"]
    server_env = {**env, **{k: _expand(v, env) for k, v in server["env"].items()}}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}  # fmt: skip
    proc = subprocess.Popen(
        [server["command"], *(_expand(a, env) for a in server["args"])], env=server_env, cwd=repo.path,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(initialize) + "\n")
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
    assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "ctxeng"


def test_a_hook_that_cannot_run_ctxeng_leaves_a_line_that_status_reports(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit("init", {"app.py": "x = 1\n"})
    assert main(["install", "--claude", str(git_repo.path)]) == 0
    (git_repo.path / ".ctxeng/install/python").write_text("/nonexistent/venv/bin/python\n")  # venv deleted
    env = _claude_env(git_repo.path)
    hook = subprocess.run(["sh", "-c", _hook_commands(git_repo.path)["UserPromptSubmit"]], env=env,
                          input='{"prompt": "x"}', capture_output=True, text=True, check=False)  # fmt: skip
    assert hook.returncode == 0 and hook.stdout == ""  # the prompt goes on, without context
    log = (git_repo.path / ".ctxeng/hooks.log").read_text().splitlines()
    assert (
        len(log) == 1 and "ctxeng context --hook: cannot run ctxeng: /nonexistent/venv/bin/python" in log[0]
    )
    capsys.readouterr()
    assert main(["status", str(git_repo.path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "last failure: " in out and "/nonexistent/venv/bin/python" in out
    assert "Claude Code could not run ctxeng 1 time(s)" in out and "ctxeng install --claude" in out
    assert main(["install", "--claude", str(git_repo.path)]) == 0  # reinstalling fixes it and clears the log
    assert not (git_repo.path / ".ctxeng/hooks.log").exists()
    assert subprocess.run(["sh", "-c", _hook_commands(git_repo.path)["UserPromptSubmit"]], env=env,
                          input='{"prompt": "x"}', capture_output=True, text=True).returncode == 0  # fmt: skip
    assert not (git_repo.path / ".ctxeng/hooks.log").exists()


def test_hooks_written_by_an_older_version_are_replaced_and_removed(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"app.py": "x = 1\n"})
    old = {"hooks": {
        "SessionStart": [{"matcher": "startup|resume|clear|compact",
                          "hooks": [{"type": "command", "command": "ctxeng status --hook || true", "timeout": 15}]}],
        "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "ctxeng context --hook || true",
                                         "timeout": 15}]}],
    }, "model": "opus"}  # fmt: skip
    settings = git_repo.path / ".claude/settings.json"
    git_repo.write(".claude/settings.json", json.dumps(old, indent=2) + "\n")
    assert main(["install", "--claude", str(git_repo.path)]) == 0
    commands = json.dumps(json.loads(settings.read_text()))
    assert "|| true" not in commands and commands.count(".claude/hooks/ctxeng.sh") == 2
    git_repo.write(
        ".claude/settings.json", json.dumps(old, indent=2) + "\n"
    )  # an old install, never upgraded
    assert main(["uninstall", "--claude", str(git_repo.path)]) == 0
    assert json.loads(settings.read_text()) == {"model": "opus"}
    assert not (git_repo.path / ".claude/hooks").exists()


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["train"], "train"),
        (["eval"], "train"),
        (["merge"], "train"),
        (["build", "--train"], "train"),
        (["serve"], "serve,train"),
        (["mcp"], "serve"),
        (["install", "--mcp"], "serve"),
    ],
)
def test_a_missing_extra_is_one_line_naming_the_pip_install(
    venv_base: Path, git_repo: GitRepo, args: list[str], extra: str
) -> None:
    git_repo.commit("init", {"app.py": "x = 1\n"})
    proc = subprocess.run([str(venv_base.parent / "ctxeng"), *args, str(git_repo.path)], capture_output=True,
                          text=True, env=_claude_env(git_repo.path), timeout=120)  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and f"pip install 'ctxeng-toolkit[{extra}]'" in lines[0]
    assert "Traceback" not in proc.stderr and not (git_repo.path / ".mcp.json").exists()


@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_install_without_a_target_is_a_usage_error(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert main([command, str(git_repo.path)]) == 2
    assert "--git-hook, --claude, --mcp" in capsys.readouterr().err


def test_adapters_says_how_to_get_one_and_keeps_whole_names_when_piped(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"app.py": "x = 1\n"})
    cli = [sys.executable, "-m", "ctxeng", "adapters", str(git_repo.path)]
    empty = subprocess.run(cli, capture_output=True, text=True, check=True)
    assert empty.stdout == "" and "`ctxeng train` trains one" in empty.stderr
    name = "qwen2.5-coder-1.5b-cpt-for-a-long-repository-name"
    folder = git_repo.path / ".ctxeng" / "adapters" / name
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "ctxeng-manifest.json").write_text(json.dumps({
        "name": name, "base_model": {"spec": "Qwen/Qwen2.5-Coder-1.5B-Instruct-with-a-long-id"},
        "recipe": {"name": "qwen2.5-coder-1.5b-cpt"}, "training": {"steps": 10}, "repository": {"head": "a" * 40},
    }))  # fmt: skip
    listed = subprocess.run(cli, capture_output=True, text=True, check=True)  # stdout is a pipe
    assert name in listed.stdout and "Qwen/Qwen2.5-Coder-1.5B-Instruct-with-a-long-id" in listed.stdout


def test_build_says_where_everything_went(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"app.py": "def main():\n    return 1\n", "README.md": "# app\n\nAn app.\n"})
    proc = subprocess.run([sys.executable, "-m", "ctxeng", "build", str(git_repo.path)], capture_output=True,
                          text=True, check=True, cwd=git_repo.path.parent)  # fmt: skip
    assert f"outputs in {git_repo.path / '.ctxeng'}/" in proc.stderr
    assert f"Claude Code skill in {git_repo.path / '.claude/skills/repo-context'}/" in proc.stderr
    assert f"CLAUDE.md block (created) in {git_repo.path / 'CLAUDE.md'}" in proc.stderr


def test_adapter_manifests_write_the_home_folder_as_tilde(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ctxeng.train.manifest import home_relative

    monkeypatch.setenv("HOME", str(tmp_path / "ada"))
    cached = str(tmp_path / "ada" / ".cache" / "ctxeng" / "models" / "smollm2-135m-instruct-0.1.2-1")
    assert home_relative(cached) == "~/.cache/ctxeng/models/smollm2-135m-instruct-0.1.2-1"
    assert home_relative("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert home_relative(str(tmp_path / "adam" / "x")) == str(tmp_path / "adam" / "x")


def test_ask_without_a_server_or_the_train_extra_names_the_pip_install(
    venv_base: Path, tmp_path: Path
) -> None:
    repo = _ledger(tmp_path / "ledger")
    ctxeng = str(venv_base.parent / "ctxeng")
    env = _claude_env(repo.path)
    subprocess.run(
        [ctxeng, "build", str(repo.path), "-q"], check=True, capture_output=True, env=env
    )  # base deps
    adapter = repo.path / ".ctxeng" / "adapters" / "small"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    proc = subprocess.run([ctxeng, "ask", PROMPT, str(repo.path), "--no-server"], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert (
        "`ctxeng ask` needs the [train] extra" in proc.stderr
        and "pip install 'ctxeng-toolkit[train]'" in proc.stderr
    )


def test_the_shipped_hook_commands_run_the_launcher() -> None:
    from ctxeng.integrations.claude_settings import our_hooks
    from ctxeng.integrations.launcher import shell_command

    commands = sorted(h["command"] for groups in our_hooks().values() for g in groups for h in g["hooks"])
    assert commands == sorted([shell_command("context", "--hook"), shell_command("status", "--hook")])
