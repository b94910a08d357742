#!/usr/bin/env python
"""Throughput of `bpclf predict` against rule filters, measured in the same run.

Builds a JSONL input from the shared line-labelled pages (repeated up to --lines),
then times on this machine:

* bpclf end to end (read JSONL, features, model, write JSONL with probabilities), one
  worker, and with --jobs 2 (scaling ratio);
* datatrove's C4QualityFilter line rules (min_num_sentences=-1: line rules only) over
  the same pages held in memory, if datatrove is installed;
* jusText over the same lines (each line a <p>), on a sample, if justext is installed.

Reports lines/s, MB/s and the ratios; absolute numbers are for information only (shared,
noisy machines). Each timing is the best of ``--repeat`` rounds, the systems taking turns,
so a slow moment of the machine does not fall on one of them only; ratios are given for
the best rounds and as the median and range of each round's own ratio. `pip install datatrove
regex justext` to include the peers.

    python scripts/bench_throughput.py [--lines 200000] [--model models/default.bpclf]
                                       [--repeat 3]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bpclf
from bpclf import api
from bpclf.pages import batched
from bpclf.writers import write_predictions, write_rendered

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "lines"


def build_input(n_lines: int, path: Path) -> list[dict]:
    pages = [
        json.loads(line)
        for f in sorted(glob.glob(str(SHARED / "*.jsonl")))
        for line in Path(f).read_text(encoding="utf-8").splitlines()
    ]
    out, total, i = [], 0, 0
    while total < n_lines:
        p = dict(pages[i % len(pages)])
        p["id"] = f"{p['id']}#{i}"
        p.pop("boilerplate", None)
        out.append(p)
        total += len(p["lines"])
        i += 1
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in out))
    return out


def time_bpclf(path: Path, model, jobs: int, parent_reads: bool = False) -> float:
    """Seconds of `bpclf predict -F jsonl --jobs N` (workers read and render their own
    shards), or with ``parent_reads`` of the older layout (the parent parses the JSONL and
    writes the output, workers only classify) for comparison."""
    t0 = time.perf_counter()
    # Written as `bpclf predict -o FILE` writes: UTF-8 without newline translation, so
    # the workers' UTF-8 output goes to the byte stream.
    with open(os.devnull, "w", encoding="utf-8", newline="\n") as out:
        if parent_reads:
            write_predictions(bpclf.predict([str(path)], model, jobs=jobs), out, "jsonl")
        else:
            chunks = api.predict_text([str(path)], model, "jsonl", jobs=jobs)
            write_rendered(chunks, out, raw=out.buffer)
    return time.perf_counter() - t0


def time_stages(pages: list[dict], model) -> tuple[float, float]:
    """Seconds of feature extraction and of tree evaluation alone, in memory, one core,
    in the batches ``predict`` uses."""
    objs = [bpclf.Page(p["id"], p["lines"], lang=p.get("lang")) for p in pages]
    feats = trees = 0.0
    for batch in batched(objs, 20_000):
        t0 = time.perf_counter()
        X = model.transform(batch)  # features, lexical score included
        t1 = time.perf_counter()
        model.ensemble_.predict_proba(X)
        feats, trees = feats + t1 - t0, trees + time.perf_counter() - t1
    return feats, trees


def time_c4(pages: list[dict]) -> float | None:
    try:
        from datatrove.data import Document
        from datatrove.pipeline.filters import C4QualityFilter
    except ImportError:
        return None
    filt = C4QualityFilter(
        min_num_sentences=-1, filter_lorem_ipsum=False, filter_curly_bracket=False
    )
    docs = [Document(text="\n".join(p["lines"]), id=p["id"]) for p in pages]
    t0 = time.perf_counter()
    for doc in docs:
        filt.filter(doc)
    return time.perf_counter() - t0


def time_justext(pages: list[dict], max_lines: int) -> tuple[float, int] | None:
    try:
        import html

        import justext
    except ImportError:
        return None
    stop = justext.get_stoplist("English")
    done, t0 = 0, time.perf_counter()
    for p in pages:
        markup = "<html><body>" + "".join(f"<p>{html.escape(x)}</p>" for x in p["lines"])
        justext.justext(markup + "</body></html>", stop)
        done += len(p["lines"])
        if done >= max_lines:
            break
    return time.perf_counter() - t0, done


def rounds(repeat: int, measures: dict) -> dict[str, list]:
    """Every round's time of each measure (measures returning ``None`` are left out),
    the measures taking turns, so that a slow moment of a shared machine hits them
    alike and each round's ratios compare the systems under the same load."""
    times: dict[str, list] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, measure in measures.items():
            t = measure()
            if t is not None:
                times[name].append(t)
    return times


