"""The docs extractor: heading splitting per format, cleaning, document selection, records from real repos."""

from __future__ import annotations

import random

import pytest

from ctxeng.core.config import DocsConfig, FilesConfig, SecretsConfig
from ctxeng.core.provenance import Provenance
from ctxeng.core.records import Record
from ctxeng.core.repo import open_repo
from ctxeng.extract.doc_sections import split_sections
from ctxeng.extract.docs import cut_text, doc_format, doc_kind, extract_doc_file, extract_docs, trim_changelog
from ctxeng.extract.selection import select_files
from tests.gitrepo import GitRepo

SHA = "c" * 40


def _outline(text: str, fmt: str = "markdown") -> list[tuple[str, int, str]]:
    return [(" > ".join(s.titles), s.level, s.text) for s in split_sections(text, fmt)]


def provenance_of(repo: GitRepo) -> Provenance:
    """Provenance straight from `git log` (newest first per path), as the history stage records it."""
    out = repo.git("log", "--format=@%H %ct", "--name-only")
    files: dict[str, list[tuple[str, int]]] = {}
    sha, when = "", 0
    for line in out.splitlines():
        if line.startswith("@"):
            sha, stamp = line[1:].split()
            when = int(stamp)
        elif line:
            files.setdefault(line, []).append((sha, when))
    head = repo.head()
    return Provenance(head=head, head_time=files and max(t for c in files.values() for _, t in c) or 0,
                      file_commits=files)  # fmt: skip


def mine(
    repo: GitRepo, config: DocsConfig | None = None, stats: dict[str, int] | None = None
) -> list[Record]:
    selection = select_files(open_repo(repo.path), FilesConfig(), SecretsConfig())
    return extract_docs(selection.files, provenance_of(repo), config or DocsConfig(), stats)


# --- Markdown ---------------------------------------------------------------------------------------


def test_markdown_atx_and_setext_headings() -> None:
    text = (
        "Title\n=====\n\nIntro.\n\n"
        "## Closed ##\nclosed body\n\n"
        "#hashtag is not a heading\n\n"
        "Sub\n---\nsub body\n\n"
        "Two line\nparagraph title\n---------------\ntwo body\n\n"
        "---\n\nafter a thematic break\n\n"
        "- item\n---\n"
    )
    assert _outline(text) == [
        ("Title", 1, "Intro."),
        ("Title > Closed", 2, "closed body\n\n#hashtag is not a heading"),
        ("Title > Sub", 2, "sub body"),
        ("Title > Two line paragraph title", 2, "two body\n\n---\n\nafter a thematic break\n\n- item\n---"),
    ]


def test_fenced_code_lines_starting_with_hash_are_not_headings() -> None:
    text = (
        "# Build\n\n```bash\n# install\nmake\n```\n\n"
        "~~~~\n## not a heading\n```\n# still code\n~~~~\n\n"
        "## Run\n\n````md\n```\n# inner\n```\n````\n"
        "# Tail\n\n```\n# unclosed fence runs to the end\n\n# not a heading\n"
    )
    outline = _outline(text)
    assert [(name, level) for name, level, _ in outline] == [("Build", 1), ("Build > Run", 2), ("Tail", 1)]
    assert (
        "# install" in outline[0][2]
        and "## not a heading" in outline[0][2]
        and "# still code" in outline[0][2]
    )
    assert outline[1][2] == "````md\n```\n# inner\n```\n````"
    assert outline[2][2].endswith("# not a heading")


def test_front_matter_is_not_a_section() -> None:
    yaml = "---\ntitle: Guide\ntags: [a]\n---\n# Guide\n\nBody.\n"
    toml = '+++\ntitle = "Guide"\n+++\nBody without heading.\n'
    assert _outline(yaml) == [("Guide", 1, "Body.")]  # an H1 repeating the front matter's title is merged
    page = "---\ntitle: 'npm-install'\nsection: 1\n---\n\nIntro.\n\n### Synopsis\n\nnpm install\n"
    assert _outline(page) == [("npm-install", 0, "Intro."), ("npm-install > Synopsis", 3, "npm install")]
    [section] = split_sections(toml, "markdown")
    assert (section.titles, section.text, section.start_line) == (("Guide",), "Body without heading.", 1)
    [untitled] = split_sections("---\nauthor: x\n---\nBody.\n", "markdown")
    assert (untitled.titles, untitled.text, untitled.start_line) == ((), "Body.", 4)
    # a leading thematic break that does not hold key: value lines is kept as text
    assert _outline("---\nJust text.\n\n---\n") == [("", 0, "---\nJust text.\n\n---")]
    assert _outline("---\nTitle\n---\nbody\n") == [("", 0, "---"), ("Title", 2, "body")]  # CommonMark setext


