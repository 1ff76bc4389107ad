from __future__ import annotations

from pathlib import Path

from agent_magic.analysis import RepoIndex
from agent_magic.analysis.cache import HISTORY_NAME, load_history, save_history
from agent_magic.analysis.history import (
    MAX_FILES_PER_COMMIT,
    Commit,
    HistoryIndex,
    head_commit,
    parse_log,
    read_history,
    recency,
)
from agent_magic.analysis.ranking import WEIGHTS, Ranker
from agent_magic.analysis.scan import scan_file
from agent_magic.analysis.text import tokenize
from tests.analysis.conftest import git, write

REASON = "past commits that touched it read like the task"


def commit(root: Path, files: dict[str, str], message: str) -> None:
    write(root, files)
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", message)


def query(text: str) -> dict[str, float]:
    return dict.fromkeys(tokenize(text), 1.0)


def test_parse_log_reads_messages_and_files():
    text = (
        "\x1eFix rounding\n\nLonger body.\x1f\0\nlib/pricing.py\0CHANGES\0"
        "\x1eOutside only\x1f\0\nweb/app.py\0"
    )
    assert parse_log(text, "lib/") == [
        Commit("Fix rounding\n\nLonger body.", ("pricing.py",), 2),
        Commit("Outside only", (), 1),
    ]


def test_read_history_newest_first_without_merges(repo: Path):
    commit(
        repo,
        {"shop/shipping.py": "def shipping_cost(w):\n    return w * 3\n"},
        "Raise shipping rate",
    )
    git(repo, "checkout", "-qb", "side")
    commit(repo, {"shop/extra.py": "X = 1\n"}, "Side work")
    git(repo, "checkout", "-q", "-")
    commit(repo, {"README.md": "# Shop\n"}, "Docs")
    git(
        repo,
        "-c",
        "user.email=t@t",
        "-c",
        "user.name=t",
        "merge",
        "-q",
        "--no-ff",
        "side",
        "-m",
        "Merge side",
    )
    messages = [c.message for c in read_history(repo)]
    assert messages[0] in ("Docs", "Side work") and "Merge side" not in messages
    assert messages[-1] == "init" and len(messages) == 4
    assert read_history(repo, limit=2) == read_history(repo)[:2]


def test_read_history_outside_git_is_empty(plain_dir: Path):
    assert read_history(plain_dir) == []


def test_recency_favours_the_newest_files():
    r = recency([Commit("b", ("new.py",)), Commit("a", ("old.py", "new.py"))])
    assert r["new.py"] > r["old.py"] > 0
    assert recency([Commit("a", ("x.py",))], window=0) == {}
    assert recency([Commit("sweep", ("x.py",), touched=MAX_FILES_PER_COMMIT + 1)]) == {}


def test_history_points_at_files_whose_commits_match_the_task():
    paths = ["pkg/regex.py", "pkg/config.py", "CHANGES"]
    commits = [
        Commit(
            "Fix crash on unicode property escapes in regexp options", ("pkg/regex.py", "CHANGES")
        ),
        Commit("Load configuration from pyproject", ("pkg/config.py", "CHANGES")),
        Commit(
            "Reformat everything",
            (*tuple(f"f{i}.py" for i in range(MAX_FILES_PER_COMMIT)), "pkg/config.py"),
        ),
    ]
    scores = HistoryIndex(commits, paths).scores(query("regexp option with unicode escape crashes"))
    assert max(scores, key=scores.__getitem__) == 0
    # The changelog rides along with every commit, so it counts for less than the fixed module.
    assert scores[0] > scores.get(2, 0.0)
    # A sweeping commit (more files than the cap) votes for nothing, also when most of its files
    # lie outside the project (a monorepo sweep that touched one file here).
    assert HistoryIndex(commits, paths).scores(query("reformat everything")) == {}
    wide = [Commit("Reformat everything", ("pkg/config.py",), touched=MAX_FILES_PER_COMMIT + 1)]
    assert HistoryIndex(wide, paths).scores(query("reformat everything")) == {}


