"""Compiled inner loops: one pass over the code points of a whole batch of lines.

Feature extraction and tree evaluation are the hot path of ``bpclf predict`` over
billions of lines. Doing them as numpy passes plus a dozen regex scans cost ~90 µs per
line; here they are plain loops compiled by numba (``cache=True``: compiled once per
installation, then loaded from the cache), so every character is looked at a handful of
times and no Python code runs per line, word or match.

What is computed per line:

* character statistics (:data:`STAT_NAMES`): counts of letters, digits, ... and the
  first/last significant character, sentence ends, glued sentences;
* words (maximal runs of letters, digits and combining marks), hashed after lower-casing
  (64-bit FNV-1a over code points) and matched against open-addressing hash tables:
  stopwords of the page language, and lexicon phrases as word sequences (the gaps between
  words are part of the key: a run of spaces, ``-`` or an apostrophe), longest match
  first, non-overlapping, left to right;
* tokens (URL, e-mail, date, time, phone, currency, "N comments"), found by a scanner
  that follows the leftmost-first semantics of the regex alternation it replaced
  (documented in :func:`_token_at`);
* a key of the normalised line (lower-case, digit runs as ``0``, spaces collapsed) for
  "this line already occurred on the page".

Tables are built by :func:`build_table` from keys computed by the same code
(:func:`word_sequence_keys`), so Python and the kernels can never disagree about a hash.
All arithmetic on hashes is uint64 and wraps; everything is deterministic.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from bpclf.charclass import (
    DIGIT,
    F_BULLET,
    F_CLOSER,
    F_CURRENCY,
    F_DEC,
    F_HW,
    F_SEP,
    F_TERM,
    LETTER,
    LOWER,
    MARK,
    PUNCT,
    SPACE,
    SYMBOL,
    UPPER,
)

_OFFSET = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)
_GAP_SALT = np.uint64(0x9E3779B97F4A7C15)
_SET_SALT = np.uint64(0xC2B2AE3D27D4EB4F)
_ONE = np.uint64(1)
#: Characters packed side by side, 21 bits each (every code point fits): word shapes
#: (:func:`_shape`, times an odd constant: multiply-shift hashing) and the n-gram window
#: (:func:`_line_ngrams`).
_S21 = np.uint64(21)
_S42 = np.uint64(42)
_SHAPE_MUL = np.uint64(0x9E3779B97F4A7C15)

#: Decorator of the helpers that allocate nothing. They run without numba's
#: reference-counting runtime: with it, every call of a helper with array arguments
#: increments and decrements each array's count atomically (the pruning pass cannot
#: remove the pairs in functions with many branches), ~20 ns per array per call, which
#: was a third of the token scanner's time. Safe because a helper only reads or writes
#: arrays its caller holds, and never returns or keeps one.
_helper = njit(cache=True, _nrt=False)

#: Columns of the character-statistics block returned by :func:`scan_batch`.
STAT_NAMES = (
    "n_chars",
    "n_words",
    "word_chars",
    "letters",
    "digits",
    "punct",
    "space",
    "symbol",
    "upper",
    "title_words",
    "separators",
    "starts_upper",
    "starts_digit",
    "starts_bullet",
    "ends_terminal",
    "ends_colon",
    "ends_other_punct",
    "sentence_ends",
    "glued_sentences",
)
N_STATS = len(STAT_NAMES)

#: Token kinds, in the order the scanner tries them at each position.
TOKEN_KINDS = ("email", "url", "date", "time", "phone", "currency", "count")

#: Word-set ids of the token scanner's table (built by bpclf.features._token_table).
SET_MONTH, SET_TLD, SET_CURRENCY, SET_COUNT, SET_COUNT_PREFIX = 1, 2, 3, 4, 5
#: Lengths (in characters) of the prefixes in SET_COUNT_PREFIX ("комментари", "ответ").
COUNT_PREFIX_LENGTHS = np.array([5, 10], dtype=np.int64)
#: Size (bits of the index) of the shape filter of the words that can start a token
#: (month names, currency words): see :func:`shape_filter`.
SHAPE_BITS = 12
_SHAPE_SHIFT = np.uint64(64 - SHAPE_BITS)


# ---------------------------------------------------------------------------- tables


@_helper
def _mix(h, v):
    return (h ^ v) * _PRIME


@_helper
def _salted(h, salt):
    """Key of ``h`` inside a numbered set or language (0 is reserved for empty slots)."""
    k = _mix(_mix(_OFFSET, h), np.uint64(salt) * _SET_SALT + _ONE)
    return k if k != 0 else _ONE


@njit(cache=True)
def build_table(keys):
    """Open-addressing table (power-of-two size, linear probing) of nonzero uint64 keys.

    Returns (slots, index): ``slots[s]`` is a key or 0, ``index[s]`` the position of that
    key in ``keys`` (first occurrence), -1 for empty slots.
    """
    size = 16
    while size < 2 * len(keys) + 1:
        size *= 2
    slots = np.zeros(size, dtype=np.uint64)
    index = np.full(size, -1, dtype=np.int64)
    mask = np.uint64(size - 1)
    for i in range(len(keys)):
        k = keys[i]
        s = np.int64(k & mask)
        while slots[s] != 0 and slots[s] != k:
            s = (s + 1) & (size - 1)
        if slots[s] == 0:
            slots[s] = k
            index[s] = i
    return slots, index


#: log2 of the bits of a table's key filter (:func:`key_filter`): 8 KB, first-level cache.
FILTER_BITS = 16
_FILTER_SHIFT = np.uint64(64 - FILTER_BITS)
_SIX = np.uint64(6)
_LOW6 = np.uint64(63)


@njit(cache=True)
def key_filter(slots):
    """A bitset of the top :data:`FILTER_BITS` bits of a table's keys: a key whose bit
    is clear is not in the table, found without touching the table (most words are in
    neither the stopword nor the phrase table, and those tables do not fit the
    first-level cache)."""
    bits = np.zeros((1 << FILTER_BITS) >> 6, dtype=np.uint64)
    for k in slots:
        if k != 0:
            b = k >> _FILTER_SHIFT
            bits[b >> _SIX] |= _ONE << (b & _LOW6)
    return bits


@_helper
def _may_hold(bits, k):
    """False when ``k`` is certainly not a key of the table ``bits`` was built from."""
    b = k >> _FILTER_SHIFT
    return ((bits[b >> _SIX] >> (b & _LOW6)) & _ONE) != 0


@_helper
def _lookup(slots, index, k):
    """Position (in the keys the table was built from) of ``k``, or -1."""
    mask = np.uint64(len(slots) - 1)
    s = np.int64(k & mask)
    while slots[s] != 0:
        if slots[s] == k:
            return index[s]
        s = (s + 1) & (len(slots) - 1)
    return -1


# --------------------------------------------------------------------- code points


@_helper
def _cls(cls_table, c):
    if c < 0x10000:
        return cls_table[c]
    if 0x20000 <= c < 0x40000:  # CJK extensions: letters; everything else up there: symbols
        return LETTER
    return SYMBOL


@_helper
def _flg(flag_table, c):
    return flag_table[c] if c < 0x10000 else 0


@_helper
def _low(lower_table, c):
    return lower_table[c] if c < 0x10000 else c


@_helper
def _space(cls_table, c):
    return (_cls(cls_table, c) & SPACE) != 0


@_helper
def _dec(flag_table, c):
    """A decimal digit (regex \\d)."""
    return (_flg(flag_table, c) & F_DEC) != 0


@_helper
def _is_word(b):
    return (b & (LETTER | DIGIT | MARK)) != 0


@_helper
def _in_word(cls_table, c):
    """Characters of the words that stopwords and phrases are matched on: letters,
    digits, combining marks and the underscore ("use_only_cookies" is one word)."""
    return c == 95 or _is_word(_cls(cls_table, c))


@_helper
def _word_hash(cp, a, b, lower_table):
    """Hash of the lower-cased code points [a, b): a word's key before salting."""
    h = _OFFSET
    for p in range(a, b):
        h = _mix(h, np.uint64(_low(lower_table, cp[p])))
    return h


@_helper
def _words(cp, s, e, cls_table, lower_table, w_start, w_end, w_hash):
    """Words of line [s, e): fills the arrays (start, end, hash), returns their number."""
    n = 0
    i = s
    while i < e:
        if not _in_word(cls_table, cp[i]):
            i += 1
            continue
        j = i
        h = _OFFSET  # _word_hash(cp, i, j, lower_table), in the same walk
        while j < e and _in_word(cls_table, cp[j]):
            h = _mix(h, np.uint64(_low(lower_table, cp[j])))
            j += 1
        w_start[n] = i
        w_end[n] = j
        w_hash[n] = h
        n += 1
        i = j
    return n


