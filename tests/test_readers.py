import io
import json
import logging
import sys

import pytest

from bpclf.errors import DataError, UsageError
from bpclf.readers import expand_paths, read_pages


def test_plain_text_file_and_directory(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_bytes(b"one\r\ntwo\rthree\n")
    (tmp_path / "d" / "a.txt").write_text("alpha\n\nbeta")
    (tmp_path / "d" / ".hidden").write_text("skip me")
    pages = list(read_pages([str(tmp_path / "d")]))
    assert [p.id for p in pages] == [str(tmp_path / "d" / "a.txt"), str(tmp_path / "d" / "b.txt")]
    assert pages[0].lines == ["alpha", "", "beta"]
    assert pages[1].lines == ["one", "two", "three"]


def test_stdin_sniffs_format(monkeypatch):
    for payload, expect in [
        (b"Hello\nWorld\n", [["Hello", "World"]]),
        (b'{"id": "x", "text": "a\\nb"}\n{"id": "y", "lines": ["c"]}\n', [["a", "b"], ["c"]]),
        (b'@page {"id": "z"}\nC\tq\n', [["q"]]),
    ]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload)))
        assert [p.lines for p in read_pages(["-"])] == expect


def test_invalid_utf8_is_replaced_with_a_warning(tmp_path, caplog):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café\nnaïve\n".encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="bpclf"):
        (page,) = read_pages([str(path)])
    assert page.lines == ["caf\ufffd", "na\ufffdve"]
    assert "latin1.txt" in caplog.text and "invalid UTF-8" in caplog.text


def test_binary_and_missing_files(tmp_path):
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(DataError, match="binary"):
        list(read_pages([str(binary)]))
    with pytest.raises(DataError, match="not found") as err:
        list(read_pages([str(tmp_path / "nope.txt")]))
    assert "nope.txt" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no files"):
        expand_paths([str(tmp_path / "empty")])


def test_labels_required_for_training_inputs(tmp_path):
    path = tmp_path / "page.txt"
    path.write_text("x\n")
    with pytest.raises(DataError, match="no labels"):
        list(read_pages([str(path)], require_labels=True))
    jl = tmp_path / "p.jsonl"
    jl.write_text(json.dumps({"id": "a", "lines": ["x"]}) + "\n")
    with pytest.raises(DataError, match="no 'boilerplate'"):
        list(read_pages([str(jl)], require_labels=True))


def test_unknown_input_format():
    with pytest.raises(UsageError):
        list(read_pages(["x"], input_format="pdf"))


def test_parquet_and_csv_through_datasets(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"doc": ["a\nb", "c"], "key": ["k1", "k2"], "url": ["u1", "u2"]})
    pq.write_table(table, tmp_path / "t.parquet")
    pages = list(read_pages([str(tmp_path / "t.parquet")], text_field="doc", id_field="key"))
    assert [(p.id, p.lines, p.extra) for p in pages] == [
        ("k1", ["a", "b"], {"key": "k1", "url": "u1"}),
        ("k2", ["c"], {"key": "k2", "url": "u2"}),
    ]
    (tmp_path / "t.csv").write_text('text,n\n"x\ny",1\nz,2\n')
    pages = list(read_pages([str(tmp_path / "t.csv")]))
    assert [p.lines for p in pages] == [["x", "y"], ["z"]]
    assert pages[0].id.endswith("t.csv:1")
    with pytest.raises(DataError, match="no column 'body'"):
        list(read_pages([str(tmp_path / "t.parquet")], text_field="body"))


def test_jsonl_with_named_text_and_id_fields(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"url": "http://a", "body": "x\ny", "n": 1}) + "\n")
    (page,) = read_pages([str(path)], text_field="body", id_field="url")
    assert page.id == "http://a" and page.lines == ["x", "y"]
    assert page.extra == {"url": "http://a", "n": 1}  # the id column is kept too


def test_byte_lines_across_chunk_boundaries(monkeypatch):
    from bpclf import readers

    monkeypatch.setattr(readers, "_CHUNK_BYTES", 3)
    data = b"ab\ncdefgh\n\nij"
    out = list(readers._byte_lines(data[:4], io.BytesIO(data[4:])))
    assert out == data.split(b"\n")
    assert list(readers._byte_lines(b"", io.BytesIO(b""))) == [b""]


def test_large_jsonl_streams_in_order(tmp_path):
    path = tmp_path / "many.jsonl"
    with path.open("w") as fh:
        for i in range(3000):
            fh.write(json.dumps({"id": f"p{i}", "text": f"line {i}\n" * (i % 5)}) + "\n")
    ids = [p.id for p in read_pages([str(path)])]
    assert ids == [f"p{i}" for i in range(3000)]


def test_html_pages_plain_and_gzip(tmp_path):
    import gzip

    markup = (
        "<html><head><meta charset='iso-8859-1'><script>x()</script></head><body>"
        "<nav><a>Home</a></nav><p>Caf\xe9 au lait<br>is good.</p></body></html>"
    )
    (tmp_path / "a.html").write_bytes(markup.encode("latin-1"))
    (tmp_path / "b.htm.gz").write_bytes(gzip.compress(markup.encode("latin-1")))
    pages = list(read_pages([str(tmp_path / "a.html"), str(tmp_path / "b.htm.gz")]))
    assert [p.lines for p in pages] == [["Home", "Café au lait", "is good."]] * 2
    assert pages[1].id.endswith("b.htm.gz")
    broken = tmp_path / "c.html.gz"
    broken.write_bytes(gzip.compress(b"<p>hello</p>" * 100)[:-20])
    with pytest.raises(DataError, match=r"c\.html\.gz: cannot decompress"):
        list(read_pages([str(broken)]))
    forced = tmp_path / "page.txt"
    forced.write_text("<p>One</p><p>Two</p>")
    assert next(read_pages([str(forced)], input_format="html")).lines == ["One", "Two"]
