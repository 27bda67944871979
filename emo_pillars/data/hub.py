"""Publish a built dataset repository to the Hugging Face Hub (or any Hub-compatible endpoint).

Examples:
    >>> from emo_pillars.data.hub import push_repository
    >>> push_repository("dataset_builders/emo_pillars", "me/emo-pillars", private=True)  # doctest: +SKIP
    'https://huggingface.co/datasets/me/emo-pillars/commit/...'
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import HubError, InputError
from .features import CONFIG_NAMES
from .repository import REPOSITORY_FILES

__all__ = ["check_repository", "push_repository"]


def check_repository(repo_dir: str | os.PathLike) -> list[str]:
    """Check that a folder is a built repository (card with ``configs`` plus Parquet shards); return its configs.

    Raises:
        InputError: If the card or every config's data is missing.
    """
    root = Path(repo_dir)
    card = root / "README.md"
    if not card.is_file() or "configs:" not in card.read_text(encoding="utf-8", errors="replace"):
        raise InputError(
            "is not a built dataset repository (no README.md listing configs); run build-dataset", path=root
        )
    configs = [c for c in CONFIG_NAMES if any((root / c).glob("*.parquet"))]
    if not configs:
        raise InputError("has no Parquet shards under context_less/ or contextual/", path=root)
    return configs


def push_repository(
    repo_dir: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Upload both configs, the card, the label chart and ``run.json`` to a dataset repository on the Hub.

    Shards on the Hub that the folder no longer has are deleted in the same commit, so a rebuilt dataset never
    mixes with an older one. The endpoint is ``HF_ENDPOINT`` (the public Hub by default).

    Args:
        repo_dir: The folder :func:`~emo_pillars.data.repository.build_repository` wrote.
        repo_id: ``namespace/name`` of the dataset repository (created if missing).
        private: Create the repository as private.
        token: A Hub token (default: the logged-in one).
        revision: The branch to commit to (default ``main``).
        commit_message: The commit message.

    Returns:
        The URL of the commit.

    Raises:
        InputError: If ``repo_dir`` is not a built repository.
        HubError: If the Hub refuses or cannot be reached.
    """
    configs = check_repository(repo_dir)
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise InputError(f"repo id {repo_id!r} must look like NAMESPACE/NAME")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=os.fspath(repo_dir),
            repo_id=repo_id,
            repo_type="dataset",
            revision=revision,
            allow_patterns=list(REPOSITORY_FILES),
            delete_patterns=["*/*.parquet", "*.parquet"],
            commit_message=commit_message or f"Upload Emo Pillars ({', '.join(configs)})",
        )
    except (HfHubHTTPError, OfflineModeIsEnabled, OSError) as err:
        raise HubError(f"could not push {repo_dir} to {repo_id}: {err}") from err
    return str(getattr(info, "commit_url", info))
