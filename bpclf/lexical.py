"""A learned lexical score per line: hashed character n-grams, logistic regression.

The hand-written lexicon knows a few thousand appeal and navigation phrases; the
labelled pages know many more cues ("Posted in", "© 2021", "Lue lisää", "Partager",
month-name bylines, ...), in every language and in the spelling variants and compounds
that word lists miss. A linear model over the character 3-5-grams of each word (hashed,
as in scikit-learn's ``char_wb`` analyzer; digits as 0) turns them into one number per
line, and the trees see that number for the line and its neighbours.

Stacking needs care: the trees must learn from scores like those they get on new pages,
so during training every line's score comes from an n-gram model fitted on the *other*
pages (k folds grouped by page); the model stored in the file is then fitted on all
pages. Fitting is AdaGrad in compiled code (:func:`bpclf.kernels.ngram_train`),
deterministic for a given seed; the model file stores the weights as 16-bit integers
times one scale (``quantize``, the default: the table a line's n-grams are looked up in
is a quarter of the size and stays in cache) or as float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bpclf import charclass as cc
from bpclf import kernels
from bpclf.config import LexicalConfig
from bpclf.features import neighbour_features

#: Score given to neighbours beyond the page (no line scores that low in practice).
MISSING = -10.0


def lexical_names(window: int) -> list[str]:
    """Names of the lexical feature block (see :func:`lexical_block`)."""
    return lexical_block(np.zeros(0), [], window)[1]


def lexical_block(
    scores: np.ndarray, page_sizes: Sequence[int], window: int
) -> tuple[np.ndarray, list[str]]:
    """The lexical features of each line: its score, its neighbours' scores, their means
    before and after it and the page mean."""
    return neighbour_features(scores, page_sizes, window, name="lex", missing=MISSING)


def _tables():
    return cc.class_table(), cc.flag_table(), cc.lower_table()


#: Largest magnitude of a quantised weight (int16, symmetric around 0).
QUANT_MAX = 32767


def quantized(weights: np.ndarray) -> tuple[np.ndarray, float]:
    """``(q, scale)`` with int16 ``q`` and ``q * scale`` the nearest multiple of
    ``scale`` to each weight: the largest magnitude maps to :data:`QUANT_MAX`, so no
    weight is clipped and each moves by at most ``scale / 2``."""
    top = float(np.abs(weights).max()) if len(weights) else 0.0
    if top == 0.0:
        return np.zeros(len(weights), dtype=np.int16), 1.0
    scale = top / QUANT_MAX
    q = np.clip(np.rint(weights / scale), -QUANT_MAX, QUANT_MAX).astype(np.int16)
    return q, scale


@dataclass(frozen=True, eq=False)
class LexicalModel:
    """Fitted n-gram weights (``2 ** hash_bits`` of them, each ``weights[k] * scale``)
    and intercept: int16 weights when the config quantises them, float64 (scale 1)
    otherwise.

    Lines come as code points with start and end offsets (the layout the feature
    extractor computed for the same batch: :meth:`FeatureExtractor.layout`).
    """

    config: LexicalConfig
    weights: np.ndarray
    intercept: float
    scale: float = 1.0

    def score(self, cp: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Log-odds of boilerplate of every line [starts[i], ends[i]) of ``cp``."""
        c = self.config
        return kernels.ngram_scores(
            cp, starts, ends, *_tables(), c.ngram_min, c.ngram_max, c.hash_bits,
            self.weights, float(self.intercept), float(self.scale),
        )  # fmt: skip

    def validate(self) -> None:
        """Raise ValueError unless the weights can be used with this config."""
        w = self.weights
        dtype = np.dtype(np.int16 if self.config.quantize else np.float64)
        if not isinstance(w, np.ndarray) or w.dtype != dtype or w.ndim != 1:
            raise ValueError(f"lexical weights must be a 1-D {dtype} array")
        if w.shape[0] != 1 << self.config.hash_bits:
            raise ValueError(
                f"lexical weights have {w.shape[0]} entries, hash_bits "
                f"{self.config.hash_bits} needs {1 << self.config.hash_bits}"
            )
        if not np.isfinite(self.intercept) or (w.dtype.kind == "f" and not np.isfinite(w).all()):
            raise ValueError("lexical weights must be finite")
        if self.config.quantize:
            if not (np.isfinite(self.scale) and self.scale > 0):
                raise ValueError("lexical weight scale must be a positive number")
        elif self.scale != 1.0:
            raise ValueError("float64 lexical weights take no scale")


def _fit(config, cp, starts, ends, y, sample_weight, seed, lines=None) -> LexicalModel:
    """Fit on the lines indexed by ``lines`` (all if None), at most ``max_train_lines``
    of them (a seeded sample: on large training sets the n-gram model has all it needs
    long before, and the fit stays a few seconds)."""
    idx = np.arange(len(starts)) if lines is None else np.asarray(lines, dtype=np.int64)
    order = idx[np.random.default_rng(seed).permutation(len(idx))]
    order = order[: config.max_train_lines]
    c = config
    weights, intercept = kernels.ngram_train(
        cp, starts, ends, *_tables(), c.ngram_min, c.ngram_max, c.hash_bits,
        np.asarray(y, dtype=np.float64), np.asarray(sample_weight, dtype=np.float64),
        order, c.epochs, c.learning_rate, c.l2,
    )  # fmt: skip
    if not c.quantize:
        return LexicalModel(config, weights, intercept)
    q, scale = quantized(weights)
    return LexicalModel(config, q, intercept, scale)


def fit_out_of_fold(
    config: LexicalConfig,
    cp: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    page_sizes: Sequence[int],
    y: np.ndarray,
    sample_weight: np.ndarray,
    *,
    seed: int,
) -> tuple[LexicalModel, np.ndarray]:
    """The n-gram model fitted on all lines, and every line's out-of-fold score: from
    a model fitted on the pages of the other folds (``config.folds``, grouped by page),
    so that the trees learn from scores like those they get on new pages."""
    sizes = np.asarray(page_sizes, dtype=np.int64)
    page_fold = np.random.default_rng(seed).permutation(len(sizes)) % config.folds
    fold = np.repeat(page_fold, sizes)
    oof = np.zeros(len(starts))
    for k in range(config.folds):
        test = np.flatnonzero(fold == k)
        if len(test) == 0:
            continue
        train = np.flatnonzero(fold != k)
        part = _fit(config, cp, starts, ends, y, sample_weight, seed + k + 1, train)
        oof[test] = part.score(cp, starts[test], ends[test])
    return _fit(config, cp, starts, ends, y, sample_weight, seed), oof
