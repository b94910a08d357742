"""WARC/WET reading: records written by hand, including broken, truncated and non-WARC files."""

from __future__ import annotations

import gzip
import io
import itertools
import logging
import random
import zlib
from pathlib import Path

import brotli
import pytest

import bpclf.warc as warc
from bpclf.errors import DataError
from bpclf.warc import WarcStats, iter_warc_pages

DATE = "2024-03-01T12:00:00Z"


# --- building WARC files -------------------------------------------------------------------


def record(
    warc_type: str,
    content: bytes,
    *,
    rid: str,
    uri: str | None = None,
    content_type: str | None = None,
    content_length: int | None = None,
    version: bytes = b"WARC/1.0",
) -> bytes:
    """One WARC record: header lines, blank line, content, ``\\r\\n\\r\\n``."""
    lines = [version, b"WARC-Type: " + warc_type.encode(), b"WARC-Record-ID: " + rid.encode()]
    lines.append(b"WARC-Date: " + DATE.encode())
    if uri is not None:
        lines.append(b"WARC-Target-URI: " + uri.encode())
    if content_type is not None:
        lines.append(b"Content-Type: " + content_type.encode())
    length = len(content) if content_length is None else content_length
    lines.append(b"Content-Length: " + str(length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + content + b"\r\n\r\n"


def http_message(
    body: bytes, headers: dict[str, str] | None = None, status: str = "200 OK"
) -> bytes:
    head = [f"HTTP/1.1 {status}".encode()]
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}".encode("latin-1"))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def response(
    body: bytes,
    *,
    rid: str,
    uri: str = "http://example.com/",
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
) -> bytes:
    hdrs = {} if content_type is None else {"Content-Type": content_type}
    hdrs.update(headers or {})
    return record(
        "response",
        http_message(body, hdrs),
        rid=rid,
        uri=uri,
        content_type="application/http; msgtype=response",
        content_length=content_length,
    )


def request(rid: str, uri: str = "http://example.com/") -> bytes:
    msg = b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n"
    return record(
        "request", msg, rid=rid, uri=uri, content_type="application/http; msgtype=request"
    )


def metadata(rid: str, uri: str = "http://example.com/") -> bytes:
    return record(
        "metadata",
        b"fetchTimeMs: 120\r\n",
        rid=rid,
        uri=uri,
        content_type="application/warc-fields",
    )


def warcinfo(rid: str = "<urn:uuid:info>") -> bytes:
    return record(
        "warcinfo",
        b"software: handmade\r\nformat: WARC File Format 1.0\r\n",
        rid=rid,
        content_type="application/warc-fields",
    )


def conversion(text: bytes, *, rid: str, uri: str = "http://example.com/") -> bytes:
    return record("conversion", text, rid=rid, uri=uri, content_type="text/plain")


