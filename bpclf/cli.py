"""The ``bpclf`` command line: train, evaluate, predict (and convert, info).

A thin layer over :mod:`bpclf.api`: options are parsed here, the work is done there.
Errors the user can fix are printed as one line (``bpclf: error: ...``) with exit code 1
(data, model) or 2 (usage); never a traceback.
"""

from __future__ import annotations

import itertools
import json
import logging
import operator
import sys
from pathlib import Path
from typing import Annotated

import typer

from bpclf import api
from bpclf.errors import BpclfError, UsageError
from bpclf.formats import format_labelled
from bpclf.parallel import InputDone
from bpclf.progress import progress_bar
from bpclf.readers import INPUT_FORMATS, ON_ERROR, SkipLog, existing_inputs, read_pages
from bpclf.writers import (
    OUTPUT_FORMATS,
    byte_stream,
    open_output,
    output_plan,
    write_parquet,
    write_rendered,
)

app = typer.Typer(
    name="bpclf",
    help="Classify every line of scraped web pages as content or boilerplate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries.")]
ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", "-m", help="Model file (default: the shipped default model)."),
]
InputFormat = Annotated[
    str,
    typer.Option(
        "--input-format",
        "-f",
        help=f"Input format: {', '.join(INPUT_FORMATS)} (auto: by extension/content).",
    ),
]
TextField = Annotated[str, typer.Option(help="Text column/key for JSONL, Parquet, CSV, datasets.")]
IdField = Annotated[str, typer.Option(help="Id column/key for JSONL, Parquet, CSV, datasets.")]
Split = Annotated[str, typer.Option(help="Split to read with --input-format hf.")]
OnError = Annotated[
    str,
    typer.Option(
        "--on-error",
        help="Bad record or unreadable input: skip it (warn, process the rest, exit 1 at "
        "the end) or stop (exit 1 at once, no output file).",
    ),
]
KeepMore = Annotated[
    bool,
    typer.Option(
        "--keep-more",
        help="Remove only confident boilerplate: the model's 'keep more' operating point "
        "(keeps ~98% of content lines on its validation pages).",
    ),
]
RemoveMore = Annotated[
    bool,
    typer.Option(
        "--remove-more",
        help="Remove more: the model's 'remove more' operating point (removes ~95% of "
        "boilerplate lines on its validation pages).",
    ),
]
log = logging.getLogger("bpclf")


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        typer.echo(message, err=True)


def _check_choice(value: str, choices: tuple[str, ...], option: str) -> None:
    if value not in choices:
        raise UsageError(f"{option} must be one of {', '.join(choices)} (got {value!r})")


def _skip_log(on_error: str) -> SkipLog:
    """Where ``--on-error skip`` collects what it skipped (unused with ``stop``)."""
    _check_choice(on_error, ON_ERROR, "--on-error")
    return SkipLog()


def _exit_code(skips: SkipLog) -> int:
    """After the outputs are complete: 1 with a summary line if bad input was skipped."""
    summary = skips.summary()
    if summary is None:
        return 0
    log.warning("%s", summary)
    return 1


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be between 0 and 1 (got {threshold})")


def _operating_threshold(
    clf, threshold: float | None, keep_more: bool, remove_more: bool
) -> float | None:
    """``--threshold`` (range-checked by the caller before the model is loaded) or a named
    operating point of the model (None: the model's own)."""
    if sum([threshold is not None, keep_more, remove_more]) > 1:
        raise UsageError("use only one of --threshold, --keep-more and --remove-more")
    if keep_more:
        return clf.operating_threshold("keep_more")
    if remove_more:
        return clf.operating_threshold("remove_more")
    return threshold


