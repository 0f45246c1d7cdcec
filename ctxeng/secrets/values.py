"""Tests on a candidate secret value: is it a placeholder, a piece of code, or a random-looking string?"""

from __future__ import annotations

import math
import re
from collections import Counter

# Whole values (lower-cased) that stand for a secret without being one.
PLACEHOLDER_VALUES = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "secret", "secrets", "token", "tokens", "key", "apikey",
    "api_key", "credentials", "none", "null", "nil", "undefined", "true", "false", "empty", "string", "str",
    "bytes", "required", "optional", "hidden", "masked", "default", "value", "values", "foo", "bar", "baz",
    "foobar", "test", "testing", "example", "sample", "dummy", "fake", "changeme", "changeit", "secret123",
    "password123", "username", "user", "admin", "root", "guest", "tbd", "n/a",
})  # fmt: skip
# Substrings (lower-cased) that mark documentation, templates and redaction markers.
PLACEHOLDER_PARTS = (
    "xxx", "***", "...", "•••", "changeme", "change_me", "change-me", "changeit", "placeholder",
    "your_", "your-", "yourpass", "yoursecret", "yourtoken", "yourkey", "yourapi", "<your", "example",
    "redacted", "dummy", "notreal", "not_real", "not-real", "not_a_", "not-a-", "fake", "replace_",
    "replace-", "replaceme", "insert_", "insert-", "enter_", "enter-", "todo", "fixme", "${", "{{",
    "}}", "%(", "%s", "$(", "[redacted",
)  # fmt: skip
# Same-case forms only: a random token may hold "xXx" or "TODo" by chance, a placeholder does not.
_PLACEHOLDER_CASED = tuple(
    dict.fromkeys(f for p in PLACEHOLDER_PARTS for f in (p, p.upper(), p.capitalize()))
)
_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%[A-Za-z_][A-Za-z0-9_]*%|\{[^{}]*\}")
# Words that name a secret: a value containing one is a field name or a label, not a secret.
SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "credential")
_NUMBER = re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9]+)?")
_ATTRIBUTE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+")
_CODE_START = tuple("([{&*!@$%<>|\\#=")
# Words in names: "Name", "name", "NAME" (4+ letters; "Abc" counts, as in `ThisIsATest`).
_WORD = re.compile(r"[A-Z][a-z]{2,}|[a-z]{4,}|[A-Z]{4,}")
_DIGIT_RUN = re.compile(r"[0-9]+")


def is_placeholder(value: str, min_length: int = 3) -> bool:
    """True for values that stand in for a secret: `xxx`, `changeme`, `<password>`, `${VAR}`, `****`...

    Values shorter than `min_length` count as placeholders too (too short to be a credential).
    """
    if len(value) < max(min_length, 1):
        return True
    if value.lower() in PLACEHOLDER_VALUES or any(part in value for part in _PLACEHOLDER_CASED):
        return True
    if (value[0], value[-1]) in (("<", ">"), ("[", "]"), ("{", "}"), ("(", ")")):
        return True
    if _VARIABLE.fullmatch(value):
        return True
    # One character dominating (`aaaaaaaa`, `0000-0000`, `ghp_XXXX...`) is a mask, not a key.
    most_common = Counter(value).most_common(1)[0][1]
    return len(value) > 2 and most_common * 2 > len(value)


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
    # A variable name (`pw`, `user_pw1`); a single word with a digit (`hunter2`) reads as a literal.
    return all(c.isalnum() or c == "_" for c in value) and (
        "_" in value or not any(c.isdigit() for c in value)
    )


def entropy(value: str) -> float:
    """Shannon entropy of the value's characters, in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def is_wordy(value: str) -> bool:
    """True when the letters form words (`my_long_identifier`, `SomeClassName`, `TIMEOUT_2`), not noise.

    Measured on seeded random strings: 2-4 % of random base62 strings of 12-16 characters pass
    as words, 0.4 % at 24 and 0.1 % at 32 characters, so only short random values are at risk.
    """
    letters = sum(c.isalpha() for c in value)
    in_words = sum(len(m) for m in _WORD.findall(value))
    return in_words >= 8 and in_words >= 0.8 * letters and len(_DIGIT_RUN.findall(value)) <= 1


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
    if entropy(value) < min(3.0, 0.75 * math.log2(len(value))):
        return False
    return not is_wordy(value)


def mixed(value: str) -> bool:
    """True when the value mixes at least two of lower case, upper case and digits."""
    return (
        any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
    ) >= 2
