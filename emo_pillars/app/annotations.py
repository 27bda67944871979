"""The human evaluation's records: an annotation store (one JSONL file per annotator) and the report.

The paper checked its generated data by hand: annotators marked each label of a sampled example right or wrong,
and for contextual examples whether the context explains the emotion without naming it. It reports the share of
labels judged right (label precision) and Cohen's kappa between two annotators.

Each annotator's judgements live in ``{folder}/{annotator}.jsonl``, one object per annotated example
(:class:`Annotation`). Every save rewrites the file through a temporary sibling that is fsynced and renamed
(:func:`emo_pillars.utils.io.atomic_write_jsonl`), so a crash at any moment leaves the previous file or the new one, never
half a line. A save the file system refuses (a full disk) is one :class:`~emo_pillars.errors.WriteError` line naming
the file, which keeps every judgement saved before. The files are plain JSONL so two annotators can work on two machines and their files be compared.

Examples:
    >>> import tempfile
    >>> from emo_pillars.app.annotations import Annotation, AnnotationStore, evaluation_report
    >>> store = AnnotationStore(tempfile.mkdtemp())
    >>> a = Annotation(annotator="ann", dataset="d", config="context_less", seed=0, example_id="e1",
    ...                judgements={"joy": True, "pride": False})
    >>> _ = store.save(a)
    >>> store.done_ids("ann", "d", "context_less", 0)
    {'e1'}
    >>> evaluation_report({"ann": store.load("ann")}).precision
    0.5
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError, WriteError
from ..utils.io import atomic_write_jsonl

__all__ = [
    "Annotation",
    "AnnotationStore",
    "EvaluationReport",
    "LabelPrecision",
    "evaluation_report",
    "evaluation_report_from_files",
]


#: What a save the file system refuses keeps (the end of its one line).
KEPT = "every judgement saved before is kept; save again once there is space"


def _check_name(annotator: str) -> str:
    name = (annotator or "").strip()
    if not name:
        raise InputError("give the annotator's name", field="annotator")
    if len(name) > 100 or any(ord(c) < 32 for c in name):
        raise InputError(f"annotator name must be printable and at most 100 characters, got {name!r}",
                         field="annotator")  # fmt: skip
    return name


@dataclass
class Annotation:
    """One annotator's judgement of one example.

    Args:
        annotator: Who judged.
        dataset: The dataset's identity (:func:`~emo_pillars.app.samples.dataset_identity`).
        config: ``"context_less"`` or ``"contextual"``.
        seed: The seed of the sample the example was drawn in.
        example_id: The example's ``id``.
        judgements: ``{label: True if right, False if wrong}`` for every label of the example.
        context_explains: For contextual examples: does the context explain the emotion without naming it?
        position: The example's place in the sample (0-based).
        utterance: The utterance shown (kept so a file can be read on its own).
        context: The context shown.
        character: The character shown.
        saved_at: UTC time of the save (ISO 8601), filled in on save.

    Examples:
        >>> a = Annotation(annotator="ann", dataset="me/emo-pillars", config="contextual", seed=0,
        ...                example_id="p0001-c01-u00-orig", judgements={"pride": True, "joy": False},
        ...                context_explains=True)
        >>> a.key()[-1]
        'p0001-c01-u00-orig'
    """

    annotator: str
    dataset: str
    config: str
    seed: int
    example_id: str
    judgements: dict[str, bool]
    context_explains: bool | None = None
    position: int | None = None
    utterance: str | None = None
    context: str | None = None
    character: str | None = None
    saved_at: str | None = None

    def __post_init__(self) -> None:
        self.annotator = _check_name(self.annotator)
        if not self.judgements:
            raise InputError("an annotation needs a judgement for at least one label", field="judgements")
        for label, right in self.judgements.items():
            if not isinstance(right, bool):
                raise InputError(f"label {label!r} must be judged true or false, got {right!r}", field="judgements")
        if self.context_explains is not None and not isinstance(self.context_explains, bool):
            raise InputError(f"context_explains must be true, false or null, got {self.context_explains!r}",
                             field="context_explains")  # fmt: skip

    @classmethod
    def from_dict(cls, obj: Any, *, path: str | None = None, line: int | None = None) -> Annotation:
        """Read one JSONL record; a bad one raises :class:`InputError` naming the file, line and field."""
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=path, line=line)
        names = set(cls.__dataclass_fields__)
        for key in ("annotator", "dataset", "config", "seed", "example_id", "judgements"):
            if key not in obj:
                raise InputError("missing", path=path, line=line, field=key)
        if not isinstance(obj["judgements"], dict):
            raise InputError("expected an object of label: true/false", path=path, line=line, field="judgements")
        try:
            return cls(**{k: v for k, v in obj.items() if k in names})
        except InputError as error:
            raise InputError(error.message, path=path, line=line, field=error.field) from None

    def key(self) -> tuple[str, str, str, int, str]:
        return (self.annotator, self.dataset, self.config, self.seed, self.example_id)


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(str(path.resolve()), threading.Lock())


class AnnotationStore:
    """The annotation files of one folder: ``{folder}/{annotator}.jsonl``, one per annotator.

    Saving the same example again (same annotator, dataset, config, seed and id) replaces the earlier judgement.

    Args:
        folder: Where the files live (created on the first save).

    Examples:
        >>> store = AnnotationStore("annotations")  # doctest: +SKIP
        >>> store.path_for("Ann Lee").name  # doctest: +SKIP
        'Ann_Lee.jsonl'
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path_for(self, annotator: str) -> Path:
        """The file of ``annotator`` (the name with anything but letters, digits, ``.``, ``-``, ``_`` as ``_``)."""
        name = _check_name(annotator)
        stem = re.sub(r"[^\w.-]+", "_", name).strip("._") or "annotator"
        return self.folder / f"{stem}.jsonl"

    @staticmethod
    def read(path: str | os.PathLike) -> list[Annotation]:
        """Every annotation in one file (empty when the file does not exist)."""
        path = Path(path)
        if not path.is_file():
            return []
        records = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as error:
                    raise InputError(f"not valid JSON ({error.msg})", path=str(path), line=number) from None
                records.append(Annotation.from_dict(obj, path=str(path), line=number))
        return records

    def load(self, annotator: str) -> list[Annotation]:
        """The annotations ``annotator`` saved in this folder (by that exact name)."""
        name = _check_name(annotator)
        return [a for a in self.read(self.path_for(name)) if a.annotator == name]

    def save(self, annotation: Annotation) -> Path:
        """Add (or replace) one annotation and rewrite the annotator's file atomically; returns the file.

        Raises:
            WriteError: The file system refused the write; the file is as it was, every earlier judgement in it.
        """
        path = self.path_for(annotation.annotator)
        if annotation.saved_at is None:
            annotation.saved_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with _lock_for(path):
            records = [r for r in self.read(path) if r.key() != annotation.key()]
            records.append(annotation)
            try:
                atomic_write_jsonl(path, (asdict(r) for r in records))
            except WriteError as error:
                raise error.keeping(KEPT) from error.__cause__
        return path

    def done_ids(self, annotator: str, dataset: str, config: str, seed: int) -> set[str]:
        """Ids of the examples ``annotator`` has judged in this sample (dataset, config and seed)."""
        return {a.example_id for a in self.load(annotator) if (a.dataset, a.config, a.seed) == (dataset, config, seed)}


