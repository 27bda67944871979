"""Merge the output folders of a sharded generation (``emo-pillars generate --shard I/N``) into one, checked first.

Each machine of a sharded run writes its own folder (``context_less.jsonl``, ``contextual.jsonl``, ``run.json`` and
its reply cache under ``cache/``). :func:`merge_shards` joins them into one folder with the same three files, so that
everything downstream (``build-dataset``, :func:`~emo_pillars.data.load.load_emo_pillars`) sees one run. The reply
cache is not carried over: it serves only to resume a shard, and a merged folder is never resumed.

Before anything is written the folders are checked (each failure one line naming the folder and the field):

* every folder is generator output with a ``run.json``, and none is itself a merge;
* they come from one run: the ``config`` block of ``run.json`` (less the shard fields ``num_shards`` and
  ``shard_index``), the ``steps``, the ``prompt_hashes`` (which also fix the taxonomy: its names and definitions are
  in the prompts) and the teacher (:data:`MODEL_IDENTITY` of the ``backend`` block) are the same;
* they do not overlap: shard indices are distinct and below ``num_shards``, no plot and no example id is in two
  folders;
* they read one corpus, as far as ``run.json`` can tell: it records no name or hash of the narratives, only how many
  plots each shard read, so those counts must be the ones ``N`` plots split ``N`` ways give. Given the corpus
  (``narratives``), every plot must also stand at a position of its own shard;
* all ``num_shards`` shards are there, unless ``allow_missing`` (then :attr:`MergeResult.missing_shards` says which
  are not).

Rows are written in the order an unsharded run writes them, plot by plot in corpus order, so the merged files are
byte-identical to that run's. A shard holds the plots at positions ``I, I + N, I + 2N, ...``, so a plot's position
follows from its rank in its shard, when every plot of the shard gave rows; otherwise from ``narratives`` (the
bundled demo corpus is recognised without it). When neither tells, rows are kept in shard order (by shard index,
then file order) and :attr:`MergeResult.row_order` is ``"shards"``.

The merged ``run.json`` is an unsharded run's (``num_shards`` 1, ``shard_index`` 0 when no shard is missing) with
the stage statistics and counts summed, ``created`` the latest of the shards', and three more keys:
``merged_from`` (each folder's name, shard index, version, creation time, seconds and counts), ``missing_shards``
and ``row_order``. Merging the same folders twice gives the same bytes.

The folder is written atomically: into a temporary sibling ``.OUTPUT.merge-PID-*.tmp``, then swapped in with
:func:`~emo_pillars.utils.io.replace_directory`. A failed or killed merge leaves ``OUTPUT`` as it was; the next merge
removes the temporary folders of dead ones. A merge that does not fit the free space or the file-size limit is
refused before it writes; a write the file system refuses on the way is one
:class:`~emo_pillars.errors.WriteError` naming the file, its temporary folder removed.

Examples:
    >>> from emo_pillars.data.merge import merge_shards
    >>> result = merge_shards(["outputs/shard0", "outputs/shard1"], "outputs/all")  # doctest: +SKIP
    >>> result.counts  # doctest: +SKIP
    {'plots': 13, 'truncated_plots': 0, 'context_less': 96, 'contextual': 102}
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError, InputError
from ..narratives import demo_corpus, load_narratives
from ..utils.hub import looks_local
from ..utils.io import SpaceNeed, check_space, pid_alive, read_jsonl, staged_folder
from .features import CONFIG_NAMES

__all__ = [
    "MergeResult",
    "Shard",
    "merge_shards",
    "read_shard",
    "check_shards",
    "plot_positions",
    "merged_run_info",
    "MODEL_IDENTITY",
]

RUN_FILE = "run.json"
#: The generator's example files, one per config.
DATA_FILES: tuple[str, ...] = tuple(f"{config}.jsonl" for config in CONFIG_NAMES)
#: The fields of ``run.json``'s ``config`` block that differ between the shards of one run.
SHARD_FIELDS: tuple[str, ...] = ("num_shards", "shard_index")
#: The fields of ``run.json``'s ``backend`` block that name the teacher; the rest (batch sizes, device, dtype chosen
#: by the machine, server address, concurrency) may differ from machine to machine.
MODEL_IDENTITY: tuple[str, ...] = ("backend", "model", "revision", "gguf_file")
#: What the merge adds to ``run.json``.
MERGE_FIELDS: tuple[str, ...] = ("merged_from", "missing_shards", "row_order")

RowOrder = Literal["corpus", "shards"]


@dataclass
class _Row:
    id: str
    plot_id: str
    line: bytes
    number: int


@dataclass
class Shard:
    """One generator output folder, read and parsed.

    Attributes:
        folder: The folder.
        run_info: Its ``run.json``.
        rows: File name (``context_less.jsonl``, ``contextual.jsonl``) -> its rows, in file order; only the files the
            folder has.

    Examples:
        >>> shard = read_shard("outputs/shard1")  # doctest: +SKIP
        >>> shard.index, shard.count, shard.plots  # doctest: +SKIP
        (1, 2, 6)
    """

    folder: Path
    run_info: dict[str, Any]
    rows: dict[str, list[_Row]] = field(default_factory=dict)

    @property
    def index(self) -> int:
        return self.run_info["config"]["shard_index"]

    @property
    def count(self) -> int:
        return self.run_info["config"]["num_shards"]

    @property
    def plots(self) -> int:
        """The plots this shard read (``counts.plots`` of its ``run.json``)."""
        return int((self.run_info.get("counts") or {}).get("plots", 0))

    def plot_ids(self, names: Sequence[str] = DATA_FILES) -> list[str]:
        """The plots that gave rows in the files ``names``, in the order they first appear."""
        return list(dict.fromkeys(row.plot_id for name in names for row in self.rows.get(name, [])))


@dataclass
class MergeResult:
    """What :func:`merge_shards` wrote.

    Attributes:
        output_dir: The merged folder.
        num_shards: The ``N`` of the shards' ``--shard I/N``.
        shard_indices: The shards merged, in order.
        missing_shards: The shards of ``N`` that were not given (only with ``allow_missing``).
        row_order: ``"corpus"`` (the order of an unsharded run) or ``"shards"`` (by shard index, then file order:
            the corpus positions were not known).
        counts: The summed ``counts`` of the shards (``plots``, ``context_less``, ``contextual`` ...).
        run_info: The merged ``run.json``.
        origins: File name -> where each of its lines came from: ``(shard folder, line number)``.

    Examples:
        >>> merge_shards(["outputs/shard0", "outputs/shard1"], "outputs/all")  # doctest: +SKIP
        MergeResult(outputs/all: shards 0/2, 1/2; 96 context-less, 102 contextual examples from 13 plots)
    """

    output_dir: Path
    num_shards: int
    shard_indices: list[int]
    missing_shards: list[int]
    row_order: RowOrder
    counts: dict[str, Any]
    run_info: dict[str, Any]
    origins: dict[str, list[tuple[Path, int]]] = field(default_factory=dict)

    def locate(self, error: InputError) -> InputError:
        """``error`` about a merged file, pointed at the shard's file and line the row came from.

        Examples:
            >>> str(result.locate(InputError("bad", path="outputs/all/context_less.jsonl", line=3)))  # doctest: +SKIP
            'outputs/shard0/context_less.jsonl:2: bad'
        """
        path = Path(error.path) if error.path is not None else None
        if path is None or path.parent != self.output_dir or path.name not in self.origins:
            return error
        origins = self.origins[path.name]
        if error.line is not None and 1 <= error.line <= len(origins):
            folder, line = origins[error.line - 1]
            return InputError(error.message, path=folder / path.name, line=line, field=error.field)
        shards = ", ".join(sorted({str(folder) for folder, _ in origins}))
        return InputError(error.message, path=f"{path.name} of {shards or 'the shards'}", field=error.field)

    def __repr__(self) -> str:
        shards = ", ".join(f"{i}/{self.num_shards}" for i in self.shard_indices)
        return (
            f"MergeResult({self.output_dir}: shards {shards}; {self.counts.get('context_less', 0)} context-less, "
            f"{self.counts.get('contextual', 0)} contextual examples from {self.counts.get('plots', 0)} plots)"
        )


# --------------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------------
def _read_run_info(folder: Path) -> dict[str, Any]:
    path = folder / RUN_FILE
    if not path.is_file():
        raise InputError(f"is not generator output: no {RUN_FILE} (give the folders emo-pillars generate wrote)",
                         path=folder)  # fmt: skip
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not valid JSON ({err})", path=path) from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise InputError("is not a generator run.json: it has no 'config' block", path=path, field="config")
    for name in SHARD_FIELDS:
        value = info["config"].get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"expected a whole number, got {value!r}", path=path, field=f"config.{name}")
    if "merged_from" in info:
        raise InputError("is already a merge of shards: merge the shard folders themselves", path=folder)
    return info


def _read_rows(path: Path) -> list[_Row]:
    rows = []
    for number, line, row in read_jsonl(path):
        if isinstance(row, InputError):
            raise row
        for key in ("id", "plot_id"):
            if not isinstance(row, dict) or not isinstance(row.get(key), str) or not row[key]:
                raise InputError("missing or not a string", path=path, line=number, field=key)
        rows.append(_Row(row["id"], row["plot_id"], line if line.endswith(b"\n") else line + b"\n", number))
    return rows


def read_shard(folder: str | os.PathLike) -> Shard:
    """Read one generator output folder: its ``run.json`` and the ``id`` and ``plot_id`` of every row.

    Raises:
        InputError: The folder is missing, is not generator output (no ``run.json`` or no example file), is already
            a merge, or holds a row that is not JSON or lacks ``id`` / ``plot_id``.

    Examples:
        >>> read_shard("outputs/shard0").index  # doctest: +SKIP
        0
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder" if folder.exists() else "no such folder", path=folder)
    info = _read_run_info(folder)
    files = [name for name in DATA_FILES if (folder / name).is_file()]
    if not files:
        raise InputError(f"is not generator output: no {' or '.join(DATA_FILES)}", path=folder)
    return Shard(folder, info, {name: _read_rows(folder / name) for name in files})


