"""The outline pass for patterns without texts: git grep -P with the pattern spelled out for
plain lines; every plain line the pattern matches is listed, every other file is read."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
import regex

from agent_magic.analysis.grep import count_lines, files_without, needles
from agent_magic.analysis.outline import PLAIN, Outline, outline
from agent_magic.analysis.regexparse import BEYOND_ASCII
from agent_magic.paths import Project
from agent_magic.staging import Staging
from agent_magic.testing.search_reference import every_line
from agent_magic.tools import Toolbox
from tests.analysis.test_grep_redteam import fast_search, random_pattern
from tests.conftest import CountingProject, CountingReader, git

PLAIN_PIECES = [
    *("a", "k", "s", "i", "K", "S", "I", "mul", "MUL", "def", " ", "_", "1", "23", "x", "()"),
    *("\t", "\x0b", "\x0c", "#", ".", "-", "ab", "ss", "el", "ter", "{", "}", "[", "]", "\\"),
]
TABLE = [
    *(r"\d{5,}", r"\bx\b", r"^\s+\w", r"(?i)MUL", r"\w+\(", r"[^\d\s]+", r"^$", r"x$", r"\Ax"),
    *(r"x\Z", r"(?i)\u212a", r"(?i)[^k]", r"\B\d", r"(a)\1", r"x(?=y)", r"(?!a)\w"),
    *(r"(?>a\w*)l", r"a*+b", r"(?i:k)s", r"(?i)k(?-i:s)", r"(?x) d e f  # comment", r"\x00|\t"),
    *(r"[\x0b\x0c]", r"(?a)\W\w", r"a{70000}", r"(a)?(?(1)b|c)", r"\w{2,3}?\d", "(?s).x"),
]


@pytest.fixture(scope="module")
def plain_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A git repository of 300 files, each one random plain line (and a line break)."""
    root = tmp_path_factory.mktemp("plain")
    git(root, "init", "-q")
    rng = random.Random(5)
    lines: dict[str, str] = {}
    for n in range(300):
        line = "".join(rng.choice(PLAIN_PIECES) for _ in range(rng.randint(0, 12)))
        assert set(line) <= set(PLAIN)
        lines[f"f{n}.txt"] = line
        (root / f"f{n}.txt").write_text(line + "\n", encoding="ascii", newline="")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "lines")
    return root, lines


def listed(root: Path, pcre: bytes) -> set[str] | None:
    """The files git grep -P lists for ``pcre``, as the first pass runs it; None if git
    refuses it (the search then reads every file)."""
    proc = subprocess.run(
        ["git", "-C", str(root), "grep", "-l", "-z", "-P", "-e", pcre],
        capture_output=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    if proc.returncode not in (0, 1):
        return None
    return {n for n in proc.stdout.decode().split("\0") if n}


def test_the_outline_lists_every_plain_line_the_pattern_matches(plain_repo):
    root, lines = plain_repo
    rng = random.Random(11)
    patterns = TABLE + [random_pattern(rng) for _ in range(400)]
    spelled = narrower = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # nested sets like [[a]]
        for pattern in patterns:
            try:
                compiled = regex.compile(pattern)
            except (regex.error, ValueError, OverflowError, RuntimeError, AttributeError):
                continue
            shape = outline(pattern)
            if shape is None:
                continue
            found = listed(root, shape.pcre)
            if found is None:
                continue
            spelled += 1
            expected = {name for name, line in lines.items() if compiled.search(line)}
            assert expected <= found, (pattern, shape.pcre, sorted(expected - found)[:3])
            narrower += len(found) < len(lines)
    assert spelled > 140 and narrower > 100, (spelled, narrower)  # spelled, and they select


@pytest.mark.parametrize(
    ("pattern", "matched", "missed"),
    [
        (r"(?i)\u212a", ["k", "K"], ["x"]),  # folding pairs the Kelvin sign with k
        (r"(?i)\u017ft", ["st", "ST"], ["t"]),
        (r"(?i)[^k]", ["k", "x"], []),  # a folded negated class: any character
        (r"\d\s", ["1 ", "2\t", "3\x0b"], ["1x"]),
        (r"^\w+$", ["abc_1"], ["a b", ""]),
        (r"\u00e9", [], ["e", "x"]),  # no plain line holds it
    ],
)
def test_the_outline_spells_classes_and_folds_for_plain_characters(
    pattern: str, matched: list[str], missed: list[str]
):
    shape = outline(pattern)
    assert shape is not None
    pcre = regex.compile(shape.pcre.decode().removeprefix("(*LF)"))  # the same syntax, here
    for line in matched:
        assert pcre.search(line), (pattern, line)
    for line in missed:
        assert not pcre.search(line), (pattern, line)


@pytest.mark.parametrize("pattern", [r"\p{L}", "a{e<=1}", "[[:alpha:]]", "(unclosed", r"(?V1)a"])
def test_no_outline_for_what_the_stdlib_parser_does_not_read_as_the_engine(pattern: str):
    assert outline(pattern) is None


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("n = \u0663\u0663\u0663\u0663\u0663\n".encode(), r"\d{5,}"),  # Arabic-Indic digits
        (b"x\r\nx\r\n", r"x$"),  # a CRLF line: git sees the CR, the search does not
        (b"a\x01\x01\n", r"\W\W"),  # a control character
        (b"a" * 9000 + b"\n\x00\x00\x00\n", r"\W{3}"),  # a NUL after git's binary check
        ("caf\u00e9x\n".encode(), r"\Bx"),  # a non-ASCII word character
    ],
)
def test_a_file_with_any_other_byte_is_read(make_repo, content: bytes, pattern: str):
    root = make_repo({"other.py": content, "plain.py": "nothing here\n"})
    files = ["other.py", "plain.py"]
    assert needles(pattern) is None and outline(pattern) is not None
    expected = every_line(Staging(Project(root)), files, pattern)
    assert expected.startswith("other.py:")
    assert files_without(root, outline(pattern)) == {"plain.py"}
    assert fast_search(root, files, pattern) == expected