def html(*paragraphs: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<!DOCTYPE html><html><head><title>T</title></head><body>{body}</body></html>".encode()


def page_record(n: int) -> bytes:
    return response(
        html(f"Paragraph number {n}."), rid=f"<urn:uuid:{n}>", uri=f"http://example.com/{n}"
    )


def gz_members(records: list[bytes]) -> bytes:
    """Each record its own gzip member, as Common Crawl writes .warc.gz files."""
    return b"".join(gzip.compress(r) for r in records)


def write(tmp_path: Path, name: str, records: list[bytes]) -> str:
    path = tmp_path / name
    data = gz_members(records) if name.endswith(".gz") else b"".join(records)
    path.write_bytes(data)
    return str(path)


def read(path: str) -> tuple[list, WarcStats]:
    stats = WarcStats()
    return list(iter_warc_pages(path, stats=stats)), stats


@pytest.fixture
def warnings_log(caplog):
    """Capture bpclf warnings even if the CLI has turned off propagation to the root logger."""
    logger = logging.getLogger("bpclf")
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # caplog's handler sits on the root logger too: no duplicates
    caplog.clear()
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(old_level)
    logger.propagate = old_propagate


def warning_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# --- normal files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz"])
def test_html_response_becomes_a_page(tmp_path, name):
    records = [
        warcinfo(),
        request("<urn:uuid:req-1>", "http://example.com/news"),
        response(
            html("Home", "The council approved the new budget on Monday."),
            rid="<urn:uuid:resp-1>",
            uri="http://example.com/news",
        ),
        metadata("<urn:uuid:meta-1>", "http://example.com/news"),
    ]
    pages, stats = read(write(tmp_path, name, records))
    assert len(pages) == 1
    page = pages[0]
    assert page.id == "<urn:uuid:resp-1>"
    assert page.lines == ["Home", "The council approved the new budget on Monday."]
    assert _meta(page) == {"url": "http://example.com/news", "warc_date": DATE}
    assert page.source is None and page.lang is None and page.labels is None
    assert stats == WarcStats(records=1, skipped=0, errors=[])


def test_gzip_is_detected_from_the_content_not_the_name(tmp_path):
    path = tmp_path / "crawl.warc"  # gzipped, but named like a plain file
    path.write_bytes(gz_members([page_record(1), page_record(2)]))
    pages, _ = read(str(path))
    assert [p.id for p in pages] == ["<urn:uuid:1>", "<urn:uuid:2>"]


def test_a_file_gzipped_as_one_stream_is_read(tmp_path):
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(gzip.compress(b"".join(page_record(i) for i in range(3))))
    pages, stats = read(str(path))
    assert [p.lines for p in pages] == [[f"Paragraph number {i}."] for i in range(3)]
    assert stats.skipped == 0


def test_damage_inside_a_file_gzipped_as_one_stream_loses_the_rest(tmp_path):
    """Documented limit: without member boundaries there is nowhere to resynchronise."""
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(gzip.compress(page_record(0) + b"garbage\r\n\r\n" + page_record(1)))
    pages, stats = read(str(path))
    assert [p.id for p in pages] == ["<urn:uuid:0>"]
    assert stats.skipped == 1 and "after record <urn:uuid:0>" in stats.errors[0]


def test_non_html_responses_and_other_records_are_ignored(tmp_path):
    records = [
        warcinfo(),
        request("<urn:uuid:q1>"),
        response(
            b"\x89PNG\r\n\x1a\n" + bytes(range(256)), rid="<urn:uuid:png>", content_type="image/png"
        ),
        response(
            b"%PDF-1.4 <html> not really", rid="<urn:uuid:pdf>", content_type="application/pdf"
        ),
        response(b'{"html": "<html>"}', rid="<urn:uuid:json>", content_type="application/json"),
        response(
            b"User-agent: *\nDisallow: /\n",
            rid="<urn:uuid:robots>",
            content_type="text/plain",
            uri="http://example.com/robots.txt",
        ),
        response(b"\x00\x01binary", rid="<urn:uuid:untyped-binary>", content_type=None),
        record(
            "response",
            b"example.com. 300 IN A 93.184.216.34\n",
            rid="<urn:uuid:dns>",
            uri="dns:example.com",
            content_type="text/dns",
        ),
        record(
            "resource",
            html("A resource record."),
            rid="<urn:uuid:resource>",
            content_type="text/html",
        ),
        record(
            "revisit",
            http_message(b"", {"Content-Type": "text/html"}),
            rid="<urn:uuid:revisit>",
            content_type="application/http; msgtype=response",
        ),
        metadata("<urn:uuid:m1>"),
        response(html("The only page."), rid="<urn:uuid:page>"),
    ]
    pages, stats = read(write(tmp_path, "mixed.warc.gz", records))
    assert [p.id for p in pages] == ["<urn:uuid:page>"]
    assert stats == WarcStats(records=1, skipped=0, errors=[])


@pytest.mark.parametrize(
    ("content_type", "body", "is_page"),
    [
        ("text/html", html("Plain text/html."), True),
        ("TEXT/HTML; Charset=UTF-8", html("Upper case type."), True),
        ("application/xhtml+xml", html("XHTML page."), True),
        (None, b"  <HTML><body><p>Sniffed page.</p></body></HTML>", True),
        (None, b"<!doctype html><p>Sniffed doctype.</p>", True),
        ("", html("Empty type is sniffed."), True),
        (None, b"just some text, no markup" + b" " * 2000 + b"<html>", False),  # <html beyond 1 KB
        ("text/plain", html("Text/plain is not HTML even if it looks like it."), False),
    ],
)
def test_html_detection(tmp_path, content_type, body, is_page):
    pages, _ = read(
        write(tmp_path, "t.warc", [response(body, rid="<urn:x>", content_type=content_type)])
    )
    assert len(pages) == int(is_page)


def test_error_and_redirect_pages_are_pages_too(tmp_path):
    msg = http_message(
        b"<html><body><p>Not found</p></body></html>",
        {"Content-Type": "text/html"},
        status="404 Not Found",
    )
    rec = record(
        "response",
        msg,
        rid="<urn:404>",
        uri="http://example.com/x",
        content_type="application/http; msgtype=response",
    )
    pages, _ = read(write(tmp_path, "t.warc", [rec]))
    assert [p.lines for p in pages] == [["Not found"]]


def test_latin1_html_is_decoded_with_the_charset_of_the_http_header(tmp_path):
    body = "<html><body><p>Café au lait, crème brûlée, Straße</p></body></html>".encode("latin-1")
    rec = response(body, rid="<urn:latin1>", content_type="text/html; charset=ISO-8859-1")
    pages, _ = read(write(tmp_path, "t.warc.gz", [rec]))
    assert pages[0].lines == ["Café au lait, crème brûlée, Straße"]


def test_record_without_optional_headers(tmp_path):
    msg = http_message(html("No URI."), {"Content-Type": "text/html"})
    raw = (
        b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:bare>\r\n"
        b"Content-Type: application/http; msgtype=response\r\n"
        b"Content-Length: " + str(len(msg)).encode() + b"\r\n\r\n" + msg + b"\r\n\r\n"
    )
    pages, _ = read(write(tmp_path, "t.warc", [raw]))
    assert pages[0].id == "<urn:bare>"
    assert _meta(pages[0]) == {}


def test_record_without_id_gets_a_file_and_offset_id(tmp_path):
    rec = page_record(1).replace(b"WARC-Record-ID: <urn:uuid:1>\r\n", b"")
    path = write(tmp_path, "t.warc", [page_record(0), rec])
    pages, _ = read(path)
    assert pages[1].id == f"{path}@{len(page_record(0))}"


# --- HTTP payload encodings --------------------------------------------------------------------


def chunked(data: bytes, size: int = 50) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        part = data[i : i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


BODY = html(
    "Compressed text that is long enough to span several chunks of the chunked transfer coding."
)
LINES = [
    "Compressed text that is long enough to span several chunks of the chunked transfer coding."
]


@pytest.mark.parametrize(
    ("payload", "headers"),
    [
        (gzip.compress(BODY), {"Content-Encoding": "gzip"}),
        (
            chunked(gzip.compress(BODY)),
            {"Content-Encoding": "gzip", "Transfer-Encoding": "chunked"},
        ),
        (chunked(BODY), {"Transfer-Encoding": "chunked"}),
        (zlib.compress(BODY), {"Content-Encoding": "deflate"}),
        (
            zlib.compress(BODY)[2:-4],
            {"Content-Encoding": "deflate"},
        ),  # raw deflate, as some servers send
        (brotli.compress(BODY), {"Content-Encoding": "br"}),
        (gzip.compress(brotli.compress(BODY)), {"Content-Encoding": "br, gzip"}),
        (BODY, {"Content-Encoding": "gzip"}),  # labelled gzip but stored decoded (Common Crawl)
        (BODY, {"Transfer-Encoding": "chunked"}),  # labelled chunked but stored decoded
        (BODY, {"Content-Encoding": "identity"}),
    ],
)
def test_http_encodings_are_decoded(tmp_path, payload, headers):
    rec = response(payload, rid="<urn:enc>", headers=headers)
    # The record after it must survive: FastWARC's own auto_decode loses it for chunked+gzip.
    pages, stats = read(write(tmp_path, "t.warc.gz", [rec, page_record(2)]))
    assert [p.id for p in pages] == ["<urn:enc>", "<urn:uuid:2>"]
    assert pages[0].lines == LINES
    assert stats.skipped == 0


def test_gzip_payload_cut_by_the_crawler_keeps_its_start(tmp_path):
    body = html("First paragraph of a long page.", "x" * 5000, "Last paragraph.")
    payload = gzip.compress(body)[:200]
    pages, stats = read(
        write(
            tmp_path,
            "t.warc",
            [response(payload, rid="<urn:cut>", headers={"Content-Encoding": "gzip"})],
        )
    )
    assert pages[0].lines[0] == "First paragraph of a long page."
    assert stats.skipped == 0


@pytest.mark.parametrize(
    ("payload", "headers", "reason"),
    [
        (
            gzip.compress(BODY)[:20] + b"\xff" * 20 + gzip.compress(BODY)[40:],
            {"Content-Encoding": "gzip"},
            "cannot decompress gzip",
        ),
        (b"\x00garbage", {"Content-Encoding": "br"}, "cannot decompress br"),
        (BODY, {"Content-Encoding": "x-unknown"}, "unsupported Content-Encoding 'x-unknown'"),
    ],
)
def test_undecodable_payload_is_skipped_and_counted(
    tmp_path, warnings_log, payload, headers, reason
):
    rec = response(payload, rid="<urn:bad-enc>", headers=headers)
    path = write(tmp_path, "t.warc.gz", [page_record(1), rec, page_record(3)])
    pages, stats = read(path)
    assert [p.id for p in pages] == ["<urn:uuid:1>", "<urn:uuid:3>"]
    assert stats.skipped == 1 and len(stats.errors) == 1
    assert (
        reason in stats.errors[0] and "<urn:bad-enc>" in stats.errors[0] and path in stats.errors[0]
    )
    assert f"{path}: skipped 1 broken record(s)" in warning_lines(warnings_log)


# --- WET files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["crawl.wet", "crawl.wet.gz"])
def test_wet_conversion_records(tmp_path, name):
    records = [
        warcinfo(),
        conversion(
            b"Titel\nDer Ausschuss hat beraten.\r\nZweite Zeile\n",
            rid="<urn:wet-1>",
            uri="http://example.de/a",
        ),
        conversion(b"", rid="<urn:wet-2>", uri="http://example.de/empty"),
        conversion(b"one line only", rid="<urn:wet-3>", uri="http://example.de/b"),
    ]
    pages, stats = read(write(tmp_path, name, records))
    assert [p.id for p in pages] == ["<urn:wet-1>", "<urn:wet-2>", "<urn:wet-3>"]
    assert pages[0].lines == ["Titel", "Der Ausschuss hat beraten.", "Zweite Zeile"]
    assert _meta(pages[0]) == {"url": "http://example.de/a", "warc_date": DATE}
    assert pages[1].lines == []
    assert pages[2].lines == ["one line only"]
    assert stats == WarcStats(records=3, skipped=0, errors=[])


def test_wet_invalid_utf8_is_replaced_with_one_warning_per_file(tmp_path, warnings_log):
    records = [
        conversion(b"caf\xe9 one", rid="<urn:w1>"),
        conversion(b"caf\xe9 two", rid="<urn:w2>"),
        conversion("café three".encode(), rid="<urn:w3>"),
    ]
    path = write(tmp_path, "t.wet.gz", records)
    pages, stats = read(path)
    assert [p.lines for p in pages] == [["caf\ufffd one"], ["caf\ufffd two"], ["café three"]]
    assert stats.skipped == 0
    warnings = warning_lines(warnings_log)
    assert len(warnings) == 1
    assert path in warnings[0] and "<urn:w1>" in warnings[0] and "UTF-8" in warnings[0]


# --- broken files ---------------------------------------------------------------------------

GOOD_BEFORE = page_record(1)
GOOD_AFTER = page_record(3)
MIDDLE_HTTP = http_message(html("Middle."), {"Content-Type": "text/html"})


def broken_records() -> dict[str, bytes]:
    """Replacements for the middle record of a three-record file."""
    middle = page_record(2)
    return {
        # Content-Length too short: the rest of the content is read as the next header.
        "content-length too short": record(
            "response",
            MIDDLE_HTTP,
            rid="<urn:uuid:2>",
            content_type="application/http; msgtype=response",
            content_length=60,
        ),
        # Content-Length too long: the record swallows the start of the next one.
        "content-length too long": record(
            "response",
            MIDDLE_HTTP,
            rid="<urn:uuid:2>",
            content_type="application/http; msgtype=response",
            content_length=len(MIDDLE_HTTP) + 60,
        ),
        "content-length not a number": middle.replace(b"Content-Length: ", b"Content-Length: x", 1),
        "broken version line": middle.replace(b"WARC/1.0", b"WARX/1.0", 1),
        "header line without colon": middle.replace(
            b"WARC-Type: response", b"WARC-Type response", 1
        ),
        # An interrupted write: the record ends early, the next one follows directly.
        "record cut inside its header": middle[:70],
        "record cut inside its content": middle[:-40],
        "garbage instead of a record": b"\x00\x01 this is not a WARC record \xff\xfe\r\n\r\n",
        "garbage after a record": middle + b"some garbage that FastWARC cannot parse\r\n",
    }


@pytest.mark.parametrize("kind", list(broken_records()))
@pytest.mark.parametrize("name", ["t.warc", "t.warc.gz"])
def test_broken_record_in_the_middle_costs_only_itself(tmp_path, warnings_log, name, kind):
    middle = broken_records()[kind]
    path = write(tmp_path, name, [GOOD_BEFORE, middle, GOOD_AFTER])
    pages, stats = read(path)
    ids = [p.id for p in pages]
    assert ids[0] == "<urn:uuid:1>" and ids[-1] == "<urn:uuid:3>"
    if kind == "garbage after a record":
        # The record itself is intact (its Content-Length leads to the separator): kept.
        assert ids == ["<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:3>"]
    else:
        assert ids == ["<urn:uuid:1>", "<urn:uuid:3>"]
    assert stats.skipped == 1
    assert stats.records == len(ids)
    assert len(stats.errors) == 1 and stats.errors[0].startswith(f"{path}: skipped ")
    # The message names the record (by id where it can be read) and its byte offset.
    assert "byte offset" in stats.errors[0]
    warnings = warning_lines(warnings_log)
    assert warnings == [stats.errors[0], f"{path}: skipped 1 broken record(s)"]
    assert all("\n" not in w for w in warnings)


@pytest.mark.parametrize("keep", [3, 10, 100])
def test_cut_gzip_member_in_the_middle(tmp_path, keep):
    """FastWARC ends quietly at a gzip member cut short: the reader notices the rest."""
    members = [gzip.compress(page_record(i)) for i in range(4)]
    members[1] = members[1][:keep]
    path = tmp_path / "t.warc.gz"
    path.write_bytes(b"".join(members))
    pages, stats = read(str(path))
    assert [p.id for p in pages] == ["<urn:uuid:0>", "<urn:uuid:2>", "<urn:uuid:3>"]
    assert stats.skipped == 1


def test_broken_record_is_named_by_id_and_offset(tmp_path):
    middle = page_record(2).replace(b"Content-Length: ", b"Content-Length: 1", 1)
    path = write(tmp_path, "t.warc.gz", [GOOD_BEFORE, middle, GOOD_AFTER])
    _, stats = read(path)
    offset = len(gzip.compress(GOOD_BEFORE))  # the gzip member offset, as in Common Crawl indexes
    assert stats.errors[0].startswith(
        f"{path}: skipped record <urn:uuid:2> at byte offset {offset}: "
    )


def test_broken_first_record(tmp_path):
    first = page_record(1).replace(b"WARC-Date: ", b"Content-Length: 9999999\r\nX: ", 1)
    path = write(tmp_path, "t.warc", [first, page_record(2), page_record(3)])
    pages, stats = read(path)
    assert [p.id for p in pages] == ["<urn:uuid:2>", "<urn:uuid:3>"]
    assert stats.skipped == 1


def test_garbage_before_the_first_record(tmp_path):
    path = tmp_path / "t.warc"
    path.write_bytes(b"leftover bytes\r\n" + page_record(1) + page_record(2))
    pages, stats = read(str(path))
    assert [p.id for p in pages] == ["<urn:uuid:1>", "<urn:uuid:2>"]
    assert stats.skipped == 1 and "byte offsets 0-16" in stats.errors[0]


def test_non_gzip_bytes_between_gzip_members(tmp_path):
    path = tmp_path / "t.warc.gz"
    path.write_bytes(
        gz_members([page_record(1)]) + b"JUNK" * 10 + gz_members([page_record(2), page_record(3)])
    )
    pages, stats = read(str(path))
    assert [p.id for p in pages] == ["<urn:uuid:1>", "<urn:uuid:2>", "<urn:uuid:3>"]
    assert stats.skipped == 1


def test_several_broken_records_and_shared_stats(tmp_path):
    records = []
    for i in range(50):
        rec = page_record(i)
        if i % 2:  # every odd record has a wrong Content-Length
            rec = rec.replace(b"Content-Length: ", b"Content-Length: 1", 1)
        records.append(rec)
    stats = WarcStats()
    first = write(tmp_path, "a.warc.gz", records)
    second = write(tmp_path, "b.warc", [page_record(100), b"garbage\r\n", page_record(101)])
    pages = list(iter_warc_pages(first, stats=stats)) + list(iter_warc_pages(second, stats=stats))
    assert [p.id for p in pages] == [f"<urn:uuid:{i}>" for i in range(0, 50, 2)] + [
        "<urn:uuid:100>",
        "<urn:uuid:101>",
    ]
    assert stats.records == 27 and stats.skipped == 26
    assert len(stats.errors) == 20  # only the first 20 messages are kept
    assert all(e.startswith(f"{first}: skipped record <urn:uuid:") for e in stats.errors)


def test_individual_warnings_are_capped_per_file(tmp_path, warnings_log):
    records = []
    for i in range(60):
        records.append(page_record(i) if i % 2 == 0 else b"garbage\r\n")
    path = write(tmp_path, "t.warc", records)
    pages, stats = read(path)
    assert len(pages) == 30 and stats.skipped == 30
    warnings = warning_lines(warnings_log)
    assert len(warnings) == warc.MAX_ERRORS + 1
    assert "only counted" in warnings[-2]
    assert warnings[-1] == f"{path}: skipped 30 broken record(s)"


# --- truncated files ------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [20, 60, 150])
def test_truncated_warc_gz_yields_the_complete_records_and_warns(tmp_path, warnings_log, cut):
    data = gz_members([page_record(i) for i in range(4)])
    path = tmp_path / "t.warc.gz"
    path.write_bytes(data[:-cut])  # the last member is cut: in the content, the header, ...
    pages, stats = read(str(path))
    assert [p.id for p in pages] == ["<urn:uuid:0>", "<urn:uuid:1>", "<urn:uuid:2>"]
    assert all(p.lines == [f"Paragraph number {i}."] for i, p in enumerate(pages))
    assert stats.skipped == 1
    assert "<urn:uuid:3>" in stats.errors[0] or "byte offset" in stats.errors[0]
    assert f"{path}: skipped 1 broken record(s)" in warning_lines(warnings_log)


@pytest.mark.parametrize("cut", [10, 60, 200])
def test_truncated_plain_warc(tmp_path, cut):
    data = b"".join(page_record(i) for i in range(4))
    path = tmp_path / "t.warc"
    path.write_bytes(data[:-cut])
    pages, stats = read(str(path))
    assert [p.id for p in pages] == ["<urn:uuid:0>", "<urn:uuid:1>", "<urn:uuid:2>"]
    assert stats.skipped == 1


def test_truncated_non_html_record_is_also_reported(tmp_path):
    data = gz_members(
        [page_record(0), response(b"\x89PNG" * 500, rid="<urn:png>", content_type="image/png")]
    )
    path = tmp_path / "t.warc.gz"
    path.write_bytes(data[:-40])
    pages, stats = read(str(path))
    assert [p.id for p in pages] == ["<urn:uuid:0>"]
    assert stats.skipped == 1 and "<urn:png>" in stats.errors[0] and "truncated" in stats.errors[0]


# --- files that are not WARC at all ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>just a web page</body></html>\n", "not a WARC or WET file"),
        (b'{"id": "1", "text": "a JSONL file"}\n' * 100, "not a WARC or WET file"),
        (gzip.compress(b"a gzipped text file\n" * 100), "gzip file holds no"),
        (b"\x28\xb5\x2f\xfd" + b"\x00" * 20, "zstd"),
        (bytes(random.Random(1).randrange(256) for _ in range(5000)), "not a WARC or WET file"),
    ],
)
def test_not_a_warc_file_raises_data_error(tmp_path, data, message):
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    with pytest.raises(DataError, match=message) as info:
        list(iter_warc_pages(str(path)))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_directory_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        list(iter_warc_pages(str(tmp_path / "missing.warc.gz")))
    with pytest.raises(DataError, match="is a directory"):
        list(iter_warc_pages(str(tmp_path)))


