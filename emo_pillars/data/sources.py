"""Read and validate the inputs of the dataset: a generator output folder or the published Hub layout.

Two layouts are understood (:func:`detect_layout`):

* ``generated``: what :class:`~emo_pillars.generation.pipeline.EmoPillarsGenerator` writes (``context_less.jsonl``,
  ``contextual.jsonl``, ``run.json``; see ``docs/CONTRACTS.md``). Rows are validated strictly: a malformed line or a
  label outside the 28 classes is an :class:`~emo_pillars.errors.InputError` naming file, line and field (or, with
  ``skip_invalid``, a skipped row counted in :class:`SourceReport`).
* ``published``: the layout of ``alex-shvets/EmoPillars`` on the Hub (``context-less/{train,dev,test}.jsonl`` with
  columns ``plot_id, utterance, primary_emotion, all_emotions, all_emotions_mapped, raw_emotion_explication,
  expressiveness, emotions_used_to_generate_context, labels``). Its label columns hold some junk (character names,
  ``"plot"``, out-of-range indices): each such entry is dropped and counted, never loaded.

Every row comes out in the dataset's encoded form (:func:`~emo_pillars.data.features.get_features`): ``labels`` and
``variant`` as class indices, ``emotion_scores`` as 28 floats.

Examples:
    >>> from emo_pillars.data.sources import SourceReport, iter_rows  # doctest: +SKIP
    >>> report = SourceReport("context_less")  # doctest: +SKIP
    >>> rows = list(iter_rows("outputs/run1", "context_less", report=report))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError, InputError
from ..taxonomy import EMOTIONS, NUM_EMOTIONS, label2id
from .features import VARIANTS, check_config

__all__ = [
    "Layout",
    "SourceReport",
    "detect_layout",
    "source_files",
    "iter_rows",
    "parse_generated_row",
    "parse_published_row",
    "PUBLISHED_SPLITS",
]

Layout = Literal["generated", "published", "repository"]
#: Published file stem -> our split name.
PUBLISHED_SPLITS: dict[str, str] = {"train": "train", "dev": "validation", "test": "test"}
_PUBLISHED_FOLDERS = {"context_less": "context-less", "contextual": "contextual"}
_VARIANT_ID = {name: i for i, name in enumerate(VARIANTS)}
_MAX_EXAMPLES = 10


@dataclass
class SourceReport:
    """What reading one config's input found: rows read, kept, skipped (and why), junk labels dropped.

    Attributes:
        config: The config the rows were read for.
        files: The files read.
        rows_read: Non-blank lines read.
        rows_kept: Rows that became examples.
        skipped: Rows skipped as invalid (only with ``skip_invalid``, or published rows left with no valid label).
        skip_reasons: Reason -> count.
        skip_examples: The first few skipped rows as ``path:line: message``.
        junk_labels: Label entries outside the taxonomy dropped, per column (published layout only).
        junk_values: The dropped entries themselves -> count.
        rows_without_labels: Rows dropped because their ``labels`` list was empty (no class at or above the
            teacher's threshold): an example with no label teaches nothing, so it is counted, never kept.
    """

    config: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    skipped: int = 0
    skip_reasons: Counter = field(default_factory=Counter)
    skip_examples: list[str] = field(default_factory=list)
    junk_labels: Counter = field(default_factory=Counter)
    junk_values: Counter = field(default_factory=Counter)
    rows_without_labels: int = 0

    def skip(self, error: InputError) -> None:
        """Count one skipped row."""
        self.skipped += 1
        self.skip_reasons[error.field or "json"] += 1
        if len(self.skip_examples) < _MAX_EXAMPLES:
            self.skip_examples.append(str(error))

    def junk(self, column: str, value: Any) -> None:
        """Count one label entry dropped from ``column``."""
        self.junk_labels[column] += 1
        self.junk_values[repr(value)[:60]] += 1

    @property
    def junk_total(self) -> int:
        return sum(self.junk_labels.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the card and ``build_info.json`` use it)."""
        return {
            "config": self.config,
            "files": list(self.files),
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "skipped": self.skipped,
            "skip_reasons": dict(self.skip_reasons),
            "skip_examples": list(self.skip_examples),
            "junk_labels": dict(self.junk_labels),
            "junk_values": dict(self.junk_values.most_common(20)),
            "rows_without_labels": self.rows_without_labels,
        }


# --------------------------------------------------------------------------------------------------------------------
# Layouts and files
# --------------------------------------------------------------------------------------------------------------------
def detect_layout(path: str | os.PathLike) -> Layout:
    """Tell what a folder holds: ``generated`` output, the ``published`` layout, or a built ``repository``.

    Raises:
        InputError: If ``path`` is not a folder or holds none of the three.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError("not a folder", path=root)
    if any((root / f"{c}.jsonl").is_file() for c in ("context_less", "contextual")):
        return "generated"
    if any((root / folder).is_dir() for folder in _PUBLISHED_FOLDERS.values() if folder != "contextual") or any(
        (root / "contextual" / f"{stem}.jsonl").is_file() for stem in PUBLISHED_SPLITS
    ):
        return "published"
    readme = root / "README.md"
    if (readme.is_file() and "configs:" in readme.read_text(encoding="utf-8", errors="replace")) or any(
        root.glob("*/*.parquet")
    ):
        return "repository"
    raise InputError(
        "holds no Emo Pillars data: expected context_less.jsonl/contextual.jsonl (generator output), "
        "context-less/{train,dev,test}.jsonl (published layout) or a dataset repository (README.md + Parquet)",
        path=root,
    )


def source_files(path: str | os.PathLike, config: str, layout: Layout | None = None) -> list[tuple[str | None, Path]]:
    """The input files of one config: ``(split, path)`` pairs; ``split`` is ``None`` where the splits are ours to make.

    Raises:
        InputError: If the config's file(s) do not exist.
    """
    config = check_config(config)
    root = Path(path)
    layout = layout or detect_layout(root)
    if layout == "generated":
        file = root / f"{config}.jsonl"
        if not file.is_file():
            raise InputError(f"no {config}.jsonl in the generator output folder", path=root)
        return [(None, file)]
    if layout == "published":
        if config == "contextual":
            raise ConfigError(
                "the published layout documents the context-less subset only; build the contextual config from a "
                "generator output folder"
            )
        folder = root / _PUBLISHED_FOLDERS[config]
        files = [(split, folder / f"{stem}.jsonl") for stem, split in PUBLISHED_SPLITS.items()]
        files = [(split, f) for split, f in files if f.is_file()]
        if not files:
            raise InputError(f"no {{train,dev,test}}.jsonl in {folder.name}/ of the published layout", path=root)
        return files
    raise InputError("a built dataset repository is loaded with datasets.load_dataset, not read row by row", path=root)


# --------------------------------------------------------------------------------------------------------------------
# Row parsing
# --------------------------------------------------------------------------------------------------------------------
def _string(obj: dict, key: str, where: dict, *, allow_empty: bool = False) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        what = "missing" if key not in obj else f"must be a string, got {type(value).__name__}"
        raise InputError(what, field=key, **where)
    if not allow_empty and not value.strip():
        raise InputError("is empty", field=key, **where)
    return value


def _score(value: Any, key: str, where: dict) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 <= value <= 1:
        raise InputError(f"score {value!r} is not a number in [0, 1]", field=key, **where)
    return float(value)


def parse_generated_row(obj: Any, config: str, *, path: str | None = None, line: int | None = None) -> dict[str, Any]:
    """Validate one object of ``context_less.jsonl``/``contextual.jsonl`` and encode it as a dataset row.

    Args:
        obj: The parsed JSON object.
        config: ``"context_less"`` or ``"contextual"``.
        path: The file, for error messages.
        line: The 1-based line, for error messages.

    Returns:
        The row: the config's columns, ``labels``/``variant`` as indices, ``emotion_scores`` as 28 floats.

    Raises:
        InputError: With ``path``, ``line`` and ``field`` set, for a missing or mistyped key, a label or score name
            outside the 28 classes, or a score outside [0, 1].
    """
    where = {"path": path, "line": line}
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", **where)
    row: dict[str, Any] = {
        "id": _string(obj, "id", where),
        "plot_id": _string(obj, "plot_id", where),
        "character": _string(obj, "character", where, allow_empty=True),
        "utterance": _string(obj, "utterance", where),
    }
    primary = _string(obj, "primary_emotion", where)
    if primary not in label2id:
        raise InputError(f"{primary!r} is not one of the 28 classes", field="primary_emotion", **where)
    row["primary_emotion"] = primary

    labels = obj.get("labels")
    if not isinstance(labels, list):
        raise InputError("missing or not a list", field="labels", **where)
    encoded: list[int] = []
    for label in labels:
        index = label2id.get(label) if isinstance(label, str) else None
        if index is None:
            raise InputError(f"{label!r} is not one of the 28 classes", field="labels", **where)
        if index not in encoded:
            encoded.append(index)
    row["labels"] = encoded

    pairs = obj.get("emotion_scores", [])
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    if not isinstance(pairs, list):
        raise InputError("must be a list of [emotion, score] pairs", field="emotion_scores", **where)
    scores = [0.0] * NUM_EMOTIONS
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise InputError(f"{pair!r} is not an [emotion, score] pair", field="emotion_scores", **where)
        index = label2id.get(pair[0])
        if index is None:
            raise InputError(f"{pair[0]!r} is not one of the 28 classes", field="emotion_scores", **where)
        scores[index] = max(scores[index], _score(pair[1], "emotion_scores", where))
    row["emotion_scores"] = scores

    if config == "contextual":
        row["context"] = _string(obj, "context", where)
        variant = obj.get("variant")
        if variant not in _VARIANT_ID:
            raise InputError(f"{variant!r} is not one of {list(VARIANTS)}", field="variant", **where)
        row["variant"] = _VARIANT_ID[variant]
        row["source_utterance"] = _string(obj, "source_utterance", where)
    return row


def _published_label(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < NUM_EMOTIONS else None
    if isinstance(value, float) and value.is_integer():
        return int(value) if 0 <= value < NUM_EMOTIONS else None
    if isinstance(value, str):
        return label2id.get(value.strip().lower())
    return None


def parse_published_row(
    obj: Any, split: str, report: SourceReport, *, path: str | None = None, line: int | None = None
) -> dict[str, Any]:
    """Encode one row of the published layout, dropping (and counting in ``report``) label entries outside the taxonomy.

    ``labels`` entries may be class indices or class names; ``all_emotions_mapped`` gives the scores as
    ``[emotion, score]`` pairs. The published files have no ``id`` or ``character``: ``id`` becomes
    ``"{split}-{line:07d}"`` and ``character`` is empty unless the row has one.

    Raises:
        InputError: If the row is not an object, lacks its text, or keeps no label from the taxonomy.
    """
    where = {"path": path, "line": line}
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", **where)
    plot_id = obj.get("plot_id")
    if isinstance(plot_id, bool) or not isinstance(plot_id, (str, int)) or str(plot_id).strip() == "":
        raise InputError("missing or not a string/integer", field="plot_id", **where)
    row: dict[str, Any] = {
        "id": obj["id"] if isinstance(obj.get("id"), str) and obj["id"] else f"{split}-{line or 0:07d}",
        "plot_id": str(plot_id),
        "character": obj["character"] if isinstance(obj.get("character"), str) else "",
        "utterance": _string(obj, "utterance", where),
    }

    labels: list[int] = []
    raw_labels = obj.get("labels")
    for value in raw_labels if isinstance(raw_labels, list) else ([] if raw_labels is None else [raw_labels]):
        index = _published_label(value)
        if index is None:
            report.junk("labels", value)
        elif index not in labels:
            labels.append(index)

    scores = [0.0] * NUM_EMOTIONS
    mapped = obj.get("all_emotions_mapped")
    for pair in mapped if isinstance(mapped, list) else []:
        ok = isinstance(pair, (list, tuple)) and len(pair) == 2
        index = _published_label(pair[0]) if ok and isinstance(pair[0], str) else None
        value = pair[1] if ok else None
        if index is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            report.junk("all_emotions_mapped", pair[0] if ok else pair)
            continue
        scores[index] = max(scores[index], float(value))

    primary = obj.get("primary_emotion")
    primary_index = _published_label(primary) if isinstance(primary, str) else None
    if primary_index is None:
        report.junk("primary_emotion", primary)
        if not labels:
            raise InputError("no label from the 28 classes is left once junk is dropped", field="labels", **where)
        primary_index = labels[0]
    if not labels:
        raise InputError("no label from the 28 classes is left once junk is dropped", field="labels", **where)
    row["primary_emotion"] = EMOTIONS[primary_index]
    row["labels"] = labels
    row["emotion_scores"] = scores
    return row


# --------------------------------------------------------------------------------------------------------------------
# Iteration
# --------------------------------------------------------------------------------------------------------------------
def iter_rows(
    path: str | os.PathLike,
    config: str,
    *,
    layout: Layout | None = None,
    skip_invalid: bool = False,
    report: SourceReport | None = None,
) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Yield ``(split, row)`` for every valid row of a config's input, in file order.

    ``split`` is the published split (``train``/``validation``/``test``) or ``None`` for generator output, whose
    splits :func:`~emo_pillars.data.splits.assign_splits` makes.

    Args:
        path: The generator output folder or the published-layout folder.
        config: ``"context_less"`` or ``"contextual"``.
        layout: The layout, if known (else detected).
        skip_invalid: Skip and count invalid rows instead of raising.
        report: Filled with counts as rows are read.

    Raises:
        InputError: On the first invalid row (unless ``skip_invalid``); if an id repeats; or if no row is left
            (an empty input is an error, not an empty dataset).
    """
    config = check_config(config)
    layout = layout or detect_layout(path)
    report = report if report is not None else SourceReport(config)
    seen_ids: set[str] = set()
    for split, file in source_files(path, config, layout):
        report.files.append(os.fspath(file))
        name = os.fspath(file)
        with open(file, "rb") as handle:
            for line_no, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                report.rows_read += 1
                try:
                    try:
                        obj = json.loads(raw)
                    except (json.JSONDecodeError, UnicodeDecodeError) as err:
                        raise InputError(f"not valid JSON ({err})", path=name, line=line_no) from None
                    if layout == "published":
                        row = parse_published_row(obj, split or "train", report, path=name, line=line_no)
                    else:
                        row = parse_generated_row(obj, config, path=name, line=line_no)
                    if row["id"] in seen_ids:
                        raise InputError(f"duplicate id {row['id']!r}", path=name, line=line_no, field="id")
                except InputError as err:
                    # Published rows left without any valid label are dropped and counted, like their junk labels.
                    if skip_invalid or (layout == "published" and err.field == "labels"):
                        report.skip(err)
                        continue
                    raise
                seen_ids.add(row["id"])
                if not row["labels"]:
                    report.rows_without_labels += 1
                    continue
                report.rows_kept += 1
                yield split, row
    if report.rows_kept == 0:
        detail = f" ({report.skipped} invalid rows skipped)" if report.skipped else ""
        if report.rows_without_labels:
            detail += f" ({report.rows_without_labels} rows with labels: [] dropped)"
        raise InputError(f"no {config} examples{detail}: an empty input makes no dataset", path=report.files[0])
