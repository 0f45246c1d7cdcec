"""True and false positives for every secret rule (gitleaks style), built from a seeded generator.

No secret-looking literal is written in this file: every token is assembled at run time from a
provider's documented prefix and random characters in that provider's alphabet, so the source
never trips push protection and the same seed always gives the same values.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from dataclasses import dataclass

B62 = string.ascii_letters + string.digits
B64URL = B62 + "_-"
B64 = B62 + "+/"
HEX = "0123456789abcdef"
UPPER32 = string.ascii_uppercase + "234567"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


class Fake:
    """Random-looking strings from a seed (str seeds are hashed with SHA-512: stable across runs)."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        """`n` characters drawn from `alphabet`."""
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def b62(self, n: int) -> str:
        """Letters and digits."""
        return self.chars(B62, n)

    def b64url(self, n: int) -> str:
        """URL-safe base64 characters."""
        return self.chars(B64URL, n)

    def b64(self, n: int) -> str:
        """Standard base64 characters (no padding)."""
        return self.chars(B64, n)

    def hex(self, n: int) -> str:
        """Lower-case hex digits."""
        return self.chars(HEX, n)

    def digits(self, n: int) -> str:
        """Decimal digits, not starting with 0."""
        return self.chars("123456789", 1) + self.chars(string.digits, n - 1)

    def uuid(self) -> str:
        """A random UUID (version 4 layout)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def password(self) -> str:
        """A password-like value: letters, digits and punctuation."""
        return self.b62(6) + self.rng.choice("!#%^*+") + self.b62(5)

    def pem_body(self, lines: int = 6) -> list[str]:
        """Base64 lines of a fake key (64 characters each, the last shorter)."""
        return ["MII" + self.b64(61)] + [self.b64(64) for _ in range(lines - 2)] + [self.b64(20) + "=="]


@dataclass(frozen=True)
class Case:
    """`text` holds `secret`, which the scanner must redact as `rule` (exactly that span)."""

    rule: str
    text: str
    secret: str


def _pem(kind: str, body: list[str], sep: str = "\n", prefix: str = "") -> str:
    lines = [f"-----BEGIN {kind}PRIVATE KEY-----", *body, f"-----END {kind}PRIVATE KEY-----"]
    return sep.join(prefix + line for line in lines)


