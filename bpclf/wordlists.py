"""One compiled regex for a whole word or phrase list.

Python's ``re`` tries alternatives one by one, so a plain ``a|b|c|...`` over a thousand
phrases is slow. Building the alternation as a trie (shared prefixes factored out)
lets the engine reject a position after a character or two, so the lexicon and the
stopword lists are each matched by a single pass of a single pattern over a whole batch
of text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Whitespace inside a phrase matches any run of spaces or tabs, never a line break.
_GAP = r"[^\S\n\r]+"


def _trie(words: Iterable[str]) -> dict:
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return root


def _atom(ch: str) -> str:
    return _GAP if ch == " " else "['’]" if ch == "'" else re.escape(ch)


def _to_regex(node: dict, guard: str = "") -> str:
    """Regex of a trie node; ``guard`` is inserted after each first character."""
    end = "" in node
    branches = []
    for ch in sorted(k for k in node if k):
        branches.append(_atom(ch) + guard + _to_regex(node[ch]))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if end:
        # Greedy optional: the longest phrase wins, then the engine backtracks to shorter.
        return f"(?:{body})?"
    return body


def compile_word_list(
    words: Iterable[str], *, lowercase_input: bool = False
) -> re.Pattern[str] | None:
    """A pattern matching any of ``words`` as whole words.

    Words are lower-case; inner single spaces match any horizontal whitespace. Returns
    ``None`` for an empty list. By default the pattern ignores case. With
    ``lowercase_input`` it is case-sensitive, for text already lower-cased, and the
    word-start test is a lookbehind *after* the first character, so the regex engine can
    jump between candidate first characters in C: several times faster.
    """
    cleaned = sorted({" ".join(w.lower().split()) for w in words if w and w.strip()})
    if not cleaned:
        return None
    if lowercase_input:
        body = _to_regex(_trie(cleaned), guard=r"(?<!\w.)")
        return re.compile(rf"(?:{body})(?!\w)")
    body = _to_regex(_trie(cleaned))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def word_alternation(words: Iterable[str]) -> str:
    """A trie-shaped regex alternation (no anchors, no flags) of lower-case ``words``."""
    return _to_regex(_trie(sorted({w.lower() for w in words if w})))


def normalise_phrase(text: str) -> str:
    """The lookup key of a matched phrase: lower-case, whitespace collapsed."""
    return " ".join(text.lower().replace("’", "'").split())
