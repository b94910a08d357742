"""HTML pages to text lines, one per visible block, with layout hints for each line.

The classifier works on lines, but scraped pages often arrive as raw HTML. A browser shows
an HTML page as a stack of blocks (paragraphs, list items, headings, table cells, ...);
cutting the page into lines the same way keeps the units the classifier sees close to what
a reader sees, and lets us keep a few cheap structural hints per line (is it inside a
``<nav>``? a heading? how much of it is link text?) that are strong boilerplate signals.

Parsing uses selectolax's lexbor backend: a full HTML5 parser, so broken, truncated or
absurdly nested markup is repaired the way a browser would repair it instead of raising.
The tree is walked with an explicit stack because real pages can nest thousands of levels
deep, which would blow Python's recursion limit.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

__all__ = ["HtmlLine", "decode_html", "html_to_lines", "html_to_text_lines"]


@dataclass(frozen=True, slots=True)
class HtmlLine:
    """One visible line of a page plus the layout context it was rendered in.

    The context fields are what a boilerplate classifier cannot recover from plain text:
    menus, footers and "read more" links look like ordinary short lines once the markup
    is gone.
    """

    #: Whitespace-collapsed text of the line (never empty).
    text: str
    #: The block element the line came from (``p``, ``li``, ``h2``, ``td``, ``div``, ...;
    #: ``body`` for text that sits in no block at all). Lines split by ``<br>`` keep the tag
    #: of the block that contains the ``<br>``.
    tag: str
    #: Up to 4 nearest ancestor tag names of that block element, nearest first (the block
    #: itself is ``tag``, not part of the path).
    path: tuple[str, ...]
    #: Inside nav/header/footer/aside/form or an element whose ``role`` is navigation,
    #: banner, contentinfo or complementary: the page chrome.
    in_nav: bool
    #: 1-6 inside h1-h6 (nearest heading wins), else 0.
    heading: int
    #: Inside li/dt/dd.
    in_list: bool
    #: Characters of ``text`` that come from inside ``<a>`` elements: each run of link text
    #: counts with its whitespace collapsed and stripped, so spaces between a link and the
    #: surrounding text do not count. Link density is a classic boilerplate feature.
    link_chars: int


# --- decoding ------------------------------------------------------------------------------

#: How far into the page a <meta> charset declaration is looked for (as browsers do).
_META_SCAN_BYTES = 4096

_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([^\s;"',]+)""", re.IGNORECASE)
# One pattern covers both <meta charset="x"> and <meta http-equiv=Content-Type
# content="text/html; charset=x">: both put "charset=NAME" inside the meta tag.
_META_CHARSET_RE = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)

#: Labels that browsers (WHATWG Encoding Standard) decode with a superset codec: pages
#: labelled latin-1 or ASCII routinely contain cp1252 curly quotes and dashes in 0x80-0x9F,
#: pages labelled gb2312 contain GBK characters, and so on.
_SUPERSETS = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
}
#: A charset declared *inside* ASCII-compatible markup cannot really be UTF-16/32 (we
#: could read the declaration), so browsers treat such a declaration as UTF-8.
_WIDE_CODECS = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})
#: Python codecs that are not web encodings and must never be picked from page input
#: (UTF-7 in particular is an XSS vector that browsers refuse to support).
_REFUSED_CODECS = frozenset({"utf-7"})

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same 2 bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _codec_name(label: str | None, *, from_meta: bool = False) -> str | None:
    """Normalised Python codec name for a charset label, or None if unusable.

    Unknown names and non-text codecs (Python also knows "base64", "rot13", ...) give
    None so the caller falls through to the next detection step instead of failing.
    """
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'"))
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    name = _SUPERSETS.get(info.name, info.name)
    if from_meta and name in _WIDE_CODECS:
        return "utf-8"
    return name


