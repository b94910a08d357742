"""The appeal / boilerplate phrase lexicon and its matcher.

The lexicon is a TSV file (``phrase<TAB>lang<TAB>category``, ``#`` comments) that users
extend by hand or with mined phrases. All phrases of all languages are compiled into one
hash table of word sequences (:class:`PhraseTable`) and matched by compiled code in one
pass over a whole batch of lines (:mod:`bpclf.kernels`); per line we get the number of
matches, the characters they cover and the matches per category. Phrases match whole
words, case-insensitively; the gaps between their words must be the same (any run of
spaces for a space, or the same punctuation: "e-mail" does not match "e mail").
A trained model stores the lexicon it was trained with, so predictions never depend on
a file that changed after training.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from bpclf import charclass as cc
from bpclf import kernels
from bpclf.errors import DataError

HEADER = ("phrase", "lang", "category")


@dataclass(frozen=True)
class PhraseMatches:
    """Per-line results of matching the lexicon against a batch of lines."""

    count: np.ndarray  # (n_lines,) number of phrase matches
    covered: np.ndarray  # (n_lines,) characters covered by matches
    by_category: np.ndarray  # (n_lines, n_categories) matches per category


@dataclass(frozen=True)
class Lexicon:
    """An immutable list of (phrase, lang, category) entries."""

    entries: tuple[tuple[str, str, str], ...]

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[str]]) -> Lexicon:
        seen: set[tuple[str, str]] = set()
        out = []
        for phrase, lang, category in rows:
            key = (normalise_phrase(phrase), lang.strip())
            if not key[0] or key in seen:
                continue
            seen.add(key)
            out.append((key[0], key[1], category.strip()))
        return cls(tuple(out))

    @classmethod
    def from_file(cls, path: str | Path) -> Lexicon:
        """Read a lexicon TSV; malformed rows are errors naming the file and line."""
        rows = []
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError("lexicon file not found", source=str(path)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read lexicon: {exc}", source=str(path)) from None
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            if tuple(p.strip() for p in parts) == HEADER:
                continue
            if len(parts) != 3 or not all(p.strip() for p in parts):
                raise DataError(
                    "expected 'phrase<TAB>lang<TAB>category'", source=str(path), line=lineno
                )
            rows.append(parts)
        return cls.from_rows(rows)

    def to_tsv(self) -> str:
        lines = ["\t".join(HEADER)]
        lines += ["\t".join(e) for e in self.entries]
        return "\n".join(lines) + "\n"

    def merged(self, other: Lexicon) -> Lexicon:
        return Lexicon.from_rows(self.entries + other.entries)

    @cached_property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({c for _, _, c in self.entries}))

    @cached_property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted({lang for _, lang, _ in self.entries} - {"*"}))

    @cached_property
    def table(self) -> PhraseTable:
        """The compiled matcher of this lexicon (built once, then shared by all batches)."""
        return PhraseTable.build(self)

    def match_lines(
        self, lines: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> PhraseMatches:
        """Match every line; ``langs[i]`` is line i's page language (None: unknown).

        Phrases of other languages are left out, so that a word that is an appeal in one
        language ("don" in French) does not fire on another's prose; lines of unknown or
        uncovered languages get every phrase.
        """
        cp, starts, ends = cc.layout(lines)
        line_lang = self.table.language_ids(langs if langs is not None else [None] * len(lines))
        return self.table.match(cp, starts, ends, line_lang)


@dataclass(frozen=True, eq=False)
class PhraseTable:
    """A lexicon as a hash table of word-sequence keys (see :mod:`bpclf.kernels`).

    Every prefix of every phrase is a key, so the matcher can stop extending a candidate
    as soon as no phrase continues it. Entry t is a whole phrase when ``is_phrase[t]``;
    then ``category[t]`` is the category of its first lexicon entry and its languages are
    ``langs[lang_ptr[t]:lang_ptr[t + 1]]`` (ids into ``languages``, -1 for ``*``).
    """

    slots: np.ndarray
    index: np.ndarray
    is_phrase: np.ndarray
    category: np.ndarray
    lang_ptr: np.ndarray
    langs: np.ndarray
    languages: tuple[str, ...]
    n_categories: int
    max_words: int

    @classmethod
    def build(cls, lexicon: Lexicon) -> PhraseTable:
        phrases = [p for p, _, _ in lexicon.entries]
        max_words = 1
        keys = np.zeros((0, 1), dtype=np.uint64)
        n_words = np.zeros(0, dtype=np.int64)
        if phrases:
            cp, starts, ends = cc.layout(phrases)
            tables = (cc.class_table(), cc.lower_table())
            _, n_words = kernels.word_sequence_keys(cp, starts, ends, *tables, 1)
            max_words = max(1, int(n_words.max()))
            keys, n_words = kernels.word_sequence_keys(cp, starts, ends, *tables, max_words)
        prefix_keys = np.unique(keys[keys != 0])
        slots, index = kernels.build_table(prefix_keys)
        where = {int(k): t for t, k in enumerate(prefix_keys)}
        languages = lexicon.languages
        lang_id = {lang: i for i, lang in enumerate(languages)}
        cat_id = {c: i for i, c in enumerate(lexicon.categories)}
        n = len(prefix_keys)
        is_phrase = np.zeros(n, dtype=np.bool_)
        category = np.zeros(n, dtype=np.int64)
        entry_langs: list[set[int]] = [set() for _ in range(n)]
        for row, (_, lang, cat) in enumerate(lexicon.entries):
            if n_words[row] == 0:  # no word characters: can never match a word sequence
                continue
            t = where[int(keys[row, n_words[row] - 1])]
            if not is_phrase[t]:
                is_phrase[t] = True
                category[t] = cat_id[cat]
            entry_langs[t].add(lang_id.get(lang, -1))
        lang_ptr = np.zeros(n + 1, dtype=np.int64)
        lang_ptr[1:] = np.cumsum([len(x) for x in entry_langs])
        langs = np.array([g for x in entry_langs for g in sorted(x)], dtype=np.int64)
        n_cat = len(lexicon.categories)
        return cls(slots, index, is_phrase, category, lang_ptr, langs, languages, n_cat, max_words)

    @cached_property
    def filter(self) -> np.ndarray:
        """:func:`bpclf.kernels.key_filter` of the keys."""
        return kernels.key_filter(self.slots)

    def language_ids(self, langs: Sequence[str | None]) -> np.ndarray:
        """Lexicon-language id per item (-1: unknown or not in the lexicon: every phrase)."""
        ids = {lang: i for i, lang in enumerate(self.languages)}
        return np.array([ids.get(lang, -1) for lang in langs], dtype=np.int64)

    def args(self) -> tuple:
        """The table arrays in the order the kernels take them."""
        return (
            self.slots,
            self.index,
            self.filter,
            self.is_phrase,
            self.category,
            self.lang_ptr,
            self.langs,
            self.n_categories,
            self.max_words,
        )

    def match(
        self, cp: np.ndarray, starts: np.ndarray, ends: np.ndarray, line_lang: np.ndarray
    ) -> PhraseMatches:
        tables = (cc.class_table(), cc.lower_table())
        count, covered, by_cat = kernels.phrase_matches(
            cp, starts, ends, line_lang, *tables, *self.args()
        )
        return PhraseMatches(count, covered, by_cat)


def normalise_phrase(text: str) -> str:
    """The lexicon form of a phrase: lower-case, typographic apostrophe as ', whitespace
    collapsed."""
    return " ".join(text.lower().replace("’", "'").split())