@dataclass(frozen=True)
class LabelPrecision:
    """How often one label was judged right.

    Examples:
        >>> LabelPrecision("joy", judged=4, right=3).precision
        0.75
    """

    label: str
    judged: int
    right: int

    @property
    def precision(self) -> float:
        return self.right / self.judged if self.judged else math.nan


@dataclass
class EvaluationReport:
    """Label precision (overall, per annotator, per label) and agreement between two annotators.

    Args:
        annotators: The annotators, in the order given.
        judged: Label judgements per annotator.
        right: Judgements of "right" per annotator.
        per_label: Precision per label, all annotators pooled, most judged first.
        examples: Examples judged per annotator.
        context_judged: Contextual examples judged, per annotator.
        context_explains: Contextual examples whose context was judged to explain the emotion, per annotator.
        shared_judgements: (example, label) judgements both annotators made (two annotators only).
        kappa: Cohen's kappa over those shared judgements (``None`` with one annotator or nothing shared,
            ``nan`` when it is undefined: both gave one answer throughout).
        observed_agreement: Share of the shared judgements on which the two agree.
        context_shared: Contextual examples both annotators judged.
        context_kappa: Cohen's kappa over their context judgements.

    Examples:
        >>> ann = [Annotation("ann", "d", "context_less", 0, "e1", {"joy": True, "pride": False})]
        >>> bob = [Annotation("bob", "d", "context_less", 0, "e1", {"joy": True, "pride": True})]
        >>> report = evaluation_report({"ann": ann, "bob": bob})
        >>> report.precision, report.shared_judgements, report.observed_agreement
        (0.75, 2, 0.5)
    """

    annotators: list[str]
    judged: dict[str, int]
    right: dict[str, int]
    per_label: list[LabelPrecision]
    examples: dict[str, int]
    context_judged: dict[str, int] = field(default_factory=dict)
    context_explains: dict[str, int] = field(default_factory=dict)
    shared_judgements: int = 0
    kappa: float | None = None
    observed_agreement: float | None = None
    context_shared: int = 0
    context_kappa: float | None = None

    @property
    def precision(self) -> float:
        """Label precision over every judgement of every annotator."""
        judged = sum(self.judged.values())
        return sum(self.right.values()) / judged if judged else math.nan

    def to_markdown(self) -> str:
        """The report as Markdown: precision per annotator, agreement, then the per-label table."""
        lines = [
            "| annotator | examples | label judgements | label precision | context explains |",
            "|---|---|---|---|---|",
        ]
        for name in self.annotators:
            judged = self.judged.get(name, 0)
            prec = _fmt(self.right.get(name, 0) / judged if judged else math.nan)
            ctx_n = self.context_judged.get(name, 0)
            ctx = f"{self.context_explains.get(name, 0)}/{ctx_n}" if ctx_n else "-"
            lines.append(f"| {name} | {self.examples.get(name, 0)} | {judged} | {prec} | {ctx} |")
        if len(self.annotators) > 1:
            lines.append(f"| all | | {sum(self.judged.values())} | {_fmt(self.precision)} | |")
        lines.append("")
        if len(self.annotators) == 2:
            a, b = self.annotators
            if self.shared_judgements:
                lines.append(
                    f"Cohen's kappa ({a} vs {b}) over {self.shared_judgements} shared label judgements: "
                    f"**{_fmt(self.kappa)}** (observed agreement {_fmt(self.observed_agreement)})."
                )
            else:
                lines.append(f"{a} and {b} share no judged (example, label) pairs yet: no kappa.")
            if self.context_shared:
                lines.append(
                    f"Context judgements: kappa **{_fmt(self.context_kappa)}** over {self.context_shared} shared "
                    "contextual examples."
                )
            lines.append("")
        lines += ["| label | judged | right | precision |", "|---|---|---|---|"]
        lines += [f"| {p.label} | {p.judged} | {p.right} | {_fmt(p.precision)} |" for p in self.per_label]
        return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "undefined"
    return f"{value:.3f}"


