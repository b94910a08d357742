"""Glued lines: sentences run together where markup was lost.

Scraped text often joins the last sentence of an article and the first of an appeal
without a break ("... officials said.A Message from the editor"). Classifying such a
line as a whole keeps or drops both parts. :func:`split_pages` cuts lines at glued
sentence boundaries into segments that are classified like lines, and
:func:`merge_segments` maps the segment labels back onto the original lines.

A boundary is a sentence end (``.``, ``!``, ``?``, optionally followed by a closing
quote or bracket) or a comma/semicolon directly followed, without a space, by a
capitalised word, when the character before the punctuation is a lowercase letter.
Digits before the dot ("am 29.Oktober") and initialisms ("U.S.Army") do not split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from bpclf.pages import PER_LINE_KEYS, Page

#: Candidate boundaries; the case of the letters around them is checked in Python, on
#: the (rare) candidates only.
_CANDIDATE = re.compile(r"(?<=[^\W\d_])[.!?,;][\"'”’»)\]]?(?=[^\W\d_])")

#: Key of ``Page.extra`` with the segment map of a split page (see :class:`SegmentMap`).
SEGMENTS_KEY = "segments"


def glued_boundaries(line: str) -> list[int]:
    """Offsets where ``line`` should be cut (after the punctuation)."""
    cuts = []
    for m in _CANDIDATE.finditer(line):
        before, after = line[m.start() - 1], line[m.end()]
        rest = line[m.end() + 1 : m.end() + 2]
        if before.islower() and after.isupper() and (not rest or rest.islower() or rest.isspace()):
            cuts.append(m.end())
    return cuts


def split_glued(line: str) -> list[str]:
    """The segments of ``line`` (the line itself when nothing is glued)."""
    cuts = glued_boundaries(line)
    if not cuts:
        return [line]
    bounds = [0, *cuts, len(line)]
    return [line[a:b] for a, b in pairwise(bounds)]


@dataclass
class SegmentMap:
    """For a split page: the original line of every segment, in order."""

    line_of: np.ndarray  # segment index -> original line index
    n_lines: int

    @property
    def split(self) -> bool:
        return len(self.line_of) != self.n_lines


def split_page(page: Page) -> tuple[Page, SegmentMap]:
    """The page with glued lines cut into segments (labels copied to every segment)."""
    segments: list[str] = []
    line_of: list[int] = []
    for i, line in enumerate(page.lines):
        parts = split_glued(line) if _CANDIDATE.search(line) else [line]
        segments.extend(parts)
        line_of.extend([i] * len(parts))
    labels = None
    if page.labels is not None:
        labels = [page.labels[i] for i in line_of]
    extra = dict(page.extra)
    if len(segments) != len(page.lines):
        for key in PER_LINE_KEYS & extra.keys():  # markup rows, site counts: per segment
            if len(extra[key]) == len(page.lines):
                extra[key] = [extra[key][i] for i in line_of]
    seg_page = Page(page.id, segments, labels, page.lang, page.source, extra)
    return seg_page, SegmentMap(np.asarray(line_of, dtype=np.int64), len(page.lines))


def split_pages(pages: Sequence[Page]) -> tuple[list[Page], list[SegmentMap]]:
    """:func:`split_page` for every page."""
    pairs = [split_page(p) for p in pages]
    return [p for p, _ in pairs], [m for _, m in pairs]


def merge_segments(
    proba: np.ndarray, seg_map: SegmentMap, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per original line: P(boilerplate) and label from its segments' probabilities.

    A line is content when any of its segments is content, so its probability is the
    lowest of its segments' (the line keeps what it has worth keeping).
    """
    line_proba = np.full(seg_map.n_lines, np.inf)
    np.minimum.at(line_proba, seg_map.line_of, proba)
    line_proba[np.isinf(line_proba)] = 0.0
    return line_proba, (line_proba >= threshold).astype(np.int8)


def segment_rows(
    seg_page: Page, seg_map: SegmentMap, proba: np.ndarray, threshold: float
) -> list[dict | None]:
    """Per original line: ``None`` when not split, else its segments as
    ``{"text": [...], "boilerplate": [...], "boilerplate_proba": [...]}``."""
    rows: list[dict | None] = [None] * seg_map.n_lines
    if not seg_map.split:
        return rows
    counts = np.bincount(seg_map.line_of, minlength=seg_map.n_lines)
    for s in np.flatnonzero(counts[seg_map.line_of] > 1).tolist():
        line = int(seg_map.line_of[s])
        row = rows[line] or {"text": [], "boilerplate": [], "boilerplate_proba": []}
        rows[line] = row
        p = float(proba[s])
        row["text"].append(seg_page.lines[s])
        row["boilerplate"].append(int(p >= threshold))
        row["boilerplate_proba"].append(p)
    return rows
