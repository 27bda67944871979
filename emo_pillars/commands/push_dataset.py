"""``emo-pillars push-dataset``: upload a built dataset repository to the Hugging Face Hub.

Examples:
    $ emo-pillars push-dataset dataset_builders/emo_pillars --repo-id me/emo-pillars --private
"""

from __future__ import annotations

import argparse

from ..data.hub import push_repository

NAME = "push-dataset"
HELP = "Upload a built dataset repository to the Hugging Face Hub."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "nothing was uploaded and the folder is unchanged"


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """Options of ``emo-pillars push-dataset``."""
    p.add_argument("repo_dir", metavar="REPO_DIR", help="A folder written by build-dataset.")
    p.add_argument("--repo-id", required=True, metavar="NAMESPACE/NAME", help="Dataset repository on the Hub.")
    p.add_argument("--private", action="store_true", help="Create the repository as private.")
    p.add_argument("--revision", default=None, help="Branch to commit to (default main).")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one).")
    p.add_argument("--commit-message", default=None, help="Commit message.")


def run(args: argparse.Namespace) -> int:
    """Run ``push-dataset``: upload the repository and print the commit URL."""

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
