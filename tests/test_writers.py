import io
import json

import numpy as np
import pytest

from bpclf.api import Prediction
from bpclf.errors import DataError
from bpclf.pages import Page
from bpclf.writers import open_output, write_predictions


def _preds():
    return [
        Prediction(
            Page("a", ["Title", "Menu"], extra={"url": "u"}), np.array([0, 1]), np.array([0.1, 0.9])
        ),
        Prediction(Page("b", []), np.zeros(0, dtype=int), np.zeros(0)),
    ]


def test_text_output_separates_pages():
    out = io.StringIO()
    stats = write_predictions(_preds(), out, "text")
    assert out.getvalue() == "==> a <==\nTitle\n\n==> b <==\n"
    assert (stats.pages, stats.lines, stats.boilerplate) == (2, 2, 1)
    single = io.StringIO()
    write_predictions(_preds()[:1], single, "text")
    assert single.getvalue() == "Title\n"


def test_jsonl_output():
    out = io.StringIO()
    write_predictions(_preds(), out, "jsonl")
    first, second = (json.loads(x) for x in out.getvalue().splitlines())
    assert first == {
        "id": "a",
        "url": "u",
        "lines": ["Title", "Menu"],
        "boilerplate": [0, 1],
        "boilerplate_proba": [0.1, 0.9],
    }
    assert second["lines"] == [] and second["boilerplate"] == []


def test_open_output_is_atomic(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), open_output(str(target)) as fh:
        fh.write("partial")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
    with open_output(str(target)) as fh:
        fh.write("new")
    assert target.read_text() == "new"
    with pytest.raises(DataError, match="does not exist"), open_output(str(tmp_path / "x" / "y")):
        pass


def test_parquet_output_keeps_columns(tmp_path):
    import pyarrow.parquet as pq

    from bpclf.writers import write_parquet

    path = tmp_path / "out.parquet"
    preds = _preds()
    preds[1].page.extra = {"url": "v", "late": 1}
    stats = write_parquet(preds, str(path), batch_pages=1)
    table = pq.read_table(path).to_pylist()
    assert stats.pages == 2
    assert table[0]["id"] == "a" and table[0]["lines"] == ["Title", "Menu"]
    assert table[0]["boilerplate"] == [0, 1] and table[0]["url"] == "u"
    assert table[0]["boilerplate_proba"] == pytest.approx([0.1, 0.9])
    assert table[1]["lines"] == [] and table[1]["url"] == "v"
    assert "late" not in table[1]  # not in the first batch's schema: reported, left out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]
