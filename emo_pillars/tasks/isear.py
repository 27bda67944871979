"""ISEAR (Scherer & Wallbott, 1994): 7,666 self-reported emotional situations, seven classes, no official split.

The file read is the full databank export ``isear.csv``: ``|``-delimited, a 42-column header (``ID CITY ... MYKEY SIT
STATE``), a trailing ``|`` on every line, no quoting. The situation text ``SIT`` may itself contain ``|`` (163 rows
split into 44-52 fields), so it is rebuilt as ``"|".join(fields[40:-2])``: the first 40 fields (through ``MYKEY``)
and the last two (``STATE`` and the empty piece after the trailing ``|``) are always in place. ``EMOT`` (1-7) is
the label, checked against the ``Field1`` label name; ``MYKEY`` is the id.

Text cleaning (``clean=True``, the default; see :func:`clean_isear_text`): the databank's line-break artefact
``á`` (CP437 0xA0) and the ``|`` inside a rebuilt text (all 268 of them mark line breaks; 267 come right after
``á``) become spaces, the escaped quotes ``\\"`` and the lone ``\\`` that opens a quotation become
``"``, an unmatched ``"`` left at the end by the export's quoting is dropped, and runs of spaces are collapsed.

Protocol: stratified 5-fold cross-validation with a fixed seed (scikit-learn ``StratifiedKFold``); macro-F1 and
accuracy per fold, reported as mean +- std over the folds (:func:`~emo_pillars.tasks.base.aggregate_metrics`).

Recipe defaults (what ``finetune`` starts from; every value can be overridden): the 7-label head (softmax,
cross-entropy), lr 2e-4 (head 2e-3), batch 32, 3 epochs, max length 128, chosen on validation carved from fold 1's
training part; the candidates and their scores are in :data:`ISEAR_RECIPE` and
``research/results/recipe-choice-isear.json``.

Examples:
    >>> clean_isear_text('When I \\\\hated\\\\" one of my á flatmates."')
    'When I "hated" one of my flatmates.'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..taxonomy import ISEAR_TO_EMOTIONS
from .base import Task, read_text, split_lines
from .recipe import TaskRecipe

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = ["IsearTask", "ISEAR_LABELS", "ISEAR_COLUMNS", "clean_isear_text", "read_isear"]

#: ``EMOT`` codes 1..7, in order.
ISEAR_LABELS: tuple[str, ...] = ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt")
#: The 42 header columns of the export.
ISEAR_COLUMNS: tuple[str, ...] = (
    "ID CITY COUN SUBJ SEX AGE RELI PRAC FOCC MOCC FIEL EMOT WHEN LONG INTS ERGO TROPHO TEMPER EXPRES MOVE EXP1 EXP2 "
    "EXP10 PARAL CON EXPC PLEA PLAN FAIR CAUS COPING MORL SELF RELA VERBAL NEUTRO Field1 Field3 Field2 MYKEY SIT STATE"
).split()
_EMOT, _FIELD1, _MYKEY, _SIT = (ISEAR_COLUMNS.index(c) for c in ("EMOT", "Field1", "MYKEY", "SIT"))
_MIN_FIELDS = len(ISEAR_COLUMNS) + 1  # the trailing "|" adds an empty last field
_SPACES = re.compile(r"[ \t]{2,}")


def clean_isear_text(text: str) -> str:
    """Undo the export artefacts of an ISEAR situation text (see the module docstring).

    Examples:
        >>> clean_isear_text("there á was a motorist ahead of me  ")
        'there was a motorist ahead of me'
    """
    text = text.replace("á", " ").replace("|", " ").replace('\\"', '"').replace("\\", '"')
    if text.count('"') % 2 == 1 and text.rstrip().endswith('"'):
        text = text.rstrip()[:-1]
    return _SPACES.sub(" ", text).strip()


def read_isear(path: str | Path, clean: bool = True) -> list[dict[str, Any]]:
    """Parse the ISEAR export into ``{"id", "text", "label", "line"}`` dicts (``label`` a class name).

    Args:
        path: ``isear.csv``.
        clean: Apply :func:`clean_isear_text` to the situation text.

    Raises:
        InputError: Empty or undecodable file, a wrong header, a line with too few fields or no trailing ``|``,
            an ``EMOT`` outside 1..7 or disagreeing with ``Field1``, an empty text or a repeated ``MYKEY``.
    """
    lines = split_lines(read_text(path))
    header = lines[0].split("|")
    if header[: len(ISEAR_COLUMNS)] != list(ISEAR_COLUMNS):
        raise InputError(
            f"expected the 42-column header {' | '.join(ISEAR_COLUMNS[:3])} ... SIT | STATE", path=path, line=1
        )
    rows = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < _MIN_FIELDS or fields[-1] != "":
            raise InputError(
                f"expected at least {len(ISEAR_COLUMNS)} '|'-separated fields and a trailing '|', "
                f"got {len(fields) - (fields[-1] == '')} fields",
                path=path,
                line=number,
            )
        code = fields[_EMOT].strip()
        if not code.isdigit() or not 1 <= int(code) <= len(ISEAR_LABELS):
            raise InputError(f"emotion code {code!r} is not in 1..7", path=path, line=number, field="EMOT")
        label = ISEAR_LABELS[int(code) - 1]
        if fields[_FIELD1].strip() != label:
            raise InputError(
                f"label {fields[_FIELD1]!r} disagrees with EMOT {code} ({label})",
                path=path,
                line=number,
                field="Field1",
            )
        key = fields[_MYKEY].strip()
        if key in seen:
            raise InputError(
                f"duplicate MYKEY {key!r} (first on line {seen[key]})", path=path, line=number, field="MYKEY"
            )
        seen[key] = number
        text = "|".join(fields[_SIT:-2])
        if clean:
            text = clean_isear_text(text)
        if not text.strip():
            raise InputError("empty situation text", path=path, line=number, field="SIT")
        rows.append({"id": key, "text": text, "label": label, "line": number})
    if not rows:
        raise InputError("no data rows after the header", path=path)
    return rows


#: The isear recipe defaults and how they were chosen (see :mod:`emo_pillars.tasks.recipe`).
ISEAR_RECIPE = TaskRecipe(
    head="task",
    max_length=128,
    learning_rate=2e-4,
    head_learning_rate=2e-3,
    num_train_epochs=3,
    per_device_train_batch_size=32,
    threshold_policy="argmax",
    chosen_by="on validation carved from fold 1's training part (80/20, stratified), all-MiniLM-L6-v2, macro-F1.",
)


@dataclass
class IsearTask(Task):
    """ISEAR: seven single-label classes, one ``train`` split, evaluated by stratified 5-fold CV.

    Rows: ``id`` (``MYKEY``), ``text`` (the cleaned ``SIT``), ``context``/``character`` ``None``, ``label``,
    ``emo28_labels`` (shame -> embarrassment, guilt -> remorse, the others by name; see
    :data:`~emo_pillars.taxonomy.ISEAR_TO_EMOTIONS`).

    Examples:
        >>> task = IsearTask()
        >>> task.label_names[-2:], task.metric_name, task.splits
        (('shame', 'guilt'), 'macro_f1', ('train',))
        >>> # folds = task.folds(task.load("path/to/isear.csv"), k=5, seed=42)
    """

    name: str = "isear"
    label_names: tuple[str, ...] = ISEAR_LABELS
    label_map: dict[str, str] = field(default_factory=lambda: dict(ISEAR_TO_EMOTIONS))
    multi_label: bool = False
    input_format: str = "context_less"
    protocol: str = (
        "no official split: stratified 5-fold cross-validation (StratifiedKFold, shuffled, seed 42); "
        "macro-F1 and accuracy per fold, reported as mean +- std over the 5 folds"
    )
    metric_name: str = "macro_f1"
    hub_id: str | None = None
    splits: tuple[str, ...] = ("train",)
    cross_validated: bool = True
    description: str = field(
        default="ISEAR (International Survey on Emotion Antecedents and Reactions): about 7,600 first-person "
        "descriptions of situations in which respondents in 37 countries felt one of seven emotions (joy, fear, "
        "anger, sadness, disgust, shame, guilt), one label per description.",
        repr=False,
    )
    limitations: tuple[str, ...] = field(
        default=(
            "**Self-reports of past situations.** ISEAR texts describe what happened when the writer felt an emotion "
            "(questionnaire answers, many translated or written by non-native speakers), not utterances that express "
            "it; scores on dialogue or social-media text may differ.",
            "**Seven labels only.** Every input gets one of joy, fear, anger, sadness, disgust, shame and guilt; "
            "there is no neutral class, and shame and guilt are often confused.",
            "**Cross-validated figures.** ISEAR has no official split; the reported figure is a mean over folds, "
            "and the saved weights are those of the last fold.",
        ),
        repr=False,
    )

    recipe: TaskRecipe = field(default_factory=lambda: ISEAR_RECIPE, repr=False)

    def _load_local(self, path: Path, clean: bool = True) -> datasets.DatasetDict:
        """Read ``isear.csv`` (or a folder holding it) into a single ``train`` split."""
        if path.is_dir():
            path = path / "isear.csv"
        rows = [self._row(r["id"], r["text"], r["label"]) for r in read_isear(path, clean=clean)]
        return self._to_dataset_dict({"train": rows})
