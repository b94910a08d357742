"""Errors a user can act on.

Every failure caused by input data, a model file or a usage mistake is raised as a
:class:`BpclfError`. The CLI prints ``str(error)`` as a single line on stderr and exits
with ``error.exit_code``; it never shows a traceback for these. The message names the
file, and the line number or page id where that applies, so the user can find the
offending record.
"""

from __future__ import annotations


class BpclfError(Exception):
    """Base class: a one-line, user-facing error with an exit code."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        page: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line
        self.page = page

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = str(self.source)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        if self.page is not None:
            where += f"page {self.page!r}: "
        text = f"{where}{self.message}"
        return " ".join(text.split())  # always one line


class DataError(BpclfError):
    """Input data is missing, unreadable or malformed (exit code 1)."""


class ModelError(BpclfError):
    """A model file is missing, corrupt, unsafe or incompatible (exit code 1)."""


class UsageError(BpclfError):
    """The command was called with options that cannot work together (exit code 2)."""

    exit_code = 2
