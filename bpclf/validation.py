"""Cross-validation grouped by page: the protocol behind every reported number.

Exact duplicate pages are dropped first (a duplicate on both sides of a split would
leak), then pages are dealt into k folds; each fold is predicted by a model trained on
the other folds, with its own inner validation split and threshold. The out-of-fold
predictions are what the model card reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bpclf.baselines import c4_rules
from bpclf.config import Config
from bpclf.metrics import evaluate_system
from bpclf.model import BoilerplateClassifier
from bpclf.pages import Page


def page_fingerprint(page: Page) -> str:
    """Hash of a page's lines (labels excluded): equal pages have equal fingerprints."""
    return hashlib.sha1(json.dumps(page.lines, ensure_ascii=False).encode()).hexdigest()


def drop_duplicate_pages(pages: Sequence[Page]) -> tuple[list[Page], list[str]]:
    """Pages without exact duplicates (first copy kept), and the ids dropped."""
    seen: set[str] = set()
    kept, dropped = [], []
    for p in pages:
        fp = page_fingerprint(p)
        if fp in seen:
            dropped.append(p.id)
        else:
            seen.add(fp)
            kept.append(p)
    return kept, dropped


def fold_assignment(n_pages: int, n_folds: int, seed: int) -> np.ndarray:
    """Fold number of each page: a seeded shuffle dealt round-robin."""
    order = np.random.default_rng(seed).permutation(n_pages)
    folds = np.empty(n_pages, dtype=np.int64)
    folds[order] = np.arange(n_pages) % n_folds
    return folds


@dataclass
class CrossValidation:
    pages: list[Page]
    proba: list[np.ndarray]  # out-of-fold P(boilerplate) per page
    labels: list[np.ndarray]  # out-of-fold 0/1 with each fold's own threshold
    folds: np.ndarray
    thresholds: list[float]

    def results(self, macro_langs: Sequence[str] | None = None) -> list[dict]:
        """Metrics of the out-of-fold predictions and of the C4 rules on the same lines."""
        y = np.concatenate([np.asarray(p.labels) for p in self.pages])
        langs = [p.lang or "unknown" for p in self.pages for _ in p.lines]
        sources = [p.source or "unknown" for p in self.pages for _ in p.lines]
        char_len = np.array([len(line) for p in self.pages for line in p.lines])
        model = evaluate_system(
            "bpclf",
            y,
            np.concatenate(self.labels),
            np.concatenate(self.proba),
            char_len,
            langs,
            sources,
            macro_langs,
        )
        c4 = evaluate_system(
            "c4-rules",
            y,
            np.concatenate(c4_rules(self.pages)),
            None,
            char_len,
            langs,
            sources,
            macro_langs,
        )
        return [model, c4]


def headline(results: Sequence[dict], langs: Sequence[str] | None = None) -> dict:
    """The numbers the accuracy targets are about, from :meth:`CrossValidation.results`:
    macro F1 over languages, pooled ROC-AUC, F1 per language (of ``langs``, default all)
    and the smallest margin over the C4 rules with the language it is in."""
    model, c4 = (next(r for r in results if r["system"] == s) for s in ("bpclf", "c4-rules"))
    by_lang = {
        k: v["lines"]["f1"] for k, v in model["by_lang"].items() if langs is None or k in langs
    }
    margins = {k: f1 - c4["by_lang"][k]["lines"]["f1"] for k, f1 in by_lang.items()}
    weakest = min(margins, key=margins.get)
    return {
        "macro_f1": model["macro_lang"]["f1"],
        "roc_auc": model["overall"]["lines"]["roc_auc"],
        "min_margin_over_c4": margins[weakest],
        "weakest_lang": weakest,
        "f1_by_lang": by_lang,
    }


def cross_validate(
    pages: Sequence[Page],
    config: Config,
    *,
    n_folds: int = 5,
    seed: int = 0,
    extra_train: Sequence[Page] = (),
    on_fold: Callable[[int], None] | None = None,
) -> CrossValidation:
    """Out-of-fold predictions for every page (grouped by page, deterministic).

    ``extra_train`` pages are added to every fold's training set and never evaluated
    (for example the project's hand-written pages that the default model also uses).
    """
    pages = list(pages)
    folds = fold_assignment(len(pages), n_folds, seed)
    proba: list[np.ndarray | None] = [None] * len(pages)
    labels: list[np.ndarray | None] = [None] * len(pages)
    thresholds = []
    for k in range(n_folds):
        train = [p for p, f in zip(pages, folds, strict=True) if f != k] + list(extra_train)
        test_idx = [i for i, f in enumerate(folds) if f == k]
        model = BoilerplateClassifier(config).fit(train)
        thresholds.append(model.threshold_)
        test = [pages[i] for i in test_idx]
        for i, pr in zip(test_idx, model.predict_proba(test), strict=True):
            proba[i] = pr
            labels[i] = (pr >= model.threshold_).astype(np.int8)
        if on_fold:
            on_fold(k)
    return CrossValidation(pages, proba, labels, folds, thresholds)  # type: ignore[arg-type]