@_helper
def _gap_key(cp, a, b, cls_table):
    """Key of the gap [a, b) between two words (whitespace runs count as one space, the
    apostrophe ’ as '). Computed only when a phrase key is extended past a word, which
    few words need."""
    g = _GAP_SALT
    in_space = False
    for p in range(a, b):
        c = cp[p]
        if _space(cls_table, c):
            in_space = True
            continue
        if in_space:
            g = _mix(g, np.uint64(32))
            in_space = False
        if c == 0x2019:
            c = 39
        g = _mix(g, np.uint64(c))
    if in_space:
        g = _mix(g, np.uint64(32))
    return g


@njit(cache=True)
def _word_buffers(size):
    """Scratch arrays for :func:`_words` (starts, ends, hashes) of ``size`` words."""
    return (
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.int64),
        np.empty(size, dtype=np.uint64),
    )


@_helper
def _extend(key, gap, word):
    """Key of a word sequence after appending ``gap`` and ``word``."""
    return _mix(_mix(key, gap), word)


@njit(cache=True)
def word_sequence_keys(cp, starts, ends, cls_table, lower_table, max_words):
    """Keys of every prefix (1..max_words words) of each line, for building tables.

    Returns (keys, n_words): ``keys[i, k-1]`` is the key of the first k words of line i
    (0 beyond its length), ``n_words[i]`` its number of words.
    """
    n = len(starts)
    keys = np.zeros((n, max_words), dtype=np.uint64)
    n_words = np.zeros(n, dtype=np.int64)
    size = max(len(cp), 1)
    w_start, w_end, w_hash = _word_buffers(size)
    for i in range(n):
        m = _words(cp, starts[i], ends[i], cls_table, lower_table, w_start, w_end, w_hash)
        n_words[i] = m
        key = _mix(_OFFSET, w_hash[0]) if m else _OFFSET
        for k in range(min(m, max_words)):
            if k:
                key = _extend(key, _gap_key(cp, w_end[k - 1], w_start[k], cls_table), w_hash[k])
            keys[i, k] = key if key != 0 else _ONE
    return keys, n_words


@njit(cache=True)
def word_keys(cp, starts, ends, cls_table, lower_table, salts):
    """Salted keys of single-word lines (stopword lists, token word sets).

    Line i must be one word; its key is its hash salted with ``salts[i]`` (the language or
    set id). Lines that are not exactly one word get key 0 (callers drop them).
    """
    n = len(starts)
    out = np.zeros(n, dtype=np.uint64)
    size = max(len(cp), 1)
    w_start, w_end, w_hash = _word_buffers(size)
    for i in range(n):
        m = _words(cp, starts[i], ends[i], cls_table, lower_table, w_start, w_end, w_hash)
        if m == 1:
            out[i] = _salted(w_hash[0], salts[i])
    return out


@_helper
def _shape(first, last, length):
    """Slot of a word's shape (lower-cased first and last character, length) in the
    filter of :func:`shape_filter`."""
    h = (np.uint64(first) << _S42) | (np.uint64(last) << _S21) | np.uint64(length & 0x1FFFFF)
    return np.int64((h * _SHAPE_MUL) >> _SHAPE_SHIFT)


@njit(cache=True)
def shape_filter(cp, starts, ends, cls_table, lower_table):
    """Shapes of single-word lines (the month names and currency words of the token
    scanner): 1 in every slot :func:`_shape` gives one of them.

    A word can only be in such a set when its lower-cased characters are those of one of
    its words, so it has that word's shape: the scanner hashes a word and looks it up
    only when its shape slot is set (most words: not), and finds exactly what the
    lookups alone found.
    """
    out = np.zeros(1 << SHAPE_BITS, dtype=np.uint8)
    size = max(len(cp), 1)
    w_start, w_end, w_hash = _word_buffers(size)
    for i in range(len(starts)):
        m = _words(cp, starts[i], ends[i], cls_table, lower_table, w_start, w_end, w_hash)
        if m == 1:
            a = w_start[0]
            b = w_end[0]
            out[_shape(_low(lower_table, cp[a]), _low(lower_table, cp[b - 1]), b - a)] = 1
    return out


# -------------------------------------------------------------------------- tokens


@_helper
def _rx_w(cls_table, c):
    """Python regex \\w: letters, digits (any numeric) and the underscore."""
    return (_cls(cls_table, c) & (LETTER | DIGIT)) != 0 or c == 95


@_helper
def _word_end(cp, p, e, cls_table):
    """End of the regex-\\w run starting at p."""
    q = p
    while q < e and _rx_w(cls_table, cp[q]):
        q += 1
    return q


@_helper
def _in_set(cp, a, b, lower_table, slots, index, set_id):
    return _lookup(slots, index, _salted(_word_hash(cp, a, b, lower_table), set_id)) >= 0


@_helper
def _dec_run(cp, p, e, flag_table):
    q = p
    while q < e and _dec(flag_table, cp[q]):
        q += 1
    return q


@_helper
def _email_local(cls_table, c):
    return _rx_w(cls_table, c) or c == 46 or c == 43 or c == 45


@_helper
def _email(cp, p, s, e, cls_table):
    # (?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+
    if not _email_local(cls_table, cp[p]) or (p > s and _email_local(cls_table, cp[p - 1])):
        return -1
    q = p
    while q < e and _email_local(cls_table, cp[q]):
        q += 1
    if q >= e or cp[q] != 64:
        return -1
    r = q + 1
    while r < e and (_rx_w(cls_table, cp[r]) or cp[r] == 45):
        r += 1
    if r == q + 1 or r >= e or cp[r] != 46:
        return -1
    t = r + 1
    while t < e and (_rx_w(cls_table, cp[t]) or cp[t] == 46 or cp[t] == 45):
        t += 1
    return t if t > r + 1 else -1


@_helper
def _starts_with(cp, p, e, lower_table, lit):
    if p + len(lit) > e:
        return False
    for k in range(len(lit)):
        if _low(lower_table, cp[p + k]) != lit[k]:
            return False
    return True


_HTTP = np.array([ord(c) for c in "http://"], dtype=np.uint32)
_HTTPS = np.array([ord(c) for c in "https://"], dtype=np.uint32)
_WWW = np.array([ord(c) for c in "www."], dtype=np.uint32)


@_helper
def _url(cp, p, s, e, cls_table, lower_table, slots, index):
    # (?:https?://|www\.)\S+
    for lit in (_HTTP, _HTTPS, _WWW):
        if _starts_with(cp, p, e, lower_table, lit):
            q = p + len(lit)
            r = q
            while r < e and not _space(cls_table, cp[r]):
                r += 1
            if r > q:
                return r
    # (?<![\w-])[\w-]+\.(?:TLD)\b(?:/\S*)?
    c = cp[p]
    if not (_rx_w(cls_table, c) or c == 45):
        return -1
    if p > s and (_rx_w(cls_table, cp[p - 1]) or cp[p - 1] == 45):
        return -1
    q = p
    while q < e and (_rx_w(cls_table, cp[q]) or cp[q] == 45):
        q += 1
    if q >= e or cp[q] != 46:
        return -1
    r = _word_end(cp, q + 1, e, cls_table)
    if r == q + 1 or not _in_set(cp, q + 1, r, lower_table, slots, index, SET_TLD):
        return -1
    if r < e and cp[r] == 47:
        r += 1
        while r < e and not _space(cls_table, cp[r]):
            r += 1
    return r


@_helper
def _date(cp, p, s, e, cls_table, flag_table, lower_table, slots, index):
    at_boundary = p == s or not _rx_w(cls_table, cp[p - 1])
    if not at_boundary:
        return -1
    if _dec(flag_table, cp[p]):
        # \d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b
        a = _dec_run(cp, p, e, flag_table)
        if a - p <= 4 and a < e and (cp[a] == 46 or cp[a] == 47 or cp[a] == 45):
            b = _dec_run(cp, a + 1, e, flag_table)
            if 1 <= b - a - 1 <= 2 and b < e and (cp[b] == 46 or cp[b] == 47 or cp[b] == 45):
                c = _dec_run(cp, b + 1, e, flag_table)
                if 1 <= c - b - 1 <= 4 and (c >= e or not _rx_w(cls_table, cp[c])):
                    return c
        # \d{1,2}\.?\s+MONTH\b
        if a - p <= 2:
            q = a
            if q < e and cp[q] == 46:
                q += 1
            r = q
            while r < e and _space(cls_table, cp[r]):
                r += 1
            if r > q:
                t = _word_end(cp, r, e, cls_table)
                if t > r and _in_set(cp, r, t, lower_table, slots, index, SET_MONTH):
                    return t
        # \b(?:19|20)\d\d\b
        if (
            a - p == 4
            and ((cp[p] == 49 and cp[p + 1] == 57) or (cp[p] == 50 and cp[p + 1] == 48))
            and (a >= e or not _rx_w(cls_table, cp[a]))
        ):
            return a
        return -1
    # \bMONTH\s+\d{1,2}\b
    t = _word_end(cp, p, e, cls_table)
    if t == p or not _in_set(cp, p, t, lower_table, slots, index, SET_MONTH):
        return -1
    r = t
    while r < e and _space(cls_table, cp[r]):
        r += 1
    if r == t:
        return -1
    d = _dec_run(cp, r, e, flag_table)
    if 1 <= d - r <= 2 and (d >= e or not _rx_w(cls_table, cp[d])):
        return d
    return -1


