"""Build and verify the dataset repository: Parquet shards per config and split, a card, two charts, ``run.json``.

The repository is what users load: ``datasets.load_dataset(REPO_DIR, "contextual")`` on disk, or by repo id once
:func:`~emo_pillars.data.hub.push_repository` has uploaded it. Its layout is the one ``Dataset.push_to_hub`` writes::

    REPO_DIR/
      README.md                      the card; its YAML lists both configs, their data files and exact Features
      context_less/{train,validation,test}-0000N-of-0000M.parquet
      contextual/{train,validation,test}-0000N-of-0000M.parquet
      label_distribution.png         labels per config (bar chart)
      utterance_length.png           words per utterance (histogram)
      run.json                       the generator's provenance (model, prompts, decoding, stage counts)
      .gitattributes                 Parquet and PNG through Git LFS

A build is atomic. Every input row is read and validated first (:func:`~emo_pillars.data.tables.read_source`);
only then is anything written, into a temporary sibling folder ``.REPO_DIR.build-PID-*``. That folder is verified
(:func:`verify_repository`: every config loads with ``datasets.load_dataset`` and its split sizes match the card)
and swapped in with :func:`~emo_pillars.utils.io.replace_directory` (one atomic exchange on Linux; elsewhere two
renames, the old folder going to ``.REPO_DIR.old-PID`` and then deleted). A build killed at any moment leaves the old
folder as it was: before the swap it is untouched, and in the instant between two renames it sits in
``.REPO_DIR.old-PID``, from where the next build (or load) puts it back. Temporary folders of dead
builds are removed by the next build. Files in the old folder that a build does not write (``BUILDING.md``,
``.gitignore``) are carried over. A write the file system refuses (a full disk, the file-size limit) ends the build
in one :class:`~emo_pillars.errors.WriteError` naming the file, the temporary folder removed and the old folder as it
was.

Examples:
    >>> from emo_pillars.data.repository import build_repository
    >>> result = build_repository("outputs/run1", "dataset_builders/emo_pillars")  # doctest: +SKIP
    >>> result.split_sizes["contextual"]  # doctest: +SKIP
    {'train': 90, 'validation': 5, 'test': 5}
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError, WriteError
from ..narratives import demo_corpus, load_narratives
from ..taxonomy import GOEMOTIONS, Taxonomy
from ..utils.io import SpaceNeed, check_space, pid_alive, refused_write, staged_folder, writing
from .card import (
    BUNDLED_LICENCE,
    LABEL_CHART,
    LENGTH_CHART,
    OTHER_LICENCE,
    WIKIPLOTS_LICENCE,
    Corpus,
    render_card,
    write_label_chart,
)
from .features import CONFIG_NAMES, SPLITS, has_features
from .merge import merge_shards
from .quality import QualityReport, ReferenceModel, measure, write_length_chart
from .sources import SourceReport, detect_layout
from .tables import ConfigTables, read_source

__all__ = [
    "BuildResult",
    "build_repository",
    "verify_repository",
    "recover_interrupted_swap",
    "describe_corpus",
    "repository_configs",
    "quiet_datasets",
    "REPOSITORY_FILES",
    "TAXONOMY_FILE",
]

logger = logging.getLogger(__name__)

#: Glob patterns of the files that make the repository (what ``push-dataset`` uploads).
#: The repository's taxonomy: labels, definitions, groupings (``train --dataset`` reads it for the model card).
TAXONOMY_FILE = "taxonomy.json"
REPOSITORY_FILES: tuple[str, ...] = ("README.md", "run.json", TAXONOMY_FILE, "*.png", ".gitattributes", "*/*.parquet")
_GITATTRIBUTES = "*.parquet filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
_OURS = {"README.md", "run.json", TAXONOMY_FILE, LABEL_CHART, LENGTH_CHART, ".gitattributes", *CONFIG_NAMES}
_STATIC = {"BUILDING.md", ".gitignore", ".gitattributes"}


@dataclass
class BuildResult:
    """What :func:`build_repository` wrote and measured.

    Attributes:
        output_dir: The repository folder.
        split_sizes: Config -> split -> rows (splits with rows only).
        num_bytes: Config -> split -> in-memory Arrow bytes.
        files: Config -> the Parquet files written (relative to ``output_dir``).
        reports: Config -> :class:`~emo_pillars.data.sources.SourceReport` (rows read, skipped, dropped).
        quality: Config -> :class:`~emo_pillars.data.quality.QualityReport`.
        split_notes: Config -> how the splits were made (one line).
        fallbacks: Config -> the split fallback line, or ``None`` when the requested split was made.
        examples: Config -> the first training row (as stored).
        corpus: The stories' :class:`~emo_pillars.data.card.Corpus` (and licence).
        run_info: The generator's ``run.json`` (empty when the input had none).
        taxonomy: The label set (the generator's; the 28 classes for the release and its copies).
        repo_id: The Hub id the card's loading snippet shows (``None``: the folder path).
    """

    output_dir: Path
    split_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    num_bytes: dict[str, dict[str, int]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    reports: dict[str, SourceReport] = field(default_factory=dict)
    quality: dict[str, QualityReport] = field(default_factory=dict)
    split_notes: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, str | None] = field(default_factory=dict)
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    corpus: Corpus | None = None
    run_info: dict[str, Any] = field(default_factory=dict)
    taxonomy: Taxonomy = GOEMOTIONS
    repo_id: str | None = None

    @property
    def card_path(self) -> Path:
        return self.output_dir / "README.md"

    def __repr__(self) -> str:
        sizes = "; ".join(
            f"{config} " + ", ".join(f"{split} {n:,}" for split, n in splits.items())
            for config, splits in self.split_sizes.items()
        )
        return f"BuildResult({self.output_dir}: {sizes or 'no rows'})"


# --------------------------------------------------------------------------------------------------------------------
# Corpus and licence
# --------------------------------------------------------------------------------------------------------------------
def describe_corpus(
    layout: str, plot_ids: set[str], narratives: str | os.PathLike | None = None
) -> tuple[Corpus, dict[str, str] | None]:
    """Which stories the teacher read (for the licence), and their texts by plot id when they are known.

    The bundled demo corpus is recognised by its plot ids; ``narratives`` names the corpus of any other run (a file
    whose name mentions WikiPlots, or anything :func:`~emo_pillars.narratives.load_narratives` reads).
    """

    if layout == "published":
        corpus = Corpus(
            "wikiplots", "WikiPlots (Wikipedia plot synopses), as in the original Emo Pillars release",
            "cc-by-sa-4.0", WIKIPLOTS_LICENCE,
        )  # fmt: skip
        return corpus, None
    if narratives is not None:
        name = Path(narratives).name
        texts = {n.id: n.text for n in load_narratives(os.fspath(narratives))}
        if "wikiplot" in name.lower():
            return Corpus("wikiplots", f"WikiPlots (`{name}`)", "cc-by-sa-4.0", WIKIPLOTS_LICENCE), texts
        return Corpus("other", f"the corpus `{name}`", "other", OTHER_LICENCE), texts
    demo = {n.id: n.text for n in demo_corpus()}
    if plot_ids and plot_ids <= set(demo):
        corpus = Corpus(
            "bundled", "the demo corpus bundled with `emo-pillars` (synopses of public-domain stories, written for "
            "this project)", "apache-2.0", BUNDLED_LICENCE,
        )  # fmt: skip
        return corpus, demo
    return Corpus("other", "not recorded (not the bundled demo corpus)", "other", OTHER_LICENCE), None


# --------------------------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------------------------
def _card_metadata(root: Path) -> dict[str, Any]:
    import yaml

    card = root / "README.md"
    if not card.is_file():
        raise InputError("is not a dataset repository: no README.md card (run build-dataset)", path=root)
    text = card.read_text(encoding="utf-8", errors="replace")
    match = re.match(r"\A---\n(.*?)\n---\n", text, re.S)
    try:
        meta = yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError as err:
        raise InputError(f"damaged dataset repository: the card's YAML does not parse ({err})", path=card) from None
    if not isinstance(meta, dict) or not meta.get("configs"):
        raise InputError("is not a dataset repository: its card lists no configs (run build-dataset)", path=root)
    return meta


def repository_configs(repo_dir: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Config -> split -> rows, as the card's YAML states them (no data is read).

    Raises:
        InputError: If the folder has no card with ``configs`` and ``dataset_info``.
    """
    root = Path(repo_dir)
    meta = _card_metadata(root)
    infos = meta.get("dataset_info") or []
    infos = [infos] if isinstance(infos, dict) else infos
    sizes = {i.get("config_name"): {s["name"]: s["num_examples"] for s in i.get("splits", [])} for i in infos}
    out = {}
    for entry in meta["configs"]:
        name = entry.get("config_name")
        if name not in sizes:
            raise InputError(f"damaged dataset repository: the card has no split sizes for {name!r}", path=root)
        out[name] = sizes[name]
    return out


def verify_repository(repo_dir: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Prove that a folder is a complete repository: every config loads and matches the card.

    Checks, for every config the card lists: its Parquet shards exist and none is left over from another build,
    ``datasets.load_dataset(folder, config)`` loads it (into a throw-away cache), the Features are exactly
    :func:`~emo_pillars.data.features.get_features`, and every split has the number of rows the card states.

    Returns:
        Config -> split -> rows.

    Raises:
        InputError: Naming the folder and what is wrong (one line).
    """

    root = Path(repo_dir)
    if not root.is_dir():
        raise InputError("not a folder" if root.exists() else "no such folder", path=root)
    stated = repository_configs(root)
    for config, splits in stated.items():
        if config not in CONFIG_NAMES:
            raise InputError(f"damaged dataset repository: unknown config {config!r} in the card", path=root)
        shards = sorted(p.name for p in (root / config).glob("*.parquet"))
        for split in splits:
            matching = [s for s in shards if s.startswith(f"{split}-")]
            counts = {int(m.group(1)) for s in matching if (m := re.search(r"-of-(\d+)\.parquet$", s))}
            if not matching:
                raise InputError(f"damaged dataset repository: no {config}/{split} shards", path=root)
            if len(counts) != 1 or len(matching) != counts.pop():
                raise InputError(
                    f"damaged dataset repository: {config}/{split} shards from different builds: {matching}",
                    path=root,
                )
        stray = [s for s in shards if s.split("-")[0] not in splits]
        if stray:
            raise InputError(f"damaged dataset repository: {config}/ holds shards the card does not list: {stray}",
                             path=root)  # fmt: skip
    import pyarrow.parquet as pq

    for shard in sorted(root.glob("*/*.parquet")):
        try:
            rows = pq.read_metadata(shard).num_rows
        except Exception as err:  # noqa: BLE001 - an unreadable shard, whatever pyarrow calls it
            cause = " ".join(str(err).split())[:200]
            raise InputError(
                f"damaged dataset repository: {shard.relative_to(root)} is not a readable Parquet file ({cause})",
                path=root,
            ) from None
        if rows == 0:
            raise InputError(f"damaged dataset repository: {shard.relative_to(root)} holds no rows", path=root)
    with quiet_datasets():
        _load_and_compare(root, stated)
    return stated


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence ``datasets``' progress bars and its error log while we load to check (we report failures ourselves)."""
    import datasets

    bars = not datasets.utils.are_progress_bars_disabled()
    log = logging.getLogger("datasets")
    level = log.level
    if bars:
        datasets.utils.disable_progress_bars()
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)
        if bars:
            datasets.utils.enable_progress_bars()


def _load_and_compare(root: Path, stated: dict[str, dict[str, int]]) -> None:
    import datasets

    with tempfile.TemporaryDirectory(prefix="emo-pillars-verify-") as cache:
        for config, splits in stated.items():
            try:
                loaded = datasets.load_dataset(str(root.resolve()), config, cache_dir=cache)
            except Exception as err:  # noqa: BLE001 - any failure to load is the damage this check reports
                refused = refused_write(err, cache)
                if refused is not None:  # the throw-away cache could not be written: no damage, a full disk
                    raise WriteError(f"{refused[0]} (the load check's cache)", refused[1]) from err
                cause = " ".join(str(err).split())[:300]
                raise InputError(
                    f"damaged dataset repository: config {config!r} does not load ({type(err).__name__}: {cause})",
                    path=root,
                ) from None
            found = {split: d.num_rows for split, d in loaded.items()}
            if found != splits:
                raise InputError(
                    f"damaged dataset repository: {config} has rows {found}, the card states {splits}", path=root
                )
            if not all(has_features(d.features, config) for d in loaded.values()):
                raise InputError(f"damaged dataset repository: {config} lacks the Emo Pillars Features", path=root)


# --------------------------------------------------------------------------------------------------------------------
# Swapping folders
# --------------------------------------------------------------------------------------------------------------------
def _siblings(output: Path, kind: str) -> list[tuple[Path, int]]:
    found = []
    for path in output.parent.glob(f".{output.name}.{kind}-*"):
        match = re.match(rf"\.{re.escape(output.name)}\.{kind}-(\d+)", path.name)
        if match:
            found.append((path, int(match.group(1))))
    return found


def recover_interrupted_swap(output: str | os.PathLike) -> None:
    """Undo what a build killed mid-swap left: put the old folder back, remove dead builds' temporary folders."""
    output = Path(output)
    if not output.parent.is_dir():
        return
    olds = [(p, pid) for p, pid in _siblings(output, "old") if not pid_alive(pid)]
    if olds and not output.exists():
        newest = max(olds, key=lambda item: item[0].stat().st_mtime)[0]
        os.rename(newest, output)
        logger.warning("restored %s from an interrupted build", output)
        olds = [(p, pid) for p, pid in olds if p != newest]
    for path, _ in olds:
        shutil.rmtree(path, ignore_errors=True)
    for path, pid in _siblings(output, "build"):
        if not pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _carry_over(old: Path, new: Path) -> None:
    for entry in old.iterdir():
        if entry.name in _OURS:
            continue
        target = new / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, symlinks=True)
        else:
            shutil.copy2(entry, target, follow_symlinks=False)


