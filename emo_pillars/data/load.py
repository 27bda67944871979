"""``load_emo_pillars``: one call from any source of Emo Pillars data to a ``datasets.DatasetDict``.

Sources, all through one path:

* a generator output folder (``context_less.jsonl``, ``contextual.jsonl``): read, validated and split by plot by
  :func:`~emo_pillars.data.tables.read_config`;
* the published release (``alex-shvets/EmoPillars``: ``context-less/{train,dev,test}.jsonl``, and the contextual
  subset from the first of ``context-full/``, ``contextual/``, ``context-aware/``, ``contextful/`` that holds one;
  see :mod:`emo_pillars.data.sources`): the same reader, its train/dev/test files kept;
* a derived copy of the context-less subset (a text and 28 labels, e.g. the EmoAxis CSV or
  ``Hidden-States/EmoPillars-Contextless-Processed``; see :mod:`emo_pillars.data.derived`): the same reader, its
  split files kept;
* a built repository folder (``build-dataset`` output): checked against its card, then ``datasets.load_dataset``;
* a Hub dataset id: downloaded with ``huggingface_hub.snapshot_download`` (only the files of these layouts), then
  read as the folder it is. ``HF_HUB_OFFLINE=1`` is honoured at once (the local cache, or one line saying it is
  empty); an unreachable endpoint fails after huggingface_hub's own bounded timeouts, as one line.

Every failure is an :class:`~emo_pillars.errors.EmoPillarsError` naming the path or the repo id, never a raw
``datasets``/``huggingface_hub``/``httpx`` exception.

Examples:
    >>> from emo_pillars.data.load import load_emo_pillars
    >>> ds = load_emo_pillars("outputs/run1", "contextual")  # doctest: +SKIP
    >>> train = load_emo_pillars("dataset_builders/emo_pillars", split="train")  # doctest: +SKIP
    >>> ds = load_emo_pillars("alex-shvets/EmoPillars")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..taxonomy import Taxonomy
from ..utils.hub import resolve_folder
from .derived import DERIVED_SPLITS
from .features import DEFAULT_CONFIG, check_config, has_features
from .repository import TAXONOMY_FILE, quiet_datasets, recover_interrupted_swap, repository_configs
from .sources import CONTEXT_LESS_FOLDER, CONTEXTUAL_FOLDERS, detect_layout, source_taxonomy
from .tables import read_config

__all__ = ["load_emo_pillars", "dataset_taxonomy", "resolve_source", "PUBLISHED_HUB_ID"]

#: The original release on the Hub (the published layout: ``context-less/{train,dev,test}.jsonl``).
PUBLISHED_HUB_ID = "alex-shvets/EmoPillars"
#: What a Hub snapshot fetches: a built repository's card and shards, the release's subsets (every candidate
#: contextual folder), and a derived copy's split files at the root or under ``data/``.
_HUB_PATTERNS = [
    "README.md",
    "run.json",
    "taxonomy.json",
    "*/*.parquet",
    *(f"{folder}/*.jsonl" for folder in (CONTEXT_LESS_FOLDER, *CONTEXTUAL_FOLDERS)),
    *(f"{split}*.{ext}" for split in DERIVED_SPLITS for ext in ("csv", "jsonl", "parquet")),
    "data/*",
]


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__


def resolve_source(
    source: str | os.PathLike,
    *,
    revision: str | None = None,
    token: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """The local folder a source names: the folder itself, or the Hub snapshot of a dataset id.

    A folder left aside by a build killed between its two renames is put back first. Hub ids go through the
    library's one resolver (:func:`emo_pillars.utils.hub.resolve_folder`).

    Raises:
        InputError: For a file, a missing path, or text that is neither a folder nor a valid Hub id.
        HubError: When the Hub cannot serve the id (offline, unreachable, no such dataset or revision).
    """
    path = Path(os.fspath(source)).expanduser()
    if os.fspath(source).strip() and not path.exists() and path.parent.is_dir():
        recover_interrupted_swap(path)  # a build killed between its two renames: put the old folder back
    hub_cache = None if cache_dir is None else os.path.join(os.fspath(cache_dir), "hub")
    return resolve_folder(source, "dataset", _HUB_PATTERNS, revision=revision, token=token, cache_dir=hub_cache)


def _load_repository(folder: Path, config: str, cache_dir: Any, label: str) -> Any:
    import datasets

    recover_interrupted_swap(folder)
    stated = repository_configs(folder)
    if config not in stated:
        raise ConfigError(f"{label}: no config {config!r} in this dataset; it has {', '.join(stated)}")
    try:
        with quiet_datasets():
            loaded = datasets.load_dataset(
                str(folder.resolve()), config, cache_dir=None if cache_dir is None else os.fspath(cache_dir)
            )
    except Exception as err:  # noqa: BLE001 - every loader failure here is a damaged repository: one line
        raise InputError(
            f"damaged dataset repository: config {config!r} does not load ({type(err).__name__}: {_one_line(err)})",
            path=label,
        ) from None
    found = {split: d.num_rows for split, d in loaded.items()}
    if found != stated[config]:
        raise InputError(
            f"damaged dataset repository: {config} has rows {found}, its card states {stated[config]}", path=label
        )
    if not all(has_features(d.features, config) for d in loaded.values()):
        raise InputError(f"damaged dataset repository: {config} lacks the Emo Pillars Features", path=label)
    return loaded


def load_emo_pillars(
    source: str | os.PathLike,
    config: str | None = None,
    *,
    split: str | None = None,
    revision: str | None = None,
    token: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    split_ratios: Sequence[float] | None = None,
    seed: int = 42,
    skip_invalid: bool = False,
    resplit: bool = False,
) -> Any:
    """Load one config of Emo Pillars as a ``datasets.DatasetDict`` (or one ``Dataset`` with ``split``).

    Args:
        source: A generator output folder, a published-layout folder, a derived copy's folder, a built repository
            folder, or a Hub dataset id (a repository built here, the published ``alex-shvets/EmoPillars`` layout,
            or a derived copy such as ``Hidden-States/EmoPillars-Contextless-Processed``).
        config: ``"context_less"`` (default) or ``"contextual"`` (not in a derived copy).
        split: ``"train"``, ``"validation"`` or ``"test"`` (default: all the source has).
        revision: Hub revision.
        token: Hub token.
        cache_dir: Cache folder (Hub downloads under ``cache_dir/hub``, prepared Arrow files of repositories).
        split_ratios: Row sources: train/validation/test fractions of plots (default 80/10/10 or 90/5/5).
        seed: Row sources: seed of the split by plot.
        skip_invalid: Row sources: skip and count malformed rows instead of raising.
        resplit: Published or derived layout: split by plot instead of keeping its split files (a derived copy has
            no plots, so by row).

    Returns:
        The dataset with the exact Features of :func:`~emo_pillars.data.features.get_features`. Only splits with
        rows are present: a corpus too small for a validation split has no ``"validation"`` key (the build's split
        fallback; see :mod:`emo_pillars.data.splits`).

    Raises:
        InputError: Missing path, a file, a bad Hub id, a damaged repository, malformed rows (file, line, field).
        ConfigError: A config the source does not have, a split it does not have, bad ratios.
        HubError: The Hub cannot serve the id (offline and not cached, unreachable, not found).

    Examples:
        >>> train = load_emo_pillars("outputs/run1", "context_less", split="train")  # doctest: +SKIP
        >>> train.features["labels"].feature.int2str(train[0]["labels"])  # doctest: +SKIP
        ['pride', 'relief', 'joy']
    """

    config = check_config(config or DEFAULT_CONFIG)
    label = os.fspath(source)
    folder = resolve_source(source, revision=revision, token=token, cache_dir=cache_dir)
    try:
        layout = detect_layout(folder)
    except InputError as err:
        if Path(label).expanduser().exists():
            raise
        raise InputError(f"the Hub dataset holds no Emo Pillars data ({err.message})", path=label) from None
    if layout == "repository":
        dataset = _load_repository(folder, config, cache_dir, label)
    else:
        tables = read_config(
            folder, config, layout=layout, split_ratios=split_ratios, seed=seed, skip_invalid=skip_invalid,
            resplit=resplit,
        )  # fmt: skip
        dataset = tables.to_dataset_dict()
    if split is None:
        return dataset
    if split not in dataset:
        raise ConfigError(f"{label}: no {split!r} split in {config}; it has {', '.join(dataset)}")
    return dataset[split]


def dataset_taxonomy(
    source: str | os.PathLike,
    *,
    revision: str | None = None,
    token: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Taxonomy | None:
    """The taxonomy of a dataset source, with its definitions: a built repository's ``taxonomy.json``, a generator
    folder's ``run.json``; the 28 classes for the release and its copies. ``None`` for a repository built before
    taxonomies were stored (its labels are still in its Features).

    Raises:
        InputError: A ``taxonomy.json`` or ``run.json`` that does not hold a valid taxonomy (file and field named).
    """
    folder = resolve_source(source, revision=revision, token=token, cache_dir=cache_dir)
    layout = detect_layout(folder)
    if layout != "repository":
        return source_taxonomy(folder, layout)
    path = folder / TAXONOMY_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Taxonomy.from_dict(data)
    except (OSError, ValueError, AttributeError) as err:
        field = getattr(err, "field", None)
        raise InputError(getattr(err, "message", None) or f"not valid JSON ({err})", path=path, field=field) from None
