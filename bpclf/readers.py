"""Finding and reading pages: files, directories, stdin, JSONL, labelled text, datasets.

Every reader yields :class:`~bpclf.pages.Page` objects lazily, in input order, so large
inputs stream. Formats are detected from the file extension and, for text files and
stdin, from the content (JSONL starts with ``{``, labelled text with ``@page``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from bpclf.errors import DataError, UsageError
from bpclf.formats import (
    looks_labelled_text,
    parse_jsonl,
    parse_labelled_text,
    rename_fields,
)
from bpclf.pages import Page, page_from_record, split_lines

INPUT_FORMATS = ("auto", "text", "jsonl", "labeled", "html", "warc", "parquet", "csv", "hf")
_WARC_EXT = {".warc", ".wet", ".arc"}
_HTML_EXT = {".html", ".htm", ".xhtml"}
_JSONL_EXT = {".jsonl", ".ndjson", ".json"}
_DATASETS_EXT = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".arrow": "arrow"}
STDIN = "-"
log = logging.getLogger("bpclf")


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


def _byte_lines(head: bytes, fh: BinaryIO) -> Iterator[bytes]:
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


def _decoded(lines: Iterable[bytes], source: str) -> Iterator[str]:
    """UTF-8 lines; invalid bytes become U+FFFD with one warning per file."""
    warned = False
    for lineno, raw in enumerate(lines, 1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not warned:
                log.warning(
                    "%s:%d: invalid UTF-8 at byte %d of the line; undecodable bytes "
                    "replaced by U+FFFD",
                    source,
                    lineno,
                    exc.start,
                )
                warned = True
            yield raw.decode("utf-8", errors="replace")


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
) -> Iterator[Page]:
    """All pages of all inputs, in order.

    ``require_labels`` makes unlabelled pages an error (training and evaluation);
    ``keep_partial_labels`` makes partly labelled pages an error instead of unlabelled.
    """
    if input_format not in INPUT_FORMATS:
        raise UsageError(
            f"unknown input format {input_format!r}; choose from " + ", ".join(INPUT_FORMATS)
        )
    if input_format == "hf":
        for name in paths:
            yield from read_dataset(
                name,
                None,
                text_field=text_field,
                id_field=id_field,
                split=split,
                require_labels=require_labels,
            )
        return
    for path in expand_paths(paths):
        fmt = input_format
        if fmt == "auto":
            by_name = detect_format(path)  # the extension decides for these formats
            if by_name in (*_DATASETS_EXT.values(), "html", "warc"):
                fmt = by_name
        if fmt == "warc":
            if path == STDIN:
                raise UsageError("WARC input must be a file, not stdin")
            from bpclf.warc import iter_warc_pages

            yield from iter_warc_pages(path)
            continue
        if fmt == "html":
            yield read_html_page(path)
            continue
        if fmt in ("parquet", "csv", "arrow"):
            yield from read_dataset(
                path,
                fmt,
                text_field=text_field,
                id_field=id_field,
                split=split,
                require_labels=require_labels,
            )
            continue
        source = "<stdin>" if path == STDIN else path
        with _open_binary(path) as fh:
            head = fh.read(_HEAD_BYTES)
            if head.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
                head = head[3:]
            if b"\x00" in head[:8192]:
                raise DataError("looks like a binary file (NUL bytes), not text", source=source)
            if fmt == "auto":
                fmt = detect_format(path, head.decode("utf-8", errors="replace"))
            lines = _decoded(_byte_lines(head, fh), source)
            if fmt == "jsonl":
                yield from parse_jsonl(
                    lines,
                    source,
                    require_labels=require_labels,
                    text_field=text_field,
                    id_field=id_field,
                )
            elif fmt == "labeled":
                yield from parse_labelled_text(
                    lines, source, require_labels=require_labels, keep_partial=keep_partial_labels
                )
            elif require_labels:
                raise DataError(
                    "plain text has no labels; use JSONL or labelled text", source=source
                )
            else:
                yield Page(id=source, lines=split_lines("\n".join(lines)))


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
) -> Iterator[Page]:
    """Rows of anything ``datasets`` loads: local parquet/csv/json files or a Hub name.

    Rows are streamed; each row becomes a page from ``lines`` or the ``text_field``
    column, with ``id_field`` as id (row number when absent) and other columns kept.
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
                        line=i + 1,
                    )
                record["text"] = record.pop(text_field)
            record = rename_fields(record, "text", id_field)
            yield page_from_record(
                record,
                source=source,
                line=i + 1,
                default_id=f"{source}:{i + 1}",
                require_labels=require_labels,
            )
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types; report them as one line
        raise DataError(
            f"cannot load with datasets: {type(exc).__name__}: {exc}", source=source
        ) from None
