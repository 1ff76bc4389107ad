"""Pure tokenization of code and prose into search terms (identifiers split, lowercased)."""

from __future__ import annotations

import re
from collections import Counter

IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

# Words so common in code or bug reports that they only add noise to lexical scores.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "also",
        "just",
        "like",
        "get",
        "got",
        "use",
        "used",
        "using",
        "want",
        "one",
        "two",
        "any",
        "all",
        "some",
        "only",
        "very",
        "more",
        "most",
        "other",
        "such",
        "here",
        "now",
        "out",
        "up",
        "way",
        "same",
        "see",
        "seems",
        "expected",
        "actual",
        "example",
        "following",
        "issue",
        "bug",
        "problem",
        "error",
        "def",
        "self",
        "cls",
        "return",
        "import",
        "none",
        "true",
        "false",
        "class",
        "pass",
        "else",
        "elif",
        "try",
        "except",
        "finally",
        "raise",
        "lambda",
        "yield",
        "assert",
        "del",
        "global",
        "nonlocal",
        "async",
        "await",
        "py",
        "python",
    ]
)

_split_memo: dict[str, tuple[str, ...]] = {}


def split_identifier(word: str) -> tuple[str, ...]:
    """The lowercased terms of one identifier: the whole word plus its snake/camel parts."""
    hit = _split_memo.get(word)
    if hit is not None:
        return hit
    low = word.lower()
    parts: list[str] = []
    for chunk in word.split("_"):
        if chunk:
            parts.extend(p.lower() for p in _CAMEL_RE.findall(chunk))
    terms = [low.strip("_")] if low.strip("_") else []
    terms += [p for p in parts if p != terms[0]] if terms else parts
    out = tuple(stem(t) for t in terms if len(t) > 1 and t not in STOPWORDS)
    if len(_split_memo) < 500_000:
        _split_memo[word] = out
    return out


def stem(term: str) -> str:
    """A very light plural stemmer: enough to match 'matrices' poorly but 'fields' to 'field'."""
    if len(term) > 4 and term.endswith("ies"):
        return term[:-3] + "y"
    if len(term) > 3 and term.endswith("s") and not term.endswith(("ss", "us", "is")):
        return term[:-1]
    return term


def term_counts(text: str) -> Counter[str]:
    """Bag of terms of a text; counts identifiers once, then expands them (fast on big files)."""
    raw = Counter(IDENT_RE.findall(text))
    out: Counter[str] = Counter()
    for word, n in raw.items():
        for term in split_identifier(word):
            out[term] += n
    return out


def tokenize(text: str) -> list[str]:
    """The terms of a text in order (used for queries)."""
    out: list[str] = []
    for word in IDENT_RE.findall(text):
        out.extend(split_identifier(word))
    return out


def path_terms(path: str) -> list[str]:
    """Terms of a relative path: directory names, file stem, and its identifier parts."""
    stem_ = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return tokenize(stem_.replace("/", " ").replace("-", "_"))
