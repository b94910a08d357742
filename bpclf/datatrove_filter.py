"""bpclf as a datatrove pipeline step: strip boilerplate lines, drop pages left empty.

datatrove (the pipeline library behind FineWeb) runs the same list of steps locally, on
Slurm or on Ray, so one step class is enough for all three. Install with
``pip install "bpclf[datatrove]"``; the core package never imports datatrove, only this
module does.

Following datatrove's convention for text cleaners, the step rewrites ``doc.text`` to the
content lines (original order, joined with ``"\\n"``) instead of keeping a copy of the
original; the per-document summary in ``doc.metadata`` says how much was removed.
Documents with too little content left are dropped (sent to the ``exclusion_writer``
with their original text, so the exclusion output shows what bpclf removed).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

try:
    from datatrove.data import Document
    from datatrove.pipeline.filters.base_filter import BaseFilter
    from datatrove.pipeline.writers.disk_base import DiskWriter
except ImportError as exc:  # pragma: no cover - exercised by a test that hides datatrove
    raise ImportError(
        f'bpclf.datatrove_filter needs datatrove: pip install "bpclf[datatrove]" ({exc})'
    ) from exc

from bpclf.api import load_model, predict_pages
from bpclf.errors import ModelError, UsageError
from bpclf.model import BoilerplateClassifier
from bpclf.pages import Page, split_lines
from bpclf.resources import default_model_path

#: Metadata keys written on every document the step sees (kept or dropped).
LINES_KEY = "bpclf_lines"
CONTENT_LINES_KEY = "bpclf_content_lines"
BOILERPLATE_FRACTION_KEY = "bpclf_boilerplate_fraction"
#: Per-line P(boilerplate) of the *original* lines, only with ``store_probabilities``.
PROBA_KEY = "bpclf_boilerplate_proba"

#: Drop reasons (datatrove counts them as ``dropped_<reason>``, the exclusion writer
#: stores them in ``metadata["filter_reason"]``).
NO_CONTENT = "bpclf_no_content"
TOO_LITTLE_CONTENT = "bpclf_too_little_content"


class BoilerplateLineFilter(BaseFilter):
    """Remove boilerplate lines from every document; drop documents with no content left.

    Args:
        model: path of a bpclf model file; ``None`` is the shipped default model (or
            ``BPCLF_MODEL``), resolved on the worker.
        threshold: P(boilerplate) at or above which a line is removed; ``None`` uses
            the model's own threshold.
        min_content_lines, min_content_chars: keep a document only if at least this many
            lines are content and its cleaned text (stripped) has at least this many
            characters; otherwise it is dropped as ``bpclf_too_little_content``. A
            document whose cleaned text is blank is always dropped (``bpclf_no_content``).
            The defaults (1, 1) drop nothing else: length cut-offs belong to the quality
            filters that usually follow this step.
        store_probabilities: also store P(boilerplate) of every original line in
            ``metadata["bpclf_boilerplate_proba"]`` (large; for auditing thresholds).
        exclusion_writer: datatrove writer for dropped documents.
        batch_size: documents per classifier call; lines of a whole batch are
            classified together, which is what makes bpclf fast.
    """

    name = "bpclf boilerplate lines"

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        threshold: float | None = None,
        min_content_lines: int = 1,
        min_content_chars: int = 1,
        store_probabilities: bool = False,
        exclusion_writer: DiskWriter | None = None,
        batch_size: int = 512,
    ) -> None:
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise UsageError(f"threshold must be in [0, 1], got {threshold}")
        if min_content_lines < 1 or min_content_chars < 1:
            raise UsageError("min_content_lines and min_content_chars must be >= 1")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        super().__init__(exclusion_writer, batch_size)
        # A path, not a loaded model: datatrove pickles steps to every worker.
        self.model = str(model) if model is not None else None
        self.threshold = threshold
        self.min_content_lines = min_content_lines
        self.min_content_chars = min_content_chars
        self.store_probabilities = store_probabilities
        self._clf: BoilerplateClassifier | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Never ship a loaded model: each worker loads its own copy from the path."""
        state = self.__dict__.copy()
        state["_clf"] = None
        return state

    def _classifier(self) -> BoilerplateClassifier:
        """The model, loaded on first use in this worker and kept for all later batches."""
        if self._clf is None:
            clf = load_model(self.model)
            if clf.config_.features.markup_features:
                raise ModelError(
                    "this model uses HTML markup features, but datatrove documents are plain "
                    "text; use a text-only model (markup_features = false)",
                    source=self.model or str(default_model_path()),
                )
            if clf.config_.features.corpus_stats:
                raise ModelError(
                    "this model uses site statistics (corpus_stats), which need a pass over "
                    "the whole corpus before classifying; a streaming datatrove step cannot "
                    "provide them: use a model trained without corpus_stats",
                    source=self.model or str(default_model_path()),
                )
            self._clf = clf
            self.stat_update("bpclf_model_loads")
        return self._clf

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """One document; datatrove's ``run`` always goes through ``filter_batch``."""
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        """Classify all lines of all documents in one call, then clean each document."""
        clf = self._classifier()
        known_langs = clf.extractor_.stopwords.lists
        pages = [
            Page(
                id=str(doc.id),
                lines=split_lines(doc.text),
                lang=_known_language(doc.metadata.get("language"), known_langs),
            )
            for doc in batch
        ]
        results: list[bool | tuple[bool, str]] = []
        for doc, pred in zip(batch, predict_pages(pages, clf, self.threshold), strict=True):
            n_lines = len(pred.labels)
            n_boilerplate = int(pred.labels.sum())
            doc.metadata[LINES_KEY] = n_lines
            doc.metadata[CONTENT_LINES_KEY] = n_lines - n_boilerplate
            doc.metadata[BOILERPLATE_FRACTION_KEY] = n_boilerplate / n_lines if n_lines else 0.0
            if self.store_probabilities:
                doc.metadata[PROBA_KEY] = pred.proba.tolist()
            self.stat_update("bpclf_lines", value=n_lines)
            self.stat_update("bpclf_boilerplate_lines", value=n_boilerplate)
            text = "\n".join(pred.content_lines)
            chars = len(text.strip())
            if chars == 0:
                results.append((False, NO_CONTENT))
            elif n_lines - n_boilerplate < self.min_content_lines or chars < self.min_content_chars:
                results.append((False, TOO_LITTLE_CONTENT))
            else:
                doc.text = text
                results.append(True)
        return results


def _known_language(lang: Any, known: Mapping[str, Any]) -> str | None:
    """``lang`` if bpclf has stopwords for its primary subtag, else None (bpclf guesses).

    datatrove's language filters write ISO 639-1 codes (``en``) or GlotLID labels
    (``deu_Latn``); bpclf knows the former. Passing an unknown code would switch the
    stopword features off, while bpclf's own guess from the text finds ``de``.
    """
    if not isinstance(lang, str) or not lang:
        return None
    primary = lang.split("-")[0].split("_")[0].lower()  # as FeatureExtractor.page_languages
    return lang if primary in known else None
