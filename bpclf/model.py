"""The boilerplate classifier: features + gradient-boosted trees + a decision threshold.

Follows scikit-learn's conventions (settings in ``__init__``, learned state in attributes
ending in ``_``), but works on pages rather than matrices. Training uses a validation
split grouped by page for early stopping and for the best-F1 threshold, then (by
default) refits on all pages with the number of trees found. Training sets of more than
``large_data_lines`` lines skip the refit (the early-stopped model is final) and grow
fewer trees at a higher learning rate. The fitted trees are kept
as a validated :class:`~bpclf.serialize.TreeEnsemble`, so a loaded model predicts
exactly like the one that was trained, without unpickling anything.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bpclf import __version__
from bpclf.calibration import OPERATING_POINTS, Platt, fit_platt, operating_points
from bpclf.config import Config, load_config, stored_config
from bpclf.errors import BpclfError, DataError, ModelError, UsageError
from bpclf.features import FEATURE_SCHEMA_VERSION, FeatureExtractor, neighbour_features
from bpclf.lexical import LexicalModel, fit_out_of_fold, lexical_block, lexical_names
from bpclf.metrics import best_f1_threshold, calibration_summary, line_metrics
from bpclf.pages import Page, batched, page_blocks
from bpclf.phrases import Lexicon
from bpclf.serialize import TreeEnsemble, load_model_bundle, save_model
from bpclf.stopwords import Stopwords, read_stopword_dir

Progress = Callable[[int], None]
log = logging.getLogger("bpclf")


def library_versions() -> dict[str, str]:
    import sklearn

    return {
        "bpclf": __version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def data_summary(pages: Sequence[Page]) -> dict[str, Any]:
    """Pages, lines and boilerplate share overall and per ``lang`` / ``source``."""

    def block(group: Sequence[Page]) -> dict[str, Any]:
        lines = sum(len(p) for p in group)
        bp = sum(sum(p.labels or []) for p in group)
        return {
            "pages": len(group),
            "lines": lines,
            "boilerplate_share": round(bp / lines, 4) if lines else None,
        }

    by_lang: dict[str, list[Page]] = {}
    by_source: dict[str, list[Page]] = {}
    for p in pages:
        by_lang.setdefault(p.lang or "unknown", []).append(p)
        by_source.setdefault(p.source or "unknown", []).append(p)
    return {
        **block(pages),
        "by_lang": {k: block(v) for k, v in sorted(by_lang.items())},
        "by_source": {k: block(v) for k, v in sorted(by_source.items())},
    }


def line_weights(
    pages: Sequence[Page], source_weights: dict[str, float], page_weight_power: float = 0.0
) -> np.ndarray:
    """Training weight of every line: its source's weight, times ``n ** -power`` for a
    page of ``n`` lines, rescaled to the mean the source weights alone give.

    Annotators label a page in one sitting, so a page's lines share its conventions: with
    power 0 a 400-line forum thread counts forty times a 10-line article, with 1 every
    page counts alike; 0.5 lies between.
    """
    sizes = np.array([len(p) for p in pages], dtype=np.int64)
    source = np.array([source_weights.get(p.source or "", 1.0) for p in pages])
    w = np.repeat(source, sizes)
    if page_weight_power and len(w):
        scaled = w * np.repeat(sizes.astype(np.float64) ** -page_weight_power, sizes)
        w = scaled * (w.sum() / scaled.sum())
    return w


def _read_points(data: Any) -> dict[str, float]:
    """Operating-point thresholds from model metadata (ValueError when malformed)."""
    if not data:
        return {}
    out = {}
    for name, point in dict(data).items():
        t = float(point["threshold"])
        if name not in OPERATING_POINTS or not 0.0 <= t <= 1.0:
            raise ValueError(f"bad operating point {name!r}")
        out[name] = t
    return out


class _Stopwatch:
    """Wall seconds per named step, summed over repeated steps."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


