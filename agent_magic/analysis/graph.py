"""The import graph between python files and personalized PageRank over it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agent_magic.analysis.scan import module_of


def module_table(paths: Sequence[str]) -> dict[str, int]:
    """Dotted module name -> file index, for python files and notebooks-free packages."""
    table: dict[str, int] = {}
    for i, path in enumerate(paths):
        if not path.endswith((".py", ".pyi", ".pyx")):
            continue
        mod = module_of(path)
        mod = mod.removesuffix(".__init__")
        # A .py beats a .pyi or .pyx of the same module; a shorter (less nested) path wins ties.
        if mod not in table or (path.endswith(".py") and not paths[table[mod]].endswith(".py")):
            table[mod] = i
    return table


def resolve_module(name: str, table: Mapping[str, int]) -> int | None:
    """The file defining a dotted name: the longest module prefix present in the table."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        hit = table.get(".".join(parts[:end]))
        if hit is not None:
            return hit
    return None


def import_edges(
    imports: Sequence[Sequence[str]], table: Mapping[str, int], offset: int = 0
) -> list[set[int]]:
    """For each file (numbered from ``offset``), the set of files it imports (self-loops dropped)."""
    out: list[set[int]] = []
    for i, names in enumerate(imports, start=offset):
        targets = {t for t in (resolve_module(n, table) for n in names) if t is not None and t != i}
        out.append(targets)
    return out


def personalized_pagerank(
    edges: Sequence[set[int]],
    seeds: Mapping[int, float],
    *,
    damping: float = 0.5,
    iterations: int = 10,
    reverse_weight: float = 0.5,
    back: Sequence[Sequence[int]] | None = None,
) -> dict[int, float]:
    """PageRank restarted at ``seeds``; walks imports forward and, more weakly, backward.

    ``back`` is ``reverse_edges(edges)`` when the caller keeps it between queries.
    """
    total = sum(seeds.values())
    if total <= 0:
        return {}
    restart = {i: w / total for i, w in seeds.items()}
    if back is None:
        back = reverse_edges(edges)
    rank = dict(restart)
    for _ in range(iterations):
        nxt: dict[int, float] = {i: (1 - damping) * w for i, w in restart.items()}
        for node, mass in rank.items():
            fwd, bwd = edges[node], back[node]
            wsum = len(fwd) + reverse_weight * len(bwd)
            if not wsum:
                nxt[node] = nxt.get(node, 0.0) + damping * mass
                continue
            share = damping * mass / wsum
            for t in fwd:
                nxt[t] = nxt.get(t, 0.0) + share
            rshare = share * reverse_weight
            for t in bwd:
                nxt[t] = nxt.get(t, 0.0) + rshare
        rank = nxt
    return rank


def reverse_edges(edges: Sequence[set[int]]) -> list[list[int]]:
    """For each file, the files that import it."""
    back: list[list[int]] = [[] for _ in edges]
    for src, targets in enumerate(edges):
        for t in targets:
            back[t].append(src)
    return back
