"""The appeal / boilerplate phrase lexicon and its matcher.

The lexicon is a TSV file (``phrase<TAB>lang<TAB>category``, ``#`` comments) that users
extend by hand or with mined phrases. All phrases of all languages are compiled into one
case-insensitive pattern and matched in one pass over a whole batch of lines; per line
we get the number of matches, the characters they cover and the matches per category.
A trained model stores the lexicon it was trained with, so predictions never depend on
a file that changed after training.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from bpclf.errors import DataError
from bpclf.wordlists import compile_word_list, normalise_phrase

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
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

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

    def pattern(self, lang: str | None, *, lowercase_input: bool = False) -> re.Pattern[str] | None:
        """The pattern for pages in ``lang``: its phrases plus the ``*`` ones.

        Phrases of other languages are left out, so that a word that is an appeal in one
        language ("don" in French) does not fire on another's prose. Pages of unknown or
        uncovered language get every phrase.
        """
        code = lang if lang in self.languages else None
        key = (code, lowercase_input)
        if key not in self._cache:
            self._cache[key] = compile_word_list(
                (p for p, lg, _ in self.entries if code is None or lg in (code, "*")),
                lowercase_input=lowercase_input,
            )
        return self._cache[key]

    @cached_property
    def _category_of(self) -> dict[str, int]:
        index = {c: i for i, c in enumerate(self.categories)}
        out: dict[str, int] = {}
        for phrase, _, category in self.entries:
            out.setdefault(phrase.casefold(), index[category])
        return out

    def match_lines(
        self,
        text: str,
        starts: np.ndarray,
        n_lines: int,
        runs: Sequence[tuple[str | None, int, int]] | None = None,
    ) -> PhraseMatches:
        """Match against ``text``: the lines joined by ``\\n``, line i starting at ``starts[i]``.

        ``runs`` are (lang, begin, end) character ranges of same-language pages; each is
        matched with one pass of that language's pattern. Match positions are mapped to
        lines with a binary search over the line offsets.
        """
        n_cat = len(self.categories)
        count = np.zeros(n_lines, dtype=np.float64)
        covered = np.zeros(n_lines, dtype=np.float64)
        by_cat = np.zeros((n_lines, max(n_cat, 1)), dtype=np.float64)
        if runs is None:
            runs = [(None, 0, len(text))]
        spans: list[tuple[int, int]] = []
        lowered = text.lower()
        fast = len(lowered) == len(text)  # lower() keeps offsets for almost all text
        for lang, begin, end in runs:
            pattern = self.pattern(lang, lowercase_input=fast)
            if pattern is not None:
                target = lowered if fast else text
                spans.extend(m.span() for m in pattern.finditer(target, begin, end))
        if not spans:
            return PhraseMatches(count, covered, by_cat[:, :n_cat])
        pos = np.array(spans, dtype=np.int64)
        line = np.searchsorted(starts, pos[:, 0], side="right") - 1
        lookup = self._category_of
        cats = np.fromiter(
            (lookup.get(normalise_phrase(text[a:b]).casefold(), 0) for a, b in spans),
            dtype=np.int64,
            count=len(spans),
        )
        count += np.bincount(line, minlength=n_lines)
        covered += np.bincount(line, weights=pos[:, 1] - pos[:, 0], minlength=n_lines)
        np.add.at(by_cat, (line, cats), 1.0)
        return PhraseMatches(count, covered, by_cat[:, :n_cat])
