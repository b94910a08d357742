"""Workers that parse, classify and render their own shards: the same bytes as rendering
the predictions in one process, errors reported in input order."""

import gzip
import io
import json
import logging

import pytest

from bpclf import api, parallel
from bpclf.cli import main
from bpclf.errors import DataError
from bpclf.formats import dumps, format_labelled
from bpclf.pages import batched
from bpclf.readers import SkipLog, raw_shards
from bpclf.writers import write_predictions, write_rendered

from .conftest import make_page, make_pages, write_jsonl

FORMATS = ("jsonl", "text", "labeled")


def serial(inputs, model, fmt, **options) -> str:
    """The reference: predictions of one process, rendered by the writers."""
    out = io.StringIO()
    write_predictions(api.predict(inputs, model, **options), out, fmt)
    return out.getvalue()


def sharded(inputs, model, fmt, **options) -> str:
    out = io.StringIO()
    write_rendered(api.predict_text(inputs, model, fmt, **options), out)
    return out.getvalue()


@pytest.fixture
def corpus(tmp_path):
    """A JSONL input of 40 pages, some without an id (their id is FILE:LINE, which must
    come out right from any shard), with blank lines between some records."""
    records = []
    for i, page in enumerate(make_pages(40)):
        record = page.to_record()
        record.pop("boilerplate")
        if i % 7 == 3:
            record.pop("id")
        records.append(dumps(record) + ("\n\n" if i % 5 == 0 else "\n"))
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(records), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_workers_render_the_same_bytes_as_one_process(tiny_model, corpus, fmt):
    expected = serial([corpus], tiny_model, fmt)
    assert expected.count("==> ") == (40 if fmt == "text" else 0)
    for jobs, shard_bytes in ((2, 200), (2, 1), (3, 5000), (1, 300)):
        got = sharded([corpus], tiny_model, fmt, jobs=jobs, shard_bytes=shard_bytes)
        assert got == expected, (jobs, shard_bytes)


@pytest.mark.parametrize("fmt", FORMATS)
def test_odd_pages_render_the_same_in_shards(tiny_model, tmp_path, fmt):
    """Empty pages, one-line pages, lone surrogates and one-page shards: a worker's
    whole-batch rendering writes what the per-page writers write."""
    pages = [
        {"id": "empty", "lines": []},
        {"id": "one", "lines": ["Home"]},
        {"id": "half \ud800", "lines": ["a \ud800 b", "The council met on Tuesday to vote."]},
        *[p.to_record() for p in make_pages(5)],
        {"id": "last", "lines": [""]},
    ]
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(dumps(r) + "\n" for r in pages), encoding="utf-8")
    expected = serial([path], tiny_model, fmt)
    assert "\ufffd" in expected or fmt != "text"  # the lone surrogate, replaced
    counts = write_predictions(api.predict([path], tiny_model), io.StringIO(), fmt)
    assert counts.pages == len(pages) and 0 < counts.boilerplate < counts.lines
    for jobs, shard_bytes in ((1, 1), (2, 1), (1, 1 << 20), (2, 150), (1, 400)):
        got = sharded([path], tiny_model, fmt, jobs=jobs, shard_bytes=shard_bytes)
        assert got == expected, (jobs, shard_bytes)
        chunks = api.predict_text([path], tiny_model, fmt, jobs=jobs, shard_bytes=shard_bytes)
        assert write_rendered(chunks, io.StringIO()) == counts  # the summary line's counts


def test_ids_of_pages_without_one_name_their_line(tiny_model, corpus):
    out = sharded([corpus], tiny_model, "jsonl", jobs=2, shard_bytes=100)
    lines = corpus.read_text().split("\n")
    no_id = [n for n, line in enumerate(lines, 1) if line and '"id"' not in line]
    assert no_id and all(f'"id":"{corpus}:{n}"' in out for n in no_id)


