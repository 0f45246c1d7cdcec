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
