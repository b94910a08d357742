"""The Python API: train, evaluate and predict, the three jobs of the CLI.

Inputs are either :class:`~bpclf.pages.Page` objects or paths (files, directories,
``-`` for stdin), read with :func:`bpclf.readers.read_pages`. The CLI only parses options
and formats output around these functions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bpclf.baselines import BASELINES
from bpclf.config import Config, load_config, stored_config
from bpclf.corpus import SITE_LINES_KEY, annotate_sites, annotated_stream
from bpclf.errors import DataError, ModelError, UsageError
from bpclf.metrics import evaluate_system
from bpclf.model import BoilerplateClassifier
from bpclf.pages import Page, batched
from bpclf.parallel import InputDone, Rendered, classified, rendered, rendered_inputs
from bpclf.readers import STDIN, expand_paths, read_pages
from bpclf.resources import default_model_path
from bpclf.segments import merge_segments, segment_rows, split_page

log = logging.getLogger("bpclf")

PageSource = str | Path | Page
Progress = Callable[[int], None]


def _as_pages(
    data: Iterable[PageSource] | str | Path, *, require_labels: bool, **read_options: Any
) -> Iterator[Page]:
    """Pages from a mix of Page objects and paths, in order."""
    for page, _ in _origin_pages(data, require_labels=require_labels, **read_options):
        yield page


def _origin_pages(
    data: Iterable[PageSource] | str | Path, *, require_labels: bool, **read_options: Any
) -> Iterator[tuple[Page, str]]:
    """(page, input it came from) pairs, in order; in-memory pages come from ``""``.

    The input is the path as given (a directory counts as one input): it is the site of
    pages without a URL for corpus statistics.
    """
    if isinstance(data, str | Path):
        data = [data]
    if isinstance(data, list | tuple) and read_options.get("on_error", "stop") == "stop":
        # A missing input fails before anything is read or written.
        expand_paths([str(x) for x in data if not isinstance(x, Page)])
    for item in data:
        if isinstance(item, Page):
            if require_labels and item.labels is None:
                raise DataError("page has no labels", page=item.id)
            yield item, ""
        else:
            for page in read_pages([str(item)], require_labels=require_labels, **read_options):
                yield page, str(item)


def model_pages(
    config: Config,
    data: Iterable[PageSource] | str | Path,
    *,
    require_labels: bool,
    **read_options: Any,
) -> Iterator[Page]:
    """Pages as a model with this config needs them: annotated with site counts when it
    uses corpus statistics (two passes over the input), else streamed once. Pages that
    already carry site counts are passed through as they are."""
    if not config.features.corpus_stats:
        return _as_pages(data, require_labels=require_labels, **read_options)
    items = [data] if isinstance(data, str | Path) else list(data)
    if items and all(isinstance(x, Page) and SITE_LINES_KEY in x.extra for x in items):
        return _as_pages(items, require_labels=require_labels)
    if any(not isinstance(x, Page) and str(x) == STDIN for x in items):
        raise UsageError(
            "this model uses corpus statistics, which read the input twice: give files, not stdin"
        )
    return annotated_stream(
        _origin_pages(items, require_labels=require_labels, **read_options),
        _origin_pages(items, require_labels=require_labels, **read_options),
    )


def load_model(model: str | Path | BoilerplateClassifier | None = None) -> BoilerplateClassifier:
    """A fitted classifier: the given one, one loaded from a path, or the shipped default."""
    if isinstance(model, BoilerplateClassifier):
        return model
    path = Path(model) if model is not None else default_model_path()
    if not path.exists():
        hint = (
            "" if model is not None else " (the default model; run scripts/build_default_model.py)"
        )
        raise ModelError(f"model file not found{hint}", source=str(path))
    return BoilerplateClassifier.load(path)


def train(
    data: Iterable[PageSource] | str | Path,
    *,
    config: Config | str | Path | None = None,
    output: str | Path | None = None,
    init: str | Path | None = None,
    corpus_stats: bool | None = None,
    progress: Progress | None = None,
    **read_options: Any,
) -> BoilerplateClassifier:
    """Train a classifier on labelled pages; write it to ``output`` when given.

    ``init``: start from an existing model: its config (unless ``config`` is given) and
    its training files, which are read again; pages in ``data`` replace pages of those
    files that have the same id (corrections) and are added otherwise. The model records
    its training files (relative to its own directory) so this works from any model
    trained on files.
    """
    if output is not None and not Path(output).resolve().parent.is_dir():
        raise DataError("output directory does not exist", source=str(output))
    if isinstance(data, str | Path):
        data = [data]
    data = list(data)
    files = [str(x) for x in data if not isinstance(x, Page)]
    old_pages: list[tuple[Page, str]] = []
    if init is not None:
        base = load_model(init)
        if config is None:
            config = stored_config(base.meta_["config"], source=str(init))
        old_files = training_files(base.meta_, Path(init).parent, source=str(init))
        # Later pages with the same id replace earlier ones (earlier corrections).
        old = _origin_pages(old_files, require_labels=True)
        old_pages = list({p.id: (p, origin) for p, origin in old}.values())
        files = old_files + files
    if any(f == "-" for f in files):
        log.warning(
            "pages read from stdin are not recorded in the model; a later "
            "--init from it will not see them"
        )
    files = list(dict.fromkeys(files))  # each file once, first position kept
    if not isinstance(config, Config):
        config = load_config(config)
    if corpus_stats is not None:
        config = replace(config, features=replace(config.features, corpus_stats=corpus_stats))
    new_pages = list(_origin_pages(data, require_labels=True, **read_options))
    replaced = {p.id for p, _ in new_pages}
    pairs = [(p, o) for p, o in old_pages if p.id not in replaced] + new_pages
    pages = annotate_sites(pairs) if config.features.corpus_stats else [p for p, _ in pairs]
    model = BoilerplateClassifier(config).fit(pages, progress=progress)
    if output is not None:
        record_training_files(model, files, Path(output).parent)
        model.save(output)
    return model


def record_training_files(
    model: BoilerplateClassifier, files: Sequence[str], model_dir: Path
) -> None:
    """Store the training files in the model, relative to the model's directory."""
    paths = expand_paths([f for f in files if f != STDIN])
    model.meta_["training_files"] = [
        os.path.relpath(os.path.abspath(f), os.path.abspath(model_dir)) for f in paths
    ]


