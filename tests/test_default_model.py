"""The shipped default model: loads, is safe, gets the appeal pages right, is reproducible."""

import glob
import subprocess
import sys
from pathlib import Path

import pytest

import bpclf
from bpclf.readers import read_pages
from bpclf.resources import default_model_path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "lines"
APPEAL_PAGES = sorted(glob.glob(str(REPO / "data" / "appeal-page-*.jsonl")))


@pytest.fixture(scope="module")
def default_model():
    return bpclf.load_model()


def test_default_model_is_the_shipped_file(default_model):
    assert default_model_path() == REPO / "models" / "default.bpclf"
    meta = default_model.describe()
    assert meta["training_data"]["pages"] > 500
    assert set(meta["training_data"]["by_lang"]) >= {"de", "en", "es", "fi", "fr", "sv"}


@pytest.mark.parametrize("path", APPEAL_PAGES, ids=lambda p: Path(p).stem)
def test_appeal_pages_every_line_right(default_model, path):
    """Article content, then an appeal in good prose, a notice and a menu: all right."""
    (page,) = read_pages([path], require_labels=True)
    (pred,) = bpclf.predict_pages([page], default_model)
    wrong = [
        (i, line)
        for i, (line, a, b) in enumerate(zip(page.lines, pred.labels, page.labels, strict=True))
        if a != b
    ]
    assert wrong == []


def test_appeal_pages_exist():
    assert len(APPEAL_PAGES) >= 1


def _same_versions(meta: dict) -> bool:
    import numpy
    import sklearn

    v = meta["versions"]
    return v["scikit-learn"] == sklearn.__version__ and v["numpy"] == numpy.__version__


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data/lines")
def test_build_script_reproduces_the_shipped_model(default_model):
    if not _same_versions(default_model.meta_):
        pytest.skip("library versions differ from those that built the shipped model")
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_default_model.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "identical" in proc.stderr
