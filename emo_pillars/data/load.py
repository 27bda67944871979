"""``load_emo_pillars``: one call for the dataset, from a generator output folder, a repository folder or the Hub.

Examples:
    >>> from emo_pillars.data.load import load_emo_pillars
    >>> ds = load_emo_pillars("contextual", source="outputs/run1")  # doctest: +SKIP
    >>> ds = load_emo_pillars("context_less", source="dataset_builders/emo_pillars", split="train")  # doctest: +SKIP
    >>> ds = load_emo_pillars("contextual", source="me/emo-pillars")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import HubError
from .features import DEFAULT_CONFIG, check_config

__all__ = ["load_emo_pillars", "PUBLISHED_HUB_ID"]

#: The original release on the Hub (the published layout: ``context-less/{train,dev,test}.jsonl``).
PUBLISHED_HUB_ID = "alex-shvets/EmoPillars"


def load_emo_pillars(
    config: str = DEFAULT_CONFIG,
    source: str | os.PathLike = PUBLISHED_HUB_ID,
    *,
    split: str | None = None,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | None = None,
    **builder_kwargs: Any,
) -> Any:
    """Load one config of Emo Pillars as a ``datasets.DatasetDict`` (or one ``Dataset`` with ``split``).

    Args:
        config: ``"context_less"`` (default) or ``"contextual"``.
        source: Where the data is: a generator output folder or the published layout (read with the
            :class:`~emo_pillars.data.builder.EmoPillars` builder), a built repository folder, or a Hub dataset id
            (a repository built here, or the published ``alex-shvets/EmoPillars`` layout).
        split: ``"train"``, ``"validation"`` or ``"test"`` (default: all).
        revision: Hub revision.
        cache_dir: ``datasets`` cache folder.
        token: Hub token.
        **builder_kwargs: Builder options for folders of JSONL (``seed``, ``split_ratios``, ``skip_invalid``,
            ``resplit``).

    Returns:
        The dataset with the Features of :func:`~emo_pillars.data.features.get_features`.

    Raises:
        InputError: For a folder that holds no Emo Pillars data or malformed rows.
        HubError: When the Hub id cannot be reached.

    Examples:
        >>> train = load_emo_pillars("context_less", "outputs/run1", split="train")  # doctest: +SKIP
        >>> train.features["labels"].feature.int2str(train[0]["labels"])  # doctest: +SKIP
        ['pride', 'relief', 'joy']
    """
    config = check_config(config)
    cache = None if cache_dir is None else os.fspath(cache_dir)
    path = Path(source)
    if path.is_dir():
        from .sources import detect_layout

        if detect_layout(path) == "repository":
            import datasets

            return datasets.load_dataset(str(path.resolve()), config, split=split, cache_dir=cache)
        from .builder import build_with_builder

        dataset, _ = build_with_builder(path, config, cache_dir=cache, split=split, **builder_kwargs)
        return dataset
    return _load_from_hub(str(source), config, split, revision, cache, token, builder_kwargs)


def _load_from_hub(
    repo_id: str,
    config: str,
    split: str | None,
    revision: str | None,
    cache: str | None,
    token: str | None,
    builder_kwargs: dict[str, Any],
) -> Any:
    import datasets
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        files = HfApi(token=token).list_repo_files(repo_id, repo_type="dataset", revision=revision)
    except OfflineModeIsEnabled:
        files = None  # offline: let datasets use its cache
    except HfHubHTTPError as err:
        raise HubError(f"cannot read dataset {repo_id!r} from the Hub: {err}") from err
    published = files is not None and any(f.startswith("context-less/") and f.endswith(".jsonl") for f in files)
    if published:
        # The published layout: JSONL files, no configs card. Download them and build with our Features.
        folder = snapshot_download(
            repo_id, repo_type="dataset", revision=revision, token=token, allow_patterns=["context-less/*.jsonl"]
        )
        from .builder import build_with_builder

        dataset, _ = build_with_builder(folder, config, cache_dir=cache, split=split, **builder_kwargs)
        return dataset
    return datasets.load_dataset(repo_id, config, split=split, revision=revision, cache_dir=cache, token=token)