@_helper
def _time(cp, p, s, e, cls_table, flag_table, lower_table):
    # \b\d{1,2}[:.]\d{2}(?:\s?[ap]\.?m\b\.?)?(?!\d)
    if not _dec(flag_table, cp[p]) or (p > s and _rx_w(cls_table, cp[p - 1])):
        return -1
    a = _dec_run(cp, p, e, flag_table)
    if a - p > 2 or a >= e or not (cp[a] == 58 or cp[a] == 46):
        return -1
    q = a + 1
    if q + 2 > e or not _dec(flag_table, cp[q]):
        return -1
    if not _dec(flag_table, cp[q + 1]):
        return -1
    r = q + 2
    t = r
    if t < e and _space(cls_table, cp[t]):
        t += 1
    if t < e and (_low(lower_table, cp[t]) == 97 or _low(lower_table, cp[t]) == 112):
        t += 1
        if t < e and cp[t] == 46:
            t += 1
        if (
            t < e
            and _low(lower_table, cp[t]) == 109
            and (t + 1 >= e or not _rx_w(cls_table, cp[t + 1]))
        ):
            t += 1
            if t < e and cp[t] == 46:
                t += 1
            if t >= e or not _dec(flag_table, cp[t]):
                return t
    if r >= e or not _dec(flag_table, cp[r]):
        return r
    return -1


@_helper
def _phone(cp, p, e, flag_table):
    # \+?\d[\d ()/-]{7,}\d
    q = p + 1 if cp[p] == 43 else p
    if q >= e or not _dec(flag_table, cp[q]):
        return -1
    last = -1
    r = q + 1
    while r < e:
        c = cp[r]
        dec = _dec(flag_table, c)
        if not (dec or c == 32 or c == 40 or c == 41 or c == 47 or c == 45):
            break
        if dec and r - (q + 1) >= 7:
            last = r
        r += 1
    return last + 1 if last >= 0 else -1


@_helper
def _count(cp, p, s, e, cls_table, flag_table, lower_table, slots, index):
    # \b\d+\s+(?:comments?|...|комментари\w*|ответ\w*)\b
    if not _dec(flag_table, cp[p]) or (p > s and _rx_w(cls_table, cp[p - 1])):
        return -1
    a = _dec_run(cp, p, e, flag_table)
    r = a
    while r < e and _space(cls_table, cp[r]):
        r += 1
    if r == a:
        return -1
    t = _word_end(cp, r, e, cls_table)
    if t == r:
        return -1
    if _in_set(cp, r, t, lower_table, slots, index, SET_COUNT):
        return t
    for k in range(len(COUNT_PREFIX_LENGTHS)):
        m = COUNT_PREFIX_LENGTHS[k]
        if t - r >= m and _in_set(cp, r, r + m, lower_table, slots, index, SET_COUNT_PREFIX):
            return t
    return -1


#: The token scanner's entry point, inlined into its caller: called at every word start
#: and punctuation mark, the call itself (ten arguments, a tuple back) was ~10% of the
#: scanner's time. Inlining the other helpers measured no better, or worse.
@njit(cache=True, _nrt=False, inline="always")
def _token_at(cp, p, s, e, cls_table, flag_table, lower_table, slots, index, shapes, plain_end):
    """(kind, end) of the token starting at p, or (-1, -1); (-2, q) when p starts a word
    that starts no token, q being the first place after p where one could (the word's
    end, or where "http", "www" or a digit starts inside it). ``plain_end`` >= 0: p
    starts a word that ends there and inside which no token starts (known from the
    statistics pass), so it is not walked.

    Kinds are tried in :data:`TOKEN_KINDS` order and the first that matches wins, as in
    a regex alternation scanned left to right (``re.finditer``): a position inside an
    e-mail address is never looked at again, so it does not also count as a URL. Before
    each full test a cheap one rules out what cannot start here (a word not followed by
    ``.@+-`` cannot begin an e-mail address or a domain name, only words in the month or
    currency sets can begin those tokens, ...).
    """
    c = cp[p]
    w = _rx_w(cls_table, c)
    if not w:
        if c == 46 or c == 43 or c == 45:
            end = _email(cp, p, s, e, cls_table)
            if end > 0:
                return 0, end
        if c == 45:
            end = _url(cp, p, s, e, cls_table, lower_table, slots, index)
            if end > 0:
                return 1, end
        if c == 43:
            end = _phone(cp, p, e, flag_table)
            if end > 0:
                return 4, end
        if (_flg(flag_table, c) & F_CURRENCY) != 0:
            return 5, p + 1
        return -1, -1
    if p > s and _rx_w(cls_table, cp[p - 1]):
        # Inside a word only "http"/"www" and phone numbers can start.
        lc = _low(lower_table, c)
        if lc == 104 or lc == 119:
            end = _url(cp, p, s, e, cls_table, lower_table, slots, index)
            if end > 0:
                return 1, end
        if _dec(flag_table, c):
            end = _phone(cp, p, e, flag_table)
            if end > 0:
                return 4, end
        return -1, -1
    # The word's end, and the first place inside it where a token can start (what the
    # caller would otherwise look for in a second walk over the word).
    t = p + 1
    inner = -1
    if plain_end >= 0:
        t = plain_end
    else:
        while t < e and _rx_w(cls_table, cp[t]):
            if inner < 0 and _inner_start(cp, t, e, flag_table, lower_table):
                inner = t
            t += 1
    skip = inner if inner >= 0 else t
    nxt = cp[t] if t < e else 0
    if nxt == 46 or nxt == 43 or nxt == 45 or nxt == 64:
        end = _email(cp, p, s, e, cls_table)
        if end > 0:
            return 0, end
    lc = _low(lower_table, c)
    if nxt == 46 or nxt == 45 or lc == 104 or lc == 119:
        end = _url(cp, p, s, e, cls_table, lower_table, slots, index)
        if end > 0:
            return 1, end
    if _dec(flag_table, c):
        end = _date(cp, p, s, e, cls_table, flag_table, lower_table, slots, index)
        if end > 0:
            return 2, end
        end = _time(cp, p, s, e, cls_table, flag_table, lower_table)
        if end > 0:
            return 3, end
        end = _phone(cp, p, e, flag_table)
        if end > 0:
            return 4, end
        end = _count(cp, p, s, e, cls_table, flag_table, lower_table, slots, index)
        if end > 0:
            return 6, end
        return -1, -1
    if shapes[_shape(lc, _low(lower_table, cp[t - 1]), t - p)] == 0:
        return -2, skip  # not shaped like any month name or currency word
    h = _word_hash(cp, p, t, lower_table)
    if _lookup(slots, index, _salted(h, SET_MONTH)) >= 0:
        end = _date(cp, p, s, e, cls_table, flag_table, lower_table, slots, index)
        if end > 0:
            return 2, end
    if _lookup(slots, index, _salted(h, SET_CURRENCY)) >= 0:
        return 5, t
    return -2, skip


@_helper
def _inner_start(cp, p, e, flag_table, lower_table):
    """Whether a token can start at p inside a word: a digit (phone numbers), or the
    first letter of "http" or "www" (URLs, which need at least that much). One flag
    lookup rules out the other characters: this runs at every character of a word."""
    f = _flg(flag_table, cp[p])
    if (f & (F_HW | F_DEC)) == 0:
        return False
    if (f & F_DEC) != 0:
        return True
    lc = _low(lower_table, cp[p])
    if lc == 104:
        return (
            p + 3 < e
            and _low(lower_table, cp[p + 1]) == 116
            and _low(lower_table, cp[p + 2]) == 116
            and _low(lower_table, cp[p + 3]) == 112
        )
    if lc == 119:
        return (
            p + 2 < e
            and _low(lower_table, cp[p + 1]) == 119
            and _low(lower_table, cp[p + 2]) == 119
        )
    return False


