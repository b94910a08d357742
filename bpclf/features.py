"""Per-line features, computed for a whole batch of pages at once.

All lines of a batch are joined into one array of code points (:mod:`bpclf.charclass`);
one compiled pass over it (:func:`bpclf.kernels.scan_batch`) gives the character
statistics, stopword and phrase matches, tokens (URLs, dates, counts, ...) and
normalised-line keys of every line, and page and neighbour features come from compiled
passes over the flat line arrays (:func:`bpclf.kernels.global_block` and its siblings).
The feature list
is fixed by the config and the lexicon's categories; its names are stored in every
model, and :data:`FEATURE_SCHEMA_VERSION` changes whenever the meaning of a feature does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numpy as np

from bpclf import charclass as cc
from bpclf import kernels
from bpclf.config import FeatureConfig
from bpclf.corpus import SITE_NAMES, site_matrix
from bpclf.pages import Page
from bpclf.phrases import Lexicon
from bpclf.stopwords import Stopwords

#: 2: tokens never cross line ends; 3: the lexical score's n-gram buckets are a
#: multiply-shift of the packed characters (:func:`bpclf.kernels._line_ngrams`), so
#: weights fitted on the earlier buckets mean nothing under the new ones.
FEATURE_SCHEMA_VERSION = 3

#: Words of the token scanner (bpclf.kernels), all lower-case, by word set.
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "januar",
    "februar",
    "märz",
    "mai",
    "juni",
    "juli",
    "oktober",
    "dezember",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "janvier",
    "février",
    "mars",
    "avril",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
    "januari",
    "februari",
    "maj",
    "augusti",
    "gennaio",
    "febbraio",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "settembre",
    "ottobre",
    "dicembre",
    "janeiro",
    "fevereiro",
    "março",
    "maio",
    "junho",
    "julho",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
    "tammikuuta",
    "helmikuuta",
    "maaliskuuta",
    "huhtikuuta",
    "toukokuuta",
    "kesäkuuta",
    "heinäkuuta",
    "elokuuta",
    "syyskuuta",
    "lokakuuta",
    "marraskuuta",
    "joulukuuta",
]
#: Top-level domains that make "name.tld" a URL.
_TLDS = [
    "com",
    "org",
    "net",
    "de",
    "fr",
    "fi",
    "se",
    "es",
    "ru",
    "it",
    "pl",
    "nl",
    "pt",
    "uk",
    "eu",
    "io",
    "info",
    "co",
]
#: Currency words (symbols are in bpclf.charclass.CURRENCY).
_CURRENCY_WORDS = ["usd", "eur", "gbp", "sek", "nok", "dkk", "kr", "zł", "pln", "rub", "chf"]
#: Words that make "12 comments" a count.
_COUNT_WORDS = [
    "comment",
    "comments",
    "replies",
    "like",
    "likes",
    "view",
    "views",
    "share",
    "shares",
    "vote",
    "votes",
    "review",
    "reviews",
    "follower",
    "followers",
    "kommentar",
    "kommentare",
    "kommentarer",
    "kommentti",
    "kommenttia",
    "commentaire",
    "commentaires",
    "comentario",
    "comentarios",
    "commenti",
    "comentários",
    "reacties",
    "komentarz",
    "komentarzy",
    "komentarze",
]
#: Word beginnings that make a count ("комментариев", "ответов").
_COUNT_PREFIXES = ("комментари", "ответ")


@lru_cache(maxsize=1)
def _token_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hash table of the token scanner's word sets (ids from bpclf.kernels), and the
    shape filter of the words that can start a token (months, currency words)."""
    sets = [
        (kernels.SET_MONTH, _MONTHS),
        (kernels.SET_TLD, _TLDS),
        (kernels.SET_CURRENCY, _CURRENCY_WORDS),
        (kernels.SET_COUNT, _COUNT_WORDS),
        (kernels.SET_COUNT_PREFIX, _COUNT_PREFIXES),
    ]
    if sorted({len(p) for p in _COUNT_PREFIXES}) != kernels.COUNT_PREFIX_LENGTHS.tolist():
        raise AssertionError("kernels.COUNT_PREFIX_LENGTHS does not match _COUNT_PREFIXES")
    words = [w for _, ws in sets for w in ws]
    salts = np.array([sid for sid, ws in sets for _ in ws], dtype=np.int64)
    cp, starts, ends = cc.layout(words)
    keys = kernels.word_keys(cp, starts, ends, cc.class_table(), cc.lower_table(), salts)
    slots, index = kernels.build_table(keys[keys != 0])
    starters = [
        w for sid, ws in sets if sid in (kernels.SET_MONTH, kernels.SET_CURRENCY) for w in ws
    ]
    cp, starts, ends = cc.layout(starters)
    shapes = kernels.shape_filter(cp, starts, ends, cc.class_table(), cc.lower_table())
    return slots, index, shapes


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
    names += [f"{k}_count" for k in kernels.TOKEN_KINDS]
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

    cp: np.ndarray  # code points of the lines joined by "\\n"
    starts: np.ndarray  # start offset of each line in cp
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
        # Derived once from the config and lexicon, read by every batch.
        self._ctx_cols = self._columns(*config.context_features)
        self._appeal = np.array([c in config.appeal_categories for c in lexicon.categories], bool)
        self._global_cols = self._columns(
            "phrase_count", "short", "ends_terminal", "n_words", "empty", "stopword_share",
            "log_chars", "appeal_phrase",
        )  # fmt: skip
        self._profile_cols = self._columns(
            "short", "starts_bullet", "date_count", "url_count", "phrase_count",
            "title_share", "n_words", "log_chars",
        )  # fmt: skip
        offsets = [d for d in range(-config.context_window, config.context_window + 1) if d]
        self._offsets = offsets
        self.feature_names = (
            self.base_names
            + _GLOBAL_NAMES
            + [f"{f}@{d:+d}" for d in offsets for f in config.context_features]
            + (PROFILE_NAMES if config.page_profile else [])
            + (MARKUP_NAMES if config.markup_features else [])
            + (SITE_NAMES if config.corpus_stats else [])
        )

    def _columns(self, *names: str) -> np.ndarray:
        """Indices of base features, in the order given (what the kernels read)."""
        return np.array([self.base_names.index(name) for name in names], dtype=np.int64)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    # -- languages ---------------------------------------------------------------------
    def page_languages(self, pages: Sequence[Page]) -> list[str | None]:
        """Each page's language: its ``lang`` (primary subtag) or a stopword-based guess."""
        return self._languages(pages, None)

    def _languages(self, pages: Sequence[Page], lay: _Layout | None) -> list[str | None]:
        out: list[str | None] = [
            p.lang.split("-")[0].split("_")[0].lower() if p.lang else None for p in pages
        ]
        todo = [i for i, p in enumerate(pages) if not p.lang and p.lines]
        if not todo:
            return out
        if lay is None:
            lay = self.layout([pages[i] for i in todo])
            first = np.flatnonzero(np.r_[True, lay.page[1:] != lay.page[:-1]])
        else:
            first = np.cumsum([0] + [len(p.lines) for p in pages])[todo]
        begin = lay.starts[first]
        page_end = lay.ends[first + lay.page_len[first] - 1]
        end = np.minimum(begin + self.config.langid_chars, page_end)
        guesses = self.stopwords.guess_at(lay.cp, begin, end, min_hits=self.config.langid_min_hits)
        for i, lang in zip(todo, guesses, strict=True):
            out[i] = lang
        return out

    # -- main entry --------------------------------------------------------------------
    def transform(
        self,
        pages: Sequence[Page],
        langs: Sequence[str | None] | None = None,
        *,
        extra_columns: int = 0,
        layout: _Layout | None = None,
    ) -> np.ndarray:
        """The (n_lines, n_features) matrix for all lines of ``pages``.

        ``extra_columns`` zero columns are added at the end for the caller to fill (the
        classifier's lexical block): every block is written into one matrix (the base,
        page-level and context blocks straight into their columns, the others copied
        there), never stacked into a second one. ``layout``: :meth:`layout` of the same
        pages, when the caller needs it too.
        """
        lay = layout if layout is not None else self.layout(pages)
        if langs is None:
            langs = self._languages(pages, lay)
        n = len(lay.starts)
        X = np.zeros((n, self.n_features + extra_columns), dtype=np.float64)
        if n == 0:
            return X
        col = 0

        def block(width: int) -> np.ndarray:
            """The next ``width`` columns of X, for a step to write its block into."""
            nonlocal col
            col += width
            return X[:, col - width : col]

        def put(values: np.ndarray) -> None:
            block(values.shape[1])[:] = values

        base = block(len(self.base_names))
        line_keys = self._base_features(lay, langs, base)
        glob = self._global_features(lay, base, langs, line_keys, block(len(_GLOBAL_NAMES)))
        self._context_blocks(lay, base, block(len(self._offsets) * len(self._ctx_cols)))
        if self.config.page_profile:
            self._page_profile(lay, base, glob, block(len(PROFILE_NAMES)))
        if self.config.markup_features:
            put(markup_matrix(pages))
        if self.config.corpus_stats:
            put(site_matrix(pages))
        if col != self.n_features:  # a programming error, never a data error
            raise AssertionError(f"computed {col} features, declared {self.n_features}")
        return X

    def layout(self, pages: Sequence[Page]) -> _Layout:
        """The lines of ``pages`` (cut at ``max_line_chars``) as one array of code points
        with line offsets and page structure."""
        cap = self.config.max_line_chars
        lines = list(chain.from_iterable(p.lines for p in pages))
        cp, starts, ends = cc.layout(lines)
        if len(lines) and (ends - starts).max() > cap:  # rare: lay out the cut lines
            cp, starts, ends = cc.layout([line[:cap] for line in lines])
        counts = np.fromiter((len(p.lines) for p in pages), dtype=np.int64, count=len(pages))
        page = np.repeat(np.arange(len(pages)), counts)
        first = np.cumsum(counts) - counts
        return _Layout(cp, starts, ends, page, first[page], counts[page], len(pages))

    # -- per-line features from characters and words (one compiled pass) ---------------
    def _base_features(
        self, lay: _Layout, langs: Sequence[str | None], out: np.ndarray
    ) -> np.ndarray:
        """Write the base feature block into ``out``; return the normalised-line keys (for
        repetition)."""
        cfg = self.config
        page_langs = list(langs)
        sw_lang = self.stopwords.table.language_ids(page_langs)[lay.page]
        ph = self.lexicon.table
        ph_lang = ph.language_ids(page_langs)[lay.page]
        tok_slots, tok_index, tok_shapes = _token_table()
        stats, sw, ph_count, ph_cover, ph_cat, tokens, keys = kernels.scan_batch(
            lay.cp, lay.starts, lay.ends, sw_lang, ph_lang,
            cc.class_table(), cc.flag_table(), cc.lower_table(),
            self.stopwords.table.slots, self.stopwords.table.index, self.stopwords.table.filter,
            *ph.args(), tok_slots, tok_index, tok_shapes,
        )  # fmt: skip
        log_chars = np.log1p(stats[:, 0])
        kernels.base_block(
            stats, sw, ph_count, ph_cover, ph_cat, tokens, log_chars, self._appeal,
            cfg.short_line_words, out,
        )  # fmt: skip
        return keys

    def _global_features(
        self,
        lay: _Layout,
        base: np.ndarray,
        langs: Sequence[str | None],
        line_keys: np.ndarray,
        out: np.ndarray,
    ) -> np.ndarray:
        """Page-level features (:data:`_GLOBAL_NAMES`), in one compiled pass per page
        (:func:`bpclf.kernels.global_block`), written into ``out`` (returned)."""
        cfg = self.config
        known = (self.stopwords.table.language_ids(list(langs)) >= 0).astype(np.float64)
        kernels.global_block(
            base, self._global_cols, lay.starts, lay.ends, lay.page_start, lay.page_len,
            line_keys, np.log1p(lay.page_len), known[lay.page], cfg.context_window,
            cfg.max_distance, out,
        )  # fmt: skip
        return out

    def _page_profile(
        self, lay: _Layout, base: np.ndarray, glob: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """What kind of page the line is on (:data:`PROFILE_NAMES`): shares of its
        non-empty lines that are short, repeated, bulleted, dated, carry a URL or a
        lexicon phrase, end in an ellipsis ("...", "[...]": teasers), and the spread of
        line lengths. Listing pages are annotated boilerplate as a whole although many
        of their lines are full sentences. ``glob``: the :data:`_GLOBAL_NAMES` block of
        the same lines (repeat counts, page mean of the log length)."""
        kernels.profile_block(
            base, self._profile_cols,
            np.ascontiguousarray(glob[:, _GLOBAL_NAMES.index("repeat_count")]),
            np.ascontiguousarray(glob[:, _GLOBAL_NAMES.index("page_mean_log_chars")]),
            lay.cp, lay.starts, lay.ends, lay.page_start, lay.page_len, out,
        )  # fmt: skip
        return out

    def _context_blocks(self, lay: _Layout, base: np.ndarray, out: np.ndarray) -> None:
        """Selected features of the lines at each offset, -1 where the page has no line,
        written into ``out``.

        One block for all offsets (offset-major, as the feature names), from one compiled
        pass (:func:`bpclf.kernels.context_block`)."""
        offsets = np.array(self._offsets, dtype=np.int64)
        kernels.context_block(base, self._ctx_cols, offsets, lay.page_start, lay.page_len, out)


PROFILE_NAMES = [
    "page_short_share",
    "page_repeated_share",
    "page_bullet_share",
    "page_date_share",
    "page_url_share",
    "page_phrase_share",
    "page_title_case_share",
    "page_ellipsis_share",
    "page_log_chars_std",
    "ends_ellipsis",
]


def neighbour_features(
    values: np.ndarray,
    page_sizes: Sequence[int],
    window: int,
    *,
    name: str = "p1",
    missing: float = -1.0,
) -> tuple[np.ndarray, list[str]]:
    """A per-line value around each line: for the second pass (first-pass probabilities,
    ``p1``) and the lexical score (``lex``).

    The line's own value, those of the lines at offsets -window..+window (``missing``
    where the page has none), the mean before and after the line within the window
    (``missing`` when there is no such line), and the page mean: a learned version of
    jusText's context-sensitive revision.
    """
    sizes = np.asarray(page_sizes, dtype=np.int64)
    names = [name] + [f"{name}@{d:+d}" for d in range(-window, window + 1) if d]
    names += [f"{name}_mean_before", f"{name}_mean_after", f"{name}_page_mean"]
    vals = np.ascontiguousarray(values, dtype=np.float64)
    if vals.ndim != 1 or np.any(sizes < 0) or sizes.sum() != len(vals):
        # the kernel indexes by the page sizes: they must describe the values exactly
        raise ValueError(f"page sizes (sum {sizes.sum()}) do not match {len(vals)} values")
    if len(vals) == 0:  # (the names alone, when a model is loaded: no kernel start-up)
        return np.zeros((0, len(names))), names
    return kernels.neighbour_block(vals, sizes, window, float(missing)), names


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
