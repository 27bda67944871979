"""The one entry point of the ``emo-pillars`` command line: :func:`main`.

Errors raised on purpose (:class:`~emo_pillars.errors.EmoPillarsError`) and argument errors are printed as one line
on stderr with exit status 2. So is a write the file system refused (no space left, a quota, the file-size limit, a
read-only file system): ``cannot write FILE: CAUSE; KEPT``, where ``KEPT`` is what the command's module says it keeps
(its ``KEPT``). Nothing else is caught.

Examples:
    $ emo-pillars --version
    $ emo-pillars demo
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import NoReturn

from .. import __version__
from ..errors import EmoPillarsError, WriteError
from ..utils.io import disk_error_cause
from ..utils.quiet import set_verbose
from . import COMMANDS

PROG = "emo-pillars"
VERBOSE_HELP = "Show the library's debug lines and the third-party loading output it silences by default."


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``emo-pillars CMD: error: ...``) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command; only the command named in ``argv`` gets its options (all when ``None``).

    ``train`` and ``finetune`` build their options from ``TrainingArguments`` (transformers); other commands and
    ``--help`` must not pay for that import.
    """
    parser = CommandParser(
        prog=PROG, description="Fine-grained, context-aware emotion data synthesis, datasets, training and inference."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for module in (import_module(f".{name}", __package__) for name in COMMANDS):
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        if chosen in (None, module.NAME):
            module.register_subcommand(command)
            command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        command.set_defaults(_run=module.run, _kept=getattr(module, "KEPT", None))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``emo-pillars`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or an argument error already printed in one line
        return int(done.code or 0)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    set_verbose(args.verbose)
    try:
        return int(args._run(args) or 0)
    except (EmoPillarsError, OSError, RuntimeError) as err:
        error = refused_write_line(err, args._kept)
        if error is None:
            raise
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def refused_write_line(err: BaseException, kept: str | None) -> EmoPillarsError | None:
    """The error to print in one line: ``err`` itself when raised on purpose (a refused write saying what ``kept``),
    a :class:`~emo_pillars.errors.WriteError` for a write the file system refused where no library code named the
    file (the file the error names, if any), ``None`` for anything else (a bug: its traceback is shown).

    Examples:
        >>> import errno
        >>> str(refused_write_line(OSError(errno.EFBIG, "File too large", "out.jsonl"), "nothing else changed"))
        'cannot write out.jsonl: file too large; nothing else changed'
    """
    if isinstance(err, WriteError):
        return err.keeping(kept)
    if isinstance(err, EmoPillarsError):
        return err
    cause = disk_error_cause(err)
    if cause is None:
        return None
    named = getattr(err, "filename", None)
    return WriteError(named if named else "a file (the library writing it did not say which)", cause, kept)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
