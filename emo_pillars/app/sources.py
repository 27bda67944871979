"""Where the app's model and dataset come from: a local folder, or a Hub id resolved without blocking on the Hub.

A Space or a laptop without a network must never hang on a Hub id: :func:`resolve_source` turns a source into a
local folder first (:func:`emo_pillars.utils.hub.resolve_folder`, the library's one resolver), so the loaders that
follow (``EmoPillarsClassifier.from_pretrained``, ``load_emo_pillars``) only ever read files.

Examples:
    >>> from emo_pillars.app.sources import MODEL_FILES
    >>> "*.safetensors" in MODEL_FILES
    True
"""

from __future__ import annotations

import os

from ..utils.hub import RepoType, resolve_folder

__all__ = ["resolve_source", "MODEL_FILES", "DATASET_FILES"]

#: Files the app needs from a model repository (safetensors only: no pickled weights are fetched).
MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.md"]
#: Files of a dataset repository: the built Parquet layout, the published JSONL layout, a derived copy's CSV split
#: files, and the card.
DATASET_FILES = ["*.parquet", "**/*.parquet", "*.jsonl", "**/*.jsonl", "*.md", "*.json", "*.csv", "data/*.csv"]


def resolve_source(
    source: str | os.PathLike, repo_type: RepoType = "model", *, timeout: float | None = None, token: str | None = None
) -> str:
    """A local folder holding ``source``: the folder itself, or a Hub snapshot of the files the app reads.

    Args:
        source: A folder, or a Hub id.
        repo_type: ``"model"`` or ``"dataset"``.
        timeout: Seconds to wait for the Hub (default: ``EMO_PILLARS_HUB_TIMEOUT`` or 10).
        token: Hub token for private repositories.

    Raises:
        InputError: For a local-looking path that does not exist, or a path that is not a folder.
        HubError: When a Hub id cannot be fetched (offline, unreachable, missing) and is not cached; one line.
    """
    patterns = MODEL_FILES if repo_type == "model" else DATASET_FILES
    return str(resolve_folder(source, repo_type, patterns, token=token, timeout=timeout))
