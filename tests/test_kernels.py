"""The compiled kernels: hash tables, tokens, line keys and tree walks.

The token scanner replaced one regex alternation; that regex is kept here as the
specification, and the scanner must count exactly what ``re.finditer`` over it counts,
on hand-picked lines and on generated ones.
"""

import re
import unicodedata

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bpclf import charclass as cc
from bpclf import kernels
from bpclf.features import _CURRENCY_WORDS, _MONTHS, _TLDS, _token_table

_M = "|".join(sorted(_MONTHS, key=len, reverse=True))
_T = "|".join(_TLDS)
_C = "|".join(_CURRENCY_WORDS)
#: The regex the token scanner implements (first matching alternative wins).
SPEC = re.compile(
    r"(?P<email>(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+)"
    rf"|(?P<url>(?:https?://|www\.)\S+|(?<![\w-])[\w-]+\.(?:{_T})\b(?:/\S*)?)"
    r"|(?P<date>\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b"
    rf"|\b\d{{1,2}}\.?[^\S\n]+(?:{_M})\b|\b(?:{_M})[^\S\n]+\d{{1,2}}\b|\b(?:19|20)\d\d\b)"
    r"|(?P<time>\b\d{1,2}[:.]\d{2}(?:[^\S\n]?[ap]\.?m\b\.?)?(?!\d))"
    r"|(?P<phone>\+?\d[\d ()/-]{7,}\d)"
    rf"|(?P<currency>[$€£¥₽₹]|\b(?:{_C})\b)"
    r"|(?P<count>\b\d+[^\S\n]+(?:comments?|replies|likes?|views?|shares?|votes?|reviews?"
    r"|followers?|kommentare?|kommentarer|kommenttia?|commentaires?|comentarios?|commenti"
    r"|comentários|reacties|komentarz[ye]?|комментари\w*|ответ\w*)\b)",
    re.IGNORECASE,
)


def spec_counts(line: str) -> list[int]:
    counts = [0] * len(kernels.TOKEN_KINDS)
    for m in SPEC.finditer(line):
        counts[kernels.TOKEN_KINDS.index(m.lastgroup)] += 1
    return counts


def _scan_tokens(lines: list[str], with_words: bool) -> list[list[int]]:
    """Token counts of the scanner, told the words of the statistics pass (as in
    scan_batch: plain words are not walked) or not (every word walked)."""
    cp, starts, ends = cc.layout(lines)
    slots, index, shapes = _token_table()
    out = np.zeros((len(lines), len(kernels.TOKEN_KINDS)))
    chars = (cc.class_table(), cc.flag_table(), cc.lower_table())
    row = np.zeros(kernels.N_STATS)
    for i in range(len(lines)):
        *w, plain = _stats_words(cp, starts[i], ends[i], chars, row)
        m = len(plain) if with_words else 0
        words = (w[0], w[1], plain, m)
        kernels._tokens(cp, starts[i], ends[i], *chars, slots, index, shapes, words, out[i])
    return out.astype(int).tolist()


def _stats_words(cp, s, e, chars, row):
    """The statistics pass's word starts, ends, hashes and plain flags of line [s, e)."""
    size = e - s + 1
    w = (*kernels._word_buffers(size), np.zeros(size, dtype=np.bool_))
    _, m = kernels._char_stats(cp, s, e, *chars, row, *w)
    return tuple(a[:m] for a in w)


def scanner_counts(lines: list[str]) -> list[list[int]]:
    counts = _scan_tokens(lines, with_words=True)
    assert counts == _scan_tokens(lines, with_words=False)  # the walk finds the same
    return counts


