import json

import numpy as np
import pytest

from bpclf.errors import DataError
from bpclf.formats import (
    _UNSAFE_IN_JSON,
    _has_unsafe,
    dumps,
    dumps_lines,
    format_labelled,
    looks_labelled_text,
    page_json,
    parse_jsonl,
    parse_labelled_text,
    printable,
)
from bpclf.pages import Page

TRICKY = Page(
    id='p 1 "quoted"',
    lines=[
        "plain",
        "",
        "  spaced  ",
        "tab\tinside",
        "break\ninside",
        "cr\rinside",
        "C\tlooks",
        '@page {"id": 1}',
        "# not a comment",
        "ünïcödé ✓ 中文",
        "\u2028sep",
        "\\n literal",
    ],
    labels=[0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    lang="en",
    source="test",
    extra={"url": "http://x", "n": [1, 2]},
)


def test_labelled_text_round_trip_is_lossless():
    text = format_labelled(TRICKY)
    (back,) = parse_labelled_text(text, "t.txt")
    assert back == TRICKY
    # and via JSONL
    (again,) = parse_jsonl(page_json(back), "t.jsonl")
    assert again == TRICKY


def test_labelled_text_layout_is_editor_friendly():
    text = format_labelled(Page("a", ["Hello world", "Menu"], [0, 1]), proba=[0.1, 0.93])
    assert text.splitlines() == ['@page {"id": "a"}', "C 0.10\tHello world", "B 0.93\tMenu"]


def test_reader_accepts_edits_people_make():
    text = '# my labels\n\n@page {"id": "a"}\r\nb\tMenu\r\nC 0.3\tText\nC\n\n'
    (page,) = parse_labelled_text(text, "t.txt", require_labels=True)
    assert page.lines == ["Menu", "Text", ""] and page.labels == [1, 0, 0]


def test_unlabelled_marker():
    (page,) = parse_labelled_text('@page {"id": "a"}\n?\tx\n', "t")
    assert page.labels is None
    with pytest.raises(DataError, match="no label"):
        list(parse_labelled_text('@page {"id": "a"}\n?\tx\n', "t", require_labels=True))


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("C\tx\n", "before the first '@page'", 1),
        ('@page {"id": "a"}\nX\tx\n', "expected a marker", 2),
        ('@page {"id": "a"}\nC zz\tx\n', "bad probability", 2),
        ("@page {}\n", 'JSON object with an "id"', 1),
        ("@page [1]\n", "JSON object", 1),
        ('@page {"id": "a"}\nCj\tnot json\n', "not a JSON string", 2),
    ],
)
def test_labelled_text_errors_name_the_line(text, message, line):
    with pytest.raises(DataError, match=message) as err:
        list(parse_labelled_text(text, "lab.txt"))
    assert str(err.value).startswith(f"lab.txt:{line}:")


def test_jsonl_errors_name_the_line():
    text = '{"id": "a", "lines": []}\n\n{"id": "b", "lines": [}\n'
    pages = parse_jsonl(text, "x.jsonl")
    assert next(pages).id == "a"
    with pytest.raises(DataError, match=r"x\.jsonl:3: malformed JSON"):
        next(pages)


def test_page_json_carries_probabilities():
    rec = json.loads(page_json(Page("a", ["x", "y"], [0, 1]), proba=[0.123456, 0.9]))
    assert rec["boilerplate_proba"] == [0.1235, 0.9] and rec["boilerplate"] == [0, 1]


def test_sniffing():
    assert looks_labelled_text('# c\n\n@page {"id": 1}\n')
    assert not looks_labelled_text("Just a page\n@page later")


def test_unsafe_byte_test_matches_the_character_class():
    """The byte-level test (ASCII deleted first) finds exactly the characters the text
    escape replaces, whatever surrounds them."""
    specials = ["\x7e", "\x7f", "\x80", "\x85", "\x9f", "\xa0", "\xc2", "\u0100", "\u2027",
                "\u2028", "\u2029", "\u202a", "\u20ac", "\U0001f600", "é"]  # fmt: skip
    for a in specials:
        for b in specials:
            for text in (a + b, f"x{a}y{b}z", f"{a} {b}", "é" + a + "ü"):
                data = text.encode("utf-8")
                assert _has_unsafe(data) == bool(_UNSAFE_IN_JSON.search(text)), repr(text)


def test_unsafe_byte_test_on_random_texts():
    rng = np.random.default_rng(7)
    pool = list("ab \x7e\x7f\x80\x85\x9f\xa0\xc2é€…\u2026\u2027\u2028\u2029\u202a") + ["😀"]
    assert not _has_unsafe(b"")
    for _ in range(3000):
        text = "".join(rng.choice(pool, size=rng.integers(0, 12)))
        assert _has_unsafe(text.encode("utf-8")) == bool(_UNSAFE_IN_JSON.search(text)), repr(text)


def test_dumps_lines_writes_arrays_as_the_lists_they_hold():
    proba = np.arange(10001) / 10000.0  # every value of four decimals
    labels = (proba >= 0.5).astype(np.int8)
    records = [
        {"id": "a", "lines": ["x\u2028y"], "boilerplate": labels[:5], "boilerplate_proba": proba},
        {"id": "b", "boilerplate": labels[5:9], "boilerplate_proba": proba[5:9]},
    ]
    listed = [
        {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in r.items()} for r in records
    ]
    expected = "".join(dumps(r) + "\n" for r in listed).encode("utf-8")
    assert dumps_lines(records, arrays=True) == expected == dumps_lines(listed)
    assert b"\\u2028" in expected  # escaped as dumps escapes it
    # What orjson refuses (an integer beyond 64 bits) goes through json, arrays as lists.
    records[1]["n"] = 2**70
    listed[1]["n"] = 2**70
    expected = "".join(dumps(r) + "\n" for r in listed).encode("utf-8")
    assert dumps_lines(records, arrays=True) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ASCII",
        "Grüße, € and 漢字 and 😀",
        "half \ud800 surrogate",
        "\udfffat the start",
        "at the end\ud83d",
        "a pair written as two escapes \ud83d\ude00 is two lone surrogates",
    ],
)
def test_printable_replaces_exactly_the_lone_surrogates(text):
    import re

    expected = re.sub("[\ud800-\udfff]", "\ufffd", text)
    assert printable(text) == expected
    printable(text).encode("utf-8")  # always encodable
