"""Mine candidate boilerplate / appeal phrases from labelled pages, for human review.

For every language we count word n-grams (1 to ``max_n`` consecutive words of one line)
in boilerplate lines and in content lines, and rank them by how much more often they
occur in boilerplate, using the log-odds ratio with an informative Dirichlet prior of
Monroe, Colaresi & Quinn (2008), "Fightin' Words". The result is written as a lexicon
TSV (:func:`to_lexicon_tsv`) that a human edits: set the right category for each row or
delete it, then merge it into the lexicon.

Counting unit: **lines**. An n-gram is counted at most once per line (presence), so a
menu line repeating "share share share" does not outweigh other evidence, and the
counts read as "the number of lines containing it".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bpclf.pages import Page
from bpclf.phrases import HEADER, Lexicon

_TOKEN = re.compile(r"\w+(?:['’]\w+)*")

#: Language key of pages without ``lang``.
ANY_LANG = "*"


@dataclass(frozen=True)
class MinedPhrase:
    """One mined n-gram with its score and counts (counts are numbers of lines)."""

    phrase: str  # lower-case words joined by single spaces
    lang: str  # page language ("*" when pages have no lang)
    score: float  # log-odds ratio z-score, informative Dirichlet prior (Monroe et al. 2008)
    boilerplate: int  # boilerplate lines containing it (counted once per line)
    content: int  # content lines containing it
    pages: int  # distinct pages where it occurs in a boilerplate line


def tokenize(line: str) -> list[str]:
    """Lower-case word tokens of a line; the typographic apostrophe becomes ``'``."""
    return _TOKEN.findall(line.lower().replace("’", "'"))


def _ngrams(tokens: Sequence[str], max_n: int) -> set[str]:
    """The distinct n-grams (1..max_n words) of one line, as space-joined strings."""
    out: set[str] = set(tokens)
    size = len(tokens)
    for n in range(2, min(max_n, size) + 1):
        for i in range(size - n + 1):
            out.add(" ".join(tokens[i : i + n]))
    return out


def _candidate_ngrams(tokens: Sequence[str], max_n: int, candidates: Collection[str]) -> set[str]:
    """The distinct n-grams of a line that are in ``candidates`` (apriori-style pruning).

    An n-gram occurs in at least as many lines and pages as any of its parts, so when
    ``w1 .. wk`` is not a candidate no extension ``w1 .. wk wk+1`` is one either.
    """
    out: set[str] = set()
    size = len(tokens)
    for i in range(size):
        gram = tokens[i]
        if gram not in candidates:
            continue
        out.add(gram)
        for j in range(i + 1, min(i + max_n, size)):
            gram = gram + " " + tokens[j]
            if gram not in candidates:
                break
            out.add(gram)
    return out


def log_odds_z(y_b: int, y_c: int, n_b: int, n_c: int, prior_weight: float) -> float:
    """The z-score of the prior-smoothed log-odds ratio (boilerplate vs content).

    ``a0 = prior_weight * (n_b + n_c)`` and ``a_w = a0 * (y_b + y_c) / (n_b + n_c)``;
    see :func:`mine_phrases` for the formula. Returns 0.0 when the odds are undefined
    (the n-gram is on every line of both classes, so it tells nothing).
    """
    total = n_b + n_c
    a0 = prior_weight * total
    a_w = a0 * (y_b + y_c) / total
    rest_b = n_b + a0 - y_b - a_w
    rest_c = n_c + a0 - y_c - a_w
    if a_w <= 0 or rest_b <= 0 or rest_c <= 0:
        return 0.0
    delta = math.log((y_b + a_w) / rest_b) - math.log((y_c + a_w) / rest_c)
    var = 1.0 / (y_b + a_w) + 1.0 / (y_c + a_w)
    return delta / math.sqrt(var)


def _norm_words(words: Collection[str]) -> frozenset[str]:
    """Single-word stopwords in token form (lower-case, ``'`` apostrophe)."""
    out = set()
    for word in words:
        tokens = tokenize(word)
        if len(tokens) == 1:
            out.add(tokens[0])
    return frozenset(out)


