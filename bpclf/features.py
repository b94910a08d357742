"""Per-line features, computed for a whole batch of pages at once.

All lines of a batch are joined into one string; character classes come from one numpy
array of code points (see :mod:`bpclf.charclass`), pattern features from one pass of
one compiled regex each (lexicon, stopwords per language, URLs/dates/counts), and page
and neighbour features from index arithmetic on the flat line arrays. The feature list
is fixed by the config and the lexicon's categories; its names are stored in every
model, and :data:`FEATURE_SCHEMA_VERSION` changes whenever the meaning of a feature does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bpclf import charclass as cc
from bpclf.config import FeatureConfig
from bpclf.corpus import SITE_NAMES, site_matrix
from bpclf.pages import Page
from bpclf.phrases import Lexicon
from bpclf.stopwords import Stopwords
from bpclf.wordlists import word_alternation

FEATURE_SCHEMA_VERSION = 2

_MONTH_WORDS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|"
    "januar|februar|märz|mai|juni|juli|oktober|dezember|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
    "janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|"
    "januari|februari|maj|augusti|"
    "gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|"
    "janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|novembro|dezembro|"
    "stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|października|"
    "listopada|grudnia|"
    "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря|"
    "tammikuuta|helmikuuta|maaliskuuta|huhtikuuta|toukokuuta|kesäkuuta|heinäkuuta|elokuuta|"
    "syyskuuta|lokakuuta|marraskuuta|joulukuuta"
)
_MONTHS = word_alternation(_MONTH_WORDS.split("|"))

#: URL, e-mail, phone, date, time, currency and "N comments"-style counts in one pattern.
#: Whitespace inside a token never includes a line break: a token must not reach into the
#: next line (which may belong to another page).
_TOKENS = re.compile(
    r"(?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+)"
    r"|(?P<url>(?:https?://|www\.)\S+|(?<![\w-])[\w-]+\.(?:com|org|net|de|fr|fi|se|es|ru|it|pl|nl|pt"
    r"|uk|eu|io|info|co)\b(?:/\S*)?)"
    r"|(?P<date>\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b"
    rf"|\b\d{{1,2}}\.?[^\S\n]+(?:{_MONTHS})\b|\b(?:{_MONTHS})[^\S\n]+\d{{1,2}}\b|\b(?:19|20)\d\d\b)"
    r"|(?P<time>\b\d{1,2}[:.]\d{2}(?:[^\S\n]?[ap]\.?m\b\.?)?(?!\d))"
    r"|(?P<phone>\+?\d[\d ()/-]{7,}\d)"
    r"|(?P<currency>[$€£¥₽₹]|\b(?:usd|eur|gbp|sek|nok|dkk|kr|zł|pln|rub|chf)\b)"
    r"|(?P<count>\b\d+[^\S\n]+(?:comments?|replies|likes?|views?|shares?|votes?|reviews?|followers?"
    r"|kommentare?|kommentarer|kommenttia?|commentaires?|comentarios?|commenti|comentários"
    r"|reacties|komentarz[ye]?|комментари\w*|ответ\w*)\b)",
    re.IGNORECASE,
)
_TOKEN_KINDS = ("email", "url", "date", "time", "phone", "currency", "count")

_DIGITS = re.compile(r"\d+")
_MARK = "\x01"


def _base_names(categories: Sequence[str]) -> list[str]:
    names = [
        "log_chars",
        "n_words",
        "mean_word_len",
        "letter_share",
        "digit_share",
        "punct_share",
        "space_share",
        "symbol_share",
        "upper_share",
        "starts_upper",
        "starts_digit",
        "starts_bullet",
        "ends_terminal",
        "ends_colon",
        "ends_other_punct",
        "sentence_ends",
        "glued_sentences",
        "title_share",
        "separators",
        "stopword_count",
        "stopword_share",
    ]
    names += [f"{k}_count" for k in _TOKEN_KINDS]
    names += ["phrase_count", "phrase_cover"]
    names += [f"phrase_{c}" for c in categories]
    names += ["appeal_phrase", "short", "empty"]
    return names


_GLOBAL_NAMES = [
    "dist_prev_phrase",
    "dist_next_phrase",
    "dist_prev_appeal",
    "dist_next_appeal",
    "appeal_behind",
    "appeal_ahead",
    "appeal_rest_share",
    "pos",
    "rel_pos",
    "lines_to_end",
    "log_page_lines",
    "chars_before_share",
    "chars_after_share",
    "short_run_len",
    "short_run_pos",
    "noterm_run_len",
    "run_mean_words",
    "repeat_count",
    "repeat_rank",
    "page_stopword_share",
    "page_terminal_share",
    "page_mean_log_chars",
    "lang_known",
]


@dataclass
class _Layout:
    """Flat line arrays of a batch: offsets into the joined text and page structure."""

    text: str
    starts: np.ndarray  # start offset of each line in text
    ends: np.ndarray  # end offset (exclusive)
    page: np.ndarray  # page index of each line
    page_start: np.ndarray  # per line: flat index of its page's first line
    page_len: np.ndarray  # per line: lines in its page
    n_pages: int


class FeatureExtractor:
    """Turns pages into a float64 feature matrix, one row per line, in page order."""

    def __init__(self, config: FeatureConfig, lexicon: Lexicon, stopwords: Stopwords) -> None:
        self.config = config
        self.lexicon = lexicon
        self.stopwords = stopwords
        self.base_names = _base_names(lexicon.categories)
        missing = [f for f in config.context_features if f not in self.base_names]
        if missing:
            raise ValueError(f"unknown context feature(s): {', '.join(missing)}")
        self._ctx_index = [self.base_names.index(f) for f in config.context_features]
        offsets = [d for d in range(-config.context_window, config.context_window + 1) if d]
        self._offsets = offsets
        self.feature_names = (
            self.base_names
            + _GLOBAL_NAMES
            + [f"{f}@{d:+d}" for d in offsets for f in config.context_features]
            + (MARKUP_NAMES if config.markup_features else [])
            + (SITE_NAMES if config.corpus_stats else [])
        )

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    # -- languages ---------------------------------------------------------------------
    def page_languages(self, pages: Sequence[Page]) -> list[str | None]:
        """Each page's language: its ``lang`` (primary subtag) or a stopword-based guess."""
        out: list[str | None] = []
        budget = self.config.langid_chars
        for p in pages:
            if p.lang:
                out.append(p.lang.split("-")[0].split("_")[0].lower())
                continue
            chunk, size = [], 0
            for line in p.lines:
                chunk.append(line)
                size += len(line)
                if size >= budget:
                    break
            out.append(
                self.stopwords.guess_language(
                    "\n".join(chunk)[:budget], min_hits=self.config.langid_min_hits
                )
            )
        return out

    # -- main entry --------------------------------------------------------------------
    def transform(
        self, pages: Sequence[Page], langs: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """The (n_lines, n_features) matrix for all lines of ``pages``."""
        if langs is None:
            langs = self.page_languages(pages)
        lay = self._layout(pages)
        n = len(lay.starts)
        if n == 0:
            return np.zeros((0, self.n_features), dtype=np.float64)
        base = self._base_features(lay, langs)
        glob = self._global_features(lay, base, langs)
        ctx = self._context_features(lay, base)
        blocks = [base, glob, ctx]
        if self.config.markup_features:
            blocks.append(markup_matrix(pages))
        if self.config.corpus_stats:
            blocks.append(site_matrix(pages))
        X = np.hstack(blocks)
        if X.shape[1] != self.n_features:  # a programming error, never a data error
            raise AssertionError(f"computed {X.shape[1]} features, declared {self.n_features}")
        return X

    def _layout(self, pages: Sequence[Page]) -> _Layout:
        cap = self.config.max_line_chars
        lines = [line for p in pages for line in p.lines]
        if any(len(line) > cap for line in lines):
            lines = [line[:cap] for line in lines]
        text = "\n".join(lines)
        if "\r" in text or text.count("\n") != max(len(lines) - 1, 0):
            lines = [line.replace("\r", " ").replace("\n", " ") for line in lines]
            text = "\n".join(lines)
        lens = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        starts = np.cumsum(lens + 1) - (lens + 1)
        counts = np.fromiter((len(p.lines) for p in pages), dtype=np.int64, count=len(pages))
        page = np.repeat(np.arange(len(pages)), counts)
        first = np.cumsum(counts) - counts
        return _Layout(text, starts, starts + lens, page, first[page], counts[page], len(pages))

    # -- per-line features from characters and patterns --------------------------------
    def _base_features(self, lay: _Layout, langs: Sequence[str | None]) -> np.ndarray:
        cfg = self.config
        n = len(lay.starts)
        cp = cc.code_points(lay.text)
        bits = cc.classify(cp)
        starts, ends = lay.starts, lay.ends

        def seg(mask: np.ndarray) -> np.ndarray:
            c = np.concatenate([[0], np.cumsum(mask, dtype=np.int32)])
            return (c[ends] - c[starts]).astype(np.float64)

        letter = (bits & cc.LETTER) > 0
        upper = (bits & cc.UPPER) > 0
        lower = (bits & cc.LOWER) > 0
        digit = (bits & cc.DIGIT) > 0
        space = (bits & cc.SPACE) > 0
        punct = (bits & cc.PUNCT) > 0
        wordc = letter | digit | ((bits & cc.MARK) > 0)
        prev_word = np.concatenate([[False], wordc[:-1]])
        word_start = wordc & ~prev_word

        n_chars = (ends - starts).astype(np.float64)
        denom = np.maximum(n_chars, 1)
        n_words = seg(word_start)
        n_letters = seg(letter)
        feats: dict[str, np.ndarray] = {
            "log_chars": np.log1p(n_chars),
            "n_words": n_words,
            "mean_word_len": seg(wordc) / np.maximum(n_words, 1),
            "letter_share": n_letters / denom,
            "digit_share": seg(digit) / denom,
            "punct_share": seg(punct) / denom,
            "space_share": seg(space) / denom,
            "symbol_share": seg((bits & cc.SYMBOL) > 0) / denom,
            "upper_share": seg(upper) / np.maximum(n_letters, 1),
            "title_share": seg(word_start & upper) / np.maximum(n_words, 1),
            "separators": seg(cc.member_mask(cp, cc.SEPARATORS)),
        }

        # First and last significant characters of each line.
        first_cp, has_first = _first_at(np.flatnonzero(~space), starts, ends, cp)
        feats["starts_upper"] = (has_first & ((cc.classify(first_cp) & cc.UPPER) > 0)).astype(float)
        feats["starts_digit"] = (has_first & ((cc.classify(first_cp) & cc.DIGIT) > 0)).astype(float)
        feats["starts_bullet"] = (has_first & cc.member_mask(first_cp, cc.BULLETS)).astype(float)
        closers = cc.member_mask(cp, cc.CLOSERS)
        last_cp, has_last = _last_at(np.flatnonzero(~space & ~closers), starts, ends, cp)
        terminal_last = has_last & cc.member_mask(last_cp, cc.TERMINAL)
        feats["ends_terminal"] = terminal_last.astype(float)
        feats["ends_colon"] = (has_last & (last_cp == ord(":"))).astype(float)
        last_bits = cc.classify(last_cp)
        feats["ends_other_punct"] = (
            has_last & ~terminal_last & ((last_bits & (cc.PUNCT | cc.SYMBOL)) > 0)
        ).astype(float)

        # Sentence ends: terminal punctuation followed by space, a closer or line end.
        terminal = cc.member_mask(cp, cc.TERMINAL)
        nxt_bits = np.concatenate([bits[1:], [cc.SPACE]])
        nxt_closer = np.concatenate([closers[1:], [False]])
        prev_lower = np.concatenate([[False], lower[:-1]])
        feats["sentence_ends"] = seg(terminal & (((nxt_bits & cc.SPACE) > 0) | nxt_closer))
        feats["glued_sentences"] = seg(terminal & prev_lower & ((nxt_bits & cc.UPPER) > 0))

        feats.update(self._token_features(lay.text, starts, n))
        runs = self._lang_runs(lay, langs)
        sw = self._stopword_counts(lay, runs)
        feats["stopword_count"] = sw
        feats["stopword_share"] = sw / np.maximum(n_words, 1)

        matches = self.lexicon.match_lines(lay.text, starts, n, runs)
        feats["phrase_count"] = matches.count
        feats["phrase_cover"] = matches.covered / denom
        appeal = np.zeros(n)
        for i, c in enumerate(self.lexicon.categories):
            feats[f"phrase_{c}"] = matches.by_category[:, i]
            if c in cfg.appeal_categories:
                appeal += matches.by_category[:, i]
        feats["appeal_phrase"] = (appeal > 0).astype(float)
        feats["short"] = (n_words <= cfg.short_line_words).astype(float)
        feats["empty"] = (n_words == 0).astype(float)
        return np.column_stack([feats[name] for name in self.base_names])

    def _token_features(self, text: str, starts: np.ndarray, n: int) -> dict[str, np.ndarray]:
        found = [(m.start(), m.lastgroup) for m in _TOKENS.finditer(text)]
        out = {f"{k}_count": np.zeros(n) for k in _TOKEN_KINDS}
        if not found:
            return out
        pos = np.fromiter((p for p, _ in found), dtype=np.int64, count=len(found))
        kind_index = {k: i for i, k in enumerate(_TOKEN_KINDS)}
        kind = np.fromiter((kind_index[k] for _, k in found), dtype=np.int64, count=len(found))
        line = np.searchsorted(starts, pos, side="right") - 1
        counts = np.zeros((n, len(_TOKEN_KINDS)))
        np.add.at(counts, (line, kind), 1.0)
        for i, k in enumerate(_TOKEN_KINDS):
            out[f"{k}_count"] = counts[:, i]
        return out

    @staticmethod
    def _lang_runs(lay: _Layout, langs: Sequence[str | None]) -> list[tuple[str | None, int, int]]:
        """(lang, begin, end) text ranges of consecutive pages with the same language."""
        n = len(lay.starts)
        first = np.flatnonzero(np.r_[True, lay.page[1:] != lay.page[:-1]])
        last = np.r_[first[1:], n] - 1
        page_lang = [langs[pg] for pg in lay.page[first]]
        runs: list[tuple[str | None, int, int]] = []
        for k, lang in enumerate(page_lang):
            if k and lang == page_lang[k - 1]:
                runs[-1] = (lang, runs[-1][1], int(lay.ends[last[k]]))
            else:
                runs.append((lang, int(lay.starts[first[k]]), int(lay.ends[last[k]])))
        return runs

    def _stopword_counts(
        self, lay: _Layout, runs: Sequence[tuple[str | None, int, int]]
    ) -> np.ndarray:
        """Stopwords per line: one regex substitution per run of same-language pages.

        Each match is replaced by a marker character in C (``re.sub`` with a constant), and
        markers are counted per line with cumulative sums; no Python code runs per match.
        """
        n = len(lay.starts)
        counts = np.zeros(n)
        text = lay.text.replace(_MARK, " ") if _MARK in lay.text else lay.text
        for lang, begin, end in runs:
            pattern = self.stopwords.pattern(lang, lowercase_input=True) if lang else None
            if pattern is None:
                continue
            cp = cc.code_points(pattern.sub(_MARK, text[begin:end].lower()))
            breaks = np.flatnonzero(cp == 10)
            marks = np.concatenate([[0], np.cumsum(cp == 1, dtype=np.int64)])
            line_start = np.concatenate([[0], breaks + 1])
            line_end = np.concatenate([breaks, [len(cp)]])
            first = int(np.searchsorted(lay.starts, begin))
            counts[first : first + len(line_start)] = marks[line_end] - marks[line_start]
        return counts

    # -- position, proximity, runs, repetition, page summaries -------------------------
    def _global_features(
        self, lay: _Layout, base: np.ndarray, langs: Sequence[str | None]
    ) -> np.ndarray:
        cfg = self.config
        col = {name: base[:, i] for i, name in enumerate(self.base_names)}
        n = len(lay.starts)
        idx = np.arange(n)
        cap = cfg.max_distance
        pos = idx - lay.page_start
        page_end = lay.page_start + lay.page_len  # exclusive

        any_phrase = col["phrase_count"] > 0
        appeal_cols = [col[f"phrase_{c}"] for c in cfg.appeal_categories if f"phrase_{c}" in col]
        appeal = (np.sum(appeal_cols, axis=0) > 0) if appeal_cols else np.zeros(n, bool)
        w = cfg.context_window
        csum = np.concatenate([[0], np.cumsum(appeal)])
        lo = np.maximum(idx - w, lay.page_start)
        hi = np.minimum(idx + w + 1, page_end)

        chars = lay.ends - lay.starts  # integers: exact sums, whatever the batch
        ccum = np.concatenate([[0], np.cumsum(chars)])
        page_chars = ccum[page_end] - ccum[lay.page_start]
        before = ccum[idx] - ccum[lay.page_start]
        pc = np.maximum(page_chars, 1).astype(np.float64)

        short_len, short_pos = _runs(col["short"] > 0, lay)
        noterm_len, _ = _runs(col["ends_terminal"] == 0, lay)
        short_len = np.where(col["short"] > 0, short_len, 0)
        noterm_len = np.where(col["ends_terminal"] == 0, noterm_len, 0)
        run_mean_words = _run_mean(col["n_words"], col["short"] > 0, lay)

        rep_count, rep_rank = self._repetition(lay, col["empty"] > 0)

        def page_mean(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
            wts = np.ones(n) if weights is None else weights
            num = np.bincount(lay.page, weights=values * wts, minlength=lay.n_pages)
            den = np.bincount(lay.page, weights=wts, minlength=lay.n_pages)
            return (num / np.maximum(den, 1e-9))[lay.page]

        known = np.array([1.0 if lg and self.stopwords.lists.get(lg) else 0.0 for lg in langs])
        feats = [
            _dist_prev(any_phrase, lay.page_start, cap),
            _dist_next(any_phrase, page_end, cap),
            _dist_prev(appeal, lay.page_start, cap),
            _dist_next(appeal, page_end, cap),
            (csum[idx + 1] - csum[lo]).astype(float),
            (csum[hi] - csum[idx]).astype(float),
            (csum[page_end] - csum[idx]) / (page_end - idx),
            pos.astype(float),
            pos / np.maximum(lay.page_len - 1, 1),
            (lay.page_len - 1 - pos).astype(float),
            np.log1p(lay.page_len),
            before / pc,
            (page_chars - before - chars) / pc,
            short_len,
            short_pos,
            noterm_len,
            run_mean_words,
            rep_count,
            rep_rank,
            page_mean(col["stopword_share"], col["n_words"]),
            page_mean(col["ends_terminal"], (col["empty"] == 0).astype(float)),
            page_mean(col["log_chars"]),
            known[lay.page] if n else np.zeros(0),
        ]
        return np.column_stack(feats).astype(np.float64)

    def _repetition(self, lay: _Layout, empty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How often each normalised line occurs in its page, and which copy this is."""
        norm = _DIGITS.sub("0", lay.text.lower())
        keys = [" ".join(k.split()) for k in norm.split("\n")]
        ids: dict[str, int] = {}
        key_id = np.fromiter(
            (ids.setdefault(k, len(ids)) for k in keys), dtype=np.int64, count=len(keys)
        )
        combined = lay.page * (len(ids) + 1) + key_id
        _, inverse, counts = np.unique(combined, return_inverse=True, return_counts=True)
        order = np.argsort(inverse, kind="stable")
        sorted_inv = inverse[order]
        group_first = np.r_[0, np.flatnonzero(sorted_inv[1:] != sorted_inv[:-1]) + 1]
        rank_sorted = np.arange(len(order)) - np.repeat(
            group_first, np.diff(np.r_[group_first, len(order)])
        )
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = rank_sorted
        count = counts[inverse].astype(float)
        return np.where(empty, 0.0, count), np.where(empty, 0.0, rank.astype(float))

    def _context_features(self, lay: _Layout, base: np.ndarray) -> np.ndarray:
        """Selected features of the lines at each offset; -1 where the page has no line."""
        n = len(lay.starts)
        sel = base[:, self._ctx_index]
        idx = np.arange(n)
        blocks = []
        for d in self._offsets:
            j = idx + d
            jc = np.clip(j, 0, n - 1)
            valid = (j >= 0) & (j < n) & (lay.page[jc] == lay.page)
            blocks.append(np.where(valid[:, None], sel[jc], -1.0))
        if not blocks:
            return np.zeros((n, 0))
        return np.hstack(blocks)


def _first_at(
    candidates: np.ndarray, starts: np.ndarray, ends: np.ndarray, cp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Code point of the first candidate position inside each line, and whether one exists."""
    k = np.searchsorted(candidates, starts)
    kc = np.minimum(k, max(len(candidates) - 1, 0))
    if len(candidates) == 0:
        return np.zeros(len(starts), dtype=np.uint32), np.zeros(len(starts), dtype=bool)
    ok = (k < len(candidates)) & (candidates[kc] < ends)
    return np.where(ok, cp[candidates[kc]], 0).astype(np.uint32), ok


def _last_at(
    candidates: np.ndarray, starts: np.ndarray, ends: np.ndarray, cp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Code point of the last candidate position inside each line, and whether one exists."""
    if len(candidates) == 0:
        return np.zeros(len(starts), dtype=np.uint32), np.zeros(len(starts), dtype=bool)
    k = np.searchsorted(candidates, ends) - 1
    kc = np.maximum(k, 0)
    ok = (k >= 0) & (candidates[kc] >= starts)
    return np.where(ok, cp[candidates[kc]], 0).astype(np.uint32), ok


def _dist_prev(mask: np.ndarray, page_start: np.ndarray, cap: int) -> np.ndarray:
    """Lines back to the nearest masked line in the same page (0 = this line), capped."""
    idx = np.arange(len(mask))
    last = np.maximum.accumulate(np.where(mask, idx, -1)) if len(mask) else idx
    return np.where(last >= page_start, np.minimum(idx - last, cap), cap).astype(float)


def _dist_next(mask: np.ndarray, page_end: np.ndarray, cap: int) -> np.ndarray:
    """Lines forward to the nearest masked line in the same page, capped."""
    n = len(mask)
    idx = np.arange(n)
    big = n + 1
    nxt = np.minimum.accumulate(np.where(mask, idx, big)[::-1])[::-1] if n else idx
    return np.where(nxt < page_end, np.minimum(nxt - idx, cap), cap).astype(float)


def _run_ids(flag: np.ndarray, lay: _Layout) -> np.ndarray:
    n = len(flag)
    change = np.ones(n, dtype=bool)
    change[1:] = (flag[1:] != flag[:-1]) | (lay.page[1:] != lay.page[:-1])
    return np.cumsum(change) - 1


def _runs(flag: np.ndarray, lay: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Length of the run of equal ``flag`` values each line is in, and its position in it."""
    rid = _run_ids(flag, lay)
    lengths = np.bincount(rid)
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    return lengths[rid].astype(float), (np.arange(len(flag)) - first[rid]).astype(float)


def _run_mean(values: np.ndarray, flag: np.ndarray, lay: _Layout) -> np.ndarray:
    """Mean of ``values`` over the run of equal ``flag`` values each line is in."""
    rid = _run_ids(flag, lay)
    sums = np.bincount(rid, weights=values)
    lengths = np.bincount(rid)
    return (sums / np.maximum(lengths, 1))[rid]


def neighbour_proba_features(
    proba: np.ndarray, page_sizes: Sequence[int], window: int
) -> tuple[np.ndarray, list[str]]:
    """First-pass probabilities around each line, for the second pass.

    The line's own probability, those of the lines at offsets -window..+window (-1 where
    the page has none), the mean before and after the line within the window, and the
    page mean: a learned version of jusText's context-sensitive revision.
    """
    sizes = np.asarray(page_sizes, dtype=np.int64)
    n = len(proba)
    page = np.repeat(np.arange(len(sizes)), sizes)
    first = (np.cumsum(sizes) - sizes)[page]
    end = first + sizes[page]
    idx = np.arange(n)
    cols, names = [proba], ["p1"]
    for d in [d for d in range(-window, window + 1) if d]:
        j = idx + d
        valid = (j >= first) & (j < end)
        cols.append(np.where(valid, proba[np.clip(j, 0, max(n - 1, 0))], -1.0))
        names.append(f"p1@{d:+d}")
    csum = np.concatenate([[0.0], np.cumsum(proba)])
    lo = np.maximum(idx - window, first)
    hi = np.minimum(idx + window + 1, end)
    before_n, after_n = idx - lo, hi - idx - 1
    cols.append(np.where(before_n > 0, (csum[idx] - csum[lo]) / np.maximum(before_n, 1), -1.0))
    cols.append(np.where(after_n > 0, (csum[hi] - csum[idx + 1]) / np.maximum(after_n, 1), -1.0))
    page_sum = np.bincount(page, weights=proba, minlength=len(sizes))
    cols.append((page_sum / np.maximum(sizes, 1))[page] if n else np.zeros(0))
    names += ["p1_mean_before", "p1_mean_after", "p1_page_mean"]
    return np.column_stack(cols) if n else np.zeros((0, len(names))), names


_TAG_GROUPS = {
    "p": "tag_p",
    "li": "tag_li",
    "dt": "tag_li",
    "dd": "tag_li",
    "td": "tag_td",
    "th": "tag_td",
    "div": "tag_div",
    "button": "tag_button",
    **{f"h{i}": "tag_h" for i in range(1, 7)},
}
_ANCESTORS = ("nav", "header", "footer", "aside", "form", "article", "main", "a")
MARKUP_NAMES = [
    "link_density",
    "in_nav",
    "heading",
    "in_list",
    "tag_p",
    "tag_li",
    "tag_td",
    "tag_div",
    "tag_h",
    "tag_button",
    "tag_other",
    *[f"anc_{a}" for a in _ANCESTORS],
    "n_ancestors",
]


def markup_matrix(pages: Sequence[Page]) -> np.ndarray:
    """Layout features of lines read from HTML (``Page.extra["markup"]`` rows).

    Raises DataError for a page without markup: a markup model cannot classify plain
    text, and silently zero-filling would give confident nonsense.
    """
    from bpclf.errors import DataError
    from bpclf.html import MARKUP_KEY

    rows = []
    index = {name: i for i, name in enumerate(MARKUP_NAMES)}
    for page in pages:
        markup = page.extra.get(MARKUP_KEY)
        if not isinstance(markup, list) or len(markup) != len(page.lines):
            raise DataError(
                "this model uses HTML markup features but the page has no "
                "markup rows; give it HTML or WARC input, or use a text-only "
                "model",
                page=page.id,
            )
        for line, row in zip(page.lines, markup, strict=True):
            try:
                tag, path, in_nav, heading, in_list, link_chars = row
                ancestors = str(path).split()
                vec = [0.0] * len(MARKUP_NAMES)
                vec[0] = min(float(link_chars) / max(len(line), 1), 1.0)
                vec[1], vec[2], vec[3] = float(in_nav), float(heading), float(in_list)
            except (TypeError, ValueError):
                raise DataError(
                    "malformed markup row (expected [tag, ancestors, in_nav, "
                    "heading, in_list, link_chars])",
                    page=page.id,
                ) from None
            vec[index[_TAG_GROUPS.get(str(tag), "tag_other")]] = 1.0
            for a in _ANCESTORS:
                if a in ancestors:
                    vec[index[f"anc_{a}"]] = 1.0
            vec[-1] = float(len(ancestors))
            rows.append(vec)
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(MARKUP_NAMES))