def ratio_text(faster: list[float], slower: list[float], scale: float = 1.0, unit: str = "") -> str:
    """``slower / faster`` (times, times ``scale``) of the best rounds, and the median and
    range of the ratio within each round: on a noisy machine the per-round ratios say
    how much of a difference is the machine's."""
    best = scale * min(slower) / min(faster)
    per_round = sorted(scale * s / f for f, s in zip(faster, slower, strict=True))
    mid = statistics.median(per_round)
    return (
        f"{best:.2f}{unit} (rounds: median {mid:.2f}{unit}, "
        f"{per_round[0]:.2f}-{per_round[-1]:.2f}{unit})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--model", default=None)
    ap.add_argument("--justext-lines", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of each timing (default 3)")
    args = ap.parse_args()
    model = bpclf.load_model(args.model)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.jsonl"
        pages = build_input(args.lines, path)
        n = sum(len(p["lines"]) for p in pages)
        mb = path.stat().st_size / 1e6
        print(f"input: {len(pages)} pages, {n} lines, {mb:.1f} MB; best of {args.repeat} rounds")
        model.predict_proba([bpclf.Page("warm", ["Warm up."])])
        time_bpclf(path, model, 1)  # first use of every kernel and of the output path
        measures = {
            "t1": lambda: time_bpclf(path, model, 1),
            "t2": lambda: time_bpclf(path, model, 2),
            "t2p": lambda: time_bpclf(path, model, 2, parent_reads=True),
            "c4": lambda: time_c4(pages),
            "jt": lambda: time_justext(pages, args.justext_lines),
        }
        times = rounds(args.repeat, measures)
        t1, t2, t2p = min(times["t1"]), min(times["t2"]), min(times["t2p"])
        print(f"bpclf predict, 1 worker : {t1:7.2f}s {n / t1:9.0f} lines/s {mb / t1:6.2f} MB/s")
        print(
            f"bpclf predict, 2 workers: {t2:7.2f}s {n / t2:9.0f} lines/s  scaling "
            + ratio_text(times["t2"], times["t1"], unit="x")
        )
        print(
            f"  2 workers, parent reads : {t2p:7.2f}s {n / t2p:9.0f} lines/s  scaling "
            f"{t1 / t2p:.2f}x (the layout before workers read their own shards)"
        )
        stages = [time_stages(pages, model) for _ in range(args.repeat)]
        feats, trees = min(f for f, _ in stages), min(t for _, t in stages)
        rest = t1 - feats - trees
        print(
            f"  of the 1-worker run: features {feats:.2f}s ({n / feats:.0f} lines/s), trees "
            f"{trees:.2f}s ({n / trees:.0f} lines/s, {model.ensemble_.n_trees} trees), reading, "
            f"batching and writing {rest:.2f}s"
        )
        if not times["c4"]:
            print("datatrove C4QualityFilter: not installed")
        else:
            c4 = min(times["c4"])
            print(
                f"C4QualityFilter lines    : {c4:7.2f}s {n / c4:9.0f} lines/s  "
                f"bpclf/C4 ratio {ratio_text(times['t1'], times['c4'])}"
            )
        if not times["jt"]:
            print("jusText: not installed")
        else:
            k = times["jt"][0][1]
            secs = [t for t, _ in times["jt"]]
            print(
                f"jusText on lines         : {min(secs):7.2f}s {k / min(secs):9.0f} lines/s  "
                f"bpclf/jusText ratio {ratio_text(times['t1'], secs, scale=n / k, unit='x')}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
