"""EmoContext (SemEval-2019 Task 3): the emotion of the third turn of a user-agent-user chat.

Official files: ``train.txt``, ``dev.txt``, ``test.txt`` (gold-labelled; the names ``devwithlabels.txt`` and
``testwithlabels.txt`` are accepted too) -- tab-separated, CRLF line endings, no quoting (texts hold raw ``"``),
columns ``id turn1 turn2 turn3 label``, label in ``happy``/``sad``/``angry``/``others``. Only ``train.txt`` has the
header line ``id\\tturn1\\tturn2\\tturn3\\tlabel`` (it is skipped wherever it appears first), and the last line has
no newline. ``dev`` becomes the ``validation`` split.

Input: ``text`` is turn 3, ``context`` is turns 1 and 2 joined with ``context_separator`` (default ``" | "``, a
plain character every tokenizer keeps, rather than a model-specific ``[SEP]``); ``character`` is ``None``. Turns
keep their original spacing.

Official metric: micro-averaged F1 over ``happy``, ``sad`` and ``angry`` only: micro precision and recall are summed
over the three emotion classes (``others`` predictions and gold are left out of both), as in the organisers'
starter-kit scorer.

Recipe defaults (what ``finetune`` starts from; every value can be overridden): not chosen on data (EmoContext is
licensed and absent here): the trainer's defaults with max length 128; see :data:`EMOCONTEXT_RECIPE`.

Examples:
    >>> task = EmoContextTask()
    >>> m = task.compute_metrics(["happy", "sad", "others", "angry"], ["happy", "others", "sad", "angry"])
    >>> m["micro_precision"], m["micro_recall"], round(m["micro_f1"], 4)
    (0.6666666666666666, 0.6666666666666666, 0.6667)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..taxonomy import EMOCONTEXT_TO_EMOTIONS
from .base import Task, _as_indices, read_text, single_label_metrics, split_lines
from .recipe import TaskRecipe

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = ["EmoContextTask", "EMOCONTEXT_LABELS", "EMOCONTEXT_EMOTIONS", "read_emocontext", "emocontext_micro_f1"]

#: Class order (the one the Hub copy ``emo`` uses).
EMOCONTEXT_LABELS: tuple[str, ...] = ("others", "happy", "sad", "angry")
#: The classes the official metric averages over.
EMOCONTEXT_EMOTIONS: tuple[str, ...] = ("happy", "sad", "angry")
#: Accepted file names per split, first match wins.
EMOCONTEXT_FILES: dict[str, tuple[str, ...]] = {
    "train": ("train.txt",),
    "validation": ("dev.txt", "devwithlabels.txt"),
    "test": ("test.txt", "testwithlabels.txt"),
}
_HEADER = ["id", "turn1", "turn2", "turn3", "label"]


def read_emocontext(path: str | Path) -> list[dict[str, Any]]:
    """Parse one EmoContext file into ``{"id", "turn1", "turn2", "turn3", "label", "line"}`` dicts.

    Args:
        path: ``train.txt``, ``dev.txt`` or ``test.txt`` (header optional, LF or CRLF).

    Raises:
        InputError: Empty or undecodable file, a line without exactly 5 tab-separated fields, an unknown label or
            a repeated id; the message names the file, line and field.
    """
    lines = split_lines(read_text(path))
    rows = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if number == 1 and [f.strip().lower() for f in fields] == _HEADER:
            continue
        if len(fields) != 5:
            raise InputError(
                f"expected 5 tab-separated fields (id, turn1, turn2, turn3, label), got {len(fields)}",
                path=path,
                line=number,
            )
        id_, turn1, turn2, turn3, label = fields
        label = label.strip()
        if label not in EMOCONTEXT_LABELS:
            raise InputError(
                f"unknown label {label!r}; expected one of {list(EMOCONTEXT_LABELS)}",
                path=path,
                line=number,
                field="label",
            )
        if id_ in seen:
            raise InputError(f"duplicate id {id_!r} (first on line {seen[id_]})", path=path, line=number, field="id")
        seen[id_] = number
        rows.append({"id": id_, "turn1": turn1, "turn2": turn2, "turn3": turn3, "label": label, "line": number})
    if not rows:
        raise InputError("no data rows", path=path)
    return rows


def emocontext_micro_f1(
    y_true: Any, y_pred: Any, label_names: tuple[str, ...] = EMOCONTEXT_LABELS
) -> dict[str, float]:
    """The official EmoContext score: micro precision, recall and F1 over happy, sad and angry.

    ``P = sum(TP) / sum(predicted as an emotion)``, ``R = sum(TP) / sum(gold emotion)``, summed over the three
    emotion classes; ``F1 = 2PR / (P + R)`` (0 when both are 0).

    Args:
        y_true: Gold labels, as indices into ``label_names`` or names.
        y_pred: Predictions, same form.
        label_names: Class order of the indices.

    Returns:
        ``{"micro_f1", "micro_precision", "micro_recall"}``.
    """
    import numpy as np

    true = _as_indices(y_true, label_names, "y_true")
    pred = _as_indices(y_pred, label_names, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"got {len(true)} gold labels and {len(pred)} predictions")
    emotions = [label_names.index(e) for e in EMOCONTEXT_EMOTIONS]
    true_pos = sum(int(np.sum((true == c) & (pred == c))) for c in emotions)
    predicted = int(np.isin(pred, emotions).sum())
    gold = int(np.isin(true, emotions).sum())
    precision = true_pos / predicted if predicted else 0.0
    recall = true_pos / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"micro_f1": f1, "micro_precision": precision, "micro_recall": recall}


#: The emocontext recipe defaults and how they were chosen (see :mod:`emo_pillars.tasks.recipe`).
EMOCONTEXT_RECIPE = TaskRecipe(
    head="emo28",
    max_length=128,
    threshold_policy="argmax",
    chosen_by="not chosen on data (EmoContext is licensed): the trainer's small-encoder defaults, max length 128.",
)


@dataclass
class EmoContextTask(Task):
    """EmoContext: four single-label classes over three-turn chats, official train/dev/test.

    Rows: ``id``, ``text`` (turn 3), ``context`` (turns 1-2 joined with ``" | "``), ``character`` ``None``,
    ``label``, ``emo28_labels`` (happy -> joy, sad -> sadness, angry -> anger, others -> neutral).

    Examples:
        >>> task = EmoContextTask()
        >>> task.label_names, task.input_format
        (('others', 'happy', 'sad', 'angry'), 'contextual')
        >>> # ds = task.load("path/to/emocontext")  # folder with train.txt, dev.txt, test.txt
    """

    name: str = "emocontext"
    label_names: tuple[str, ...] = EMOCONTEXT_LABELS
    label_map: dict[str, str] = field(default_factory=lambda: dict(EMOCONTEXT_TO_EMOTIONS))
    multi_label: bool = False
    input_format: str = "contextual"
    protocol: str = (
        "official train/dev/test (30,160/2,755/5,509); turns 1-2 as context, turn 3 as the utterance; "
        "micro-F1 over happy, sad and angry (others excluded from the averaging), with per-class F1"
    )
    metric_name: str = "micro_f1"
    hub_id: str | None = "emo"
    description: str = field(
        default="EmoContext (SemEval-2019 Task 3): three-turn English text conversations whose last turn is "
        "labelled happy, sad, angry or others; most conversations are 'others'.",
        repr=False,
    )
    limitations: tuple[str, ...] = field(
        default=(
            "**Short chat turns.** The data is informal three-turn messaging with emoji and slang; long or formal "
            "text is far from it.",
            "**Four coarse classes.** The official metric is micro-F1 over happy, sad and angry; 'others' is most of "
            "the data and absorbs every other emotion.",
        ),
        repr=False,
    )

    recipe: TaskRecipe = field(default_factory=lambda: EMOCONTEXT_RECIPE, repr=False)

    def _load_local(self, path: Path, context_separator: str = " | ") -> datasets.DatasetDict:
        """Read the official files from a folder; ``context_separator`` joins turns 1 and 2."""
        if not path.is_dir():
            raise InputError("expected the folder holding train.txt, dev.txt and test.txt", path=path)
        rows_by_split = {}
        for split, names in EMOCONTEXT_FILES.items():
            found = next((path / n for n in names if (path / n).is_file()), None)
            if found is None:
                continue
            rows_by_split[split] = [
                self._row(r["id"], r["turn3"], r["label"], context=f"{r['turn1']}{context_separator}{r['turn2']}")
                for r in read_emocontext(found)
            ]
        if not rows_by_split:
            raise InputError(f"none of {[n for names in EMOCONTEXT_FILES.values() for n in names]} found", path=path)
        return self._to_dataset_dict(rows_by_split)

    def _load_hub(self, repo_id: str, **kwargs: Any) -> datasets.DatasetDict:
        """Load the Hub copy ``emo`` (splits train/test; its ``text`` holds the whole chat, so ``context`` is None)."""
        import datasets

        source = datasets.load_dataset(repo_id, **kwargs)
        names = source[next(iter(source))].features["label"].names
        rows_by_split = {}
        for split in source:
            rows_by_split[split] = [
                self._row(f"{split}-{i}", ex["text"], names[ex["label"]]) for i, ex in enumerate(source[split])
            ]
        return self._to_dataset_dict(rows_by_split)

    def compute_metrics(self, y_true: Any, y_pred: Any) -> dict[str, float]:
        """Official micro-F1 over happy/sad/angry (with its P and R), accuracy, macro-F1 and per-class F1."""
        y_true, y_pred = list(y_true), list(y_pred)
        out = emocontext_micro_f1(y_true, y_pred, self.label_names)
        full = single_label_metrics(y_true, y_pred, self.label_names, average="macro")
        out["accuracy"] = full.pop("accuracy")
        out["macro_f1_4way"] = full.pop("macro_f1")
        out.update(full)
        return out
