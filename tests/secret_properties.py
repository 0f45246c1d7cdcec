"""Generators for the secret property tests: random well-formed tokens per rule, random secret names.

Every token is drawn (seeded, deterministic) from the format its provider documents, i.e. the
format the rule's description names; every name puts a secret keyword anywhere in a snake_case,
camelCase, SCREAMING_CASE or kebab-case name, written in the syntax of one of many languages.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Callable

from tests.secret_cases import B62, B64, B64URL, BECH32, HEX, UPPER32, Fake

LETTERS = string.ascii_letters
#: (text with `{S}` where the secret goes, secret) for one random token.
Sample = tuple[str, str]


def _slack(f: Fake) -> Sample:
    kind = f.rng.choice("bpa")
    if kind == "a":
        return "app_token: {S}", f"xapp-1-A{f.chars(UPPER32, 10)}-{f.digits(13)}-{f.hex(64)}"
    n = f.rng.randint(10, 13)
    return "SLACK_BOT_TOKEN={S}", f"xox{kind}-{f.digits(n)}-{f.digits(n)}-{f.b62(24)}"


def _discord_bot(f: Fake) -> Sample:
    head = base64.b64encode(f.digits(f.rng.randint(17, 19)).encode()).decode().rstrip("=")
    return "client.run('{S}')", f"{head}.{f.b64url(6)}.{f.b64url(f.rng.randint(27, 38))}"


def _jwt(f: Fake) -> Sample:
    def part(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    header = part('{"alg":"HS256","typ":"JWT"}')
    payload = part(f'{{"sub":"{f.digits(9)}","name":"{f.b62(8)}","iat":{f.digits(10)}}}')
    return "session = {S}", f"{header}.{payload}.{f.b64url(43)}"


#: One generator per rule: the provider's documented prefix and alphabet, random lengths where
#: the format allows several.
TOKENS: dict[str, Callable[[Fake], Sample]] = {
    "aws-access-key-id": lambda f: (
        "aws_access_key_id = {S}", f.rng.choice(["AKIA", "ASIA", "ABIA", "ACCA"]) + f.chars(UPPER32, 16)
    ),
    "aws-secret-access-key": lambda f: ("aws_secret_access_key = {S}", f.chars(B62 + "+/", 40)),
    "github-token": lambda f: ('GITHUB_TOKEN = "{S}"', f"gh{f.rng.choice('pousr')}_" + f.b62(36)),
    "github-fine-grained-pat": lambda f: ("pat={S}", "github_pat_" + f.b62(22) + "_" + f.b62(59)),
    "gitlab-token": lambda f: (
        "token = '{S}'", f.rng.choice(["glpat-", "gldt-", "glrt-", "glptt-", "glcbt-"]) + f.b64url(20)
    ),
    "slack-token": _slack,
    "slack-webhook": lambda f: (
        "url = 'https://hooks.slack.com/services/{S}'",
        f"T{f.chars(UPPER32, 8)}/B{f.chars(UPPER32, 10)}/{f.b62(24)}",
    ),
    "stripe-key": lambda f: (
        'stripe.api_key = "{S}"',
        f"{f.rng.choice(['sk', 'rk', 'pk'])}_{f.rng.choice(['live', 'test'])}_{f.b62(f.rng.choice([24, 99]))}"
        if f.rng.random() < 0.8 else "whsec_" + f.b62(32),
    ),  # fmt: skip
    "anthropic-key": lambda f: (
        'ANTHROPIC_API_KEY="{S}"', f"sk-ant-{f.rng.choice(['api03', 'admin01'])}-{f.b64url(93)}AA"
    ),
    "openai-key": lambda f: (
        "OPENAI_API_KEY={S}",
        f"sk-{f.rng.choice(['proj', 'svcacct', 'admin'])}-{f.b64url(74)}T3BlbkFJ{f.b64url(74)}",
    ),
    "google-api-key": lambda f: ("key: {S}", "AIza" + f.b64url(35)),
    "google-oauth-client-secret": lambda f: ('"client_secret": "{S}",', "GOCSPX-" + f.b64url(28)),
    "gcp-private-key-id": lambda f: ('{"type": "service_account", "private_key_id": "{S}"}', f.hex(40)),
    "azure-storage-key": lambda f: ("AccountName=acct;AccountKey={S};EndpointSuffix=x", f.b64(86) + "=="),
    "azure-sas-signature": lambda f: ("https://a.blob.core.windows.net/c?sv=2022-11-02&sig={S}", f.b62(43) + "%3D"),
    "azure-ad-client-secret": lambda f: (
        "AZURE_CLIENT_SECRET={S}", f.b62(3) + f.chars(string.digits, 1) + "Q~" + f.chars(B62 + "_~.-", 34)
    ),
    "twilio-key": lambda f: ("TWILIO_SID={S}", f.rng.choice(["SK", "AC"]) + f.hex(32)),
    "sendgrid-key": lambda f: ("SENDGRID_API_KEY='{S}'", "SG." + f.b64url(22) + "." + f.b64url(43)),
    "npm-token": lambda f: ("//registry.npmjs.org/:_authToken={S}", "npm_" + f.b62(36)),
    "pypi-token": lambda f: ("password = {S}", "pypi-AgEIcHlwaS5vcmc" + f.b64url(f.rng.randint(60, 200))),
    "huggingface-token": lambda f: ('HF_TOKEN="{S}"', f.rng.choice(["hf_", "api_org_"]) + f.chars(LETTERS, 34)),
    "shopify-token": lambda f: (
        "X-Shopify-Access-Token: {S}", f.rng.choice(["shpat_", "shpca_", "shppa_", "shpss_"]) + f.hex(32)
    ),
    "mailgun-key": lambda f: ("auth=('api', '{S}')", "key-" + f.b62(32)),
    "discord-bot-token": _discord_bot,
    "discord-webhook": lambda f: (f"https://discord.com/api/webhooks/{f.digits(18)}/{{S}}", f.b64url(68)),
    "telegram-bot-token": lambda f: ("bot = TeleBot('{S}')", f.digits(f.rng.randint(8, 10)) + ":AA" + f.b64url(33)),
    "digitalocean-token": lambda f: ("DO_TOKEN={S}", f.rng.choice(["dop", "doo", "dor"]) + "_v1_" + f.hex(64)),
    "heroku-api-key": lambda f: (
        ("HEROKU_API_KEY={S}", f.uuid()) if f.rng.random() < 0.5 else ("token: {S}", "HRKU-AA" + f.b64url(58))
    ),
    "databricks-token": lambda f: ("DATABRICKS_TOKEN={S}", "dapi" + f.hex(32)),
    "age-secret-key": lambda f: ("# key\n{S}", "AGE-SECRET-KEY-1" + f.chars(BECH32, 58)),
    "docker-registry-auth": lambda f: (
        '{"auths": {"r.io": {"auth": "{S}"}}}', base64.b64encode(f"u{f.b62(5)}:{f.password()}".encode()).decode()
    ),
    "jwt": _jwt,
    "url-password": lambda f: ("DATABASE_URL=postgresql://app:{S}@db:5432/x", f.password()),
    "curl-basic-auth": lambda f: ("curl -u deploy:{S} https://ci.example.org/hook", f.password()),
    "authorization-header": lambda f: ("Authorization: Bearer {S}", f.b64url(40)),
}  # fmt: skip

# -- names --------------------------------------------------------------------------------------

#: Secret keywords as words of a name (each a list of words, joined per naming style).
PASSWORD_KEYWORDS = (
    ["password"], ["passwd"], ["pwd"], ["passphrase"], ["passwort"], ["kennwort"], ["contrasena"],
    ["contraseña"], ["mot", "de", "passe"], ["senha"], ["parola"], ["wachtwoord"], ["haslo"], ["hasło"],
    ["salasana"], ["lösenord"], ["jelszo"], ["heslo"], ["пароль"], ["密码"], ["パスワード"],
)  # fmt: skip
SECRET_KEYWORDS = (
    ["secret"], ["token"], ["api", "key"], ["apikey"], ["access", "key"], ["secret", "key"], ["private", "key"],
    ["auth", "token"], ["client", "secret"], ["credentials"], ["signing", "key"], ["encryption", "key"],
    ["master", "key"], ["auth", "key"], ["access", "token"], ["refresh", "token"], ["clave"],
)  # fmt: skip
#: Words around the keyword that do not describe it (environments, owners, services).
AFFIXES = (
    "admin", "prod", "root", "live", "github", "db", "main", "primary", "backup", "old", "new", "staging",
    "smtp", "redis", "aws", "stripe", "mail", "ldap", "app", "service", "default", "value", "local", "remote",
    "my", "user", "bot", "ci", "deploy", "mysql", "postgres", "value2", "v2", "current", "legacy",
)  # fmt: skip


def _style(words: list[str], style: str) -> str:
    if style == "snake":
        return "_".join(words)
    if style == "screaming":
        return "_".join(w.upper() for w in words)
    if style == "kebab":
        return "-".join(words)
    if style == "dotted":
        return ".".join(words)
    head, *rest = words
    return head + "".join(w[:1].upper() + w[1:] for w in rest)  # camel


#: (language, template with ⟨N⟩ for the name and ⟨V⟩ for the value, styles it fits, quoted value). Unquoted templates are
#: config formats whose bare values are literal strings.
TEMPLATES = (
    ("python", '⟨N⟩ = "⟨V⟩"', "snake screaming camel", True),
    ("python", "self.⟨N⟩ = '⟨V⟩'", "snake camel", True),
    ("python", 'settings["⟨N⟩"] = "⟨V⟩"', "snake screaming kebab dotted camel", True),
    ("python", 'connect(⟨N⟩="⟨V⟩")', "snake camel", True),
    ("python", 'def f(⟨N⟩: str = "⟨V⟩"): ...', "snake camel", True),
    ("javascript", 'const ⟨N⟩ = "⟨V⟩";', "snake screaming camel", True),
    ("javascript", "const config = { ⟨N⟩: '⟨V⟩' };", "snake screaming camel", True),
    ("javascript", "process.env.⟨N⟩ = `⟨V⟩`;", "screaming", True),
    ("typescript", 'const ⟨N⟩: string = "⟨V⟩";', "snake screaming camel", True),
    ("typescript", "  private readonly ⟨N⟩ = '⟨V⟩';", "camel", True),
    ("go", '⟨N⟩ := "⟨V⟩"', "camel", True),
    ("go", 'const ⟨N⟩ = "⟨V⟩"', "camel screaming", True),
    ("go", '\t⟨N⟩: "⟨V⟩",', "camel", True),
    ("java", 'private static final String ⟨N⟩ = "⟨V⟩";', "screaming camel", True),
    ("java", 'props.setProperty("⟨N⟩", "⟨V⟩");', "dotted snake camel", True),
    ("ruby", "⟨N⟩ = '⟨V⟩'", "snake screaming", True),
    ("ruby", '  :⟨N⟩ => "⟨V⟩",', "snake", True),
    ("ruby", '  ⟨N⟩: "⟨V⟩",', "snake", True),
    ("php", "$⟨N⟩ = '⟨V⟩';", "snake camel", True),
    ("php", "    '⟨N⟩' => '⟨V⟩',", "snake screaming", True),
    ("php", "define('⟨N⟩', '⟨V⟩');", "screaming", True),
    ("csharp", 'public const string ⟨N⟩ = "⟨V⟩";', "camel screaming", True),
    ("csharp", 'var ⟨N⟩ = "⟨V⟩";', "camel", True),
    ("rust", 'let ⟨N⟩ = "⟨V⟩";', "snake", True),
    ("rust", 'const ⟨N⟩: &str = "⟨V⟩";', "screaming", True),
    ("kotlin", 'val ⟨N⟩ = "⟨V⟩"', "camel", True),
    ("swift", 'let ⟨N⟩ = "⟨V⟩"', "camel", True),
    ("shell", 'export ⟨N⟩="⟨V⟩"', "screaming snake", True),
    ("shell", "⟨N⟩=⟨V⟩", "screaming", False),
    ("shell", "export ⟨N⟩=⟨V⟩", "screaming", False),
    ("yaml", "  ⟨N⟩: ⟨V⟩", "snake kebab camel screaming", False),
    ("yaml", '  ⟨N⟩: "⟨V⟩"', "snake kebab camel", True),
    ("toml", '⟨N⟩ = "⟨V⟩"', "snake kebab", True),
    ("ini", "⟨N⟩ = ⟨V⟩", "snake kebab dotted", False),
    ("ini", "⟨N⟩=⟨V⟩", "snake screaming", False),
    ("properties", "app.⟨N⟩=⟨V⟩", "dotted snake camel", False),
    ("properties", "spring.⟨N⟩ = ⟨V⟩", "dotted kebab", False),
    ("json", '  "⟨N⟩": "⟨V⟩",', "snake camel kebab screaming", True),
    ("dotenv", "⟨N⟩=⟨V⟩", "screaming", False),
)  # fmt: skip
LANGUAGES = sorted({t[0] for t in TEMPLATES})
#: Alphabets of random credentials; unquoted values avoid characters that end a bare value.
QUOTED_ALPHABETS = (B62, B64URL, HEX, B64, B62 + "!#%^*+-_.@~")
BARE_ALPHABETS = (B62, B64URL, HEX, B64)


def secret_name(f: Fake, keyword: list[str], style: str) -> str:
    """A name holding `keyword` at a random place among 0-2 affixes, in `style`."""
    before = [f.rng.choice(AFFIXES) for _ in range(f.rng.choice([0, 0, 1, 2]))]
    after = [f.rng.choice(AFFIXES) for _ in range(f.rng.choice([0, 1, 1, 2]))]
    return _style([*before, *keyword, *after], style)


def random_value(f: Fake, quoted: bool) -> str:
    """A random 20-character credential."""
    return f.chars(f.rng.choice(QUOTED_ALPHABETS if quoted else BARE_ALPHABETS), 20)
