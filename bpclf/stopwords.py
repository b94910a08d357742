"""Stopword lists and the cheap language guess built on them.

Prose is full of function words; menus, buttons and listings are not. The share of a
line's words that are stopwords of the page's language is one of the strongest content
signals, and the same lists give a fast language guess when a page has no ``lang``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from bpclf.errors import DataError
from bpclf.wordlists import compile_word_list

_WORD = re.compile(r"\w+")


def read_stopword_dir(path: str | Path) -> dict[str, list[str]]:
    """Read ``{lang}.txt`` files (one word per line, ``#`` comments) from a directory."""
    path = Path(path)
    if not path.is_dir():
        raise DataError("stopword directory not found", source=str(path))
    out: dict[str, list[str]] = {}
    for file in sorted(path.glob("*.txt")):
        try:
            words = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read stopwords: {exc}", source=str(file)) from None
        cleaned = sorted({w.strip().lower() for w in words if w.strip() and not w.startswith("#")})
        out[file.stem] = cleaned
    return out


@dataclass(frozen=True)
class Stopwords:
    """Stopword lists per language, with compiled matchers and a language guesser."""

    lists: Mapping[str, tuple[str, ...]]
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, lists: Mapping[str, Any]) -> Stopwords:
        return cls({lang: tuple(sorted(set(words))) for lang, words in sorted(lists.items())})

    def to_dict(self) -> dict[str, list[str]]:
        return {lang: list(words) for lang, words in self.lists.items()}

    @cached_property
    def _sets(self) -> dict[str, frozenset[str]]:
        return {lang: frozenset(words) for lang, words in self.lists.items()}

    def pattern(self, lang: str, *, lowercase_input: bool = False) -> re.Pattern[str] | None:
        """One compiled pattern matching any stopword of ``lang`` (None if unknown).

        ``lowercase_input``: the faster case-sensitive variant, for lower-cased text.
        """
        key = (lang, lowercase_input)
        if key not in self._cache:
            words = self.lists.get(lang)
            self._cache[key] = (
                compile_word_list(words, lowercase_input=lowercase_input) if words else None
            )
        return self._cache[key]

    def guess_language(self, text: str, *, min_hits: int = 3) -> str | None:
        """The language whose stopwords cover most tokens of ``text`` (None if too few)."""
        tokens = _WORD.findall(text.lower())
        if not tokens:
            return None
        best, best_hits = None, 0
        for lang, words in self._sets.items():
            hits = sum(1 for t in tokens if t in words)
            if hits > best_hits:
                best, best_hits = lang, hits
        return best if best_hits >= min_hits else None
