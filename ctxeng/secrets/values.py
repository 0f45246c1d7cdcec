"""Tests on a candidate secret value: is it a placeholder, a piece of code, or a random-looking string?"""

from __future__ import annotations

import math
import re
from collections import Counter

from ctxeng.secrets.trigrams import COMMON_TRIGRAMS

# Whole values (lower-cased) that stand for a secret without being one.
PLACEHOLDER_VALUES = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "secret", "secrets", "token", "tokens", "key", "apikey",
    "api_key", "credentials", "none", "null", "nil", "undefined", "true", "false", "empty", "string", "str",
    "bytes", "required", "optional", "hidden", "masked", "default", "value", "values", "foo", "bar", "baz",
    "foobar", "test", "testing", "example", "sample", "dummy", "fake", "changeme", "changeit", "secret123",
    "password123", "username", "user", "admin", "root", "guest", "tbd", "n/a",
})  # fmt: skip
#: Documented example credentials (AWS's own docs): whole values, never parts of one.
DOCUMENTED_EXAMPLES = frozenset({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
# Words a placeholder is made of (`your-api-key-here`, `CHANGE_ME`, `not_a_real_token`, `fake-password-1`).
# A value is a placeholder only when ALL of its words are such words and one of them marks it
# (`_MARKERS`): a random value never consists of dictionary words, so no substring of one decides.
_FILLER_WORDS = frozenset(
    "a an the my our your here goes put insert enter replace with change me it this to be set of for in"
    " api key keys access auth token tokens secret secrets password passwd pass pwd passphrase credential"
    " credentials client private public value string id user username name app application service db"
    " database account test testing live prod dev sample demo default valid invalid real".split()
)
_MARKERS = frozenset(
    "your here insert enter replace change changeme changeit example sample dummy fake placeholder redacted"
    " todo fixme tbd not notreal xxx xxxx foo bar baz".split()
)
_PLACEHOLDER_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
# Interpolations and template variables: `${VAR}`, `$VAR`, `%VAR%`, `{{ x }}`, `%(name)s`, `%s`, `$(cmd)`,
# `${{ secrets.X }}`, `<%= x %>`, `@VAR@`. A value made only of these (and punctuation) is a template.
_TEMPLATE = re.compile(
    r"\$\{\{[^{}]{0,200}\}\}|\$\{[^{}]{0,200}\}|\$\([^()]{0,200}\)|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Z_][A-Z0-9_]*%"
    r"|\{\{[^{}]{0,200}\}\}|%\([A-Za-z_][A-Za-z0-9_]*\)[a-z]|%[-0-9.]*[sdrifx]|<%=?[^%]{0,200}%>|@[A-Z_]{2,}@"
    r"|\{[A-Za-z0-9_.\[\]]{0,80}\}"
)
# Runs of mask characters (`sk-****1234`, `••••`, `ghp_...`): four or more, which random text never has.
_MASK_RUN = re.compile(r"[*•.]{4,}|…|[xX]{4,}(?=[^A-Za-z0-9]|$)")
_TEMPLATE_START = frozenset("$%{<@")
_MASK_CHARS = frozenset("*•.…xX")
# Words that name a secret: a value containing one is a field name or a label, not a secret.
SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "credential")
_NUMBER = re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9]+)?")
_ATTRIBUTE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+")
_CODE_START = tuple("([{&*!@$%<>|\\#=")
# Words in names: "Name", "name", "NAME" (4+ letters; "Abc" counts, as in `ThisIsATest`).
_WORD = re.compile(r"[A-Z][a-z]{2,}|[a-z]{4,}|[A-Z]{4,}")
_DIGIT_RUN = re.compile(r"[0-9]+")


def is_placeholder(value: str, min_length: int = 3) -> bool:
    """True for WHOLE values that stand in for a secret: `<your-key>`, `xxxx…`, `changeme`, `${VAR}`, `****`...

    Only the value as a whole decides (a template, a mask, a known stand-in, words such as
    `your-api-key-here`); a random value that merely contains "xxx" or "todo" is not a
    placeholder. Values shorter than `min_length` count as placeholders too (too short to be a
    credential).
    """
    if len(value) < max(min_length, 1):
        return True
    if value.lower() in PLACEHOLDER_VALUES or value in DOCUMENTED_EXAMPLES:
        return True
    if (value[0], value[-1]) in (("<", ">"), ("[", "]"), ("{", "}"), ("(", ")")):
        return True
    chars = set(value)  # the regexes below only run when their characters occur (most tokens: never)
    rest = value if chars.isdisjoint(_TEMPLATE_START) else _TEMPLATE.sub("", value)
    if not any(c.isalnum() for c in rest):
        return True  # `${VAR}`, `{{ vault_pw }}`, `%(password)s`, `${USER}:${PASS}`
    if not chars.isdisjoint(_MASK_CHARS) and _MASK_RUN.search(value):
        if sum(c.isalnum() for c in _MASK_RUN.sub("", value)) <= 8:
            return True  # `sk-****abcd`: a masked display of a key, too little left to be one
    # One character dominating (`aaaaaaaa`, `0000-0000`, `XXXX...`) is a mask, not a key.
    if len(value) > 2 and max(Counter(value).values()) * 2 > len(value):
        return True
    return _placeholder_words(value)


