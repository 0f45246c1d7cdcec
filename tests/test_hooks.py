"""Claude Code hooks fed real hook JSON on stdin: valid output and exit 0, also on a broken `.ctxeng/`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctxeng.integrations import claude_hooks as hooks
from ctxeng.integrations.claude_settings import our_hooks
from ctxeng.integrations.launcher import LAUNCHER
from ctxeng.integrations.templates import template_text
from tests.gitrepo import GitRepo

BIN = str(Path(sys.executable).parent)  # where the venv's `ctxeng` script lives


def session_event(cwd: Path) -> str:
    return json.dumps({
        "session_id": "7d2c", "transcript_path": "/tmp/7d2c.jsonl", "cwd": str(cwd),
        "hook_event_name": "SessionStart", "source": "startup", "model": "claude-sonnet-4",
    })  # fmt: skip


def prompt_event(cwd: Path, prompt: str) -> str:
    return json.dumps({
        "session_id": "7d2c", "transcript_path": "/tmp/7d2c.jsonl", "cwd": str(cwd),
        "permission_mode": "default", "hook_event_name": "UserPromptSubmit", "prompt": prompt,
    })  # fmt: skip


def put_launcher(project: Path, python: str | None = sys.executable) -> None:
    """What `ctxeng install --claude` puts in the project for its hooks: the launcher and (per clone) the
    Python it runs; `python=None` leaves the interpreter unrecorded (a fresh clone of a committed setup)."""
    launcher = project / LAUNCHER
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(template_text("claude/hooks/ctxeng.sh"))
    if python is not None and not (project / ".ctxeng").is_file():  # a broken .ctxeng: `ctxeng` from PATH
        (project / ".ctxeng" / "install").mkdir(parents=True, exist_ok=True)
        (project / ".ctxeng" / "install" / "python").write_text(python + "\n")


def run_shell(
    command: str, stdin: str, cwd: Path, path: str = BIN, python: str | None = sys.executable
) -> subprocess.CompletedProcess[str]:
    """Run a hook command the way Claude Code does: `sh -c`, JSON on stdin, no terminal."""
    put_launcher(cwd, python)
    env = {**os.environ, "PATH": f"{path}:/usr/bin:/bin", "CLAUDE_PROJECT_DIR": str(cwd)}
    return subprocess.run(
        ["sh", "-c", command],
        input=stdin,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def context_of(proc: subprocess.CompletedProcess[str], event: str) -> str:
    """The additionalContext of a hook's output, after checking the whole contract."""
    assert proc.returncode == 0, proc.stderr
    output = json.loads(proc.stdout)
    assert list(output) == ["hookSpecificOutput"]
    assert output["hookSpecificOutput"]["hookEventName"] == event
    context = output["hookSpecificOutput"]["additionalContext"]
    assert isinstance(context, str) and len(context) <= hooks.MAX_CONTEXT_CHARS
    return context


def _command(event: str) -> str:
    return str(our_hooks()[event][0]["hooks"][0]["command"])


def test_session_start_summarises_a_repository_that_was_never_built(sample_repo: GitRepo) -> None:
    proc = run_shell(_command("SessionStart"), session_event(sample_repo.path), sample_repo.path)
    context = context_of(proc, "SessionStart")
    assert context.startswith(f"Repository kvstore: branch main, HEAD {sample_repo.head()[:12]}.\n")
    assert (
        "Layout: kvstore/ (5 files); docs/ (3 files);" in context
        and "files CONTRIBUTING.md, Makefile" in context
    )
    assert "ctxeng outputs: records: missing; dataset: missing; pack: missing." in context
    assert "Suggested: run `ctxeng build` to mine the repository." in context


BROKEN_LAYOUTS = {
    "garbage-files": {"manifest.json": "{not json", "index.json": "[1, 2", "records.jsonl": "\0\0\0",
                      "state/blobs.jsonl": '{"path": 1}\n'},
    "wrong-types": {"manifest.json": '{"head": 42, "built_at": "x", "pack": []}',
                    "index.json": '{"version": 1}', "adapters/a/ctxeng-manifest.json": '{"repository": "x"}'},
    "folders-for-files": {"manifest.json/x": "", "index.json/x": "", "records.jsonl/x": ""},
}  # fmt: skip


