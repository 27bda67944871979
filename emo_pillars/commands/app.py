"""``emo-pillars app``: open the app in a browser to try a model and judge generated data (human evaluation)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..app import check_app_dependencies, launch
from ..errors import InputError
from ..utils.hub import looks_local
from .checks import check_output_folder, warn

NAME = "app"
HELP = "Open the app in a browser: try a model, and judge generated data (human evaluation)."


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars app``."""
    p.add_argument("--model", required=True, metavar="DIR_OR_REPO", help="Model folder or Hub id to try.")
    p.add_argument("--dataset", default=None, metavar="DIR_OR_REPO", help="Generated dataset for the Evaluate tab: "
                   "a generator output folder, a built repository folder or a Hub id.")  # fmt: skip
    p.add_argument("--annotations", default=None, metavar="DIR", help="Folder for the annotators' JSONL "
                   "files (default: ./annotations).")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="Address to listen on (127.0.0.1; 0.0.0.0 for all).")
    p.add_argument("--port", type=int, default=None, metavar="N", help="Port (default: the first free from 7860).")


def run(args: argparse.Namespace) -> int:
    """Check the options, load the model (one line on failure), then serve until interrupted."""

    if args.port is not None and not 0 < args.port < 65536:
        raise InputError(f"--port must be between 1 and 65535, got {args.port}")
    if args.dataset and looks_local(args.dataset) and not Path(args.dataset).expanduser().is_dir():
        raise InputError(f"{args.dataset}: no such folder", field="--dataset")
    annotations = check_output_folder(args.annotations or "annotations", "--annotations")
    if args.annotations is not None and not args.dataset:
        warn(NAME, "--annotations changes nothing without --dataset (the annotation study judges a dataset)")
    check_app_dependencies()  # before the model loads

    launch(args.model, args.dataset, host=args.host, port=args.port, annotations_dir=annotations)
    return 0
