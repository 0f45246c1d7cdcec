"""Configuration loading: defaults, .ctxeng.toml, [tool.ctxeng], and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxeng.core.config import Config, load_config
from ctxeng.core.errors import CtxengError


def test_defaults_without_files(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config == Config()
    assert config.source == ""
    assert config.dataset.eval_share == 0.1


def test_ctxeng_toml_overrides(tmp_path: Path) -> None:
    (tmp_path / ".ctxeng.toml").write_text(
        '[files]\nignore = ["*.gen.py"]\nmax_file_bytes = 5\n[dataset]\neval_share = 0\n[dataset.tasks]\nglossary = false\n'
    )
    config = load_config(tmp_path)
    assert config.files.ignore == ["*.gen.py"]
    assert config.files.max_file_bytes == 5
    assert config.dataset.eval_share == 0.0
    assert config.dataset.tasks == {"glossary": False}
    assert config.source == ".ctxeng.toml"


def test_pyproject_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.ctxeng.pack]\nbudget = 8000\n')
    config = load_config(tmp_path)
    assert config.pack.budget == 8000
    assert config.source == "pyproject.toml"


def test_ctxeng_toml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ctxeng.pack]\nbudget = 8000\n")
    (tmp_path / ".ctxeng.toml").write_text("[pack]\nbudget = 9000\n")
    assert load_config(tmp_path).pack.budget == 9000


def test_pyproject_without_tool_table_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(tmp_path).source == ""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[files]\nmax_file_byte = 3\n", "'files.max_file_byte'"),
        ("[nope]\n", "'nope'"),
        ("[files]\nmax_file_bytes = 'big'\n", "'files.max_file_bytes' must be int"),
        ("[files]\nskip_generated = 1\n", "must be bool"),
        ("[history]\nmax_commits = true\n", "must be int"),
        ("files = 3\n", "must be a table"),
        ("[dataset]\neval_share = 1.5\n", "eval_share"),
        ("[files\n", "invalid TOML"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / ".ctxeng.toml").write_text(text)
    with pytest.raises(CtxengError) as info:
        load_config(tmp_path)
    assert ".ctxeng.toml" in str(info.value)
    assert fragment in str(info.value)


def test_unknown_key_in_pyproject_names_tool_path(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ctxeng]\nbogus = 1\n")
    with pytest.raises(CtxengError, match=r"pyproject.toml: unknown configuration key 'tool.ctxeng.bogus'"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "guess"),
    [
        ("[files]\nmax_file_byte = 3\n", "did you mean 'max_file_bytes'?"),
        ("[pakc]\nbudget = 3\n", "did you mean 'pack'?"),
        ("[refresh]\nretrain-after-commit = 3\n", "did you mean 'retrain_after_commits'?"),
    ],
)
def test_a_typo_gets_a_did_you_mean(tmp_path: Path, text: str, guess: str) -> None:
    (tmp_path / ".ctxeng.toml").write_text(text)
    with pytest.raises(CtxengError) as info:
        load_config(tmp_path)
    assert info.value.hint is not None and info.value.hint.startswith(guess)


def test_recipes_share_the_validation_and_its_did_you_mean(tmp_path: Path) -> None:
    from ctxeng.train.recipe import load_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text("base_model: embedded:smollm2-135m-instruct\nmax_lenght: 512\n")
    with pytest.raises(CtxengError, match="unknown recipe key 'max_lenght'") as info:
        load_recipe(str(recipe))
    assert info.value.hint is not None and info.value.hint.startswith("did you mean 'max_length'?")
    recipe.write_text("base_model: embedded:smollm2-135m-instruct\nseed: true\n")
    with pytest.raises(CtxengError, match="'seed' must be int, got bool"):
        load_recipe(str(recipe))


def test_every_numeric_setting_has_a_minimum() -> None:
    import dataclasses

    from ctxeng.core.config import MINIMUMS

    numeric = {
        (section.name, f.name)
        for section in dataclasses.fields(Config)
        if section.name != "source"
        for f in dataclasses.fields(section.default_factory())  # type: ignore[misc]
        if f.type in ("int", "float")
    }
    assert numeric == set(MINIMUMS)
    assert all(getattr(getattr(Config(), s), k) >= low for (s, k), low in MINIMUMS.items())  # defaults pass


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[files]\nmax_file_bytes = -1\n", "'files.max_file_bytes' must be at least 1, got -1"),
        ("[files]\nmax_line_length = 0\n", "'files.max_line_length' must be at least 1"),
        ("[history]\nmax_commits = -5\n", "'history.max_commits' must be at least 0"),
        ("[history]\npatch_commits = -2\n", "'history.patch_commits' must be at least -1"),
        ("[history]\ncochange_min_count = 0\n", "'history.cochange_min_count'"),
        ("[docs]\nmax_section_chars = -100\n", "'docs.max_section_chars'"),
        ("[dataset]\nmin_tokens = -1\n", "'dataset.min_tokens'"),
        ("[dataset]\nmin_tokens = 900\nmax_tokens = 800\n", "'dataset.min_tokens' (900) must be below"),
        ("[dataset]\neval_share = nan\n", "'dataset.eval_share' must be in [0, 1)"),
        ("[pack]\nbudget = -16000\n", "'pack.budget' must be at least 800"),
        ("[refresh]\nretrain_after_commits = 0\n", "'refresh.retrain_after_commits'"),
    ],
)
def test_limits_out_of_range_name_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / ".ctxeng.toml").write_text(text)
    with pytest.raises(CtxengError) as info:
        load_config(tmp_path)
    assert str(info.value).startswith(".ctxeng.toml: ")
    assert fragment in str(info.value)
    assert info.value.hint


def test_limit_in_pyproject_names_the_tool_path(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ctxeng.files]\nmax_file_bytes = -1\n")
    with pytest.raises(
        CtxengError, match=r"pyproject.toml: 'tool.ctxeng.files.max_file_bytes' must be at least 1"
    ):
        load_config(tmp_path)


def test_negative_max_file_bytes_fails_the_build_instead_of_skipping_everything(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "repo")
    repo.commit(
        "Initial", {"a.py": "def f():\n    return 1\n", ".ctxeng.toml": "[files]\nmax_file_bytes = -1\n"}
    )
    proc = subprocess.run([sys.executable, "-m", "ctxeng", "build", "-q", "."], cwd=repo.path,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        "error: .ctxeng.toml: 'files.max_file_bytes' must be at least 1, got -1"
    )
    assert proc.stderr.splitlines()[1].startswith("hint: ") and "Traceback" not in proc.stderr
    assert not (repo.path / ".ctxeng" / "records.jsonl").exists()
