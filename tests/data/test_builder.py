"""The GeneratorBasedBuilder: both configs, both layouts, grouped splits, and a cache that never serves stale rows."""

from __future__ import annotations

import datasets
from conftest import read_jsonl, write_jsonl

from emo_pillars.data.builder import EmoPillars, build_with_builder
from emo_pillars.data.features import get_features


def test_generated_output_both_configs(generated_dir, tmp_path):
    for config, n in (("context_less", 8), ("contextual", 6)):
        ds, report = build_with_builder(generated_dir, config, cache_dir=tmp_path / "cache")
        assert isinstance(ds, datasets.DatasetDict) and list(ds) == ["train", "validation", "test"]
        assert all(split.features == get_features(config) for split in ds.values())
        assert sum(len(split) for split in ds.values()) == n == report.rows_kept
        plots = [set(split["plot_id"]) for split in ds.values()]
        assert not (plots[0] & plots[1] or plots[0] & plots[2] or plots[1] & plots[2])
    row = ds["train"][0]
    assert ds["train"].features["variant"].int2str(row["variant"]) in ("original", "rewritten")
    assert len(row["emotion_scores"]) == 28


def test_builder_class_and_seed(generated_dir, tmp_path):
    builder = EmoPillars(config_name="context_less", data_dir=generated_dir, cache_dir=str(tmp_path), seed=1)
    builder.download_and_prepare()
    train = builder.as_dataset(split="train")
    again, _ = build_with_builder(generated_dir, "context_less", cache_dir=tmp_path / "c2", seed=1, split="train")
    assert train.to_list() == again.to_list()
    assert builder.report.rows_kept == 8 and builder.info.license == "cc-by-sa-4.0"


def test_cache_is_not_stale_when_input_changes(generated_dir, tmp_path):
    cache = tmp_path / "cache"
    before, _ = build_with_builder(generated_dir, "context_less", cache_dir=cache)
    path = generated_dir / "context_less.jsonl"
    rows = read_jsonl(path)
    rows[0]["utterance"] = "An edited utterance that must show up."
    write_jsonl(path, rows)
    after, _ = build_with_builder(generated_dir, "context_less", cache_dir=cache)
    texts = [t for split in after.values() for t in split["utterance"]]
    assert "An edited utterance that must show up." in texts
    assert texts != [t for split in before.values() for t in split["utterance"]]


def test_published_layout_drops_and_counts_junk(published_dir, tmp_path):
    ds, report = build_with_builder(published_dir, "context_less", cache_dir=tmp_path)
    assert {k: len(v) for k, v in ds.items()} == {"train": 5, "validation": 1, "test": 2}
    names = ds["train"].features["labels"].feature.names
    labels = [names[i] for split in ds.values() for row in split["labels"] for i in row]
    assert "plot" not in labels and set(labels) <= set(names)
    assert report.junk_total == 10 and report.skipped == 1
    # Served from the cache, the report is still filled.
    _, again = build_with_builder(published_dir, "context_less", cache_dir=tmp_path)
    assert again.junk_labels == report.junk_labels
    resplit, _ = build_with_builder(published_dir, "context_less", cache_dir=tmp_path, resplit=True)
    assert sum(len(s) for s in resplit.values()) == 8
