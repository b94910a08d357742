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

import contextlib
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
from bpclf.formats import parse_jsonl, stop_on_bad_record
from bpclf.pages import Page, batched
from bpclf.readers import (
    SkipLog,
    decoded_lines,
    detect_format,
    expand_paths,
    raw_shards,
    read_pages,
    skip_policy,
    sniffed_text_input,
    text_pages,
    warn_invalid_utf8,
)

if TYPE_CHECKING:
    from bpclf.model import BoilerplateClassifier

#: Raw bytes of JSONL per worker task: ~2,000 lines of typical web pages, a few tens of
#: milliseconds of work, so the per-task overhead (pickling, scheduling) stays small
#: while the last tasks of a run are short and a worker holds little (128 KB to 1 MB
#: measured the same on 2 cores; docs/performance.md).
SHARD_BYTES = 256 << 10

#: The same for a run in one process, where no worker waits for another's last task:
#: bigger tasks spread each batch's fixed costs (numpy calls, cold tables) over more
#: lines (+2-3% end to end against 256 KB; 4 MB was slower: docs/performance.md).
SHARD_BYTES_ALONE = 1 << 20

#: Capacity asked for the pool's task and result pipes (Linux; the default is 64 KB): a
#: shard or its output then fits whole, so the side that writes it goes on without
#: waiting for the other to read it piece by piece. Halved the workers' idle time
#: between tasks (docs/performance.md, session 10).
PIPE_BYTES = 1 << 20


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

    Markers (:data:`_MARKERS`: failed inputs, input ends) are not sent anywhere: they
    come out as they are, in their place.
    """
    if jobs == 0:
        jobs = os.cpu_count() or 1
    tasks = iter(tasks)
    head: list[Any] = []
    work_in_head = 0
    failure: Exception | None = None
    try:
        while work_in_head < 2:
            head.append(next(tasks))
            work_in_head += not isinstance(head[-1], _MARKERS)
    except StopIteration:
        pass
    except Exception as exc:  # reading failed: the tasks before it are still done
        failure = exc
    if jobs <= 1 or failure is not None or work_in_head < 2:
        for task in itertools.chain(head, () if failure else tasks):
            yield task if isinstance(task, _MARKERS) else work(state, task)
        if failure is not None:
            raise failure
        return
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(state, os.getpid())) as pool:
        _widen_pipes(pool)
        inflight: deque[Future] = deque()
        tasks = itertools.chain(head, tasks)
        while True:
            try:
                task = next(tasks)
            except StopIteration:
                break
            except Exception:  # reading failed: what was read before is still delivered
                while inflight:
                    yield inflight.popleft().result()
                raise
            inflight.append(_submitted(pool, work, task))
            if len(inflight) >= 2 * jobs:
                yield inflight.popleft().result()
        while inflight:
            yield inflight.popleft().result()


def _widen_pipes(pool: ProcessPoolExecutor, size: int = PIPE_BYTES) -> None:
    """Ask for ``size``-byte task and result pipes (:data:`PIPE_BYTES`), before the
    workers start. Only a speed-up: skipped where pipes cannot be resized (not Linux, a
    lower ``/proc/sys/fs/pipe-max-size``, a pool without these queues)."""
    try:
        import fcntl

        op = fcntl.F_SETPIPE_SZ
    except (ImportError, AttributeError):
        return
    for name in ("_call_queue", "_result_queue"):
        reader = getattr(getattr(pool, name, None), "_reader", None)
        if reader is None:
            continue
        with contextlib.suppress(OSError, ValueError):
            fcntl.fcntl(reader.fileno(), op, size)


def _submitted(pool: ProcessPoolExecutor, work: Callable[[Any, Any], Any], task: Any) -> Future:
    """The future of a task: sent to the pool, or (a marker) already done."""
    if not isinstance(task, _MARKERS):
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

    index: int  # of the input (as given) it comes from
    source: str
    start: int
    data: bytes


@dataclass(frozen=True)
class _Pages:
    """Pages the parent read."""

    index: int
    pages: list[Page]


@dataclass(frozen=True)
class _Failed:
    """An input (or its rest) that could not be read, in its place among the tasks."""

    index: int
    error: DataError


@dataclass(frozen=True)
class _End:
    """All tasks of an input are before this one."""

    index: int


#: Tasks that are not work: they come out of :func:`_in_order` as they are, in order.
_MARKERS = (_Failed, _End)


class Rendered:
    """Output text of consecutive pages (``text`` format: of one page), and their counts.

    ``text`` may be given as UTF-8 bytes (workers render JSONL that way); ``text`` and
    ``utf8`` convert on first use, so a writer that takes bytes never decodes them.
    """

    __slots__ = ("_text", "_utf8", "boilerplate", "lines", "pages")

    def __init__(
        self, text: str | bytes = "", pages: int = 0, lines: int = 0, boilerplate: int = 0
    ) -> None:
        self._text: str | None = text if isinstance(text, str) else None
        self._utf8: bytes | None = text if isinstance(text, bytes) else None
        self.pages = pages
        self.lines = lines
        self.boilerplate = boilerplate

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self._utf8.decode("utf-8") if self._utf8 is not None else ""
        return self._text

    @property
    def utf8(self) -> bytes | None:
        """The text as UTF-8 when it was rendered that way, else None."""
        return self._utf8

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rendered):
            return NotImplemented
        return (self.text, self.pages, self.lines, self.boilerplate) == (
            other.text, other.pages, other.lines, other.boilerplate,
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"Rendered(text={self.text!r}, pages={self.pages}, lines={self.lines}, "
            f"boilerplate={self.boilerplate})"
        )


@dataclass(frozen=True)
class InputDone:
    """The end of one input's outputs (:func:`rendered_inputs`)."""

    #: Whether the input, or its rest, could not be read (reported to the skip log).
    failed: bool