def _train_pages_first(
    pages: list[Page], groups: np.ndarray, tr: np.ndarray, va: np.ndarray
) -> tuple[list[Page], np.ndarray]:
    """The pages reordered as the training pages, then the validation pages (each side in
    its original order), and the line order that goes with it.

    ``groups`` is the page index of every line and ``tr``/``va`` the (ascending) line
    indices of a split grouped by page. The feature matrix of the reordered pages is
    ``X[order]`` of the original one, so its training rows ``[:len(tr)]`` and its
    validation rows ``[len(tr):]`` are views instead of copies.
    """
    train_pages = np.unique(groups[tr])
    val_pages = np.unique(groups[va])
    order = [*train_pages.tolist(), *val_pages.tolist()]
    return [pages[i] for i in order], np.concatenate([tr, va])


def _read_lexical(
    config: Config, meta: dict, vectors: dict[str, np.ndarray], src: str
) -> LexicalModel | None:
    """The stored n-gram model of a model whose config enables the lexical score."""
    weights = vectors.get("lexical_weights")
    stored = meta.get("lexical")
    if not config.lexical.enabled:
        if weights is not None or stored:
            raise ModelError("model has lexical weights but its config disables them", source=src)
        return None
    if weights is None or not isinstance(stored, dict):
        raise ModelError("model config enables the lexical score but it is missing", source=src)
    try:
        # Quantised weights need their scale; float64 ones (older models) have none.
        scale = float(stored["scale"] if config.lexical.quantize else stored.get("scale", 1.0))
        lexical = LexicalModel(config.lexical, weights, float(stored["intercept"]), scale)
        lexical.validate()
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"invalid lexical model ({exc})", source=src) from None
    return lexical


