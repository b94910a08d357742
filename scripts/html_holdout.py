"""Hold out whole HTML datasets: train on the others, test on the held-out one.

Pages come from `bpclf import html` over ../shared/data/html (imported on the fly into a
temporary directory unless --imported DIR holds DATASET.jsonl files). For each held-out
dataset and each feature variant (text only, + site statistics, + markup, + both) a
model is trained on the other datasets (optionally plus line-labelled text, weighted so
that neither source swamps the other) and scored on the held-out pages: boilerplate F1,
ROC-AUC and content-line F1, on all pages and on pages whose site has at least
--min-site-pages pages in the held-out set (where site statistics can help).

    python scripts/html_holdout.py                       # all variants, two hold-outs
    python scripts/html_holdout.py --variants text,corpus --holdout cleanportaleval
    python scripts/html_holdout.py --lines ../shared/data/lines/turku-*.jsonl --variants text
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bpclf import api  # noqa: E402
from bpclf.config import load_config  # noqa: E402
from bpclf.corpus import site_of  # noqa: E402
from bpclf.gold import import_gold_dir  # noqa: E402
from bpclf.metrics import line_metrics  # noqa: E402

HTML = ROOT.parent / "shared" / "data" / "html"
DATASETS = ("dragnet", "cleaneval-final", "cleaneval-dev", "cleanportaleval", "readability")
VARIANTS = {
    "text": {},
    "corpus": {"corpus_stats": True},
    "markup": {"markup_features": True},
    "markup+corpus": {"markup_features": True, "corpus_stats": True},
}


def imported(directory: Path | None, tmp: Path) -> dict[str, Path]:
    """DATASET -> labelled JSONL path (imported now unless already there)."""
    out = {}
    for name in DATASETS:
        path = directory / f"{name}.jsonl" if directory else tmp / f"{name}.jsonl"
        if not path.exists():
            with open(path, "w", encoding="utf-8") as fh:
                for page in import_gold_dir(HTML / name, lang="en"):
                    fh.write(json.dumps(page.to_record(), ensure_ascii=False) + "\n")
        out[name] = path
    return out


def line_count(paths: list[Path | str]) -> int:
    return sum(len(json.loads(r)["lines"]) for p in paths for r in open(p, encoding="utf-8"))


def scores(preds, min_site_pages: int) -> dict[str, dict[str, float]]:
    """Boilerplate F1 / ROC-AUC and content F1, on all pages and on multi-page sites."""
    sites = Counter(site_of(p.page, p.page.id) for p in preds)
    out = {}
    for subset in ("all", "multi-page sites"):
        keep = [
            p
            for p in preds
            if subset == "all" or sites[site_of(p.page, p.page.id)] >= min_site_pages
        ]
        if not keep:
            continue
        y = np.concatenate([p.page.labels for p in keep]).astype(int)
        pred = np.concatenate([p.labels for p in keep]).astype(int)
        proba = np.concatenate([p.proba for p in keep])
        bp = line_metrics(y, pred, proba)
        content = line_metrics(1 - y, 1 - pred)
        out[subset] = {
            "pages": len(keep),
            "lines": len(y),
            "bp_f1": bp["f1"],
            "roc_auc": bp["roc_auc"],
            "content_f1": content["f1"],
            "content_p": content["precision"],
            "content_r": content["recall"],
        }
    return out


def show(row: dict) -> None:
    for subset, s in row["scores"].items():
        print(
            f"| {row['holdout']} | {row['variant']}{' + lines' if row['with_lines'] else ''} "
            f"| {subset} | {s['pages']} | {s['bp_f1']:.3f} | {s['roc_auc']:.3f} "
            f"| {s['content_f1']:.3f} ({s['content_p']:.3f}/{s['content_r']:.3f}) |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--imported", type=Path, help="directory with DATASET.jsonl imports")
    ap.add_argument("--holdout", default="cleaneval-final,dragnet")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--lines", nargs="*", default=[], help="line-labelled JSONL to add")
    ap.add_argument("--min-site-pages", type=int, default=3)
    ap.add_argument("--json", type=Path, help="write all results here")
    ap.add_argument(
        "--model", help="score this model on every --holdout dataset instead of training"
    )
    args = ap.parse_args(argv)

    base = load_config()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data = imported(args.imported, Path(tmp))
        for held in args.holdout.split(","):
            train = [data[d] for d in DATASETS if d != held]
            weights = {}
            if args.lines:
                # Equal total weight for the two sources: HTML lines weigh lines/html.
                ratio = line_count(args.lines) / line_count(train)
                weights = {d: ratio for d in DATASETS if d != held}
            for variant in [] if args.model else args.variants.split(","):
                feats = replace(base.features, **VARIANTS[variant])
                model_cfg = replace(base.model, source_weights=weights)
                cfg = replace(base, features=feats, model=model_cfg)
                t0 = time.perf_counter()
                extra = [] if feats.markup_features else list(args.lines)
                model = api.train([*train, *extra], config=cfg)
                preds = list(api.predict([data[held]], model))
                row = {
                    "holdout": held,
                    "variant": variant,
                    "with_lines": bool(extra),
                    "seconds": round(time.perf_counter() - t0, 1),
                    "scores": scores(preds, args.min_site_pages),
                }
                results.append(row)
                show(row)
            if args.model:
                preds = list(api.predict([data[held]], args.model))
                row = {"holdout": held, "variant": "given model", "with_lines": False}
                row["scores"] = scores(preds, args.min_site_pages)
                results.append(row)
                show(row)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