# --------------------------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------------------------
def _first_difference(a: Any, b: Any, where: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The keys leading to the first place where ``a`` and ``b`` differ (``None`` when they are equal)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in [*a, *(k for k in b if k not in a)]:
            found = _first_difference(a.get(key), b.get(key), (*where, key))
            if found:
                return found
        return None
    return None if a == b else where


def _lookup(info: Mapping[str, Any], keys: Sequence[str]) -> Any:
    value: Any = info
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _model_identity(backend: Mapping[str, Any] | None) -> dict[str, Any]:
    """The teacher's identity; a local model folder counts by its name, since each machine has its own path."""
    backend = backend or {}
    identity = {key: backend.get(key) for key in MODEL_IDENTITY}
    model = identity["model"]
    if isinstance(model, str) and looks_local(model):
        identity["model"] = Path(model).name
    return identity


def _signature(info: Mapping[str, Any]) -> dict[str, Any]:
    """What must be equal in the ``run.json`` of every shard of one run."""
    config = {k: v for k, v in info["config"].items() if k not in SHARD_FIELDS}
    return {
        "config": config,
        "steps": info.get("steps"),
        "prompt_hashes": info.get("prompt_hashes"),
        "backend": _model_identity(info.get("backend")),
    }


def _check_one_run(shards: Sequence[Shard]) -> None:
    first = shards[0]
    reference = _signature(first.run_info)
    for shard in shards[1:]:
        signature = _signature(shard.run_info)
        keys = _first_difference(reference, signature)
        if keys:
            a, b = _lookup(reference, keys), _lookup(signature, keys)
            raise ConfigError(
                f"{shard.folder} and {first.folder} are not shards of one run: {RUN_FILE}:{'.'.join(keys)} is "
                f"{_short(b)} in {shard.folder.name} and {_short(a)} in {first.folder.name}"
            )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_disjoint(shards: Sequence[Shard]) -> None:
    count = shards[0].count
    by_index: dict[int, Shard] = {}
    for shard in shards:
        if not 0 <= shard.index < count:
            raise ConfigError(f"{shard.folder}: config.shard_index {shard.index} is not below num_shards {count}")
        if shard.index in by_index:
            raise ConfigError(
                f"{shard.folder} and {by_index[shard.index].folder} are both shard {shard.index}/{count} "
                "(config.shard_index): give each shard once"
            )
        by_index[shard.index] = shard
    _check_unique((s.folder, p) for s in shards for p in s.plot_ids())
    seen: dict[str, Path] = {}
    for shard in shards:
        for name in DATA_FILES:
            for row in shard.rows.get(name, []):
                where = shard.folder / name
                if row.id in seen:
                    place = f"twice in {where}" if seen[row.id] == where else f"in both {seen[row.id]} and {where}"
                    raise ConfigError(f"example id {row.id!r} is {place}: the shards overlap")
                seen[row.id] = where


def _check_unique(plots: Iterable[tuple[Path, str]]) -> None:
    """No plot in two folders."""
    owner: dict[str, Path] = {}
    for folder, plot_id in plots:
        if owner.setdefault(plot_id, folder) != folder:
            raise ConfigError(f"plot {plot_id!r} is in both {owner[plot_id]} and {folder}: the shards overlap")


def _shard_sizes(total: int, count: int) -> list[int]:
    """Plots per shard when ``total`` plots are split ``count`` ways (``plots[i::count]``)."""
    return [len(range(i, total, count)) for i in range(count)]


def _check_plot_counts(shards: Sequence[Shard], missing: Sequence[int]) -> None:
    """The plots each shard read must be those of one corpus split ``num_shards`` ways."""
    count = shards[0].count
    if not missing:
        expected = _shard_sizes(sum(s.plots for s in shards), count)
        for shard in shards:
            if shard.plots != expected[shard.index]:
                raise ConfigError(
                    f"{shard.folder}: counts.plots is {shard.plots}, but shard {shard.index}/{count} of the "
                    f"{sum(expected)} plots the shards read together holds {expected[shard.index]}: they read "
                    "different corpora"
                )
        return
    ordered = sorted(shards, key=lambda s: s.index)
    for before, after in zip(ordered, ordered[1:]):
        if not 0 <= before.plots - after.plots <= 1 or ordered[0].plots - after.plots > 1:
            raise ConfigError(
                f"{after.folder}: counts.plots is {after.plots} and {before.plots} in {before.folder}: shards of "
                "one corpus differ by at most one plot, so they read different corpora"
            )


def check_shards(shards: Sequence[Shard], *, allow_missing: bool = False) -> list[int]:
    """Check that ``shards`` are distinct shards of one generation run, before anything is written.

    Args:
        shards: The folders, read with :func:`read_shard`.
        allow_missing: Go on when some of the ``num_shards`` shards are not given.

    Returns:
        The shard indices that are missing (empty unless ``allow_missing``).

    Raises:
        ConfigError: One line naming the folders and the field: another run (config, steps, prompts, teacher),
            another shard count, a shard given twice, a plot or example id in two folders, plot counts of another
            corpus, or a missing shard.

    Examples:
        >>> check_shards([read_shard("outputs/shard0"), read_shard("outputs/shard1")])  # doctest: +SKIP
        []
    """
    if not shards:
        raise ConfigError("no shard folders to merge")
    first = shards[0]
    for shard in shards[1:]:
        if shard.count != first.count:
            raise ConfigError(
                f"{shard.folder} is one of {shard.count} shards and {first.folder} one of {first.count} "
                "(config.num_shards): they are not shards of one run"
            )
    _check_one_run(shards)
    _check_disjoint(shards)
    missing = sorted(set(range(first.count)) - {s.index for s in shards})
    if missing and not allow_missing:
        names = ", ".join(f"{i}/{first.count}" for i in missing)
        raise ConfigError(
            f"shard {names} missing: give every shard's folder (or allow missing shards: --allow-missing)"
        )
    _check_plot_counts(shards, missing)
    return missing


# --------------------------------------------------------------------------------------------------------------------
# Row order
# --------------------------------------------------------------------------------------------------------------------
def _positions_from_rows(shards: Sequence[Shard]) -> dict[str, int] | None:
    """Corpus positions from the rank of each plot in its shard, when every plot of every shard gave context-less
    rows (contextual rows come from context-less ones, so their plots are among those)."""
    positions = {}
    for shard in shards:
        plots = shard.plot_ids(DATA_FILES[:1])
        if len(plots) != shard.plots or not set(shard.plot_ids()) <= set(plots):
            return None
        positions.update({plot: shard.index + rank * shard.count for rank, plot in enumerate(plots)})
    return positions


def _positions_in_corpus(shards: Sequence[Shard], corpus_ids: Sequence[str], origin: str) -> dict[str, int]:
    """Corpus positions of the shards' plots; raises unless each shard's plots are its share of ``corpus_ids``."""
    for shard in shards:
        share = corpus_ids[shard.index :: shard.count]
        if len(share) != shard.plots:
            raise ConfigError(
                f"{shard.folder}: counts.plots is {shard.plots}, but shard {shard.index}/{shard.count} of {origin} "
                f"holds {len(share)} plots: the shard read another corpus"
            )
        members = set(share)
        stray = next((p for p in shard.plot_ids() if p not in members), None)
        if stray is not None:
            raise ConfigError(
                f"{shard.folder}: plot {stray!r} is not among the plots of shard {shard.index}/{shard.count} "
                f"of {origin}: the shard read another corpus"
            )
    return {plot: i for i, plot in enumerate(corpus_ids)}


def plot_positions(
    shards: Sequence[Shard], narratives: Any = None, *, text_column: str = "text"
) -> dict[str, int] | None:
    """Each plot's position in the corpus the shards read, or ``None`` when it cannot be known.

    Args:
        shards: Checked shards (:func:`check_shards`).
        narratives: The corpus given to ``generate`` (anything :func:`~emo_pillars.narratives.load_narratives`
            reads); its plots must be those the shards read. ``None``: from the rows when every plot gave rows,
            else from the bundled demo corpus when the plots are its own.
        text_column: The text column of a JSONL/CSV corpus.

    Raises:
        ConfigError: ``narratives`` is not the corpus the shards read.

    Examples:
        >>> plot_positions([read_shard("outputs/shard0"), read_shard("outputs/shard1")])  # doctest: +SKIP
        {'odyssey': 0, 'christmas-carol': 2, 'romeo-and-juliet': 1, 'frankenstein': 3}
    """
    max_plots = shards[0].run_info["config"].get("max_plots")
    if narratives is not None:
        corpus = load_narratives(narratives, text_column=text_column, max_plots=max_plots)
        return _positions_in_corpus(shards, [p.id for p in corpus], f"the corpus {narratives}")
    positions = _positions_from_rows(shards)
    if positions is not None:
        return positions
    demo = [p.id for p in demo_corpus()][:max_plots]
    if all(set(s.plot_ids()) <= set(demo) for s in shards):
        try:
            return _positions_in_corpus(shards, demo, "the bundled demo corpus")
        except ConfigError:
            return None
    return None


def _ordered_rows(shards: Sequence[Shard], name: str, positions: Mapping[str, int] | None) -> list[tuple[Shard, _Row]]:
    """The rows of file ``name`` of all shards: by plot position, or by shard index; then in file order."""
    keyed = [
        ((positions[row.plot_id] if positions is not None else shard.index), row.number, shard, row)
        for shard in shards
        for row in shard.rows.get(name, [])
    ]
    keyed.sort(key=lambda item: item[:2])
    return [(shard, row) for _, _, shard, row in keyed]


# --------------------------------------------------------------------------------------------------------------------
# The merged run.json
# --------------------------------------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sum_stats(values: Sequence[Any], weights: Sequence[float], key: str = "") -> Any:
    """Sum one statistic over the shards: numbers add up, rates are averaged (weighted), mappings key by key."""
    present = [(v, w) for v, w in zip(values, weights) if v is not None]
    if not present:
        return None
    if all(isinstance(v, Mapping) for v, _ in present):
        keys = list(dict.fromkeys(k for v, _ in present for k in v))
        out = {k: _sum_stats([v.get(k) for v, _ in present], [w for _, w in present], k) for k in keys}
        if key.endswith("_distribution"):
            return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))
        return dict(sorted(out.items())) if all(list(v) == sorted(v) for v, _ in present) else out
    if not all(_is_number(v) for v, _ in present):
        return present[0][0]
    if key.endswith("_rate"):
        total = sum(w for _, w in present)
        return round(sum(v * w for v, w in present) / total, 4) if total else present[0][0]
    summed = sum(v for v, _ in present)
    return round(summed, 3) if isinstance(summed, float) else summed


