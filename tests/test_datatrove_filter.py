"""The datatrove step: end-to-end pipelines (JSONL, WET) against bpclf's own Python API."""

from __future__ import annotations

import gzip
import importlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader, WarcReader
from datatrove.pipeline.writers import JsonlWriter

import bpclf.api as api
import bpclf.datatrove_filter as dtf
from bpclf.config import Config, FeatureConfig, ModelConfig
from bpclf.datatrove_filter import BoilerplateLineFilter
from bpclf.errors import ModelError, UsageError
from bpclf.model import BoilerplateClassifier
from bpclf.pages import Page, split_lines
from bpclf.readers import read_pages
from tests.conftest import ARTICLE, MENU

COOKIE = (
    "We use cookies to improve your experience. By using this site you accept our cookie policy."
)
DONATE = "Please support our independent journalism: donate today!"


def article_text(lang: str, seed: int, newline: str = "\n") -> str:
    """A headline, article prose, then menu, cookie and donation lines."""
    prose = ARTICLE[lang][seed % len(ARTICLE[lang]) :] + ARTICLE[lang][: seed % len(ARTICLE[lang])]
    lines = ["Menu", "Search", "Local news", *prose[:3], *MENU[seed % 4 : seed % 4 + 4]]
    return newline.join([*lines, COOKIE, DONATE])


def fixture_docs() -> list[list[dict]]:
    """Two JSONL shards (one per task): articles, a menu-only page, CRLF line ends."""
    first = [
        {"id": "en-1", "text": article_text("en", 1), "language": "en", "url": "http://a/1"},
        {"id": "de-1", "text": article_text("de", 2), "language": "de"},
        {"id": "menu-1", "text": "\n".join(MENU[:6]), "url": "http://a/menu"},
    ]
    second = [
        {"id": "fi-1", "text": article_text("fi", 3), "language": "fi"},
        {"id": "en-crlf", "text": article_text("en", 4, newline="\r\n") + "\r\n"},
        {"id": "menu-2", "text": "\n".join(MENU[3:9])},
        {"id": "en-2", "text": article_text("en", 0)},
    ]
    return [first, second]


def expected_predictions(docs: list[dict], model: Path) -> dict[str, api.Prediction]:
    """What bpclf's own Python API says about the same pages, with the same model."""
    pages = [Page(d["id"], split_lines(d["text"]), lang=d.get("language")) for d in docs]
    return {p.page.id: p for p in api.predict(pages, model)}


def read_jsonl_dir(folder: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.open()]


def run_pipeline(tmp_path: Path, reader, step: BoilerplateLineFilter):
    """Reader -> step -> JsonlWriter on 2 tasks in 2 processes; (kept, excluded, stats)."""
    executor = LocalPipelineExecutor(
        pipeline=[reader, step, JsonlWriter(str(tmp_path / "out"), compression=None)],
        tasks=2,
        workers=2,
        logging_dir=str(tmp_path / "logs"),
    )
    stats = executor.run()
    step_stats = next(s for s in stats.stats if s.name == str(step)).stats
    return read_jsonl_dir(tmp_path / "out"), read_jsonl_dir(tmp_path / "excluded"), step_stats


def check_kept(doc: dict, pred: api.Prediction) -> None:
    """Output text is exactly bpclf's content lines; the summary agrees with it."""
    meta = doc["metadata"]
    assert doc["text"] == "\n".join(pred.content_lines)
    assert meta["bpclf_lines"] == len(pred.page.lines)
    assert meta["bpclf_content_lines"] == len(pred.content_lines) == len(split_lines(doc["text"]))
    assert meta["bpclf_boilerplate_fraction"] == pytest.approx(
        1 - len(pred.content_lines) / len(pred.page.lines)
    )


