"""Pages from Common Crawl WARC and WET files (``.warc``, ``.warc.gz``, ``.wet``, ``.wet.gz``).

Records are parsed with FastWARC and turned into :class:`~bpclf.pages.Page` objects one
at a time, so a multi-gigabyte crawl file streams in bounded memory:

* ``response`` records whose HTTP ``Content-Type`` is HTML (``text/html``,
  ``application/xhtml+xml``; without a Content-Type the payload is sniffed for ``<html``
  or ``<!doctype html`` in its first KB) become pages of the visible HTML lines
  (:func:`~bpclf.html.decode_html` + :func:`~bpclf.html.html_to_text_lines`).
* ``conversion`` records (the extracted text of WET files) become pages of their text
  lines, decoded as UTF-8.
* Every other record (requests, metadata, warcinfo, revisits, images, PDFs, JSON,
  robots.txt, DNS records, ...) is ignored.

Damaged files are the norm at crawl scale (a download cut off, a disk error, a writer
bug), so a broken record costs only itself: it is skipped with one warning that names the
file and the record (its ``WARC-Record-ID`` if it can be read, and its byte offset in the
file - for ``.gz`` files the offset of its gzip member, the offset Common Crawl indexes
use), counted in :class:`WarcStats`, and reading continues with the next readable record.
FastWARC itself cannot continue after a header it cannot parse (the iterator is dead after
the error), and it silently returns short content for truncated records, so this module
adds what is missing on top of it:

* every record is read to its end and its length checked against its ``Content-Length``
  (a truncated record is skipped, never turned into a half page);
* when FastWARC fails, the record read just before the failure is checked in the raw file
  (its header end + ``Content-Length`` must land on the ``\\r\\n\\r\\n`` separator) to tell a
  record with a wrong ``Content-Length`` (skipped: its content is not trustworthy) from
  garbage that follows a good record (the record is kept);
* when FastWARC stops quietly before the end of the file (it does at a gzip member cut
  short), the rest of the file is treated the same way;
* a header that runs into the next record's header (a record cut inside its header),
  which FastWARC merges into one record, is caught by its repeated header lines;
* the reader then resynchronises at the next record start: the next ``WARC/1.0\r\n`` or
  ``WARC/1.1\r\n`` in plain files, the next gzip member that decompresses to one in ``.gz``
  files (Common Crawl writes one gzip member per record), and starts a new FastWARC
  iterator there.

A ``.gz`` file compressed as one single gzip stream (``gzip file.warc``) reads fine, but
after damage inside it nothing more can be recovered: there is no member boundary to
resynchronise at.

HTTP transfer and content encodings (chunked, gzip, deflate, br) are decoded here, not by
FastWARC: its ``auto_decode`` option kills the iterator on a corrupt gzip body (losing all
later records) and, with ``chunked`` + ``gzip``, silently drops the record that follows
(FastWARC 2.0.1).
"""

from __future__ import annotations

import io
import logging
import os
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from bpclf.errors import DataError
from bpclf.html import MARKUP_KEY, decode_html, html_page_lines
from bpclf.pages import Page, split_lines
from bpclf.readers import open_file

__all__ = ["MAX_PAYLOAD_BYTES", "WarcStats", "iter_warc_pages"]

log = logging.getLogger("bpclf")

#: Messages kept in :attr:`WarcStats.errors`, and individual warnings logged per file.
MAX_ERRORS = 20
#: Payloads are read (and decompressed) up to this size; the rest of a larger page is
#: dropped with a warning. Common Crawl truncates payloads far below this anyway.
MAX_PAYLOAD_BYTES = 32 << 20
#: How far into a file the first WARC record is looked for before it is declared not-a-WARC.
_PROBE_BYTES = 1 << 20
_CHUNK = 64 << 10
#: Longest WARC header block looked at when checking a record in the raw file.
_MAX_HEADER = 64 << 10
_SNIFF_BYTES = 1024

