import ast
import json
from pathlib import Path

import numpy as np
import pytest

from bpclf.metrics import evaluate_system
from bpclf.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGES = ("pr_curve.png", "reliability.png", "feature_importance.png")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 2, n)
    proba = np.clip(0.5 * y + 0.5 * rng.random(n) + rng.normal(0, 0.1, n), 0, 1)
    char_len = rng.integers(0, 120, n)
    langs = rng.choice(["en", "de", "fr"], n)
    sources = rng.choice(["cc", "news"], n)
    model = evaluate_system("model", y, (proba >= 0.5).astype(int), proba, char_len, langs, sources)
    base = evaluate_system(
        "short-lines", y, (char_len < 30).astype(int), None, char_len, langs, sources
    )
    names = [f"feature_{i}" for i in range(30)]
    importances = rng.random(30)
    out = tmp_path_factory.mktemp("report") / "nested" / "out"
    path = write_report(out, [model, base], y, proba, 0.5, names, importances, title="Test report")
    return out, path


def test_writes_pngs(report_dir):
    out, _ = report_dir
    for name in IMAGES:
        data = (out / name).read_bytes()
        assert len(data) > 1000
        assert data.startswith(PNG_MAGIC)


def test_report_md(report_dir):
    out, path = report_dir
    assert path == out / "report.md"
    md = path.read_text(encoding="utf-8")
    assert md.startswith("# Test report")
    for name in IMAGES:
        assert f"]({name})" in md
    for word in (
        "model",
        "short-lines",
        "lang:en",
        "source:news",
        "macro (langs)",
        "ECE",
        "Brier",
        "0.500",
    ):
        assert word in md
    assert md.index("| overall | model") < md.index("| short-lines")  # model first
    assert "nan" not in md.lower()


def test_results_json(report_dir):
    out, _ = report_dir
    text = (out / "results.json").read_text(encoding="utf-8")
    assert "NaN" not in text
    results = json.loads(text)
    assert [r["system"] for r in results] == ["model", "short-lines"]
    assert results[1]["overall"]["lines"]["roc_auc"] is None  # NaN -> null
    assert 0.5 < results[0]["overall"]["lines"]["roc_auc"] <= 1.0
    assert set(results[0]["by_lang"]) == {"de", "en", "fr"}


def test_rejects_mismatched_importances(tmp_path):
    with pytest.raises(ValueError):
        write_report(tmp_path, [], [0, 1], [0.2, 0.8], 0.5, ["a", "b"], np.array([1.0]))


def test_matplotlib_is_not_imported_at_module_level():
    # importing bpclf must never import pyplot: only write_report imports matplotlib
    import bpclf.metrics
    import bpclf.report

    for module in (bpclf.metrics, bpclf.report):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        for node in tree.body:  # module-level statements only
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "matplotlib" for n in names), module.__name__
