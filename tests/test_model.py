import json
import logging
from dataclasses import replace

import numpy as np
import pytest

from bpclf import charclass as cc
from bpclf.errors import DataError, ModelError
from bpclf.features import FEATURE_SCHEMA_VERSION
from bpclf.model import BoilerplateClassifier
from bpclf.pages import Page
from bpclf.serialize import load_model_bundle, save_model

from .conftest import make_page, make_pages, tiny_config


def test_learns_menus_vs_article(tiny_model):
    held_out = [make_page(f"h{i}", lang, seed=100 + i) for i, lang in enumerate(["en", "de", "fi"])]
    preds = tiny_model.predict(held_out)
    for page, pred in zip(held_out, preds, strict=True):
        assert pred.tolist() == page.labels, page.id


def test_probabilities_one_array_per_page(tiny_model):
    pages = [make_page("a"), Page("empty", []), Page("one", [""])]
    proba = tiny_model.predict_proba(pages)
    assert [len(p) for p in proba] == [len(make_page("a")), 0, 1]
    assert all(((p >= 0) & (p <= 1)).all() for p in proba)


def test_threshold_override(tiny_model):
    page = make_page("x")
    assert tiny_model.predict([page], threshold=0.0)[0].all()
    assert not tiny_model.predict([page], threshold=1.0001)[0].any()


def test_metadata_records_what_users_need(tiny_model):
    meta = tiny_model.meta_
    assert meta["feature_schema_version"] == FEATURE_SCHEMA_VERSION
    assert meta["feature_names"] == tiny_model.feature_names_
    assert meta["training_data"]["pages"] == 24
    assert set(meta["training_data"]["by_lang"]) == {"en", "de", "fi"}
    assert 0 < meta["training_data"]["boilerplate_share"] < 1
    assert {"bpclf", "scikit-learn", "numpy"} <= set(meta["versions"])
    assert meta["validation_metrics"]["pages"] >= 1
    assert meta["config"]["model"]["max_iter"] == 25
    json.dumps(tiny_model.describe())  # JSON-serialisable


def test_save_load_predicts_identically(tiny_model, model_file):
    loaded = BoilerplateClassifier.load(model_file)
    pages = make_pages(6)
    for a, b in zip(tiny_model.predict_proba(pages), loaded.predict_proba(pages), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.threshold_ == tiny_model.threshold_


def test_training_is_deterministic(pages, tmp_path, model_file):
    path = tmp_path / "again.bpclf"
    BoilerplateClassifier(tiny_config()).fit(pages).save(path)
    assert path.read_bytes() == model_file.read_bytes()


def test_model_uses_its_own_lexicon(tiny_model, model_file, tmp_path):
    meta = tiny_model.meta_
    assert ["newsletter", "*", "subscribe"] in meta["resources"]["lexicon"]
    assert "en" in meta["resources"]["stopwords"]


def _tampered(model_file, tmp_path, vectors=None, **changes):
    ensemble, meta, extras, stored = load_model_bundle(model_file)
    meta.update(changes)
    path = tmp_path / "tampered.bpclf"
    save_model(path, ensemble, meta, extras, stored if vectors is None else vectors)
    return path


def test_lexical_model_is_stored_and_checked(tiny_model, model_file, tmp_path):
    lex = tiny_model.lexical_
    assert lex is not None and lex.weights.shape == (2**12,)
    assert tiny_model.feature_names_[-1] == "lex_page_mean"
    loaded = BoilerplateClassifier.load(model_file)
    np.testing.assert_array_equal(loaded.lexical_.weights, lex.weights)
    # The menu lines of the fixture pages score as boilerplate, the article as content.
    page = make_page("x", "en", seed=7)
    scores = lex.score(*cc.layout(page.lines))
    labels = np.array(page.labels)
    assert scores[labels == 1].min() > scores[labels == 0].max()
    assert loaded.lexical_.weights.dtype == np.int16 and loaded.lexical_.scale == lex.scale
    short = {"lexical_weights": lex.weights[:100]}
    with pytest.raises(ModelError, match="invalid lexical model"):
        BoilerplateClassifier.load(_tampered(model_file, tmp_path, vectors=short))
    with pytest.raises(ModelError, match="lexical score but it is missing"):
        BoilerplateClassifier.load(_tampered(model_file, tmp_path, vectors={}))
    config = dict(tiny_model.meta_["config"])
    del config["lexical"]
    bad = _tampered(model_file, tmp_path, config=config)
    with pytest.raises(ModelError, match=r"config disables them|feature names"):
        BoilerplateClassifier.load(bad)


def test_refuses_other_feature_schema(model_file, tmp_path):
    path = _tampered(model_file, tmp_path, feature_schema_version=FEATURE_SCHEMA_VERSION + 1)
    with pytest.raises(ModelError, match="feature schema"):
        BoilerplateClassifier.load(path)


def test_refuses_mismatched_feature_names(model_file, tmp_path, tiny_model):
    names = list(tiny_model.feature_names_)
    names[0], names[1] = names[1], names[0]
    path = _tampered(model_file, tmp_path, feature_names=names)
    with pytest.raises(ModelError, match="feature names"):
        BoilerplateClassifier.load(path)


def test_refuses_broken_config(model_file, tmp_path, tiny_model):
    cfg = json.loads(json.dumps(tiny_model.meta_["config"]))
    cfg["features"]["context_window"] = 5  # changes the feature list
    path = _tampered(model_file, tmp_path, config=cfg)
    with pytest.raises(ModelError):
        BoilerplateClassifier.load(path)
    path = _tampered(model_file, tmp_path, config={"features": {"bogus": 1}})
    with pytest.raises(ModelError, match="unknown config key"):
        BoilerplateClassifier.load(path)


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ([], "empty"),
        ([Page("e", [])], "empty"),
        ([Page("a", ["x", "y"], [1, 1])], "single class"),
        ([Page("a", ["x", "y"], [0, 0]), Page("b", ["z"], [0])], "all lines are content"),
        ([Page("a", ["x"])], "need 'boilerplate' labels"),
    ],
)
def test_bad_training_sets(pages, message):
    with pytest.raises(DataError, match=message):
        BoilerplateClassifier(tiny_config()).fit(pages)


