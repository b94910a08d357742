import math
import random
import time

import pytest

from bpclf.mining import MinedPhrase, log_odds_z, mine_phrases, to_lexicon_tsv, tokenize
from bpclf.pages import Page
from bpclf.phrases import Lexicon

# Content lines contain "support", "us", "monthly", "support us" and "us monthly", but
# never the whole "support us monthly", so only the trigram is pure boilerplate.
EN_CONTENT = [
    "The committee met the mayor on Monday to discuss the budget.",
    "Readers support us in many ways, the editor said.",
    "They write to us monthly about the weather in the valley.",
    "The report says the number of pupils has grown since the spring.",
    "It is not clear when the work on the library will begin now.",
]
EN_BOILER = [
    "Support us monthly",
    "Home | News | Sport",
    "Read the latest news",
    "Subscribe now",
    "Newsletter signup",
]
DE_CONTENT = [
    "Der Ausschuss hat am Montag über den neuen Haushalt beraten.",
    "Nach dem Bericht ist die Zahl der Schüler gestiegen, sagte sie.",
    "Die Leser unterstützen uns seit Jahren, sagte der Redakteur.",
]
DE_BOILER = [
    "Jetzt spenden",
    "Startseite | Nachrichten",
    "Support us monthly und die Redaktion",
]


def page(pid, content, boiler, lang="en"):
    lines = []
    labels = []
    for i in range(max(len(content), len(boiler))):
        if i < len(boiler):
            lines.append(boiler[i])
            labels.append(1)
        if i < len(content):
            lines.append(content[i])
            labels.append(0)
    return Page(id=pid, lines=lines, labels=labels, lang=lang)


def en_pages(n=20, extra_boiler=(), extra_content=()):
    return [
        page(f"en{i}", EN_CONTENT + list(extra_content), EN_BOILER + list(extra_boiler))
        for i in range(n)
    ]


def by_key(mined):
    return {(m.phrase, m.lang): m for m in mined}


def test_tokenize_lowercases_and_keeps_apostrophes():
    assert tokenize("Don’t MISS it's 2024, e-mail!") == [
        "don't",
        "miss",
        "it's",
        "2024",
        "e",
        "mail",
    ]


def test_log_odds_z_is_zero_for_equal_rates_and_signed():
    assert log_odds_z(10, 30, 100, 300, 0.1) == pytest.approx(0.0, abs=1e-12)
    assert log_odds_z(40, 0, 100, 300, 0.1) > 3
    assert log_odds_z(0, 40, 100, 300, 0.1) < -3
    # Exact formula, by hand: a0 = 0.1 * 400 = 40, a_w = 40 * 42 / 400 = 4.2.
    a_w = 4.2
    delta = math.log((40 + a_w) / (100 + 40 - 40 - a_w)) - math.log(
        (2 + a_w) / (300 + 40 - 2 - a_w)
    )
    z = delta / math.sqrt(1 / (40 + a_w) + 1 / (2 + a_w))
    assert log_odds_z(40, 2, 100, 300, 0.1) == pytest.approx(z)
    # A phrase on every line of both classes has undefined odds: no evidence.
    assert log_odds_z(100, 300, 100, 300, 0.1) == 0.0


def test_boilerplate_phrase_mined_and_common_word_not():
    mined = mine_phrases(en_pages())
    found = by_key(mined)
    hit = found[("support us monthly", "en")]
    assert hit.boilerplate == 20
    assert hit.content == 0
    assert hit.pages == 20
    assert hit.score > 3
    assert ("the", "en") not in found
    # "the" is in both classes; its score stays below the threshold even with no filters.
    everything = by_key(mine_phrases(en_pages(), min_score=-100, top=10_000))
    assert everything[("the", "en")].score < 3
    assert everything[("the", "en")].content > 0
    assert everything[("the", "en")].score < hit.score
    assert all(m.lang == "en" for m in mined)
    assert all(m.score >= 3 for m in mined)


def test_output_sorted_and_top_per_language():
    pages = en_pages() + [page(f"de{i}", DE_CONTENT, DE_BOILER, "de") for i in range(20)]
    mined = mine_phrases(pages)
    keys = [(m.lang, -m.score, m.phrase) for m in mined]
    assert keys == sorted(keys)
    assert {m.lang for m in mined} == {"de", "en"}
    limited = mine_phrases(pages, top=2)
    assert [m.lang for m in limited] == ["de", "de", "en", "en"]
    assert limited[:2] == [m for m in mined if m.lang == "de"][:2]


def test_min_support_filter():
    # "donate today" is in 4 boilerplate lines on 4 pages.
    pages = en_pages()
    for p in pages[:4]:
        p.lines.append("Donate today")
        p.labels.append(1)
    low = by_key(mine_phrases(pages, min_support=4, min_score=0))
    assert low[("donate", "en")].boilerplate == 4
    high = by_key(mine_phrases(pages, min_support=5, min_score=0))
    assert ("donate", "en") not in high
    assert ("donate today", "en") not in high
    assert ("support us monthly", "en") in high


