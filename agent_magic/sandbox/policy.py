"""What a confined command may see: the environment allowlist, resource limits, read-only paths."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent_magic.secrets import is_secret_env_name, is_secret_name

# Only these names pass from the kernel's environment into a sandbox; everything else (API keys,
# cloud credentials, tokens, the user's PYTHONPATH) stays out. Names starting with LC_ pass too.
ENV_ALLOWLIST = frozenset(
    {
        "LANG",
        "LANGUAGE",
        "TZ",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "PYTHONHASHSEED",
        "SOURCE_DATE_EPOCH",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
        "PYTEST_ADDOPTS",
        "CI",
        "MPLBACKEND",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
    }
)
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
HOME_INSIDE = "/tmp/home"

GIB = 1024**3


@dataclass(frozen=True)
class Limits:
    """Resource limits of every process in a sandbox (``None``: leave the kernel's limit)."""

    cpu_seconds: int | None = 900
    memory_bytes: int | None = 8 * GIB  # address space per process
    file_bytes: int | None = 2 * GIB  # largest file a process may write
    processes: int | None = 4096  # per user, as the kernel counts it

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` started through a tiny interpreter that sets the limits, then execs it.

        Setting them in this process between fork and exec (``preexec_fn``) is unsafe with
        threads, and the agent runs in one.
        """
        values = [self.cpu_seconds, self.memory_bytes, self.file_bytes, self.processes]
        spec = ",".join("" if v is None else str(v) for v in values)
        return [sys.executable, "-S", "-c", _SET_LIMITS, spec, *command]


# Never raises a limit the user set lower; a failing setrlimit leaves that limit as it was.
_SET_LIMITS = """import os, resource, sys
names = ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NPROC")
for name, text in zip(names, sys.argv[1].split(",")):
    kind = getattr(resource, name, None)
    if not text or kind is None:
        continue
    soft, hard = resource.getrlimit(kind)
    new = int(text) if hard == resource.RLIM_INFINITY else min(int(text), hard)
    if soft != resource.RLIM_INFINITY:
        new = min(new, soft)
    try:
        resource.setrlimit(kind, (new, hard))
    except (ValueError, OSError):
        pass
os.execvp(sys.argv[2], sys.argv[2:])
"""


def sandbox_env(
    extra: Mapping[str, str] | None = None,
    *,
    base: Mapping[str, str] | None = None,
    home: str = HOME_INSIDE,
) -> dict[str, str]:
    """The environment of a confined command: allowlisted names of ``base`` plus ``extra``.

    ``extra`` is what the caller means to pass (PYTHONPATH of the copy, ...); a secret-looking
    name in it is still dropped, so no caller can hand a credential in by mistake.
    """
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if k in ENV_ALLOWLIST or k.startswith("LC_")}
    env.update(
        {
            "PATH": os.pathsep.join(
                dict.fromkeys((str(Path(sys.executable).parent), *SYSTEM_PATH))
            ),
            "HOME": home,
            "TMPDIR": "/tmp",
            # Two copies are tested in the same second; stale .pyc files keyed on mtime could mix
            # them up, and colored output would hide the result lines.
            "PYTHONDONTWRITEBYTECODE": "1",
            "NO_COLOR": "1",
        }
    )
    for name, value in (extra or {}).items():
        if not is_secret_env_name(name):
            env[name] = value
    return env


def host_env(env: Mapping[str, str], writable: Path) -> tuple[dict[str, str], Path]:
    """The allowlisted environment for a sandbox without a private /tmp (HOME and TMPDIR beside
    the scratch copy, made here), and that temp dir."""
    home, tmp = writable.parent / "home", writable.parent / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    full = sandbox_env(env, home=str(home))
    full["TMPDIR"] = str(tmp)
    return full, tmp


def python_dirs(exclude: Iterable[Path] = ()) -> list[Path]:
    """Directories the sandbox shows read-only so this interpreter and its packages work.

    The prefixes and every ``sys.path`` directory, except those inside or around an excluded
    tree (the user's project: a copy of it is shown instead) or a home directory itself.
    """
    excluded = [Path(os.path.realpath(p)) for p in exclude]
    home = Path(os.path.realpath(Path.home()))
    out: list[Path] = []
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
    for entry in candidates:
        if not entry:
            continue
        path = Path(os.path.realpath(entry))
        if not path.is_dir() or path == home or path == Path("/"):
            continue
        if any(path == e or e in path.parents or path in e.parents for e in excluded):
            continue
        if not any(p == path or p in path.parents for p in out):
            out = [p for p in out if path not in p.parents] + [path]
    return out


def secret_entries(dirs: Iterable[Path]) -> list[Path]:
    """Secret-named files and folders at the top of ``dirs`` outside the interpreter's prefixes.

    A source tree on sys.path (an editable install of another project) may hold its own
    ``.env`` or keys; the sandbox shows those dirs read-only but hides these entries.
    """
    prefixes = {Path(os.path.realpath(p)) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    out: list[Path] = []
    for folder in dirs:
        if any(folder == p or p in folder.parents for p in prefixes):
            continue
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        out += [Path(e.path) for e in entries if is_secret_name(e.name)]
    return out