@_helper
def _tokens(cp, s, e, cls_table, flag_table, lower_table, slots, index, shapes, words, out_row):
    """Count the tokens of line [s, e) into ``out_row`` (:data:`TOKEN_KINDS` order).

    ``words``: (starts, ends, plain, count) of the line's words from the statistics pass
    (:func:`_char_stats`); a plain word is not walked again (count 0: every word is)."""
    w_start, w_end, w_plain, m = words
    k = 0
    p = s
    while p < e:
        c = cp[p]
        if _space(cls_table, c):
            p += 1
            continue
        while k < m and w_start[k] < p:
            k += 1
        plain_end = w_end[k] if k < m and w_start[k] == p and w_plain[k] else -1
        kind, end = _token_at(
            cp, p, s, e, cls_table, flag_table, lower_table, slots, index, shapes, plain_end
        )
        if kind >= 0:
            out_row[kind] += 1.0
            p = end
        elif kind == -2:  # a word that starts nothing: on to its first inner candidate
            p = end
        elif _rx_w(cls_table, c):
            # Nothing starts here; further inside the word only "http"/"www" and phone
            # numbers can start (at "http", "www" or a digit): jump to the next such
            # place (or to the end of the word). Every position skipped would give
            # (-1, -1); the h of "the" or the w of "show" is not even tried.
            p += 1
            while p < e and _rx_w(cls_table, cp[p]):
                if _inner_start(cp, p, e, flag_table, lower_table):
                    break
                p += 1
        else:
            p += 1


# ---------------------------------------------------------------------- main scan


@njit(cache=True)
def scan_batch(
    cp,
    starts,
    ends,
    line_sw_lang,
    line_ph_lang,
    cls_table,
    flag_table,
    lower_table,
    sw_slots,
    sw_index,
    sw_filter,
    ph_slots,
    ph_index,
    ph_filter,
    ph_is_phrase,
    ph_category,
    ph_lang_ptr,
    ph_langs,
    n_categories,
    max_phrase_words,
    tok_slots,
    tok_index,
    tok_shapes,
):
    """All per-line kernel outputs of a batch.

    ``line_sw_lang[i]``: stopword-language id of line i's page (-1: none);
    ``line_ph_lang[i]``: lexicon-language id (-1: the page's language is not in the
    lexicon, so every phrase applies). Phrase table entries: ``ph_is_phrase`` (a prefix
    that is also a whole phrase), its category and its languages
    ``ph_langs[ph_lang_ptr[j]:ph_lang_ptr[j+1]]`` (-1 = any language).

    Returns (stats, stopwords, phrase_count, phrase_cover, phrase_by_category, tokens,
    line_keys).
    """
    n = len(starts)
    stats = np.zeros((n, N_STATS), dtype=np.float64)
    sw = np.zeros(n, dtype=np.float64)
    ph_count = np.zeros(n, dtype=np.float64)
    ph_cover = np.zeros(n, dtype=np.float64)
    ph_cat = np.zeros((n, max(n_categories, 1)), dtype=np.float64)
    tokens = np.zeros((n, 7), dtype=np.float64)
    keys = np.zeros(n, dtype=np.uint64)
    longest = 1
    for i in range(n):
        longest = max(longest, ends[i] - starts[i])
    w_start, w_end, w_hash = _word_buffers(longest + 1)
    w_plain = np.zeros(longest + 1, dtype=np.bool_)

    for i in range(n):
        s = starts[i]
        e = ends[i]
        row = stats[i]
        keys[i], m = _char_stats(
            cp, s, e, cls_table, flag_table, lower_table, row, w_start, w_end, w_hash, w_plain
        )
        # stopwords
        lang = line_sw_lang[i]
        if lang >= 0:
            c = 0
            for k in range(m):
                key = _salted(w_hash[k], lang)
                if _may_hold(sw_filter, key) and _lookup(sw_slots, sw_index, key) >= 0:
                    c += 1
            sw[i] = c
        words = (w_start, w_end, w_hash)
        ph = (ph_slots, ph_index, ph_filter, ph_is_phrase, ph_category, ph_lang_ptr, ph_langs)
        out = (ph_count, ph_cover, ph_cat)
        _phrases_line(cp, cls_table, m, words, line_ph_lang[i], ph, max_phrase_words, i, out)
        toks = (tok_slots, tok_index, tok_shapes)
        line_words = (w_start, w_end, w_plain, m)
        _tokens(cp, s, e, cls_table, flag_table, lower_table, *toks, line_words, tokens[i])
    return stats, sw, ph_count, ph_cover, ph_cat[:, :n_categories], tokens, keys


@_helper
def _phrase_ok(t, plang, ph_is_phrase, ph_lang_ptr, ph_langs):
    """Whether table entry t is a whole phrase that applies to lexicon language plang."""
    if not ph_is_phrase[t]:
        return False
    if plang < 0:
        return True
    for q in range(ph_lang_ptr[t], ph_lang_ptr[t + 1]):
        if ph_langs[q] == -1 or ph_langs[q] == plang:
            return True
    return False


@_helper
def _phrases_line(cp, cls_table, m, words, plang, ph, max_phrase_words, i, out):
    """Phrase matches among the m words of line i: at each word the longest phrase that
    starts there (the table holds every prefix, so the walk stops as soon as no phrase
    can continue), then the scan goes on after it.

    ``words``: the arrays of :func:`_words`; ``ph``: the phrase table arrays (slots,
    index, filter, is_phrase, category, lang_ptr, langs); ``out``: count, cover, per
    category.
    """
    w_start, w_end, w_hash = words
    ph_slots, ph_index, ph_filter, ph_is_phrase, ph_category, ph_lang_ptr, ph_langs = ph
    ph_count, ph_cover, ph_cat = out
    k = 0
    while k < m:
        key = _mix(_OFFSET, w_hash[k])
        best = -1
        best_j = -1
        j = k
        while True:
            key = key if key != 0 else _ONE
            if not _may_hold(ph_filter, key):
                break
            t = _lookup(ph_slots, ph_index, key)
            if t < 0:
                break
            if _phrase_ok(t, plang, ph_is_phrase, ph_lang_ptr, ph_langs):
                best = t
                best_j = j
            if j + 1 >= m or j + 1 - k >= max_phrase_words:
                break
            key = _extend(key, _gap_key(cp, w_end[j], w_start[j + 1], cls_table), w_hash[j + 1])
            j += 1
        if best >= 0:
            ph_count[i] += 1.0
            ph_cover[i] += w_end[best_j] - w_start[k]
            ph_cat[i, ph_category[best]] += 1.0
            k = best_j + 1
        else:
            k += 1


@njit(cache=True)
def phrase_matches(
    cp,
    starts,
    ends,
    line_ph_lang,
    cls_table,
    lower_table,
    ph_slots,
    ph_index,
    ph_filter,
    ph_is_phrase,
    ph_category,
    ph_lang_ptr,
    ph_langs,
    n_categories,
    max_phrase_words,
):
    """Phrase matches alone (count, covered characters, per category) for each line."""
    n = len(starts)
    ph_count = np.zeros(n, dtype=np.float64)
    ph_cover = np.zeros(n, dtype=np.float64)
    ph_cat = np.zeros((n, max(n_categories, 1)), dtype=np.float64)
    size = max(len(cp), 1)
    w_start, w_end, w_hash = _word_buffers(size)
    for i in range(n):
        m = _words(cp, starts[i], ends[i], cls_table, lower_table, w_start, w_end, w_hash)
        words = (w_start, w_end, w_hash)
        ph = (ph_slots, ph_index, ph_filter, ph_is_phrase, ph_category, ph_lang_ptr, ph_langs)
        out = (ph_count, ph_cover, ph_cat)
        _phrases_line(cp, cls_table, m, words, line_ph_lang[i], ph, max_phrase_words, i, out)
    return ph_count, ph_cover, ph_cat[:, :n_categories]


@njit(cache=True)
def stopword_hits(cp, starts, ends, cls_table, lower_table, sw_slots, sw_index, n_langs):
    """(n_ranges, n_langs) stopword hits of every language in each text range (the
    language guess for pages without ``lang``)."""
    n = len(starts)
    hits = np.zeros((n, n_langs), dtype=np.int64)
    size = max(len(cp), 1)
    w_start, w_end, w_hash = _word_buffers(size)
    for i in range(n):
        m = _words(cp, starts[i], ends[i], cls_table, lower_table, w_start, w_end, w_hash)
        for k in range(m):
            for lang in range(n_langs):
                if _lookup(sw_slots, sw_index, _salted(w_hash[k], lang)) >= 0:
                    hits[i, lang] += 1
    return hits


