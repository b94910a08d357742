"""Finding and reading pages: files, directories, stdin, JSONL, labelled text, datasets.

Every reader yields :class:`~bpclf.pages.Page` objects lazily, in input order, so large
inputs stream. Formats are detected from the file extension and, for text files and
stdin, from the content (JSONL starts with ``{``, labelled text with ``@page``). Text,
JSONL and labelled-text files may be gzip-compressed (detected from the content).

Bad input follows an error policy (``on_error``): ``"stop"`` raises the first
:class:`~bpclf.errors.DataError`; ``"skip"`` reports each bad record or unreadable input
with one warning, counts it in a :class:`SkipLog` and goes on with the next record or
input, so one bad record in a crawl never costs the others.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import numpy as np

from bpclf.errors import DataError, UsageError
from bpclf.formats import (
    LineDecoder,
    OnBadRecord,
    looks_labelled_text,
    parse_jsonl,
    parse_labelled_text,
    rename_fields,
    stop_on_bad_record,
)
from bpclf.pages import Page, page_from_record, split_lines

if TYPE_CHECKING:
    from bpclf.warc import WarcStats

INPUT_FORMATS = ("auto", "text", "jsonl", "labeled", "html", "warc", "parquet", "csv", "hf")
ON_ERROR = ("stop", "skip")
_WARC_EXT = {".warc", ".wet", ".arc"}
_HTML_EXT = {".html", ".htm", ".xhtml"}
_JSONL_EXT = {".jsonl", ".ndjson", ".json"}
_DATASETS_EXT = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".arrow": "arrow"}
STDIN = "-"
log = logging.getLogger("bpclf")


@dataclass
class SkipLog:
    """What ``on_error="skip"`` left out: one warning per bad record or input, and the
    counts for the end-of-run summary (a run that skipped anything still exits 1).

    A record reported twice (models with corpus statistics read their input twice) is
    warned about and counted once.
    """

    #: (source, line, message) of each skipped record or input.
    seen: set[tuple[str, int | None, str]] = field(default_factory=set)
    #: Broken records skipped in each WARC/WET file (warned about by :mod:`bpclf.warc`).
    warc: dict[str, int] = field(default_factory=dict)
    #: Inputs given up on (unreadable, or unreadable from some line on).
    failed_inputs: int = 0

    def bad_record(self, error: DataError) -> None:
        """Skip one record; reading goes on with the next one."""
        if self._first(error):
            log.warning("%sskipped record: %s", _where(error), _detail(error))

    def bad_input(self, error: DataError) -> None:
        """Give up on an input (or its rest); reading goes on with the next input."""
        if self._first(error):
            self.failed_inputs += 1
            what = (
                "skipped input"
                if error.line is None
                else "skipped the rest of the input (pages complete before this line are kept)"
            )
            log.warning("%s%s: %s", _where(error), what, _detail(error))

    def add_warc(self, path: str, stats: WarcStats) -> None:
        """Fold the broken records :mod:`bpclf.warc` skipped (and warned about) into the count."""
        if stats.skipped:
            self.warc[path] = max(self.warc.get(path, 0), stats.skipped)

    @property
    def records(self) -> int:
        """Records skipped (an input given up on counts as one)."""
        return len(self.seen) + sum(self.warc.values())

    @property
    def inputs(self) -> int:
        """Inputs with at least one skipped record."""
        return len({source for source, _, _ in self.seen} | set(self.warc))

    def summary(self) -> str | None:
        """The end-of-run line, or None when nothing was skipped."""
        if not self.records:
            return None
        return (
            f"skipped {_plural(self.records, 'bad record')} in {_plural(self.inputs, 'input')} "
            "(see warnings above); all other records were processed"
        )

    def _first(self, error: DataError) -> bool:
        key = (str(error.source), error.line, error.message)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def _where(error: DataError) -> str:
    """``FILE:LINE: `` of an error (as much of it as is known)."""
    if error.source is None:
        return ""
    return f"{error.source}:{error.line}: " if error.line is not None else f"{error.source}: "


def _detail(error: DataError) -> str:
    """The error message without its location (``page 'ID': what``)."""
    return str(DataError(error.message, page=error.page))


def skip_policy(on_error: str, skipped: SkipLog | None) -> SkipLog | None:
    """The SkipLog of a read under ``on_error`` (None: stop at the first error)."""
    if on_error not in ON_ERROR:
        raise UsageError(f"on_error must be one of {', '.join(ON_ERROR)} (got {on_error!r})")
    if on_error == "stop":
        return None
    return skipped if skipped is not None else SkipLog()


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Files named, and the files inside directories (recursively, sorted, no hidden ones)."""
    out: list[str] = []
    for p in paths:
        if p == STDIN:
            out.append(p)
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted(
                f
                for f in path.rglob("*")
                if f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(path).parts)
            )
            if not files:
                raise DataError("directory contains no files", source=p)
            out.extend(str(f) for f in files)
        elif path.exists():
            out.append(p)
        else:
            raise DataError("file not found", source=p)
    return out


