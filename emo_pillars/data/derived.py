"""Third-party copies of the context-less release (the ``derived`` layout): a text and its 28 labels, nothing more.

Copies of ``alex-shvets/EmoPillars`` made by others keep only the text and the labels, for example the Hub dataset
``Hidden-States/EmoPillars-Contextless-Processed`` (``text`` plus ``labels`` as a 28-long multi-hot list, Parquet
shards such as ``data/train-00000-of-00001.parquet``) and the EmoAxis CSV (``text,0,1,...,27``: 28 binary columns
named by GoEmotions class id). What is understood:

* **Files** named by split: the name starts with ``train``, ``validation``, ``dev`` (read as validation) or
  ``test``, ends in ``.csv``, ``.jsonl`` or ``.parquet``, and lies at the folder's root or, where the root has
  none, under ``data/``. Several files of one split (shards) are read in name order.
* **Columns**: ``text`` (or ``utterance``), plus either 28 binary columns (named ``"0"`` to ``"27"``, the
  GoEmotions ids, or by the 28 class names) or ``labels``: a list of class ids (0-27) or a 28-long multi-hot list
  of 0/1 (told apart per file, from its first rows). Other columns are ignored.

:func:`read_derived` yields every row of one file as a :class:`DerivedRecord`: a text and its label ids, or the
reason the row cannot be used. A *bad* row (a label value other than 0/1, an id out of range, a multi-hot list of
the wrong length, an empty text) is meant to be dropped and counted; a *broken* one (a CSV row with the wrong number
of fields, a line that is not a JSON object) is an error naming file, line and field. The line is the file's
physical line (CSV: the header is line 1), or the 1-based row number of a Parquet file.

Examples:
    >>> split_of("train-00000-of-00001.parquet"), split_of("dev.csv"), split_of("testimonials.csv")
    ('train', 'validation', None)
    >>> shape_of(["text", *map(str, range(28))]).binary[:2]
    ('0', '1')
    >>> shape_of(["utterance", "labels"]).binary is None
    True
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import chain, islice
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..taxonomy import EMOTIONS, NUM_EMOTIONS
from ..utils.io import read_jsonl

__all__ = ["DERIVED_SPLITS", "DerivedRecord", "DerivedShape", "derived_files", "read_derived", "shape_of", "split_of"]

#: File-name prefix -> our split name.
DERIVED_SPLITS: dict[str, str] = {"train": "train", "validation": "validation", "dev": "validation", "test": "test"}
_SUFFIXES = (".csv", ".jsonl", ".parquet")
_SPLIT_NAME = re.compile(r"^(train|validation|dev|test)(?![a-z])")
_SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}
_TEXT_COLUMNS = ("text", "utterance")
_SAMPLE_ROWS = 100
_FLAGS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


@dataclass(frozen=True)
class DerivedShape:
    """Where a derived file keeps its text and labels.

    Attributes:
        text: The text column (``text`` or ``utterance``).
        binary: The 28 binary label columns in class-index order, or ``None`` when the labels are a ``labels`` list.
        multi_hot: For a ``labels`` list: whether it is a 28-long 0/1 list (else a list of class ids).

    Examples:
        >>> DerivedShape("text", None, multi_hot=True).multi_hot
        True
    """

    text: str
    binary: tuple[str, ...] | None
    multi_hot: bool = False


@dataclass(frozen=True)
class DerivedRecord:
    """One row of a derived file: its text and label ids, or why it cannot be used.

    Attributes:
        line: The file's line (CSV, JSONL) or 1-based row number (Parquet).
        text: The text (empty when ``error`` is set).
        labels: Class ids in class-index order (binary columns) or as listed; may be empty (no label set).
        error: Why the row cannot be used, naming file, line and field; ``None`` for a good row.
        broken: ``True`` when the row itself is malformed (the file is damaged there), ``False`` for a well-formed
            row whose values are bad.

    Examples:
        >>> DerivedRecord(2, "I lost the keys again.", (3, 9)).error is None
        True
    """

    line: int
    text: str = ""
    labels: tuple[int, ...] = ()
    error: InputError | None = None
    broken: bool = False


def split_of(name: str | os.PathLike) -> str | None:
    """The split a file's name gives (``train``, ``validation`` or ``test``), or ``None`` for a name without one."""
    match = _SPLIT_NAME.match(Path(name).name.lower())
    return DERIVED_SPLITS[match.group(1)] if match else None


