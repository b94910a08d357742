"""Evaluation metrics for line-level boilerplate classification.

Every line carries a gold label (1 = boilerplate, 0 = content), a 0/1 prediction and,
for models, P(boilerplate). Metrics are reported for the boilerplate class (positive =
1), both per line and weighted by line length in characters, overall and per language /
per source, plus a macro average over languages.

All functions return plain Python floats / ints / lists / dicts so that results can be
written as JSON; undefined values (e.g. ROC-AUC when only one class is present) are
``float('nan')``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# scikit-learn's metrics are imported inside the functions that use them: importing
# sklearn.metrics takes ~1-2 s, and `bpclf predict` never needs it.

NAN = float("nan")

#: Group name used for a missing language or source.
UNKNOWN = "unknown"

#: Keys of :func:`line_metrics` results, in display order.
METRIC_KEYS = (
    "precision",
    "recall",
    "f1",
    "accuracy",
    "roc_auc",
    "pr_auc",
    "n_lines",
    "boilerplate_share",
)

#: Line-level metrics that are averaged (plain mean) over languages in ``macro_lang``.
MACRO_KEYS = ("precision", "recall", "f1", "accuracy")
#: Metrics that are averaged ignoring NaN (undefined for single-class languages).
MACRO_NAN_KEYS = ("roc_auc", "pr_auc")


# --------------------------------------------------------------------------- helpers


def _labels(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array, got shape {arr.shape}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        bad = arr[~np.isin(arr, (0, 1))][0]
        raise ValueError(f"{name} must contain only 0/1, found {bad!r}")
    return arr.astype(np.int64)


def _floats(values: Any, name: str, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be a 1-d array of length {n}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_proba(proba: Any, n: int) -> np.ndarray:
    p = _floats(proba, "proba", n)
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("proba must lie in [0, 1]")
    return p


def _mean(values: Iterable[float], *, skip_nan: bool = False) -> float:
    vals = [float(v) for v in values]
    if skip_nan:
        vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        return NAN
    return float(sum(vals) / len(vals))


def char_weights(char_len: Any) -> np.ndarray:
    """Per-line weights for character-weighted metrics: line length, at least 1."""
    return np.maximum(np.asarray(char_len, dtype=np.float64), 1.0)


def _group_keys(values: Any, n: int, name: str) -> np.ndarray:
    """Per-line group names as strings; ``None``/empty/NaN become ``"unknown"``."""
    if values is None:
        return np.full(n, UNKNOWN, dtype=object)
    seq = list(values)
    if len(seq) != n:
        raise ValueError(f"{name} has {len(seq)} entries but there are {n} lines")
    out = np.empty(n, dtype=object)
    for i, v in enumerate(seq):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out[i] = UNKNOWN
        else:
            s = str(v).strip()
            out[i] = s if s else UNKNOWN
    return out


def _ordered_groups(keys: np.ndarray) -> list[str]:
    """Sorted group names, with ``"unknown"`` last."""
    names = sorted(set(keys.tolist()))
    if UNKNOWN in names:
        names.remove(UNKNOWN)
        names.append(UNKNOWN)
    return names


# --------------------------------------------------------------------------- metrics


def line_metrics(y_true, y_pred, proba=None, weights=None) -> dict[str, float]:
    """Precision/recall/F1/accuracy of the boilerplate class (1), plus ROC-AUC and PR-AUC.

    ``weights`` are per-line sample weights (e.g. :func:`char_weights`). ``roc_auc`` and
    ``pr_auc`` (average precision) are NaN unless ``proba`` is given and both classes are
    present (with positive weight). Precision/recall/F1 are 0.0 on zero division.
    ``n_lines`` is the unweighted line count; ``boilerplate_share`` is the (weighted)
    share of gold boilerplate. With no lines, accuracy and the share are NaN.
    """
    yt = _labels(y_true, "y_true")
    yp = _labels(y_pred, "y_pred")
    n = yt.shape[0]
    if yp.shape[0] != n:
        raise ValueError(f"y_true has {n} entries but y_pred has {yp.shape[0]}")
    w = None if weights is None else _floats(weights, "weights", n)
    if w is not None and (w < 0).any():
        raise ValueError("weights must be non-negative")
    p = None if proba is None else _check_proba(proba, n)

    out: dict[str, float] = {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "accuracy": NAN,
        "roc_auc": NAN,
        "pr_auc": NAN,
        "n_lines": n,
        "boilerplate_share": NAN,
    }
    total = float(n) if w is None else float(w.sum())
    if n == 0 or total <= 0.0:
        return out

    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    prec, rec, f1, _ = precision_recall_fscore_support(
        yt, yp, average="binary", pos_label=1, sample_weight=w, zero_division=0.0
    )
    out["precision"] = float(prec)
    out["recall"] = float(rec)
    out["f1"] = float(f1)
    out["accuracy"] = float(accuracy_score(yt, yp, sample_weight=w))
    pos = float(yt.sum()) if w is None else float(w[yt == 1].sum())
    out["boilerplate_share"] = pos / total

    present = yt if w is None else yt[w > 0]
    if p is not None and 0 < present.sum() < present.shape[0]:
        out["roc_auc"] = float(roc_auc_score(yt, p, sample_weight=w))
        out["pr_auc"] = float(average_precision_score(yt, p, sample_weight=w))
    return out


def best_f1_threshold(y_true, proba, weights=None) -> tuple[float, float]:
    """The threshold maximising the boilerplate F1 of ``proba >= threshold``.

    Candidates are the distinct scores (from ``precision_recall_curve``); the returned
    threshold lies midway between the best score and the next lower distinct score, so
    it selects exactly the same lines on this data but leaves a margin on both sides.
    Ties go to the lowest candidate. The returned F1 is recomputed by thresholding at the
    returned value. If only one class is present the result is ``(0.5, F1 at 0.5)``.
    """
    yt = _labels(y_true, "y_true")
    p = _check_proba(proba, yt.shape[0])
    w = None if weights is None else _floats(weights, "weights", yt.shape[0])

    def f1_at(t: float) -> float:
        return line_metrics(yt, (p >= t).astype(np.int64), weights=w)["f1"]

    present = yt if w is None else yt[w > 0]
    if not (0 < present.sum() < present.shape[0]):
        return 0.5, f1_at(0.5)

    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(yt, p, sample_weight=w)
    precision, recall = precision[:-1], recall[:-1]  # last point has no threshold
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = int(np.argmax(f1))  # first maximum = lowest threshold
    t = float(thresholds[best])

    lower = np.unique(p)
    lower = lower[lower < t]
    if lower.size:
        mid = float((lower[-1] + t) / 2.0)
        if lower[-1] < mid <= t:  # guard against float rounding onto a score
            t = mid
    return t, f1_at(t)


def calibration_summary(y_true, proba, n_bins: int = 10) -> dict[str, Any]:
    """Reliability-diagram data with ``n_bins`` equal-width bins over [0, 1].

    Returns ``{"bins": [...], "ece": float, "brier": float, "n": int}``. Each bin is
    ``{"lo", "hi", "count", "mean_pred", "frac_pos"}`` (NaN means for empty bins); a
    probability of exactly 1.0 falls in the last bin. ECE is the count-weighted mean of
    ``|frac_pos - mean_pred|`` over bins; Brier is the mean squared error of ``proba``.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    yt = _labels(y_true, "y_true")
    p = _check_proba(proba, yt.shape[0])
    n = int(yt.shape[0])
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.floor(p * n_bins).astype(np.int64), 0, n_bins - 1)

    bins: list[dict[str, Any]] = []
    ece = 0.0
    for b in range(n_bins):
        mask = idx == b
        count = int(mask.sum())
        if count:
            mean_pred = float(p[mask].mean())
            frac_pos = float(yt[mask].mean())
            ece += count / n * abs(frac_pos - mean_pred)
        else:
            mean_pred = frac_pos = NAN
        bins.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "count": count,
                "mean_pred": mean_pred,
                "frac_pos": frac_pos,
            }
        )
    if n == 0:
        return {"bins": bins, "ece": NAN, "brier": NAN, "n": 0}
    from sklearn.metrics import brier_score_loss

    brier = float(brier_score_loss(yt, p, pos_label=1))
    return {"bins": bins, "ece": float(ece), "brier": brier, "n": n}


