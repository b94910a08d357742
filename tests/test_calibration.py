"""Calibration (Platt scaling) and named operating points."""

from __future__ import annotations

import numpy as np
import pytest

from bpclf.calibration import Platt, fit_platt, operating_points
from bpclf.errors import ModelError, UsageError
from bpclf.metrics import calibration_summary
from bpclf.model import BoilerplateClassifier
from tests.conftest import make_pages
from tests.test_model import _tampered


def _overconfident(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from true probabilities q; scores shifted up like a balanced model's."""
    rng = np.random.default_rng(seed)
    q = rng.beta(0.6, 1.8, n)  # mostly content, like real pages
    y = (rng.random(n) < q).astype(np.int64)
    z = np.log(q / (1 - q)) * 1.8 + 1.2
    return 1 / (1 + np.exp(-z)), y


def test_platt_scaling_brings_probabilities_close_to_frequencies():
    score, y = _overconfident()
    platt = fit_platt(score, y)
    raw_ece = calibration_summary(y, score)["ece"]
    cal_ece = calibration_summary(y, platt(score))["ece"]
    assert raw_ece > 0.08
    assert cal_ece < 0.03
    assert cal_ece < raw_ece / 4


def test_platt_scaling_keeps_the_ranking():
    score, y = _overconfident(500)
    cal = fit_platt(score, y)(score)
    order = np.argsort(score)
    assert (np.diff(cal[order]) >= 0).all()  # monotone: ROC-AUC unchanged
    assert ((cal > 0) & (cal < 1)).all()


def test_identity_and_round_trip():
    p = np.array([0.0, 0.3, 1.0])
    assert Platt()(p) is p
    platt = Platt(0.7, -0.4)
    assert Platt.from_dict(platt.to_dict()) == platt
    assert Platt.from_dict(None) == Platt()


@pytest.mark.parametrize(
    "data",
    [
        {"method": "isotonic", "a": 1, "b": 0},
        {"method": "platt", "a": -1.0, "b": 0.0},
        {"method": "platt", "a": float("nan"), "b": 0.0},
        {"method": "platt", "a": 1.0},
    ],
)
def test_malformed_calibration_is_refused(data):
    with pytest.raises((ValueError, KeyError)):
        Platt.from_dict(data)


def test_single_class_gives_identity():
    assert fit_platt(np.array([0.2, 0.7]), np.array([1, 1])) == Platt()


def test_operating_points_keep_and_remove_what_they_promise():
    score, y = _overconfident(3000, seed=3)
    pts = operating_points(y, score, keep_content=0.98, remove_boilerplate=0.95)
    bal, keep, remove = pts["balanced"], pts["keep_more"], pts["remove_more"]
    assert remove["threshold"] <= bal["threshold"] <= keep["threshold"]
    assert keep["content_kept"] >= 0.98
    assert remove["recall"] >= 0.95
    assert keep["precision"] >= bal["precision"]
    assert bal["f1"] >= max(keep["f1"], remove["f1"])
    kept = ((score < keep["threshold"]) & (y == 0)).sum() / (y == 0).sum()
    assert kept == pytest.approx(keep["content_kept"])


def test_a_trained_model_is_calibrated_and_stores_its_points(tiny_model, model_file):
    meta = tiny_model.meta_
    assert meta["calibration"]["method"] == "platt"
    assert set(meta["operating_points"]) == {"balanced", "keep_more", "remove_more"}
    assert meta["threshold"] == meta["operating_points"]["balanced"]["threshold"]
    assert 0 <= meta["validation_metrics"]["ece"] <= 1
    loaded = BoilerplateClassifier.load(model_file)
    pages = make_pages(6)
    for a, b in zip(loaded.predict_proba(pages), tiny_model.predict_proba(pages), strict=True):
        assert np.array_equal(a, b)
    keep = loaded.operating_threshold("keep_more")
    assert keep >= loaded.threshold_ >= loaded.operating_threshold("remove_more")
    with pytest.raises(UsageError):
        loaded.operating_threshold("loose")


def test_models_without_points_say_so(model_file, tmp_path):
    path = _tampered(model_file, tmp_path, operating_points={}, calibration=None)
    model = BoilerplateClassifier.load(path)
    assert model.operating_threshold("balanced") == model.threshold_
    with pytest.raises(ModelError, match="no 'keep_more' operating point"):
        model.operating_threshold("keep_more")


@pytest.mark.parametrize(
    "changes",
    [
        {"calibration": {"method": "platt", "a": 0.0, "b": 1.0}},
        {"operating_points": {"keep_more": {"threshold": 3.0}}},
        {"operating_points": {"sloppy": {"threshold": 0.5}}},
    ],
)
def test_tampered_calibration_or_points_are_refused(model_file, tmp_path, changes):
    path = _tampered(model_file, tmp_path, **changes)
    with pytest.raises(ModelError, match="metadata"):
        BoilerplateClassifier.load(path)
