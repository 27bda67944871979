"""``emo-pillars evaluate``: score a trained model on a task's data with the task's metric (no training)."""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from ..tasks import TASK_CLASSES, get_task
from ..tasks.evaluate import evaluate_main
from .checks import check_output_file, positive_int, warn

NAME = "evaluate"
HELP = "Score a trained model on a task's data with the task's metric (no training)."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "the existing output is unchanged"


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars evaluate``."""
    p.add_argument("--task", required=True, help="goemotions, isear, iemocap, emocontext or emopillars.")
    p.add_argument("--data", required=True, help="The task's files (folder or file) or a Hub id.")
    p.add_argument("--model", required=True, metavar="DIR_OR_REPO", help="A trained model (folder or Hub id).")
    p.add_argument("--split", default="test", help="The split to score, or 'all' (default: test).")
    p.add_argument("--threshold", default=None, help="Multi-label: global (the model's, the default), per_label "
                   "or a number.")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int, default=64, help="Inputs per forward pass (64).")
    p.add_argument("--output", default=None, metavar="FILE", help="Write the figures as JSON here.")
    p.add_argument("--trust-remote-code", action="store_true", help="Allow custom model code from the folder.")


def run(args: argparse.Namespace) -> int:
    """Check the options, score the model, print the figures."""

    if args.task not in TASK_CLASSES:
        raise ConfigError(f"--task must be one of {sorted(TASK_CLASSES)}, got {args.task!r}")
    if args.output is not None:
        check_output_file(args.output)
    if args.threshold is not None and not get_task(args.task).multi_label:
        warn(NAME, f"--threshold changes nothing for {args.task}: its labels are single-label (the best one wins)")
    evaluate_main(
        args.task, args.data, args.model, split=args.split, output=args.output, threshold=args.threshold or "global",
        batch_size=args.batch_size, trust_remote_code=args.trust_remote_code,
    )  # fmt: skip
    return 0
