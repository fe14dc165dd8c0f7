"""Errors raised by the library on bad input: one message that names the file and row or field."""

from __future__ import annotations

from pathlib import Path


class GlassworksError(Exception):
    """Base class for glassworks errors."""


class DataError(GlassworksError, ValueError):
    """A data file is malformed. The message names the file and, where known, the line and field."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class ConfigError(GlassworksError, ValueError):
    """A parameter file or parameter value is invalid; the message names the key."""


class TrackingError(GlassworksError, RuntimeError):
    """The MLflow store cannot be reached or written; the message names the (redacted) URI."""


class Terminated(BaseException):  # noqa: N818 - named after the signal, like KeyboardInterrupt
    """SIGTERM arrived (a service manager or an operator stopping the process): raised by the
    edges' signal handler so a stage unwinds like on Ctrl-C (temp files removed, MLflow run
    marked KILLED) and exits with status 143."""
