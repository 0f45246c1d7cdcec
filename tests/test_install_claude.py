"""`ctxeng install --claude`: settings.json merge that survives install + uninstall byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ctxeng.cli import main
from ctxeng.core.errors import CtxengError
from ctxeng.integrations.claude_settings import (
    BACKUP,
    COMMAND,
    SETTINGS,
    install_claude,
    merge_hooks,
    our_commands,
    our_hooks,
    strip_hooks,
    uninstall_claude,
)
from ctxeng.integrations.json_edit import dump_like
from tests.gitrepo import GitRepo

USER_SETTINGS = {
    "permissions": {"allow": ["Bash(npm run lint)", "Bash(npm run test *)"], "deny": ["Read(./.env)"]},
    "env": {"FOO": "bär"},
    "hooks": {
        "SessionStart": [{"matcher": "startup", "hooks": [{"type": "command", "command": "echo hello"}]}],
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh", "timeout": 5}]},
            {"matcher": "Edit", "hooks": []},
        ],
    },
}
# The way people write it by hand (the docs' style): short arrays on one line, a comment-free JSON file.
HAND_WRITTEN = """{
    "permissions": {
        "allow": ["Bash(npm run lint)", "Bash(npm run test *)"],
        "deny": [ "Read(./.env)" ]
    },
    "hooks": {
        "UserPromptSubmit": [ { "hooks": [ { "type": "command", "command": "./my-context.sh" } ] } ]
    }
}"""


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    git_repo.commit("Add app", {"app.py": "def main():\n    return 1\n"})
    return git_repo


def _tree(root: Path) -> dict[str, bytes]:
    claude = root / ".claude"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(claude.rglob("*")) if p.is_file()}


def _ours(settings: dict) -> list[str]:  # type: ignore[type-arg]
    return [
        h["command"]
        for groups in settings.get("hooks", {}).values() for g in groups for h in g.get("hooks", [])
        if h.get("command") in our_commands()
    ]  # fmt: skip


@pytest.mark.parametrize("text", [
    json.dumps(USER_SETTINGS, indent=2, ensure_ascii=False) + "\n",  # what Claude Code itself writes
    json.dumps(USER_SETTINGS, indent="\t", ensure_ascii=False),  # tabs, no final newline
    HAND_WRITTEN,
    '{"model": "opus", "hooks": {"SessionStart": []}}',  # empty containers that ctxeng's entries will join
    json.dumps(USER_SETTINGS, indent=2).replace("\n", "\r\n") + "\r\n",  # Windows line ends
], ids=["claude-code-style", "tabs", "hand-written", "compact-empty-hooks", "crlf"])  # fmt: skip
def test_user_settings_survive_install_and_uninstall_byte_for_byte(repo: GitRepo, text: str) -> None:
    settings_path = repo.path / SETTINGS
    repo.write(SETTINGS, text)
    assert main(["install", "--claude", str(repo.path)]) == 0
    installed = json.loads(settings_path.read_text())
    assert sorted(_ours(installed)) == sorted(
        h["command"] for groups in our_hooks().values() for g in groups for h in g["hooks"]
    )
    original = json.loads(text)
    assert {k: v for k, v in installed.items() if k != "hooks"} == {
        k: v for k, v in original.items() if k != "hooks"
    }
    for event, groups in original.get("hooks", {}).items():  # the user's groups first, unchanged, ours after
        assert installed["hooks"][event][: len(groups)] == groups
    if "\r\n" in text:
        assert settings_path.read_bytes().count(b"\n") == settings_path.read_bytes().count(b"\r\n")
    assert main(["uninstall", "--claude", str(repo.path)]) == 0
    assert settings_path.read_bytes() == text.encode()
    assert not (repo.path / COMMAND).exists() and not (repo.path / ".ctxeng" / BACKUP).exists()


def test_install_is_idempotent_and_puts_our_entries_after_the_users(repo: GitRepo) -> None:
    repo.write(SETTINGS, json.dumps(USER_SETTINGS, indent=2))
    install_claude(repo.path)
    first = _tree(repo.path)
    again = install_claude(repo.path, check=False)
    assert again[-1].startswith("no records yet: `ctxeng build`")  # the skill comes from records
    assert all("already" in line for line in again[:-1])
    assert _tree(repo.path) == first
    session = json.loads((repo.path / SETTINGS).read_text())["hooks"]["SessionStart"]
    assert (
        session[0] == USER_SETTINGS["hooks"]["SessionStart"][0]
        and session[1] == our_hooks()["SessionStart"][0]
    )


def test_without_settings_install_creates_and_uninstall_removes_everything(repo: GitRepo) -> None:
    install_claude(repo.path)
    settings = json.loads((repo.path / SETTINGS).read_text())
    assert settings == {"hooks": our_hooks()}
    assert (repo.path / COMMAND).read_text().startswith("---\ndescription: ")
    uninstall_claude(repo.path)
    assert not (repo.path / ".claude").exists()
    assert repo.git("status", "--porcelain") == ""  # .ctxeng/ (the backup's home) stays out of git


def test_a_change_made_after_install_is_kept_by_uninstall(repo: GitRepo) -> None:
    repo.write(SETTINGS, HAND_WRITTEN)
    install_claude(repo.path)
    data = json.loads((repo.path / SETTINGS).read_text())
    data["model"] = "opus"
    (repo.path / SETTINGS).write_text(json.dumps(data, indent=4) + "\n")
    uninstall_claude(repo.path)
    after = (repo.path / SETTINGS).read_text()
    assert json.loads(after) == {**json.loads(HAND_WRITTEN), "model": "opus"}
    assert after.startswith('{\n    "permissions"')  # written in the file's own indentation


def test_our_handler_inside_a_users_group_is_removed_alone() -> None:
    ours = next(iter(our_commands()))
    settings = {
        "hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "x"}, {"type": "command", "command": ours}]}]
        }
    }
    assert strip_hooks(settings) == {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "x"}]}]}}
    assert strip_hooks({"hooks": {}}) == {"hooks": {}} and strip_hooks({"hooks": {"Stop": []}}) == {
        "hooks": {"Stop": []}
    }


def test_broken_settings_is_refused_and_nothing_is_written(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write(SETTINGS, '{"hooks": {')
    assert main(["install", "--claude", str(repo.path)]) == 1
    assert "error: .claude/settings.json is not valid JSON" in capsys.readouterr().err
    assert _tree(repo.path) == {SETTINGS: b'{"hooks": {'}
    repo.write(SETTINGS, '{"hooks": {"SessionStart": {"not": "a list"}}}')
    with pytest.raises(CtxengError, match="shape Claude Code uses"):
        install_claude(repo.path)


def test_a_foreign_command_file_is_never_overwritten_or_removed(repo: GitRepo) -> None:
    repo.write(COMMAND, "my own refresh command\n")
    with pytest.raises(CtxengError, match="ctxeng did not write it"):
        install_claude(repo.path)
    assert not (repo.path / SETTINGS).exists()  # refused before the settings were touched
    assert f"left {COMMAND} alone: ctxeng did not write it" in uninstall_claude(repo.path)
    assert (repo.path / COMMAND).read_text() == "my own refresh command\n"


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=12))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
handlers = st.fixed_dictionaries({"type": st.just("command"), "command": st.text(min_size=1, max_size=20)})
groups = st.fixed_dictionaries(
    {"hooks": st.lists(handlers, max_size=2)}, optional={"matcher": st.text(max_size=10)}
)
user_settings = st.fixed_dictionaries(
    {},
    optional={
        "hooks": st.dictionaries(
            st.sampled_from(["SessionStart", "UserPromptSubmit", "Stop"]), st.lists(groups, max_size=2)
        ),
        "permissions": st.dictionaries(
            st.sampled_from(["allow", "deny"]), st.lists(st.text(max_size=10), max_size=3)
        ),
        "extra": json_values,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=user_settings, indent=st.sampled_from([2, 4, "\t"]), newline=st.booleans(), crlf=st.booleans())
def test_merge_then_strip_restores_any_settings_in_its_own_format(
    data: dict, indent: object, newline: bool, crlf: bool
) -> None:  # type: ignore[type-arg]
    # The structural path alone (no backup): what uninstall falls back to when the user edited meanwhile.
    # It cannot tell an empty `hooks` / event list of the user's from one ctxeng emptied (the backup can).
    hooks = data.get("hooks")
    assume(hooks is None or (hooks and all(hooks.values())))
    data = strip_hooks(
        data
    )  # generated commands could collide with ours only by chance; keep the input clean
    text = json.dumps(data, indent=indent, ensure_ascii=False)  # type: ignore[arg-type]
    text += "\n" if newline else ""
    text = text.replace("\n", "\r\n") if crlf else text
    merged = merge_hooks(data)
    assert merge_hooks(merged) == merged
    installed = dump_like(merged, text)
    assert dump_like(strip_hooks(json.loads(installed)), installed) == text


def test_with_records_install_writes_the_pack_skill_and_uninstall_removes_it(sample_repo: GitRepo) -> None:
    from ctxeng.pipeline.build import build

    root = sample_repo.path
    (root / "CLAUDE.md").write_text("# Our notes\n\nKeep this.\n")
    build(root, write_pack=False)
    assert main(["install", "--claude", str(root)]) == 0
    skill = root / ".claude" / "skills" / "kvstore-context"
    assert (skill / "SKILL.md").read_text().startswith("---\nname: kvstore-context\n")
    assert sorted(p.name for p in (skill / "references").iterdir())
    assert "ctxeng:begin" in (root / "CLAUDE.md").read_text()
    installed = _tree(root)
    install_claude(root)
    assert _tree(root) == installed  # idempotent with the pack too
    (skill / "NOTES.md").write_text("mine\n")  # a file of the user's inside the skill folder stays
    done = uninstall_claude(root)
    assert any(
        line.startswith("removed the context-pack skill .claude/skills/kvstore-context/") for line in done
    )
    assert (root / "CLAUDE.md").read_text() == "# Our notes\n\nKeep this.\n"
    assert _tree(root) == {".claude/skills/kvstore-context/NOTES.md": b"mine\n"}


def test_symlinked_settings_are_refused(repo: GitRepo, tmp_path: Path) -> None:
    shared = tmp_path / "dotfiles-settings.json"
    shared.write_text('{"model": "opus"}\n')
    (repo.path / ".claude").mkdir()
    (repo.path / SETTINGS).symlink_to(shared)
    with pytest.raises(CtxengError, match="symlink"):
        install_claude(repo.path)
    assert shared.read_text() == '{"model": "opus"}\n' and not (repo.path / COMMAND).exists()