def test_jsonl_pipeline_keeps_exactly_the_content_lines_of_the_python_api(tmp_path, model_file):
    shards = fixture_docs()
    (tmp_path / "in").mkdir()
    for i, shard in enumerate(shards):
        with (tmp_path / "in" / f"shard{i}.jsonl").open("w") as f:
            f.writelines(json.dumps(d) + "\n" for d in shard)
    docs = [d for shard in shards for d in shard]
    expected = expected_predictions(docs, model_file)
    step = BoilerplateLineFilter(
        model_file,
        store_probabilities=True,
        batch_size=2,
        exclusion_writer=JsonlWriter(str(tmp_path / "excluded"), compression=None),
    )
    kept, excluded, stats = run_pipeline(tmp_path, JsonlReader(str(tmp_path / "in")), step)

    kept_ids = [d["id"] for d in kept]
    excluded_ids = [d["id"] for d in excluded]
    assert sorted(kept_ids + excluded_ids) == sorted(d["id"] for d in docs)  # none lost or doubled
    assert kept_ids and excluded_ids  # the fixture exercises both paths
    for doc in kept:
        pred = expected[doc["id"]]
        check_kept(doc, pred)
        assert pred.labels.any()  # something was removed from every article
        np.testing.assert_allclose(doc["metadata"]["bpclf_boilerplate_proba"], pred.proba)
    originals = {d["id"]: d for d in docs}
    for doc in excluded:
        pred = expected[doc["id"]]
        assert pred.content_lines == [] and doc["metadata"]["bpclf_content_lines"] == 0
        assert doc["metadata"]["filter_reason"] == "bpclf_no_content"
        assert doc["text"] == originals[doc["id"]]["text"]  # dropped documents keep their text
    by_id = {d["id"]: d for d in kept}
    assert by_id["en-1"]["metadata"]["url"] == "http://a/1"  # other metadata travels along
    assert "\r" not in by_id["en-crlf"]["text"]
    # One model load per task (2), not per batch (4 docs in a task, batch_size 2).
    assert stats["bpclf_model_loads"].total == 2
    assert stats["batches"].total == 4
    assert stats["dropped_bpclf_no_content"].total == len(excluded)
    assert stats["bpclf_lines"].total == sum(len(p.page.lines) for p in expected.values())


# --- WET ---------------------------------------------------------------------------------


def wet_record(warc_type: str, content: bytes, rid: str, headers: dict[str, str]) -> bytes:
    """One gzip member holding one WARC record, as in Common Crawl's .warc.wet.gz files."""
    head = [b"WARC/1.0", f"WARC-Type: {warc_type}".encode(), f"WARC-Record-ID: {rid}".encode()]
    head += [f"{k}: {v}".encode() for k, v in headers.items()]
    head.append(f"Content-Length: {len(content)}".encode())
    return gzip.compress(b"\r\n".join(head) + b"\r\n\r\n" + content + b"\r\n\r\n", mtime=0)


def write_wet(path: Path, pages: list[tuple[str, str, str]]) -> None:
    """A WET file: a warcinfo record, then one ``conversion`` (plain text) record per page."""
    info = b"software: bpclf-tests\r\nformat: WARC File Format 1.0\r\n"
    parts = [
        wet_record("warcinfo", info, "<urn:uuid:info>", {"Content-Type": "application/warc-fields"})
    ]
    for rid, url, text in pages:
        headers = {
            "WARC-Target-URI": url,
            "WARC-Date": "2024-03-01T12:00:00Z",
            "WARC-Refers-To": "<urn:uuid:response>",
            "Content-Type": "text/plain",
        }
        parts.append(wet_record("conversion", text.encode(), rid, headers))
    path.write_bytes(b"".join(parts))


