import numpy as np
import pytest

from bpclf.config import FeatureConfig
from bpclf.features import FeatureExtractor
from bpclf.pages import Page
from bpclf.phrases import Lexicon
from bpclf.stopwords import Stopwords

LEX = Lexicon.from_rows(
    [("support us", "en", "appeal"), ("home", "en", "nav"), ("privacy policy", "en", "legal")]
)
SW = Stopwords.from_dict(
    {
        "en": ["the", "of", "and", "a", "to", "we", "is", "it", "in"],
        "de": ["der", "die", "und", "das", "ist", "nicht", "zu"],
    }
)


@pytest.fixture
def fx():
    return FeatureExtractor(FeatureConfig(context_window=2, max_distance=10), LEX, SW)


def feats(fx, pages, name):
    X = fx.transform(pages)
    return X[:, fx.feature_names.index(name)]


PAGE = Page(
    "a",
    [
        "Home",
        "The mayor said it is time to act.",
        "Prices rose by 3% in May, the office said. Officials expect more.",
        "Please support us today",
        "",
        "Home",
    ],
    lang="en",
)


def test_shape_names_and_finiteness(fx):
    X = fx.transform([PAGE, Page("b", []), Page("c", ["x"])])
    assert X.shape == (7, fx.n_features) == (7, len(fx.feature_names))
    assert len(set(fx.feature_names)) == fx.n_features
    assert np.isfinite(X).all()


def test_line_shape_features(fx):
    assert feats(fx, [PAGE], "n_words").tolist() == [1, 8, 12, 4, 0, 1]
    assert feats(fx, [PAGE], "ends_terminal").tolist() == [0, 1, 1, 0, 0, 0]
    assert feats(fx, [PAGE], "sentence_ends").tolist() == [0, 1, 2, 0, 0, 0]
    assert feats(fx, [PAGE], "empty").tolist() == [0, 0, 0, 0, 1, 0]
    assert feats(fx, [PAGE], "starts_upper")[:2].tolist() == [1, 1]
    assert feats(fx, [Page("q", ['He said "stop."'])], "ends_terminal").tolist() == [1]


def test_glued_sentences(fx):
    page = Page("g", ["officials said.A Message from us", "U.S. trade rose. Then it fell."])
    assert feats(fx, [page], "glued_sentences").tolist() == [1, 0]


def test_stopwords_use_page_language(fx):
    en = feats(fx, [PAGE], "stopword_count")
    assert en[1] == 4  # the, it, is, to
    de = feats(fx, [Page("d", ["Das ist nicht the end"], lang="de")], "stopword_count")
    assert de.tolist() == [3]  # only German stopwords count on a German page


def test_phrase_proximity_and_repetition(fx):
    assert feats(fx, [PAGE], "phrase_count").tolist() == [1, 0, 0, 1, 0, 1]
    assert feats(fx, [PAGE], "dist_prev_appeal").tolist() == [10, 10, 10, 0, 1, 2]
    assert feats(fx, [PAGE], "dist_next_appeal").tolist() == [3, 2, 1, 0, 10, 10]
    assert feats(fx, [PAGE], "repeat_count").tolist() == [2, 1, 1, 1, 0, 2]
    assert feats(fx, [PAGE], "repeat_rank").tolist() == [0, 0, 0, 0, 0, 1]


def test_tokens(fx):
    page = Page(
        "t",
        [
            "Mail me at jo@example.com or see www.example.org",
            "12 comments",
            "Posted 12.03.2021 at 10:45",
            "Price: €20",
        ],
    )
    assert feats(fx, [page], "email_count").tolist() == [1, 0, 0, 0]
    assert feats(fx, [page], "url_count").tolist() == [1, 0, 0, 0]
    assert feats(fx, [page], "count_count").tolist() == [0, 1, 0, 0]
    assert feats(fx, [page], "date_count")[2] == 1
    assert feats(fx, [page], "time_count")[2] == 1
    assert feats(fx, [page], "currency_count")[3] == 1