@dataclass
class _Result:
    """A task's output, and what the parent has to report about it, in order."""

    index: int = 0
    #: labeled: the text of all pages, jsonl: its UTF-8; text: the UTF-8 of two or more
    #: pages with their headers (:func:`_render`), else (page id, body, lines,
    #: boilerplate) of each page in ``pieces``.
    text: str | bytes = ""
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
    **options: Any,
) -> Iterator[Rendered]:
    """The ``fmt`` output (``text``, ``jsonl`` or ``labeled``, as
    :func:`bpclf.writers.render` writes it) of every page of ``inputs``, in order: the
    same bytes as rendering :func:`bpclf.api.predict`'s predictions, but JSONL inputs are
    parsed and rendered by the workers (module docstring). ``options`` are those of
    :func:`rendered_inputs`.
    """
    yield from _outputs(_pages_only(_results(inputs, clf, fmt, **options)), fmt)


def rendered_inputs(
    inputs: Sequence[str],
    clf: BoilerplateClassifier,
    fmt: str,
    **options: Any,
) -> Iterator[tuple[int, Rendered | InputDone]]:
    """``(i, output)`` for the pages of each input in turn (``i`` indexes ``inputs``),
    then ``(i, InputDone(...))``; one pool of workers for all of them.
    For one output file per input (``bpclf predict --output-dir``): ``text`` output has
    the page headers of several pages per input, as if each were predicted alone.

    ``options``: ``threshold``, ``jobs`` (0: one per core), ``batch_lines``,
    ``split_glued``, the reading options of :func:`bpclf.readers.read_pages`
    (``input_format``, ``text_field``, ``id_field``, ``split``, ``on_error``,
    ``skipped``), and ``shard_bytes`` (default :data:`SHARD_BYTES`, in one process
    :data:`SHARD_BYTES_ALONE`), the raw JSONL sent
    to a worker per task. Not for models with corpus statistics, which read their input
    twice.
    """
    results = _results(inputs, clf, fmt, **options)
    for index, group in itertools.groupby(results, key=lambda r: r.index):
        failed: list[_Failed] = []
        for out in _outputs(_pages_only(group, failed), fmt):
            yield index, out
        yield index, InputDone(failed=bool(failed))


def _pages_only(results: Iterable[Any], failed: list[_Failed] | None = None) -> Iterator[_Result]:
    """The results with pages; input failures are appended to ``failed``."""
    for r in results:
        if isinstance(r, _Result):
            yield r
        elif isinstance(r, _Failed) and failed is not None:
            failed.append(r)


