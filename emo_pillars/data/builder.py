"""A ``datasets.GeneratorBasedBuilder`` for Emo Pillars, inside the library (datasets 5 refuses loading scripts).

It reads a generator output folder or the published ``alex-shvets/EmoPillars`` layout (see
:mod:`emo_pillars.data.sources`) and yields the two configs' rows with the exact Features of
:func:`~emo_pillars.data.features.get_features`, split by plot (:mod:`emo_pillars.data.splits`).

The cache of a ``datasets`` builder is keyed on its config, not on the data; this builder puts a sha256 of the input
files into its config (``source_fingerprint``), so an edited input gets a new cache folder instead of stale rows.

Examples:
    >>> from emo_pillars.data.builder import EmoPillars
    >>> builder = EmoPillars(config_name="contextual", data_dir="outputs/run1")  # doctest: +SKIP
    >>> builder.download_and_prepare()  # doctest: +SKIP
    >>> dataset = builder.as_dataset()  # doctest: +SKIP
    >>> builder.report.rows_kept  # doctest: +SKIP
    120
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import datasets

from ..errors import ConfigError, InputError
from .features import DEFAULT_CONFIG, DEFAULT_SPLIT_RATIOS, SPLITS, check_config, get_features
from .sources import SourceReport, detect_layout, iter_rows, source_fingerprint
from .splits import assign_splits, check_ratios

__all__ = ["EmoPillarsConfig", "EmoPillars", "build_with_builder", "DESCRIPTION", "CITATION", "LICENSE"]

DESCRIPTION = (
    "Emo Pillars: synthetic, character-grounded utterances labelled with the 28 GoEmotions classes, distilled from "
    "an instruction-tuned LLM, context-less and with the situation that explains them."
)
CITATION = """\
@inproceedings{shvets-2025-emo-pillars,
    title = "Emo Pillars: Knowledge Distillation to Support Fine-Grained Context-Aware and Context-Less Emotion Classification",
    author = "Shvets, Alexander",
    booktitle = "Findings of the Association for Computational Linguistics: ACL 2025",
    year = "2025",
    eprint = "2504.16856",
    archivePrefix = "arXiv",
}"""
LICENSE = "cc-by-sa-4.0"


@dataclass
class EmoPillarsConfig(datasets.BuilderConfig):
    """Options of the Emo Pillars builder.

    Args:
        name: ``"context_less"`` or ``"contextual"``.
        data_dir: The generator output folder or the published-layout folder.
        split_ratios: Train/validation/test fractions; ``None``: 80/10/10 (context-less) or 90/5/5 (contextual).
        seed: Seed of the grouped split.
        skip_invalid: Skip (and count) invalid rows instead of raising :class:`~emo_pillars.errors.InputError`.
        resplit: For the published layout: ignore its train/dev/test files and split by plot like generator output.
        source_fingerprint: sha256 of the input files, set by :class:`EmoPillars`; it keys the cache.

    Examples:
        >>> EmoPillarsConfig(name="contextual", seed=7).effective_ratios
        (0.9, 0.05, 0.05)
    """

    split_ratios: tuple[float, float, float] | None = None
    seed: int = 42
    skip_invalid: bool = False
    resplit: bool = False
    source_fingerprint: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_config(self.name)
        if self.split_ratios is not None:
            self.split_ratios = check_ratios(self.split_ratios)

    @property
    def effective_ratios(self) -> tuple[float, float, float]:
        """The split fractions in use."""
        return tuple(self.split_ratios or DEFAULT_SPLIT_RATIOS[check_config(self.name)])  # type: ignore[return-value]


class EmoPillars(datasets.GeneratorBasedBuilder):
    """Builds the ``context_less`` (default) and ``contextual`` configs from local Emo Pillars files.

    Args:
        config_name: ``"context_less"`` or ``"contextual"``.
        data_dir: The generator output folder (``context_less.jsonl``, ``contextual.jsonl``, ``run.json``) or the
            published layout (``context-less/{train,dev,test}.jsonl``).
        cache_dir: Where ``datasets`` caches the prepared Arrow files.
        **config_kwargs: :class:`EmoPillarsConfig` fields (``split_ratios``, ``seed``, ``skip_invalid``, ``resplit``).

    Attributes:
        report: The :class:`~emo_pillars.data.sources.SourceReport` of the last preparation (rows read, kept,
            skipped, junk labels dropped); filled by ``download_and_prepare`` even when the cache is reused.

    Examples:
        >>> builder = EmoPillars(config_name="context_less", data_dir="published/")  # doctest: +SKIP
        >>> builder.download_and_prepare()  # doctest: +SKIP
        >>> builder.as_dataset()["train"].features["labels"]  # doctest: +SKIP
        List(ClassLabel(names=['admiration', ...]))
        >>> builder.report.junk_labels  # doctest: +SKIP
        Counter({'labels': 3})
    """

    BUILDER_CONFIG_CLASS = EmoPillarsConfig
    BUILDER_CONFIGS = [
        EmoPillarsConfig(name="context_less", description="Utterances alone, with their emotions."),
        EmoPillarsConfig(name="contextual", description="Utterances with the situation that explains them."),
    ]
    DEFAULT_CONFIG_NAME = DEFAULT_CONFIG
    VERSION = datasets.Version("1.0.0")

    def __init__(
        self,
        *args: Any,
        config_name: str | None = None,
        data_dir: str | os.PathLike | None = None,
        dataset_name: str = "emo_pillars",
        **config_kwargs: Any,
    ):
        config_name = check_config(config_name or DEFAULT_CONFIG)
        if data_dir is None:
            raise ConfigError("EmoPillars needs data_dir: a generator output folder or the published layout")
        data_dir = os.path.abspath(os.fspath(data_dir))
        self.layout = detect_layout(data_dir)
        if self.layout == "repository":
            raise InputError(
                "a built dataset repository loads with datasets.load_dataset(folder, config)", path=data_dir
            )
        # Key the cache on the input's bytes, so an edited input never returns old rows.
        config_kwargs["source_fingerprint"] = source_fingerprint(data_dir, config_name, self.layout)
        super().__init__(*args, config_name=config_name, data_dir=data_dir, dataset_name=dataset_name, **config_kwargs)
        self.report = SourceReport(config_name)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=DESCRIPTION,
            features=get_features(self.config.name),
            citation=CITATION,
            license=LICENSE,
            homepage="https://arxiv.org/abs/2504.16856",
        )

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        self._cached_assignment = assignment = self._assignment()
        present = [split for split in SPLITS if split in set(assignment.values())]
        return [datasets.SplitGenerator(name=split, gen_kwargs={"split": split}) for split in present]

    def _assignment(self) -> dict[str, str]:
        """Plot id -> split (generator output, or the published layout with ``resplit``), validating every row."""
        self.report = SourceReport(self.config.name)
        plot_sizes: Counter = Counter()
        published: dict[str, str] = {}
        for split, row in self._rows(self.report):
            plot_sizes[row["plot_id"]] += 1
            if split is not None:
                published.setdefault(split, split)
        if published and not self.config.resplit:
            return published  # the published files are the splits: split -> split
        return assign_splits(plot_sizes, self.config.effective_ratios, self.config.seed)

    def _rows(self, report: SourceReport) -> Iterator[tuple[str | None, dict[str, Any]]]:
        config = self.config
        return iter_rows(
            config.data_dir, config.name, layout=self.layout, skip_invalid=config.skip_invalid, report=report
        )

    def _generate_examples(self, split: str) -> Iterator[tuple[str, dict[str, Any]]]:
        keep_published = self.layout == "published" and not self.config.resplit
        assignment = None if keep_published else self._plot_assignment
        for source_split, row in self._rows(SourceReport(self.config.name)):
            target = source_split if keep_published else assignment[row["plot_id"]]
            if target == split:
                yield row["id"], row

    @property
    def _plot_assignment(self) -> dict[str, str]:
        if getattr(self, "_cached_assignment", None) is None:
            self._cached_assignment = self._assignment()
        return self._cached_assignment

    def download_and_prepare(self, *args: Any, **kwargs: Any) -> None:
        """Prepare the cache (see ``datasets.DatasetBuilder.download_and_prepare``) and fill :attr:`report`."""
        self._cached_assignment = None
        super().download_and_prepare(*args, **kwargs)
        if self.report.rows_read == 0:  # served from the cache: count the input anyway, it is cheap
            self._cached_assignment = self._assignment()


def build_with_builder(
    data_dir: str | os.PathLike,
    config: str = DEFAULT_CONFIG,
    *,
    cache_dir: str | os.PathLike | None = None,
    split: str | None = None,
    **config_kwargs: Any,
) -> tuple[datasets.DatasetDict | datasets.Dataset, SourceReport]:
    """Prepare one config with :class:`EmoPillars` and return it with the report of what was read.

    Args:
        data_dir: Generator output folder or published layout.
        config: ``"context_less"`` or ``"contextual"``.
        cache_dir: Cache folder for the prepared Arrow files (default: the ``datasets`` cache).
        split: Return only this split.
        **config_kwargs: :class:`EmoPillarsConfig` fields.

    Returns:
        ``(dataset, report)``: a ``DatasetDict`` (or the one split asked for) and its
        :class:`~emo_pillars.data.sources.SourceReport`.
    """
    builder = EmoPillars(
        config_name=config,
        data_dir=data_dir,
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
        **config_kwargs,
    )
    builder.download_and_prepare()
    return builder.as_dataset(split=split), builder.report
