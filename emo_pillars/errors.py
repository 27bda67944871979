"""The exceptions this library raises on purpose.

Everything derives from :class:`EmoPillarsError`, so callers (and the CLI) can tell a clear, expected failure
from a bug. Errors about input files carry the file, line and field so the message points at the fix.

Examples:
    >>> from emo_pillars.errors import InputError
    >>> str(InputError("not valid JSON", path="plots.jsonl", line=3))
    'plots.jsonl:3: not valid JSON'
"""

from __future__ import annotations

import os

__all__ = ["EmoPillarsError", "InputError", "ConfigError", "BackendError", "HubError", "WriteError"]


class EmoPillarsError(Exception):
    """Base class of every error raised on purpose by emo-pillars."""


class InputError(EmoPillarsError, ValueError):
    """Bad user input: a file, a row or a field that cannot be used.

    Args:
        message: What is wrong, in plain words.
        path: The file the input came from, if any.
        line: The 1-based line (or row) number, if known.
        field: The column or key at fault, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
    ):
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
        elif self.line is not None:
            where = f"line {self.line}"
        what = f"field {self.field!r}: {self.message}" if self.field else self.message
        return f"{where}: {what}" if where else what


class ConfigError(EmoPillarsError, ValueError):
    """An option or a combination of options that cannot work."""


class BackendError(EmoPillarsError, RuntimeError):
    """An LLM backend failed in a way a retry did not fix (server down, model not loadable)."""


class HubError(EmoPillarsError, RuntimeError):
    """Pushing to or pulling from the Hugging Face Hub failed."""


class WriteError(EmoPillarsError, RuntimeError):
    """A write the file system refused: no space left on the device, a disk quota or the file-size limit reached, or
    a read-only file system. It names the file and the cause; the command that ran adds what it keeps.

    Args:
        path: The file that could not be written (its folder, where no one file can be named).
        cause: Why, in the system's words (``no space left on device``, ``disk quota exceeded``, ``file too large``,
            ``read-only file system``), with the figures of a check made before writing.
        kept: What is kept of the work, and how to go on.

    Examples:
        >>> str(WriteError("out/model.safetensors", "no space left on device", kept="the existing output is unchanged"))
        'cannot write out/model.safetensors: no space left on device; the existing output is unchanged'
    """

    def __init__(self, path: str | os.PathLike, cause: str, kept: str | None = None):
        self.path = os.fspath(path)
        self.cause = cause
        self.kept = kept
        super().__init__(f"cannot write {self.path}: {cause}" + (f"; {kept}" if kept else ""))

    def keeping(self, kept: str | None) -> WriteError:
        """This error, saying what is kept (an error that already says so is returned as it is)."""
        if self.kept or not kept:
            return self
        error = WriteError(self.path, self.cause, kept)
        error.__cause__ = self.__cause__
        return error
