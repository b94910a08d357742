#!/usr/bin/env python
"""Cross-validated accuracy of bpclf on the shared line-labelled data (the model card's numbers).

Protocol: read every labelled page of DATA_DIR/*.jsonl, drop exact duplicate pages,
5-fold cross-validation grouped by page, out-of-fold line-level boilerplate F1 per
language and macro-averaged over the languages, beside the C4-style line rules on the
same lines.

    python scripts/crossval.py [--data ../shared/data/lines] [--config configs/default.toml]
                               [--seeds 0,1] [--json reports/crossval.json]
                               [--compare reports/earlier.json]

Fold assignments matter: with ~100 pages per language, another seed moves macro F1 by up
to 0.03 (docs/findings.md). ``--seeds 0,1`` runs one cross-validation per seed and prints
their mean; ``--compare`` prints the seed-by-seed differences to an earlier ``--json``, so
a change is judged on the same folds.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path

from bpclf.config import load_config
from bpclf.metrics import format_table
from bpclf.readers import read_pages
from bpclf.report import jsonable
from bpclf.validation import cross_validate, drop_duplicate_pages
from bpclf.validation import headline as validation_headline

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "lines"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--config", default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="fold assignment seed")
    ap.add_argument(
        "--seeds",
        default=None,
        help="several fold seeds, e.g. 0,1: one cross-validation each, then their mean",
    )
    ap.add_argument("--json", default=None, help="write results as JSON here")
    ap.add_argument(
        "--compare",
        default=None,
        help="a --json file of an earlier run: print the differences seed by seed",
    )
    ap.add_argument(
        "--extra",
        nargs="*",
        default=[],
        help="labelled pages added to every training fold, never scored",
    )
    args = ap.parse_args()

    files = sorted(glob.glob(str(Path(args.data) / "*.jsonl")))
    if not files:
        print(f"no *.jsonl files in {args.data}", file=sys.stderr)
        return 1
    pages, dropped = drop_duplicate_pages(list(read_pages(files, require_labels=True)))
    config = load_config(args.config)
    extra = list(read_pages(args.extra, require_labels=True)) if args.extra else []
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    runs = [run_seed(pages, dropped, config, extra, args.folds, seed) for seed in seeds]
    if len(runs) > 1:
        print("\n" + summary_line("mean", mean_headline(runs)))
    if args.compare:
        compare(runs, json.loads(Path(args.compare).read_text()))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        out = runs[0] if len(runs) == 1 else {"runs": runs, "mean": mean_headline(runs)}
        Path(args.json).write_text(json.dumps(jsonable(out), indent=1))
    return 0


def run_seed(pages, dropped, config, extra, folds: int, seed: int) -> dict:
    """One cross-validation (fold assignment ``seed``): prints its tables, returns its
    JSON summary (the format of ``--json`` for one seed)."""
    t0 = time.time()
    cv = cross_validate(
        pages,
        config,
        extra_train=extra,
        n_folds=folds,
        seed=seed,
        on_fold=lambda k: print(
            f"seed {seed}: fold {k + 1}/{folds} done ({time.time() - t0:.0f}s)", file=sys.stderr
        ),
    )
    results = cv.results()
    model, c4 = results
    print(
        f"pages: {len(pages)} (dropped {len(dropped)} exact duplicates), "
        f"lines: {sum(len(p) for p in pages)}, folds: {folds}, seed: {seed}"
    )
    print(format_table(results, "lang"))
    print(format_table(results, "macro"))
    print(format_table(results, "overall"))
    print("\nper language: F1 model vs C4 rules (margin)")
    for lang, m in model["by_lang"].items():
        b = c4["by_lang"][lang]["lines"]["f1"]
        print(f"  {lang}: {m['lines']['f1']:.3f} vs {b:.3f} ({m['lines']['f1'] - b:+.3f})")
    print(
        f"macro F1: {model['macro_lang']['f1']:.3f} vs {c4['macro_lang']['f1']:.3f}; "
        f"pooled ROC-AUC {model['overall']['lines']['roc_auc']:.3f}; "
        f"fold thresholds {', '.join(f'{t:.3f}' for t in cv.thresholds)}"
    )
    run = {
        "pages": len(pages),
        "dropped_duplicates": dropped,
        "folds": folds,
        "seed": seed,
        "thresholds": cv.thresholds,
        "results": results,
    }
    print(summary_line(f"seed {seed}", headline(run)))
    return run


def headline(run: dict) -> dict:
    """The numbers the accuracy targets are about, from one seed's summary."""
    return validation_headline(run["results"])


def mean_headline(runs: list[dict]) -> dict:
    """The headline numbers averaged over seeds."""
    heads = [headline(r) for r in runs]
    langs = heads[0]["f1_by_lang"]
    numbers = ("macro_f1", "roc_auc", "min_margin_over_c4")
    mean = {k: sum(h[k] for h in heads) / len(heads) for k in numbers}
    mean["f1_by_lang"] = {
        lang: sum(h["f1_by_lang"][lang] for h in heads) / len(heads) for lang in langs
    }
    return mean


def summary_line(label: str, h: dict) -> str:
    langs = " ".join(f"{k} {v:.3f}" for k, v in h["f1_by_lang"].items())
    return (
        f"{label}: macro F1 {h['macro_f1']:.3f}, ROC-AUC {h['roc_auc']:.3f}, "
        f"min margin over C4 {h['min_margin_over_c4']:+.3f} | {langs}"
    )


def compare(runs: list[dict], earlier: dict) -> None:
    """Differences to an earlier run, for the seeds both have (same fold assignment)."""
    before = {r["seed"]: r for r in earlier.get("runs", [earlier])}
    print("\ndifference to", "the --compare run (now - then):")
    for run in runs:
        if run["seed"] not in before:
            print(f"  seed {run['seed']}: not in the --compare run")
            continue
        now, then = headline(run), headline(before[run["seed"]])
        langs = " ".join(
            f"{k} {v - then['f1_by_lang'][k]:+.3f}" for k, v in now["f1_by_lang"].items()
        )
        print(
            f"  seed {run['seed']}: macro F1 {now['macro_f1'] - then['macro_f1']:+.3f}, "
            f"ROC-AUC {now['roc_auc'] - then['roc_auc']:+.3f} | {langs}"
        )


if __name__ == "__main__":
    sys.exit(main())