def test_min_pages_filter_counts_distinct_pages():
    # "become a member" is in 6 boilerplate lines, but on 2 pages only.
    pages = en_pages()
    for p in pages[:2]:
        p.lines += ["Become a member"] * 3
        p.labels += [1, 1, 1]
    two = by_key(mine_phrases(pages, min_pages=2, min_score=0))
    assert two[("member", "en")].boilerplate == 6
    assert two[("member", "en")].pages == 2
    three = by_key(mine_phrases(pages, min_pages=3, min_score=0))
    assert ("member", "en") not in three
    assert ("become a member", "en") not in three


def test_ngram_counted_once_per_line():
    pages = en_pages(extra_boiler=["Share share share on social media"])
    found = by_key(mine_phrases(pages))
    assert found[("share", "en")].boilerplate == 20


def test_languages_are_separated():
    de = [page(f"de{i}", DE_CONTENT, DE_BOILER, "de") for i in range(20)]
    # In German pages the appeal is "jetzt spenden"; "support us monthly" appears there too.
    # In French pages "support us monthly" is content.
    fr = [
        page(
            f"fr{i}",
            ["Le comité a parlé de support us monthly hier.", "Bonjour à tous."],
            ["Accueil"],
            "fr",
        )
        for i in range(20)
    ]
    found = by_key(mine_phrases(en_pages() + de + fr))
    assert ("spenden", "de") in found
    assert not any(lang == "en" and p in ("spenden", "jetzt spenden") for p, lang in found)
    assert found[("support us monthly", "en")].boilerplate == 20
    assert not any(lang == "fr" and "support" in p for p, lang in found)
    # Counts are per language: German boilerplate lines do not add to the English count.
    assert found[("support us monthly", "en")].content == 0


def test_pages_without_lang_pool_under_star_and_unlabelled_pages_are_skipped():
    pages = [page(f"x{i}", EN_CONTENT, EN_BOILER, lang=None) for i in range(20)]
    unlabelled = [Page(id=f"u{i}", lines=["Support us monthly"] * 5, lang=None) for i in range(10)]
    mined = mine_phrases(pages + unlabelled)
    assert {m.lang for m in mined} == {"*"}
    assert by_key(mined)[("support us monthly", "*")].boilerplate == 20


def test_exclusion_by_existing_lexicon():
    de = [page(f"de{i}", DE_CONTENT, DE_BOILER, "de") for i in range(20)]
    pages = en_pages() + de
    base = by_key(mine_phrases(pages))
    assert ("support us monthly", "en") in base
    assert ("subscribe", "en") in base
    assert ("startseite", "de") in base
    assert ("nachrichten", "de") in base
    lex = Lexicon.from_rows(
        [
            ("Support  us monthly", "en", "appeal"),  # normalised like the lexicon does
            ("subscribe", "fr", "subscribe"),  # other language: not excluded
            ("startseite", "*", "nav"),  # every language
            ("nachrichten", "en", "nav"),  # other language: not excluded
        ]
    )
    found = by_key(mine_phrases(pages, exclude=lex))
    assert ("support us monthly", "en") not in found
    assert ("subscribe", "en") in found
    assert ("startseite", "de") not in found
    assert ("nachrichten", "de") in found
    # Everything else is unchanged.
    assert set(base) - set(found) == {("support us monthly", "en"), ("startseite", "de")}


def test_exclusion_compares_tokenised_form():
    pages = en_pages(
        extra_boiler=["Sign-up for free"], extra_content=["Sign the form and pick it up later."]
    )
    assert ("sign up", "en") in by_key(mine_phrases(pages))
    lex = Lexicon.from_rows([("sign-up", "en", "account")])
    found = by_key(mine_phrases(pages, exclude=lex))
    assert ("sign up", "en") not in found
    assert ("free", "en") in found


def test_stopword_only_and_digit_only_ngrams_dropped():
    pages = en_pages(extra_boiler=["© 2024 Example Media", "of the"])
    plain = by_key(mine_phrases(pages))
    assert ("2024", "en") not in plain
    assert ("example", "en") in plain
    assert ("of the", "en") in plain
    with_stop = by_key(mine_phrases(pages, stopwords={"en": ["of", "The"], "de": ["der"]}))
    assert ("of", "en") not in with_stop
    assert ("of the", "en") not in with_stop
    assert ("example", "en") in with_stop
    # Stopwords of another language do not apply.
    other = by_key(mine_phrases(pages, stopwords={"de": ["of", "the"]}))
    assert ("of the", "en") in other