def test_context_stays_inside_the_page(fx):
    pages = [Page("a", ["one two three", "four"]), Page("b", ["five six"])]
    prev = feats(fx, pages, "n_words@-1")
    nxt = feats(fx, pages, "n_words@+1")
    assert prev.tolist() == [-1, 3, -1]
    assert nxt.tolist() == [1, -1, -1]


def test_short_runs(fx):
    page = Page("m", ["Home", "News", "Sport", "A long sentence with many words in it.", "Menu"])
    assert feats(fx, [page], "short_run_len").tolist() == [3, 3, 3, 0, 1]
    assert feats(fx, [page], "short_run_pos").tolist() == [0, 1, 2, 0, 0]


def test_page_alone_equals_page_in_batch(fx):
    other = Page("o", ["Something else entirely.", "Home", "Home"], lang="de")
    alone = fx.transform([PAGE])
    batch = fx.transform([other, PAGE, other])
    np.testing.assert_array_equal(alone, batch[3 : 3 + len(PAGE)])


def test_embedded_newlines_and_huge_lines_keep_alignment(fx):
    tricky = Page("x", ["first\nsecond", "third\r", "y" * 300_000, "\ud800 lone surrogate"])
    X = fx.transform([tricky, PAGE])
    np.testing.assert_array_equal(X[len(tricky) :], fx.transform([PAGE]))
    capped = FeatureExtractor(FeatureConfig(max_line_chars=1000), LEX, SW)
    n_chars = np.expm1(capped.transform([tricky])[:, capped.feature_names.index("log_chars")])
    assert round(n_chars[2]) == 1000


def test_language_guess_when_missing(fx):
    page = Page("g", ["Der Hund und die Katze ist nicht zu Hause und das ist gut."])
    assert fx.page_languages([page, Page("e", ["x"], lang="en-GB")]) == ["de", "en"]


def test_unknown_context_feature_rejected():
    with pytest.raises(ValueError, match="unknown context feature"):
        FeatureExtractor(FeatureConfig(context_features=("nope",)), LEX, SW)


def test_neighbour_probabilities_for_the_second_pass():
    from bpclf.features import neighbour_features

    proba = np.array([0.1, 0.2, 0.9, 0.5, 0.3])
    X, names = neighbour_features(proba, [3, 2], window=1)
    assert names == ["p1", "p1@-1", "p1@+1", "p1_mean_before", "p1_mean_after", "p1_page_mean"]
    col = {n: X[:, i].round(6).tolist() for i, n in enumerate(names)}
    assert col["p1"] == proba.tolist()
    assert col["p1@-1"] == [-1, 0.1, 0.2, -1, 0.5]
    assert col["p1@+1"] == [0.2, 0.9, -1, 0.3, -1]
    assert col["p1_mean_after"] == [0.2, 0.9, -1, 0.3, -1]
    assert col["p1_page_mean"] == [0.4, 0.4, 0.4, 0.4, 0.4]
    X3, _ = neighbour_features(proba, [3, 2], window=3)
    assert X3[0, -2] == pytest.approx((0.2 + 0.9) / 2)  # mean after, clipped at page end
    X4, names4 = neighbour_features(proba, [3, 2], window=1, name="lex", missing=-10.0)
    assert names4[:3] == ["lex", "lex@-1", "lex@+1"] and X4[0, 1] == -10.0


