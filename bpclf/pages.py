"""The page: the unit bpclf reads, classifies and writes.

A page is an ordered list of text lines with an id. Labelled pages also carry one 0/1
label per line (1 = boilerplate). Any other keys of the input record (``url``, ``title``,
...) travel along in ``extra`` so that outputs keep them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, TypeVar

from bpclf.errors import DataError

T = TypeVar("T")

#: Keys of a page record that bpclf interprets; every other key is kept in ``Page.extra``.
RESERVED_KEYS = ("id", "lang", "source", "lines", "boilerplate", "boilerplate_proba", "text")

#: ``Page.extra`` keys holding one value per line (HTML markup rows, site counts): cut
#: along with the lines when a long page is classified in blocks.
PER_LINE_KEYS = frozenset({"markup", "site_lines"})


@dataclass(slots=True)
class Page:
    """One page: ``lines`` in order, optional ``labels`` (1 = boilerplate)."""

    id: str
    lines: list[str]
    labels: list[int] | None = None
    lang: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def labelled(self) -> bool:
        return self.labels is not None

    def to_record(self) -> dict[str, Any]:
        """The labelled-page JSONL record (``id``, ``lang``, ``source``, ``lines``, ...)."""
        record: dict[str, Any] = {"id": self.id}
        if self.lang is not None:
            record["lang"] = self.lang
        if self.source is not None:
            record["source"] = self.source
        record.update(self.extra)
        record["lines"] = list(self.lines)
        if self.labels is not None:
            record["boilerplate"] = list(self.labels)
        return record


def split_lines(text: str) -> list[str]:
    """Split page text into lines on ``\\n``, ``\\r\\n`` and ``\\r``.

    Unlike ``str.splitlines`` this does not split on form feeds, vertical tabs or Unicode
    line separators, and a trailing newline does not create an extra empty line. An
    empty text is a page with no lines.
    """
    if not text:
        return []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


def check_labels(
    labels: Any, n_lines: int, *, source: str | None, line: int | None, page: str
) -> list[int]:
    """Validate a ``boilerplate`` list: same length as ``lines``, values 0/1 only."""
    if not isinstance(labels, list):
        raise DataError("'boilerplate' must be a list of 0/1", source=source, line=line, page=page)
    if len(labels) != n_lines:
        raise DataError(
            f"'lines' has {n_lines} entries but 'boilerplate' has {len(labels)}",
            source=source,
            line=line,
            page=page,
        )
    out: list[int] = []
    for i, value in enumerate(labels):
        if isinstance(value, bool) or value not in (0, 1):
            raise DataError(
                f"label {value!r} at line index {i} is not 0 or 1",
                source=source,
                line=line,
                page=page,
            )
        out.append(int(value))
    return out


def page_from_record(
    record: Any,
    *,
    source: str | None = None,
    line: int | None = None,
    default_id: str | None = None,
    require_labels: bool = False,
) -> Page:
    """Build a :class:`Page` from a JSON object, validating it.

    Accepts ``lines`` (a list of strings) or ``text`` (one string, split into lines).
    ``boilerplate`` is optional unless ``require_labels``.
    """
    if not isinstance(record, dict):
        raise DataError(
            f"expected a JSON object, got {type(record).__name__}", source=source, line=line
        )
    page_id = record.get("id", default_id)
    if page_id is None:
        raise DataError("record has no 'id'", source=source, line=line)
    page_id = str(page_id)
    if "lines" in record:
        lines = record["lines"]
        if not isinstance(lines, list) or not all(map(isinstance, lines, repeat(str))):
            raise DataError(
                "'lines' must be a list of strings", source=source, line=line, page=page_id
            )
    elif "text" in record:
        text = record["text"]
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise DataError("'text' must be a string", source=source, line=line, page=page_id)
        lines = split_lines(text)
    else:
        raise DataError(
            "record has neither 'lines' nor 'text'", source=source, line=line, page=page_id
        )
    labels = None
    if record.get("boilerplate") is not None:
        labels = check_labels(
            record["boilerplate"], len(lines), source=source, line=line, page=page_id
        )
    elif require_labels:
        raise DataError("page has no 'boilerplate' labels", source=source, line=line, page=page_id)
    lang = record.get("lang")
    src = record.get("source")
    extra = {k: v for k, v in record.items() if k not in RESERVED_KEYS}
    return Page(
        id=page_id,
        lines=list(lines),
        labels=labels,
        lang=str(lang) if lang is not None else None,
        source=str(src) if src is not None else None,
        extra=extra,
    )


def batched(
    items: Iterable[T], batch_lines: int, size: Callable[[T], int] = len
) -> Iterator[list[T]]:
    """Group items (pages, or anything with a line count) into batches of about
    ``batch_lines`` lines, never splitting an item.

    When ``items`` fails part-way (a bad record under ``on_error="stop"``), the items
    read before the failure still come out as a batch before the error is raised, so
    what is written before an error does not depend on the batch size.
    """
    batch: list[T] = []
    total = 0
    it = iter(items)
    while True:
        try:
            item = next(it)
        except StopIteration:
            break
        except Exception:
            if batch:
                yield batch
            raise
        batch.append(item)
        total += size(item)
        if total >= batch_lines:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def page_blocks(pages: Iterable[Page], max_lines: int) -> Iterator[tuple[int, Page]]:
    """(page index, block) pairs: pages longer than ``max_lines`` cut into consecutive blocks.

    Page-level features (position, repetition, page means) are computed per block, so a
    page with millions of lines is classified in bounded memory.
    """
    for i, page in enumerate(pages):
        if len(page) <= max_lines:
            yield i, page
            continue
        for start in range(0, len(page), max_lines):
            stop = start + max_lines
            labels = page.labels[start:stop] if page.labels is not None else None
            extra = {
                k: v[start:stop] if k in PER_LINE_KEYS and len(v) == len(page) else v
                for k, v in page.extra.items()
            }
            yield i, Page(page.id, page.lines[start:stop], labels, page.lang, page.source, extra)
