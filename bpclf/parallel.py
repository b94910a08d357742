"""Prediction in worker processes, results in input order.

The model goes to each worker once (in its initializer), not with every task, and at
most two tasks per worker are in flight, so memory stays bounded however large the
input. Two kinds of work:

* :func:`classified`: probabilities for batches of pages the caller has read
  (:func:`bpclf.api.predict` with ``jobs``);
* :func:`rendered`: finished output text. A JSONL input is cut into shards of whole raw
  lines and each worker parses, classifies and renders its own shard, so the parent
  only reads bytes and writes text: parsing and JSON writing in the parent would
  otherwise be serial work that caps how throughput grows with the workers. Other
  inputs (HTML, WARC, datasets, labelled or plain text) are read by the parent and sent
  to the workers as pages.

Whatever the number of workers and the shard or batch size, the output is the same
bytes: every page is classified on its own (features never cross pages), and results
are written in input order.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bpclf.errors import DataError
from bpclf.formats import stop_on_bad_record
from bpclf.pages import Page, batched
from bpclf.readers import (
    SkipLog,
    _byte_lines,
    _decoded,
    _input_files,
    _skip_log,
    detect_format,
    raw_shards,
    read_pages,
    sniffed_text_input,
    text_pages,
    warn_invalid_utf8,
)

if TYPE_CHECKING:
    from bpclf.model import BoilerplateClassifier

#: Raw bytes of JSONL per worker task: ~20k lines of typical web pages, enough to make
#: the per-task overhead (pickling, scheduling) negligible, small enough to keep both
#: workers of a 2-core machine busy on inputs of a few tens of megabytes.
SHARD_BYTES = 2 << 20


# -- the worker side ----------------------------------------------------------------------
_WORKER: Any = None  # what the initializer received: a model, or a _Job


def _init_worker(state: Any, parent: int) -> None:
    """Receive the model (or the job) once per worker process, and die with the parent:
    a worker of a killed ``bpclf predict`` (``kill -9``) would otherwise wait forever on a
    task queue whose write end it holds itself."""
    global _WORKER
    _WORKER = state
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _in_order(
    work: Callable[[Any, Any], Any], tasks: Iterable[Any], jobs: int, state: Any
) -> Iterator[Any]:
    """``work(state, task)`` for every task, in order, in a pool of ``jobs`` workers
    that received ``state`` once, or here when ``jobs <= 1`` or there are fewer than two
    tasks (starting workers and sending them the model would cost more than it saves).

    A task that is a :class:`_Failed` is not sent anywhere: it comes out as it is, in
    its place.
    """
    if jobs == 0:
        jobs = os.cpu_count() or 1
    tasks = iter(tasks)
    head: list[Any] = []
    failure: Exception | None = None
    try:
        while sum(not isinstance(t, _Failed) for t in head) < 2:
            head.append(next(tasks))
    except StopIteration:
        pass
    except Exception as exc:  # reading failed: the tasks before it are still done
        failure = exc
    if jobs <= 1 or failure is not None or sum(not isinstance(t, _Failed) for t in head) < 2:
        for task in itertools.chain(head, () if failure else tasks):
            yield task if isinstance(task, _Failed) else work(state, task)
        if failure is not None:
            raise failure
        return
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(state, os.getpid())) as pool:
        inflight: deque[Future] = deque()
        try:
            for task in itertools.chain(head, tasks):
                inflight.append(_submitted(pool, work, task))
                if len(inflight) >= 2 * jobs:
                    yield inflight.popleft().result()
        finally:  # also when reading fails: what was read before is still delivered
            while inflight:
                yield inflight.popleft().result()


def _submitted(pool: ProcessPoolExecutor, work: Callable[[Any, Any], Any], task: Any) -> Future:
    """The future of a task: sent to the pool, or (a failed input) already done."""
    if not isinstance(task, _Failed):
        return pool.submit(_run, work, task)
    done: Future = Future()
    done.set_result(task)
    return done


def _run(work: Callable[[Any, Any], Any], task: Any) -> Any:
    """``work`` on a task in a worker, with what the worker received at its start."""
    return work(_WORKER, task)


# -- batches of pages -> probabilities ----------------------------------------------------
def classified(
    clf: BoilerplateClassifier,
    batches: Iterable[list[Any]],
    jobs: int,
    pages_of: Callable[[list[Any]], list[Page]] = lambda batch: batch,
) -> Iterator[tuple[list[Any], list[np.ndarray]]]:
    """(batch, probabilities of ``pages_of(batch)``) in input order (see
    :func:`_in_order` for where they are computed)."""
    batches = iter(batches)
    pending: deque[list[Any]] = deque()

    def sent() -> Iterator[list[Page]]:
        for batch in batches:
            pending.append(batch)
            yield pages_of(batch)

    for probas in _in_order(_probabilities, sent(), jobs, clf):
        yield pending.popleft(), probas


def _probabilities(clf: BoilerplateClassifier, pages: list[Page]) -> list[np.ndarray]:
    return clf.predict_proba(pages)


# -- inputs -> output text ----------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    """What every worker needs to turn a task into output text."""

    clf: BoilerplateClassifier
    fmt: str
    threshold: float | None
    split_glued: bool
    batch_lines: int
    text_field: str
    id_field: str
    skipping: bool


@dataclass(frozen=True)
class _Shard:
    """Whole raw lines of a JSONL input, numbered from ``start``."""

    source: str
    start: int
    data: bytes


@dataclass(frozen=True)
class _Failed:
    """An input (or its rest) that could not be read, in its place among the tasks."""

    error: DataError


@dataclass
class Rendered:
    """Output text of consecutive pages (``text`` format: of one page), and their counts."""

    text: str = ""
    pages: int = 0
    lines: int = 0
    boilerplate: int = 0


@dataclass
class _Result:
    """A task's output, and what the parent has to report about it, in order."""

    #: jsonl / labeled: the text of all pages; text: (page id, body, lines, boilerplate).
    text: str = ""
    pieces: list[tuple[str, str, int, int]] = field(default_factory=list)
    pages: int = 0
    lines: int = 0
    boilerplate: int = 0
    skipped: list[DataError] = field(default_factory=list)
    #: Under ``on_error="stop"``: the bad record that ends the output (after its pages).
    error: DataError | None = None
    #: (source, line, byte) of the shard's first undecodable line.
    invalid_utf8: tuple[str, int, int] | None = None


