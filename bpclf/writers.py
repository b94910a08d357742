"""Writing predictions: cleaned text, JSONL with probabilities, or labelled text.

``text`` is the cleaned page (content lines only); when there are several pages each is
introduced by a ``==> id <==`` header line (as ``head`` does for several files) and
pages are separated by a blank line. ``jsonl`` and ``labeled`` keep every input line,
in order, with its page id.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bpclf.errors import DataError
from bpclf.formats import format_labelled, page_json, printable

if TYPE_CHECKING:
    from bpclf.api import Prediction

OUTPUT_FORMATS = ("text", "jsonl", "labeled")


@dataclass
class WriteStats:
    pages: int = 0
    lines: int = 0
    boilerplate: int = 0


def _peek_many(preds: Iterator[Prediction]) -> tuple[bool, Iterator[Prediction]]:
    """Whether there is more than one prediction, and the unchanged stream."""
    head = []
    for p in preds:
        head.append(p)
        if len(head) == 2:
            break

    def chained() -> Iterator[Prediction]:
        yield from head
        yield from preds

    return len(head) > 1, chained()


def render(preds: Iterable[Prediction], fmt: str) -> Iterator[tuple[Prediction, str]]:
    """Each prediction with its text in ``fmt``."""
    preds = iter(preds)
    if fmt == "text":
        many, preds = _peek_many(preds)
        for i, p in enumerate(preds):
            body = "".join(printable(line) + "\n" for line in p.content_lines)
            if many:
                body = ("\n" if i else "") + f"==> {printable(p.page.id)} <==\n" + body
            yield p, body
    elif fmt == "jsonl":
        for p in preds:
            page = p.page
            shown = type(page)(
                page.id, page.lines, [int(v) for v in p.labels], page.lang, page.source, page.extra
            )
            yield p, page_json(shown, p.proba) + "\n"
    elif fmt == "labeled":
        for p in preds:
            yield p, format_labelled(p.page, p.labels, p.proba) + "\n"
    else:
        raise ValueError(f"unknown output format {fmt!r}")


def write_predictions(preds: Iterable[Prediction], out: IO[str], fmt: str) -> WriteStats:
    """Stream rendered predictions to ``out``; returns counts for the summary line."""
    stats = WriteStats()
    for p, chunk in render(preds, fmt):
        out.write(chunk)
        stats.pages += 1
        stats.lines += len(p.labels)
        stats.boilerplate += int(p.labels.sum())
    out.flush()
    return stats


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[IO[str]]:
    """stdout for ``None``/``-``; otherwise a temp file renamed onto ``path`` on success.

    An interrupted or failed run never leaves a partial file at ``path``.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    if target.is_dir():
        raise DataError("output path is a directory", source=path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise DataError("output directory does not exist", source=path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
