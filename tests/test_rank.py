"""Ranking: PageRank itself, public-API resolution, priors and damping, determinism."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ctxeng.core.records import Record, record_id
from ctxeng.pack.api import reexports
from ctxeng.pack.facts import facts_from_records
from ctxeng.pack.graph import pagerank
from ctxeng.pack.rank import Weights, doc_mentions, rank


def sym(path: str, line: int, name: str, *, parent: str = "", kind: str = "function", vis: str = "public",
        doc: str = "") -> Record:  # fmt: skip
    qual = f"{parent}.{name}" if parent else name
    meta = {"language": "python", "kind": kind, "qualname": qual, "signature": f"def {name}():", "doc": doc,
            "parent": parent, "calls": [], "visibility": vis}  # fmt: skip
    return Record(record_id("symbol", path, qual, "0"), "symbol", path, line, line + 2, "", 0, name, "", meta)


def file(path: str, refs: dict[str, int], exports: tuple[str, ...] = ()) -> Record:
    meta = {
        "language": "python",
        "refs": refs,
        "exports": list(exports),
        "imports": [],
        "definitions": [],
        "lines": 9,
    }
    return Record(record_id("file", path), "file", path, 1, 9, "", 0, path, "", meta)


def doc(path: str, text: str, kind: str = "readme") -> Record:
    meta = {"doc_kind": kind, "level": 1, "title": "T", "format": "markdown"}
    return Record(record_id("doc", path, "T", "0"), "doc", path, 1, 5, "", 0, "T", text, meta)


def library() -> list[Record]:
    """A package whose init re-exports `Engine` and `connect`; internals are referenced more than those."""
    return [
        file("lib/__init__.py", {}, ("Engine", "connect")),
        file("lib/engine.py", {"_pool": 9, "helper": 9}),
        file("lib/util.py", {"helper": 3}),
        file("lib/api.py", {"Engine": 1, "helper": 12}),
        file("tests/test_engine.py", {"Engine": 20, "connect": 20, "helper": 20}),
        sym("lib/engine.py", 1, "Engine", kind="class", doc="The engine."),
        sym("lib/engine.py", 5, "start", parent="Engine", kind="method"),
        sym("lib/engine.py", 9, "_pool", vis="private"),
        sym("lib/api.py", 1, "connect"),
        sym("lib/util.py", 1, "helper"),
        sym("tests/test_engine.py", 1, "test_connect"),
    ]


def test_pagerank_sums_to_one_and_follows_edges() -> None:
    ranks = pagerank(3, [(0, 1, 1.0), (2, 1, 1.0)], [1.0, 1.0, 1.0])
    assert sum(ranks) == pytest.approx(1.0)
    assert ranks[1] > ranks[0] == pytest.approx(ranks[2])


def test_pagerank_personalisation_and_dangling_nodes() -> None:
    # node 1 is dangling: its rank teleports back by the personal vector, never to node 2
    ranks = pagerank(3, [(0, 1, 1.0)], [1.0, 0.0, 0.0])
    assert ranks[0] > 0 and ranks[1] > 0 and ranks[2] == 0.0
    assert sum(ranks) == pytest.approx(1.0)
    assert pagerank(0, [], []) == []


def test_reexports_resolve_inside_the_package() -> None:
    facts = facts_from_records("lib", library())
    names = sorted(facts.defs[i].qualname for i in reexports(facts))
    assert names == ["Engine", "connect"]


def test_public_api_outranks_referenced_internals_and_tests() -> None:
    facts = facts_from_records("lib", library())
    ranking = rank(facts)
    order = [facts.defs[i].qualname for i in ranking.ordered_defs(facts.defs)]
    assert order[:2] == ["Engine", "connect"] or order[:2] == ["connect", "Engine"]
    assert order.index("helper") < order.index("_pool")  # private names are damped
    assert order[-1] == "test_connect"  # tests come last
    assert order.index("Engine.start") < order.index("_pool")  # members of a public class inherit some rank


def test_without_the_prior_references_decide() -> None:
    facts = facts_from_records("lib", library())
    plain = rank(facts, weights=Weights(prior_share=0.0))
    order = [facts.defs[i].qualname for i in plain.ordered_defs(facts.defs)]
    assert order[0] == "helper"  # the most referenced definition, as aider's map would have it


def test_doc_mentions_feed_the_prior() -> None:
    records = [*library(), doc("README.md", "Call `helper()` or :func:`lib.util.helper` to start.")]
    mentions = doc_mentions(facts_from_records("lib", records))
    assert mentions["helper"] == pytest.approx(1.0)  # sections that mention a name, not mentions
    assert mentions["lib.util.helper"] == pytest.approx(1.0)
    with_doc = rank(facts_from_records("lib", records))
    without = rank(facts_from_records("lib", library()))
    facts = facts_from_records("lib", records)
    helper = next(i for i, d in enumerate(facts.defs) if d.name == "helper")
    assert with_doc.def_score[helper] > without.def_score[helper]


def test_entry_points_get_a_prior() -> None:
    records = [*library(), file("lib/cli.py", {}), sym("lib/cli.py", 3, "main"), file("lib/other.py", {}),
               sym("lib/other.py", 3, "main"), file("lib/run.py", {}), sym("lib/run.py", 3, "go")]  # fmt: skip
    facts = facts_from_records("lib", records)
    score = {(d.path, d.name): s for d, s in zip(facts.defs, rank(facts, [("lib/run.py", "go")]).def_score)}
    assert score[("lib/cli.py", "main")] > 2 * score[("lib/other.py", "main")]  # cli.py is an entry file
    assert score[("lib/run.py", "go")] > 2 * score[("lib/other.py", "main")]  # a declared console script


def test_ranking_ignores_record_order() -> None:
    records = library()
    shuffled = list(records)
    random.Random(7).shuffle(shuffled)
    a, b = rank(facts_from_records("lib", records)), rank(facts_from_records("lib", shuffled))
    assert a.def_score == b.def_score and a.file_score == b.file_score


def test_ties_break_by_path_line_name() -> None:
    records = [
        file("a.py", {}),
        file("b.py", {}),
        sym("b.py", 1, "same"),
        sym("a.py", 2, "same"),
        sym("a.py", 1, "z"),
    ]
    facts = facts_from_records("t", records)
    ranking = rank(facts)
    ranking.def_score = [1.0] * len(facts.defs)
    assert [(facts.defs[i].path, facts.defs[i].line) for i in ranking.ordered_defs(facts.defs)] == [
        ("a.py", 1), ("a.py", 2), ("b.py", 1)
    ]  # fmt: skip


def test_pagerank_matches_networkx_on_a_real_reference_graph() -> None:
    """The hand-written PageRank agrees with networkx's on the reference graph of ctxeng's own pack code."""
    import networkx as nx

    from ctxeng.core.provenance import Provenance
    from ctxeng.extract.code import extract_code
    from ctxeng.extract.selection import SourceFile

    root = Path(__file__).resolve().parent.parent
    sources = [SourceFile(p.relative_to(root).as_posix(), "0" * 40, p.read_text(encoding="utf-8"), 0, "utf-8")
               for p in sorted((root / "ctxeng" / "pack").rglob("*.py"))]  # fmt: skip
    facts = facts_from_records("ctxeng", extract_code(sources, Provenance(), lambda *_: None))
    edges_by_path = rank(facts).edges
    paths = list(facts.files)
    row = {p: i for i, p in enumerate(paths)}
    edges = [(row[a], row[b], w) for a in paths for b, w in sorted(edges_by_path.get(a, {}).items())]
    assert len(paths) > 20 and len(edges) > 50
    personal = [1.0 + (i % 3) for i in range(len(paths))]  # uneven, so personalisation matters
    ours = pagerank(len(paths), edges, personal, iterations=200, tolerance=1e-12)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(paths)))
    graph.add_weighted_edges_from(edges)
    p = {i: x for i, x in enumerate(personal)}
    from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python  # nx.pagerank needs scipy

    theirs = _pagerank_python(
        graph, alpha=0.85, personalization=p, dangling=p, weight="weight", tol=1e-12, max_iter=500
    )
    assert max(abs(ours[i] - theirs[i]) for i in range(len(paths))) < 1e-9


def commit(sha: str, when: int, files: list[str], subject: str = "change") -> Record:
    meta = {
        "date": "2024-01-01T00:00:00+00:00",
        "files": [{"path": p, "status": "M"} for p in files],
        "stats": {},
    }
    return Record(record_id("commit", sha), "commit", "", 0, 0, sha, when, subject, subject, meta)


def test_history_heat_favours_recent_churn_and_big_bodies() -> None:
    from ctxeng.pack.heat import file_heat, own_lines

    records = [*library(), sym("lib/util.py", 10, "tiny"), commit("c3", 30, ["lib/util.py"]),
               commit("c2", 20, ["lib/util.py"]), commit("c1", 10, ["lib/api.py"]),
               commit("wide", 5, [f"lib/f{n}.py" for n in range(40)] + ["lib/api.py"])]  # fmt: skip
    facts = facts_from_records("lib", records)
    heat = file_heat(facts, half_life=1.0)
    assert heat == {
        "lib/util.py": 1.5,
        "lib/api.py": 0.25,
    }  # 1 + 1/2, then 1/4; the 41-file commit says nothing
    owned = dict(zip(((d.path, d.qualname) for d in facts.defs), own_lines(facts.defs)))
    assert (
        owned[("lib/engine.py", "Engine")] == 3 - 3 + 1
    )  # its method's span is the method's, not the class's
    cold = rank(facts, weights=Weights(history_share=0.0))
    hot = rank(facts)
    score = {(d.path, d.name): (c, h) for d, c, h in zip(facts.defs, cold.def_score, hot.def_score)}
    assert score[("lib/util.py", "helper")][1] > score[("lib/util.py", "helper")][0]
    before = [facts.defs[i].name for i in cold.ordered_defs(facts.defs)]
    after = [facts.defs[i].name for i in hot.ordered_defs(facts.defs)]
    assert after.index("helper") < before.index("helper") and after.index("helper") < after.index("Engine")


def test_history_heat_is_off_without_history() -> None:
    facts = facts_from_records("lib", library())
    assert rank(facts).def_score == rank(facts, weights=Weights(history_share=0.0)).def_score
