"""CommitPackFT-style commit filters (the filters of the CommitPackFT paper, arXiv:2308.07124), adapted to one repository's history."""

from __future__ import annotations

import re

MIN_SUBJECT_CHARS = 10  # CommitPackFT: 10 < chars < 1000
MAX_SUBJECT_CHARS = 1000
# CommitPackFT asks for 5 words; one repository has far fewer commits than GitHub, and short
# imperative subjects ("Add JavaScript client") still read as instructions, so 3 is enough here.
MIN_SUBJECT_WORDS = 3

#: Imperative verbs an instruction may start with (CommitPackFT's list, trimmed to common ones).
_VERBS = """
accept access adapt add adjust align allow apply archive assert avoid build bump cache call change check
clarify clean cleanup clear close collect combine comment compute configure consolidate convert copy correct
create decouple decrease define delete deprecate describe detect disable display document drop emit enable
encode enforce ensure exclude expand expose extend extract factor fix flatten format generalize generalise
group guard handle hide ignore implement import improve include increase initialize initialise inline
insert install introduce invert isolate keep limit load log make mark merge migrate minimize move normalize
normalise omit optimize optimise override parse pass patch persist populate port prefer prepare prevent
print process propagate protect provide prune publish raise read record redirect reduce refactor refine
register reject release reload remove rename reorder reorganize reorganise repair replace report require
reset resolve restore restructure restrict retry return reuse revise rewrite run save scope separate
serialize set show simplify skip sort speed split start stop store streamline strip support switch sync
tidy track translate trim truncate tune turn tweak unify update upgrade use validate verify wrap write
"""
IMPERATIVE_VERBS = frozenset(_VERBS.split())

_TAG_PREFIX = re.compile(r"^\s*(\[[^\]]*\]\s*)+")
_SCOPE_PREFIX = re.compile(r"^\s*[\w./*-]+(\([^)]*\))?!?:\s+")  # "store: ...", "fix(codec): ..."
_TAG_SUFFIX = re.compile(r"(\s*\[[^\]]*\])+\s*$")
_SKIP_CI = re.compile(r"\[(skip ci|ci skip)\]", re.IGNORECASE)
_BAD = "update|updates|readme|update readme|updated readme|test|tests|dummy|fix|fixes|wip|cleanup|minor|typo"
_BAD_EXACT = frozenset((_BAD + "|initial commit").split("|"))
_BAD_CONTAINS = (
    "merge branch", "merge pull request", "merge remote-tracking", "auto commit", "signed-off-by", "<?xml",
    "cherry picked from commit", "code review", "work in progress",
)  # fmt: skip
_NOISE = [
    ("issue_ref", re.compile(r"#\d|\b(issue|bug|feature|ticket|pr)\s*#?\d+", re.IGNORECASE)),
    ("version", re.compile(r"\bv?\d+\.\d+(\.\d+)+\b")),
    ("hash", re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b")),
    ("url", re.compile(r"https?://|www\.", re.IGNORECASE)),
    ("wip", re.compile(r"\bwip\b", re.IGNORECASE)),
    ("first_person", re.compile(r"(^|\s)(i|i'm|i've|i'll)(\s|$)", re.IGNORECASE)),
    ("thanks", re.compile(r"\bthanks?\s+to\b.*\bfor\b", re.IGNORECASE)),
]
_BUMP = re.compile(r"^(bump|set version|update version|release|prepare release|version)\b", re.IGNORECASE)
_REVERT = re.compile(r"^(revert|reapply)\b", re.IGNORECASE)
_MERGE = re.compile(r"^merge\b", re.IGNORECASE)
#: Trailer keys removed from commit messages: they name people, not the change.
_TRAILER = re.compile(
    r"^(signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by|reported-by|suggested-by|helped-by|"
    r"cc|change-id|reviewed-on|git-svn-id)\s*:",
    re.IGNORECASE,
)


def clean_subject(subject: str) -> str:
    """The subject without leading `[tag]`/`scope:` words, trailing `[tag]`s and `[skip ci]`."""
    text = _SKIP_CI.sub("", subject).strip()
    text = _TAG_PREFIX.sub("", text)
    text = _SCOPE_PREFIX.sub("", text, count=1)
    return _TAG_SUFFIX.sub("", text).strip()


def _common(subject: str) -> str:
    """Reasons shared by both commit tasks ("" = keep)."""
    lower = subject.lower().strip()
    if _MERGE.match(lower) or any(c in lower for c in ("merge branch", "merge pull request")):
        return "merge"
    if _REVERT.match(lower):
        return "revert"
    if _BUMP.match(lower):
        return "bump"
    if lower.rstrip(".!") in _BAD_EXACT or re.search(r"\bwip\b|work in progress", lower):
        return "low_information"
    return ""


def instruction_reason(subject: str, paths: list[str]) -> str:
    """Why a commit subject is not a usable instruction ("" = it is), after `clean_subject`."""
    reason = _common(subject)
    if reason:
        return reason
    lower = subject.lower()
    if not MIN_SUBJECT_CHARS < len(subject) < MAX_SUBJECT_CHARS:
        return "subject_length"
    words = subject.split()
    if len(words) < MIN_SUBJECT_WORDS:
        return "subject_words"
    if words[0].lower().rstrip(".,:") not in IMPERATIVE_VERBS:
        return "not_imperative"
    if any(bad in lower for bad in _BAD_CONTAINS):
        return "low_information"
    for name, pattern in _NOISE:
        if pattern.search(subject):
            return name
    # CommitPackFT drops subjects naming the file's stem; inside one repository module names are
    # its vocabulary ("Add store with put and get"), so only the full file name counts here.
    if any(p.rsplit("/", 1)[-1].lower() in lower for p in paths if p):
        return "names_file"  # "Update store.py" says nothing the diff does not
    return ""


def message_reason(subject: str) -> str:
    """Why a commit message is not a target for `commit_message` ("" = it is)."""
    reason = _common(subject)
    if reason:
        return reason
    if len(subject.strip()) < MIN_SUBJECT_CHARS or len(subject.split()) < 2:
        return "subject_length"
    return ""


def strip_trailers(message: str) -> str:
    """The message without trailer lines (Signed-off-by, Co-authored-by, …) and trailing blanks."""
    kept = [line for line in message.splitlines() if not _TRAILER.match(line.strip())]
    return "\n".join(kept).strip()
