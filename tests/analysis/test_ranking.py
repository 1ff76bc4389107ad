from __future__ import annotations

from agent_magic.analysis.ranking import Ranker, modules_under_test
from agent_magic.analysis.scan import scan_file


def ranker(files: dict[str, str]) -> Ranker:
    return Ranker([scan_file(path, text.encode()) for path, text in files.items()])


def top(files: dict[str, str], task: str, k: int = 3) -> list[str]:
    return [r.path for r in ranker(files).rank(task, k, include_tests=False)]


def test_tests_are_paired_with_the_nearest_module_of_their_name():
    paths = [
        "pkg/a/nodes.py",
        "pkg/b/nodes.py",
        "pkg/a/tests/test_nodes.py",
        "testing/skip_test.py",
        "src/skip.py",
        "tests/test_orphan.py",
        "tests/conftest.py",
    ]
    pairs = {paths[t]: [paths[s] for s in ss] for t, ss in modules_under_test(paths).items()}
    assert pairs == {
        "pkg/a/tests/test_nodes.py": ["pkg/a/nodes.py"],
        "testing/skip_test.py": ["src/skip.py"],
    }


FILLER = "def helper(value):\n    return value\n"
BULK = "".join(f"def unrelated_{i}(a):\n    return a * {i}\n" for i in range(40))


def test_a_matching_test_file_lends_its_score_to_its_module():
    files = {
        # The module's own words say nothing about the report...
        "lib/skipping.py": "def evaluate_condition(item):\n    return item.keywords\n",
        "lib/other.py": "def no_longer():\n    pass\n" + BULK,
        # ...but its tests reproduce it.
        "tests/test_skipping.py": "def test_dynamic_xfail(request):\n"
        "    request.node.add_marker(xfail_marker)\n    xfail strict xfail\n",
    }
    files.update({f"lib/m{i}.py": FILLER for i in range(20)})
    task = "Dynamically adding an xfail marker in a test no longer ignores the failure"
    assert top(files, task, 1) == ["lib/skipping.py"]
    assert any(
        "its tests" in why
        for r in ranker(files).rank(task, 3)
        for why in r.reasons
        if r.path == "lib/skipping.py"
    )


def test_defined_names_count_even_when_the_task_splits_them_into_words():
    files = {
        "lib/expand.py": "def expand_modules(files_or_modules):\n    return list(files_or_modules)\n"
        + BULK,
        "lib/run.py": "# Runs and expands modules recursively, modules within modules.\n" + BULK,
    }
    files.update({f"lib/m{i}.py": FILLER for i in range(20)})
    assert top(files, "running recursively expands modules", 1) == ["lib/expand.py"]
    best = ranker(files).rank("running recursively expands modules", 1)[0]
    assert "defines names made of the task's words" in best.reasons


def test_docs_examples_and_setup_rank_below_library_code_with_the_same_words():
    body = "def render_table(rows):\n    '''Render a table of rows.'''\n    return rows\n"
    files = {
        "docs/conf.py": body,
        "examples/table.py": body,
        "setup.py": body,
        "lib/table.py": body,
    }
    assert top(files, "render_table drops rows", 1) == ["lib/table.py"]
    # Named in the task, a doc file still comes first.
    assert top(files, "docs/conf.py has a typo in render_table", 1) == ["docs/conf.py"]


def test_a_path_named_in_the_task_means_that_file_before_others_ending_in_it():
    files = {
        "pyproject.toml": "[tool.demo]\nrecursive = true\n",
        "examples/pyproject.toml": "[tool.demo]\nrecursive = true\n",
        "lib/walk.py": "def walk(root, recursive=False):\n    return root\n",
    }
    reasons = {
        r.path: r.reasons
        for r in ranker(files).rank("ignore-paths in pyproject.toml is ignored when recursive", 3)
    }
    assert "path mentioned in the task" in reasons["pyproject.toml"]
    assert "path mentioned in the task" not in reasons.get("examples/pyproject.toml", [])
    # Naming the example's file means that one only.
    reasons = {r.path: r.reasons for r in ranker(files).rank("examples/pyproject.toml is wrong", 3)}
    assert "path mentioned in the task" in reasons["examples/pyproject.toml"]
    assert "path mentioned in the task" not in reasons.get("pyproject.toml", [])
    # A traceback's absolute path means the longest project path it ends with.
    frame = 'File "/venv/site-packages/lib/walk.py", line 2, in walk'
    hits = {
        r.path
        for r in ranker({**files, "walk.py": "def main():\n    pass\n"}).rank(frame, 3)
        if "in the traceback" in r.reasons
    }
    assert hits == {"lib/walk.py"}
    # With no file at that exact path, files ending in it still count.
    del files["pyproject.toml"]
    assert "path mentioned in the task" in ranker(files).rank("see pyproject.toml", 3)[0].reasons