def test_markup_features_from_html(tmp_path):
    from bpclf.errors import DataError
    from bpclf.features import MARKUP_NAMES
    from bpclf.readers import read_pages

    (tmp_path / "p.html").write_text(
        "<nav><ul><li><a href='/'>Home</a></li></ul></nav>"
        "<article><h2>Title</h2><p>Read <a>more here</a></p></article>"
    )
    (page,) = read_pages([str(tmp_path / "p.html")])
    fx = FeatureExtractor(FeatureConfig(markup_features=True), LEX, SW)
    assert fx.feature_names[-len(MARKUP_NAMES) :] == MARKUP_NAMES
    X = fx.transform([page])
    col = {n: X[:, fx.feature_names.index(n)].tolist() for n in MARKUP_NAMES}
    assert page.lines == ["Home", "Title", "Read more here"]
    assert col["in_nav"] == [1, 0, 0] and col["tag_li"] == [1, 0, 0]
    assert col["heading"] == [0, 2, 0] and col["anc_article"] == [0, 1, 1]
    assert col["link_density"] == pytest.approx([1.0, 0.0, 9 / 14])
    with pytest.raises(DataError, match="markup"):
        fx.transform([Page("plain", ["Some text"])])


def test_tokens_never_reach_into_the_next_line(fx):
    pages = [Page("c", ["Page 1"]), Page("d", ["Likes and dislikes of the author are many."])]
    alone = fx.transform(pages[:1])
    together = fx.transform(pages)
    np.testing.assert_array_equal(alone, together[:1])
    assert feats(fx, [Page("e", ["12", "comments here"])], "count_count").tolist() == [0, 0]


def test_extra_columns_are_left_for_the_caller(fx):
    X = fx.transform([PAGE])
    X2 = fx.transform([PAGE], extra_columns=3)
    assert X2.shape == (len(PAGE), fx.n_features + 3)
    np.testing.assert_array_equal(X2[:, : fx.n_features], X)
    assert not X2[:, fx.n_features :].any()


def test_page_profile_describes_the_page_of_each_line():
    fx = FeatureExtractor(FeatureConfig(page_profile=True), LEX, SW)
    listing = Page(
        "l",
        ["Le prix du livre a encore augmenté cette année…", "Lire la suite", "", "Lire la suite"],
        lang="fr",
    )
    article = Page("a", ["The mayor said it is time to act.", "It was [...]"], lang="en")
    X = fx.transform([listing, article])

    def col(name):
        return X[:, fx.feature_names.index(name)]

    assert col("ends_ellipsis").tolist() == [1, 0, 0, 0, 0, 1]
    # shares over the 3 non-empty lines of the listing, then over the article's 2
    assert np.allclose(col("page_short_share"), [2 / 3] * 4 + [0.5] * 2)
    assert np.allclose(col("page_repeated_share"), [2 / 3] * 4 + [0.0] * 2)
    assert np.allclose(col("page_ellipsis_share"), [1 / 3] * 4 + [0.5] * 2)
    alone = fx.transform([article])
    assert np.array_equal(alone, X[4:])


# Compiled page features against straightforward per-line references: page boundaries,
# one-line pages, empty lines, repeated lines, windows reaching past the page edges.
EDGE_PAGES = [
    Page("one", ["Please support us today"], lang="en"),
    Page(
        "e",
        ["Home", "", "Home", "Privacy policy", "", "The mayor said it is time to act.", "Home"],
        lang="en",
    ),
    Page("blank", ["", ""]),
    Page("none", []),
    Page("d", ["Das ist nicht gut.", "Teilen", "Teilen", "Kontakt", "Das ist gut."], lang="de"),
    Page("x", ["support us"]),
]


def _dist(mask, k, step, cap):
    """Lines from k to the nearest masked line in direction ``step``, capped."""
    j = k
    while 0 <= j < len(mask) and not mask[j]:
        j += step
    return min(abs(j - k), cap) if 0 <= j < len(mask) else cap


def _run(flag, k):
    """[start, end) of the run of equal ``flag`` values line k is in."""
    a = k
    while a > 0 and flag[a - 1] == flag[k]:
        a -= 1
    b = k
    while b < len(flag) - 1 and flag[b + 1] == flag[k]:
        b += 1
    return a, b + 1