def test_tiny_training_set_without_validation_split(caplog):
    with caplog.at_level(logging.WARNING, logger="bpclf"):
        model = BoilerplateClassifier(tiny_config()).fit([make_page("only")])
    assert model.threshold_ == 0.5
    assert "validation split" in caplog.text


def test_unfitted_model_errors():
    with pytest.raises(ModelError, match="not fitted"):
        BoilerplateClassifier().predict([make_page("a")])


def test_second_pass_is_stored_and_checked(tiny_model, model_file, tmp_path):
    assert tiny_model.second_pass_ is not None
    second = tiny_model.meta_["second_pass"]
    assert second["feature_names"][:2] == ["log_chars", "n_words"]
    assert "p1@-1" in second["feature_names"]
    loaded = BoilerplateClassifier.load(model_file)
    assert loaded.second_pass_ is not None
    names = list(second["feature_names"])
    names[-1] = "something_else"
    bad = _tampered(model_file, tmp_path, second_pass={**second, "feature_names": names})
    with pytest.raises(ModelError, match="second-pass feature names"):
        BoilerplateClassifier.load(bad)
    ensemble, meta, _, vectors = load_model_bundle(model_file)
    save_model(tmp_path / "lost.bpclf", ensemble, meta, vectors=vectors)  # no second pass
    with pytest.raises(ModelError, match="disagree about the second pass"):
        BoilerplateClassifier.load(tmp_path / "lost.bpclf")


def test_without_second_pass(pages):
    from dataclasses import replace

    cfg = tiny_config()
    cfg = replace(cfg, model=replace(cfg.model, second_pass=False))
    model = BoilerplateClassifier(cfg).fit(pages)
    assert model.second_pass_ is None and model.meta_["second_pass"] == {}
    held_out = make_page("h", "en", seed=101)
    assert model.predict([held_out])[0].tolist() == held_out.labels


def test_long_pages_are_classified_in_blocks(tiny_model):
    from dataclasses import replace

    page = make_page("long")
    whole = tiny_model.predict_proba([page])[0]
    blocked = BoilerplateClassifier(tiny_model.config_)
    blocked.__dict__.update(tiny_model.__dict__)
    blocked.config_ = replace(
        tiny_model.config_, features=replace(tiny_model.config_.features, max_page_lines=4)
    )
    short = Page("short", ["Home", "It was a good day for the city."])
    parts = blocked.predict_proba([page, short], batch_lines=3)
    assert len(parts[0]) == len(page) and np.isfinite(parts[0]).all()
    assert not np.array_equal(parts[0], whole)  # page features now per block of 4 lines
    np.testing.assert_array_equal(parts[1], tiny_model.predict_proba([short])[0])