def test_empty_file_has_no_pages(tmp_path):
    path = tmp_path / "empty.warc"
    path.write_bytes(b"")
    assert read(str(path)) == ([], WarcStats())


@pytest.mark.parametrize("compress", [False, True])
def test_random_damage_to_one_record_costs_only_that_record(tmp_path, compress):
    """Flip, insert, delete or cut bytes at random inside one record (one gzip member): only
    DataError may escape, and every other record still comes out, unchanged and in order."""
    n = 12
    blobs = [gzip.compress(page_record(i)) if compress else page_record(i) for i in range(n)]
    originals = {f"<urn:uuid:{i}>": [f"Paragraph number {i}."] for i in range(n)}
    rng = random.Random(20240301)
    path = tmp_path / "damaged.warc"
    for _ in range(400):
        k = rng.randrange(n)
        blob = bytearray(blobs[k])
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(blob))
            action = rng.choice(["flip", "insert", "delete", "cut"])
            if action == "flip":
                blob[pos] = rng.randrange(256)
            elif action == "insert":
                blob[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
            elif action == "delete":
                del blob[pos : pos + rng.randint(1, 20)]
            else:
                del blob[pos:]
            if not blob:
                break
        path.write_bytes(b"".join(blobs[:k]) + bytes(blob) + b"".join(blobs[k + 1 :]))
        try:
            pages, stats = read(str(path))
        except DataError:
            assert k == 0  # only a damaged first record can make the file unrecognisable
            continue
        assert stats.records == len(pages)
        # The damaged record may come out changed (no digests are checked) or be skipped.
        others = [p for p in pages if p.id in originals and p.id != f"<urn:uuid:{k}>"]
        assert [p.id for p in others] == [f"<urn:uuid:{i}>" for i in range(n) if i != k]
        assert all(p.lines == originals[p.id] for p in others)


def test_random_damage_anywhere_never_raises_anything_but_data_error(tmp_path):
    records = [warcinfo()]
    for i in range(6):
        records += [
            request(f"<urn:q{i}>"),
            page_record(i),
            metadata(f"<urn:m{i}>"),
            response(
                gzip.compress(html("Zipped.")),
                rid=f"<urn:gz{i}>",
                headers={"Content-Encoding": "gzip"},
            ),
            response(b"\x89PNG" * 50, rid=f"<urn:png{i}>", content_type="image/png"),
            conversion(b"Some text\nmore text", rid=f"<urn:wet{i}>"),
        ]
    rng = random.Random(7)
    path = tmp_path / "damaged.warc"
    for trial in range(300):
        data = bytearray(gz_members(records) if trial % 2 else b"".join(records))
        for _ in range(rng.randint(1, 8)):
            if not data:
                break
            pos = rng.randrange(len(data))
            action = rng.choice(["flip", "insert", "delete", "cut", "copy"])
            if action == "flip":
                data[pos] = rng.randrange(256)
            elif action == "insert":
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 50)))
            elif action == "delete":
                del data[pos : pos + rng.randint(1, 200)]
            elif action == "cut":
                del data[pos:]
            else:
                src = rng.randrange(len(data))
                data[pos:pos] = data[src : src + rng.randint(1, 500)]
        path.write_bytes(bytes(data))
        try:
            pages, stats = read(str(path))
        except DataError:
            continue
        assert stats.records == len(pages)


