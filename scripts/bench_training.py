#!/usr/bin/env python
"""Training time and peak memory of `bpclf train` on N generated labelled lines.

Target (corpus-scale issue): training on 1 million labelled lines finishes in under 2
minutes on 2 cores, with peak memory reported.

Generates labelled pages (20-80 lines: navigation menus, headline, byline, article
paragraphs, appeal blocks, related-article lists, footers; six languages; seeded) by
recombining the labelled lines of data/*.jsonl and data/train/*.jsonl: article sentences
come from a word-bigram chain over the content lines, numbers are redrawn and 2% of the
labels are flipped, so the model cannot simply memorise the lines. Then runs
`bpclf train FILE -o model.bpclf` as a subprocess, with wall time, CPU time and the
process tree's peak memory (scripts/_measure.py), and in the same run, as the baseline,
times a bare scikit-learn HistGradientBoostingClassifier fit on a random matrix of the same
shape (rows x bpclf's features) with the trained model's tree settings and number of
trees, and the same fit on bpclf's own feature matrix and labels (trees on real data
cost ~2x more than on random data). Reading and feature extraction are timed in-process
on the same file to show where the training time goes. Absolute figures depend on the
machine; the ratios are measured in one run.

    python scripts/bench_training.py [--lines 1000000] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from _measure import Measured, run_measured

REPO = Path(__file__).resolve().parent.parent
MATERIAL = ["data/appeal-page-*.jsonl", "data/train/*.jsonl"]
MENU = ["Home", "News", "Sport", "Music", "Contact us", "Sign in", "Share on Facebook"]
MENU += ["Privacy policy", "Newsletter", "Download App", "Search", "Menu", "Log in"]
RELATED = ["Related articles", "Read more", "Most read", "You may also like", "More news"]
FOOTER = ["Terms of use", "Cookie settings", "Imprint", "Accessibility", "Advertise"]
NAMES = ["Anna Berg", "Tom Harris", "Lea Martin", "Jukka Niemi", "Sofia Ruiz", "Ole Lund"]
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
DIGITS = re.compile(r"\d+")


def bpclf_command() -> list[str]:
    """The `bpclf` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "bpclf"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bpclf.cli"]


def load_average() -> str:
    """The machine's load: benchmark figures from a busy machine are not comparable."""
    return "load average (1, 5, 15 min): " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def load_material() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Content and boilerplate lines by language from the labelled pages in data/."""
    content: dict[str, list[str]] = defaultdict(list)
    boiler: dict[str, list[str]] = defaultdict(list)
    for pattern in MATERIAL:
        for name in sorted(glob.glob(str(REPO / pattern))):
            for row in Path(name).read_text(encoding="utf-8").splitlines():
                page = json.loads(row)
                for line, label in zip(page["lines"], page["boilerplate"], strict=True):
                    (boiler if label else content)[page["lang"]].append(line)
    return dict(content), dict(boiler)


def bigram_chain(lines: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Sentence-start words and word -> following words, over the sentences of ``lines``."""
    starts, follow = [], defaultdict(list)
    for line in lines:
        for sentence in SENTENCE_END.split(line):
            words = sentence.split()
            if len(words) > 3:
                starts.append(words[0])
                for a, b in itertools.pairwise(words):
                    follow[a].append(b)
    return starts, dict(follow)


def chain_sentence(rng: random.Random, starts: list[str], follow: dict[str, list[str]]) -> str:
    """A new sentence from the chain: 4-45 words, ends at a terminal word when it can."""
    words = [rng.choice(starts)]
    while len(words) < 45:
        nxt = follow.get(words[-1])
        if not nxt or (len(words) >= 4 and words[-1][-1] in '.!?"'):
            break
        words.append(rng.choice(nxt))
    return " ".join(words)


