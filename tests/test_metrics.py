import json
import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score

from bpclf.metrics import (
    EvalTable,
    best_f1_threshold,
    calibration_summary,
    evaluate_system,
    format_table,
    line_metrics,
)

Y_TRUE = [1, 1, 0, 0, 1]
Y_PRED = [1, 0, 0, 1, 1]


def test_perfect_prediction():
    y = [1, 0, 1, 0, 0]
    m = line_metrics(y, y, proba=[0.9, 0.1, 0.8, 0.2, 0.3])
    assert m["f1"] == 1.0
    assert m["precision"] == 1.0
    assert m["recall"] == 1.0
    assert m["accuracy"] == 1.0
    assert m["roc_auc"] == 1.0
    assert m["pr_auc"] == 1.0
    assert m["n_lines"] == 5
    assert m["boilerplate_share"] == pytest.approx(0.4)


def test_hand_computed_small_case():
    # TP = 2 (idx 0, 4), FN = 1 (idx 1), FP = 1 (idx 3), TN = 1 (idx 2)
    m = line_metrics(Y_TRUE, Y_PRED)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["boilerplate_share"] == pytest.approx(3 / 5)
    assert math.isnan(m["roc_auc"]) and math.isnan(m["pr_auc"])  # no proba given


def test_char_weighting_by_hand():
    w = [10, 5, 1, 20, 10]
    # weighted TP = 10 + 10 = 20, FP = 20, FN = 5, TN = 1; total 46
    m = line_metrics(Y_TRUE, Y_PRED, weights=w)
    assert m["precision"] == pytest.approx(20 / 40)
    assert m["recall"] == pytest.approx(20 / 25)
    assert m["f1"] == pytest.approx(2 * 0.5 * 0.8 / 1.3)
    assert m["accuracy"] == pytest.approx(21 / 46)
    assert m["boilerplate_share"] == pytest.approx(25 / 46)
    assert m["n_lines"] == 5  # unweighted count
    assert m["f1"] != pytest.approx(line_metrics(Y_TRUE, Y_PRED)["f1"])


def test_evaluate_system_char_len_minimum_one():
    # a zero-length line weighs 1, so char_len [10, 5, 0, 20, 10] == weights [10, 5, 1, 20, 10]
    r = evaluate_system("m", Y_TRUE, Y_PRED, None, [10, 5, 0, 20, 10], None, None)
    assert r["overall"]["chars"]["f1"] == pytest.approx(2 * 0.5 * 0.8 / 1.3)
    assert r["overall"]["chars"]["accuracy"] == pytest.approx(21 / 46)
    assert r["overall"]["lines"]["f1"] == pytest.approx(2 / 3)


def _two_lang_example():
    y_true = [1, 0, 1, 0, 1, 1, 0, 0]
    y_pred = [1, 0, 0, 0, 1, 0, 1, 0]
    proba = [0.9, 0.1, 0.4, 0.2, 0.8, 0.3, 0.7, 0.1]
    langs = ["en"] * 4 + ["de"] * 4
    sources = ["a"] * 6 + [None, ""]
    char_len = [1] * 8
    return y_true, y_pred, proba, char_len, langs, sources


def test_per_lang_and_macro_by_hand():
    y_true, y_pred, proba, char_len, langs, sources = _two_lang_example()
    r = evaluate_system("model", y_true, y_pred, proba, char_len, langs, sources)
    en, de = r["by_lang"]["en"]["lines"], r["by_lang"]["de"]["lines"]
    # en: TP 1, FN 1, FP 0, TN 2
    assert (en["precision"], en["recall"], en["accuracy"]) == (1.0, 0.5, 0.75)
    assert en["f1"] == pytest.approx(2 / 3)
    assert en["n_lines"] == 4
    # de: TP 1, FN 1, FP 1, TN 1
    assert (de["precision"], de["recall"], de["f1"], de["accuracy"]) == (0.5, 0.5, 0.5, 0.5)
    # en ROC-AUC: positives {0.9, 0.4} vs negatives {0.1, 0.2} -> 1.0
    # de ROC-AUC: positives {0.8, 0.3} vs negatives {0.7, 0.1} -> 3 of 4 pairs -> 0.75
    assert en["roc_auc"] == 1.0 and de["roc_auc"] == 0.75

    macro = r["macro_lang"]
    assert macro["f1"] == pytest.approx((2 / 3 + 0.5) / 2)
    assert macro["precision"] == pytest.approx(0.75)
    assert macro["recall"] == pytest.approx(0.5)
    assert macro["accuracy"] == pytest.approx(0.625)
    assert macro["roc_auc"] == pytest.approx(0.875)
    assert sorted(macro["languages"]) == ["de", "en"]
    # overall (TP 2, FN 2, FP 1) differs from the macro average
    assert r["overall"]["lines"]["f1"] == pytest.approx(4 / 7)

    # missing sources become "unknown"
    assert set(r["by_source"]) == {"a", "unknown"}
    assert r["by_source"]["unknown"]["lines"]["n_lines"] == 2
    assert r["system"] == "model"
    json.dumps(r)  # JSON-serialisable