def _outputs(results: Iterable[_Result], fmt: str) -> Iterator[Rendered]:
    """The output of the results: as they are (``jsonl``, ``labeled``) or, for ``text``,
    with the headers of several pages: a result the worker rendered whole goes out as
    one item after the blank line that separates it from earlier pages, the others one
    page per item."""
    if fmt != "text":
        for r in results:
            yield Rendered(r.text, r.pages, r.lines, r.boilerplate)
        return
    from bpclf.writers import text_page

    many, results = _several_pages(iter(results))
    done = 0  # pages written
    for r in results:
        if r.text:  # several pages, rendered by the worker (see _render)
            if done:
                yield Rendered(b"\n")
            yield Rendered(r.text, r.pages, r.lines, r.boilerplate)
            done += r.pages
            continue
        for page_id, body, n, b in r.pieces:
            yield Rendered(text_page(page_id, body, first=not done) if many else body, 1, n, b)
            done += 1


def _several_pages(results: Iterator[_Result]) -> tuple[bool, Iterator[_Result]]:
    """Whether the results hold more than one page between them (``text`` output then
    has page headers), and the unchanged stream."""
    head: list[_Result] = []
    pages = 0
    for r in results:
        head.append(r)
        pages += r.pages
        if pages >= 2:
            break
    return pages >= 2, itertools.chain(head, results)


def _results(
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
) -> Iterator[_Result | _Failed | _End]:
    """Results, skipped input failures and input ends, in order, with problems reported
    (:func:`_checked`)."""
    skip = skip_policy(on_error, skipped)
    job = _Job(
        clf, fmt, threshold, split_glued, batch_lines, text_field, id_field, skip is not None
    )
    read = dict(
        input_format=input_format,
        text_field=text_field,
        id_field=id_field,
        split=split,
        on_error="stop" if skip is None else "skip",
        skipped=skip,
    )
    if shard_bytes is None:
        alone = (jobs or os.cpu_count() or 1) <= 1
        shard_bytes = SHARD_BYTES_ALONE if alone else SHARD_BYTES
    tasks = _tasks(inputs, skip, batch_lines, shard_bytes, read)
    return _checked(_in_order(_render_task, tasks, jobs, job), skip)


def _checked(results: Iterable[Any], skip: SkipLog | None) -> Iterator[_Result | _Failed | _End]:
    """The results, with what went wrong reported in input order: an unreadable input
    (raised, or skipped), undecodable bytes (one warning per input), bad records
    (skipped, or raised after the pages before them)."""
    warned: set[str] = set()
    for result in results:
        if isinstance(result, _End):
            yield result
            continue
        if isinstance(result, _Failed):
            if skip is None:
                raise result.error
            skip.bad_input(result.error)
            yield result
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
    skip: SkipLog | None,
    batch_lines: int,
    shard_bytes: int,
    read: dict[str, Any],
) -> Iterator[Any]:
    """The work, in input order: shards of JSONL inputs, batches of pages read here from
    the others, the inputs that failed (never raised here: a failure must come out
    after the output of the tasks before it) and the end of each input."""
    if read["input_format"] == "hf":
        yield from _page_batches(0, read_pages(list(inputs), **read), batch_lines)
        yield _End(0)
        return
    # Every input is looked up before anything is read: when stopping, a missing one
    # fails before anything is written; when skipping, it is a failed input in its place.
    files: list[list[str] | DataError] = []
    for given in inputs:
        try:
            files.append(expand_paths([given]))
        except DataError as exc:
            if skip is None:
                raise
            files.append(exc)
    for index, names in enumerate(files):
        if isinstance(names, DataError):
            yield _Failed(index, names)
        else:
            for name in names:
                yield from _input_tasks(index, name, skip, batch_lines, shard_bytes, read)
        yield _End(index)


def _input_tasks(
    index: int,
    name: str,
    skip: SkipLog | None,
    batch_lines: int,
    shard_bytes: int,
    read: dict[str, Any],
) -> Iterator[Any]:
    """The tasks of one input file."""
    fmt = read["input_format"]
    if (detect_format(name) if fmt == "auto" else fmt) not in ("text", "jsonl", "labeled"):
        yield from _page_batches(index, read_pages([name], **read), batch_lines)
        return
    try:
        with sniffed_text_input(name, fmt) as (source, fmt, head, fh):
            if fmt == "jsonl":
                for start, data in raw_shards(head, fh, source, shard_bytes):
                    yield _Shard(index, source, start, data)
                return
            pages = text_pages(
                decoded_lines(head, fh, source),
                source,
                fmt,
                on_bad_record=stop_on_bad_record if skip is None else skip.bad_record,
            )
            yield from _page_batches(index, pages, batch_lines)
    except DataError as exc:
        yield _Failed(index, exc)


