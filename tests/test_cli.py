"""CLI behaviour: the three jobs, output formats, and one-line errors for bad input."""

import io
import json
import subprocess
import sys

import pytest

from bpclf.cli import main
from bpclf.formats import parse_labelled_text
from bpclf.pages import Page

from .conftest import make_page, make_pages, write_jsonl


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", make_pages(24))
    write_jsonl(tmp_path / "dev.jsonl", [make_page(f"d{i}", "en", 200 + i) for i in range(4)])
    return tmp_path


def test_train_evaluate_predict(capsys, data_dir, tiny_config_file):
    model = data_dir / "m.bpclf"
    code, _, err = run(
        capsys, "train", data_dir / "train.jsonl", "-o", model, "--config", tiny_config_file
    )
    assert code == 0 and model.exists() and "threshold" in err
    code, out, _ = run(
        capsys,
        "evaluate",
        data_dir / "dev.jsonl",
        "--model",
        model,
        "--json",
        data_dir / "ev.json",
        "--report",
        data_dir / "rep",
    )
    assert code == 0
    assert "bpclf" in out and "c4-rules" in out and "all-content" in out and "lang:en" in out
    results = json.loads((data_dir / "ev.json").read_text())["results"]
    assert results[0]["overall"]["lines"]["f1"] == 1.0
    assert (data_dir / "rep" / "report.md").exists()
    assert (data_dir / "rep" / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(capsys, "predict", data_dir / "dev.jsonl", "--model", model)
    assert code == 0 and "Home" not in out.split("\n") and "Local news" in out
    assert out.count("==> d") == 4  # several pages: one header each


def test_predict_formats_keep_every_line(capsys, model_file, tmp_path):
    pages = [make_page("a"), Page("empty", [], extra={"url": "u"}), Page("blank", ["", ""])]
    src = write_jsonl(tmp_path / "in.jsonl", pages)
    code, out, _ = run(capsys, "predict", src, "-m", model_file, "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == ["a", "empty", "blank"]
    for rec, page in zip(records, pages, strict=True):
        assert rec["lines"] == page.lines
        assert len(rec["boilerplate"]) == len(rec["boilerplate_proba"]) == len(page.lines)
    assert records[0]["boilerplate"] == pages[0].labels
    assert records[1]["url"] == "u"
    code, out, _ = run(capsys, "predict", src, "-m", model_file, "--format", "labeled")
    back = list(parse_labelled_text(out, "out"))
    assert [(p.id, p.lines) for p in back] == [(p.id, p.lines) for p in pages]
    assert back[0].labels == pages[0].labels


def test_predict_text_single_page_from_stdin(capsys, monkeypatch, model_file):
    page = make_page("s")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(page.lines).encode())))
    code, out, _ = run(capsys, "predict", "-m", model_file)
    kept = [line for line, lab in zip(page.lines, page.labels, strict=True) if lab == 0]
    assert code == 0 and out.splitlines() == kept  # one page: no header


def test_threshold_and_output_file(capsys, model_file, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [make_page("a")])
    out_file = tmp_path / "out.txt"
    code, out, err = run(
        capsys, "predict", src, "-m", model_file, "--threshold", "1", "-o", out_file
    )
    assert code == 0 and out == ""
    assert out_file.read_text().splitlines() == make_page("a").lines  # nothing removed
    assert "1 pages" in err
    assert not list(tmp_path.glob(".out.txt.*"))  # no temp file left behind


def test_convert_round_trip(capsys, tmp_path):
    pages = make_pages(3)
    src = write_jsonl(tmp_path / "p.jsonl", pages)
    code, out, _ = run(capsys, "convert", src, "--to", "labeled", "-o", tmp_path / "p.txt")
    assert code == 0
    code, out, _ = run(capsys, "convert", tmp_path / "p.txt", "--to", "jsonl")
    assert out == src.read_text()


def test_info(capsys, model_file):
    code, out, _ = run(capsys, "info", "-m", model_file)
    meta = json.loads(out)
    assert code == 0 and "feature_names" in meta and "resources" not in meta


