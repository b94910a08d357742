import pytest

from bpclf.errors import DataError
from bpclf.phrases import Lexicon, normalise_phrase
from bpclf.resources import configs_dir

LEX = Lexicon.from_rows(
    [
        ("support us", "en", "appeal"),
        ("donate", "en", "appeal"),
        ("sign in", "en", "account"),
        ("don", "fr", "appeal"),
        ("j'accepte", "fr", "ui"),
        ("newsletter", "*", "subscribe"),
    ]
)


def _match(lines, langs=None):
    return LEX.match_lines(lines, langs)


def test_matches_whole_words_case_insensitive_across_spaces():
    m = _match(["Please SUPPORT   us today", "donated money", "Sign in or donate", ""])
    assert m.count.tolist() == [1, 0, 2, 0]
    assert m.covered[0] == len("SUPPORT   us")
    cats = list(LEX.categories)
    assert m.by_category[2, cats.index("account")] == 1
    assert m.by_category[2, cats.index("appeal")] == 1


def test_longest_phrase_wins_and_words_stay_whole():
    lex = Lexicon.from_rows(
        [("sign", "en", "ui"), ("sign in", "en", "account"), ("sign up", "en", "account"),
         ("in", "en", "nav"), ("e-mail", "en", "subscribe")]
    )  # fmt: skip
    m = lex.match_lines(["Sign in, signing, sign\tup, in", "E-Mail me", "e mail", "email"])
    assert m.count.tolist() == [3, 1, 0, 0]  # "Sign in", "sign\tup", "in"; gaps must agree
    assert m.covered[0] == len("Sign in") + len("sign\tup") + len("in")
    cats = list(lex.categories)
    assert m.by_category[0, cats.index("account")] == 2
    assert m.by_category[0, cats.index("ui")] == 0


def test_phrases_do_not_cross_lines():
    lex = Lexicon.from_rows([("read more", "en", "nav")])
    assert lex.match_lines(["read", "more", "read more"]).count.tolist() == [0, 0, 1]


def test_normalise_phrase():
    assert normalise_phrase("  Don’t   Miss ") == "don't miss"


def test_phrases_of_other_languages_do_not_fire():
    lines = ["Don Quijote read the newsletter", "un don pour nous"]
    m = _match(lines, ["en", "fr"])
    assert m.count.tolist() == [1, 1]  # 'newsletter' (any language) and French 'don'
    m_all = _match(lines)  # unknown language: every phrase
    assert m_all.count.tolist() == [2, 1]


def test_typographic_apostrophe_matches():
    assert _match(["J’accepte", "j'accepte", "J accepte"], ["fr"] * 3).count.tolist() == [1, 1, 0]


def test_lexicon_file_round_trip_and_errors(tmp_path):
    path = tmp_path / "lex.tsv"
    path.write_text(LEX.to_tsv())
    assert Lexicon.from_file(path).entries == LEX.entries
    path.write_text("phrase\tlang\tcategory\nonly two\tfields\n")
    with pytest.raises(DataError, match=r"lex\.tsv:2:"):
        Lexicon.from_file(path)


def test_bundled_lexicon_covers_languages_and_categories():
    lex = Lexicon.from_file(configs_dir() / "phrases.tsv")
    for lang in ("en", "de", "es", "fi", "fr", "sv", "ru", "it", "pt", "nl", "pl"):
        cats = {c for _, lg, c in lex.entries if lg == lang}
        assert {"appeal", "subscribe", "account", "legal", "social", "nav"} <= cats, lang
