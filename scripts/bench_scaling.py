#!/usr/bin/env python
"""Does predict time grow linearly with input size? (issue: hardening / resource limits)

Generates JSONL inputs of growing size (more pages; then longer lines; then one page
with many lines), runs `bpclf predict --format jsonl` end to end through the Python API
(read, features, model, write) and reports seconds, lines/s and the time ratio between
consecutive sizes: about 2.0 when the input doubles means linear. Absolute figures are
for information only (shared, noisy machines); the ratios are the result.

    python scripts/bench_scaling.py [--model models/default.bpclf] [--base 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import bpclf
from bpclf.writers import write_predictions

WORDS = [
    "the",
    "council",
    "said",
    "that",
    "new",
    "rules",
    "would",
    "apply",
    "to",
    "schools",
    "from",
    "next",
    "year",
    "and",
    "residents",
    "asked",
    "about",
    "costs",
    "home",
    "news",
    "sport",
    "contact",
    "share",
    "login",
]


def make_pages(n_lines: int, line_words: int = 12, page_lines: int = 40, seed: int = 0):
    rng = random.Random(seed)
    pages, i = [], 0
    while i < n_lines:
        k = min(page_lines, n_lines - i)
        lines = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, line_words))) + "."
            for _ in range(k)
        ]
        pages.append({"id": f"p{len(pages)}", "lines": lines})
        i += k
    return pages


def run(model, pages, tmp: Path) -> float:
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in pages))
    t0 = time.perf_counter()
    with open(os.devnull, "w") as out:
        write_predictions(bpclf.predict([str(src)], model), out, "jsonl")
    return time.perf_counter() - t0


def series(title, model, sizes, build, tmp):
    print(f"\n{title}")
    print(f"{'size':>10} {'lines':>8} {'seconds':>8} {'lines/s':>9} {'ratio':>6}")
    prev = None
    for size in sizes:
        pages = build(size)
        n = sum(len(p["lines"]) for p in pages)
        secs = run(model, pages, tmp)
        ratio = f"{secs / prev:.2f}" if prev else "-"
        print(f"{size:>10} {n:>8} {secs:>8.2f} {n / secs:>9.0f} {ratio:>6}")
        prev = secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--base", type=int, default=20_000, help="lines of the smallest input")
    args = ap.parse_args()
    model = bpclf.load_model(args.model)
    model.predict_proba([bpclf.Page("warm", ["warm up."])])
    b = args.base
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        series(
            "more pages (40 lines each); size = lines",
            model,
            [b, 2 * b, 4 * b],
            lambda s: make_pages(s),
            tmp,
        )
        series(
            "longer lines; size = words per line (1,000 lines)",
            model,
            [500, 1000, 2000, 4000],
            lambda s: make_pages(1000, line_words=s),
            tmp,
        )
        series(
            "one page; size = lines in the page",
            model,
            [b, 2 * b, 4 * b],
            lambda s: make_pages(s, page_lines=s),
            tmp,
        )
    print("\nratio ~2.0 when the size doubles = linear growth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
