import io
import json
import os
import sys

import numpy as np
import pytest

from bpclf.api import Prediction
from bpclf.errors import DataError
from bpclf.formats import page_json
from bpclf.pages import Page
from bpclf.parallel import Rendered
from bpclf.writers import (
    byte_stream,
    jsonl_utf8,
    open_output,
    render,
    write_predictions,
    write_rendered,
)


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


def _mixed_preds():
    """Pages with every kind of text the JSONL writer treats specially."""
    pages = [
        Page("plain", ["Title", "Crème brûlée, 12 €"], lang="fr"),
        Page("unsafe", ["del\x7f", "c1\x85 \x9f", "ls\u2028", "ps\u2029", "ok \u00c2\u0080?"]),
        Page("lone", ["half \ud800 surrogate"]),
        Page("big", ["x"], extra={"n": 2**70}),
        Page("empty", []),
    ]
    rng = np.random.default_rng(0)
    return [Prediction(p, rng.integers(0, 2, len(p)), rng.random(len(p))) for p in pages]


@pytest.mark.parametrize(
    "pick", [[0], [0, 4], [0, 1], [1], [0, 2], [3, 0], [0, 1, 2, 3, 4], [4], []]
)
def test_batch_jsonl_is_the_per_page_rendering(pick):
    preds = [_mixed_preds()[i] for i in pick]
    expected = "".join(text for _, text in render(preds, "jsonl"))
    assert jsonl_utf8(preds) == expected.encode("utf-8")
    # each page's line is page_json's record of the page with its labels and probabilities
    alone = [
        page_json(Page(q.id, q.lines, p.labels.tolist(), q.lang, q.source, q.extra), p.proba)
        for p, q in ((p, p.page) for p in preds)
    ]
    assert expected == "".join(line + "\n" for line in alone)
    assert expected.count("\n") == len(pick)
    if 1 in pick:  # unsafe characters are escaped, in the batch as on their own
        assert "\\u007f" in expected and "\\u2028" in expected and "\\u0085" in expected


def test_rendered_bytes_and_text_come_out_in_order():
    """With the byte stream given, UTF-8 chunks go there and text chunks through the text
    layer: the file holds both, in order, as if everything had been text."""
    chunks = [Rendered("a\u00e9\n", 1, 1, 0), Rendered("b\u00e9\n".encode(), 1, 2, 1)] * 2
    chunks.append(Rendered("", 0, 0, 0))
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    stats = write_rendered(chunks, out, raw=out.buffer)
    assert raw.getvalue() == ("a\u00e9\nb\u00e9\n" * 2).encode()
    assert (stats.pages, stats.lines, stats.boilerplate) == (4, 6, 2)
    crlf = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\r\n")
    write_rendered(chunks, crlf)  # without the byte stream: all text (newlines translated)
    assert crlf.buffer.getvalue() == ("a\u00e9\r\nb\u00e9\r\n" * 2).encode()
    assert chunks[1].text == "b\u00e9\n" and chunks[1].utf8 == "b\u00e9\n".encode()
    assert chunks[0].utf8 is None and chunks[0] == Rendered("a\u00e9\n", 1, 1, 0)


def test_byte_stream_only_for_streams_known_not_to_translate(tmp_path, monkeypatch):
    with open_output(str(tmp_path / "o.jsonl")) as fh:
        assert byte_stream(fh) is fh.buffer
    with open(tmp_path / "p.txt", "w", encoding="utf-8") as fh:
        assert byte_stream(fh) is None  # its newline setting cannot be asked
    latin = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    monkeypatch.setattr(sys, "stdout", latin)
    assert byte_stream(sys.stdout) is None
    utf8 = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", utf8)
    assert byte_stream(sys.stdout) is (utf8.buffer if os.name == "posix" else None)