def training_files(meta: dict[str, Any], model_dir: Path, *, source: str) -> list[str]:
    """The training files a model recorded, resolved against its directory."""
    rel = meta.get("training_files")
    if not rel:
        raise ModelError(
            "model does not record its training files; it cannot be used "
            "with --init (train it from files with bpclf >= 0.1)",
            source=source,
        )
    paths = [os.path.normpath(os.path.join(model_dir, r)) for r in rel]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise DataError(f"training file of the --init model not found: {missing[0]}", source=source)
    return paths


@dataclass
class Evaluation:
    """Scores of the model and the baselines on the same lines."""

    results: list[dict[str, Any]]  # model first, then baselines (see bpclf.metrics)
    y_true: np.ndarray
    proba: np.ndarray
    threshold: float
    feature_names: list[str]
    importances: np.ndarray

    @property
    def model(self) -> dict[str, Any]:
        return self.results[0]


def evaluate(
    data: Iterable[PageSource] | str | Path,
    model: str | Path | BoilerplateClassifier | None = None,
    *,
    threshold: float | None = None,
    progress: Progress | None = None,
    batch_lines: int = 20_000,
    **read_options: Any,
) -> Evaluation:
    """Score a model (and the built-in baselines) on labelled pages."""
    clf = load_model(model)
    t = clf.decision_threshold(threshold)
    y, proba, char_len, langs, sources = [], [], [], [], []
    base_pred: dict[str, list[np.ndarray]] = {name: [] for name in BASELINES}
    pages = model_pages(clf.config_, data, require_labels=True, **read_options)
    for batch in batched(pages, batch_lines):
        proba.extend(clf.predict_proba(batch))
        for name, system in BASELINES.items():
            base_pred[name].extend(system(batch))
        page_langs = clf.extractor_.page_languages(batch)
        for page, lang in zip(batch, page_langs, strict=True):
            y.append(np.asarray(page.labels, dtype=np.int8))
            char_len.append(np.fromiter(map(len, page.lines), dtype=np.int64, count=len(page)))
            langs.extend([page.lang or lang or "unknown"] * len(page))
            sources.extend([page.source or "unknown"] * len(page))
        if progress:
            progress(len(batch))
    if not y or sum(map(len, y)) == 0:
        raise DataError("no labelled lines to evaluate")
    yt, pr, cl = np.concatenate(y), np.concatenate(proba), np.concatenate(char_len)
    results = [evaluate_system("bpclf", yt, (pr >= t).astype(int), pr, cl, langs, sources)]
    for name, preds in base_pred.items():
        results.append(evaluate_system(name, yt, np.concatenate(preds), None, cl, langs, sources))
    return Evaluation(
        results, yt, pr, float(t), list(clf.feature_names_), clf.feature_importances()
    )


