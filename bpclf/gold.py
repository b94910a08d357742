"""Line labels for HTML pages that come with hand-cleaned gold text.

Corpora such as CleanEval, Dragnet or the Readability test pages ship each page twice: the
crawled HTML (``{key}.html``) and the main content as cleaned by a person
(``{key}.gold.txt``). To train a line classifier on them we cut the page into the lines a
browser shows (:func:`bpclf.html.html_to_text_lines`) and mark each line content (0) when
it is found in the gold text, else boilerplate (1).

"Found" cannot be a string comparison: the gold is re-wrapped, its whitespace, entities
and punctuation differ from the page, and CleanEval adds ``<p>``/``<h>``/``<l>`` markers.
So both sides are reduced to lower-cased word tokens (``\\w+``) and aligned monotonically
(gold text keeps the page order): a line is content when at least ``min_line_share`` of
its tokens are matched. Pages whose gold is mostly not found in the page (the HTML is a
different version of the page, or the text sits in markup we drop) would teach wrong
labels, so they are skipped.

The alignment is :class:`difflib.SequenceMatcher` on token ids, which is quadratic in bad
cases; long pairs are first cut into small pieces at tokens that occur exactly once on
both sides (the "patience diff" idea), and only the pieces go to SequenceMatcher.
"""

from __future__ import annotations

import bisect
import html
import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from bpclf.errors import DataError, UsageError
from bpclf.html import MARKUP_KEY, decode_html, html_page_lines, html_to_text_lines, page_url
from bpclf.pages import Page

__all__ = ["AlignmentStats", "align_page", "gold_text", "gold_tokens", "import_gold_dir"]

log = logging.getLogger("bpclf")

_TOKEN_RE = re.compile(r"\w+")
#: CleanEval block markers (paragraph, heading, list item); a few files also close them.
_MARKER_RE = re.compile(r"</?[phl]>", re.IGNORECASE)
#: CleanEval gold starts with the page URL, which is not page text.
_URL_LINE_RE = re.compile(r"\A\s*URL:[^\n]*")
#: Annotator notes such as ``<!-- this page contains no article -->``.
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
#: Gold given as HTML (the Readability test pages): starts with a real tag, not a marker.
_HTML_GOLD_RE = re.compile(r"\A\s*<(?![phlPHL]>)[A-Za-z!]")

#: Pieces with at most this many page-token x gold-token cells go to SequenceMatcher
#: directly; bigger ones are first cut at unique common tokens. SequenceMatcher stays
#: well under 0.1 s at this size on real pages.
_DIRECT_CELLS = 400_000
#: Anchors are tried on unique 1-grams first; pieces without any fall back to unique
#: 2- and 3-grams (text made of common words only).
_ANCHOR_NGRAMS = (1, 2, 3)
#: Nesting limit of the anchor recursion (real pages need 2-4 levels), far below
#: Python's recursion limit.
_MAX_DEPTH = 40

GOLD_SUFFIX = ".gold.txt"
HTML_SUFFIX = ".html"


@dataclass
class AlignmentStats:
    """Totals over the pages :func:`import_gold_dir` aligned.

    ``pages`` counts every page that had a gold file, including the ``failed`` ones (which
    were not yielded); token totals are over the same pages.
    """

    pages: int = 0
    #: Keys whose recovered share is below ``min_recovered`` (skipped), in key order.
    failed: list[str] = field(default_factory=list)
    gold_tokens: int = 0
    #: Gold tokens matched inside lines labelled content.
    recovered_tokens: int = 0

    @property
    def recovered_share(self) -> float:
        return self.recovered_tokens / self.gold_tokens if self.gold_tokens else 0.0


# --- gold text -----------------------------------------------------------------------------


def gold_url(text: str) -> str | None:
    """The page URL of a CleanEval gold file (its leading ``URL:`` line), if any."""
    m = _URL_LINE_RE.match(text.lstrip("\ufeff"))
    url = m.group(0).strip()[4:].strip() if m else ""
    return url or None


def gold_text(text: str) -> str:
    """The plain text of a gold file: markers, URL line, entities and markup removed.

    CleanEval gold loses its leading ``URL:`` line, its ``<p>``/``<h>``/``<l>`` markers and
    ``<!-- ... -->`` annotator notes; entities (``&#039;``, ``&amp;``) are decoded; gold
    that is an HTML document (the Readability test pages) is reduced to its visible text
    lines.
    """
    text = text.lstrip("\ufeff")
    if _HTML_GOLD_RE.match(text) and "</" in text:
        return "\n".join(html_to_text_lines(text))
    text = _URL_LINE_RE.sub("", text, count=1)
    text = _COMMENT_RE.sub(" ", text)
    text = _MARKER_RE.sub(" ", text)
    return html.unescape(text)


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


