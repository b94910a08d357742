#!/usr/bin/env python
"""Out-of-fold mistakes of bpclf, grouped by kind, with their context lines.

Runs the cross-validation protocol of scripts/crossval.py (page-grouped folds,
duplicates dropped, the project's hand-written pages added to every training fold) and
writes a markdown report: error rates per language and per position in the page, then
for each kind of mistake (short content lines called boilerplate, long boilerplate
sentences called content, ...) the counts and a sample with two lines of context each
side, so that the next change is chosen from evidence.

    python scripts/error_analysis.py [--folds 5] [--per-kind 12] [-o reports/errors.md]
"""

from __future__ import annotations

import argparse
import glob
import random
import sys
from collections import Counter
from pathlib import Path

from bpclf.config import load_config
from bpclf.readers import read_pages
from bpclf.validation import cross_validate, drop_duplicate_pages

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "lines"

KINDS = {
    "short content called boilerplate": lambda w, y, p: y == 0 and p == 1 and w <= 4,
    "long content called boilerplate": lambda w, y, p: y == 0 and p == 1 and w > 4,
    "short boilerplate called content": lambda w, y, p: y == 1 and p == 0 and w <= 4,
    "long boilerplate (sentences) called content": lambda w, y, p: y == 1 and p == 0 and w > 4,
}


def position_bucket(i: int, n: int) -> str:
    r = i / max(n - 1, 1)
    return "start (first 10%)" if r < 0.1 else "end (last 10%)" if r > 0.9 else "middle"


def page_kind(labels) -> str:
    """How the annotators labelled the page as a whole: mistakes on pages judged as a
    whole (a listing or forum page all boilerplate) call for other evidence than mistakes
    on mixed pages (an article with its menus)."""
    share = sum(labels) / max(len(labels), 1)
    if share >= 0.95:
        return "page >= 95% boilerplate"
    return "page >= 95% content" if share <= 0.05 else "mixed page"


def gold_runs(labels) -> list[tuple[int, int]]:
    """(start, end) of each run of equal gold labels on a page."""
    runs, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i))
            start = i
    return runs


def block_table(cv, rows) -> list[str]:
    """Mistakes by where they sit in the annotators' blocks (runs of equal gold labels):
    at a block's edge (the model places a boundary a line off), inside a block the model
    mostly gets right, or in a block it mostly gets wrong (the whole block misjudged)."""
    wrong = {(r[0], r[1]) for r in rows if r[3] != r[4]}
    counts = {"edge line of a block": 0, "inside, block mostly right": 0}
    counts["inside, block mostly wrong"] = 0
    whole = 0
    by_len: Counter = Counter()  # (length bucket, mostly wrong) -> mistakes
    for pi, page in enumerate(cv.pages):
        for start, end in gold_runs(page.labels):
            bad = [i for i in range(start, end) if (pi, i) in wrong]
            mostly_wrong = len(bad) > (end - start) / 2
            whole += len(bad) if mostly_wrong else 0
            by_len[(length_bucket(end - start), mostly_wrong)] += len(bad)
            for i in bad:
                inner = end - start > 2 and start < i < end - 1
                key = "edge line of a block" if not inner else "inside, block mostly right"
                counts["inside, block mostly wrong" if inner and mostly_wrong else key] += 1
    total = max(len(wrong), 1)
    out = [
        "",
        "## Mistakes by where they sit in the annotators' blocks",
        "",
        "A block is a run of lines with the same gold label.",
        "",
        "| where | mistakes | share |",
        "| --- | --- | --- |",
    ]
    out += [f"| {k} | {v} | {v / total:.3f} |" for k, v in counts.items()]
    out += ["", f"Mistakes in blocks that are mostly wrong (edges included): {whole / total:.3f}"]
    out += [
        "",
        "| block length (lines) | mistakes in blocks mostly right | in blocks mostly wrong |",
        "| --- | --- | --- |",
    ]
    for b in LENGTH_BUCKETS:
        out.append(f"| {b} | {by_len[(b, False)]} | {by_len[(b, True)]} |")
    return out


LENGTH_BUCKETS = ("1", "2-4", "5-19", "20+")