def _placeholder_words(value: str) -> bool:
    """`your-api-key-here`, `CHANGE_ME`, `fake_password_1`: only filler words, at least one marker."""
    marked = False
    in_words = 0
    for match in _PLACEHOLDER_WORD.finditer(value):
        word = match.group().lower()
        in_words += len(word)
        if word in _MARKERS:
            marked = True
        elif word not in _FILLER_WORDS and not word.isdigit():
            return False  # the common case, at the first random word
    return marked and in_words * 2 >= len(value)


def names_a_secret(value: str) -> bool:
    """True when the value itself contains a word like `password` (a field name, not a secret)."""
    lower = value.lower()
    return any(word in lower for word in SECRET_WORDS)


def is_code(value: str) -> bool:
    """True when an unquoted value reads as code: a name, attribute access, call, subscript or number.

    Names count as code (`password = pw`, `username_1`) unless they are a single word with a
    digit (`hunter2`) or look random (`Zq8_x7Lk...`); values with punctuation (`s3cr3t!`) are literals.
    """
    if value.startswith(_CODE_START) or value.endswith((",", "(", "[", "{", ":")):
        return True
    if _NUMBER.fullmatch(value) or _ATTRIBUTE.fullmatch(value):
        return True
    if "(" in value or "[" in value:
        return True
    # A variable name (`pw`, `user_pw1`); a single word with a digit (`hunter2`) reads as a literal,
    # and so does a random-looking one (`W_opUXSp0YWZtmLM88_W`: no one names a variable so).
    return (
        all(c.isalnum() or c == "_" for c in value)
        and ("_" in value or not any(c.isdigit() for c in value))
        and not looks_random(value, min_length=16)
    )


def entropy(value: str) -> float:
    """Shannon entropy of the value's characters, in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def is_wordy(value: str) -> bool:
    """True when the letters form words (`my_long_identifier`, `SomeClassName`, `TIMEOUT_2`), not noise.

    Words must also read as words: at least half of their letter trigrams are among the 1,000
    commonest of identifier words (`ctxeng.secrets.trigrams`). Measured on seeded random
    strings: without that test 2-4 % of random base62 strings of 12-16 characters passed as
    words, 0.9 % at 20 characters; with it about 1 % of those still do.
    """
    letters = sum(c.isalpha() for c in value)
    words = _WORD.findall(value)
    in_words = sum(map(len, words))
    if not (in_words >= 8 and in_words >= 0.8 * letters and len(_DIGIT_RUN.findall(value)) <= 1):
        return False
    # Runs of random letters pass the test above by chance (0.9 % of random 20-character values);
    # their trigrams are rarely those of real words (`Uksd`, `Nxeony`), which drops that to ~0.01 %.
    trigrams = [w[i : i + 3] for w in map(str.lower, words) for i in range(len(w) - 2)]
    return 2 * sum(t in COMMON_TRIGRAMS for t in trigrams) >= len(trigrams)


def looks_random(value: str, min_length: int = 12) -> bool:
    """True for strings that look generated: long enough, mixed classes, high entropy, not words.

    Hex digests, UUIDs and base64 pass this test, so it is only used where a keyword already
    says that the value is a secret (`api_key = "..."`).
    """
    if len(value) < min_length or any(c.isspace() for c in value):
        return False
    classes = (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )
    if classes < 2:
        return False
    # Random hex of 20 characters falls under 3.0 bits 3 % of the time, under 2.5 almost never.
    if entropy(value) < min(2.5, 0.6 * math.log2(len(value))):
        return False
    return not is_wordy(value)


def mixed(value: str) -> bool:
    """True when the value mixes at least two of lower case, upper case and digits."""
    chars = set(value)
    return (
        any(c.islower() for c in chars) + any(c.isupper() for c in chars) + any(c.isdigit() for c in chars)
    ) >= 2
