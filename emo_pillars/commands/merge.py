"""``emo-pillars merge``: join the output folders of a sharded ``generate`` into one, after checking they belong together.

Examples:
    $ emo-pillars generate --shard 0/2 --output outputs/shard0   # on one machine
    $ emo-pillars generate --shard 1/2 --output outputs/shard1   # on another
    $ emo-pillars merge --output outputs/all outputs/shard0 outputs/shard1
"""

from __future__ import annotations

import argparse

from ..data.merge import merge_shards
from .checks import check_output_folder, warn

NAME = "merge"
HELP = "Join the output folders of a sharded generate (--shard I/N) into one, checked and atomically."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "the existing output is unchanged"


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """Options of ``emo-pillars merge``."""
    p.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="The shards' output folders, in any order.")
    p.add_argument("--output", required=True, metavar="DIR", help="The merged folder (context_less.jsonl, "
                   "contextual.jsonl, run.json; not the reply cache): new or empty, unless --overwrite.")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="Replace a non-empty --output (atomically).")
    p.add_argument("--allow-missing", action="store_true", help="Merge even when some of the N shards are not "
                   "given (the merged run.json lists them as missing_shards).")  # fmt: skip
    p.add_argument("--narratives", default=None, metavar="PATH", help="The corpus given to generate: rows are then "
                   "written in its order even where a plot gave no rows (the bundled demo corpus is recognised "
                   "without it).")  # fmt: skip
    p.add_argument("--text-column", default="text", help="Text column of a JSONL/CSV --narratives (default: text).")


def run(args: argparse.Namespace) -> int:
    """Check the output folder, merge, print what was written (missing shards and shard order as warnings)."""
    check_output_folder(args.output)
    result = merge_shards(
        args.shards, args.output, overwrite=args.overwrite, allow_missing=args.allow_missing,
        narratives=args.narratives, text_column=args.text_column,
    )  # fmt: skip
    n = result.num_shards
    if result.missing_shards:
        names = ", ".join(f"{i}/{n}" for i in result.missing_shards)
        warn(NAME, f"shard {names} missing: {result.output_dir} holds {len(result.shard_indices)} of {n} shards")
    if result.row_order == "shards":
        warn(NAME, "rows are in shard order, not corpus order: some plot gave no rows, so its place in the corpus is "
                   "unknown (pass --narratives to write them in corpus order)")  # fmt: skip
    counts = result.counts
    print(
        f"Merged shards {', '.join(f'{i}/{n}' for i in result.shard_indices)}: {counts.get('context_less', 0):,} "
        f"context-less and {counts.get('contextual', 0):,} contextual examples from {counts.get('plots', 0):,} plots "
        f"in {result.output_dir}"
    )
    return 0
