"""The MCP tools as plain functions: repository root and arguments in, Markdown out, at most 10k tokens.

Each tool returns text for an agent to read. Problems the caller can fix (no records yet, an unknown
path) come back as `CtxengError`, which the server reports as a tool error with the hint.
"""

from __future__ import annotations

from pathlib import Path

from ctxeng.core.display import safe_text, shortened
from ctxeng.core.errors import CtxengError
from ctxeng.core.tokens import count_tokens, truncate_to_tokens
from ctxeng.mcp.lookup import (
    find_symbols,
    is_plain_file,
    normalise_path,
    repo_data,
    same_folder,
    similar_paths,
)

MAX_TOKENS = 10_000  # Claude Code warns above 10k tokens of tool output
CUT_NOTE = "\n[ctxeng: cut to stay under 10,000 tokens; narrow the request for more]\n"
DOC_CHARS = 600
MAX_NAME_CHARS = 1_000  # longer is no identifier; it would only be echoed back
MAX_QUESTION_CHARS = 32_768  # a question for a small local model; more would not fit its context
SIG_CHARS = 240


def capped(text: str, limit: int = MAX_TOKENS) -> str:
    """`text` if it has at most `limit` tokens, else its longest prefix that fits with a note."""
    if count_tokens(text) <= limit:
        return text
    return truncate_to_tokens(text, limit - count_tokens(CUT_NOTE)) + CUT_NOTE


def find_symbol(root: Path, name: str, limit: int = 20) -> str:
    """Definitions of `name`: kind, file, line range, signature and documentation."""
    from ctxeng.pack.facts import compact_signature

    if len(name) > MAX_NAME_CHARS:
        raise CtxengError(
            f"the name {shortened(name, 80)} is too long to be a definition's name",
            hint=f"pass a plain or qualified name of at most {MAX_NAME_CHARS} characters",
        )
    data = repo_data(root)
    found, exact = find_symbols(data, name, max(1, min(limit, 200)))
    shown = safe_text(name)
    if not found:
        return f"No definition named `{shown}` in the records (definitions are mined by `ctxeng build`)."
    head = (
        f"{len(found)} definition(s) of `{shown}`"
        if exact
        else f"No exact match for `{shown}`; similar names"
    )
    parts = [f"{head}:\n"]
    for rec in found:
        meta = rec.meta
        qualname, kind = meta.get("qualname") or rec.name, meta.get("kind") or "definition"
        signature = compact_signature(str(meta.get("signature") or ""), rec.name, SIG_CHARS)
        doc = " ".join(str(meta.get("doc") or "").split())
        doc = doc if len(doc) <= DOC_CHARS else doc[: DOC_CHARS - 1] + "…"
        where = f"{safe_text(rec.path)}:{rec.start_line}-{rec.end_line}"
        parts.append(f"\n### `{safe_text(str(qualname))}` ({safe_text(str(kind))}) — {where}\n\n")
        parts.append(f"`{safe_text(signature)}`\n" + (f"\n{safe_text(doc)}\n" if doc else ""))
    return capped("".join(parts))


def related_files(root: Path, path: str, limit: int = 15) -> str:
    """Files related to `path`: co-changed in history, imported by it, importing it, in the same folder."""
    data = repo_data(root)
    rel = normalise_path(root, path)
    if rel not in data.files and rel not in data.partners and not is_plain_file(root, rel):
        near = similar_paths(data, rel)
        hint = f"; similar: {', '.join(safe_text(p) for p in near)}" if near else ""
        raise CtxengError(
            f"{shortened(rel or path)} is not a file of this repository{hint}",
            hint="pass a repository-relative path",
        )
    limit = max(1, min(limit, 100))
    lines = [f"Files related to `{safe_text(rel)}`:\n"]
    partners = data.partners.get(rel, [])
    lines.append(
        _section(
            "Changed together (commits in common, share of this file's commits)",
            [f"`{safe_text(p)}` — {n} commits, {share:.0%}" for p, n, share in partners],
            limit,
        )
    )
    lines.append(
        _section(
            "Imports (files in this repository)",
            [f"`{safe_text(p)}`" for p in data.imports.get(rel, [])],
            limit,
        )
    )
    if data.external.get(rel):
        lines.append(f"(and {data.external[rel]} import(s) from outside the repository)\n")
    lines.append(_section("Imported by", [f"`{safe_text(p)}`" for p in data.importers.get(rel, [])], limit))
    lines.append(_section("Same folder", [f"`{safe_text(p)}`" for p in same_folder(data, rel)], limit))
    return capped("".join(lines))


def _section(title: str, items: list[str], limit: int) -> str:
    if not items:
        return f"\n## {title}\n\n(none)\n"
    more = f"- … {len(items) - limit} more\n" if len(items) > limit else ""
    return f"\n## {title}\n\n" + "".join(f"- {item}\n" for item in items[:limit]) + more


def repo_context(root: Path, prompt: str, budget: int = 2_000) -> str:
    """The definitions, files, docs and history most relevant to `prompt`, within `budget` tokens."""
    from ctxeng.pack import context_for_prompt

    text = context_for_prompt(root, prompt, max(1, min(budget, MAX_TOKENS)))
    return capped(text) if text else "Nothing in the index matches this prompt; name a file, symbol or topic."


def staleness(root: Path) -> str:
    """How far records, dataset, pack and adapters lag behind HEAD, and what to run about it."""
    from ctxeng.core.config import load_config
    from ctxeng.core.repo import open_repo
    from ctxeng.pipeline.status import describe, repo_status

    repo = open_repo(root)
    status = repo_status(repo, load_config(repo.root).refresh)
    branch = status.branch or "(detached HEAD)"
    lines = [f"Repository {status.repository}: branch {branch}, HEAD {status.head[:12]}\n"]
    lines += [f"- {describe(lag)}\n" for lag in status.outputs]
    lines += [f"\nSuggested: {line}\n" for line in status.recommendations]
    return capped("".join(lines))


def ask_adapter(root: Path, question: str, adapter: str | None = None, budget: int = 1_000) -> str:
    """The adapter's answer to `question`, grounded by retrieved context, with the sources it was given."""
    from ctxeng.serve.ask import ask

    if len(question) > MAX_QUESTION_CHARS:
        raise CtxengError(
            f"the question has {len(question):,} characters; at most {MAX_QUESTION_CHARS:,} are accepted",
            hint="ask a shorter question",
        )
    result = ask(root, question, adapter, max(0, min(budget, 4_000)), keep_loaded=True)
    sources = "".join(f"- [{s.kind}] {s.label()}\n" for s in result.sources) or "(none)\n"
    note = "" if result.complete else "\n(the answer was cut short)"
    return capped(
        f"{result.answer.strip()}{note}\n\n(model {result.model}, {result.via})\n\nSources:\n{sources}"
    )


def has_adapter(root: Path) -> bool:
    """Whether the repository has a trained adapter (the ask tool is offered only then)."""
    from ctxeng.train.adapters import list_adapters

    return bool(list_adapters(root))
