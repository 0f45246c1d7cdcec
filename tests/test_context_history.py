"""Prompt context and ranking from history: touched definitions, commit-message associations, linked tests,
HTTP method handlers, and filling the budget. Every case is a real git repository built in a tmp folder."""

from __future__ import annotations

from ctxeng.core.config import load_config
from ctxeng.core.repo import open_repo
from ctxeng.core.tokens import count_tokens
from ctxeng.pack import context_for_prompt
from ctxeng.pack.associations import past_changes
from ctxeng.pack.context import Query, idf_table
from ctxeng.pack.facts import facts_from_records
from ctxeng.pack.heat import definition_heat
from ctxeng.pack.index.reader import load_index
from ctxeng.pack.index.reader import qualname as qualname_of
from ctxeng.pipeline.build import build
from ctxeng.replay.state import Replayer
from tests.gitrepo import GitRepo


def _module(names: list[str], extra: str = "") -> str:
    """A module of small functions with distinct bodies (each a dozen lines)."""
    out = [f'"""Helpers {extra}."""\n']
    for n in names:
        body = "".join(f"    step_{k} = value + {k}\n" for k in range(8))
        out.append(f'\n\ndef {n}(value):\n    """Do {n.replace("_", " ")}."""\n{body}    return value\n')
    return "".join(out)


STORE = _module(["open_bucket", "close_bucket", "upload_blob", "list_blobs", "rename_blob"], "for buckets")


def test_past_commits_point_at_the_definitions_their_patches_touched(git_repo: GitRepo) -> None:
    git_repo.commit("Add the bucket store", {"cloud/store.py": STORE})
    git_repo.commit("Retry flaky transfers with backoff", {"cloud/store.py": _retry(STORE)})
    build(git_repo.path)
    index = load_index(git_repo.path)
    files, defs = past_changes(index, idf_table(index, Query.parse("retry flaky transfers")))
    assert [index["files"]["path"][f] for f in files] == ["cloud/store.py"]
    # the commit changed one function of five: the association names it, not the whole file
    assert [qualname_of(index, i) for i, m in defs.items() if m > 0] == ["upload_blob"]
    assert past_changes(index, idf_table(index, Query.parse("quantum chromodynamics"))) == ({}, {})
    text = context_for_prompt(git_repo.path, "retry flaky transfers", 1200)
    listed = text.split("## Definitions")[1]
    assert listed.index("def upload_blob(value)") < listed.index("def rename_blob(value)")


def _retry(source: str) -> str:
    """`source` with a retry loop added in the middle of `upload_blob` only."""
    head, _, tail = source.partition("def upload_blob(value):\n")
    tail = tail.replace(
        "    step_5 = value + 5\n", "    step_5 = value + 5\n    for attempt in range(3):\n        pass\n", 1
    )
    return head + "def upload_blob(value):\n" + tail


def test_heat_lands_on_the_definitions_recent_commits_touched(git_repo: GitRepo) -> None:
    git_repo.commit("Add the bucket store", {"cloud/store.py": STORE})
    for n in range(3):
        git_repo.commit(
            f"Tune retries {n}", {"cloud/store.py": _retry(STORE).replace("range(3)", f"range({n + 4})")}
        )
    view = open_repo(git_repo.path)
    snap = Replayer(view, load_config(view.root), None).snapshot(view.head)
    facts = facts_from_records(view.name, snap.records, [e.path for e in snap.entries])
    assert any(("cloud/store.py", "upload_blob") in c.symbols for c in facts.commits)
    heat = dict(zip((d.name for d in facts.defs), definition_heat(facts, 100.0)))
    # same size, same file: before, each had the file's heat by owned lines (equal); now the touched one leads
    assert heat["upload_blob"] > 1.5 * heat["rename_blob"] > 0
    assert heat["open_bucket"] == heat["rename_blob"]


VERBS = '''"""Sends HTTP requests."""


def request(method, url):
    """Send a request."""
    return method, url


def get(url):
    """Sends a GET request."""
    return request("get", url)


def post(url):
    """Sends a POST request."""
    return request("post", url)


def put(url):
    """Sends a PUT request."""
    return request("put", url)


def delete(url):
    """Sends a DELETE request."""
    return request("delete", url)


def options(url):
    """Sends an OPTIONS request."""
    return request("options", url)
'''

PUBLISH = '''"""Publishing settings."""


def read_setting(text):
    """Read one publishing option (a `name=value` pair) for the test index."""
    name, _, value = text.partition("=")
    return name.strip(), value.strip()


def publish_target(settings):
    """The index a release goes to."""
    return settings.get("index", "pypi")
'''


