"""The labelling loop end to end: suggest, correct, retrain with --init, evaluate."""

import json
import random

import numpy as np
import pytest

import bpclf
from bpclf.api import Prediction
from bpclf.cli import main
from bpclf.formats import format_labelled, parse_labelled_text
from bpclf.labelling import suggest, uncertainty
from bpclf.pages import Page

from .conftest import make_pages, write_jsonl

APPEALS = [
    "Please consider supporting our small newsroom with a monthly gift today.",
    "Our reporting is free for everyone because readers like you chip in every month.",
    "If you can, become a member now and keep local journalism alive in this town.",
    "A small contribution from each reader keeps our reporters in the field.",
    "We rely on readers, not advertisers, so every contribution really matters to us.",
]
ARTICLE = [
    "The bridge over the river will be closed for repairs until the end of the month.",
    "Engineers found cracks in two of the supports during an inspection last week.",
    "Drivers are advised to use the northern ring road while the work goes on.",
    "The city expects the repairs to cost about two million euros in total.",
    "Local shops near the bridge worry that they will lose customers during the closure.",
]


def appeal_page(i: int) -> Page:
    rng = random.Random(i)
    article = rng.sample(ARTICLE, 4)
    appeals = rng.sample(APPEALS, 3)
    return Page(
        f"new-{i}",
        ["Bridge closed for repairs", *article, *appeals],
        [0] * 5 + [1] * 3,
        lang="en",
        source="new-site",
    )


def test_uncertainty_and_round_robin():
    proba = np.array([0.5, 0.3, 0.9, 0.05])
    assert uncertainty(proba, 0.5, margin=0.2) == pytest.approx(
        1 + np.exp(-1) + np.exp(-4) + np.exp(-((0.45 / 0.2) ** 2))
    )
    assert uncertainty(np.array([0.5, 0.5]), 0.5) > uncertainty(np.array([0.5, 0.9]), 0.5)
    preds = [
        Prediction(Page(f"{s}{i}", ["x"], source=s), np.zeros(1, int), np.array([0.5 - 0.01 * i]))
        for s in "ab"
        for i in range(4)
    ]
    chosen = suggest(preds, 0.5, 4)
    assert [p.page.id for p in chosen] == ["a0", "b0", "a1", "b1"]
    empty = [Prediction(Page("e", []), np.zeros(0, int), np.zeros(0))]
    assert suggest(empty, 0.5, 3) == []


def test_labelling_loop_improves_the_model(tmp_path, capsys, tiny_config_file):
    base_src = write_jsonl(tmp_path / "base.jsonl", make_pages(24))
    model0 = tmp_path / "m0.bpclf"
    assert (
        main(["train", str(base_src), "-o", str(model0), "--config", str(tiny_config_file), "-q"])
        == 0
    )
    assert json.loads(json.dumps(bpclf.load_model(model0).meta_["training_files"])) == [
        "base.jsonl"
    ]

    pool = [appeal_page(i) for i in range(16)]
    test = [appeal_page(100 + i) for i in range(8)]
    truth = {p.id: p.labels for p in pool}
    pool_src = write_jsonl(
        tmp_path / "pool.jsonl", [Page(p.id, p.lines, None, p.lang, p.source) for p in pool]
    )
    test_src = write_jsonl(tmp_path / "test.jsonl", test)

    to_label = tmp_path / "to_label.txt"
    assert (
        main(
            [
                "label",
                "suggest",
                str(pool_src),
                "-m",
                str(model0),
                "-n",
                "10",
                "-o",
                str(to_label),
                "-q",
            ]
        )
        == 0
    )
    suggested = list(parse_labelled_text(to_label.read_text(), "to_label.txt"))
    assert 1 <= len(suggested) <= 10
    assert "0." in to_label.read_text()  # probabilities shown beside the lines

    # The person corrects the markers in an editor.
    corrected = "".join(
        format_labelled(Page(p.id, p.lines, truth[p.id], p.lang, p.source)) for p in suggested
    )
    to_label.write_text(corrected)

    before = bpclf.evaluate([str(test_src)], model0).model["overall"]["lines"]["f1"]
    model1 = tmp_path / "m1.bpclf"
    assert main(["train", "--init", str(model0), str(to_label), "-o", str(model1), "-q"]) == 0
    meta1 = bpclf.load_model(model1).meta_
    assert meta1["training_data"]["pages"] == 24 + len(suggested)
    assert meta1["config"] == bpclf.load_model(model0).meta_["config"]
    after = bpclf.evaluate([str(test_src)], model1).model["overall"]["lines"]["f1"]
    capsys.readouterr()
    assert after > before


def test_init_needs_recorded_files(tmp_path, capsys, tiny_model):
    path = tmp_path / "nofiles.bpclf"
    tiny_model.save(path)  # trained from Page objects: no training files recorded
    src = write_jsonl(tmp_path / "x.jsonl", make_pages(3))
    code = main(["train", "--init", str(path), str(src), "-o", str(tmp_path / "m.bpclf")])
    _, err = capsys.readouterr()
    assert code == 1 and "does not record its training files" in err
