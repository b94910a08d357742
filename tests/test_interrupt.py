"""Killing train or predict at a random moment never leaves a file that looks complete.

Outputs are written to a temporary file and renamed at the end, so the target either
does not exist or is complete; a rerun then finishes the job.
"""

import json
import random
import signal
import subprocess
import sys
import time

import pytest

from bpclf.model import BoilerplateClassifier

from .conftest import make_page, make_pages, write_jsonl

CLI = [sys.executable, "-m", "bpclf.cli"]


def _interrupt(cmd, delay, sig):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_predict_leaves_no_partial_output(tmp_path, model_file, sig):
    pages = [make_page(f"p{i}", seed=i, n_article=40, n_menu=8) for i in range(400)]
    src = write_jsonl(tmp_path / "in.jsonl", pages)
    out = tmp_path / "out.jsonl"
    cmd = [
        *CLI,
        "predict",
        str(src),
        "-m",
        str(model_file),
        "-F",
        "jsonl",
        "-o",
        str(out),
        "--batch-lines",
        "2000",
        "--jobs",
        "2",  # workers too: a killed run must not leave them waiting forever
    ]
    rng = random.Random(int(sig))
    for _ in range(2):
        code, err = _interrupt(cmd, rng.uniform(0.3, 2.5), sig)
        if out.exists():  # finished before the signal: must be complete
            assert len(out.read_text().splitlines()) == len(pages)
        if sig == signal.SIGTERM and code != 0:
            assert "Traceback" not in err
            assert not list(tmp_path.glob(".out.jsonl.*"))  # temp file removed
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == [p.id for p in pages]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_train_leaves_no_partial_model(tmp_path, tiny_config_file, sig):
    src = write_jsonl(tmp_path / "train.jsonl", make_pages(60))
    model = tmp_path / "m.bpclf"
    cmd = [*CLI, "train", str(src), "-o", str(model), "--config", str(tiny_config_file)]
    rng = random.Random(int(sig) + 1)
    for _ in range(2):
        _interrupt(cmd, rng.uniform(0.3, 2.5), sig)
        if model.exists():
            BoilerplateClassifier.load(model)  # complete and valid
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    BoilerplateClassifier.load(model)
