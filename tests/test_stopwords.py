import pytest

from bpclf.resources import configs_dir
from bpclf.stopwords import Stopwords, read_stopword_dir

SW = Stopwords.from_dict(read_stopword_dir(configs_dir() / "stopwords"))

SAMPLES = {
    "en": "The council said that it would not be able to finish the work before the end of the year.",
    "de": "Der Rat sagte, dass er die Arbeiten nicht vor dem Ende des Jahres abschließen kann.",
    "es": "El consejo dijo que no podría terminar el trabajo antes del final del año.",
    "fi": "Valtuusto sanoi, että se ei pysty saamaan työtä valmiiksi ennen vuoden loppua, koska se on vaikeaa.",
    "fr": "Le conseil a dit qu'il ne pourrait pas terminer le travail avant la fin de l'année.",
    "sv": "Rådet sade att det inte skulle kunna avsluta arbetet före slutet av året.",
    "it": "Il consiglio ha detto che non sarebbe stato in grado di finire il lavoro prima della fine dell'anno.",
    "pl": "Rada powiedziała, że nie będzie w stanie zakończyć pracy przed końcem roku, bo to jest trudne.",
    "ru": "Совет сказал, что он не сможет закончить работу до конца года, потому что это очень трудно.",
}


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_guess_language(lang):
    assert SW.guess_language(SAMPLES[lang]) == lang


def test_guess_needs_enough_evidence():
    assert SW.guess_language("Home Music Trailers") is None
    assert SW.guess_language("") is None


def test_required_languages_present():
    assert {"en", "de", "es", "fi", "fr", "sv", "ru", "it", "pt", "nl", "pl"} <= set(SW.lists)
    assert all(len(words) >= 100 for words in SW.lists.values())


def test_counts_whole_words_of_the_page_language():
    lines = ["The theory of THE Othello, theirs", "Der Hund und die Katze", "the_end of"]
    assert SW.count(lines, ["en", "en", "en"]).tolist() == [4, 0, 1]  # the, of, THE, theirs
    assert SW.count(lines, ["de", "de", None]).tolist() == [0, 3, 0]  # no language: none
