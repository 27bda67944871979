"""Checks every command shares, run before anything loads: output folders, counts, options that mean nothing.

A command refuses what it cannot honour in one line (exit 2) and warns in one line where running on is right.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import ConfigError
from ..utils.io import check_output_folder

__all__ = ["positive_int", "check_output_folder", "check_output_file", "parse_labels", "refuse_without", "warn"]


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1.

    Examples:
        >>> positive_int("8")
        8
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def parse_labels(text: str | None, option: str = "--labels") -> list[str] | None:
    """Class names from a comma-separated option (``None`` when not given); empty or repeated names are refused.

    Examples:
        >>> parse_labels("joy, fear,anger")
        ['joy', 'fear', 'anger']
    """
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise ConfigError(f"{option} has an empty name: give the class names in output order, comma-separated")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{option} names {', '.join(repeated)} more than once")
    return names


def check_output_file(path: str | os.PathLike, option: str = "--output") -> Path:
    """``path`` as a file to write: refused when it is an existing folder or its parent is a file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path} is an existing folder, not a file: name the file to write")
    check_output_folder(path.parent, option)
    return path


def refuse_without(needed: str, given: dict[str, bool]) -> None:
    """Refuse options that mean nothing unless ``needed`` is on: ``given`` maps an option to whether it was set."""
    extra = [name for name, is_set in given.items() if is_set]
    if extra:
        raise ConfigError(f"{', '.join(extra)} only apply with {needed}")


def warn(command: str, message: str) -> None:
    """One warning line on stderr (the run goes on)."""
    print(f"emo-pillars {command}: warning: {message}", file=sys.stderr)