def _decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec, errors="replace")
    except (LookupError, ValueError, TypeError):  # pragma: no cover - defensive
        return None


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Decode raw page bytes to text the way a browser would pick the charset.

    Order: a byte-order mark (it is never wrong, while headers often are), then the
    charset of the HTTP ``Content-Type`` header if given, then a ``<meta charset>`` /
    ``<meta http-equiv=Content-Type content="...charset=...">`` in the first 4 KB, then
    UTF-8 if the bytes are valid UTF-8 (a page truncated in the middle of a multi-byte
    character still counts), else cp1252. Labels latin-1/ASCII are decoded as cp1252 like
    browsers do. Unknown or non-text charset names fall through to the next step. Never
    raises: undecodable bytes become U+FFFD.
    """
    data = bytes(data)
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = _decode(data, codec)
            if text is not None:
                return text
    if content_type:
        m = _HEADER_CHARSET_RE.search(content_type)
        codec = _codec_name(m.group(1)) if m else None
        if codec is not None:
            text = _decode(data, codec)
            if text is not None:
                return text
    m = _META_CHARSET_RE.search(data, 0, _META_SCAN_BYTES)
    if m:
        codec = _codec_name(m.group(1).decode("ascii", "replace"), from_meta=True)
        # Pages re-saved as UTF-8 often keep their old <meta charset>: non-ASCII bytes
        # that are valid UTF-8 are almost never legacy-encoded text, so trust them.
        if codec not in (None, "utf-8") and not data.isascii():
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        if codec is not None:
            text = _decode(data, codec)
            if text is not None:
                return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        # A download cut in the middle of a multi-byte character is still UTF-8.
        if err.reason == "unexpected end of data":
            return data.decode("utf-8", errors="replace")
    return data.decode("cp1252", errors="replace")


# --- linearisation -------------------------------------------------------------------------

#: Elements whose content a reader never sees as page text. ``head`` holds the <title>,
#: which is metadata, not a line of the page. select/option/textarea are form widgets whose
#: contents (country lists, prefilled values) are not page text. video/audio children are
#: fallback text that modern browsers never show; MathML annotations duplicate the formula.
_DROP = frozenset(
    {
        "head",
        "title",
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "svg",
        "canvas",
        "select",
        "option",
        "optgroup",
        "datalist",
        "textarea",
        "video",
        "audio",
        "annotation",
        "annotation-xml",
        "frameset",
        "noembed",
        "noframes",
    }
)

#: Elements that a browser lays out as their own box: each starts a new line. Buttons and
#: labels are included because "Support us" / "Subscribe" are exactly the kind of short
#: chrome text we want to classify on its own line.
_BLOCK = frozenset(
    {
        "html",
        "body",
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "search",
        "section",
        "summary",
        "table",
        "caption",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "ul",
        "legend",
        "button",
        "label",
        "listing",
        "plaintext",
        "xmp",
    }
)

_NAV_TAGS = frozenset({"nav", "header", "footer", "aside", "form"})
_NAV_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary"})
_LIST_TAGS = frozenset({"li", "dt", "dd"})
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
#: Elements rendered preformatted: their newlines are line breaks.
_PRE_TAGS = frozenset({"pre", "listing", "plaintext", "xmp"})

# Per-tag bit flags, looked up once per element on the hot path.
_F_BLOCK = 1
_F_LINK = 2
_F_NAV = 4
_F_PRE = 8
_F_LIST = 16
_F_HEADING = 32


def _tag_flags() -> dict[str, int]:
    flags: dict[str, int] = {}
    for tag in _BLOCK:
        flags[tag] = flags.get(tag, 0) | _F_BLOCK
    for tag in _NAV_TAGS:
        flags[tag] = flags.get(tag, 0) | _F_NAV
    for tag in _PRE_TAGS:
        flags[tag] = flags.get(tag, 0) | _F_PRE
    for tag in _LIST_TAGS:
        flags[tag] = flags.get(tag, 0) | _F_LIST
    for tag in _HEADINGS:
        flags[tag] = flags.get(tag, 0) | _F_HEADING
    flags["a"] = _F_LINK
    return flags


_FLAGS = _tag_flags()

#: Attributes that can hide an element or mark it as page chrome; one CSS query finds all
#: candidates in C instead of reading attributes of every element from Python.
_ATTR_QUERY = "[hidden], [aria-hidden], [style], [role]"


def _is_hidden(attrs: dict[str, str | None]) -> bool:
    if "hidden" in attrs:
        return True
    if (attrs.get("aria-hidden") or "").strip().lower() == "true":
        return True
    style = attrs.get("style")
    if style:
        style = style.lower().replace(" ", "")
        return "display:none" in style or "visibility:hidden" in style
    return False


def _prepare(parser: LexborHTMLParser) -> set[int]:
    """Unlink hidden elements from the tree; return mem_ids of role=navigation-like ones.

    Hidden elements are detached with ``decompose(recursive=False)``, which only unlinks the
    subtree (it is freed with the document), so detaching an element whose ancestor was
    already detached is safe.
    """
    nav_ids: set[int] = set()
    for node in parser.css(_ATTR_QUERY):
        attrs = node.attributes
        if _is_hidden(attrs):
            if node.tag not in ("html", "body"):
                node.decompose(recursive=False)
            continue
        role = attrs.get("role")
        if role and not _NAV_ROLES.isdisjoint(role.lower().split()):
            nav_ids.add(node.mem_id)
    return nav_ids


def _link_chars(pieces: list[str], piece_links: list[bool]) -> int:
    """Length of the collapsed link text of a line.

    Consecutive pieces inside ``<a>`` form one link run; each run counts with its own
    whitespace collapsed and stripped, so "Read <a>more here</a>" gives 9 and the
    separators in "<a>Home</a> | <a>About</a>" do not count (9 of "Home | About").
    """
    count = 0
    run: list[str] = []
    for piece, link in zip(pieces, piece_links, strict=True):
        if link:
            run.append(piece)
        elif run:
            count += len(" ".join("".join(run).split()))
            run = []
    if run:
        count += len(" ".join("".join(run).split()))
    return count


def html_to_lines(html: str | bytes) -> list[HtmlLine]:
    """Cut an HTML page into the lines a browser would show, in document order.

    One line per block element (nested blocks start new lines, inline elements such as
    ``a``/``span``/``b`` stay in the surrounding line), ``<br>`` splits a line, ``<pre>``
    keeps its own newlines, table cells are one line each. Invisible content (scripts,
    styles, <head>, comments, form option lists, elements hidden by ``hidden``,
    ``aria-hidden="true"`` or inline ``display:none`` / ``visibility:hidden``) is dropped.
    Whitespace is collapsed, entities are decoded, empty lines are dropped. Bytes are
    decoded with :func:`decode_html`. Never raises on malformed markup.
    """
    if isinstance(html, bytes | bytearray | memoryview):
        html = decode_html(bytes(html))
    if not html:
        return []
    # selectolax encodes str input with errors='ignore', so lone surrogates cannot fail it.
    parser = LexborHTMLParser(html)
    root = parser.root
    if root is None:
        return []
    nav_ids = _prepare(parser)

    lines: list[HtmlLine] = []
    pieces: list[str] = []  # raw text pieces of the current line
    piece_links: list[bool] = []  # parallel: piece is inside <a>
    has_link = False
    line_nav = False  # some text of the current line is inside nav-like chrome
    tags: list[str] = []  # tag names of all open elements, outermost first
    # Open blocks as (tag, index of the block in tags); html/body are blocks, so the sentinel
    # only shows if the tree somehow has no <html> element.
    blocks: list[tuple[str, int]] = [("body", 0)]
    headings: list[int] = []
    nav_depth = 0
    list_depth = 0
    link_depth = 0
    pre_depth = 0

    def flush() -> None:
        nonlocal has_link, line_nav
        if not pieces:
            return
        text = " ".join("".join(pieces).split())
        if text:
            link_chars = min(len(text), _link_chars(pieces, piece_links)) if has_link else 0
            tag, idx = blocks[-1]
            lines.append(
                HtmlLine(
                    text=text,
                    tag=tag,
                    path=tuple(tags[max(0, idx - 4) : idx][::-1]),
                    in_nav=line_nav or nav_depth > 0,
                    heading=headings[-1] if headings else 0,
                    in_list=list_depth > 0,
                    link_chars=link_chars,
                )
            )
        pieces.clear()
        piece_links.clear()
        has_link = False
        line_nav = False

    def add_text(text: str) -> None:
        nonlocal has_link, line_nav
        pieces.append(text)
        if link_depth:
            piece_links.append(True)
            has_link = True
        else:
            piece_links.append(False)
        if nav_depth and not text.isspace():
            line_nav = True

    # Each stack entry: (iterator over the element's children, its tag, its flags). The
    # element's "leave" actions run when its iterator is exhausted.
    flags_of = _FLAGS
    stack = [(iter((root,)), "", 0)]
    while stack:
        node = next(stack[-1][0], None)
        if node is None:
            _, tag, flags = stack.pop()
            if not flags:
                if tag:
                    tags.pop()
                continue
            if flags & _F_BLOCK:
                if pieces:
                    flush()
                blocks.pop()
            tags.pop()
            if flags & _F_LINK:
                link_depth -= 1
            if flags & _F_NAV:
                nav_depth -= 1
            if flags & _F_PRE:
                pre_depth -= 1
            if flags & _F_LIST:
                list_depth -= 1
            if flags & _F_HEADING:
                headings.pop()
            continue

        tag = node.tag
        if tag == "-text":
            text = node.text_content
            if not text:
                continue
            if pre_depth and ("\n" in text or "\r" in text):
                first, *rest = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
                add_text(first)
                for part in rest:
                    flush()
                    add_text(part)
            elif pieces or not text.isspace():
                add_text(text)
            continue
        if tag is None or tag[0] == "-" or tag in _DROP:
            continue  # comments, doctype, processing instructions, invisible elements
        if tag == "br":
            if pieces:
                flush()
            continue

        flags = flags_of.get(tag, 0)
        if nav_ids and node.mem_id in nav_ids:
            flags |= _F_NAV
        if flags:
            if flags & _F_BLOCK:
                if pieces:
                    flush()
                blocks.append((tag, len(tags)))
            if flags & _F_LINK:
                link_depth += 1
            if flags & _F_NAV:
                nav_depth += 1
            if flags & _F_PRE:
                pre_depth += 1
            if flags & _F_LIST:
                list_depth += 1
            if flags & _F_HEADING:
                headings.append(_HEADINGS[tag])
        tags.append(tag)
        stack.append((node.iter(include_text=True), tag, flags))
    flush()
    return lines


def html_to_text_lines(html: str | bytes) -> list[str]:
    """Just the texts of :func:`html_to_lines`, for callers that classify plain lines."""
    return [line.text for line in html_to_lines(html)]


#: Key of ``Page.extra`` holding one markup row per line for pages read from HTML.
MARKUP_KEY = "markup"

_URL_SCAN_CHARS = 100_000
_CANONICAL_RES = (
    re.compile(r"<link\b[^>]*\brel\s*=\s*[\"']?canonical\b[^>]*>", re.IGNORECASE),
    re.compile(r"<meta\b[^>]*\bproperty\s*=\s*[\"']?og:url\b[^>]*>", re.IGNORECASE),
)
_URL_ATTR_RE = re.compile(r"\b(?:href|content)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I)


def page_url(html: str) -> str | None:
    """The page's own absolute URL from ``<link rel=canonical>`` or ``og:url``, if any.

    Saved pages rarely keep the URL they came from; these tags are the common place
    where it survives (sites use it to group pages for corpus statistics).
    """
    head = html[:_URL_SCAN_CHARS]
    for pattern in _CANONICAL_RES:
        for tag in pattern.finditer(head):
            attr = _URL_ATTR_RE.search(tag.group(0))
            url = next((g for g in attr.groups() if g), "") if attr else ""
            if url.strip().lower().startswith(("http://", "https://")):
                return url.strip()
    return None


def html_page_lines(html: str | bytes) -> tuple[list[str], list[list]]:
    """Lines of a page and, per line, its markup row for markup-aware models.

    A row is ``[tag, ancestors, in_nav, heading, in_list, link_chars]`` with the ancestor
    tag names joined by spaces (nearest first): compact enough to store in JSONL.
    """
    rows = html_to_lines(html)
    markup = [
        [r.tag, " ".join(r.path), int(r.in_nav), r.heading, int(r.in_list), r.link_chars]
        for r in rows
    ]
    return [r.text for r in rows], markup