_GZIP_MAGIC = b"\x1f\x8b\x08"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_RECORD_START = re.compile(rb"WARC/1\.[01]\r\n")
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$")
_RECORD_ID = re.compile(rb"(?im)^warc-record-id:[ \t]*([^\r\n]*?)[ \t]*\r?$")
_HTML_SNIFF = re.compile(rb"(?i)<html|<!doctype\s+html")
_CHUNK_SIZE_LINE = re.compile(rb"[0-9a-fA-F]+[ \t]*(?:;[^\r\n]*)?\r?\n")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: WARC headers that occur once per record.
_SINGLE_HEADERS = ("warc-type", "warc-record-id", "warc-date", "content-length")


@dataclass
class WarcStats:
    """Counts for one or more WARC/WET files (pass the same object to several calls)."""

    #: Records yielded as pages.
    records: int = 0
    #: Records (or runs of unreadable bytes) skipped because they were broken/undecodable.
    skipped: int = 0
    #: One-line messages of the skipped records (the first :data:`MAX_ERRORS`).
    errors: list[str] = field(default_factory=list)


def iter_warc_pages(path: str, *, stats: WarcStats | None = None) -> Iterator[Page]:
    """Pages of the HTML responses (WARC) or text conversions (WET) of one file, in order.

    ``.gz`` compression is detected from the content, not the name. Page ``id`` is the
    ``WARC-Record-ID``; ``extra`` holds ``url`` (``WARC-Target-URI``) and ``warc_date``
    (``WARC-Date``) when the record has them. Broken records are skipped with a warning and
    counted in ``stats``; a file that cannot be opened or holds no WARC record raises
    :class:`~bpclf.errors.DataError`. Nothing else is raised.
    """
    if stats is None:
        stats = WarcStats()
    path = os.fspath(path)
    fh = open_file(path)
    with fh:
        yield from _WarcFile(path, fh, stats).pages()


class _Broken(Exception):
    """A record that cannot be turned into a page; ``structural`` if the WARC framing around
    it cannot be trusted (FastWARC's iterator must not be used any further)."""

    def __init__(self, message: str, *, structural: bool) -> None:
        super().__init__(message)
        self.structural = structural


def _record_name(record_id: str | None, offset: int) -> str:
    if record_id:
        return f"record {record_id} at byte offset {offset}"
    return f"record at byte offset {offset}"


# A segment is a generator that yields pages and returns where to resume (None: at the end).
_Segment = Generator[Page, None, "int | None"]


