"""Regression tests for bugs found in review (each reproduced before the fix)."""

import json
import os

import numpy as np
import pytest

from bpclf.api import Prediction
from bpclf.cli import main
from bpclf.errors import UsageError
from bpclf.formats import page_json, parse_jsonl
from bpclf.labelling import suggest
from bpclf.pages import Page
from bpclf.readers import read_pages

from .conftest import make_page, make_pages, write_jsonl


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_parquet_with_a_key_changing_type_is_a_one_line_error(capsys, tmp_path, model_file):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id":"a","text":"hello","meta":1}\n{"id":"b","text":"world","meta":"x"}\n')
    code, _, err = run(
        capsys,
        "predict",
        src,
        "-m",
        model_file,
        "-F",
        "parquet",
        "-o",
        tmp_path / "o.parquet",
        "--batch-lines",
        "1",
    )
    assert code == 1 and "Parquet" in err and err.count("\n") == 1
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize(
    "setting",
    ["learning_rate = -1.0", "max_iter = 0", 'class_weight = "heavy"', "max_features = 2.0"],
)
def test_bad_model_settings_are_usage_errors(tmp_path, setting):
    from bpclf.config import load_config

    path = tmp_path / "c.toml"
    path.write_text(f"[model]\n{setting}\n")
    with pytest.raises(UsageError):
        load_config(path)


def test_unknown_context_feature_is_a_usage_error(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[features]\ncontext_features = ["bogus"]\n')
    src = write_jsonl(tmp_path / "p.jsonl", make_pages(4))
    code, _, err = run(capsys, "train", src, "-o", tmp_path / "m.bpclf", "--config", cfg)
    assert code == 2 and "bogus" in err


def test_output_dir_checks(capsys, tmp_path, model_file):
    corpus = tmp_path / "crawl"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Hello there.\nHome\n")
    args = ["predict", corpus, "-m", model_file, "-F", "jsonl", "--output-dir", corpus / "out"]
    for _ in range(3):
        assert run(capsys, *args)[0] == 0
    files = sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file())
    assert files == ["a.txt", "out/a.txt.jsonl"]
    assert oct(os.stat(corpus / "out" / "a.txt.jsonl").st_mode & 0o777) != oct(0o600)
    (tmp_path / "file").write_text("x")
    code, _, err = run(
        capsys, "predict", corpus, "-m", model_file, "--output-dir", tmp_path / "file"
    )
    assert code == 1 and "not a directory" in err


def test_byte_order_mark_and_sniffing(tmp_path):
    lab = tmp_path / "lab.txt"
    lab.write_bytes(b'\xef\xbb\xbf@page {"id": "a"}\nC\tHello\n')
    assert [(p.id, p.labels) for p in read_pages([str(lab)])] == [("a", [0])]
    jl = tmp_path / "p.jsonl"
    jl.write_bytes(b'\xef\xbb\xbf{"id": "b", "lines": ["x"]}\n')
    assert next(read_pages([str(jl)])).id == "b"
    wiki = tmp_path / "wiki.txt"
    wiki.write_text("{{Infobox person}}\n@page views: 12\nText.\n")
    assert next(read_pages([str(wiki)])).lines == ["{{Infobox person}}", "@page views: 12", "Text."]


def test_jsonl_output_is_one_line_for_any_splitter():
    text = page_json(Page("a", ["x\u2028y", "del\x7f", "nel\x85"]))
    assert len(text.splitlines()) == 1
    assert next(parse_jsonl(text, "t")).lines == ["x\u2028y", "del\x7f", "nel\x85"]


def test_tiny_margin_still_suggests_pages():
    preds = [Prediction(Page("a", ["x"]), np.zeros(1, int), np.array([0.99]))]
    assert len(suggest(preds, 0.5, 3, margin=0.001)) == 1


def test_init_twice_does_not_bring_back_old_pages(capsys, tmp_path, tiny_config_file):
    base = write_jsonl(tmp_path / "base.jsonl", make_pages(12))
    m0, m1, m2 = (tmp_path / f"m{i}.bpclf" for i in range(3))
    assert run(capsys, "train", base, "-o", m0, "--config", tiny_config_file, "-q")[0] == 0
    fixed = make_page("p0")
    fixed.labels = [1 - v for v in fixed.labels]
    corr = write_jsonl(tmp_path / "corr.jsonl", [fixed])
    assert run(capsys, "train", "--init", m0, corr, "-o", m1, "-q")[0] == 0
    new = write_jsonl(tmp_path / "new.jsonl", [make_page("extra", seed=99)])
    assert run(capsys, "train", "--init", m1, new, "-o", m2, "-q")[0] == 0
    meta = json.loads(run(capsys, "info", "-m", m2)[1])
    assert meta["training_data"]["pages"] == 13
    assert meta["training_files"] == ["base.jsonl", "corr.jsonl", "new.jsonl"]


def test_convert_refuses_to_drop_partial_labels(capsys, tmp_path):
    lab = tmp_path / "partial.txt"
    lab.write_text('@page {"id": "a"}\nC\tone\n?\ttwo\nB\tthree\n')
    code, out, err = run(capsys, "convert", lab, "--to", "jsonl")
    assert code == 1 and "partial.txt:3" in err and "'?'" in err
    lab.write_text('@page {"id": "a"}\n?\tone\n?\ttwo\n')
    code, out, _ = run(capsys, "convert", lab, "--to", "jsonl")
    assert code == 0 and "boilerplate" not in json.loads(out)


def test_closed_pipe_exits_0_without_traceback(tmp_path, model_file):
    import subprocess
    import sys

    src = write_jsonl(tmp_path / "big.jsonl", make_pages(600))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bpclf.cli",
            "predict",
            str(src),
            "-m",
            str(model_file),
            "-F",
            "jsonl",
            "--batch-lines",
            "500",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err


def test_train_checks_the_output_directory_first(capsys, tmp_path):
    src = write_jsonl(tmp_path / "p.jsonl", make_pages(4))
    code, _, err = run(capsys, "train", src, "-o", tmp_path / "nodir" / "m.bpclf")
    assert code == 1 and "output directory does not exist" in err


def test_id_field_keeps_the_original_id(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": 7, "url": "http://a", "text": "x"}\n')
    (page,) = read_pages([str(path)], id_field="url")
    assert page.id == "http://a" and page.extra == {"url": "http://a", "input_id": 7}
