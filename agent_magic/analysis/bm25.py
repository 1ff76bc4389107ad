"""A small Okapi BM25 over precomputed term counts (stdlib only)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


class BM25:
    """Inverted index over documents given as term->count mappings."""

    def __init__(self, docs: Sequence[Mapping[str, int]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.n = len(docs)
        self.lengths = [sum(d.values()) for d in docs]
        self.avgdl = (sum(self.lengths) / self.n) if self.n else 1.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(docs):
            for term, tf in doc.items():
                self.postings.setdefault(term, []).append((i, tf))

    def replace(self, i: int, old: Mapping[str, int], new: Mapping[str, int]) -> None:
        """Swap document ``i``'s term counts from ``old`` to ``new``, touching only changed terms."""
        for term in old.keys() | new.keys():
            before, after = old.get(term, 0), new.get(term, 0)
            if before == after:
                continue
            posting = [e for e in self.postings.get(term, ()) if e[0] != i]
            if after:
                posting.append((i, after))
            if posting:
                self.postings[term] = posting
            else:
                self.postings.pop(term, None)
        length = sum(new.values())
        self.avgdl = ((self.avgdl * self.n - self.lengths[i] + length) / self.n) if self.n else 1.0
        self.lengths[i] = length

    def idf(self, term: str) -> float:
        """Robertson-Sparck Jones idf, floored at a small positive value."""
        df = len(self.postings.get(term, ()))
        return max(0.01, math.log(1 + (self.n - df + 0.5) / (df + 0.5)))

    def scores(self, query: Mapping[str, float]) -> dict[int, float]:
        """Score of every document that shares a term with the weighted query."""
        out: dict[int, float] = {}
        k1, b, avgdl, lengths = self.k1, self.b, self.avgdl or 1.0, self.lengths
        for term, qw in query.items():
            posting = self.postings.get(term)
            if not posting:
                continue
            w = self.idf(term) * qw
            for i, tf in posting:
                norm = tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[i] / avgdl))
                out[i] = out.get(i, 0.0) + w * norm
        return out