def _excluded(exclude: Lexicon | None) -> dict[str, set[str]]:
    """Lexicon phrases per language, in mined form (tokenised: "sign-up" -> "sign up")."""
    out: dict[str, set[str]] = {}
    if exclude is None:
        return out
    for phrase, lang, _ in exclude.entries:
        tokens = tokenize(phrase)
        if tokens:
            out.setdefault(lang, set()).add(" ".join(tokens))
    return out


@dataclass
class _LangCounts:
    n_b: int = 0  # boilerplate lines with at least one token
    n_c: int = 0  # content lines with at least one token
    boilerplate: Counter = field(default_factory=Counter)  # n-gram -> boilerplate lines
    pages: Counter = field(default_factory=Counter)  # n-gram -> pages (boilerplate lines)
    content_lines: list[list[str]] = field(default_factory=list)  # tokens, counted later


def mine_phrases(
    pages: Iterable[Page],
    *,
    max_n: int = 4,
    min_support: int = 5,
    min_pages: int = 3,
    min_score: float = 3.0,
    top: int = 100,
    exclude: Lexicon | None = None,
    stopwords: Mapping[str, Collection[str]] | None = None,
    prior_weight: float = 0.1,
) -> list[MinedPhrase]:
    """Word n-grams much more frequent in boilerplate lines than in content lines.

    Pages without ``labels`` are skipped; pages without ``lang`` are pooled under ``"*"``.
    Lines are tokenised with ``\\w+(?:['’]\\w+)*`` on the lower-cased line; n-grams are
    1..``max_n`` consecutive tokens of one line, counted once per line.

    **Score.** Per language, with ``n_b`` / ``n_c`` the numbers of boilerplate / content
    lines that have at least one token, and ``y_b`` / ``y_c`` the numbers of those lines
    containing the n-gram::

        a0    = prior_weight * (n_b + n_c)
        a_w   = a0 * (y_b + y_c) / (n_b + n_c)
        delta = log((y_b + a_w) / (n_b + a0 - y_b - a_w))
              - log((y_c + a_w) / (n_c + a0 - y_c - a_w))
        var   = 1 / (y_b + a_w) + 1 / (y_c + a_w)
        score = delta / sqrt(var)

    That is Monroe et al.'s informative-Dirichlet log-odds z-score with the pooled
    (boilerplate + content) line frequency of the n-gram as the prior mean, i.e. a
    Beta(a_w, a0 - a_w) prior on "a line contains w" in each class. An n-gram equally
    frequent in both classes scores 0 whatever its frequency ("the"). The prior strength
    ``a0`` is a fraction of the language's line count, not a constant, so scores do not
    depend on the corpus size of a language, only on the evidence: ``a_w`` is then
    ``prior_weight * (y_b + y_c)``. With 0.1 an n-gram never seen in content scores
    about ``sqrt(y_b)`` (x 0.7 with balanced classes, x 1.0 with three content lines per
    boilerplate line), so it needs roughly 10-20 boilerplate lines to pass the default
    ``min_score`` of 3. Much smaller weights make ``var`` explode for n-grams absent from
    content (``1 / a_w``), much larger ones shrink every ``delta`` towards 0; z peaks
    between 0.1 and 0.5.

    **Filters**, in order: ``boilerplate >= min_support`` and ``pages >= min_pages``;
    ``score >= min_score``; not made only of stopwords of the language (when
    ``stopwords`` has a list for it) nor only of digits; not already in ``exclude`` for
    the language or for ``"*"`` (for pages without language, in any language, since the
    lexicon matcher applies every phrase to such pages). Lexicon phrases are compared in
    tokenised form ("sign-up" excludes "sign up").

    **Redundancy.** N-grams are then visited shortest first; an n-gram is dropped when a
    shorter contiguous part of it that was kept has the same ``boilerplate`` count and a
    score at least as high. A part always occurs on at least the lines of the whole, so
    this drops exactly the extensions that add no line the part does not already cover
    and do not avoid any content line: "subscribe now" goes when every "subscribe" line
    says "subscribe now" and "subscribe" is no more frequent in content.

    Output sorted by (lang, -score, phrase), at most ``top`` per language.
    Deterministic and independent of page order.
    """
    if max_n < 1:
        raise ValueError("max_n must be at least 1")
    if top < 0:
        raise ValueError("top must not be negative")
    if prior_weight <= 0:
        raise ValueError("prior_weight must be positive")

    by_lang: dict[str, _LangCounts] = {}
    for page in pages:
        if page.labels is None:
            continue
        lang = page.lang or ANY_LANG
        counts = by_lang.get(lang)
        if counts is None:
            counts = by_lang[lang] = _LangCounts()
        page_grams: set[str] = set()
        for line, label in zip(page.lines, page.labels, strict=True):
            tokens = tokenize(line)
            if not tokens:
                continue
            if label:
                counts.n_b += 1
                grams = _ngrams(tokens, max_n)
                counts.boilerplate.update(grams)
                page_grams |= grams
            else:
                counts.n_c += 1
                counts.content_lines.append(tokens)
        counts.pages.update(page_grams)

    excluded = _excluded(exclude)
    any_lang_excluded = set().union(*excluded.values()) if excluded else set()
    stop_sets = {lang: _norm_words(words) for lang, words in (stopwords or {}).items()}

    out: list[MinedPhrase] = []
    for lang in sorted(by_lang):
        counts = by_lang[lang]
        if counts.n_b == 0 or counts.n_c == 0:
            continue  # no contrast to measure
        candidates = {
            g
            for g, y_b in counts.boilerplate.items()
            if y_b >= min_support and counts.pages[g] >= min_pages
        }
        if not candidates:
            continue
        content: Counter = Counter()
        for tokens in counts.content_lines:
            content.update(_candidate_ngrams(tokens, max_n, candidates))

        stop = stop_sets.get(lang, frozenset())
        if lang == ANY_LANG:
            skip = any_lang_excluded
        else:
            skip = excluded.get(lang, set()) | excluded.get(ANY_LANG, set())

        scored: dict[str, MinedPhrase] = {}
        for gram in candidates:
            y_b, y_c = counts.boilerplate[gram], content[gram]
            z = log_odds_z(y_b, y_c, counts.n_b, counts.n_c, prior_weight)
            if z < min_score or gram in skip:
                continue
            words = gram.split(" ")
            if all(w.isdigit() for w in words) or (stop and all(w in stop for w in words)):
                continue
            scored[gram] = MinedPhrase(gram, lang, z, y_b, y_c, counts.pages[gram])

        kept: dict[str, MinedPhrase] = {}
        for gram in sorted(scored, key=lambda g: (g.count(" "), g)):
            item = scored[gram]
            words = gram.split(" ")
            if not _redundant(words, item, kept):
                kept[gram] = item
        ranked = sorted(kept.values(), key=lambda m: (-m.score, m.phrase))
        out.extend(ranked[:top])
    return out


