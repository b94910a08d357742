import pytest

from bpclf.config import Config, config_from_dict, load_config
from bpclf.errors import UsageError
from bpclf.resources import configs_dir, default_config_path


def test_bundled_default_matches_code_defaults():
    """configs/default.toml spells out the defaults (no hidden differences)."""
    cfg = load_config()
    assert cfg.to_dict() == Config().to_dict()
    assert cfg.resolve(cfg.features.lexicon) == configs_dir() / "phrases.tsv"
    assert default_config_path().is_file()


def test_round_trip_through_model_metadata():
    cfg = load_config()
    assert config_from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


def test_relative_paths_resolve_next_to_the_config(tmp_path):
    (tmp_path / "my.tsv").write_text("phrase\tlang\tcategory\n")
    path = tmp_path / "c.toml"
    path.write_text('[features]\nlexicon = "my.tsv"\n[model]\nsource_weights = {mine = 2}\n')
    cfg = load_config(path)
    assert cfg.resolve(cfg.features.lexicon) == tmp_path / "my.tsv"
    assert cfg.model.source_weights == {"mine": 2.0}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[features]\ncontext_windw = 2\n", "unknown config key 'features.context_windw'"),
        ("[modle]\n", "unknown config section"),
        ("[model]\nmax_iter = 'many'\n", "must be a number"),
        ("[model]\nmax_iter = 1.5\n", "must be an integer"),
        ("[model]\nrefit_on_all = 1\n", "true or false"),
        ("[features]\ncontext_features = [1]\n", "list of strings"),
        ("[model]\nvalidation_fraction = 1.5\n", "between 0 and 1"),
        ("[model]\nlarge_data_lines = -1\n", "large_data_lines must be 0"),
        ("[model]\nlarge_data_lines = 2.5e5\n", "must be an integer"),
        ("[model]\nlarge_data_learning_rate = 0\n", "large_data_learning_rate must be positive"),
        ("[model]\nlarge_data_max_iter = 0\n", "large_data_max_iter must be at least 1"),
        ("[model]\nsource_weights = {a = -1}\n", "positive numbers"),
        ("[model]\npage_weight_power = -0.5\n", "page_weight_power must be >= 0"),
        ("[model]\nthreshold_folds = 1\n", "threshold_folds must be 0"),
        ("[model\n", "cannot read config"),
    ],
)
def test_bad_configs(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(UsageError, match=message) as err:
        load_config(path)
    assert "bad.toml" in str(err.value)


def test_missing_config(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_config(tmp_path / "none.toml")


def test_stored_configs_from_before_the_lexical_score_disable_it():
    from bpclf.config import stored_config

    old = Config().to_dict()
    del old["lexical"]
    del old["model"]["max_depth"]
    del old["model"]["large_data_lines"]
    assert stored_config(old, source="m").lexical.enabled is False
    assert stored_config(old, source="m").model.max_depth == 0  # trained without a limit
    assert stored_config(old, source="m").model.large_data_lines == 0  # always refitted
    assert stored_config(Config().to_dict(), source="m").lexical.enabled is True
    with pytest.raises(UsageError, match="hash_bits"):
        stored_config({**Config().to_dict(), "lexical": {"hash_bits": 40}}, source="m")


def test_stored_configs_from_before_page_weights_weigh_lines_alike():
    """A model trained before page weights existed is retrained (`train --init`) the way
    it was trained: every line alike, threshold from the validation split."""
    from bpclf.config import stored_config

    old = Config().to_dict()
    del old["model"]["page_weight_power"]
    del old["model"]["threshold_folds"]
    model = stored_config(old, source="m").model
    assert model.page_weight_power == 0.0 and model.threshold_folds == 0
    new = stored_config(Config().to_dict(), source="m").model
    assert new.page_weight_power == 0.5 and new.threshold_folds == 4