@dataclass
class Prediction:
    """One page with a label and a P(boilerplate) per line."""

    page: Page
    labels: np.ndarray
    proba: np.ndarray
    #: With ``split_glued``: per line ``None`` or its segments (see bpclf.segments).
    segments: list[dict | None] | None = None

    @property
    def content_lines(self) -> list[str]:
        """The lines to keep; a split line contributes its content segments, one per line."""
        if self.segments is None:
            # tolist(): Python ints, not a numpy scalar per line
            labels = np.asarray(self.labels).tolist()
            return [line for line, lab in zip(self.page.lines, labels, strict=True) if not lab]
        out: list[str] = []
        for line, lab, seg in zip(self.page.lines, self.labels, self.segments, strict=True):
            if seg is None:
                if not lab:
                    out.append(line)
            else:
                out.extend(t for t, b in zip(seg["text"], seg["boilerplate"], strict=True) if not b)
        return out


def predict(
    data: Iterable[PageSource] | str | Path,
    model: str | Path | BoilerplateClassifier | None = None,
    *,
    threshold: float | None = None,
    batch_lines: int = 20_000,
    jobs: int = 1,
    split_glued: bool = False,
    **read_options: Any,
) -> Iterator[Prediction]:
    """Classify every line of every page, streaming: pages come back in input order.

    ``jobs`` > 1 classifies batches in that many worker processes (0: one per core); the
    output is identical whatever ``jobs`` and ``batch_lines`` are. ``split_glued`` cuts
    lines at glued sentence boundaries and classifies the segments (bpclf.segments): a
    line is content when one of its segments is, and the prediction carries the segments.
    """
    clf = load_model(model)
    t = clf.decision_threshold(threshold)
    pages = model_pages(clf.config_, data, require_labels=False, **read_options)
    if not split_glued:
        batches = batched(pages, batch_lines)
        for batch, probas in classified(clf, batches, jobs):
            for page, proba in zip(batch, probas, strict=True):
                yield Prediction(page, (proba >= t).astype(np.int8), proba)
        return
    split = ((page, *split_page(page)) for page in pages)
    batches = batched(split, batch_lines, size=lambda item: len(item[1]))
    for batch, probas in classified(clf, batches, jobs, pages_of=lambda b: [s for _, s, _ in b]):
        for (page, seg_page, seg_map), proba in zip(batch, probas, strict=True):
            line_proba, labels = merge_segments(proba, seg_map, t)
            rows = segment_rows(seg_page, seg_map, proba, t)
            yield Prediction(page, labels, line_proba, rows)


