"""The one secrets policy: which files and environment names are secret, and value redaction.

Everything that leaves the process or is saved (model requests, transcripts, the markdown
record, widget text, check output) passes through :func:`redact` or a :class:`Redactor`.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

# Never read into a model's context, never copied into a scratch copy, never written by the agent.
SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "credentials",
    "credentials.*",
    "*credentials*.json",
    ".netrc",
    ".pypirc",
    ".npmrc",
    "*.keystore",
    "secrets.*",
    ".htpasswd",
)
_SECRET_FILE = re.compile("|".join(fnmatch.translate(p) for p in SECRET_PATTERNS))

# Environment names whose values are secret. AUTH but not AUTHOR (git's author name is no secret);
# PAT only as a whole word (GH_PAT, not PATH).
_SECRET_ENV = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|COOKIE|SESSION_?ID|AUTH(?!OR)|(^|_)PAT($|_)",
    re.IGNORECASE,
)
MIN_SECRET_CHARS = 8  # shorter values are replaced only when they have a key's shape

# Shapes of credentials wherever they appear: Anthropic/OpenAI keys, AWS access key ids, GitHub,
# Slack and Google tokens, PEM private keys (a cut-off block is redacted to the end).
_KEY_SHAPES = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{8,}"
    r"|sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}"
    r"|(?:aws_secret_access_key|AWS_SECRET_ACCESS_KEY)\s*[=:]\s*[\"']?[A-Za-z0-9/+]{40}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*\Z)",
    re.DOTALL,
)
REDACTED = "[REDACTED]"


def is_secret_name(rel: str, extra: Iterable[str] = ()) -> bool:
    """Whether a relative path names a secret file: any part matches, or an ``extra`` pattern."""
    text = rel.replace("\\", "/")
    if any(_SECRET_FILE.match(part.lower()) for part in PurePosixPath(text).parts):
        return True
    parts = [text, *PurePosixPath(text).parts]
    return any(fnmatch.fnmatch(part.lower(), pat.lower()) for pat in extra for part in parts)


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable's name says its value is a credential."""
    return bool(_SECRET_ENV.search(name))


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of secret-named variables in ``environ`` (default: this process)."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if is_secret_env_name(k) and len(v) >= MIN_SECRET_CHARS]


def dotenv_values(root: str | os.PathLike[str]) -> list[str]:
    """The values in a project's top-level ``.env`` files (KEY=VALUE lines), to be redacted."""
    out: list[str] = []
    base = Path(root)
    try:
        names = [
            p
            for p in base.iterdir()
            if p.is_file()
            and (p.name == ".env" or p.name.startswith(".env.") or p.name.endswith(".env"))
        ]
    except OSError:
        return out
    for path in names:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1000]
        except OSError:
            continue
        for line in lines:
            _, eq, value = line.strip().removeprefix("export ").partition("=")
            value = value.strip().strip("\"'")
            if eq and len(value) >= MIN_SECRET_CHARS:
                out.append(value)
    return out


class Redactor:
    """Replaces known secret values and key-shaped strings; built once, applied to much text."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        # Longest first, so a value that contains another is replaced whole.
        # Too short a value (a one-letter test key) would mangle ordinary text.
        self.values = sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)

    @classmethod
    def current(
        cls,
        project_root: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Redactor:
        """Secret env values of this process, plus the project's ``.env`` values if given."""
        values = secret_env_values(environ)
        if project_root is not None:
            values += dotenv_values(project_root)
        return cls(values)

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced by ``[REDACTED]``."""
        if not isinstance(text, str) or not text:
            return text
        for value in self.values:
            if value in text:
                text = text.replace(value, REDACTED)
        return _KEY_SHAPES.sub(REDACTED, text)

    def deep(self, value: Any) -> Any:
        """A copy of a JSON-like value (dicts, lists, strings) with every string redacted, keys too.

        A key is as visible as a value (a dict of environment values keyed by the token itself);
        two keys that redact alike are kept apart by a counter, so no value is lost.
        """
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new = self(key) if isinstance(key, str) else key
                if new in out:
                    new = next(
                        f"{new} ({n})" for n in itertools.count(2) if f"{new} ({n})" not in out
                    )
                out[new] = self.deep(item)
            return out
        if isinstance(value, (list, tuple)):
            return [self.deep(v) for v in value]
        return value


def redact(text: str, project_root: str | os.PathLike[str] | None = None) -> str:
    """``text`` without this process's secret env values, ``.env`` values or key shapes."""
    return Redactor.current(project_root)(text)