class BoilerplateClassifier:
    """Classify every line of a page as content (0) or boilerplate (1).

    Parameters
    ----------
    config:
        Feature settings and hyperparameters; ``None`` means configs/default.toml.

    After ``fit``, ``fit_seconds_`` holds the wall seconds of its steps (features,
    early-stopped fit, validation predictions, refit, export, calibration, ...); it is
    not stored in the model file.
    """

    def __init__(self, config: Config | None = None) -> None:
        self.config = config

    # -- fitting -----------------------------------------------------------------------
    def _resources(self) -> tuple[Lexicon, Stopwords]:
        cfg = self.config_
        lexicon = Lexicon.from_file(cfg.resolve(cfg.features.lexicon))
        stopwords = Stopwords.from_dict(read_stopword_dir(cfg.resolve(cfg.features.stopwords_dir)))
        return lexicon, stopwords

    def fit(self, pages: Sequence[Page], progress: Progress | None = None) -> BoilerplateClassifier:
        """Train on labelled pages (every page must have ``labels``)."""

        t_fit = time.perf_counter()
        steps = _Stopwatch()
        self.config_ = self.config if self.config is not None else load_config()
        cap = self.config_.features.max_page_lines
        pages = [block for _, block in page_blocks(pages, cap) if len(block)]
        unlabelled = [p.id for p in pages if p.labels is None]
        if unlabelled:
            raise DataError("training pages need 'boilerplate' labels", page=unlabelled[0])
        y = np.array([v for p in pages for v in p.labels or []], dtype=np.int64)
        if len(y) == 0:
            raise DataError("the training set is empty (no labelled lines)")
        if len(np.unique(y)) < 2:
            which = "boilerplate" if y[0] == 1 else "content"
            raise DataError(f"the training set has a single class (all lines are {which})")
        lexicon, stopwords = self._resources()
        try:
            self._set_extractor(lexicon, stopwords)
        except ValueError as exc:
            raise UsageError(f"invalid config: {exc}") from None
        mcfg = self.config_.model
        unknown = [f for f in mcfg.second_pass_features if f not in self.feature_names_]
        if mcfg.second_pass and unknown:
            raise UsageError(f"invalid config: unknown second_pass_features: {', '.join(unknown)}")
        groups = np.repeat(np.arange(len(pages)), [len(p) for p in pages])
        split = self._validation_split(y, groups)
        if split is None:
            log.warning("too few pages for a validation split: no early stopping, threshold 0.5")
        self.large_data_ = 0 < mcfg.large_data_lines < len(y)
        refit = mcfg.refit_on_all and not self.large_data_
        if split is not None and not refit and not mcfg.second_pass:
            # The early-stopped model is final and nothing needs the pages in their
            # order: compute the features of the training pages first, so that the
            # training and validation matrices are views of X instead of copies.
            pages, order = _train_pages_first(pages, groups, *split)
            y = y[order]
            groups = np.repeat(np.arange(len(pages)), [len(p) for p in pages])
            n_train = len(split[0])
            split = (slice(0, n_train), slice(n_train, len(y)))
        w = line_weights(pages, mcfg.source_weights, mcfg.page_weight_power)
        with steps("features"):
            X = self._features(pages, progress)
        self.lexical_: LexicalModel | None = None
        if self.config_.lexical.enabled:
            with steps("lexical"):
                X = self._with_lexical(X, pages, y, w)
        hgb, n_iter, val_proba = self._fit_stage(X, y, w, split, refit, steps)
        with steps("export"):
            self.ensemble_ = self._export(hgb, X)
        self.second_pass_ = None
        self.second_pass_names_: list[str] = []
        second: dict[str, Any] = {}
        if mcfg.second_pass and split is not None:
            with steps("second_pass_out_of_fold"):
                oof = self._out_of_fold(X, y, w, groups, n_iter)
                X2 = self._second_pass_matrix(X, oof, [len(p) for p in pages])
            hgb2, n_iter2, val_proba = self._fit_stage(
                X2, y, w, split, refit, steps, step_prefix="second_pass_"
            )
            with steps("second_pass_export"):
                self.second_pass_ = self._export(hgb2, X2)
            second = {
                "feature_names": list(self.second_pass_names_),
                "n_iter": n_iter2,
                "folds": mcfg.second_pass_folds,
            }
        va = split[1] if split is not None else None
        oof_threshold = mcfg.threshold_folds >= 2 and not (self.large_data_ or mcfg.second_pass)
        if va is not None and oof_threshold:
            # Threshold and calibration from every training page, each predicted by trees
            # that never saw it: the validation split's fifth of the pages alone moved the
            # threshold between 0.36 and 0.55 with the seed (docs/findings.md).
            with steps("threshold_out_of_fold"):
                val_proba = self._out_of_fold(X, y, w, groups, n_iter, mcfg.threshold_folds)
            va = np.arange(len(y))
        validation: dict[str, Any] = {}
        threshold = 0.5
        self.calibration_ = Platt()
        points: dict[str, Any] = {}
        with steps("calibration"):
            if va is not None:
                if mcfg.calibrate:
                    self.calibration_ = fit_platt(val_proba, y[va], w[va])
                val_proba = self.calibration_(val_proba)
                threshold, _ = best_f1_threshold(y[va], val_proba)
                pred = (val_proba >= threshold).astype(int)
                validation = {k: float(v) for k, v in line_metrics(y[va], pred, val_proba).items()}
                validation["pages"] = len(np.unique(groups[va]))
                validation["ece"] = calibration_summary(y[va], val_proba)["ece"]
                points = operating_points(
                    y[va],
                    val_proba,
                    keep_content=mcfg.keep_more_content_recall,
                    remove_boilerplate=mcfg.remove_more_recall,
                )
        self.threshold_ = float(threshold)
        self.operating_points_ = {k: v["threshold"] for k, v in points.items()}
        self.meta_ = {
            "format": "bpclf-model",
            "feature_schema_version": FEATURE_SCHEMA_VERSION,
            "feature_names": list(self.feature_names_),
            "config": self.config_.to_dict(),
            "threshold": self.threshold_,
            "calibration": self.calibration_.to_dict(),
            "operating_points": points,
            "n_iter": n_iter,
            "large_data": self.large_data_,
            "second_pass": second,
            "training_data": data_summary(pages),
            "validation_metrics": validation,
            "versions": library_versions(),
            "resources": {
                "lexicon": [list(e) for e in lexicon.entries],
                "stopwords": stopwords.to_dict(),
            },
        }
        if self.lexical_ is not None:
            lex = self.lexical_
            self.meta_["lexical"] = {"intercept": lex.intercept, "scale": lex.scale}
        steps.seconds["other"] = time.perf_counter() - t_fit - sum(steps.seconds.values())
        self.fit_seconds_ = steps.seconds
        log.debug("fit steps (s): %s", ", ".join(f"{k} {v:.1f}" for k, v in steps.seconds.items()))
        return self

    def _validation_split(
        self, y: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Line indices of a train/validation split grouped by page (None if impossible)."""
        from sklearn.model_selection import GroupShuffleSplit

        mcfg = self.config_.model
        if len(np.unique(groups)) < 2:
            return None
        splitter = GroupShuffleSplit(
            n_splits=1, test_size=mcfg.validation_fraction, random_state=mcfg.random_state
        )
        tr, va = next(splitter.split(y, y, groups))
        if len(np.unique(y[va])) < 2 or len(np.unique(y[tr])) < 2:
            return None
        return tr, va

    def _fit_stage(
        self,
        X: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        split: tuple[Any, Any] | None,
        refit: bool,
        steps: _Stopwatch,
        step_prefix: str = "",
    ):
        """Early-stop on the validation split, then refit on everything when ``refit``.

        Returns the estimator, its number of trees and the validation-split
        probabilities of the early-stopped model (used for the threshold). ``split``
        holds line indices or slices (views, no copy) of the training/validation rows.
        """
        mcfg = self.config_.model
        if split is None:
            with steps(step_prefix + "fit"):
                hgb = self._estimator(early_stopping=False, max_iter=min(mcfg.max_iter, 100))
                hgb.fit(X, y, sample_weight=w)
            return hgb, int(hgb.n_iter_), None
        tr, va = split
        max_iter = mcfg.max_iter
        if self.large_data_:
            max_iter = min(max_iter, mcfg.large_data_max_iter)
        with steps(step_prefix + "early_stopped_fit"):
            hgb = self._estimator(early_stopping=True, max_iter=max_iter)
            hgb.fit(
                X[tr],
                y[tr],
                sample_weight=w[tr],
                X_val=X[va],
                y_val=y[va],
                sample_weight_val=w[va],
            )
        n_iter = int(hgb.n_iter_)
        with steps(step_prefix + "validation_predict"):
            val_proba = TreeEnsemble.from_sklearn(hgb).predict_proba(X[va])
        if refit:
            with steps(step_prefix + "refit"):
                hgb = self._estimator(early_stopping=False, max_iter=n_iter)
                hgb.fit(X, y, sample_weight=w)
        return hgb, n_iter, val_proba

    def _out_of_fold(
        self,
        X: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        groups: np.ndarray,
        n_iter: int,
        n_folds: int | None = None,
    ) -> np.ndarray:
        """First-pass probabilities of every line from models that never saw its page
        (``n_folds``, default ``second_pass_folds``, folds grouped by page).

        The second pass must learn from predictions like those it will get on new pages;
        in-fold predictions would be overconfident. The threshold and the calibration
        (``threshold_folds``) are chosen on them for the same reason.
        """
        mcfg = self.config_.model
        n_folds = n_folds or mcfg.second_pass_folds
        n_pages = int(groups.max()) + 1
        order = np.random.default_rng(mcfg.random_state).permutation(n_pages)
        page_fold = np.empty(n_pages, dtype=np.int64)
        page_fold[order] = np.arange(n_pages) % n_folds
        fold = page_fold[groups]
        oof = np.zeros(len(y))
        for k in range(n_folds):
            train, test = fold != k, fold == k
            if not test.any():
                continue
            if len(np.unique(y[train])) < 2:
                oof[test] = y[train].mean()
                continue
            hgb = self._estimator(early_stopping=False, max_iter=n_iter)
            hgb.fit(X[train], y[train], sample_weight=w[train])
            oof[test] = TreeEnsemble.from_sklearn(hgb).predict_proba(X[test])
        return oof

    def _second_pass_matrix(
        self, X: np.ndarray, proba: np.ndarray, page_sizes: Sequence[int]
    ) -> np.ndarray:
        """Selected first-pass features plus the first-pass probabilities around each line."""
        mcfg = self.config_.model
        cols = [self.feature_names_.index(f) for f in mcfg.second_pass_features]
        ctx, names = neighbour_features(proba, page_sizes, mcfg.second_pass_window)
        self.second_pass_names_ = [*mcfg.second_pass_features, *names]
        return np.hstack([X[:, cols], ctx])

    @staticmethod
    def _export(hgb, X: np.ndarray) -> TreeEnsemble:
        """The validated numpy form of a fitted estimator, checked against scikit-learn."""
        ensemble = TreeEnsemble.from_sklearn(hgb)
        check = ensemble.predict_proba(X[:2000])
        if not np.allclose(check, hgb.predict_proba(X[:2000])[:, 1], atol=1e-9):
            raise RuntimeError("tree export does not reproduce scikit-learn's predictions")
        return ensemble

    def _estimator(self, *, early_stopping: bool, max_iter: int):
        from sklearn.ensemble import HistGradientBoostingClassifier

        m = self.config_.model
        return HistGradientBoostingClassifier(
            learning_rate=m.large_data_learning_rate if self.large_data_ else m.learning_rate,
            max_iter=max_iter,
            max_leaf_nodes=m.max_leaf_nodes,
            max_depth=m.max_depth or None,
            min_samples_leaf=m.min_samples_leaf,
            l2_regularization=m.l2_regularization,
            max_features=m.max_features,
            class_weight=None if m.class_weight == "none" else m.class_weight,
            early_stopping=early_stopping,
            n_iter_no_change=m.n_iter_no_change,
            scoring="loss",
            validation_fraction=None,
            random_state=m.random_state,
        )

    def _set_extractor(self, lexicon: Lexicon, stopwords: Stopwords) -> None:
        self.extractor_ = FeatureExtractor(self.config_.features, lexicon, stopwords)
        self.feature_names_ = list(self.extractor_.feature_names)
        if self.config_.lexical.enabled:
            self.feature_names_ += lexical_names(self.config_.lexical.window)

    def _with_lexical(
        self, X: np.ndarray, pages: Sequence[Page], y: np.ndarray, w: np.ndarray
    ) -> np.ndarray:
        """Fill the lexical columns of ``X`` with out-of-fold n-gram scores; fit the n-gram
        model kept for prediction on all pages.

        The n-gram model is weighted like the trees: source weights times balanced class
        weights (unless ``class_weight = "none"``).
        """
        from sklearn.utils.class_weight import compute_sample_weight

        lcfg = self.config_.lexical
        sw = np.asarray(w, dtype=np.float64)
        if self.config_.model.class_weight == "balanced":
            sw = sw * compute_sample_weight("balanced", y)
        lay = self.extractor_.layout(pages)
        sizes = [len(p) for p in pages]
        self.lexical_, oof = fit_out_of_fold(
            lcfg, lay.cp, lay.starts, lay.ends, sizes, y, sw, seed=self.config_.model.random_state
        )
        block, _ = lexical_block(oof, sizes, lcfg.window)
        X[:, X.shape[1] - block.shape[1] :] = block
        return X

    def _features(
        self, pages: Sequence[Page], progress: Progress | None = None, batch_lines: int = 20000
    ) -> np.ndarray:
        """Feature matrix of ``pages``, computed in batches (results do not depend on them)
        and written into one preallocated matrix (no second copy of it while stacking).

        The lexical columns (last) are left for :meth:`_with_lexical` to fill."""
        X = np.empty((sum(len(p) for p in pages), len(self.feature_names_)), dtype=np.float64)
        row = 0
        for batch in batched(pages, batch_lines):
            block = self.extractor_.transform(batch)
            X[row : row + len(block), : block.shape[1]] = block
            row += len(block)
            if progress:
                progress(len(batch))
        if row != len(X):  # a programming error, never a data error
            raise AssertionError(f"computed {row} feature rows, expected {len(X)}")
        return X

    # -- prediction --------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "ensemble_"):
            raise ModelError("this classifier is not fitted: call fit() or load a model")

    def predict_proba(self, pages: Sequence[Page], batch_lines: int = 50_000) -> list[np.ndarray]:
        """P(boilerplate) for every line, one array per page (empty pages: empty arrays).

        Work is done in chunks of about ``batch_lines`` lines (long pages in blocks of
        ``max_page_lines``); results do not depend on the chunking.
        """
        flat = self.predict_proba_lines(pages, batch_lines)
        if not pages:
            return []
        return np.split(flat, np.cumsum([len(p) for p in pages])[:-1])

    def predict_proba_lines(self, pages: Sequence[Page], batch_lines: int = 50_000) -> np.ndarray:
        """:meth:`predict_proba` as one array: the lines of all pages, in order (what a
        writer of a whole batch needs, without an array per page)."""
        self._check_fitted()
        blocks = page_blocks(pages, self.config_.features.max_page_lines)
        chunks = batched(blocks, batch_lines, size=lambda item: len(item[1]))
        parts = [self._predict_chunk([block for _, block in chunk]) for chunk in chunks]
        return np.concatenate(parts) if parts else np.zeros(0)

    def transform(self, pages: Sequence[Page]) -> np.ndarray:
        """The feature matrix the trees see for ``pages`` (columns: ``feature_names_``),
        the lexical block from the stored n-gram model included. Pages longer than
        ``max_page_lines`` are not cut here (``predict_proba`` does that)."""
        self._check_fitted()
        n_lex = len(self.feature_names_) - self.extractor_.n_features
        lay = self.extractor_.layout(pages)  # one layout for the features and the n-grams
        X = self.extractor_.transform(pages, extra_columns=n_lex, layout=lay)
        if self.lexical_ is not None:
            scores = self.lexical_.score(lay.cp, lay.starts, lay.ends)
            window = self.config_.lexical.window
            X[:, X.shape[1] - n_lex :] = lexical_block(scores, [len(p) for p in pages], window)[0]
        return X

    def _predict_chunk(self, blocks: list[Page]) -> np.ndarray:
        """Calibrated probabilities of the lines of ``blocks``, in order."""
        X = self.transform(blocks)
        proba = self.ensemble_.predict_proba(X)
        if self.second_pass_ is not None:
            X2 = self._second_pass_matrix(X, proba, [len(b) for b in blocks])
            proba = self.second_pass_.predict_proba(X2)
        return self.calibration_(proba)

    def operating_threshold(self, point: str) -> float:
        """The threshold of a named operating point (``balanced``, ``keep_more``,
        ``remove_more``); models without stored points only know ``balanced``."""
        self._check_fitted()
        if point not in OPERATING_POINTS:
            raise UsageError(f"unknown operating point {point!r}")
        if point == "balanced":
            return self.threshold_
        if point not in self.operating_points_:
            raise ModelError(
                f"this model has no '{point}' operating point (trained before bpclf "
                "stored them); use --threshold"
            )
        return self.operating_points_[point]

    def decision_threshold(self, threshold: float | None = None) -> float:
        """The threshold lines are labelled at: the given one, else the model's own."""
        self._check_fitted()
        return self.threshold_ if threshold is None else threshold

    def predict(self, pages: Sequence[Page], threshold: float | None = None) -> list[np.ndarray]:
        """0/1 labels per line (1 = boilerplate), at the model's or the given threshold."""
        t = self.decision_threshold(threshold)
        return [(p >= t).astype(np.int8) for p in self.predict_proba(pages)]

    def feature_importances(self) -> np.ndarray:
        """Split-count importances of the first-pass features."""
        self._check_fitted()
        return self.ensemble_.feature_importances()

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the model atomically (temp file, then rename)."""
        self._check_fitted()
        extras = {"second_pass": self.second_pass_} if self.second_pass_ is not None else None
        vectors = {"lexical_weights": self.lexical_.weights} if self.lexical_ else None
        save_model(path, self.ensemble_, self.meta_, extras, vectors)

    @classmethod
    def load(cls, path: str | Path) -> BoilerplateClassifier:
        """Load and validate a model file; never executes code from the file."""
        ensemble, meta, extras, vectors = load_model_bundle(path)
        src = str(path)
        if meta.get("format") != "bpclf-model":
            raise ModelError("not a bpclf classifier model", source=src)
        version = meta.get("feature_schema_version")
        if version != FEATURE_SCHEMA_VERSION:
            raise ModelError(
                f"model uses feature schema {version!r}, this bpclf {__version__} computes "
                f"schema {FEATURE_SCHEMA_VERSION}; retrain the model or install a matching "
                "bpclf",
                source=src,
            )
        try:
            config = stored_config(meta["config"], source=src)
            res = meta["resources"]
            lexicon = Lexicon.from_rows(res["lexicon"])
            stopwords = Stopwords.from_dict(res["stopwords"])
            threshold = float(meta["threshold"])
            calibration = Platt.from_dict(meta.get("calibration"))
            points = _read_points(meta.get("operating_points"))
        except BpclfError as exc:
            raise ModelError(f"invalid model configuration: {exc.message}", source=src) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"model metadata is incomplete or invalid ({exc})", source=src
            ) from None
        model = cls(config)
        model.config_ = config
        try:
            model._set_extractor(lexicon, stopwords)
        except ValueError as exc:
            raise ModelError(f"invalid model configuration: {exc}", source=src) from None
        if list(meta.get("feature_names", [])) != model.feature_names_:
            raise ModelError(
                "model's feature names do not match the features this bpclf "
                "computes for its config; retrain the model",
                source=src,
            )
        if ensemble.n_features != len(model.feature_names_):
            raise ModelError(
                f"model trees expect {ensemble.n_features} features, the schema "
                f"has {len(model.feature_names_)}",
                source=src,
            )
        if not 0.0 <= threshold <= 1.0:
            raise ModelError("model threshold outside [0, 1]", source=src)
        model.ensemble_, model.threshold_, model.meta_ = ensemble, threshold, meta
        model.calibration_, model.operating_points_ = calibration, points
        model.large_data_ = bool(meta.get("large_data", False))
        model.lexical_ = _read_lexical(config, meta, vectors, src)
        model.second_pass_ = extras.get("second_pass")
        model.second_pass_names_ = []
        second = meta.get("second_pass") or {}
        if (model.second_pass_ is None) != (not second):
            raise ModelError("model metadata and trees disagree about the second pass", source=src)
        if model.second_pass_ is not None:
            try:
                model._second_pass_matrix(np.zeros((1, ensemble.n_features)), np.zeros(1), [1])
            except ValueError as exc:
                raise ModelError(f"invalid second-pass configuration: {exc}", source=src) from None
            if second.get("feature_names") != model.second_pass_names_:
                raise ModelError(
                    "second-pass feature names do not match; retrain the model", source=src
                )
            if model.second_pass_.n_features != len(model.second_pass_names_):
                raise ModelError("second-pass trees expect another number of features", source=src)
        return model

    def describe(self) -> dict[str, Any]:
        """Metadata without the bulky lexicon/stopword resources."""
        self._check_fitted()
        return {k: v for k, v in self.meta_.items() if k != "resources"}