# --------------------------------------------------------------------------- systems


@dataclass
class EvalTable:
    """Results for one system (model or baseline); ``to_dict()`` is JSON-serialisable.

    ``overall`` and every entry of ``by_lang`` / ``by_source`` are
    ``{"lines": line_metrics(...), "chars": line_metrics(..., weights=chars)}``.
    """

    system: str
    overall: dict[str, dict[str, float]]
    by_lang: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    by_source: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    macro_lang: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "overall": self.overall,
            "by_lang": self.by_lang,
            "by_source": self.by_source,
            "macro_lang": self.macro_lang,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalTable:
        return cls(
            system=str(data["system"]),
            overall=data["overall"],
            by_lang=data.get("by_lang", {}),
            by_source=data.get("by_source", {}),
            macro_lang=data.get("macro_lang", {}),
        )


def _both(yt, yp, p, w) -> dict[str, dict[str, float]]:
    return {"lines": line_metrics(yt, yp, p), "chars": line_metrics(yt, yp, p, weights=w)}


def macro_average(by_lang: dict[str, dict[str, Any]], languages: Sequence[str]) -> dict[str, Any]:
    """Unweighted mean over ``languages`` of the line-level metrics in ``by_lang``.

    ``precision``/``recall``/``f1``/``accuracy`` are plain means; ``roc_auc`` and
    ``pr_auc`` ignore languages where they are undefined (NaN). ``f1_chars`` is the mean
    character-weighted F1. All are NaN when ``languages`` is empty.
    """
    langs = [lang for lang in languages if lang in by_lang]
    out: dict[str, Any] = {}
    for key in MACRO_KEYS:
        out[key] = _mean(by_lang[lang]["lines"][key] for lang in langs)
    for key in MACRO_NAN_KEYS:
        out[key] = _mean((by_lang[lang]["lines"][key] for lang in langs), skip_nan=True)
    out["f1_chars"] = _mean(by_lang[lang]["chars"]["f1"] for lang in langs)
    out["languages"] = langs
    return out


