import numpy as np

from bpclf.pages import Page
from bpclf.validation import cross_validate, drop_duplicate_pages, fold_assignment, headline

from .conftest import make_pages, tiny_config


def test_drop_duplicates_keeps_first():
    a, b = Page("a", ["x", "y"], [0, 1]), Page("b", ["x", "y"], [1, 1])
    kept, dropped = drop_duplicate_pages([a, Page("c", ["z"], [0]), b])
    assert [p.id for p in kept] == ["a", "c"] and dropped == ["b"]


def test_fold_assignment_is_balanced_and_seeded():
    f = fold_assignment(23, 5, seed=1)
    assert sorted(np.bincount(f).tolist()) == [4, 4, 5, 5, 5]
    assert (f == fold_assignment(23, 5, seed=1)).all()
    assert not (f == fold_assignment(23, 5, seed=2)).all()


def test_cross_validation_is_out_of_fold():
    pages = make_pages(15)
    cv = cross_validate(pages, tiny_config(), n_folds=3, seed=0)
    assert len(cv.thresholds) == 3
    assert [len(p) for p in cv.proba] == [len(p) for p in pages]
    model, c4 = cv.results()
    assert model["system"] == "bpclf" and c4["system"] == "c4-rules"
    assert model["overall"]["lines"]["f1"] > c4["overall"]["lines"]["f1"]
    assert set(model["by_lang"]) == {"en", "de", "fi"}
    h = headline(cv.results())
    margins = {
        k: v["lines"]["f1"] - c4["by_lang"][k]["lines"]["f1"] for k, v in model["by_lang"].items()
    }
    assert h["macro_f1"] == model["macro_lang"]["f1"]
    assert h["roc_auc"] == model["overall"]["lines"]["roc_auc"]
    assert h["min_margin_over_c4"] == min(margins.values())
    assert margins[h["weakest_lang"]] == h["min_margin_over_c4"]
    assert set(headline(cv.results(), ["en", "fi"])["f1_by_lang"]) == {"en", "fi"}
