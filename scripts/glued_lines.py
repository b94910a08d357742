"""Does splitting glued lines (`bpclf predict --split-glued`) help?

Line-labelled data has one label per line, so glued lines are made where their truth is
known: in the dev pages, adjacent lines where one sentence ends and the next begins with
a capital are glued without a space (each such pair with probability --rate, seeded),
as happens when markup is lost. A model trained on the train splits (never on dev)
classifies the pages with and without splitting, and both are scored on the original
lines (a part of a glued line gets the label of the segments covering it; content when
any is). The natural dev pages (nothing glued) are scored too, to see what splitting
costs where it does not apply.

    python scripts/glued_lines.py
"""

from __future__ import annotations

import argparse
import glob
import random
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bpclf import api  # noqa: E402
from bpclf.metrics import line_metrics  # noqa: E402
from bpclf.pages import Page  # noqa: E402
from bpclf.readers import read_pages  # noqa: E402

LINES = ROOT.parent / "shared" / "data" / "lines"
_END = re.compile(r"[^\W\d_][.!?]$")
_START = re.compile(r"^[^\W\d_](?:[^\W\d_]|\s)")


def glue(page: Page, rate: float, rng: random.Random) -> tuple[Page, list[list[tuple[int, int]]]]:
    """The page with some sentence pairs glued; per new line, its parts as (start, label)."""
    lines, parts = [], []
    i = 0
    while i < len(page.lines):
        a = page.lines[i]
        nxt = page.lines[i + 1] if i + 1 < len(page.lines) else None
        if (
            nxt
            and _END.search(a)
            and a[-2].islower()
            and _START.match(nxt)
            and nxt[0].isupper()
            and rng.random() < rate
        ):
            lines.append(a + nxt)
            parts.append([(0, page.labels[i]), (len(a), page.labels[i + 1])])
            i += 2
        else:
            lines.append(a)
            parts.append([(0, page.labels[i])])
            i += 1
    labels = [min(lab for _, lab in p) for p in parts]  # placeholder line labels
    return Page(page.id, lines, labels, page.lang, page.source), parts


def part_predictions(pred, parts) -> tuple[list[int], list[int], list[bool]]:
    """Gold and predicted labels of the original lines, and whether each was glued."""
    gold, got, glued = [], [], []
    for j, line_parts in enumerate(parts):
        seg = pred.segments[j] if pred.segments is not None else None
        bounds = [s for s, _ in line_parts] + [len(pred.page.lines[j])]
        for k, (start, label) in enumerate(line_parts):
            gold.append(label)
            glued.append(len(line_parts) > 1)
            if seg is None:
                got.append(int(pred.labels[j]))
                continue
            end, offset, labels = bounds[k + 1], 0, []
            for text, lab in zip(seg["text"], seg["boilerplate"], strict=True):
                if offset < end and offset + len(text) > start:
                    labels.append(lab)
                offset += len(text)
            got.append(min(labels) if labels else int(pred.labels[j]))
    return gold, got, glued


def score(model, pages, parts_list, split: bool) -> dict[str, dict[str, float]]:
    gold, got, glued = [], [], []
    preds = api.predict(pages, model, split_glued=split)
    for pred, parts in zip(preds, parts_list, strict=True):
        g, p, gl = part_predictions(pred, parts)
        gold += g
        got += p
        glued += gl
    y, yp, mask = np.array(gold), np.array(got), np.array(glued)
    out = {"all lines": line_metrics(y, yp)}
    if mask.any():
        out["lines in glued pairs"] = line_metrics(y[mask], yp[mask])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", help="a model trained without the dev pages (default: train one)")
    args = ap.parse_args(argv)
    train = sorted(glob.glob(str(LINES / "turku-*-train.jsonl")))
    dev = sorted(glob.glob(str(LINES / "turku-*-dev.jsonl")))
    hand = sorted(glob.glob(str(ROOT / "data" / "train" / "*.jsonl")))
    model = api.load_model(args.model) if args.model else api.train([*train, *hand])
    pages = list(read_pages(dev, require_labels=True))
    rng = random.Random(args.seed)
    glued = [glue(p, args.rate, rng) for p in pages]
    natural = [(p, [[(0, lab)] for lab in p.labels]) for p in pages]
    for name, data in (("glued dev pages", glued), ("natural dev pages", natural)):
        for split in (False, True):
            res = score(model, [p for p, _ in data], [q for _, q in data], split)
            for subset, m in res.items():
                print(
                    f"| {name} | {'split' if split else 'whole lines'} | {subset} "
                    f"| {m['n_lines']} | {m['precision']:.3f} | {m['recall']:.3f} "
                    f"| {m['f1']:.3f} | {m['accuracy']:.3f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
