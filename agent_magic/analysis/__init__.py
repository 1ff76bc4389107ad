"""Codebase analysis: a cached, ranked repo index and convention detection."""

from __future__ import annotations

from agent_magic.analysis.conventions import Conventions, detect_conventions, detect_test_command
from agent_magic.analysis.index import RepoIndex
from agent_magic.analysis.ranking import RankedFile, is_test_path
from agent_magic.analysis.symbols import Outline, Symbol

__all__ = [
    "Conventions",
    "Outline",
    "RankedFile",
    "RepoIndex",
    "Symbol",
    "detect_conventions",
    "detect_test_command",
    "is_test_path",
]