def test_mixed_inputs_keep_their_order(tiny_model, corpus, tmp_path):
    """JSONL shards, labelled text and plain text read by the parent, in one stream."""
    labelled = tmp_path / "b.txt"
    pages = [make_page(f"L{i}", "de", 100 + i) for i in range(3)]
    labelled.write_text("".join(format_labelled(p) + "\n" for p in pages), encoding="utf-8")
    plain = tmp_path / "c.txt"
    plain.write_text("A headline\nSome words of an article here.\nShare on Facebook\n")
    inputs = [plain, corpus, labelled, corpus]
    for fmt in FORMATS:
        expected = serial(inputs, tiny_model, fmt)
        assert sharded(inputs, tiny_model, fmt, jobs=2, shard_bytes=700) == expected


def test_bad_records_are_skipped_in_order(tiny_model, tmp_path, caplog):
    good = [dumps({"id": f"g{i}", "text": "Some article text.\nMusic"}) for i in range(12)]
    good[4] = '{"id": "broken", "text": '  # malformed JSON
    good[9] = '{"id": "nolines"}'  # no text
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(good) + "\n")
    skips = {}
    outputs = {}
    for how in ("serial", "sharded"):
        skips[how] = SkipLog()
        options = dict(on_error="skip", skipped=skips[how])
        with caplog.at_level(logging.WARNING, logger="bpclf"):
            caplog.clear()
            if how == "serial":
                outputs[how] = serial([path], tiny_model, "jsonl", **options)
            else:
                outputs[how] = sharded(
                    [path], tiny_model, "jsonl", jobs=2, shard_bytes=40, **options
                )
            warnings = [r.getMessage() for r in caplog.records]
        assert [w.split(": ")[0] for w in warnings] == [f"{path}:5", f"{path}:10"]
    assert outputs["serial"] == outputs["sharded"]
    assert outputs["sharded"].count("\n") == 10
    assert skips["serial"].seen == skips["sharded"].seen


def test_stop_writes_the_pages_before_the_bad_record(tiny_model, tmp_path):
    """Under on_error="stop", what is written before the error is every page before the
    bad record, whatever the batch or shard size (serial: the batch being filled when
    the error came used to be lost)."""
    lines = [dumps({"id": f"g{i}", "text": "Some article text.\nMusic"}) for i in range(10)]
    lines[6] = "not json"
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for write in (
        lambda out: write_predictions(
            api.predict([path], tiny_model, batch_lines=100), out, "jsonl"
        ),
        lambda out: write_predictions(
            api.predict([path], tiny_model, batch_lines=3, jobs=2), out, "jsonl"
        ),
        lambda out: write_rendered(
            api.predict_text([path], tiny_model, "jsonl", jobs=2, shard_bytes=60), out
        ),
    ):
        out = io.StringIO()
        with pytest.raises(DataError, match=r"in\.jsonl:7: malformed JSON"):
            write(out)
        ids = [line.split('"id":"')[1][:2] for line in out.getvalue().splitlines()]
        assert ids == [f"g{i}" for i in range(6)]


def test_invalid_utf8_warns_once_per_file(tiny_model, tmp_path, caplog):
    raw = b"".join(
        b'{"id": "p%d", "text": "Caf\xe9 news.\\nMusic"}\n' % i
        if i in (3, 8)
        else b'{"id": "p%d", "text": "Cafe news.\\nMusic"}\n' % i
        for i in range(10)
    )
    path = tmp_path / "in.jsonl"
    path.write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="bpclf"):
        out = sharded([path], tiny_model, "jsonl", jobs=2, shard_bytes=50)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and messages[0].startswith(f"{path}:4: invalid UTF-8")
    assert out == serial([path], tiny_model, "jsonl") and out.count("\ufffd") == 2


def test_raw_shards_keep_every_line_and_number_them():
    data = b"a\nbb\n\nccc\ndddd\ne\n"
    for size in (1, 3, 6, 100):
        shards = list(raw_shards(data[:4], io.BytesIO(data[4:]), "x", size))
        lines = [line for _, d in shards for line in d.split(b"\n")]
        assert lines == data.split(b"\n")
        starts = [start for start, _ in shards]
        counts = [d.count(b"\n") + 1 for _, d in shards]
        assert starts == [1 + sum(counts[:i]) for i in range(len(shards))]