def _reference_global(fx, pages):
    """The page-level block, feature by feature, line by line."""
    X = fx.transform(pages)
    col = {name: X[:, i] for i, name in enumerate(fx.feature_names)}
    cfg, cap, w = fx.config, fx.config.max_distance, fx.config.context_window
    appeal_cols = [f"phrase_{c}" for c in cfg.appeal_categories if f"phrase_{c}" in col]
    langs = fx.page_languages(pages)
    rows, first = [], 0
    for page, lang in zip(pages, langs, strict=True):
        n = len(page.lines)
        line = range(first, first + n)
        phrase = [col["phrase_count"][i] > 0 for i in line]
        appeal = [sum(col[c][i] for c in appeal_cols) > 0 for i in line]
        short = [col["short"][i] > 0 for i in line]
        noterm = [col["ends_terminal"][i] == 0 for i in line]
        empty = [col["empty"][i] > 0 for i in line]
        keys = [" ".join(x.lower().split()) for x in page.lines]
        chars = [len(x) for x in page.lines]

        words = [col["n_words"][i] for i in line]
        total = max(sum(chars), 1)
        for k in range(n):
            lo, hi = max(k - w, 0), min(k + w + 1, n)
            sa, sb = _run(short, k)
            ta, tb = _run(noterm, k)
            same = [j for j in range(n) if keys[j] == keys[k]]
            nw = sum(words)
            term = [col["ends_terminal"][i] for i in line if col["empty"][i] == 0]
            rows.append(
                [
                    _dist(phrase, k, -1, cap),
                    _dist(phrase, k, 1, cap),
                    _dist(appeal, k, -1, cap),
                    _dist(appeal, k, 1, cap),
                    sum(appeal[lo : k + 1]),
                    sum(appeal[k:hi]),
                    sum(appeal[k:]) / (n - k),
                    k,
                    k / max(n - 1, 1),
                    n - 1 - k,
                    np.log1p(n),
                    sum(chars[:k]) / total,
                    sum(chars[k + 1 :]) / total,
                    sb - sa if short[k] else 0,
                    k - sa,
                    tb - ta if noterm[k] else 0,
                    sum(words[sa:sb]) / (sb - sa),
                    0 if empty[k] else len(same),
                    0 if empty[k] else same.index(k),
                    sum(col["stopword_count"][i] for i in line) / nw if nw else 0.0,
                    sum(term) / len(term) if term else 0.0,
                    np.mean([col["log_chars"][i] for i in line]),
                    1.0 if lang in SW.lists else 0.0,
                ]
            )
        first += n
    return np.array(rows)


def test_page_features_match_a_line_by_line_reference(fx):
    from bpclf.features import _GLOBAL_NAMES

    X = fx.transform(EDGE_PAGES)
    a = fx.feature_names.index(_GLOBAL_NAMES[0])
    got = X[:, a : a + len(_GLOBAL_NAMES)]
    want = _reference_global(fx, EDGE_PAGES)
    # exact except the page means of stopword shares and log lengths (other summation)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    approx = [_GLOBAL_NAMES.index(f) for f in ("page_stopword_share", "page_mean_log_chars")]
    exact = [j for j in range(len(_GLOBAL_NAMES)) if j not in approx]
    np.testing.assert_array_equal(got[:, exact], want[:, exact])


def test_context_block_matches_a_line_by_line_reference(fx):
    X = fx.transform(EDGE_PAGES)
    sizes = [len(p.lines) for p in EDGE_PAGES]
    page_of = np.repeat(np.arange(len(sizes)), sizes)
    for d in fx._offsets:
        for f in fx.config.context_features:
            got = X[:, fx.feature_names.index(f"{f}@{d:+d}")]
            own = X[:, fx.feature_names.index(f)]
            want = [
                own[i + d] if 0 <= i + d < len(own) and page_of[i + d] == page_of[i] else -1.0
                for i in range(len(own))
            ]
            np.testing.assert_array_equal(got, want)


