#!/usr/bin/env python
"""Research probe: does a page-wide sequence model add to the trees? (issue 3)

The trees see each line's features, its neighbours' (±3 lines) and the page profile. A
bidirectional GRU over all the lines of a page (BoilerNet-style) sees the whole page in
order. This probe runs the cross-validation protocol of scripts/crossval.py (5 folds
grouped by page, duplicates dropped, the hand-written pages in every training fold) and,
in every fold, trains next to the shipped recipe's trees a GRU on the same feature rows
(the trees' training matrix, out-of-fold lexical scores included, standardised), then
scores out of fold: the trees, the GRU, and blends of their logits.

F1 here is at the best threshold in hindsight for each system (the same oracle for all,
so the comparison is fair; crossval.py's fold thresholds score ~0.01 lower). Not part of
bpclf: it needs PyTorch (`pip install torch`), which bpclf does not depend on. Findings:
docs/findings.md (session 11).

    python scripts/probe_sequence_model.py [--seeds 0] [--epochs 10] [--hidden 32]
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np

from bpclf.config import load_config
from bpclf.metrics import best_f1_threshold, evaluate_system
from bpclf.model import BoilerplateClassifier
from bpclf.readers import read_pages
from bpclf.validation import drop_duplicate_pages, fold_assignment

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "lines"
BLENDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0)  # weight of the GRU's logit


def make_net(d: int, h: int):
    import torch
    from torch import nn

    class Net(nn.Module):
        """Input projection, BiGRU over the page, a head over both."""

        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Sequential(nn.Dropout(0.1), nn.Linear(d, h), nn.ReLU())
            self.gru = nn.GRU(h, h, batch_first=True, bidirectional=True)
            self.out = nn.Sequential(
                nn.Dropout(0.2), nn.Linear(3 * h, h), nn.ReLU(), nn.Linear(h, 1)
            )

        def forward(self, x, lens):
            z = self.inp(x)
            packed = nn.utils.rnn.pack_padded_sequence(
                z, lens, batch_first=True, enforce_sorted=False
            )
            o, _ = self.gru(packed)
            o, _ = nn.utils.rnn.pad_packed_sequence(o, batch_first=True, total_length=x.shape[1])
            return self.out(torch.cat([z, o], -1)).squeeze(-1)

    return Net()


def padded(seqs, ys, batch: int, rng=None):
    """Batches of whole pages, zero-padded, with their lengths, labels and masks."""
    import torch

    idx = np.arange(len(seqs)) if rng is None else rng.permutation(len(seqs))
    for i in range(0, len(idx), batch):
        b = idx[i : i + batch]
        lens = [len(seqs[j]) for j in b]
        x = np.zeros((len(b), max(lens), seqs[0].shape[1]), np.float32)
        y = np.zeros((len(b), max(lens)), np.float32)
        m = np.zeros_like(y)
        for r, j in enumerate(b):
            x[r, : lens[r]] = seqs[j]
            m[r, : lens[r]] = 1
            if ys is not None:
                y[r, : lens[r]] = ys[j]
        yield b, torch.from_numpy(x), torch.tensor(lens), torch.from_numpy(y), torch.from_numpy(m)


def train_gru(seqs, ys, seed: int, epochs: int, hidden: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = make_net(seqs[0].shape[1], hidden)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    share = float(np.concatenate(ys).mean())
    pos_weight = torch.tensor((1 - share) / share)  # balanced classes, like the trees
    for _ in range(epochs):
        net.train()
        for _, x, lens, y, m in padded(seqs, ys, 16, rng):
            w = m * torch.where(y > 0, pos_weight, torch.tensor(1.0))
            loss = nn.functional.binary_cross_entropy_with_logits(net(x, lens), y, reduction="none")
            loss = (loss * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
    return net


def predict_gru(net, seqs) -> list[np.ndarray]:
    import torch

    net.eval()
    out: list[np.ndarray] = [np.zeros(0)] * len(seqs)
    with torch.no_grad():
        for b, x, lens, _, _ in padded(seqs, None, 32):
            p = torch.sigmoid(net(x, lens)).numpy()
            for r, j in enumerate(b):
                out[j] = p[r, : lens[r]]
    return out


def standardise(X: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    z = np.nan_to_num((X - mu) / sd, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(z, -6, 6).astype(np.float32)


def fit_fold(train, test, config, seed: int, epochs: int, hidden: int):
    """The shipped recipe's trees and a GRU on the trees' own training rows; both
    systems' probabilities for every test page."""
    captured = {}
    fit_stage = BoilerplateClassifier._fit_stage

    def spy(self, X, y, *args, **kwargs):
        captured["X"], captured["y"] = X.copy(), y.copy()
        return fit_stage(self, X, y, *args, **kwargs)

    BoilerplateClassifier._fit_stage = spy
    try:
        clf = BoilerplateClassifier(config).fit(train)
    finally:
        BoilerplateClassifier._fit_stage = fit_stage
    X, y = captured["X"], captured["y"]
    sizes = [len(p) for p in train if len(p)]
    mu, sd = np.nanmean(X, 0), np.nanstd(X, 0) + 1e-6
    cuts = np.cumsum(sizes)[:-1]
    net = train_gru(
        np.split(standardise(X, mu, sd), cuts),
        np.split(y.astype(np.float32), cuts),
        seed,
        epochs,
        hidden,
    )
    trees = clf.predict_proba(test)
    tsizes = [len(p) for p in test]
    seqs = np.split(standardise(clf.transform(test), mu, sd), np.cumsum(tsizes)[:-1])
    nonempty = [i for i, s in enumerate(tsizes) if s]
    gru: list[np.ndarray] = [np.zeros(0)] * len(test)
    for i, p in zip(nonempty, predict_gru(net, [seqs[i] for i in nonempty]), strict=True):
        gru[i] = p
    return trees, gru


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0", help="fold seeds, e.g. 0,1")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=32)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    files = sorted(glob.glob(str(SHARED / "*.jsonl")))
    pages, _ = drop_duplicate_pages(list(read_pages(files, require_labels=True)))
    extra_files = sorted(glob.glob(str(REPO / "data" / "train" / "*.jsonl")))
    extra = list(read_pages(extra_files, require_labels=True))
    config = load_config()
    y = np.concatenate([p.labels for p in pages])
    langs = [p.lang for p in pages for _ in p.lines]
    for seed in (int(s) for s in args.seeds.split(",")):
        folds = fold_assignment(len(pages), 5, seed)
        trees: list = [None] * len(pages)
        gru: list = [None] * len(pages)
        t0 = time.time()
        for k in range(5):
            train = [p for p, f in zip(pages, folds, strict=True) if f != k] + extra
            idx = [i for i, f in enumerate(folds) if f == k]
            t, g = fit_fold(
                train, [pages[i] for i in idx], config, seed * 10 + k, args.epochs, args.hidden
            )
            for j, i in enumerate(idx):
                trees[i], gru[i] = t[j], g[j]
            print(f"seed {seed}: fold {k + 1}/5 ({time.time() - t0:.0f}s)", file=sys.stderr)
        lt, lg = logit(np.concatenate(trees)), logit(np.concatenate(gru))
        for a in BLENDS:
            p = 1 / (1 + np.exp(-((1 - a) * lt + a * lg)))
            thr, _ = best_f1_threshold(y, p)
            ev = evaluate_system("x", y, (p >= thr).astype(int), p, np.ones(len(y)), langs, langs)
            per_lang = " ".join(f"{k} {v['lines']['f1']:.3f}" for k, v in ev["by_lang"].items())
            print(
                f"seed {seed} GRU weight {a:.1f}: macro F1 {ev['macro_lang']['f1']:.3f} "
                f"ROC-AUC {ev['overall']['lines']['roc_auc']:.3f} ({per_lang})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