def existing_inputs(paths: Sequence[str], skipped: SkipLog) -> list[str]:
    """The paths that name files or non-empty directories; the others go to ``skipped``."""
    out: list[str] = []
    for p in paths:
        try:
            expand_paths([p])
        except DataError as exc:
            skipped.bad_input(exc)
        else:
            out.append(p)
    return out


def _input_files(paths: Sequence[str], skip: SkipLog | None) -> list[str]:
    """All input files; when stopping, a missing one fails before anything is read."""
    if skip is None:
        return expand_paths(paths)
    out: list[str] = []
    for p in paths:
        try:
            out.extend(expand_paths([p]))
        except DataError as exc:
            skip.bad_input(exc)
    return out


_HEAD_BYTES = 64 * 1024
_CHUNK_BYTES = 1 << 20


def open_file(path: str) -> BinaryIO:
    """Open an input file for binary reading; failures become one-line DataErrors."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError("file not found", source=path) from None
    except IsADirectoryError:
        raise DataError("is a directory", source=path) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", source=path) from None


@contextlib.contextmanager
def _open_binary(path: str) -> Iterator[BinaryIO]:
    """The input as a binary stream (stdin for ``-``), with one-line errors."""
    if path == STDIN:
        yield sys.stdin.buffer
        return
    with open_file(path) as fh:
        yield fh


_GZIP_MAGIC = b"\x1f\x8b"


class _Reader(Protocol):
    """What the line splitter needs of a stream: a plain file, stdin or a gzip reader."""

    def read(self, size: int, /) -> bytes: ...


class _ReadFailed(DataError):
    """The input stopped being readable part-way (damaged or truncated gzip data)."""


class _GunzipReader:
    """``read`` of a gzip stream that hands out everything decompressed before damage.

    ``GzipFile.read(n)`` drops the data of the chunk in which the stream breaks;
    ``read1`` returns it, so only the line cut by the damage is lost. Damage is raised
    as :class:`_ReadFailed`, never as a traceback.
    """

    def __init__(self, gz: Any, source: str) -> None:
        self._gz = gz
        self._source = source

    def read(self, size: int) -> bytes:
        try:
            return self._gz.read1(size)
        except EOFError:
            raise _ReadFailed(
                "compressed data ends early (truncated gzip file)", source=self._source
            ) from None
        except (OSError, zlib.error) as exc:
            raise _ReadFailed(f"damaged gzip data ({exc})", source=self._source) from None


@contextlib.contextmanager
def _open_text_input(path: str, source: str) -> Iterator[_Reader]:
    """A text input as a binary stream, decompressed when it starts like a gzip file."""
    with _open_binary(path) as fh:
        peek = getattr(fh, "peek", None)
        if peek is None or peek(2)[:2] != _GZIP_MAGIC:
            yield fh
            return
        import gzip

        with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
            yield _GunzipReader(gz, source)


def _byte_lines(head: bytes, fh: _Reader) -> Iterator[bytes]:
    """Lines (split on ``\\n``) of ``head`` followed by the rest of ``fh``, read in chunks."""
    tail: list[bytes] = []  # pieces of the current line: linear even for huge lines
    chunk = head
    while chunk:
        pieces = chunk.split(b"\n")
        if len(pieces) > 1:
            tail.append(pieces[0])
            yield b"".join(tail)
            yield from pieces[1:-1]
            tail = [pieces[-1]]
        else:
            tail.append(chunk)
        chunk = fh.read(_CHUNK_BYTES)
    yield b"".join(tail)


def decoded_lines(head: bytes, fh: _Reader, source: str) -> Iterator[str]:
    """The UTF-8 lines of a text input opened by :func:`sniffed_text_input`."""
    return decoded(_byte_lines(head, fh), source)


def decoded(
    lines: Iterable[bytes],
    source: str,
    *,
    start: int = 1,
    on_invalid: Callable[[int, int], None] | None = None,
) -> Iterator[str]:
    """UTF-8 lines (numbered from ``start``); invalid bytes become U+FFFD, and the first
    line with any is reported to ``on_invalid(line, byte)`` (default: one warning).

    A read failure part-way (damaged gzip) is raised with the line it cut, so the message
    says where the readable part of the file ends.
    """
    decode = LineDecoder(on_invalid or (lambda line, byte: warn_invalid_utf8(source, line, byte)))
    lineno = start - 1
    try:
        for lineno, raw in enumerate(lines, start):
            yield decode(raw, lineno)
    except _ReadFailed as exc:
        raise DataError(exc.message, source=source, line=lineno + 1) from None


def warn_invalid_utf8(source: str, line: int, byte: int) -> None:
    """The one warning per file about undecodable bytes."""
    log.warning(
        "%s:%d: invalid UTF-8 at byte %d of the line; undecodable bytes replaced by U+FFFD",
        source,
        line,
        byte,
    )


def detect_format(path: str, text: str | None = None) -> str:
    """The format of ``path`` from its extension, or from its content for text/stdin."""
    suffix = Path(path).suffix.lower() if path != STDIN else ""
    if suffix == ".gz":
        suffix = Path(Path(path).stem).suffix.lower()
        if suffix in _HTML_EXT:
            return "html"
        if suffix in _WARC_EXT:
            return "warc"
    if suffix in _WARC_EXT:
        return "warc"
    if suffix in _HTML_EXT:
        return "html"
    if suffix in _JSONL_EXT:
        return "jsonl"
    if suffix in _DATASETS_EXT:
        return _DATASETS_EXT[suffix]
    if text is None:
        return "text"
    first = next((line for line in text.split("\n", 50)[:50] if line.strip()), "")
    if first.lstrip().startswith("{") and _is_json_object(first):
        return "jsonl"
    if looks_labelled_text(text):
        return "labeled"
    return "text"


def _is_json_object(line: str) -> bool:
    import json

    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def read_pages(
    paths: Sequence[str],
    *,
    input_format: str = "auto",
    require_labels: bool = False,
    text_field: str = "text",
    id_field: str = "id",
    split: str = "train",
    keep_partial_labels: bool = False,
    on_error: str = "stop",
    skipped: SkipLog | None = None,
) -> Iterator[Page]:
    """All pages of all inputs, in order.

    ``require_labels`` makes unlabelled pages an error (training and evaluation);
    ``keep_partial_labels`` makes partly labelled pages an error instead of unlabelled.
    ``on_error="stop"`` raises the first bad record; ``"skip"`` reports bad records and
    unreadable inputs to ``skipped`` (warning about each) and goes on, keeping the
    pages read before a failure inside a file and never reordering pages.
    """
    if input_format not in INPUT_FORMATS:
        raise UsageError(
            f"unknown input format {input_format!r}; choose from " + ", ".join(INPUT_FORMATS)
        )
    skip = skip_policy(on_error, skipped)
    options = dict(
        require_labels=require_labels,
        text_field=text_field,
        id_field=id_field,
        split=split,
        keep_partial_labels=keep_partial_labels,
        on_bad_record=skip.bad_record if skip is not None else stop_on_bad_record,
    )
    names = list(paths) if input_format == "hf" else _input_files(paths, skip)
    for name in names:
        try:
            yield from _read_input(name, input_format, skip, **options)
        except DataError as exc:
            if skip is None:
                raise
            skip.bad_input(exc)


def _read_input(
    path: str,
    input_format: str,
    skip: SkipLog | None,
    *,
    require_labels: bool,
    text_field: str,
    id_field: str,
    split: str,
    keep_partial_labels: bool,
    on_bad_record: OnBadRecord,
) -> Iterator[Page]:
    """The pages of one input file (or Hub dataset), by format."""
    fmt = input_format
    if fmt == "auto":
        by_name = detect_format(path)  # the extension decides for these formats
        if by_name in (*_DATASETS_EXT.values(), "html", "warc"):
            fmt = by_name
    if fmt == "warc":
        yield from _read_warc(path, skip)
    elif fmt == "html":
        yield read_html_page(path)
    elif fmt in ("parquet", "csv", "arrow", "hf"):
        yield from read_dataset(
            path,
            None if fmt == "hf" else fmt,
            text_field=text_field,
            id_field=id_field,
            split=split,
            require_labels=require_labels,
            on_bad_record=on_bad_record,
        )
    else:  # plain text, JSONL or labelled text (format sniffed for "auto")
        with sniffed_text_input(path, fmt) as (source, fmt, head, fh):
            yield from text_pages(
                decoded_lines(head, fh, source),
                source,
                fmt,
                require_labels=require_labels,
                text_field=text_field,
                id_field=id_field,
                keep_partial_labels=keep_partial_labels,
                on_bad_record=on_bad_record,
            )


def _read_warc(path: str, skip: SkipLog | None) -> Iterator[Page]:
    """Pages of a WARC/WET file; its broken records (always skipped, see
    :mod:`bpclf.warc`) count as skipped records when skipping."""
    if path == STDIN:
        raise UsageError("WARC input must be a file, not stdin")
    from bpclf.warc import WarcStats, iter_warc_pages

    stats = WarcStats()
    try:
        yield from iter_warc_pages(path, stats=stats)
    finally:
        if skip is not None:
            skip.add_warc(path, stats)


@contextlib.contextmanager
def sniffed_text_input(path: str, fmt: str) -> Iterator[tuple[str, str, bytes, _Reader]]:
    """(source name, format, first bytes, rest of the stream) of a text-like input: a
    byte-order mark dropped, binary files refused, the format sniffed for ``auto``."""
    source = "<stdin>" if path == STDIN else path
    with _open_text_input(path, source) as fh:
        head = fh.read(_HEAD_BYTES)
        if head.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
            head = head[3:]
        if b"\x00" in head[:8192]:
            raise DataError("looks like a binary file (NUL bytes), not text", source=source)
        if fmt == "auto":
            fmt = detect_format(path, head.decode("utf-8", errors="replace"))
        yield source, fmt, head, fh


def text_pages(
    lines: Iterable[str],
    source: str,
    fmt: str,
    *,
    require_labels: bool = False,
    text_field: str = "text",
    id_field: str = "id",
    keep_partial_labels: bool = False,
    on_bad_record: OnBadRecord = stop_on_bad_record,
    start: int = 1,
) -> Iterator[Page]:
    """Pages of the decoded lines of a JSONL, labelled-text or plain-text input.

    ``start`` is the line number of the first line (inputs read in shards; JSONL only).
    """
    if fmt == "jsonl":
        yield from parse_jsonl(
            lines,
            source,
            require_labels=require_labels,
            text_field=text_field,
            id_field=id_field,
            on_bad_record=on_bad_record,
            start=start,
        )
    elif fmt == "labeled":
        yield from parse_labelled_text(
            lines,
            source,
            require_labels=require_labels,
            keep_partial=keep_partial_labels,
            on_bad_record=on_bad_record,
        )
    elif require_labels:
        raise DataError("plain text has no labels; use JSONL or labelled text", source=source)
    else:
        yield Page(id=source, lines=split_lines("\n".join(lines)))


def _newlines(data: bytes) -> int:
    """The number of ``\\n`` in ``data``: a vectorised compare (3x faster than
    ``bytes.count``, which the parent ran over every byte of the input)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 10))


