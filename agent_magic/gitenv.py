"""The environment agent_magic runs git in: the project's own repository, whatever the kernel's
environment says.

A kernel started from a git hook (a pre-commit hook that runs notebooks, say) inherits
``GIT_DIR`` and ``GIT_INDEX_FILE``; every git command it then runs reads and writes that
repository and index instead of the project's. These variables are dropped for the commands
agent_magic runs itself; GitPython reads some of them on its own, so a repository is not opened
through it while they are set (see ``gitstore.open_repo``).
"""

from __future__ import annotations

import os

# The variables that point git at another repository, index or object store, or change what
# a path given to it means (git help environment).
REDIRECTING = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_INDEX_VERSION",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_GRAFT_FILE",
    "GIT_REPLACE_REF_BASE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_SHALLOW_FILE",
    "GIT_QUARANTINE_PATH",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
)


def redirected() -> list[str]:
    """The variables of REDIRECTING this process's environment sets."""
    return [name for name in REDIRECTING if name in os.environ]


def git_env(**extra: str) -> dict[str, str]:
    """This process's environment without the REDIRECTING variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in REDIRECTING}
    env.update(extra)
    return env