def derived_files(root: str | os.PathLike) -> list[tuple[str, Path]]:
    """``(split, path)`` for the split files at ``root`` (else under ``root/data``), in split then name order.

    Raises:
        InputError: If one split has files of two formats (``train.csv`` and ``train.parquet``): which is meant?
    """
    for folder in (Path(root), Path(root) / "data"):
        if not folder.is_dir():
            continue
        found = [
            (split, p)
            for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix.lower() in _SUFFIXES and (split := split_of(p)) is not None
        ]
        if found:
            _check_one_format(found, folder)
            return sorted(found, key=lambda pair: (_SPLIT_ORDER[pair[0]], pair[1].name))
    return []


def _check_one_format(found: list[tuple[str, Path]], folder: Path) -> None:
    for split in _SPLIT_ORDER:
        suffixes = sorted({p.suffix.lower() for s, p in found if s == split})
        if len(suffixes) > 1:
            raise InputError(f"the {split} split is there as {' and '.join(suffixes)} files: keep one", path=folder)


def read_columns(file: str | os.PathLike) -> list[str]:
    """The column names of a derived file: the CSV header, the keys of the first JSON object, the Parquet schema.

    Raises:
        InputError: For a Parquet file that does not read, or a file that cannot be decoded.
    """
    path = Path(file)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as err:  # noqa: BLE001 - any reader failure is one damaged file: one line
            raise InputError(f"not a readable Parquet file ({type(err).__name__})", path=path) from None
    if suffix == ".csv":
        try:
            return next(csv.reader(_text_lines(path)), [])
        except csv.Error as err:
            raise InputError(f"the CSV header does not read ({err})", path=path, line=1) from None
    with open(path, "rb") as handle:
        for raw in islice((raw for raw in handle if raw.strip()), 20):
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict):
                return list(obj)
    return []


def shape_of(columns: list[str]) -> DerivedShape | None:
    """Where the text and labels are among ``columns``, or ``None`` when they are not a derived copy's.

    A file with an ``emotion_scores`` column is one of our own built tables, never a derived copy.
    """
    text = next((c for c in _TEXT_COLUMNS if c in columns), None)
    if text is None or "emotion_scores" in columns:
        return None
    by_id = tuple(str(i) for i in range(NUM_EMOTIONS))
    if all(c in columns for c in by_id):
        return DerivedShape(text, by_id)
    lower = {c.lower(): c for c in columns if isinstance(c, str)}
    if all(name in lower for name in EMOTIONS):
        return DerivedShape(text, tuple(lower[name] for name in EMOTIONS))
    return DerivedShape(text, None) if "labels" in columns else None


# --------------------------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------------------------
def _text_lines(path: Path) -> Iterator[str]:
    """The file's lines as UTF-8 text (a byte-order mark dropped); undecodable bytes are an error naming the line."""
    with open(path, "rb") as handle:
        for line, raw in enumerate(handle, 1):
            try:
                yield raw.decode("utf-8-sig" if line == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"not UTF-8 text ({err.reason} at byte {err.start})", path=path, line=line) from None


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    name = os.fspath(path)
    reader = csv.reader(_text_lines(path))
    try:
        header = next(reader, [])
        end = reader.line_num
        for record in reader:
            line, end = end + 1, reader.line_num
            if not record:
                continue
            if len(record) == len(header):
                yield line, dict(zip(header, record))
                continue
            yield line, _field_count_error(record, header, name, line)
    except csv.Error as err:
        raise InputError(f"the CSV does not read ({err})", path=name, line=reader.line_num + 1) from None


def _field_count_error(record: list[str], header: list[str], path: str, line: int) -> InputError:
    counts = f"the row has {len(record)} fields, the header {len(header)}"
    if len(record) < len(header):
        return InputError(f"missing ({counts})", path=path, line=line, field=header[len(record)])
    return InputError(
        f"followed by extra fields ({counts}; an unquoted comma?)", path=path, line=line, field=header[-1]
    )


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    for line, _, obj in read_jsonl(path):
        if isinstance(obj, dict | InputError):
            yield line, obj
        else:
            yield line, InputError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=line)


def _parquet_records(path: Path, columns: list[str]) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    import pyarrow.parquet as pq

    line = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000, columns=columns):
            for record in batch.to_pylist():
                line += 1
                yield line, record
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid/ArrowIOError derive from these
        raise InputError(f"not a readable Parquet file ({type(err).__name__})", path=path, line=line + 1) from None


