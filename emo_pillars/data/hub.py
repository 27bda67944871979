"""Publish a built dataset repository to the Hugging Face Hub (or any Hub-compatible endpoint), verified first.

:func:`push_repository` never uploads damage: the folder must pass
:func:`~emo_pillars.data.repository.verify_repository` (every config loads, split sizes match the card) before
anything is sent. The upload is one commit (``HfApi.create_commit``): the card, the charts, ``run.json`` and the
shards of the configs the folder holds; for those configs, shards on the Hub that the folder no longer has are
deleted in the same commit (they would mix two builds), and nothing else on the Hub is touched. The card uploaded
tells readers to ``load_dataset("<repo id>")``. Transient failures are retried by ``huggingface_hub`` itself
(``http_backoff``); whatever still fails is one :class:`~emo_pillars.errors.HubError` line with the repo id and
the cause, and since nothing is committed before every file is uploaded, the remote is then unchanged.

Examples:
    >>> from emo_pillars.data.hub import push_repository
    >>> push_repository("dataset_builders/emo_pillars", "me/emo-pillars", private=True)  # doctest: +SKIP
    'https://huggingface.co/datasets/me/emo-pillars/commit/...'
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import HubError, InputError
from .card import set_load_id
from .repository import REPOSITORY_FILES, verify_repository

__all__ = ["check_repo_id", "push_repository"]


def check_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it is a valid ``NAMESPACE/NAME`` Hub id, else raise a one-line InputError."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        if not isinstance(repo_id, str) or repo_id.count("/") != 1:
            raise HFValidationError("must look like NAMESPACE/NAME")
        validate_repo_id(repo_id)
    except HFValidationError as err:
        reason = " ".join(str(err).split()).split(". ")[0]
        raise InputError(f"repo id {repo_id!r} is not a valid Hub id: {reason}") from None
    return repo_id


def _cause(err: BaseException) -> str:
    """``Type: message`` of the error, and of its innermost cause when it wraps one (one line)."""

    def one(e: BaseException) -> str:
        text = " ".join(str(e).split())
        return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__

    root = err
    while (root.__cause__ or root.__context__) is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    return one(err) if root is err else f"{one(err)}; {one(root)}"


def push_repository(
    repo_dir: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Verify a built repository, then upload it to a dataset repository on the Hub in one commit.

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
        InputError: A bad repo id, or a folder that is not a complete repository (nothing is uploaded).
        HubError: The Hub refused or could not be reached (the repo id and the cause, one line).
    """
    check_repo_id(repo_id)
    root = Path(repo_dir)
    configs = verify_repository(root)
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    card = set_load_id((root / "README.md").read_text(encoding="utf-8"), repo_id)
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        local = sorted(
            {p.relative_to(root).as_posix() for pattern in REPOSITORY_FILES for p in root.glob(pattern) if p.is_file()}
        )
        operations: list = [CommitOperationAdd("README.md", card.encode("utf-8"))]
        operations += [CommitOperationAdd(path, str(root / path)) for path in local if path != "README.md"]
        remote = api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
        stale = [
            path for path in remote
            if path.endswith(".parquet") and path.split("/")[0] in configs and path not in local
        ]  # fmt: skip
        operations += [CommitOperationDelete(path) for path in stale]
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=commit_message or f"Upload Emo Pillars ({', '.join(configs)})",
            repo_type="dataset",
            revision=revision,
        )
    except OfflineModeIsEnabled:
        raise HubError(f"{repo_id}: cannot push with HF_HUB_OFFLINE=1") from None
    except HfHubHTTPError as err:
        raise HubError(f"{repo_id}: the Hub refused the push ({_cause(err)})") from None
    except Exception as err:  # noqa: BLE001 - connection errors, a hub gone mid-upload: one line, not a traceback
        raise HubError(f"{repo_id}: the push failed, nothing was committed ({_cause(err)})") from None
    return str(getattr(info, "commit_url", info))
