"""The secret stage: Redactor on records, the scanner's contract, `ctxeng scan`, and a build of a planted repo."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctxeng.cli import main
from ctxeng.core.config import SecretsConfig
from ctxeng.core.errors import CtxengError
from ctxeng.core.records import Record
from ctxeng.secrets import Redactor, Scanner, find_secrets
from ctxeng.secrets.engine import PYTHON_RE, RE2
from tests.gitrepo import GitRepo
from tests.secret_cases import Fake, true_positives

ENGINES = [
    pytest.param(RE2, id="re2"),  # google-re2 is a core dependency: never skipped
    pytest.param(PYTHON_RE, id="re"),
]
F = Fake("ctxeng-test-secrets")
GH = "ghp_" + F.b62(36)
AWS = "AKIA" + F.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
PW = F.password()


def _record(**fields: object) -> Record:
    base: dict[str, object] = {
        "id": "sym-1", "kind": "symbol", "path": "src/app.py", "start_line": 1, "end_line": 3,
        "commit": "c" * 40, "time": 1, "name": "connect", "text": "", "meta": {},
    }  # fmt: skip
    base.update(fields)
    return Record(**base)  # type: ignore[arg-type]


# --- Redactor -------------------------------------------------------------------------------------


def test_record_redacts_text_name_and_every_string_in_meta() -> None:
    meta = {
        "signature": f'def connect(password="{PW}"):',
        "calls": ["open", f"use {GH}"],
        "nested": {"deeper": [{"token_list": (f"aws {AWS}", 3, None, True)}]},
        f"key {GH}": 1,
        "count": 7,
    }
    rec = _record(name=f"name {GH}", text=f"x = 1\naws_key = '{AWS}'\n", meta=meta)
    redactor = Redactor(SecretsConfig())
    out = redactor.record(rec)
    dumped = json.dumps(out.to_json())
    for secret in (GH, AWS, PW):
        assert secret not in dumped
    assert out.name == "name [REDACTED:github-token]"
    assert out.text == "x = 1\naws_key = '[REDACTED:aws-access-key-id]'\n"
    assert out.meta["calls"] == ["open", "use [REDACTED:github-token]"]
    assert out.meta["nested"]["deeper"][0]["token_list"] == (
        "aws [REDACTED:aws-access-key-id]",
        3,
        None,
        True,
    )
    assert out.meta["key [REDACTED:github-token]"] == 1 and out.meta["count"] == 7
    assert (out.id, out.kind, out.path, out.start_line, out.commit) == (
        rec.id,
        rec.kind,
        rec.path,
        1,
        rec.commit,
    )
    assert redactor.counts == {"github-token": 3, "aws-access-key-id": 2, "password-assignment": 1}
    assert GH in json.dumps(rec.meta), "the input record is not modified"


def test_clean_record_is_returned_unchanged() -> None:
    rec = _record(text="def connect(host, port):\n    return socket.create_connection((host, port))\n")
    redactor = Redactor()
    assert redactor.record(rec) is rec
    assert not redactor.counts


def test_counts_name_rules_never_values() -> None:
    redactor = Redactor()
    text = "\n".join(case.text for case in true_positives())
    redacted = redactor.text(text)
    assert set(redactor.counts) <= {case.rule for case in true_positives()}
    assert all(isinstance(n, int) and n > 0 for n in redactor.counts.values())
    assert all(case.secret not in redacted for case in true_positives())


def test_allow_list_exempts_matching_values() -> None:
    text = f'password = "{PW}"\ntoken = "{GH}"'
    redactor = Redactor(SecretsConfig(allow=[r"^ghp_"]))
    out = redactor.text(text)
    assert GH in out and PW not in out
    assert dict(redactor.counts) == {"password-assignment": 1}


def test_bad_allow_regex_is_a_clear_error() -> None:
    with pytest.raises(CtxengError) as err:
        Redactor(SecretsConfig(allow=["(unclosed"]))
    assert "secrets.allow" in err.value.message and err.value.hint


def test_redaction_keeps_everything_but_the_secret() -> None:
    before = f"url = 'postgresql://scott:{PW}@db.internal:5432/app'  # keep me\n"
    after = Redactor().text(before)
    assert after == "url = 'postgresql://scott:[REDACTED:url-password]@db.internal:5432/app'  # keep me\n"


def test_same_string_elsewhere_is_not_replaced() -> None:
    """Redaction is by span: the word 'tiger' in prose stays, the password 'tiger' goes."""
    text = "The tiger sleeps.\nengine = create_engine('mysql://scott:tiger@localhost/test')\n"
    assert Redactor().text(text) == (
        "The tiger sleeps.\nengine = create_engine('mysql://scott:[REDACTED:url-password]@localhost/test')\n"
    )


# --- Scanner contract ---------------------------------------------------------------------------


def test_findings_carry_rule_span_and_line() -> None:
    text = f"a = 1\nb = 2\nGITHUB_TOKEN = '{GH}'\n\nkey = {AWS}\n"
    findings = find_secrets(text)
    assert [(f.rule, f.line, text[f.start : f.end]) for f in findings] == [
        ("github-token", 3, GH),
        ("aws-access-key-id", 5, AWS),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_overlapping_rules_merge_into_one_span_named_by_the_most_specific(engine: object) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + F.b64url(43)
    text = f"Authorization: Bearer {jwt}"
    findings = Scanner(engine=engine).find(text)  # type: ignore[arg-type]
    assert [(f.rule, text[f.start : f.end]) for f in findings] == [("jwt", jwt)]


@pytest.mark.parametrize("engine", ENGINES)
def test_secrets_longer_than_the_repetition_cap_are_redacted_whole(engine: object) -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"claims": F.b62(1500)}).encode()).decode().rstrip("=")
    jwt = "eyJhbGciOiJSUzI1NiJ9." + payload + "." + F.b64url(1200)
    redacted, findings = Scanner(engine=engine).redact(f"id_token: {jwt}\n")  # type: ignore[arg-type]
    assert redacted == "id_token: [REDACTED:jwt]\n"
    assert [f.rule for f in findings] == ["jwt"]


@pytest.mark.parametrize("engine", ENGINES)
def test_undecodable_file_names_do_not_break_scanning(engine: object) -> None:
    text = f"bad\udcffname.py: token = '{GH}'"
    findings = Scanner(engine=engine).find(text)  # type: ignore[arg-type]
    assert [text[f.start : f.end] for f in findings] == [GH]


@pytest.mark.parametrize("engine", ENGINES)
def test_adversarial_inputs_finish_with_sane_results(engine: object) -> None:
    """Inputs that make backtracking engines explode; with capped repetition both engines stay linear."""
    scanner = Scanner(engine=engine)  # type: ignore[arg-type]
    inputs = [
        "password=" * 20_000,
        "a" * 300_000,
        "AKIA" * 50_000,
        "eyJ" * 30_000,
        "eyJ" + "a" * 200_000 + ".eyJ" + "b" * 200_000,
        "://" + ":" * 50_000 + "@",
        "-----BEGIN PRIVATE KEY-----\n" + "A" * 100_000,
        "-----BEGIN RSA PRIVATE KEY-----\n" * 5_000,
        'password = "' + "\\" * 100_000,
        "curl " + "-u " * 50_000,
        "Authorization: Bearer " * 20_000,
    ]
    for text in inputs:
        for finding in scanner.find(text):
            assert 0 <= finding.start < finding.end <= len(text)


def test_scanner_compiles_the_same_rules_on_both_engines() -> None:
    assert RE2 is not None, "google-re2 is a core dependency"
    assert [c.rule.id for c in Scanner(engine=RE2).compile_all()] == [
        c.rule.id for c in Scanner(engine=PYTHON_RE).compile_all()
    ]


# --- a real repository: ctxeng scan and ctxeng build -----------------------------------------------


def _planted(fake: Fake) -> dict[str, str]:
    """Fake secrets of 16 formats, by a label used in the file that holds them."""
    bot = base64.b64encode(fake.digits(18).encode()).decode()
    return {
        "aws": "AKIA" + fake.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        "aws_secret": fake.b64(40),
        "github": "ghp_" + fake.b62(36),
        "gitlab": "glpat-" + fake.b64url(20),
        "slack": f"xoxb-{fake.digits(12)}-{fake.digits(13)}-{fake.b62(24)}",
        "stripe": "sk_live_" + fake.b62(24),
        "openai": "sk-proj-" + fake.b64url(60) + "T3BlbkFJ" + fake.b64url(60),
        "anthropic": "sk-ant-api03-" + fake.b64url(93) + "AA",
        "google": "AIza" + fake.b64url(35),
        "sendgrid": "SG." + fake.b64url(22) + "." + fake.b64url(43),
        "npm": "npm_" + fake.b62(36),
        "hf": "hf_" + fake.b62(34),
        "discord": bot + "." + fake.b64url(6) + "." + fake.b64url(38),
        "db_password": fake.password(),
        "api_key": fake.b62(32),
        "pem": "\n".join(fake.pem_body()),
    }


def _make_planted_repo(path: Path) -> tuple[GitRepo, dict[str, str]]:
    """A small project with secrets at HEAD, in a deleted file, in a commit message and in a doc."""
    fake = Fake("ctxeng-planted-repo")
    s = _planted(fake)
    deleted = {
        "old_aws": "AKIA" + fake.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        "old_pem": "\n".join(fake.pem_body()),
    }
    message_token = "ghp_" + fake.b62(36)
    repo = GitRepo(path)
    repo.commit("Add the service", {
        "src/service.py": (
            '"""The payment service."""\n\nimport os\n\n'
            f'STRIPE_KEY = "{s["stripe"]}"\nAWS_ACCESS_KEY_ID = "{s["aws"]}"\n'
            f'aws_secret_access_key = "{s["aws_secret"]}"\n\n\n'
            "def connect(host: str) -> object:\n"
            '    """Connect to the database."""\n'
            f'    return create_engine(f"postgresql://app:{s["db_password"]}@{{host}}/payments")\n\n\n'
            "class Client:\n"
            '    """An API client."""\n\n'
            "    def headers(self) -> dict:\n"
            '        """Headers for every request."""\n'
            f'        return {{"Authorization": "Bearer {s["github"]}", "X-Api-Key": "{s["api_key"]}"}}\n'
        ),
        "src/tokens.js": (
            "// Tokens used by the front end.\n"
            f"export const SLACK = '{s['slack']}';\nexport const OPENAI = '{s['openai']}';\n"
            f"export function anthropic() {{ return '{s['anthropic']}'; }}\n"
            f"export function google() {{ return '{s['google']}'; }}\n"
        ),
        "src/keys.py": (
            '"""Key material for tests."""\n\n'
            f'SENDGRID = "{s["sendgrid"]}"\nNPM = "{s["npm"]}"\nHF = "{s["hf"]}"\nDISCORD = "{s["discord"]}"\n'
            f'GITLAB = "{s["gitlab"]}"\n\nPRIVATE_KEY = """-----BEGIN RSA PRIVATE KEY-----\n{s["pem"]}\n'
            '-----END RSA PRIVATE KEY-----\n"""\n'
        ),
        "docs/design.md": (
            "# Design\n\n## Deployment\n\nThe deploy job authenticates with the token "
            f"`{s['github']}` and the key `{s['aws']}`; rotate them monthly.\n"
        ),
    })  # fmt: skip
    repo.commit("Add legacy credentials", {
        "legacy/creds.py": (
            '"""Old credentials."""\n\n'
            f'LEGACY_AWS = "{deleted["old_aws"]}"\nKEY = """-----BEGIN PRIVATE KEY-----\n{deleted["old_pem"]}\n'
            '-----END PRIVATE KEY-----\n"""\n'
        ),
    })  # fmt: skip
    repo.commit("Remove legacy credentials", {"legacy/creds.py": None})
    repo.commit(
        f"Rotate the deploy token\n\nThe old one was {message_token}, now revoked.", {"README.md": "# svc\n"}
    )
    return repo, {**s, **deleted, "message": message_token}