def test_neighbour_features_match_a_line_by_line_reference():
    from bpclf.features import neighbour_features

    rng = np.random.default_rng(0)
    sizes = [1, 4, 0, 2, 7, 1]
    values = rng.integers(-8, 9, size=sum(sizes)) / 4  # exact sums: any order agrees
    for window in (1, 2, 5):
        X, names = neighbour_features(values, sizes, window, missing=-3.0)
        assert X.shape == (len(values), len(names)) == (len(values), 2 * window + 4)
        first = 0
        for size in sizes:
            page = values[first : first + size]
            for k in range(size):
                near = [page[k + d] if 0 <= k + d < size else -3.0 for d in range(-window, 0)]
                near += [page[k + d] if k + d < size else -3.0 for d in range(1, window + 1)]
                before = page[max(k - window, 0) : k]
                after = page[k + 1 : k + window + 1]
                want = [page[k], *near]
                want += [before.mean() if len(before) else -3.0]
                want += [after.mean() if len(after) else -3.0, page.mean()]
                np.testing.assert_array_equal(X[first + k], want)
            first += size
    empty, names = neighbour_features(np.zeros(0), [], 2)
    assert empty.shape == (0, len(names)) == (0, 8)


def test_neighbour_means_do_not_depend_on_the_other_pages_of_the_batch():
    """Window and page means sum the page's own values in line order, so a page gets
    the same bits alone as after pages whose large values would leave their rounding in
    a running sum over the batch."""
    from bpclf.features import neighbour_features

    rng = np.random.default_rng(1)
    sizes = np.array([3, 1, 6, 2])
    values = rng.normal(size=sizes.sum()) * np.repeat([1e6, 1.0, 1e-3, 7.0], sizes)
    X, _ = neighbour_features(values, sizes, 2)
    page = np.repeat(np.arange(len(sizes)), sizes)
    first = (np.cumsum(sizes) - sizes)[page]
    end = first + sizes[page]
    for i in range(len(values)):
        lo, hi = max(i - 2, first[i]), min(i + 3, end[i])
        before = sum(values[lo:i], 0.0) / (i - lo) if i > lo else -1.0
        after = sum(values[i + 1 : hi], 0.0) / (hi - i - 1) if hi - i > 1 else -1.0
        mean = sum(values[first[i] : end[i]], 0.0) / sizes[page[i]]
        assert X[i, -3:].tolist() == [before, after, mean]
    start = 0
    for size in sizes:
        alone, _ = neighbour_features(values[start : start + size], [size], 2)
        np.testing.assert_array_equal(alone, X[start : start + size])
        start += size


def _reference_base(fx, stats, sw, ph_count, ph_cover, ph_cat, tokens):
    """The base columns from the scanner's outputs, as numpy formulas (the
    specification of kernels.base_block)."""
    from bpclf import kernels

    st = {name: stats[:, i] for i, name in enumerate(kernels.STAT_NAMES)}
    chars, words, letters = st["n_chars"], st["n_words"], st["letters"]
    denom = np.maximum(chars, 1)
    f = {
        "log_chars": np.log1p(chars),
        "n_words": words,
        "mean_word_len": st["word_chars"] / np.maximum(words, 1),
        "upper_share": st["upper"] / np.maximum(letters, 1),
        "title_share": st["title_words"] / np.maximum(words, 1),
        "stopword_count": sw,
        "stopword_share": sw / np.maximum(words, 1),
        "phrase_count": ph_count,
        "phrase_cover": ph_cover / denom,
        "short": (words <= fx.config.short_line_words).astype(float),
        "empty": (words == 0).astype(float),
    }
    for name, stat in [("letter", "letters"), ("digit", "digits"), ("punct", "punct"),
                       ("space", "space"), ("symbol", "symbol")]:  # fmt: skip
        f[f"{name}_share"] = st[stat] / denom
    for name in ("separators", "starts_upper", "starts_digit", "starts_bullet",
                 "ends_terminal", "ends_colon", "ends_other_punct", "sentence_ends",
                 "glued_sentences"):  # fmt: skip
        f[name] = st[name]
    for i, kind in enumerate(kernels.TOKEN_KINDS):
        f[f"{kind}_count"] = tokens[:, i]
    appeal = np.zeros(len(chars))
    for i, c in enumerate(fx.lexicon.categories):
        f[f"phrase_{c}"] = ph_cat[:, i]
        if c in fx.config.appeal_categories:
            appeal += ph_cat[:, i]
    f["appeal_phrase"] = (appeal > 0).astype(float)
    return np.column_stack([f[name] for name in fx.base_names])