def test_rank_uses_history_and_rereads_it_when_head_moves(repo: Path):
    # No file holds these words; only a commit message can.
    task = "Customers overcharged at checkout"
    idx = RepoIndex(repo)
    assert all(REASON not in r.reasons for r in idx.rank(task, k=10))
    # A past fix whose message reads like the task, touching pricing.py by name only.
    write(repo, {"shop/pricing.py": (repo / "shop/pricing.py").read_text() + "\n"})
    commit(repo, {}, "Customers were overcharged at checkout")
    ranked = idx.rank(task, k=10)
    assert ranked[0].path == "shop/pricing.py" and REASON in ranked[0].reasons
    # An edit the index has already seen, committed later: only HEAD moves, and that is enough.
    write(repo, {"shop/shipping.py": "def shipping_cost(weight):\n    return weight * 2.5\n\n"})
    assert all(REASON not in r.reasons for r in idx.rank("surcharge for islands", k=3))
    commit(repo, {}, "Parcels to islands had a surcharge")
    top = idx.rank("surcharge for islands", k=3)[0]
    assert top.path == "shop/shipping.py" and REASON in top.reasons


def test_history_can_be_turned_off(repo: Path):
    write(repo, {"shop/pricing.py": (repo / "shop/pricing.py").read_text() + "\n"})
    commit(repo, {}, "Loyalty members were charged the full price at checkout")
    ranked = RepoIndex(repo, git_history=False).rank("Loyalty members charged full price", k=10)
    assert all(REASON not in r.reasons for r in ranked)


def test_the_index_ranks_with_history_weighed_as_asked(repo: Path):
    write(repo, {"shop/pricing.py": (repo / "shop/pricing.py").read_text() + "\n"})
    commit(repo, {}, "Loyalty members were charged the full price at checkout")
    task = "Loyalty members charged full price"
    idx = RepoIndex(repo)
    assert REASON in idx.rank(task, k=1)[0].reasons
    off = {**WEIGHTS, "history": 0.0}
    ranked = idx.rank(task, k=10, weights=off)
    assert all(REASON not in r.reasons for r in ranked)
    # With recency off too, it ranks as an index that never read git.
    no_git = {**off, "recent": 0.0}
    plain = RepoIndex(repo, cache_dir=repo.parent / "c2", git_history=False)
    expected = [(r.path, r.score) for r in plain.rank(task, k=10)]
    assert [(r.path, r.score) for r in idx.rank(task, k=10, weights=no_git)] == expected


def test_history_in_a_project_below_the_repo_root_and_in_a_repo_without_commits(tmp_path: Path):
    root = tmp_path / "mono"
    write(root, {"web/app.py": "X = 1\n", "lib/core.py": "def run():\n    pass\n"})
    git(root, "init", "-q")
    assert RepoIndex(root / "lib").rank("run", k=1)[0].path == "core.py"  # no commits: no history
    commit(root, {}, "init")
    commit(
        root,
        {"lib/core.py": "def run():\n    return 1\n", "web/app.py": "X = 2\n"},
        "Scheduler drops jobs after midnight",
    )
    # Paths relative to the project; the size counts the whole commit, files outside included.
    assert read_history(root / "lib")[0] == Commit(
        "Scheduler drops jobs after midnight", ("core.py",), 2
    )
    # Commits that touched only files outside the project are not read at all.
    commit(root, {"web/app.py": "X = 3\n"}, "Web only")
    assert read_history(root / "lib")[0].message == "Scheduler drops jobs after midnight"
    top = RepoIndex(root / "lib").rank("jobs dropped after midnight", k=1)[0]
    assert top.path == "core.py" and REASON in top.reasons


def test_history_is_kept_beside_the_facts_for_its_head(repo: Path):
    idx = RepoIndex(repo)
    idx.files()
    head = head_commit(repo)
    assert head and load_history(idx.cache_dir, head) == read_history(repo)
    # A fresh index at the same HEAD takes the kept commits instead of reading git log again.
    save_history(
        idx.cache_dir, head, [Commit("Parcels to islands had a surcharge", ("shop/shipping.py",))]
    )
    assert REASON in RepoIndex(repo).rank("surcharge for islands", k=1)[0].reasons
    # Once HEAD moves they are stale and git log is read again, and kept for the new HEAD.
    git(
        repo,
        "-c",
        "user.email=t@t",
        "-c",
        "user.name=t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "noop",
    )
    assert all(REASON not in r.reasons for r in RepoIndex(repo).rank("surcharge for islands", k=3))
    moved = head_commit(repo)
    assert moved and load_history(idx.cache_dir, moved) == read_history(repo)
    # A damaged file only costs a re-read.
    (idx.cache_dir / HISTORY_NAME).write_text("{not json")
    assert load_history(idx.cache_dir, moved) is None
    RepoIndex(repo).files()
    assert load_history(idx.cache_dir, moved) == read_history(repo)