@app.command()
def train(
    data: Annotated[list[str], typer.Argument(help="Labelled pages: JSONL or labelled text.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the model.")],
    config: Annotated[Path | None, typer.Option(help="TOML config (default: bundled).")] = None,
    init: Annotated[
        Path | None,
        typer.Option(
            help="Continue from this model: its config and training files, plus DATA "
            "(pages with the same id replace the old ones)."
        ),
    ] = None,
    corpus_stats: Annotated[
        bool,
        typer.Option(
            help="Also learn from site repetition: how many other pages of the same site "
            "(URL host, else input) contain each line. Prediction then reads inputs twice."
        ),
    ] = False,
    input_format: InputFormat = "auto",
    on_error: OnError = "stop",
    quiet: Quiet = False,
) -> int:
    """Train a model on labelled pages and write it to OUTPUT."""
    _check_choice(input_format, INPUT_FORMATS, "--input-format")
    skips = _skip_log(on_error)
    with progress_bar("features", None, quiet=quiet) as advance:
        model = api.train(
            data,
            config=config,
            output=output,
            init=init,
            corpus_stats=corpus_stats or None,
            progress=advance,
            input_format=input_format,
            on_error=on_error,
            skipped=skips,
        )
    meta = model.meta_
    val = meta["validation_metrics"]
    summary = (
        f"trained on {meta['training_data']['pages']} pages, "
        f"{meta['training_data']['lines']} lines; {meta['n_iter']} trees; "
        f"threshold {model.threshold_:.3f}"
    )
    if val:
        summary += f"; validation F1 {val['f1']:.3f} (ROC-AUC {val['roc_auc']:.3f})"
    _say(f"{summary}\nmodel written to {output}", quiet)
    return _exit_code(skips)


@app.command()
def evaluate(
    data: Annotated[list[str], typer.Argument(help="Labelled pages: JSONL or labelled text.")],
    model: ModelOpt = None,
    threshold: Annotated[float | None, typer.Option(help="Override the model's threshold.")] = None,
    keep_more: KeepMore = False,
    remove_more: RemoveMore = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write all metrics as JSON.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write a markdown report with plots here.")
    ] = None,
    input_format: InputFormat = "auto",
    on_error: OnError = "stop",
    quiet: Quiet = False,
) -> int:
    """Score a model and the baselines (C4-style rules, all-content) on labelled pages."""
    from bpclf.metrics import format_table
    from bpclf.report import jsonable, write_report

    _check_choice(input_format, INPUT_FORMATS, "--input-format")
    _check_threshold(threshold)
    skips = _skip_log(on_error)
    if report is not None and report.exists() and not report.is_dir():
        raise UsageError(f"--report {report} is a file, not a directory")
    clf = api.load_model(model)
    threshold = _operating_threshold(clf, threshold, keep_more, remove_more)
    pages = list(
        api.model_pages(
            clf.config_,
            data,
            input_format=input_format,
            require_labels=True,
            on_error=on_error,
            skipped=skips,
        )
    )
    with progress_bar("evaluating", len(pages), quiet=quiet) as advance:
        ev = api.evaluate(pages, clf, threshold=threshold, progress=advance)
    typer.echo(format_table(ev.results, "all"))
    typer.echo(f"threshold: {ev.threshold:.3f}")
    if json_out is not None:
        with open_output(str(json_out)) as fh:
            json.dump(jsonable({"threshold": ev.threshold, "results": ev.results}), fh, indent=1)
    if report is not None:
        path = write_report(
            report, ev.results, ev.y_true, ev.proba, ev.threshold, ev.feature_names, ev.importances
        )
        _say(f"report written to {path}", quiet)
    return _exit_code(skips)


