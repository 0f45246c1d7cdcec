"""The public API: which definitions package inits re-export, found by following their imports."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from itertools import chain
from pathlib import Path

from ctxeng.pack.facts import RepoFacts
from ctxeng.pack.paths import is_example, is_package_init, is_test, is_vendored

MAX_IMPORT_DEPTH = 3  # `pkg/__init__` → `pkg/types` → `pkg/sql/sqltypes` is typical; deeper chains are rare
_PY = (".py", ".pyi")
_JS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")


def module_index(paths: Iterable[str]) -> dict[str, str]:
    """Dotted module name (and every dotted suffix of it) → the Python file that defines it.

    Shorter paths win a shared suffix, so `sqlalchemy.sql` maps to `lib/sqlalchemy/sql/__init__.py`.
    """
    out: dict[str, str] = {}
    for path in sorted((p for p in paths if p.endswith(_PY)), key=lambda p: (len(p), p)):
        parts = posixpath.splitext(path)[0].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        for k in range(1, len(parts) + 1):
            out.setdefault(".".join(parts[-k:]), path)
    return out


def resolve_import(
    importer: str, module: str, files: Mapping[str, object], modules: dict[str, str]
) -> str | None:
    """The code file an import statement in `importer` refers to, if it is in the repository."""
    folder = posixpath.dirname(importer)
    if importer.endswith(_PY):
        if module.startswith("."):
            level = len(module) - len(module.lstrip("."))
            base = folder.split("/") if folder else []
            base = base[: len(base) - (level - 1)] if level > 1 else base
            rest = [p for p in module.lstrip(".").split(".") if p]
            stem = "/".join(base + rest)
            for candidate in (f"{stem}.py", f"{stem}.pyi", f"{stem}/__init__.py", f"{stem}/__init__.pyi"):
                if candidate.lstrip("/") in files:
                    return candidate.lstrip("/")
            return None
        return modules.get(module)
    if module.startswith(("./", "../")):
        stem = posixpath.normpath(posixpath.join(folder, module))
        for candidate in (stem, *(stem + e for e in _JS), *(f"{stem}/index{e}" for e in _JS)):
            if candidate in files:
                return candidate
    return None


def _reachable(start: str, facts: RepoFacts, modules: dict[str, str]) -> list[str]:
    """Modules reachable from `start` through imports, breadth first (sorted within a level)."""
    seen, level, order = {start}, [start], [start]
    for _ in range(MAX_IMPORT_DEPTH):
        nxt: list[str] = []
        for path in level:
            info = facts.files.get(path)
            for module in info.imports if info else ():
                target = resolve_import(path, module, facts.files, modules)
                if target and target not in seen:
                    seen.add(target)
                    nxt.append(target)
        level = sorted(nxt)
        order.extend(level)
    return order


def _product_init(path: str) -> bool:
    return is_package_init(path) and not (is_test(path) or is_vendored(path) or is_example(path))


def reexports(facts: RepoFacts, orders: Mapping[str, list[str]] | None = None) -> dict[int, float]:
    """Definition index → weight for every definition a package init re-exports.

    A name resolves to the top-level definition found first when following the init's imports
    breadth first, else to the nearest top-level definition of that name inside the package's
    folder. The weight is 1 for the shallowest packages and 1/(1+d)² for packages d levels deeper
    (`sqlalchemy/` 1, `sqlalchemy/orm/` 0.25, `sqlalchemy/dialects/mysql/` 0.11). `orders`:
    `import_orders(facts, ...)` when the caller has it.
    """
    top: dict[str, dict[str, int]] = {}  # path → name → definition index (top level only)
    by_name: dict[str, list[int]] = {}
    for i, d in enumerate(facts.defs):
        if not d.parent:
            top.setdefault(d.path, {}).setdefault(d.name, i)
            by_name.setdefault(d.name, []).append(i)
    modules = module_index(facts.files)
    inits = _inits(facts)
    depths = [p.count("/") for p in inits if _product_init(p)]
    shallowest = min(depths) if depths else 0
    out: dict[int, float] = {}
    for init in inits:
        rel = max(0, init.count("/") - shallowest)
        weight = 1.0 / (1 + rel) ** 2
        order = orders[init] if orders is not None and init in orders else _reachable(init, facts, modules)
        prefix = f"{posixpath.dirname(init)}/" if "/" in init else ""
        for name in facts.files[init].exports:
            found = next((top[m][name] for m in order if name in top.get(m, {})), None)
            if found is None:  # imports we could not follow: the nearest definition in the package itself
                depth = init.count("/") + 1
                nearby = [i for i in by_name.get(name, ())
                          if facts.defs[i].path.startswith(prefix) and facts.defs[i].path.count("/") <= depth]  # fmt: skip
                nearby.sort(
                    key=lambda i: (facts.defs[i].path.count("/"), facts.defs[i].path, facts.defs[i].line)
                )
                found = nearby[0] if nearby else None
            if found is not None:
                out[found] = max(out.get(found, 0.0), weight)
    return dict(sorted(out.items()))


def _inits(facts: RepoFacts) -> list[str]:
    """The package inits whose exports `reexports` follows."""
    return [p for p, info in facts.files.items() if info.exports and is_package_init(p) and not is_test(p)]


def import_orders(facts: RepoFacts, out_dir: Path) -> dict[str, list[str]]:
    """Per init of `_inits(facts)`, the modules its imports reach (`_reachable`), kept in `out_dir`'s
    cache by a digest of what they are computed from: every file's path, imports and whether it
    exports names (a commit that changes no import, as most do, then follows no import again)."""
    from ctxeng.core.digest_memo import DigestMemo, digest, source_version

    memo = DigestMemo(out_dir, "import-orders", source_version(__file__))
    key = digest(
        chain.from_iterable((p, "1" if info.exports else "0", str(len(info.imports)), *info.imports)
                            for p, info in facts.files.items())
    )  # fmt: skip
    got = memo.get(key)
    inits = _inits(facts)
    if isinstance(got, dict) and sorted(got) == sorted(inits):
        return {init: [str(m) for m in got[init]] for init in inits}
    modules = module_index(facts.files)
    value = {init: _reachable(init, facts, modules) for init in inits}
    memo.put(key, value)
    return value
