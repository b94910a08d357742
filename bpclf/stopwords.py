"""Stopword lists and the cheap language guess built on them.

Prose is full of function words; menus, buttons and listings are not. The share of a
line's words that are stopwords of the page's language is one of the strongest content
signals, and the same lists give a fast language guess when a page has no ``lang``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bpclf import charclass as cc
from bpclf import kernels
from bpclf.errors import DataError


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


@dataclass(frozen=True, eq=False)
class StopwordTable:
    """All stopword lists in one hash table of word keys salted with the language id
    (the position of the language in ``languages``; see :mod:`bpclf.kernels`)."""

    slots: np.ndarray
    index: np.ndarray
    languages: tuple[str, ...]

    @cached_property
    def filter(self) -> np.ndarray:
        """:func:`bpclf.kernels.key_filter` of the keys."""
        return kernels.key_filter(self.slots)

    def language_ids(self, langs: Sequence[str | None]) -> np.ndarray:
        """Language id per item; -1 for no language or one without a list."""
        ids = {lang: i for i, lang in enumerate(self.languages)}
        return np.array([ids.get(lang, -1) for lang in langs], dtype=np.int64)


@dataclass(frozen=True)
class Stopwords:
    """Stopword lists per language, with their compiled table and a language guesser."""

    lists: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_dict(cls, lists: Mapping[str, Any]) -> Stopwords:
        return cls({lang: tuple(sorted(set(words))) for lang, words in sorted(lists.items())})

    def to_dict(self) -> dict[str, list[str]]:
        return {lang: list(words) for lang, words in self.lists.items()}

    @cached_property
    def table(self) -> StopwordTable:
        languages = tuple(lang for lang, words in self.lists.items() if words)
        words = [w for lang in languages for w in self.lists[lang]]
        salts = np.array(
            [i for i, lang in enumerate(languages) for _ in self.lists[lang]], dtype=np.int64
        )
        cp, starts, ends = cc.layout(words)
        keys = kernels.word_keys(cp, starts, ends, cc.class_table(), cc.lower_table(), salts)
        slots, index = kernels.build_table(keys[keys != 0])
        return StopwordTable(slots, index, languages)

    def count(self, lines: Sequence[str], langs: Sequence[str | None]) -> np.ndarray:
        """Stopwords of ``langs[i]`` among the words of ``lines[i]``."""
        cp, starts, ends = cc.layout(lines)
        return self.count_at(cp, starts, ends, self.table.language_ids(langs))

    def _hits(self, cp: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """(n_ranges, n_languages) stopword hits of every language in each text range."""
        t = self.table
        if not t.languages:
            return np.zeros((len(starts), 0), dtype=np.int64)
        tables = (cc.class_table(), cc.lower_table(), t.slots, t.index)
        return kernels.stopword_hits(cp, starts, ends, *tables, len(t.languages))

    def count_at(
        self, cp: np.ndarray, starts: np.ndarray, ends: np.ndarray, lang_ids: np.ndarray
    ) -> np.ndarray:
        """Stopwords of language ``lang_ids[i]`` in text range [starts[i], ends[i]) of the
        code points ``cp`` (0 where the id is -1)."""
        hits = self._hits(cp, starts, ends)
        if hits.shape[1] == 0:
            return np.zeros(len(starts))
        picked = hits[np.arange(len(starts)), np.maximum(lang_ids, 0)]
        return np.where(lang_ids >= 0, picked, 0).astype(np.float64)

    def guess_at(
        self, cp: np.ndarray, starts: np.ndarray, ends: np.ndarray, *, min_hits: int = 3
    ) -> list[str | None]:
        """The language of each text range: the one whose stopwords occur most there
        (ties: the first in alphabetical order), or None below ``min_hits``."""
        hits = self._hits(cp, starts, ends)
        if hits.shape[1] == 0:
            return [None] * len(starts)
        best = hits.argmax(axis=1)
        ok = hits[np.arange(len(starts)), best] >= max(min_hits, 1)
        langs = self.table.languages
        return [langs[b] if good else None for b, good in zip(best, ok, strict=True)]

    def guess_language(self, text: str, *, min_hits: int = 3) -> str | None:
        """The language whose stopwords cover most words of ``text`` (None if too few)."""
        cp, starts, ends = cc.layout([text])
        return self.guess_at(cp, starts, ends, min_hits=min_hits)[0]
