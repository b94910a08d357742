"""The boilerplate classifier: features + gradient-boosted trees + a decision threshold.

Follows scikit-learn's conventions (settings in ``__init__``, learned state in attributes
ending in ``_``), but works on pages rather than matrices. Training uses a validation
split grouped by page for early stopping and for the best-F1 threshold, then (by
default) refits on all pages with the number of trees found. The fitted trees are kept
as a validated :class:`~bpclf.serialize.TreeEnsemble`, so a loaded model predicts
exactly like the one that was trained, without unpickling anything.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bpclf import __version__
from bpclf.config import Config, config_from_dict, load_config
from bpclf.errors import BpclfError, DataError, ModelError
from bpclf.features import FEATURE_SCHEMA_VERSION, FeatureExtractor
from bpclf.metrics import best_f1_threshold, line_metrics
from bpclf.pages import Page
from bpclf.phrases import Lexicon
from bpclf.serialize import TreeEnsemble, load_model, save_model
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


class BoilerplateClassifier:
    """Classify every line of a page as content (0) or boilerplate (1).

    Parameters
    ----------
    config:
        Feature settings and hyperparameters; ``None`` means configs/default.toml.
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
        from sklearn.model_selection import GroupShuffleSplit

        self.config_ = self.config if self.config is not None else load_config()
        pages = [p for p in pages if len(p)]
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
        self._set_extractor(lexicon, stopwords)
        X = self._features(pages, progress)
        groups = np.repeat(np.arange(len(pages)), [len(p) for p in pages])
        mcfg = self.config_.model

        val_idx = None
        if len(pages) >= 2:
            split = GroupShuffleSplit(
                n_splits=1, test_size=mcfg.validation_fraction, random_state=mcfg.random_state
            )
            tr, va = next(split.split(X, y, groups))
            if len(np.unique(y[va])) == 2 and len(np.unique(y[tr])) == 2:
                val_idx = (tr, va)
        validation: dict[str, Any] = {}
        if val_idx is None:
            log.warning("too few pages for a validation split: no early stopping, threshold 0.5")
            hgb = self._estimator(early_stopping=False, max_iter=min(mcfg.max_iter, 100))
            hgb.fit(X, y)
            threshold, n_iter = 0.5, hgb.n_iter_
        else:
            tr, va = val_idx
            hgb = self._estimator(early_stopping=True, max_iter=mcfg.max_iter)
            hgb.fit(X[tr], y[tr], X_val=X[va], y_val=y[va])
            n_iter = int(hgb.n_iter_)
            proba_va = TreeEnsemble.from_sklearn(hgb).predict_proba(X[va])
            threshold, _ = best_f1_threshold(y[va], proba_va)
            validation = {
                k: float(v)
                for k, v in line_metrics(
                    y[va], (proba_va >= threshold).astype(int), proba_va
                ).items()
            }
            validation["pages"] = len(np.unique(groups[va]))
            if mcfg.refit_on_all:
                hgb = self._estimator(early_stopping=False, max_iter=n_iter)
                hgb.fit(X, y)
        self.ensemble_ = TreeEnsemble.from_sklearn(hgb)
        check = self.ensemble_.predict_proba(X[:2000])
        if not np.allclose(check, hgb.predict_proba(X[:2000])[:, 1], atol=1e-9):
            raise RuntimeError("tree export does not reproduce scikit-learn's predictions")
        self.threshold_ = float(threshold)
        self.meta_ = {
            "format": "bpclf-model",
            "feature_schema_version": FEATURE_SCHEMA_VERSION,
            "feature_names": list(self.feature_names_),
            "config": self.config_.to_dict(),
            "threshold": self.threshold_,
            "n_iter": n_iter,
            "training_data": data_summary(pages),
            "validation_metrics": validation,
            "versions": library_versions(),
            "resources": {
                "lexicon": [list(e) for e in lexicon.entries],
                "stopwords": stopwords.to_dict(),
            },
        }
        return self

    def _estimator(self, *, early_stopping: bool, max_iter: int):
        from sklearn.ensemble import HistGradientBoostingClassifier

        m = self.config_.model
        return HistGradientBoostingClassifier(
            learning_rate=m.learning_rate,
            max_iter=max_iter,
            max_leaf_nodes=m.max_leaf_nodes,
            min_samples_leaf=m.min_samples_leaf,
            l2_regularization=m.l2_regularization,
            max_features=m.max_features,
            class_weight=m.class_weight,
            early_stopping=early_stopping,
            n_iter_no_change=m.n_iter_no_change,
            scoring="loss",
            validation_fraction=None,
            random_state=m.random_state,
        )

    def _set_extractor(self, lexicon: Lexicon, stopwords: Stopwords) -> None:
        self.extractor_ = FeatureExtractor(self.config_.features, lexicon, stopwords)
        self.feature_names_ = self.extractor_.feature_names

    def _features(
        self, pages: Sequence[Page], progress: Progress | None = None, batch_lines: int = 20000
    ) -> np.ndarray:
        """Feature matrix of ``pages``, computed in batches (results do not depend on them)."""
        blocks, batch, size = [], [], 0
        for p in pages:
            batch.append(p)
            size += len(p)
            if size >= batch_lines:
                blocks.append(self.extractor_.transform(batch))
                if progress:
                    progress(len(batch))
                batch, size = [], 0
        if batch or not blocks:
            blocks.append(self.extractor_.transform(batch))
            if progress:
                progress(len(batch))
        return np.vstack(blocks)

    # -- prediction --------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "ensemble_"):
            raise ModelError("this classifier is not fitted: call fit() or load a model")

    def predict_proba(self, pages: Sequence[Page]) -> list[np.ndarray]:
        """P(boilerplate) for every line, one array per page (empty pages: empty arrays)."""
        self._check_fitted()
        if not pages:
            return []
        proba = self.ensemble_.predict_proba(self.extractor_.transform(pages))
        bounds = np.cumsum([len(p) for p in pages])[:-1]
        return np.split(proba, bounds)

    def predict(self, pages: Sequence[Page], threshold: float | None = None) -> list[np.ndarray]:
        """0/1 labels per line (1 = boilerplate), at the model's or the given threshold."""
        self._check_fitted()
        t = self.threshold_ if threshold is None else threshold
        return [(p >= t).astype(np.int8) for p in self.predict_proba(pages)]

    def feature_importances(self) -> np.ndarray:
        self._check_fitted()
        return self.ensemble_.feature_importances()

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the model atomically (temp file, then rename)."""
        self._check_fitted()
        save_model(path, self.ensemble_, self.meta_)

    @classmethod
    def load(cls, path: str | Path) -> BoilerplateClassifier:
        """Load and validate a model file; never executes code from the file."""
        ensemble, meta = load_model(path)
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
            config = config_from_dict(meta["config"], source=src)
            res = meta["resources"]
            lexicon = Lexicon.from_rows(res["lexicon"])
            stopwords = Stopwords.from_dict(res["stopwords"])
            threshold = float(meta["threshold"])
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
        return model

    def describe(self) -> dict[str, Any]:
        """Metadata without the bulky lexicon/stopword resources."""
        self._check_fitted()
        return {k: v for k, v in self.meta_.items() if k != "resources"}