def length_bucket(n: int) -> str:
    return "1" if n == 1 else "2-4" if n <= 4 else "5-19" if n < 20 else "20+"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--per-kind", type=int, default=12)
    ap.add_argument("-o", "--output", default=str(REPO / "reports" / "errors.md"))
    args = ap.parse_args()
    pages, _ = drop_duplicate_pages(
        list(read_pages(sorted(glob.glob(str(SHARED / "*.jsonl"))), require_labels=True))
    )
    extra = list(
        read_pages(sorted(glob.glob(str(REPO / "data" / "train" / "*.jsonl"))), require_labels=True)
    )
    cv = cross_validate(pages, load_config(), n_folds=args.folds, extra_train=extra)
    rows = []  # (page index, line index, words, gold, predicted, proba)
    for pi, (page, pred, proba) in enumerate(zip(cv.pages, cv.labels, cv.proba, strict=True)):
        for li, line in enumerate(page.lines):
            rows.append(
                (pi, li, len(line.split()), page.labels[li], int(pred[li]), float(proba[li]))
            )
    out = [
        "# Out-of-fold mistakes",
        "",
        f"{len(pages)} pages, {len(rows)} lines, {args.folds}-fold CV grouped by page.",
        "",
    ]
    out += [
        "## Error rate by language",
        "",
        "| lang | lines | errors | rate |",
        "| --- | --- | --- | --- |",
    ]
    by_lang: Counter = Counter()
    err_lang: Counter = Counter()
    by_pos: Counter = Counter()
    err_pos: Counter = Counter()
    for pi, li, _, y, p, _ in rows:
        lang = cv.pages[pi].lang or "?"
        pos = position_bucket(li, len(cv.pages[pi]))
        by_lang[lang] += 1
        by_pos[pos] += 1
        if y != p:
            err_lang[lang] += 1
            err_pos[pos] += 1
    for lang in sorted(by_lang):
        out.append(
            f"| {lang} | {by_lang[lang]} | {err_lang[lang]} | "
            f"{err_lang[lang] / by_lang[lang]:.3f} |"
        )
    out += [
        "",
        "## Error rate by position in the page",
        "",
        "| position | lines | rate |",
        "| --- | --- | --- |",
    ]
    for pos in sorted(by_pos):
        out.append(f"| {pos} | {by_pos[pos]} | {err_pos[pos] / by_pos[pos]:.3f} |")
    out += [
        "",
        "## Mistakes by how the page was labelled as a whole",
        "",
        "| page | pages | lines | mistakes | share of all mistakes | rate |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    kinds = [page_kind(p.labels) for p in cv.pages]
    errs_all = sum(1 for r in rows if r[3] != r[4])
    for kind in sorted(set(kinds)):
        n_pages = kinds.count(kind)
        lines = [r for r in rows if kinds[r[0]] == kind]
        wrong = sum(1 for r in lines if r[3] != r[4])
        out.append(
            f"| {kind} | {n_pages} | {len(lines)} | {wrong} | "
            f"{wrong / max(errs_all, 1):.3f} | {wrong / max(len(lines), 1):.3f} |"
        )
    out += block_table(cv, rows)
    rng = random.Random(0)
    for kind, test in KINDS.items():
        hits = [r for r in rows if test(r[2], r[3], r[4])]
        langs = Counter(cv.pages[r[0]].lang for r in hits)
        out += [
            "",
            f"## {kind}: {len(hits)} lines",
            "",
            "By language: " + ", ".join(f"{k} {v}" for k, v in sorted(langs.items())),
            "",
        ]
        for pi, li, _, _, _, pr in rng.sample(hits, min(args.per_kind, len(hits))):
            page = cv.pages[pi]
            out.append(f"- page `{page.id}` line {li + 1}/{len(page)}, P(boilerplate) {pr:.2f}:")
            for j in range(max(0, li - 2), min(len(page), li + 3)):
                mark = ">>" if j == li else "  "
                gold = "B" if page.labels[j] else "C"
                text = page.lines[j][:140].replace("|", "\\|")
                out.append(f"  `{mark} {gold} {cv.proba[pi][j]:.2f}` {text}")
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    errs = sum(1 for r in rows if r[3] != r[4])
    print(f"{errs} mistakes in {len(rows)} lines ({errs / len(rows):.3f}); report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
