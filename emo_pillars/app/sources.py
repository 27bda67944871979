"""Where the app's model and dataset come from: a local folder, or a Hub id resolved without blocking on the Hub.

A Space or a laptop without a network must never hang on a Hub id. :func:`resolve_source` turns a source into a
local folder first, so the loaders that follow (``EmoPillarsClassifier.from_pretrained``, ``load_emo_pillars``)
only ever read files:

* an existing folder is used as it is;
* a path that looks local (``./x``, ``/x``, ``~/x``, a backslash, more than one ``/``) and does not exist fails at
  once with one line;
* a Hub id is first checked with one metadata request in a worker thread that is waited on for at most
  ``timeout`` seconds (``EMO_PILLARS_HUB_TIMEOUT``, default 10), then downloaded; when the Hub cannot be reached,
  or ``HF_HUB_OFFLINE=1`` is set (then no request is made at all), the local Hub cache is used, and without a
  cached copy it fails with one line.

The wait is bounded here rather than through ``huggingface_hub``'s own timeouts because name resolution and
connection retries sit below those timeouts; a daemon thread bounds all of it.

Examples:
    >>> from emo_pillars.app.sources import looks_local
    >>> looks_local("./models/minilm"), looks_local("alex-shvets/roberta-large-emopillars-contextless")
    (True, False)
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Literal

from ..errors import HubError, InputError

__all__ = ["resolve_source", "looks_local", "hub_timeout", "MODEL_FILES", "DATASET_FILES"]

RepoType = Literal["model", "dataset"]

#: Files the app needs from a model repository (safetensors only: no pickled weights are fetched).
MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.md"]
#: Files of a dataset repository: the built Parquet layout, or the published JSONL layout, and the card.
DATASET_FILES = ["*.parquet", "**/*.parquet", "*.jsonl", "**/*.jsonl", "*.md", "*.json"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def hub_timeout() -> float:
    """Seconds to wait for the Hub before giving up: ``EMO_PILLARS_HUB_TIMEOUT`` or 10."""
    value = os.environ.get("EMO_PILLARS_HUB_TIMEOUT", "10")
    try:
        seconds = float(value)
    except ValueError:
        raise InputError(f"EMO_PILLARS_HUB_TIMEOUT must be a number of seconds, got {value!r}") from None
    if seconds <= 0:
        raise InputError(f"EMO_PILLARS_HUB_TIMEOUT must be positive, got {value!r}")
    return seconds


def looks_local(source: str) -> bool:
    """Whether ``source`` reads as a file-system path rather than a Hub id (``name`` or ``namespace/name``)."""
    if source.startswith((".", "/", "~")) or "\\" in source or (os.altsep and os.altsep in source):
        return True
    return _HUB_ID.match(source) is None or source.endswith((".", "-"))


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _from_cache(repo_id: str, repo_type: RepoType, patterns: list[str]) -> str | None:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, repo_type=repo_type, local_files_only=True, allow_patterns=patterns)
    except Exception:  # noqa: BLE001 - any cache miss means "not cached"
        return None


def _probe(repo_id: str, repo_type: RepoType, timeout: float, token: str | None) -> BaseException | None:
    """One metadata request, waited on for at most ``timeout`` s; ``None`` when the repository answered."""
    from huggingface_hub import HfApi

    outcome: dict[str, BaseException | None] = {}

    def ask() -> None:
        try:
            HfApi(token=token).repo_info(repo_id, repo_type=repo_type, timeout=timeout)
            outcome["error"] = None
        except BaseException as error:  # noqa: BLE001 - reported to the waiting thread
            outcome["error"] = error

    worker = threading.Thread(target=ask, name=f"hub-probe-{repo_id}", daemon=True)
    worker.start()
    worker.join(timeout)
    if "error" not in outcome:
        return TimeoutError(f"no answer within {timeout:g} s")
    return outcome["error"]


def resolve_source(
    source: str | os.PathLike,
    repo_type: RepoType = "model",
    *,
    timeout: float | None = None,
    token: str | None = None,
) -> str:
    """A local folder holding ``source``: the folder itself, or a Hub snapshot (downloaded or cached).

    Args:
        source: A folder, or a Hub id.
        repo_type: ``"model"`` or ``"dataset"``.
        timeout: Seconds to wait for the Hub (default: :func:`hub_timeout`).
        token: Hub token for private repositories.

    Returns:
        The path of a local folder.

    Raises:
        InputError: For a local-looking path that does not exist, or a path that is not a folder.
        HubError: When a Hub id cannot be fetched (offline, unreachable, missing) and is not cached; one line.
    """
    text = os.fspath(source).strip()
    kind = "model" if repo_type == "model" else "dataset"
    if not text:
        raise InputError(f"no {kind} given")
    path = Path(text).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists():
        raise InputError(f"{text}: not a folder (a {kind} is a folder or a Hub id)")
    if looks_local(text):
        raise InputError(f"{text}: no such folder")
    patterns = MODEL_FILES if repo_type == "model" else DATASET_FILES
    if _offline():
        cached = _from_cache(text, repo_type, patterns)
        if cached is None:
            raise HubError(f"{kind} {text!r} is not a local folder, and HF_HUB_OFFLINE=1 with no cached copy")
        return cached
    from huggingface_hub import constants

    wait = hub_timeout() if timeout is None else timeout
    error = _probe(text, repo_type, wait, token)
    if error is not None:
        cached = _from_cache(text, repo_type, patterns)
        if cached is not None:
            return cached
        raise HubError(_one_line(kind, text, error, constants.ENDPOINT, wait))
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(text, repo_type=repo_type, allow_patterns=patterns, token=token, etag_timeout=wait)
    except Exception as download_error:  # noqa: BLE001 - one line for the user, whatever the client raised
        raise HubError(_one_line(kind, text, download_error, constants.ENDPOINT, wait)) from None


def _one_line(kind: str, repo_id: str, error: BaseException, endpoint: str, wait: float) -> str:
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if isinstance(error, RepositoryNotFoundError | GatedRepoError):
        return f"{kind} {repo_id!r} is not on the Hub at {endpoint} (or it is private or gated: log in first)"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"cannot reach the Hub at {endpoint} for {kind} {repo_id!r} within {wait:g} s ({reason[:160]}); "
        "pass a local folder, or set HF_HUB_OFFLINE=1 to use the cache"
    )
