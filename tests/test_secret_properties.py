"""Property tests of the secret stage: thousands of random tokens and secret names, none kept.

Seeded and in-process (many secrets per scanned text), so they run in seconds. Each test
reports what it tried, the figures quoted in issue 12's closing note.
"""

from __future__ import annotations

import pytest

from ctxeng.extract.selection import decode_text
from ctxeng.secrets import Scanner
from ctxeng.secrets.engine import PYTHON_RE, RE2
from ctxeng.secrets.rules import TOKEN_RULES, all_rules
from tests.secret_cases import Fake
from tests.secret_properties import (
    LANGUAGES,
    PASSWORD_KEYWORDS,
    SECRET_KEYWORDS,
    TEMPLATES,
    TOKENS,
    random_value,
    secret_name,
)

TOKENS_PER_RULE = 20_000
PER_TEXT = 50  # secrets per scanned text (re2's Python wrapper re-reads the text per match)
NAMES = 2_000
ENCODINGS = ("utf-8", "latin-1", "utf-16")
SCANNER = Scanner()
ENGINES = [
    pytest.param(RE2, id="re2"),  # google-re2 is a core dependency: never skipped
    pytest.param(PYTHON_RE, id="re"),
]


@pytest.fixture(scope="module", params=ENGINES)
def scanner(request: pytest.FixtureRequest) -> Scanner:
    return Scanner(engine=request.param)


def _kept(texts: list[str], secrets: list[str], scanner: Scanner = SCANNER) -> list[str]:
    """The secrets that survive redaction of the lines `texts` (scanned PER_TEXT lines at a time)."""
    kept: list[str] = []
    for i in range(0, len(texts), PER_TEXT):
        redacted, _ = scanner.redact("\n".join(texts[i : i + PER_TEXT]) + "\n")
        lines = redacted.split("\n")
        kept += [s for s, line in zip(secrets[i : i + PER_TEXT], lines) if s in line]
    return kept


def test_every_provider_rule_has_a_token_generator() -> None:
    assert {rule.id for rule in TOKEN_RULES} <= set(TOKENS)


@pytest.mark.parametrize("rule", sorted(TOKENS))
def test_random_well_formed_tokens_are_all_redacted(rule: str) -> None:
    """20,000 random tokens per rule: a placeholder word inside a random part (`AKIA…XXX…`) keeps none.

    The rule alone must find each token (other rules, e.g. `GITHUB_TOKEN = ...` as an assignment,
    would hide a miss), with the production scanner's engine and merging.
    """
    f = Fake(f"ctxeng-token-property-{rule}")
    texts: list[str] = []
    secrets: list[str] = []
    for _ in range(TOKENS_PER_RULE):
        template, secret = TOKENS[rule](f)
        texts.append(template.replace("{S}", secret).replace("\n", " "))
        secrets.append(secret)
    kept = _kept(texts, secrets, Scanner(rules=[r for r in all_rules() if r.id == rule]))
    assert not kept, f"{len(kept)} of {TOKENS_PER_RULE} random {rule} tokens kept, e.g. {kept[:3]}"