def _fragments(secret: str) -> list[str]:
    """The secret and the pieces of it that must not survive (each PEM line, the token's ends)."""
    pieces = [line for line in secret.split("\n") if len(line) >= 12] or [secret]
    out = []
    for piece in pieces:
        out += [piece, json.dumps(piece)[1:-1]]
        if len(piece) >= 24:
            out += [piece[:16], piece[-16:]]
    return out


def test_build_output_holds_no_planted_secret(tmp_path: Path) -> None:
    from ctxeng.pipeline.build import build

    repo, secrets = _make_planted_repo(tmp_path / "svc")
    assert len(secrets) >= 15
    result = build(repo.path)
    tracked = set(repo.git("ls-files").splitlines())
    outputs = [
        p for p in sorted(repo.path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo.path).parts[:1]
        and p.relative_to(repo.path).as_posix() not in tracked
    ]  # fmt: skip
    assert any(p.name == "records.jsonl" for p in outputs)
    leaks = []
    for path in outputs:
        content = path.read_text(encoding="utf-8", errors="replace")
        for label, secret in secrets.items():
            if any(fragment in content for fragment in _fragments(secret)):
                leaks.append(f"{label} in {path.relative_to(repo.path)}")
    assert leaks == []
    redactions = result.manifest["redactions"]
    assert redactions.get("private-key", 0) >= 3, redactions  # HEAD file, and both sides of the deleted file
    records = (result.out_dir / "records.jsonl").read_text(encoding="utf-8")
    assert "[REDACTED:github-token]" in records and "[REDACTED:stripe-key]" in records


