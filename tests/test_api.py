import numpy as np
import pytest

import bpclf
from bpclf.errors import DataError, ModelError

from .conftest import make_page, make_pages, tiny_config, write_jsonl


def test_train_evaluate_predict_from_paths_and_pages(tmp_path):
    src = write_jsonl(tmp_path / "train.jsonl", make_pages(18))
    out = tmp_path / "m.bpclf"
    clf = bpclf.train([src, *make_pages(6)], config=tiny_config(), output=out)
    assert clf.meta_["training_data"]["pages"] == 24 and out.exists()
    dev = [make_page(f"d{i}", "en", 300 + i) for i in range(3)]
    ev = bpclf.evaluate(dev, out)
    assert [r["system"] for r in ev.results] == ["bpclf", "c4-rules", "all-content"]
    assert ev.model["overall"]["lines"]["f1"] == 1.0
    assert ev.results[2]["overall"]["lines"]["recall"] == 0.0
    assert len(ev.proba) == sum(len(p) for p in dev) == len(ev.y_true)
    preds = list(bpclf.predict(dev, clf))
    assert [p.page.id for p in preds] == ["d0", "d1", "d2"]
    assert preds[0].labels.tolist() == dev[0].labels
    assert preds[0].content_lines == [
        line for line, lab in zip(dev[0].lines, dev[0].labels, strict=True) if not lab
    ]


def test_predictions_do_not_depend_on_batch_size(tiny_model):
    pages = make_pages(12)
    small = list(bpclf.predict(pages, tiny_model, batch_lines=1))
    large = list(bpclf.predict(pages, tiny_model, batch_lines=10_000))
    for a, b in zip(small, large, strict=True):
        np.testing.assert_array_equal(a.proba, b.proba)


def test_evaluate_needs_labels(tiny_model):
    with pytest.raises(DataError, match="no labels"):
        bpclf.evaluate([bpclf.Page("x", ["a"])], tiny_model)


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        bpclf.load_model(tmp_path / "none.bpclf")


def test_workers_start_only_for_more_than_one_batch(tiny_model, pool_starts):
    pages = make_pages(6)
    one = list(bpclf.predict(pages, tiny_model, jobs=2))  # all pages fit one batch
    assert pool_starts == []
    many = list(bpclf.predict(pages, tiny_model, jobs=2, batch_lines=5))
    assert len(pool_starts) == 1
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a.proba, b.proba)
