"""The pack's reference documents besides the map: overview, conventions, history and decisions."""

from __future__ import annotations

import math
import posixpath
import re
from collections import Counter

from ctxeng.pack.commands import python_module
from ctxeng.pack.commit_filter import distinct
from ctxeng.pack.commit_filter import why as commit_why
from ctxeng.pack.conventions import Conventions
from ctxeng.pack.describe import DEFINES
from ctxeng.pack.doc_filter import is_noise_section, is_prose, is_sample_doc, paragraphs, plain, without_shown
from ctxeng.pack.facts import Commit, RepoFacts, first_sentence
from ctxeng.pack.habits import commit_style, layout_of_tests
from ctxeng.pack.paths import is_entry_file, is_example, is_test, is_vendored, top_level
from ctxeng.pack.rank import Ranking
from ctxeng.pack.section_fit import fit_blocks, fit_ranked, grouped

FOLDER_ROLES = {
    "tests": "tests", "test": "tests", "testing": "test helpers", "docs": "documentation", "doc": "documentation",
    "examples": "examples", "example": "examples", ".github": "GitHub workflows and templates",
    "scripts": "scripts", "tools": "tooling", "bench": "benchmarks", "benchmarks": "benchmarks",
    ".circleci": "CircleCI configuration", "vendor": "vendored third-party code", "third_party": "third-party code",
}  # fmt: skip
DOC_PRIORITY = {"adr": 1.0, "architecture": 0.95, "design": 0.9, "readme": 0.6, "guide": 0.5, "contributing": 0.45,
                "api": 0.3, "other": 0.35, "changelog": 0.1}  # fmt: skip
GLOSSARY_TITLES = frozenset({"glossary", "terminology", "definitions", "vocabulary", "concepts", "terms"})
_BADGE = re.compile(r"^\s*(\[!\[|!\[|<img|<a |<p |<div|\.\. image::|\.\. \|)")


_NEWS = re.compile(
    r"announc|\bnews\b|now available|\brelease[sd]?\b|what'?s new|sponsor|\bnotice\b", re.IGNORECASE
)


def readme_summary(facts: RepoFacts, limit: int = 400) -> str:
    """The paragraph of the root README that says what the project is (no badges, code or headings).

    Among the prose paragraphs of its first sections, the first that names the project as its
    subject ("Gin is a ...", first word) wins; else the first outside a news or release-announcement section.
    """
    readmes = [d for d in facts.docs if d.doc_kind == "readme" and "/" not in d.path]
    # README.md / README.rst before README.dialects.rst: the plain name is the project's front page
    readmes.sort(key=lambda d: (d.path.count("."), len(d.path), d.path, d.line))
    front = [d for d in readmes if d.path == readmes[0].path][:6] if readmes else []
    candidates = [
        (doc.title, plain(para))
        for doc in front
        for para in paragraphs(doc.text)
        if is_prose(para) and not _BADGE.match(para)
    ]
    names = {facts.name.lower(), facts.name.lower().replace("-", " ")}
    alternatives = "|".join(map(re.escape, sorted(names)))
    subject = re.compile(rf"^(?:the\s+)?(?:{alternatives})\b", re.IGNORECASE)
    chosen = next((text for _, text in candidates if subject.search(text[:200])), "")
    if not chosen:
        chosen = next((text for title, text in candidates if not _NEWS.search(title)), "")
    return first_sentence(chosen, limit) if len(chosen) > limit else chosen