LINES = [
    "Mail me at jo.smith+news@example.co.uk or see www.example.org/about today",
    "http://x.de/a?b=1 and https://y.com, sub.example.com, my-site.info, x.comx, a.co2",
    "Posted 12.03.2021 at 10:45, 3/4/21, 2021-11-30 and 12345.6.7",
    "12 May 2020, 3. März, May 12, Mai 2019, 1999, 20211, 10:30 am, 9.15p.m., 10:456",
    "Call +49 (0)30 1234-5678 or 030/1234567; 1234567 is short; abc123456789x",
    "Price: €20 or 25 USD, 100 kr, zł 5, $5; 1,234 comments, 5 likes, 7 ответов",
    "12 комментариев, 3 Kommentare, 4 reviews_, 1 comment.",
    "user@host no tld @ alone a@b.c trailing.@x.y",
    "Tel. 0800 123 456 78 — Fax: 0800-123-45-67",
    "inside words: whttp://a.b ahttps://q.c thewww.x.org XHTTP://Y.Z hhttp:// wwwwx www",
    "with the show, http, htt://, wwhat; ahttp; 12abc34 5678901234",
    "marks: Cafe\u0301May 12, e\u0301www.x.org, a\u0301http://b.c, x\u0301\u0301 3 likes",
    "",
    "   ",
]


def test_scanner_counts_what_the_regex_counts():
    assert scanner_counts(LINES) == [spec_counts(x) for x in LINES]


def test_every_month_and_currency_word_passes_the_shape_filter():
    # The filter only lets the scanner skip words no set can hold: each word of the sets,
    # in any case and wherever it stands, is still found.
    words = sorted(set(_MONTHS) | set(_CURRENCY_WORDS))
    lines = [f"{w} 12, on {w.upper()} 3 and {w.title()}." for w in words]
    counts = scanner_counts(lines)
    assert counts == [spec_counts(x) for x in lines]
    kinds = kernels.TOKEN_KINDS
    assert all(c[kinds.index("date")] + c[kinds.index("currency")] >= 2 for c in counts)
    _, _, shapes = _token_table()
    assert 0 < shapes.sum() <= len(words)  # a filter, not everything let through


_alphabet = st.sampled_from(
    list("0123456789 ..:/-+()@$€_aAmMpPwWhHtTxX\t")
    + ["May", "mai", "com", "www.", "http://", "Jan", "usd", "kr", "comments", "ответов", "é"]
    + ["e\u0301", "\u0301", "٣", "Ｗ"]  # a combining mark inside or before a word, digits
)


@given(st.lists(st.lists(_alphabet, max_size=30).map("".join), min_size=1, max_size=5))
def test_scanner_matches_the_regex_on_generated_lines(lines):
    assert scanner_counts(lines) == [spec_counts(x) for x in lines]


def test_hash_table_finds_every_key_and_nothing_else():
    rng = np.random.default_rng(0)
    keys = rng.integers(1, 2**63, size=500, dtype=np.int64).astype(np.uint64)
    keys[10] = keys[3]  # a duplicate: its first position is reported
    slots, index = kernels.build_table(keys)
    assert len(slots) & (len(slots) - 1) == 0 and len(slots) > 2 * len(keys)
    for i, k in enumerate(keys):
        assert kernels._lookup(slots, index, k) == (3 if i == 10 else i)
    absent = rng.integers(1, 2**63, size=500, dtype=np.int64).astype(np.uint64)
    absent = absent[~np.isin(absent, keys)]
    assert all(kernels._lookup(slots, index, k) == -1 for k in absent)


def test_key_filter_passes_every_key_and_few_others():
    from bpclf.phrases import Lexicon
    from bpclf.stopwords import Stopwords

    rng = np.random.default_rng(1)
    keys = rng.integers(1, 2**64 - 1, size=2000, dtype=np.uint64)
    slots, _ = kernels.build_table(keys)
    bits = kernels.key_filter(slots)
    assert all(kernels._may_hold(bits, k) for k in keys)
    others = rng.integers(1, 2**64 - 1, size=5000, dtype=np.uint64)
    assert np.mean([kernels._may_hold(bits, k) for k in others]) < 0.1  # ~3% expected
    # the tables the scanner reads carry their filter
    sw = Stopwords.from_dict({"en": ["the", "of"], "de": ["der"]}).table
    assert np.array_equal(sw.filter, kernels.key_filter(sw.slots))
    table = Lexicon.from_rows([("support us", "en", "appeal")]).table
    assert table.args()[2] is table.filter


