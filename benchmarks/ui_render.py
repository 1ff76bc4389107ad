"""The review widget's cost: Python-side construction and message size, first render in Chromium.

python benchmarks/ui_render.py [--no-browser] [--repeat N]

Cases: 1, 50 and 500 changed Python files of 10 changed lines each (500 files = 5,000 changed
lines), and one file with all of its 5,000 lines changed. Python side: the time to build the
``DiffView`` (state of every file, hunks and findings) and the size of its state message (what
the kernel sends and a saved notebook keeps; the front-end module, the same for every widget, is
counted apart), and the saved copy of the review its cell output carries (built at display
time, bounded to 200 KB; agent_magic's extension draws it when no kernel holds the widget).
Peer in the same run: the changeset's plain unified diff (``Changeset.diff()``),
the least a review can send. Browser: headless Chromium renders the module from that state on a
bare page (no Jupyter); time to the first hunk bar drawn, and editors built (files are built
lazily as they near the viewport). Targets: under 1 s for 50 files (Python), under 3 s for
5,000 lines (browser).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from agent_magic.records import Finding
from agent_magic.staging.changeset import Changeset, make_change
from agent_magic.ui.diffview import DiffView, bundle

CHROMIUM = os.environ.get("AGENT_MAGIC_CHROMIUM", "/usr/bin/chromium")
LINES_PER_FILE = 40
CHANGED_PER_FILE = 10
RENDER = """async (state) => {
  const url = URL.createObjectURL(new Blob([state._esm], { type: "text/javascript" }));
  const module = await import(url);
  const model = { get: (name) => state[name], on() {}, off() {}, send() {} };
  const started = performance.now();
  module.default.render({ model, el: document.getElementById("host") });
  const frame = () => new Promise((done) => requestAnimationFrame(done));
  // files are built when the intersection observer reports them: wait for the first bar drawn
  while (!document.querySelector(".amr-hunk") && performance.now() - started < 30000) await frame();
  await frame();
  return {
    ms: performance.now() - started,
    bars: document.querySelectorAll(".amr-hunk").length,
    editors: document.querySelectorAll(".cm-editor").length,
    lines: document.querySelectorAll(".cm-line").length,
  };
}"""


def module_text(i: int, changed: bool) -> str:
    """A small module; ``changed`` rewrites every fourth line (10 of 40)."""
    lines = []
    for n in range(LINES_PER_FILE):
        value = f"{n} * 2" if changed and n % 4 == 0 else str(n)
        lines.append(f"value_{i}_{n} = {value}\n")
    return "".join(lines)


def many_files(count: int) -> Changeset:
    """``count`` files of 40 lines, 10 changed in each."""
    return Changeset(
        [
            make_change(
                f"pkg/module_{i}.py",
                module_text(i, False).encode(),
                module_text(i, True).encode(),
            )
            for i in range(count)
        ]
    )


def one_big_file(lines: int = 5000) -> Changeset:
    """One file with every one of its ``lines`` lines changed."""
    old = "".join(f"value_{i} = {i}\n" for i in range(lines))
    new = "".join(f"value_{i} = {i} * 2  # doubled\n" for i in range(lines))
    return Changeset([make_change("big.py", old.encode(), new.encode())])


def findings_for(changeset: Changeset) -> list[Finding]:
    """One finding on the first change of every tenth file, and one without a place."""
    out = [Finding("minor", "the change has no changelog entry")]
    for change in changeset.files[::10]:
        out.append(Finding("major", "check this value", change.path, 1, suggestion="use a name"))
    return out


def best(fn, repeat: int) -> tuple[float, object]:
    """The median wall time of ``fn()`` over ``repeat`` runs, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    """Measure every case; print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-browser", action="store_true", help="Python side only")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (median)")
    args = parser.parse_args()

    cases = [
        ("1 file, 10 lines", many_files(1)),
        ("50 files, 500 lines", many_files(50)),
        ("500 files, 5,000 lines", many_files(500)),
        ("1 file, 5,000 lines", one_big_file()),
    ]
    rows = []
    states = {}
    for name, changeset in cases:
        findings = findings_for(changeset)
        build, view = best(lambda c=changeset, f=findings: DiffView(c, f), args.repeat)
        assert isinstance(view, DiffView)
        state = view.get_state()
        esm = len(state.pop("_esm").encode())
        message = len(json.dumps(state).encode())
        copy_time, copy = best(view.snapshot, args.repeat)
        copied = len(json.dumps(copy).encode())
        diff_time, diff = best(changeset.diff, args.repeat)
        rows.append(
            [name, build, message, copy_time, copied, diff_time, len(str(diff).encode()), esm]
        )
        states[name] = {**state, "_esm": bundle()}
        view.close()

    renders = {}
    if not args.no_browser:
        renders = browser_times(states, args.repeat)

    print(
        f"\n{'case':<24} {'DiffView':>10} {'state':>10} | {'copy':>8} {'size':>7} "
        f"| {'plain diff':>10} {'diff size':>10}"
        f" | {'first render':>12} {'bars':>5} {'editors':>7} {'lines':>6}"
    )
    print("-" * 126)
    for name, build, message, copy_time, copied, diff_time, diff_size, _esm in rows:
        render = renders.get(name)
        shown = (
            f"{render['ms'] / 1000:>11.2f}s {render['bars']:>5} {render['editors']:>7} "
            f"{render['lines']:>6}"
            if render
            else f"{'-':>12}"
        )
        print(
            f"{name:<24} {build:>9.3f}s {message / 1024:>8.0f}KB | {copy_time:>7.3f}s "
            f"{copied / 1024:>5.0f}KB | {diff_time:>9.3f}s "
            f"{diff_size / 1024:>8.0f}KB | {shown}"
        )
    print(
        f"\nfront-end module (sent once per widget, the same for all): {rows[0][7] / 1024:.0f} KB"
    )
    fifty = rows[1][1]
    print(
        f"target: 50 files built in under 1 s: {fifty:.3f} s ({'met' if fifty < 1 else 'MISSED'})"
    )
    big = renders.get("500 files, 5,000 lines"), renders.get("1 file, 5,000 lines")
    if all(big):
        worst = max(r["ms"] for r in big if r) / 1000
        verdict = "met" if worst < 3 else "MISSED"
        print(f"target: 5,000 lines drawn in under 3 s: worst {worst:.2f} s ({verdict})")


def browser_times(states: dict[str, dict], repeat: int) -> dict[str, dict]:
    """First render of each state on a bare page in headless Chromium (median of ``repeat``)."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            for name, state in states.items():
                results = []
                for _ in range(repeat):
                    page = browser.new_page(viewport={"width": 1280, "height": 1000})
                    page.set_content("<div id='host'></div>")
                    results.append(page.evaluate(RENDER, state))
                    page.close()
                results.sort(key=lambda r: r["ms"])
                out[name] = results[len(results) // 2]
        finally:
            browser.close()
    return out


if __name__ == "__main__":
    main()