def test_redaction_counts_are_the_same_cold_and_from_the_cache(tmp_path: Path) -> None:
    """A cold build once counted each file's redactions twice (as extracted and again in the stage total)."""
    from ctxeng.pipeline.build import build

    repo, _ = _make_planted_repo(tmp_path / "svc")
    cold = build(repo.path).manifest
    warm = build(repo.path, force=True).manifest  # nothing changed: only `force` makes it run again
    assert warm["files"]["cached"] == warm["files"]["extracted"] > 0 == cold["files"]["cached"]
    assert cold["redactions"] == warm["redactions"]
    assert cold["redactions"]["stripe-key"] >= 1


def _run_scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["scan", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_lists_places_never_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, secrets = _make_planted_repo(tmp_path / "svc")
    code, out, err = _run_scan(capsys, str(repo.path))
    assert code == 0
    for secret in secrets.values():
        assert not any(fragment in out + err for fragment in _fragments(secret))
    lines = out.splitlines()
    assert "src/service.py:5: stripe-key" in lines
    assert "src/service.py:6: aws-access-key-id" in lines
    assert "docs/design.md:5: github-token" in lines
    added = repo.git("rev-list", "--skip=2", "-1", "HEAD").strip()[:12]
    removed = repo.git("rev-list", "--skip=1", "-1", "HEAD").strip()[:12]
    last = repo.head()[:12]
    assert f"commit {added} legacy/creds.py:3: aws-access-key-id (added)" in lines
    assert f"commit {removed} legacy/creds.py:3: aws-access-key-id (deleted)" in lines
    assert f"commit {removed} legacy/creds.py:5: private-key (deleted)" in lines
    assert f"commit {last} message: github-token (message)" in lines
    assert "to redact" in err


def test_scan_json_fail_and_no_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, _ = _make_planted_repo(tmp_path / "svc")
    repo.commit("Add an env file", {".env": "TOKEN=abc\n"})
    code, out, _ = _run_scan(capsys, str(repo.path), "--json", "--no-history")
    report = json.loads(out)
    assert code == 0
    assert report["history"] == [] and report["commits_scanned"] == 0
    assert report["dropped_files"] == [{"path": ".env", "rule": "dotenv"}]
    assert {
        "path": "src/keys.py",
        "line": 3,
        "rule": "sendgrid-key",
        "where": "file",
        "commit": "",
    } in report["files"]
    code, _, _ = _run_scan(capsys, str(repo.path), "--fail", "--no-history")
    assert code == 1


def test_scan_of_a_clean_repository_passes_with_fail(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    git_repo.commit("Add code", {"app.py": 'def hello() -> str:\n    return "hello"\n'})
    code, out, err = _run_scan(capsys, str(git_repo.path), "--fail")
    assert (code, out) == (0, "")
    assert "0 to redact" in err


def test_scan_outside_a_repository_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run_scan(capsys, str(tmp_path))
    assert code == 1 and "not a git repository" in err


def test_scan_honours_the_allow_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit("Add", {
        "app.py": f'TOKEN = "{GH}"\nPASSWORD = "{PW}"\n',
        ".ctxeng.toml": '[secrets]\nallow = ["^ghp_"]\n',
    })  # fmt: skip
    code, out, _ = _run_scan(capsys, str(repo.path), "--no-history")
    assert code == 0 and out.splitlines() == ["app.py:2: password-assignment"]


def test_scan_runs_as_a_subprocess(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit("Add", {"app.py": f"KEY = '{AWS}'\n"})
    proc = subprocess.run(
        [sys.executable, "-m", "ctxeng", "scan", "--no-history", "--fail", str(repo.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == "app.py:1: aws-access-key-id\n"
    assert AWS not in proc.stdout + proc.stderr


def test_redacting_a_files_records_together_equals_one_by_one() -> None:
    secret = "sk_live_" + Fake("together").b62(24)
    recs = [
        Record(id=f"sym-{i}", kind="symbol", path="app.py", start_line=i, end_line=i, commit="", time=0,
               name=f"f{i}", text=text, meta={"doc": doc, "calls": ["x"]})
        for i, (text, doc) in enumerate([("def f0(): pass", ""), (f"KEY = '{secret}'", ""), ("x = 1", f"uses {secret}")])
    ]  # fmt: skip
    together, one_by_one = Redactor(), Redactor()
    assert together.records(recs) == [one_by_one.record(r) for r in recs]
    assert together.counts == one_by_one.counts and sum(together.counts.values()) == 2
    clean = recs[:1]
    assert Redactor().records(clean) == clean
