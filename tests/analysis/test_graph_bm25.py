from __future__ import annotations

from agent_magic.analysis.bm25 import BM25
from agent_magic.analysis.graph import (
    import_edges,
    module_table,
    personalized_pagerank,
    resolve_module,
)


def test_bm25_prefers_rare_terms_and_short_docs():
    index = BM25([{"cart": 1, "item": 5}, {"item": 1}, {"item": 1, "cart": 1, "x": 50}])
    scores = index.scores({"cart": 1.0})
    assert set(scores) == {0, 2}
    assert scores[0] > scores[2]
    assert index.idf("cart") > index.idf("item")


def test_module_resolution_prefers_longest_prefix():
    table = module_table(["pkg/__init__.py", "pkg/a.py", "src/lib2/b.py", "README.md"])
    assert table == {"pkg": 0, "pkg.a": 1, "lib2.b": 2}
    assert resolve_module("pkg.a.Thing", table) == 1
    assert resolve_module("pkg.zzz", table) == 0
    assert resolve_module("other", table) is None


def test_pagerank_flows_along_imports_both_ways():
    edges = import_edges(
        [["pkg.b"], ["pkg.c"], [], []], {"pkg.a": 0, "pkg.b": 1, "pkg.c": 2, "pkg.d": 3}
    )
    assert edges == [{1}, {2}, set(), set()]
    rank = personalized_pagerank(edges, {1: 1.0})
    assert rank[2] > 0 and rank[0] > 0  # imported by 1, and importer of 1
    assert rank[2] > rank[0]  # forward edges weigh more than reverse ones
    assert 3 not in rank


def test_bm25_replace_matches_a_rebuild():
    docs = [{"cart": 1, "item": 5}, {"item": 1}, {"item": 1, "cart": 1, "x": 50}]
    new = {"cart": 3, "price": 2}
    index = BM25(docs)
    index.replace(1, docs[1], new)
    rebuilt = BM25([docs[0], new, docs[2]])
    query = {"cart": 1.0, "item": 1.0, "price": 2.0, "x": 0.5}
    got, want = index.scores(query), rebuilt.scores(query)
    assert got.keys() == want.keys()
    assert all(abs(got[i] - want[i]) < 1e-9 for i in want)
    assert "item" in index.postings and all(i != 1 for i, _ in index.postings["item"])
