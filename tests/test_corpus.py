"""Site-level repetition: counting, annotation, features and models that use them."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from bpclf import api, corpus
from bpclf.corpus import (
    SITE_LINES_KEY,
    SITE_NAMES,
    SITE_PAGES_KEY,
    SiteCounter,
    annotate_sites,
    line_keys,
    site_matrix,
    site_of,
)
from bpclf.errors import DataError, UsageError
from bpclf.html import MARKUP_KEY
from bpclf.model import BoilerplateClassifier
from bpclf.pages import PER_LINE_KEYS, Page, page_blocks
from tests.conftest import ARTICLE, tiny_config

URL_PAGE = Page("a", ["x"], extra={"url": "https://WWW.Example.org:8080/news/1"})


def test_site_is_the_url_host_without_www_and_port():
    assert site_of(URL_PAGE, "file.jsonl") == "host:example.org"
    assert site_of(Page("b", [], extra={"url": "example.org/a"}), "f") == "host:example.org"


def test_site_falls_back_to_the_input_without_a_url():
    assert site_of(Page("b", ["x"]), "crawl/a.jsonl") == "input:crawl/a.jsonl"
    assert site_of(Page("b", ["x"], extra={"url": ""}), "f") == "input:f"


def test_line_keys_fold_case_digits_and_spacing():
    k = line_keys(["Posted 3 hours ago", "posted  15 HOURS ago ", "Posted by Anna", "", "  "])
    assert k[0] == k[1]
    assert k[0] != k[2]
    assert k[3] == 0 and k[4] == 0
    assert (k[:3] != 0).all()


def test_line_keys_are_stable_across_processes():
    """Python's str hash is salted per process; site counts must not depend on it."""
    code = "from bpclf.corpus import line_keys; print(list(line_keys(['Home', 'Über uns'])))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1
    assert runs.pop().strip() == str(list(line_keys(["Home", "Über uns"])))


def test_line_keys_handle_lines_with_embedded_breaks():
    k = line_keys(["a\nb", "a b", "c"])
    assert len(k) == 3 and k[0] == k[1]


def _site_pages() -> list[tuple[Page, str]]:
    menu = ["Home", "Recipes", "About Anna"]
    pages = []
    for i in range(3):
        lines = [f"Article line {i} about soup.", *menu, "Home"]
        pages.append((Page(f"s{i}", lines, extra={"url": f"http://anna.example/{i}"}), "in"))
    pages.append((Page("other", ["Home", "Unrelated text here."]), "in"))
    return pages


def test_counts_are_other_pages_of_the_same_site():
    pages = annotate_sites(_site_pages())
    first = pages[0]
    # Article line: digits fold, so "line 0/1/2" are one line on three pages.
    assert first.extra[SITE_LINES_KEY] == [2, 2, 2, 2, 2]
    assert first.extra[SITE_PAGES_KEY] == 2
    other = pages[3]  # no url: its own site ("input:in"), alone there
    assert other.extra[SITE_LINES_KEY] == [0, 0]
    assert other.extra[SITE_PAGES_KEY] == 0


def test_a_line_repeated_within_a_page_counts_the_page_once():
    pages = annotate_sites(
        [(Page("a", ["Home", "Home", "x"]), "f"), (Page("b", ["Home", "y"]), "f")]
    )
    assert pages[0].extra[SITE_LINES_KEY] == [1, 1, 0]
    assert pages[1].extra[SITE_LINES_KEY] == [1, 0]


def test_compaction_gives_the_same_counts(monkeypatch):
    rng = random.Random(1)
    vocab = [f"line {chr(97 + i)}{chr(97 + j)}" for i in range(20) for j in range(20)]
    pairs = [(Page(f"p{i}", rng.sample(vocab, 30)), "f") for i in range(40)]
    expected = [list(p.extra[SITE_LINES_KEY]) for p in annotate_sites(pairs)]
    monkeypatch.setattr(corpus, "_COMPACT_AT", 7)
    fresh = [(Page(p.id, p.lines), o) for p, o in pairs]
    assert [p.extra[SITE_LINES_KEY] for p in annotate_sites(fresh)] == expected


def test_unknown_site_is_refused():
    counter = SiteCounter()
    with pytest.raises(DataError, match="not counted"):
        counter.annotate(Page("a", ["x"]), "input:f")


def test_site_matrix_values():
    pages = annotate_sites(_site_pages())
    X = site_matrix(pages)
    assert X.shape == (sum(len(p) for p in pages), len(SITE_NAMES))
    assert X[0, 0] == pytest.approx(np.log1p(2))  # two other pages
    assert X[0, 1] == pytest.approx(1.0)  # all other pages of the site
    assert X[0, 2] == pytest.approx(np.log1p(2))
    assert X[-1, 1] == 0.0