def _merged_stages(shards: Sequence[Shard]) -> dict[str, Any]:
    """Stage statistics summed over the shards; a ``counts`` rate is weighted by each shard's inputs of the stage."""
    stages = [s.run_info.get("stages") or {} for s in shards]
    out = {}
    for name in dict.fromkeys(k for st in stages for k in st):
        parts = [st.get(name) or {} for st in stages]
        merged = _sum_stats(parts, [p.get("inputs", 0) or 0 for p in parts])
        replies = merged.get("calls", 0) + merged.get("cached", 0)
        if "structured_rate" in merged:
            merged["structured_rate"] = round(merged["structured"] / replies, 4) if replies else None
        out[name] = merged
    return out


def _latest(stamps: Iterable[Any]) -> Any:
    def when(stamp: Any) -> tuple[int, Any]:
        try:
            return 1, datetime.fromisoformat(str(stamp))
        except ValueError:
            return 0, str(stamp)

    known = [s for s in stamps if s]
    return max(known, key=when) if known else None


def merged_run_info(shards: Sequence[Shard], missing: Sequence[int], row_order: RowOrder) -> dict[str, Any]:
    """The ``run.json`` of the merged folder (see the module's docstring)."""
    first = shards[0].run_info
    counts = _sum_stats([s.run_info.get("counts") or {} for s in shards], [1] * len(shards))
    config = {**first["config"], "num_shards": 1, "shard_index": 0}
    if missing:
        config.update(num_shards=first["config"]["num_shards"], shard_index=None)
    problems = [s.run_info.get("problem") for s in shards if s.run_info.get("problem")]
    rows = sum(v for k, v in counts.items() if k in CONFIG_NAMES)
    merged = {
        **first,
        "created": _latest(s.run_info.get("created") for s in shards),
        "config": config,
        "stages": _merged_stages(shards),
        "counts": counts,
        "problem": problems[0] if problems and not rows else None,
        "seconds": _sum_stats([s.run_info.get("seconds") for s in shards], [1] * len(shards)),
    }
    merged["merged_from"] = [
        {
            "folder": s.folder.name, "shard_index": s.index, "num_shards": s.count,
            "emo_pillars_version": s.run_info.get("emo_pillars_version"), "created": s.run_info.get("created"),
            "seconds": s.run_info.get("seconds"), "counts": s.run_info.get("counts"),
        }
        for s in shards
    ]  # fmt: skip
    merged["missing_shards"] = list(missing)
    merged["row_order"] = row_order
    return merged


