#!/usr/bin/env python
"""Cross-validated accuracy of bpclf on the shared line-labelled data (the model card's numbers).

Protocol: read every labelled page of DATA_DIR/*.jsonl, drop exact duplicate pages,
5-fold cross-validation grouped by page, out-of-fold line-level boilerplate F1 per
language and macro-averaged over the languages, beside the C4-style line rules on the
same lines.

    python scripts/crossval.py [--data ../shared/data/lines] [--config configs/default.toml]
                               [--json reports/crossval.json]
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

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "lines"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--config", default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write results as JSON here")
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
    t0 = time.time()
    extra = list(read_pages(args.extra, require_labels=True)) if args.extra else []
    cv = cross_validate(
        pages,
        config,
        extra_train=extra,
        n_folds=args.folds,
        seed=args.seed,
        on_fold=lambda k: print(
            f"fold {k + 1}/{args.folds} done ({time.time() - t0:.0f}s)", file=sys.stderr
        ),
    )
    results = cv.results()
    model, c4 = results
    print(
        f"pages: {len(pages)} (dropped {len(dropped)} exact duplicates), "
        f"lines: {sum(len(p) for p in pages)}, folds: {args.folds}, seed: {args.seed}"
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
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "pages": len(pages),
            "dropped_duplicates": dropped,
            "folds": args.folds,
            "seed": args.seed,
            "thresholds": cv.thresholds,
            "results": results,
        }
        Path(args.json).write_text(json.dumps(jsonable(summary), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