class _WarcFile:
    """Reading state of one file: FastWARC iterators plus raw access for resynchronising."""

    def __init__(self, path: str, fh: BinaryIO, stats: WarcStats) -> None:
        self.path = path
        self.fh = fh
        self.stats = stats
        self.gz = False
        self.skipped = 0
        self.warned_utf8 = False

    # --- driver --------------------------------------------------------------------------

    def pages(self) -> Iterator[Page]:
        pos = self._first_record()
        while pos is not None:
            pos = yield from self._segment(pos)
        if self.skipped:
            log.warning("%s: skipped %d broken record(s)", self.path, self.skipped)

    def _first_record(self) -> int | None:
        magic = self._read_at(0, 4)
        if not magic:
            return None  # an empty file holds no records
        if magic.startswith(_ZSTD_MAGIC):
            raise DataError(
                "zstd-compressed files are not supported; decompress the file first",
                source=self.path,
            )
        self.gz = magic.startswith(_GZIP_MAGIC[:2])
        start = self._find_record(0, limit=_PROBE_BYTES)
        if start is None:
            what = "gzip file holds no" if self.gz else "no"
            raise DataError(
                f"not a WARC or WET file: {what} WARC/1.0 or WARC/1.1 record "
                f"in the first {_PROBE_BYTES >> 20} MiB",
                source=self.path,
            )
        if start != self._skip_blank(0):
            self._skip(f"unreadable data at byte offsets 0-{start} before the first record")
        return start

    def _segment(self, pos: int) -> _Segment:
        """Read records with one FastWARC iterator from ``pos`` until the end or a failure.

        A page is yielded only once FastWARC has parsed the header of the next record (or
        reached the end): if it fails there, the page's record may be the broken one.
        """
        self._seek(pos)
        pending: Page | None = None
        last: tuple[int, str | None] | None = None  # offset and id of the last record read
        try:
            records = ArchiveIterator(self.fh, parse_http=False)
        except Exception as err:
            return (yield from self._after_failure(err, None, None, pos))
        while True:
            try:
                record = next(records)
            except StopIteration:
                if self._data_after(last, pos):
                    # FastWARC ends quietly at some damage (e.g. a cut gzip member).
                    err = OSError("FastWARC stopped before the end of the file")
                    return (yield from self._after_failure(err, pending, last, pos))
                if pending is not None:
                    yield self._emit(pending)
                return None
            except Exception as err:  # FastWARC raises OSError for unparsable input
                return (yield from self._after_failure(err, pending, last, pos))
            if pending is not None:
                yield self._emit(pending)
                pending = None
            offset = record.stream_pos
            record_id = record.record_id
            last = (offset, record_id)
            try:
                pending = self._page(record, offset, record_id)
            except _Broken as exc:
                self._skip(f"{_record_name(record_id, offset)}: {exc}")
                if exc.structural:
                    return self._find_record(offset + 1)
            except Exception as exc:  # defensive: nothing but DataError may escape
                self._skip(f"{_record_name(record_id, offset)}: {type(exc).__name__}: {exc}")
                return self._find_record(offset + 1)

    def _after_failure(
        self,
        err: Exception,
        pending: Page | None,
        last: tuple[int, str | None] | None,
        pos: int,
    ) -> _Segment:
        """FastWARC failed after record ``last`` (or at ``pos``): name what is broken, skip
        it, and return where reading resumes."""
        reason = " ".join(str(err).split()) or type(err).__name__
        if last is None:
            end: int | None = pos
        else:
            offset, record_id = last
            consistent, end = self._check_record(offset)
            if not consistent:
                # Its Content-Length does not lead to the record separator: the length is
                # wrong, so the record's content is not trustworthy either.
                self._skip(
                    f"{_record_name(record_id, offset)}: Content-Length does not match the "
                    f"record ({reason})"
                )
                return self._find_record(offset + 1)
            if pending is not None:
                yield self._emit(pending)
            if end is None:  # several records in one gzip member: the end is not known
                self._skip(f"unreadable data after {_record_name(record_id, offset)} ({reason})")
                return self._find_record(offset + 1)
        nxt = self._find_record(end)
        if nxt is not None and nxt == self._skip_blank(end):
            # A record starts where the readable data ends, and FastWARC cannot read it.
            self._skip(f"{_record_name(self._raw_record_id(nxt), nxt)}: {reason}")
            return self._find_record(nxt + 1)
        where = f"{end}-{nxt}" if nxt is not None else f"{end} to the end of the file"
        self._skip(f"unreadable data at byte offsets {where} ({reason})")
        return nxt

    def _data_after(self, last: tuple[int, str | None] | None, pos: int) -> bool:
        """Is there more than blank space after the last record FastWARC read?"""
        if last is None:
            end: int | None = pos
        else:
            consistent, end = self._check_record(last[0])
            if not consistent or end is None:
                return False  # nothing to go by: trust FastWARC
        return self._skip_blank(end) < self._size()

    def _size(self) -> int:
        try:
            return os.fstat(self.fh.fileno()).st_size
        except (OSError, AttributeError, io.UnsupportedOperation):
            try:
                return self.fh.seek(0, os.SEEK_END)
            except OSError as exc:
                raise DataError(f"cannot read file: {exc}", source=self.path) from None

    def _emit(self, page: Page) -> Page:
        self.stats.records += 1
        return page

    def _skip(self, message: str) -> None:
        self.skipped += 1
        self.stats.skipped += 1
        message = " ".join(f"{self.path}: skipped {message}".split())
        if len(self.stats.errors) < MAX_ERRORS:
            self.stats.errors.append(message)
        if self.skipped < MAX_ERRORS:
            log.warning("%s", message)
        elif self.skipped == MAX_ERRORS:
            log.warning("%s (further broken records in this file are only counted)", message)

    # --- one record ----------------------------------------------------------------------

    def _page(self, record: WarcRecord, offset: int, record_id: str | None) -> Page | None:
        """The page of one record, None if it is not a page; raises :class:`_Broken`."""
        names = [name.lower() for name, _ in record.headers.items()]
        for name in _SINGLE_HEADERS:
            if names.count(name) > 1:
                # A header cut short runs into the next record's header, whose lines
                # FastWARC merges into this record.
                raise _Broken(f"repeated {name} header (records run together)", structural=True)
        declared = record.headers.get("Content-Length")
        if declared is None or not declared.strip().isdigit():
            raise _Broken("missing or invalid Content-Length (truncated header?)", structural=True)
        length = record.content_length
        if int(declared) != length:  # FastWARC misread the header (e.g. LF-only lines)
            raise _Broken("malformed header", structural=True)
        rtype = record.record_type
        if rtype == WarcRecordType.no_type:
            # FastWARC drops header lines it cannot parse (no colon) without an error.
            raise _Broken("no WARC-Type header (broken header line?)", structural=False)
        content_type: str | None = None
        http_headers: Any = None
        want_body = False
        if rtype == WarcRecordType.response and record.is_http:
            record.parse_http(auto_decode="none")
            http_headers = record.http_headers
            if not record.is_http or http_headers is None or not record.is_http_parsed:
                raise _Broken("cannot parse the HTTP headers", structural=True)
            content_type = (http_headers.get("Content-Type") or "").strip() or None
            want_body = content_type is None or _mime(content_type) in _HTML_TYPES
        elif rtype == WarcRecordType.conversion:
            want_body = True

        done = length - record.content_length  # bytes of HTTP headers parsed
        body = b""
        oversize = False
        if want_body:
            limit = min(record.content_length, MAX_PAYLOAD_BYTES)
            body = _read_up_to(record.reader, limit)
            done += len(body)
            oversize = record.content_length > MAX_PAYLOAD_BYTES
        done += record.consume()
        if done < length:
            raise _Broken(f"truncated record ({done} of {length} bytes)", structural=True)
        if not want_body:
            return None
        if oversize:
            log.warning(
                "%s: %s: payload larger than %d MiB, only its start is used",
                self.path,
                _record_name(record_id, offset),
                MAX_PAYLOAD_BYTES >> 20,
            )

        if rtype == WarcRecordType.conversion:
            lines = split_lines(self._decode_text(body, record_id, offset))
        else:
            body = _decode_http_payload(body, http_headers)
            if content_type is None and not _HTML_SNIFF.search(body, 0, _SNIFF_BYTES):
                return None
            lines, markup = html_page_lines(decode_html(body, content_type))

        extra: dict[str, Any] = {}
        if rtype != WarcRecordType.conversion:
            extra[MARKUP_KEY] = markup
        url = record.headers.get("WARC-Target-URI")
        if url:
            extra["url"] = url
        date = record.headers.get("WARC-Date")
        if date:
            extra["warc_date"] = date
        page_id = record_id if record_id else f"{self.path}@{offset}"
        return Page(id=page_id, lines=lines, extra=extra)

    def _decode_text(self, body: bytes, record_id: str | None, offset: int) -> str:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            if not self.warned_utf8:
                self.warned_utf8 = True
                log.warning(
                    "%s: %s: invalid UTF-8 replaced by U+FFFD "
                    "(reported for the first such record of the file only)",
                    self.path,
                    _record_name(record_id, offset),
                )
            return body.decode("utf-8", errors="replace")

    # --- raw access for resynchronising --------------------------------------------------

    def _seek(self, pos: int) -> None:
        try:
            self.fh.seek(pos)
        except OSError as exc:
            raise DataError(f"cannot read file: {exc.strerror or exc}", source=self.path) from None

    def _read(self, size: int) -> bytes:
        try:
            return self.fh.read(size)
        except OSError as exc:
            raise DataError(f"cannot read file: {exc.strerror or exc}", source=self.path) from None

    def _read_at(self, pos: int, size: int) -> bytes:
        self._seek(pos)
        return self._read(size)

    def _skip_blank(self, pos: int) -> int:
        """``pos`` moved past CR/LF/space/tab bytes (FastWARC skips them between records)."""
        if self.gz:
            return pos
        while True:
            data = self._read_at(pos, 4096)
            stripped = data.lstrip(b"\r\n \t")
            pos += len(data) - len(stripped)
            if stripped or not data:
                return pos

    def _head_at(self, pos: int, size: int) -> bytes:
        """Up to ``size`` bytes of (decompressed) data starting at ``pos``; for ``.gz`` files
        ``pos`` must be a gzip member start (b"" if no gzip data starts there)."""
        if not self.gz:
            return self._read_at(pos, size)
        self._seek(pos)
        d = zlib.decompressobj(31)
        out = bytearray()
        pending = b""
        try:
            while len(out) < size and not d.eof:
                chunk = self._read(4096) if not pending else b""
                data = pending + chunk
                if not data:
                    break
                out += d.decompress(data, size - len(out))
                pending = d.unconsumed_tail
        except zlib.error:
            pass
        return bytes(out)

    def _raw_record_id(self, pos: int) -> str | None:
        head = self._head_at(pos, 16 << 10)
        end = head.find(b"\r\n\r\n")
        m = _RECORD_ID.search(head, 0, end if end >= 0 else len(head))
        return m.group(1).decode("utf-8", "replace") if m and m.group(1) else None

    def _find_record(self, start: int, *, limit: int | None = None) -> int | None:
        """Offset of the first record start at or after ``start``, None if there is none."""
        if self.gz:
            return self._find_gz_record(start, limit)
        return self._find_plain_record(start, limit)

    def _find_plain_record(self, start: int, limit: int | None) -> int | None:
        # A record start is "WARC/1.x\r\n" anywhere, not only at the start of a line: a
        # record cut short (by an interrupted write, say) lacks its separator.
        base = start
        data = self._read_at(base, _CHUNK)
        keep = len(b"WARC/1.0\r\n") - 1
        while True:
            m = _RECORD_START.search(data)
            if m is not None:
                return base + m.start()
            if limit is not None and base + len(data) >= start + limit:
                return None
            more = self._read(_CHUNK)
            if not more:
                return None
            base += max(len(data) - keep, 0)
            data = data[-keep:] + more

    def _find_gz_record(self, start: int, limit: int | None) -> int | None:
        # A record start is a gzip member that decompresses to "WARC/1.x\r\n...".
        pos = start
        while limit is None or pos < start + limit:
            data = self._read_at(pos, _CHUNK)
            if len(data) < len(_GZIP_MAGIC):
                return None
            i = data.find(_GZIP_MAGIC)
            while i >= 0:
                if _RECORD_START.match(self._head_at(pos + i, 16)):
                    return pos + i
                i = data.find(_GZIP_MAGIC, i + 1)
            pos += len(data) - (len(_GZIP_MAGIC) - 1)
        return None

    def _check_record(self, offset: int) -> tuple[bool, int | None]:
        """Is the record at ``offset`` framed correctly (its ``Content-Length`` leads to the
        ``\\r\\n\\r\\n`` separator)? Also returns the raw offset just past it, None if unknown.
        """
        if self.gz:
            return self._check_gz_record(offset)
        head = self._read_at(offset, _MAX_HEADER)
        header_end = head.find(b"\r\n\r\n")
        if not _RECORD_START.match(head) or header_end < 0:
            return False, None
        m = _CONTENT_LENGTH.search(head, 0, header_end + 2)
        if m is None:
            return False, None
        end = offset + header_end + 4 + int(m.group(1))
        if self._read_at(end, 4) != b"\r\n\r\n":
            return False, None
        return True, end + 4

    def _check_gz_record(self, offset: int) -> tuple[bool, int | None]:
        if not _RECORD_START.match(self._head_at(offset, 16)):
            # No member starts with this record (the file is one gzip stream, say): it
            # cannot be checked, and FastWARC did read it.
            return True, None
        self._seek(offset)
        d = zlib.decompressobj(31)
        head = bytearray()
        total = 0  # decompressed bytes so far
        need: int | None = None  # decompressed size of header + content + separator
        separator = bytearray()
        raw_pos = offset
        while not d.eof:
            chunk = self._read(1 << 16)
            if not chunk:
                return False, None  # the member is truncated
            raw_pos += len(chunk)
            data = chunk
            while data and not d.eof:
                try:
                    out = d.decompress(data, 1 << 16)
                except zlib.error:
                    return False, None
                data = d.unconsumed_tail
                if need is None:
                    head += out[: _MAX_HEADER - len(head)]
                    header_end = head.find(b"\r\n\r\n")
                    if header_end >= 0:
                        m = _CONTENT_LENGTH.search(head, 0, header_end + 2)
                        if not _RECORD_START.match(head) or m is None:
                            return False, None
                        need = header_end + 4 + int(m.group(1)) + 4
                    elif len(head) >= _MAX_HEADER:
                        return False, None
                if need is not None:
                    lo, hi = max(total, need - 4), min(total + len(out), need)
                    if lo < hi:
                        separator += out[lo - total : hi - total]
                total += len(out)
                if need is not None and total > need:
                    # More data in this member: several records per member. The framing
                    # of this one is checked, its end in the raw file is not known.
                    return separator == b"\r\n\r\n", None
        if need is None or total < need or separator != b"\r\n\r\n":
            return False, None
        return True, raw_pos - len(d.unused_data)


