"""The one entry point of the ``emo-pillars`` command line: :func:`main`.

Errors raised on purpose (:class:`~emo_pillars.errors.EmoPillarsError`) and argument errors are printed as one line
on stderr with exit status 2; nothing else is caught.

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
from ..errors import EmoPillarsError
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
        command.set_defaults(_run=module.run)
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
    except EmoPillarsError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
