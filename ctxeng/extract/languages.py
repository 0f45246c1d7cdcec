"""The language registry: one folder per language under `extractors/` (shipped as ctxeng.extractors)."""

from __future__ import annotations

import functools
import posixpath
import re
import sys
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

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
        """The name defined on `line`, if the line starts a definition (never on a line over
        `MAX_DEFINITION_LINE` characters)."""
        if len(line) > MAX_DEFINITION_LINE:
            return None
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
            tags=_tags_with_inherited(root, folder.name),
            diff_driver=data.get("diff_driver", ""),
            funcname=data.get("funcname", ""),
            definition_line=re.compile(data["definition_line"]),
            visibility=data.get("visibility", ""),
        )
    return specs


#: Longer lines start no definition here. The C#/Java `definition_line` patterns backtrack over a
#: modifier list against the type part: quadratic in the line (`static ` × 4000, 28k characters,
#: took 7 s); at this length a hostile line costs about a millisecond, and real headers are shorter.
MAX_DEFINITION_LINE = 400
_INHERITS = re.compile(r"^;\s*inherits:\s*([\w, -]+)$", re.MULTILINE)


def _tags_with_inherited(root: Traversable, name: str) -> str:
    """A folder's tags.scm with the queries it names in a `; inherits: a, b` line put first.

    The convention of nvim-treesitter's queries: TSX inherits TypeScript's tags and adds JSX.
    Resolved without recursion; each language is included once, a cycle is an error.
    """
    order: list[str] = []
    stack: list[tuple[str, bool]] = [(name, False)]
    seen: set[str] = set()
    while stack:
        lang, expanded = stack.pop()
        if expanded:
            order.append(lang)
            continue
        if lang in seen:
            if lang not in order:
                raise ValueError(f"extractors/{lang}/tags.scm: inherits itself")
            continue
        seen.add(lang)
        stack.append((lang, True))
        text = (root / lang / "tags.scm").read_text(encoding="utf-8")
        for match in _INHERITS.finditer(text):
            for parent in reversed([p.strip() for p in match.group(1).split(",") if p.strip()]):
                stack.append((parent, False))
    return "\n".join((root / lang / "tags.scm").read_text(encoding="utf-8") for lang in order)


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
    # Each length's suffix is one dictionary lookup, longest first (a build asks for every file).
    for size in _extension_lengths():
        if len(base) > size:
            spec = table.get(base[-size:])
            if spec is not None:
                return spec
    return None


@functools.cache
def _extension_lengths() -> tuple[int, ...]:
    """The lengths of the known extensions, longest first."""
    return tuple(sorted({len(ext) for ext in _by_extension()}, reverse=True))