def test_wet_pipeline_cleans_conversion_records(tmp_path, model_file):
    pytest.importorskip("warcio")
    pytest.importorskip("magic")  # python-magic needs the system libmagic
    (tmp_path / "wet").mkdir()
    shards = [
        [
            ("<urn:uuid:r1>", "http://a/1", article_text("en", 1)),
            ("<urn:uuid:r2>", "http://a/2", article_text("de", 2)),
        ],
        [
            ("<urn:uuid:r3>", "http://b/1", article_text("fi", 3)),
            ("<urn:uuid:r4>", "http://b/2", "\n".join(MENU)),
        ],
    ]
    for i, shard in enumerate(shards):
        write_wet(tmp_path / "wet" / f"part{i}.warc.wet.gz", shard)
    records = [r for shard in shards for r in shard]
    expected = expected_predictions(
        [{"id": rid, "text": text} for rid, _, text in records], model_file
    )
    step = BoilerplateLineFilter(
        model_file, exclusion_writer=JsonlWriter(str(tmp_path / "excluded"), compression=None)
    )
    kept, excluded, _ = run_pipeline(tmp_path, WarcReader(str(tmp_path / "wet")), step)

    # Every conversion record became a document (the warcinfo record did not).
    assert sorted(d["id"] for d in kept + excluded) == sorted(rid for rid, _, _ in records)
    assert [d["id"] for d in excluded] == ["<urn:uuid:r4>"]
    assert excluded[0]["metadata"]["filter_reason"] == "bpclf_no_content"
    urls = {rid: url for rid, url, _ in records}
    for doc in kept:
        check_kept(doc, expected[doc["id"]])
        assert doc["metadata"]["url"] == urls[doc["id"]]
        assert "bpclf_boilerplate_proba" not in doc["metadata"]  # only the compact summary


# --- the step on its own -------------------------------------------------------------------


def docs_of(*texts: str, **metadata) -> list[Document]:
    return [Document(text=t, id=f"d{i}", metadata=dict(metadata)) for i, t in enumerate(texts)]


def test_step_pickles_without_the_model_and_loads_it_once(model_file, monkeypatch):
    loads: list[str] = []
    real_load = BoilerplateClassifier.load
    monkeypatch.setattr(
        BoilerplateClassifier,
        "load",
        classmethod(lambda cls, path: loads.append(path) or real_load(path)),
    )
    step = BoilerplateLineFilter(model_file, batch_size=1)
    fresh = pickle.dumps(step)
    assert loads == []  # constructing and pickling the step does not load the model
    assert len(fresh) < model_file.stat().st_size / 4
    out = list(step.run(iter(docs_of(*(article_text("en", s) for s in range(5))))))
    assert len(out) == 5 and len(loads) == 1  # five batches, one load
    after = pickle.dumps(step)
    assert len(after) < model_file.stat().st_size / 4  # a loaded model is never shipped
    clone = pickle.loads(after)
    [doc] = list(clone.run(iter(docs_of(article_text("en", 1)))))
    assert len(loads) == 2  # the copy (a new worker) loads its own
    assert doc.text == out[1].text


def test_thresholds_and_drop_reasons(model_file):
    texts = [article_text("en", 1), article_text("de", 2)]
    # Threshold 0: every line is boilerplate, nothing is left.
    step = BoilerplateLineFilter(model_file, threshold=0.0)
    assert [step.filter(d) for d in docs_of(*texts)] == [(False, "bpclf_no_content")] * 2
    # Content is left, but fewer lines than asked for.
    step = BoilerplateLineFilter(model_file, min_content_lines=50)
    docs = docs_of(*texts)
    assert step.filter_batch(docs) == [(False, "bpclf_too_little_content")] * 2
    assert docs[0].text == texts[0]  # a dropped document keeps its text
    assert 0 < docs[0].metadata["bpclf_content_lines"] < 50
    step = BoilerplateLineFilter(model_file, min_content_chars=10_000)
    assert step.filter_batch(docs_of(*texts)) == [(False, "bpclf_too_little_content")] * 2
    # Defaults: kept, and the text is the content only.
    docs = docs_of(*texts)
    assert BoilerplateLineFilter(model_file).filter_batch(docs) == [True, True]
    expected = expected_predictions(
        [{"id": d.id, "text": t} for d, t in zip(docs, texts, strict=True)], model_file
    )
    for doc in docs:
        assert doc.text == "\n".join(expected[doc.id].content_lines)
        assert "bpclf_boilerplate_proba" not in doc.metadata


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 1.5}, {"min_content_lines": 0}, {"min_content_chars": 0}, {"batch_size": 0}],
)
def test_invalid_settings_are_refused_at_construction(kwargs):
    with pytest.raises(UsageError):
        BoilerplateLineFilter(**kwargs)


