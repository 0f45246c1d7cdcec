"""Task templates over code structure: symbol lookup, file contents, module overview, callers."""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Callable

from ctxeng.core.records import Record
from ctxeng.dataset.context import TaskContext
from ctxeng.dataset.example import (
    Cut,
    Example,
    Part,
    fence,
    fence_lang,
    first_sentence,
    lines_label,
    make_meta,
    pick,
)
from ctxeng.dataset.index import (
    CALLABLE_KINDS,
    RecordIndex,
    dating,
    is_public,
    is_test_path,
    newest,
    newest_record,
    qualname,
)

MAX_DEFINITIONS_SHOWN = 5  # symbol_lookup: places listed for one ambiguous name
MAX_LISTED = 60  # file_contents: entries before "... and N more"
MAX_CALLERS = 20
MAX_OVERVIEW_DEFS = 15
MAX_IMPORTS = 12
# Calls are recorded by identifier only, so a call to `open` or `len` cannot be told apart from a
# repository function of that name: those names are left out of `callers`.
AMBIGUOUS_CALLS = frozenset(dir(builtins))


def language(rec: Record) -> str:
    """The fence language of a symbol or file record."""
    return str(rec.meta.get("language") or "") or fence_lang(rec.path)


def signature(rec: Record) -> str:
    """A symbol's signature (its first source line when the extractor gave none)."""
    sig = str(rec.meta.get("signature") or "").strip()
    return sig or (rec.text.strip().splitlines() or [rec.name])[0]


def article(word: str) -> str:
    """'a' or 'an' for `word`."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def describe(rec: Record) -> str:
    """'a method of `Store`' / 'a function'."""
    kind = str(rec.meta.get("kind") or "definition")
    parent = str(rec.meta.get("parent") or "")
    return f"{article(kind)} {kind} of `{parent}`" if parent else f"{article(kind)} {kind}"


def one_line_doc(rec: Record) -> str:
    """': <first docstring sentence>' or ''."""
    doc = first_sentence(str(rec.meta.get("doc") or ""), limit=200)
    return f": {doc}" if doc else ""


def symbol_lookup(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """'Where is `X` defined and what is its signature?' — one example per qualified name."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for rec in index.kind("symbol"):
        if rec.meta.get("parent") and is_test_path(rec.path):
            # Test methods outnumber the code they test (sqlalchemy: 2 to 1) and say little about it;
            # test classes and functions stay, so "where are the tests of X" is still learnt.
            ctx.drop("symbol_lookup:test_member")
            continue
        groups[qualname(rec)].append(rec)
    out = []
    for name in sorted(groups):
        defs = groups[name]
        first = defs[0]
        # Sourced at the newest definition: the example is as new as it, and no older record's
        # other examples are pulled into eval with it (all examples of a source share a side).
        source = newest_record(defs)
        commit, time = dating(source)
        question = pick(
            (
                f"Where is `{name}` defined and what is its signature?",
                f"In which file is `{name}` defined, and what is its signature?",
                f"Where can I find `{name}` in the {ctx.repo_name} code? Show its signature.",
            ),
            ctx.seed,
            "symbol_lookup",
            source.id,
        )
        if len(defs) == 1:
            answer = _definition(first, f"`{name}` is {describe(first)}, defined in ")
        else:
            shown = defs[:MAX_DEFINITIONS_SHOWN]
            parts = [f"`{name}` is defined in {len(defs)} places.\n"]
            parts += [
                _definition(rec, f"\n{i}. {describe(rec).capitalize()} in ") for i, rec in enumerate(shown, 1)
            ]
            if len(defs) > len(shown):
                parts.append(f"\n... and {len(defs) - len(shown)} more.\n")
            answer = "".join(parts)
        meta = make_meta(path=first.path, symbol=name, answer_path=first.path, expected=signature(first))
        out.append(Example("symbol_lookup", source.id, "", commit, time, [question], [answer], meta))
    return out


def _definition(rec: Record, lead: str) -> str:
    doc = first_sentence(str(rec.meta.get("doc") or ""))
    text = f"{lead}`{rec.path}` ({lines_label(rec.start_line, rec.end_line)}).\n\n"
    text += fence(signature(rec), language(rec))
    return text + (f"\n{doc}\n" if doc else "")


def _listed(s: Record) -> str:
    return f"- `{qualname(s)}` ({s.meta.get('kind') or 'definition'}, line {s.start_line}){one_line_doc(s)}\n"


def _bounded(items: list[Record], limit: int, line: Callable[[Record], str]) -> str:
    """The first `limit` items, one `line` each, and a line counting the rest."""
    extra = len(items) - limit
    return "".join(line(item) for item in items[:limit]) + (f"- ... and {extra} more\n" if extra > 0 else "")