def rendered(
    inputs: Sequence[str],
    clf: BoilerplateClassifier,
    fmt: str,
    *,
    threshold: float | None = None,
    jobs: int = 1,
    batch_lines: int = 20_000,
    split_glued: bool = False,
    input_format: str = "auto",
    text_field: str = "text",
    id_field: str = "id",
    split: str = "train",
    on_error: str = "stop",
    skipped: SkipLog | None = None,
    shard_bytes: int | None = None,
) -> Iterator[Rendered]:
    """The ``fmt`` output (``text``, ``jsonl`` or ``labeled``, as
    :func:`bpclf.writers.render` writes it) of every page of ``inputs``, in order.

    The same bytes as rendering :func:`bpclf.api.predict`'s predictions, but JSONL inputs
    are parsed and rendered by the workers (module docstring). Not for models with
    corpus statistics, which read their input twice. ``shard_bytes`` (default
    :data:`SHARD_BYTES`) is the raw JSONL sent to a worker per task.
    """
    shard_bytes = SHARD_BYTES if shard_bytes is None else shard_bytes
    skip = _skip_log(on_error, skipped)
    job = _Job(
        clf, fmt, threshold, split_glued, batch_lines, text_field, id_field, skip is not None
    )
    tasks = _tasks(
        inputs, input_format, skip, batch_lines, shard_bytes, text_field, id_field, split
    )
    results = _checked(_in_order(_render_task, tasks, jobs, job), skip)
    if fmt != "text":
        for r in results:
            yield Rendered(r.text, r.pages, r.lines, r.boilerplate)
        return
    from bpclf.writers import join_text_pages

    pieces = ((piece, piece[0], piece[1]) for r in results for piece in r.pieces)
    for (_, _, n, b), text in join_text_pages(pieces):
        yield Rendered(text, 1, n, b)


def _checked(results: Iterable[Any], skip: SkipLog | None) -> Iterator[_Result]:
    """The results, with what went wrong reported in input order: an unreadable input
    (raised, or skipped), undecodable bytes (one warning per input), bad records
    (skipped, or raised after the pages before them)."""
    warned: set[str] = set()
    for result in results:
        if isinstance(result, _Failed):
            if skip is None:
                raise result.error
            skip.bad_input(result.error)
            continue
        if result.invalid_utf8 is not None and result.invalid_utf8[0] not in warned:
            warned.add(result.invalid_utf8[0])
            warn_invalid_utf8(*result.invalid_utf8)
        for error in result.skipped:
            assert skip is not None
            skip.bad_record(error)
        yield result
        if result.error is not None:
            raise result.error


