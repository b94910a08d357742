"""Property tests (hypothesis): arbitrary text and JSON never break bpclf's promises.

Promises: no exception other than a one-line ``BpclfError``; every input line comes back
exactly once, in order, under its page id; features are finite and of the declared
count; a page gets the same predictions alone and inside a batch. The example budget is
small for CI; raise it with ``HYPOTHESIS_PROFILE=fuzz``.
"""

import io
import json
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpclf
from bpclf.errors import BpclfError
from bpclf.formats import format_labelled, page_json, parse_jsonl, parse_labelled_text
from bpclf.pages import Page
from bpclf.readers import read_pages
from bpclf.writers import write_predictions

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Any code point: surrogates, combining marks, RTL, CJK, emoji, NUL and controls.
any_char = st.characters(codec=None, categories=None)
short_text = st.text(any_char, max_size=60)
#: Mostly short lines, sometimes very long ones (up to a million characters).
line_st = st.one_of(
    short_text,
    st.tuples(st.text(any_char, min_size=1, max_size=8), st.integers(1000, 1_000_000)).map(
        lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]]
    ),
)
lines_st = st.lists(st.one_of(short_text, short_text, short_text, line_st), max_size=25)
page_st = st.builds(
    lambda i, lines, lang: Page(f"p{i}", lines, lang=lang),
    st.integers(0, 10**6),
    lines_st,
    st.sampled_from([None, "en", "de", "fi", "xx", ""]),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | short_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(short_text, inner, max_size=4),
    max_leaves=12,
)
record_st = st.one_of(
    json_value,
    st.fixed_dictionaries({"id": json_value, "lines": json_value}),
    st.fixed_dictionaries({"id": short_text, "lines": lines_st, "boilerplate": json_value}),
    st.fixed_dictionaries({"id": short_text, "text": json_value}),
)


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model


@given(pages=st.lists(page_st, max_size=4))
def test_features_are_finite_and_complete(model, pages):
    X = model.extractor_.transform(pages)
    assert X.shape == (sum(len(p) for p in pages), model.extractor_.n_features)
    assert np.isfinite(X).all()


@given(page=page_st, others=st.lists(page_st, max_size=3), at=st.integers(0, 3))
def test_page_alone_equals_page_in_batch(model, page, others, at):
    alone = model.predict_proba([page])[0]
    batch = [*others[:at], page, *others[at:]]
    inside = model.predict_proba(batch)[min(at, len(others))]
    np.testing.assert_array_equal(alone, inside)


@given(pages=st.lists(page_st, max_size=4), fmt=st.sampled_from(["jsonl", "labeled"]))
def test_every_line_comes_back_in_order(model, pages, fmt):
    out = io.StringIO()
    write_predictions(bpclf.predict(pages, model), out, fmt)
    text = out.getvalue()
    text.encode("utf-8")  # always writable as UTF-8
    if fmt == "jsonl":
        back = list(parse_jsonl(text, "out"))
    else:
        back = list(parse_labelled_text(text, "out"))
    assert [(p.id, p.lines) for p in back] == [(p.id, p.lines) for p in pages]


@given(page=page_st, labels=st.data())
def test_labelled_text_and_jsonl_round_trip(page, labels):
    page.labels = labels.draw(
        st.lists(st.sampled_from([0, 1]), min_size=len(page), max_size=len(page))
    )
    page.extra = {"k": "v"}
    (from_text,) = parse_labelled_text(format_labelled(page), "t")
    (from_json,) = parse_jsonl(page_json(page), "j")
    assert from_text == page == from_json


@given(records=st.lists(record_st, max_size=5), raw=st.lists(short_text, max_size=2))
def test_arbitrary_jsonl_gives_pages_or_one_line_errors(tmp_path_factory, records, raw):
    path = tmp_path_factory.mktemp("j") / "in.jsonl"
    body = [json.dumps(r) for r in records] + [r.replace("\n", " ") for r in raw]
    path.write_bytes("\n".join(body).encode("utf-8", "surrogatepass"))
    try:
        pages = list(read_pages([str(path)]))
    except BpclfError as exc:
        assert "\n" not in str(exc) and "in.jsonl" in str(exc)
        return
    valid = [r for r in records if isinstance(r, dict)]
    assert len(pages) <= len(valid) + len(raw)


@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_on_stdin(monkeypatch, data):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    try:
        pages = list(read_pages(["-"]))
    except BpclfError as exc:
        assert "\n" not in str(exc)
        return
    assert all(isinstance(line, str) for p in pages for line in p.lines)


def test_huge_page_streams_through_predict(model):
    """100,000 lines in one page: every line classified, in order."""
    lines = [f"Line {i} of a very long listing" if i % 3 else "Home" for i in range(100_000)]
    (pred,) = bpclf.predict([Page("huge", lines)], model, batch_lines=20_000)
    assert len(pred.labels) == 100_000 and pred.page.lines is lines


@given(
    pages=st.lists(page_st, max_size=5),
    junk=st.lists(st.binary(max_size=40), max_size=3),
    at=st.data(),
    shard=st.integers(1, 400),
    fmt=st.sampled_from(["jsonl", "labeled", "text"]),
)
def test_shards_give_the_same_output_and_skips(
    model, tmp_path_factory, pages, junk, at, shard, fmt
):
    """Whatever the records (valid pages, broken JSON, invalid UTF-8, blank lines) and
    wherever the shard cuts fall, workers rendering their own shards write what one
    process writes, and skip the same records."""
    from bpclf.readers import SkipLog
    from bpclf.writers import write_rendered

    lines = [page_json(p).encode("utf-8", "surrogatepass") for p in pages]
    for j in junk:
        lines.insert(at.draw(st.integers(0, len(lines))), j.replace(b"\n", b" "))
    path = tmp_path_factory.mktemp("s") / "in.jsonl"
    path.write_bytes(b"\n".join(lines))
    outs, skips = [], []
    for sharded in (False, True):
        out, skip = io.StringIO(), SkipLog()
        options = dict(on_error="skip", skipped=skip)
        if sharded:
            chunks = bpclf.predict_text([path], model, fmt, jobs=1, shard_bytes=shard, **options)
            write_rendered(chunks, out)
        else:
            write_predictions(bpclf.predict([path], model, **options), out, fmt)
        outs.append(out.getvalue())
        skips.append(skip.seen)
    assert outs[0] == outs[1] and skips[0] == skips[1]