@_helper
def _char_stats(
    cp, s, e, cls_table, flag_table, lower_table, row, w_start, w_end, w_hash, w_plain
):  # fmt: skip
    """Fill ``row`` (STAT_NAMES order) for line [s, e); return the key of the normalised
    line (lower-case, each run of decimal digits one 0, runs of spaces one space, no
    leading or trailing space) for "this line already occurred on the page", and the
    number of words, whose starts, ends and hashes go to the arrays as :func:`_words`
    gives them. Key and words come from the same pass as the statistics: a separate
    pass for either cost about as much as the statistics. ``w_plain[k]``: word k has no
    combining mark and, after its first character, no digit and nothing that lower-cases
    to h or w, so it is one regex \\w word inside which no token can start (what the
    token scanner would otherwise walk the word to find out, :func:`_tokens`)."""
    m = 0  # words of _words (with the underscore; the statistics' words are without it)
    in_word = False
    odd = 0  # the current word's marks, and digits or h/w after its first character
    h = _OFFSET
    n_words = 0
    word_chars = 0
    letters = digits = punct = space = symbol = upper = title = seps = 0
    sentence_ends = glued = 0
    prev_word = False
    prev_lower = False
    first = -1
    last = -1
    key = _OFFSET
    pending_space = False
    prev_dec = False
    for p in range(s, e):
        c = cp[p]
        b = _cls(cls_table, c)
        f = _flg(flag_table, c)
        lc = np.uint64(_low(lower_table, c))
        w = _is_word(b)
        if w or c == 95:
            if not in_word:
                w_start[m] = p
                h = _OFFSET
                in_word = True
                odd = b & MARK
            else:
                odd |= (b & MARK) | (f & (F_HW | F_DEC))
            h = _mix(h, lc)
        elif in_word:
            w_end[m] = p
            w_hash[m] = h
            w_plain[m] = odd == 0
            m += 1
            in_word = False
        if w:
            word_chars += 1
            if not prev_word:
                n_words += 1
                if (b & UPPER) != 0:
                    title += 1
        if (b & LETTER) != 0:
            letters += 1
        if (b & UPPER) != 0:
            upper += 1
        if (b & DIGIT) != 0:
            digits += 1
        if (b & PUNCT) != 0:
            punct += 1
        if (b & SYMBOL) != 0:
            symbol += 1
        if (b & SPACE) != 0:
            space += 1
            pending_space = first >= 0
            prev_dec = False
        else:
            if first < 0:
                first = p
            if (f & F_CLOSER) == 0:
                last = p
            if pending_space:
                key = _mix(key, np.uint64(32))
                pending_space = False
            if (f & F_DEC) != 0:
                if not prev_dec:
                    key = _mix(key, np.uint64(48))
                prev_dec = True
            else:
                key = _mix(key, lc)
                prev_dec = False
        if (f & F_SEP) != 0:
            seps += 1
        if (f & F_TERM) != 0:
            if p + 1 < e:
                nb = _cls(cls_table, cp[p + 1])
                nf = _flg(flag_table, cp[p + 1])
                if (nb & SPACE) != 0 or (nf & F_CLOSER) != 0:
                    sentence_ends += 1
                if prev_lower and (nb & UPPER) != 0:
                    glued += 1
            else:
                sentence_ends += 1
        prev_word = w
        prev_lower = (b & LOWER) != 0
    if in_word:
        w_end[m] = e
        w_hash[m] = h
        w_plain[m] = odd == 0
        m += 1
    row[0] = e - s
    row[1] = n_words
    row[2] = word_chars
    row[3] = letters
    row[4] = digits
    row[5] = punct
    row[6] = space
    row[7] = symbol
    row[8] = upper
    row[9] = title
    row[10] = seps
    if first >= 0:
        fb = _cls(cls_table, cp[first])
        row[11] = 1.0 if (fb & UPPER) != 0 else 0.0
        row[12] = 1.0 if (fb & DIGIT) != 0 else 0.0
        row[13] = 1.0 if (_flg(flag_table, cp[first]) & F_BULLET) != 0 else 0.0
    if last >= 0:
        lc = cp[last]
        lf = _flg(flag_table, lc)
        term = (lf & F_TERM) != 0
        row[14] = 1.0 if term else 0.0
        row[15] = 1.0 if lc == 58 else 0.0
        row[16] = 1.0 if (not term and (_cls(cls_table, lc) & (PUNCT | SYMBOL)) != 0) else 0.0
    row[17] = sentence_ends
    row[18] = glued
    return key, m


@njit(cache=True)
def base_block(stats, sw, ph_count, ph_cover, ph_cat, tokens, log_chars, appeal, short_words, out):
    """The base feature columns (``features._base_names`` order) of every line, from
    :func:`scan_batch`'s outputs, written row by row into ``out`` (a block of the feature
    matrix: writing it column by column touched every row of the matrix once per column).

    ``log_chars``: log1p of the line lengths (computed by numpy, whose log1p this does
    not replace); ``appeal[c]``: whether phrase category c is an appeal category. The
    shares are the same divisions as numpy's, so every value is bit for bit the same.
    """
    n_cat = ph_cat.shape[1]
    for i in range(stats.shape[0]):
        st = stats[i]
        row = out[i]
        n_words = st[1]
        chars = max(st[0], 1.0)
        words = max(n_words, 1.0)
        row[0] = log_chars[i]
        row[1] = n_words
        row[2] = st[2] / words  # mean_word_len
        row[3] = st[3] / chars  # letter_share
        row[4] = st[4] / chars  # digit_share
        row[5] = st[5] / chars  # punct_share
        row[6] = st[6] / chars  # space_share
        row[7] = st[7] / chars  # symbol_share
        row[8] = st[8] / max(st[3], 1.0)  # upper_share: of the letters
        for k in range(8):  # starts_upper ... glued_sentences
            row[9 + k] = st[11 + k]
        row[17] = st[9] / words  # title_share
        row[18] = st[10]  # separators
        row[19] = sw[i]
        row[20] = sw[i] / words
        for k in range(tokens.shape[1]):
            row[21 + k] = tokens[i, k]
        c0 = 21 + tokens.shape[1]
        row[c0] = ph_count[i]
        row[c0 + 1] = ph_cover[i] / chars
        hits = 0.0
        for c in range(n_cat):
            row[c0 + 2 + c] = ph_cat[i, c]
            if appeal[c]:
                hits += ph_cat[i, c]
        row[c0 + 2 + n_cat] = 1.0 if hits > 0 else 0.0
        row[c0 + 3 + n_cat] = 1.0 if n_words <= short_words else 0.0
        row[c0 + 4 + n_cat] = 1.0 if n_words == 0 else 0.0


@_helper
def _char_before(cp, end, k):
    """The k-th code point before offset ``end`` of the batch's text (0 before its start:
    the look-back crosses line ends, as the numpy code it replaced did)."""
    i = end - k
    return cp[i] if i >= 0 else 0


@_helper
def _ends_in_ellipsis(cp, s, e):
    """Line [s, e) ends in "…" or "...", possibly followed by "]" (a cut teaser)."""
    if e <= s:
        return False
    end = e - 1 if _char_before(cp, e, 1) == 93 else e
    last = _char_before(cp, end, 1)
    if last == 0x2026:
        return True
    return last == 46 and _char_before(cp, end, 2) == 46 and _char_before(cp, end, 3) == 46


@njit(cache=True)
def profile_block(base, cols, repeats, page_mean, cp, starts, ends, page_start, page_len, out):
    """The page-profile columns (``features.PROFILE_NAMES``) of every line, page by page.

    ``cols``: the base columns of short, starts_bullet, date_count, url_count,
    phrase_count, title_share, n_words and log_chars; ``repeats``, ``page_mean``: each
    line's repeat count and its page's mean log length. The shares are over the page's
    non-empty lines; sums run in line order from 0.0, as ``np.bincount`` adds, so every
    value is bit for bit the numpy code's.
    """
    n = base.shape[0]
    sums = np.zeros(9, dtype=np.float64)
    i = 0
    while i < n:
        s = page_start[i]
        e = s + page_len[i]
        sums[:] = 0.0
        for j in range(s, e):
            filled = 1.0 if base[j, cols[6]] > 0 else 0.0
            sums[0] += filled
            sums[1] += base[j, cols[0]] * filled  # short
            sums[2] += (1.0 if repeats[j] > 1 else 0.0) * filled
            sums[3] += base[j, cols[1]] * filled  # starts_bullet
            sums[4] += (1.0 if base[j, cols[2]] > 0 else 0.0) * filled  # dated
            sums[5] += (1.0 if base[j, cols[3]] > 0 else 0.0) * filled  # URL
            sums[6] += (1.0 if base[j, cols[4]] > 0 else 0.0) * filled  # phrase
            sums[7] += (1.0 if base[j, cols[5]] > 0.5 else 0.0) * filled  # title case
            out[j, 9] = 1.0 if _ends_in_ellipsis(cp, starts[j], ends[j]) else 0.0
            sums[8] += out[j, 9] * filled
        square = 0.0
        for j in range(s, e):
            d = base[j, cols[7]] - page_mean[j]
            square += d * d
        den = max(sums[0], 1.0)
        std = np.sqrt(square / (e - s))
        for j in range(s, e):
            for k in range(8):
                out[j, k] = sums[k + 1] / den
            out[j, 8] = std
        i = e


# ------------------------------------------------------------------- page features
# Per-line features that depend on the other lines of the page, computed from the
# kernel outputs above (bpclf.features calls these). Pages are runs of consecutive
# lines: line i belongs to [page_start[i], page_start[i] + page_len[i]). Floating sums
# are accumulated in the order of the numpy code these replaced (line order, from 0.0,
# as np.bincount and np.cumsum do), so every value is bit for bit the same.