def test_history_reads_file_names_verbatim_whatever_the_git_config(repo: Path):
    git(repo, "config", "core.quotePath", "true")
    commit(repo, {"shop/café.py": "X = 1\n", 'shop/say "hi".py': "Y = 2\n"}, "Add odd names")
    assert read_history(repo)[0] == Commit("Add odd names", ("shop/café.py", 'shop/say "hi".py'), 2)


def test_a_forward_move_of_head_reads_only_the_new_commits_and_matches_a_full_read(repo: Path):
    idx = RepoIndex(repo)
    idx.files()
    start = head_commit(repo)
    commit(
        repo,
        {"shop/shipping.py": "def shipping_cost(weight):\n    return weight * 3\n"},
        "Parcels to islands had a surcharge",
    )
    git(repo, "checkout", "-qb", "side")
    commit(repo, {"shop/extra.py": "X = 1\n"}, "Side work")
    git(repo, "checkout", "-q", "-")
    git(
        repo,
        "-c",
        "user.email=t@t",
        "-c",
        "user.name=t",
        "merge",
        "-q",
        "--no-ff",
        "side",
        "-m",
        "Merge",
    )
    idx.files()
    head = head_commit(repo)
    assert head and load_history(idx.cache_dir, head) == read_history(repo)
    assert [c.message for c in read_history(repo)][-1] == "init"
    assert sorted(c.message for c in read_history(repo, since=start)) == [
        "Parcels to islands had a surcharge",
        "Side work",
    ]
    # Back to an older commit (not a move forward): a full read again.
    git(repo, "reset", "-q", "--hard", "HEAD~2")
    idx.files()
    head = head_commit(repo)
    assert head and load_history(idx.cache_dir, head) == read_history(repo)
    assert [c.message for c in read_history(repo, since=head)] == []


def test_only_strong_history_matches_are_given_as_reasons():
    facts = [scan_file(p, b"X = 1\n") for p in ("sched.py", "config.py")]
    commits = [
        Commit("Scheduler drops jobs after midnight", ("sched.py",)),
        Commit("Tidy jobs settings", ("config.py",), touched=20),
    ]
    reasons = {
        r.path: r.reasons
        for r in Ranker(facts, commits).rank("scheduler drops jobs after midnight", 2)
    }
    assert REASON in reasons["sched.py"]
    assert REASON not in reasons.get("config.py", [])  # a faint match through a 20-file commit


def test_a_zero_weight_drops_that_evidence_from_the_ranking():
    files = {
        "pkg/regex.py": "def compile_pattern(text):\n    return text\n",
        "pkg/config.py": "def load_options(path):\n    return {}\n",
    }
    facts = [scan_file(p, t.encode()) for p, t in files.items()]
    commits = [
        Commit("Fix crash on unicode escapes", ("pkg/regex.py",)),
        Commit("Unicode escapes crash again", ("pkg/regex.py",)),
    ]
    task = "unicode escapes crash the options"
    with_history = Ranker(facts, commits)
    ranked = with_history.rank(task, 2)
    assert REASON in next(r.reasons for r in ranked if r.path == "pkg/regex.py")
    # Recency is the other evidence read from history; without both, it is a ranker without it.
    off = {**WEIGHTS, "history": 0.0, "recent": 0.0}
    plain = [(r.path, r.score) for r in Ranker(facts).rank(task, 2)]
    assert plain != [(r.path, r.score) for r in ranked]
    without = with_history.rank(task, 2, weights=off)
    assert [(r.path, r.score) for r in without] == plain
    assert all(REASON not in r.reasons for r in without)