def _records(path: Path, shape: DerivedShape) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_records(path)
    if suffix == ".jsonl":
        return _jsonl_records(path)
    return _parquet_records(path, [shape.text, *(shape.binary or ("labels",))])


# --------------------------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------------------------
def _flag(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        return _FLAGS.get(value.strip().lower())
    return None


def _is_multi_hot(value: Any) -> bool:
    return isinstance(value, list) and len(value) == NUM_EMOTIONS and all(_flag(v) is not None for v in value)


def _guess_multi_hot(head: list[tuple[int, Any]]) -> bool:
    """Whether a file's ``labels`` lists are multi-hot: most of its first rows' lists are 28 entries of 0/1."""
    lists = [r["labels"] for _, r in head if isinstance(r, dict) and isinstance(r.get("labels"), list)]
    return sum(_is_multi_hot(v) for v in lists) * 2 > len(lists)


def _binary_labels(record: dict[str, Any], columns: tuple[str, ...], where: dict) -> tuple[int, ...]:
    labels = []
    for index, column in enumerate(columns):
        flag = _flag(record.get(column))
        if flag is None:
            raise InputError(f"label value {record.get(column)!r} is not 0 or 1", field=column, **where)
        if flag:
            labels.append(index)
    return tuple(labels)


def _list_labels(value: Any, multi_hot: bool, where: dict) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise InputError(f"must be a list, got {type(value).__name__}", field="labels", **where)
    if multi_hot:
        if len(value) != NUM_EMOTIONS:
            raise InputError(f"a multi-hot list of {len(value)} entries, not {NUM_EMOTIONS}", field="labels", **where)
        flags = [_flag(v) for v in value]
        bad = next((v for v, f in zip(value, flags) if f is None), None)
        if bad is not None:
            raise InputError(f"label value {bad!r} is not 0 or 1", field="labels", **where)
        return tuple(i for i, f in enumerate(flags) if f)
    labels: list[int] = []
    for v in value:
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and float(v).is_integer()
        if not (ok and 0 <= v < NUM_EMOTIONS):
            raise InputError(f"class id {v!r} is not an integer in 0-{NUM_EMOTIONS - 1}", field="labels", **where)
        if int(v) not in labels:
            labels.append(int(v))
    return tuple(labels)


def _decode(record: dict[str, Any], shape: DerivedShape, where: dict) -> tuple[str, tuple[int, ...]]:
    text = record.get(shape.text)
    if not isinstance(text, str) or not text.strip():
        what = "is empty" if isinstance(text, str) else f"must be a string, got {type(text).__name__}"
        raise InputError(what, field=shape.text, **where)
    if shape.binary is not None:
        return text, _binary_labels(record, shape.binary, where)
    return text, _list_labels(record.get("labels"), shape.multi_hot, where)


def read_derived(file: str | os.PathLike) -> Iterator[DerivedRecord]:
    """Every non-blank row of one derived file, in order, as a :class:`DerivedRecord`.

    Args:
        file: A ``.csv``, ``.jsonl`` or ``.parquet`` file of the derived layout.

    Yields:
        One record a row: a text and its label ids, or the error that names file, line and field (``broken`` for a
        malformed row, else a bad value).

    Raises:
        InputError: If the file has no text and label columns, or cannot be read on (undecodable text, a damaged
            Parquet file).

    Examples:
        >>> for record in read_derived("copy/test.csv"):  # doctest: +SKIP
        ...     print(record.line, record.labels)
        2 (4, 5, 23, 26)
    """
    path = Path(file)
    shape = shape_of(read_columns(path))
    if shape is None:
        raise InputError("has no text column with labels (labels, or 28 binary columns)", path=path)
    records: Iterator[tuple[int, Any]] = _records(path, shape)
    if shape.binary is None:
        head = list(islice(records, _SAMPLE_ROWS))
        shape = replace(shape, multi_hot=_guess_multi_hot(head))
        records = chain(head, records)
    for line, record in records:
        if isinstance(record, InputError):
            yield DerivedRecord(line, error=record, broken=True)
            continue
        try:
            text, labels = _decode(record, shape, {"path": os.fspath(path), "line": line})
        except InputError as err:
            yield DerivedRecord(line, error=err)
            continue
        yield DerivedRecord(line, text, labels)
