"""Evaluation report: figures (PR curve, reliability, feature importance) and Markdown.

matplotlib is imported inside :func:`write_report` only (with the non-interactive Agg
backend), so importing :mod:`bpclf` never imports pyplot.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bpclf.metrics import (
    TABLE_COLUMNS,
    best_f1_threshold,
    calibration_summary,
    fmt,
    line_metrics,
    table_rows,
)

PR_CURVE = "pr_curve.png"
RELIABILITY = "reliability.png"
FEATURE_IMPORTANCE = "feature_importance.png"
REPORT_MD = "report.md"
RESULTS_JSON = "results.json"

TOP_FEATURES = 25
FIGSIZE = (6.0, 4.5)
DPI = 120


def jsonable(obj: Any) -> Any:
    """``obj`` with NaN/inf → ``None`` and numpy scalars/arrays → Python types."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


# --------------------------------------------------------------------------- markdown


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown_table(results: Sequence[dict], group: str) -> str:
    """A Markdown table (one row per group × system); best line F1 per group in bold."""
    blocks = table_rows(results, group)
    if not blocks:
        return "_no data_"
    head = ["Group", "System", "Lines", "BP %", *(c[0] for c in TABLE_COLUMNS)]
    align = [":--", ":--", "--:", "--:", *("--:" for _ in TABLE_COLUMNS)]
    f1_col = [c[2] for c in TABLE_COLUMNS].index("f1")
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    for block in blocks:
        f1s = [fmt(v[f1_col]) for _, v in block["rows"]]
        finite = [float(f) for f in f1s if f != "-"]
        best = fmt(max(finite)) if finite and len(block["rows"]) > 1 else None
        for i, (system, vals) in enumerate(block["rows"]):
            cells = [fmt(v) for v in vals]
            if best is not None and cells[f1_col] == best:
                cells[f1_col] = f"**{cells[f1_col]}**"
            if i == 0:
                n = "-" if block["n_lines"] is None else f"{block['n_lines']:,}"
                share = block["share"]
                pct = "-" if share is None or math.isnan(float(share)) else f"{100 * share:.1f}"
                first = [_md_escape(block["group"]), n, pct]
            else:
                first = ["", "", ""]
            row = [first[0], _md_escape(system), first[1], first[2], *cells]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures


def _plot_pr_curve(plt, path: Path, results, y_true, proba, threshold: float) -> None:
    from sklearn.metrics import precision_recall_curve

    name = str(results[0]["system"]) if results else "model"
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    both = 0 < y_true.sum() < y_true.shape[0]
    if both:
        precision, recall, _ = precision_recall_curve(y_true, proba)
        ap = line_metrics(y_true, (proba >= threshold).astype(int), proba)["pr_auc"]
        ax.plot(
            recall, precision, drawstyle="steps-post", lw=1.8, label=f"{name} (PR-AUC = {ap:.3f})"
        )
        prevalence = float(y_true.mean())
        ax.axhline(
            prevalence,
            color="grey",
            ls="--",
            lw=1,
            label=f"no skill (prevalence = {prevalence:.3f})",
        )
    else:
        ax.text(
            0.5,
            0.5,
            "PR curve undefined: only one class present",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    op = line_metrics(y_true, (proba >= threshold).astype(int))
    ax.plot(
        [op["recall"]],
        [op["precision"]],
        "o",
        ms=9,
        color="C3",
        zorder=5,
        label=f"threshold {threshold:.3f} (P = {op['precision']:.3f}, R = {op['recall']:.3f})",
    )
    markers = "sD^vP*X"
    for i, r in enumerate(results[1:]):
        m = r["overall"]["lines"]
        ax.plot(
            [m["recall"]],
            [m["precision"]],
            markers[i % len(markers)],
            ms=7,
            color=f"C{(i + 4) % 10}",
            zorder=4,
            label=f"{r['system']} (P = {m['precision']:.3f}, R = {m['recall']:.3f})",
        )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("Recall (boilerplate)")
    ax.set_ylabel("Precision (boilerplate)")
    ax.set_title("Precision-recall curve, boilerplate class")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_reliability(plt, path: Path, calib: dict, proba: np.ndarray) -> None:
    fig, (ax, hx) = plt.subplots(
        2,
        1,
        figsize=(FIGSIZE[0], FIGSIZE[1] + 1.5),
        dpi=DPI,
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1], "hspace": 0.08},
    )
    bins = [b for b in calib["bins"] if b["count"] > 0]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    if bins:
        mp = [b["mean_pred"] for b in bins]
        fp = [b["frac_pos"] for b in bins]
        for b in bins:  # gap between observed and predicted, per bin
            ax.plot(
                [b["mean_pred"]] * 2, [b["mean_pred"], b["frac_pos"]], color="C3", alpha=0.5, lw=2
            )
        ax.plot(mp, fp, "o-", color="C0", lw=1.8, ms=5, label="model")
    ax.plot([], [], color="C3", alpha=0.5, lw=2, label="calibration gap")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("Observed boilerplate frequency")
    ece, brier = calib["ece"], calib["brier"]
    ax.set_title(f"Reliability ({len(calib['bins'])} bins): ECE = {fmt(ece)}, Brier = {fmt(brier)}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)

    edges = [calib["bins"][0]["lo"]] + [b["hi"] for b in calib["bins"]]
    hx.hist(proba, bins=edges, color="C0", alpha=0.7, edgecolor="white")
    hx.set_yscale("log" if proba.size and _wide_range(proba, edges) else "linear")
    hx.set_xlabel("Predicted P(boilerplate)")
    hx.set_ylabel("Lines")
    hx.grid(True, alpha=0.3)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.93, bottom=0.1)
    fig.savefig(path)
    plt.close(fig)


