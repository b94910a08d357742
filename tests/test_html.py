"""Tests for bpclf.html: HTML pages to browser-like text lines, and byte decoding."""

from __future__ import annotations

import random

import pytest

from bpclf.html import HtmlLine, decode_html, html_to_lines, html_to_text_lines, page_url


def texts(html: str | bytes) -> list[str]:
    return [line.text for line in html_to_lines(html)]


def only(html: str | bytes) -> HtmlLine:
    lines = html_to_lines(html)
    assert len(lines) == 1, lines
    return lines[0]


# --- block / inline structure ------------------------------------------------------------


def test_nested_blocks_split_the_parent_text():
    lines = html_to_lines("<div>intro<p>para <b>bold</b> end</p>outro</div>")
    assert [(line.text, line.tag) for line in lines] == [
        ("intro", "div"),
        ("para bold end", "p"),
        ("outro", "div"),
    ]


def test_inline_elements_stay_in_the_line_without_extra_spaces():
    html = (
        "<p>A <em>big</em>, <strong>bold</strong> <span>claim</span>: <b>J</b>ohn<sup>2</sup>.</p>"
    )
    assert texts(html) == ["A big, bold claim: John2."]


def test_one_line_per_block_in_document_order():
    html = (
        "<header>Site</header><main><article><h1>T</h1><p>one</p><blockquote>q</blockquote>"
        "<section><p>two</p></section></article></main><footer>(c)</footer>"
    )
    assert texts(html) == ["Site", "T", "one", "q", "two", "(c)"]


def test_text_outside_any_block_belongs_to_body():
    line = only("just <i>text</i>")
    assert (line.text, line.tag, line.path) == ("just text", "body", ("html",))


def test_button_and_label_are_own_lines():
    html = "<p>Please <button>Support us</button> today</p><label>Email</label>"
    lines = html_to_lines(html)
    assert [(line.text, line.tag) for line in lines] == [
        ("Please", "p"),
        ("Support us", "button"),
        ("today", "p"),
        ("Email", "label"),
    ]


def test_table_cells_are_one_line_each():
    html = "<table><caption>Cap</caption><tr><th>Name</th><th>Age</th></tr><tr><td>Ann <i>B.</i></td><td>41</td></tr></table>"
    lines = html_to_lines(html)
    assert [(line.text, line.tag) for line in lines] == [
        ("Cap", "caption"),
        ("Name", "th"),
        ("Age", "th"),
        ("Ann B.", "td"),
        ("41", "td"),
    ]
    assert lines[1].path[:3] == ("tr", "tbody", "table")


def test_path_is_nearest_four_ancestors_of_the_block():
    line = only("<div><nav><ul><li><a href='/'>Home</a></li></ul></nav></div>")
    assert line.tag == "li"
    assert line.path == ("ul", "nav", "div", "body")


# --- br and pre --------------------------------------------------------------------------


def test_br_splits_lines_and_keeps_block_tag():
    lines = html_to_lines("<p>Street 1<br>12345 Town<br/><br>Country</p>")
    assert [line.text for line in lines] == ["Street 1", "12345 Town", "Country"]
    assert {line.tag for line in lines} == {"p"}


def test_pre_keeps_its_newlines_and_collapses_spaces():
    html = "<pre>\n  def f(x):\n      return   x\t\t+ 1\n\n<b>end</b> here\r\nlast</pre>"
    lines = html_to_lines(html)
    assert [line.text for line in lines] == ["def f(x):", "return x + 1", "end here", "last"]
    assert {line.tag for line in lines} == {"pre"}


def test_newlines_outside_pre_are_just_whitespace():
    assert texts("<p>one\ntwo\n\n   three</p>") == ["one two three"]


# --- dropped content ---------------------------------------------------------------------


def test_invisible_elements_and_comments_are_dropped():
    html = (
        "<html><head><title>Page title</title><style>p{color:red}</style>"
        "<script>var head = 1;</script></head><body>"
        "<!-- a comment --><p>keep<!-- inner comment --> this</p>"
        "<script>alert('x')</script><noscript>Enable JS</noscript><style>.x{}</style>"
        "<template><p>tpl</p></template><iframe>frame</iframe><svg><text>svg</text></svg>"
        "<canvas>canvas</canvas><select><option>France</option></select></body></html>"
    )
    assert texts(html) == ["keep this"]


def test_hidden_elements_are_dropped():
    html = (
        "<p hidden>h1</p><p aria-hidden='TRUE'>h2</p><p style='color:red; DISPLAY: none'>h3</p>"
        "<div style='visibility:hidden'><p>h4</p></div>"
        "<div hidden><p hidden>h5 <span style='display:none'>h6</span></p></div>"
        "<p aria-hidden='false'>shown</p><p style='display:block'>also shown</p>"
        "<p>text <span hidden>hidden word</span>continues</p>"
    )
    assert texts(html) == ["shown", "also shown", "text continues"]