@_helper
def _runs(flag, s, e, run_len, run_pos):
    """Length of the run of equal ``flag`` values each line of [s, e) is in, and the
    line's position in it."""
    r0 = s
    while r0 < e:
        r1 = r0 + 1
        while r1 < e and flag[r1] == flag[r0]:
            r1 += 1
        for i in range(r0, r1):
            run_len[i] = r1 - r0
            run_pos[i] = i - r0
        r0 = r1


_FIN1 = np.uint64(0xFF51AFD7ED558CCD)
_FIN2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


@_helper
def _bucket(h, bits):
    """Top ``bits`` bits of the finalised hash (FNV's low bits mix poorly)."""
    h ^= h >> _S33
    h *= _FIN1
    h ^= h >> _S33
    h *= _FIN2
    h ^= h >> _S33
    return np.int64(h >> np.uint64(64 - bits))


@_helper
def _repetition(keys, empty, s, e, bits, slot_key, slot_page, slot_count, count, rank):
    """How often each line's key occurs in the page [s, e), and which copy the line is
    (0 for empty lines). An open-addressing table of the page's keys; ``slot_page``
    marks the slots taken by this page, so the table is never cleared."""
    mask = (1 << bits) - 1
    for i in range(s, e):
        k = keys[i]
        slot = _bucket(k, bits)
        while slot_page[slot] == s and slot_key[slot] != k:
            slot = (slot + 1) & mask
        if slot_page[slot] != s:
            slot_page[slot] = s
            slot_key[slot] = k
            slot_count[slot] = 0
        rank[i] = slot_count[slot]
        slot_count[slot] += 1
    for i in range(s, e):
        slot = _bucket(keys[i], bits)
        while slot_key[slot] != keys[i]:
            slot = (slot + 1) & mask
        count[i] = slot_count[slot]
        if empty[i]:
            count[i] = 0
            rank[i] = 0


@njit(cache=True)
def global_block(
    base, cols, starts, ends, page_start, page_len, keys, log_page_lines, known, window, cap,
    out,
):  # fmt: skip
    """The page-level block of bpclf.features (columns as ``features._GLOBAL_NAMES``),
    written into ``out`` (n, 23): a view of the feature matrix, so no copy follows.

    ``base``: the base feature block; ``cols``: its columns phrase_count, short,
    ends_terminal, n_words, empty, stopword_share, log_chars, appeal_phrase (which
    :func:`base_block` derived from the appeal categories). ``log_page_lines`` (np.log1p of
    ``page_len``) and ``known`` (1.0 where the page's language has stopwords) are per
    line; logarithms stay in numpy, whose results the model was trained on.
    """
    n = base.shape[0]
    c_phrase, c_short, c_term, c_words, c_empty, c_sw, c_log, c_appeal = (
        cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7],
    )  # fmt: skip
    phrase = np.empty(n, dtype=np.bool_)
    appeal = np.empty(n, dtype=np.bool_)
    short = np.empty(n, dtype=np.bool_)
    noterm = np.empty(n, dtype=np.bool_)
    empty = np.empty(n, dtype=np.bool_)
    for i in range(n):
        phrase[i] = base[i, c_phrase] > 0
        appeal[i] = base[i, c_appeal] > 0
        short[i] = base[i, c_short] > 0
        noterm[i] = base[i, c_term] == 0
        empty[i] = base[i, c_empty] > 0
    acum = np.zeros(n + 1, dtype=np.int64)  # appeal lines before each line
    ccum = np.zeros(n + 1, dtype=np.int64)  # characters before each line
    longest = 1
    for i in range(n):
        acum[i + 1] = acum[i] + appeal[i]
        ccum[i + 1] = ccum[i] + (ends[i] - starts[i])
        longest = max(longest, page_len[i])
    bits = 1
    while (1 << bits) < 2 * longest:
        bits += 1
    slot_key = np.zeros(1 << bits, dtype=np.uint64)
    slot_page = np.full(1 << bits, -1, dtype=np.int64)
    slot_count = np.zeros(1 << bits, dtype=np.int64)
    run_len = np.empty(n, dtype=np.int64)
    run_pos = np.empty(n, dtype=np.int64)
    count = np.empty(n, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)

    s = 0
    while s < n:
        e = s + page_len[s]
        # distances to phrase and appeal lines, capped (no such line: the cap)
        last_p = -1
        last_a = -1
        for i in range(s, e):
            if phrase[i]:
                last_p = i
            if appeal[i]:
                last_a = i
            out[i, 0] = min(i - last_p, cap) if last_p >= 0 else cap
            out[i, 2] = min(i - last_a, cap) if last_a >= 0 else cap
        next_p = -1
        next_a = -1
        for i in range(e - 1, s - 1, -1):
            if phrase[i]:
                next_p = i
            if appeal[i]:
                next_a = i
            out[i, 1] = min(next_p - i, cap) if next_p >= 0 else cap
            out[i, 3] = min(next_a - i, cap) if next_a >= 0 else cap
        page_chars = ccum[e] - ccum[s]
        pc = np.float64(max(page_chars, 1))
        for i in range(s, e):
            lo = max(i - window, s)
            hi = min(i + window + 1, e)
            out[i, 4] = acum[i + 1] - acum[lo]
            out[i, 5] = acum[hi] - acum[i]
            out[i, 6] = (acum[e] - acum[i]) / (e - i)
            pos = i - s
            out[i, 7] = pos
            out[i, 8] = pos / max(e - s - 1, 1)
            out[i, 9] = e - s - 1 - pos
            out[i, 10] = log_page_lines[i]
            before = ccum[i] - ccum[s]
            out[i, 11] = before / pc
            out[i, 12] = (page_chars - before - (ends[i] - starts[i])) / pc
        _runs(short, s, e, run_len, run_pos)
        for i in range(s, e):
            out[i, 13] = run_len[i] if short[i] else 0
            out[i, 14] = run_pos[i]
        i = s
        while i < e:  # mean words of each run of short / long lines
            j = i + run_len[i]
            total = 0.0
            for k in range(i, j):
                total += base[k, c_words]
            for k in range(i, j):
                out[k, 16] = total / max(j - i, 1)
            i = j
        _runs(noterm, s, e, run_len, run_pos)
        for i in range(s, e):
            out[i, 15] = run_len[i] if noterm[i] else 0
        _repetition(keys, empty, s, e, bits, slot_key, slot_page, slot_count, count, rank)
        sw_num = 0.0
        sw_den = 0.0
        term_num = 0.0
        term_den = 0.0
        log_num = 0.0
        log_den = 0.0
        for i in range(s, e):
            out[i, 17] = count[i]
            out[i, 18] = rank[i]
            words = base[i, c_words]
            sw_num += base[i, c_sw] * words
            sw_den += words
            w = 0.0 if base[i, c_empty] != 0 else 1.0
            term_num += base[i, c_term] * w
            term_den += w
            log_num += base[i, c_log] * 1.0
            log_den += 1.0
        sw_mean = sw_num / max(sw_den, 1e-9)
        term_mean = term_num / max(term_den, 1e-9)
        log_mean = log_num / max(log_den, 1e-9)
        for i in range(s, e):
            out[i, 19] = sw_mean
            out[i, 20] = term_mean
            out[i, 21] = log_mean
            out[i, 22] = known[i]
        s = e


@njit(cache=True)
def context_block(base, cols, offsets, page_start, page_len, out):
    """Columns ``cols`` of ``base`` at each line offset (offset-major: all columns of
    the first offset, then the next), -1 where the offset leaves the line's page;
    written into ``out`` (n, len(offsets) * len(cols))."""
    n = base.shape[0]
    k = len(cols)
    for i in range(n):
        s = page_start[i]
        e = s + page_len[i]
        for o in range(len(offsets)):
            j = i + offsets[o]
            if s <= j < e:
                for c in range(k):
                    out[i, o * k + c] = base[j, cols[c]]
            else:
                for c in range(k):
                    out[i, o * k + c] = -1.0


@njit(cache=True)
def neighbour_block(values, sizes, window, missing):
    """bpclf.features.neighbour_features without the names: the value, its neighbours at
    offsets -window..+window, the means before and after within the window, the page
    mean. Every sum runs over the page's own values in line order from 0.0 (the window
    means over the window alone), so a page gets the same features bit for bit whatever
    pages share its batch; a running sum over the batch would not (its differences
    carry the rounding of the pages before)."""
    n = len(values)
    width = 2 * window + 1
    out = np.empty((n, width + 3), dtype=np.float64)
    s = 0
    for p in range(len(sizes)):
        e = s + sizes[p]
        total = 0.0
        for i in range(s, e):
            total += values[i]
        mean = total / max(sizes[p], 1)
        for i in range(s, e):
            out[i, 0] = values[i]
            col = 1
            for d in range(-window, window + 1):
                if d == 0:
                    continue
                j = i + d
                out[i, col] = values[j] if s <= j < e else missing
                col += 1
            lo = max(i - window, s)
            hi = min(i + window + 1, e)
            before_n = i - lo
            after_n = hi - i - 1
            before = 0.0
            for j in range(lo, i):
                before += values[j]
            after = 0.0
            for j in range(i + 1, hi):
                after += values[j]
            out[i, width] = before / before_n if before_n > 0 else missing
            out[i, width + 1] = after / after_n if after_n > 0 else missing
            out[i, width + 2] = mean
        s = e
    return out