def _wide_range(proba: np.ndarray, edges: list[float]) -> bool:
    counts, _ = np.histogram(proba, bins=edges)
    nonzero = counts[counts > 0]
    return bool(nonzero.size and nonzero.max() > 20 * nonzero.min())


def _plot_importance(plt, path: Path, names: list[str], importances: np.ndarray) -> None:
    imp = np.nan_to_num(np.asarray(importances, dtype=np.float64).ravel())
    order = np.argsort(-np.abs(imp), kind="stable")[:TOP_FEATURES]
    k = len(order)
    fig, ax = plt.subplots(figsize=(FIGSIZE[0] + 1, max(FIGSIZE[1], 0.27 * k + 1.2)), dpi=DPI)
    if k:
        vals = imp[order][::-1]
        labels = [_short(names[i]) for i in order][::-1]
        colors = ["C0" if v >= 0 else "C3" for v in vals]
        ax.barh(range(k), vals, color=colors)
        ax.set_yticks(range(k), labels, fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
    else:
        ax.text(0.5, 0.5, "no features", ha="center", va="center", transform=ax.transAxes)
    signed = bool((imp < 0).any())
    ax.set_xlabel("Importance" + (" (blue > 0, red < 0; ranked by |value|)" if signed else ""))
    ax.set_title(f"Top {k} features by importance")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _short(name: str, width: int = 40) -> str:
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"


# --------------------------------------------------------------------------- report


def write_report(
    out_dir,
    results: list[dict],
    y_true,
    proba,
    threshold: float,
    feature_names: list[str],
    importances: np.ndarray,
    title: str = "bpclf evaluation",
) -> Path:
    """Write figures, ``report.md`` and ``results.json`` to ``out_dir``; return report.md.

    ``results`` are :func:`bpclf.metrics.evaluate_system` dicts, the model first and
    then the baselines (kept in that order). ``y_true``/``proba`` are the model's gold
    labels and P(boilerplate) per line; ``threshold`` is its operating point.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [r.to_dict() if hasattr(r, "to_dict") else r for r in results]
    yt = np.asarray(y_true).astype(np.int64)
    p = np.asarray(proba, dtype=np.float64)
    if yt.ndim != 1 or p.shape != yt.shape:
        raise ValueError(f"y_true and proba must be 1-d of equal length, got {yt.shape}, {p.shape}")
    names = [str(n) for n in feature_names]
    imp = np.asarray(importances, dtype=np.float64).ravel()
    if imp.shape[0] != len(names):
        raise ValueError(f"{len(names)} feature names but {imp.shape[0]} importances")
    threshold = float(threshold)

    final = Path(out_dir)
    final.mkdir(parents=True, exist_ok=True)
    calib = calibration_summary(yt, p, n_bins=10)
    # Everything is written into a temporary directory first and moved into place at the
    # end, report.md last: an interrupted rerun never mixes old and new files.
    with tempfile.TemporaryDirectory(dir=final, prefix=".report.") as tmp:
        out = Path(tmp)
        _plot_pr_curve(plt, out / PR_CURVE, results, yt, p, threshold)
        _plot_reliability(plt, out / RELIABILITY, calib, p)
        _plot_importance(plt, out / FEATURE_IMPORTANCE, names, imp)
        with open(out / RESULTS_JSON, "w", encoding="utf-8") as fh:
            json.dump(jsonable(results), fh, indent=2, allow_nan=False, ensure_ascii=False)
            fh.write("\n")
        (out / REPORT_MD).write_text(
            _markdown(title, results, yt, p, threshold, calib), encoding="utf-8"
        )
        for name in (PR_CURVE, RELIABILITY, FEATURE_IMPORTANCE, RESULTS_JSON, REPORT_MD):
            os.replace(out / name, final / name)
    return final / REPORT_MD


def _markdown(title, results, yt, p, threshold, calib) -> str:
    systems = ", ".join(f"`{r['system']}`" for r in results) or "_none_"
    op = line_metrics(yt, (p >= threshold).astype(np.int64), p)
    best_t, best_f1 = best_f1_threshold(yt, p)
    parts = [
        f"# {title}",
        "",
        f"Systems: {systems} (the first is the model, the others are baselines). "
        f"{yt.shape[0]:,} labelled lines; boilerplate (label 1) is the positive class.",
        "",
        "P, R, F1, Acc, ROC-AUC and PR-AUC (average precision) are per line; "
        "*F1 chars* weights each line by its length in characters. "
        "*BP %* is the gold boilerplate share of lines. "
        "The best line-level F1 of each group is in bold; `-` means undefined.",
        "",
        "## Operating point",
        "",
        f"- Threshold: **{threshold:.3f}** (a line is boilerplate if P(boilerplate) ≥ threshold)",
        f"- At this threshold: P = {fmt(op['precision'])}, R = {fmt(op['recall'])}, "
        f"F1 = {fmt(op['f1'])}",
        f"- For reference, the F1-optimal threshold on this evaluation data would be "
        f"{best_t:.3f} (F1 = {fmt(best_f1)}); it is fitted on the test data, so it is "
        f"optimistic.",
        "",
        "## Overall",
        "",
        markdown_table(results, "overall"),
        "",
        "## Per language",
        "",
        markdown_table(results, "lang"),
        "",
        "## Per source",
        "",
        markdown_table(results, "source"),
        "",
        "## Macro average over languages",
        "",
        _macro_note(results),
        "",
        markdown_table(results, "macro"),
        "",
        "## Precision-recall curve",
        "",
        f"![Precision-recall curve]({PR_CURVE})",
        "",
        "## Calibration",
        "",
        f"- Expected calibration error (ECE, 10 equal-width bins): **{fmt(calib['ece'])}**",
        f"- Brier score: **{fmt(calib['brier'])}**",
        "",
        _calibration_table(calib),
        "",
        f"![Reliability diagram]({RELIABILITY})",
        "",
        "## Feature importance",
        "",
        f"![Top {TOP_FEATURES} features by importance]({FEATURE_IMPORTANCE})",
        "",
        f"Full numbers: [`{RESULTS_JSON}`]({RESULTS_JSON}).",
        "",
    ]
    return "\n".join(parts)


def _macro_note(results) -> str:
    langs = (results[0].get("macro_lang") or {}).get("languages", []) if results else []
    listed = ", ".join(f"`{lang}`" for lang in langs) or "_none_"
    return (
        f"Unweighted mean over {len(langs)} language(s): {listed}. "
        "ROC-AUC and PR-AUC skip languages where they are undefined."
    )


def _calibration_table(calib: dict) -> str:
    lines = ["| Bin | Lines | Mean predicted | Observed |", "| :-- | --: | --: | --: |"]
    for b in calib["bins"]:
        lines.append(
            f"| {b['lo']:.1f}–{b['hi']:.1f} | {b['count']:,} | "
            f"{fmt(b['mean_pred'])} | {fmt(b['frac_pos'])} |"
        )
    return "\n".join(lines)