def _bad(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bad.jsonl",
            '{"id": "a", "lines": ["x"], "boilerplate": [0]}\n{"id": oops}\n',
            "bad.jsonl:2: malformed JSON",
        ),
        (
            "len.jsonl",
            '{"id": "p", "lines": ["x", "y"], "boilerplate": [0]}\n',
            "len.jsonl:1: page 'p': 'lines' has 2 entries but 'boilerplate' has 1",
        ),
        ("lab.jsonl", '{"id": "p", "lines": ["x"], "boilerplate": [3]}\n', "not 0 or 1"),
        ("empty.jsonl", "", "training set is empty"),
        ("one.jsonl", '{"id": "p", "lines": ["x", "y"], "boilerplate": [0, 0]}\n', "single class"),
        ("bin.txt", b"\x00\x00\x00", "binary"),
    ],
)
def test_train_bad_input_one_line_errors(capsys, tmp_path, name, content, message):
    path = _bad(tmp_path, name, content)
    code, _out, err = run(capsys, "train", path, "-o", tmp_path / "m.bpclf")
    assert code == 1
    assert message in err
    assert err.startswith("bpclf: error: ") and err.count("\n") == 1
    assert not (tmp_path / "m.bpclf").exists()


def test_missing_inputs_and_models(capsys, tmp_path, model_file):
    code, _, err = run(capsys, "predict", tmp_path / "nope.txt", "-m", model_file)
    # the default --on-error skip: a warning, the summary line, exit 1
    assert code == 1 and "nope.txt: skipped input: file not found" in err
    assert "Traceback" not in err and err.count("\n") == 2
    code, _, err = run(capsys, "predict", "-m", tmp_path / "missing.bpclf")
    assert code == 1 and "missing.bpclf: model file not found" in err
    junk = _bad(tmp_path, "junk.bpclf", b"not a model at all")
    code, _, err = run(capsys, "evaluate", junk, "-m", junk)
    assert code == 1 and "junk.bpclf" in err and err.count("\n") == 1


def test_usage_errors_exit_2(capsys, model_file, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [make_page("a")])
    assert run(capsys, "predict", src, "-m", model_file, "--format", "pdf")[0] == 2
    assert run(capsys, "predict", src, "-m", model_file, "--threshold", "7")[0] == 2
    code, _, err = run(capsys, "predict", src, "--bogus-option")
    assert code == 2 and err.startswith("bpclf: error:")
    code, _, err = run(capsys, "train", src)
    assert code == 2 and "--output" in err