# --------------------------------------------------------------------------- trees


#: Rows scored together, tree by tree: a tree's nodes stay in the first-level cache while
#: the rows of a block go through it.
TREE_BLOCK_ROWS = 64
#: Rows the leaf-mask scorer applies each split to at once: its per-block state (the
#: block's columns, a mask per tree and row) still fits the second-level cache, and
#: fewer blocks mean fewer passes over the splits (256 rows: 8-13% faster than 64,
#: 512 slower; measured on the default model).
MASK_BLOCK_ROWS = 256


@njit(cache=True)
def tree_depths(roots, left, right, is_leaf, n_nodes):
    """Depth (splits on the longest path) of each tree; children come after their parent."""
    depth = np.zeros(n_nodes, dtype=np.int64)
    out = np.zeros(len(roots), dtype=np.int64)
    for t in range(len(roots)):
        end = roots[t + 1] if t + 1 < len(roots) else n_nodes
        for node in range(roots[t], end):
            if not is_leaf[node]:
                d = depth[node] + 1
                depth[left[node]] = d
                depth[right[node]] = d
                if d > out[t]:
                    out[t] = d
    return out


@_helper
def _block_has_nan(X, b0, m):
    for i in range(b0, b0 + m):
        for j in range(X.shape[1]):
            if X[i, j] != X[i, j]:
                return True
    return False


@_helper
def _walk_block(X, b0, m, nan, nodes, depths, missing_left, value, roots, at, out):
    """Add every tree's leaf value to ``out[b0:b0 + m]`` by walking the rows of one
    block through the trees (see :func:`tree_scores`); ``nan``: whether the block has a
    NaN (then the NaN rule is applied at every step)."""
    thr = nodes.view(np.float64)
    for t in range(len(roots)):
        for i in range(m):
            at[i] = roots[t]
        for _ in range(depths[t]):
            if nan:
                for i in range(m):
                    nd = at[i]
                    x = X[b0 + i, nodes[nd, 0]]
                    # sklearn's rule: NaN follows missing_left, otherwise x <= threshold
                    # goes left.
                    go_right = np.int64(not (x <= thr[nd, 3]))
                    if x != x:
                        go_right = np.int64(not missing_left[nd])
                    at[i] = nodes[nd, 1 + go_right]
            else:
                for i in range(m):
                    nd = at[i]
                    x = X[b0 + i, nodes[nd, 0]]
                    at[i] = nodes[nd, 1 + np.int64(not (x <= thr[nd, 3]))]
        for i in range(m):
            out[b0 + i] += value[at[i]]


@njit(cache=True)
def tree_scores(X, nodes, depths, missing_left, value, roots, base):
    """Raw scores of a validated ensemble: baseline plus one leaf value per tree.

    ``nodes`` holds one record of four int64 per node (feature, left child, right child,
    the bits of the float64 threshold: see TreeEnsemble.walk_arrays), so that a step
    reads one 32-byte record instead of four arrays. Every row takes exactly
    ``depths[tree]`` steps in each tree (leaves point to themselves, so rows that reach
    one early stay there), and the next node is picked by index arithmetic instead of a
    branch: the walk has no data-dependent branches, which mispredict on every split
    otherwise. Blocks without NaN (all of them in practice, checked block by block) skip
    the NaN rule. Leaf values are added tree by tree in order for each row, as
    scikit-learn does. Only safe on an ensemble that passed TreeEnsemble.validate
    (indices in range, children after their parents, leaves pointing to themselves).
    """
    n = X.shape[0]
    out = np.full(n, base, dtype=np.float64)
    at = np.empty(TREE_BLOCK_ROWS, dtype=np.int64)
    for b0 in range(0, n, TREE_BLOCK_ROWS):
        m = min(TREE_BLOCK_ROWS, n - b0)
        nan = _block_has_nan(X, b0, m)
        _walk_block(X, b0, m, nan, nodes, depths, missing_left, value, roots, at, out)
    return out


# ----------------------------------------------------------- trees as leaf masks


