"""The notebook-context manifest: outputs summarized without values unless the user opts in,
secrets redacted always, the exact text sent shown by `%agent context` and the widget's fold;
checked in what the real SDK sends to the fake server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from IPython.core.error import UsageError

from agent_magic.models.anthropic import AnthropicModel
from agent_magic.notebook_context import (
    SHARED,
    SUMMARIZED,
    notebook_context,
    output_summary,
)
from agent_magic.secrets import REDACTED
from agent_magic.testing import FakeAnthropic, fake_client
from tests.ui.runs import CALC, fix_calc

SSN = "078-05-1120"
PRINTED = "total revenue 91234.57 for client Acme"
SECRET = "hunter2-correct-horse-battery"
ENV_SECRET = "env-secret-value-0042"
# What pandas saves for a DataFrame: the same values in text/plain and text/html.
FRAME_HTML = (
    '<div><table border="1" class="dataframe">\n<thead>\n<tr style="text-align: right;">'
    "<th></th><th>name</th><th>ssn</th></tr>\n</thead>\n<tbody>\n"
    f"<tr><th>0</th><td>Ann</td><td>{SSN}</td></tr>\n"
    "<tr><th>1</th><td>Bob</td><td>219-09-9999</td></tr>\n</tbody>\n</table>\n"
    "<p>2 rows × 2 columns</p></div>"
)
FRAME_TEXT = f"  name          ssn\n0  Ann  {SSN}\n1  Bob  219-09-9999"


@pytest.mark.parametrize(
    ("output", "summary"),
    [
        (
            {"output_type": "stream", "name": "stdout", "text": [PRINTED, "\n"]},
            "stdout: 1 line, 39 characters",
        ),
        (
            {"output_type": "error", "ename": "KeyError", "evalue": f"'{SSN}'", "traceback": []},
            "error KeyError (its message hidden: 13 characters)",
        ),
        (
            {
                "output_type": "execute_result",
                "execution_count": 3,
                "metadata": {},
                "data": {"text/plain": FRAME_TEXT, "text/html": FRAME_HTML},
            },
            "table (2 rows × 2 columns; columns: name, ssn)",
        ),
        (
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 640x480>"},
            },
            "text: 1 line, 21 characters; image/png (12 characters)",
        ),
        (
            {"output_type": "execute_result", "data": {"text/html": "<table><tr><td>1</td></tr>"}},
            "text/html (26 characters)",  # no closed table: only its size
        ),
    ],
)
def test_outputs_are_summarized_without_their_values(output, summary):
    assert output_summary(output) == summary


def png_b64(width: int, height: int) -> str:
    """A real PNG of ``width`` × ``height`` red pixels, base64 with line breaks as nbformat keeps it."""
    import base64
    import struct
    import zlib

    row = b"\0" + b"\xff\x00\x00" * width
    chunks = [
        (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        (b"IDAT", zlib.compress(row * height)),
        (b"IEND", b""),
    ]
    png = b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )
    return base64.encodebytes(png).decode()


def test_a_plot_is_described_by_its_pixel_size_never_its_data():
    data = png_b64(4, 3)
    output = {"output_type": "display_data", "data": {"image/png": data}}
    summary = output_summary(output)
    assert summary == f"image/png (4×3 pixels, {len(data):,} characters)"
    assert data.strip() not in summary


@pytest.mark.parametrize(
    ("size", "tokens"),
    [
        ((750, 1000), 1000),
        ((100, 75), 10),
        ((4000, 3000), 1534),  # scaled to 1.15 MP first
        ((3000, 200), 219),  # scaled to a 1568 px edge first
        ((0, 10), 1600),
    ],
)
def test_an_image_is_priced_by_its_pixels(size, tokens):
    from agent_magic.images import image_tokens

    assert image_tokens(*size) == tokens


def test_the_budget_estimate_prices_an_image_by_its_pixels_not_its_base64():
    from agent_magic.images import png_size
    from agent_magic.tokens import estimate_tokens

    data = "".join(png_b64(300, 200).split())
    assert png_size(data) == (300, 200) and png_size("not a png") is None
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
    message = {"role": "user", "content": [{"type": "text", "text": "x"}, image]}
    assert 80 <= estimate_tokens([message]) - estimate_tokens([{**message, "content": []}]) <= 95
    big = {**image, "source": {**image["source"], "data": data + "A" * 400_000}}
    assert estimate_tokens([big]) < 200  # the same picture, whatever its bytes


def plot_notebook(path: Path, sizes: list[tuple[int, int] | None]) -> None:
    nb = nbformat.v4.new_notebook()
    for number, size in enumerate(sizes, 1):
        outputs = []
        if size is not None:
            data = {"image/png": png_b64(*size), "text/plain": "<Figure>"}
            outputs.append(nbformat.v4.new_output("display_data", data=data))
        nb.cells.append(nbformat.v4.new_code_cell(f"plot({number})", outputs=outputs))
    nbformat.write(nb, str(path))


def test_plots_named_in_the_task_go_first_then_the_newest(tmp_path):
    from agent_magic.notebook_context import notebook_plots

    path = tmp_path / "plots.ipynb"
    plot_notebook(path, [(10, 10), None, (20, 10), (30, 10), (40, 10)])
    plots, note = notebook_plots(path, "fix the axis of the plot in cell 1")
    assert [(p.cell, p.width) for p in plots] == [(1, 10), (5, 40)]
    assert "cell 1 (10×10 px" in note and "cell 5 (40×10 px" in note
    assert "2 more plot(s) not attached (at most 2)" in note
    plots, _ = notebook_plots(path)
    assert [p.cell for p in plots] == [5, 4]
    assert plots[0].block()["source"]["data"] == "".join(png_b64(40, 10).split())
    assert notebook_plots(path, limit=0)[0] == []


def test_a_result_the_kernel_still_holds_is_described_like_a_variable():
    array = np.zeros((3, 4), dtype="float32")
    output = {"output_type": "execute_result", "data": {"text/plain": "array([[0., ...]])"}}
    assert output_summary(output, array) == "result: numpy.ndarray (shape=(3, 4), dtype=float32)"


def write_notebook(path: Path, ip) -> None:
    """A saved notebook whose outputs hold values: a table of SSNs, a print, a secret."""
    frame = nbformat.v4.new_code_cell(
        "customers",
        execution_count=2,
        outputs=[
            nbformat.v4.new_output(
                "execute_result",
                data={"text/plain": FRAME_TEXT, "text/html": FRAME_HTML},
                execution_count=2,
            )
        ],
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Customer revenue"),
        nbformat.v4.new_code_cell(
            "print(summary_line)\nprint(db_password)\nprint(os.environ['SHOP_TOKEN'])",
            outputs=[nbformat.v4.new_output("stream", text=f"{PRINTED}\n{SECRET}\n{ENV_SECRET}\n")],
        ),
        frame,
        # the kernel's In/Out: cell 3's result is the array this kernel holds
        nbformat.v4.new_code_cell(
            "weights",
            execution_count=ip.execution_count - 1,
            outputs=[
                nbformat.v4.new_output(
                    "execute_result",
                    data={"text/plain": "array([0.25, 0.75])"},
                    execution_count=ip.execution_count - 1,
                )
            ],
        ),
    ]
    nbformat.write(nb, str(path))


@pytest.fixture
def notebook(ip, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SHOP_TOKEN", ENV_SECRET)
    ip.run_cell(f"db_password = {SECRET!r}\nsummary_line = {PRINTED!r}", store_history=True)
    ip.run_cell("import numpy as np\nweights = np.array([0.25, 0.75])", store_history=True)
    ip.run_cell(
        "weights", store_history=True
    )  # Out[n] holds the array; the saved cell above has its count
    path = tmp_path / "revenue.ipynb"
    write_notebook(path, ip)
    monkeypatch.setitem(ip.user_ns, "__session__", str(path))
    yield path
    for name in ("db_password", "summary_line", "weights", "np"):
        ip.user_ns.pop(name, None)


def test_the_manifest_summarizes_outputs_and_hides_secrets(ip, notebook):
    context = notebook_context(ip)
    assert SUMMARIZED in context and SHARED not in context
    assert "table (2 rows × 2 columns; columns: name, ssn)" in context
    assert "stdout: 3 lines" in context
    assert "result: numpy.ndarray (shape=(2,), dtype=float64)" in context
    assert "db_password: str (value hidden)" in context
    for value in (SSN, "219-09-9999", PRINTED, SECRET, ENV_SECRET, "0.25"):
        assert value not in context

    shared = notebook_context(ip, share_outputs=True)
    assert SHARED in shared and SSN in shared and PRINTED in shared
    assert SECRET not in shared and ENV_SECRET not in shared
    assert shared.count(REDACTED) >= 2  # the printed password and the printed token


def sent(server: FakeAnthropic) -> str:
    return json.dumps(server.requests)


def run_agent(ip, magics, repo: Path, options: str) -> FakeAnthropic:
    with FakeAnthropic(fix_calc()) as server:
        ip.user_ns["ctx_model"] = AnthropicModel("claude-sonnet-4-6", client=fake_client(server))
        try:
            ip.run_cell_magic(
                "agent", f"--model {{ctx_model}} -p {repo} --no-review {options}", "fix calc.py"
            )
            assert magics.last_run.wait(60)  # a widget run goes on in the background
        finally:
            ip.user_ns.pop("ctx_model", None)
    assert magics.last_run.session.stop_reason == "done", magics.last_run.session.error
    return server


def test_no_output_value_reaches_the_api_unless_the_user_opts_in(ip, magics, notebook, make_repo):
    repo = make_repo({"calc.py": CALC})
    server = run_agent(ip, magics, repo, "--view headless -n")
    body = sent(server)
    expected = notebook_context(ip)
    assert json.dumps(expected)[1:-1] in body  # the manifest is exactly what went out
    assert "customers" in body and "columns: name, ssn" in body
    for value in (SSN, "219-09-9999", PRINTED, SECRET, ENV_SECRET, "0.25, 0.75"):
        assert value not in body
    assert "Notebook context sent to the model" in magics.out.getvalue()

    (repo / "calc.py").write_text(CALC)
    server = run_agent(ip, magics, repo, "--view headless -n --share-outputs")
    body = sent(server)
    assert SSN in body and PRINTED in body  # opted in
    assert SECRET not in body and ENV_SECRET not in body  # secrets never


def test_the_widget_shows_the_exact_context_in_a_closed_fold(ip, magics, notebook, make_repo):
    repo = make_repo({"calc.py": CALC})
    server = run_agent(ip, magics, repo, "--view widgets -n")
    panel = magics.last_view.panel
    box = panel.context_box
    assert box.layout.display is None and box.selected_index is None
    assert "Notebook context sent to the model" in box.get_title(0)
    import html

    shown = html.unescape(panel.context.value)
    context = notebook_context(ip)
    assert context in shown and json.dumps(context)[1:-1] in sent(server)
    assert SSN not in shown


def test_without_context_the_fold_stays_hidden(ip, magics, make_repo):
    repo = make_repo({"calc.py": CALC})
    run_agent(ip, magics, repo, "--view widgets")
    assert magics.last_view.panel.context_box.layout.display == "none"


def test_agent_context_prints_the_manifest(ip, magics, notebook):
    magics.out = io.StringIO()
    ip.run_line_magic("agent", "context")
    printed = magics.out.getvalue()
    assert printed.strip() == notebook_context(ip).strip() and SSN not in printed
    magics.out = io.StringIO()
    ip.run_line_magic("agent", "context --share-outputs")
    assert SSN in magics.out.getvalue() and SECRET not in magics.out.getvalue()
    magics.share_outputs = True  # the trait is the default of a bare `%agent context`
    magics.out = io.StringIO()
    ip.run_line_magic("agent", "context")
    assert SSN in magics.out.getvalue()
    with pytest.raises(UsageError, match="usage: %agent context"):
        ip.run_line_magic("agent", "context --share")


def test_share_outputs_without_the_notebook_context_is_a_usage_error(ip, magics, make_repo):
    repo = make_repo({"calc.py": CALC})
    with pytest.raises(UsageError, match="add --notebook-context"):
        ip.run_cell_magic("agent", f"-p {repo} --view headless --share-outputs", "fix calc.py")
    assert (repo / "calc.py").read_text() == CALC


def test_shared_plots_go_to_the_model_as_images_only_with_the_opt_in(
    ip, magics, tmp_path, monkeypatch, make_repo
):
    path = tmp_path / "plots.ipynb"
    plot_notebook(path, [(32, 24), None, (64, 48)])
    monkeypatch.setitem(ip.user_ns, "__session__", str(path))
    repo = make_repo({"calc.py": CALC})
    server = run_agent(ip, magics, repo, "--view headless -n --share-outputs")
    data = "".join(png_b64(64, 48).split())
    images = [
        block
        for body in server.requests
        for message in body["messages"]
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "image"
    ]
    assert images and {b["source"]["data"] for b in images} == {
        data,
        "".join(png_b64(32, 24).split()),
    }
    note = "Plots attached as images when the model takes images: cell 3 (64×48 px"
    assert json.dumps(note)[1:-1] in sent(server)

    (repo / "calc.py").write_text(CALC)
    server = run_agent(ip, magics, repo, "--view headless -n")
    assert '"image"' not in sent(server) and data not in sent(server)


def test_a_model_that_takes_no_images_gets_none(ip, magics, tmp_path, monkeypatch, make_repo):
    from agent_magic.models.scripted import ScriptedModel

    path = tmp_path / "plots.ipynb"
    plot_notebook(path, [(32, 24)])
    monkeypatch.setitem(ip.user_ns, "__session__", str(path))
    model = ScriptedModel(fix_calc())
    monkeypatch.setitem(ip.user_ns, "text_only", model)
    repo = make_repo({"calc.py": CALC})
    ip.run_cell_magic(
        "agent",
        f"--model {{text_only}} -p {repo} --no-review --view headless -n --share-outputs",
        "t",
    )
    assert magics.last_run.session.stop_reason == "done"
    requests = json.dumps([r.messages for r in model.requests])
    assert "when the model takes images: cell 1" in requests  # the manifest says so
    assert '"type": "image"' not in requests


def test_an_unreadable_notebook_is_a_usage_error(ip, magics, tmp_path, monkeypatch, make_repo):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    monkeypatch.setitem(ip.user_ns, "__session__", str(broken))
    with pytest.raises(UsageError, match="cannot read the notebook"):
        ip.run_line_magic("agent", "context")
    repo = make_repo({"calc.py": CALC})
    with pytest.raises(UsageError, match="cannot read the notebook"):
        ip.run_cell_magic("agent", f"-p {repo} --view headless -n", "fix calc.py")