def predict_text(
    data: Sequence[str] | str | Path,
    model: str | Path | BoilerplateClassifier | None = None,
    fmt: str = "text",
    *,
    threshold: float | None = None,
    batch_lines: int = 20_000,
    jobs: int = 1,
    split_glued: bool = False,
    shard_bytes: int | None = None,
    **read_options: Any,
) -> Iterator[Rendered]:
    """What ``bpclf predict --format fmt`` writes (``text``, ``jsonl`` or ``labeled``):
    the output text of the pages of input files, in order, with their counts.

    The same text as rendering :func:`predict`'s predictions with
    :func:`bpclf.writers.render`, but with ``jobs`` > 1 the workers read and render JSONL
    inputs themselves (bpclf.parallel), so throughput keeps growing with the workers;
    ``shard_bytes`` is how much raw JSONL each worker task gets.
    """
    clf = load_model(model)
    paths = [str(data)] if isinstance(data, str | Path) else [str(x) for x in data]
    if not clf.config_.features.corpus_stats:
        yield from rendered(
            paths,
            clf,
            fmt,
            threshold=threshold,
            jobs=jobs,
            batch_lines=batch_lines,
            split_glued=split_glued,
            shard_bytes=shard_bytes,
            **read_options,
        )
        return
    # Corpus statistics read the input twice (model_pages): render in this process.
    from bpclf.writers import rendered_predictions

    preds = predict(
        paths,
        clf,
        threshold=threshold,
        batch_lines=batch_lines,
        jobs=jobs,
        split_glued=split_glued,
        **read_options,
    )
    yield from rendered_predictions(preds, fmt)


def predict_text_per_input(
    inputs: Sequence[str | Path],
    model: str | Path | BoilerplateClassifier | None = None,
    fmt: str = "text",
    **options: Any,
) -> Iterator[tuple[int, Rendered | InputDone]]:
    """:func:`predict_text` of each input on its own (``(i, output)`` items, then
    ``(i, InputDone(failed))`` when input ``i`` is done), with one pool of workers for all of them:
    one output file per input (``bpclf predict --output-dir``) without starting workers
    for every file."""
    clf = load_model(model)
    paths = [str(x) for x in inputs]
    if not clf.config_.features.corpus_stats:
        yield from rendered_inputs(paths, clf, fmt, **options)
        return
    # corpus statistics: each input on its own, in this process
    yield from _each_input(paths, lambda p: predict_text([p], clf, fmt, **options), options)


def predict_per_input(
    inputs: Sequence[str | Path],
    model: str | Path | BoilerplateClassifier | None = None,
    **options: Any,
) -> Iterator[tuple[int, Prediction | InputDone]]:
    """:func:`predict` of each input on its own: ``(i, prediction)`` items, then ``(i,
    InputDone(failed))`` when input ``i`` is done (as :func:`predict_text_per_input`)."""
    clf = load_model(model)
    paths = [str(x) for x in inputs]
    yield from _each_input(paths, lambda p: predict([p], clf, **options), options)


def _each_input(
    paths: list[str], outputs_of: Callable[[str], Iterator[Any]], options: dict[str, Any]
) -> Iterator[tuple[int, Any]]:
    """``(i, output)`` of each input read in turn, then ``(i, InputDone)``: the input
    failed when the skip log counted a failed input meanwhile (one input at a time, so
    the count is its own)."""
    skipped = options.get("skipped")
    for i, path in enumerate(paths):
        before = skipped.failed_inputs if skipped is not None else 0
        for out in outputs_of(path):
            yield i, out
        yield i, InputDone(failed=skipped is not None and skipped.failed_inputs > before)


def predict_pages(
    pages: Sequence[Page],
    model: BoilerplateClassifier | str | Path | None = None,
    threshold: float | None = None,
) -> list[Prediction]:
    """Non-streaming convenience: predictions for a list of pages."""
    return list(predict(pages, model, threshold=threshold))