def test_base_block_follows_the_formulas(fx, monkeypatch):
    from bpclf import kernels

    pages = [
        PAGE,
        Page("b", ["", "   ", "ÄÖÜ ß 12:30 €5 www.x.de", "Support us. Privacy policy!"]),
        Page("c", ["x" * 50, "1 2 3 4 5", "Home Home Home"], lang="de"),
    ]
    seen = {}
    scan = kernels.scan_batch

    def keep(*args):
        seen["out"] = scan(*args)
        return seen["out"]

    monkeypatch.setattr(kernels, "scan_batch", keep)
    X = fx.transform(pages)
    stats, sw, ph_count, ph_cover, ph_cat, tokens, _ = seen["out"]
    expected = _reference_base(fx, stats, sw, ph_count, ph_cover, ph_cat, tokens)
    np.testing.assert_array_equal(X[:, : len(fx.base_names)], expected)
    assert expected[:, fx.base_names.index("appeal_phrase")].sum() >= 2


def _reference_profile(fx, X, lay):
    """The page-profile columns as numpy formulas (the specification of
    kernels.profile_block)."""
    names = fx.feature_names
    col = {name: X[:, names.index(name)] for name in names}
    cp = lay.cp

    def before(end, k):  # the k-th character before each end, 0 before the text
        i = end - k
        return np.where(i >= 0, cp[np.maximum(i, 0)], 0) if len(cp) else np.zeros(len(end))

    filled_line = lay.ends > lay.starts
    end = np.where((before(lay.ends, 1) == ord("]")) & filled_line, lay.ends - 1, lay.ends)
    last = before(end, 1)
    dots = (last == ord(".")) & (before(end, 2) == ord(".")) & (before(end, 3) == ord("."))
    ellipsis = (filled_line & ((last == 0x2026) | dots)).astype(np.float64)
    filled = (col["n_words"] > 0).astype(np.float64)
    shares = [col["short"], col["repeat_count"] > 1, col["starts_bullet"],
              col["date_count"] > 0, col["url_count"] > 0, col["phrase_count"] > 0,
              col["title_share"] > 0.5, ellipsis]  # fmt: skip

    def page_sum(values):
        return np.bincount(lay.page, weights=values, minlength=lay.n_pages)

    den = np.maximum(page_sum(filled), 1.0)
    cols = [(page_sum(np.asarray(v, dtype=np.float64) * filled) / den)[lay.page] for v in shares]
    deviation = col["log_chars"] - col["page_mean_log_chars"]
    std = np.sqrt(page_sum(deviation**2)[lay.page] / lay.page_len)
    return np.column_stack([*cols, std, ellipsis])


def test_profile_block_follows_the_formulas():
    from bpclf.features import PROFILE_NAMES

    fx = FeatureExtractor(FeatureConfig(page_profile=True), LEX, SW)
    pages = [
        PAGE,
        Page("teasers", ["Read on...", "More …", "[…]", "Cut here...]", "..", "", "- News"]),
        Page("empty", []),
        Page("one", ["…"]),
        Page("blank", ["", " "]),
        Page("dated", ["12 May 2020", "www.x.org", "Home", "Home", "A B C D E F"], lang="en"),
    ]
    X = fx.transform(pages)
    lay = fx.layout(pages)
    got = X[:, [fx.feature_names.index(n) for n in PROFILE_NAMES]]
    np.testing.assert_array_equal(got, _reference_profile(fx, X, lay))
    assert got[:, PROFILE_NAMES.index("ends_ellipsis")].sum() == 5