def _tasks(
    inputs: Sequence[str],
    input_format: str,
    skip: SkipLog | None,
    batch_lines: int,
    shard_bytes: int,
    text_field: str,
    id_field: str,
    split: str,
) -> Iterator[Any]:
    """The work, in input order: shards of JSONL inputs, batches of pages read here from
    the others, and the inputs that failed (never raised here: a failure must come out
    after the output of the tasks before it)."""
    read = dict(
        input_format=input_format,
        text_field=text_field,
        id_field=id_field,
        split=split,
        on_error="stop" if skip is None else "skip",
        skipped=skip,
    )
    if input_format == "hf":
        yield from _page_batches(read_pages(list(inputs), **read), batch_lines)
        return
    for name in _input_files(inputs, skip):
        by_name = detect_format(name) if input_format == "auto" else input_format
        if by_name not in ("text", "jsonl", "labeled"):
            yield from _page_batches(read_pages([name], **read), batch_lines)
            continue
        try:
            with sniffed_text_input(name, input_format) as (source, fmt, head, fh):
                if fmt == "jsonl":
                    for start, data in raw_shards(head, fh, source, shard_bytes):
                        yield _Shard(source, start, data)
                else:
                    pages = text_pages(
                        _decoded(_byte_lines(head, fh), source),
                        source,
                        fmt,
                        on_bad_record=stop_on_bad_record if skip is None else skip.bad_record,
                    )
                    yield from _page_batches(pages, batch_lines)
        except DataError as exc:
            yield _Failed(exc)


def _page_batches(pages: Iterable[Page], batch_lines: int) -> Iterator[Any]:
    """Batches of pages; a read failure becomes a :class:`_Failed` after the pages read
    before it."""
    try:
        yield from batched(pages, batch_lines)
    except DataError as exc:
        yield _Failed(exc)


def _render_task(job: _Job, task: _Shard | list[Page]) -> _Result:
    """Parse (a shard), classify and render: the work of one task."""
    result = _Result()
    pages = task
    if isinstance(task, _Shard):
        pages, result.error = _parse_shard(task, job, result)
    _render(pages, job, result)
    return result


def _parse_shard(shard: _Shard, job: _Job, result: _Result) -> tuple[list[Page], DataError | None]:
    """The pages of a shard up to its end, or under ``on_error="stop"`` up to its first
    bad record (returned too); skipped records go to ``result.skipped``."""
    try:
        lines: Iterable[str] = shard.data.decode("utf-8").split("\n")
    except UnicodeDecodeError:

        def invalid(line: int, byte: int) -> None:
            result.invalid_utf8 = (shard.source, line, byte)

        lines = _decoded(
            shard.data.split(b"\n"), shard.source, start=shard.start, on_invalid=invalid
        )
    pages: list[Page] = []
    try:
        pages.extend(
            text_pages(
                lines,
                shard.source,
                "jsonl",
                text_field=job.text_field,
                id_field=job.id_field,
                on_bad_record=result.skipped.append if job.skipping else stop_on_bad_record,
                start=shard.start,
            )
        )
    except DataError as exc:
        return pages, exc
    return pages, None


def _render(pages: list[Page], job: _Job, result: _Result) -> None:
    """Classify ``pages`` and put their output text and counts in ``result``."""
    from bpclf import api
    from bpclf.writers import render, text_body

    preds = api.predict(
        pages,
        job.clf,
        threshold=job.threshold,
        batch_lines=job.batch_lines,
        split_glued=job.split_glued,
    )
    texts: list[str] = []
    if job.fmt == "text":
        for p in preds:
            n, b = len(p.labels), int(p.labels.sum())
            result.pieces.append((p.page.id, text_body(p), n, b))
            _count(result, n, b)
    else:
        for p, text in render(preds, job.fmt):
            texts.append(text)
            _count(result, len(p.labels), int(p.labels.sum()))
    result.text = "".join(texts)


def _count(result: _Result, lines: int, boilerplate: int) -> None:
    result.pages += 1
    result.lines += lines
    result.boilerplate += boilerplate
