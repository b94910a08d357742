"""Wall time, CPU time and peak memory of a command and every process it starts.

Used by scripts/bench_memory.py and scripts/bench_training.py. Linux only: the process
tree is sampled from /proc while the command runs (no psutil needed):

* ``tree_rss_mb``: peak over the samples of the summed resident memory of the command
  and all its descendants (worker processes included; never less than ``max_rss_mb``).
  Pages shared between forked workers count once per process: an upper bound;
* ``tree_pss_mb``: the same with proportional set size (shared pages split between the
  processes that map them), from /proc/PID/smaps_rollup: the tree's real footprint;
* ``max_rss_mb``: the kernel's exact peak RSS of the largest single process of the tree
  (what ``/usr/bin/time -v`` prints as "Maximum resident set size"), from ``wait4``;
* ``cpu_seconds``: user + system time of the command and its reaped descendants.

Sampled peaks can miss spikes shorter than the sampling interval. RSS is sampled every
``interval`` (cheap); PSS every ``pss_interval``, as reading smaps_rollup walks the page
tables of each process (tens of ms for a GB-sized process) and would slow the command.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Measured:
    """What :func:`run_measured` observed."""

    returncode: int
    seconds: float
    cpu_seconds: float
    tree_rss_mb: float
    tree_pss_mb: float | None
    max_rss_mb: float
    samples: int


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads); [] once it is gone."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += _children(p)
    return tree


def _rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_MB
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def _pss_mb(pid: int) -> float | None:
    """PSS of ``pid`` in MB: 0 when it is gone (or a zombie), None when unreadable."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    except PermissionError:
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pids: Sequence[int]) -> float:
    """Summed RSS of ``pids`` in MB."""
    return sum(_rss_mb(p) for p in pids)


def tree_pss_mb(pids: Sequence[int]) -> float | None:
    """Summed PSS of ``pids`` in MB (None when some process's PSS is unreadable)."""
    total = 0.0
    for p in pids:
        value = _pss_mb(p)
        if value is None:
            return None
        total += value
    return total


def run_measured(
    cmd: Sequence[str], interval: float = 0.2, pss_interval: float = 2.0, **popen: Any
) -> Measured:
    """Run ``cmd`` to the end, sampling its process tree while it runs."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), **popen)
    peak_rss, peak_pss, samples, next_pss = 0.0, 0.0, 0, t0
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            pids = process_tree(proc.pid)
            peak_rss = max(peak_rss, tree_rss_mb(pids))
            if peak_pss is not None and time.perf_counter() >= next_pss:
                pss = tree_pss_mb(pids)
                peak_pss = None if pss is None else max(peak_pss, pss)
                next_pss = time.perf_counter() + pss_interval
            samples += 1
            time.sleep(interval)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=proc.returncode,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        tree_rss_mb=max(peak_rss, usage.ru_maxrss / 1024),  # the tree holds at least that
        tree_pss_mb=peak_pss,
        max_rss_mb=usage.ru_maxrss / 1024,
        samples=samples,
    )