# --------------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------------
def _remove_dead_staging(output: Path) -> None:
    """Remove the temporary folders of merges into ``output`` that were killed."""
    for path in output.parent.glob(f".{output.name}.merge-*.tmp"):
        match = re.match(rf"\.{re.escape(output.name)}\.merge-(\d+)-", path.name)
        if match and not pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def _check_output(output: Path, sources: Sequence[Path], overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        raise InputError("is a file; the merged output must be a folder", path=output)
    resolved = output.resolve()
    for source in sources:
        if resolved == source.resolve() or resolved in source.resolve().parents:
            raise ConfigError(f"the output {output} holds the shard folder {source}: choose another folder")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise ConfigError(f"{output} exists and is not empty: choose a new folder, or overwrite it (--overwrite)")


def _write(output: Path, files: Mapping[str, list[bytes]], run_info: Mapping[str, Any]) -> None:
    """Write the merged folder into a temporary sibling and swap it in; nothing is left behind on failure.

    Its size is known before anything is written (the rows' lines and ``run.json``), so a file system without room
    for it, or a file-size limit below its largest file, is refused first (:func:`~emo_pillars.utils.io.check_space`).
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_staging(output)
    text = (json.dumps(run_info, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    sizes = {name: sum(len(line) for line in lines) for name, lines in files.items()} | {RUN_FILE: len(text)}
    largest = max(sizes, key=sizes.__getitem__)
    need = SpaceNeed("the merged rows and run.json", total=sum(sizes.values()), largest=sizes[largest])
    check_space(output / largest, need)
    with staged_folder(output, prefix=f".{output.name}.merge-{os.getpid()}-") as staging:
        for name, lines in files.items():
            with (staging / name).open("wb") as handle:
                handle.writelines(lines)
                handle.flush()
                os.fsync(handle.fileno())
        (staging / RUN_FILE).write_bytes(text)


def merge_shards(
    sources: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    allow_missing: bool = False,
    narratives: Any = None,
    text_column: str = "text",
) -> MergeResult:
    """Merge the output folders of a sharded generation run into one folder, after checking they belong together.

    Args:
        sources: The shards' output folders (``generate --shard I/N --output ...``), in any order.
        output_dir: The merged folder: new or empty, or any folder with ``overwrite``; replaced as a whole,
            atomically. It gets ``context_less.jsonl``, ``contextual.jsonl`` (when the run was contextual) and
            ``run.json``, not the reply cache.
        overwrite: Replace a non-empty ``output_dir``.
        allow_missing: Merge even when some of the ``N`` shards are not given (:attr:`MergeResult.missing_shards`).
        narratives: The corpus given to ``generate``, to write the rows in corpus order when some plot gave no rows
            (see :func:`plot_positions`); not needed for the bundled demo corpus.
        text_column: The text column of a JSONL/CSV ``narratives``.

    Returns:
        A :class:`MergeResult`.

    Raises:
        InputError: A folder that is not generator output, or a malformed row or ``run.json``.
        ConfigError: Folders that are not distinct shards of one run (see :func:`check_shards`), or an
            ``output_dir`` that is one of them or is not empty without ``overwrite``. Nothing is written then.
        WriteError: The merged folder does not fit the free space or the file-size limit (refused before writing),
            or the file system refused a write; ``output_dir`` is as it was.

    Examples:
        >>> from emo_pillars.data.merge import merge_shards
        >>> result = merge_shards(["outputs/shard0", "outputs/shard1"], "outputs/all")  # doctest: +SKIP
        >>> result.row_order  # doctest: +SKIP
        'corpus'
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    output = Path(output_dir)
    paths = [Path(s) for s in sources]
    _check_output(output, paths, overwrite)
    shards = sorted((read_shard(p) for p in paths), key=lambda s: s.index)
    missing = check_shards(shards, allow_missing=allow_missing)
    positions = plot_positions(shards, narratives, text_column=text_column)
    order: RowOrder = "corpus" if positions is not None else "shards"
    names = [name for name in DATA_FILES if any(name in s.rows for s in shards)]
    rows = {name: _ordered_rows(shards, name, positions) for name in names}
    run_info = merged_run_info(shards, missing, order)
    _write(output, {name: [row.line for _, row in rows[name]] for name in names}, run_info)
    return MergeResult(
        output_dir=output, num_shards=shards[0].count, shard_indices=[s.index for s in shards],
        missing_shards=missing, row_order=order, counts=run_info["counts"], run_info=run_info,
        origins={name: [(shard.folder, row.number) for shard, row in rows[name]] for name in names},
    )  # fmt: skip