def test_html_comments_badges_raw_html_and_link_definitions_are_dropped() -> None:
    text = (
        "[![CI](https://ci.example/badge.svg)](https://ci.example) [![PyPI](https://img.shields.io/x)](https://p)\n"
        '<p align="center">\n  <img src="logo.png">\n</p>\n\n'
        "# Project <!-- anchor -->\n\n"
        "Keep this <!-- but not this --> and this.\n"
        "<!--\n# Hidden heading\nhidden text\n-->\n"
        "![architecture](docs/arch.png)\n\n"
        "<script>\nvar x = 1;\n\nvar y = 2;\n</script>\n\n"
        "```html\n<!-- a comment inside code is code -->\n```\n\n"
        "[ci]: https://ci.example\n"
    )
    [section] = split_sections(text, "markdown")
    assert section.titles == ("Project",)
    assert section.text == (
        "Keep this  and this.\n![architecture](docs/arch.png)\n\n"
        "```html\n<!-- a comment inside code is code -->\n```"
    )


def test_titles_lose_badges_and_keep_link_text() -> None:
    badges = " ".join(
        f"[![b{n}](https://ci.example/{n}/badge.svg)](https://ci.example/{n})" for n in range(6)
    )
    text = f"# rustfmt {badges}\n\nA formatter.\n\n## [1.2.0](https://x.example/compare/1.1...1.2) (2024-01-01)\n\n- fix\n"
    assert _outline(text) == [("rustfmt", 1, "A formatter."), ("rustfmt > 1.2.0 (2024-01-01)", 2, "- fix")]
    assert _outline("# [![logo](logo.png)](https://x.example)\n\nText.\n") == [("", 0, "Text.")]


def test_nested_headings_give_heading_paths_and_spans() -> None:
    text = "# A\na\n## B\nb\n#### D\nd\n## C\nc\n# E\ne\n### F\nf\n"
    sections = split_sections(text, "markdown")
    assert [(" > ".join(s.titles), s.level, s.start_line, s.end_line) for s in sections] == [
        ("A", 1, 1, 2), ("A > B", 2, 3, 4), ("A > B > D", 4, 5, 6), ("A > C", 2, 7, 8), ("E", 1, 9, 10),
        ("E > F", 3, 11, 12),
    ]  # fmt: skip


def test_body_lines_keep_their_source_line_numbers() -> None:
    text = "# T\n\none\n<!-- x\ny -->\ntwo\n\n\n\nthree\n"
    [section] = split_sections(text, "markdown")
    assert section.body == ((3, "one"), (6, "two"), (7, ""), (10, "three"))


# --- reStructuredText, AsciiDoc, text ---------------------------------------------------------------


def test_rst_overlines_mixed_underlines_and_levels_by_first_appearance() -> None:
    text = (
        ".. comment: dropped\n   with its indented lines\n\n"
        "#####\nGuide\n#####\n\nIntro.\n\n"
        "Part *\n******\n\nPart text.\n\n"
        "Chapter\n=======\n\nChapter text.\n\n"
        "Another part\n************\n\nMore.\n\n"
        "=====\nOver\n=====\n\nOverlined '=' differs from underlined '='.\n\n"
        "Short\n==\n\ntoo short to be a title.\n"
    )
    assert _outline(text, "rst") == [
        ("Guide", 1, "Intro."),
        ("Guide > Part *", 2, "Part text."),
        ("Guide > Part * > Chapter", 3, "Chapter text."),
        ("Guide > Another part", 2, "More."),
        ("Guide > Another part > Over", 4, "Overlined '=' differs from underlined '='.\n\nShort\n==\n\ntoo short to be a title."),
    ]  # fmt: skip


def test_rst_directives_dropped_or_kept() -> None:
    text = (
        "Usage\n=====\n\n"
        ".. image:: https://ci.example/badge.svg\n   :target: https://ci.example\n\n"
        "|build| |coverage|\n\n"
        ".. toctree::\n   :maxdepth: 2\n\n   intro\n\n"
        ".. _usage-label:\n\n"
        "Call it:\n\n"
        ".. code-block:: rst\n\n   Fake title\n   ==========\n\n"
        ".. note::\n\n   Keep this note.\n"
    )
    assert _outline(text, "rst") == [
        (
            "Usage",
            1,
            "Call it:\n\n.. code-block:: rst\n\n   Fake title\n   ==========\n\n.. note::\n\n   Keep this note.",
        )
    ]


