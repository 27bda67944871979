"""The ``build-dataset`` and ``push-dataset`` sub-commands, ready to be registered by :mod:`emo_pillars.commands.cli`.

Each command is a pair: ``add_*_arguments(parser)`` declares its options, ``run_*(args)`` runs it and returns the exit
status. Heavy imports happen inside ``run_*``. The module also runs on its own, for scripts and tests::

    python -m emo_pillars.commands.dataset build-dataset --generated outputs/run1 --output dataset_builders/emo_pillars
    python -m emo_pillars.commands.dataset push-dataset dataset_builders/emo_pillars --repo-id me/emo-pillars --private
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EmoPillarsError, InputError

__all__ = [
    "add_build_dataset_arguments",
    "run_build_dataset",
    "add_push_dataset_arguments",
    "run_push_dataset",
    "main",
]


def _ratios(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.replace("/", ",").split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected three fractions like 0.8,0.1,0.1, got {text!r}") from err
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three fractions like 0.8,0.1,0.1, got {text!r}")
    return values


def add_build_dataset_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``emo-pillars build-dataset``."""
    p.add_argument(
        "--generated",
        required=True,
        metavar="DIR",
        help="Generator output folder (context_less.jsonl, contextual.jsonl, run.json), or the published "
        "layout (context-less/{train,dev,test}.jsonl).",
    )
    p.add_argument(
        "--output",
        required=True,
        metavar="REPO_DIR",
        help="Dataset repository folder to write (e.g. dataset_builders/emo_pillars).",
    )
    p.add_argument(
        "--config",
        dest="configs",
        action="append",
        choices=["context_less", "contextual"],
        help="Config to build (repeatable; default: every config with an input file).",
    )
    p.add_argument("--seed", type=int, default=42, help="Seed of the split by plot (default 42).")
    p.add_argument(
        "--context-less-splits",
        type=_ratios,
        default=None,
        metavar="TRAIN,VAL,TEST",
        help="Split fractions for context_less (default 0.8,0.1,0.1).",
    )
    p.add_argument(
        "--contextual-splits",
        type=_ratios,
        default=None,
        metavar="TRAIN,VAL,TEST",
        help="Split fractions for contextual (default 0.9,0.05,0.05).",
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="Skip malformed rows (counted in the card) instead of stopping at the first one.",
    )
    p.add_argument(
        "--resplit",
        action="store_true",
        help="Published layout only: split by plot instead of keeping its train/dev/test files.",
    )
    p.add_argument("--no-similarity", action="store_true", help="Skip the MiniLM embedding figures of the card.")
    p.add_argument(
        "--similarity-sample",
        type=int,
        default=2000,
        metavar="N",
        help="Most utterances per config embedded for the card's similarity figures and scored by --reference-model "
        "(a positive number; default 2000).",
    )
    p.add_argument(
        "--narratives",
        default=None,
        metavar="PATH",
        help="The corpus the generator read (as given to generate): named in the card's licence section and used to "
        "measure synopsis copying. The bundled demo corpus is recognised without it.",
    )
    p.add_argument(
        "--reference-model",
        default=None,
        metavar="MODEL",
        help="A trained Emo Pillars classifier (folder or Hub id): the card reports its micro/macro-F1 against the "
        "synthetic labels on the sample.",
    )
    p.add_argument("--repo-id", default=None, help="Hub id to show in the card's loading example.")


def _reference_model(name: str | None) -> Any:
    """The ``--reference-model`` classifier, checked now and loaded once the data has been validated."""
    if name is None:
        return None
    from functools import partial

    from ..data.quality import ReferenceModel
    from ..modeling.classifier import EmoPillarsClassifier

    path = Path(name)
    if path.exists() and not (path / "config.json").is_file() or name.count("/") == 0:
        raise InputError("is not a trained classifier (a folder with config.json, or a Hub id)", path=path)
    return ReferenceModel(name, partial(EmoPillarsClassifier.from_pretrained, name))


def run_build_dataset(args: argparse.Namespace) -> int:
    """Run ``build-dataset``: write the repository and print what was built (split fallbacks as warnings)."""
    from ..data.repository import build_repository
    from ..errors import ConfigError

    if args.similarity_sample <= 0:
        raise ConfigError(f"--similarity-sample must be a positive number of utterances, got {args.similarity_sample}")

    ratios = {}
    if args.context_less_splits is not None:
        ratios["context_less"] = args.context_less_splits
    if args.contextual_splits is not None:
        ratios["contextual"] = args.contextual_splits
    result = build_repository(
        args.generated,
        args.output,
        configs=args.configs,
        split_ratios=ratios or None,
        seed=args.seed,
        skip_invalid=args.skip_invalid,
        resplit=args.resplit,
        similarity=not args.no_similarity,
        sample_size=args.similarity_sample,
        narratives=args.narratives,
        reference_model=_reference_model(args.reference_model),
        repo_id=args.repo_id,
    )
    for config, sizes in result.split_sizes.items():
        report = result.reports[config]
        parts = ", ".join(f"{split} {n:,}" for split, n in sizes.items())
        extra = f"; {report.skipped:,} invalid rows skipped" if report.skipped else ""
        extra += f"; {report.junk_total:,} junk labels dropped" if report.junk_total else ""
        extra += f"; {report.rows_without_labels:,} rows with labels: [] dropped" if report.rows_without_labels else ""
        print(f"{config}: {parts}{extra}")

    print(f"Wrote {result.output_dir} (load it with datasets.load_dataset({str(result.output_dir)!r}, CONFIG))")
    return 0


def add_push_dataset_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``emo-pillars push-dataset``."""
    p.add_argument("repo_dir", metavar="REPO_DIR", help="A folder written by build-dataset.")
    p.add_argument("--repo-id", required=True, metavar="NAMESPACE/NAME", help="Dataset repository on the Hub.")
    p.add_argument("--private", action="store_true", help="Create the repository as private.")
    p.add_argument("--revision", default=None, help="Branch to commit to (default main).")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one).")
    p.add_argument("--commit-message", default=None, help="Commit message.")


def run_push_dataset(args: argparse.Namespace) -> int:
    """Run ``push-dataset``: upload the repository and print the commit URL."""
    from ..data.hub import push_repository

    url = push_repository(
        args.repo_dir,
        args.repo_id,
        private=args.private,
        token=args.token,
        revision=args.revision,
        commit_message=args.commit_message,
    )
    print(f"Pushed {args.repo_dir} to {args.repo_id}: {url}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one of the two commands outside the main CLI (``python -m emo_pillars.commands.dataset``)."""
    parser = argparse.ArgumentParser(prog="python -m emo_pillars.commands.dataset")
    sub = parser.add_subparsers(dest="command", required=True)
    add_build_dataset_arguments(sub.add_parser("build-dataset", help="Build the dataset repository."))
    add_push_dataset_arguments(sub.add_parser("push-dataset", help="Push a built repository to the Hub."))
    args = parser.parse_args(argv)
    try:
        return run_build_dataset(args) if args.command == "build-dataset" else run_push_dataset(args)
    except EmoPillarsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