class PageMaker:
    """Seeded generator of labelled pages (1 = boilerplate) in six languages.

    ``paragraph`` is the range of sentences per article paragraph: (1, 3) gives lines of
    mostly 60-400 characters, like article text extracted from real pages.
    """

    def __init__(self, seed: int = 0, pool: int = 4000, paragraph: tuple[int, int] = (1, 3)):
        self.rng = random.Random(seed)
        self.paragraph = paragraph
        content, boiler = load_material()
        self.langs = sorted(content)
        self.sentences, self.headlines = {}, {}
        for lang in self.langs:
            starts, follow = bigram_chain(content[lang])
            made = [chain_sentence(self.rng, starts, follow) for _ in range(pool)]
            self.sentences[lang] = made
            self.headlines[lang] = [
                " ".join(s.split()[: self.rng.randint(4, 11)]).rstrip(".,;:") for s in made[:500]
            ]
        self.menu = {k: MENU + [x for x in v if len(x.split()) <= 3] for k, v in boiler.items()}
        self.appeal = {k: [x for x in v if len(x.split()) > 3] for k, v in boiler.items()}

    def _numbers(self, text: str) -> str:
        return DIGITS.sub(lambda m: str(self.rng.randint(1, 10 ** len(m.group()))), text)

    def _paragraph(self, lang: str) -> str:
        k = self.rng.randint(*self.paragraph)
        return self._numbers(" ".join(self.rng.choices(self.sentences[lang], k=k)))

    def _menu(self, lang: str) -> list[str]:
        return self.rng.sample(self.menu[lang], self.rng.randint(3, 10))

    def _appeal(self, lang: str) -> list[str]:
        pool = self.appeal[lang]
        i = self.rng.randrange(len(pool))
        return [self._numbers(x) for x in pool[i : i + self.rng.randint(2, 6)]]

    def _related(self, lang: str) -> list[str]:
        n = self.rng.randint(3, 6)
        return [self.rng.choice(RELATED)] + self.rng.sample(self.headlines[lang], n)

    def _footer(self) -> list[str]:
        year, site = self.rng.randint(2005, 2025), self.rng.choice(["Daily Post", "Tribune"])
        return [f"© {year} {site}. All rights reserved."] + self.rng.sample(FOOTER, 3)

    def _byline(self) -> str:
        day, year = self.rng.randint(1, 28), self.rng.randint(2010, 2025)
        return f"By {self.rng.choice(NAMES)} | {day}.{self.rng.randint(1, 12)}.{year}"

    def page(self, page_id: str, n_lines: int) -> dict:
        """One labelled page record of about ``n_lines`` lines (at least 3 of article)."""
        rng, lang = self.rng, self.rng.choice(self.langs)
        head = self._menu(lang) if rng.random() < 0.7 else []
        tail = self._appeal(lang) if rng.random() < 0.5 else []
        tail += self._related(lang) if rng.random() < 0.5 else []
        tail += self._footer()
        mid = self._appeal(lang) if rng.random() < 0.3 else []
        n_body = max(3, n_lines - len(head) - len(tail) - len(mid) - 2)
        body = [self._paragraph(lang) for _ in range(n_body)]
        cut = rng.randint(1, n_body)
        lines = head + [rng.choice(self.headlines[lang]), self._byline()] + body[:cut]
        lines += mid + body[cut:] + tail
        labels = [1] * len(head) + [0] * (2 + cut) + [1] * len(mid) + [0] * (n_body - cut)
        labels += [1] * len(tail)
        labels = [1 - y if rng.random() < 0.02 else y for y in labels]
        return {
            "id": page_id,
            "lang": lang,
            "source": "bench",
            "lines": lines,
            "boilerplate": labels,
        }


def write_training_file(path: Path, n_lines: int, seed: int) -> tuple[int, int]:
    """Labelled pages of 20-80 lines up to ``n_lines`` lines; returns (pages, lines)."""
    maker = PageMaker(seed)
    pages = lines = 0
    with path.open("w", encoding="utf-8") as out:
        while lines < n_lines:
            record = maker.page(f"train-{pages}", maker.rng.randint(20, 80))
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            pages, lines = pages + 1, lines + len(record["lines"])
    return pages, lines