@pytest.mark.parametrize("layout", [*BROKEN_LAYOUTS, "file-instead-of-folder"])
def test_both_hooks_stay_valid_on_a_broken_ctxeng_folder(sample_repo: GitRepo, layout: str) -> None:
    out = sample_repo.path / ".ctxeng"
    if layout == "file-instead-of-folder":
        out.write_text("oops")
    else:
        for rel, text in BROKEN_LAYOUTS[layout].items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(text)
    context = context_of(
        run_shell(_command("SessionStart"), session_event(sample_repo.path), sample_repo.path), "SessionStart"
    )
    assert context.startswith("Repository kvstore")
    for stdin in (prompt_event(sample_repo.path, "how does compaction work?"), "not json", ""):
        assert (
            hooks.parse_event(hooks.prompt_hook(stdin))["hookSpecificOutput"]["hookEventName"]
            == "UserPromptSubmit"
        )


@pytest.mark.parametrize("layout", ["garbage-files", "folders-for-files"])
def test_prompt_hook_command_on_a_broken_ctxeng_folder(sample_repo: GitRepo, layout: str) -> None:
    for rel, text in BROKEN_LAYOUTS[layout].items():
        (sample_repo.path / ".ctxeng" / rel).parent.mkdir(parents=True, exist_ok=True)
        (sample_repo.path / ".ctxeng" / rel).write_text(text)
    proc = run_shell(
        _command("UserPromptSubmit"),
        prompt_event(sample_repo.path, "How is a record encoded?"),
        sample_repo.path,
    )
    assert context_of(proc, "UserPromptSubmit") == ""


@pytest.mark.parametrize("stdin", ["", "not json", "[1, 2]", '{"cwd": 42, "prompt": ["x"]}'])
def test_bad_stdin_still_gives_valid_output(sample_repo: GitRepo, stdin: str) -> None:
    proc = run_shell(_command("SessionStart"), stdin, sample_repo.path)  # falls back to CLAUDE_PROJECT_DIR
    assert context_of(proc, "SessionStart").startswith("Repository kvstore")
    assert json.loads(hooks.prompt_hook(stdin))["hookSpecificOutput"]["additionalContext"] == ""


def test_outside_any_repository_the_hooks_say_nothing(tmp_path: Path) -> None:
    proc = run_shell(_command("SessionStart"), session_event(tmp_path), tmp_path)
    assert context_of(proc, "SessionStart") == ""


def test_without_ctxeng_on_path_the_commands_run_the_recorded_python(sample_repo: GitRepo) -> None:
    proc = run_shell(
        _command("SessionStart"), session_event(sample_repo.path), sample_repo.path, path="/nonexistent"
    )
    assert context_of(proc, "SessionStart").startswith("Repository kvstore")


def test_when_no_ctxeng_can_run_the_commands_still_exit_0_and_log_it(sample_repo: GitRepo) -> None:
    for event, stdin in (("SessionStart", session_event(sample_repo.path)),
                         ("UserPromptSubmit", prompt_event(sample_repo.path, "hello"))):  # fmt: skip
        proc = run_shell(_command(event), stdin, sample_repo.path, path="/nonexistent", python=None)
        assert proc.returncode == 0 and proc.stdout == ""  # empty plain output is valid: no context
    log = (sample_repo.path / ".ctxeng" / "hooks.log").read_text().splitlines()
    assert [line.split(" ", 1)[1].split(":")[0] for line in log] == [
        "ctxeng status --hook",
        "ctxeng context --hook",
    ]
    assert (
        sample_repo.path / ".ctxeng" / ".gitignore"
    ).read_text() == "*\n"  # a never-built clone stays clean
    assert sample_repo.git("status", "--porcelain", "--untracked-files=all", "--", ".ctxeng") == ""


def test_a_prompt_without_ctxeng_data_adds_nothing(sample_repo: GitRepo) -> None:
    output = json.loads(hooks.prompt_hook(prompt_event(sample_repo.path, "How is a record encoded?")))
    assert output == {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": ""}}


def test_a_slow_handler_is_cut_off_by_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "DEADLINE_S", 0.2)
    started = time.monotonic()
    output = json.loads(hooks._guarded("UserPromptSubmit", lambda event: str(time.sleep(5)), "{}"))
    assert time.monotonic() - started < 2
    assert "ran out of time" in output["hookSpecificOutput"]["additionalContext"]


def test_a_failing_handler_becomes_a_note() -> None:
    def boom(event: dict) -> str:  # type: ignore[type-arg]
        raise RuntimeError("secret detail")

    output = json.loads(hooks._guarded("SessionStart", boom, "{}"))
    assert output["hookSpecificOutput"]["additionalContext"] == "(ctxeng: no context this time: RuntimeError)"


