"""The learned lexical score: n-gram hashing, AdaGrad fit, out-of-fold scores."""

from dataclasses import replace

import numpy as np
import pytest

from bpclf import charclass as cc
from bpclf import kernels
from bpclf.config import LexicalConfig
from bpclf.lexical import (
    QUANT_MAX,
    LexicalModel,
    fit_out_of_fold,
    lexical_block,
    lexical_names,
    quantized,
)
from bpclf.pages import Page

CFG = LexicalConfig(enabled=True, hash_bits=12, epochs=5, learning_rate=0.2, folds=3)


def _ngrams(line: str, lo: int = 3, hi: int = 5, bits: int = 16) -> list[int]:
    cp, starts, ends = cc.layout([line])
    buf = kernels._ngram_buffers(starts, ends, lo, hi)
    tables = (cc.class_table(), cc.flag_table(), cc.lower_table())
    weights = np.arange(1 << bits, dtype=np.float64)
    acc, m = kernels._line_ngrams(cp, starts[0], ends[0], *tables, lo, hi, bits, weights, buf, True)
    assert m <= len(buf) and acc == sum(buf[:m])  # the weights of the recorded buckets
    return buf[:m].tolist()


_M64 = (1 << 64) - 1


def _pack(chars: list[int]) -> int:
    """Code points side by side, 21 bits each, the first highest."""
    out = 0
    for c in chars:
        out = (out << 21) | c
    return out


def _lower(c: int) -> int:
    return int(cc.lower_table()[c]) if c < 0x10000 else c  # astral: as they are


def _reference_ngrams(line: str, lo: int = 3, hi: int = 5, bits: int = 16) -> list[int]:
    """The buckets of _line_ngrams, in its order, from the definition: each padded,
    lower-cased, digits-as-0 token; at each of its characters after the leading pad,
    the n-grams ending there (shorter first); an n-gram's key is its last three
    characters packed times one odd constant, xor the characters before them packed
    times another; the bucket is the key's top bits."""
    out = []
    for token in line.split():
        lowered = [48 if ch.isdecimal() else _lower(ord(ch)) for ch in token]
        chars = [32, *lowered, 32]
        for t in range(1, len(chars)):
            for n in range(lo, min(hi, t + 1) + 1):
                gram = chars[t + 1 - n : t + 1]
                key = (_pack(gram[-3:]) * 0x9E3779B97F4A7C15) & _M64
                if n > 3:
                    key ^= (_pack(gram[:-3]) * 0xC2B2AE3D27D4EB4F) & _M64
                out.append(key >> (64 - bits))
    return out


def test_ngram_buckets_follow_the_definition():
    lines = ["Posted in News", "  Äb 12:30 — ЁЖ x  ", "a", "Lue lisää 2021...", "", "𝐀𝐁 𠀀"]
    for line in lines:
        for lo, hi in [(3, 5), (1, 5), (2, 4), (4, 5), (1, 1)]:
            assert _ngrams(line, lo, hi) == _reference_ngrams(line, lo, hi)


def test_ngrams_of_different_lengths_get_different_keys():
    # "ab" as a 2-gram and " ab" as a 3-gram must not share a key: the pad is packed.
    two = _ngrams("ab", 2, 2, bits=20)
    three = _ngrams("ab", 3, 3, bits=20)
    assert not set(two) & set(three)


def test_ngrams_of_padded_words():
    assert len(_ngrams("ab")) == 3  # " ab", "ab ", " ab "
    assert len(_ngrams("abcdef")) == 6 + 5 + 4  # 3-, 4- and 5-grams of " abcdef "
    assert _ngrams("Posted  2021") == _ngrams("posted 1999")  # case, digits, spacing
    assert _ngrams("posted") != _ngrams("poster")
    assert _ngrams("") == [] and _ngrams("   ") == []
    assert all(0 <= b < 2**10 for b in _ngrams("Ähnliche Artikel 12", bits=10))


def _pages(n: int, seed: int = 0) -> list[Page]:
    rng = np.random.default_rng(seed)
    words = ["river", "council", "school", "budget", "mayor", "library", "winter", "report"]
    pages = []
    for i in range(n):
        lines, labels = [], []
        for _ in range(8):
            if rng.random() < 0.4:
                lines.append(f"Share on Facebook {int(rng.integers(100))}")
                labels.append(1)
            else:
                lines.append(" ".join(rng.choice(words, 6)) + ".")
                labels.append(0)
        pages.append(Page(f"p{i}", lines, labels))
    return pages


