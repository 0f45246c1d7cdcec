"""Which paths are design documents, of what kind and format: decided from the path alone (cheap to import)."""

from __future__ import annotations

import posixpath
import re

#: The docs stage's counters (the manifest's "docs"); here, not in `extract.docs`, so that the build
#: names them without importing the section splitters (only a changed doc needs those).
STAT_KEYS = ("files", "sections", "empty", "autodoc_pages", "changelog_sections_dropped", "cut_sections")
DOC_KINDS = ("readme", "guide", "adr", "contributing", "architecture", "changelog", "design", "api", "other")
EXTENSION_FORMATS = {
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".mkd": "markdown",
    ".rst": "rst", ".rest": "rst", ".adoc": "asciidoc", ".asciidoc": "asciidoc", ".txt": "text",
}  # fmt: skip
# Well-known file names (any folder), by the kind of document they are; "README-dev.md" counts too.
_NAMED = re.compile(
    r"(readme|contributing|hacking|architecture|design|security|changelog|changes|history|news"
    r"|release[-_]?notes|claude|agents)(?:$|[-_. ])"
)
_NAMED_KINDS = {"readme": "readme", "contributing": "contributing", "hacking": "contributing",
                "architecture": "architecture", "design": "design", "security": "guide", "claude": "guide",
                "agents": "guide"}  # fmt: skip
# Text files that are not design knowledge: legal boilerplate, people lists, dependency pins.
_EXCLUDED = re.compile(
    r"(licen[cs]e|copying|notice|patents|authors|contributors|maintainers|code[-_]of[-_]conduct|funding"
    r"|cmakelists|robots|third[-_]?party[-_]?notices)(?:$|[-_. ])|.*(?:requirements|constraints).*\.txt$"
)
_DOC_DIRS = frozenset({"docs", "doc", "documentation"})
_ADR_DIRS = frozenset({"adr", "adrs", "decisions", "decision-records", "architecture-decisions"})
_DESIGN_DIRS = frozenset({"rfc", "rfcs", "design", "designs", "design-docs", "design_docs", "design-notes",
                          "design_notes", "proposals"})  # fmt: skip
_CHANGELOG_DIRS = frozenset(
    {"changelog", "changelogs", "changes", "release-notes", "releasenotes", "whatsnew"}
)
_API_DIRS = frozenset({"api", "reference", "api-reference", "apidocs", "autoapi"})
_ADR_FILE = re.compile(r"(?:adr[-_]?\d{1,4}|\d{4})[-_][a-z]")  # not dated posts (2024-01-...)


def doc_format(path: str) -> str | None:
    """The markup format of `path` by its extension ("text" for extension-less named files), else None."""
    base = posixpath.basename(path).lower()
    ext = posixpath.splitext(base)[1]
    if ext in EXTENSION_FORMATS:
        return EXTENSION_FORMATS[ext]
    if "." not in base and _NAMED.match(base):  # README, NEWS, HACKING, CHANGES without an extension
        return "text"
    return None


def doc_kind(path: str) -> str | None:
    """The doc_kind of `path` (one of DOC_KINDS) if it is a design document, else None."""
    if doc_format(path) is None:
        return None
    parts = path.lower().split("/")
    base, dirs = parts[-1], parts[:-1]
    if _EXCLUDED.match(base):
        return None
    named = _NAMED.match(base)
    if named and named.group(1) == "readme":
        return "readme"
    if _ADR_DIRS.intersection(dirs) or _ADR_FILE.match(base) or "/architecture/decisions/" in f"/{path}":
        return "adr"
    if named:
        return _NAMED_KINDS.get(named.group(1), "changelog")
    if _CHANGELOG_DIRS.intersection(dirs):
        return "changelog"
    if _DESIGN_DIRS.intersection(dirs):
        return "design"
    if _DOC_DIRS.intersection(dirs):
        stem = base.split(".")[0]
        if stem.startswith("architecture") or "architecture" in dirs:
            return "architecture"
        if stem.startswith("design"):
            return "design"
        if stem.startswith("api") or stem == "reference" or _API_DIRS.intersection(dirs):
            return "api"
        if stem.startswith(("contributing", "development", "hacking")):
            return "contributing"
        return "guide"
    return "other" if not dirs else None
