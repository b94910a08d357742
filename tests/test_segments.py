"""Glued lines: splitting at lost sentence boundaries and mapping labels back."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from bpclf import api
from bpclf.pages import Page
from bpclf.segments import merge_segments, segment_rows, split_glued, split_page
from bpclf.writers import write_predictions


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        (
            "Officials said.A Message from the editor.Dear readers,We need you.",
            ["Officials said.", "A Message from the editor.", "Dear readers,", "We need you."],
        ),
        ('He said "stop."Then he left', ['He said "stop."', "Then he left"]),
        ("It ended.I", ["It ended.", "I"]),
        ("Great news!Subscribe now", ["Great news!", "Subscribe now"]),
    ],
)
def test_glued_sentences_are_split(line, parts):
    assert split_glued(line) == parts
    assert "".join(split_glued(line)) == line  # nothing lost


@pytest.mark.parametrize(
    "line",
    [
        "am 29.Oktober 2010 in Berlin",  # digit before the dot
        "stationed at a U.S.Army base",  # initialism
        "A normal sentence. Another one follows.",  # space after the dot
        "e.g.this is lower case",
        "version 2.0.Beta",
        "",
    ],
)
def test_ordinary_text_is_not_split(line):
    assert split_glued(line) == [line]


def test_split_page_maps_segments_labels_and_per_line_rows():
    page = Page(
        "p",
        ["Intro line", "Article ends.Please donate today", "Home"],
        labels=[0, 0, 1],
        extra={"markup": [["p", "", 0, 0, 0, 0]] * 3, "url": "http://x.org"},
    )
    seg, seg_map = split_page(page)
    assert seg.lines == ["Intro line", "Article ends.", "Please donate today", "Home"]
    assert seg.labels == [0, 0, 0, 1]
    assert seg_map.line_of.tolist() == [0, 1, 1, 2] and seg_map.split
    assert len(seg.extra["markup"]) == 4 and seg.extra["url"] == "http://x.org"
    assert page.lines[1] == "Article ends.Please donate today"  # original untouched


def test_a_line_is_content_when_any_segment_is():
    page = Page("p", ["a", "b.Cc", "d"])
    seg, seg_map = split_page(page)
    proba = np.array([0.9, 0.2, 0.8, 0.7])
    line_proba, labels = merge_segments(proba, seg_map, 0.5)
    assert line_proba.tolist() == [0.9, 0.2, 0.7]
    assert labels.tolist() == [1, 0, 1]
    rows = segment_rows(seg, seg_map, proba, 0.5)
    assert rows[0] is None and rows[2] is None
    assert rows[1] == {"text": ["b.", "Cc"], "boilerplate": [0, 1], "boilerplate_proba": [0.2, 0.8]}


def test_empty_page():
    seg, seg_map = split_page(Page("e", []))
    assert seg.lines == [] and not seg_map.split
    line_proba, labels = merge_segments(np.zeros(0), seg_map, 0.5)
    assert len(line_proba) == 0 and len(labels) == 0


GLUED = Page(
    "glued",
    [
        "The committee met on Monday to discuss the new budget for the schools.",
        "She said that the results were better than they had expected.Share on Facebook",
        "Home",
    ],
)


def test_predict_with_split_glued_keeps_every_line_and_carries_segments(tiny_model):
    plain = next(api.predict([GLUED], tiny_model))
    split = next(api.predict([GLUED], tiny_model, split_glued=True))
    assert split.page.lines == GLUED.lines  # lines unchanged, in order
    assert len(split.labels) == len(split.proba) == 3
    assert split.segments[0] is None and split.segments[2] is None
    assert split.segments[1]["text"] == [
        "She said that the results were better than they had expected.",
        "Share on Facebook",
    ]
    # A split line is as likely boilerplate as its most content-like segment.
    assert split.proba[1] == min(split.segments[1]["boilerplate_proba"])
    assert plain.segments is None


def test_text_output_keeps_content_segments_only(tiny_model):
    pred = next(api.predict([GLUED], tiny_model, split_glued=True, threshold=0.5))
    pred.segments[1]["boilerplate"] = [0, 1]  # fix the segment labels for the check
    pred.labels[:] = [0, 0, 1]
    assert pred.content_lines == [GLUED.lines[0], pred.segments[1]["text"][0]]


def test_jsonl_output_has_segments_aligned_to_lines(tiny_model):
    out = io.StringIO()
    write_predictions(api.predict([GLUED], tiny_model, split_glued=True), out, "jsonl")
    record = json.loads(out.getvalue())
    assert record["lines"] == GLUED.lines
    assert len(record["segments"]) == 3
    assert record["segments"][1]["text"][1] == "Share on Facebook"


def test_split_output_is_the_same_whatever_jobs_and_batches(tiny_model):
    pages = [GLUED] + [Page(f"p{i}", [f"Line {i} ends.Next one", "Home"]) for i in range(30)]

    def run(**kw):
        out = io.StringIO()
        write_predictions(api.predict(pages, tiny_model, split_glued=True, **kw), out, "jsonl")
        return out.getvalue()

    assert run() == run(batch_lines=7) == run(jobs=2, batch_lines=11)


def test_parquet_output_stores_segments(tiny_model, tmp_path):
    import pyarrow.parquet as pq

    from bpclf.writers import write_parquet

    pages = [GLUED, Page("plain", ["Nothing glued here", "Home"])]
    write_parquet(api.predict(pages, tiny_model, split_glued=True), str(tmp_path / "o.parquet"))
    rows = pq.read_table(tmp_path / "o.parquet").to_pylist()
    assert [r["id"] for r in rows] == ["glued", "plain"]
    assert rows[0]["segments"][1]["text"] == GLUED.lines[1].replace(".Share", ".\nShare").split(
        "\n"
    )
    assert rows[1]["segments"] == [None, None]