def test_asciidoc_titles_blocks_and_comments() -> None:
    text = (
        "= Manual\n:toc: left\n\nIntro.\n\n"
        "== Install ==\n\n[source,bash]\n----\n== not a title\n----\n\n"
        "////\n== commented out\n////\n// a line comment\n"
        "Old Style\n---------\nold body\n\n"
        "=== Deeper\ndeep\n"
    )
    assert _outline(text, "asciidoc") == [
        ("Manual", 1, "Intro."),
        ("Manual > Install", 2, "----\n== not a title\n----"),
        ("Manual > Old Style", 2, "old body"),
        ("Manual > Old Style > Deeper", 3, "deep"),
    ]


def test_plain_text_is_one_section_unless_it_has_underlined_titles() -> None:
    assert _outline("Just notes.\n# not a heading in text\n", "text") == [
        ("", 0, "Just notes.\n# not a heading in text")
    ]
    assert _outline("NEWS\n====\n\nv2 released.\n\nOlder\n-----\nv1.\n", "text") == [
        ("NEWS", 1, "v2 released."), ("NEWS > Older", 2, "v1."),
    ]  # fmt: skip


def test_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        split_sections("x", "html")


# --- selection of design documents ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("README.md", "readme"), ("clients/js/README.md", "readme"), ("README", "readme"),
        ("README.zh-CN.md", "readme"), ("CONTRIBUTING.md", "contributing"), (".github/CONTRIBUTING.md", "contributing"),
        ("HACKING", "contributing"), ("ARCHITECTURE.md", "architecture"), ("DESIGN.rst", "design"),
        ("SECURITY.md", "guide"), ("CHANGELOG.md", "changelog"), ("CHANGES.rst", "changelog"),
        ("HISTORY.txt", "changelog"), ("NEWS", "changelog"), ("docs/changelog/1.2.md", "changelog"),
        ("docs/index.md", "guide"), ("doc/usage.rst", "guide"), ("Documentation/git.adoc", "guide"),
        ("docs/architecture.md", "architecture"), ("docs/api/store.rst", "api"), ("docs/reference.md", "api"),
        ("docs/adr/0001-append-only-log.md", "adr"), ("docs/architecture/decisions/0002-x.md", "adr"),
        ("decisions/use-sqlite.md", "adr"), ("0007-record-decisions.md", "adr"), ("rfcs/0012-async.md", "adr"),
        ("rfcs/async-io.md", "design"), ("notes.txt", "other"), ("GUIDE.mdx", "other"), ("CLAUDE.md", "guide"),
        ("docs/glossary.md", "guide"),
    ],
)  # fmt: skip
def test_design_documents_by_path(path: str, kind: str) -> None:
    assert doc_kind(path) == kind


@pytest.mark.parametrize(
    "path",
    ["LICENSE", "LICENSE.md", "requirements.txt", "docs/requirements.txt", "dev-requirements.txt",
     "CODE_OF_CONDUCT.md", "AUTHORS.md", "CMakeLists.txt", "src/notes.md", "kvstore/history.py",
     ".github/ISSUE_TEMPLATE/bug.md", "docs/conf.py", "blog/2024-01-15-release.md", "Makefile"],
)  # fmt: skip
def test_other_files_are_not_design_documents(path: str) -> None:
    assert doc_kind(path) is None


def test_formats_by_extension() -> None:
    assert [doc_format(p) for p in ("a.md", "a.MDX", "a.rst", "a.adoc", "a.asciidoc", "a.txt", "NEWS", "a.py")] == [
        "markdown", "markdown", "rst", "asciidoc", "asciidoc", "text", "text", None,
    ]  # fmt: skip


# --- records from real repositories -----------------------------------------------------------------


def test_sample_repo_sections(sample_repo: GitRepo) -> None:
    stats: dict[str, int] = {}
    records = mine(sample_repo, stats=stats)
    by_name = {(r.path, r.name): r for r in records}
    keydir = by_name[("docs/architecture.md", "Architecture > Keydir")]
    assert keydir.text.startswith("The keydir is an in-memory dict from key to `(segment, offset, size)`.")
    assert (keydir.start_line, keydir.end_line) == (8, 11)
    assert keydir.meta == {"doc_kind": "architecture", "level": 2, "title": "Keydir", "format": "markdown",
                           "line_map": [[0, 10]]}  # fmt: skip
    assert (
        by_name[("docs/adr/0001-append-only-log.md", "ADR 0001: Use an append-only log > Decision")].meta[
            "doc_kind"
        ]
        == "adr"
    )
    usage = by_name[("README.md", "kvstore > Usage")]
    assert usage.text.startswith("```python\nfrom kvstore import Store")
    assert {r.path for r in records} == {
        "CONTRIBUTING.md", "README.md", "docs/adr/0001-append-only-log.md", "docs/architecture.md", "docs/glossary.md",
    }  # fmt: skip
    assert stats == {"files": 5, "sections": len(records), "empty": 0, "autodoc_pages": 0,
                     "changelog_sections_dropped": 0, "cut_sections": 0}  # fmt: skip
    # provenance: the newest commit that touched each file
    architecture_commit = sample_repo.git("log", "-1", "--format=%H", "--", "docs/architecture.md").strip()
    assert keydir.commit == architecture_commit and keydir.time > 0
    assert len({r.id for r in records}) == len(records)