def test_site_matrix_refuses_pages_without_counts():
    with pytest.raises(DataError, match="site statistics"):
        site_matrix([Page("a", ["x"])])


def test_per_line_keys_match_the_modules_that_write_them():
    assert {MARKUP_KEY, SITE_LINES_KEY} == set(PER_LINE_KEYS)


def test_long_pages_cut_into_blocks_carry_their_rows():
    page = Page("a", [str(i) for i in range(10)], extra={SITE_LINES_KEY: list(range(10))})
    blocks = [b for _, b in page_blocks([page], 4)]
    assert [b.extra[SITE_LINES_KEY] for b in blocks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


# -- models that use site statistics --------------------------------------------------

SIGNATURE = [  # site-specific boilerplate that reads like content
    "Anna writes about food, family and travel from her kitchen in Leeds.",
    "This blog is run by volunteers who love the old railway and its history.",
    "Our shop has sold handmade furniture to families across the region since 1990.",
]


def _site_corpus(seed: int) -> list[dict]:
    """Pages of three sites: each site repeats a prose signature line (boilerplate)."""
    rng = random.Random(seed)
    records = []
    for s, signature in enumerate(SIGNATURE):
        for i in range(6):
            lines = ["Local news", *rng.sample(ARTICLE["en"], 3)]
            labels = [0, 0, 0, 0]
            # The signature sits anywhere in the text, so position does not give it away;
            # on one page of each site another site's signature is quoted as content.
            extra = [(signature, 1)] + ([(SIGNATURE[(s + 1) % 3], 0)] if i == 0 else [])
            for line, label in extra:
                at = rng.randrange(1, len(lines) + 1)
                lines.insert(at, line)
                labels.insert(at, label)
            lines.append("Home")
            labels.append(1)
            records.append(
                {
                    "id": f"site{s}-{i}-{seed}",
                    "url": f"https://site{s}-{seed}.example/{i}",
                    "lang": "en",
                    "lines": lines,
                    "boilerplate": labels,
                }
            )
    return records


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _corpus_config():
    cfg = tiny_config()
    return replace(
        cfg,
        features=replace(cfg.features, corpus_stats=True),
        model=replace(cfg.model, second_pass=False),
    )


def test_a_corpus_stats_model_records_and_uses_the_site_features(tmp_path):
    train = _write(tmp_path / "train.jsonl", _site_corpus(0) + _site_corpus(1))
    model = api.train([train], config=_corpus_config(), output=tmp_path / "m.bpclf")
    names = model.extractor_.feature_names  # the lexical block, if any, comes after
    assert names[-len(SITE_NAMES) :] == SITE_NAMES and set(SITE_NAMES) <= set(model.feature_names_)
    loaded = BoilerplateClassifier.load(tmp_path / "m.bpclf")
    assert loaded.config_.features.corpus_stats is True
    test = _write(tmp_path / "test.jsonl", _site_corpus(2))
    preds = list(api.predict([test], loaded))
    assert [p.page.id for p in preds] == [r["id"] for r in _site_corpus(2)]
    got = np.concatenate([p.labels for p in preds])
    want = np.concatenate([r["boilerplate"] for r in _site_corpus(2)])
    text_only = api.train(
        [train], config=replace(_corpus_config(), features=tiny_config().features)
    )
    base = np.concatenate([p.labels for p in api.predict([test], text_only)])
    assert (got == want).mean() > (base == want).mean()
    assert (got == want).mean() >= 0.9


def test_jsonl_output_leaves_site_rows_out(tmp_path):
    import io

    from bpclf.writers import write_predictions

    train = _write(tmp_path / "train.jsonl", _site_corpus(0))
    model = api.train([train], config=_corpus_config())
    out = io.StringIO()
    write_predictions(api.predict([train], model), out, "jsonl")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == len(_site_corpus(0))
    assert all(SITE_LINES_KEY not in r and SITE_PAGES_KEY not in r for r in records)
    assert all(r["url"].startswith("https://site") for r in records)


def test_a_corpus_stats_model_refuses_stdin_and_unannotated_pages(tmp_path):
    train = _write(tmp_path / "train.jsonl", _site_corpus(0))
    model = api.train([train], config=_corpus_config())
    with pytest.raises(UsageError, match="not stdin"):
        list(api.predict(["-"], model))
    with pytest.raises(DataError, match="site statistics"):
        model.predict_proba([Page("a", ["Home"])])
    # The API annotates in-memory pages itself (they form one input).
    preds = api.predict_pages([Page("a", ["Home", "x"]), Page("b", ["Home"])], model)
    assert [len(p.labels) for p in preds] == [2, 1]
