"""Run ``emo-pillars`` in this process, killed with SIGKILL at one point of a dataset build (a test-only wrapper).

The library has no kill hook: this wrapper patches one function inside this child process so that it sends itself
``SIGKILL`` where ``kill -9`` from outside could land, then runs the real command.

Usage:
    python tests/data/killed_build.py PHASE build-dataset --generated DIR --output REPO ...

Phases: ``shard`` (after the first Parquet shard is written), ``contextual`` (after the first contextual shard),
``card`` (half of the card written), ``swap`` (between the two renames of the swap on a system without an atomic
exchange).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after_shard(only_contextual: bool) -> None:
    import pyarrow.parquet as pq

    write_table = pq.write_table

    def write_then_die(table, where, *args, **kwargs):
        write_table(table, where, *args, **kwargs)
        if not only_contextual or "contextual" in Path(str(where)).parts:
            _die()

    pq.write_table = write_then_die


def _half_card() -> None:
    write_text = Path.write_text

    def half_then_die(self, data, *args, **kwargs):
        if self.name != "README.md":
            return write_text(self, data, *args, **kwargs)
        write_text(self, data[: len(data) // 2], *args, **kwargs)
        _die()

    Path.write_text = half_then_die


def _between_renames() -> None:
    from emo_pillars.utils import io

    io._exchange = lambda first, second: False  # as where renameat2 is missing: two renames
    replace = os.replace
    calls = []

    def rename_then_die(source, target):
        calls.append(source)
        if len(calls) == 2 and ".build-" in str(source):
            _die()
        return replace(source, target)

    os.replace = rename_then_die


if __name__ == "__main__":
    phase, argv = sys.argv[1], sys.argv[2:]
    patch = {"shard": lambda: _after_shard(False), "contextual": lambda: _after_shard(True), "card": _half_card,
             "swap": _between_renames}[phase]  # fmt: skip
    patch()
    from emo_pillars.commands.cli import main

    sys.exit(main(argv))
