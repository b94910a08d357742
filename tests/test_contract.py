"""The error contract of docs/errors.md, for every command."""

import pytest

from bpclf.cli import main

from .conftest import make_pages, write_jsonl


@pytest.fixture
def labelled(tmp_path):
    return write_jsonl(tmp_path / "l.jsonl", make_pages(3))


def _run(capsys, args):
    code = main([str(a) for a in args])
    _, err = capsys.readouterr()
    return code, err


@pytest.mark.parametrize(
    "command",
    [
        ["train", "{missing}", "-o", "{tmp}/m.bpclf"],
        ["evaluate", "{missing}", "-m", "{model}"],
        ["predict", "{missing}", "-m", "{model}", "--on-error", "stop"],
        ["convert", "{missing}", "--to", "jsonl"],
        ["info", "-m", "{missing}"],
    ],
)
def test_data_errors_exit_1_with_one_line(capsys, tmp_path, model_file, command):
    args = [
        a.format(missing=tmp_path / "missing.jsonl", tmp=tmp_path, model=model_file)
        for a in command
    ]
    code, err = _run(capsys, args)
    assert code == 1
    assert err.startswith("bpclf: error: ") and err.count("\n") == 1
    assert "missing.jsonl" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [
        ["train", "{src}", "-o", "{tmp}/m.bpclf", "--input-format", "pdf"],
        ["evaluate", "{src}", "-m", "{model}", "--threshold", "-1"],
        ["predict", "{src}", "-m", "{model}", "--jobs", "-1"],
        ["convert", "{src}", "--to", "xml"],
        ["info", "--nope"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, tmp_path, model_file, labelled, command):
    args = [a.format(src=labelled, tmp=tmp_path, model=model_file) for a in command]
    code, err = _run(capsys, args)
    assert code == 2
    assert err.startswith("bpclf: error: ") and err.count("\n") == 1


def test_bad_config_is_a_usage_error(capsys, tmp_path, labelled):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nmax_iter = -\n")
    code, err = _run(capsys, ["train", labelled, "-o", tmp_path / "m.bpclf", "--config", cfg])
    assert code == 2 and "c.toml" in err


def test_failed_run_keeps_previous_output(capsys, tmp_path, model_file):
    out = tmp_path / "out.txt"
    out.write_text("previous")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "lines": ["x"]}\n{"id": "b", "lines": 3}\n')
    code, _ = _run(capsys, ["predict", bad, "-m", model_file, "-o", out, "--on-error", "stop"])
    assert code == 1 and out.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "out.txt"]
