"""This kernel's link to agent_magic's frontend extension, set up on the first run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_magic.ui.opennotebook import kernel_notebook

if TYPE_CHECKING:
    from agent_magic.session import Session
    from agent_magic.staging.live import LiveWriter


class LiveLink:
    """Finds out whether the page has the extension and hands out its LiveWriter."""

    def __init__(self, shell: Any, writer: LiveWriter | None = None) -> None:
        self.shell = shell  # an IPython shell; a terminal one has no kernel
        self.writer = writer
        self._checked = writer is not None

    def for_run(self) -> LiveWriter | None:
        """The writer for a new run (greets the page, in the background, until it answers)."""
        writer = self.writer
        frontend = writer.frontend if writer is not None else None
        if frontend is not None and not frontend.greeting and frontend.server_root is None:
            # in Run All the first reply waits behind the next cells and the hello times out;
            # a reloaded page registered the target anew but lost the old comm
            if getattr(self.shell, "kernel", None) is not None:
                from agent_magic.livedoc import CommTransport

                frontend.transport = CommTransport(frontend.receive)
            frontend.hello_in_background(kernel_notebook(self.shell))
        if not self._checked:
            self._checked = True
            from agent_magic.livedoc import connect

            frontend = connect(self.shell, kernel_notebook(self.shell))
            if frontend is not None:
                from agent_magic.staging.live import LiveWriter

                self.writer = LiveWriter(frontend)
        return self.writer

    def for_cell(self) -> LiveWriter | None:
        """The writer for `%agent apply/undo`, when the page's replies reach a running cell."""
        writer = self.writer
        if writer is None or not writer.frontend.attached:
            return None
        return writer if writer.frontend.answers_during_cells() else None

    def cell_refusal(self, session: Session) -> str | None:
        """Why `%agent apply` must not take the disk path for ``session``, or None."""
        writer = self.writer
        if writer is None or not writer.frontend.attached or self.for_cell() is not None:
            return None
        paths = session.changeset.paths if session.changeset is not None else []
        if any(p.endswith(".ipynb") for p in paths):
            # its notebooks were read from their tabs; the page cannot answer this cell
            return (
                "this kernel cannot hear the page while a cell runs (that needs ipykernel "
                "7): apply with the Apply button of the %%agent cell, which changes the "
                "open notebook in its tab"
            )
        return None
