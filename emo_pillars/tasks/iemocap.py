"""IEMOCAP (Busso et al., 2008): emotions of utterances in dyadic dialogues, read with the preceding turns.

The corpus is licensed by USC SAIL; the loader reads the official release layout from a user's own copy::

    ROOT/Session1/dialog/transcriptions/Ses01F_impro01.txt
        Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
    ROOT/Session1/dialog/EmoEvaluation/Ses01F_impro01.txt
        [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]

Any of ``Session1`` ... ``Session5`` may be present. In ``EmoEvaluation`` files only lines starting with ``[`` are
turn labels; the header (``%``), the per-annotator lines (``C-``, ``A-``) and blank lines are skipped. In
transcriptions, lines that do not start with a turn id (``Ses..``) are skipped; every transcribed turn, labelled or
not, counts as context.

Rows: one per labelled turn whose label the chosen scheme keeps, in dialogue order (by start time). ``text`` is the
turn, ``character`` its speaker (``F`` or ``M``, from the turn id), ``context`` the ``context_window`` preceding
turns (default 3; ``None`` for all, 0 for none) as ``"F: ..."`` lines joined with ``"\\n"`` (``None`` when there are
no preceding turns). Extra columns: ``dialogue_id`` and ``session``.

Label schemes: 4-way merges ``exc`` into ``happy`` (happy, sad, angry, neutral); 6-way keeps happy, sad, neutral,
angry, excited and frustrated. Other codes (``sur``, ``fea``, ``dis``, ``oth``, ``xxx``) are dropped.
``emo28_labels`` follows the original code, so an excited turn is ``excitement`` even in the 4-way scheme.

Protocol: sessions 1-4 for training, with a validation set of whole dialogues carved out deterministically for a
seed (:attr:`IemocapTask.validation_fraction`), session 5 for testing; weighted-F1 and accuracy.

Recipe defaults (what ``finetune`` starts from; every value can be overridden): not chosen on data (IEMOCAP is
licensed and absent here): the trainer's defaults with max length 128; see :data:`IEMOCAP_RECIPE`.

Examples:
    >>> IemocapTask(ways=4).label_names, IemocapTask(ways=6).label_names[-2:]
    (('happy', 'sad', 'angry', 'neutral'), ('excited', 'frustrated'))
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InputError
from ..taxonomy import IEMOCAP_TO_EMOTIONS, label2id
from .base import Task, read_text, single_label_metrics, split_lines
from .recipe import TaskRecipe

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = [
    "IemocapTask",
    "IEMOCAP_CODES",
    "IEMOCAP_DROPPED_CODES",
    "read_transcription",
    "read_emo_evaluation",
    "read_iemocap_dialogues",
]

#: EmoEvaluation code -> label name (before the 4-way merge).
IEMOCAP_CODES: dict[str, str] = {
    "neu": "neutral",
    "hap": "happy",
    "exc": "excited",
    "sad": "sad",
    "ang": "angry",
    "fru": "frustrated",
}
#: Codes that exist in the corpus but no scheme uses.
IEMOCAP_DROPPED_CODES: frozenset[str] = frozenset({"sur", "fea", "dis", "oth", "xxx"})
_LABELS = {4: ("happy", "sad", "angry", "neutral"), 6: ("happy", "sad", "neutral", "angry", "excited", "frustrated")}
_TURN_ID = re.compile(r"^Ses\d{2}")
_TRANSCRIPT_LINE = re.compile(r"^(?P<turn>\S+) \[(?P<start>\d+(?:\.\d+)?)-(?P<end>\d+(?:\.\d+)?)\]:\s?(?P<text>.*)$")
_EVAL_LINE = re.compile(
    r"^\[\s*(?P<start>\d+(?:\.\d+)?)\s*-\s*(?P<end>\d+(?:\.\d+)?)\s*\]\s+(?P<turn>\S+)\s+(?P<code>\S+)\s+\[.*\]\s*$"
)
_SESSION_DIR = re.compile(r"^Session([1-5])$")


def _speaker(turn_id: str) -> str:
    """``F`` or ``M``: the first letter of the turn id's last part (``..._F000``, ``..._MXX0``)."""
    return turn_id.rsplit("_", 1)[-1][:1]