@app.command()
def predict(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(help="Text files, directories, JSONL/Parquet/CSV files, or - for stdin."),
    ] = None,
    model: ModelOpt = None,
    output_format: Annotated[
        str, typer.Option("--format", "-F", help=f"Output: {', '.join(OUTPUT_FORMATS)}.")
    ] = "text",
    threshold: Annotated[float | None, typer.Option(help="Override the model's threshold.")] = None,
    keep_more: KeepMore = False,
    remove_more: RemoveMore = False,
    split_glued: Annotated[
        bool,
        typer.Option(
            help="Cut lines where sentences were glued together ('...said.A Message from') "
            "and classify the pieces; text output keeps the content pieces, jsonl/parquet "
            "add 'segments'."
        ),
    ] = False,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output file (default: stdout).")
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            help="One output file per input file here; rerun to resume (done files are skipped)."
        ),
    ] = None,
    input_format: InputFormat = "auto",
    text_field: TextField = "text",
    id_field: IdField = "id",
    split: Split = "train",
    batch_lines: Annotated[int, typer.Option(help="Lines classified per batch.")] = 20_000,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="Worker processes (0: one per core; inputs of one batch are classified "
            "in-process). Output is the same.",
        ),
    ] = 0,
    on_error: OnError = "skip",
    quiet: Quiet = False,
) -> int:
    """Classify every line; print the cleaned text, JSONL with probabilities, or labelled text."""
    _check_choice(output_format, OUTPUT_FORMATS, "--format")
    _check_choice(input_format, INPUT_FORMATS, "--input-format")
    _check_threshold(threshold)
    if batch_lines < 1:
        raise UsageError("--batch-lines must be at least 1")
    if jobs < 0:
        raise UsageError("--jobs must be 0 (all cores) or more")
    if output is not None and output_dir is not None:
        raise UsageError("use either --output or --output-dir")
    if output_format == "parquet" and output in (None, "-") and output_dir is None:
        raise UsageError("--format parquet needs --output FILE or --output-dir DIR")
    skips = _skip_log(on_error)
    clf = api.load_model(model)
    options = dict(
        threshold=_operating_threshold(clf, threshold, keep_more, remove_more),
        split_glued=split_glued,
        batch_lines=batch_lines,
        jobs=jobs,
        input_format=input_format,
        text_field=text_field,
        id_field=id_field,
        split=split,
        on_error=on_error,
        skipped=skips,
    )
    if output_dir is not None:
        plan = _output_plan(inputs or [], output_dir, output_format, on_error, skips)
        todo = [(src, dst) for src, dst in plan if not dst.exists()]
        done = failed = 0
        skipped = len(plan) - len(todo)
        with progress_bar("files", len(plan), quiet=quiet, unit="files") as advance:
            advance(skipped)
            for dst, outputs in _outputs_per_file(todo, clf, output_format, options):
                dst.parent.mkdir(parents=True, exist_ok=True)
                if _write_if_readable(outputs, str(dst), output_format):
                    done += 1
                else:
                    failed += 1
                advance(1)
        unreadable = f", {failed} unreadable (no output; rerun to retry)" if failed else ""
        _say(
            f"{done} files written, {skipped} already done (skipped){unreadable} -> {output_dir}",
            quiet,
        )
        return _exit_code(skips)
    outputs = _outputs(inputs or ["-"], clf, output_format, options)
    with progress_bar("predicting", None, quiet=quiet) as advance:

        def counted():
            for item in outputs:
                advance(_pages_in(item))
                yield item

        stats = _write(counted(), output, output_format)
    if output is not None:
        _say(
            f"{stats.pages} pages, {stats.lines} lines, {stats.boilerplate} boilerplate "
            f"-> {output}",
            quiet,
        )
    return _exit_code(skips)


def _outputs(inputs: list[str], clf, output_format: str, options: dict):
    """Predictions (for parquet) or, for the text formats, their output text: rendered
    by the workers, which is what lets ``--jobs`` scale (bpclf.parallel)."""
    if output_format == "parquet":
        return api.predict(inputs, clf, **options)
    return api.predict_text(inputs, clf, output_format, **options)


def _outputs_per_file(todo: list[tuple[str, Path]], clf, output_format: str, options: dict):
    """(output file, :func:`_outputs` of its input) for each pair of an --output-dir
    plan, in order; for the text formats one pool of workers serves all the inputs.
    The outputs raise :class:`_InputFailed` at the end of an input that gave none
    because it could not be read."""
    srcs = [src for src, _ in todo]
    if output_format == "parquet":
        stream = api.predict_per_input(srcs, clf, **options)
    else:
        stream = api.predict_text_per_input(srcs, clf, output_format, **options)
    for i, group in itertools.groupby(stream, key=operator.itemgetter(0)):
        yield todo[i][1], _file_outputs(group)


def _pages_in(item) -> int:
    """Pages in one of :func:`_outputs`' items."""
    return 1 if isinstance(item, api.Prediction) else item.pages


def _write(outputs, output: str | None, output_format: str):
    """Write :func:`_outputs` to a file (atomically) or stdout; returns the counts."""
    if output_format == "parquet":
        return write_parquet(outputs, output)
    with open_output(output) as out:
        return write_rendered(outputs, out, raw=byte_stream(out))


def _output_plan(
    inputs: list[str], output_dir: Path, output_format: str, on_error: str, skips: SkipLog
) -> list[tuple[str, Path]]:
    """The --output-dir plan; when skipping, missing inputs are reported, not fatal."""
    if on_error == "skip" and inputs:
        inputs = existing_inputs(inputs, skips)
        if not inputs:
            return []
    return output_plan(inputs, output_dir, output_format)


class _InputFailed(Exception):
    """Raised inside an --output-dir write to drop the output of an unreadable input."""