def _redundant(words: list[str], item: MinedPhrase, kept: Mapping[str, MinedPhrase]) -> bool:
    n = len(words)
    for size in range(1, n):
        for i in range(n - size + 1):
            part = kept.get(" ".join(words[i : i + size]))
            if (
                part is not None
                and part.boilerplate == item.boilerplate
                and part.score >= item.score
            ):
                return True
    return False


def to_lexicon_tsv(mined: Sequence[MinedPhrase], category: str = "mined") -> str:
    """A lexicon TSV of mined phrases for review, readable by :meth:`Lexicon.from_file`.

    Each row is preceded by a comment line with its score and counts.
    """
    category = category.strip()
    if not category or any(c in category for c in "\t\r\n"):
        raise ValueError(f"invalid category {category!r}")
    lines = [
        "# Machine-mined candidate phrases (bpclf.mining): NOT reviewed.",
        f"# Review every row: replace the category '{category}' with the right one",
        "# (appeal, subscribe, account, legal, social, nav, ads, app, ui) or delete the row.",
        "# score = log-odds z-score (boilerplate vs content lines); boilerplate / content =",
        "# lines containing the phrase; pages = pages with it in a boilerplate line.",
        "\t".join(HEADER),
    ]
    for m in mined:
        if not m.lang or any(c in m.lang for c in "\t\r\n") or not m.phrase.strip():
            raise ValueError(f"cannot write phrase {m.phrase!r} with lang {m.lang!r}")
        lines.append(
            f"# score={m.score:.2f} boilerplate={m.boilerplate} content={m.content} pages={m.pages}"
        )
        lines.append(f"{m.phrase}\t{m.lang}\t{category}")
    return "\n".join(lines) + "\n"
