"""Writing predictions: cleaned text, JSONL with probabilities, or labelled text.

``text`` is the cleaned page (content lines only); when there are several pages each is
introduced by a ``==> id <==`` header line (as ``head`` does for several files) and
pages are separated by a blank line. ``jsonl`` and ``labeled`` keep every input line,
in order, with its page id.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

import numpy as np

from bpclf.corpus import SITE_LINES_KEY, SITE_PAGES_KEY
from bpclf.errors import DataError, UsageError
from bpclf.formats import PROBA_DIGITS, dumps_lines, format_labelled, printable
from bpclf.html import MARKUP_KEY
from bpclf.parallel import Rendered

if TYPE_CHECKING:
    from bpclf.api import Prediction
    from bpclf.pages import Page

OUTPUT_FORMATS = ("text", "jsonl", "labeled", "parquet")
T = TypeVar("T")
log = logging.getLogger("bpclf")


@dataclass
class WriteStats:
    pages: int = 0
    lines: int = 0
    boilerplate: int = 0


def _peek_many(items: Iterator[T]) -> tuple[bool, Iterator[T]]:
    """Whether there is more than one item, and the unchanged stream."""
    head = []
    for p in items:
        head.append(p)
        if len(head) == 2:
            break

    def chained() -> Iterator[T]:
        yield from head
        yield from items

    return len(head) > 1, chained()


#: Page.extra keys bpclf derives for its features: left out of prediction outputs.
_DERIVED = frozenset({MARKUP_KEY, SITE_LINES_KEY, SITE_PAGES_KEY})


def _shown(page, labels=None, segments=None):
    """The page as written in prediction outputs: derived markup and site rows left out,
    the segments of split lines (``--split-glued``) added."""
    extra = {k: v for k, v in page.extra.items() if k not in _DERIVED}
    if segments is not None:
        extra["segments"] = segments
    return type(page)(page.id, page.lines, labels, page.lang, page.source, extra)


def render(preds: Iterable[Prediction], fmt: str) -> Iterator[tuple[Prediction, str]]:
    """Each prediction with its text in ``fmt``."""
    preds = iter(preds)
    if fmt == "text":
        yield from join_text_pages((p, p.page.id, text_body(p)) for p in preds)
    elif fmt == "jsonl":
        for p in preds:
            yield p, jsonl_utf8([p]).decode("utf-8")
    elif fmt == "labeled":
        for p in preds:
            yield p, format_labelled(_shown(p.page), p.labels, p.proba) + "\n"
    else:
        raise ValueError(f"unknown output format {fmt!r}")


def jsonl_utf8(preds: Sequence[Prediction]) -> bytes:
    """The ``jsonl`` output of ``preds`` as UTF-8: what :func:`render` gives, joined and
    encoded (:func:`jsonl_batch_utf8` over the predictions' pages)."""
    if not preds:
        return b""
    proba = np.concatenate([np.asarray(p.proba, dtype=np.float64) for p in preds])
    labels = np.concatenate([np.asarray(p.labels, dtype=np.int8) for p in preds])
    return jsonl_batch_utf8([p.page for p in preds], labels, proba, [p.segments for p in preds])


def jsonl_batch_utf8(
    pages: Sequence[Page],
    labels: np.ndarray,
    proba: np.ndarray,
    segments: Sequence[list[dict | None] | None] | None = None,
) -> bytes:
    """The ``jsonl`` records of ``pages`` as UTF-8, given the labels (int8) and
    probabilities of all their lines in order (a worker's batch, bpclf.parallel): the
    probabilities rounded and the records serialised for the whole batch at once."""
    rounded = np.round(proba, PROBA_DIGITS)
    records = []
    start = 0
    for i, page in enumerate(pages):
        record = _shown(page, None, segments[i] if segments else None).to_record()
        stop = start + len(page.lines)
        # Views of the batch's arrays: orjson writes them as the lists they hold.
        record["boilerplate"] = labels[start:stop]
        record["boilerplate_proba"] = rounded[start:stop]
        records.append(record)
        start = stop
    return dumps_lines(records, arrays=True)


def text_body(p: Prediction) -> str:
    """A page's content lines in ``text`` output (without the header of several pages)."""
    return content_text(p.content_lines)


def content_text(lines: Iterable[str]) -> str:
    """Lines as ``text`` output writes them: each ended by a newline, lone surrogates
    replaced (in the joined text: one search per page, not per line)."""
    return printable("".join([line + "\n" for line in lines]))


def join_text_pages(pieces: Iterable[tuple[T, str, str]]) -> Iterator[tuple[T, str]]:
    """``(item, page id, body)`` -> ``(item, text)``: when there are several pages, each
    is introduced by a ``==> id <==`` header and pages are separated by a blank line."""
    many, pieces = _peek_many(iter(pieces))
    for i, (item, page_id, body) in enumerate(pieces):
        yield item, (text_page(page_id, body, first=not i) if many else body)


def text_page(page_id: str, body: str, *, first: bool) -> str:
    """A page of ``text`` output with several pages: its ``==> id <==`` header and body,
    after a blank line unless it is the first page."""
    return ("" if first else "\n") + f"==> {printable(page_id)} <==\n" + body


def write_predictions(preds: Iterable[Prediction], out: IO[str], fmt: str) -> WriteStats:
    """Stream rendered predictions to ``out``; returns counts for the summary line."""
    return write_rendered(rendered_predictions(preds, fmt), out)


def rendered_predictions(preds: Iterable[Prediction], fmt: str) -> Iterator[Rendered]:
    """:func:`render` as output chunks with their counts, one page each."""
    for p, text in render(preds, fmt):
        yield Rendered(text, 1, len(p.labels), int(p.labels.sum()))


def write_rendered(
    chunks: Iterable[Rendered], out: IO[str], *, raw: IO[bytes] | None = None
) -> WriteStats:
    """Stream output text (:func:`bpclf.api.predict_text`) to ``out``; returns the counts.

    ``raw``: the byte stream under ``out`` (:func:`byte_stream`), when ``out`` writes text
    as UTF-8 without translating newlines: chunks rendered as UTF-8 (JSONL from the
    workers) then go there as they are, with no decoding and re-encoding of every byte.
    """
    stats = WriteStats()
    pending_text = False
    for chunk in chunks:
        data = chunk.utf8
        if data is not None and raw is not None:
            if pending_text:
                out.flush()  # what was written as text comes first
                pending_text = False
            raw.write(data)
        else:
            out.write(chunk.text)
            pending_text = True
        stats.pages += chunk.pages
        stats.lines += chunk.lines
        stats.boilerplate += chunk.boilerplate
    out.flush()
    return stats


#: Text streams :func:`open_output` opened (UTF-8, newlines as they are).
_PLAIN_UTF8: weakref.WeakSet = weakref.WeakSet()


def byte_stream(out: IO[str]) -> IO[bytes] | None:
    """The byte stream under ``out`` when writing UTF-8 there equals writing text to
    ``out``: a file from :func:`open_output`, or stdout on POSIX (Python's standard
    streams do not translate newlines there) when its encoding is UTF-8. Else None: a
    stream's newline translation cannot be asked, so other streams get text."""
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    plain = out in _PLAIN_UTF8 or (out is sys.stdout and os.name == "posix")
    return getattr(out, "buffer", None) if plain and encoding == "utf8" else None


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[IO[str]]:
    """stdout for ``None``/``-``; otherwise a temp file renamed onto ``path`` on success.

    An interrupted or failed run never leaves a partial file at ``path``.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    if Path(path).is_dir():
        raise DataError("output path is a directory", source=path)
    with _atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        _PLAIN_UTF8.add(fh)
        yield fh


#: File name suffix of each output format in ``--output-dir`` mode.
OUTPUT_SUFFIX = {"text": ".txt", "jsonl": ".jsonl", "labeled": ".labels.txt", "parquet": ".parquet"}


def output_plan(inputs: Sequence[str], out_dir: Path, fmt: str) -> list[tuple[str, Path]]:
    """(input file, output file) pairs for one-output-per-input runs.

    Files inside a directory argument keep their path relative to it; file arguments
    keep their name. The format's suffix is appended, so ``a/b.html`` becomes
    ``OUT/a/b.html.jsonl``.
    """
    from bpclf.readers import STDIN, expand_paths

    if not inputs or STDIN in inputs:
        raise UsageError("--output-dir needs input files or directories (not stdin)")
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise DataError("output path is not a directory", source=str(out_dir))
    out_abs = Path(out_dir).resolve()
    plan: list[tuple[str, Path]] = []
    for arg in inputs:
        root = Path(arg)
        for f in expand_paths([arg]):
            if out_abs in Path(f).resolve().parents:
                continue  # our own earlier outputs, when --output-dir is inside an input
            rel = Path(f).relative_to(root) if root.is_dir() else Path(Path(f).name)
            plan.append((f, Path(out_dir) / (str(rel) + OUTPUT_SUFFIX[fmt])))
    targets = [dst for _, dst in plan]
    if len(set(targets)) != len(targets):
        dup = next(t for t in targets if targets.count(t) > 1)
        raise UsageError(f"two inputs would write the same output file {dup}")
    return plan


def prediction_record(p: Prediction) -> dict:
    """The JSONL record of a prediction as a dict (other input keys kept)."""
    record = _shown(p.page, None, p.segments).to_record()
    record["boilerplate"] = [int(v) for v in p.labels]
    record["boilerplate_proba"] = [float(v) for v in p.proba]
    return record


def write_parquet(preds: Iterable[Prediction], path: str, batch_pages: int = 1000) -> WriteStats:
    """Stream predictions into a Parquet file, one row per page, atomically.

    Columns: ``id``, ``lines``, ``boilerplate``, ``boilerplate_proba`` and the input's
    other keys; the first batch fixes the schema (keys first seen later are reported and
    left out: Parquet files have one schema).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    stats = WriteStats()
    with _atomic_path(path) as tmp:
        writer = None
        dropped: set[str] = set()
        try:
            batch: list[dict] = []
            for p in preds:
                batch.append(prediction_record(p))
                stats.pages += 1
                stats.lines += len(p.labels)
                stats.boilerplate += int(p.labels.sum())
                if len(batch) >= batch_pages:
                    writer = _write_batch(pa, pq, writer, batch, tmp, dropped)
                    batch = []
            if batch or writer is None:
                writer = _write_batch(pa, pq, writer, batch, tmp, dropped)
        finally:
            if writer is not None:
                writer.close()
        if dropped:
            log.warning(
                "%s: keys not in the first rows' schema were left out: %s",
                path,
                ", ".join(sorted(dropped)),
            )
    return stats


def _write_batch(pa, pq, writer, batch: list[dict], tmp: str, dropped: set[str]):
    if writer is None:
        base = pa.schema(
            [
                ("id", pa.string()),
                ("lines", pa.list_(pa.string())),
                ("boilerplate", pa.list_(pa.int8())),
                ("boilerplate_proba", pa.list_(pa.float32())),
            ]
        )
        try:
            inferred = pa.Table.from_pylist(batch).schema if batch else pa.schema([])
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise DataError(f"cannot write Parquet: keys of mixed types ({exc})") from None
        # Empty structs cannot be stored; such keys are left out like late keys.
        inferred = pa.schema(
            [f for f in inferred if not (pa.types.is_struct(f.type) and f.type.num_fields == 0)]
        )
        fields = list(base) + [f for f in inferred if f.name not in base.names]
        writer = pq.ParquetWriter(tmp, pa.schema(fields))
    names = set(writer.schema.names)
    for record in batch:
        dropped.update(k for k in record if k not in names)
    try:
        writer.write_table(pa.Table.from_pylist(batch, schema=writer.schema))
    except (pa.ArrowException, TypeError, ValueError) as exc:
        first = batch[0]["id"] if batch else "?"
        raise DataError(
            f"cannot write Parquet: a key changes type between pages ({exc})", page=str(first)
        ) from None
    return writer


@contextlib.contextmanager
def _atomic_path(path: str) -> Iterator[str]:
    """A temporary path beside ``path``, renamed onto it only if the block succeeds."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise DataError("output directory does not exist", source=path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get normal permissions
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
