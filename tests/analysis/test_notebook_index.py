"""Notebooks in the index: any size, prose and raw text included, outputs excluded, v3 read."""

from __future__ import annotations

from pathlib import Path

from agent_magic.analysis import RepoIndex
from agent_magic.analysis.scan import scan_file
from agent_magic.analysis.symbols import outline_file
from tests.analysis.conftest import write
from tests.staging.realnb import rich_notebook, serialize, v3_notebook


def tutorial(prose: str, raw: str, *, image_bytes: int = 3000, cells: int = 8) -> bytes:
    nb = rich_notebook(cells, image_bytes=image_bytes)
    nb["cells"][0]["source"] = f"# Tutorial\n\n{prose}\n"
    nb["cells"][3]["source"] = raw
    nb["cells"][1]["outputs"][0]["text"] = ["outputword_zebra appears only in an output\n"]
    return serialize(nb)


def test_scan_indexes_code_markdown_and_raw_text_but_not_outputs():
    data = tutorial("Reprojecting choropleth tiles onto a basemap.", "Glossary: geodesic buffers")
    facts = scan_file("docs/t.ipynb", data)
    for word in ("reprojecting", "choropleth", "basemap", "geodesic", "buffers", "sqrt"):
        assert any(t.startswith(word[:6]) for t in facts.terms), word
    assert not any("zebra" in t or "outputword" in t for t in facts.terms)
    assert facts.headings[0] == "[cell 0] Tutorial" and facts.doc == "Tutorial"


def test_v3_notebooks_are_indexed_and_outlined():
    facts = scan_file("old.ipynb", v3_notebook())
    assert "total" in facts.terms and facts.headings == ["[cell 0] Old analysis"]
    assert facts.lines == 3
    outline = outline_file("old.ipynb", v3_notebook().decode())
    assert outline.headings == ["[cell 0] Old analysis"] and not outline.error


def test_a_large_notebook_is_indexed_and_found_by_its_prose(repo: Path):
    big = tutorial(
        "How to reproject choropleth layers onto a tiled basemap.",
        "raw notes",
        image_bytes=60_000,
        cells=60,
    )
    assert len(big) > 2_000_000
    (repo / "docs").mkdir()
    (repo / "docs" / "choropleth.ipynb").write_bytes(big)
    write(repo, {"docs/other.md": "# Other\n\nUnrelated words about carts.\n"})
    (repo / "huge.txt").write_text("choropleth basemap " * 100_000)  # text over the limit: skipped
    idx = RepoIndex(repo)
    assert "docs/choropleth.ipynb" in idx.files() and "huge.txt" not in idx.files()
    top = [r.path for r in idx.rank("reproject the choropleth layer on the basemap", 5)]
    assert top[0] == "docs/choropleth.ipynb"


def test_a_tutorial_notebook_in_docs_outranks_the_code_it_describes(repo: Path):
    prose = (
        "Reproject every choropleth layer onto the tiled basemap before styling the legend, "
        "so the colours line up with the basemap tiles."
    )
    (repo / "docs").mkdir()
    (repo / "docs" / "choropleth_tutorial.ipynb").write_bytes(tutorial(prose, "raw"))
    write(
        repo,
        {
            "geo/layers.py": (
                "class ChoroplethLayer:\n    def reproject(self, basemap):\n        return basemap\n\n"
                "    def style_legend(self, colours):\n        return colours\n"
            ),
            "geo/tiles.py": "def tiled_basemap(tiles):\n    return tiles\n",
        },
    )
    top = [r.path for r in RepoIndex(repo).rank(prose, 5)]
    assert top[:2] == ["geo/layers.py", "docs/choropleth_tutorial.ipynb"], top
