"""Configuration: documented defaults, read from `.ctxeng.toml` or `[tool.ctxeng]` in pyproject.toml."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxeng.core.errors import CtxengError
from ctxeng.core.schema import check_value, unknown_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class FilesConfig:
    """Which tracked files are read."""

    ignore: list[str] = field(default_factory=list)  # extra gitignore-style patterns (besides .ctxengignore)
    max_file_bytes: int = 1_000_000  # larger files are skipped ("too-large")
    max_line_length: int = 1_000  # files whose long lines hold most bytes are "minified"
    skip_generated: bool = True  # linguist-generated and "DO NOT EDIT" headers
    skip_vendored: bool = True  # linguist-vendored, node_modules/, vendor/, third_party/


@dataclass
class HistoryConfig:
    """How much git history is mined."""

    enabled: bool = True
    max_commits: int = 0  # newest N commits of HEAD's history; 0 = all
    patch_commits: int = 1_000  # newest N non-merge commits mined with patches; -1 = all, 0 = none
    max_patch_bytes: int = 32_000  # patch text kept per commit (the rest is cut and marked)
    cochange_max_files: int = 30  # commits touching more files are ignored for co-change statistics
    cochange_min_count: int = 2  # pairs seen fewer times are not reported


@dataclass
class DocsConfig:
    """Which design documents are mined."""

    enabled: bool = True
    max_section_chars: int = 6_000  # longer sections are cut at a paragraph boundary


@dataclass
class DatasetConfig:
    """The supervised dataset written to `.ctxeng/dataset/`."""

    eval_share: float = 0.1  # share of examples, from the newest commits, held out for eval
    min_tokens: int = 16  # examples shorter than this (prompt + completion) are dropped
    max_tokens: int = 1_024  # longer examples are shortened where the task allows, else dropped
    seed: int = 0
    tasks: dict[str, bool] = field(default_factory=dict)  # task name -> enabled (all on by default)


@dataclass
class SecretsConfig:
    """The secret stage (it cannot be turned off)."""

    allow: list[str] = field(default_factory=list)  # regexes of values that are known not to be secrets
    drop_files: list[str] = field(default_factory=list)  # extra glob patterns of files that are secrets whole


@dataclass
class PackConfig:
    """Context packs for Claude Code."""

    budget: int = 16_000  # tokens for the whole skill pack
    claude_md: bool = True  # maintain the managed block in CLAUDE.md
    skill_name: str = ""  # default: "<repo>-context"


@dataclass
class TrainConfig:
    """Adapter training."""

    recipe: str = ""  # recipe name or path; "" = cpu-default without a GPU
    after_build: bool = False  # `ctxeng build` also trains
    base_model: str = ""  # overrides the recipe's base model


@dataclass
class RefreshConfig:
    """Incremental refresh and staleness."""

    strict: bool = False  # fail the commit when a refresh fails
    retrain_after_commits: int = 50  # `ctxeng status` recommends retraining past this drift
    retrain_after_symbols: int = 200


@dataclass
class Config:
    """Everything configurable, with its defaults; `source` is the file it came from ("" = defaults)."""

    files: FilesConfig = field(default_factory=FilesConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    docs: DocsConfig = field(default_factory=DocsConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    pack: PackConfig = field(default_factory=PackConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    refresh: RefreshConfig = field(default_factory=RefreshConfig)
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        """The effective configuration as plain data (for the manifest)."""
        data = dataclasses.asdict(self)
        data.pop("source")
        return data


#: The smallest value of every numeric setting (section, key) -> minimum. Every int and float field
#: of the sections above must be listed (a test checks): a negative size or count is never meant.
MINIMUMS: dict[tuple[str, str], int | float] = {
    ("files", "max_file_bytes"): 1,
    ("files", "max_line_length"): 1,
    ("history", "max_commits"): 0,  # 0 = all
    ("history", "patch_commits"): -1,  # -1 = all
    ("history", "max_patch_bytes"): 0,
    ("history", "cochange_max_files"): 1,
    ("history", "cochange_min_count"): 1,
    ("docs", "max_section_chars"): 1,
    ("dataset", "eval_share"): 0.0,  # and below 1
    ("dataset", "min_tokens"): 0,
    ("dataset", "max_tokens"): 64,  # ctxeng.dataset.builder.MIN_MAX_TOKENS
    ("dataset", "seed"): 0,
    ("pack", "budget"): 800,  # ctxeng.pack.skill.MIN_BUDGET
    ("refresh", "retrain_after_commits"): 1,
    ("refresh", "retrain_after_symbols"): 1,
}


def _check_limits(config: Config, where: str) -> None:
    """A `CtxengError` naming the file and key for the first numeric setting out of range."""
    for (section, key), minimum in MINIMUMS.items():
        value = getattr(getattr(config, section), key)
        if value < minimum:
            default = getattr(type(getattr(config, section))(), key)
            raise CtxengError(
                f"{config.source}: '{where}{section}.{key}' must be at least {minimum}, got {value}",
                hint=f"the default is {default}; see the configuration reference in README.md",
            )
    if not 0.0 <= config.dataset.eval_share < 1.0:
        raise CtxengError(
            f"{config.source}: '{where}dataset.eval_share' must be in [0, 1), got {config.dataset.eval_share}",
            hint="it is the share of examples held out for evaluation, e.g. 0.1",
        )
    if config.dataset.min_tokens >= config.dataset.max_tokens:
        raise CtxengError(
            f"{config.source}: '{where}dataset.min_tokens' ({config.dataset.min_tokens}) must be below "
            f"'{where}dataset.max_tokens' ({config.dataset.max_tokens})",
            hint="examples shorter than min_tokens are dropped, longer than max_tokens shortened or dropped",
        )


def _apply(obj: Any, table: dict[str, Any], where: str, source: str) -> None:
    """Set the fields of dataclass `obj` from a TOML table: the type of each default is the schema."""
    known = {f.name for f in dataclasses.fields(obj) if f.name != "source"}
    for key in sorted(table):
        value = table[key]
        name = key.replace("-", "_")
        if name not in known:
            raise unknown_key(source, f"{where}{key}", name, known, "configuration key")
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise CtxengError(f"{source}: '{where}{key}' must be a table")
            _apply(current, value, f"{where}{key}.", source)
            continue
        setattr(obj, name, check_value(source, f"{where}{key}", value, type(current)))


def load_config(root: Path) -> Config:
    """Read `.ctxeng.toml` (preferred) or `[tool.ctxeng]` of pyproject.toml at the repository root.

    Unknown keys, wrongly typed values and numbers out of range are a `CtxengError` naming the file
    and the key.
    """
    config = Config()
    where = ""
    candidates = [(root / ".ctxeng.toml", False), (root / "pyproject.toml", True)]
    for path, nested in candidates:
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CtxengError(f"{path.name}: invalid TOML: {exc}") from None
        if nested:
            data = data.get("tool", {}).get("ctxeng")
            if data is None:
                continue
        where = "tool.ctxeng." if nested else ""
        _apply(config, data, where, path.name)
        config.source = path.name
        break
    _check_limits(config, where)
    return config