def test_a_generic_word_does_not_pull_in_an_http_method_handler(git_repo: GitRepo) -> None:
    # requests' commit "Update publish workflow and add test pypi option" (00600b38) was shown
    # `def options(url, **kwargs)` — Sends an OPTIONS request — and its body, first.
    git_repo.commit("Add the client", {"client/api.py": VERBS, "client/publish.py": PUBLISH})
    build(git_repo.path)
    text = context_for_prompt(git_repo.path, "Update publish workflow and add test pypi option", 1500)
    defs = text.split("## Definitions")[1].split("\n## ")[0]
    assert "def read_setting(text)" in defs
    code = text.split("## Code")[1]  # bodies of the best matches first: the settings, not OPTIONS
    where = [
        code.find(f"def {name}(") % (len(code) + 1) for name in ("read_setting", "publish_target", "options")
    ]
    assert where == sorted(where), where
    # written as the method, it is the method
    for prompt in ("why does an OPTIONS request fail?", "why does `options` send the wrong method?"):
        asked = context_for_prompt(git_repo.path, prompt, 1500)
        assert "def options(url):" in asked


def test_a_kv_store_delete_is_not_an_http_handler(git_repo: GitRepo) -> None:
    # three verb-like names (get, put, delete) are a store's API, not a family of HTTP method handlers
    store = VERBS.replace("def post(url)", "def scan(url)").replace("def options(url)", "def compact(url)")
    git_repo.commit("Add the store", {"kv/store.py": store.replace("Sends HTTP requests.", "A store.")})
    build(git_repo.path)
    text = context_for_prompt(git_repo.path, "what happens when a key is deleted?", 1500)
    assert "def delete(url):" in text


def test_a_matched_source_file_brings_the_test_class_beside_it(git_repo: GitRepo) -> None:
    cart = _module(["add_item", "remove_item", "cart_total"], "for the shopping cart")
    tests = (
        '"""Cart tests."""\n\nfrom shop.cart import add_item, cart_total\n\n\n'
        "def test_smoke():\n    assert add_item(1)\n\n\n"
        "class TestCartBehaviour:\n"
        + "".join(f"    def test_case_{k}(self):\n        assert cart_total({k})\n\n" for k in range(12))
    )
    git_repo.commit("Add the cart", {"shop/cart.py": cart, "tests/test_cart.py": tests})
    git_repo.commit(
        "Cart totals", {"shop/cart.py": cart.replace("+ 1\n", "+ 11\n"), "tests/test_cart.py": tests + "\n"}
    )
    build(git_repo.path)
    text = context_for_prompt(git_repo.path, "cart total is wrong for removed items", 900)
    defs = text.split("## Definitions")[1].split("\n## ")[0]
    test_part = defs.split("### tests/test_cart.py")[1].split("\n### ")[0]
    assert "class TestCartBehaviour" in test_part  # where the fix's test goes: the largest test container


def test_the_context_fills_its_budget_with_more_source_bodies(git_repo: GitRepo) -> None:
    names = [f"parse_header_{k}" for k in range(16)]
    git_repo.commit("Add header parsing", {"web/headers.py": _module(names, "for header parsing")})
    build(git_repo.path)
    for budget in (1200, 1800):
        text = context_for_prompt(git_repo.path, "header parsing is wrong", budget)
        used = count_tokens(text)
        assert 0.9 * budget <= used <= budget, (budget, used)
        assert text.count("```python") > 3  # more than the three bodies shown when other sections fill up
    assert context_for_prompt(git_repo.path, "header parsing is wrong", 1800) == text  # deterministic


def test_past_changes_reads_an_index_without_definition_lists(git_repo: GitRepo) -> None:
    git_repo.commit("Add the bucket store", {"cloud/store.py": STORE})
    build(git_repo.path)
    index = load_index(git_repo.path)
    del index["commits"]["touched"]  # an index written before definitions were kept
    files, defs = past_changes(index, idf_table(index, Query.parse("bucket store")))
    assert [index["files"]["path"][f] for f in files] == ["cloud/store.py"] and defs == {}


def _classes(edit: int = 0) -> str:
    """Two classes of the same size; `edit` changes a line in the middle of `Upload.send`'s body."""
    out = ['"""Transfers."""\n']
    for cls, methods in (("Upload", ("send", "stop")), ("Download", ("fetch", "halt"))):
        out.append(f'\n\nclass {cls}:\n    """{cls}s."""\n')
        for meth in methods:
            body = "".join(f"        step_{k} = value + {k}\n" for k in range(8))
            if cls == "Upload" and meth == "send":
                body = body.replace("value + 5", f"value + {5 + edit}")
            out.append(f"\n    def {meth}(self, value):\n{body}        return value\n")
    return "".join(out)


def test_a_touched_method_warms_its_class(git_repo: GitRepo) -> None:
    for n in range(4):
        git_repo.commit(f"Tune uploads {n}", {"cloud/transfer.py": _classes(n)})
    view = open_repo(git_repo.path)
    snap = Replayer(view, load_config(view.root), None).snapshot(view.head)
    facts = facts_from_records(view.name, snap.records, [e.path for e in snap.entries])
    heat = dict(zip((d.qualname for d in facts.defs), definition_heat(facts, 100.0)))
    assert heat["Upload.send"] > heat["Upload.stop"] and heat["Upload.send"] > heat["Download.fetch"]
    assert heat["Upload"] > heat["Download"]  # a change to `Upload.send` is a change to `Upload`