def true_positives() -> list[Case]:
    """At least one true positive per rule, in the contexts where such secrets are found."""
    f = Fake("ctxeng-secret-tps")
    cases: list[Case] = []

    def add(rule: str, template: str, secret: str) -> None:
        cases.append(Case(rule, template.replace("{S}", secret), secret))

    add("aws-access-key-id", "aws_access_key_id = {S}\n", "AKIA" + f.chars(UPPER32, 16))
    add("aws-access-key-id", '{"AccessKeyId": "{S}", "Expiration": 0}', "ASIA" + f.chars(UPPER32, 16))
    add("aws-access-key-id", "+export AWS_ACCESS_KEY_ID={S}\n", "AKIA" + f.chars(UPPER32, 16))
    add("aws-secret-access-key", "aws_secret_access_key = {S}\n", f.b64(40))
    add("aws-secret-access-key", '  "SecretAccessKey": "{S}",', f.b64(40))
    add("aws-secret-access-key", "AWS_SECRET_ACCESS_KEY: '{S}'", f.b64(40))
    add("github-token", 'GITHUB_TOKEN = "{S}"', "ghp_" + f.b62(36))
    add("github-token", "git clone https://x-access-token:{S}@github.com/o/r.git", "ghs_" + f.b62(36))
    add("github-token", "token: {S}", "gho_" + f.b62(36))
    add("github-fine-grained-pat", "pat={S}", "github_pat_" + f.b62(22) + "_" + f.b62(59))
    add("gitlab-token", "PRIVATE-TOKEN: {S}", "glpat-" + f.b64url(20))
    add("gitlab-token", "token = '{S}'", "glpat-" + f.b64url(27) + ".01." + f.chars(HEX, 9))
    add("gitlab-token", "--registration-token {S}", "GR1348941" + f.b64url(20))
    add("gitlab-token", "CI_DEPLOY={S}", "gldt-" + f.b64url(20))
    add("slack-token", "SLACK_BOT_TOKEN={S}", f"xoxb-{f.digits(12)}-{f.digits(13)}-{f.b62(24)}")
    add(
        "slack-token",
        "client = WebClient(token='{S}')",
        f"xoxp-{f.digits(12)}-{f.digits(12)}-{f.digits(13)}-{f.hex(32)}",
    )
    add("slack-token", "app_token: {S}", f"xapp-1-A{f.chars(UPPER32, 10)}-{f.digits(13)}-{f.hex(64)}")
    add(
        "slack-webhook", "url = 'https://hooks.slack.com/services/{S}'",
        f"T{f.chars(UPPER32, 8)}/B{f.chars(UPPER32, 10)}/{f.b62(24)}",
    )  # fmt: skip
    add("stripe-key", 'stripe.api_key = "{S}"', "sk_live_" + f.b62(24))
    add("stripe-key", "curl https://api.stripe.com/v1/charges -u {S}:", "sk_test_" + f.b62(24))
    add("stripe-key", "key={S}", "rk_live_" + f.b62(99))
    add("stripe-key", "STRIPE_WEBHOOK_SECRET={S}", "whsec_" + f.b62(32))
    add("anthropic-key", 'ANTHROPIC_API_KEY="{S}"', "sk-ant-api03-" + f.b64url(93) + "AA")
    add("anthropic-key", "admin: {S}", "sk-ant-admin01-" + f.b64url(93) + "AA")
    add("openai-key", "OPENAI_API_KEY={S}", "sk-proj-" + f.b64url(74) + "T3BlbkFJ" + f.b64url(74))
    add("openai-key", 'openai.api_key = "{S}"', "sk-" + f.b62(20) + "T3BlbkFJ" + f.b62(20))
    add(
        "google-api-key",
        "https://maps.googleapis.com/maps/api/js?key={S}&callback=init",
        "AIza" + f.b64url(35),
    )
    add("google-oauth-client-secret", '"client_secret": "{S}",', "GOCSPX-" + f.b64url(28))
    add("gcp-private-key-id", '{"type": "service_account", "private_key_id": "{S}"}', f.hex(40))
    add(
        "azure-storage-key",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={S};EndpointSuffix=core.windows.net",
        f.b64(86) + "==",
    )
    add(
        "azure-storage-key",
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={S}",
        f.b64(43) + "=",
    )
    add(
        "azure-sas-signature",
        "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&sr=b&sp=r&se=2030-01-01&sig={S}",
        f.b62(30) + "%2B" + f.b62(12) + "%3D",
    )
    add("azure-ad-client-secret", "AZURE_CLIENT_SECRET={S}", f.b62(3) + "8Q~" + f.b64url(34))
    add("twilio-key", "api_key_sid = '{S}'", "SK" + f.hex(32))
    add("twilio-key", "TWILIO_ACCOUNT_SID={S}", "AC" + f.hex(32))
    add("sendgrid-key", "SENDGRID_API_KEY='{S}'", "SG." + f.b64url(22) + "." + f.b64url(43))
    add("npm-token", "//registry.npmjs.org/:_authToken={S}", "npm_" + f.b62(36))
    add("pypi-token", "password = {S}", "pypi-AgEIcHlwaS5vcmc" + f.b64url(60))
    add("huggingface-token", 'HF_TOKEN="{S}"', "hf_" + f.b62(34))
    add("huggingface-token", "login(token='{S}')", "api_org_" + f.chars(string.ascii_letters, 34))
    add("shopify-token", "X-Shopify-Access-Token: {S}", "shpat_" + f.hex(32))
    add("mailgun-key", "auth=('api', '{S}')", "key-" + f.hex(32))
    bot_id = base64.b64encode(f.digits(18).encode()).decode().rstrip("=")
    add("discord-bot-token", "client.run('{S}')", f"{bot_id}.{f.b64url(6)}.{f.b64url(38)}")
    add("discord-webhook", "https://discord.com/api/webhooks/" + f.digits(18) + "/{S}", f.b64url(68))
    add("telegram-bot-token", "bot = telebot.TeleBot('{S}')", f.digits(10) + ":AA" + f.b64url(33))
    add("digitalocean-token", "DIGITALOCEAN_TOKEN={S}", "dop_v1_" + f.hex(64))
    add("heroku-api-key", "HEROKU_API_KEY={S}", f.uuid())
    add("heroku-api-key", "token: {S}", "HRKU-AA" + f.b64url(58))
    add("databricks-token", "DATABRICKS_TOKEN={S}", "dapi" + f.hex(32))
    add("age-secret-key", "# key\n{S}\n", "AGE-SECRET-KEY-1" + f.chars(BECH32, 58))
    auth = base64.b64encode(f"deploy:{f.password()}".encode()).decode()
    add("docker-registry-auth", '{"auths": {"registry.example.com": {"auth": "{S}"}}}', auth)
    payload = (
        base64.urlsafe_b64encode(f'{{"sub":"{f.digits(9)}","iat":{f.digits(10)}}}'.encode())
        .decode()
        .rstrip("=")
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    add("jwt", "session = {S}", f"{header}.{payload}.{f.b64url(43)}")

    body = f.pem_body()
    add("private-key", _pem("RSA ", body) + "\n", "\n".join(body))
    body = f.pem_body()
    add("private-key", "+" + _pem("", body, "\n+") + "\n", "\n+".join(body))  # added in a diff
    body = f.pem_body()
    add("private-key", "-" + _pem("EC ", body, "\n-") + "\n", "\n-".join(body))  # deleted in a diff
    body = f.pem_body()
    sa = '{"type": "service_account", "private_key": "' + _pem("", body, "\\n") + '\\n", "client_email": "x"}'
    add("private-key", sa, "\\n".join(body))  # GCP service-account JSON
    body = f.pem_body()
    add("private-key", _pem("OPENSSH ", body), "\n".join(body))
    body = f.pem_body()
    cut = "KEY = '''-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n"  # a cut record: no END marker
    add("private-key", cut, "\n".join(body))
    body = f.pem_body()
    encrypted = ["Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC," + f.hex(32).upper(), "", *body]
    add("private-key", _pem("RSA ", encrypted), "\n".join(encrypted))

    add("url-password", 'engine = create_engine("postgresql+psycopg2://scott:{S}@localhost/test")', "tiger")
    add("url-password", "REDIS_URL=redis://:{S}@cache:6379/0", f.b62(16))
    add("url-password", "mongodb+srv://admin:{S}@cluster0.abcde.mongodb.net/db", f.password())
    add("url-password", "amqp://user:{S}@rabbit//", "p%40ss" + f.b62(4))
    add("url-password", "ftp://anonymous:{S}@ftp.example.org/pub", "pa@ss" + f.b62(3))
    add("curl-basic-auth", "curl -u admin:{S} https://api.example.com/v1", f.password())
    add("curl-basic-auth", 'curl -s -X POST --user "deploy:{S}" https://ci.example.com/hook', f.b62(14))
    add("authorization-header", "Authorization: Bearer {S}\n", f.b64url(40))
    add(
        "authorization-header",
        '-H "Authorization: Basic {S}"',
        base64.b64encode(b"user:" + f.b62(9).encode()).decode(),
    )
    add("authorization-header", 'headers = {"Authorization": "token {S}"}', f.hex(40))

    pw = f.password
    add("password-assignment", 'password = "{S}"', pw())
    add("password-assignment", 'db_password = "{S}"', "hunter2x")
    add("password-assignment", "DB_PASSWORD={S}\n", "correcthorse")
    add("password-assignment", '{"password": "{S}"}', pw())
    add("password-assignment", "mysql --password={S} -h db", pw())
    add("password-assignment", "psql --password {S}", "Hunter22")
    add("password-assignment", "  password: {S}\n", "s3cr3t!pw")
    add("password-assignment", "PASSWORD: {S}\n", "Summer2024")
    add("password-assignment", 'def connect(password: str = "{S}"):', pw())
    add("password-assignment", "define('DB_PASSWORD', '{S}');", pw())
    add("password-assignment", '$password = "{S}";', pw())
    add("password-assignment", 'os.environ["PASSWORD"] = "{S}"', pw())
    add("password-assignment", 'if password == "{S}":', "letmein1")
    add("password-assignment", "ALTER USER app WITH PASSWORD '{S}';", pw())
    add("password-assignment", "db_pass = '{S}'", pw())
    add("password-assignment", "const dbPass = '{S}';", pw())
    add("password-assignment", "passwd: {S}", "tr0ub4dor")
    add("password-assignment", 'passwort = "{S}"', pw())
    add("password-assignment", 'Kennwort: "{S}"', pw())
    add("password-assignment", 'contraseña = "{S}"', pw())
    add("password-assignment", 'mot_de_passe = "{S}"', pw())
    add("password-assignment", 'senha: "{S}"', pw())
    add("password-assignment", 'пароль = "{S}"', pw())
    add("password-assignment", 'ПАРОЛЬ = "{S}"', pw())
    add("password-assignment", 'hasło = "{S}"', pw())
    add("password-assignment", '密码 = "{S}"', pw())
    add("password-assignment", 'パスワード: "{S}"', pw())
    add("password-assignment", "wachtwoord={S}", pw())
    add("secret-assignment", 'api_key = "{S}"', f.b62(32))
    add("secret-assignment", "SECRET_KEY = '{S}'", f.b64(50))
    add("secret-assignment", '"client_secret": "{S}"', f.b64url(40))
    add("secret-assignment", "MY_SERVICE_TOKEN={S}\n", f.b62(40))
    add("secret-assignment", "access_token: {S}\n", f.b64url(40))
    add("secret-assignment", "tool --api-key {S} run", f.b62(32))
    add("secret-assignment", "X-Api-Key: {S}", f.b62(32))
    add("secret-assignment", "app.secret_key = b'{S}'", "_5#y2L" + f.b62(10))
    add("secret-assignment", "const apiKey = `{S}`;", f.hex(40))
    add("secret-assignment", 'clave = "{S}"', f.b62(24))
    add("secret-assignment", "ENCRYPTION_KEY={S}", f.hex(64))
    add("secret-assignment", "APP_SECRET={S}\n", f.b64url(40))
    # Issue 12: the keyword need not be the last word of the name.
    for name in ("PASSWORD_PROD", "password_admin", "passwordAdmin", "pwd_root", "contraseña_admin"):
        add("password-assignment", name + ' = "{S}"', f.b62(20))
    for name in ("API_KEY_LIVE", "SECRET_KEY_PROD", "AUTH_TOKEN_PROD", "TOKEN_GITHUB", "client_secret_value"):
        add("secret-assignment", name + ' = "{S}"', f.b62(20))
    add("secret-assignment", "stripe.api.key={S}\n", f.b62(24))
    add("password-assignment", 'const DB_PASSWORD: &str = "{S}";', f.b62(20))
    # Issue 12: a placeholder word inside a random part does not make the token a placeholder.
    add("aws-access-key-id", "key = {S}\n", "AKIAHHFD2FXEXXXFXEHN")
    add("github-token", "token: {S}", "ghp_" + f.b62(10) + "todo" + f.b62(22))
    add("huggingface-token", 'HF_TOKEN="{S}"', "hf_" + f.b62(12) + "FAKE" + f.b62(18))
    return cases


#: Near misses per rule: none of these may be redacted by any rule.
FALSE_POSITIVES: dict[str, list[str]] = {
    "aws-access-key-id": [
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIA" + "X" * 16, "id = AKIA1234",
        "xAKIAABCDEFGHIJKLMNOP2", "Asia/Tokyo timezone, ASIAN markets",
    ],
    "aws-secret-access-key": [
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        'aws_secret_access_key = os.environ["AWS_SECRET_ACCESS_KEY"]', "aws_secret_access_key = ${AWS_SECRET}",
    ],
    "github-token": ["token = ghp_" + "x" * 36, "ghp_short", "the ghp_ prefix marks classic tokens"],
    "github-fine-grained-pat": ["github_pat_" + "X" * 82, "github_pat_is_the_prefix"],
    "gitlab-token": ["glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-your-personal-access-token", "glpat-short"],
    "slack-token": ["SLACK_TOKEN=xoxb-not-a-real-token", "xoxb-123", "xoxb-000000000000-000000000000-xxxxxxxxxxxx"],
    "slack-webhook": [
        "https://hooks.slack.com/services/YOUR/WEBHOOK/URL",
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    ],
    "stripe-key": ["sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "pk_test_constraintnames = 1", "sk_test_1234", "mask_sk_live_"],
    "anthropic-key": ["sk-ant-api03-" + "x" * 95, "sk-ant-api03-YOUR_KEY", "sk-ant-"],
    "openai-key": ["sk-proj-" + "x" * 48, "task-proj-management-board", "sk-1234", "sk-" + "A" * 48],
    "google-api-key": ["AIzaSy" + "X" * 33, "AIza", "key=AIza" + "abc_def-" * 5],
    "google-oauth-client-secret": ["GOCSPX-" + "x" * 28, "GOCSPX-short"],
    "gcp-private-key-id": ['"private_key_id": "your-private-key-id"', "private_key_id = key.id"],
    "azure-storage-key": ["AccountKey=<your-account-key>", "AccountKey=xxxxxxxxxxxxxxxxxxxxxxxxxxxx", "AccountKey={key}"],
    "azure-sas-signature": ["?sv=2022&sig=<signature>", "sig=signature_of_the_function(args)", "&sig=%s"],
    "azure-ad-client-secret": ["press Q~ to quit", "abc8Q~" + "x" * 34],
    "twilio-key": ["SK" + "0" * 32, "ACCESS_KEY_ID = 1", "AC" + "0123456789" * 3 + "01"],
    "sendgrid-key": ["SG." + "x" * 22 + "." + "x" * 43, "msg.some_attribute.value", "SG.short.key"],
    "npm-token": ["npm_" + "abcdefghijklmnopqrstuvwxyzabcdefghij", "npm_config_registry"],
    "pypi-token": ["pypi-AgEIcHlwaS5vcmc...", "the pypi-token in your keyring"],
    "huggingface-token": ["hf_" + "abcdefghijklmnopqrstuvwxyzabcdefgh", "hf_hub_download(repo_id)", "hf_" + "x" * 34],
    "shopify-token": ["shpat_" + "0" * 32, "shpat_" + "abcdef" * 5 + "ab"],
    "mailgun-key": ["key-value-store", "key-" + "0" * 32, "key-" + "abcdefabcdef" * 2 + "abcdefab"],
    "discord-bot-token": ["NotImplementedErrorHandler.method.some_very_long_attribute_name1"],
    "discord-webhook": ["https://discord.com/api/webhooks/123/abc"],
    "telegram-bot-token": ["at 12:34:56 on 2024-01-01", "12345678:AA" + "x" * 33],
    "digitalocean-token": ["dop_v1_" + "0" * 64, "dop_v1_example"],
    "heroku-api-key": ['heroku_app_name = "my-app"', "HRKU-short", "HEROKU_API_KEY=00000000-0000-0000-0000-000000000000"],
    "databricks-token": ["dapi" + "0" * 32, "dapi_client = Client()", "dapi" + "abcdef" * 5 + "ab"],
    "age-secret-key": ["AGE-SECRET-KEY-1" + "Q" * 58, "AGE-SECRET-KEY-1..."],
    "docker-registry-auth": ['"auth": "dXNlcm5hbWU="', '"auth": "Bearer"', '"auth": "eHh4Onh4eA=="'],
    "jwt": ["eyJhbGciOiJIUzI1NiJ9", "token = eyJ" + "x" * 20 + ".eyJ" + "x" * 20 + "." + "x" * 20],
    "private-key": [
        "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
        'if line.startswith("-----BEGIN PRIVATE KEY-----"):\n    return parse(line)\n',
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----",
        "-----BEGIN PRIVATE KEY-----\n<your key here>\n-----END PRIVATE KEY-----",
    ],
    "url-password": [
        "postgresql://user:${DB_PASSWORD}@host/db", 'url = "postgresql://%s:%s@%s/%s" % args',
        "https://example.com:8080/path", "postgresql://user:<password>@host/db", "postgresql://user:****@host",
        "postgresql://user@host/db", "mysql://user:password@host/db", "{scheme}://{user}:{password}@{host}",
    ],
    "curl-basic-auth": [
        "curl -u $USER:$PASS https://api.example.com", "curl -u user https://api.example.com",
        'curl -u "${API_USER}:${API_PASS}" https://x', "curl -u api_key: https://api.example.com",
    ],
    "authorization-header": [
        "Authorization: Bearer $TOKEN", "Authorization: Bearer <token>", '{"Authorization": f"Bearer {token}"}',
        '"Authorization": "Bearer " + access_token', "Authorization: Bearer YOUR_ACCESS_TOKEN",
        "Authorization: Bearer access_token",
    ],
    "password-assignment": [
        "password = password", "password = self._password", "password = get_password()", "password: str",
        "password: Optional[str] = None", 'password = os.environ["DB_PASSWORD"]', 'password = os.getenv("PW")',
        'password = "changeme"', 'password = "<password>"', 'password = "${DB_PASSWORD}"',
        'password: "{{ vault_password }}"', 'password = "%(password)s"', 'password = "****"',
        'PASSWORD_FIELD = "password"', '("username", "password", "message"),', ":param password: the password to use",
        'password = ""', "if not password:", 'password_hash = "$2b$12$abcdefghijklmnopqrstuv"',
        'compass = "north1"', 'bypass = "x1y2z3w4"', 'print("Enter your password")', 'input(type="password")',
        "PWD=/home/user/project", "password => null", "password: !vault |", "password = '' if x else y",
        "user_password = user_password_2", "password=pw, user=user_1", 'password = "[REDACTED:password-assignment]"',
        'password_field = "password"', "PASSWORD_MIN_LENGTH = 12", 'passwordless = "enabled"',
        "docker login --password-stdin --username ci", 'password_admin = "<your-admin-password>"',
        "PASSWORD_PROD = ${PASSWORD_PROD}", 'password_prompt = "Password:"', "password_admin = get_admin_pw()",
    ],
    "secret-assignment": [
        'eos_token = "</s>"', 'pad_token = "[PAD]"', 'token = request.headers["X-Token"]', 'secret_key = "dev"',
        'SECRET_KEY = "super-secret-key"', 'api_key = "your-api-key-here"', 'token_type = "bearer"',
        "tokens = tokenizer.encode(text)", "max_tokens = 4096", 'secret_name = "prod/db"',
        'SECRET_KEY = os.environ.get("SECRET_KEY", "")', '"secret": true', "api_key = API_KEY",
        "api_key=self.api_key", 'token = "some_long_identifier_name_v2"', 'token = "SomeVeryLongClassNameHere"',
        'access_key = "AKIAIOSFODNN7EXAMPLE"', 'keys = ["a", "b"]', 'monkey = "b4n4n4s4r3y3ll0w"',
        "token_count = 42", 'secret_key = os.environ["SECRET_KEY"]', 'TOKEN_URL = "https://auth.example.org/token"',
        'tokenizer_name = "bert-base-uncased"', 'client_secret_id = "client-secret-id"', 'authTokenService = this.svc',
    ],
}  # fmt: skip


def decoys() -> list[str]:
    """Look-alikes of secrets that are not secrets: no rule may redact any of them."""
    f = Fake("ctxeng-secret-decoys")
    png = base64.b64encode(bytes(f.rng.getrandbits(8) for _ in range(600))).decode()
    return [
        f"sha1 = '{f.hex(40)}'",
        f'expected = "{f.hex(64)}"  # sha256 of the fixture',
        f"commit {f.hex(40)}\nMerge: {f.hex(7)} {f.hex(7)}",
        f"run_id = '{f.uuid()}'",
        f'"integrity": "sha512-{f.b64(86)}=="',
        f'<img src="data:image/png;base64,{png}">',
        f"image: nginx@sha256:{f.hex(64)}",
        "class AbstractSingletonProxyFactoryBeanTokenizerConfiguration: pass",
        "def get_password_reset_token_expiry_in_seconds(self) -> int: ...",
        "The password must be at least 12 characters; the token expires after an hour.",
        'hashlib.sha256(b"hello").hexdigest()',
        f'ETag: W/"{f.hex(32)}"',
        f"checksum: {f.b64(44)}",
        "AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY are AWS's documented examples",
    ]
