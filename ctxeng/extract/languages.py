"""The language registry: one folder per language under `extractors/` (shipped as ctxeng.extractors)."""

from __future__ import annotations

import functools
import posixpath
import re
import sys
from dataclasses import dataclass
from importlib import resources

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class LanguageSpec:
    """What `extractors/<name>/` declares about a language.

    `grammar` names the tree-sitter-language-pack grammar, `tags` is the tags query text,
    `diff_driver` a git built-in userdiff driver and `funcname` a custom one (POSIX ERE) for
    hunk headers, and `definition_line` a Python regex whose first non-empty group is the name
    of a definition starting on that line (used to map history hunks to definitions).
    `visibility` names the rule that decides which definitions are public API (see
    `ctxeng.extract.visibility`); "" means every name not starting with `_` is public.
    """

    name: str
    grammar: str
    extensions: tuple[str, ...]
    tags: str
    diff_driver: str
    funcname: str
    definition_line: re.Pattern[str]
    visibility: str = ""

    def definition_name(self, line: str) -> str | None:
        """The name defined on `line`, if the line starts a definition."""
        match = self.definition_line.match(line)
        if not match:
            return None
        return next((g for g in match.groups() if g), None)


@functools.lru_cache(maxsize=1)
def load_languages() -> dict[str, LanguageSpec]:
    """Every language folder that has a `language.toml` and a `tags.scm`, by name (sorted)."""
    root = resources.files("ctxeng.extractors")
    specs: dict[str, LanguageSpec] = {}
    for folder in sorted(root.iterdir(), key=lambda p: p.name):
        meta, tags = folder / "language.toml", folder / "tags.scm"
        if not (folder.is_dir() and meta.is_file() and tags.is_file()):
            continue
        data = tomllib.loads(meta.read_text(encoding="utf-8"))
        specs[folder.name] = LanguageSpec(
            name=folder.name,
            grammar=data["grammar"],
            extensions=tuple(data["extensions"]),
            tags=tags.read_text(encoding="utf-8"),
            diff_driver=data.get("diff_driver", ""),
            funcname=data.get("funcname", ""),
            definition_line=re.compile(data["definition_line"]),
            visibility=data.get("visibility", ""),
        )
    return specs


@functools.lru_cache(maxsize=1)
def _by_extension() -> dict[str, LanguageSpec]:
    table: dict[str, LanguageSpec] = {}
    for spec in load_languages().values():
        for ext in spec.extensions:
            table.setdefault(ext, spec)
    return table


def language_for(path: str) -> LanguageSpec | None:
    """The language of `path` by its extension (longest match wins), or None."""
    base = posixpath.basename(path).lower()
    table = _by_extension()
    best: LanguageSpec | None = None
    best_len = 0
    for ext, spec in table.items():
        if base.endswith(ext) and len(ext) > best_len and len(base) > len(ext):
            best, best_len = spec, len(ext)
    return best