def test_a_search_without_texts_reads_only_the_files_the_outline_lists(make_repo):
    files = {f"m{n}.py": f"x = {n}\n" for n in range(30)} | {"big.py": "n = 1234567\n"}
    root = make_repo(files)
    project = CountingProject(root)
    tools = Toolbox(
        Staging(project),
        lambda: sorted(files),
        absent=lambda first, seconds: files_without(root, first, seconds=seconds),
        line_counts=lambda shape, seconds: count_lines(root, shape, seconds=seconds),
    )
    assert tools.run("search", {"pattern": r"\d{5,}"}) == "big.py:1: n = 1234567"
    assert project.checks == {"big.py": 1}


def counted_search(root: Path, staging: Staging, files: list[str], pattern: str) -> str:
    """The search as the agent wires it: both first passes."""
    tools = Toolbox(
        staging,
        lambda: files,
        absent=lambda first, seconds: files_without(root, first, seconds=seconds),
        line_counts=lambda shape, seconds: count_lines(root, shape, seconds=seconds),
    )
    return tools.run("search", {"pattern": pattern})


def test_git_counts_the_lines_of_plain_files_exactly(plain_repo):
    root, lines = plain_repo
    rng = random.Random(3)
    counted = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for pattern in TABLE + [random_pattern(rng) for _ in range(300)]:
            shape = outline(pattern)
            if shape is None or not shape.exact:
                assert shape is None or count_lines(root, shape) is None
                continue
            found = count_lines(root, shape)
            if found is None:
                continue  # git refused it (a PCRE limit): the search reads every file
            counted += 1
            compiled = regex.compile(pattern)
            expected = {name: int(bool(compiled.search(line))) for name, line in lines.items()}
            assert found == expected, pattern
    assert counted > 60


def test_a_search_counts_through_git_and_reads_only_what_it_shows(make_repo):
    # 40 plain files of 3 matching lines: the first 20 give the 60 hits shown, git counts the
    # rest; staged files (one with a match only staged), a file with other bytes, an untracked
    # one and a secret are not taken from git (the staged text, read, or never read).
    files = {f"m{n:02}.py": "v = 1.5\nw = 2.25\nx = 3.125\n" for n in range(40)}
    files |= {"other.py": "n = \uff14.\uff15\n", "z/.env": "TOKEN = 9.9\n"}  # full-width digits
    files |= {"zero.py": "nothing\n"}
    root = make_repo(files)
    (root / "new.py").write_text("y = 6.5\n", encoding="utf-8")  # untracked
    listed = [*sorted(files), "new.py"]
    reader = CountingReader()
    staging = Staging(Project(root), reader=reader)
    staging.replace("m39.py", "x = 3.125\n", "x = 3\n")
    staging.replace("zero.py", "nothing", "nothing = 7.5")  # none on disk, one staged
    reader.reads.clear()  # the edit read m39.py; the search reads it from the staging area
    answer = counted_search(root, staging, listed, r"\d+\.\d+")
    reference = Staging(Project(root))
    reference.replace("m39.py", "x = 3.125\n", "x = 3\n")
    reference.replace("zero.py", "nothing", "nothing = 7.5")
    assert answer == every_line(reference, listed, r"\d+\.\d+")
    assert answer.endswith("[62 more matches not shown; narrow the search]")  # 40 * 3 - 1 + 3
    read = set(reader.reads)
    # z/.env is asked for and refused by the confinement check, as without git
    assert read == {f"m{n:02}.py" for n in range(20)} | {"other.py", "new.py", "z/.env"}


def test_counts_need_an_exact_outline():
    assert outline(r"\d+\.\d+").exact and outline(r"(?i)mu[^l]").exact is False
    for widened in (r"x(?=y)", r"(a)\1", r"\B\d", r"(?>a)b", r"a*+b", r"a{300}", r"(?i)[^k]"):
        assert not outline(widened).exact, widened


