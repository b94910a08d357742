#!/usr/bin/env python
"""Training time and peak memory of `bpclf train` on N generated labelled lines.

Target (corpus-scale issue): training on 1 million labelled lines finishes in under 2
minutes on 2 cores, with peak memory reported.

Generates labelled pages (20-80 lines: navigation menus, headline, byline, article
paragraphs, appeal blocks, related-article lists, footers; six languages; seeded) by
recombining the labelled lines of data/*.jsonl and data/train/*.jsonl: article sentences
come from a word-bigram chain over the content lines, numbers are redrawn and 2% of the
labels are flipped, so the model cannot simply memorise the lines. Then trains on it in
a subprocess, as `bpclf train FILE -o model.bpclf` does (read the pages,
`BoilerplateClassifier.fit` with the default config, save), with wall time, CPU time and
the process tree's peak memory (scripts/_measure.py); the subprocess reports the time of
each step (read, features, early-stopped fit, validation predictions, refit, export,
calibration, save). In the same run, as the baseline, it times a bare scikit-learn
HistGradientBoostingClassifier fit on a random matrix of the same shape (rows x bpclf's
features) with the trained model's tree settings and number of trees, and the same fit on
bpclf's own feature matrix and labels (trees on real data cost ~2x more than on random
data). Absolute figures depend on the machine (and on its load: it is printed before
and after); the ratios are measured in one run.

    python scripts/bench_training.py [--lines 1000000] [--seed 0] [--keep DIR]
        [--baselines random,features]
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


def train_worker(data: Path, model_path: Path, steps_path: Path) -> int:
    """What `bpclf train DATA -o MODEL` does, timed step by step (JSON to ``steps_path``)."""
    from bpclf.api import record_training_files
    from bpclf.config import load_config
    from bpclf.model import BoilerplateClassifier
    from bpclf.readers import read_pages

    t0 = time.perf_counter()
    pages = list(read_pages([str(data)], require_labels=True))
    t1 = time.perf_counter()
    model = BoilerplateClassifier(load_config()).fit(pages)
    t2 = time.perf_counter()
    record_training_files(model, [str(data)], model_path.parent)
    model.save(model_path)
    t3 = time.perf_counter()
    steps = {"read": t1 - t0, **model.fit_seconds_, "save": t3 - t2}
    steps_path.write_text(json.dumps({"steps": steps, "total": t3 - t0}))
    return 0


def features_in_process(path: Path, model) -> tuple[np.ndarray, np.ndarray]:
    """X and y of the file, computed as `train` does (for the second baseline)."""
    from bpclf.readers import read_pages

    pages = list(read_pages([str(path)], require_labels=True))
    X = model._features(pages)
    y = np.array([v for p in pages for v in p.labels or []])
    return X, y


def time_bare_hgb(X: np.ndarray, y: np.ndarray, model, seed: int) -> float:
    """Seconds of one plain HistGradientBoostingClassifier fit: the model's tree settings
    and number of trees, no early stopping, no weights."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    m = model.config_.model
    hgb = HistGradientBoostingClassifier(
        learning_rate=m.large_data_learning_rate if model.large_data_ else m.learning_rate,
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


def train_measured(data: Path, model_path: Path) -> tuple[Measured, dict]:
    """Train in a subprocess (see :func:`train_worker`): its measurements and step times."""
    steps_path = model_path.with_suffix(".steps.json")
    cmd = [sys.executable, __file__, "--worker", str(data), str(model_path), str(steps_path)]
    print("$", " ".join(cmd), flush=True)
    result = run_measured(cmd)
    print(f"train: {describe(result)}", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"training failed with exit code {result.returncode}")
    return result, json.loads(steps_path.read_text())


STEP_NAMES = {
    "read": "read JSONL",
    "features": "feature extraction",
    "early_stopped_fit": "early-stopped fit (1 - validation_fraction)",
    "validation_predict": "validation predictions (exported trees)",
    "refit": "refit on all pages",
    "export": "export trees + check against sklearn",
    "calibration": "calibration, threshold, metrics, op. points",
    "save": "save model file",
    "other": "other (labels, split, weights, summary)",
}


def report(n: int, train: Measured, steps: dict, hgb: dict[str, float], n_iter: int) -> None:
    total = train.seconds
    print(f"\n{'step':<50} {'seconds':>8} {'share':>6}")
    rows = [("train, end to end (subprocess, wall)", total)]
    rows += [(f"  {STEP_NAMES.get(k, k)}", v) for k, v in steps["steps"].items()]
    startup = total - steps["total"]
    rows.append(("  interpreter start-up, imports", startup))
    labels = {"random": "random matrix", "features": "bpclf's feature matrix"}
    rows += [(f"bare HGB fit, {labels[k]}, {n_iter} trees", v) for k, v in hgb.items()]
    for name, secs in rows:
        print(f"{name:<50} {secs:>8.1f} {secs / total:>6.0%}")
    fitting = total - steps["steps"].get("features", 0.0) - steps["steps"].get("read", 0.0)
    print(f"\nlines/s (train end to end): {n / total:,.0f}")
    print(f"train: {describe(train)}")
    print(f"train without reading and features: {fitting:.1f}s")
    for k, secs in hgb.items():
        print(f"ratio train / bare HGB fit on {labels[k]}: {total / secs:.2f}")
    print(f"target < 120 s: {'met' if total < 120 else 'NOT met'} ({total:.0f} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="labelled lines to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="keep data and model in this dir")
    ap.add_argument(
        "--baselines",
        default="random,features",
        help="bare HGB fits to time: on a random matrix and/or on bpclf's features",
    )
    ap.add_argument("--worker", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return train_worker(*args.worker)
    baselines = [b for b in args.baselines.split(",") if b]
    if not set(baselines) <= {"random", "features"}:
        ap.error("--baselines: random and/or features")
    print(load_average(), flush=True)
    import bpclf

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data, model_path = tmp / "train.jsonl", tmp / "model.bpclf"
        t0 = time.perf_counter()
        pages, n = write_training_file(data, args.lines, args.seed)
        mb = data.stat().st_size / 1e6
        print(f"generated {pages} pages, {n} lines, {mb:.0f} MB in {time.perf_counter() - t0:.0f}s")
        train, steps = train_measured(data, model_path)
        print(load_average(), flush=True)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(data, args.keep / data.name)
            shutil.copy(model_path, args.keep / model_path.name)
        model = bpclf.load_model(model_path)
        meta = model.meta_
        val = meta["validation_metrics"]
        print(
            f"trees (n_iter): {meta['n_iter']}, features: {len(model.feature_names_)}, "
            f"large-data path: {meta.get('large_data', False)}; validation F1 "
            f"{val['f1']:.4f}, ROC-AUC {val['roc_auc']:.4f} ({val['pages']} pages)",
            flush=True,
        )
        shape = (n, len(model.feature_names_))
        hgb: dict[str, float] = {}
        if "random" in baselines:
            hgb["random"] = time_bare_hgb(*random_problem(shape, args.seed), model, args.seed)
            print(f"bare HGB fit, random matrix: {hgb['random']:.1f}s", flush=True)
        if "features" in baselines:
            X, y = features_in_process(data, model)
            hgb["features"] = time_bare_hgb(X, y, model, args.seed)
            del X, y
            print(f"bare HGB fit, bpclf's features: {hgb['features']:.1f}s", flush=True)
        report(n, train, steps, hgb, meta["n_iter"])
        print(load_average())
    return 0


if __name__ == "__main__":
    sys.exit(main())
