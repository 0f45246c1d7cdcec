"""Fuzz tests of the hand-written document splitters (kept over markdown-it-py/docutils, see
`ctxeng.extract.doc_sections`): they never crash, cost linear time on adversarial input, and their
sections cover the text in order."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctxeng.extract.doc_sections import FORMATS, Section, split_sections

# Lines that open, close or confuse some state of some splitter: fences, comments, raw HTML,
# setext/RST adornments, directives, AsciiDoc blocks, front matter, badges, lists and quotes.
TRICKY = (
    "# Title", "## Sub title", "###### deep", "#", "#no space", "Title", "=====", "-----", "~~~~~", "^^^^^", "+++++",
    "```", "```python", "~~~", "````", "<!--", "-->", "<!-- note -->", "<div>", "</div>", "<pre>", "</pre>",
    "<script>", ".. note::", ".. image:: logo.png", ".. _target:", ".. |sub| image:: x.png", "..", "   indented",
    "\tTabbed", "", "   ", "- item", "* item", "1. item", "> quote", ">>> prompt", "[![b](u)](l)", "![img](x)",
    "---", "+++", "title: Front", "...", "::: pkg.mod", "////", "....", "----", "====", "[[anchor]]", ":attr: value",
    "= AsciiDoc title", "== Section", "ifdef::x[]", "endif::[]", "| a | b |", "[link]: http://x", "```{automodule} x",
    "plain words here", "Another paragraph line.", "`", "``", "<", "[", "](", "\\", "é ü 漢字", "\r", "x" * 40,
)  # fmt: skip
lines = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=20)), max_size=60)
formats = st.sampled_from(FORMATS)


def _check_order(sections: list[Section], text: str) -> None:
    """Sections run in document order; their body lines are real source lines, each used once, in order,
    within the section's span; nothing is invented."""
    source = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    previous_line = 0
    previous_start = 0
    for section in sections:
        assert section.start_line >= previous_start
        assert section.start_line <= section.end_line or not section.body
        previous_start = section.start_line
        for number, body in section.body:
            assert 1 <= number <= len(source)
            assert number > previous_line  # each source line at most once, in order
            previous_line = number
            assert section.start_line <= number <= section.end_line
            assert len(body) <= len(source[number - 1])  # cleaning only removes text
            assert (
                body == ""
                or body.strip() in source[number - 1]
                or "<!--" in source[number - 1]
                or "-->" in text
            )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=lines, fmt=formats, newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_mix_of_tricky_lines_splits_without_error_and_in_order(
    parts: list[str], fmt: str, newline: str
) -> None:
    text = newline.join(parts)
    sections = split_sections(text, fmt)
    _check_order(sections, text)
    assert split_sections(text, fmt) == sections  # deterministic


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    blocks=st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=3)), min_size=1, max_size=25)
)
def test_markdown_prose_under_atx_headings_is_all_kept_in_order(blocks: list[tuple[bool, int]]) -> None:
    out, prose = [], []
    for index, (heading, level) in enumerate(blocks):
        if heading:
            out += ["#" * level + f" Heading {index}", ""]
        else:
            prose.append(f"Prose line number {index}.")
            out += [prose[-1], ""]
    sections = split_sections("\n".join(out), "markdown")
    kept = [text for s in sections for _, text in s.body if text]
    assert kept == prose
    assert [s.title for s in sections if s.level] == [f"Heading {i}" for i, (h, _) in enumerate(blocks) if h]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=st.lists(st.tuples(st.booleans(), st.sampled_from("=-~^")), min_size=1, max_size=25))
def test_rst_prose_under_underlined_titles_is_all_kept_in_order(blocks: list[tuple[bool, str]]) -> None:
    out, prose = [], []
    for index, (title, char) in enumerate(blocks):
        if title:
            out += [f"Title {index}", char * 12, ""]
        else:
            prose.append(f"Prose line number {index}.")
            out += [prose[-1], ""]
    sections = split_sections("\n".join(out), "rst")
    assert [text for s in sections for _, text in s.body if text] == prose
    assert [s.title for s in sections if s.level] == [f"Title {i}" for i, (t, _) in enumerate(blocks) if t]
    for section in sections:
        assert all(not set(t) <= set("=-~^") or not t for _, t in section.body)  # no adornment is body text


# Adversarial inputs of about 100k repetitions: a quadratic scan would take minutes, a linear one well
# under a second. The bound is generous for a loaded machine.
ADVERSARIAL = {
    "hashes line": "#" * 100_000,
    "hash lines": "#\n" * 100_000,
    "backticks line": "`" * 100_000,
    "fence lines": "```\n" * 100_000,
    "unclosed fence": "```\n" + "text\n" * 100_000,
    "comment openers": "<!--" * 100_000,
    "comment lines": "<!--\n" * 100_000,
    "setext pairs": "Title\n=====\n" * 25_000,
    "adornments": "=====\n" * 50_000,
    "overlines": "=====\nTitle\n" * 25_000,
    "directives": ".. note::\n" * 100_000,
    "indented after directive": ".. image:: x\n" + "   indented\n" * 100_000,
    "brackets": "[" * 100_000 + "](" * 50_000,
    "html opens": "<div>\n" * 100_000,
    "quotes": "> " * 100_000,
    "asciidoc delimiters": "----\n" * 100_000,
    "front matter": "---\ntitle: x\n" + "key: value\n" * 100_000,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_input_costs_linear_time(name: str) -> None:
    text = ADVERSARIAL[name]
    for fmt in FORMATS:
        start = time.process_time()
        sections = split_sections(text, fmt)
        spent = time.process_time() - start
        assert spent < 5.0, f"{name} as {fmt}: {spent:.2f} CPU-s"
        assert isinstance(sections, list)
