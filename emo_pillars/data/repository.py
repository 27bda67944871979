"""Build the dataset repository: Parquet shards per config and split, a dataset card, a label chart, ``run.json``.

The repository is what users load: ``datasets.load_dataset(REPO_DIR, "contextual")`` on disk, or by repo id once
:func:`~emo_pillars.data.hub.push_repository` has uploaded it. Its layout is the one ``Dataset.push_to_hub`` writes::

    REPO_DIR/
      README.md                      the card; its YAML lists both configs, their data files and exact Features
      context_less/{train,validation,test}-0000N-of-0000M.parquet
      contextual/{train,validation,test}-0000N-of-0000M.parquet
      label_distribution.png         bar chart of the label distribution
      run.json                       the generator's provenance (model, prompts, decoding, stage counts)

The build streams the input once per config into Arrow record batches (validating each row), splits by plot with
Arrow compute, and writes Parquet with ``pyarrow``; the rows and Features are exactly those of the
:class:`~emo_pillars.data.builder.EmoPillars` builder.

Examples:
    >>> from emo_pillars.data.repository import build_repository
    >>> result = build_repository("outputs/run1", "dataset_builders/emo_pillars")  # doctest: +SKIP
    >>> result.split_sizes["contextual"]  # doctest: +SKIP
    {'train': 90, 'validation': 5, 'test': 5}
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import ConfigError, InputError
from ..taxonomy import EMOTIONS
from .features import COLUMN_DOCS, COLUMNS, CONFIG_NAMES, DEFAULT_CONFIG, DEFAULT_SPLIT_RATIOS, SPLITS, check_config
from .sources import SourceReport, detect_layout, iter_rows
from .splits import assign_splits, check_ratios
from .stats import SimilarityStats, distinct_n, label_counts, similarity_stats

__all__ = ["BuildResult", "build_repository", "render_card", "CARD_TEMPLATE", "CHART_NAME", "REPOSITORY_FILES"]

CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "dataset_card.md"
CHART_NAME = "label_distribution.png"
#: Glob patterns of the files that make the repository (what ``push-dataset`` uploads).
REPOSITORY_FILES: tuple[str, ...] = ("README.md", "run.json", CHART_NAME, ".gitattributes", "*/*.parquet")
_GITATTRIBUTES = "*.parquet filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
_BATCH_ROWS = 20_000


@dataclass
class BuildResult:
    """What :func:`build_repository` wrote and measured.

    Attributes:
        output_dir: The repository folder.
        split_sizes: Config -> split -> rows.
        files: Config -> the Parquet files written (relative to ``output_dir``).
        reports: Config -> :class:`~emo_pillars.data.sources.SourceReport` (rows read, skipped, junk dropped).
        label_counts: Config -> 28 label counts over all splits.
        distinct: Config -> ``{"distinct_1": ..., "distinct_2": ...}`` of the utterances.
        similarity: Config -> :class:`~emo_pillars.data.stats.SimilarityStats` (``None`` if skipped/unavailable).
        run_info: The generator's ``run.json`` (empty when the input had none).
    """

    output_dir: Path
    split_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    reports: dict[str, SourceReport] = field(default_factory=dict)
    label_counts: dict[str, list[int]] = field(default_factory=dict)
    distinct: dict[str, dict[str, float]] = field(default_factory=dict)
    similarity: dict[str, SimilarityStats | None] = field(default_factory=dict)
    run_info: dict[str, Any] = field(default_factory=dict)
    num_bytes: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def card_path(self) -> Path:
        return self.output_dir / "README.md"


# --------------------------------------------------------------------------------------------------------------------
# Reading into Arrow
# --------------------------------------------------------------------------------------------------------------------
def _read_table(source: Path, config: str, layout: str, skip_invalid: bool, report: SourceReport) -> tuple[Any, list]:
    """Stream a config's rows into one Arrow table (schema with the Features' metadata) plus per-row source splits."""
    import pyarrow as pa

    from .features import get_features

    schema = get_features(config).arrow_schema
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

    rows = iter_rows(source, config, layout=layout, skip_invalid=skip_invalid, report=report)  # type: ignore[arg-type]
    for split, row in tqdm(rows, desc=f"Reading {config}", unit=" rows", mininterval=2, leave=False):
        for c in columns:
            buffer[c].append(row[c])
        source_splits.append(split)
        if len(buffer["id"]) >= _BATCH_ROWS:
            flush()
    flush()
    return pa.Table.from_batches(batches, schema=schema), source_splits


def _split_codes(table: Any, source_splits: list, ratios: Sequence[float], seed: int, resplit: bool) -> Any:
    """A numpy array with the index into :data:`SPLITS` of every row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    code = {name: i for i, name in enumerate(SPLITS)}
    if source_splits and source_splits[0] is not None and not resplit:
        return np.array([code[s] for s in source_splits], dtype=np.int8)
    counts = pc.value_counts(table["plot_id"]).to_pylist()
    sizes = {entry["values"]: entry["counts"] for entry in counts}
    assignment = assign_splits(sizes, ratios, seed)
    plots = pa.array(list(assignment))
    plot_codes = np.array([code[assignment[p]] for p in plots.to_pylist()], dtype=np.int8)
    positions = pc.index_in(table["plot_id"], value_set=plots).to_numpy(zero_copy_only=False)
    return plot_codes[positions]


