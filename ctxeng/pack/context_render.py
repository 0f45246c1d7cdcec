"""Rendering the prompt context's sections (files, definitions, code bodies, docs, history, glossary)."""

from __future__ import annotations

from typing import Any

from ctxeng.pack.bodies import body
from ctxeng.pack.defline import definition_line
from ctxeng.pack.index.reader import qualname as qualname_of
from ctxeng.pack.section_fit import fit_blocks, fit_ranked, grouped

BODIES = 3  # definitions the prompt matched best whose source is shown, when the budget allows ...
MAX_BODIES = 12  # ... and up to this many when the other sections leave tokens unused
MAX_DEFS = 120  # candidates read from the details file at the smallest budgets (more for larger ones)
DEF_TOKENS = 12  # a definition line costs about this many tokens: how many candidates a budget can show
MAX_DOCS = 6


def _files(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    paths, summaries = index["files"]["path"], index["files"]["summary"]
    blocks = [
        f"- `{paths[i]}`" + (f" — {summaries[i]}" if summaries[i] else "") + "\n" for _, i in ranked[:12]
    ]
    return fit_blocks(out + "\n## Files\n\n", blocks, limit)


def _defs(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    paths = index["files"]["path"]
    defs = index["defs"]
    lines = details.get("_layout") == "lines"
    items = []
    chosen = ranked[: max(MAX_DEFS, limit // DEF_TOKENS)]
    listed = {i for _, i in chosen}
    for _, i in chosen:
        qual = qualname_of(index, i)
        signature, doc = details.get(i, (qual, ""))[:2]
        parent = defs["parent"][i]
        # A method listed without its class would be ambiguous (`def get(self)` of which class?)
        owner = f" (in `{qual.rsplit('.', 1)[0]}`)" if parent >= 0 and parent not in listed else ""
        if lines:
            text = definition_line(paths[defs["file"][i]], defs["line"][i], qual, signature, doc)
        else:
            text = f"- L{defs['line'][i]} `{signature or qual}`{owner}" + (f" — {doc}" if doc else "") + "\n"
        items.append((paths[defs["file"][i]], (defs["line"][i], qual), text))
    if lines:  # `path:line` on every line (`ctxeng.pack.defline`): no heading to look back to, so
        # no file grouping either: best match first (a small model copies the first line it matches).
        ranked_texts = [((k,), text) for k, (_, _, text) in enumerate(items)]
        return fit_ranked(out + "\n## Definitions\n\n", ranked_texts, limit)
    headings = {path: f"\n### {path}\n\n" for path, _, _ in items}
    return grouped(out + "\n## Definitions\n", items, limit, headings, by_rank=True)


def _docs(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    docs, base = index["docs"], index["details"]["defs"]
    blocks = []
    for _, i in ranked[:MAX_DOCS]:
        excerpt = details.get(base + i, [""])[0]
        blocks.append(f"- **{docs['heading'][i]}** (`{docs['path'][i]}:{docs['line'][i]}`)"
                      + (f": {excerpt}" if excerpt else "") + "\n")  # fmt: skip
    return fit_blocks(out + "\n## Docs\n\n", blocks, limit)


def _history(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    commits, paths = index["commits"], index["files"]["path"]
    blocks = []
    for _, i in ranked[:8]:
        where = ", ".join(f"`{paths[f]}`" for f in commits["files"][i][:3])
        blocks.append(f"- {commits['date'][i]} `{commits['sha'][i][:10]}` {commits['subject'][i]}"
                      + (f" ({where})" if where else "") + "\n")  # fmt: skip
    return fit_blocks(out + "\n## History\n\n", blocks, limit)


def _glossary(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    g = index["glossary"]
    blocks = [f"- **{g['term'][i]}** — {g['meaning'][i]} ({g['source'][i]})\n" for _, i in ranked[:6]]
    return fit_blocks(out + "\n## Glossary\n\n", blocks, limit)


def _code(
    index: dict[str, Any], ranked: list[tuple[float, int]], details: dict[Any, Any], out: str, limit: int
) -> str:
    paths, defs = index["files"]["path"], index["defs"]
    blocks = []
    for _, i in ranked[: details.get("_bodies", BODIES)]:
        row = details.get(i)
        if not row or len(row) < 4:
            continue  # an index from before end lines were kept: names only
        path, line = paths[defs["file"][i]], defs["line"][i]
        text = body(details["_read"], str(details["_root"]), path, line, int(row[3]), _fence_language(path))
        if text:
            blocks.append(f"\n### {path}\n\nL{line}–{row[3]} `{qualname_of(index, i)}`:\n\n{text}")
    return fit_blocks(out + "\n## Code\n", blocks, limit)


def _fence_language(path: str) -> str:
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return {"py": "python", "js": "javascript", "ts": "typescript", "go": "go", "rs": "rust"}.get(ext, ext)


HEADINGS = {"files": "## Files", "defs": "## Definitions", "code": "## Code", "docs": "## Docs",
             "history": "## History", "glossary": "## Glossary"}  # fmt: skip
RENDER = {
    "files": _files,
    "defs": _defs,
    "code": _code,
    "docs": _docs,
    "history": _history,
    "glossary": _glossary,
}
