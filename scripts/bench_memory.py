#!/usr/bin/env python
"""Peak memory of `bpclf predict` on JSONL inputs of growing size: does it stream?

Target (corpus-scale issue): predicting a 2 GB JSONL input streams it: peak resident
memory under 1 GB regardless of input size.

Generates JSONL page files of the given sizes in a temp dir: pages of 20-80 lines from
the generator of scripts/bench_training.py with article paragraphs of 2-6 sentences
(~260 characters per line on average, median ~230, so 2 GB is ~7.5 M lines; the shared
real pages average ~110), a pool of distinct pages repeated under new ids, seeded. Runs
`bpclf predict FILE -F jsonl -o OUT --jobs J -q` as a subprocess for each size and
samples the memory of its whole process tree (scripts/_measure.py). Reports seconds,
lines/s, MB/s and peak memory per size, and the ratio of the peak tree RSS of the largest
input to that of the smallest: streaming keeps it near 1. Checks that the output has one
record per input page. A small calibration run first estimates the total run time.
Generated files are deleted after each size unless --keep.

    python scripts/bench_memory.py [--sizes-mb 100,500,2000] [--jobs 2] [--batch-lines N]
        [--model FILE] [--keep] [--tmpdir DIR] [--estimate-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _measure import Measured, run_measured
from bench_training import PageMaker, load_average

CALIBRATION_MB = 10
CHUNK_BYTES = 16 << 20


@dataclass
class Pool:
    """Distinct page records serialised without their id, and their line counts."""

    tails: list[str]
    lines: list[int]

    @property
    def bytes(self) -> int:
        return sum(len(t.encode()) for t in self.tails)


def _bpclf_command() -> list[str]:
    """The `bpclf` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "bpclf"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bpclf.cli"]


def build_pool(n_pages: int, seed: int) -> Pool:
    maker = PageMaker(seed, paragraph=(2, 6))
    tails, lines = [], []
    for i in range(n_pages):
        record = maker.page(f"pool-{i}", maker.rng.randint(20, 80))
        del record["id"], record["boilerplate"]
        tails.append(json.dumps(record, ensure_ascii=False)[1:] + "\n")
        lines.append(len(record["lines"]))
    return Pool(tails, lines)


def write_input(path: Path, pool: Pool, size_mb: float) -> tuple[int, int]:
    """Repeat the pool under new ids up to ``size_mb`` MB; returns (pages, lines)."""
    target, written, pages, lines = size_mb * 1e6, 0, 0, 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            chunk, size = [], 0
            while size < CHUNK_BYTES and written + size < target:
                i = pages % len(pool.tails)
                row = f'{{"id": "page-{pages}", {pool.tails[i]}'
                chunk.append(row)
                size += len(row.encode())
                pages, lines = pages + 1, lines + pool.lines[i]
            out.write("".join(chunk))
            written += size
    return pages, lines