def _write_shards(table: Any, folder: Path, split: str, max_shard_bytes: int) -> list[Path]:
    import pyarrow.parquet as pq

    shards = max(1, math.ceil(table.nbytes / max_shard_bytes))
    per_shard = math.ceil(table.num_rows / shards)
    paths = []
    for i in range(shards):
        path = folder / f"{split}-{i:05d}-of-{shards:05d}.parquet"
        part = table.slice(i * per_shard, per_shard)
        pq.write_table(part, path, row_group_size=10_000, compression="snappy")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------------------------------
def build_repository(
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    configs: Sequence[str] | None = None,
    split_ratios: Mapping[str, Sequence[float]] | Sequence[float] | None = None,
    seed: int = 42,
    skip_invalid: bool = False,
    resplit: bool = False,
    similarity: bool = True,
    max_similarity_utterances: int = 2000,
    max_shard_bytes: int = 500 * 1024 * 1024,
    repo_id: str | None = None,
    pretty_name: str = "Emo Pillars",
) -> BuildResult:
    """Build the dataset repository from a generator output folder (or the published layout).

    Args:
        source: Generator output folder (``context_less.jsonl``, ``contextual.jsonl``, ``run.json``) or the
            published layout (``context-less/{train,dev,test}.jsonl``; context-less only).
        output_dir: The repository folder (created; earlier shards of the configs built are replaced).
        configs: Configs to build; default: every config whose input file exists.
        split_ratios: Train/validation/test fractions, one triple for all configs or a mapping per config; default
            80/10/10 (context-less) and 90/5/5 (contextual).
        seed: Seed of the grouped split.
        skip_invalid: Skip (and count in the card) malformed rows instead of raising
            :class:`~emo_pillars.errors.InputError`.
        resplit: For the published layout, split by plot instead of keeping its train/dev/test files.
        similarity: Compute the MiniLM similarity statistics (skipped when the encoder is not installed).
        max_similarity_utterances: Most utterances embedded per config for those statistics.
        max_shard_bytes: Largest (in-memory Arrow) size of one Parquet shard.
        repo_id: The Hub id the card's loading snippet shows (default: the folder path).
        pretty_name: Title of the card.

    Returns:
        A :class:`BuildResult` with split sizes, files, reports and statistics.

    Raises:
        InputError: For a malformed or empty input (no config with any row).
        ConfigError: For an unknown config or bad split ratios.
    """
    source = Path(source)
    output = Path(output_dir)
    layout = detect_layout(source)
    if layout == "repository":
        raise InputError("is already a dataset repository; build from a generator output folder", path=source)
    if configs is None:
        candidates = ("context_less", "contextual") if layout == "generated" else ("context_less",)
        configs = [c for c in candidates if _has_input(source, c, layout)]
        if not configs:
            raise InputError("no context_less.jsonl or contextual.jsonl to build from", path=source)
    configs = [check_config(c) for c in configs]
    ratios = _ratios(split_ratios, configs)
    output.mkdir(parents=True, exist_ok=True)

    result = BuildResult(output_dir=output)
    run_json = source / "run.json"
    if run_json.is_file():
        try:
            result.run_info = json.loads(run_json.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON ({err})", path=run_json) from None

    import pyarrow.compute as pc

    for config in configs:
        report = SourceReport(config)
        table, source_splits = _read_table(source, config, layout, skip_invalid, report)
        codes = _split_codes(table, source_splits, ratios[config], seed, resplit)
        folder = output / config
        if folder.is_dir():
            for stale in folder.glob("*.parquet"):
                stale.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        result.reports[config] = report
        result.split_sizes[config] = {}
        result.num_bytes[config] = {}
        result.files[config] = []
        for i, split in enumerate(SPLITS):
            part = table.filter(pc.equal(codes, i)) if len(codes) else table.slice(0, 0)
            if part.num_rows == 0:
                continue
            paths = _write_shards(part, folder, split, max_shard_bytes)
            result.split_sizes[config][split] = part.num_rows
            result.num_bytes[config][split] = part.nbytes
            result.files[config] += [p.relative_to(output).as_posix() for p in paths]
        result.label_counts[config] = label_counts(table["labels"])
        utterances = table["utterance"].to_pylist()
        result.distinct[config] = {"distinct_1": distinct_n(utterances, 1), "distinct_2": distinct_n(utterances, 2)}
        result.similarity[config] = None
        if similarity:
            keys = [
                f"{p}\x1f{c}" if c else ""
                for p, c in zip(table["plot_id"].to_pylist(), table["character"].to_pylist())
            ]
            result.similarity[config] = similarity_stats(
                utterances,
                keys,
                table["primary_emotion"].to_pylist(),
                max_utterances=max_similarity_utterances,
                seed=seed,
            )
        del table, utterances

    for config in CONFIG_NAMES:  # a config not rebuilt must not linger with data from another run
        if config not in configs and (output / config).is_dir():
            shutil.rmtree(output / config)
    if result.run_info:
        (output / "run.json").write_text(json.dumps(result.run_info, indent=2, ensure_ascii=False) + "\n")
    elif (output / "run.json").exists():
        (output / "run.json").unlink()
    (output / ".gitattributes").write_text(_GITATTRIBUTES)
    write_label_chart(result.label_counts, result.split_sizes, output / CHART_NAME)
    card = render_card(result, repo_id=repo_id, pretty_name=pretty_name, split_note=_split_note(layout, resplit))
    card.save(output / "README.md")
    return result


def _has_input(source: Path, config: str, layout: str) -> bool:
    if layout == "generated":
        return (source / f"{config}.jsonl").is_file()
    return config == "context_less"


def _ratios(split_ratios: Any, configs: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    if split_ratios is None:
        return {c: DEFAULT_SPLIT_RATIOS[c] for c in configs}
    if isinstance(split_ratios, Mapping):
        unknown = set(split_ratios) - set(CONFIG_NAMES)
        if unknown:
            raise ConfigError(f"split ratios for unknown configs: {sorted(unknown)}")
        return {c: check_ratios(split_ratios.get(c, DEFAULT_SPLIT_RATIOS[c])) for c in configs}
    return {c: check_ratios(split_ratios) for c in configs}


def _split_note(layout: str, resplit: bool) -> str:
    if layout == "published" and not resplit:
        return "(Here the published train/dev/test files were kept as train/validation/test.)"
    return "Default fractions: 80/10/10 of the rows for `context_less`, 90/5/5 for `contextual`."


# --------------------------------------------------------------------------------------------------------------------
# Chart and card
# --------------------------------------------------------------------------------------------------------------------
def write_label_chart(counts: Mapping[str, Sequence[int]], sizes: Mapping[str, Mapping[str, int]], path: Path) -> None:
    """Save a horizontal bar chart: share of examples carrying each label, one bar per config."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 9), dpi=100)
    configs = list(counts)
    height = 0.8 / max(1, len(configs))
    for k, config in enumerate(configs):
        total = max(1, sum(sizes[config].values()))
        shares = [100 * c / total for c in counts[config]]
        positions = [i + (k - (len(configs) - 1) / 2) * height for i in range(len(EMOTIONS))]
        ax.barh(positions, shares, height=height, label=f"{config} ({total:,} examples)")
    ax.set_yticks(range(len(EMOTIONS)))
    ax.set_yticklabels(EMOTIONS)
    ax.invert_yaxis()
    ax.set_xlabel("% of examples carrying the label")
    ax.set_title("Emo Pillars: label distribution")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _feature_type(feature: Any) -> str:
    import datasets

    if isinstance(feature, datasets.ClassLabel):
        return f"ClassLabel({len(feature.names)} classes)"
    if isinstance(feature, datasets.List):
        inner = _feature_type(feature.feature)
        return f"list of {inner}" + (f" (length {feature.length})" if feature.length != -1 else "")
    if isinstance(feature, datasets.Value):
        return feature.dtype
    return type(feature).__name__


def render_card(
    result: BuildResult, *, repo_id: str | None = None, pretty_name: str = "Emo Pillars", split_note: str = ""
) -> Any:
    """Render the dataset card (a ``huggingface_hub.DatasetCard``) for a built repository.

    The YAML lists every config with its data files (``<config>/<split>-*``) and its exact Features and split sizes
    (``dataset_info``), so ``datasets.load_dataset`` needs nothing else.
    """
    import datasets
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard, DatasetCardData

    from .. import __version__
    from .builder import CITATION, LICENSE
    from .features import get_features

    configs = list(result.split_sizes)
    total = sum(sum(s.values()) for s in result.split_sizes.values())
    card_data = DatasetCardData(
        language=["en"],
        license=LICENSE,
        pretty_name=pretty_name,
        task_categories=["text-classification"],
        task_ids=["multi-label-classification", "sentiment-classification"],
        tags=["emotion", "goemotions", "synthetic", "distillation", "emo-pillars"],
        size_categories=[_size_category(total)],
        source_datasets=["original"],
    )
    MetadataConfigs(
        {
            config: {
                "data_files": [
                    {"split": split, "path": f"{config}/{split}-*"} for split in result.split_sizes[config]
                ],
                **({"default": True} if config == DEFAULT_CONFIG else {}),
            }
            for config in configs
        }
    ).to_dataset_card_data(card_data)
    infos = {}
    for config in configs:
        splits = datasets.SplitDict()
        for split, rows in result.split_sizes[config].items():
            splits.add(datasets.SplitInfo(name=split, num_bytes=result.num_bytes[config][split], num_examples=rows))
        infos[config] = DatasetInfo(
            features=get_features(config),
            splits=splits,
            dataset_size=sum(result.num_bytes[config].values()),
            config_name=config,
        )
    DatasetInfosDict(infos).to_dataset_card_data(card_data)

    run = result.run_info
    backend = run.get("backend") or {}
    teacher = backend.get("model") or "unknown (no run.json)"
    if backend.get("backend"):
        teacher = f"`{teacher}` via the `{backend['backend']}` backend"
        if backend.get("revision"):
            teacher += f" (revision `{backend['revision']}`)"
    stages = run.get("stages") or {}
    stages_table = (
        _table(
            ["stage", "LLM calls", "cached", "failed", "parse failures", "kept", "dropped"],
            [
                [
                    name,
                    s.get("calls", ""),
                    s.get("cached", ""),
                    s.get("failed", ""),
                    sum((s.get("parse_failures") or {}).values()),
                    s.get("kept", ""),
                    s.get("dropped", ""),
                ]
                for name, s in stages.items()
            ],
        )
        if stages
        else "_No stage counts: the input had no `run.json`._"
    )
    hashes = run.get("prompt_hashes") or {}
    prompt_hashes_table = (
        _table(["stage", "prompt sha256"], [[k, f"`{v}`"] for k, v in hashes.items()]) if hashes else "_n/a_"
    )
    features = get_features("contextual" if "contextual" in configs else configs[0])
    columns_table = _table(
        ["column", "type", "configs", "description"],
        [
            [
                f"`{name}`",
                _feature_type(features[name]),
                "both" if name in COLUMNS["context_less"] else "contextual",
                COLUMN_DOCS[name],
            ]
            for name in features
        ],
    )
    splits_table = _table(
        ["config", *SPLITS, "total"],
        [
            [
                f"`{c}`",
                *(f"{result.split_sizes[c].get(s, 0):,}" for s in SPLITS),
                f"{sum(result.split_sizes[c].values()):,}",
            ]
            for c in configs
        ],
    )
    label_rows = []
    for i, name in enumerate(EMOTIONS):
        row = [f"{i}", name]
        for c in configs:
            n = sum(result.split_sizes[c].values()) or 1
            row.append(f"{result.label_counts[c][i]:,} ({100 * result.label_counts[c][i] / n:.1f}%)")
        label_rows.append(row)
    labels_table = _table(["index", "label", *(f"`{c}`" for c in configs)], label_rows)
    diversity_rows = []
    for c in configs:
        sim = result.similarity.get(c)
        diversity_rows.append(
            [
                f"`{c}`",
                _fmt(result.distinct[c]["distinct_1"]),
                _fmt(result.distinct[c]["distinct_2"]),
                _fmt(sim and sim.within),
                _fmt(sim and sim.across),
                _fmt(sim and sim.within_neutral),
                _fmt(sim and sim.across_neutral),
            ]
        )
    diversity_table = _table(
        [
            "config",
            "distinct-1",
            "distinct-2",
            "cos. within character",
            "cos. across characters",
            "neutral: within",
            "neutral: across",
        ],
        diversity_rows,
    )
    sims = [s for s in result.similarity.values() if s is not None]
    if sims:
        similarity_note = (
            f"Similarities: {sims[0].encoder}, on a sample of whole characters "
            + "; ".join(
                f"`{c}`: {s.utterances:,} utterances of {s.characters:,} characters"
                for c, s in result.similarity.items()
                if s is not None
            )
            + "."
        )
    else:
        similarity_note = "Similarities were not computed (skipped, or the MiniLM encoder is not installed)."

    card = DatasetCard.from_template(
        card_data,
        template_path=str(CARD_TEMPLATE),
        pretty_name=pretty_name,
        summary=(
            f"{total:,} synthetic English utterances of story characters, each labelled with one or more of the 28 "
            "GoEmotions emotion classes by a teacher LLM, for training fine-grained, context-aware and context-less "
            "emotion classifiers."
        ),
        load_id=repo_id or result.output_dir.as_posix(),
        library_version=run.get("emo_pillars_version") or __version__,
        teacher=teacher,
        has_contextual="contextual" in configs,
        label_threshold=run.get("label_threshold", 0.3),
        decoding=json.dumps(run.get("decoding") or {}, sort_keys=True),
        created=run.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        stages_table=stages_table,
        prompt_hashes_table=prompt_hashes_table,
        columns_table=columns_table,
        split_note=split_note,
        splits_table=splits_table,
        labels_table=labels_table,
        diversity_table=diversity_table,
        similarity_note=similarity_note,
        quality_notes=_quality_notes(result.reports),
        citation=CITATION,
    )
    return card


def _quality_notes(reports: Mapping[str, SourceReport]) -> str:
    lines = []
    for config, r in reports.items():
        line = f"- `{config}`: {r.rows_read:,} rows read, {r.rows_kept:,} kept, {r.skipped:,} skipped as invalid"
        if r.skip_reasons:
            line += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(r.skip_reasons.items())) + ")"
        line += "."
        if r.junk_total:
            line += (
                f" {r.junk_total:,} label entries outside the 28 classes were dropped ("
                + ", ".join(f"`{k}`: {v}" for k, v in sorted(r.junk_labels.items()))
                + "); most common: "
                + ", ".join(f"{k} x{v}" for k, v in r.junk_values.most_common(5))
                + "."
            )
        if r.rows_without_labels:
            line += f" {r.rows_without_labels:,} kept rows have no label at or above the threshold."
        lines.append(line)
    lines.append("- Every label is one of the 28 classes: labels outside the taxonomy are never loaded.")
    return "\n".join(lines)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"