def test_title_only_page_has_no_lines():
    assert html_to_lines("<html><head><title>Only a title</title></head><body></body></html>") == []


# --- flags -------------------------------------------------------------------------------


def test_nav_like_containers_set_in_nav():
    html = (
        "<header><p>Logo</p></header><nav><a>Home</a></nav><main><p>Body text</p></main>"
        "<aside>Related</aside><form><p>Search</p></form><footer><p>Imprint</p></footer>"
    )
    flags = {line.text: line.in_nav for line in html_to_lines(html)}
    assert flags == {
        "Logo": True,
        "Home": True,
        "Body text": False,
        "Related": True,
        "Search": True,
        "Imprint": True,
    }


@pytest.mark.parametrize("role", ["navigation", "banner", "contentinfo", "complementary"])
def test_roles_set_in_nav(role):
    lines = html_to_lines(f"<div role='{role}'><p>chrome</p></div><div role='main'><p>x</p></div>")
    assert [(line.text, line.in_nav) for line in lines] == [("chrome", True), ("x", False)]


def test_inline_element_with_nav_role_flags_its_line():
    assert only("<p>see <span role='navigation'>menu</span></p>").in_nav is True


def test_heading_levels():
    html = "<h1>One</h1><h3>Three <span>x</span></h3><h6><div>Six</div></h6><p>none</p>"
    assert [(line.text, line.heading) for line in html_to_lines(html)] == [
        ("One", 1),
        ("Three x", 3),
        ("Six", 6),
        ("none", 0),
    ]


def test_list_flag():
    html = "<ul><li>item <b>one</b></li><li><p>item two</p></li></ul><dl><dt>term</dt><dd>def</dd></dl><p>prose</p>"
    assert [(line.text, line.in_list) for line in html_to_lines(html)] == [
        ("item one", True),
        ("item two", True),
        ("term", True),
        ("def", True),
        ("prose", False),
    ]


@pytest.mark.parametrize(
    ("html", "text", "link_chars"),
    [
        ("<p>Read <a href='/x'>more here</a></p>", "Read more here", 9),
        ("<p>No links at all</p>", "No links at all", 0),
        ("<p><a>Home</a> | <a>About</a></p>", "Home | About", 9),
        ("<p><a>Click <b>this</b>  link</a> now</p>", "Click this link now", 15),
        ("<p><a>Only link</a></p>", "Only link", 9),
    ],
)
def test_link_chars(html, text, link_chars):
    line = only(html)
    assert (line.text, line.link_chars) == (text, link_chars)


def test_link_chars_never_exceed_text_length():
    for line in html_to_lines("<a> <p> a </p> <br> <b>b</b>  </a><a>&nbsp;</a>"):
        assert 0 <= line.link_chars <= len(line.text)


# --- whitespace and entities -------------------------------------------------------------


def test_whitespace_collapsed_and_entities_decoded():
    html = "<p>\n  Tom &amp; Jerry&nbsp;&nbsp; cost &euro;5 &lt;cheap&gt; &#8212; &#x41;  </p><p> \t </p>"
    assert texts(html) == ["Tom & Jerry cost €5 <cheap> — A"]


# --- broken markup -----------------------------------------------------------------------


def test_unclosed_tags():
    assert texts("<div><p>first<p>second<ul><li>a<li>b") == ["first", "second", "a", "b"]


def test_truncated_inside_a_tag():
    assert texts("<p>complete</p><p>partial text</p><di") == ["complete", "partial text"]


def test_truncated_inside_an_attribute():
    assert texts("<p>before</p><p>text <a href='http://exa") == ["before", "text"]


def test_stray_closing_tags():
    assert texts("</div></p></span><p>a</p></div></div><p>b</p></li>") == ["a", "b"]


def test_5000_deep_nesting():
    html = "<div>" * 5000 + "deep text" + "</div>" * 5000 + "<p>after</p>"
    lines = html_to_lines(html)
    assert [line.text for line in lines] == ["deep text", "after"]
    assert lines[0].path == ("div", "div", "div", "div")


def test_deep_unclosed_inline_and_list_nesting():
    lines = html_to_lines("<b>" * 10000 + "deep" + "<ul><li>x" * 2000)
    assert lines[0].text == "deep"
    assert len(lines) == 2001
    assert all(line.in_list for line in lines[1:])


def test_random_garbage_never_raises():
    rng = random.Random(7)
    alphabet = [*"<>/=\"' abcdlip!-&;#\n", "<div", "</div>", "<p>", "<a href='", "<!--"]
    alphabet += ["-->", "<script>", "<pre>", "<br>", "&amp", "<td>", "<svg>", "<select>", "<b>"]
    for _ in range(300):
        html = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        lines = html_to_lines(html)
        assert all(line.text and line.text == " ".join(line.text.split()) for line in lines)
        assert html_to_lines(bytes(rng.randrange(256) for _ in range(100))) is not None