def test_a_pattern_with_texts_is_counted_too(make_repo):
    files = {f"t{n:02}.py": "total = 1\ntotal = 22\ntotal = 333\n" for n in range(30)}
    root = make_repo(files)
    reader = CountingReader()
    answer = counted_search(
        root, Staging(Project(root), reader=reader), sorted(files), r"total = \d+"
    )
    assert answer == every_line(Staging(Project(root)), sorted(files), r"total = \d+")
    assert answer.endswith("[30 more matches not shown; narrow the search]")
    assert set(reader.reads) == {f"t{n:02}.py" for n in range(20)}


@pytest.mark.parametrize("pattern", [r"[^\s\S]", r"x[^\d\D]", r"[^a\W\w]{2}"])
def test_a_negated_class_of_a_category_and_its_complement_matches_as_the_engine_reads_it(
    make_repo, pattern: str
):
    # The `regex` engine reads [^\s\S] as any character (not none, as the stdlib's parser
    # does): the outline spelled it as nothing, and files with matching lines were skipped.
    root = make_repo({"hit.py": "xab\n", "empty.py": ""})
    files = ["empty.py", "hit.py"]
    expected = every_line(Staging(Project(root)), files, pattern)
    assert expected.startswith("hit.py:1: ")
    assert files_without(root, outline(pattern)) == {"empty.py"}
    assert fast_search(root, files, pattern) == expected


def test_the_outline_s_lines_end_at_lf_whatever_the_pcre_library_s_default(make_repo):
    # A PCRE2 library built with another newline convention (ANY: as a start-of-pattern
    # option here) ends lines at a vertical tab or form feed too, and "." then misses them
    root = make_repo({"vt.txt": "x\x0by\n", "ff.txt": "x\x0cy\n", "no.txt": "xy\n"})
    shape = outline("x.y")
    assert shape is not None
    assert listed(root, b"(*ANY)" + shape.pcre) == {"vt.txt", "ff.txt"}


@pytest.mark.slow
def test_only_the_known_non_ascii_letters_fold_to_plain_ones():
    # Every code point, as the `regex` engine folds it (a new Unicode or engine version may
    # add one): a literal or class member that matches a plain character under (?i) must be
    # plain itself or one of BEYOND_ASCII, which the passes account for.
    plain = set(PLAIN)
    others = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000 and chr(c) not in plain]
    found: dict[str, set[str]] = {}

    def probe(chunk: list[str]) -> None:
        members = "".join(f"\\U{ord(c):08x}" for c in chunk)
        matched = {a for a in PLAIN if regex.fullmatch(f"(?i)[{members}]", a)}
        if matched and len(chunk) == 1:
            found[chunk[0]] = matched
        elif matched:
            probe(chunk[: len(chunk) // 2])
            probe(chunk[len(chunk) // 2 :])

    for start in range(0, len(others), 4096):
        probe(others[start : start + 4096])
    assert found == {
        "\u0130": {"i"},
        "\u0131": {"I"},
        "\u017f": {"s", "S"},
        "\u212a": {"k", "K"},
    }
    assert set(found) == set(BEYOND_ASCII)
    for char, matched in found.items():
        assert regex.fullmatch(f"(?i)(?:{char})+", "".join(sorted(matched)))  # literals too
        shape = outline(f"(?i){char}")
        assert shape is not None and listed_chars(shape) >= matched


def listed_chars(shape: Outline) -> set[str]:
    """The plain characters an outline of one character matches (its PCRE read by `regex`)."""
    pcre = regex.compile(shape.pcre.decode().removeprefix("(*LF)"))
    return {a for a in PLAIN if pcre.fullmatch(a)}


def test_a_git_without_perl_regexes_leaves_every_file_to_the_search(
    make_repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # git built without PCRE refuses -P (status 128): no file may be skipped for it
    real = shutil.which("git")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = -P ] && { echo "fatal: cannot use Perl-compatible '
        'regexes when not compiled with USE_LIBPCRE" >&2; exit 128; }; done\n'
        f'exec {real} "$@"\n',
        encoding="utf-8",
    )
    fake.chmod(0o755)
    root = make_repo({"a.py": "n = 123456\n", "b.py": "nothing\n"})
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert files_without(root, outline(r"\d{5,}")) is None
    assert count_lines(root, outline(r"\d{5,}")) is None
    assert files_without(root, needles("nothing")) == {"a.py"}  # -F still runs
    files = ["a.py", "b.py"]
    assert fast_search(root, files, r"\d{5,}") == "a.py:1: n = 123456"


def test_a_file_name_with_a_line_break_keeps_its_own_count(make_repo):
    # git grep -c -z prints "<path>\0<count>\n": read line by line, "a\nx.py" lent its count to
    # x.py and was skipped as holding none
    root = make_repo({"a\nx.py": "v = 1.5\nw = 2.5\nx = 3.5\n", "x.py": "none\n"})
    assert count_lines(root, outline(r"\d+\.\d+")) == {"a\nx.py": 3, "x.py": 0}
    files = ["a\nx.py", "x.py"]
    expected = every_line(Staging(Project(root)), files, r"\d+\.\d+")
    assert expected.count("a\nx.py:") == 3
    assert counted_search(root, Staging(Project(root)), files, r"\d+\.\d+") == expected