@given(st.text(max_size=30_000) | st.lists(st.text(max_size=300), max_size=200).map("\n".join))
def test_clip_never_exceeds_the_cap(text: str) -> None:
    clipped = hooks.clip(text)
    assert len(clipped) <= hooks.MAX_CONTEXT_CHARS
    assert clipped == text if len(text) <= hooks.MAX_CONTEXT_CHARS else clipped.endswith("hook limit]\n")


def test_output_is_ascii_json_so_any_locale_can_print_it() -> None:
    text = hooks.hook_output("SessionStart", "naïve → ☃")
    assert text.isascii() and json.loads(text)["hookSpecificOutput"]["additionalContext"] == "naïve → ☃"


def test_the_session_summary_is_scanned_for_secrets(git_repo: GitRepo) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    git_repo.commit("Add app", {"app.py": "x = 1\n"})
    git_repo.git("checkout", "-q", "-b", f"fix/{token}")
    proc = run_shell(_command("SessionStart"), session_event(git_repo.path), git_repo.path)
    context = context_of(proc, "SessionStart")
    assert token not in context and "Repository repo: branch fix/" in context


@pytest.mark.parametrize("command", ["status", "context"])
def test_hooks_import_nothing_heavy(sample_repo: GitRepo, command: str) -> None:
    from ctxeng.pipeline.build import build

    build(sample_repo.path)
    code = (
        f"import sys, json\nfrom ctxeng.cli import main\nmain([{command!r}, '--hook'])\n"
        "heavy = ('git', 'torch', 'transformers', 'trl', 'peft', 'datasets')\n"
        "sys.stderr.write(json.dumps(sorted(m for m in heavy if m in sys.modules)))"
    )
    stdin = (
        session_event(sample_repo.path)
        if command == "status"
        else prompt_event(sample_repo.path, "encode a record")
    )
    proc = subprocess.run([sys.executable, "-c", code], input=stdin, cwd=sample_repo.path,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []


def test_stdin_that_is_not_utf8_still_gives_valid_output(sample_repo: GitRepo) -> None:
    payload = b'{"cwd": "' + str(sample_repo.path).encode() + b'", "prompt": "caf\xe9 store"}'
    env = {**os.environ, "PATH": f"{BIN}:/usr/bin:/bin", "PYTHONIOENCODING": "utf-8:strict",
           "CLAUDE_PROJECT_DIR": str(sample_repo.path)}  # fmt: skip
    put_launcher(sample_repo.path)
    for command, event in (
        (_command("SessionStart"), "SessionStart"),
        (_command("UserPromptSubmit"), "UserPromptSubmit"),
    ):
        raw = subprocess.run(
            ["sh", "-c", command],
            input=payload,
            cwd=sample_repo.path,
            env=env,
            capture_output=True,
            check=False,
        )
        proc = subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode(), raw.stderr.decode())
        context_of(proc, event)


def test_after_a_build_the_hooks_give_the_summary_and_the_prompts_context(sample_repo: GitRepo) -> None:
    from ctxeng.pipeline.build import build

    build(sample_repo.path)
    start = context_of(
        run_shell(_command("SessionStart"), session_event(sample_repo.path), sample_repo.path), "SessionStart"
    )
    assert "Commands: " in start and "test `make test`" in start
    assert "The skill kvstore-context (.claude/skills/kvstore-context/) holds" in start
    assert "ctxeng outputs: records: up to date; dataset: up to date; pack: up to date." in start
    assert "Suggested" not in start
    event = prompt_event(sample_repo.path, "How is a record encoded on disk?")
    proc = run_shell(_command("UserPromptSubmit"), event, sample_repo.path)
    assert "kvstore/codec.py" in context_of(proc, "UserPromptSubmit")
    sample_repo.write("kvstore/cli.py", (sample_repo.path / "kvstore/cli.py").read_text() + "\nV = 1\n")
    sample_repo.git("add", "kvstore/cli.py")  # not `add -A`: the build's skill and CLAUDE.md stay untracked
    sample_repo.git("commit", "-q", "-m", "Add verbosity", env=sample_repo.date_env())
    start = context_of(
        run_shell(_command("SessionStart"), session_event(sample_repo.path), sample_repo.path), "SessionStart"
    )
    # V is new (in no record yet) and no recorded definition's lines changed
    assert "records: 1 commit, 1 changed file (0 definitions) behind" in start
    assert "Suggested: run `ctxeng refresh` (or `ctxeng build`) to bring .ctxeng/ up to date." in start
