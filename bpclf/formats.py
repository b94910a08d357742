"""The two labelled-page formats and their conversion.

JSONL: one JSON object per line (``id``, ``lines``, ``boilerplate``, optional ``lang``,
``source`` and any other keys, which are kept).

Labelled text, for people who label in an editor::

    # comments start with '#'
    @page {"id": "page-1", "lang": "en"}
    C	An article paragraph.
    B 0.97	Share on Facebook

A page starts with ``@page`` and a JSON object holding its id and other keys. Every
following line is a marker, a TAB, then the line's text verbatim. Markers: ``C`` content,
``B`` boilerplate, ``?`` not labelled yet; an optional probability after the marker is
shown for the labeller and ignored when reading. A ``j`` after the marker (``Cj``, ``Bj``)
means the text is a JSON string literal: used only for lines that contain line breaks,
so both formats convert into each other without loss.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn

import numpy as np
import orjson

from bpclf.errors import DataError
from bpclf.kernels import has_unsafe_utf8
from bpclf.pages import RESERVED_KEYS, Page, check_labels, page_from_record

log = logging.getLogger("bpclf")

PAGE_HEADER = "@page "
MARKERS = {"C": 0, "B": 1, "?": None}
_LABEL_MARK = {0: "C", 1: "B", None: "?"}
#: Characters that some reader or editor treats as a line break, other control characters
#: (a NUL would make the file look binary) and lone surrogates (not encodable as UTF-8):
#: lines with any of them are written in the escaped (JSON) form.
_BREAKS = re.compile("[\x00-\x08\n-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")
_COMPACT = (",", ":")

#: What a parser does with a bad record: raise (stop the run) or report it and go on.
OnBadRecord = Callable[[DataError], None]


def stop_on_bad_record(error: DataError) -> NoReturn:
    """The default policy: the first bad record stops the run with its one-line error."""
    raise error from None


def loads(raw: str) -> Any:
    """Parse one JSON document: orjson when it can, else the standard library.

    orjson refuses a few things ``json`` accepts (lone-surrogate escapes, NaN, integers
    beyond 64 bits); those documents go through ``json.loads``, so both accept the same
    documents and the errors are the standard library's.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dumps(obj: Any, *, spaced: bool = False) -> str:
    """JSON, always encodable as UTF-8 and always one line for any line splitter.

    Compact by default, written by orjson (several times faster than ``json``); what
    orjson refuses (lone surrogates, integers beyond 64 bits, non-string keys) and the
    ``spaced`` form (``{"id": "a"}``, for files people edit) are written by ``json``,
    with ASCII escapes when there are lone surrogates. DEL, C1 controls and the Unicode
    line and paragraph separators (which ``str.splitlines`` treats as line breaks) are
    escaped.
    """
    if not spaced:
        with contextlib.suppress(TypeError):
            return _escaped(orjson.dumps(obj))
    separators = (", ", ": ") if spaced else _COMPACT
    text = json.dumps(obj, ensure_ascii=False, separators=separators)
    if _SURROGATE.search(text):
        return json.dumps(obj, separators=separators)
    return _escape_unsafe(text)


def dumps_lines(objs: Sequence[Any], *, arrays: bool = False) -> bytes:
    """The UTF-8 of ``dumps(obj) + "\\n"`` for every object, joined (a batch of output
    records): one test for characters to escape for all of them, and no decoding.

    ``arrays``: the objects' values may be 1-D numpy arrays of numbers, written as the
    lists they hold (by orjson directly: converting them to lists of Python numbers
    first cost more than writing them)."""
    try:
        option = orjson.OPT_SERIALIZE_NUMPY if arrays else 0
        parts = [orjson.dumps(obj, option=option) for obj in objs]
    except TypeError:
        if arrays:
            objs = [_listed(obj) for obj in objs]
        return "".join(dumps(obj) + "\n" for obj in objs).encode("utf-8")
    parts.append(b"")
    data = b"\n".join(parts)
    if not _has_unsafe(data):
        return data
    return "".join(_escaped(part) + "\n" for part in parts[:-1]).encode("utf-8")


def _listed(obj: Any) -> Any:
    """A record with its numpy array values as lists (for the ``json`` fallback)."""
    if not isinstance(obj, dict):
        return obj
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in obj.items()}


def _escaped(data: bytes) -> str:
    """orjson's UTF-8 output as text, with the characters :func:`dumps` escapes escaped."""
    text = data.decode("utf-8")
    return _escape_unsafe(text) if _has_unsafe(data) else text


def _has_unsafe(data: bytes) -> bool:
    """Whether valid UTF-8 ``data`` holds DEL, a C1 control, U+2028 or U+2029
    (:func:`bpclf.kernels.has_unsafe_utf8`: one compiled pass over the bytes)."""
    return bool(has_unsafe_utf8(np.frombuffer(data, dtype=np.uint8)))


