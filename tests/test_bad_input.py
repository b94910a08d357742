"""Bad input in multi-record, multi-file runs: each bad record or unreadable input is
skipped with a warning naming it, every good record is kept in order, and the run ends
with one summary line and exit code 1 (docs/errors.md, "Partial failures")."""

from __future__ import annotations

import gzip
import json
import logging
import sys
import zlib
from pathlib import Path

import pytest

from bpclf.cli import _OneLine, main
from bpclf.pages import Page

from .conftest import make_page, make_pages, write_jsonl
from .test_warc import page_record
from .test_warc import write as write_warc

PREFIX = "bpclf: warning: "


def summary(records: int, inputs: int) -> str:
    rec = "1 bad record" if records == 1 else f"{records} bad records"
    inp = "1 input" if inputs == 1 else f"{inputs} inputs"
    return f"{PREFIX}skipped {rec} in {inp} (see warnings above); all other records were processed"


class _CurrentStderr(logging.StreamHandler):
    """The CLI's one-line warnings, written to whatever ``sys.stderr`` is now (capsys)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(_OneLine())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


@pytest.fixture
def cli(capsys, model_file):
    """Run ``bpclf ARGS -m MODEL``; returns (exit code, stdout, stderr lines).

    Warnings go to the current stderr whatever handlers earlier tests (or pytest's log
    capture) left on the ``bpclf`` logger; its state is put back afterwards.
    """
    logger = logging.getLogger("bpclf")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:] = [_CurrentStderr()]
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def run(*args, model=True):
        argv = [str(a) for a in args] + (["-m", str(model_file)] if model else [])
        code = main(argv)
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err.splitlines()

    yield run
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def ids_of(jsonl: str) -> list[str]:
    return [json.loads(line)["id"] for line in jsonl.splitlines()]


def records_text(pages: list[Page]) -> list[str]:
    return [json.dumps(p.to_record(), ensure_ascii=False) for p in pages]


# --- JSONL: bad records among good ones -------------------------------------------------


def test_malformed_jsonl_records_are_skipped_one_by_one(cli, tmp_path):
    good = records_text(make_pages(5))
    bad = [
        "{not json",  # line 2
        "[1, 2]",  # line 4: not an object
        '{"id": "m", "lines": ["a"], "boilerplate": [0, 1]}',  # line 6: length mismatch
        '{"id": "v", "lines": ["a"], "boilerplate": [7]}',  # line 8: bad label
        '{"id": "t"}',  # line 10: neither lines nor text
    ]
    lines = [x for pair in zip(good, bad, strict=True) for x in pair]
    src = tmp_path / "mixed.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    code, _, err = cli("predict", src, "-F", "jsonl", "-o", out)
    assert code == 1
    assert ids_of(out.read_text()) == [f"p{i}" for i in range(5)]  # all good ones, in order
    warnings = [e for e in err if "skipped record" in e]
    assert [w.split(": skipped record: ")[0] for w in warnings] == [
        f"{PREFIX}{src}:{n}" for n in (2, 4, 6, 8, 10)
    ]
    assert "malformed JSON" in warnings[0] and "expected a JSON object" in warnings[1]
    assert "page 'm'" in warnings[2] and "not 0 or 1" in warnings[3]
    assert "neither 'lines' nor 'text'" in warnings[4]
    assert err[-1] == summary(5, 1)


def test_json_that_python_refuses_beyond_syntax_is_a_bad_record(cli, tmp_path):
    src = tmp_path / "odd.jsonl"
    src.write_text(
        '{"id": "a", "text": "x"}\n'
        '{"id": "big", "n": ' + "9" * 5000 + "}\n"  # int too long for Python
        "" + "[" * 100_000 + "]" * 100_000 + "\n"  # nested too deeply
        '{"id": "b", "text": "y"}\n'
    )
    code, out, err = cli("predict", src, "-F", "jsonl")
    assert code == 1 and ids_of(out) == ["a", "b"]
    assert [e.split(": skipped record: ")[0] for e in err[:2]] == [
        f"{PREFIX}{src}:2",
        f"{PREFIX}{src}:3",
    ]
    assert err[-1] == summary(2, 1)


def test_labelled_text_skips_a_bad_page_block_to_the_next_page(cli, tmp_path):
    src = tmp_path / "pages.labels.txt"
    src.write_text(
        '@page {"id": "a"}\nC\tThe first page.\n'
        '@page {"id": "b"}\nC\tFine so far.\nX\tnot a marker\nC\tstill page b\n'
        '@page {"id": "c"}\nB\tHome\n'
        "@page not json\nC\tlost with its header\n"
        '@page {"id": "d"}\nC\tThe last page.\n'
    )
    code, out, err = cli("predict", src, "-F", "jsonl")
    assert code == 1
    assert ids_of(out) == ["a", "c", "d"]
    assert [json.loads(x)["lines"] for x in out.splitlines()][1] == ["Home"]
    assert err[0].startswith(f"{PREFIX}{src}:5: skipped record: expected a marker")
    assert err[1].startswith(f"{PREFIX}{src}:9: skipped record: '@page' must be followed")
    assert err[-1] == summary(2, 1) and len(err) == 3


# --- truncated gzip ---------------------------------------------------------------------


def truncated_gzip(path: Path, lines: list[str], keep: float = 0.5) -> list[str]:
    """Write ``lines`` gzip-compressed and cut short; returns the lines complete before
    the cut (what any gzip reader can recover)."""
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    cut = data[: int(len(data) * keep)]
    path.write_bytes(cut)
    recoverable = zlib.decompressobj(wbits=31).decompress(cut)
    complete = recoverable.count(b"\n")
    assert 0 < complete < len(lines)  # the cut is inside the data: a line is lost
    return lines[:complete]


def test_truncated_gzip_jsonl_keeps_the_pages_before_the_cut(cli, tmp_path):
    pages = [make_page(f"z{i}", seed=i) for i in range(300)]
    src = tmp_path / "crawl.jsonl.gz"
    kept = truncated_gzip(src, records_text(pages))
    after = write_jsonl(tmp_path / "after.jsonl", [make_page("after")])
    out = tmp_path / "out.jsonl"
    code, _, err = cli("predict", src, after, "-F", "jsonl", "-o", out)
    assert code == 1
    # Every page before the cut, in order, then the next file; the cut record is not
    # emitted as a (half) page.
    assert ids_of(out.read_text()) == [f"z{i}" for i in range(len(kept))] + ["after"]
    assert err[0] == (
        f"{PREFIX}{src}:{len(kept) + 1}: skipped the rest of the input (pages complete "
        "before this line are kept): compressed data ends early (truncated gzip file)"
    )
    assert err[-1] == summary(1, 1)


def test_truncated_gzip_plain_text_page_is_skipped_not_cut(cli, tmp_path):
    src = tmp_path / "page.txt.gz"
    truncated_gzip(src, [f"Line number {i} of a long page." for i in range(5000)])
    good = tmp_path / "good.txt.gz"
    good.write_bytes(gzip.compress(b"Local news\nThe council met on Monday.\n"))
    code, out, err = cli("predict", src, good, "-F", "jsonl")
    assert code == 1
    (rec,) = [json.loads(x) for x in out.splitlines()]
    assert rec["id"] == str(good) and rec["lines"] == ["Local news", "The council met on Monday."]
    assert err[0].startswith(f"{PREFIX}{src}:") and "truncated gzip" in err[0]
    assert err[-1] == summary(1, 1)


# --- WARC, HTML, Parquet, binary and missing files ------------------------------------


def test_warc_with_a_broken_record_header_among_good_records(cli, tmp_path):
    broken = page_record(2).replace(b"WARC/1.0", b"WARX/1.0", 1)
    warc = write_warc(tmp_path, "crawl.warc.gz", [page_record(1), broken, page_record(3)])
    jsonl = write_jsonl(tmp_path / "b.jsonl", make_pages(2))
    code, out, err = cli("predict", warc, jsonl, "-F", "jsonl")
    assert code == 1
    assert ids_of(out) == ["<urn:uuid:1>", "<urn:uuid:3>", "p0", "p1"]
    assert err[0].startswith(f"{PREFIX}{warc}: skipped ") and "byte offset" in err[0]
    assert err[-1] == summary(1, 1)
    # --on-error stop keeps what WARC reading always did: broken records are skipped
    # with a warning (a crawl file is never all-or-nothing), exit 0.
    code, out, err = cli("predict", warc, jsonl, "-F", "jsonl", "--on-error", "stop")
    assert code == 0 and ids_of(out) == ["<urn:uuid:1>", "<urn:uuid:3>", "p0", "p1"]


@pytest.mark.parametrize("declared", [True, False])
def test_html_in_a_legacy_encoding_is_decoded(cli, tmp_path, declared):
    meta = '<meta charset="windows-1252">' if declared else ""
    markup = (
        f"<html><head>{meta}<title>T</title></head><body>"
        "<p>Caf\xe9 cr\xe8me \u2013 5 \u20ac</p><p>Na\xefve r\xe9sum\xe9s.</p></body></html>"
    )
    src = tmp_path / "legacy.html"
    src.write_bytes(markup.encode("cp1252"))
    code, out, err = cli("predict", src, "-F", "jsonl")
    assert code == 0 and err == []  # not an error: the charset is found or guessed
    (rec,) = [json.loads(x) for x in out.splitlines()]
    assert rec["lines"] == ["Café crème – 5 €", "Naïve résumés."]


def test_parquet_without_the_named_column_is_skipped(cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"body": ["a\nb", "c"]}), parquet)
    good = write_jsonl(tmp_path / "good.jsonl", make_pages(3))
    code, out, err = cli("predict", good, parquet, "-F", "jsonl")
    assert code == 1
    assert ids_of(out) == ["p0", "p1", "p2"]
    assert err[0] == (
        f"{PREFIX}{parquet}: skipped input: no column 'text' (columns: body); use --text-field"
    )
    assert err[-1] == summary(1, 1)


def test_binary_and_missing_files_among_good_files(cli, tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", make_pages(2))
    blob = tmp_path / "blob.txt"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)))
    last = write_jsonl(tmp_path / "c.jsonl", [make_page("c0"), make_page("c1")])
    missing = tmp_path / "missing.jsonl"
    code, out, err = cli("predict", first, blob, missing, last, "-F", "jsonl")
    assert code == 1
    assert ids_of(out) == ["p0", "p1", "c0", "c1"]
    assert f"{PREFIX}{blob}: skipped input: looks like a binary file (NUL bytes), not text" in err
    assert f"{PREFIX}{missing}: skipped input: file not found" in err
    assert err[-1] == summary(2, 2)


# --- the stop policy, other commands, --output-dir ----------------------------------------


def test_on_error_stop_keeps_the_old_behaviour(cli, tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": "a", "lines": ["x"]}\n{"id": "b", "lines": 3}\n')
    out = tmp_path / "out.jsonl"
    code, _, err = cli("predict", src, "-F", "jsonl", "-o", out, "--on-error", "stop")
    assert code == 1
    assert err == [f"bpclf: error: {src}:2: page 'b': 'lines' must be a list of strings"]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]  # no temp file left
    code, _, err = cli("predict", src, "--on-error", "maybe")
    assert code == 2 and "--on-error must be one of stop, skip" in err[0]


def test_commands_that_need_labels_stop_by_default(cli, tmp_path):
    src = tmp_path / "l.jsonl"
    src.write_text(
        '{"id": "a", "lines": ["x"], "boilerplate": [0]}\n{oops\n'
        '{"id": "b", "lines": ["y"], "boilerplate": [1]}\n'
    )
    code, _, err = cli("convert", src, "--to", "jsonl", "-o", tmp_path / "o.jsonl", model=False)
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"bpclf: error: {src}:2: malformed JSON")
    assert not (tmp_path / "o.jsonl").exists()
    code, out, err = cli("convert", src, "--to", "jsonl", "--on-error", "skip", model=False)
    assert code == 1 and ids_of(out) == ["a", "b"]
    assert err[0].startswith(f"{PREFIX}{src}:2: skipped record: malformed JSON")
    assert err[-1] == summary(1, 1)


def test_label_suggest_skips_bad_records(cli, tmp_path):
    src = tmp_path / "pool.jsonl"
    src.write_text("\n".join([*records_text(make_pages(3)), "{broken"]) + "\n")
    code, out, err = cli("label", "suggest", src, "-n", "10")
    assert code == 1 and out.count("@page ") == 3
    assert err[0].startswith(f"{PREFIX}{src}:4: skipped record:")
    assert err[-1] == summary(1, 1)


def test_output_dir_skips_unreadable_files_and_retries_them(cli, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_jsonl(corpus / "a.jsonl", make_pages(2))
    (corpus / "b.txt").write_bytes(b"\x00\x00binary\x00")
    (corpus / "c.jsonl").write_text(
        "\n".join([records_text([make_page("c0")])[0], "{bad", records_text([make_page("c1")])[0]])
    )
    out = tmp_path / "out"
    args = ["predict", corpus, "-F", "jsonl", "--output-dir", out]
    code, _, err = cli(*args)
    assert code == 1
    made = sorted(p.name for p in out.iterdir())
    assert made == ["a.jsonl.jsonl", "c.jsonl.jsonl"]  # no output for the unreadable b.txt
    assert ids_of((out / "c.jsonl.jsonl").read_text()) == ["c0", "c1"]
    assert "2 files written, 0 already done (skipped), 1 unreadable" in "\n".join(err)
    assert err[-1] == summary(2, 2)
    (corpus / "b.txt").write_text("Local news\nThe council met.\n")  # fixed: a rerun retries it
    code, _, err = cli(*args)
    assert code == 0 and (out / "b.txt.jsonl").exists()
    assert "1 files written, 2 already done" in err[-1]