def _check_output(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise InputError("is a file; --output must name a folder (new, empty, or an earlier build)", path=output)
    if output.is_dir() and not (output / "README.md").is_file():
        foreign = [p.name for p in output.iterdir() if p.name not in _STATIC]
        if foreign:
            raise InputError(
                f"is not empty and is not a dataset repository (it holds {sorted(foreign)[:3]}); choose a new "
                "folder or an earlier build",
                path=output,
            )


# --------------------------------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------------------------------
def _write_shards(table: Any, folder: Path, split: str, max_shard_bytes: int) -> list[Path]:
    import pyarrow.parquet as pq

    shards = max(1, math.ceil(table.nbytes / max_shard_bytes))
    per_shard = math.ceil(table.num_rows / shards)
    paths = []
    for i in range(shards):
        path = folder / f"{split}-{i:05d}-of-{shards:05d}.parquet"
        with writing(path):
            pq.write_table(table.slice(i * per_shard, per_shard), path, row_group_size=10_000, compression="snappy")
        paths.append(path)
    return paths


def build_repository(  # noqa: PLR0913 - a public entry point: one keyword per command option
    source: str | os.PathLike | Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    *,
    configs: Sequence[str] | None = None,
    split_ratios: Mapping[str, Sequence[float]] | Sequence[float] | None = None,
    seed: int = 42,
    skip_invalid: bool = False,
    resplit: bool = False,
    similarity: bool = True,
    sample_size: int = 2000,
    narratives: str | os.PathLike | None = None,
    reference_model: ReferenceModel | None = None,
    max_shard_bytes: int = 500 * 1024 * 1024,
    repo_id: str | None = None,
    pretty_name: str = "Emo Pillars",
) -> BuildResult:
    """Build the dataset repository from a generator output folder (or the published layout), atomically.

    Args:
        source: Generator output folder (``context_less.jsonl``, ``contextual.jsonl``, ``run.json``) or the
            published layout (``context-less/{train,dev,test}.jsonl``; context-less only); or a list of the output
            folders of a sharded run (``generate --shard I/N``), checked and merged as
            :func:`~emo_pillars.data.merge.merge_shards` does (every shard is needed) into a temporary folder
            beside ``output_dir`` that is removed once read.
        output_dir: The repository folder: new, empty, or an earlier build (replaced as a whole, atomically).
        configs: Configs to build; default: every config whose input file exists.
        split_ratios: Train/validation/test fractions (of plots), one triple for all configs or a mapping per config;
            default 80/10/10 (context-less) and 90/5/5 (contextual).
        seed: Seed of the grouped split and of the quality samples.
        skip_invalid: Skip (and count in the card) malformed rows instead of raising
            :class:`~emo_pillars.errors.InputError`.
        resplit: For the published layout, split by plot instead of keeping its train/dev/test files.
        similarity: Compute the embedding figures of the card (MiniLM through sentence-transformers).
        sample_size: Most utterances per config embedded (and scored by ``reference_model``); must be positive.
        narratives: The corpus the generator read, to name it in the card (licence) and measure synopsis copying
            (the bundled demo corpus is recognised without it).
        reference_model: A trained classifier whose agreement with the labels the card reports, loaded after the
            data has been read and validated (:class:`~emo_pillars.data.quality.ReferenceModel`).
        max_shard_bytes: Largest (in-memory Arrow) size of one Parquet shard.
        repo_id: The Hub id the card's loading snippet shows (default: the folder path).
        pretty_name: Title of the card.

    Returns:
        A :class:`BuildResult`.

    Raises:
        InputError: For a malformed or empty input, or an ``output_dir`` that is a file or someone else's folder;
            nothing is written then.
        ConfigError: For an unknown config, bad split ratios, a non-positive ``sample_size``, or folders that are
            not the distinct shards of one run (:func:`~emo_pillars.data.merge.check_shards`).
        WriteError: The file system refused a write (no space left, a quota, the file-size limit, read-only), named
            as the file it would have been in ``output_dir``; ``output_dir`` is unchanged and no temporary folder is
            left. Before writing, the free space and the file-size limit are compared with an estimate of the build
            (:func:`_space_needed`); a shortfall is one warning line.
    """
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size <= 0:
        raise ConfigError(f"the similarity sample must be a positive number of utterances, got {sample_size!r}")
    output = Path(output_dir)
    recover_interrupted_swap(output)
    _check_output(output)

    # 1. Read and validate everything before anything is written.
    with _one_folder(source, output, narratives) as folder:
        layout = detect_layout(folder)
        run_info = _read_run_info(folder / "run.json")
        tables: dict[str, ConfigTables] = read_source(
            folder, configs, split_ratios=split_ratios, seed=seed, skip_invalid=skip_invalid, resplit=resplit
        )
    plot_ids = {p for t in tables.values() for p in t.combined()["plot_id"].unique().to_pylist()}
    corpus, synopses = describe_corpus(layout, plot_ids, narratives)
    taxonomy = next(iter(tables.values())).taxonomy
    result = BuildResult(output_dir=output, run_info=run_info, corpus=corpus, repo_id=repo_id, taxonomy=taxonomy)
    for config, t in tables.items():
        _describe_config(result, config, t)
        result.quality[config] = measure(
            t.combined(), config, sample_size=sample_size, seed=seed, similarity=similarity, synopses=synopses,
            reference_model=reference_model, taxonomy=taxonomy,
        )  # fmt: skip

    # 2. Write into a temporary sibling, verify, swap.
    check_space(output, _space_needed(result, max_shard_bytes))
    with staged_folder(output, prefix=f".{output.name}.build-{os.getpid()}-", suffix="") as tmp:
        _write_repository(tmp, tables, result, max_shard_bytes, pretty_name)
        if output.is_dir():
            _carry_over(output, tmp)
        verify_repository(tmp)
    return result


#: What a build writes besides the shards, at most as far as we have seen: two charts (50-100 kB each at 100 dpi),
#: the card and ``taxonomy.json`` (tens of kB each).
_FIGURES_AND_CARD = 400_000
#: The largest chart we expect (the label chart of a large taxonomy).
_CHART = 100_000


def _space_needed(result: BuildResult, max_shard_bytes: int) -> SpaceNeed:
    """What a build will write, estimated: the rows' in-memory Arrow size (Parquet with snappy is usually smaller,
    never known before it is written) plus :data:`_FIGURES_AND_CARD`; its largest file the largest shard (at most
    ``max_shard_bytes`` of Arrow) or a chart. The old folder stays until the new one is in place, so the free space
    must hold all of it. Nothing is certain before writing, so a shortfall is warned about, never refused.
    """
    sizes = [n for splits in result.num_bytes.values() for n in splits.values()]
    return SpaceNeed(
        "the rows' Arrow size, the charts and the card",
        likely_total=sum(sizes) + _FIGURES_AND_CARD,
        likely_largest=max([min(n, max_shard_bytes) for n in sizes] + [_CHART]),
    )


@contextlib.contextmanager
def _one_folder(
    source: str | os.PathLike | Sequence[str | os.PathLike], output: Path, narratives: str | os.PathLike | None
) -> Iterator[Path]:
    """The folder to read: ``source`` itself, or the shards' folders merged into a temporary sibling of ``output``
    (named like a build's, so a killed build's is removed by the next one), removed once the rows are read."""
    folders = [Path(source)] if isinstance(source, str | os.PathLike) else [Path(s) for s in source]
    if not folders:
        raise ConfigError("no input folder to build from")
    if len(folders) == 1:
        if not folders[0].exists():
            raise InputError("no such folder", path=folders[0])
        yield folders[0]
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.build-{os.getpid()}-", dir=output.parent))
    try:
        merged = merge_shards(folders, tmp / "generated", narratives=narratives)
        try:
            yield merged.output_dir
        except InputError as err:  # a bad row: name the shard's file and line, not the temporary copy
            raise merged.locate(err) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_run_info(path: Path) -> dict[str, Any]:
    """The generator's ``run.json`` (empty when the input has none)."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err})", path=path) from None


def _describe_config(result: BuildResult, config: str, tables: ConfigTables) -> None:
    """What the card states of one config: the source report, the splits and their sizes, a first example."""
    result.reports[config] = tables.report
    result.split_notes[config] = tables.split_note
    result.fallbacks[config] = tables.fallback
    result.split_sizes[config] = {s: part.num_rows for s, part in tables.splits.items()}
    result.num_bytes[config] = {s: part.nbytes for s, part in tables.splits.items()}
    first = next(iter(tables.splits.values()))
    result.examples[config] = first.slice(0, 1).to_pylist()[0]


def _write_repository(
    folder: Path, tables: dict[str, ConfigTables], result: BuildResult, max_shard_bytes: int, pretty_name: str | None
) -> None:
    """The repository's files: Parquet shards per config and split, ``run.json``, the charts and the card."""
    for config, t in tables.items():
        (folder / config).mkdir()
        result.files[config] = []
        for split in SPLITS:
            if split in t.splits:
                paths = _write_shards(t.splits[split], folder / config, split, max_shard_bytes)
                result.files[config] += [p.relative_to(folder).as_posix() for p in paths]
    if result.run_info:
        _write_text(folder / "run.json", json.dumps(result.run_info, indent=2, ensure_ascii=False) + "\n")
    _write_text(folder / ".gitattributes", _GITATTRIBUTES)
    with writing(folder / LABEL_CHART):  # the file is named even where the image library removes what it began
        write_label_chart(
            {c: q.label_counts for c, q in result.quality.items()},
            {c: sum(s.values()) for c, s in result.split_sizes.items()},
            folder / LABEL_CHART,
            result.taxonomy.labels,
        )
    _write_text(folder / TAXONOMY_FILE, json.dumps(result.taxonomy.to_dict(), indent=2, ensure_ascii=False) + "\n")
    with writing(folder / LENGTH_CHART):
        write_length_chart(result.quality, folder / LENGTH_CHART)
    _write_text(folder / "README.md", str(render_card(result, pretty_name=pretty_name)))


def _write_text(path: Path, text: str) -> None:
    """One file of the temporary folder (UTF-8); a refused write names it."""
    with writing(path):
        path.write_text(text, encoding="utf-8")