def _escape_unsafe(text: str) -> str:
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def printable(line: str) -> str:
    """Text for plain-text output: lone surrogates become U+FFFD.

    Whether there are any is asked of the string's ASCII flag, then of the UTF-8
    encoder (which refuses only lone surrogates): both run at C speed, a regex search
    for the surrogate range took ~4x as long as encoding.
    """
    if line.isascii():
        return line
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", line)
    return line


class LineDecoder:
    """Decodes UTF-8 lines: undecodable bytes become U+FFFD, and the first line with any
    is reported to ``on_invalid(line, byte)`` (once: one warning per input)."""

    def __init__(self, on_invalid: Callable[[int, int], None] | None) -> None:
        self._report = on_invalid

    def __call__(self, raw: bytes, lineno: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self._report is not None:
                self._report(lineno, exc.start)
                self._report = None
            return raw.decode("utf-8", errors="replace")


# -- JSONL --------------------------------------------------------------------------------
def parse_jsonl(
    text: str | Iterable[str] | Iterable[bytes],
    source: str,
    *,
    require_labels: bool = False,
    text_field: str = "text",
    id_field: str = "id",
    on_bad_record: OnBadRecord = stop_on_bad_record,
    start: int = 1,
    on_invalid: Callable[[int, int], None] | None = None,
) -> Iterator[Page]:
    """Pages of a JSONL document; blank lines are skipped, bad lines go to ``on_bad_record``.

    ``text_field`` / ``id_field`` name the keys holding the page text and id when they
    are not ``text`` / ``id``. ``on_bad_record`` raises by default; a policy that returns
    instead skips the line (each line is one record, so the next one is unaffected).

    Lines may also be UTF-8 bytes (a shard of a file, bpclf.parallel): orjson parses
    them as they are, which is much faster than decoding the text first, and checks
    the UTF-8 as it goes. Only a line it refuses is decoded; undecodable bytes become
    U+FFFD and the first such line is reported to ``on_invalid(line, byte)``.
    """
    lines = text.split("\n") if isinstance(text, str) else text
    as_text = LineDecoder(on_invalid)

    for lineno, raw in enumerate(lines, start):
        if not raw.strip():
            continue
        try:
            if isinstance(raw, bytes):
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raw = as_text(raw, lineno)
                    if not raw.strip():  # Unicode spaces only: blank, as in text
                        continue
                    record = loads(raw)
            else:
                record = loads(raw)
            if isinstance(record, dict):
                record = rename_fields(record, text_field, id_field)
            page = page_from_record(
                record,
                source=source,
                line=lineno,
                default_id=f"{source}:{lineno}",
                require_labels=require_labels,
            )
        except DataError as exc:
            on_bad_record(exc)
            continue
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge ints, deep nesting
            on_bad_record(_json_error(exc, source, lineno))
            continue
        yield page


def _json_error(exc: Exception, source: str, lineno: int) -> DataError:
    """The one-line error for a line ``json.loads`` refused."""
    if isinstance(exc, json.JSONDecodeError):
        what = f"{exc.msg} (column {exc.colno})"
    elif isinstance(exc, RecursionError):
        what = "nested too deeply"
    else:
        what = str(exc)
    return DataError(f"malformed JSON: {what}", source=source, line=lineno)


def rename_fields(record: dict[str, Any], text_field: str, id_field: str) -> dict[str, Any]:
    """Map user-named text/id keys onto ``text`` / ``id``, losing nothing.

    The id column is copied (``--id-field url`` keeps ``url`` in the output) and an
    existing ``id`` key is kept as ``input_id``.
    """
    if text_field != "text" and text_field in record and "lines" not in record:
        record = dict(record)
        record["text"] = record.pop(text_field)
    if id_field != "id" and id_field in record:
        record = dict(record)
        if "id" in record:
            record["input_id"] = record["id"]
        record["id"] = record[id_field]
    return record


#: Decimal digits of the probabilities in JSONL output.
PROBA_DIGITS = 4


def page_json(page: Page, proba: Iterable[float] | None = None, digits: int = PROBA_DIGITS) -> str:
    """One JSONL line for a page (with ``boilerplate_proba`` when given)."""
    record: dict[str, Any] = page.to_record()
    if proba is not None:
        record["boilerplate_proba"] = np.round(np.asarray(proba, dtype=np.float64), digits).tolist()
    return dumps(record)


# -- labelled text ------------------------------------------------------------------------
def format_labelled(
    page: Page, labels: Iterable[int] | None = None, proba: Iterable[float] | None = None
) -> str:
    """A page in the labelled-text format (``labels`` default to the page's own)."""
    header = {"id": page.id}
    if page.lang is not None:
        header["lang"] = page.lang
    if page.source is not None:
        header["source"] = page.source
    header.update({k: v for k, v in page.extra.items() if k not in RESERVED_KEYS})
    out = [PAGE_HEADER + dumps(header, spaced=True)]
    labs = list(labels) if labels is not None else page.labels
    probs = list(proba) if proba is not None else None
    for i, line in enumerate(page.lines):
        mark = _LABEL_MARK[None if labs is None else int(labs[i])]
        if probs is not None:
            mark += f" {float(probs[i]):.2f}"
        if _BREAKS.search(line):
            mark = mark[0] + "j" + mark[1:]
            line = dumps(line)
        out.append(f"{mark}\t{line}")
    return "\n".join(out) + "\n"


def _parse_marker(token: str, source: str, lineno: int) -> tuple[int | None, bool]:
    parts = token.split()
    head = parts[0] if parts else ""
    escaped = len(head) == 2 and head[1] in "jJ"
    key = head[:1].upper() if len(head) in (1, 2) and (len(head) == 1 or escaped) else None
    if key not in MARKERS or len(parts) > 2:
        raise DataError(
            f"expected a marker C, B or ? before the TAB, got {token[:20]!r}",
            source=source,
            line=lineno,
        )
    if len(parts) == 2:
        try:
            float(parts[1])
        except ValueError:
            raise DataError(
                f"bad probability {parts[1]!r} after the marker", source=source, line=lineno
            ) from None
    return MARKERS[key], escaped


def parse_labelled_text(
    text: str | Iterable[str],
    source: str,
    *,
    require_labels: bool = False,
    keep_partial: bool = False,
    on_bad_record: OnBadRecord = stop_on_bad_record,
) -> Iterator[Page]:
    """Pages of a labelled-text document.

    A page with some ``?`` lines has no usable labels: training refuses it, prediction
    ignores labels anyway, and with ``keep_partial`` (conversion) it is an error rather
    than silently losing the labels already given. A bad page goes to ``on_bad_record``
    (raises by default); when that returns, the rest of the page block up to the next
    ``@page`` line is skipped, since its lines cannot be attributed to any other page.
    """
    page: Page | None = None
    labels: list[int | None] = []
    header_line = 0
    skipping = False  # inside a bad page block: ignore lines up to the next header

    def finish() -> Page | None:
        if page is None:
            return None
        try:
            return _finish_page(page, labels, header_line, source, require_labels, keep_partial)
        except DataError as exc:
            on_bad_record(exc)
            return None

    lines = text.split("\n") if isinstance(text, str) else text
    for lineno, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith(PAGE_HEADER.strip()):
            done = finish()
            if done is not None:
                yield done
            page, labels, header_line, skipping = None, [], lineno, False
            try:
                header = _parse_header(line, source, lineno)
                page = page_from_record({**header, "lines": []}, source=source, line=lineno)
            except DataError as exc:
                on_bad_record(exc)
                skipping = True
            continue
        if skipping or not line.strip() or line.startswith("#"):
            continue
        try:
            if page is None:
                raise DataError("text before the first '@page' header", source=source, line=lineno)
            body, label = _parse_line(line, source, lineno)
        except DataError as exc:
            on_bad_record(exc)
            page, skipping = None, True
            continue
        page.lines.append(body)
        labels.append(label)
    done = finish()
    if done is not None:
        yield done


def _finish_page(
    page: Page,
    labels: list[int | None],
    header_line: int,
    source: str,
    require_labels: bool,
    keep_partial: bool,
) -> Page:
    """The page with its labels checked (``None`` when it has ``?`` lines)."""
    if any(v is None for v in labels):
        if keep_partial and any(v is not None for v in labels):
            idx = labels.index(None)
            raise DataError(
                "page mixes labelled lines and '?' lines; finish labelling it (or mark "
                "every line '?') before converting, so no label is lost",
                source=source,
                line=header_line + idx + 1,
                page=page.id,
            )
        if require_labels:
            idx = labels.index(None)
            raise DataError(
                f"line {idx + 1} of the page has no label (marker '?')",
                source=source,
                line=header_line + idx + 1,
                page=page.id,
            )
        page.labels = None
    else:
        page.labels = check_labels(
            labels, len(page.lines), source=source, line=header_line, page=page.id
        )
    return page


def _parse_line(line: str, source: str, lineno: int) -> tuple[str, int | None]:
    """The text and label of one ``MARKER<TAB>text`` line."""
    marker, sep, body = line.partition("\t")
    label, escaped = _parse_marker(marker, source, lineno)
    if escaped:
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, str):
            raise DataError(
                "escaped line ('j' marker) is not a JSON string", source=source, line=lineno
            )
    return (body if sep else ""), label


def _parse_header(line: str, source: str, lineno: int) -> dict[str, Any]:
    rest = line[len(PAGE_HEADER.strip()) :].strip()
    try:
        header = json.loads(rest)
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or "id" not in header:
        raise DataError(
            "'@page' must be followed by a JSON object with an \"id\"", source=source, line=lineno
        )
    if "lines" in header or "boilerplate" in header:
        raise DataError(
            "'@page' header must not contain 'lines' or 'boilerplate'", source=source, line=lineno
        )
    return header


def looks_labelled_text(text: str) -> bool:
    """True when the first non-comment, non-blank line is an ``@page`` header."""
    for line in text.split("\n", 200)[:200]:
        if not line.strip() or line.startswith("#"):
            continue
        return line.startswith(PAGE_HEADER + "{")
    return False
