"""Rules that need context around the secret: private-key blocks, URL/curl/header credentials, assignments."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ctxeng.secrets.rules import B64, Rule, Span, exact, words
from ctxeng.secrets.values import is_code, is_placeholder, is_wordy, looks_random, names_a_secret

# ---------------------------------------------------------------------------------------------
# Private keys: -----BEGIN ... PRIVATE KEY----- blocks, also as `+`-prefixed diff lines, inside
# "...\n..." JSON strings and as concatenated string literals. Only the key material goes.

MAX_KEY_CHARS = 16_384  # the largest PEM private key (RSA 16384 bits) is ~12.7 KB
_PEM_END = re.compile(r"-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_NOISE = re.compile(r"\\[nr]|[\s\"'+,\-]|(?:Proc-Type|DEK-Info|Comment|Version):[^\n\\]{0,200}")
# One line of key material (or a PEM header line, or a blank line), nothing else on the line.
_PEM_LINE = re.compile(
    r"(?:\\r)?(?:\\n|\r?\n)[ \t+\-\"',]{0,8}"
    r"(?:(?P<b>[A-Za-z0-9+/=]{16,200})|(?:Proc-Type|DEK-Info):[^\n\\]{0,200}|)[\"',]{0,3}(?=\\[nr]|\r?\n|$)"
)
_LEADING_NOISE = re.compile(r"(?:\\[nr]|[\s\"',]|(?<=\n)[+\-])*")


def _trim(text: str, start: int, end: int) -> Span:
    """Shrink [start, end) to the key material, leaving line breaks and quotes around it."""
    start = _LEADING_NOISE.match(text, start, end).end()  # type: ignore[union-attr]
    while end > start:
        if text[end - 1] in " \t\r\n\"',":
            end -= 1
        elif end - 2 >= start and text[end - 2 : end] in ("\\n", "\\r"):
            end -= 2
        elif text[end - 1] in "+-" and end - 2 >= start and text[end - 2] in "\n":
            end -= 1
        else:
            break
    return start, end


def _key_lines(text: str, pos: int) -> Span | None:
    """Without an END marker (a cut diff, a truncated record): the run of base64 lines after BEGIN."""
    first = last = -1
    limit = min(len(text), pos + MAX_KEY_CHARS)
    while pos < limit and (m := _PEM_LINE.match(text, pos, limit)):
        if m.start("b") >= 0:
            first = m.start("b") if first < 0 else first
            last = m.end("b")
        pos = m.end()
    return (first, last) if first >= 0 else None


def find_private_keys(begin: Any, text: str) -> Iterator[Span]:
    """Spans of private-key material after each BEGIN marker found by the `begin` pattern."""
    for m in begin.finditer(text):
        body_start = m.end()
        end = _PEM_END.search(text, body_start, body_start + MAX_KEY_CHARS)
        if end:
            rest = _PEM_NOISE.sub("", text[body_start : end.start()])
            if len(rest) >= 16 and all(c in B64 for c in rest):
                start, stop = _trim(text, body_start, end.start())
                if stop > start:
                    yield start, stop
                continue
        span = _key_lines(text, body_start)
        if span:
            yield span


# ---------------------------------------------------------------------------------------------
# Keyword assignments: `password = "..."`, `"api_key": "..."`, `--password=...`, `DB_SECRET=...`.

#: Words that name a password, in the languages developers name variables in.
PASSWORD_WORDS = (
    "passwords?", "passwd", "pass_?phrase", "pwd", "passwort", "kennwort", "contrasena", "contrasenya",
    "mot_de_passe", "mot-de-passe", "mot.de.passe", "motdepasse", "senha", "parola", "wachtwoord", "losenord",
    "adgangskode", "passord", "haslo", "salasana", "jelszo", "heslo", "sifre", "geslo", "lozinka",
    # Leftmost wins: `_PASSWORT` must not stop at `_PASS`, so the suffixes of every `pass…` word are here.
    r"[_\-.]pass(?:words?|wd|_?phrase|wort|ord)?",
)  # fmt: skip
PASSWORD_WORDS_INTL = (
    "contraseña", "пароль", "парола", "lösenord", "hasło", "jelszó", "şifre", "密码", "密碼", "パスワード",
    "비밀번호", "סיסמה",
)  # fmt: skip
#: Words that name other secrets; their values must also look random.
SECRET_WORDS = (
    r"api[_\-.]?keys?", r"access[_\-.]?keys?", r"secret[_\-.]?keys?", r"private[_\-.]?keys?",
    r"signing[_\-.]?keys?", r"encryption[_\-.]?keys?", r"master[_\-.]?keys?", r"auth[_\-.]?keys?", "secrets?", "tokens?", "credentials?",
    "clave",
)  # fmt: skip
_SECRET_FAMILY = re.compile(
    r"secret|token|api|access|private|signing|encryption|master|auth|credential|clave"
)


def _variants(word: str) -> str:
    # Python `re` folds case for ASCII only (the fallback engine runs with re.ASCII).
    return "|".join(sorted({word, word.upper(), word.capitalize()}))


#: The name of a secret (the rule's pattern, scanned by the engine). re2 takes the first
#: alternative that matches at a position, so compound names come before their prefixes.
KEYWORD = (
    r"(?i:" + "|".join(SECRET_WORDS + PASSWORD_WORDS) + r")|"
    + "|".join(_variants(w) for w in PASSWORD_WORDS_INTL) + r"|Pass"
)  # fmt: skip
#: What follows the name: plural/number, closing quote or bracket, operator, value. Python re,
#: anchored right after the keyword and bounded, so each keyword costs at most a few hundred steps.
ASSIGNED = re.compile(
    r"(?P<tail>s|_?[0-9]{1,2})?(?P<q>[\"'\x60]?)\]?"
    r"(?P<op>[ \t]{0,4}(?::=|=>|==|!=|=|:[ \t]{0,4}&?(?:'static[ \t]{1,4})?[A-Za-z_][A-Za-z0-9_.:]{0,40}"
    r"(?:<[A-Za-z0-9_, &']{0,40}>)?(?:\[[^\]\n]{0,80}\])?[ \t]{0,4}=|:|,)"
    r"[ \t]{0,4}|[ \t]{1,4})"
    r"(?:[rRbBuUfF]{0,2}(?:\"(?P<v1>(?:[^\"\\\n]|\\.){0,256})\"|'(?P<v2>(?:[^'\\\n]|\\.){0,256})'"
    r"|\x60(?P<v3>[^\x60\n]{0,256})\x60)|(?P<u>[^\s\"'\x60,;&)\]}]{1,256}))"
)
_KEY_CHARS = frozenset("_-.$@")
_ENV_KEY = re.compile(r"[A-Z][A-Z0-9_]*")
_TO_SPACE = re.compile(r"[^\s\"'\x60]{1,256}")
_NOT_SECRET_KEYS = frozenset({"PWD", "OLDPWD"})
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{1,20}://")


def _key_start(text: str, pos: int) -> int:
    """Where the identifier ending in the keyword at `pos` starts (at most 64 characters back).

    A redaction marker (starred out by the scanner: `[****]`) counts as part of the name, as the
    secret it replaced did, so a second pass sees the same key as the first.
    """
    stop = max(0, pos - 64)
    while pos > stop:
        if text[pos - 1].isalnum() or text[pos - 1] in _KEY_CHARS:
            pos -= 1
        elif (
            text[pos - 1] == "]"
            and (marker := text.rfind("[", stop, pos)) >= 0
            and _is_mask(text, marker, pos)
        ):
            pos = marker
        else:
            break
    return pos


#: Words after a secret's keyword that make the name describe the secret rather than hold it:
#: `password_hash`, `TOKEN_URL`, `secretName`, `token_count`, `--password-file`, `PASSWORD_MIN_LENGTH`.
_DESCRIPTORS = frozenset(
    "hash hashed hashes digest salt field fields label labels prompt hint hints placeholder length len min"
    " max size count counts limit limits policy rule rules regex re pattern format type types kind mode"
    " name names id ids url uri urls endpoint endpoints host path paths file files filename dir env var"
    " vars variable header headers param params arg args expiry expires expired expiration expire ttl"
    " timeout lifetime age reset changed updated created required enabled disabled visible strength error"
    " errors message msg text title input widget validator validators class style selector column col attr"
    " attribute index prefix suffix provider manager store storage source method scheme algorithm algo"
    " location ref arn stdin command cmd option options flag flags callback handler factory loader getter"
    " setter request response schema model form view through thru fail rate cache encoding charset chars"
    " characters alphabet hasher hashers complexity history backend engine audience issuer scope scopes"
    " grant validation mask masked visibility toggle icon button btn link page template route screen dialog"
    " modal component tooltip help description desc doc docs version last".split()
)  # fmt: skip
_NAME_CHARS = frozenset("_-.")
_PLURAL_OR_NUMBER = re.compile(r"(?:s|_?[0-9]{1,2})")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _name_end(text: str, kw_start: int, kw_end: int) -> int:
    """Where the name holding the keyword `text[kw_start:kw_end]` ends, or -1 if it names no secret.

    The keyword may be any word of the name (`PASSWORD_PROD`, `passwordAdmin`, `client_secret_value`),
    not only the last one; the words after it must start at a word boundary (`tokenizer` is no
    token) and must not describe the secret (`password_hash`, `token_count`, `secret_name`).
    """
    end, stop = kw_end, min(len(text), kw_end + 64)
    while end < stop and (text[end].isalnum() or text[end] in _NAME_CHARS):
        end += 1
    while end > kw_end and text[end - 1] in _NAME_CHARS:
        end -= 1  # `password-` before a space, `token.` ending a sentence
    tail = text[kw_end:end]
    if not tail or _PLURAL_OR_NUMBER.fullmatch(tail):
        return end
    last, first = text[kw_end - 1], tail[0]
    boundary = (
        first in _NAME_CHARS
        or first.isdigit()
        or (last.islower() and first.isupper())
        or not (last.isupper() or last.islower())  # 密码_admin, パスワードAdmin: uncased scripts
    )
    if not boundary:
        return -1
    words = [w.lower() for part in re.split(r"[_\-.]+", tail) for w in _CAMEL.split(part) if w]
    if any(w in _DESCRIPTORS for w in words):
        return -1
    return end


def _is_mask(text: str, start: int, end: int) -> bool:
    return end - start > 2 and text.count("*", start + 1, end - 1) == end - start - 2


def find_assignments(pattern: Any, text: str, family: str) -> Iterator[Span]:
    """Values assigned to keys naming a secret of `family` ("password" or "secret").

    `pattern` finds the keywords in one pass; the rest of each assignment is matched right
    after its keyword, so a rejected unquoted value (`TOKEN:0@_PASS=001`) hides no key in it.
    """
    for kw_match in pattern.finditer(text):
        kw_start, kw_end = kw_match.span()
        if text[kw_end - 1] == "S" and text[kw_end - 2].islower():
            kw_end -= 1  # `authTokenService`: the keyword's optional plural `s` began the next word
        kw = text[kw_start:kw_end].lower()
        if ("secret" if _SECRET_FAMILY.search(kw) else "password") != family:
            continue
        name_end = _name_end(text, kw_start, kw_end)
        if name_end < 0:
            continue  # `tokenizer`, `passwordless`, `password_hash`: not the name of a secret
        m = ASSIGNED.match(text, name_end)
        if m is None:
            continue
        key_start = _key_start(text, kw_start)
        if text[max(0, key_start - 3) : key_start] == "://":
            continue  # `https://x-access-token:...@host`: a URL's user name, not an assignment
        key = text[key_start : max(name_end, m.end("tail"))].lstrip(".$@")
        op = m.group("op")
        quoted = m.start("u") < 0
        start, end = next(m.span(g) for g in ("v1", "v2", "v3", "u") if m.start(g) >= 0)
        flag = key.startswith("-")
        if flag and text.startswith("--", start):
            continue  # `--password-stdin --username x`: the next flag, not a value
        env = not quoted and op == "=" and bool(_ENV_KEY.fullmatch(key))
        if (key.upper() in _NOT_SECRET_KEYS and text.startswith(("/", "~"), start)) or not _operator_fits(
            op, m.group("q"), quoted, flag
        ):
            continue
        if not quoted and (env or flag):
            end = _TO_SPACE.match(text, start).end()  # type: ignore[union-attr]
        # After `,` or a bare space (`"password", "message"`), a quoted name is more likely a list item.
        literal = env or flag or (quoted and op.strip() not in ("", ","))
        if _accept(text[start:end], family, quoted, literal):
            yield start, end


def _operator_fits(op: str, key_quote: str, quoted: bool, flag: bool) -> bool:
    core = op.strip()
    if not core:  # `--password hunter2`, SQL `PASSWORD 'x'`; not prose like "password is"
        return flag or quoted
    if core == ",":  # ("DB_PASSWORD", "x"), define('DB_PASSWORD', 'x')
        return bool(key_quote) and quoted
    if core in ("==", "!="):
        return quoted
    return True


def _accept(value: str, family: str, quoted: bool, literal: bool) -> bool:
    """Whether an assigned value is a secret rather than code, a label or a placeholder."""
    if is_placeholder(value, min_length=4) or names_a_secret(value):
        return False
    if quoted and any(c.isspace() for c in value):
        return False  # a sentence: "Enter your password"
    if _URL.match(value) and "@" not in value:
        return False  # `api_key: https://api.example.com`: where the key goes (userinfo is url-password's)
    if not literal and is_code(value) and (not quoted or all(c.isalnum() or c == "_" for c in value)):
        return False  # a quoted value is code only as a bare name: `("password", "message")`
    if family == "password":
        return True
    return looks_random(value)


def _password_finder(pattern: Any, text: str) -> Iterator[Span]:
    return find_assignments(pattern, text, "password")


def _secret_finder(pattern: Any, text: str) -> Iterator[Span]:
    return find_assignments(pattern, text, "secret")


def _url_password(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    user_start = text.rfind("//", max(0, start - 200), start) + 2
    if value.isdigit() and "." in text[user_start:start]:
        return False  # host:port@... is not user:password@
    return not is_placeholder(value, min_length=1)


def _curl_password(text: str, start: int, end: int) -> bool:
    return not is_placeholder(text[start:end], min_length=1)


def _header_credential(text: str, start: int, end: int) -> bool:
    value = text[start:end]  # `Bearer access_token` / `Bearer mytoken` name a variable, not a credential
    return not (is_placeholder(value) or names_a_secret(value) or is_wordy(value))


def _regex_finder(check: Any) -> Any:
    def finder(pattern: Any, text: str) -> Iterator[Span]:
        group = pattern.groupindex["s"]
        for m in pattern.finditer(text):
            start, end = m.span(group)
            if check(text, start, end):
                yield start, end

    return finder


# Literal keywords (every KEYWORD match contains one): one pass in re2's set, `in` for Python re.
_PASSWORD_PREFILTER = (
    *words("password", "passwd", "passphrase", "pass_phrase", "pwd", "passwort", "kennwort", "contrasena",
           "contrasenya", "mot_de_passe", "mot-de-passe", "mot.de.passe", "motdepasse", "senha", "parola", "wachtwoord",
           "losenord", "adgangskode", "passord", "haslo", "salasana", "jelszo", "heslo", "sifre", "geslo",
           "lozinka", "_pass", "-pass", ".pass", *PASSWORD_WORDS_INTL),
    *exact("Pass"),
)  # fmt: skip
_SECRET_PREFILTER = words(
    "secret", "token", "credential", "clave",
    *(f"{word}{sep}key" for word in ("api", "access", "private", "signing", "encryption", "master", "auth")
      for sep in ("", "_", "-", ".")),
)  # fmt: skip

CONTEXT_RULES: tuple[Rule, ...] = (
    Rule(
        "private-key", "PEM / OpenSSH / PGP private key block", words("private key"),
        r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----", finder=find_private_keys,
    ),
    Rule(
        "url-password", "password in a URL (scheme://user:password@host)", words("://"),
        r"://(?P<u>[^\s:/?#@\"'<>\x60]{0,128}):(?P<s>[^\s/\"'<>\x60]{1,256})@", finder=_regex_finder(_url_password),
    ),
    Rule(
        "curl-basic-auth", "curl -u user:password", words("curl"),
        r"\bcurl\b[^\n]{0,400}?[ \t](?:-u|--user)(?:[ \t]{1,4}|=)?[\"']?[^\s:\"']{1,128}:(?P<s>[^\s\"']{1,256})",
        finder=_regex_finder(_curl_password),
    ),
    Rule(
        "authorization-header", "HTTP Authorization header with a literal Basic/Bearer credential",
        words("authorization"),
        r"(?i:authorization)[\"']?[ \t]{0,4}[:=,][ \t]{0,4}[\"']?(?i:basic|bearer|token)[ \t]{1,4}"
        r"(?P<s>[A-Za-z0-9+/=._~\-]{8,1000})", finder=_regex_finder(_header_credential), extend=r"[A-Za-z0-9+/=._~\-]*",
    ),
    Rule(
        "password-assignment", "a literal assigned to a password-like name (multilingual)",
        _PASSWORD_PREFILTER, KEYWORD, finder=_password_finder,
    ),
    Rule(
        "secret-assignment", "a random-looking literal assigned to a secret/token/api_key name",
        _SECRET_PREFILTER,
        KEYWORD, finder=_secret_finder,
    ),
)  # fmt: skip
