"""Site-level repetition: how many other pages of the same site contain each line.

Menus, footers, cookie notices and "related articles" headings repeat on every page of
a site, while article sentences do not. A corpus pass counts, per site, the pages that
contain each normalised line; a second pass stores, for every line of a page, how many
*other* pages of its site contain it (``Page.extra[SITE_LINES_KEY]``) and how many other
pages the site has (``Page.extra[SITE_PAGES_KEY]``). Models trained with
``corpus_stats = true`` turn these into features (:func:`site_matrix`).

The site of a page is the host of its ``url`` (lowercased, without ``www.`` and port);
pages without a URL belong to the input they came from (the file or directory given on
the command line). Memory: 8 bytes per distinct line per site, kept as sorted numpy
arrays, so millions of pages fit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import numpy as np

from bpclf.errors import DataError
from bpclf.pages import Page

#: Per line: number of other pages of the same site that contain the (normalised) line.
SITE_LINES_KEY = "site_lines"
#: Per page: number of other pages of its site in the corpus.
SITE_PAGES_KEY = "site_pages"

SITE_NAMES = ["site_other_pages", "site_share", "site_pages_log", "site_share_near"]

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"[^\S\n]+")
_ANY_SPACE = re.compile(r"\s+")
_COMPACT_AT = 1 << 20  # merge a site's pending key arrays beyond this many keys


def site_of(page: Page, fallback: str) -> str:
    """The host of the page's ``url`` when it has one, else ``fallback`` (its input)."""
    url = page.extra.get("url")
    if isinstance(url, str) and url:
        host = urlsplit(url.strip() if "//" in url else "//" + url.strip()).hostname
        if host:
            return "host:" + host.removeprefix("www.")
    return "input:" + fallback


def line_keys(lines: Sequence[str]) -> np.ndarray:
    """A stable 64-bit key per line after normalisation (case, digits, spacing); 0 = empty.

    Digits are folded so that "Posted 3 hours ago" and "Posted 5 hours ago" count as one
    line. blake2b keeps keys identical across processes and runs (Python's ``hash`` is
    salted per process).
    """
    text = _SPACES.sub(" ", _DIGITS.sub("0", "\n".join(lines).casefold()))
    parts = text.split("\n") if lines else []
    if len(parts) != len(lines):  # a line contained a line break of its own
        parts = [_ANY_SPACE.sub(" ", _DIGITS.sub("0", s.casefold())) for s in lines]
    return np.fromiter(map(_key, parts), dtype=np.uint64, count=len(parts))