# --- streaming --------------------------------------------------------------------------------


class CountingFile(io.FileIO):
    """A file that counts the bytes read from it."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "rb")
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer) -> int:
        n = super().readinto(buffer)
        self.bytes_read += n or 0
        return n


@pytest.mark.parametrize("name", ["big.warc", "big.warc.gz"])
def test_pages_stream_without_reading_the_whole_file(tmp_path, monkeypatch, name):
    rng = random.Random(7)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(5000)
    ]
    # Varied text, so that the .gz file is large too.
    records = [
        response(html(f"Page {i}.", " ".join(rng.choices(words, k=300))), rid=f"<urn:uuid:{i}>")
        for i in range(2000)
    ]
    path = write(tmp_path, name, records)
    size = Path(path).stat().st_size
    opened: list[CountingFile] = []

    def counting_open(p: str) -> CountingFile:
        fh = CountingFile(p)
        opened.append(fh)
        return fh

    monkeypatch.setattr(warc, "open_file", counting_open)
    pages = iter_warc_pages(path)
    first = list(itertools.islice(pages, 2))
    assert [p.lines[0] for p in first] == ["Page 0.", "Page 1."]
    assert size > 2_000_000
    assert opened[0].bytes_read < size / 10
    pages.close()
    assert opened[0].closed


def test_warc_1_1_records_and_resynchronising_on_them(tmp_path):
    def rec(n: int) -> bytes:
        msg = http_message(html(f"Version 1.1 page {n}."), {"Content-Type": "text/html"})
        return record(
            "response",
            msg,
            rid=f"<urn:v11:{n}>",
            content_type="application/http; msgtype=response",
            version=b"WARC/1.1",
        )

    path = write(tmp_path, "t.warc", [rec(1), b"junk\r\n", rec(2)])
    pages, stats = read(path)
    assert [p.lines for p in pages] == [["Version 1.1 page 1."], ["Version 1.1 page 2."]]
    assert stats.skipped == 1


def test_predict_reads_warc_and_wet_files(tmp_path, capsys, model_file):
    import json

    from bpclf.cli import main

    warc_path = write(tmp_path, "crawl.warc.gz", [warcinfo(), page_record(1), page_record(2)])
    wet_path = write(tmp_path, "crawl.wet", [conversion(b"Line one\nLine two", rid="<urn:uuid:w>")])
    code = main(["predict", warc_path, wet_path, "-m", str(model_file), "-F", "jsonl", "-q"])
    out = capsys.readouterr().out
    assert code == 0
    records = [json.loads(x) for x in out.splitlines()]
    assert len(records) == 3 and records[-1]["id"] == "<urn:uuid:w>"
    assert records[-1]["lines"] == ["Line one", "Line two"]
    assert all("url" in r for r in records)


def _meta(page):
    """A page's extra keys without the markup rows (checked separately)."""
    return {k: v for k, v in page.extra.items() if k != "markup"}


def test_html_records_carry_markup_rows(tmp_path):
    path = write(tmp_path, "m.warc", [page_record(1)])
    (page,), _ = read(path)
    assert len(page.extra["markup"]) == len(page.lines)
    assert all(len(row) == 6 for row in page.extra["markup"])
