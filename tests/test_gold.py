"""Tests for bpclf.gold: line labels derived from HTML pages plus hand-cleaned gold text."""

from __future__ import annotations

import itertools
import logging
import random
from pathlib import Path

import pytest

from bpclf.errors import DataError, UsageError
from bpclf.gold import (
    AlignmentStats,
    _matching_blocks,
    align_page,
    gold_text,
    gold_tokens,
    import_gold_dir,
)
from bpclf.html import html_to_text_lines

NAV = ["Home", "World", "Sport", "Weather", "Sign in"]
TITLE = "Village bakery wins regional bread award"
PARAS = [
    "The small bakery on the corner of Mill Street was named the best in the region on Tuesday.",
    "Its owner said that the secret was patience: the dough rests for two full days before baking.",
    "Customers queued since early morning to buy the prize-winning sourdough loaves.",
]
FOOTER = ["Copyright 2024 Example Media Ltd", "Privacy policy", "Terms of use"]


def page_html(paras: list[str] = PARAS, title: str = TITLE) -> str:
    nav = "".join(f'<li><a href="/{i}">{item}</a></li>' for i, item in enumerate(NAV))
    body = "".join(f"<p>{p}</p>" for p in paras)
    foot = "".join(f"<p>{f}</p>" for f in FOOTER)
    return (
        "<html><head><title>Bakery</title><script>var x = 'Home';</script></head><body>"
        f"<nav><ul>{nav}</ul></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        f"<footer>{foot}</footer></body></html>"
    )


def page_lines(paras: list[str] = PARAS, title: str = TITLE) -> list[str]:
    return html_to_text_lines(page_html(paras, title))


EXPECTED = [1] * len(NAV) + [0] * (1 + len(PARAS)) + [1] * len(FOOTER)


def test_menu_and_footer_are_boilerplate_article_is_content():
    lines = page_lines()
    assert lines == [*NAV, TITLE, *PARAS, *FOOTER]
    gold = "\n\n".join([TITLE, *PARAS]) + "\n"
    labels, recovered, total = align_page(lines, gold)
    assert labels == EXPECTED
    assert total == len(gold_tokens(gold)) > 0
    assert recovered == total  # recovered share 1.0


def test_rewrapped_gold_with_entities_and_extra_whitespace_still_aligns():
    paras = [*PARAS, "Le café d’Anna, it's said, serves crème brûlée & tea."]
    lines = page_lines(paras)
    # The same text wrapped at other places, with entities, indentation and blank lines.
    gold = (
        f"   {TITLE}\n\n\n"
        "The small bakery on the corner of\nMill Street was named the best in the region\n"
        "   on Tuesday.    Its owner said that\n"
        "the secret was patience:   the dough rests for two full days before baking.\n\n"
        "Customers queued since early\n\tmorning to buy the prize-winning sourdough loaves.\n"
        "Le caf&eacute; d&#8217;Anna, it&#039;s said,\nserves cr&egrave;me br&ucirc;l&eacute;e "
        "&amp; tea.\n"
    )
    assert "café" in gold_tokens(gold) and "039" not in gold_tokens(gold)
    labels, recovered, total = align_page(lines, gold)
    assert labels == [1] * len(NAV) + [0] * (1 + len(paras)) + [1] * len(FOOTER)
    assert recovered == total


def test_cleaneval_gold_url_line_and_markers_are_stripped():
    gold = (
        "\ufeffURL: http://www.example.org/news/bakery-award.html\n\n"
        f"   <h>{TITLE}\n\n"
        f"<p>{PARAS[0]}\n<p>  {PARAS[1]}\n\n"
        f"<l>    * {PARAS[2]}\n"
    )
    tokens = gold_tokens(gold)
    assert tokens[:3] == ["village", "bakery", "wins"]
    assert not {"url", "http", "www", "example", "org", "html", "p", "h", "l"} & set(tokens)
    assert "<p>" not in gold_text(gold) and "URL:" not in gold_text(gold)
    labels, recovered, total = align_page(page_lines(), gold)
    assert labels == EXPECTED
    assert recovered == total