@njit(cache=True)
def leaf_ranges(roots, left, right, is_leaf):
    """Each node's leaves as a range [lo, hi) of its tree's leaves numbered left to right
    (a leaf is its own range of one), and each tree's number of leaves.

    Only for validated ensembles (every tree a proper tree, children after parents):
    each node is visited once, from an explicit stack of at most the tree's size.
    """
    n = len(left)
    lo = np.zeros(n, dtype=np.int64)
    hi = np.zeros(n, dtype=np.int64)
    n_leaves = np.zeros(len(roots), dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    stack = np.empty(n + 1, dtype=np.int64)
    for t in range(len(roots)):
        size = 0
        sp = 1
        stack[0] = roots[t]
        while sp > 0:  # preorder, left subtree first: leaves come left to right
            sp -= 1
            nd = stack[sp]
            order[size] = nd
            size += 1
            if not is_leaf[nd]:
                stack[sp] = right[nd]
                stack[sp + 1] = left[nd]
                sp += 2
        count = 0
        for k in range(size):
            nd = order[k]
            if is_leaf[nd]:
                lo[nd] = count
                hi[nd] = count + 1
                count += 1
        for k in range(size - 1, -1, -1):  # children before their parent
            nd = order[k]
            if not is_leaf[nd]:
                lo[nd] = lo[left[nd]]
                hi[nd] = hi[right[nd]]
        n_leaves[t] = count
    return lo, hi, n_leaves


@njit(cache=True)
def masked_tree_scores(
    X, split_feature, split_threshold, split_tree, split_mask, leaf_value, leaf_start, used,
    nodes, depths, missing_left, value, roots, base, every,
):  # fmt: skip
    """The scores of :func:`tree_scores`, found by masking leaves instead of walking.

    Each tree's leaves are bits of one word (``split_mask``'s dtype: 32 or 64 bits),
    numbered left to right. A split a row does not take to the left (x > threshold)
    rules out the leaves of its left subtree: its mask clears their bits. After all
    splits, the lowest bit left is the leaf the walk would reach (QuickScorer, Lucchese
    et al. 2015); one instruction finds it (count trailing zeros). A word is never 0:
    the rightmost leaf is in no split's left subtree, and the bits above a tree's leaves
    are never cleared. Every split is applied to all rows of a block (:data:`MASK_BLOCK_ROWS`)
    at once, without a branch, over a copy of the block's columns (one contiguous row of
    values per feature; only the ``used`` features, those some split reads), so the
    compiler vectorises the loop. Splits are sorted by feature, so a column stays in
    cache for all its splits. Blocks with a NaN in a used column are walked by
    :func:`tree_scores`'s code (NaN follows ``missing_left``, not a comparison). Leaf
    values are added tree by tree in order (for all rows of the block, tree after tree:
    the masks are read in order), so every score is the walk's bit for bit. ``every``:
    the mask word with all bits set. Only for validated ensembles whose trees have at
    most as many leaves as the mask has bits.
    """
    n, n_feat = X.shape
    n_trees = len(roots)
    rows = MASK_BLOCK_ROWS
    out = np.full(n, base, dtype=np.float64)
    at = np.empty(rows, dtype=np.int64)
    cols = np.zeros((n_feat, rows), dtype=np.float64)
    top = np.empty(n_feat, dtype=np.float64)  # each column's largest value in the block
    alive = np.empty((n_trees, rows), dtype=split_mask.dtype)
    score = np.empty(rows, dtype=np.float64)
    for b0 in range(0, n, rows):
        m = min(rows, n - b0)
        top[:] = -np.inf
        nan = False
        for i in range(m):
            for u in range(len(used)):
                f = used[u]
                v = X[b0 + i, f]
                cols[f, i] = v
                top[f] = max(top[f], v)
                nan |= v != v
        if nan:
            _walk_block(X, b0, m, True, nodes, depths, missing_left, value, roots, at, out)
            continue
        alive[:, :] = every
        # A batch's last block is partial: its rows rounded up to whole vectors (the
        # rows past m hold stale values whose results are never read).
        span = rows if m == rows else min(rows, (m + 7) // 8 * 8)
        for k in range(len(split_threshold)):
            thr = split_threshold[k]
            f = split_feature[k]
            if thr >= top[f]:
                continue  # every row of the block goes left: the mask changes nothing
            mask = split_mask[k]
            bits = alive[split_tree[k]]
            x = cols[f]
            for i in range(span):
                bits[i] &= mask if x[i] > thr else every
        score[:m] = out[b0 : b0 + m]
        for t in range(n_trees):
            bits = alive[t]
            leaves = leaf_value[leaf_start[t] :]
            for i in range(m):
                score[i] += leaves[trailing_zeros(bits[i])]
        out[b0 : b0 + m] = score[:m]
    return out


# ------------------------------------------------------------- character n-grams


@_helper
def _ngram_char(cp, p, flag_table, lower_table):
    """A character as the n-gram model sees it: lower-cased, every decimal digit a 0."""
    c = cp[p]
    if _dec(flag_table, c):
        return np.uint64(48)
    return np.uint64(_low(lower_table, c))


#: The n-gram window (:func:`_line_ngrams`): the last three characters of a padded
#: token, 21 bits each (every code point fits), and the two before them.
_M21 = np.uint64((1 << 21) - 1)
_M42 = np.uint64((1 << 42) - 1)
_M63 = np.uint64((1 << 63) - 1)
#: Odd multipliers of the packed n-gram keys (multiply-shift hashing: the top bits of
#: the product depend on every bit of the packed characters).
_NG_MUL = np.uint64(0x9E3779B97F4A7C15)
_NG_MUL_OLDER = np.uint64(0xC2B2AE3D27D4EB4F)


@_helper
def _gram(key, shift, weights, out, n, record):
    """The weight of an n-gram's bucket (the key's top bits); the bucket goes to out[n]
    when recording."""
    bucket = np.int64(key >> shift)
    if record:
        out[n] = bucket
    return weights[bucket]


@_helper
def _line_ngrams(cp, s, e, cls_table, flag_table, lower_table, lo, hi, bits, weights, out, record):
    """(sum of the weights, number) of the character n-grams of line [s, e); with
    ``record`` their buckets also go to ``out`` (what fitting needs; scoring does not
    store them, which cost about a fifth of its time). Fitting and scoring add the weights
    in the same order, so with float64 weights a line's score while fitting is exactly its
    score later; quantised weights (bpclf.lexical) move it by ~1e-5, and the trees learn
    from scores of the stored weights (:func:`bpclf.lexical.fit_out_of_fold`).

    Each whitespace-separated token is lower-cased, its digits made 0 and padded with a
    space on both sides (" posted "); every substring of it of length lo..hi (hi <= 5)
    is one n-gram (scikit-learn's ``char_wb`` analyzer), in the order of its last
    character, shorter first. The characters go through a window as they are read
    (``recent``: the last three, 21 bits each; ``older``: the two before), and an
    n-gram's key is its packed characters times an odd constant (for 4- and 5-grams the
    last three's product xor the older ones' times another): characters are never 0, so
    n-grams of different lengths pack differently. The bucket is the key's top ``bits``
    bits. The lengths are written out one by one so that the masks are constants: a loop
    over them, or a hash loop per n-gram, cost 1.5-2.5x more.
    """
    acc = 0.0
    n = 0
    shift = np.uint64(64 - bits)
    i = s
    while i < e:
        if _space(cls_table, cp[i]):
            i += 1
            continue
        recent = np.uint64(32)  # the leading pad
        older = np.uint64(0)
        length = 1  # characters in the window so far, the pad included
        j = i
        while True:
            end = j >= e or _space(cls_table, cp[j])
            c = np.uint64(32) if end else _ngram_char(cp, j, flag_table, lower_table)
            older = ((older << _S21) | (recent >> _S42)) & _M42
            recent = ((recent << _S21) | c) & _M63
            length += 1
            if lo <= 1:
                acc += _gram((recent & _M21) * _NG_MUL, shift, weights, out, n, record)
                n += 1
            if lo <= 2 <= hi:
                acc += _gram((recent & _M42) * _NG_MUL, shift, weights, out, n, record)
                n += 1
            if length >= 3:
                last3 = recent * _NG_MUL
                if lo <= 3 <= hi:
                    acc += _gram(last3, shift, weights, out, n, record)
                    n += 1
                if length >= 4 and lo <= 4 <= hi:
                    acc += _gram(
                        last3 ^ ((older & _M21) * _NG_MUL_OLDER), shift, weights, out, n, record
                    )
                    n += 1
                if length >= 5 and hi >= 5:
                    acc += _gram(last3 ^ (older * _NG_MUL_OLDER), shift, weights, out, n, record)
                    n += 1
            if end:
                break
            j += 1
        i = j
    return acc, n


@njit(cache=True)
def _ngram_buffers(starts, ends, lo, hi):
    """Scratch array of :func:`_line_ngrams` for the longest line: room for its n-gram
    buckets (at most hi - lo + 1 per character and pad)."""
    longest = 0
    for i in range(len(starts)):
        longest = max(longest, ends[i] - starts[i])
    return np.empty((hi - lo + 1) * 2 * (longest + 1) + 1, dtype=np.int64)


@_helper
def _line_score(acc, m, intercept):
    """Linear score of a line from the sum of its m n-gram weights: each n-gram counts
    1/sqrt(m)."""
    if m == 0:
        return intercept
    return intercept + acc / np.sqrt(m)


@njit(cache=True)
def ngram_scores(
    cp, starts, ends, cls_table, flag_table, lower_table, lo, hi, bits, weights, b, scale
):  # fmt: skip
    """Score (log-odds of boilerplate) of every line under a hashed n-gram model whose
    weights are ``weights * scale``: float64 weights with scale 1, or 16-bit integers
    (whose sum is exact in a float64 whatever the order: the scale is applied once)."""
    n = len(starts)
    out = np.empty(n, dtype=np.float64)
    tables = (cls_table, flag_table, lower_table)
    none = np.empty(0, dtype=np.int64)
    for i in range(n):
        acc, m = _line_ngrams(cp, starts[i], ends[i], *tables, lo, hi, bits, weights, none, False)
        out[i] = _line_score(acc * scale, m, b)
    return out


@njit(cache=True)
def ngram_train(
    cp,
    starts,
    ends,
    cls_table,
    flag_table,
    lower_table,
    lo,
    hi,
    bits,
    y,
    sample_weight,
    order,
    epochs,
    learning_rate,
    l2,
):
    """Logistic regression over hashed n-grams, fitted by AdaGrad.

    Lines are visited in ``order`` (a seeded permutation, so the fit is deterministic)
    ``epochs`` times; ``sample_weight`` carries class balancing and source weights. L2
    shrinks the weights a line touches. Returns (weights, intercept).
    """
    size = 1 << bits
    w = np.zeros(size, dtype=np.float64)
    g2 = np.zeros(size, dtype=np.float64)
    b = 0.0
    gb2 = 0.0
    buf = _ngram_buffers(starts, ends, lo, hi)
    tables = (cls_table, flag_table, lower_table)
    for _ in range(epochs):
        for t in range(len(order)):
            i = order[t]
            acc, m = _line_ngrams(cp, starts[i], ends[i], *tables, lo, hi, bits, w, buf, True)
            z = _line_score(acc, m, b)
            if z >= 0:
                p = 1.0 / (1.0 + np.exp(-z))
            else:
                ez = np.exp(z)
                p = ez / (1.0 + ez)
            g = (p - y[i]) * sample_weight[i]
            gb2 += g * g
            b -= learning_rate * g / np.sqrt(gb2 + 1e-12)
            if m == 0:
                continue
            scale = 1.0 / np.sqrt(m)
            for k in range(m):
                h = buf[k]
                grad = g * scale + l2 * w[h]
                g2[h] += grad * grad
                w[h] -= learning_rate * grad / np.sqrt(g2[h] + 1e-12)
    return w, b


# ---------------------------------------------------------------------- output bytes


@_helper
def _unsafe_at(b0, b1, b2):
    """Whether the UTF-8 bytes b0 b1 b2 start DEL, a C1 control (U+0080-U+009F:
    C2 80-9F) or U+2028/U+2029 (E2 80 A8/A9)."""
    c1 = (b0 == 0xC2) & (b1 < 0xA0)
    sep = (b0 == 0xE2) & (b1 == 0x80) & ((b2 | 1) == 0xA9)
    return (b0 == 0x7F) | c1 | sep


@njit(cache=True)
def has_unsafe_utf8(data):
    """Whether valid UTF-8 bytes (a uint8 array) hold DEL, a C1 control, U+2028 or
    U+2029: what JSON output escapes (bpclf.formats). In valid UTF-8, C2 and E2 are
    only ever lead bytes, so matching their byte patterns anywhere is exact. The loop
    has no early exit so that it is vectorised: all of a batch's output in ~0.1 ns a
    byte, a tenth of deleting the ASCII bytes and searching the rest."""
    n = len(data)
    hit = False
    for i in range(n - 2):
        hit |= _unsafe_at(data[i], data[i + 1], data[i + 2])
    for i in range(max(n - 2, 0), n):  # the last two bytes, without reading past the end
        b1 = data[i + 1] if i + 1 < n else 0
        hit |= _unsafe_at(data[i], b1, 0)
    return hit
