"""Progress bars on stderr: shown only for a terminal, never with ``--quiet``.

Piped or redirected runs (and CI) stay silent, so stderr carries only warnings and
errors there.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(
    description: str, total: int | None, *, quiet: bool = False, unit: str = "pages"
) -> Iterator[Callable[[int], None]]:
    """A callback ``advance(n)``; a no-op unless stderr is a terminal and not quiet."""
    if quiet or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