def test_word_sequence_keys_depend_on_words_and_gaps():
    lines = ["Sign  in", "sign\tin", "SIGN IN now", "sign-in", "signin", "sign, in"]
    cp, starts, ends = cc.layout(lines)
    keys, n_words = kernels.word_sequence_keys(
        cp, starts, ends, cc.class_table(), cc.lower_table(), 3
    )
    assert n_words.tolist() == [2, 2, 3, 2, 1, 2]
    two = keys[:, 1].tolist()
    assert two[0] == two[1] == two[2]  # case and whitespace runs do not matter
    assert len({two[0], two[3], two[5]}) == 3  # "-" and ", " are other gaps
    assert keys[4, 0] != keys[0, 1] and keys[4, 1] == 0


def test_line_keys_normalise_case_digits_and_spaces():
    lines = ["Posted 12 May  2020 ", "posted 7 may 1999", "Posted 12 May", "  "]
    cp, starts, ends = cc.layout(lines)
    tables = (cc.class_table(), cc.flag_table(), cc.lower_table())
    row = np.zeros(kernels.N_STATS)
    size = len(cp) + 1
    words = (*kernels._word_buffers(size), np.zeros(size, dtype=np.bool_))
    keys = [kernels._char_stats(cp, starts[i], ends[i], *tables, row, *words)[0] for i in range(4)]
    assert keys[0] == keys[1] != keys[2] and keys[3] != keys[0]


def _words_of(cp, s, e, tables, size):
    """(start, end, hash) of each word of line [s, e) as :func:`kernels._words` finds them."""
    w = kernels._word_buffers(size)
    m = kernels._words(cp, s, e, tables[0], tables[2], *w)
    return [(int(w[0][k]), int(w[1][k]), int(w[2][k])) for k in range(m)]


@given(st.lists(st.sampled_from(list("ab Ö_é\u0301 1٣.,-’\t\u00a0𝐀𠀀")), max_size=30).map("".join))
def test_statistics_pass_finds_the_words_of_words(line):
    # scan_batch takes the words for stopwords and phrases from the statistics pass:
    # they must be those _words gives (underscores and marks inside, digits, astral).
    lines = [line, "use_only_cookies 12ab Ünïcode ’s", "", line + "x", "a\u0301b w1 thaw x\u0301"]
    cp, starts, ends = cc.layout(lines)
    tables = (cc.class_table(), cc.flag_table(), cc.lower_table())
    row = np.zeros(kernels.N_STATS)
    size = len(cp) + 1
    for i in range(len(lines)):
        w_start, w_end, w_hash, plain = _stats_words(cp, starts[i], ends[i], tables, row)
        got = [(int(a), int(b), int(h)) for a, b, h in zip(w_start, w_end, w_hash, strict=True)]
        assert got == _words_of(cp, starts[i], ends[i], tables, size)
        text = cp.tobytes().decode("utf-32-le", "surrogatepass")
        expected = [_plain(text[a:b]) for a, b in zip(w_start, w_end, strict=True)]
        assert plain.tolist() == expected


def _plain(word: str) -> bool:
    """No combining mark, and after the first character no decimal digit and nothing
    that lower-cases to h or w: no token can start inside the word."""
    low = cc.lower_table()
    if any(unicodedata.category(ch).startswith("M") for ch in word):
        return False
    return not any(  # the scanner's tables cover the BMP: astral digits are no digits
        ord(ch) < 0x10000 and (ch.isdecimal() or low[ord(ch)] in (ord("h"), ord("w")))
        for ch in word[1:]
    )