def _names(seed: str) -> list[tuple[str, str, str, str]]:
    """(language, encoding, line, value) for NAMES random secret names assigned random values."""
    f = Fake(seed)
    out: list[tuple[str, str, str, str]] = []
    for i in range(NAMES):
        language, template, styles, quoted = f.rng.choice(TEMPLATES)
        encoding = ENCODINGS[i % len(ENCODINGS)]
        keywords = PASSWORD_KEYWORDS if i % 2 else SECRET_KEYWORDS
        keyword = f.rng.choice([k for k in keywords if _encodable(" ".join(k), encoding)])
        style = f.rng.choice(styles.split())
        if not any(ch.isupper() or ch.islower() for ch in "".join(keyword)) and style == "camel":
            style = "snake"
        name = secret_name(f, keyword, style)
        value = random_value(f, quoted)
        out.append((language, encoding, template.replace("⟨N⟩", name).replace("⟨V⟩", value), value))
    return out


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def test_random_secret_names_in_many_languages_and_encodings_keep_no_value(scanner: Scanner) -> None:
    """2,000 names with the keyword anywhere (PASSWORD_PROD, passwordAdmin, client_secret_value, ...)."""
    rows = _names("ctxeng-name-property")
    assert len({r[0] for r in rows}) >= 10 and {r[1] for r in rows} == set(ENCODINGS)
    texts: list[str] = []
    values: list[str] = []
    for _language, encoding, line, value in rows:
        text, _ = decode_text(line.encode(encoding) if encoding != "utf-16" else line.encode("utf-16"))
        texts.append(text)
        values.append(value)
    kept = _kept(texts, values, scanner)
    shown = [t for t, v in zip(texts, values) if v in kept][:5]
    assert not kept, f"{len(kept)} of {len(rows)} random secret assignments kept, e.g. {shown}"
    assert len(LANGUAGES) >= 10


#: Values that only stand for a secret, as WHOLE values.
PLACEHOLDERS = (
    "<your-key>", "<API_KEY>", "xxxxxxxxxxxxxxxxxxxx", "XXXX-XXXX-XXXX", "changeme", "CHANGE_ME", "${VAR}",
    "${DB_PASSWORD}", "{{ vault_secret }}", "%(password)s", "********", "your-api-key-here",
    "replace_with_your_token", "not-a-real-secret", "$(cat /run/secrets/db)", "${{ secrets.DEPLOY_KEY }}",
    "sk-****abcd", "[REDACTED]", "TODO", "fake-password-1",
)  # fmt: skip
#: Look-alikes of secret assignments that hold no secret (code, labels, descriptions, numbers).
LOOK_ALIKES = (
    'password_field = "password"', "token_count = 42", 'secret_key = os.environ["SECRET_KEY"]',
    "api_key = settings.API_KEY", 'password = request.form["password"]', "token = tokenizer(text)",
    'PASSWORD_MIN_LENGTH = 12', 'password_hash = "$2b$12$abcdefghijklmnopqrstuv"', 'TOKEN_URL = "https://x/token"',
    'secretName = "prod/db"', "const tokenType = 'bearer';", 'passwordless = "enabled"',
    'tokenizer_name = "bert-base-uncased"', "max_tokens = 4096", "password: Optional[str] = None",
    'PASSWORD_RESET_TIMEOUT = 3600', '"password_label": "Your password"', "api_key_header: X-Api-Key",
    "docker login --password-stdin --username ci", 'secret_ref = "vault:secret/data/db"',
    "client_secret_id = client_secret.id", "password_admin = get_admin_password()",
    "AUTH_TOKEN_PROD = os.getenv('AUTH_TOKEN_PROD')", "passwordAdmin = this.passwordAdmin",
    'token = "SomeVeryLongClassNameHere"', 'api_key = "https://api.example.com/v1"',
    'PASSWORD_ENCODING = "utf-8"', 'passwordToggle = "show"', 'PASSWORD_LAST_CHANGED = "2024-01-01"',
)  # fmt: skip


def test_whole_value_placeholders_are_kept_in_every_language(scanner: Scanner) -> None:
    f = Fake("ctxeng-placeholder-property")
    lines: list[str] = []
    for placeholder in PLACEHOLDERS:
        for _language, template, styles, quoted in TEMPLATES:
            if not quoted and any(c in placeholder for c in " \"'`,;&)]}"):
                continue
            name = secret_name(f, f.rng.choice(PASSWORD_KEYWORDS + SECRET_KEYWORDS), styles.split()[0])
            lines.append(template.replace("⟨N⟩", name).replace("⟨V⟩", placeholder))
    found = [(line, scanner.find(line)) for line in lines]
    assert [line for line, hits in found if hits] == []


def test_harmless_look_alikes_are_kept(scanner: Scanner) -> None:
    assert [text for text in LOOK_ALIKES if scanner.find(text)] == []
