"""Every cell reachable through bounded views; search names cells; notebook diffs are bounded."""

from __future__ import annotations

import json
import re

import pytest

from agent_magic.errors import ToolError
from agent_magic.paths import Project
from agent_magic.staging import Staging
from agent_magic.staging import notebooks as nbs
from agent_magic.staging.nbview import MAX_VIEW_CHARS
from agent_magic.tools import MAX_RESULT_CHARS, Toolbox
from tests.staging.realnb import rich_notebook, serialize

HINT = re.compile(r"view with start_cell=(\d+)(?:, end_cell=(\d+), start_line=(\d+))?")


def toolbox(tmp_path, nb: dict) -> Toolbox:
    (tmp_path / "big.ipynb").write_bytes(serialize(nb))
    return Toolbox(Staging(Project(tmp_path)), lambda: ["big.ipynb"])


def follow_views(tools: Toolbox) -> tuple[str, int]:
    """Read the whole notebook by following the hints of cut views; all text and view count."""
    seen, args, count = [], {"path": "big.ipynb"}, 0
    while True:
        text = tools.run("view", args)
        count += 1
        assert len(text) <= MAX_VIEW_CHARS + 500
        seen.append(text)
        m = HINT.search(text)
        if not m:
            return "\n".join(seen), count
        args = {"path": "big.ipynb", "start_cell": int(m.group(1))}
        if m.group(2):
            args.update(end_cell=int(m.group(2)), start_line=int(m.group(3)))


def test_every_cell_of_a_long_notebook_is_reachable(tmp_path):
    nb = rich_notebook(400, image_bytes=200)
    for i, cell in enumerate(nb["cells"]):
        cell["source"] = f"marker_{i} = {i}\n" + "# filler line\n" * 5
    whole, views = follow_views(toolbox(tmp_path, nb))
    assert views > 3
    assert all(f"marker_{i} = {i}" in whole for i in range(400))
    assert "iVBOR" not in whole


def test_a_cell_longer_than_a_view_is_read_by_lines(tmp_path):
    nb = rich_notebook(3)
    nb["cells"][1]["source"] = "".join(
        f"row_{n} = {n}  # a longish comment here\n" for n in range(3000)
    )
    whole, views = follow_views(toolbox(tmp_path, nb))
    assert views > 5
    assert all(f"row_{n} = {n}" in whole for n in range(3000))
    assert "## Section 0" in whole and "[2] code id=cell-002" in whole


def test_cell_range_and_line_range(tmp_path):
    nb = rich_notebook(12)
    tools = toolbox(tmp_path, nb)
    text = tools.run("view", {"path": "big.ipynb", "start_cell": 4, "end_cell": 5})
    assert "[4] markdown id=cell-004" in text and "[5] code" in text and "[6]" not in text
    assert "[cells 6-11 not shown (of 12); view with start_cell=6 to see more]" in text
    assert tools.run("view", {"path": "big.ipynb", "start_cell": 10}).endswith(
        "[showing cells 10-11 of 12]"
    )
    one = tools.run(
        "view",
        {"path": "big.ipynb", "start_cell": 5, "end_cell": 5, "start_line": 2, "end_line": 2},
    )
    assert "    2  x5 = math.sqrt(5)" in one and "import math" not in one
    assert "[lines 2-2 of 3 shown]" in one
    with pytest.raises(ToolError, match="pass start_cell and end_cell equal"):
        tools.run("view", {"path": "big.ipynb", "start_line": 1, "end_line": 50})
    with pytest.raises(ToolError, match="end_cell 2 is before start_cell 5"):
        tools.run("view", {"path": "big.ipynb", "start_cell": 5, "end_cell": 2})


def test_search_in_notebooks_names_the_cell(tmp_path):
    tools = toolbox(tmp_path, rich_notebook(8))
    out = tools.run("search", {"pattern": r"sqrt\(5\)"})
    assert out == "big.ipynb [cell 5 id=cell-005]:2: x5 = math.sqrt(5)"
    assert "no matches" in tools.run("search", {"pattern": "iVBOR"})  # outputs are not searched


def test_clipped_results_say_how_much_and_what_to_do(tmp_path):
    (tmp_path / "long.txt").write_text("x" * 300 + "\n" + ("y" * 120 + "\n") * 400)
    tools = Toolbox(Staging(Project(tmp_path)), lambda: ["long.txt"])
    out = tools.run("view", {"path": "long.txt"})
    assert len(out) <= MAX_RESULT_CHARS + 200
    assert f"clipped at {MAX_RESULT_CHARS:,} of" in out and "ask for less" in out
    rest = tools.run("view", {"path": "long.txt", "start_line": 401})
    assert rest.endswith("  " + "y" * 120)


def _big_notebook() -> bytes:
    """About 4 MB: 400 cells, half of them code with a 20 kB base64 image."""
    return serialize(rich_notebook(400, image_bytes=15_000))


def test_created_and_deleted_notebooks_diff_per_cell_and_bounded(tmp_path):
    big = _big_notebook()
    assert len(big) > 4_000_000
    (tmp_path / "old.ipynb").write_bytes(big)
    staging = Staging(Project(tmp_path), max_bytes=10_000_000)
    staging.delete("old.ipynb")
    staging.create("new.ipynb", big.decode())
    changes = staging.changeset()
    diff = changes.diff()
    assert len(diff) < 2 * (nbs.MAX_FILE_DIFF_CHARS + 2_000)
    assert "iVBOR" not in diff and '"outputs"' not in diff
    assert (
        "@@ notebook added (400 cells) @@" in diff and "@@ notebook deleted (400 cells) @@" in diff
    )
    assert "+## Section 0" in diff and "-x1 = math.sqrt(1)" in diff
    assert re.search(r"\[cells \d+-399 of 400 not shown", diff)
    # Applying a created notebook writes all of it, whatever the diff showed.
    added = changes.file("new.ipynb")
    assert added.content_for(set(added.hunk_ids())) == big


def test_a_huge_cell_edit_is_bounded_in_the_diff(tmp_path):
    nb = rich_notebook(4)
    (tmp_path / "nb.ipynb").write_bytes(serialize(nb))
    staging = Staging(Project(tmp_path))
    staging.notebook_edit(
        "nb.ipynb",
        "replace",
        cell="cell-001",
        source="".join(f"v{n} = {n}\n" for n in range(20_000)),
    )
    hunk = staging.changeset().file("nb.ipynb").hunks[0]
    assert len(hunk.text) <= nbs.MAX_HUNK_CHARS + 200
    assert "of this cell's diff not shown" in hunk.text


def test_an_edit_of_many_cells_is_bounded_per_notebook(tmp_path):
    nb = rich_notebook(400)
    (tmp_path / "nb.ipynb").write_bytes(serialize(nb))
    staging = Staging(Project(tmp_path))
    for i in range(1, 400, 4):
        staging.notebook_edit(
            "nb.ipynb",
            "replace",
            cell=f"@{i}",
            source="".join(f"new_{i}_{n} = {n}\n" for n in range(40)),
        )
    change = staging.changeset().file("nb.ipynb")
    assert len(change.hunks) == 100
    assert len(change.diff()) < nbs.MAX_NOTEBOOK_DIFF_CHARS + 100 * 200
    assert "+new_1_0 = 0" in change.diff()
    assert "diff is over 60,000 characters" in change.hunks[-1].text
    # Selecting a hunk whose text was left out still applies its cell.
    last = change.hunks[-1]
    merged = json.loads(change.content_for({last.id}))
    assert nbs.source_text(merged["cells"][397]).startswith("new_397_0 = 0")
