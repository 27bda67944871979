"""Read and validate the inputs of the dataset: a generator output folder, the published release, or a copy of it.

Three layouts are read row by row (:func:`detect_layout`):

* ``generated``: what :class:`~emo_pillars.generation.pipeline.EmoPillarsGenerator` writes (``context_less.jsonl``,
  ``contextual.jsonl``, ``run.json``; see ``docs/CONTRACTS.md``). Rows are validated strictly: a malformed line or a
  label outside the 28 classes is an :class:`~emo_pillars.errors.InputError` naming file, line and field (or, with
  ``skip_invalid``, a skipped row counted in :class:`SourceReport`).
* ``published``: the layout of ``alex-shvets/EmoPillars`` on the Hub. The context-less subset is
  ``context-less/{train,dev,test}.jsonl`` with columns ``plot_id, utterance, primary_emotion, all_emotions,
  all_emotions_mapped, raw_emotion_explication, expressiveness, emotions_used_to_generate_context, labels``;
  ``all_emotions`` and ``all_emotions_mapped`` hold ``[name, score]`` pairs. Its label columns hold some junk
  (character names, ``"plot"``, out-of-range indices): each such entry is dropped and counted, never loaded. The
  contextual subset's folder and columns are not documented; the candidates read are listed at
  :data:`CONTEXTUAL_FOLDERS` and :func:`parse_published_contextual_row`.
* ``derived``: a third-party copy of the context-less subset that keeps only a text and its 28 labels (the EmoAxis
  CSV, ``Hidden-States/EmoPillars-Contextless-Processed``); see :mod:`emo_pillars.data.derived`. A row with a bad
  label value or an empty text is dropped and counted; a malformed row (a CSV row with the wrong number of fields,
  a line that is not JSON) is an error naming file, line and field, unless ``skip_invalid``.

The fourth layout, a built ``repository``, is loaded with ``datasets`` (:mod:`emo_pillars.data.load`).

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
from ..taxonomy import EMOTIONS, GOEMOTIONS, NUM_EMOTIONS, Taxonomy, label2id
from ..utils.io import read_jsonl
from .derived import DerivedRecord, derived_files, read_columns, read_derived, shape_of
from .features import CONFIG_NAMES, VARIANTS, check_config

__all__ = [
    "Layout",
    "SourceReport",
    "detect_layout",
    "layout_configs",
    "source_files",
    "iter_rows",
    "parse_generated_row",
    "source_taxonomy",
    "parse_published_row",
    "parse_published_contextual_row",
    "parse_derived_row",
    "PUBLISHED_SPLITS",
    "CONTEXTUAL_FOLDERS",
]

Layout = Literal["generated", "published", "derived", "repository"]
#: Published file stem -> our split name.
PUBLISHED_SPLITS: dict[str, str] = {"train": "train", "dev": "validation", "test": "test"}
#: The folder of the published context-less subset.
CONTEXT_LESS_FOLDER = "context-less"
#: Candidate folders of the published contextual subset, in the order tried. The release does not document it:
#: ``context-full`` is what the release's model cards call it ("EmoPillars' context-full subset"); the others are
#: the plausible spellings.
CONTEXTUAL_FOLDERS: tuple[str, ...] = ("context-full", "contextual", "context-aware", "contextful")
_CLEANED_CONTEXT_KEYS = ("cleaned_context", "context_cleaned")
_REWRITTEN_KEYS = ("rewritten_utterance", "utterance_rewritten")
_CHARACTER_KEYS = ("character", "character_name")
_VARIANT_ID = {name: i for i, name in enumerate(VARIANTS)}
_MAX_EXAMPLES = 10


@dataclass
class SourceReport:
    """What reading one config's input found: rows read, kept, skipped (and why), junk labels dropped.

    Attributes:
        config: The config the rows were read for.
        files: The files read.
        rows_read: Non-blank lines (rows) read.
        rows_kept: Rows that became examples (a published contextual row can give two: original and rewritten).
        skipped: Rows skipped as invalid (only with ``skip_invalid``, or published rows left with no valid label,
            or derived rows with a bad label value or an empty text).
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

    def __repr__(self) -> str:
        return (
            f"SourceReport({self.config}: {self.rows_kept:,} of {self.rows_read:,} rows kept, {self.skipped:,} "
            f"skipped, {self.junk_total:,} junk labels dropped)"
        )

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
def _published_files(folder: Path) -> list[tuple[str, Path]]:
    files = [(split, folder / f"{stem}.jsonl") for stem, split in PUBLISHED_SPLITS.items()]
    return [(split, f) for split, f in files if f.is_file()]


