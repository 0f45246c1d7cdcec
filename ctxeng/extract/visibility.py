"""Which definitions are public API: one rule per language family, named by `visibility` in language.toml.

Rules (a language.toml picks one; "" means `underscore`):
- `underscore` (Python): `__all__` when present, else a name starting with `_` (not a dunder) is
  private; an `__init__.py` exports the names it imports and defines.
- `export` (JavaScript, TypeScript): top-level names are public when exported (`export`
  declarations, `export {a, b}`, `module.exports`); a file that exports nothing is a script
  whose names follow `underscore`.
- `capitalised` (Go): a name starting with an upper-case letter is public.
- `modifier` (Rust, Java, C#): public only with a `pub` / `public` modifier (`@public`), or as a
  member of an interface / trait or of a scope captured with `@public` (a trait impl).
- `sections` (Ruby): public unless under a `private` / `protected` section marker.
- `header` (C, C++): public unless `static` (`@private`) or in a `private:` section; only a
  header's names are exported.
Everywhere a captured `@public` / `@private` modifier or a section marker wins over the default,
a member of a private definition is private, and so is a definition local to a function.
"""

from __future__ import annotations

import posixpath

from ctxeng.extract.outline import CALLABLE_KINDS, Definition

HEADER_EXTENSIONS = (".h", ".hh", ".hpp", ".hxx", ".h++", ".inl", ".ipp", ".tpp")
_INTERFACE_KINDS = frozenset({"interface", "trait"})


def _underscore_private(name: str) -> bool:
    dunder = name.startswith("__") and name.endswith("__") and len(name) > 4
    return name.startswith(("_", "#")) and not dunder


def _own(rule: str, item: Definition, parent: Definition | None, exports: set[str], top: bool) -> str:
    """The visibility a definition declares itself (before its parents are considered)."""
    raw = item.raw
    if raw.explicit:
        return raw.explicit
    if raw.marker:
        return "public" if raw.marker == "public" else "private"
    name = raw.name
    if rule == "capitalised":
        return "public" if name[:1].isupper() else "private"
    if rule == "modifier":
        if item.kind == "namespace":
            return "public"  # a namespace only groups names; its members decide for themselves
        if parent is None:
            return "private"
        # Interface / trait members are public, and so are a trait impl's methods.
        inherits = parent.kind in _INTERFACE_KINDS or (parent.is_scope and parent.raw.explicit == "public")
        return "public" if inherits else "private"
    if rule in ("sections", "header"):
        return "public"
    if top and exports and rule in ("export", "underscore", ""):
        return "public" if name in exports else "private"
    return "private" if _underscore_private(name) else "public"


def decide(
    rule: str, path: str, items: list[Definition], exports: list[str], bindings: list[str]
) -> tuple[list[str], list[str]]:
    """Visibility ("public"/"private") of every item, and the file's exported names (sorted)."""
    declared = set(exports)
    by_qualname: dict[str, int] = {}
    for index, item in enumerate(items):
        if not item.is_scope:
            by_qualname.setdefault(item.qualname, index)
    result: list[str] = []
    top_level: list[bool] = []
    for index, item in enumerate(items):
        parent = items[item.parent_index] if item.parent_index >= 0 else None
        # Top level: in no definition, or only in namespaces (C++, C#, TypeScript), not in modules.
        top = not item.parent or (
            parent is not None and parent.kind == "namespace" and top_level[item.parent_index]
            and item.parent == parent.qualname
        )  # fmt: skip
        top_level.append(top)
        own = _own(rule, item, parent, declared, top)
        first = by_qualname.get(item.qualname, index)
        if item.raw.qualifier and first < index:
            own = result[first]  # C++ `Foo::bar` defined outside its class is as visible as declared inside
        # Members of a private definition are private too (the enclosing type may be a Go receiver
        # or a C++ `Foo::` qualifier, found by name).
        owner = by_qualname.get(item.parent) if item.parent else None
        if owner is not None and owner < len(result) and result[owner] == "private":
            own = "private"
        if parent is not None and parent.kind in CALLABLE_KINDS:
            own = "private"  # a function's local definitions are nobody's API
        result.append(own)
    public_top = sorted(
        it.raw.name
        for it, vis, top in zip(items, result, top_level)
        if top and vis == "public" and not it.is_scope and it.kind != "namespace"
    )
    base = posixpath.basename(path)
    if rule in ("underscore", ""):
        if declared:
            names = declared
        elif base == "__init__.py":
            names = {n for n in bindings if not _underscore_private(n)} | set(public_top)
        else:
            names = set(public_top)
    elif rule == "export":
        # `export` inside a namespace exports from that namespace, not from the file.
        nested = {it.raw.name for it in items if it.parent} - {it.raw.name for it in items if not it.parent}
        names = declared - nested
    elif rule == "header":
        names = set(public_top) if base.lower().endswith(HEADER_EXTENSIONS) else set()
    else:
        names = set(public_top)
    return result, sorted(names)