def _page_batches(index: int, pages: Iterable[Page], batch_lines: int) -> Iterator[Any]:
    """Batches of pages; a read failure becomes a :class:`_Failed` after the pages read
    before it."""
    try:
        for batch in batched(pages, batch_lines):
            yield _Pages(index, batch)
    except DataError as exc:
        yield _Failed(index, exc)


def _render_task(job: _Job, task: _Shard | _Pages) -> _Result:
    """Parse (a shard), classify and render: the work of one task."""
    result = _Result(index=task.index)
    pages = _parse_shard(task, job, result) if isinstance(task, _Shard) else task.pages
    _render(pages, job, result)
    return result


def _parse_shard(shard: _Shard, job: _Job, result: _Result) -> list[Page]:
    """The pages of a shard up to its end, or under ``on_error="stop"`` up to its first
    bad record (then ``result.error``); skipped records go to ``result.skipped``,
    the first undecodable line to ``result.invalid_utf8``."""

    def invalid(line: int, byte: int) -> None:
        result.invalid_utf8 = (shard.source, line, byte)

    pages: list[Page] = []
    try:
        pages.extend(
            parse_jsonl(
                shard.data.split(b"\n"),
                shard.source,
                text_field=job.text_field,
                id_field=job.id_field,
                on_bad_record=result.skipped.append if job.skipping else stop_on_bad_record,
                start=shard.start,
                on_invalid=invalid,
            )
        )
    except DataError as exc:
        result.error = exc
    return pages


def _render(pages: list[Page], job: _Job, result: _Result) -> None:
    """Classify ``pages`` and put their output text and counts in ``result``."""
    from bpclf import api
    from bpclf.writers import (
        content_text,
        jsonl_batch_utf8,
        jsonl_utf8,
        render,
        text_body,
        text_page,
    )

    if job.fmt in ("jsonl", "text") and not job.split_glued:
        # The whole batch at once: one array of probabilities, no object per page.
        proba = job.clf.predict_proba_lines(pages, job.batch_lines)
        labels = (proba >= job.clf.decision_threshold(job.threshold)).astype(np.int8)
        result.pages += len(pages)
        result.lines += len(labels)
        result.boilerplate += int(labels.sum())
        if job.fmt == "jsonl":
            result.text = jsonl_batch_utf8(pages, labels, proba)
            return
        sizes = np.fromiter(map(len, pages), dtype=np.int64, count=len(pages))
        ends = np.cumsum(sizes)
        marked = np.concatenate(([0], np.cumsum(labels, dtype=np.int64)))
        per_page = (marked[ends] - marked[ends - sizes]).tolist()
        keep = (labels == 0).tolist()
        rows = zip(pages, ends.tolist(), sizes.tolist(), per_page, strict=True)
        for page, stop, n, b in rows:
            body = content_text(itertools.compress(page.lines, keep[stop - n : stop]))
            result.pieces.append((page.id, body, n, b))
        if len(result.pieces) >= 2:
            # Then the output has several pages for sure: rendered here, with their
            # headers, as UTF-8 (the parent only adds the blank line before the first).
            pieces = enumerate(result.pieces)
            texts = [text_page(page_id, body, first=not k) for k, (page_id, body, _, _) in pieces]
            result.text = "".join(texts).encode("utf-8")
            result.pieces = []
        return
    preds = api.predict(
        pages,
        job.clf,
        threshold=job.threshold,
        batch_lines=job.batch_lines,
        split_glued=job.split_glued,
    )
    if job.fmt == "text":
        for p in preds:
            n, b = len(p.labels), int(p.labels.sum())
            result.pieces.append((p.page.id, text_body(p), n, b))
            _count(result, n, b)
        return
    if job.fmt == "jsonl":  # with split_glued: the segments of each page
        done = list(preds)
        result.text = jsonl_utf8(done)
    else:
        done, texts = [], []
        for p, text in render(preds, job.fmt):
            done.append(p)
            texts.append(text)
        result.text = "".join(texts)
    for p in done:
        _count(result, len(p.labels), int(p.labels.sum()))


def _count(result: _Result, lines: int, boilerplate: int) -> None:
    result.pages += 1
    result.lines += lines
    result.boilerplate += boilerplate
