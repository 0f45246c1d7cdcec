"""The secret rules: providers' documented token formats, each with a keyword prefilter and a value check."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ctxeng.secrets.values import is_placeholder, looks_random, mixed

Span = tuple[int, int]
#: check(text, start, end) -> whether text[start:end] is really the secret the rule looks for.
Check = Callable[[str, int, int], bool]
#: finder(compiled pattern, text) -> spans of secrets, for rules a single regex cannot express.
Finder = Callable[[Any, str], Iterator[Span]]

B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


@dataclass(frozen=True)
class Rule:
    """One kind of secret.

    `prefilter` holds regexes (mostly literal keywords) of which at least one occurs in every
    text the rule can match; the rule's own regex only runs on such texts. The secret is the
    regex's first participating group named `s`, `s2`, ... (else the whole match), kept only if
    `check` accepts it. Rules whose matching needs code have a `finder` instead. Patterns cap
    repetition at 1,000 (re2's limit, and it bounds Python `re` backtracking); a secret that may
    be longer names the class it continues with in `extend`.
    """

    id: str
    description: str
    prefilter: tuple[str, ...]
    pattern: str
    check: Check | None = None
    finder: Finder | None = None
    extend: str = ""  # characters a match continues with past the pattern's 1,000-repetition cap


def words(*keywords: str) -> tuple[str, ...]:
    """Case-insensitive literal prefilter patterns."""
    return tuple("(?i)" + re.escape(k) for k in keywords)


def exact(*keywords: str) -> tuple[str, ...]:
    """Case-sensitive literal prefilter patterns."""
    return tuple(re.escape(k) for k in keywords)


def token(edge: frozenset[str] = frozenset(), random: bool = False, skip: int = 0) -> Check:
    """A check for fixed-format tokens.

    `edge`: characters that may not touch the token on either side (so a token is not a slice
    of a longer string); `random`: the part after the prefix must mix letters/digits or cases;
    `skip`: length of a prefix without separator (`SK` of Twilio keys) left out of those tests.
    """

    def check(text: str, start: int, end: int) -> bool:
        if edge and ((start > 0 and text[start - 1] in edge) or (end < len(text) and text[end] in edge)):
            return False
        body = _random_part(text[start + skip : end])
        # The random part as a whole decides: `ghp_` + 36 x's is a mask, `AKIA…XXX…` is a key.
        return not is_placeholder(body) and (not random or mixed(body))

    return check


_PREFIX = re.compile(r"[A-Za-z]{2,8}[_\-]")


def _random_part(value: str) -> str:
    """A token without its provider prefix (`ghp_`, `glpat-`, `sk_`): the randomly drawn part."""
    prefix = _PREFIX.match(value)
    return value[prefix.end() :] if prefix and prefix.end() < len(value) else value


def random_value(text: str, start: int, end: int) -> bool:
    """A check for context rules (`AccountKey=...`): the value must look generated."""
    value = text[start:end]
    return not is_placeholder(value) and looks_random(value, min_length=8)


def discord_token(text: str, start: int, end: int) -> bool:
    """Discord bot tokens start with the base64 of the bot's numeric id."""
    if not token(edge=B64URL)(text, start, end):
        return False
    head = text[start:end].split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return decoded.isdigit() and len(decoded) >= 15


def docker_auth(text: str, start: int, end: int) -> bool:
    """A docker `"auth"` value is base64 of `user:password`."""
    try:
        decoded = base64.b64decode(text[start:end], validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded and not is_placeholder(decoded.decode("latin-1"))


_OP = r"[\"'\x60]?[ \t]{0,4}(?::=|=>|=|:|,)[ \t]{0,4}[\"'\x60]?"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

#: Token formats as the providers document them. The order is the priority when two rules
#: find overlapping spans (the more specific rule names the redaction).
TOKEN_RULES: tuple[Rule, ...] = (
    Rule(
        "aws-access-key-id", "AWS access key id (AKIA/ASIA/ABIA/ACCA/A3T + 16 base32)",
        exact("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        r"\b(?P<s>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b", token(),
    ),
    Rule(
        "aws-secret-access-key", "AWS secret access key (40 base64 characters after its key name)",
        words("secret"),
        r"(?i:aws[_\-]?secret[_\-]?(?:access[_\-]?)?key|secret[_\-]?access[_\-]?key)" + _OP
        + r"(?P<s>[A-Za-z0-9/+]{40})", token(edge=B64, random=True),
    ),
    Rule(
        "github-token", "GitHub token (ghp_/gho_/ghu_/ghs_/ghr_)", exact("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{36,251})\b", token(random=True),
    ),
    Rule(
        "github-fine-grained-pat", "GitHub fine-grained personal access token", exact("github_pat_"),
        r"\b(?P<s>github_pat_[A-Za-z0-9_]{36,255})\b", token(random=True),
    ),
    Rule(
        "gitlab-token", "GitLab token (glpat-, gldt-, glrt-, glptt-, glcbt-, ... and runner registration)",
        exact("glpat-", "gldt-", "glrt-", "glrtr-", "glptt-", "glsoat-", "glft-", "glcbt-", "glimt-",
              "glagent-", "gloas-", "glffct-", "glwt-", "GR1348941"),
        r"\b(?P<s>gl(?:pat|dt|rtr|rt|ptt|soat|ft|cbt|imt|agent|oas|ffct|wt)-[A-Za-z0-9_\-]{20,255}"
        r"(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?|GR1348941[A-Za-z0-9_\-]{20,64})", token(edge=B64URL, random=True),
    ),
    Rule(
        "slack-token", "Slack token (xoxb-/xoxp-/xoxa-/xoxr-/xoxe-, xapp-)", exact("xox", "xapp-"),
        r"\b(?P<s>(?:xoxe\.)?xox[abeoprs]-[0-9][A-Za-z0-9\-]{8,250}|xapp-[0-9]-[A-Za-z0-9\-]{10,250})",
        token(edge=B64URL),
    ),
    Rule(
        "slack-webhook", "Slack incoming webhook URL", words("hooks.slack.com"),
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9+/_\-]{20,200})", token(),
    ),
    Rule(
        "stripe-key", "Stripe key (sk_/rk_/pk_ live or test, whsec_)",
        exact("sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_", "whsec_"),
        r"\b(?P<s>(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,247}|whsec_[A-Za-z0-9]{24,64})",
        token(random=True),
    ),
    Rule(
        "anthropic-key", "Anthropic API or admin key (sk-ant-api03-, sk-ant-admin01-, ...)", exact("sk-ant-"),
        r"\b(?P<s>sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_\-]{20,300})", token(edge=B64URL, random=True),
    ),
    Rule(
        "openai-key", "OpenAI API key (sk-proj-, sk-svcacct-, sk-admin-, or with the T3BlbkFJ marker)",
        exact("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-", "T3BlbkFJ"),
        r"\b(?P<s>sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,300}"
        r"|sk-[A-Za-z0-9_\-]{8,200}T3BlbkFJ[A-Za-z0-9_\-]{8,200})", token(edge=B64URL, random=True),
    ),
    Rule(
        "google-api-key", "Google API key (AIza + 35)", exact("AIza"),
        r"(?P<s>AIza[0-9A-Za-z_\-]{35})", token(edge=B64URL, random=True),
    ),
    Rule(
        "google-oauth-client-secret", "Google OAuth client secret (GOCSPX-)", exact("GOCSPX-"),
        r"(?P<s>GOCSPX-[A-Za-z0-9_\-]{28})", token(edge=B64URL, random=True),
    ),
    Rule(
        "gcp-private-key-id", "private_key_id of a GCP service-account key file", exact("private_key_id"),
        r"\"private_key_id\"[ \t]{0,4}:[ \t]{0,4}\"(?P<s>[a-f0-9]{40})\"", token(),
    ),
    Rule(
        "azure-storage-key", "Azure account / shared access key in a connection string",
        words("accountkey", "sharedaccesskey", "sharedsecretvalue"),
        r"(?i:AccountKey|SharedAccessKey|SharedSecretValue)[ \t]{0,2}=[ \t]{0,2}(?P<s>[A-Za-z0-9+/]{20,100}={0,2})",
        random_value,
    ),
    Rule(
        "azure-sas-signature", "Azure SAS token signature (sig=)", words("sig="),
        r"[?&](?i:sig)=(?P<s>[A-Za-z0-9%+/=]{30,200})", random_value,
    ),
    Rule(
        "azure-ad-client-secret", "Azure AD (Entra ID) client secret (xxxNQ~...)", exact("Q~"),
        r"(?P<s>[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})",
        token(edge=frozenset(B64URL | {"~", "."}), random=True),
    ),
    Rule(
        "twilio-key", "Twilio API key or account SID (SK/AC + 32 hex)", (r"\b(?:SK|AC)[0-9a-fA-F]{8}",),
        r"\b(?P<s>(?:SK|AC)[0-9a-fA-F]{32})\b", token(random=True, skip=2),
    ),
    Rule(
        "sendgrid-key", "SendGrid API key (SG.xxx.yyy)", (r"SG\.[A-Za-z0-9_\-]{22}\.",),
        r"\b(?P<s>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})", token(edge=B64URL),
    ),
    Rule(
        "npm-token", "npm access token (npm_)", exact("npm_"),
        r"\b(?P<s>npm_[A-Za-z0-9]{36})\b", token(random=True),
    ),
    Rule(
        "pypi-token", "PyPI / TestPyPI upload token (pypi-AgEIcHlwaS5vcmc...)", exact("pypi-AgE"),
        r"\b(?P<s>pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{40,1000})", token(),
        extend=r"[A-Za-z0-9_\-]*",
    ),
    Rule(
        "huggingface-token", "Hugging Face user or org token (hf_, api_org_)", exact("hf_", "api_org_"),
        r"\b(?P<s>(?:hf_|api_org_)[A-Za-z0-9]{34,40})\b", token(random=True),
    ),
    Rule(
        "shopify-token", "Shopify access token or shared secret (shpat_/shpca_/shppa_/shpss_)",
        exact("shpat_", "shpca_", "shppa_", "shpss_", "shptka_"),
        r"\b(?P<s>shp(?:at|ca|pa|ss|tka)_[a-fA-F0-9]{32})\b", token(random=True),
    ),
    Rule(
        "mailgun-key", "Mailgun private API key (key- + 32)", (r"\bkey-[0-9a-zA-Z]{32}",),
        r"\b(?P<s>key-[0-9a-zA-Z]{32})\b", token(random=True),
    ),
    Rule(
        "discord-bot-token", "Discord bot token (base64 id . timestamp . hmac)",
        (r"[MNO][A-Za-z0-9_\-]{22,27}\.[A-Za-z0-9_\-]{6,7}\.",),  # ids of 17-20 digits: 23-27 characters
        r"(?P<s>[MNO][A-Za-z0-9_\-]{22,27}\.[A-Za-z0-9_\-]{6,7}\.[A-Za-z0-9_\-]{27,40})", discord_token,
    ),
    Rule(
        "discord-webhook", "Discord webhook URL", words("discord"),
        r"(?i:discord(?:app)?\.com)/api/webhooks/[0-9]{5,20}/(?P<s>[A-Za-z0-9_\-]{60,68})", token(edge=B64URL),
    ),
    Rule(
        "telegram-bot-token", "Telegram bot token (id:AA + 33)", (r"[0-9]{5}:AA",),
        r"\b(?P<s>[0-9]{8,10}:AA[A-Za-z0-9_\-]{33})", token(edge=B64URL),
    ),
    Rule(
        "digitalocean-token", "DigitalOcean token (dop_v1_/doo_v1_/dor_v1_)", exact("_v1_"),
        r"\b(?P<s>do[opr]_v1_[a-f0-9]{64})\b", token(random=True),
    ),
    Rule(
        "heroku-api-key", "Heroku API key (HRKU-, or a UUID after a heroku key name)", words("hrku-", "heroku"),
        r"\b(?P<s>HRKU-[A-Za-z0-9_\-]{58,64})|(?i:heroku)[A-Za-z0-9_.\-]{0,30}" + _OP + r"(?P<s2>" + _UUID + ")",
        token(edge=B64URL),
    ),
    Rule(
        "databricks-token", "Databricks personal access token (dapi + 32 hex)", exact("dapi"),
        r"\b(?P<s>dapi[a-f0-9]{32}(?:-[0-9])?)\b", token(random=True),
    ),
    Rule(
        "age-secret-key", "age encryption secret key", exact("AGE-SECRET-KEY-1"),
        r"(?P<s>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})", token(),
    ),
    Rule(
        "docker-registry-auth", "docker config \"auth\" (base64 of user:password)", exact('"auth"'),
        r"\"auth\"[ \t]{0,4}:[ \t]{0,4}\"(?P<s>[A-Za-z0-9+/]{8,1000}={0,2})\"", docker_auth,
    ),
    Rule(
        "jwt", "JSON Web Token (eyJ...eyJ...signature)", exact("eyJ"),
        r"\b(?P<s>eyJ[A-Za-z0-9_\-]{8,1000}\.eyJ[A-Za-z0-9_\-]{8,1000}(?:\.[A-Za-z0-9_\-]{0,1000})?)", token(),
        extend=r"[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*)?",
    ),
)  # fmt: skip


def all_rules() -> tuple[Rule, ...]:
    """Every rule, in priority order: provider formats first, then context rules."""
    from ctxeng.secrets.context import CONTEXT_RULES

    return TOKEN_RULES + CONTEXT_RULES