def test_redundant_extension_dropped():
    found = by_key(mine_phrases(en_pages()))
    # Every "subscribe" line says "subscribe now" and "subscribe" is never content:
    # the extension covers no new line and avoids no content line.
    assert ("subscribe", "en") in found
    assert ("subscribe now", "en") not in found
    # The same, without the redundancy rule being satisfied by "now" (it is content).
    assert ("now", "en") not in found
    # "support us monthly": every shorter part is also in content, so it is not redundant.
    assert ("support us monthly", "en") in found
    assert ("support us", "en") not in found


def test_extension_kept_when_counts_differ():
    # "signup" also appears alone in other boilerplate lines, so its count is higher
    # than that of "newsletter signup", which is kept.
    pages = en_pages(extra_content=["The newsletter of the club is sent out by post."])
    for p in pages[:10]:
        p.lines.append("Signup")
        p.labels.append(1)
    found = by_key(mine_phrases(pages))
    assert found[("signup", "en")].boilerplate == 30
    assert found[("newsletter signup", "en")].boilerplate == 20
    # Without the extra "signup" lines, the extension is redundant.
    plain = by_key(
        mine_phrases(en_pages(extra_content=["The newsletter of the club is sent out by post."]))
    )
    assert ("signup", "en") in plain
    assert ("newsletter signup", "en") not in plain


def test_deterministic_and_independent_of_page_order():
    de = [page(f"de{i}", DE_CONTENT, DE_BOILER, "de") for i in range(20)]
    pages = en_pages() + de
    first = mine_phrases(pages, min_score=1)
    assert first == mine_phrases(pages, min_score=1)
    shuffled = list(pages)
    random.Random(3).shuffle(shuffled)
    assert mine_phrases(shuffled, min_score=1) == first
    stop_a = {"en": ["the", "of"], "de": ["der", "die"]}
    stop_b = {"de": ["die", "der"], "en": ["of", "the"]}
    assert mine_phrases(pages, stopwords=stop_a) == mine_phrases(shuffled, stopwords=stop_b)


def test_tsv_round_trips_through_lexicon_file(tmp_path):
    pages = en_pages(extra_boiler=["Don’t miss our offers"])
    mined = mine_phrases(pages)
    assert ("don't", "en") in by_key(mined)
    text = to_lexicon_tsv(mined, category="appeal")
    path = tmp_path / "mined.tsv"
    path.write_text(text, encoding="utf-8")
    lex = Lexicon.from_file(path)
    assert [(p, lang) for p, lang, _ in lex.entries] == [(m.phrase, m.lang) for m in mined]
    assert {c for _, _, c in lex.entries} == {"appeal"}
    lines = text.splitlines()
    assert lines[0].startswith("#") and "review" in text.lower()
    assert "phrase\tlang\tcategory" in lines
    first_row = lines.index(f"{mined[0].phrase}\ten\tappeal")
    assert lines[first_row - 1].startswith(
        f"# score={mined[0].score:.2f} boilerplate={mined[0].boilerplate}"
    )
    assert sum(1 for line in lines if line.startswith("# score=")) == len(mined)


def test_tsv_default_category_and_bad_category():
    mined = [MinedPhrase("support us", "en", 5.0, 40, 2, 12)]
    text = to_lexicon_tsv(mined)
    assert "support us\ten\tmined" in text.splitlines()
    assert "# score=5.00 boilerplate=40 content=2 pages=12" in text.splitlines()
    with pytest.raises(ValueError):
        to_lexicon_tsv(mined, category="a\tb")
    assert Lexicon.from_rows([]).entries == ()
    assert to_lexicon_tsv([]).endswith("phrase\tlang\tcategory\n")


def test_invalid_arguments():
    with pytest.raises(ValueError):
        mine_phrases([], max_n=0)
    with pytest.raises(ValueError):
        mine_phrases([], prior_weight=0)
    assert mine_phrases([]) == []


def test_fast_on_forty_thousand_lines():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(3000)]
    boiler = ["Support us monthly", "Share on Facebook", "Privacy policy", "Sign in"]
    pages = []
    for i in range(1000):
        lines, labels = [], []
        for _ in range(30):
            lines.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 25))))
            labels.append(0)
        for _ in range(10):
            lines.append(rng.choice(boiler))
            labels.append(1)
        pages.append(Page(id=str(i), lines=lines, labels=labels, lang="en"))
    start = time.perf_counter()
    mined = mine_phrases(pages)
    elapsed = time.perf_counter() - start
    assert elapsed < 5
    # The boilerplate words never occur apart, so the shortest parts are kept (redundancy).
    assert {m.phrase for m in mined} == {"support", "us", "monthly", "share", "on", "facebook"} | {
        "privacy",
        "policy",
        "sign",
        "in",
    }
