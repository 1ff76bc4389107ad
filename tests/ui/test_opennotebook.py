"""Without the frontend extension: a change to the kernel's own notebook says, before and after
Apply, that it is written on disk behind the open tab, and what to do."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from agent_magic.ui.opennotebook import kernel_notebook, open_notebook_paths
from tests.ui.runs import UNDERSTAND, call, turn, write_script


class Shell:
    def __init__(self, **ns: str) -> None:
        self.user_ns = dict(ns)


def notebook_bytes(*sources: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    return nbformat.writes(nb).encode()


def test_kernel_notebook_from_vscode_session_or_env(tmp_path: Path):
    nb = tmp_path / "work.ipynb"
    nb.write_bytes(notebook_bytes("x = 1"))
    assert kernel_notebook(Shell(__vsc_ipynb_file__=str(nb)), {}) == nb.resolve()
    assert kernel_notebook(Shell(), {"JPY_SESSION_NAME": str(nb)}) == nb.resolve()
    # relative to the server's root, unknown here: the kernel's folder holds the notebook
    assert (
        kernel_notebook(Shell(__session__="sub/dir/work.ipynb"), {}, cwd=tmp_path) == nb.resolve()
    )
    assert kernel_notebook(Shell(__session__="missing.ipynb"), {}, cwd=tmp_path) is None
    assert kernel_notebook(Shell(__session__="console-1234"), {}, cwd=tmp_path) is None
    assert kernel_notebook(Shell(), {}) is None
    assert open_notebook_paths(["a.py", "work.ipynb"], tmp_path, nb.resolve()) == ["work.ipynb"]
    assert open_notebook_paths(["work.ipynb"], tmp_path, None) == []


def edit_own_notebook() -> list[dict]:
    plan = turn(
        call(
            "submit_plan",
            summary="Change the first cell",
            steps=[{"description": "x = 10", "files": ["work.ipynb"]}],
            files=["work.ipynb"],
        )
    )
    return [
        UNDERSTAND,
        plan,
        turn(
            call("notebook_edit", path="work.ipynb", action="replace", cell="c0", source="x = 10")
        ),
        turn(call("finish", summary="first cell changed")),
    ]


@pytest.fixture
def own(make_repo, ip):
    repo = make_repo({"work.ipynb": notebook_bytes("x = 1", "y = 2")})
    ip.user_ns["__session__"] = str(repo / "work.ipynb")
    yield repo
    ip.user_ns.pop("__session__", None)


def test_widgets_warn_before_apply_and_say_written_on_disk_after(ip, magics, own, tmp_path):
    spec = write_script(tmp_path, edit_own_notebook())
    ip.run_cell_magic(
        "agent",
        f"--model {spec} -p {own} --no-review --view widgets",
        "set x to 10 in the first cell",
    )
    assert magics.last_run.wait(60)
    view = magics.last_view
    assert "work.ipynb is the notebook this kernel runs in" in view.panel.message.value
    assert "Reload Notebook from Disk" in view.panel.message.value

    view.panel.apply_button.click()
    assert "x = 10" in (own / "work.ipynb").read_text()
    assert "Applied 1 file(s)" in view.panel.message.value
    assert "Written on disk only" in view.panel.message.value
    assert "**Applied:**" in view.record and "Written on disk only" in view.record

    view.panel.undo_button.click()
    assert "x = 10" not in (own / "work.ipynb").read_text()
    assert "Written on disk only" in view.panel.message.value and "was undone" in view.record


def test_headless_and_line_magic_say_it_too(ip, magics, own, tmp_path, capsys):
    spec = write_script(tmp_path, edit_own_notebook())
    ip.run_cell_magic(
        "agent",
        f"--model {spec} -p {own} --no-review --view headless",
        "set x to 10 in the first cell",
    )
    assert "work.ipynb is the notebook this kernel runs in" in magics.out.getvalue()
    ip.run_line_magic("agent", "apply")
    assert "Written on disk only" in magics.out.getvalue()
    assert "Written on disk only" in capsys.readouterr().out  # the record, republished


def test_no_warning_for_other_files(ip, magics, make_repo, tmp_path):
    repo = make_repo({"work.ipynb": notebook_bytes("x = 1")})
    ip.user_ns["__session__"] = str(tmp_path / "elsewhere.ipynb")
    try:
        ip.run_cell_magic(
            "agent",
            f"--model {write_script(tmp_path, edit_own_notebook())} "
            f"-p {repo} --no-review --view widgets",
            "set x",
        )
        assert magics.last_run.wait(60)
        assert "runs in" not in magics.last_view.panel.message.value
        magics.last_view.panel.apply_button.click()
        assert "Written on disk" not in magics.last_view.panel.message.value
    finally:
        ip.user_ns.pop("__session__", None)