def read_transcription(path: str | Path) -> list[dict[str, Any]]:
    """Parse a ``transcriptions/*.txt`` file into turns ``{"turn", "speaker", "start", "end", "text", "line"}``.

    Turns are returned sorted by start time (ties keep file order).

    Raises:
        InputError: Empty or undecodable file, or a line that starts with a turn id but lacks the
            ``ID [start-end]: text`` shape.
    """
    turns = []
    for number, line in enumerate(split_lines(read_text(path)), 1):
        if not _TURN_ID.match(line):
            continue
        match = _TRANSCRIPT_LINE.match(line)
        if match is None:
            raise InputError("expected 'TURN_ID [start-end]: text'", path=path, line=number)
        turns.append(
            {
                "turn": match["turn"],
                "speaker": _speaker(match["turn"]),
                "start": float(match["start"]),
                "end": float(match["end"]),
                "text": match["text"].strip(),
                "line": number,
            }
        )
    if not turns:
        raise InputError("no transcribed turns", path=path)
    return sorted(turns, key=lambda t: (t["start"], t["line"]))


def read_emo_evaluation(path: str | Path) -> dict[str, tuple[str, int]]:
    """Parse an ``EmoEvaluation/*.txt`` file into ``turn id -> (code, line)`` for every labelled turn.

    Raises:
        InputError: Empty or undecodable file, a ``[``-line without the ``[start - end] TURN code [V, A, D]`` shape,
            an unknown emotion code, or a turn labelled twice.
    """
    labels: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(split_lines(read_text(path)), 1):
        if not line.startswith("["):
            continue
        match = _EVAL_LINE.match(line)
        if match is None:
            raise InputError("expected '[start - end]<TAB>TURN_ID<TAB>code<TAB>[V, A, D]'", path=path, line=number)
        code = match["code"]
        if code not in IEMOCAP_CODES and code not in IEMOCAP_DROPPED_CODES:
            known = sorted(IEMOCAP_CODES) + sorted(IEMOCAP_DROPPED_CODES)
            raise InputError(
                f"unknown emotion code {code!r}; expected one of {known}", path=path, line=number, field="emotion"
            )
        if match["turn"] in labels:
            raise InputError(f"turn {match['turn']} is labelled twice", path=path, line=number, field="turn")
        labels[match["turn"]] = (code, number)
    if not labels:
        raise InputError("no labelled turns", path=path)
    return labels


def read_iemocap_dialogues(root: str | Path) -> list[dict[str, Any]]:
    """Read every dialogue of the ``Session1`` ... ``Session5`` folders under ``root``.

    Returns:
        One dict per dialogue, sorted by session then id: ``{"dialogue_id", "session", "turns", "labels"}`` with
        ``turns`` from :func:`read_transcription` and ``labels`` from :func:`read_emo_evaluation`.

    Raises:
        InputError: No session folder, a session without transcriptions, a transcription without its
            EmoEvaluation file, or a labelled turn missing from the transcription.
    """
    root = Path(root)
    sessions = (
        sorted((int(m[1]), p) for p in root.iterdir() if p.is_dir() and (m := _SESSION_DIR.match(p.name)))
        if root.is_dir()
        else []
    )
    if not sessions:
        raise InputError("expected Session1 ... Session5 folders (the IEMOCAP release layout)", path=root)
    dialogues = []
    for session, folder in sessions:
        transcripts = sorted((folder / "dialog" / "transcriptions").glob("*.txt"))
        if not transcripts:
            raise InputError("no transcriptions (expected dialog/transcriptions/*.txt)", path=folder)
        for transcript in transcripts:
            evaluation = folder / "dialog" / "EmoEvaluation" / transcript.name
            if not evaluation.is_file():
                raise InputError("EmoEvaluation file missing for this transcription", path=evaluation)
            turns = read_transcription(transcript)
            labels = read_emo_evaluation(evaluation)
            known = {t["turn"] for t in turns}
            for turn, (_, line) in labels.items():
                if turn not in known:
                    raise InputError(
                        f"turn {turn} is not in {transcript.name}", path=evaluation, line=line, field="turn"
                    )
            dialogues.append({"dialogue_id": transcript.stem, "session": session, "turns": turns, "labels": labels})
    return dialogues