def evaluate_system(
    name: str,
    y_true,
    y_pred,
    proba,
    char_len,
    langs,
    sources,
    macro_langs=None,
) -> dict:
    """Evaluate one system overall, per language, per source and macro over languages.

    ``char_len`` is the per-line length in characters (weights are ``max(len, 1)``);
    ``langs``/``sources`` are per-line group names (``None``/empty → ``"unknown"``; either
    may be ``None`` altogether). ``proba`` may be ``None`` for systems without scores.
    ``macro_langs`` restricts the macro average to those languages (only the ones present
    are used); by default every language group present is averaged, ``"unknown"``
    included. Returns :meth:`EvalTable.to_dict`.
    """
    yt = _labels(y_true, "y_true")
    n = yt.shape[0]
    yp = _labels(y_pred, "y_pred")
    if yp.shape[0] != n:
        raise ValueError(f"y_true has {n} entries but y_pred has {yp.shape[0]}")
    p = None if proba is None else _check_proba(proba, n)
    w = char_weights(_floats(char_len, "char_len", n))
    lang_keys = _group_keys(langs, n, "langs")
    source_keys = _group_keys(sources, n, "sources")

    def grouped(keys: np.ndarray) -> dict[str, dict[str, dict[str, float]]]:
        out = {}
        for g in _ordered_groups(keys):
            m = keys == g
            out[g] = _both(yt[m], yp[m], None if p is None else p[m], w[m])
        return out

    by_lang = grouped(lang_keys)
    chosen = list(by_lang) if macro_langs is None else [str(x) for x in macro_langs]
    table = EvalTable(
        system=str(name),
        overall=_both(yt, yp, p, w),
        by_lang=by_lang,
        by_source=grouped(source_keys),
        macro_lang=macro_average(by_lang, chosen),
    )
    return table.to_dict()


# --------------------------------------------------------------------------- table

_GROUP_ALIASES = {
    "all": ("overall", "lang", "source", "macro"),
    "overall": ("overall",),
    "lang": ("lang",),
    "by_lang": ("lang",),
    "source": ("source",),
    "by_source": ("source",),
    "macro": ("macro",),
    "macro_lang": ("macro",),
}

#: (header, section, key) of the metric columns of :func:`format_table`.
TABLE_COLUMNS = (
    ("P", "lines", "precision"),
    ("R", "lines", "recall"),
    ("F1", "lines", "f1"),
    ("Acc", "lines", "accuracy"),
    ("ROC-AUC", "lines", "roc_auc"),
    ("PR-AUC", "lines", "pr_auc"),
    ("F1 chars", "chars", "f1"),
)
MACRO_LABEL = "macro (langs)"


def fmt(value: Any, digits: int = 3) -> str:
    """A metric with ``digits`` decimals; NaN/None as ``"-"``."""
    if value is None:
        return "-"
    v = float(value)
    return "-" if math.isnan(v) else f"{v:.{digits}f}"