def _contextual_folder(root: Path) -> Path | None:
    """The first of :data:`CONTEXTUAL_FOLDERS` that holds a ``{train,dev,test}.jsonl``."""
    return next((root / name for name in CONTEXTUAL_FOLDERS if _published_files(root / name)), None)


def _is_derived(root: Path) -> bool:
    return any(shape_of(read_columns(file)) is not None for _, file in derived_files(root))


def detect_layout(path: str | os.PathLike) -> Layout:
    """Tell what a folder holds: ``generated`` output, the ``published`` release, a ``derived`` copy, a ``repository``.

    ``published``: a ``context-less/`` folder, or one of :data:`CONTEXTUAL_FOLDERS` holding a split file.
    ``derived``: a split file (:func:`~emo_pillars.data.derived.derived_files`) whose columns are a text plus
    ``labels`` or 28 binary columns; this is checked before ``repository``, since a Hub copy has a card with
    ``configs:`` and Parquet files too.

    Raises:
        InputError: If ``path`` is not a folder or holds none of the four.

    Examples:
        >>> detect_layout("outputs/run1")  # doctest: +SKIP
        'generated'
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError("not a folder", path=root)
    if any((root / f"{c}.jsonl").is_file() for c in CONFIG_NAMES):
        return "generated"
    if (root / CONTEXT_LESS_FOLDER).is_dir() or _contextual_folder(root) is not None:
        return "published"
    if _is_derived(root):
        return "derived"
    readme = root / "README.md"
    if (readme.is_file() and "configs:" in readme.read_text(encoding="utf-8", errors="replace")) or any(
        root.glob("*/*.parquet")
    ):
        return "repository"
    raise InputError(
        "holds no Emo Pillars data: expected context_less.jsonl/contextual.jsonl (generator output), "
        "context-less/{train,dev,test}.jsonl (published layout), train/validation/test .csv/.jsonl/.parquet files "
        "with text and 28 labels (a derived copy) or a dataset repository (README.md + Parquet)",
        path=root,
    )


def layout_configs(path: str | os.PathLike, layout: Layout) -> list[str]:
    """The configs a generator output folder, published release or derived copy has input for.

    Examples:
        >>> layout_configs("EmoPillars", "published")  # doctest: +SKIP
        ['context_less', 'contextual']
    """
    root = Path(path)
    if layout == "generated":
        return [c for c in CONFIG_NAMES if (root / f"{c}.jsonl").is_file()]
    if layout == "derived":
        return ["context_less"]
    found = [_published_files(root / CONTEXT_LESS_FOLDER), _contextual_folder(root)]
    return [c for c, files in zip(CONFIG_NAMES, found) if files]


def source_files(path: str | os.PathLike, config: str, layout: Layout | None = None) -> list[tuple[str | None, Path]]:
    """The input files of one config: ``(split, path)`` pairs; ``split`` is ``None`` where the splits are ours to make.

    The published contextual subset is read from the first of :data:`CONTEXTUAL_FOLDERS` that holds a
    ``{train,dev,test}.jsonl`` (the release does not document its folder).

    Raises:
        InputError: If the config's file(s) do not exist.
        ConfigError: For the contextual config of a release without a contextual folder, or of a derived copy.

    Examples:
        >>> source_files("EmoPillars", "context_less")  # doctest: +SKIP
        [('train', PosixPath('EmoPillars/context-less/train.jsonl')), ...]
    """
    config = check_config(config)
    root = Path(path)
    layout = layout or detect_layout(root)
    if layout == "generated":
        file = root / f"{config}.jsonl"
        if not file.is_file():
            raise InputError(f"no {config}.jsonl in the generator output folder", path=root)
        return [(None, file)]
    if layout == "derived":
        if config == "contextual":
            raise ConfigError("a derived copy (a text and 28 labels) holds the context-less subset only: no context")
        files = derived_files(root)
        if not files:
            raise InputError("no train/validation/dev/test .csv/.jsonl/.parquet file here or under data/", path=root)
        return list(files)
    if layout == "published":
        return _published_source(root, config)
    raise InputError("a built dataset repository is loaded with datasets.load_dataset, not read row by row", path=root)


def _published_source(root: Path, config: str) -> list[tuple[str | None, Path]]:
    if config == "contextual":
        folder = _contextual_folder(root)
        if folder is None:
            folders = ", ".join(f"{name}/" for name in CONTEXTUAL_FOLDERS)
            raise ConfigError(f"this published layout has no contextual subset: none of {folders} holds "
                              "{train,dev,test}.jsonl")  # fmt: skip
        return list(_published_files(folder))
    folder = root / CONTEXT_LESS_FOLDER
    files = _published_files(folder)
    if not files:
        raise InputError(f"no {{train,dev,test}}.jsonl in {folder.name}/ of the published layout", path=root)
    return list(files)


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


def source_taxonomy(path: str | os.PathLike, layout: Layout | None = None) -> Taxonomy:
    """The taxonomy of an input: a generator folder's ``run.json`` names it; the release and its copies keep the 28.

    Raises:
        InputError: ``run.json`` is not JSON or records an invalid taxonomy (file and field named).
    """
    root = Path(path)
    layout = layout or detect_layout(root)
    run_file = root / "run.json"
    if layout != "generated" or not run_file.is_file():
        return GOEMOTIONS
    try:
        recorded = json.loads(run_file.read_text(encoding="utf-8")).get("config", {}).get("taxonomy")
    except (OSError, ValueError, AttributeError) as err:
        raise InputError(f"cannot read its taxonomy ({err})", path=run_file) from None
    if not recorded:
        return GOEMOTIONS  # a run from before taxonomies: the 28 classes
    try:
        return Taxonomy.from_dict(recorded)
    except InputError as err:
        raise InputError(err.message, path=run_file, field=f"config.taxonomy.{err.field}") from None


def parse_generated_row(
    obj: Any, config: str, *, path: str | None = None, line: int | None = None, taxonomy: Taxonomy | None = None
) -> dict[str, Any]:
    """Validate one object of ``context_less.jsonl``/``contextual.jsonl`` and encode it as a dataset row.

    Args:
        obj: The parsed JSON object.
        config: ``"context_less"`` or ``"contextual"``.
        path: The file, for error messages.
        line: The 1-based line, for error messages.
        taxonomy: The run's labels (default: the 28 GoEmotions classes).

    Returns:
        The row: the config's columns, ``labels``/``variant`` as indices, ``emotion_scores`` as one float per label.

    Raises:
        InputError: With ``path``, ``line`` and ``field`` set, for a missing or mistyped key, a label or score name
            outside the taxonomy, or a score outside [0, 1].
    """
    taxonomy = taxonomy or GOEMOTIONS
    ids = taxonomy.label2id
    outside = "one of the 28 classes" if taxonomy is GOEMOTIONS else f"a label of taxonomy {taxonomy.name!r}"
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
    if primary not in ids:
        raise InputError(f"{primary!r} is not {outside}", field="primary_emotion", **where)
    row["primary_emotion"] = primary

    labels = obj.get("labels")
    if not isinstance(labels, list):
        raise InputError("missing or not a list", field="labels", **where)
    encoded: list[int] = []
    for label in labels:
        index = ids.get(label) if isinstance(label, str) else None
        if index is None:
            raise InputError(f"{label!r} is not {outside}", field="labels", **where)
        if index not in encoded:
            encoded.append(index)
    row["labels"] = encoded

    pairs = obj.get("emotion_scores", [])
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    if not isinstance(pairs, list):
        raise InputError("must be a list of [emotion, score] pairs", field="emotion_scores", **where)
    scores = [0.0] * len(ids)
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise InputError(f"{pair!r} is not an [emotion, score] pair", field="emotion_scores", **where)
        index = ids.get(pair[0])
        if index is None:
            raise InputError(f"{pair[0]!r} is not {outside}", field="emotion_scores", **where)
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


def _published_labels(obj: dict, report: SourceReport) -> list[int]:
    labels: list[int] = []
    raw_labels = obj.get("labels")
    for value in raw_labels if isinstance(raw_labels, list) else ([] if raw_labels is None else [raw_labels]):
        index = _published_label(value)
        if index is None:
            report.junk("labels", value)
        elif index not in labels:
            labels.append(index)
    return labels


def _published_scores(obj: dict, report: SourceReport) -> list[float]:
    """28 scores from the ``[name, score]`` pairs of ``all_emotions_mapped``, else of ``all_emotions``."""
    column = "all_emotions_mapped" if isinstance(obj.get("all_emotions_mapped"), list) else "all_emotions"
    pairs = obj.get(column)
    scores = [0.0] * NUM_EMOTIONS
    for pair in pairs if isinstance(pairs, list) else []:
        ok = isinstance(pair, (list, tuple)) and len(pair) == 2
        index = _published_label(pair[0]) if ok and isinstance(pair[0], str) else None
        value = pair[1] if ok else None
        if index is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            report.junk(column, pair[0] if ok else pair)
            continue
        scores[index] = max(scores[index], float(value))
    return scores


def parse_published_row(
    obj: Any, split: str, report: SourceReport, *, path: str | None = None, line: int | None = None
) -> dict[str, Any]:
    """Encode one row of the published layout, dropping (and counting in ``report``) label entries outside the taxonomy.

    ``labels`` entries may be class indices or class names. The scores are the ``[name, score]`` pairs of
    ``all_emotions_mapped`` (names mapped to the 28 classes), or of ``all_emotions`` where a row has no
    ``all_emotions_mapped``; a pair whose name is not one of the 28 classes (a character's name, ``"plot"``) or whose
    score is not in [0, 1] is junk. The published files have no ``id``: it becomes ``"{split}-{line:07d}"``;
    ``character`` (or ``character_name``) is empty unless the row has one.

    Raises:
        InputError: If the row is not an object, lacks its text, or keeps no label from the taxonomy.

    Examples:
        >>> row = {"plot_id": 7, "utterance": "At last!", "primary_emotion": "relief", "labels": [23, "Eleanor"],
        ...        "all_emotions": [["relief", 0.8], ["Eleanor", 0.3]]}
        >>> report = SourceReport("context_less")
        >>> encoded = parse_published_row(row, "train", report, line=3)
        >>> encoded["id"], encoded["labels"], encoded["emotion_scores"][23], dict(report.junk_labels)
        ('train-0000003', [23], 0.8, {'labels': 1, 'all_emotions': 1})
    """
    where = {"path": path, "line": line}
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", **where)
    plot_id = obj.get("plot_id")
    if isinstance(plot_id, bool) or not isinstance(plot_id, (str, int)) or str(plot_id).strip() == "":
        raise InputError("missing or not a string/integer", field="plot_id", **where)
    character = next((obj[k] for k in _CHARACTER_KEYS if isinstance(obj.get(k), str)), "")
    row: dict[str, Any] = {
        "id": obj["id"] if isinstance(obj.get("id"), str) and obj["id"] else f"{split}-{line or 0:07d}",
        "plot_id": str(plot_id),
        "character": character,
        "utterance": _string(obj, "utterance", where),
    }
    labels = _published_labels(obj, report)
    scores = _published_scores(obj, report)
    primary = obj.get("primary_emotion")
    primary_index = _published_label(primary) if isinstance(primary, str) else None
    if primary_index is None:
        report.junk("primary_emotion", primary)
    if not labels:
        raise InputError("no label from the 28 classes is left once junk is dropped", field="labels", **where)
    row["primary_emotion"] = EMOTIONS[labels[0] if primary_index is None else primary_index]
    row["labels"] = labels
    row["emotion_scores"] = scores
    return row


def _optional_text(obj: dict, keys: tuple[str, ...], where: dict) -> str | None:
    """The first of ``keys`` the row has (not null) as text, ``None`` when absent or blank."""
    key = next((k for k in keys if obj.get(k) is not None), None)
    if key is None:
        return None
    if not isinstance(obj[key], str):
        raise InputError(f"must be a string, got {type(obj[key]).__name__}", field=key, **where)
    return obj[key] if obj[key].strip() else None


def parse_published_contextual_row(
    obj: Any, split: str, report: SourceReport, *, path: str | None = None, line: int | None = None
) -> list[dict[str, Any]]:
    """Encode one row of the published contextual subset as one or two examples (original, rewritten).

    The release does not document this subset's columns; these candidates are read. The label columns are the
    context-less ones (:func:`parse_published_row`: ``labels``, ``all_emotions_mapped`` or ``all_emotions``,
    ``primary_emotion``, ``plot_id``), plus ``utterance``, a context (``context``, ``cleaned_context`` or
    ``context_cleaned``), optionally a rewritten utterance (``rewritten_utterance`` or ``utterance_rewritten``) and a
    character (``character`` or ``character_name``). The paper's two variants follow:

    * ``original`` (COrig): the utterance with ``context`` (the cleaned context where the row has no ``context``);
      id ``"{split}-{line:07d}-orig"``.
    * ``rewritten`` (CRewr), only where the row has a rewritten utterance: it, with the cleaned context if the row
      has one, else the context; id ``"{split}-{line:07d}-rewr"``.

    Both carry the row's labels and scores, and the original utterance as ``source_utterance``.

    Raises:
        InputError: As :func:`parse_published_row`, and for a row without a context (field ``context``: missing,
            not a string or empty) or with a non-string rewritten utterance or cleaned context.

    Examples:
        >>> row = {"plot_id": 7, "utterance": "So it was him.", "context": "Ida finds the letter.",
        ...        "rewritten_utterance": "So it was.", "primary_emotion": "realization", "labels": [22]}
        >>> [(r["id"], r["variant"], r["context"]) for r in parse_published_contextual_row(
        ...     row, "test", SourceReport("contextual"), line=1)]
        [('test-0000001-orig', 0, 'Ida finds the letter.'), ('test-0000001-rewr', 1, 'Ida finds the letter.')]
    """
    base = parse_published_row(obj, split, report, path=path, line=line)
    where = {"path": path, "line": line}
    cleaned = _optional_text(obj, _CLEANED_CONTEXT_KEYS, where)
    context = cleaned if obj.get("context") is None and cleaned is not None else _string(obj, "context", where)
    rewritten = _optional_text(obj, _REWRITTEN_KEYS, where)
    source = base["utterance"]
    rows = [{**base, "id": f"{base['id']}-orig", "context": context, "variant": _VARIANT_ID["original"],
             "source_utterance": source}]  # fmt: skip
    if rewritten is not None:
        rows.append({**base, "id": f"{base['id']}-rewr", "utterance": rewritten, "context": cleaned or context,
                     "variant": _VARIANT_ID["rewritten"], "source_utterance": source, "labels": list(base["labels"]),
                     "emotion_scores": list(base["emotion_scores"])})  # fmt: skip
    return rows


def parse_derived_row(record: DerivedRecord, split: str, position: int) -> dict[str, Any]:
    """Encode one good row of a derived copy (:mod:`emo_pillars.data.derived`) as a context-less example.

    A derived copy keeps only a text and its labels, so: ``id`` is ``"{split}-{position:07d}"`` (``position``: the
    1-based row number within the split, shards counted in name order); there is no plot, so ``plot_id`` is the row
    id (a ``resplit`` then splits by row); ``character`` is empty; ``primary_emotion`` is the first label; and there
    are no scores, so ``emotion_scores`` is 1.0 for each label and 0.0 elsewhere.

    Examples:
        >>> row = parse_derived_row(DerivedRecord(2, "He is going to be okay.", (4, 23)), "test", 1)
        >>> row["id"], row["plot_id"], row["primary_emotion"], row["emotion_scores"][23]
        ('test-0000001', 'test-0000001', 'approval', 1.0)
    """
    row_id = f"{split}-{position:07d}"
    labels = list(record.labels)
    return {
        "id": row_id,
        "plot_id": row_id,
        "character": "",
        "utterance": record.text,
        "primary_emotion": EMOTIONS[labels[0]] if labels else "",
        "labels": labels,
        "emotion_scores": [1.0 if i in labels else 0.0 for i in range(NUM_EMOTIONS)],
    }


# --------------------------------------------------------------------------------------------------------------------
# Iteration
# --------------------------------------------------------------------------------------------------------------------
def _records(file: Path, layout: Layout) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` for each non-blank line: a parsed object, a :class:`DerivedRecord`, or an InputError."""
    if layout == "derived":
        yield from ((record.line, record) for record in read_derived(file))
        return
    yield from ((line, obj) for line, _, obj in read_jsonl(file))


def _parse(
    obj: Any, config: str, layout: Layout, split: str | None, report: SourceReport, where: dict, taxonomy: Taxonomy
) -> list[dict]:
    """The example(s) of one record, or the InputError that makes it unusable."""
    if isinstance(obj, InputError):
        raise obj
    if isinstance(obj, DerivedRecord):
        if obj.error is not None:
            raise obj.error
        return [parse_derived_row(obj, split or "train", where["position"])]
    if layout == "published" and config == "contextual":
        return parse_published_contextual_row(obj, split or "train", report, path=where["path"], line=where["line"])
    if layout == "published":
        return [parse_published_row(obj, split or "train", report, path=where["path"], line=where["line"])]
    return [parse_generated_row(obj, config, path=where["path"], line=where["line"], taxonomy=taxonomy)]


def _dropped(err: InputError, obj: Any, layout: Layout) -> bool:
    """Whether an unusable row is dropped and counted whatever ``skip_invalid`` says: published rows left without a
    label once junk is dropped, and derived rows with a bad value (not a malformed row)."""
    if layout == "published":
        return err.field == "labels"
    return isinstance(obj, DerivedRecord) and not obj.broken


def _file_rows(
    file: Path,
    split: str | None,
    config: str,
    layout: Layout,
    skip_invalid: bool,
    report: SourceReport,
    position: int,
    taxonomy: Taxonomy,
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """``(line, examples)`` for each usable record of one file; unusable ones are counted in ``report`` or raised.

    ``position`` is the number of rows of this split read from earlier files (derived ids count on from it).
    """
    name = os.fspath(file)
    for line, obj in _records(file, layout):
        report.rows_read += 1
        position += 1
        try:
            where = {"path": name, "line": line, "position": position}
            rows = _parse(obj, config, layout, split, report, where, taxonomy)
        except InputError as err:
            if skip_invalid or _dropped(err, obj, layout):
                report.skip(err)
                continue
            raise
        yield line, rows


def iter_rows(
    path: str | os.PathLike,
    config: str,
    *,
    layout: Layout | None = None,
    skip_invalid: bool = False,
    report: SourceReport | None = None,
    taxonomy: Taxonomy | None = None,
) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Yield ``(split, row)`` for every valid row of a config's input, in file order.

    ``split`` is the published or derived split (``train``/``validation``/``test``) or ``None`` for generator output,
    whose splits :func:`~emo_pillars.data.splits.assign_splits` makes. A published contextual row yields two rows
    where it has a rewritten utterance (:func:`parse_published_contextual_row`).

    Args:
        path: The generator output folder, the published-layout folder or the derived copy's folder.
        config: ``"context_less"`` or ``"contextual"``.
        layout: The layout, if known (else detected).
        skip_invalid: Skip and count invalid rows instead of raising.
        report: Filled with counts as rows are read.
        taxonomy: The labels rows are read against (default: :func:`source_taxonomy`).

    Raises:
        InputError: On the first invalid row (unless ``skip_invalid``); if an id repeats; or if no row is left
            (an empty input is an error, not an empty dataset).

    Examples:
        >>> next(iter_rows("EmoPillars", "contextual"))[1]["variant"]  # doctest: +SKIP
        0
    """
    config = check_config(config)
    layout = layout or detect_layout(path)
    report = report if report is not None else SourceReport(config)
    taxonomy = taxonomy or source_taxonomy(path, layout)
    seen_ids: set[str] = set()
    positions: Counter = Counter()
    for split, file in source_files(path, config, layout):
        report.files.append(os.fspath(file))
        rows_before = report.rows_read
        for line, rows in _file_rows(file, split, config, layout, skip_invalid, report, positions[split], taxonomy):
            kept = False
            for row in rows:
                if row["id"] in seen_ids:
                    err = InputError(f"duplicate id {row['id']!r}", path=os.fspath(file), line=line, field="id")
                    if not skip_invalid:
                        raise err
                    report.skip(err)
                    continue
                seen_ids.add(row["id"])
                if not row["labels"]:
                    report.rows_without_labels += 1
                    continue
                kept = True
                yield split, row
            report.rows_kept += int(kept)
        positions[split] += report.rows_read - rows_before
    if report.rows_kept == 0:
        detail = f" ({report.skipped} invalid rows skipped)" if report.skipped else ""
        if report.rows_without_labels:
            detail += f" ({report.rows_without_labels} rows with labels: [] dropped)"
        raise InputError(f"no {config} examples{detail}: an empty input makes no dataset", path=report.files[0])
