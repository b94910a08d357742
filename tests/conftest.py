"""Shared fixtures: small self-written labelled pages and a tiny trained model."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bpclf.config import Config, FeatureConfig, LexicalConfig, ModelConfig
from bpclf.formats import dumps
from bpclf.model import BoilerplateClassifier
from bpclf.pages import Page

ARTICLE = {
    "en": [
        "The committee met on Monday to discuss the new budget for the schools.",
        "According to the report, the number of pupils has grown by ten percent since last year.",
        "She said that the results were better than they had expected in the spring.",
        "It is not clear when the work on the new library will begin, but it should be soon.",
        "Many of the residents were worried about the noise, and they asked the city for help.",
    ],
    "de": [
        "Der Ausschuss hat am Montag über den neuen Haushalt für die Schulen beraten.",
        "Nach dem Bericht ist die Zahl der Schüler seit dem letzten Jahr um zehn Prozent gestiegen.",
        "Sie sagte, dass die Ergebnisse besser waren, als man es im Frühjahr erwartet hatte.",
        "Es ist noch nicht klar, wann die Arbeiten an der neuen Bibliothek beginnen werden.",
    ],
    "fi": [
        "Valiokunta kokoontui maanantaina keskustelemaan koulujen uudesta talousarviosta.",
        "Raportin mukaan oppilaiden määrä on kasvanut kymmenen prosenttia viime vuodesta.",
        "Hän sanoi, että tulokset olivat parempia kuin keväällä oli odotettu.",
        "Ei ole vielä selvää, milloin uuden kirjaston rakentaminen alkaa.",
    ],
}
MENU = [
    "Home",
    "News",
    "Sport",
    "Music",
    "Contact us",
    "Sign in",
    "Share on Facebook",
    "Privacy policy",
    "Newsletter",
    "Download App",
]


def make_page(
    page_id: str, lang: str = "en", seed: int = 0, n_article: int = 4, n_menu: int = 5
) -> Page:
    """A page: a headline, article sentences (content), then a menu column (boilerplate)."""
    rng = random.Random(seed)
    article = [rng.choice(ARTICLE[lang]) for _ in range(n_article)]
    menu = rng.sample(MENU, n_menu)
    lines = ["Local news"] + article + menu
    labels = [0] * (1 + n_article) + [1] * n_menu
    if seed % 3 == 0:  # some pages start with navigation
        lines = ["Menu", "Search"] + lines
        labels = [1, 1] + labels
    return Page(id=page_id, lines=lines, labels=labels, lang=lang, source=f"fixture-{lang}")


def make_pages(n: int = 24, langs: tuple[str, ...] = ("en", "de", "fi")) -> list[Page]:
    return [make_page(f"p{i}", langs[i % len(langs)], seed=i) for i in range(n)]


def tiny_config() -> Config:
    """Small and fast: tests train only tiny models."""
    return Config(
        features=FeatureConfig(context_window=2),
        model=ModelConfig(
            max_iter=25,
            min_samples_leaf=5,
            n_iter_no_change=10,
            max_leaf_nodes=8,
            second_pass=True,
        ),
        lexical=LexicalConfig(enabled=True, hash_bits=12, folds=3),
    )


@pytest.fixture(scope="session")
def pages() -> list[Page]:
    return make_pages()


@pytest.fixture(scope="session")
def tiny_model(pages) -> BoilerplateClassifier:
    return BoilerplateClassifier(tiny_config()).fit(pages)


@pytest.fixture(scope="session")
def model_file(tiny_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.bpclf"
    tiny_model.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text(
        "[features]\ncontext_window = 2\n"
        "[model]\nmax_iter = 25\nmin_samples_leaf = 5\nn_iter_no_change = 10\n"
        "max_leaf_nodes = 8\n"
    )
    return path


def write_jsonl(path: Path, pages: list[Page]) -> Path:
    """Pages as JSONL, written the way bpclf writes JSONL (compact separators)."""
    path.write_text("".join(dumps(p.to_record()) + "\n" for p in pages), encoding="utf-8")
    return path


@pytest.fixture
def pool_starts(monkeypatch) -> list[tuple]:
    """The constructor arguments of every worker pool bpclf starts during the test."""
    from bpclf import parallel

    started: list[tuple] = []

    class Pool(parallel.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            started.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Pool)
    return started