def test_html_gold_is_reduced_to_its_text():
    gold = (
        '<div id="readability-page-1" class="page"><article>'
        f"<h1>{TITLE}</h1>" + "".join(f"<p>{p}</p>" for p in PARAS) + "</article></div>"
    )
    assert "readability" not in gold_tokens(gold) and "div" not in gold_tokens(gold)
    labels, recovered, total = align_page(page_lines(), gold)
    assert labels == EXPECTED
    assert recovered == total


def test_annotator_comments_are_not_gold_text():
    assert gold_tokens("URL: http://x.org/\n<!-- this page contains no article -->\n") == []


def test_line_partly_in_gold_follows_min_line_share():
    lines = [
        PARAS[0],
        # 12 tokens; the gold keeps the first 7 (58%) and drops the rest.
        "The mayor opened the new bridge today and everyone cheered very loudly",
        "Share this story on social networks",
    ]
    gold = f"{PARAS[0]}\nThe mayor opened the new bridge today.\n"
    labels, recovered, total = align_page(lines, gold)
    assert labels == [0, 0, 1]
    assert recovered == total
    labels, recovered, total = align_page(lines, gold, min_line_share=0.6)
    assert labels == [0, 1, 1]
    assert recovered == total - 7  # the 7 gold tokens sit in a line labelled boilerplate
    # A line with only 3 of 12 tokens in the gold (25%) is boilerplate at the default share.
    labels, _, _ = align_page(lines, f"{PARAS[0]}\nThe mayor opened.\n")
    assert labels == [0, 1, 1]


def test_min_line_share_is_validated():
    with pytest.raises(UsageError):
        align_page(["a b"], "a b", min_line_share=1.5)


def test_punctuation_only_lines_take_the_previous_label():
    lines = ["* * *", "Home", "|", PARAS[0], "—", "...", PARAS[1], "Privacy policy", "©"]
    gold = f"{PARAS[0]}\n{PARAS[1]}\n"
    labels, recovered, total = align_page(lines, gold)
    assert labels == [1, 1, 1, 0, 0, 0, 0, 1, 1]
    assert recovered == total


def test_empty_page_and_empty_gold():
    assert align_page([], "some gold text") == ([], 0, 3)
    assert align_page(["Home", "News"], "") == ([1, 1], 0, 0)


def test_long_page_alignment_is_monotone_and_finds_the_article():
    """A page far above the direct SequenceMatcher size exercises the anchoring path."""
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(3000)] + ["the", "of", "and", "a", "to"] * 200
    menu = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 4))) for _ in range(1500)]
    article = [" ".join(rng.choice(vocab) for _ in range(rng.randint(8, 30))) for _ in range(400)]
    lines = menu[:900] + article + menu[900:]
    labels, recovered, total = align_page(lines, "\n".join(article))
    assert total > 5000
    assert recovered == total
    assert labels[900:1300] == [0] * 400
    # Random menu words can match stray gold words, but only in a few short lines.
    assert sum(1 - x for x in labels[:900] + labels[1300:]) < 30

    a = [rng.randrange(50) for _ in range(3000)]
    b = [x for x in a if rng.random() < 0.7]
    blocks = _matching_blocks(a, b)
    for (i1, j1, s1), (i2, j2, _) in itertools.pairwise(blocks):
        assert i1 + s1 <= i2 and j1 + s1 <= j2  # monotone, no overlap
    for i, j, size in blocks:
        assert a[i : i + size] == b[j : j + size]


# --- directories ---------------------------------------------------------------------------


def write_pair(directory: Path, key: str, html: str, gold: str | bytes | None) -> None:
    (directory / f"{key}.html").write_text(html, encoding="utf-8")
    if isinstance(gold, bytes):
        (directory / f"{key}.gold.txt").write_bytes(gold)
    elif gold is not None:
        (directory / f"{key}.gold.txt").write_text(gold, encoding="utf-8")


GOLD = "\n\n".join([TITLE, *PARAS])