def test_macro_langs_explicit_and_nan_aware_auc():
    y_true, y_pred, proba, char_len, langs, sources = _two_lang_example()
    # add a one-line "fr" page: its ROC-AUC is undefined and must be skipped
    y_true, y_pred, proba = [*y_true, 1], [*y_pred, 1], [*proba, 0.9]
    char_len, langs, sources = [*char_len, 3], [*langs, "fr"], [*sources, "a"]
    r = evaluate_system("m", y_true, y_pred, proba, char_len, langs, sources)
    assert math.isnan(r["by_lang"]["fr"]["lines"]["roc_auc"])
    assert r["macro_lang"]["roc_auc"] == pytest.approx((1.0 + 0.75) / 2)
    assert r["macro_lang"]["f1"] == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)

    only = evaluate_system(
        "m", y_true, y_pred, proba, char_len, langs, sources, macro_langs=["de", "xx"]
    )
    assert only["macro_lang"]["languages"] == ["de"]
    assert only["macro_lang"]["f1"] == pytest.approx(0.5)

    none = evaluate_system("m", y_true, y_pred, proba, char_len, langs, sources, macro_langs=["xx"])
    assert none["macro_lang"]["languages"] == []
    assert math.isnan(none["macro_lang"]["f1"])


def test_one_class_gives_nan_auc_and_zero_division_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = line_metrics([0, 0, 0], [0, 0, 0], proba=[0.1, 0.2, 0.3])
        assert m["precision"] == 0.0 and m["recall"] == 0.0 and m["f1"] == 0.0
        assert m["accuracy"] == 1.0
        assert math.isnan(m["roc_auc"]) and math.isnan(m["pr_auc"])
        assert m["boilerplate_share"] == 0.0

        m = line_metrics([1, 1], [0, 0], proba=[0.2, 0.3])
        assert (m["precision"], m["recall"], m["f1"], m["accuracy"]) == (0.0, 0.0, 0.0, 0.0)
        assert math.isnan(m["roc_auc"])

        empty = line_metrics([], [])
        assert empty["n_lines"] == 0 and empty["f1"] == 0.0
        assert math.isnan(empty["accuracy"])


def test_line_metrics_rejects_bad_input():
    with pytest.raises(ValueError):
        line_metrics([1, 0], [1])
    with pytest.raises(ValueError):
        line_metrics([1, 2], [1, 0])
    with pytest.raises(ValueError):
        line_metrics([1, 0], [1, 0], proba=[0.5, 1.5])


def test_best_f1_threshold_separable():
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.9])
    t, f1 = best_f1_threshold(y, p)
    assert 0.35 < t <= 0.6
    assert f1 == 1.0
    assert f1 == f1_score(y, (p >= t).astype(int))
    assert best_f1_threshold(y, p) == (t, f1)  # deterministic


def test_best_f1_threshold_is_optimal_on_random_data():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.35 * y + rng.random(400) * 0.65, 0, 1).round(2)  # many ties
    t, f1 = best_f1_threshold(y, p)
    assert f1 == pytest.approx(f1_score(y, (p >= t).astype(int)))
    brute = max(f1_score(y, (p >= s).astype(int)) for s in np.unique(p))
    assert f1 == pytest.approx(brute)

    w = rng.integers(1, 100, 400)
    tw, f1w = best_f1_threshold(y, p, weights=w)
    assert f1w == pytest.approx(f1_score(y, (p >= tw).astype(int), sample_weight=w))


def test_best_f1_threshold_one_class():
    assert best_f1_threshold([0, 0, 0], [0.2, 0.7, 0.9]) == (0.5, 0.0)
    t, f1 = best_f1_threshold([1, 1, 1, 1], [0.2, 0.7, 0.9, 0.1])
    assert t == 0.5 and f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_calibration_ece():
    rng = np.random.default_rng(0)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    good = calibration_summary(y, p, n_bins=10)
    assert good["ece"] < 0.03
    assert good["brier"] == pytest.approx(1 / 6, abs=0.01)  # E[p(1-p)] for p ~ U(0, 1)
    assert len(good["bins"]) == 10
    assert sum(b["count"] for b in good["bins"]) == 20000

    bad = calibration_summary(y, p**3, n_bins=10)
    assert bad["ece"] > 0.1
    assert bad["brier"] > good["brier"]


def test_calibration_bins_edges_and_empty_bins():
    c = calibration_summary([1, 0, 1], [1.0, 0.0, 0.95], n_bins=10)
    assert c["bins"][-1]["count"] == 2  # 1.0 falls in the last bin
    assert c["bins"][0]["count"] == 1
    assert math.isnan(c["bins"][5]["mean_pred"])
    assert c["ece"] == pytest.approx(2 / 3 * abs(1.0 - 0.975))
    assert c["brier"] == pytest.approx(0.05**2 / 3)


def test_format_table_lists_every_system_and_group():
    y_true, y_pred, proba, char_len, langs, sources = _two_lang_example()
    model = evaluate_system("model", y_true, y_pred, proba, char_len, langs, sources)
    base = evaluate_system("all-content", y_true, [0] * 8, None, char_len, langs, sources)
    text = format_table([model, base], group="all")
    for name in ("model", "all-content", "overall", "en", "de", "a", "unknown", "macro (langs)"):
        assert name in text
    assert "0.571" in text  # overall F1 4/7
    assert "0.667" in text  # en F1
    assert "0.583" in text  # macro F1 7/12
    assert "-" in text  # baseline has no ROC-AUC
    assert "nan" not in text.lower()
    lines = text.splitlines()
    assert len({len(line) for line in lines if line.startswith(("overall", "lang:"))}) == 1

    overall_only = format_table([model, base])
    assert "overall" in overall_only and "lang:en" not in overall_only
    # EvalTable instances are accepted too
    assert format_table([EvalTable.from_dict(model)]) == format_table([model])
    with pytest.raises(ValueError):
        format_table([model], group="nope")