def features_in_process(path: Path, model) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Seconds to read the file and to compute its features as `train` does; X and y."""
    from bpclf.pages import batched
    from bpclf.readers import read_pages

    t0 = time.perf_counter()
    pages = list(read_pages([str(path)], require_labels=True))
    t1 = time.perf_counter()
    # the batches of BoilerplateClassifier._features
    X = np.vstack([model.extractor_.transform(b) for b in batched(pages, 20000)])
    t2 = time.perf_counter()
    y = np.array([v for p in pages for v in p.labels or []])
    return t1 - t0, t2 - t1, X, y


def time_bare_hgb(X: np.ndarray, y: np.ndarray, model, seed: int) -> float:
    """Seconds of one plain HistGradientBoostingClassifier fit: the model's tree settings
    and number of trees, no early stopping, no weights."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    m = model.config_.model
    hgb = HistGradientBoostingClassifier(
        learning_rate=m.learning_rate,
        max_iter=model.meta_["n_iter"],
        max_leaf_nodes=m.max_leaf_nodes,
        min_samples_leaf=m.min_samples_leaf,
        l2_regularization=m.l2_regularization,
        max_features=m.max_features,
        early_stopping=False,
        random_state=seed,
    )
    t0 = time.perf_counter()
    hgb.fit(X, y)
    return time.perf_counter() - t0


def random_problem(shape: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random(shape), rng.integers(0, 2, shape[0])


def describe(run: Measured) -> str:
    pss = f"{run.tree_pss_mb:.0f}" if run.tree_pss_mb is not None else "-"
    return (
        f"{run.seconds:.1f}s wall, {run.cpu_seconds:.1f}s CPU "
        f"({run.cpu_seconds / run.seconds:.2f} cores busy on average); peak memory MB: "
        f"tree RSS {run.tree_rss_mb:.0f}, tree PSS {pss}, largest process {run.max_rss_mb:.0f}"
    )


def train_measured(data: Path, model_path: Path) -> Measured:
    cmd = [*bpclf_command(), "train", str(data), "-o", str(model_path), "-q"]
    print("$", " ".join(cmd), flush=True)
    result = run_measured(cmd)
    print(f"bpclf train: {describe(result)}", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"bpclf train failed with exit code {result.returncode}")
    return result


def report(n: int, train: Measured, read_s: float, feat_s: float, hgb: list[float]) -> None:
    print(f"\n{'step':<44} {'seconds':>8} {'share':>6}")
    rows = [
        ("bpclf train, end to end (subprocess)", train.seconds),
        ("  read JSONL (in-process, same file)", read_s),
        ("  feature extraction (in-process)", feat_s),
        ("  the rest: early-stopped fit, refit, export", train.seconds - read_s - feat_s),
        ("bare HGB fit, random matrix (baseline)", hgb[0]),
        ("bare HGB fit, bpclf's feature matrix", hgb[1]),
    ]
    for name, secs in rows:
        print(f"{name:<44} {secs:>8.1f} {secs / train.seconds:>6.0%}")
    print(f"\nlines/s (train end to end): {n / train.seconds:,.0f}")
    print(f"bpclf train: {describe(train)}")
    print(f"ratio bpclf train / bare HGB fit on a random matrix: {train.seconds / hgb[0]:.2f}")
    print(f"ratio bpclf train / bare HGB fit on its features: {train.seconds / hgb[1]:.2f}")
    print(f"target < 120 s: {'met' if train.seconds < 120 else 'NOT met'} ({train.seconds:.0f} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="labelled lines to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="keep data and model in this dir")
    args = ap.parse_args()
    print(load_average(), flush=True)
    import bpclf

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data, model_path = tmp / "train.jsonl", tmp / "model.bpclf"
        t0 = time.perf_counter()
        pages, n = write_training_file(data, args.lines, args.seed)
        mb = data.stat().st_size / 1e6
        print(f"generated {pages} pages, {n} lines, {mb:.0f} MB in {time.perf_counter() - t0:.0f}s")
        train = train_measured(data, model_path)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(data, args.keep / data.name)
            shutil.copy(model_path, args.keep / model_path.name)
        model = bpclf.load_model(model_path)
        print(f"trees (n_iter): {model.meta_['n_iter']}, features: {len(model.feature_names_)}")
        read_s, feat_s, X, y = features_in_process(data, model)
        print(f"in-process: read {read_s:.1f}s, features {feat_s:.1f}s", flush=True)
        hgb = [time_bare_hgb(*random_problem(X.shape, args.seed), model, args.seed)]
        print(f"bare HGB fit, random matrix: {hgb[0]:.1f}s", flush=True)
        hgb.append(time_bare_hgb(X, y, model, args.seed))
        print(f"bare HGB fit, bpclf's features: {hgb[1]:.1f}s", flush=True)
        report(n, train, read_s, feat_s, hgb)
        print(load_average())
    return 0


if __name__ == "__main__":
    sys.exit(main())
