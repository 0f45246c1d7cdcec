"""The pack end to end on real repositories: build, `ctxeng pack`, goldens, determinism, secrets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ctxeng.cli import main
from ctxeng.core.tokens import count_tokens
from ctxeng.core.workdir import generation
from ctxeng.pack.budget import READ_LIMIT
from ctxeng.pack.claude_md import BEGIN, END
from ctxeng.pipeline.build import build
from tests.conftest import golden
from tests.gitrepo import GitRepo
from tests.sample_repo import make_sample_repo
from tests.secret_cases import Fake

SKILL = Path(".claude/skills/kvstore-context")
PACK_FILES = ("SKILL.md", "references/conventions.md", "references/decisions.md", "references/history.md",
              "references/overview.md", "references/repo-map.md")  # fmt: skip


def pack_bytes(root: Path) -> dict[str, bytes]:
    """Every file the pack writes (skill, CLAUDE.md, index, details, model, pack.json), by relative path."""
    paths = (
        [SKILL / f for f in PACK_FILES]
        + [Path("CLAUDE.md")]
        + [Path(".ctxeng") / f for f in ("index.json", "index-details.jsonl", "pack-model.json", "pack.json")]
    )
    return {p.as_posix(): (root / p).read_bytes() for p in paths}


def test_build_writes_skill_block_and_index(sample_repo: GitRepo) -> None:
    result = build(sample_repo.path)
    root = sample_repo.path
    info = result.manifest["pack"]
    assert info["budget"] == 16_000 and info["tokenizer"].startswith("SmolLM2")
    assert info["skill"] == ".claude/skills/kvstore-context" and info["warnings"] == []
    texts = {f: (root / SKILL / f).read_text(encoding="utf-8") for f in PACK_FILES}
    counted = {f: count_tokens(t) for f, t in texts.items()}
    assert counted == {k: v for k, v in info["tokens"].items()}
    assert sum(counted.values()) == info["total_tokens"] <= 16_000
    assert all(n <= READ_LIMIT for n in counted.values())
    skill = texts["SKILL.md"]
    assert skill.startswith("---\nname: kvstore-context\ndescription: Knowledge of the kvstore repository")
    assert "Use when working in kvstore" in skill.split("---")[1]
    for f in PACK_FILES[1:]:
        assert f"`{f}`" in skill
    # the content an engineer would hand a newcomer
    assert "- test: `make test` — runs `pytest -q` (Makefile:1)" in texts["references/conventions.md"]
    assert "Mostly imperative mood" in texts["references/conventions.md"]
    assert "`def is_tombstone(value: bytes) -> bool`" in texts["references/repo-map.md"]
    assert "class Store" in texts["references/repo-map.md"]
    assert (
        "## Entry points" in texts["references/overview.md"]
        and "kvstore/cli.py" in texts["references/overview.md"]
    )
    assert "ADR 0001: Use an append-only log > Decision" in texts["references/decisions.md"]
    assert "**Tombstone**" in texts["references/decisions.md"]
    assert "Support deletes with tombstones" in texts["references/history.md"]
    block = (root / "CLAUDE.md").read_text(encoding="utf-8")
    assert block.startswith(BEGIN) and block.endswith(END + "\n") and len(block.splitlines()) <= 40
    assert "- Test: `make test`" in block
    for name in ("index.json", "index-details.jsonl", "pack-model.json", "pack.json"):
        assert (root / ".ctxeng" / name).is_file()


def test_goldens_for_the_sample_repository(sample_repo: GitRepo) -> None:
    build(sample_repo.path)
    for f in PACK_FILES:
        golden(
            f"pack/{f.replace('references/', '')}", (sample_repo.path / SKILL / f).read_text(encoding="utf-8")
        )
    golden("pack/CLAUDE.md", (sample_repo.path / "CLAUDE.md").read_text(encoding="utf-8"))


def _cli(*args: str, cwd: Path, seed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run([sys.executable, "-m", "ctxeng.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip


def test_processes_with_different_hash_seeds_write_identical_bytes(tmp_path: Path) -> None:
    first = make_sample_repo(tmp_path / "a" / "kvstore")
    second = make_sample_repo(tmp_path / "b" / "kvstore")
    assert first.head() == second.head()
    for repo, seed in ((first, "1"), (second, "4242")):
        proc = _cli("build", ".", "-q", cwd=repo.path, seed=seed)
        assert proc.returncode == 0, proc.stderr
    a, b = pack_bytes(first.path), pack_bytes(second.path)
    model_a, model_b = (json.loads(x.pop(".ctxeng/pack-model.json")) for x in (a, b))
    assert model_a.pop("stamp") != model_b.pop("stamp")  # size + mtime of records.jsonl: the cache key
    assert model_a == model_b
    assert a == b
    docs = [_cli("pack", "--stdout", "--format", "xml", "--budget", "3000", cwd=r.path, seed=s).stdout
            for r, s in ((first, "7"), (second, "99"))]  # fmt: skip
    assert docs[0] == docs[1] and docs[0]


def test_ctxeng_pack_from_records_restores_the_same_pack(
    sample_repo: GitRepo, capsys: pytest.CaptureFixture
) -> None:
    root = sample_repo.path
    build(root)
    before = pack_bytes(root)
    shutil.rmtree(root / ".claude")
    assert main(["pack", str(root)]) == 0
    assert "kvstore-context" in capsys.readouterr().err
    after = pack_bytes(root)
    assert {k: v for k, v in after.items() if k != ".ctxeng/pack.json"} == {
        k: v for k, v in before.items() if k != ".ctxeng/pack.json"
    }
    assert json.loads(after[".ctxeng/pack.json"])["from"] == "model"
    # without the saved model, the records are ranked again: same bytes
    (generation(root) / "pack-model.json").unlink()
    assert main(["pack", str(root), "-q"]) == 0
    again = pack_bytes(root)
    assert json.loads(again[".ctxeng/pack.json"])["from"] == "records"
    assert {k: v for k, v in again.items() if k != ".ctxeng/pack.json"} == {
        k: v for k, v in before.items() if k != ".ctxeng/pack.json"
    }


def test_ctxeng_pack_budget_and_stale_model(sample_repo: GitRepo) -> None:
    root = sample_repo.path
    build(root)
    assert main(["pack", str(root), "--budget", "1200", "-q"]) == 0
    info = json.loads((root / ".ctxeng" / "pack.json").read_text())
    assert info["budget"] == 1200 and info["total_tokens"] <= 1200
    total = sum(count_tokens((root / SKILL / f).read_text(encoding="utf-8")) for f in PACK_FILES)
    assert total == info["total_tokens"]
    records = root / ".ctxeng" / "records.jsonl"
    os.utime(records, ns=(records.stat().st_atime_ns, records.stat().st_mtime_ns + 1_000))  # "rewritten"
    assert main(["pack", str(root), "-q"]) == 0
    assert json.loads((root / ".ctxeng" / "pack.json").read_text())["from"] == "records"


@pytest.mark.parametrize("fmt", ["markdown", "xml", "json"])
def test_single_document_formats(sample_repo: GitRepo, capsys: pytest.CaptureFixture, fmt: str) -> None:
    build(sample_repo.path)
    capsys.readouterr()
    assert main(["pack", str(sample_repo.path), "--stdout", "--format", fmt, "--budget", "2000"]) == 0
    out = capsys.readouterr().out
    assert 0 < count_tokens(out) <= 2000
    if fmt == "json":
        doc = json.loads(out)
        assert doc["repository"] == "kvstore" and doc["budget"] == 2000
        assert [s["name"] for s in doc["sections"]][:2] == ["overview", "conventions"]
    elif fmt == "xml":
        tree = ET.fromstring(out)
        assert tree.tag == "context_pack" and tree.get("repository") == "kvstore"
        assert {s.get("name") for s in tree.iter("section")} >= {"overview", "repo-map"}
    else:
        assert out.startswith("# kvstore: context pack\n")
        assert "\n## Overview: kvstore\n" in out and "\n### Layout\n" in out  # headings nest one level down


def test_pack_without_records_is_a_clear_error(git_repo: GitRepo, capsys: pytest.CaptureFixture) -> None:
    git_repo.commit("Initial", {"a.py": "x = 1\n"})
    assert main(["pack", str(git_repo.path)]) == 1
    err = capsys.readouterr().err
    assert "no records at" in err and "run ctxeng build first" in err
    assert not (git_repo.path / "CLAUDE.md").exists() and not (git_repo.path / ".claude").exists()
    assert main(["pack", str(git_repo.path), "--budget", "10"]) == 1


def test_user_text_in_claude_md_survives_builds(sample_repo: GitRepo) -> None:
    root = sample_repo.path
    (root / "CLAUDE.md").write_text("# House rules\n\nNever edit generated files.\n", encoding="utf-8")
    build(root)
    first = (root / "CLAUDE.md").read_bytes()
    assert first.startswith(b"# House rules\n\nNever edit generated files.\n\n" + BEGIN.encode())
    build(root)
    assert (root / "CLAUDE.md").read_bytes() == first
    (root / "CLAUDE.md").write_bytes(first + b"\nMore rules after the block.\n")
    build(root)
    assert (root / "CLAUDE.md").read_bytes() == first + b"\nMore rules after the block.\n"


def test_symlinked_claude_folder_is_never_written_through(sample_repo: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, sample_repo.path / ".claude")
    result = build(sample_repo.path)  # the build still succeeds; the pack says why the skill is missing
    assert any("symlink" in w for w in result.manifest["pack"]["warnings"])
    assert list(outside.iterdir()) == []


def _planted_repo(path: Path) -> tuple[GitRepo, dict[str, str]]:
    """Secrets where only the pack looks (CI steps, Makefile recipes, package.json scripts, pyproject) and
    where records come from (code, docs, a commit message)."""
    fake = Fake("ctxeng-pack-planted")
    s = {
        "ci_token": "ghp_" + fake.b62(36),
        "make_password": fake.password(),
        "npm_token": "npm_" + fake.b62(36),
        "url_password": fake.password(),
        "code_key": "sk_live_" + fake.b62(24),
        "doc_token": "glpat-" + fake.b64url(20),
        "message_token": "ghp_" + fake.b62(36),
    }
    repo = GitRepo(path)
    repo.commit("Add the service", {
        ".github/workflows/ci.yml": (
            "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - run: pip install -e .\n"
            f'      - run: curl -H "Authorization: Bearer {s["ci_token"]}" https://example.com/test-hook\n'
            "      - run: pytest -q\n"
        ),
        "Makefile": f"test:\n\tpytest -q\n\ndeploy-test:\n\tcurl -u admin:{s['make_password']} https://example.com\n",
        "package.json": json.dumps({"scripts": {"test": f"NPM_TOKEN={s['npm_token']} jest"}}),
        "pyproject.toml": f'[project]\nname = "svc"\n\n[tool.svc]\nurl = "postgresql://app:{s["url_password"]}@db/x"\n',
        "svc/__init__.py": f'"""The service."""\n\nSTRIPE_KEY = "{s["code_key"]}"\n\n\ndef main() -> int:\n    return 0\n',
        "docs/deploy.md": f"# Deploy\n\n## Token\n\nUse `{s['doc_token']}` to publish.\n",
    })  # fmt: skip
    repo.commit(f"Rotate the deploy token\n\nThe old one was {s['message_token']}.", {"README.md": "# svc\n"})
    return repo, s


def test_no_planted_secret_reaches_any_pack_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    repo, secrets = _planted_repo(tmp_path / "svc")
    build(repo.path)
    outputs = {p: p.read_text(encoding="utf-8") for p in (repo.path / ".claude").rglob("*") if p.is_file()}
    outputs[repo.path / "CLAUDE.md"] = (repo.path / "CLAUDE.md").read_text(encoding="utf-8")
    for name in ("index.json", "index-details.jsonl", "pack-model.json", "pack.json"):
        outputs[repo.path / ".ctxeng" / name] = (repo.path / ".ctxeng" / name).read_text(encoding="utf-8")
    for fmt in ("markdown", "xml", "json"):
        assert main(["pack", str(repo.path), "--stdout", "--format", fmt]) == 0
        outputs[Path(f"stdout.{fmt}")] = capsys.readouterr().out
    assert len(outputs) >= 14
    leaks = [f"{label} in {path.name}" for path, text in outputs.items() for label, value in secrets.items()
             if value in text or json.dumps(value)[1:-1] in text]  # fmt: skip
    assert leaks == []
    conventions = (repo.path / ".claude/skills/svc-context/references/conventions.md").read_text(
        encoding="utf-8"
    )
    assert "[REDACTED:" in conventions  # the CI step is still listed, with the token cut out
    assert "`pytest -q`" in conventions


def test_a_repository_without_code(git_repo: GitRepo) -> None:
    git_repo.commit("Add notes", {"README.md": "# Notes\n\nMeeting notes about the launch.\n"})
    result = build(git_repo.path)
    assert result.manifest["pack"]["warnings"] == []
    skill = git_repo.path / ".claude/skills/repo-context"
    assert "No code definitions were found" in (skill / "references/repo-map.md").read_text(encoding="utf-8")
    assert "1 tracked file;" in (skill / "references/overview.md").read_text(encoding="utf-8")
    from ctxeng.pack import context_for_prompt

    assert "README.md:1" in context_for_prompt(git_repo.path, "launch notes", 300)
