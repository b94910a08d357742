"""bpclf: line-level boilerplate classification for scraped web text.

The package API mirrors the CLI: :func:`train`, :func:`evaluate`, :func:`predict`
(streaming), :func:`predict_pages`, :func:`predict_text` (the output text of ``bpclf
predict``, rendered in parallel workers), plus :class:`BoilerplateClassifier` for
scikit-learn-style use.
"""

__version__ = "0.1.0"

from bpclf.api import (
    Evaluation,
    Prediction,
    evaluate,
    load_model,
    predict,
    predict_pages,
    predict_text,
    train,
)
from bpclf.config import Config, load_config
from bpclf.errors import BpclfError, DataError, ModelError, UsageError
from bpclf.model import BoilerplateClassifier
from bpclf.pages import Page

__all__ = [
    "BoilerplateClassifier",
    "BpclfError",
    "Config",
    "DataError",
    "Evaluation",
    "ModelError",
    "Page",
    "Prediction",
    "UsageError",
    "__version__",
    "evaluate",
    "load_config",
    "load_model",
    "predict",
    "predict_pages",
    "predict_text",
    "train",
]