#: The iemocap recipe defaults and how they were chosen (see :mod:`emo_pillars.tasks.recipe`).
IEMOCAP_RECIPE = TaskRecipe(
    head="emo28",
    max_length=128,
    threshold_policy="argmax",
    chosen_by="not chosen on data (IEMOCAP is licensed): the trainer's small-encoder defaults, max length 128.",
)


@dataclass
class IemocapTask(Task):
    """IEMOCAP, 4-way or 6-way, each utterance read with its preceding turns.

    Args:
        ways: 4 (happy+excited, sad, angry, neutral) or 6 (happy, sad, neutral, angry, excited, frustrated).
        context_window: Preceding turns given as context (``None``: all of them).
        test_session: The held-out session (5 in the standard protocol).
        validation_fraction: Share of the training dialogues (rounded up, at least one when there are two or more)
            that form the validation split.
        seed: Seed of the validation draw; the same seed gives the same dialogues.

    Examples:
        >>> task = IemocapTask(ways=6, context_window=2)
        >>> task.metric_name, task.label_map["frustrated"]
        ('weighted_f1', 'annoyance')
        >>> # ds = task.load("path/to/IEMOCAP_full_release")  # holds Session1 ... Session5
    """

    name: str = "iemocap"
    label_names: tuple[str, ...] = field(default=(), init=False)
    label_map: dict[str, str] = field(default_factory=dict, init=False)
    multi_label: bool = False
    input_format: str = "contextual"
    protocol: str = field(default="", init=False)
    metric_name: str = "weighted_f1"
    hub_id: str | None = None
    description: str = field(
        default="IEMOCAP: transcripts of dyadic conversations, scripted and improvised, by ten actors; each "
        "utterance carries the annotators' majority emotion, and the preceding turns are its context.",
        repr=False,
    )
    limitations: tuple[str, ...] = field(
        default=(
            "**Acted speech, text only.** The labels were given on audio-visual recordings of actors; the model sees "
            "only the transcript and its preceding turns.",
            "**Few speakers.** Ten actors in five sessions; the split is by session, and other voices and topics may "
            "be scored less well.",
        ),
        repr=False,
    )
    ways: int = 4
    context_window: int | None = 3
    test_session: int = 5
    validation_fraction: float = 0.1
    seed: int = 42

    def __post_init__(self) -> None:
        if self.ways not in _LABELS:
            raise ConfigError(f"IEMOCAP has a 4-way and a 6-way scheme, got ways={self.ways!r}")
        if self.context_window is not None and self.context_window < 0:
            raise ConfigError(f"context_window must be >= 0 or None, got {self.context_window}")
        if not 0 <= self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        self.label_names = _LABELS[self.ways]
        self.label_map = {label: IEMOCAP_TO_EMOTIONS[label] for label in self.label_names}
        window = "all preceding turns" if self.context_window is None else f"the {self.context_window} preceding turns"
        merged = (
            "happy+excited, sad, angry, neutral"
            if self.ways == 4
            else "happy, sad, neutral, angry, excited, frustrated"
        )
        others = [str(n) for n in range(1, 6) if n != self.test_session]
        train = (
            f"sessions {others[0]}-{others[-1]}" if self.test_session in (1, 5) else f"sessions {', '.join(others)}"
        )
        self.protocol = (
            f"{self.ways}-way ({merged}; other labels dropped); {train} train with "
            f"{self.validation_fraction:.0%} of their dialogues held out for validation (seed {self.seed}), "
            f"session {self.test_session} test; utterance with {window} as context; weighted-F1 and accuracy on test"
        )
        super().__post_init__()

    def _emo28_sources(self, label: str) -> set[int]:
        sources = {label2id[self.label_map[label]]}
        if self.ways == 4 and label == "happy":
            sources.add(label2id[IEMOCAP_TO_EMOTIONS["excited"]])
        return sources

    def _extra_features(self) -> dict[str, Any]:
        import datasets

        return {"dialogue_id": datasets.Value("string"), "session": datasets.Value("int32")}

    def task_label(self, code: str) -> str | None:
        """The scheme's label for an EmoEvaluation code, or ``None`` when the scheme drops it."""
        label = IEMOCAP_CODES.get(code)
        if label is None:
            return None
        if self.ways == 4:
            return "happy" if label == "excited" else (label if label in self.label_names else None)
        return label

    def validation_dialogues(self, dialogue_ids: list[str]) -> set[str]:
        """The training dialogues held out for validation: a seeded draw of ``validation_fraction`` of them."""
        ids = sorted(set(dialogue_ids))
        if len(ids) < 2 or self.validation_fraction == 0:
            return set()
        n = min(len(ids) - 1, max(1, math.ceil(len(ids) * self.validation_fraction)))
        return set(random.Random(self.seed).sample(ids, n))

    recipe: TaskRecipe = field(default_factory=lambda: IEMOCAP_RECIPE, repr=False)

    def _load_local(self, path: Path) -> datasets.DatasetDict:
        """Read the release layout under ``path`` into ``train``/``validation``/``test`` (those that have rows)."""
        dialogues = read_iemocap_dialogues(path)
        train_ids = [d["dialogue_id"] for d in dialogues if d["session"] != self.test_session]
        held_out = self.validation_dialogues(train_ids)
        rows_by_split: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
        for dialogue in dialogues:
            if dialogue["session"] == self.test_session:
                split = "test"
            else:
                split = "validation" if dialogue["dialogue_id"] in held_out else "train"
            rows_by_split[split].extend(self._dialogue_rows(dialogue))
        return self._to_dataset_dict({split: rows for split, rows in rows_by_split.items() if rows})

    def _dialogue_rows(self, dialogue: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        turns = dialogue["turns"]
        for i, turn in enumerate(turns):
            code = dialogue["labels"].get(turn["turn"], (None, 0))[0]
            label = self.task_label(code) if code else None
            if label is None:
                continue
            start = 0 if self.context_window is None else max(0, i - self.context_window)
            previous = turns[start:i]
            context = "\n".join(f"{t['speaker']}: {t['text']}" for t in previous) or None
            emo28 = [label2id[IEMOCAP_TO_EMOTIONS[IEMOCAP_CODES[code]]]]
            rows.append(
                self._row(
                    turn["turn"],
                    turn["text"],
                    label,
                    context=context,
                    character=turn["speaker"],
                    emo28=emo28,
                    dialogue_id=dialogue["dialogue_id"],
                    session=dialogue["session"],
                )
            )
        return rows

    def compute_metrics(self, y_true: Any, y_pred: Any) -> dict[str, float]:
        """Weighted-F1 (the official metric here), accuracy, macro-F1 and per-class F1."""
        y_true, y_pred = list(y_true), list(y_pred)
        out = single_label_metrics(y_true, y_pred, self.label_names, average="weighted")
        out["macro_f1"] = single_label_metrics(y_true, y_pred, self.label_names, average="macro")["macro_f1"]
        return out

    def session_folds(self, dataset: datasets.Dataset | datasets.DatasetDict) -> list[datasets.DatasetDict]:
        """Leave-one-session-out folds (an alternative protocol): ``train`` = other sessions, ``test`` = one."""
        import datasets

        if isinstance(dataset, datasets.DatasetDict):
            dataset = datasets.concatenate_datasets([dataset[split] for split in dataset])
        sessions = dataset["session"]
        folds = []
        for held in sorted(set(sessions)):
            test = [i for i, s in enumerate(sessions) if s == held]
            train = [i for i, s in enumerate(sessions) if s != held]
            folds.append(datasets.DatasetDict({"train": dataset.select(train), "test": dataset.select(test)}))
        return folds