def table_rows(results: Sequence[dict], group: str = "all") -> list[dict[str, Any]]:
    """Flatten results into blocks for display: one block per group, one row per system.

    Returns ``[{"group", "n_lines", "share", "rows": [(system, [values...]), ...]}]``
    with values in :data:`TABLE_COLUMNS` order. ``group`` is ``"overall"``, ``"lang"``,
    ``"source"``, ``"macro"`` or ``"all"``.
    """
    if group not in _GROUP_ALIASES:
        raise ValueError(f"unknown group {group!r}; use one of {sorted(_GROUP_ALIASES)}")
    results = [r.to_dict() if isinstance(r, EvalTable) else r for r in results]
    blocks: list[dict[str, Any]] = []

    def add(label: str, getter) -> None:
        rows, n_lines, share = [], None, NAN
        for r in results:
            entry = getter(r)
            if entry is None:
                continue
            rows.append((r["system"], [entry[sec][key] for _, sec, key in TABLE_COLUMNS]))
            if n_lines is None:
                n_lines = entry["lines"]["n_lines"]
                share = entry["lines"]["boilerplate_share"]
        if rows:
            blocks.append({"group": label, "n_lines": n_lines, "share": share, "rows": rows})

    def keys(field_name: str) -> list[str]:
        seen: dict[str, None] = {}
        for r in results:
            seen.update(dict.fromkeys(r.get(field_name, {})))
        return list(seen)

    for part in _GROUP_ALIASES[group]:
        if part == "overall":
            add("overall", lambda r: r["overall"])
        elif part in ("lang", "source"):
            field_name = f"by_{part}"
            for g in keys(field_name):
                add(f"{part}:{g}", lambda r, g=g, f=field_name: r.get(f, {}).get(g))
        else:
            rows = []
            for r in results:
                m = r.get("macro_lang") or {}
                if m:
                    vals = [
                        m.get("f1_chars" if sec == "chars" else key, NAN)
                        for _, sec, key in TABLE_COLUMNS
                    ]
                    rows.append((r["system"], vals))
            if rows:
                blocks.append({"group": MACRO_LABEL, "n_lines": None, "share": NAN, "rows": rows})
    return blocks


def format_table(results: list[dict], group: str = "overall") -> str:
    """A fixed-width text table comparing systems, one block per group.

    ``group``: ``"overall"`` (default), ``"lang"``, ``"source"``, ``"macro"`` or
    ``"all"``. Each block lists every system on its own row, with the group's line count
    and gold boilerplate share (of lines) on the first row; ``*`` marks the best
    line-level F1 of a block when several systems are compared.
    """
    blocks = table_rows(results, group)
    n_systems = len(results)
    head = ["group", "lines", "bp%", "system", *(c[0] for c in TABLE_COLUMNS)]
    body: list[list[str] | None] = []
    f1_col = [c[2] for c in TABLE_COLUMNS].index("f1")
    for block in blocks:
        body.append(None)  # separator
        f1s = [v[f1_col] for _, v in block["rows"]]
        finite = [f for f in f1s if not math.isnan(float(f))]
        best = max(finite) if finite and n_systems > 1 else None
        for i, (system, vals) in enumerate(block["rows"]):
            cells = [fmt(v) for v in vals]
            if n_systems > 1:  # reserve a marker slot so the F1 digits stay aligned
                is_best = best is not None and fmt(vals[f1_col]) == fmt(best)
                cells[f1_col] += "*" if is_best else " "
            if i == 0:
                n = "-" if block["n_lines"] is None else f"{block['n_lines']:,}"
                share = block["share"]
                pct = "-" if math.isnan(float(share)) else f"{100 * share:.1f}"
                first = [block["group"], n, pct]
            else:
                first = ["", "", ""]
            body.append([*first, system, *cells])

    widths = [len(h) for h in head]
    for row in body:
        if row is not None:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    left = {0, 3}  # group and system names are left-aligned

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    # right-align the F1 header over the numbers, not over the trailing marker
    header = list(head)
    if n_systems > 1:
        header[4 + f1_col] += " "
    rule = "-" * len(line(["x" * w for w in widths]))
    out = [line(header)]
    for row in body:
        out.append(rule if row is None else line(row))
    out.append(rule)
    notes = [
        "P, R, F1, Acc, ROC-AUC, PR-AUC: per line, boilerplate = positive class.",
        "F1 chars: weighted by line length. bp%: gold boilerplate share of lines.",
    ]
    if n_systems > 1:
        notes.append("* best line-level F1 in the group.")
    out.extend(notes)
    return "\n".join(out)
