"""Finding and reading pages: files, directories, stdin, JSONL, labelled text, datasets.

Every reader yields :class:`~bpclf.pages.Page` objects lazily, in input order, so large
inputs stream. Formats are detected from the file extension and, for text files and
stdin, from the content (JSONL starts with ``{``, labelled text with ``@page``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from bpclf.errors import DataError, UsageError
from bpclf.formats import (
    decode_bytes,
    looks_labelled_text,
    parse_jsonl,
    parse_labelled_text,
    read_bytes,
)
from bpclf.pages import Page, page_from_record, split_lines

INPUT_FORMATS = ("auto", "text", "jsonl", "labeled", "parquet", "csv", "hf")
_JSONL_EXT = {".jsonl", ".ndjson", ".json"}
_DATASETS_EXT = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".arrow": "arrow"}
STDIN = "-"


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


def _read_source(path: str) -> str:
    if path == STDIN:
        return decode_bytes(sys.stdin.buffer.read(), "<stdin>")
    data = read_bytes(path)
    if b"\x00" in data[:8192]:
        raise DataError("looks like a binary file (NUL bytes), not text", source=path)
    return decode_bytes(data, path)


def detect_format(path: str, text: str | None = None) -> str:
    """The format of ``path`` from its extension, or from its content for text/stdin."""
    suffix = Path(path).suffix.lower() if path != STDIN else ""
    if suffix in _JSONL_EXT:
        return "jsonl"
    if suffix in _DATASETS_EXT:
        return _DATASETS_EXT[suffix]
    if text is None:
        return "text"
    head = text.lstrip()[:1]
    if head == "{":
        return "jsonl"
    if looks_labelled_text(text):
        return "labeled"
    return "text"


def read_pages(
    paths: Sequence[str],
    *,
    input_format: str = "auto",
    require_labels: bool = False,
    text_field: str = "text",
    id_field: str = "id",
    split: str = "train",
) -> Iterator[Page]:
    """All pages of all inputs, in order.

    ``require_labels`` makes unlabelled pages an error (training and evaluation).
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
        if fmt == "auto" and detect_format(path) in _DATASETS_EXT.values():
            fmt = detect_format(path)
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
        text = _read_source(path)
        if fmt == "auto":
            fmt = detect_format(path, text)
        source = "<stdin>" if path == STDIN else path
        if fmt == "jsonl":
            yield from parse_jsonl(
                text,
                source,
                require_labels=require_labels,
                text_field=text_field,
                id_field=id_field,
            )
        elif fmt == "labeled":
            yield from parse_labelled_text(text, source, require_labels=require_labels)
        else:
            if require_labels:
                raise DataError(
                    "plain text has no labels; use JSONL or labelled text", source=source
                )
            yield Page(id=source, lines=split_lines(text))


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
            if id_field != "id" and id_field in record:
                record["id"] = record.pop(id_field)
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
