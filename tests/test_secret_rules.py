"""Every secret rule against its true and false positives, on both regex engines (gitleaks style)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxeng.secrets import Scanner
from ctxeng.secrets.engine import PYTHON_RE, RE2
from ctxeng.secrets.rules import all_rules
from tests.secret_cases import FALSE_POSITIVES, Case, decoys, true_positives

ENGINES = [
    pytest.param(RE2, id="re2"),  # google-re2 is a core dependency: never skipped
    pytest.param(PYTHON_RE, id="re"),
]
TPS = true_positives()
RULE_IDS = [rule.id for rule in all_rules()]
DEFAULT = Scanner()


@pytest.fixture(scope="module", params=ENGINES)
def scanner(request: pytest.FixtureRequest) -> Scanner:
    return Scanner(engine=request.param)


def test_every_rule_has_true_and_false_positives() -> None:
    assert len(RULE_IDS) == len(set(RULE_IDS)), "rule ids must be unique"
    assert sorted({case.rule for case in TPS}) == sorted(RULE_IDS)
    assert sorted(FALSE_POSITIVES) == sorted(RULE_IDS)
    assert all(FALSE_POSITIVES.values())


@pytest.mark.parametrize("case", TPS, ids=[f"{c.rule}-{i}" for i, c in enumerate(TPS)])
def test_true_positive_is_redacted_exactly(scanner: Scanner, case: Case) -> None:
    findings = scanner.find(case.text)
    spans = [(case.text[f.start : f.end], f.rule) for f in findings]
    assert (case.secret, case.rule) in spans, f"expected {case.rule} on {case.text!r}, got {spans}"
    redacted, _ = scanner.redact(case.text)
    assert case.secret not in redacted
    assert f"[REDACTED:{case.rule}]" in redacted


@pytest.mark.parametrize(
    "rule,text",
    [(rule, text) for rule, texts in FALSE_POSITIVES.items() for text in texts],
    ids=lambda v: str(v)[:40],
)
def test_false_positive_is_left_alone(scanner: Scanner, rule: str, text: str) -> None:
    found = [(text[f.start : f.end], f.rule) for f in scanner.find(text)]
    assert found == [], f"{rule} near miss {text!r} was redacted: {found}"


@pytest.mark.parametrize("text", decoys(), ids=lambda v: v[:30])
def test_decoys_survive(scanner: Scanner, text: str) -> None:
    assert scanner.find(text) == [], "hex digests, UUIDs, integrity hashes, base64 data are not secrets"


def test_secrets_embedded_in_code_are_all_found(scanner: Scanner) -> None:
    """All true positives in one file, separated by code: each one still comes out, nothing else."""
    filler = "\n\ndef handler(event, context):\n    return {'status': 200, 'body': event.get('body')}\n\n"
    text = filler.join(case.text for case in TPS)
    redacted, findings = scanner.redact(text)
    for case in TPS:
        assert case.secret not in redacted, case
    assert redacted.count("def handler(event, context):") == len(TPS) - 1
    assert len(findings) >= len(TPS)


def test_redaction_is_idempotent(scanner: Scanner) -> None:
    for case in TPS:
        once, _ = scanner.redact(case.text)
        twice, findings = scanner.redact(once)
        assert twice == once and findings == [], f"re-scanning the redacted text of {case.rule} changed it"


def test_engines_agree_on_all_fixtures() -> None:
    assert RE2 is not None, "google-re2 is a core dependency"
    fast, slow = Scanner(engine=RE2), Scanner(engine=PYTHON_RE)
    texts = [c.text for c in TPS] + [t for ts in FALSE_POSITIVES.values() for t in ts] + decoys()
    for text in texts:
        assert fast.find(text) == slow.find(text), text


CODE_CHARS = st.text(
    alphabet=st.sampled_from(list("abcdefXYZ0123456789 _\n\t()[]{}=:;,.+-*/<>#")), max_size=200
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(case=st.sampled_from(TPS), before=CODE_CHARS, after=CODE_CHARS)
def test_secrets_are_found_inside_arbitrary_code(case: Case, before: str, after: str) -> None:
    text = f"{before}\n{case.text}\n{after}"
    redacted, _ = DEFAULT.redact(text)
    assert case.secret not in redacted
    if not DEFAULT.find(before + "\n"):
        assert redacted.startswith(before + "\n"), "text before the secret is kept"


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    text=st.text(max_size=300)
    | st.builds("".join, st.lists(st.sampled_from([c.text for c in TPS]) | CODE_CHARS))
)
def test_redacting_twice_changes_nothing(text: str) -> None:
    once, _ = DEFAULT.redact(text)
    twice, findings = DEFAULT.redact(once)
    assert (twice, findings) == (once, [])