# --- HTTP payloads -----------------------------------------------------------------------


def _mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _read_up_to(reader: Any, size: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < size:
        data = reader.read(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _decode_http_payload(body: bytes, headers: Any) -> bytes:
    """Undo ``Transfer-Encoding: chunked`` and ``Content-Encoding`` gzip/deflate/br.

    Common Crawl stores payloads already decoded (and renames these headers), other
    crawlers store them as sent. Payloads that were not really encoded as labelled are
    used as they are; an undecodable payload raises :class:`_Broken`.
    """
    transfer = (headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in transfer:
        body = _dechunk(body)
    encodings = [e.strip().lower() for e in (headers.get("Content-Encoding") or "").split(",")]
    for encoding in reversed([e for e in encodings if e]):
        body = _decompress(body, encoding)
    return body


def _dechunk(body: bytes) -> bytes:
    """Chunked transfer coding removed; stops quietly at a malformed or cut chunk."""
    if not _CHUNK_SIZE_LINE.match(body):
        return body  # labelled chunked but is not
    out = bytearray()
    pos = 0
    while pos < len(body):
        nl = body.find(b"\n", pos)
        if nl < 0:
            break
        try:
            size = int(body[pos:nl].split(b";", 1)[0].strip(), 16)
        except ValueError:
            break
        if size <= 0:
            break
        out += body[nl + 1 : nl + 1 + size]
        pos = nl + 1 + size
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1
    return bytes(out)


def _inflate(body: bytes, wbits: int, name: str) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        # A payload cut by the crawler's size limit decompresses to its start.
        return d.decompress(body, MAX_PAYLOAD_BYTES)
    except zlib.error as exc:
        raise _Broken(f"cannot decompress {name} payload ({exc})", structural=False) from None


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding in ("identity", "none"):
        return body
    if encoding in ("gzip", "x-gzip"):
        if not body.startswith(_GZIP_MAGIC[:2]):
            return body  # labelled gzip but is not (or was decoded by the crawler)
        return _inflate(body, 31, "gzip")
    if encoding == "deflate":
        if len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0:
            return _inflate(body, 15, "deflate")
        return _inflate(body, -15, "deflate")
    if encoding == "br":
        try:
            import brotli  # installed with fastwarc
        except ImportError:  # pragma: no cover
            raise _Broken(
                "cannot decode br payload (brotli not installed)", structural=False
            ) from None
        try:
            return brotli.Decompressor().process(body)[:MAX_PAYLOAD_BYTES]
        except brotli.error as exc:
            raise _Broken(f"cannot decompress br payload ({exc})", structural=False) from None
    raise _Broken(f"unsupported Content-Encoding {encoding!r}", structural=False)
