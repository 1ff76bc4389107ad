"""The exceptions the core raises; each carries a message meant for a person."""

from __future__ import annotations


class AgentMagicError(Exception):
    """Base class of every error agent_magic raises on purpose."""


class UserError(AgentMagicError):
    """A mistake of the user's (empty task, bad path, missing key); the magic shows it as UsageError."""


class ToolError(AgentMagicError):
    """A mistake of the model's (bad tool input, an edit that does not match); sent back to it."""


class ModelError(AgentMagicError):
    """The model backend failed for good (after the SDK's own retries)."""


class PathError(UserError):
    """A path that is outside the project, inside .git/.agent_magic, or a secret file."""


class ConflictError(AgentMagicError):
    """Apply or undo refused because files changed on disk; `paths` lists them."""

    def __init__(self, message: str, paths: list[str]) -> None:
        super().__init__(message)
        self.paths = list(paths)


class ApplyError(UserError):
    """Apply or undo failed on a file (permission, read-only, a link); the message says what is
    where now. ``checkpoint`` names a checkpoint still holding content to restore, or is ""."""

    def __init__(self, message: str, checkpoint: str = "") -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
