"""GoEmotions (Demszky et al., 2020): 28-class multi-label emotions of Reddit comments.

Official files (``goemotions/data`` in google-research): ``train.tsv``, ``dev.tsv``, ``test.tsv`` -- tab-separated,
no header, CSV quoting for fields with ``"``, columns ``text``, comma-separated label ids, ``comment_id`` -- and
``emotions.txt`` (one class name per line, ids 0-27). ``dev.tsv`` becomes the ``validation`` split. The Hub copy
``google-research-datasets/go_emotions`` (config ``simplified``) holds the same data.

Protocol (the paper's): train on ``train``; tune one global threshold on ``validation`` for macro-F1 (the trainer's
one threshold sweep, :func:`emo_pillars.modeling.thresholds.tune_thresholds`); report macro-F1 on ``test`` at that
threshold, and at 0.5, with per-label F1 (:meth:`compute_metrics`).

Recipe defaults (what ``finetune`` starts from; every value can be overridden): the 28-class head, lr 2e-4 (head
2e-3), batch 32, max length 64, BCE positive weights ``"rare"`` (only labels rarer than the median label weighted
up), chosen on the official dev split; the candidates and their dev scores are in :data:`GOEMOTIONS_RECIPE`.

Examples:
    >>> task = GoEmotionsTask()
    >>> task.multi_label, task.num_labels, task.label_map["grief"]
    (True, 28, 'grief')
    >>> m = task.compute_metrics([[17], [27]], [[1] + [0] * 27, [0] * 27 + [1]])
    >>> m["f1_neutral"], m["f1_joy"], m["micro_f1"]
    (1.0, 0.0, 0.5)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InputError
from ..taxonomy import EMOTIONS
from .base import Task, read_text, split_lines
from .recipe import TaskRecipe

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = ["GoEmotionsTask", "read_goemotions_tsv", "GOEMOTIONS_FILES"]

#: Official file name -> split name.
GOEMOTIONS_FILES: dict[str, str] = {"train.tsv": "train", "dev.tsv": "validation", "test.tsv": "test"}


def read_goemotions_tsv(path: str | Path) -> list[tuple[str, list[int], str, int]]:
    """Parse one official GoEmotions TSV.

    Args:
        path: ``train.tsv``, ``dev.tsv`` or ``test.tsv``.

    Returns:
        ``(text, label_ids, comment_id, line)`` per row, ``line`` being the 1-based line the row starts on.

    Raises:
        InputError: Empty or undecodable file, a row without exactly 3 fields, an empty text, or a label id that is
            not an integer in 0..27; the message names the file, line and field.
    """
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    rows = []
    line = 1
    for fields in reader:
        start, line = line, reader.line_num + 1
        if not fields:
            continue
        if len(fields) != 3:
            raise InputError(
                f"expected 3 tab-separated fields (text, labels, id), got {len(fields)}", path=path, line=start
            )
        comment, raw_labels, comment_id = fields
        if not comment.strip():
            raise InputError("empty text", path=path, line=start, field="text")
        ids = []
        for piece in raw_labels.split(","):
            piece = piece.strip()
            if not piece.isdigit() or int(piece) >= len(EMOTIONS):
                raise InputError(
                    f"label id {piece!r} is not an integer in 0..{len(EMOTIONS) - 1}",
                    path=path,
                    line=start,
                    field="labels",
                )
            ids.append(int(piece))
        rows.append((comment, sorted(set(ids)), comment_id, start))
    return rows


def _check_emotions_file(path: Path) -> None:
    names = [line.strip() for line in split_lines(read_text(path))]
    for i, (got, want) in enumerate(zip(names, EMOTIONS), 1):
        if got != want:
            raise InputError(f"class {i - 1} is {got!r}, expected {want!r}", path=path, line=i)
    if len(names) != len(EMOTIONS):
        raise InputError(f"expected {len(EMOTIONS)} class names, got {len(names)}", path=path)


#: The goemotions recipe defaults and how they were chosen (see :mod:`emo_pillars.tasks.recipe`).
GOEMOTIONS_RECIPE = TaskRecipe(
    head="emo28",
    max_length=64,
    learning_rate=2e-4,
    head_learning_rate=2e-3,
    num_train_epochs=2,
    per_device_train_batch_size=32,
    pos_weight="rare",
    threshold_policy="global",
    chosen_by="on the official validation split, all-MiniLM-L6-v2, dev macro-F1 at the tuned global threshold.",
)


@dataclass
class GoEmotionsTask(Task):
    """GoEmotions: 28 classes, multi-label, official train/dev/test.

    Rows: ``id`` (Reddit comment id), ``text``, ``context``/``character`` ``None``, ``labels`` (indices into the
    28 classes, the same as ``emo28_labels`` since the task labels *are* the 28 classes).

    Examples:
        >>> task = GoEmotionsTask()
        >>> task.metric_name, task.splits
        ('macro_f1', ('train', 'validation', 'test'))
        >>> # ds = task.load("path/to/goemotions")  # folder with train.tsv, dev.tsv, test.tsv
        >>> # ds = task.load("google-research-datasets/go_emotions")  # Hub copy, config "simplified"
    """

    name: str = "goemotions"
    label_names: tuple[str, ...] = EMOTIONS
    label_map: dict[str, str] = field(default_factory=lambda: {e: e for e in EMOTIONS})
    multi_label: bool = True
    input_format: str = "context_less"
    protocol: str = (
        "official train/dev/test (43,410/5,426/5,427); one global threshold tuned on dev for macro-F1; "
        "macro-F1 on test at that threshold (and at 0.5), with per-label F1"
    )
    metric_name: str = "macro_f1"
    hub_id: str | None = "google-research-datasets/go_emotions"
    description: str = field(
        default="GoEmotions: 58k English Reddit comments labelled by crowd raters with the 28 classes (27 emotions "
        "and neutral), several labels per comment allowed.",
        repr=False,
    )
    limitations: tuple[str, ...] = field(
        default=(
            "**Reddit comments.** The data is short English Reddit text from 2005-2019, with the raters' and the "
            "platform's biases; other registers may be scored less well.",
            "**Rare labels.** Classes such as grief, relief and pride have a few dozen training examples; their "
            "scores and thresholds are unreliable.",
        ),
        repr=False,
    )

    recipe: TaskRecipe = field(default_factory=lambda: GOEMOTIONS_RECIPE, repr=False)

    def _load_local(self, path: Path, **kwargs: Any) -> datasets.DatasetDict:
        """Read ``train.tsv``/``dev.tsv``/``test.tsv`` from a folder (``emotions.txt`` is checked when present)."""
        if kwargs:
            raise TypeError(f"unexpected options for the local GoEmotions loader: {sorted(kwargs)}")
        if not path.is_dir():
            raise InputError("expected the folder holding train.tsv, dev.tsv and test.tsv", path=path)
        if (path / "emotions.txt").is_file():
            _check_emotions_file(path / "emotions.txt")
        present = {name: split for name, split in GOEMOTIONS_FILES.items() if (path / name).is_file()}
        if not present:
            raise InputError(f"none of {list(GOEMOTIONS_FILES)} found", path=path)
        rows_by_split = {}
        for name, split in present.items():
            rows = []
            seen: dict[str, int] = {}
            for text, ids, comment_id, line in read_goemotions_tsv(path / name):
                if comment_id in seen:
                    raise InputError(
                        f"duplicate id {comment_id!r} (first on line {seen[comment_id]})",
                        path=path / name,
                        line=line,
                        field="id",
                    )
                seen[comment_id] = line
                rows.append(self._row(comment_id, text, ids, emo28=ids))
            rows_by_split[split] = rows
        return self._to_dataset_dict(rows_by_split)

    def _load_hub(self, repo_id: str, config: str = "simplified", **kwargs: Any) -> datasets.DatasetDict:
        """Load the Hub copy (config ``simplified``: ``text``, ``labels``, ``id``; splits train/validation/test)."""
        import datasets

        if config != "simplified":
            raise ConfigError(
                f"GoEmotions config {config!r} is not supported: 'raw' has one row per rater and no official split; "
                "use 'simplified' (the official train/dev/test with aggregated labels)"
            )
        source = datasets.load_dataset(repo_id, config, **kwargs)
        rows_by_split = {}
        for split in source:
            rows_by_split[split] = [
                self._row(str(ex["id"]), ex["text"], sorted(set(ex["labels"])), emo28=sorted(set(ex["labels"])))
                for ex in source[split]
            ]
        return self._to_dataset_dict(rows_by_split)