def _write_if_readable(outputs, dst: str, output_format: str) -> bool:
    """Write one --output-dir file, unless its input could not be read at all (the
    outputs raise :class:`_InputFailed`): then no file is left (the temporary file is
    removed), so a rerun retries that input. An input that broke part-way keeps the
    pages read before the break."""
    try:
        _write(outputs, dst, output_format)
    except _InputFailed:
        return False
    return True


def _file_outputs(group):
    """Outputs of one input of :func:`_outputs_per_file`'s stream, then
    :class:`_InputFailed` if there were none because the input could not be read."""
    pages = 0
    for _, out in group:
        if isinstance(out, InputDone):
            if out.failed and not pages:
                raise _InputFailed
        else:
            pages += _pages_in(out)
            yield out


label_app = typer.Typer(help="The labelling loop: suggest pages to label.", no_args_is_help=True)
app.add_typer(label_app, name="label")


@label_app.command("suggest")
def label_suggest(
    inputs: Annotated[list[str], typer.Argument(help="Pages to choose from (any input format).")],
    model: ModelOpt = None,
    n: Annotated[int, typer.Option("-n", help="How many pages to suggest.")] = 50,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output file (default: stdout).")
    ] = None,
    margin: Annotated[
        float, typer.Option(help="Lines this close to the threshold count as unsure.")
    ] = 0.2,
    input_format: InputFormat = "auto",
    text_field: TextField = "text",
    id_field: IdField = "id",
    on_error: OnError = "skip",
    quiet: Quiet = False,
) -> int:
    """Write the pages the model is least sure about, pre-labelled, for correction."""
    from bpclf.labelling import render_suggestions, suggest

    _check_choice(input_format, INPUT_FORMATS, "--input-format")
    if n < 1 or not 0 < margin <= 1:
        raise UsageError("-n must be at least 1 and --margin in (0, 1]")
    skips = _skip_log(on_error)
    clf = api.load_model(model)
    preds = api.predict(
        inputs,
        clf,
        input_format=input_format,
        text_field=text_field,
        id_field=id_field,
        on_error=on_error,
        skipped=skips,
    )
    chosen = suggest(preds, clf.threshold_, n, margin=margin)
    with open_output(output) as out:
        for chunk in render_suggestions(chosen):
            out.write(chunk)
    _say(f"{len(chosen)} pages suggested", quiet)
    return _exit_code(skips)


phrases_app = typer.Typer(help="The appeal-phrase lexicon.", no_args_is_help=True)
app.add_typer(phrases_app, name="phrases")


@phrases_app.command("mine")
def phrases_mine(
    data: Annotated[list[str], typer.Argument(help="Labelled pages: JSONL or labelled text.")],
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output TSV (default: stdout).")
    ] = None,
    min_support: Annotated[int, typer.Option(help="Minimum boilerplate lines containing it.")] = 5,
    min_pages: Annotated[
        int, typer.Option(help="Minimum pages it occurs on (in boilerplate).")
    ] = 3,
    min_score: Annotated[float, typer.Option(help="Minimum smoothed log-odds z-score.")] = 3.0,
    max_n: Annotated[int, typer.Option(help="Longest n-gram, in words.")] = 4,
    top: Annotated[int, typer.Option(help="At most this many phrases per language.")] = 100,
    lexicon: Annotated[
        Path | None,
        typer.Option(help="Leave out phrases already in this lexicon (default: the bundled one)."),
    ] = None,
    input_format: InputFormat = "auto",
) -> None:
    """Mine word n-grams far more frequent in boilerplate than in content, for review."""
    from bpclf.config import load_config
    from bpclf.mining import mine_phrases, to_lexicon_tsv
    from bpclf.phrases import Lexicon
    from bpclf.stopwords import read_stopword_dir

    _check_choice(input_format, INPUT_FORMATS, "--input-format")
    if min(min_support, min_pages, max_n, top) < 1:
        raise UsageError("--min-support, --min-pages, --max-n and --top must be at least 1")
    cfg = load_config()
    exclude = Lexicon.from_file(lexicon or cfg.resolve(cfg.features.lexicon))
    stopwords = read_stopword_dir(cfg.resolve(cfg.features.stopwords_dir))
    pages = read_pages(data, input_format=input_format, require_labels=True)
    mined = mine_phrases(
        pages,
        max_n=max_n,
        min_support=min_support,
        min_pages=min_pages,
        min_score=min_score,
        top=top,
        exclude=exclude,
        stopwords=stopwords,
    )
    with open_output(output) as out:
        out.write(to_lexicon_tsv(mined))


