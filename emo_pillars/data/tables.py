"""The one path from input files to split Arrow tables: read, validate, split by plot.

Everything that turns a generator output folder, the published release or a derived copy into data goes through
:func:`read_config`: :func:`~emo_pillars.data.repository.build_repository` writes its tables as Parquet, and
:func:`~emo_pillars.data.load.load_emo_pillars` wraps them as a ``datasets.DatasetDict``. Rows are validated by
:mod:`emo_pillars.data.sources`, split by :mod:`emo_pillars.data.splits`, and carry the exact Features of
:func:`~emo_pillars.data.features.get_features` in their Arrow schema.

(An earlier ``datasets.GeneratorBasedBuilder`` did the same row by row; on 30,000 rows this Arrow path was 3.3x
faster with identical Features, so it is the only one kept.)

Examples:
    >>> from emo_pillars.data.tables import read_config
    >>> tables = read_config("outputs/run1", "contextual")  # doctest: +SKIP
    >>> {split: t.num_rows for split, t in tables.splits.items()}  # doctest: +SKIP
    {'train': 90, 'validation': 5, 'test': 5}
    >>> tables.to_dataset_dict()["train"].features["labels"]  # doctest: +SKIP
    List(ClassLabel(names=['admiration', ...]))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import ConfigError, InputError
from ..taxonomy import GOEMOTIONS, Taxonomy
from .features import COLUMNS, CONFIG_NAMES, DEFAULT_SPLIT_RATIOS, SPLITS, check_config, get_features
from .sources import Layout, SourceReport, detect_layout, iter_rows, layout_configs, source_taxonomy
from .splits import SplitPlan, check_ratios, plan_splits

__all__ = ["ConfigTables", "read_config", "read_source", "resolve_ratios", "input_configs"]

logger = logging.getLogger(__name__)
_BATCH_ROWS = 20_000


@dataclass
class ConfigTables:
    """One config read from its input: an Arrow table per split, what reading found, how it was split.

    Attributes:
        config: ``"context_less"`` or ``"contextual"``.
        splits: Split name -> Arrow table (splits with rows only, in :data:`~emo_pillars.data.features.SPLITS` order).
        report: Rows read, kept, skipped and dropped (:class:`~emo_pillars.data.sources.SourceReport`).
        plan: The split by plot (``None`` where the published or derived train/dev/test files were kept).
        split_note: One line on how the splits were made, for the card.
        taxonomy: The label set of the rows (the generator's; the 28 classes for the release and its copies).

    Examples:
        >>> tables = read_config("outputs/run1", "context_less")  # doctest: +SKIP
        >>> tables.num_rows, tables.plan.fallback  # doctest: +SKIP
        (120, None)
    """

    config: str
    splits: dict[str, Any]
    report: SourceReport
    plan: SplitPlan | None
    split_note: str
    taxonomy: Taxonomy = GOEMOTIONS

    @property
    def num_rows(self) -> int:
        return sum(t.num_rows for t in self.splits.values())

    @property
    def fallback(self) -> str | None:
        """The split fallback line (see :class:`~emo_pillars.data.splits.SplitPlan`), or ``None``."""
        return None if self.plan is None else self.plan.fallback

    def combined(self) -> Any:
        """All splits in one Arrow table."""
        import pyarrow as pa

        return pa.concat_tables(list(self.splits.values()))

    def to_dataset_dict(self) -> Any:
        """A ``datasets.DatasetDict`` of the splits, with the config's exact Features."""
        import datasets
        from datasets.table import InMemoryTable

        features = get_features(self.config, self.taxonomy)
        return datasets.DatasetDict(
            {
                split: datasets.Dataset(
                    InMemoryTable(table),
                    info=datasets.DatasetInfo(features=features, config_name=self.config),
                    split=datasets.NamedSplit(split),
                )
                for split, table in self.splits.items()
            }
        )


def resolve_ratios(split_ratios: Any, configs: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """Per-config split fractions from ``None`` (defaults), one triple, or a mapping config -> triple."""
    if split_ratios is None:
        return {c: DEFAULT_SPLIT_RATIOS[c] for c in configs}
    if isinstance(split_ratios, Mapping):
        unknown = set(split_ratios) - set(CONFIG_NAMES)
        if unknown:
            raise ConfigError(f"split ratios for unknown configs: {sorted(unknown)}")
        return {c: check_ratios(split_ratios.get(c, DEFAULT_SPLIT_RATIOS[c])) for c in configs}
    return {c: check_ratios(split_ratios) for c in configs}


def input_configs(source: str | os.PathLike, layout: Layout) -> list[str]:
    """The configs a generator output folder, published release or derived copy has input for."""
    return layout_configs(source, layout)


def _read_table(
    source: Path, config: str, layout: Layout, skip_invalid: bool, report: SourceReport, taxonomy: Taxonomy
) -> tuple:
    """Stream a config's rows into one Arrow table (schema with the Features' metadata) plus per-row source splits."""
    import pyarrow as pa

    schema = get_features(config, taxonomy).arrow_schema
    columns = COLUMNS[config]
    batches: list[pa.RecordBatch] = []
    source_splits: list[str | None] = []
    buffer: dict[str, list] = {c: [] for c in columns}

    def flush() -> None:
        if buffer["id"]:
            arrays = [pa.array(buffer[c], type=schema.field(c).type) for c in columns]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
            for values in buffer.values():
                values.clear()

    rows = iter_rows(source, config, layout=layout, skip_invalid=skip_invalid, report=report, taxonomy=taxonomy)
    for split, row in tqdm(rows, desc=f"Reading {config}", unit=" rows", mininterval=2, delay=1, leave=False):
        for c in columns:
            buffer[c].append(row[c])
        source_splits.append(split)
        if len(buffer["id"]) >= _BATCH_ROWS:
            flush()
    flush()
    return pa.Table.from_batches(batches, schema=schema), source_splits


def read_config(
    source: str | os.PathLike,
    config: str,
    *,
    layout: Layout | None = None,
    split_ratios: Sequence[float] | None = None,
    seed: int = 42,
    skip_invalid: bool = False,
    resplit: bool = False,
) -> ConfigTables:
    """Read, validate and split one config of a generator output folder, the published release or a derived copy.

    Args:
        source: The folder.
        config: ``"context_less"`` or ``"contextual"``.
        layout: ``"generated"``, ``"published"`` or ``"derived"`` (default: detected).
        split_ratios: Train/validation/test fractions of plots (default: 80/10/10 context-less, 90/5/5 contextual).
        seed: Seed of the split.
        skip_invalid: Skip and count malformed rows instead of raising.
        resplit: Published or derived layout: split by plot instead of keeping its train/dev/test files (a derived
            copy has no plots: each row is its own, so it is split by row).

    Raises:
        InputError: For a missing folder or file, a malformed row (file, line and field named), an empty input.
        ConfigError: For an unknown config or bad ratios.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    config = check_config(config)
    root = Path(source)
    layout = layout or detect_layout(root)
    if layout == "repository":
        raise InputError("is a built dataset repository, not generator output", path=root)
    ratios = check_ratios(split_ratios) if split_ratios is not None else DEFAULT_SPLIT_RATIOS[config]
    report = SourceReport(config)
    taxonomy = source_taxonomy(root, layout)
    table, source_splits = _read_table(root, config, layout, skip_invalid, report, taxonomy)
    code = {name: i for i, name in enumerate(SPLITS)}
    if layout in ("published", "derived") and not resplit:
        codes = np.array([code[s] for s in source_splits], dtype=np.int8)
        kept = "published train/dev/test" if layout == "published" else "derived copy's train/validation/test"
        plan, note = None, f"The {kept} files were kept as train/validation/test."
    else:
        plots = table["plot_id"].unique()
        plan = plan_splits(plots.to_pylist(), ratios, seed)
        plot_codes = np.array([code[plan.assignment[p]] for p in plots.to_pylist()], dtype=np.int8)
        codes = plot_codes[pc.index_in(table["plot_id"], value_set=plots).to_numpy(zero_copy_only=False)]
        percent = "/".join(f"{100 * r:g}" for r in ratios)
        note = f"Fractions of plots {percent} (sklearn `GroupShuffleSplit`, seed {seed})."
        if plan.fallback:
            note += f" **Split fallback:** {plan.fallback}."
            logger.warning("%s: split fallback: %s", config, plan.fallback)
    splits = {}
    for i, split in enumerate(SPLITS):
        part = table.filter(pa.array(codes == i))
        if part.num_rows:
            splits[split] = part.combine_chunks()
    return ConfigTables(config, splits, report, plan, note, taxonomy)


def read_source(
    source: str | os.PathLike,
    configs: Sequence[str] | None = None,
    *,
    split_ratios: Mapping[str, Sequence[float]] | Sequence[float] | None = None,
    seed: int = 42,
    skip_invalid: bool = False,
    resplit: bool = False,
) -> dict[str, ConfigTables]:
    """Read every config (default: each with an input file) before anything is written; see :func:`read_config`."""
    root = Path(source)
    layout = detect_layout(root)
    if layout == "repository":
        raise InputError("is already a dataset repository; build from a generator output folder", path=root)
    if configs is None:
        configs = input_configs(root, layout)
        if not configs:
            raise InputError("no context_less.jsonl or contextual.jsonl to build from", path=root)
    configs = [check_config(c) for c in configs]
    ratios = resolve_ratios(split_ratios, configs)
    return {
        c: read_config(
            root, c, layout=layout, split_ratios=ratios[c], seed=seed, skip_invalid=skip_invalid, resplit=resplit
        )
        for c in configs
    }