def raw_shards(
    head: bytes, fh: _Reader, source: str, shard_bytes: int
) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, bytes) of consecutive shards of whole lines, each about
    ``shard_bytes`` long; lines are separated by ``\\n`` inside a shard, and the shards'
    lines are exactly the input's lines (the last one may be empty).

    Linear in the input, even for lines far longer than a shard: the buffer is searched
    for a line end only where it has not been searched before, and cut once per read.
    A read failure part-way is raised, after the shards of every line completed before
    it, with the number of the line it cut (as :func:`decoded` does).
    """
    first, buf, chunk = 1, bytearray(), head
    pos = 0  # start of the next shard in buf
    scanned = 0  # buf[pos + shard_bytes:scanned] has no line end (searched on a past read)

    def shard(end: int) -> tuple[int, bytes]:
        nonlocal first
        with memoryview(buf) as view:
            data = bytes(view[pos:end])
        out = (first, data)
        first += _newlines(data) + 1
        return out

    try:
        while chunk:
            buf += chunk
            while len(buf) - pos >= shard_bytes:
                # the last line end inside the next shard_bytes, else the first after
                cut = buf.rfind(b"\n", pos, pos + shard_bytes)
                if cut < 0:
                    cut = buf.find(b"\n", max(pos + shard_bytes, scanned))
                    if cut < 0:
                        scanned = len(buf)  # one line longer than a shard: read on
                        break
                yield shard(cut)
                pos = cut + 1
            del buf[:pos]
            scanned, pos = max(scanned - pos, 0), 0
            chunk = fh.read(_CHUNK_BYTES)
    except _ReadFailed as exc:
        cut = buf.rfind(b"\n", pos)
        if cut >= 0:
            yield shard(cut)
        raise DataError(exc.message, source=source, line=first) from None
    yield shard(len(buf))


def read_html_page(path: str) -> Page:
    """One HTML page (optionally gzip-compressed) as the text lines a reader would see.

    Charset from a byte-order mark or ``<meta>``, else UTF-8, else cp1252; broken or
    truncated markup is linearised as far as it goes.
    """
    import gzip
    import zlib

    from bpclf.html import MARKUP_KEY, decode_html, html_page_lines

    source = "<stdin>" if path == STDIN else path
    with _open_binary(path) as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"cannot decompress gzip: {exc}", source=source) from None
    lines, markup = html_page_lines(decode_html(data))
    return Page(id=source, lines=lines, extra={MARKUP_KEY: markup})


def read_dataset(
    path_or_name: str,
    builder: str | None,
    *,
    text_field: str,
    id_field: str,
    split: str,
    require_labels: bool,
    on_bad_record: OnBadRecord = stop_on_bad_record,
) -> Iterator[Page]:
    """Rows of anything ``datasets`` loads: local parquet/csv/json files or a Hub name.

    Rows are streamed; each row becomes a page from ``lines`` or the ``text_field``
    column, with ``id_field`` as id (row number when absent) and other columns kept. A
    bad row goes to ``on_bad_record``; a missing text column is an error of the whole
    input (every row lacks it).
    """
    import datasets

    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    source = path_or_name
    try:
        if builder is None:
            ds = datasets.load_dataset(path_or_name, split=split, streaming=True)
        else:
            kwargs = {"delimiter": "\t"} if path_or_name.endswith(".tsv") else {}
            ds = datasets.load_dataset(
                builder, data_files=path_or_name, split="train", streaming=True, **kwargs
            )
        rows: Iterable[dict] = iter(ds)
        for i, row in enumerate(rows):
            record = dict(row)
            if "lines" not in record:
                if text_field not in record:
                    raise DataError(
                        f"no column {text_field!r} (columns: "
                        f"{', '.join(sorted(record))}); use --text-field",
                        source=source,
                    )
                record["text"] = record.pop(text_field)
            record = rename_fields(record, "text", id_field)
            try:
                page = page_from_record(
                    record,
                    source=source,
                    line=i + 1,
                    default_id=f"{source}:{i + 1}",
                    require_labels=require_labels,
                )
            except DataError as exc:
                on_bad_record(exc)
                continue
            yield page
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types; report them as one line
        raise DataError(
            f"cannot load with datasets: {type(exc).__name__}: {exc}", source=source
        ) from None


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