def test_lone_surrogates_in_str_input_do_not_raise():
    assert texts("<p>a\ud800b</p>") == ["ab"]


# --- decode_html -------------------------------------------------------------------------

LATIN1_PAGE = '<html><head><meta charset="iso-8859-1"></head><body><p>café</p></body></html>'


def test_meta_charset():
    data = LATIN1_PAGE.encode("iso-8859-1")
    assert "café" in decode_html(data)


def test_meta_http_equiv_charset():
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        "</head><body>Привет</body></html>"
    )
    assert "Привет" in decode_html(page.encode("cp1251"))


def test_meta_charset_beyond_4kb_is_ignored():
    page = "<!--" + "x" * 5000 + '--><meta charset="koi8-r"><p>Привет</p>'
    # Not KOI8-R: the bytes are valid UTF-8, so UTF-8 wins.
    assert "Привет" in decode_html(page.encode("utf-8"))


def test_header_charset_wins_over_meta():
    data = '<meta charset="utf-8"><p>Grüße</p>'.encode("cp1252")
    assert "Grüße" in decode_html(data, "text/html; charset=ISO-8859-1")
    assert "Grüße" in decode_html(data, 'text/html; charset="windows-1252"')


def test_latin1_label_decodes_cp1252_punctuation():
    data = "“quoted” – text".encode("cp1252")
    assert decode_html(data, "text/html; charset=iso-8859-1") == "“quoted” – text"


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_bom(codec):
    text = "<p>Ünïcödé ✓</p>"
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    assert decode_html(data) == text
    # A BOM is never wrong; a header can be.
    assert decode_html(data, "text/html; charset=iso-8859-1") == text


def test_valid_utf8_without_declaration():
    assert decode_html("naïve ünïcode €".encode()) == "naïve ünïcode €"


def test_invalid_utf8_falls_back_to_cp1252():
    assert decode_html(b"<p>caf\xe9 \x93quoted\x94</p>") == "<p>café “quoted”</p>"


def test_utf8_truncated_mid_character_stays_utf8():
    data = "Grüße ✓".encode()[:-1]
    assert decode_html(data) == "Grüße \ufffd"


@pytest.mark.parametrize("label", ["no-such-charset", "base64", "x-user-defined", "utf-7", ""])
def test_unknown_or_unsafe_charset_falls_back(label):
    data = "<p>é</p>".encode()
    assert decode_html(data, f"text/html; charset={label}") == "<p>é</p>"
    assert decode_html(f'<meta charset="{label}"><p>é</p>'.encode()).endswith("<p>é</p>")


def test_meta_utf16_declaration_is_read_as_utf8():
    data = '<meta charset="utf-16"><p>é</p>'.encode()
    assert decode_html(data).endswith("<p>é</p>")


def test_decode_never_raises_on_garbage():
    rng = random.Random(3)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        label = rng.choice(["utf-8", "utf-16", "shift_jis", "bogus", "latin1", ""])
        assert isinstance(decode_html(data, f"text/html; charset={label}"), str)


# --- entry points ------------------------------------------------------------------------


def test_bytes_input_goes_through_decode_html():
    data = LATIN1_PAGE.encode("iso-8859-1")
    assert texts(data) == ["café"]
    assert texts(bytearray(b"<p>caf\xe9</p>")) == ["café"]


@pytest.mark.parametrize("html", ["", b"", "   \n\t", "<html></html>", "<!-- only -->"])
def test_empty_input_gives_no_lines(html):
    assert html_to_lines(html) == []
    assert html_to_text_lines(html) == []


def test_html_to_text_lines_matches_html_to_lines():
    html = "<h1>T</h1><p>a<br>b</p><ul><li>c</li></ul>"
    assert (
        html_to_text_lines(html)
        == [line.text for line in html_to_lines(html)]
        == [
            "T",
            "a",
            "b",
            "c",
        ]
    )


def test_html_line_is_frozen():
    line = only("<p>x</p>")
    with pytest.raises(AttributeError):
        line.text = "y"  # type: ignore[misc]


def test_valid_utf8_beats_a_stale_meta_charset():
    page = '<meta charset="gb2312"><p>日本語 café</p>'.encode()
    assert html_to_text_lines(page) == ["日本語 café"]


@pytest.mark.parametrize(
    ("html", "url"),
    [
        ('<link rel="canonical" href="https://ex.org/a">', "https://ex.org/a"),
        ("<LINK HREF='http://ex.org/b' REL=canonical>", "http://ex.org/b"),
        ('<meta content="https://ex.org/c" property="og:url">', "https://ex.org/c"),
        ('<link rel="canonical" href="/relative">', None),  # not absolute: no site
        ("<p>no head</p>", None),
    ],
)
def test_page_url_from_canonical_link_or_og_url(html: str, url: str | None):
    assert page_url(html) == url
