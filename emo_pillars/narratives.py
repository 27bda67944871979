"""Reading the narratives (plot synopses) that ground every generated utterance.

Accepted sources:

- a folder of ``.txt`` files, one plot each (the file stem is the id);
- a ``.txt`` file with plots separated by a line ``<EOS>`` (WikiPlots style) or, without such lines, by blank lines;
- a ``.jsonl`` or ``.csv`` file with a ``text`` column and optional ``id`` and ``title`` columns;
- a ``datasets.Dataset`` with a text column, or a list of strings;
- nothing: the bundled demo corpus of public-domain stories (:func:`demo_corpus`).

Examples:
    >>> from emo_pillars.narratives import demo_corpus
    >>> plots = demo_corpus()
    >>> len(plots) >= 12, plots[0].title
    (True, 'The Odyssey')
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = ["Narrative", "load_narratives", "demo_corpus", "DEMO_CORPUS"]

DEMO_CORPUS = "demo_plots.jsonl"
_EOS_RE = re.compile(r"^\s*<EOS>\s*$")
_SAFE_ID_RE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Narrative:
    """One plot synopsis.

    Args:
        id: Stable identifier, used in example ids and to group splits (no story in two splits).
        text: The synopsis.
        title: The story's title, when known.
    """

    id: str
    text: str
    title: str | None = None


def demo_corpus() -> list[Narrative]:
    """The bundled corpus: short synopses of public-domain stories, written for this project."""
    source = resources.files("emo_pillars") / "corpus" / DEMO_CORPUS
    with resources.as_file(source) as path:
        return _read_jsonl(Path(path))


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read file: {err.strerror or err}", path=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"not valid UTF-8 (byte {err.start}); re-save the file as UTF-8", path=path, line=line
        ) from None


def _require_text(text: Any, path: Path, line: int, field: str = "text") -> str:
    if not isinstance(text, str):
        raise InputError(f"expected a string, got {type(text).__name__}", path=path, line=line, field=field)
    if not text.strip():
        raise InputError("the plot text is empty", path=path, line=line, field=field)
    return text.strip()


def _row_to_narrative(row: dict[str, Any], path: Path, line: int, index: int, text_column: str) -> Narrative:
    if text_column not in row:
        raise InputError(
            f"missing column {text_column!r} (columns: {', '.join(map(str, row)) or 'none'})",
            path=path,
            line=line,
            field=text_column,
        )
    text = _require_text(row[text_column], path, line, text_column)
    raw_id = row.get("id")
    plot_id = str(raw_id).strip() if raw_id not in (None, "") else f"p{index:05d}"
    title = row.get("title")
    return Narrative(id=plot_id, text=text, title=str(title).strip() if title not in (None, "") else None)


def _read_jsonl(path: Path, text_column: str = "text") -> list[Narrative]:
    out = []
    for line_no, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON: {err.msg} (column {err.colno})", path=path, line=line_no) from None
        if not isinstance(row, dict):
            raise InputError("each line must be a JSON object", path=path, line=line_no)
        out.append(_row_to_narrative(row, path, line_no, len(out), text_column))
    return out


def _read_csv(path: Path, text_column: str = "text") -> list[Narrative]:
    text = _read_text(path)
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None:
        raise InputError("the CSV file has no header row", path=path, line=1)
    if text_column not in reader.fieldnames:
        raise InputError(
            f"missing column {text_column!r} (columns: {', '.join(reader.fieldnames)})",
            path=path,
            line=1,
            field=text_column,
        )
    out = []
    for row in reader:
        if row.get(text_column) is None:
            raise InputError("row has fewer fields than the header", path=path, line=reader.line_num)
        out.append(_row_to_narrative(row, path, reader.line_num, len(out), text_column))
    return out


def _read_plots_txt(path: Path) -> list[Narrative]:
    lines = _read_text(path).splitlines()
    has_eos = any(_EOS_RE.match(line) for line in lines)
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for line_no, line in enumerate(lines, 1):
        boundary = _EOS_RE.match(line) if has_eos else not line.strip()
        if boundary:
            if any(s.strip() for s in current):
                blocks.append((start, current))
            current, start = [], line_no + 1
        else:
            if not current:
                start = line_no
            current.append(line)
    if any(s.strip() for s in current):
        blocks.append((start, current))
    stem = _SAFE_ID_RE.sub("-", path.stem)
    return [Narrative(id=f"{stem}-{i:05d}", text="\n".join(block).strip()) for i, (_, block) in enumerate(blocks)]


def _read_folder(path: Path) -> list[Narrative]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".txt" and p.is_file())
    if not files:
        raise InputError("the folder holds no .txt files", path=path)
    out = []
    for file in files:
        text = _read_text(file).strip()
        if not text:
            raise InputError("the plot file is empty", path=file, line=1)
        out.append(Narrative(id=_SAFE_ID_RE.sub("-", file.stem), text=text))
    return out


def _from_rows(rows: Iterable[dict[str, Any]], text_column: str, name: str) -> list[Narrative]:
    return [_row_to_narrative(dict(row), Path(name), i + 1, i, text_column) for i, row in enumerate(rows)]


def load_narratives(
    source: str | os.PathLike | Sequence[str] | Any | None = None,
    *,
    text_column: str = "text",
    max_plots: int | None = None,
) -> list[Narrative]:
    """Read plot synopses from any supported source.

    Args:
        source: A path (folder, ``.txt``, ``.jsonl``, ``.csv``), a ``datasets.Dataset``, a list of strings or of
            :class:`Narrative`, or ``None`` for the bundled demo corpus.
        text_column: The column holding the synopsis (JSONL, CSV, Dataset).
        max_plots: Keep only the first ``max_plots`` narratives.

    Returns:
        The narratives, in source order, with unique ids.

    Raises:
        InputError: The source is missing, empty, not decodable, or lacks the text column; the message names the
            file and line.
    """
    if source is None:
        plots = demo_corpus()
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise InputError("no such file or folder", path=path)
        if path.is_dir():
            plots = _read_folder(path)
        elif path.suffix.lower() == ".jsonl" or path.suffix.lower() == ".json":
            plots = _read_jsonl(path, text_column)
        elif path.suffix.lower() == ".csv":
            plots = _read_csv(path, text_column)
        else:
            plots = _read_plots_txt(path)
        if not plots:
            raise InputError("the file holds no plots", path=path)
    elif hasattr(source, "column_names") and hasattr(source, "__iter__"):  # datasets.Dataset
        if text_column not in source.column_names:
            raise InputError(
                f"missing column {text_column!r} (columns: {', '.join(source.column_names)})",
                path="<dataset>",
                field=text_column,
            )
        plots = _from_rows(source, text_column, "<dataset>")
    elif isinstance(source, Sequence):
        plots = [
            item
            if isinstance(item, Narrative)
            else Narrative(id=f"p{i:05d}", text=_require_text(item, Path("<list>"), i + 1))
            for i, item in enumerate(source)
        ]
    else:
        raise InputError(f"cannot read narratives from a {type(source).__name__}")
    if not plots:
        raise InputError("no narratives to read", path=str(source) if source is not None else None)
    seen: dict[str, int] = {}
    unique = []
    for plot in plots:
        n = seen.get(plot.id, 0)
        seen[plot.id] = n + 1
        unique.append(plot if n == 0 else Narrative(id=f"{plot.id}-{n}", text=plot.text, title=plot.title))
    return unique[:max_plots] if max_plots else unique
