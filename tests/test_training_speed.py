"""The large-data training path (no refit, fewer trees) and the fit step timings.

Only tiny models: the path is switched on with a tiny ``large_data_lines``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bpclf.model import BoilerplateClassifier, line_weights
from bpclf.serialize import TreeEnsemble

from .conftest import make_pages, tiny_config


def _config(**model):
    cfg = tiny_config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, second_pass=False))
    # The tree-fitting path alone: the lexical block would need its own reference.
    cfg = dataclasses.replace(cfg, lexical=dataclasses.replace(cfg.lexical, enabled=False))
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **model))


def _early_stopped_reference(cfg, pages, large: bool):
    """The early-stopped estimator fitted by hand on copies of the training rows (the
    original code path): what the model must equal when it does not refit."""
    ref = BoilerplateClassifier(cfg)
    ref.config_ = cfg
    ref._set_extractor(*ref._resources())
    ref.large_data_ = large
    X = ref._features(pages)
    y = np.array([v for p in pages for v in p.labels], dtype=np.int64)
    groups = np.repeat(np.arange(len(pages)), [len(p) for p in pages])
    tr, va = ref._validation_split(y, groups)
    max_iter = (
        min(cfg.model.max_iter, cfg.model.large_data_max_iter) if large else cfg.model.max_iter
    )
    hgb = ref._estimator(early_stopping=True, max_iter=max_iter)
    w = line_weights(pages, cfg.model.source_weights, cfg.model.page_weight_power)
    hgb.fit(X[tr], y[tr], sample_weight=w[tr], X_val=X[va], y_val=y[va], sample_weight_val=w[va])
    return hgb, X


@pytest.fixture(scope="module")
def pages():
    return make_pages(30)


def test_small_training_sets_refit_on_all(pages):
    model = BoilerplateClassifier(_config()).fit(pages)
    n_lines = sum(len(p) for p in pages)
    assert n_lines <= model.config_.model.large_data_lines
    assert not model.large_data_ and model.meta_["large_data"] is False
    assert {"features", "early_stopped_fit", "validation_predict", "refit", "export"} <= set(
        model.fit_seconds_
    )
    assert all(s >= 0 for s in model.fit_seconds_.values())


def test_large_training_sets_keep_the_early_stopped_model(pages):
    cfg = _config(large_data_lines=50, large_data_learning_rate=0.2, large_data_max_iter=7)
    model = BoilerplateClassifier(cfg).fit(pages)
    assert model.large_data_ and model.meta_["large_data"] is True
    assert "refit" not in model.fit_seconds_
    hgb, X = _early_stopped_reference(cfg, pages, large=True)
    assert hgb.learning_rate == 0.2
    assert model.meta_["n_iter"] == hgb.n_iter_ == model.ensemble_.n_trees <= 7
    # The training pages were featurised first (views instead of copies): same trees.
    np.testing.assert_array_equal(
        model.ensemble_.predict_proba(X), TreeEnsemble.from_sklearn(hgb).predict_proba(X)
    )
    assert (
        model.meta_["training_data"]
        == BoilerplateClassifier(_config()).fit(pages).meta_["training_data"]
    )


def test_no_refit_on_small_data_gives_the_early_stopped_model(pages):
    """refit_on_all = false takes the same no-copy route; the learning rate is the normal one."""
    cfg = _config(refit_on_all=False)
    model = BoilerplateClassifier(cfg).fit(pages)
    assert not model.large_data_ and "refit" not in model.fit_seconds_
    hgb, X = _early_stopped_reference(cfg, pages, large=False)
    assert hgb.learning_rate == cfg.model.learning_rate
    assert model.meta_["n_iter"] == hgb.n_iter_
    np.testing.assert_array_equal(
        model.ensemble_.predict_proba(X), TreeEnsemble.from_sklearn(hgb).predict_proba(X)
    )


def test_large_data_lines_zero_means_never(pages):
    model = BoilerplateClassifier(_config(large_data_lines=0)).fit(pages)
    assert not model.large_data_ and "refit" in model.fit_seconds_


def test_large_data_path_is_deterministic(pages, tmp_path):
    cfg = _config(large_data_lines=50)
    a, b = tmp_path / "a.bpclf", tmp_path / "b.bpclf"
    BoilerplateClassifier(cfg).fit(pages).save(a)
    BoilerplateClassifier(cfg).fit(pages).save(b)
    assert a.read_bytes() == b.read_bytes()
    loaded = BoilerplateClassifier.load(a)
    assert loaded.large_data_ is True
    assert not hasattr(loaded, "fit_seconds_")  # timings are never stored


def test_large_data_path_with_second_pass(pages):
    cfg = dataclasses.replace(
        _config(large_data_lines=50, large_data_max_iter=5),
        model=dataclasses.replace(
            _config(large_data_lines=50, large_data_max_iter=5).model, second_pass=True
        ),
    )
    model = BoilerplateClassifier(cfg).fit(pages)
    assert model.large_data_ and model.second_pass_ is not None
    assert model.meta_["n_iter"] <= 5 and model.meta_["second_pass"]["n_iter"] <= 5
    assert not any(k.endswith("refit") for k in model.fit_seconds_)