def _fit(pages, y=None, seed=1, config=CFG):
    """(model on all lines, out-of-fold scores) for ``pages`` (labels from the pages)."""
    if y is None:
        y = np.concatenate([p.labels for p in pages]).astype(float)
    cp, starts, ends = cc.layout([line for p in pages for line in p.lines])
    sizes = [len(p) for p in pages]
    return fit_out_of_fold(config, cp, starts, ends, sizes, y, np.ones(len(y)), seed=seed)


def _score(model, lines):
    return model.score(*cc.layout(lines))


def test_fit_learns_cues_and_is_deterministic():
    pages = _pages(30)
    a, _ = _fit(pages)
    b, _ = _fit(pages)
    np.testing.assert_array_equal(a.weights, b.weights)
    s = _score(a, ["Share on Facebook 7", "The mayor read the budget report."])
    assert s[0] > 1.0 > -1.0 > s[1]
    a.validate()
    bad = LexicalModel(CFG, a.weights[:-1], a.intercept)
    with pytest.raises(ValueError, match="entries"):
        bad.validate()


def test_out_of_fold_scores_never_see_their_own_page():
    pages = _pages(30)
    y = np.concatenate([p.labels for p in pages]).astype(float)
    _, oof = _fit(pages, y, seed=3)
    # Flip every label of page 0: its out-of-fold scores must not change.
    y2 = y.copy()
    y2[:8] = 1 - y2[:8]
    _, oof2 = _fit(pages, y2, seed=3)
    np.testing.assert_array_equal(oof[:8], oof2[:8])
    assert not np.array_equal(oof[8:], oof2[8:])  # other pages did learn from page 0
    assert oof[y == 1].mean() > oof[y == 0].mean() + 1.0


def test_block_names_and_missing_neighbours():
    names = lexical_names(2)
    X, got = lexical_block(np.array([1.0, 2.0, 3.0]), [2, 1], 2)
    assert got == names and X.shape == (3, len(names))
    assert names[:3] == ["lex", "lex@-2", "lex@-1"]
    assert X[0, names.index("lex@-1")] == -10.0 and X[1, names.index("lex@-1")] == 1.0
    assert X[2, names.index("lex_page_mean")] == 3.0


def test_quantized_keeps_every_weight_within_half_a_step():
    w = np.array([0.0, -1.9, 1.9 / QUANT_MAX * 0.4, 0.73, -0.0001, 1.2])
    q, scale = quantized(w)
    assert q.dtype == np.int16 and scale == 1.9 / QUANT_MAX
    assert np.abs(q).max() == QUANT_MAX  # the largest magnitude is not clipped
    assert np.abs(q * scale - w).max() <= scale / 2
    assert q[0] == 0 and q[2] == 0  # below half a step: zero
    zero_q, zero_scale = quantized(np.zeros(4))
    assert zero_scale == 1.0 and not zero_q.any()


def test_quantized_model_scores_like_the_float_one():
    pages = _pages(30)
    exact, oof_exact = _fit(pages, config=replace(CFG, quantize=False))
    quant, oof_quant = _fit(pages)
    assert exact.weights.dtype == np.float64 and exact.scale == 1.0
    assert quant.weights.dtype == np.int16
    # The same fit, then rounded: every weight within half a step of the float one.
    assert np.abs(quant.weights * quant.scale - exact.weights).max() <= quant.scale / 2
    lines = [line for p in pages for line in p.lines] + ["Share this", "", "Ünïcode 12"]
    a, b = _score(exact, lines), _score(quant, lines)
    m = np.array([len(_ngrams(line, bits=CFG.hash_bits)) for line in lines])
    # Each of a line's m n-grams moves by <= scale/2 and counts 1/sqrt(m).
    assert (np.abs(a - b) <= quant.scale / 2 * np.sqrt(m) + 1e-12).all()
    assert not np.array_equal(a, b)
    assert np.abs(oof_exact - oof_quant).max() < 1e-2  # out-of-fold scores use them too
    quant.validate()


def test_weights_must_match_the_quantize_setting():
    pages = _pages(12)
    quant, _ = _fit(pages)
    float_cfg = replace(CFG, quantize=False)
    cases = [
        (LexicalModel(CFG, quant.weights.astype(np.float64), quant.intercept, 1.0), "int16"),
        (LexicalModel(float_cfg, quant.weights, quant.intercept), "float64"),
        (LexicalModel(CFG, quant.weights, quant.intercept, 0.0), "scale"),
        (LexicalModel(CFG, quant.weights, quant.intercept, float("nan")), "scale"),
        (LexicalModel(float_cfg, quant.weights * quant.scale, quant.intercept, 2.0), "no scale"),
    ]
    for model, message in cases:
        with pytest.raises(ValueError, match=message):
            model.validate()