def _key(line: str) -> int:
    line = line.strip()
    if not line:
        return 0
    digest = hashlib.blake2b(line.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


class SiteCounter:
    """Counts, per site, the pages containing each line key (first pass)."""

    def __init__(self) -> None:
        self._pending: dict[str, list[np.ndarray]] = {}
        self._pending_size: dict[str, int] = {}
        self._keys: dict[str, np.ndarray] = {}
        self._counts: dict[str, np.ndarray] = {}
        self.pages: dict[str, int] = {}

    def add(self, page: Page, site: str) -> None:
        """Count the page's distinct non-empty lines for its site."""
        keys = np.unique(line_keys(page.lines))
        keys = keys[keys != 0]
        self.pages[site] = self.pages.get(site, 0) + 1
        self._pending.setdefault(site, []).append(keys)
        self._pending_size[site] = self._pending_size.get(site, 0) + len(keys)
        if self._pending_size[site] >= _COMPACT_AT:
            self._compact(site)

    def _compact(self, site: str) -> None:
        """Fold pending keys into the site's sorted (keys, counts) arrays."""
        parts = self._pending.pop(site, [])
        self._pending_size[site] = 0
        if not parts:
            return
        new = np.concatenate(parts)
        keys = np.concatenate([self._keys.get(site, np.zeros(0, np.uint64)), new])
        weights = np.concatenate(
            [self._counts.get(site, np.zeros(0, np.int64)), np.ones(len(new), np.int64)]
        )
        uniq, inverse = np.unique(keys, return_inverse=True)
        self._keys[site] = uniq
        self._counts[site] = np.bincount(inverse, weights=weights, minlength=len(uniq)).astype(
            np.int64
        )

    def annotate(self, page: Page, site: str) -> Page:
        """Store the site counts of the page's lines in ``page.extra`` (returns the page)."""
        if self._pending.get(site):
            self._compact(site)
        if site not in self.pages:
            raise DataError("page was not counted in the corpus pass", page=page.id)
        keys = line_keys(page.lines)
        site_keys = self._keys.get(site, np.zeros(0, np.uint64))
        site_counts = self._counts.get(site, np.zeros(0, np.int64))
        others = np.zeros(len(keys), np.int64)
        if len(site_keys):
            pos = np.minimum(np.searchsorted(site_keys, keys), len(site_keys) - 1)
            found = (keys != 0) & (site_keys[pos] == keys)
            others[found] = site_counts[pos[found]] - 1
        page.extra[SITE_LINES_KEY] = np.maximum(others, 0).astype(int).tolist()
        page.extra[SITE_PAGES_KEY] = self.pages[site] - 1
        return page


def annotate_sites(pairs: Sequence[tuple[Page, str]]) -> list[Page]:
    """Annotate in-memory pages (``(page, input)`` pairs) with their site counts."""
    counter = SiteCounter()
    sites = [site_of(page, origin) for page, origin in pairs]
    for (page, _), site in zip(pairs, sites, strict=True):
        counter.add(page, site)
    return [counter.annotate(page, site) for (page, _), site in zip(pairs, sites, strict=True)]


def annotated_stream(
    read: Iterable[tuple[Page, str]], reread: Iterable[tuple[Page, str]]
) -> Iterator[Page]:
    """Two passes over the same input: count with ``read``, annotate pages of ``reread``."""
    counter = SiteCounter()
    for page, origin in read:
        counter.add(page, site_of(page, origin))
    for page, origin in reread:
        yield counter.annotate(page, site_of(page, origin))


def site_matrix(pages: Sequence[Page], near: int = 2) -> np.ndarray:
    """Site features per line: log other pages containing it, their share, site size,
    and the mean share over the ``near`` lines on each side (repeated blocks).

    Raises DataError for a page without site counts: silently assuming "never repeated"
    would make a repetition-aware model keep every menu.
    """
    counts: list[np.ndarray] = []
    others: list[int] = []
    for page in pages:
        c = page.extra.get(SITE_LINES_KEY)
        o = page.extra.get(SITE_PAGES_KEY)
        if (
            not isinstance(c, list | np.ndarray)
            or len(c) != len(page.lines)
            or not isinstance(o, int | np.integer)
        ):
            raise DataError(
                "this model uses site statistics (corpus_stats) but the page has none; "
                "predict files with `bpclf predict` (it counts them) or annotate pages with "
                "bpclf.corpus.annotate_sites",
                page=page.id,
            )
        counts.append(np.asarray(c, dtype=np.float64).reshape(-1))
        others.append(max(int(o), 0))
    sizes = np.array([len(c) for c in counts], dtype=np.int64)
    c = np.concatenate(counts) if counts else np.zeros(0)
    o = np.repeat(np.array(others, dtype=np.float64), sizes)
    share = c / np.maximum(o, 1)
    # Mean share over the window, clipped at page edges (cumulative sums, no loop).
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    end = start + np.repeat(sizes, sizes)
    i = np.arange(len(c))
    lo, hi = np.maximum(i - near, start), np.minimum(i + near + 1, end)
    cum = np.concatenate([[0.0], np.cumsum(share)])
    near_share = (cum[hi] - cum[lo]) / np.maximum(hi - lo, 1)
    return np.column_stack([np.log1p(c), share, np.log1p(o), near_share]).reshape(
        len(c), len(SITE_NAMES)
    )
