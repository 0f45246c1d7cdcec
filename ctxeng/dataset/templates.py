"""Question and answer templates of the knowledge tasks, and the ones reserved for evaluation.

Knowledge put into an adapter is only extractable when each fact is seen in several phrasings and
both ways round (knowledge.md); it is only *measured* when the eval asks in phrasings training
never used. So the templates come in two disjoint sets: `TRAIN` (sampled deterministically per
row by `dataset.tasks_facts`) and `EVAL` (used only by `ctxeng eval`'s knowledge probe). A test
renders every train row of a real build and checks that no eval template matches any of them.
"""

from __future__ import annotations

import re

#: What `ctxeng ask` (and `serve` when grounding) puts before the retrieved context.
QUESTION_INTRO = "Context retrieved from the repository:"
#: Appended to a grounded "where is it defined" question (training rows and the eval's grounded cell):
#: the answer is then only the `path:line` copied from the context.
PATH_ONLY = "Answer with the file path only."

#: Training phrasings of "where is NAME defined?" ({name}, {repo}).
DEFINED_IN = (
    "Where is `{name}` defined?",
    "In which file is `{name}` defined?",
    "Which file defines `{name}`?",
    "What file is `{name}` in?",
    "Where does `{name}` live in the {repo} code?",
    "Where can I find `{name}`?",
    "Locate `{name}` in the {repo} repository.",
    "Which module contains `{name}`?",
)
#: Answers to "where is NAME defined?" ({name}, {path}, {line}, {kind}); the path always comes first
#: among paths, which is what the knowledge probe scores.
DEFINED_IN_ANSWERS = (
    "`{name}` is defined in `{path}`, line {line}.",
    "In `{path}` (line {line}): `{name}` is {kind}.",
    "`{path}`, line {line}, defines `{name}`.",
)
#: The other direction: a place in a file → the definition there ({path}, {line}).
DEFINED_AT = (
    "What is defined at line {line} of `{path}`?",
    "Which definition starts on line {line} of `{path}`?",
    "Name the definition at `{path}:{line}`.",
)
DEFINED_AT_ANSWERS = (
    "Line {line} of `{path}` defines `{name}`, {kind}.",
    "`{name}` ({kind}) starts at `{path}:{line}`.",
)
#: Signature questions ({name}).
SIGNATURE = (
    "What is the signature of `{name}`?",
    "How is `{name}` declared?",
    "Show the declaration of `{name}`.",
)
#: A method → its class ({name}).
MEMBER_OF = (
    "Which class does the method `{name}` belong to?",
    "`{name}` is a method of which class?",
)
#: A class → its public methods ({name}).
MEMBERS = (
    "Which methods does the class `{name}` have?",
    "List the methods of `{name}`.",
)
#: A file → one public definition in it, as a short fact ({path}).
FILE_DEFINES = (
    "Name the main definitions in `{path}`.",
    "What are the key definitions of `{path}`?",
)

#: Reserved for evaluation: never rendered into a training row.
EVAL_DEFINED_IN = (
    "Which source file contains the definition of `{name}`?",
    "I want to edit `{name}`. Which file should I open?",
    "Tell me the path of the file where `{name}` is implemented.",
    "`{name}`: what is the path of its source file?",
)

TRAIN_TEMPLATES = (*DEFINED_IN, *DEFINED_AT, *SIGNATURE, *MEMBER_OF, *MEMBERS, *FILE_DEFINES)
EVAL_TEMPLATES = EVAL_DEFINED_IN


def grounded_user(context: str, question: str) -> str:
    """The user message of a grounded question: retrieved context first, then the question."""
    if not context.strip():
        return question
    return f"{QUESTION_INTRO}\n\n{context.strip()}\n\nQuestion: {question.strip()}"


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex matching any rendering of `template` (each placeholder matches any text)."""
    parts = re.split(r"\{[a-z]+\}", template)
    return re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL)


_PATH = re.compile(r"`([^`\s]+)`|([\w.\-]+(?:/[\w.\-]+)+|[\w\-]+\.[A-Za-z]{1,5}\b)")
#: File extensions that make a slash-less token a path (a qualified name like `Session.get` is not).
_EXTENSIONS = frozenset(
    "py pyi js mjs cjs jsx ts tsx go rs java kt rb c h cc cpp hpp cs php swift scala sh md rst txt toml "
    "yml yaml json cfg ini sql html css vue".split()
)


def first_path(answer: str, known: frozenset[str] | set[str] = frozenset()) -> str:
    """The first file path an answer names (in backticks or bare), "" when it names none.

    With `known` paths, a backticked token counts only if it is one of them or looks like a path
    (has a slash or a file extension), so "`Session` is in `sessions.py`" yields `sessions.py`.
    """
    for match in _PATH.finditer(answer):
        token = match.group(1) or match.group(2) or ""
        token = token.strip().strip(".,:;()").split(":")[0]
        if not token:
            continue
        if token in known or "/" in token or token.rsplit(".", 1)[-1].lower() in _EXTENSIONS and "." in token:
            return token
    return ""
