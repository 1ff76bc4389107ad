from __future__ import annotations

import json
import os
from pathlib import Path

from agent_magic.analysis import RepoIndex
from agent_magic.analysis.cache import CACHE_NAME
from tests.analysis.conftest import git, write


def test_files_skip_secrets_ignored_and_binaries(repo: Path):
    write(
        repo,
        {
            ".gitignore": "ignored.py\n",
            "ignored.py": "x = 1\n",
            "new_module.py": "y = 2\n",
            "node_modules/lib/index.js": "var a;\n",
            "certs/server.pem": "KEY\n",
        },
    )
    (repo / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    (repo / "blob.txt").write_bytes(b"abc\x00def")
    files = RepoIndex(repo).files()
    assert "shop/cart.py" in files and "new_module.py" in files  # untracked, not ignored
    for absent in (
        ".env",
        "ignored.py",
        "node_modules/lib/index.js",
        "certs/server.pem",
        "logo.png",
        "blob.txt",
    ):
        assert absent not in files


def test_secret_content_never_reaches_the_index(repo: Path):
    idx = RepoIndex(repo)
    idx.files()
    shards = list((repo / ".agent_magic" / "index" / CACHE_NAME).glob("*.json"))
    assert shards and all("sk-secret" not in p.read_text() for p in shards)
    assert idx.facts(".env") is None


def test_rank_follows_traceback(repo: Path):
    task = (
        'Total is wrong:\n  File "/venv/site-packages/shop/pricing.py", line 6, in apply_discount\n'
        "ValueError: negative"
    )
    top = RepoIndex(repo).rank(task, k=3)
    assert top[0].path == "shop/pricing.py"
    assert "in the traceback" in top[0].reasons


def test_rank_by_defined_identifier_and_test_separation(repo: Path):
    idx = RepoIndex(repo)
    ranked = idx.rank("shipping_cost() charges too much for heavy parcels", k=10)
    assert ranked[0].path == "shop/shipping.py"
    assert any("shipping_cost" in r for r in ranked[0].reasons)
    with_tests = idx.rank("Cart total test fails", k=10)
    assert any(r.is_test for r in with_tests)
    assert not any(r.is_test for r in idx.rank("Cart total test fails", k=10, include_tests=False))


def test_import_graph_lifts_neighbours(repo: Path):
    ranked = RepoIndex(repo).rank("Cart.add_item stores the wrong quantity", k=10)
    paths = [r.path for r in ranked]
    assert paths[0] == "shop/cart.py"
    assert "shop/pricing.py" in paths  # only reachable through cart's import


def test_works_without_git(plain_dir: Path):
    idx = RepoIndex(plain_dir)
    assert ".env" not in idx.files() and "shop/cart.py" in idx.files()
    assert idx.rank("apply_discount rate", k=1)[0].path == "shop/pricing.py"


def test_cache_is_reused_and_updated_incrementally(repo: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    first = RepoIndex(repo, cache_dir=cache)
    first.files()
    assert first.last_rescanned == len(first.files())
    second = RepoIndex(repo, cache_dir=cache)
    second.files()
    assert second.last_rescanned == 0
    write(repo, {"shop/shipping.py": "def express_fee(weight):\n    return 9\n"})
    st = (repo / "shop/shipping.py").stat()
    os.utime(repo / "shop/shipping.py", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert second.rank("express_fee", k=1)[0].path == "shop/shipping.py"
    assert second.last_rescanned == 1
    (repo / "shop/shipping.py").unlink()
    assert "shop/shipping.py" not in second.files()


def test_corrupt_cache_is_rebuilt(repo: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    RepoIndex(repo, cache_dir=cache).files()
    shards = sorted((cache / CACHE_NAME).glob("*.json"))
    for shard in shards:
        shard.write_text('{"version": 2, "files": {"x": {"broken')
    idx = RepoIndex(repo, cache_dir=cache)
    assert "shop/cart.py" in idx.files()
    assert idx.last_rescanned > 0


def test_repo_map_within_budget(repo: Path):
    write(repo, {f"extra/mod_{i}.py": f"def f{i}():\n    pass\n" for i in range(200)})
    idx = RepoIndex(repo)
    text = idx.repo_map("apply_discount rate is wrong", budget_tokens=300)
    assert "def apply_discount(amount, rate) -> float  # Apply the loyalty discount." in text
    assert "Other files:" in text and "more" in text
    assert len(text) // 4 <= 320
    assert RepoIndex(repo).repo_map("Cart", budget_tokens=100000).count("extra/mod_") == 200


def test_notebook_outline_in_map(repo: Path):
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Revenue report"]},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": ["def monthly_revenue(df):\n", "    return df.sum()"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (repo / "report.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    git(repo, "add", "report.ipynb")
    idx = RepoIndex(repo)
    assert idx.rank("monthly_revenue is off", k=1)[0].path == "report.ipynb"
    text = idx.repo_map("monthly_revenue is off", budget_tokens=2000)
    assert "[cell 1] def monthly_revenue(df)" in text
    assert "[cell 0] Revenue report" in text


def test_incremental_update_ranks_like_a_fresh_index(repo: Path, tmp_path: Path):
    idx = RepoIndex(repo, cache_dir=tmp_path / "c1")
    idx.files()
    write(
        repo,
        {
            "shop/pricing.py": "from shop.shipping import shipping_cost\n\n\n"
            "def loyalty_points(amount):\n    return shipping_cost(amount)\n"
        },
    )
    st = (repo / "shop/pricing.py").stat()
    os.utime(repo / "shop/pricing.py", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    task = "loyalty_points uses shipping_cost and apply_discount on the cart"
    updated = [(r.path, r.score) for r in idx.rank(task, k=10)]
    assert idx.last_rescanned == 1
    fresh = [(r.path, r.score) for r in RepoIndex(repo, cache_dir=tmp_path / "c2").rank(task, k=10)]
    assert updated == fresh
    assert updated[0][0] == "shop/pricing.py"


def test_update_rewrites_only_the_changed_files_shard(repo: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    RepoIndex(repo, cache_dir=cache).files()
    before = {p.name: p.stat().st_mtime_ns for p in (cache / CACHE_NAME).glob("*.json")}
    assert len(before) > 2
    write(repo, {"shop/shipping.py": "def express_fee(weight):\n    return 9\n"})
    st = (repo / "shop/shipping.py").stat()
    os.utime(repo / "shop/shipping.py", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    idx = RepoIndex(repo, cache_dir=cache)
    idx.files()
    assert idx.last_rescanned == 1
    after = {p.name: p.stat().st_mtime_ns for p in (cache / CACHE_NAME).glob("*.json")}
    assert sum(before[n] != after[n] for n in before) == 1
    assert RepoIndex(repo, cache_dir=cache).facts("shop/shipping.py").defs == ["express_fee"]


def test_a_repo_config_naming_a_program_runs_nothing_during_analysis(repo, tmp_path):
    # A project unpacked with its own .git/config: git would run core.fsmonitor on ls-files.
    marker = tmp_path / "ran"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git(repo, "config", "core.fsmonitor", str(hook))
    index = RepoIndex(repo, cache_dir=tmp_path / "cache")
    assert "shop/cart.py" in index.files()
    index.rank("cart total", 5)
    assert not marker.exists()
