"""Words for matching prompts to code: identifier splitting, light stemming and stopwords."""

from __future__ import annotations

import functools
import re

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# Identifiers as people write them in prompts: snake_case, CamelCase, dotted paths, kebab-case.
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_PATHLIKE = re.compile(
    r"[\w.\-]+(?:/[\w.\-]+)+|[\w\-]+\.(?:py|pyi|js|jsx|ts|tsx|go|rs|java|c|h|cc|cpp|hpp|rb|cs|md|rst|toml|ya?ml|json)\b"
)
# `_PATHLIKE` backtracks: on one long run of path characters it is quadratic (a 40k-character token
# took 87 s). Its matches never leave a run of `_PATH_RUN`, so it is applied run by run, and runs
# longer than any real path are skipped: the cost is then linear in the prompt (≤ MAX_PATH² per run).
_PATH_RUN = re.compile(r"[\w.\-/]+")
MAX_PATH = 512
#: Only this many characters of a prompt feed term extraction: a pasted log or file adds nothing
#: past its start but time (a 5 MB prompt ran for minutes), so the cost is bounded by this, not the input.
MAX_PROMPT_CHARS = 32_768

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below between
    both but by can could did do does doing done down during each few for from further get gets got had has
    have having he her here how i if in into is it its itself just let me more most my no nor not now of off
    on once only or other our out over own please same she should so some such than that the their them then
    there these they this those through to too under until up us use used using very was we were what when
    where which while who whom why will with would you your code file files function functions method class
    make makes need needs want wants like look see show tell explain work works working thing things way
    new add fix change update implement write check help find run call py pyi js jsx ts tsx go rs rb cs cc cpp
    hpp md rst txt toml yml yaml json""".split()
)


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A deliberately small suffix stripper (same on both sides of a match, so its mistakes cancel):
    plurals and -ing/-ed go, then a final -e, so delete/deleted/deletes/deleting all become "delet"."""
    # Memoised: an index build stems ~80k identifier parts, about a tenth of them distinct.
    w = word
    if len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith(("ied", "ies")):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 4 and w.endswith(("ches", "shes", "sses", "xes", "zes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


def split_identifier(name: str) -> list[str]:
    """The lower-cased parts of an identifier: `flush_pendingObjects` → flush, pending, objects."""
    # `_CAMEL` matches only ASCII letters and digits and looks ahead only at letters, so no match
    # or lookahead crosses a separator: one pass over the whole name splits it chunk by chunk.
    return [p.lower() for p in _CAMEL.findall(name)]


def name_terms(name: str) -> list[str]:
    """Distinct stemmed terms of an identifier or path, in first-seen order, stopwords and 1-letter parts out."""
    return list(_name_terms(name))


@functools.lru_cache(maxsize=1 << 16)
def _name_terms(name: str) -> tuple[str, ...]:
    # Memoised: an index build splits ~200k identifiers and words, most of them repeats.
    out: list[str] = []
    for part in split_identifier(name):
        if len(part) < 2 or part.isdigit() or part in STOPWORDS:
            continue
        term = stem(part)
        if term not in out:
            out.append(term)
    return tuple(out)


def text_terms(text: str, limit: int = 64) -> list[str]:
    """Distinct stemmed terms of prose (headings, subjects), at most `limit`, in first-seen order."""
    out: dict[str, None] = {}  # an ordered set
    for word in dict.fromkeys(_WORD.findall(text)):  # a repeated word adds no new term
        for term in _name_terms(word):
            if term not in out:
                out[term] = None
                if len(out) >= limit:
                    return list(out)
    return list(out)


def prompt_identifiers(prompt: str) -> list[str]:
    """Tokens of a prompt written like code: in backticks, snake_case, camelCase, CapWords or dotted.

    A dotted token yields its last part too (`Session.flush` → `Session.flush`, `flush`).
    """
    quoted = re.findall(r"`([^`\n]{1,120})`", prompt)
    found: dict[str, None] = {}  # an ordered set: a list's `in` made long prompts quadratic

    def add(token: str) -> None:
        if len(token) > 1:
            found[token] = None

    for chunk in quoted:
        for piece in _IDENT.findall(chunk):
            add(piece)
            add(piece.rsplit(".", 1)[-1])
    for piece in _IDENT.findall(prompt):
        last = piece.rsplit(".", 1)[-1]
        dotted = "." in piece and min(len(p) for p in piece.split(".")) > 1
        if "_" in last.strip("_") or re.search(r"[a-z][A-Z]|[A-Z][a-z]+[A-Z]", last) or dotted:
            add(piece)
            add(last)
    return list(found)


def prompt_paths(prompt: str) -> list[str]:
    """Tokens of a prompt that look like file paths or file names."""
    out: dict[str, None] = {}  # an ordered set
    for run in _PATH_RUN.findall(prompt):
        if len(run) > MAX_PATH:
            continue
        for token in _PATHLIKE.findall(run):
            token = token.strip("./")
            if token:
                out[token] = None
    return list(out)