def file_contents(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """'What does `path` define?' — the file's public definitions with one-line docs."""
    out = []
    for path in sorted(index.files):
        file_rec = index.files[path]
        public = [s for s in index.symbols_in.get(path, []) if is_public(s)]
        if not public:
            continue
        question = pick(
            (
                f"What does `{path}` define?",
                f"Which definitions does `{path}` contain?",
                f"List the public definitions in `{path}`.",
            ),
            ctx.seed,
            "file_contents",
            file_rec.id,
        )
        head = f"`{path}` defines {len(public)} public name{'s' if len(public) != 1 else ''}:\n\n"
        commit, time = newest([file_rec, *public])
        first = qualname(public[0])
        meta = make_meta(path=path, symbol=first, answer_path=path, expected=first)
        listing = Cut(_bounded(public, MAX_LISTED, _listed))
        out.append(Example("file_contents", file_rec.id, "", commit, time, [question], [head, listing], meta))
    return out


def _imports(file_rec: Record) -> list[str]:
    return [str(i) for i in file_rec.meta.get("imports") or [] if str(i).strip()]


def _render_imports(imports: list[str], lang: str) -> str:
    """Import statements as code, bare module names as a list."""
    more = f"... and {len(imports) - MAX_IMPORTS} more\n" if len(imports) > MAX_IMPORTS else ""
    shown = imports[:MAX_IMPORTS]
    if all(" " in i.strip() for i in shown):
        return "Imports:\n" + fence("\n".join(i.strip() for i in shown), lang) + more
    return "Imports: " + ", ".join(f"`{i.strip()}`" for i in shown) + ".\n" + more


def module_overview(index: RecordIndex, ctx: TaskContext) -> list[Example]:
    """'What does module `path` do?' — its docstring, main definitions and imports."""
    out = []
    for path in sorted(index.files):
        file_rec = index.files[path]
        doc = file_rec.text.strip()
        if not doc:
            continue  # without a docstring the answer would repeat file_contents
        top = [s for s in index.symbols_in.get(path, []) if is_public(s) and not s.meta.get("parent")]
        question = pick(
            (
                f"What does the module `{path}` do?",
                f"What is `{path}` for?",
                f"Give an overview of `{path}`.",
            ),
            ctx.seed,
            "module_overview",
            file_rec.id,
        )
        tail = ""
        if top:
            tail += "\n\nMain definitions:\n" + _bounded(top, MAX_OVERVIEW_DEFS, _listed)
        imports = _imports(file_rec)
        if imports:
            tail += ("\n" if top else "\n\n") + _render_imports(imports, language(file_rec))
        meta = make_meta(path=path, answer_path=path, expected=first_sentence(doc))
        answer: list[Part] = [f"`{path}`:\n\n", Cut(doc + "\n" if not tail else doc), tail]
        out.append(
            Example(
                "module_overview", file_rec.id, "", file_rec.commit, file_rec.time, [question], answer, meta
            )
        )
    return out


def _caller(u: Record) -> str:
    return f"- `{qualname(u)}` in `{u.path}` ({lines_label(u.start_line, u.end_line)})\n"


def callers(index: RecordIndex, ctx: TaskContext, only: str | None = None) -> list[Example]:
    """'Where is `name` called?' — functions whose recorded calls name a definition of that language.

    With `only`, just the examples about that name (what the others would be is not worked out).
    """
    calling: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for rec in index.kind("symbol"):
        lang = str(rec.meta.get("language") or "")
        if only is not None:
            if only in {str(c) for c in rec.meta.get("calls") or []}:
                calling[(only, lang)].append(rec)
            continue
        for name in sorted({str(c) for c in rec.meta.get("calls") or []}):
            calling[(name, lang)].append(rec)
    out = []
    for name, lang in sorted(calling):
        defs = [
            d
            for d in index.symbols_named.get(name, [])
            if d.meta.get("kind") in CALLABLE_KINDS | {"class"} and str(d.meta.get("language") or "") == lang
        ]
        if not defs or name in AMBIGUOUS_CALLS:
            continue
        # A definition "calling" its own name is mostly delegation (`close` calling `self._log.close`).
        def_ids = {d.id for d in defs}
        users = [u for u in calling[(name, lang)] if u.id not in def_ids]
        if not users:
            continue
        source = newest_record([*defs, *users])  # see symbol_lookup: the example is as new as this record
        classes = all(d.meta.get("kind") == "class" for d in defs)  # constructor calls, or type references
        question = pick(
            (f"Where is `{name}` used?", f"Which functions use `{name}`?")
            if classes
            else (
                f"Where is `{name}` called?",
                f"Which functions call `{name}`?",
                f"What calls `{name}` in the {ctx.repo_name} code base?",
            ),
            ctx.seed,
            "callers",
            source.id,
            name,
        )
        where = ", ".join(f"`{d.path}`" for d in defs[:3])
        verb = "used by" if classes else "called from"
        head = (
            f"`{name}` (defined in {where}) is {verb} {len(users)} place{'s' if len(users) != 1 else ''}:\n\n"
        )
        commit, time = dating(source)
        meta = make_meta(
            path=defs[0].path, symbol=name, answer_path=users[0].path, expected=qualname(users[0])
        )
        answer: list[Part] = [head, Cut(_bounded(users, MAX_CALLERS, _caller))]
        out.append(Example("callers", source.id, f"{lang}:{name}", commit, time, [question], answer, meta))
    return out
