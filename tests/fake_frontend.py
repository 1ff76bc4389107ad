"""A frontend with agent_magic's extension, as the kernel meets it: the comm protocol over a
transport, with open notebooks held as JSON. As strict as js/src/index.ts: every expectation of
a batch is checked before any cell changes, a failed one changes nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_magic.livedoc import LiveFrontend


class FakeFrontend:
    """Open documents by server-relative path; answers each request at once."""

    def __init__(self, root: Path, session_path: str) -> None:
        self.root = Path(root)
        self.session_path = session_path
        self.docs: dict[str, Any] = {}  # path -> notebook JSON (dict) or text
        self.dirty: dict[str, bool] = {}
        self.saved: list[str] = []
        self.reverted: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.kernel: LiveFrontend | None = None
        self.silent = False  # True: never answers (a page without the extension)
        self.on_saved: Callable[[str], None] | None = None  # fault injection after a save

    def open(self, path: str, *, dirty: bool = False) -> None:
        """Open ``path`` from disk, as a tab would (a notebook's sources as one string each,
        as the page's model gives them, not nbformat's lists of lines)."""
        text = (self.root / path).read_text(encoding="utf-8")
        if path.endswith(".ipynb"):
            nb = json.loads(text)
            for cell in nb["cells"]:
                if isinstance(cell["source"], list):
                    cell["source"] = "".join(cell["source"])
            self.docs[path] = nb
        else:
            self.docs[path] = text
        self.dirty[path] = dirty

    def send(self, data: dict[str, Any]) -> None:
        """The kernel's message arrives; the reply goes straight back."""
        self.requests.append(copy.deepcopy(data))
        if self.silent:
            return
        try:
            reply = {"id": data["id"], "ok": True, **self.handle(data)}
        except (ValueError, KeyError) as exc:  # the extension answers {ok: false, error}
            reply = {"id": data["id"], "ok": False, "error": str(exc)}
        assert self.kernel is not None
        self.kernel.receive(json.loads(json.dumps(reply)))  # as JSON crosses the wire

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "hello":
            return {"version": 1, "session_path": self.session_path}
        if op not in ("read", "apply", "revert"):
            raise ValueError(f"unknown request {op}")
        path = request["path"]
        if op == "read":
            if path not in self.docs:
                return {"open": False}
            notebook = isinstance(self.docs[path], dict)
            return {
                "open": True,
                "kind": "notebook" if notebook else "file",
                "dirty": self.dirty[path],
                "content": copy.deepcopy(self.docs[path]),
            }
        if op == "apply":
            return self.apply(path, request["ops"])
        if op == "revert":
            if path not in self.docs:
                return {"open": False, "reverted": False}
            if self.dirty[path]:
                return {"open": True, "reverted": False, "dirty": True}
            self.open(path)
            self.reverted.append(path)
            return {"open": True, "reverted": True, "dirty": False}
        raise ValueError(f"unknown request {op}")

    def apply(self, path: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        nb = self.docs.get(path)
        if not isinstance(nb, dict):
            raise ValueError(f"{path} is not open as a notebook")  # as the JS throws
        cells = nb["cells"]

        def index(cell_id: str) -> int:
            return next((i for i, c in enumerate(cells) if c["id"] == cell_id), -1)

        def text(cell: dict[str, Any]) -> str:
            src = cell["source"]
            return "".join(src) if isinstance(src, list) else src

        conflicts = []
        for op in ops:
            if op["op"] == "insert":
                if op["after"] and index(op["after"]) < 0:
                    conflicts.append(op["after"])
            elif index(op["id"]) < 0 or text(cells[index(op["id"])]) != op["expect"]:
                conflicts.append(op["id"])
        if conflicts:
            return {"applied": 0, "conflicts": conflicts}
        for op in ops:
            if op["op"] == "set_source":
                cell = cells[index(op["id"])]
                cell["source"], cell["cell_type"] = op["source"], op["cell_type"]
            elif op["op"] == "delete":
                del cells[index(op["id"])]
            else:
                at = index(op["after"]) + 1 if op["after"] else 0
                cells.insert(at, copy.deepcopy(op["cell"]))
        # the page saves the whole document: the user's unsaved edits go to disk too
        (self.root / path).write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
        self.dirty[path] = False
        self.saved.append(path)
        if self.on_saved is not None:
            self.on_saved(path)
        return {"applied": len(ops), "conflicts": []}


def attach(fake: FakeFrontend, notebook: Path, timeout: float = 2.0) -> LiveFrontend:
    """A kernel-side LiveFrontend talking to ``fake``, greeted."""
    frontend = LiveFrontend(fake, timeout=timeout)
    fake.kernel = frontend
    frontend.hello(notebook)
    return frontend
