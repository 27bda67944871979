"""``emo-pillars build-dataset``: the dataset repository (Parquet shards and a card) from generator output.

Examples:
    $ emo-pillars build-dataset --generated outputs/run1 --output dataset_builders/emo_pillars
    $ emo-pillars build-dataset --generated outputs/shard0 outputs/shard1 --output dataset_builders/emo_pillars
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..data.quality import ReferenceModel
from ..data.repository import build_repository
from ..data.sources import detect_layout
from ..errors import ConfigError, InputError
from ..modeling.classifier import EmoPillarsClassifier
from .checks import check_output_folder, positive_int, warn

NAME = "build-dataset"
HELP = "Build the dataset repository (Parquet shards + card) from generator output."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "the existing output is unchanged"


def _ratios(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.replace("/", ",").split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected three fractions like 0.8,0.1,0.1, got {text!r}") from err
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three fractions like 0.8,0.1,0.1, got {text!r}")
    return values


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """Options of ``emo-pillars build-dataset``."""
    p.add_argument(
        "--generated",
        required=True,
        nargs="+",
        metavar="DIR",
        help="Generator output folder (context_less.jsonl, contextual.jsonl, run.json), or the published "
        "layout (context-less/{train,dev,test}.jsonl); or every shard's folder of a sharded generate, merged as "
        "emo-pillars merge does.",
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
        type=positive_int,
        default=None,
        metavar="N",
        help="Most utterances per config embedded for the card's similarity figures and scored by --reference-model "
        "(default 2000).",
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


def check_options(args: argparse.Namespace) -> None:
    """Refuse what the build cannot honour and warn about options that change nothing, before anything loads."""

    check_output_folder(args.output)
    first = args.generated[0]
    if len(args.generated) > 1:
        layout = "generated"  # only generator output folders merge; build_repository checks each
    else:
        layout = detect_layout(first) if Path(first).is_dir() else None
    published = layout in ("published", "derived")  # both keep their own split files unless --resplit
    if args.resplit and not published:
        warn(NAME, "--resplit changes nothing here: generator output is always split by plot")
    if published and not args.resplit and (args.context_less_splits or args.contextual_splits):
        raise ConfigError(f"split fractions apply to the {layout} layout only with --resplit (it keeps its files)")
    if args.no_similarity and args.reference_model is None and args.similarity_sample is not None:
        warn(NAME, "--similarity-sample changes nothing with --no-similarity and no --reference-model")


def _reference_model(name: str | None) -> Any:
    """The ``--reference-model`` classifier, checked now and loaded once the data has been validated."""
    if name is None:
        return None
    from functools import partial

    path = Path(name)
    if path.exists() and not (path / "config.json").is_file() or name.count("/") == 0:
        raise InputError("is not a trained classifier (a folder with config.json, or a Hub id)", path=path)
    return ReferenceModel(name, partial(EmoPillarsClassifier.from_pretrained, name))


def run(args: argparse.Namespace) -> int:
    """Run ``build-dataset``: write the repository and print what was built (split fallbacks as warnings)."""

    check_options(args)

    ratios = {}
    if args.context_less_splits is not None:
        ratios["context_less"] = args.context_less_splits
    if args.contextual_splits is not None:
        ratios["contextual"] = args.contextual_splits
    result = build_repository(
        args.generated[0] if len(args.generated) == 1 else args.generated,
        args.output,
        configs=args.configs,
        split_ratios=ratios or None,
        seed=args.seed,
        skip_invalid=args.skip_invalid,
        resplit=args.resplit,
        similarity=not args.no_similarity,
        sample_size=args.similarity_sample or 2000,
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
