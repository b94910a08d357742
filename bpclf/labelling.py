"""The labelling loop: pick the pages a model is least sure about, for a person to correct.

`bpclf label suggest` ranks pages by how many of their lines the model scores near its
threshold, picks them round-robin across (source, language) groups so one site or
language does not fill the batch, and writes them pre-labelled in the labelled-text
format with the model's probability beside each line. The person fixes the markers in
an editor and feeds the file to `bpclf train --init MODEL`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from bpclf.api import Prediction
from bpclf.formats import format_labelled


def uncertainty(proba: np.ndarray, threshold: float, margin: float = 0.2) -> float:
    """How unsure the model is about a page: sum over lines of closeness to the threshold.

    A line at the threshold counts 1, one ``margin`` away about 0.37 (a Gaussian kernel),
    so pages with many unsure lines rank first, and pages still get a ranking when the
    model is confident about everything.
    """
    if len(proba) == 0:
        return 0.0
    z = (np.asarray(proba, dtype=np.float64) - threshold) / margin
    return float(np.exp(-(z**2)).sum())


@dataclass(order=True)
class _Candidate:
    score: float
    order: int  # input position: ties go to the earlier page (deterministic)
    prediction: Prediction


def suggest(
    predictions: Iterable[Prediction], threshold: float, n: int, *, margin: float = 0.2
) -> list[Prediction]:
    """The ``n`` most uncertain pages, spread across (source, lang) groups.

    Keeps at most ``n`` candidates per group in memory (a heap), so the input streams.
    """
    groups: dict[tuple[str, str], list[tuple[float, int, int, Prediction]]] = {}
    for i, pred in enumerate(predictions):
        if len(pred.proba) == 0:  # empty page: nothing to label
            continue
        score = uncertainty(pred.proba, threshold, margin)
        key = (pred.page.source or "", pred.page.lang or "")
        heap = groups.setdefault(key, [])
        item = (score, -i, i, pred)
        if len(heap) < n:
            heapq.heappush(heap, item)
        elif item[:2] > heap[0][:2]:
            heapq.heapreplace(heap, item)
    ranked = {k: sorted(v, key=lambda t: (-t[0], t[2])) for k, v in sorted(groups.items())}
    chosen: list[tuple[int, Prediction]] = []
    depth = 0
    while len(chosen) < n and any(depth < len(v) for v in ranked.values()):
        for items in ranked.values():
            if depth < len(items) and len(chosen) < n:
                chosen.append((items[depth][2], items[depth][3]))
        depth += 1
    return [p for _, p in chosen]


def render_suggestions(chosen: Iterable[Prediction]) -> Iterator[str]:
    """Labelled text for each chosen page: predicted markers, probabilities shown."""
    yield (
        "# Pages the model is least sure about, pre-labelled with its predictions.\n"
        "# Fix the markers (C = content, B = boilerplate); the number after the marker\n"
        "# is the model's P(boilerplate) and is ignored when reading. Then:\n"
        "#   bpclf train --init MODEL THIS_FILE -o NEW_MODEL\n\n"
    )
    for p in chosen:
        yield format_labelled(p.page, p.labels, p.proba) + "\n"
