import numpy as np
import pytest

from bpclf.errors import DataError
from bpclf.phrases import Lexicon
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


def _match(lines, runs=None):
    text = "\n".join(lines)
    lens = np.array([len(x) for x in lines])
    starts = np.cumsum(lens + 1) - (lens + 1)
    return LEX.match_lines(text, starts, len(lines), runs)


def test_matches_whole_words_case_insensitive_across_spaces():
    m = _match(["Please SUPPORT   us today", "donated money", "Sign in or donate", ""])
    assert m.count.tolist() == [1, 0, 2, 0]
    assert m.covered[0] == len("SUPPORT   us")
    cats = list(LEX.categories)
    assert m.by_category[2, cats.index("account")] == 1
    assert m.by_category[2, cats.index("appeal")] == 1


def test_phrases_of_other_languages_do_not_fire():
    lines = ["Don Quijote read the newsletter", "un don pour nous"]
    text_len = len(lines[0])
    runs = [("en", 0, text_len), ("fr", text_len + 1, text_len + 1 + len(lines[1]))]
    m = _match(lines, runs)
    assert m.count.tolist() == [1, 1]  # 'newsletter' (any language) and French 'don'
    m_all = _match(lines)  # unknown language: every phrase
    assert m_all.count.tolist() == [2, 1]


def test_typographic_apostrophe_matches():
    runs = [("fr", 0, 20)]
    assert _match(["J’accepte"], runs).count.tolist() == [1]


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