def count_records(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            n += block.count(b"\n")
    return n


def predict_measured(src: Path, dst: Path, args: argparse.Namespace) -> Measured:
    cmd = [*_bpclf_command(), "predict", str(src), "-F", "jsonl", "-o", str(dst)]
    cmd += ["--jobs", str(args.jobs), "-q"] + (["-m", args.model] if args.model else [])
    cmd += ["--batch-lines", str(args.batch_lines)] if args.batch_lines else []
    result = run_measured(cmd)
    if result.returncode != 0:
        raise SystemExit(f"bpclf predict failed (exit {result.returncode}): {' '.join(cmd)}")
    return result


@dataclass
class Row:
    size_mb: float
    pages: int
    lines: int
    run: Measured
    output_ok: bool
    out_ratio: float  # output bytes / input bytes


def run_size(tmp: Path, pool: Pool, size_mb: float, args: argparse.Namespace, keep: bool) -> Row:
    src, dst = tmp / f"in-{size_mb:g}mb.jsonl", tmp / f"out-{size_mb:g}mb.jsonl"
    t0 = time.perf_counter()
    pages, lines = write_input(src, pool, size_mb)
    real_mb = src.stat().st_size / 1e6
    print(f"  generated {real_mb:.0f} MB, {lines:,} lines in {time.perf_counter() - t0:.0f}s")
    run = predict_measured(src, dst, args)
    ratio = dst.stat().st_size / src.stat().st_size
    row = Row(real_mb, pages, lines, run, count_records(dst) == pages, ratio)
    if not keep:
        src.unlink()
        dst.unlink()
    return row


def estimate(calib: Row, sizes: list[float]) -> list[float]:
    """Seconds per size, scaled from the calibration run (startup included: a slight
    overestimate)."""
    return [calib.run.seconds * s / calib.size_mb for s in sizes]


def check_disk(tmp: Path, sizes: list[float], out_ratio: float, keep: bool) -> None:
    per_size = [s * 1e6 * (1 + out_ratio) for s in sizes]
    need = (sum(per_size) if keep else max(per_size)) * 1.1 + 500e6
    free = shutil.disk_usage(tmp).free
    if free < need:
        raise SystemExit(
            f"not enough disk space in {tmp}: {free / 1e9:.1f} GB free, {need / 1e9:.1f} GB "
            "needed (input + output of the largest size); use --tmpdir or smaller --sizes-mb"
        )
    print(f"disk: {free / 1e9:.1f} GB free in {tmp}, {need / 1e9:.1f} GB needed")


def print_table(rows: list[Row]) -> None:
    print(f"\n{'input MB':>8} {'lines':>10} {'seconds':>8} {'lines/s':>8} {'MB/s':>5} ", end="")
    print(f"{'tree RSS MB':>11} {'tree PSS MB':>11} {'max proc MB':>11} {'output':>6}")
    for r in rows:
        pss = f"{r.run.tree_pss_mb:.0f}" if r.run.tree_pss_mb is not None else "-"
        secs = r.run.seconds
        print(
            f"{r.size_mb:>8.0f} {r.lines:>10,} {secs:>8.1f} {r.lines / secs:>8.0f} "
            f"{r.size_mb / secs:>5.2f} {r.run.tree_rss_mb:>11.0f} {pss:>11} "
            f"{r.run.max_rss_mb:>11.0f} {'ok' if r.output_ok else 'WRONG':>6}"
        )
    big, small = rows[-1].run, rows[0].run
    print(f"\npeak tree RSS, largest / smallest input: {big.tree_rss_mb / small.tree_rss_mb:.2f}")
    verdict = "met" if big.tree_rss_mb < 1024 else "NOT met"
    print(f"target peak RSS < 1 GB at {rows[-1].size_mb:.0f} MB: {verdict}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-mb", default="100,500,2000", help="input sizes, comma-separated")
    ap.add_argument("--jobs", type=int, default=2, help="bpclf predict --jobs")
    ap.add_argument("--model", default=None, help="model file (default: the shipped one)")
    ap.add_argument("--batch-lines", type=int, default=None, help="bpclf predict --batch-lines")
    ap.add_argument("--keep", action="store_true", help="keep generated inputs and outputs")
    ap.add_argument("--tmpdir", default=None, help="where to write (default: system temp)")
    ap.add_argument("--pool-pages", type=int, default=3000, help="distinct pages to repeat")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--estimate-only", action="store_true", help="calibrate, estimate, stop")
    args = ap.parse_args()
    sizes = sorted(float(s) for s in args.sizes_mb.split(","))
    print(load_average(), flush=True)
    pool = build_pool(args.pool_pages, args.seed)
    per_line = pool.bytes / sum(pool.lines)
    print(f"pool: {len(pool.tails)} pages, {sum(pool.lines):,} lines, {per_line:.0f} bytes/line")
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-", dir=args.tmpdir))
    try:
        calib = run_size(tmp, pool, CALIBRATION_MB, args, keep=False)
        run = calib.run
        print(f"calibration: {calib.lines:,} lines, {run.seconds:.1f}s, {run.tree_rss_mb:.0f} MB")
        print(f"bpclf predict --jobs {args.jobs} --batch-lines {args.batch_lines or 'default'}")
        secs = estimate(calib, sizes)
        for s, e in zip(sizes, secs, strict=True):
            mlines = s / per_line
            print(f"  estimate {s:g} MB: ~{mlines:.1f} M lines, ~{e / 60:.0f} min")
        print(f"  estimated total: ~{sum(secs) / 60:.0f} min plus generation")
        check_disk(tmp, sizes, calib.out_ratio, args.keep)
        if args.estimate_only:
            return 0
        rows = []
        for s in sizes:
            print(f"size {s:g} MB:", flush=True)
            rows.append(run_size(tmp, pool, s, args, args.keep))
        print_table(rows)
        print(load_average())
        return 0 if all(r.output_ok for r in rows) else 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept: {tmp}")


if __name__ == "__main__":
    sys.exit(main())