def test_raw_shards_of_lines_longer_than_shards_and_reads(monkeypatch):
    """Lines spanning many reads and many shard lengths come out whole, numbered."""
    from bpclf import readers

    monkeypatch.setattr(readers, "_CHUNK_BYTES", 3)
    data = b"x" * 50 + b"\nab\n" + b"y" * 31 + b"\n\nz" + b"w" * 17
    for size in (1, 4, 7, 40, 200):
        shards = list(raw_shards(data[:5], io.BytesIO(data[5:]), "x", size))
        assert [line for _, d in shards for line in d.split(b"\n")] == data.split(b"\n")
        counts = [d.count(b"\n") + 1 for _, d in shards]
        assert [s for s, _ in shards] == [1 + sum(counts[:i]) for i in range(len(shards))]
        assert all(len(d) <= max(size, 51) for _, d in shards[:-1])


def test_a_truncated_gzip_keeps_the_complete_lines_and_names_the_cut(tiny_model, tmp_path):
    records = [dumps({"id": f"g{i}", "text": f"News item {i} here.\nMusic"}) for i in range(400)]
    blob = gzip.compress(("\n".join(records) + "\n").encode())
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(blob[: len(blob) * 2 // 3])
    results = {}
    for how, write in (
        (
            "serial",
            lambda out, s: write_predictions(
                api.predict([path], tiny_model, on_error="skip", skipped=s), out, "jsonl"
            ),
        ),
        (
            "sharded",
            lambda out, s: write_rendered(
                api.predict_text(
                    [path], tiny_model, "jsonl", jobs=2, shard_bytes=300, on_error="skip", skipped=s
                ),
                out,
            ),
        ),
    ):
        out, skips = io.StringIO(), SkipLog()
        write(out, skips)
        results[how] = (out.getvalue(), skips.seen, skips.failed_inputs)
    assert results["serial"] == results["sharded"]
    text, seen, failed = results["sharded"]
    assert failed == 1 and 0 < text.count("\n") < 400
    ((_, line, message),) = seen
    assert line == text.count("\n") + 1 and "gzip" in message


def test_batches_come_out_before_a_failure():
    def items():
        yield from ([1], [2], [3])
        raise DataError("bad")

    out = []
    with pytest.raises(DataError):
        for batch in batched(items(), 2):
            out.append(batch)
    assert out == [[[1], [2]], [[3]]]


def test_cli_uses_workers_for_shards(capsys, model_file, corpus, monkeypatch, pool_starts):
    """`bpclf predict` output whatever --jobs, with shards small enough for the pool."""
    monkeypatch.setattr(parallel, "SHARD_BYTES", 300)
    outs = []
    for jobs in ("1", "2"):
        code = main(["predict", str(corpus), "-m", str(model_file), "-F", "jsonl", "-j", jobs])
        out, _ = capsys.readouterr()
        assert code == 0
        outs.append(out)
    assert len(pool_starts) == 1 and outs[0] == outs[1] and outs[0].count("\n") == 40


def test_stdin_jsonl_is_sharded_too(tiny_model, corpus, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(corpus.read_bytes())))
    got = sharded(["-"], tiny_model, "jsonl", jobs=2, shard_bytes=200)
    assert got == serial([corpus], tiny_model, "jsonl").replace(str(corpus), "<stdin>")


def test_missing_inputs_are_failed_inputs_in_their_place(tiny_model, corpus, tmp_path):
    skips = SkipLog()
    items = list(
        api.predict_text_per_input(
            [corpus, tmp_path / "nope.jsonl", corpus], tiny_model, "jsonl", jobs=2,
            shard_bytes=500, on_error="skip", skipped=skips,
        )
    )  # fmt: skip
    done = [(i, out.failed) for i, out in items if isinstance(out, parallel.InputDone)]
    assert done == [(0, False), (1, True), (2, False)] and skips.failed_inputs == 1
    with pytest.raises(DataError, match="file not found"):
        next(api.predict_text_per_input([corpus, tmp_path / "nope.jsonl"], tiny_model, jobs=2))


def test_models_with_corpus_statistics_render_in_process(tmp_path):
    """Site counts need two passes over the input: no shards, the same text."""
    from .test_corpus import _corpus_config, _site_corpus
    from .test_corpus import _write as write_site_pages

    train = write_site_pages(tmp_path / "train.jsonl", _site_corpus(0) + _site_corpus(1))
    model = api.train([train], config=_corpus_config())
    path = write_site_pages(tmp_path / "test.jsonl", _site_corpus(2))
    for fmt in FORMATS:
        expected = serial([path], model, fmt)
        assert expected and sharded([path], model, fmt, jobs=2, shard_bytes=100) == expected
    # one output per input: each input on its own, a missing one marked as failed
    other = write_site_pages(tmp_path / "other.jsonl", _site_corpus(3))
    missing = tmp_path / "missing.jsonl"
    items = list(
        api.predict_text_per_input(
            [path, missing, other], model, "jsonl", jobs=2, on_error="skip", skipped=SkipLog()
        )
    )
    done = [(i, out.failed) for i, out in items if isinstance(out, parallel.InputDone)]
    assert done == [(0, False), (1, True), (2, False)]
    for i, src in ((0, path), (2, other)):
        text = "".join(
            out.text for j, out in items if j == i and isinstance(out, parallel.Rendered)
        )
        assert text == serial([src], model, "jsonl")


def test_output_dir_uses_one_pool_for_all_files(
    capsys, model_file, tmp_path, monkeypatch, pool_starts
):
    """--output-dir: one output per input, each as if predicted alone, and workers
    started once for the whole run, not once per file."""
    monkeypatch.setattr(parallel, "SHARD_BYTES", 400)
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        write_jsonl(
            src / f"f{i}.jsonl", [make_page(f"f{i}-{j}", "en", 10 * i + j) for j in range(4)]
        )
    (src / "empty.jsonl").write_text("")
    for fmt in ("text", "jsonl"):
        out = tmp_path / f"out-{fmt}"
        code = main(["predict", str(src), "-m", str(model_file), "-F", fmt, "-j", "2",
                     "--output-dir", str(out), "-q"])  # fmt: skip
        capsys.readouterr()
        assert code == 0
        suffix = ".txt" if fmt == "text" else ".jsonl"
        for f in sorted(src.iterdir()):
            alone = main(["predict", str(f), "-m", str(model_file), "-F", fmt, "-j", "1"])
            expected, _ = capsys.readouterr()
            assert alone == 0
            assert (out / (f.name + suffix)).read_text() == expected, f
    assert len(pool_starts) == 2  # one per run


def _empty_binary_and_good_inputs(tmp_path):
    """A directory of an empty input, an unreadable (binary) one and one of 3 pages."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text("")
    (src / "b.txt").write_bytes(b"\x00\x00binary\x00")
    write_jsonl(src / "c.jsonl", make_pages(3))
    return src


def test_output_dir_parquet_skips_unreadable_inputs(capsys, model_file, tmp_path):
    """Parquet outputs (predictions, not text) follow the same per-input rule."""
    pq = pytest.importorskip("pyarrow.parquet")
    src = _empty_binary_and_good_inputs(tmp_path)
    out = tmp_path / "out"
    code = main(["predict", str(src), "-m", str(model_file), "-F", "parquet",
                 "--output-dir", str(out), "-q"])  # fmt: skip
    capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.jsonl.parquet", "c.jsonl.parquet"]
    assert pq.read_table(out / "c.jsonl.parquet").num_rows == 3


def test_output_dir_tells_empty_inputs_from_unreadable_ones(capsys, model_file, tmp_path):
    """An empty input gets an (empty) output even when the next input is unreadable: the
    failure of one input is never charged to the one before it."""
    src = _empty_binary_and_good_inputs(tmp_path)
    out = tmp_path / "out"
    for jobs in ("1", "2"):
        code = main(["predict", str(src), "-m", str(model_file), "-F", "jsonl", "-j", jobs,
                     "--output-dir", str(out / jobs), "-q"])  # fmt: skip
        capsys.readouterr()
        assert code == 1  # something was skipped
        assert sorted(p.name for p in (out / jobs).iterdir()) == ["a.jsonl.jsonl", "c.jsonl.jsonl"]
        assert (out / jobs / "a.jsonl.jsonl").read_text() == ""


@pytest.mark.parametrize("fmt", FORMATS)
def test_split_glued_lines_are_the_same_in_shards(tiny_model, tmp_path, fmt):
    lines = ["Officials said it was over.A Message from the team", "Dear readers,We are here."]
    pages = [make_page(f"g{i}", "en", i) for i in range(12)]
    for page in pages:
        page.lines[1:1] = lines
        page.labels[1:1] = [0, 1]
    path = write_jsonl(tmp_path / "glued.jsonl", pages)
    expected = serial([path], tiny_model, fmt, split_glued=True)
    assert expected != serial([path], tiny_model, fmt)  # splitting changed something
    assert sharded([path], tiny_model, fmt, split_glued=True, jobs=2, shard_bytes=300) == expected


def test_shards_parsed_as_bytes_read_what_decoded_text_reads(tiny_model, tmp_path):
    """Shards go to orjson as bytes, decoded only when it refuses a line: lines of
    Unicode spaces alone are blank (skipped, as str.strip() says), undecodable and
    broken lines are skipped at the same line numbers as when reading decoded text."""
    from bpclf.readers import SkipLog

    raw = [
        b'{"id": "a", "lines": ["Caf\xc3\xa9 news.", "Music"]}',
        "\u00a0\u2028 \u3000".encode(),
        b"\x1c\x1d\x1e\x1f",  # separators: str.strip() removes them, bytes.strip() not
        b"\x85",  # not UTF-8 on its own: a U+FFFD, then broken JSON
        b" \t\r",
        b'{"id": "b", "lines": ["x\xff"]}',
        b'{"id": "c" "lines": []}',
        "\ufeff".encode(),
        b'{"id": "d", "text": "Last \\u00e9 line\\r\\nHome"}\r',
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(raw) + b"\n")
    outs = []
    for run in (serial, lambda *a, **k: sharded(*a, shard_bytes=40, **k)):
        skipped = SkipLog()
        outs.append(
            (run([path], tiny_model, "jsonl", on_error="skip", skipped=skipped), skipped.seen)
        )
    assert outs[0] == outs[1]
    text, seen = outs[1]
    assert [json.loads(x)["id"] for x in text.splitlines()] == ["a", "b", "d"]
    assert sorted(line for _, line, _ in seen) == [4, 7, 8]  # "\x85", broken JSON, a BOM


def _pipe_size(conn) -> int:
    import fcntl

    return fcntl.fcntl(conn.fileno(), fcntl.F_GETPIPE_SZ)


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_GETPIPE_SZ"), reason="Linux pipes")
def test_pool_pipes_are_widened_before_workers_start():
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        before = _pipe_size(pool._result_queue._reader)
        parallel._widen_pipes(pool, size=4 * before)
        for queue in (pool._call_queue, pool._result_queue):
            # both ends are one pipe: widening through the reader widens the writer
            assert _pipe_size(queue._reader) == _pipe_size(queue._writer) == 4 * before
        assert pool.submit(len, b"x" * (3 * before)).result() == 3 * before


def test_widening_is_only_a_speed_up(tmp_path):
    """Where a pipe cannot be resized (here: not a pipe at all) or a pool has no such
    queues, the pool is left as it is, without an error."""
    from types import SimpleNamespace

    path = tmp_path / "not-a-pipe"
    path.write_bytes(b"data")
    with path.open("rb") as fh:
        pool = SimpleNamespace(_call_queue=SimpleNamespace(_reader=fh), _result_queue=None)
        parallel._widen_pipes(pool)
    assert path.read_bytes() == b"data"


@pytest.mark.parametrize(("jobs", "expected"), [(1, "SHARD_BYTES_ALONE"), (2, "SHARD_BYTES")])
def test_default_shards_are_bigger_in_one_process(tiny_model, corpus, monkeypatch, jobs, expected):
    seen = []
    real = parallel.raw_shards

    def spy(head, fh, source, shard_bytes):
        seen.append(shard_bytes)
        return real(head, fh, source, shard_bytes)

    monkeypatch.setattr(parallel, "raw_shards", spy)
    got = sharded([corpus], tiny_model, "jsonl", jobs=jobs)
    assert seen == [getattr(parallel, expected)]
    assert parallel.SHARD_BYTES_ALONE > parallel.SHARD_BYTES
    assert got == serial([corpus], tiny_model, "jsonl")
