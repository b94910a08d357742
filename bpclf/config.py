"""The TOML configuration: feature settings and model hyperparameters.

A config is read once, validated (unknown keys and wrong types are errors, so a typo
never silently falls back to a default) and stored inside every model it trains, so a
model always knows how its features were computed.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bpclf.errors import UsageError
from bpclf.resources import configs_dir, default_config_path


@dataclass(frozen=True)
class FeatureConfig:
    max_line_chars: int = 100_000
    max_page_lines: int = 100_000
    short_line_words: int = 4
    context_window: int = 3
    context_features: tuple[str, ...] = (
        "log_chars",
        "n_words",
        "ends_terminal",
        "stopword_share",
        "title_share",
        "phrase_count",
        "appeal_phrase",
        "letter_share",
        "digit_share",
        "short",
        "punct_share",
    )
    max_distance: int = 30
    lexicon: str = "phrases.tsv"
    appeal_categories: tuple[str, ...] = ("appeal", "subscribe", "legal", "account")
    stopwords_dir: str = "stopwords"
    langid_chars: int = 3000
    langid_min_hits: int = 3
    #: Use the layout of HTML input (tag, ancestors, navigation, link density); such a
    #: model only accepts HTML/WARC input.
    markup_features: bool = False
    #: Add how many other pages of the same site contain each line (a corpus pass over
    #: the whole input first; see bpclf.corpus).
    corpus_stats: bool = False
    #: Page profile: shares of short, repeated, dated, bulleted, ellipsis-ending ... lines
    #: on the page. Annotators judge listing pages (teasers, search results, catalogues)
    #: as a whole; line-level cues see full sentences there.
    page_profile: bool = True


@dataclass(frozen=True)
class ModelConfig:
    learning_rate: float = 0.06
    max_iter: int = 600
    max_leaf_nodes: int = 31
    #: Depth limit of each tree (0: none). Prediction time grows with the depth.
    max_depth: int = 8
    min_samples_leaf: int = 20
    l2_regularization: float = 1.0
    max_features: float = 0.5
    class_weight: str | None = "balanced"
    validation_fraction: float = 0.2
    n_iter_no_change: int = 30
    refit_on_all: bool = True
    #: Training sets of more lines than this (0: none) take the large-data path: no
    #: refit (the early-stopped model is final), large_data_learning_rate and at most
    #: large_data_max_iter trees.
    large_data_lines: int = 250_000
    large_data_learning_rate: float = 0.2
    large_data_max_iter: int = 200
    random_state: int = 0
    #: Second pass: a model over the first pass's out-of-fold probabilities of nearby lines.
    second_pass: bool = False
    second_pass_folds: int = 4
    second_pass_window: int = 3
    second_pass_features: tuple[str, ...] = (
        "log_chars",
        "n_words",
        "ends_terminal",
        "stopword_share",
        "appeal_phrase",
        "phrase_count",
        "rel_pos",
        "short_run_len",
        "dist_prev_appeal",
        "dist_next_appeal",
    )
    #: Per-source sample weights (pages whose ``source`` is listed); others weigh 1.
    source_weights: dict[str, float] = field(default_factory=dict)
    #: Lines of a page of n lines weigh n ** -page_weight_power (0: every line alike; 1:
    #: every page alike), rescaled to the total the source weights give, so that a few
    #: very long pages (forum threads, listings of hundreds of lines) do not set the
    #: conventions.
    page_weight_power: float = 0.5
    #: Threshold, calibration and operating points from out-of-fold predictions of all
    #: training pages (this many folds grouped by page, each fold's trees grown to the
    #: early-stopped count: this many more fits) instead of the validation split's fifth
    #: of the pages (0). Not on the large-data path nor with ``second_pass``.
    threshold_folds: int = 4
    #: Map scores to calibrated probabilities (Platt scaling on the predictions the
    #: threshold is chosen on: see ``threshold_folds``).
    calibrate: bool = True
    #: Operating points stored in the model (chosen on the same predictions):
    #: "keep more" keeps at least this share of content lines ...
    keep_more_content_recall: float = 0.98
    #: ... and "remove more" removes at least this share of boilerplate lines.
    remove_more_recall: float = 0.95


@dataclass(frozen=True)
class LexicalConfig:
    """The learned lexical score (bpclf.lexical): hashed character n-grams of each word.

    Models whose stored config has no ``lexical`` section were trained before it
    existed, without it (:func:`stored_config`).
    """

    enabled: bool = True
    ngram_min: int = 3
    ngram_max: int = 5
    hash_bits: int = 18
    epochs: int = 3
    learning_rate: float = 0.05
    l2: float = 0.0
    #: Folds (grouped by page) for the out-of-fold scores the trees are trained on.
    folds: int = 5
    #: Neighbours whose scores are features too: -window .. +window.
    window: int = 3
    #: Each n-gram model is fitted on at most this many lines (a seeded sample).
    max_train_lines: int = 200_000
    #: Store the fitted weights as 16-bit integers times one scale: a quarter of the
    #: memory (512 KB at 18 bits), so the table stays in a core's cache between batches
    #: (scores move by ~1e-5). False: float64 weights, as models trained before it.
    quantize: bool = True


@dataclass(frozen=True)
class Config:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    #: Directory against which relative resource paths are resolved first.
    base_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form stored in model files (without the local ``base_dir``)."""
        return {
            "features": _plain(asdict(self.features)),
            "model": _plain(asdict(self.model)),
            "lexical": _plain(asdict(self.lexical)),
        }

    def resolve(self, name: str) -> Path:
        """Resolve a resource path: absolute, next to the config file, or bundled."""
        path = Path(name)
        if path.is_absolute():
            return path
        if self.base_dir is not None and (Path(self.base_dir) / path).exists():
            return Path(self.base_dir) / path
        return configs_dir() / path


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _build(cls: type, values: dict[str, Any], section: str, source: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise UsageError(f"unknown config key '{section}.{key}'", source=source)
        default = getattr(cls(), key)
        if isinstance(default, dict):
            if not isinstance(value, dict) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and v > 0
                for v in value.values()
            ):
                raise UsageError(
                    f"'{section}.{key}' must map names to positive numbers", source=source
                )
            value = {str(k): float(v) for k, v in value.items()}
        elif isinstance(default, tuple):
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"'{section}.{key}' must be a list of strings", source=source)
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise UsageError(f"'{section}.{key}' must be true or false", source=source)
        elif isinstance(default, int | float) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(f"'{section}.{key}' must be a number", source=source)
            if isinstance(default, int) and not isinstance(value, int):
                raise UsageError(f"'{section}.{key}' must be an integer", source=source)
        elif default is not None and not isinstance(value, type(default)):
            raise UsageError(f"'{section}.{key}' has the wrong type", source=source)
        kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(
    data: dict[str, Any], *, source: str = "<config>", base_dir: str | None = None
) -> Config:
    """Validate a parsed config mapping (as found in a TOML file or a model file)."""
    unknown = set(data) - {"features", "model", "lexical"}
    if unknown:
        raise UsageError(f"unknown config section '{sorted(unknown)[0]}'", source=source)
    feats = _build(FeatureConfig, data.get("features", {}), "features", source)
    model = _build(ModelConfig, data.get("model", {}), "model", source)
    lexical = _build(LexicalConfig, data.get("lexical", {}), "lexical", source)
    if feats.max_line_chars < 1 or feats.max_page_lines < 1:
        raise UsageError(
            "features.max_line_chars and max_page_lines must be positive", source=source
        )
    if feats.context_window < 0 or feats.max_distance < 1 or feats.short_line_words < 0:
        raise UsageError(
            "features.context_window/max_distance/short_line_words out of range", source=source
        )
    if model.page_weight_power < 0:
        raise UsageError("model.page_weight_power must be >= 0", source=source)
    if model.threshold_folds < 0 or model.threshold_folds == 1:
        raise UsageError("model.threshold_folds must be 0 (off) or at least 2", source=source)
    if model.second_pass_folds < 2 or model.second_pass_window < 0:
        raise UsageError(
            "model.second_pass_folds must be >= 2, second_pass_window >= 0", source=source
        )
    checks = [
        (model.learning_rate > 0, "model.learning_rate must be positive"),
        (model.max_iter >= 1, "model.max_iter must be at least 1"),
        (model.max_leaf_nodes >= 2, "model.max_leaf_nodes must be at least 2"),
        (model.max_depth >= 0, "model.max_depth must be 0 (no limit) or positive"),
        (model.min_samples_leaf >= 1, "model.min_samples_leaf must be at least 1"),
        (model.l2_regularization >= 0, "model.l2_regularization must be >= 0"),
        (0 < model.max_features <= 1, "model.max_features must be in (0, 1]"),
        (model.n_iter_no_change >= 1, "model.n_iter_no_change must be at least 1"),
        (model.large_data_lines >= 0, "model.large_data_lines must be 0 (never) or positive"),
        (model.large_data_learning_rate > 0, "model.large_data_learning_rate must be positive"),
        (model.large_data_max_iter >= 1, "model.large_data_max_iter must be at least 1"),
        (
            model.class_weight in ("balanced", "none"),
            'model.class_weight must be "balanced" or "none"',
        ),
        (
            1 <= lexical.ngram_min <= lexical.ngram_max <= 5,  # kernels._line_ngrams' window
            "lexical.ngram_min and ngram_max must satisfy 1 <= ngram_min <= ngram_max <= 5",
        ),
        (8 <= lexical.hash_bits <= 24, "lexical.hash_bits must be in 8..24"),
        (lexical.epochs >= 1, "lexical.epochs must be at least 1"),
        (lexical.learning_rate > 0, "lexical.learning_rate must be positive"),
        (lexical.l2 >= 0, "lexical.l2 must be >= 0"),
        (lexical.folds >= 2, "lexical.folds must be at least 2"),
        (lexical.window >= 0, "lexical.window must be >= 0"),
        (lexical.max_train_lines >= 1, "lexical.max_train_lines must be at least 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message, source=source)
    for name in ("keep_more_content_recall", "remove_more_recall"):
        if not 0.0 < getattr(model, name) < 1.0:
            raise UsageError(f"model.{name} must be between 0 and 1", source=source)
    if not 0.0 < model.validation_fraction < 1.0:
        raise UsageError("model.validation_fraction must be between 0 and 1", source=source)
    return Config(features=feats, model=model, lexical=lexical, base_dir=base_dir)


#: Settings added after models were first shipped, with the value that reproduces how a
#: model whose stored config lacks them was trained (no lexical score, no depth limit,
#: always the refit path, lines weighed alike, threshold from the validation split).
_FORMERLY = {
    "features": {"page_profile": False},
    "lexical": {"enabled": False, "quantize": False},
    "model": {
        "max_depth": 0,
        "large_data_lines": 0,
        "page_weight_power": 0.0,
        "threshold_folds": 0,
    },
}


def stored_config(data: Any, *, source: str) -> Config:
    """The config stored in a model file; settings it lacks because the model predates
    them take the value the model was trained with (:data:`_FORMERLY`), not today's
    default."""
    if isinstance(data, dict):
        data = dict(data)
        for section, values in _FORMERLY.items():
            stored = data.get(section)
            if stored is None:
                data[section] = dict(values)
            elif isinstance(stored, dict):
                data[section] = {**values, **stored}
    return config_from_dict(data, source=source)


def load_config(path: str | Path | None = None) -> Config:
    """Read a TOML config; ``None`` means the bundled configs/default.toml."""
    path = Path(path) if path is not None else default_config_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError("config file not found", source=str(path)) from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config: {exc}", source=str(path)) from None
    return config_from_dict(data, source=str(path), base_dir=str(path.parent))
