"""Where bundled files live: configs (lexicon, stopwords) and the default model.

In a source checkout (also an editable install) they are the repository's ``configs/``
and ``models/``; a wheel carries them in ``bpclf/_resources``. ``BPCLF_MODEL`` overrides
the default model path.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_CANDIDATE_ROOTS = (_PACKAGE_DIR / "_resources", _PACKAGE_DIR.parent)

DEFAULT_MODEL_NAME = "default.bpclf"


def configs_dir() -> Path:
    """The directory holding default.toml, phrases.tsv and stopwords/."""
    for root in _CANDIDATE_ROOTS:
        candidate = root / "configs"
        if (candidate / "default.toml").is_file():
            return candidate
    raise FileNotFoundError("bpclf's bundled configs/ directory is missing; reinstall bpclf")


def default_config_path() -> Path:
    return configs_dir() / "default.toml"


def default_model_path() -> Path:
    """The shipped default model, or the file named by ``BPCLF_MODEL``."""
    env = os.environ.get("BPCLF_MODEL")
    if env:
        return Path(env)
    for root in _CANDIDATE_ROOTS:
        candidate = root / "models" / DEFAULT_MODEL_NAME
        if candidate.is_file():
            return candidate
    return _PACKAGE_DIR.parent / "models" / DEFAULT_MODEL_NAME