def test_document_language_is_used_only_when_bpclf_knows_it(model_file, monkeypatch):
    seen: list[Page] = []
    real = dtf.predict_pages
    monkeypatch.setattr(
        dtf, "predict_pages", lambda pages, *a: seen.extend(pages) or real(pages, *a)
    )
    text = article_text("de", 1)
    docs = [
        Document(text=text, id="iso", metadata={"language": "de"}),
        Document(text=text, id="glotlid", metadata={"language": "deu_Latn"}),
        Document(text=text, id="none", metadata={}),
        Document(text=text, id="region", metadata={"language": "pt-BR"}),
    ]
    BoilerplateLineFilter(model_file).filter_batch(docs)
    # deu_Latn is not a code bpclf has stopwords for: bpclf guesses from the text instead.
    assert [(p.id, p.lang) for p in seen] == [
        ("iso", "de"),
        ("glotlid", None),
        ("none", None),
        ("region", "pt-BR"),
    ]


def test_markup_model_is_refused_with_a_clear_message(tmp_path):
    for i in range(8):
        (tmp_path / f"{i}.html").write_text(
            f"<nav><a>Home</a> <a>Sport {i}</a></nav><p>The council met on day {i} and agreed on a plan.</p>"
            f"<p>Residents said the plan was good, and work starts in spring {2020 + i}.</p>"
            "<footer>All rights reserved.</footer>"
        )
    pages = list(read_pages([str(tmp_path)]))
    for page in pages:
        page.labels = [
            0 if line.startswith(("The council", "Residents")) else 1 for line in page.lines
        ]
    config = Config(
        features=FeatureConfig(markup_features=True, context_window=1),
        model=ModelConfig(max_iter=10, min_samples_leaf=2),
    )
    path = tmp_path / "markup.bpclf"
    BoilerplateClassifier(config).fit(pages).save(path)
    step = BoilerplateLineFilter(path)
    with pytest.raises(ModelError, match=r"markup features.*plain text") as err:
        list(step.run(iter(docs_of("Home\nThe council met."))))
    assert str(path) in str(err.value)


def test_import_without_datatrove_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "datatrove" or m.startswith("datatrove.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "datatrove", None)  # "not installed"
    monkeypatch.delitem(sys.modules, "bpclf.datatrove_filter")
    with pytest.raises(ImportError, match=r'pip install "bpclf\[datatrove\]"'):
        importlib.import_module("bpclf.datatrove_filter")


def test_core_package_imports_without_datatrove():
    """Every bpclf module but the datatrove step imports with datatrove hidden."""
    code = (
        "import sys, pkgutil, importlib\n"
        "sys.modules['datatrove'] = None\n"
        "import bpclf\n"
        "names = [m.name for m in pkgutil.iter_modules(bpclf.__path__)]\n"
        "for n in names:\n"
        "    if n != 'datatrove_filter':\n"
        "        importlib.import_module('bpclf.' + n)\n"
        "print(len(names))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 20


def test_corpus_stats_model_is_refused(tmp_path):
    pages = [
        Page(f"p{i}", ["Home", f"The council met on day {i}."], labels=[1, 0]) for i in range(8)
    ]
    config = Config(
        features=FeatureConfig(corpus_stats=True, context_window=1),
        model=ModelConfig(max_iter=10, min_samples_leaf=2),
    )
    path = tmp_path / "sites.bpclf"
    api.train(pages, config=config, output=path)
    step = BoilerplateLineFilter(path)
    with pytest.raises(ModelError, match="site statistics"):
        list(step.run(iter(docs_of("Home\nThe council met."))))