def gold_tokens(text: str) -> list[str]:
    """Lower-cased word tokens (``\\w+``) of a gold file's text, see :func:`gold_text`."""
    return _tokens(gold_text(text))


# --- alignment -----------------------------------------------------------------------------


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest chain of ``pairs`` (sorted by first item) increasing in the second item."""
    tails: list[int] = []  # tails[k]: smallest second item ending a chain of length k + 1
    tail_idx: list[int] = []
    prev = [-1] * len(pairs)
    for idx, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_idx.append(idx)
        else:
            tails[k] = j
            tail_idx[k] = idx
        prev[idx] = tail_idx[k - 1] if k else -1
    chain: list[tuple[int, int]] = []
    idx = tail_idx[-1] if tail_idx else -1
    while idx >= 0:
        chain.append(pairs[idx])
        idx = prev[idx]
    chain.reverse()
    return chain


def _unique_anchors(
    a: Sequence[int], b: Sequence[int], alo: int, ahi: int, blo: int, bhi: int
) -> list[tuple[int, int, int]]:
    """Monotone (i, j, size) anchors: n-grams that occur once in a[alo:ahi] and b[blo:bhi].

    Tries 1-grams, then longer n-grams if there are none; the anchors kept are the longest
    chain that is increasing on both sides, so they never cross.
    """
    for n in _ANCHOR_NGRAMS:
        if ahi - alo < n or bhi - blo < n:
            break
        if n == 1:
            grams_a: list = list(a[alo:ahi])
            grams_b: list = list(b[blo:bhi])
        else:
            grams_a = list(zip(*(a[alo + k : ahi - n + 1 + k] for k in range(n)), strict=True))
            grams_b = list(zip(*(b[blo + k : bhi - n + 1 + k] for k in range(n)), strict=True))
        count_a = Counter(grams_a)
        count_b = Counter(grams_b)
        pos_b = {g: blo + j for j, g in enumerate(grams_b) if count_b[g] == 1}
        pairs = [
            (alo + i, pos_b[g]) for i, g in enumerate(grams_a) if count_a[g] == 1 and g in pos_b
        ]
        if pairs:
            chain = _longest_increasing(pairs)
            anchors: list[tuple[int, int, int]] = []
            for i, j in chain:
                # Overlapping n-gram anchors (n > 1) must not claim a token twice.
                if anchors and (i < anchors[-1][0] + n or j < anchors[-1][1] + n):
                    continue
                anchors.append((i, j, n))
            return anchors
    return []


def _match(
    a: Sequence[int],
    b: Sequence[int],
    alo: int,
    ahi: int,
    blo: int,
    bhi: int,
    out: list[tuple[int, int, int]],
    depth: int = 0,
) -> None:
    """Append matching blocks of a[alo:ahi] and b[blo:bhi] to ``out``, in order."""
    if alo >= ahi or blo >= bhi:
        return
    if (ahi - alo) * (bhi - blo) > _DIRECT_CELLS and depth < _MAX_DEPTH:
        anchors = _unique_anchors(a, b, alo, ahi, blo, bhi)
        if anchors:
            i0, j0 = alo, blo
            for i, j, size in anchors:
                _match(a, b, i0, i, j0, j, out, depth + 1)
                out.append((i, j, size))
                i0, j0 = i + size, j + size
            _match(a, b, i0, ahi, j0, bhi, out, depth + 1)
            return
    # Small piece, or no anchor at all (rare): SequenceMatcher on the whole piece.
    matcher = SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
    out.extend((alo + i, blo + j, size) for i, j, size in matcher.get_matching_blocks() if size)


def _matching_blocks(a: Sequence[int], b: Sequence[int]) -> list[tuple[int, int, int]]:
    """Monotone matching blocks (i, j, size) of two token-id sequences, adjacent ones merged."""
    out: list[tuple[int, int, int]] = []
    _match(a, b, 0, len(a), 0, len(b), out)
    merged: list[tuple[int, int, int]] = []
    for i, j, size in out:
        if merged:
            pi, pj, psize = merged[-1]
            if pi + psize == i and pj + psize == j:
                merged[-1] = (pi, pj, psize + size)
                continue
        merged.append((i, j, size))
    return merged


def align_page(
    lines: list[str], gold: str, *, min_line_share: float = 0.5
) -> tuple[list[int], int, int]:
    """Label each line by aligning the page's tokens with the gold text's tokens.

    ``gold`` is the raw gold file text (see :func:`gold_text`). A line is content (0) when
    at least ``min_line_share`` of its tokens are matched; a line without tokens (only
    punctuation or symbols) takes the label of the previous line with tokens, or 1 at the
    start. Returns ``(labels, recovered, total)``: labels (1 = boilerplate) per line, gold
    tokens matched by tokens of lines labelled content, and the number of gold tokens.
    """
    if not 0.0 <= min_line_share <= 1.0:
        raise UsageError(f"min_line_share must be in [0, 1], got {min_line_share}")
    ids: dict[str, int] = {}
    line_tokens = [[ids.setdefault(t, len(ids)) for t in _tokens(line)] for line in lines]
    page = [t for toks in line_tokens for t in toks]
    gold_ids = [ids.setdefault(t, len(ids)) for t in gold_tokens(gold)]

    matched = bytearray(len(page))
    for i, _, size in _matching_blocks(page, gold_ids):
        matched[i : i + size] = b"\x01" * size

    labels: list[int] = []
    recovered = 0
    pos = 0
    label = 1
    for toks in line_tokens:
        n = len(toks)
        if n:
            hits = matched.count(1, pos, pos + n)
            label = 0 if hits >= min_line_share * n else 1
            if label == 0:
                recovered += hits
            pos += n
        labels.append(label)
    return labels, recovered, len(gold_ids)


# --- directories ---------------------------------------------------------------------------


def _read_gold(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read gold file: {err.strerror or err}", source=str(path)) from err
    # Gold files come as UTF-8, UTF-16 with a BOM (some Dragnet files) or Windows-1252
    # (some CleanEval and Dragnet files): the same BOM / UTF-8 / cp1252 cascade as pages.
    return decode_html(data)


def import_gold_dir(
    directory: str | Path,
    *,
    source: str | None = None,
    lang: str | None = None,
    min_line_share: float = 0.5,
    min_recovered: float = 0.5,
    stats: AlignmentStats | None = None,
) -> Iterator[Page]:
    """Labelled pages from ``DIR/{key}.html`` + ``DIR/{key}.gold.txt`` pairs, sorted by key.

    Page ids are ``{source}/{key}``, where ``source`` defaults to the directory name;
    ``extra["gold_recovered"]`` is the page's share of gold tokens recovered in content
    lines (3 decimals). Pages whose share is below ``min_recovered`` are skipped and their
    key recorded in ``stats.failed``: the gold does not match the page, so its labels would
    be wrong. An ``.html`` without a gold file is skipped with a warning. The directory is
    checked at once (:class:`DataError` if it cannot be read); pages are read lazily.
    """
    if not 0.0 <= min_line_share <= 1.0:
        raise UsageError(f"min_line_share must be in [0, 1], got {min_line_share}")
    directory = Path(directory)
    try:
        names = sorted(p.name for p in directory.iterdir())
    except OSError as err:
        raise DataError(
            f"cannot read gold directory: {err.strerror or err}", source=str(directory)
        ) from err
    src = source if source is not None else (directory.name or directory.resolve().name)
    keys = sorted(n[: -len(HTML_SUFFIX)] for n in names if n.endswith(HTML_SUFFIX))
    present = set(names)
    stats = stats if stats is not None else AlignmentStats()
    return _import(directory, keys, present, src, lang, min_line_share, min_recovered, stats)


def _import(
    directory: Path,
    keys: list[str],
    present: set[str],
    src: str,
    lang: str | None,
    min_line_share: float,
    min_recovered: float,
    stats: AlignmentStats,
) -> Iterator[Page]:
    for key in keys:
        html_path = directory / f"{key}{HTML_SUFFIX}"
        if f"{key}{GOLD_SUFFIX}" not in present:
            log.warning("%s: no gold file %s%s, page skipped", html_path, key, GOLD_SUFFIX)
            continue
        try:
            data = html_path.read_bytes()
        except OSError as err:
            raise DataError(
                f"cannot read page: {err.strerror or err}", source=str(html_path)
            ) from err
        gold = _read_gold(directory / f"{key}{GOLD_SUFFIX}")
        page_html = decode_html(data)
        lines, markup = html_page_lines(page_html)
        url = gold_url(gold) or page_url(page_html)
        labels, recovered, total = align_page(lines, gold, min_line_share=min_line_share)
        stats.pages += 1
        stats.gold_tokens += total
        stats.recovered_tokens += recovered
        share = recovered / total if total else 0.0
        if share < min_recovered:
            stats.failed.append(key)
            continue
        yield Page(
            id=f"{src}/{key}",
            lines=lines,
            labels=labels,
            lang=lang,
            source=src,
            extra={
                **({"url": url} if url else {}),
                "gold_recovered": round(share, 3),
                MARKUP_KEY: markup,
            },
        )