def _kappa(first: Sequence[bool], second: Sequence[bool]) -> float:
    """Cohen's kappa with scikit-learn's implementation; ``nan`` where it is undefined (no variation at all)."""
    if set(first) | set(second) == {first[0]}:
        return math.nan  # both annotators gave one and the same answer throughout: chance agreement is 1
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(list(first), list(second), labels=[False, True]))


def evaluation_report(annotations: Mapping[str, Sequence[Annotation]]) -> EvaluationReport:
    """Label precision for one or more annotators, and Cohen's kappa when there are exactly two.

    Kappa is computed over the (example, label) judgements both annotators made; an example is the same when
    its dataset, config and id are the same (the seed it was drawn with does not matter).

    Args:
        annotations: ``{annotator: their annotations}`` (e.g. from :meth:`AnnotationStore.load` or
            :meth:`AnnotationStore.read` of each annotator's file).

    Raises:
        InputError: When no annotator has any annotation.
    """
    if not any(annotations.values()):
        raise InputError("no annotations to report on yet")
    names = list(annotations)
    judged = dict.fromkeys(names, 0)
    right = dict.fromkeys(names, 0)
    examples = dict.fromkeys(names, 0)
    context_judged = dict.fromkeys(names, 0)
    context_yes = dict.fromkeys(names, 0)
    per_label: dict[str, list[int]] = {}
    label_votes: dict[str, dict[tuple[str, str, str, str], bool]] = {n: {} for n in names}
    context_votes: dict[str, dict[tuple[str, str, str], bool]] = {n: {} for n in names}
    for name in names:
        latest: dict[tuple[str, str, str], Annotation] = {}
        for record in annotations[name]:
            latest[(record.dataset, record.config, record.example_id)] = record  # a re-judged example counts once
        for example_key, record in latest.items():
            examples[name] += 1
            for label, ok in record.judgements.items():
                judged[name] += 1
                right[name] += int(ok)
                counts = per_label.setdefault(label, [0, 0])
                counts[0] += 1
                counts[1] += int(ok)
                label_votes[name][(*example_key, label)] = ok
            if record.context_explains is not None:
                context_judged[name] += 1
                context_yes[name] += int(record.context_explains)
                context_votes[name][example_key] = record.context_explains
    report = EvaluationReport(
        annotators=names,
        judged=judged,
        right=right,
        per_label=sorted(
            (LabelPrecision(label, n, ok) for label, (n, ok) in per_label.items()), key=lambda p: (-p.judged, p.label)
        ),
        examples=examples,
        context_judged=context_judged,
        context_explains=context_yes,
    )
    if len(names) == 2:
        a, b = names
        shared = sorted(set(label_votes[a]) & set(label_votes[b]))
        report.shared_judgements = len(shared)
        if shared:
            first = [label_votes[a][k] for k in shared]
            second = [label_votes[b][k] for k in shared]
            report.kappa = _kappa(first, second)
            report.observed_agreement = sum(x == y for x, y in zip(first, second)) / len(shared)
        shared_ctx = sorted(set(context_votes[a]) & set(context_votes[b]))
        report.context_shared = len(shared_ctx)
        if shared_ctx:
            report.context_kappa = _kappa([context_votes[a][k] for k in shared_ctx],
                                          [context_votes[b][k] for k in shared_ctx])  # fmt: skip
    return report


def evaluation_report_from_files(
    paths: Sequence[str | os.PathLike], dataset: str | None = None, config: str | None = None
) -> EvaluationReport:
    """The report over annotation files, e.g. one per annotator from different machines.

    Records are grouped by annotator name (in order of first appearance); kappa is computed when there are two.

    Args:
        paths: JSONL files written by :class:`AnnotationStore`.
        dataset: Keep only records of this dataset identity (default: all).
        config: Keep only records of this config (default: all).

    Raises:
        InputError: For a malformed file (file, line and field named), or when nothing is left to report on.
    """
    grouped: dict[str, list[Annotation]] = {}
    for path in paths:
        if not Path(path).is_file():
            raise InputError("no such annotation file", path=os.fspath(path))
        for record in AnnotationStore.read(path):
            if (dataset is None or record.dataset == dataset) and (config is None or record.config == config):
                grouped.setdefault(record.annotator, []).append(record)
    return evaluation_report(grouped)