def test_import_gold_dir_sorted_ids_source_and_extra(tmp_path: Path):
    d = tmp_path / "news"
    d.mkdir()
    for key in ["b", "c", "a"]:
        write_pair(d, key, page_html(), GOLD)
    (d / "notes.txt").write_text("not a page")
    stats = AlignmentStats()
    pages = list(import_gold_dir(d, lang="en", stats=stats))
    assert [p.id for p in pages] == ["news/a", "news/b", "news/c"]
    for p in pages:
        assert p.source == "news" and p.lang == "en"
        assert p.labels == EXPECTED
        assert p.lines == [*NAV, TITLE, *PARAS, *FOOTER]
        assert p.extra["gold_recovered"] == 1.0
        assert len(p.extra["markup"]) == len(p.lines)
    assert stats.pages == 3 and stats.failed == []
    assert stats.recovered_share == 1.0

    pages = list(import_gold_dir(str(d), source="bakery-news"))
    assert [p.id for p in pages] == ["bakery-news/a", "bakery-news/b", "bakery-news/c"]
    assert {p.source for p in pages} == {"bakery-news"}
    assert pages[0].lang is None


def test_gold_of_another_article_fails_and_is_skipped(tmp_path: Path):
    other = (
        "The council approved the plan for a new cycling lane along the river.\n"
        "Work is expected to start in spring and to last nine months.\n"
    )
    write_pair(tmp_path, "good", page_html(), GOLD)
    write_pair(tmp_path, "wrong", page_html(), other)
    write_pair(tmp_path, "empty", page_html(), "URL: http://example.org/\n\n")
    stats = AlignmentStats()
    pages = list(import_gold_dir(tmp_path, stats=stats))
    assert [p.id.split("/")[1] for p in pages] == ["good"]
    assert stats.pages == 3
    assert stats.failed == ["empty", "wrong"]
    assert 0 < stats.recovered_share < 1
    # With no threshold the mismatched page comes through, scored by its recovered share.
    kept = list(import_gold_dir(tmp_path, min_recovered=0.0))
    wrong = next(p for p in kept if p.id.endswith("/wrong"))
    assert wrong.extra["gold_recovered"] < 0.5


def test_missing_gold_file_warns_and_skips(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    write_pair(tmp_path, "p1", page_html(), GOLD)
    write_pair(tmp_path, "p2", page_html(), None)
    stats = AlignmentStats()
    with caplog.at_level(logging.WARNING, logger="bpclf"):
        pages = list(import_gold_dir(tmp_path, stats=stats))
    assert [p.id.split("/")[1] for p in pages] == ["p1"]
    assert stats.pages == 1 and stats.failed == []
    assert any(
        "p2.html" in r.getMessage() and "p2.gold.txt" in r.getMessage() for r in caplog.records
    )


def test_gold_files_in_utf16_and_cp1252_are_decoded(tmp_path: Path):
    paras = [*PARAS, "Prices rise – a loaf now costs €4 – says the café’s owner."]
    gold = "\n".join([TITLE, *paras])
    write_pair(tmp_path, "u16", page_html(paras), gold.encode("utf-16"))
    write_pair(tmp_path, "win", page_html(paras), gold.encode("cp1252"))
    stats = AlignmentStats()
    pages = list(import_gold_dir(tmp_path, stats=stats))
    assert [p.extra["gold_recovered"] for p in pages] == [1.0, 1.0]
    assert stats.failed == []


def test_unreadable_directory_raises_data_error(tmp_path: Path):
    with pytest.raises(DataError, match="missing"):
        import_gold_dir(tmp_path / "missing")
    file = tmp_path / "file.html"
    file.write_text("<p>x</p>")
    with pytest.raises(DataError):
        import_gold_dir(file)


def test_imported_pages_keep_their_url_for_site_statistics(tmp_path: Path):
    canonical = page_html().replace(
        "<title>", '<link rel="canonical" href="https://bakery.example/news/1"><title>'
    )
    write_pair(tmp_path, "a", page_html(), "URL: http://www.example.org/a.html\n\n" + GOLD)
    write_pair(tmp_path, "b", canonical, GOLD)
    write_pair(tmp_path, "c", page_html(), GOLD)
    urls = [p.extra.get("url") for p in import_gold_dir(tmp_path)]
    assert urls == ["http://www.example.org/a.html", "https://bakery.example/news/1", None]
