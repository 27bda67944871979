"""The Emo Pillars context-less data (Shvets, 2025) as a task: the real teacher's labels as a yardstick.

Two layouts load:

* **the published release** (``alex-shvets/EmoPillars``, folder ``context-less/``): ``train.jsonl``, ``dev.jsonl``
  and ``test.jsonl``, one JSON object a line with ``utterance`` and ``labels`` (class indices 0-27, GoEmotions
  order); ``plot_id`` is kept as the example id's prefix. ``dev`` becomes ``validation``. The folder given may be
  the release's root (holding ``context-less/``) or ``context-less/`` itself.
* **the sample's layout** (``path/to/context_less_sample.csv``, EmoAxis' export of the release):
  a CSV with a header ``text,0,1,...,27`` and one 0/1 column per class in GoEmotions order. A folder holding one
  such ``.csv`` works too.

The CSV has no split. It is cut into ``train``/``validation``/``test`` (70/10/20, seed 42) **by group**: texts that
are near-identical (cosine similarity of character 3-5-gram count vectors at or above 0.9 once case and
punctuation are dropped, joined transitively; exact repeats included) share a group, and a group never straddles two splits
(:func:`near_duplicate_groups`, scikit-learn's ``GroupShuffleSplit``).

Protocol: the GoEmotions one. Train on ``train``, tune one global threshold on ``validation``, report macro-F1 (and
micro-F1) on ``test`` against the teacher's labels, which is how far a student agrees with Mistral-7B. A model
trained elsewhere (GoEmotions) is scored with ``emo-pillars evaluate``: that is the cross-domain figure.

Recipe defaults (what ``finetune`` starts from; every value can be overridden): the 28-class head, 10 epochs, max
length 64, chosen on validation carved from the grouped train split; see :data:`EMOPILLARS_RECIPE` and
``research/results/recipe-choice-emopillars.json``.

Examples:
    >>> from emo_pillars.tasks import get_task
    >>> task = get_task("emopillars")
    >>> task.multi_label, task.num_labels, task.metric_name
    (True, 28, 'macro_f1')
    >>> near_duplicate_groups(["I lost it.", "I lost it!", "The sea is calm."]).tolist()
    [0, 0, 1]
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..taxonomy import EMOTIONS
from .base import Task, read_text, split_lines
from .recipe import TaskRecipe

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import numpy as np

__all__ = ["EmoPillarsTask", "read_emopillars_csv", "near_duplicate_groups", "SAMPLE_SPLITS"]

#: The shares of the grouped split of a CSV without splits.
SAMPLE_SPLITS: dict[str, float] = {"train": 0.7, "validation": 0.1, "test": 0.2}
#: The release's file names -> split names.
RELEASE_FILES: dict[str, str] = {"train.jsonl": "train", "dev.jsonl": "validation", "test.jsonl": "test"}
_HEADER = ["text", *(str(i) for i in range(len(EMOTIONS)))]
_NON_WORD = re.compile(r"[^\w\s]+")


def read_emopillars_csv(path: str | Path) -> list[tuple[str, list[int], int]]:
    """Rows ``(text, label indices, line)`` of a CSV in the sample's layout (``text`` + 28 binary columns).

    Raises:
        InputError: A wrong header, a row without 29 fields, a label value other than 0 or 1, a row with no label,
            or an empty text; the message names the file, the line and the field.
    """
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if header != _HEADER:
        raise InputError(
            f"expected the header text,0,1,...,27 (28 binary columns in GoEmotions order), got {','.join(header[:4])}...",
            path=path,
            line=1,
        )
    rows = []
    for fields in reader:
        line = reader.line_num
        if not fields:
            continue
        if len(fields) != len(_HEADER):
            raise InputError(f"expected {len(_HEADER)} fields, got {len(fields)}", path=path, line=line)
        if not fields[0].strip():
            raise InputError("empty text", path=path, line=line, field="text")
        labels = []
        for i, value in enumerate(fields[1:]):
            if value.strip() not in ("0", "1"):
                raise InputError(f"expected 0 or 1, got {value!r}", path=path, line=line, field=str(i))
            if value.strip() == "1":
                labels.append(i)
        if not labels:
            raise InputError("no label set (every column is 0)", path=path, line=line)
        rows.append((fields[0], labels, line))
    if not rows:
        raise InputError("no data rows after the header", path=path)
    return rows


def near_duplicate_groups(texts: list[str], threshold: float = 0.9) -> np.ndarray:
    """One group id per text: texts whose character 3-5-gram cosine similarity (after lowercasing and dropping
    punctuation) reaches ``threshold`` share a group, transitively (connected components). Dense similarities:
    meant for samples of up to ~20,000 texts.

    Args:
        texts: The texts.
        threshold: The similarity from which two texts count as near-identical.
    """
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Case, punctuation and spacing do not make texts different; plain term frequencies (no IDF, which in a small
    # sample weighs a one-off punctuation n-gram above the shared words).
    normalised = [" ".join(_NON_WORD.sub(" ", text.lower()).split()) for text in texts]
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), use_idf=False).fit_transform(normalised)
    similar = (vectors @ vectors.T).toarray() >= threshold
    np.fill_diagonal(similar, True)
    _, groups = connected_components(csr_matrix(similar), directed=False)
    # Number the groups in order of first appearance, so the ids read naturally.
    order: dict[int, int] = {}
    return np.asarray([order.setdefault(int(g), len(order)) for g in groups], dtype=np.int64)


def grouped_split(groups: Any, shares: dict[str, float], seed: int = 42) -> dict[str, list[int]]:
    """Row indices per split (``shares``: split name -> share, summing to 1), each group wholly in one split.

    The last split is drawn first from everything, the one before it from the rest, and so on
    (``GroupShuffleSplit``), so the first split gets what is left.

    Examples:
        >>> parts = grouped_split([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], {"train": 0.8, "test": 0.2})
        >>> len(parts["train"]), len(parts["test"])
        (8, 2)
    """
    import numpy as np
    from sklearn.model_selection import GroupShuffleSplit

    groups = np.asarray(groups)
    rest = np.arange(len(groups))
    left = 1.0
    parts: dict[str, list[int]] = {}
    names = list(shares)
    for name in reversed(names[1:]):
        splitter = GroupShuffleSplit(n_splits=1, test_size=shares[name] / left, random_state=seed)
        keep, take = next(splitter.split(rest, groups=groups[rest]))
        parts[name] = sorted(int(i) for i in rest[take])
        rest, left = rest[keep], left - shares[name]
    parts[names[0]] = sorted(int(i) for i in rest)
    return {name: parts[name] for name in names}


#: The recipe defaults, and how they were chosen (see :mod:`emo_pillars.tasks.recipe`).
EMOPILLARS_RECIPE = TaskRecipe(
    head="emo28",
    max_length=64,
    learning_rate=2e-4,
    head_learning_rate=2e-3,
    num_train_epochs=10,
    per_device_train_batch_size=32,
    pos_weight="none",
    threshold_policy="global",
    chosen_by="epochs on validation carved from the sample's grouped train split (80/20 by group), macro-F1.",
)


@dataclass
class EmoPillarsTask(Task):
    """The Emo Pillars context-less data: 28 classes, multi-label, the teacher's (Mistral-7B's) labels.

    Examples:
        >>> task = EmoPillarsTask()
        >>> task.splits, task.input_format
        (('train', 'validation', 'test'), 'context_less')
        >>> # data = task.load("path/to/emopillars")   # the sample: a grouped 70/10/20 split
    """

    name: str = "emopillars"
    label_names: tuple[str, ...] = EMOTIONS
    label_map: dict[str, str] = field(default_factory=lambda: {e: e for e in EMOTIONS})
    multi_label: bool = True
    input_format: str = "context_less"
    protocol: str = (
        "the release's train/dev/test, or for a CSV without splits a 70/10/20 split grouped so that near-identical "
        "texts (char 3-5-gram cosine >= 0.9, case and punctuation aside) stay in one split, seed 42; one global threshold tuned on "
        "validation for macro-F1; macro-F1 and micro-F1 on test against the teacher's (Mistral-7B's) labels"
    )
    metric_name: str = "macro_f1"
    hub_id: str | None = None
    description: str = field(
        default="Emo Pillars (Shvets, 2025), context-less: utterances of story characters thinking aloud, written "
        "and labelled with the 28 GoEmotions classes by Mistral-7B-Instruct-v0.2 from narrative plots. The labels "
        "are the teacher's (silver), not human annotations.",
        repr=False,
    )
    limitations: tuple[str, ...] = field(
        default=(
            "**Silver labels.** The gold standard here is an LLM's labelling; agreement with it measures how close a "
            "student is to Mistral-7B, not to human judgement.",
            "**Synthetic narrative text.** Characters thinking aloud about plots; scores on conversation or social "
            "media may differ.",
        ),
        repr=False,
    )
    split_name: str = (
        "train/validation/test: the release's, or for a CSV a 70/10/20 split grouped by near-identical texts (seed 42)"
    )
    recipe: TaskRecipe = field(default_factory=lambda: EMOPILLARS_RECIPE, repr=False)
    seed: int = 42

    def _load_local(self, path: Path, **kwargs: Any) -> datasets.DatasetDict:
        """Read the release folder (JSONL splits) or a CSV in the sample's layout (grouped split)."""
        if kwargs:
            raise TypeError(f"unexpected options for the Emo Pillars loader: {sorted(kwargs)}")
        if path.is_dir():
            release = path / "context-less" if (path / "context-less").is_dir() else path
            if any((release / name).is_file() for name in RELEASE_FILES):
                return self._load_release(release)
            csvs = sorted(path.glob("*.csv"))
            if len(csvs) != 1:
                raise InputError(
                    f"expected context-less/{{train,dev,test}}.jsonl or one .csv in the folder, found {len(csvs)} "
                    ".csv files",
                    path=path,
                )
            path = csvs[0]
        return self._load_csv(path)

    def _load_csv(self, path: Path) -> datasets.DatasetDict:
        rows = read_emopillars_csv(path)
        groups = near_duplicate_groups([text for text, _, _ in rows])
        split = grouped_split(groups, SAMPLE_SPLITS, seed=self.seed)
        rows_by_split = {
            name: [
                self._row(f"line-{rows[i][2]}", rows[i][0], rows[i][1], emo28=rows[i][1], group=int(groups[i]))
                for i in indices
            ]
            for name, indices in split.items()
        }
        return self._to_dataset_dict(rows_by_split)

    def _load_release(self, folder: Path) -> datasets.DatasetDict:
        rows_by_split = {}
        for name, split in RELEASE_FILES.items():
            file = folder / name
            if not file.is_file():
                continue
            rows = []
            for number, line in enumerate(split_lines(read_text(file)), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise InputError(f"not valid JSON: {err.msg}", path=file, line=number) from None
                text = record.get("utterance") if isinstance(record, dict) else None
                if not isinstance(text, str) or not text.strip():
                    raise InputError("missing or empty utterance", path=file, line=number, field="utterance")
                labels = record.get("labels")
                if (
                    not isinstance(labels, list)
                    or not labels
                    or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 28 for i in labels)
                ):
                    raise InputError(
                        f"labels must be a non-empty list of class indices 0-27, got {labels!r}",
                        path=file,
                        line=number,
                        field="labels",
                    )
                ids = sorted(set(labels))
                prefix = record.get("plot_id", split)
                rows.append(self._row(f"{prefix}-{number}", text, ids, emo28=ids, group=-1))
            rows_by_split[split] = rows
        return self._to_dataset_dict(rows_by_split)

    def _extra_features(self) -> dict[str, Any]:
        import datasets

        return {"group": datasets.Value("int64")}