def test_readme_in_subfolder_adr_changelog_and_autodoc(git_repo: GitRepo) -> None:
    releases = "".join(f"## [1.{n}.0] - 2024-0{n}-01\n\n- change {n}\n\n" for n in range(5, 0, -1))
    git_repo.commit("Add docs", {
        "packages/web/README.md": "# web\n\nThe web front end.\n",
        "docs/adr/0002-use-sqlite.md": "# 2. Use SQLite\n\n## Decision\n\nWe use SQLite.\n",
        "CHANGELOG.md": f"# Changelog\n\nAll notable changes.\n\n## [Unreleased]\n\n- pending\n\n{releases}",
        "docs/api/store.rst": "Store API\n=========\n\n.. automodule:: kvstore.store\n   :members:\n",
        "docs/api/codec.rst": "Codec API\n=========\n\nHow records are encoded.\n\n.. automodule:: kvstore.codec\n",
        "docs/empty.md": "   \n\n\t\n",
        "docs/only-heading.md": "# Nothing here\n\n## Nor here\n",
        "src/app.py": "print('not a doc')\n",
    })  # fmt: skip
    stats: dict[str, int] = {}
    records = mine(git_repo, stats=stats)
    names = [(r.path, r.name, r.meta["doc_kind"]) for r in records]
    assert names == [
        ("CHANGELOG.md", "Changelog", "changelog"),
        ("CHANGELOG.md", "Changelog > [Unreleased]", "changelog"),
        ("CHANGELOG.md", "Changelog > [1.5.0] - 2024-05-01", "changelog"),
        ("CHANGELOG.md", "Changelog > [1.4.0] - 2024-04-01", "changelog"),
        ("CHANGELOG.md", "Changelog > [1.3.0] - 2024-03-01", "changelog"),
        ("docs/adr/0002-use-sqlite.md", "2. Use SQLite > Decision", "adr"),
        ("docs/api/codec.rst", "Codec API", "api"),
        ("packages/web/README.md", "web", "readme"),
    ]
    codec = next(r for r in records if r.path == "docs/api/codec.rst")
    assert codec.text == "How records are encoded." and codec.meta["format"] == "rst"
    # "empty" counts documents without any text; the whitespace-only file is skipped by selection already
    assert stats == {"files": 6, "sections": 8, "changelog_sections_dropped": 2, "autodoc_pages": 1, "empty": 1,
                     "cut_sections": 0}  # fmt: skip


def test_oldest_first_changelog_keeps_its_last_releases() -> None:
    text = "".join(f"v0.{n}\n----\n\nRelease {n}.\n\n" for n in range(1, 7))
    kept, dropped = trim_changelog(split_sections(text, "rst"), 2)
    assert [s.title for s in kept] == ["v0.5", "v0.6"] and dropped == 4


def test_long_sections_are_cut_at_a_paragraph_boundary() -> None:
    paragraph = "word " * 30
    body = "\n\n".join(paragraph.strip() for _ in range(40))
    [record] = extract_doc_file(
        "docs/long.md", f"# Long\n\n{body}\n", "c" * 40, 1, DocsConfig(max_section_chars=1000)
    )
    assert record.text.endswith("\n\n…")
    kept = record.text[: -len("\n\n…")]
    assert len(kept) <= 1000 and kept.endswith(paragraph.strip()) and body.startswith(kept)
    assert record.end_line == 2 + 40 * 2 - 1  # the span stays the whole section


def test_cut_closes_an_open_code_fence_and_falls_back_to_line_and_space() -> None:
    code = "```python\n" + "x = 1\n" * 400 + "```"
    cut = cut_text(code, 300, fences=True)
    assert cut.endswith("\n```\n\n…") and len(cut) < 320
    one_line = "token " * 1000
    assert cut_text(one_line, 100).endswith("token\n\n…")
    assert cut_text("x" * 500, 100) == "x" * 97 + "\n\n…"
    assert cut_text("short", 100) == "short"