import_app = typer.Typer(help="Turn other data into labelled pages.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("html")
def import_html(
    directories: Annotated[
        list[Path],
        typer.Argument(
            help="Directories of KEY.html pages with their hand-cleaned KEY.gold.txt text."
        ),
    ],
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Labelled JSONL (default: stdout).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Source name (default: directory name).")
    ] = None,
    lang: Annotated[str | None, typer.Option(help="Language of the pages, if known.")] = None,
    min_line_share: Annotated[
        float,
        typer.Option(
            help="A line is content when this share of its words align with the gold text."
        ),
    ] = 0.5,
    min_recovered: Annotated[
        float, typer.Option(help="Skip pages whose content lines recover less of the gold text.")
    ] = 0.5,
    quiet: Quiet = False,
) -> None:
    """Label the lines of HTML pages by aligning them with their gold text."""
    from bpclf.formats import page_json
    from bpclf.gold import AlignmentStats, import_gold_dir

    if not (0 < min_line_share <= 1 and 0 <= min_recovered <= 1):
        raise UsageError("--min-line-share must be in (0, 1] and --min-recovered in [0, 1]")
    with open_output(output) as out:
        for directory in directories:
            stats = AlignmentStats()
            for page in import_gold_dir(
                directory,
                source=source,
                lang=lang,
                min_line_share=min_line_share,
                min_recovered=min_recovered,
                stats=stats,
            ):
                out.write(page_json(page) + "\n")
            failed = f" (e.g. {', '.join(stats.failed[:5])})" if stats.failed else ""
            _say(
                f"{directory}: {stats.pages} pages, {len(stats.failed)} skipped as not "
                f"aligned{failed}; content lines recover {stats.recovered_share:.1%} of the "
                "gold text",
                quiet,
            )


@app.command()
def convert(
    inputs: Annotated[list[str], typer.Argument(help="Pages in JSONL or labelled text.")],
    to: Annotated[str, typer.Option("--to", "-t", help="Target format: jsonl or labeled.")],
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output file (default: stdout).")
    ] = None,
    input_format: InputFormat = "auto",
    on_error: OnError = "stop",
) -> int:
    """Convert pages between JSONL and the labelled-text format (lossless)."""
    from bpclf.formats import page_json

    _check_choice(to, ("jsonl", "labeled"), "--to")
    skips = _skip_log(on_error)
    pages = read_pages(
        inputs,
        input_format=input_format,
        keep_partial_labels=True,
        on_error=on_error,
        skipped=skips,
    )
    with open_output(output) as out:
        for page in pages:
            out.write(page_json(page) + "\n" if to == "jsonl" else format_labelled(page) + "\n")
    return _exit_code(skips)


@app.command()
def info(model: ModelOpt = None) -> None:
    """Show a model's metadata: schema, threshold, training data, metrics, versions."""
    clf = api.load_model(model)
    typer.echo(json.dumps(clf.describe(), indent=1, ensure_ascii=False))


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"bpclf: {record.levelname.lower()}: " + " ".join(record.getMessage().split())


class _CurrentStderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when a message comes: a
    program (or a test) that swaps ``sys.stderr`` between two CLI calls in one process
    would otherwise get the warnings of the second call on the first call's stream,
    closed by then."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _setup_logging() -> None:
    logger = logging.getLogger("bpclf")
    if not logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(_OneLine())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so temp files are removed on the way out."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one-line messages and exit codes."""
    _setup_logging()
    _exit_cleanly_on_sigterm()
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="bpclf", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except BpclfError as exc:
        typer.echo(f"bpclf: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("bpclf: interrupted", err=True)
        return 130
    except SystemExit:
        # typer turns a closed stdout (EPIPE, e.g. `bpclf predict ... | head`) into exit 1
        # after wrapping stdout; a reader going away is not a data error: exit 0 like
        # Unix tools do.
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            return 0
        raise
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: stop quietly, as Unix tools do.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        # click (vendored by typer) usage errors: duck-typed, as typer may vendor click.
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            typer.echo(f"bpclf: error: {' '.join(exc.format_message().split())}", err=True)
            return int(exc.exit_code)
        if type(exc).__name__ == "Abort":
            typer.echo("bpclf: interrupted", err=True)
            return 130
        raise


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