def test_issue_boilerplate_does_not_steer_the_ranking():
    files = {
        "lib/interactive.py": "def banner():\n    '''IPython enhanced interactive Python help quickref "
        "reference introduction overview features details credits license'''\n",
        "lib/apart.py": "def apart(expr):\n    '''Partial fraction decomposition.'''\n",
    }
    files.update({f"lib/m{i}.py": FILLER for i in range(20)})
    task = (
        "Wrong result with apart\n"
        "Python 3.6.0 |Continuum Analytics, Inc.| (default, Dec 23 2016, 12:22:00)\n"
        'Type "copyright", "credits" or "license" for more information.\n'
        "IPython 5.1.0 -- An enhanced Interactive Python.\n"
        "?         -> Introduction and overview of IPython's features.\n"
        "%quickref -> Quick reference.\n"
        "help      -> Python's own help system.\n"
        "object?   -> Details about 'object', use 'object??' for extra details.\n"
        "<!-- Thanks for the report! Please include the IPython version. -->\n"
    )
    assert top(files, task, 1) == ["lib/apart.py"]


def test_a_named_package_points_at_the_modules_it_holds():
    files = {
        "sphinx/ext/napoleon/__init__.py": "from sphinx.ext.napoleon.docstring import GoogleDocstring\n",
        "sphinx/ext/napoleon/docstring.py": "class GoogleDocstring:\n    def _escape(self, name):\n"
        "        return name\n" + BULK,
        "sphinx/ext/napoleon/tests/test_docstring.py": "def test_nothing():\n    pass\n",
        "sphinx/ext/other.py": "def attribute_name(name):\n    return name + '_'\n" + BULK,
    }
    files.update({f"sphinx/m{i}.py": FILLER for i in range(20)})
    ranked = ranker(files).rank(
        "overescaped trailing underscore on attribute name with sphinx.ext.napoleon",
        5,
        include_tests=False,
    )
    docstring = next(r for r in ranked if r.path == "sphinx/ext/napoleon/docstring.py")
    assert "in a package named in the task" in docstring.reasons
    assert [r.path for r in ranked].index(docstring.path) < [r.path for r in ranked].index(
        "sphinx/ext/other.py"
    )


def test_an_option_spelled_with_hyphens_points_at_the_code_that_defines_it():
    files = {
        # Defines the option under its code spelling; little else in it is the task's words.
        "lib/paths.py": "class ImportMode:\n    prepend = 1\n\n\ndef resolve(p):\n    return p\n"
        + BULK,
        # Made of the task's words, as a module about importing would be.
        "lib/importer.py": 'def load(module):\n    """A module imported twice."""\n'
        "    return module\n" + BULK,
    }
    files.update({f"lib/m{i}.py": FILLER for i in range(20)})
    task = "Module imported twice under import-mode=importlib"
    assert top(files, task, 1) == ["lib/paths.py"]
    best = ranker(files).rank(task, 1)[0]
    assert "defines `ImportMode`, which the task spells with hyphens" in best.reasons
    # Without the hyphens the same words are prose, and the importer module matches them best.
    assert top(files, "Module imported twice under import mode importlib", 1) == ["lib/importer.py"]


def test_a_hyphenated_name_many_files_define_counts_less_than_one_defined_once():
    files = {
        "lib/a.py": "def dry_run():\n    pass\n",
        "lib/b.py": "def dry_run():\n    pass\n",
        "lib/c.py": "def dry_run():\n    pass\n",
        "lib/d.py": "def dry_run():\n    pass\n",
        "lib/cache.py": "def no_cache():\n    pass\n",
    }
    signals, _ = ranker(files).signals("with --dry-run and --no-cache the run hangs")
    scores = {ranker(files).paths[i]: s for i, s in signals["hyphenated"].items()}
    assert scores["lib/cache.py"] == 1.0
    assert scores["lib/a.py"] == 0.5


def test_the_first_line_of_a_task_gives_its_terms_once():
    from agent_magic.analysis.ranking import title_terms

    assert title_terms("\n  \nRefresh drops cached rows, rows\nbody words here") == {
        "refresh": 1.0,
        "drop": 1.0,
        "cached": 1.0,
        "row": 1.0,
    }
    assert title_terms("") == {}


def test_the_first_line_tips_a_task_whose_words_point_two_ways():
    files = {
        "lib/cache.py": 'def refresh_cache(rows):\n    """Refresh the cache of rows."""\n'
        "    return rows\n" + BULK,
        "lib/plot.py": 'def draw_figure(axis, legend):\n    """Draw figure axis legend."""\n'
        "    return axis, legend\n" + BULK,
    }
    files.update({f"lib/m{i}.py": FILLER for i in range(20)})
    title, body = "Refresh loses cached rows\n", "It happens after I draw a figure.\n"
    assert top(files, title + body, 1) == ["lib/cache.py"]
    assert "matches the task's first line" in ranker(files).rank(title + body, 1)[0].reasons
    # The same words in the other order: now the figure is what the task is about.
    assert top(files, body + title, 1) == ["lib/plot.py"]