def test_console_script_never_shows_a_traceback(tmp_path):
    bad = _bad(tmp_path, "bad.jsonl", "{not json\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bpclf.cli", "evaluate", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("bpclf: error: ")


def test_output_identical_whatever_jobs_and_batch_size(capsys, model_file, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", make_pages(30))
    outputs = set()
    for extra in (
        ["--jobs", "1"],
        ["--jobs", "2", "--batch-lines", "7"],
        ["-j", "3", "--batch-lines", "1"],
        ["--batch-lines", "100000"],
    ):
        code, out, _ = run(capsys, "predict", src, "-m", model_file, "-F", "jsonl", *extra)
        assert code == 0
        outputs.add(out)
    assert len(outputs) == 1
    assert len(next(iter(outputs)).splitlines()) == 30


def test_errors_inside_workers_are_one_line(capsys, model_file, tmp_path):
    src = _bad(tmp_path, "in.jsonl", '{"id": "a", "lines": ["x"]}\n{"id": "b", "lines": 5}\n')
    code, _, err = run(capsys, "predict", src, "-m", model_file, "-j", "2", "--on-error", "stop")
    assert code == 1 and "in.jsonl:2" in err and err.count("\n") == 1


def test_phrases_mine_writes_a_reviewable_lexicon(capsys, tmp_path):
    from bpclf.phrases import Lexicon

    pages = [
        Page(
            f"p{i}",
            [
                "A sentence about the town council and its plans.",
                "Become a patron of the arts",
                "Home",
            ],
            [0, 1, 1],
            lang="en",
        )
        for i in range(30)
    ]
    src = write_jsonl(tmp_path / "p.jsonl", pages)
    out = tmp_path / "mined.tsv"
    code, _, _ = run(capsys, "phrases", "mine", src, "-o", out, "--min-pages", "5")
    assert code == 0
    rows = Lexicon.from_file(out).entries
    assert any("patron" in phrase for phrase, _, _ in rows)
    assert all(cat == "mined" and lang == "en" for _, lang, cat in rows)
    assert not any(phrase == "home" for phrase, _, _ in rows)  # already in the lexicon


def test_predict_to_parquet(capsys, model_file, tmp_path):
    import pyarrow.parquet as pq

    src = write_jsonl(tmp_path / "in.jsonl", make_pages(5))
    code, _, _ = run(
        capsys, "predict", src, "-m", model_file, "-F", "parquet", "-o", tmp_path / "o.parquet"
    )
    assert code == 0
    rows = pq.read_table(tmp_path / "o.parquet").to_pylist()
    assert [r["id"] for r in rows] == [p.id for p in make_pages(5)]
    assert run(capsys, "predict", src, "-m", model_file, "-F", "parquet")[0] == 2


def test_import_html_with_gold_text(capsys, tmp_path):
    d = tmp_path / "gold"
    d.mkdir()
    (d / "a.html").write_text(
        "<html><body><nav><a>Home</a> <a>News</a></nav><h1>Bridge closed</h1>"
        "<p>The bridge over the river will be closed for repairs until May.</p>"
        "<footer>© 2024 Example. All rights reserved.</footer></body></html>"
    )
    (d / "a.gold.txt").write_text(
        "Bridge closed\n\nThe bridge over the river will be closed\nfor repairs until May.\n"
    )
    out = tmp_path / "pages.jsonl"
    code, _, err = run(capsys, "import", "html", d, "-o", out)
    assert code == 0 and "1 pages" in err
    (rec,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert rec["id"] == "gold/a" and rec["source"] == "gold"
    assert dict(zip(rec["lines"], rec["boilerplate"], strict=True)) == {
        "Home News": 1,
        "Bridge closed": 0,
        "The bridge over the river will be closed for repairs until May.": 0,
        "© 2024 Example. All rights reserved.": 1,
    }
    code, _, err = run(capsys, "import", "html", tmp_path / "nope")
    assert code == 1 and "nope" in err


def test_output_dir_one_file_per_input_and_resume(capsys, model_file, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    for name in ("a.txt", "sub/b.txt"):
        (corpus / name).write_text("\n".join(make_page(name).lines))
    single = tmp_path / "c.jsonl"
    write_jsonl(single, make_pages(2))
    out = tmp_path / "out"
    args = ["predict", corpus, single, "-m", model_file, "-F", "jsonl", "--output-dir", out]
    code, _, err = run(capsys, *args)
    assert code == 0 and "3 files written, 0 already done" in err
    made = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert made == ["a.txt.jsonl", "c.jsonl.jsonl", "sub/b.txt.jsonl"]
    assert len((out / "c.jsonl.jsonl").read_text().splitlines()) == 2
    (out / "sub" / "b.txt.jsonl").unlink()  # as if the run had been interrupted there
    before = (out / "a.txt.jsonl").stat().st_mtime_ns
    code, _, err = run(capsys, *args)
    assert code == 0 and "1 files written, 2 already done" in err
    assert (out / "a.txt.jsonl").stat().st_mtime_ns == before
    assert (out / "sub" / "b.txt.jsonl").exists()
    code, _, err = run(capsys, "predict", "-m", model_file, "--output-dir", out)
    assert code == 2 and "not stdin" in err


def test_markup_model_needs_html_input(capsys, tmp_path):
    gold = tmp_path / "gold"
    gold.mkdir()
    for i in range(12):
        (gold / f"{i}.html").write_text(
            f"<nav><a>Home</a> <a>Sport {i}</a></nav><nav><a>Contact</a></nav>"
            f"<p>The council met on day {i} and agreed on a plan for the new library.</p>"
            f"<p>Residents said the plan was good, and building starts in spring {2020 + i}.</p>"
            "<footer>© Example. All rights reserved.</footer>"
        )
        (gold / f"{i}.gold.txt").write_text(
            f"The council met on day {i} and agreed on a plan for the new library.\n"
            f"Residents said the plan was good, and building starts in spring {2020 + i}.\n"
        )
    pages = tmp_path / "pages.jsonl"
    assert run(capsys, "import", "html", gold, "-o", pages, "-q")[0] == 0
    cfg = tmp_path / "markup.toml"
    cfg.write_text(
        "[features]\nmarkup_features = true\ncontext_window = 1\n"
        "[model]\nmax_iter = 20\nmin_samples_leaf = 2\n"
    )
    model = tmp_path / "m.bpclf"
    assert run(capsys, "train", pages, "-o", model, "--config", cfg, "-q")[0] == 0
    code, out, _ = run(capsys, "predict", gold / "3.html", "-m", model)
    assert code == 0 and "council met on day 3" in out
    txt = tmp_path / "plain.txt"
    txt.write_text("Home\nThe council met.\n")
    code, _, err = run(capsys, "predict", txt, "-m", model)
    assert code == 1 and "markup" in err and err.count("\n") == 1


def _removed(capsys, src, model_file, *flags) -> int:
    code, out, _ = run(capsys, "predict", src, "-m", model_file, "-F", "jsonl", *flags)
    assert code == 0
    return sum(sum(json.loads(line)["boilerplate"]) for line in out.splitlines())


def test_operating_points_keep_or_remove_more(capsys, model_file, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [make_page(f"x{i}", "en", 300 + i) for i in range(6)])
    default = _removed(capsys, src, model_file)
    assert _removed(capsys, src, model_file, "--keep-more") <= default
    assert _removed(capsys, src, model_file, "--remove-more") >= default
    code, _, err = run(
        capsys, "predict", src, "-m", model_file, "--keep-more", "--threshold", "0.5"
    )
    assert code == 2 and "only one of" in err and "Traceback" not in err
    code, out, _ = run(capsys, "evaluate", src, "-m", model_file, "--remove-more")
    assert code == 0 and "threshold:" in out


def test_predict_split_glued_keeps_content_pieces(capsys, model_file, tmp_path):
    page = make_page("g", "en", 1)
    glued = page.lines[1] + "Share on Facebook"  # an article sentence ends with "."
    src = tmp_path / "page.txt"
    src.write_text("\n".join([page.lines[0], glued, *page.lines[2:]]) + "\n")
    code, out, _ = run(capsys, "predict", src, "-m", model_file, "--split-glued", "-F", "jsonl")
    assert code == 0
    record = json.loads(out)
    assert record["lines"][1] == glued  # the line itself is unchanged
    assert record["segments"][1]["text"] == [page.lines[1], "Share on Facebook"]
    code, out, _ = run(capsys, "predict", src, "-m", model_file, "--split-glued")
    kept = out.splitlines()
    segs = record["segments"][1]
    for text, label in zip(segs["text"], segs["boilerplate"], strict=True):
        assert (text in kept) == (label == 0)
    assert glued not in kept


def test_train_corpus_stats_model_and_stdin(capsys, monkeypatch, tmp_path):
    pages = make_pages(12)
    for i, p in enumerate(pages):
        p.extra["url"] = f"https://site{i % 2}.example/{i}"
    src = write_jsonl(tmp_path / "train.jsonl", pages)
    model = tmp_path / "sites.bpclf"
    code, _, err = run(capsys, "train", src, "-o", model, "--corpus-stats", "-q")
    assert code == 0, err
    code, out, _ = run(capsys, "info", "-m", model)
    assert "site_share" in out
    code, out, _ = run(capsys, "predict", src, "-m", model, "-F", "jsonl")
    assert code == 0 and len(out.splitlines()) == 12
    assert "site_lines" not in out
    code, out, _ = run(capsys, "evaluate", src, "-m", model)
    assert code == 0 and "bpclf" in out
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Home\nNews\n")))
    code, _, err = run(capsys, "predict", "-", "-m", model)
    assert code == 2 and "not stdin" in err and err.count("\n") == 1


def test_warnings_go_to_the_current_stderr(tmp_path, model_file):
    """Two CLI calls in one process with different sys.stderr: each call's warnings land
    on its own stream (the handler is not bound to the first call's stream)."""
    import contextlib

    for _ in range(2):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["predict", str(tmp_path / "gone.txt"), "-m", str(model_file)])
        assert code == 1 and "gone.txt: skipped input: file not found" in err.getvalue()