def test_chunking_does_not_change_predictions(tiny_model):
    pages = make_pages(9)
    a = tiny_model.predict_proba(pages, batch_lines=1)
    b = tiny_model.predict_proba(pages, batch_lines=100_000)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_transform_is_what_the_trees_see(tiny_model, pages):
    X = tiny_model.transform(pages[:3])
    assert X.shape == (sum(len(p) for p in pages[:3]), len(tiny_model.feature_names_))
    proba = tiny_model.calibration_(
        tiny_model.second_pass_.predict_proba(
            tiny_model._second_pass_matrix(
                X, tiny_model.ensemble_.predict_proba(X), [len(p) for p in pages[:3]]
            )
        )
    )
    np.testing.assert_allclose(proba, np.concatenate(tiny_model.predict_proba(pages[:3])))


def test_lexical_scale_is_required_for_quantised_weights(tiny_model, model_file, tmp_path):
    lexical = {"intercept": tiny_model.lexical_.intercept}  # the scale left out
    with pytest.raises(ModelError, match="invalid lexical model"):
        BoilerplateClassifier.load(_tampered(model_file, tmp_path, lexical=lexical))


def test_models_with_float64_lexical_weights_still_load(pages, tmp_path):
    """Models trained before quantisation store float64 weights, no scale, and a config
    without ``lexical.quantize``: they load and predict as they did."""
    cfg = tiny_config()
    cfg = replace(cfg, lexical=replace(cfg.lexical, quantize=False))
    model = BoilerplateClassifier(cfg).fit(pages)
    assert model.lexical_.weights.dtype == np.float64
    path = tmp_path / "float.bpclf"
    model.save(path)
    config = json.loads(json.dumps(model.meta_["config"]))
    del config["lexical"]["quantize"]
    old = _tampered(path, tmp_path, config=config, lexical={"intercept": model.lexical_.intercept})
    loaded = BoilerplateClassifier.load(old)
    assert not loaded.config_.lexical.quantize and loaded.lexical_.scale == 1.0
    held_out = [make_page("h", "en", seed=99)]
    np.testing.assert_array_equal(
        np.concatenate(loaded.predict_proba(held_out)),
        np.concatenate(model.predict_proba(held_out)),
    )


def test_line_probabilities_are_the_pages_arrays_joined(tiny_model):
    pages = [make_page("a", seed=3), Page("empty", []), make_page("b", "de", seed=4)]
    per_page = tiny_model.predict_proba(pages)
    assert [len(p) for p in per_page] == [len(p) for p in pages]
    for batch_lines in (1, 7, 50_000):  # chunking changes nothing
        flat = tiny_model.predict_proba_lines(pages, batch_lines)
        np.testing.assert_array_equal(flat, np.concatenate(per_page))
    assert tiny_model.predict_proba([]) == []
    assert tiny_model.predict_proba_lines([]).shape == (0,)


def test_line_weights_balance_long_and_short_pages():
    from bpclf.model import line_weights

    pages = [Page("long", ["x"] * 16, source="a"), Page("short", ["y"] * 4, source="b")]
    assert line_weights(pages, {}).tolist() == [1.0] * 20
    # every page alike: the long page's lines weigh a quarter of the short page's
    w = line_weights(pages, {}, 1.0)
    assert np.isclose(w[:16].sum(), w[16:].sum()) and np.isclose(w.mean(), 1.0)
    # square root: page totals in the ratio sqrt(16) : sqrt(4)
    w = line_weights(pages, {}, 0.5)
    assert np.isclose(w[:16].sum() / w[16:].sum(), 2.0) and np.isclose(w.sum(), 20.0)
    # source weights still multiply, and the total stays what they give
    w = line_weights(pages, {"b": 3.0}, 1.0)
    assert np.isclose(w[16:].sum(), 3 * w[:16].sum()) and np.isclose(w.sum(), 16 + 12)
    assert line_weights([Page("e", [])], {}, 0.5).tolist() == []


def test_threshold_from_out_of_fold_predictions(pages):
    cfg = tiny_config()
    folds = replace(cfg, model=replace(cfg.model, threshold_folds=3, second_pass=False))
    plain = replace(cfg, model=replace(cfg.model, threshold_folds=0, second_pass=False))
    model = BoilerplateClassifier(folds).fit(pages)
    base = BoilerplateClassifier(plain).fit(pages)
    # every training page is scored, not only the validation split's
    assert model.meta_["validation_metrics"]["pages"] == len(pages)
    assert base.meta_["validation_metrics"]["pages"] < len(pages)
    assert "threshold_out_of_fold" in model.fit_seconds_
    assert "threshold_out_of_fold" not in base.fit_seconds_
    # the same trees: only the threshold and calibration come from elsewhere
    X = base.transform(pages[:3])
    np.testing.assert_array_equal(model.ensemble_.predict_proba(X), base.ensemble_.predict_proba(X))
    assert 0 < model.threshold_ < 1
