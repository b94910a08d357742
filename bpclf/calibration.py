"""Calibrated probabilities and named operating points.

Training balances the two classes, so raw scores overstate P(boilerplate) on pages that
are mostly content. Platt scaling (a logistic fit on the logit of the score, weighted by
the real class frequencies) maps scores back to probabilities that mean what they say;
it is monotone, so rankings and ROC-AUC are unchanged. It is fitted on the validation
split, which the early-stopped trees never trained on.

Operating points are thresholds on the calibrated scale, also chosen on the validation
split: ``balanced`` (best F1), ``keep_more`` (keeps a given share of content lines: for
corpora where losing text is worse than keeping a menu) and ``remove_more`` (removes a
given share of boilerplate lines: for corpora that must be clean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpclf.metrics import best_f1_threshold, line_metrics

_EPS = 1e-6
OPERATING_POINTS = ("balanced", "keep_more", "remove_more")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class Platt:
    """``P = sigmoid(a * logit(score) + b)``; identity is ``a=1, b=0``."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, score: np.ndarray) -> np.ndarray:
        if self.a == 1.0 and self.b == 0.0:
            return score
        z = self.a * _logit(np.asarray(score, dtype=np.float64)) + self.b
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"method": "platt", "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Platt:
        """Read from model metadata; raises ValueError when malformed."""
        if not data:
            return cls()
        if data.get("method") != "platt":
            raise ValueError(f"unknown calibration method {data.get('method')!r}")
        a, b = float(data["a"]), float(data["b"])
        if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
            raise ValueError("calibration parameters must be finite with a > 0")
        return cls(a, b)


def fit_platt(score: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> Platt:
    """Platt scaling fitted by maximum likelihood (nearly unregularised).

    Falls back to the identity when the fit is not increasing (a degenerate split).
    """
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return Platt()
    z = _logit(np.asarray(score, dtype=np.float64)).reshape(-1, 1)
    lr = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    lr.fit(z, y, sample_weight=weights)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return Platt()
    return Platt(round(a, 12), round(b, 12))


def _midpoint_below(values: np.ndarray, t: float) -> float:
    """A threshold just below ``t`` that selects the same lines as ``t`` on ``values``."""
    lower = values[values < t]
    return float((lower.max() + t) / 2) if lower.size else float(t)


def operating_points(
    y: np.ndarray, proba: np.ndarray, *, keep_content: float, remove_boilerplate: float
) -> dict[str, dict[str, float]]:
    """Thresholds (and their validation precision/recall/F1) for the named points.

    ``keep_more`` is the lowest threshold that still keeps ``keep_content`` of the
    content lines, ``remove_more`` the highest that removes ``remove_boilerplate`` of the
    boilerplate lines; each is never on the wrong side of ``balanced``.
    """
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(proba, dtype=np.float64)
    balanced, _ = best_f1_threshold(y, p)
    content, boiler = np.sort(p[y == 0]), np.sort(p[y == 1])
    keep = balanced
    if content.size:
        # Lines at or above the threshold are removed: allow (1 - keep_content) of them.
        k = math.floor((1 - keep_content) * content.size)
        candidate = content[content.size - k] if k > 0 else content[-1] + _EPS
        keep = max(balanced, float(min(candidate, 1.0)))
    remove = balanced
    if boiler.size:
        k = math.ceil(remove_boilerplate * boiler.size)
        candidate = _midpoint_below(p, float(boiler[boiler.size - k]))
        remove = min(balanced, candidate)
    points = {"balanced": balanced, "keep_more": keep, "remove_more": remove}
    out: dict[str, dict[str, float]] = {}
    for name, t in points.items():
        m = line_metrics(y, (p >= t).astype(np.int64))
        content_kept = float(((p < t) & (y == 0)).sum() / max((y == 0).sum(), 1))
        out[name] = {
            "threshold": float(t),
            "precision": m["precision"],
            "recall": m["recall"],
            "f1": m["f1"],
            "content_kept": content_kept,
        }
    return out