def test_invalid_utf8_doc_decoded_as_latin1(git_repo: GitRepo) -> None:
    git_repo.commit("Add docs", {"docs/caf\u00e9.md": b"# Caf\xe9\n\nCr\xe8me br\xfbl\xe9e \xff.\n"})
    [record] = mine(git_repo)
    assert record.name == "Café" and record.text == "Crème brûlée ÿ."


def test_managed_ctxeng_block_is_not_mined(git_repo: GitRepo) -> None:
    from ctxeng.pack.claude_md import BEGIN, END  # the markers the pack really writes

    claude = f"# Notes\n\nOur own rules.\n\n{BEGIN}\n## Context\n\nGenerated pack text.\n{END}\n\n## After\n\nMore rules.\n"
    git_repo.commit("Add CLAUDE.md", {"CLAUDE.md": claude})
    records = mine(git_repo)
    assert [(r.name, r.text, r.start_line) for r in records] == [
        ("Notes", "Our own rules.", 1), ("Notes > After", "More rules.", 11),
    ]  # fmt: skip


def test_empty_and_whitespace_only_documents_give_no_records() -> None:
    stats: dict[str, int] = {}
    for text in ("", "   \n\t\n", "# Title\n\n## Sub\n", "<!-- only a comment -->\n", "---\ntitle: x\n---\n"):
        assert extract_doc_file("docs/x.md", text, SHA, 1, DocsConfig(), stats) == []
    assert stats == {"files": 5, "sections": 0, "empty": 5, "autodoc_pages": 0, "changelog_sections_dropped": 0,
                     "cut_sections": 0}  # fmt: skip


def test_repeated_headings_get_distinct_ids() -> None:
    records = extract_doc_file("docs/faq.md", "# FAQ\n## Why\none\n## Why\ntwo\n", "c" * 40, 1, DocsConfig())
    assert [r.name for r in records] == ["FAQ > Why", "FAQ > Why"]
    assert records[0].id != records[1].id


def test_text_before_the_first_heading_is_named_after_the_file() -> None:
    [record] = extract_doc_file("docs/notes.txt", "Some notes.\n", "c" * 40, 1, DocsConfig())
    assert (record.name, record.meta["title"], record.meta["level"], record.meta["format"]) == (
        "notes.txt", "notes.txt", 0, "text",
    )  # fmt: skip
    assert extract_doc_file("src/app.py", "# x\n", "c" * 40, 1, DocsConfig()) == []


def test_deterministic_and_independent_of_input_order(sample_repo: GitRepo) -> None:
    selection = select_files(open_repo(sample_repo.path), FilesConfig(), SecretsConfig())
    provenance = provenance_of(sample_repo)
    first = extract_docs(selection.files, provenance, DocsConfig())
    shuffled = list(selection.files)
    random.Random(7).shuffle(shuffled)
    assert extract_docs(shuffled, provenance, DocsConfig()) == first


# --- hostile input: linear time, no recursion -------------------------------------------------------


def test_deep_nesting_and_huge_lines_do_not_recurse_or_blow_up() -> None:
    quotes = "# Q\n\n" + "".join(">" * depth + " text\n" for depth in range(1, 5001))
    lists = "# L\n\n" + "".join(" " * depth + "- item\n" for depth in range(5000))
    one_line = "x " * 500_000
    for text, fmt in ((quotes, "markdown"), (lists, "markdown"), (quotes, "rst"), (lists, "asciidoc")):
        sections = split_sections(text, fmt)
        assert sum(len(s.body) for s in sections) >= 5000
    for fmt in ("markdown", "rst", "asciidoc", "text"):
        [section] = split_sections(one_line, fmt)
        assert len(section.text) == len(one_line.rstrip())
    # pathological lines for the comment, heading, badge and HTML scanners
    hostile = (
        "<!--" * 250_000,
        "# " + " " * 1_000_000 + "x",
        "[![" * 300_000,
        "<div" + " a" * 500_000,
        "# " + "[" * 1_000_000,
        "# " + "![a](" * 200_000,
        "# " + "[a](" * 250_000,
        "# " + "<" * 1_000_000,
    )
    for line in hostile:
        sections = split_sections(line + "\nend\n", "markdown")
        assert sections is not None
    [record] = extract_doc_file("README.md", one_line, "c" * 40, 1, DocsConfig())
    assert record.text.endswith("…") and len(record.text) <= DocsConfig().max_section_chars + 3
