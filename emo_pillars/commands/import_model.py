"""``emo-pillars import-model``: a self-describing copy of a published checkpoint (labels, threshold, input format in
its config), usable by ``transformers.pipeline`` with no library code."""

from __future__ import annotations

import argparse

from .checks import check_output_folder, parse_labels

NAME = "import-model"
HELP = "Write a self-describing copy of a checkpoint (labels, threshold and input format in its config)."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "the existing output is unchanged"


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars import-model``."""
    p.add_argument("model", metavar="REPO_ID_OR_DIR", help="A Hub id or a model folder.")
    p.add_argument("--output", required=True, metavar="DIR", help="The folder to write.")
    p.add_argument("--labels", default=None, metavar="NAMES",
                   help="Class names in output order, comma-separated (a checkpoint that names none).")  # fmt: skip
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit).")
    p.add_argument("--overwrite", action="store_true", help="Replace an existing folder.")
    p.add_argument("--trust-remote-code", action="store_true", help="Allow custom code in the checkpoint.")


def run(args: argparse.Namespace) -> int:
    """Check the options, load the checkpoint, write the copy, say what it holds."""
    from ..exporters.imported import import_model
    from ..modeling.classifier import EmoPillarsClassifier

    check_output_folder(args.output)
    labels = parse_labels(args.labels)
    folder = import_model(
        args.model, args.output, labels=labels, overwrite=args.overwrite, revision=args.revision,
        trust_remote_code=args.trust_remote_code,
    )  # fmt: skip
    copy = EmoPillarsClassifier.from_pretrained(folder, device="cpu")
    print(
        f"{folder}: {copy.label_space.num_labels} labels ({', '.join(copy.labels[:3])}, ...), "
        f"{copy.label_space.problem_type}, {copy.input_format} input, max length {copy.max_length}, "
        f"threshold {copy.global_threshold}"
    )
    return 0
