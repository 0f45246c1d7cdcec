"""Which commits a newcomer should read about: no bots, dependency bumps, releases, merges or repeats."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ctxeng.pack.facts import Commit, first_sentence

# Subjects that record routine work: merges, version bumps, formatting, typo and changelog edits.
ROUTINE = re.compile(
    r"^(?:merge|bump|release(?=\s+v?\d|\s*$|:)|version|typo|fix(?:ed)? typos?|format|wip"
    r"|update (?:readme|changelog|authors|copyright)"
    r"|prepare (?:for )?(?:the )?(?:next )?release|back to dev|start (?:of )?\S+ development|\[pre-commit\.ci\]"
    r"|pre-commit autoupdate)\b",
    re.IGNORECASE,
)
# A release cut: "v1.2.3", "- 2.1.0b3", "1.2.3 release", "Release 1.2", "cut 2.0".
RELEASE = re.compile(
    r"^[\s\-*]*(?:v?\d+(?:\.\d+)+\S*|(?:cut|tag)\s+v?\d+(?:\.\d+)+\S*)(?:\s+release)?[\s.]*$", re.I
)
# A dependency update, by hand or by a bot: `build(deps): …`, `chore(deps-dev): …`, "Bump x from 1 to 2",
# "Update dependency x to v2" (renovate), "Upgrade `x`" (one package named, nothing else said).
DEPENDENCY = re.compile(
    r"^\w+\((?:deps?|deps-dev|dev-deps|dependencies|dependabot|renovate)[^)]*\)!?:|^(?:deps?|dependencies)(?:\([^)]*\))?!?:"
    r"|^(?:chore|build|ci|fix)(?:\([^)]*\))?!?:\s*(?:bump|update|upgrade|pin)\s+(?:dependency|dependencies|deps|\S+ from\b)"
    r"|\b(?:bump|bumps|bumped|upgrade|update|pin)\s+(?:the\s+)?\S+(?:\s+and\s+\S+)?\s+from\s+\S+\s+to\s+\S+"
    r"|^(?:bump|update|upgrade|pin)\s+(?:dependency|dependencies|deps|module|the\s+\S+\s+group|\S+\s+(?:action|digest))\b"
    r"|^(?:bump|update|upgrade)\s+`?[\w@./:-]+`?(?:\s+(?:to|from)\s+v?\S+)*\s*(?:\(#\d+\))?$"
    r"|^(?:\w+(?:\([^)]*\))?!?:\s*)?(?:bump|update|upgrade)\b.*\bto\s+(?:version\s+)?v?\d+(?:\.\d+)+",
    re.IGNORECASE,
)
_ISSUE_REF = re.compile(r"\s*\((?:#|gh-|GH-)\d+\)|\s+#\d+\b")
_CONVENTIONAL = re.compile(r"^\w+(?:\([^)]*\))?!?:\s*")
_REVERT = re.compile(r'^Revert\s+"(.+)"\s*(?:\(#\d+\))?$')
# Lines of a body that do not explain the change: trailers, headings, checklists, bot boilerplate.
_TRAILER = re.compile(r"^(?:[A-Za-z]+(?:-[A-Za-z]+)+|Fixes|Closes|Resolves|Refs?|See|Issue|Bug|Ticket|PR):\s")
_NOT_WHY = re.compile(
    r"^(?:#{1,6}\s|<!--|-->|\[[ x]\]|[-*]\s+\[[ x]\]|this reverts commit|\(cherry picked from|---|==="
    r"|(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?|refs?|see)\s+(?:#|gh-|https?://)\S+\s*$)|this is a combination of"
    r"|:\s*$",
    re.I,
)


def is_routine(commit: Commit) -> bool:
    """Whether a commit is routine upkeep a newcomer need not read about: a bot's, a dependency
    update, a release cut, a merge, formatting or a typo fix."""
    subject = commit.subject.strip()
    return commit.bot or bool(ROUTINE.match(subject) or RELEASE.match(subject) or DEPENDENCY.search(subject))


def subject_key(subject: str) -> str:
    """A subject compared for repeats: issue references, case and spacing ignored."""
    return " ".join(_ISSUE_REF.sub("", subject).casefold().split()).rstrip(".")


def _gist(text: str) -> str:
    """What a subject or body line says, without a conventional prefix or an ellipsis cut."""
    return subject_key(_CONVENTIONAL.sub("", text.strip())).rstrip("….").strip()


def distinct(commits: Iterable[Commit]) -> Iterator[Commit]:
    """`commits` (newest first) without routine ones, repeated subjects (cherry-picks, re-landed
    changes: the newest is kept), or a change together with its revert (neither is left in the code)."""
    chosen = list(commits)
    present = {subject_key(c.subject) for c in chosen}
    undone = {
        key
        for c in chosen
        if (m := _REVERT.match(c.subject.strip())) and (key := subject_key(m.group(1))) in present
    }
    seen: set[str] = set()
    for commit in chosen:
        key = subject_key(commit.subject)
        revert = _REVERT.match(commit.subject.strip())
        if (
            is_routine(commit)
            or key in seen
            or key in undone
            or (revert and subject_key(revert.group(1)) in undone)
        ):
            continue
        seen.add(key)
        yield commit


def why(commit: Commit, limit: int = 160) -> str:
    """The first sentence of the body that explains the change ("" when none), starting at its first
    line that is not a trailer, heading, checklist, revert boilerplate or a repeat of the subject."""
    subject = _gist(commit.subject)
    lines = commit.body.split("\n")
    fence = False
    for index, line in enumerate(lines):
        if line.strip().startswith(("```", "~~~")):
            fence = not fence
            continue
        if fence or line.startswith(("    ", "\t")):
            continue  # code, not an explanation
        text = line.strip().lstrip("*-• ").strip()
        if not text or _TRAILER.match(text) or _NOT_WHY.search(text) or not any(ch.isalpha() for ch in text):
            continue
        gist = _gist(text)
        if gist.startswith(subject) or subject.startswith(gist):
            continue  # the subject again (a squash's first line, a PR title)
        rest = [text]
        for more in lines[index + 1 :]:  # the paragraph goes on until a blank line, list item or trailer
            more = more.strip()
            if not more or more.startswith(("*", "-", "•", "#", "```", "~~~")) or _TRAILER.match(more):
                break
            rest.append(more)
        return first_sentence(" ".join(rest), limit)
    return ""
