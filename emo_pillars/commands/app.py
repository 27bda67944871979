"""The ``emo-pillars app`` sub-command: arguments and run (registered in :mod:`emo_pillars.commands.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError

__all__ = ["add_app_arguments", "run_app"]


def add_app_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars app``."""
    p.add_argument("--model", required=True, metavar="DIR_OR_REPO", help="Model folder or Hub id to try.")
    p.add_argument("--dataset", default=None, metavar="DIR_OR_REPO", help="Generated dataset for the Evaluate tab: "
                   "a generator output folder, a built repository folder or a Hub id.")  # fmt: skip
    p.add_argument("--annotations", default="annotations", metavar="DIR", help="Folder for the annotators' JSONL "
                   "files (default: ./annotations).")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="Address to listen on (127.0.0.1; 0.0.0.0 for all).")
    p.add_argument("--port", type=int, default=None, metavar="N", help="Port (default: the first free from 7860).")


def run_app(args: argparse.Namespace) -> int:
    """Check the options, load the model (one line on failure), then serve until interrupted."""
    from ..app.sources import looks_local

    if args.port is not None and not 0 < args.port < 65536:
        raise InputError(f"--port must be between 1 and 65535, got {args.port}")
    if args.dataset and looks_local(args.dataset) and not Path(args.dataset).expanduser().is_dir():
        raise InputError(f"{args.dataset}: no such folder", field="--dataset")
    annotations = Path(args.annotations)
    if annotations.exists() and not annotations.is_dir():
        raise InputError(f"{annotations}: not a folder", field="--annotations")
    from ..app import launch

    launch(args.model, args.dataset, host=args.host, port=args.port, annotations_dir=annotations)
    return 0