def _folder_summary(facts: RepoFacts, folder: str) -> str:
    for name in ("__init__.py", "index.ts", "index.js", "lib.rs", "mod.rs", "doc.go"):
        info = facts.files.get(f"{folder}/{name}")
        if info and info.doc and not info.doc.startswith(DEFINES):
            return info.doc
    for doc in facts.docs:
        if doc.doc_kind == "readme" and posixpath.dirname(doc.path) == folder and doc.text.strip():
            return first_sentence(plain(doc.text), 140)
    if folder.lower() in FOLDER_ROLES:
        return FOLDER_ROLES[folder.lower()]
    for path, info in facts.files.items():  # Go: any file of the package may carry its doc comment
        if posixpath.dirname(path) == folder and info.doc.startswith("Package "):
            return info.doc
    namesake = next((info for path, info in facts.files.items()
                     if posixpath.dirname(path) == folder and posixpath.splitext(posixpath.basename(path))[0] == folder), None)  # fmt: skip
    if namesake and namesake.doc:  # `binding/binding.go`: the file named after its folder is its core
        return namesake.doc
    subfolders = Counter(
        p.split("/")[1] for p in facts.files if p.startswith(f"{folder}/") and p.count("/") >= 2
    )
    biggest = sorted(subfolders.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return "holds " + ", ".join(f"`{name}/`" for name, _ in biggest) if biggest else ""


def _layout(facts: RepoFacts) -> list[str]:
    counts: Counter[str] = Counter(top_level(p) for p in facts.tracked)
    langs: dict[str, Counter[str]] = {}
    for path, info in facts.files.items():
        if info.language:
            langs.setdefault(top_level(path), Counter())[info.language] += 1
    lines = []
    for folder in sorted(counts, key=lambda f: (f == "", f)):
        lang = ", ".join(
            name
            for name, _ in sorted(langs.get(folder, Counter()).items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        )
        label = f"`{folder}/`" if folder else "(root)"
        summary = _folder_summary(facts, folder) if folder else "manifests, README and top-level files"
        detail = f"{counts[folder]} file{'s' if counts[folder] != 1 else ''}" + (f"; {lang}" if lang else "")
        lines.append(f"- {label} — {summary} ({detail})\n" if summary else f"- {label} ({detail})\n")
    return lines


def _entry_points(facts: RepoFacts, conv: Conventions) -> list[str]:
    lines = [f"- console script `{name}` → `{target}`\n" for name, target in conv.scripts]
    wanted = set(conv.entry_points)
    for d in facts.defs:
        if (d.path, d.qualname) in wanted or (d.name == "main" and not d.parent and is_entry_file(d.path)):
            lines.append(f"- `{d.path}` L{d.line} `{d.signature}`" + (f" — {d.doc}" if d.doc else "") + "\n")
    tracked = set(facts.tracked)
    for path in facts.tracked:
        if (
            posixpath.basename(path) == "__main__.py"
            and "/" in path
            and not any(f"`{path}`" in line for line in lines)
        ):
            lines.append(f"- `{path}` (`python -m {python_module(posixpath.dirname(path), tracked)}`)\n")
    return lines


def render_overview(facts: RepoFacts, ranking: Ranking, conv: Conventions, limit: int) -> str:
    """Layout of top-level folders, entry points, then the highest-ranked modules with their summaries."""
    head = f"# Overview: {facts.name}\n\n"
    summary = readme_summary(facts)
    langs = Counter(info.language for info in facts.files.values() if info.language)
    lang_line = ", ".join(
        f"{name} ({n})" for name, n in sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
    )
    intro = (f"{summary}\n\n" if summary else "") + (
        f"{len(facts.tracked)} tracked file{'s' if len(facts.tracked) != 1 else ''}; "
        f"code files by language: {lang_line or 'none'}.\n"
    )
    blocks = [intro, "\n## Layout\n\n", *_layout(facts)]
    entries = _entry_points(facts, conv)
    if entries:
        blocks += ["\n## Entry points\n\n", *entries]
    modules = [
        (top_level(p) or "(root)", (p,), f"- `{p}`" + (f" — {info.doc}" if info.doc else "") + "\n")
        for p, info in facts.files.items()
        if not (is_test(p) or is_vendored(p))
    ]
    order = {p: i for i, p in enumerate(ranking.ordered_files())}
    modules.sort(key=lambda m: (order.get(m[1][0], len(order)), m[1]))
    fixed = fit_blocks(head, blocks, limit)
    rest = limit - _tokens(fixed)
    if rest <= 20 or not modules:
        return fixed
    headings = {g: f"\n### {g}{'/' if g != '(root)' else ''}\n\n" for g, _, _ in modules}
    return grouped(
        fixed + "\n## Modules by folder (the most central ones when space is short)\n",
        modules,
        limit,
        headings,
    )


def render_conventions(facts: RepoFacts, conv: Conventions, limit: int) -> str:
    """Commands by category, test layout, commit-message style and contributing notes."""
    head = f"# Conventions: {facts.name}\n"
    blocks: list[str] = []
    groups = conv.by_category()
    if groups:
        blocks.append("\n## Commands\n\n")
        for category, cmds in groups.items():
            for cmd in cmds[:6]:
                note = f" — {cmd.note}" if cmd.note else ""
                blocks.append(f"- {category}: `{cmd.command}`{note} ({cmd.source})\n")
    else:
        blocks.append(
            "\n## Commands\n\nNo build, test or lint commands were found in the project's manifests or CI.\n"
        )
    blocks.append("\n## Tests\n\n" + "".join(f"- {f}\n" for f in layout_of_tests(facts.tracked)))
    style = commit_style(facts.commits)
    if style:
        blocks.append("\n## Commit messages\n\n" + "".join(f"- {f}\n" for f in style))
    contributing = [d for d in facts.docs if d.doc_kind == "contributing" and d.text.strip()]
    if contributing:
        blocks.append("\n## From the contributing guide\n")
        for doc in contributing[:8]:
            blocks.append(f"\n### {doc.heading} ({doc.path}:{doc.line})\n\n{_excerpt(doc.text, 600)}\n")
    return fit_blocks(head, blocks, limit)


def render_history(facts: RepoFacts, limit: int) -> str:
    """Hot spots, files that change together and the recent significant changes."""
    head = f"# History: {facts.name}\n\n"
    if not facts.commits:
        return fit_blocks(head, ["No history was mined.\n"], limit)
    count = facts.commit_count or len(facts.commits)
    first = facts.first_date or facts.commits[-1].date
    intro = f"{count} commits (merges excluded) from {first[:10]} to {facts.commits[0].date[:10]}.\n"
    tracked = set(facts.tracked)
    last_change = facts.last_changed
    hot = sorted(
        ((n, p) for p, n in facts.change_counts.items() if p in tracked and n > 1),
        key=lambda np: (-np[0], np[1]),
    )
    blocks = [intro]
    if hot:
        blocks.append("\n## Hot spots (files changed most often)\n\n")
        blocks += [f"- `{p}` — {n} commits, last {last_change.get(p, '?')}\n" for n, p in hot[:15]]
    pairs = _pairs(facts, tracked)
    if pairs:
        blocks.append("\n## Files that change together\n\n")
        blocks += [
            f"- `{a}` + `{b}` — {n} commits together ({round(100 * share)} % of `{a}`'s)\n"
            for n, share, a, b in pairs[:12]
        ]
    recent = _significant(facts)
    if recent:
        blocks.append("\n## Recent significant changes\n\n")
        for c in recent:
            size = f"{len(c.files)} file{'s' if len(c.files) != 1 else ''}" + (
                f", +{c.added}/-{c.deleted}" if c.added or c.deleted else ""
            )
            why = commit_why(c) if c.body else ""
            blocks.append(
                f"- {c.date[:10]} `{c.sha[:10]}` {c.subject} ({size})" + (f" — {why}" if why else "") + "\n"
            )
    return fit_blocks(head, blocks, limit)


def _pairs(facts: RepoFacts, tracked: set[str]) -> list[tuple[int, float, str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for path, partners in facts.cochange.items():
        for other, count, share in partners:
            key = (min(path, other), max(path, other))
            if key in seen or path not in tracked or other not in tracked or count < 2 or share < 0.3:
                continue
            seen.add(key)
            out.append((count, share, path, other))
    return sorted(out, key=lambda t: (-t[0], -t[1], t[2], t[3]))


def _significant(facts: RepoFacts, window: int = 200, keep: int = 15) -> list[Commit]:
    """The biggest changes among the newest `window` commits (by lines and files touched), newest first;
    bots, dependency bumps, releases and repeated subjects left out (see `commit_filter.distinct`)."""
    scored = []
    for pos, c in enumerate(distinct(facts.commits[:window])):
        size = math.log1p(c.added + c.deleted) + 0.7 * math.log1p(len(c.files)) + (0.5 if c.body else 0.0)
        scored.append((size, pos, c))
    best = sorted(scored, key=lambda t: (-t[0], t[1]))[:keep]
    return [c for _, _, c in sorted(best, key=lambda t: t[1])]


def render_decisions(facts: RepoFacts, limit: int) -> str:
    """Design-doc excerpts with their sources (ADRs and architecture first), then the glossary."""
    head = f"# Decisions and design notes: {facts.name}\n"
    glossary = [
        (((0 if t.kind == "glossary" else 1 if t.kind == "doc" else 2), t.term.lower()),
         f"- **{t.term}** — {first_sentence(t.meaning, 220)} ({t.source})\n")
        for t in facts.glossary
    ]  # fmt: skip
    glossary.sort(key=lambda kt: kt[0])
    docs = []
    shown = [readme_summary(facts)]  # overview.md and SKILL.md open with it
    for pos, doc in enumerate(facts.docs):
        if (
            is_vendored(doc.path)
            or is_sample_doc(doc.path)
            or (is_example(doc.path) and doc.doc_kind in ("other", "api"))
        ):
            continue  # an example's or a template's README describes the sample, not the project
        if doc.doc_kind == "contributing" or (glossary and doc.title.strip().lower() in GLOSSARY_TITLES):
            continue  # shown in conventions.md / below as the glossary
        body = without_shown(doc.text.strip(), shown) if doc.doc_kind == "readme" else doc.text.strip()
        if not body or is_noise_section(doc.title, body):
            continue  # sponsors, badges, tables of contents: nothing a newcomer learns the design from
        kind = DOC_PRIORITY.get(doc.doc_kind, 0.3)
        prio = kind / (1 + 0.3 * max(0, doc.level - 1))
        text = f"\n## {doc.heading}\n\nSource: `{doc.path}:{doc.line}`\n\n{_excerpt(body, 700)}\n"
        docs.append(((-prio, pos), (-kind, pos), text))  # chosen by priority, shown by kind then place
    docs.sort(key=lambda t: t[0])
    gloss_limit = limit // 3 if docs else limit
    gloss_text = (
        fit_ranked("\n## Glossary\n\n", [((i,), t) for i, (_, t) in enumerate(glossary)], gloss_limit)
        if glossary
        else ""
    )
    if not docs and not glossary:
        return fit_blocks(head, ["\nNo design documents or glossary were found.\n"], limit)
    body = (
        fit_ranked(head, [(shown, t) for _, shown, t in docs], limit - _tokens(gloss_text)) if docs else head
    )
    return fit_blocks(body, [gloss_text] if gloss_text else [], limit)


def _excerpt(text: str, limit: int) -> str:
    """The first paragraphs of `text` up to about `limit` characters, cut at a paragraph or sentence."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    para = cut.rfind("\n\n")
    if para > limit // 3:
        return cut[:para].rstrip() + "\n\n…"
    sentence = max(cut.rfind(". "), cut.rfind(".\n"))
    return (cut[: sentence + 1] if sentence > limit // 3 else cut.rsplit(" ", 1)[0]) + " …"


def _tokens(text: str) -> int:
    from ctxeng.pack.budget import tokens

    return tokens(text)
