"""build-dataset: Parquet shards, a card with exact YAML and the measured quality, charts, run.json; one reader."""

from __future__ import annotations

import json
import os
import shutil

import datasets
import pytest
import yaml
from conftest import read_jsonl, write_jsonl

from emo_pillars.commands.cli import main as commands_main
from emo_pillars.data.features import get_features
from emo_pillars.data.load import load_emo_pillars
from emo_pillars.data.repository import build_repository
from emo_pillars.errors import ConfigError, InputError


def _card_yaml(repo):
    text = (repo / "README.md").read_text()
    return yaml.safe_load(text.split("---")[1]), text


def test_build_then_load_matches_the_one_reader(generated_dir, tmp_path):
    repo = tmp_path / "repo"
    result = build_repository(generated_dir, repo, similarity=False)
    assert result.split_sizes == {
        "context_less": {"train": 3, "validation": 3, "test": 2},
        "contextual": {"train": 2, "validation": 2, "test": 2},
    }
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.parquet")) == sorted(
        f"{c}/{s}-00000-of-00001.parquet"
        for c in ("context_less", "contextual")
        for s in ("train", "validation", "test")
    )
    assert json.loads((repo / "run.json").read_text()) == json.loads((generated_dir / "run.json").read_text())
    for chart in ("label_distribution.png", "utterance_length.png"):
        assert (repo / chart).read_bytes()[:4] == b"\x89PNG"
    for config in ("context_less", "contextual"):
        loaded = datasets.load_dataset(str(repo), config, cache_dir=str(tmp_path / "hf"))
        direct = load_emo_pillars(generated_dir, config)  # the same reader, without a repository
        assert list(loaded) == list(direct)
        for split in loaded:
            assert loaded[split].features == get_features(config) == direct[split].features
            assert loaded[split].to_list() == direct[split].to_list()
            assert (
                len(set(loaded[split]["plot_id"]) & {p for s in loaded if s != split for p in loaded[s]["plot_id"]})
                == 0
            )
    default = datasets.load_dataset(str(repo), split="train", cache_dir=str(tmp_path / "hf"))
    assert default.features == get_features("context_less")
    assert load_emo_pillars(repo, "contextual", split="test").to_list() == loaded["test"].to_list()


def test_card_content(generated_dir, tmp_path):
    repo = tmp_path / "repo"
    result = build_repository(generated_dir, repo, similarity=False, repo_id="me/emo")
    meta, text = _card_yaml(repo)
    assert [c["config_name"] for c in meta["configs"]] == ["context_less", "contextual"]
    assert meta["configs"][0]["default"] is True
    assert meta["annotations_creators"] == ["machine-generated"] and "teacher:scripted-teacher" in meta["tags"]
    # The fixture's plots are not the bundled corpus, and no --narratives named them: the licence says so.
    assert meta["license"] == "other" and meta["emo_pillars"]["corpus"] == "other"
    assert meta["configs"][1]["data_files"][0] == {"split": "train", "path": "contextual/train-*"}
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert datasets.Features._from_yaml_list(infos["contextual"]["features"]) == get_features("contextual")
    assert {s["name"]: s["num_examples"] for s in infos["context_less"]["splits"]} == result.split_sizes[
        "context_less"
    ]
    for needle in [
        "`scripted-teacher` via the `scripted` backend",
        "| characters | 4 | 0 | 0 | 0 | 4 | 0 |  |",
        "every class the teacher scored at or above 0.3",
        '"repetition_penalty": 1.03',
        "| `contextual` | 2 | 2 | 2 | 6 |",
        "| 21 | pride | satisfaction in one's own achievements or in those of someone close | 2 (25.0%) | 2 (33.3%) |",
        "- **Taxonomy:** `goemotions` (28 labels, content hash",
        "![Label distribution](label_distribution.png)",
        "![Utterance length](utterance_length.png)",
        "a corpus this build was not told about",
        "## Limitations",
        "@inproceedings{shvets-2025-emo-pillars",
        'load_dataset("me/emo", "contextual")',
        "similarity not computed (switched off)",
        "`source_utterance` | string | contextual |",
        '"id": "p0003-c01-u05"',  # an example record per config, labels as names
        '"id": "p0002-c01-u03-orig"',
        '"variant": "original"',
        "Fractions of plots 80/10/10 (sklearn `GroupShuffleSplit`, seed 42).",
        "| `context_less` | 2.50 | 2 | 1 | 4 | 1 |",  # label cardinality
        "**Generated:** 2026-11-25T10:00:00+00:00",
    ]:
        assert needle in text, needle
    q = result.quality["context_less"]
    assert q.rows == 8 and q.cardinality == {1: 2, 2: 1, 3: 4, 4: 1} and 0 < q.distinct_1 <= 1
    assert f"{q.distinct_1:.3f} / {q.distinct_2:.3f}" in text


def test_licence_follows_the_corpus(generated_dir, published_dir, tmp_path):
    narratives = tmp_path / "wikiplots_sample.jsonl"
    write_jsonl(
        narratives, [{"id": f"p000{i}", "text": "Mara kept the lamp burning through the storm."} for i in range(1, 5)]
    )
    result = build_repository(generated_dir, tmp_path / "w", similarity=False, narratives=narratives)
    meta, text = _card_yaml(tmp_path / "w")
    assert meta["license"] == "cc-by-sa-4.0" and "CC BY-SA 4.0" in text and result.corpus.kind == "wikiplots"
    assert result.quality["context_less"].synopsis_rows == 8
    build_repository(published_dir, tmp_path / "p", similarity=False)
    assert _card_yaml(tmp_path / "p")[0]["license"] == "cc-by-sa-4.0"


def test_skip_invalid_is_counted_in_card_and_errors_otherwise(generated_dir, tmp_path):
    path = generated_dir / "context_less.jsonl"
    rows = read_jsonl(path)
    rows[1]["labels"] = ["neutral", "Tobias"]
    rows[2]["labels"] = []
    write_jsonl(path, rows)
    with pytest.raises(InputError, match="'Tobias' is not one of the 28 classes"):
        build_repository(generated_dir, tmp_path / "repo", similarity=False)
    assert not (tmp_path / "repo").exists()
    result = build_repository(generated_dir, tmp_path / "repo", similarity=False, skip_invalid=True)
    assert sum(result.split_sizes["context_less"].values()) == 6
    _, text = _card_yaml(tmp_path / "repo")
    assert "`context_less`: 8 rows read, 6 kept, 1 skipped as invalid (labels: 1), 1 dropped for `labels: []`." in text


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
    assert [c["config_name"] for c in _card_yaml(repo)[0]["configs"]] == ["context_less"]


def test_tiny_corpus_falls_back_with_a_warning_in_the_card(generated_dir, tmp_path, caplog):
    path = generated_dir / "context_less.jsonl"
    rows = [r for r in read_jsonl(path) if r["plot_id"] in ("p0001", "p0002")]
    write_jsonl(path, rows)
    (generated_dir / "contextual.jsonl").unlink()
    code = commands_main(["build-dataset", "--generated", str(generated_dir), "--output", str(tmp_path / "r"),
                          "--no-similarity"])  # fmt: skip
    assert code == 0
    line = "only 2 plots for 3 splits (each needs a whole plot): train 1 plot, validation 1 plot, no test split"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"context_less: split fallback: {line}"]
    meta, text = _card_yaml(tmp_path / "r")
    assert meta["emo_pillars"]["split_fallback"] == {"context_less": line}
    assert meta["emo_pillars"]["splits"] == {"context_less": ["train", "validation"]}
    assert f"**Split fallback:** {line}." in text
    assert list(load_emo_pillars(tmp_path / "r")) == ["train", "validation"]


def test_outputs_respect_the_umask(generated_dir, tmp_path):
    old = os.umask(0o022)
    try:
        build_repository(generated_dir, tmp_path / "repo", similarity=False)
    finally:
        os.umask(old)
    root = tmp_path / "repo"
    assert oct(root.stat().st_mode & 0o777) == "0o755"
    for path in root.rglob("*"):
        assert oct(path.stat().st_mode & 0o777) == ("0o755" if path.is_dir() else "0o644"), path


def test_building_into_the_static_folder(generated_dir, tmp_path):
    static = tmp_path / "emo_pillars"
    shutil.copytree("dataset_builders/emo_pillars", static)
    build_repository(generated_dir, static, similarity=False)
    ds = datasets.load_dataset(str(static), "contextual", cache_dir=str(tmp_path / "hf"))
    assert sum(len(s) for s in ds.values()) == 6 and (static / "BUILDING.md").is_file()
    assert (static / ".gitignore").is_file()


def test_cli_one_line_errors(generated_dir, published_dir, tmp_path, capsys):
    out = tmp_path / "cli_repo"
    code = commands_main(["build-dataset", "--generated", str(generated_dir), "--output", str(out), "--no-similarity",
                          "--contextual-splits", "0.5,0.25,0.25"])  # fmt: skip
    assert code == 0 and "contextual: train" in capsys.readouterr().out
    assert datasets.load_dataset(str(out), "contextual", split="train", cache_dir=str(tmp_path / "hf")).num_rows > 0
    code = commands_main(["build-dataset", "--generated", str(published_dir), "--output", str(tmp_path / "pub"),
                          "--no-similarity"])  # fmt: skip
    assert code == 0 and "10 junk labels dropped" in capsys.readouterr().out

    def one_line_error(argv, needle):
        code = commands_main(argv)
        err = capsys.readouterr().err.split("\r")[-1].strip()  # after any progress bar's carriage returns
        assert code == 2 and len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err

    base = ["build-dataset", "--generated", str(generated_dir)]
    one_line_error([*base, "--output", str(tmp_path / "x"), "--similarity-sample", "0"], "must be a positive")
    one_line_error([*base, "--output", str(tmp_path / "x"), "--similarity-sample", "-3"], "must be a positive")
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("hello")
    one_line_error([*base, "--output", str(a_file)], f"--output {a_file} is an existing file, not a folder")
    assert a_file.read_text() == "hello"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("mine")
    one_line_error([*base, "--output", str(busy)], "is not empty and is not a dataset repository")
    one_line_error(["build-dataset", "--generated", str(tmp_path / "nowhere"), "--output", str(out)], "no such folder")
    (generated_dir / "context_less.jsonl").write_text("not json\n")
    one_line_error([*base, "--output", str(tmp_path / "bad")], "context_less.jsonl:1: not valid JSON")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "x").exists()
    one_line_error(["push-dataset", str(tmp_path / "nowhere"), "--repo-id", "me/x"], "nowhere: no such folder")
    one_line_error(["push-dataset", str(out), "--repo-id", "not a/valid id"], "is not a valid Hub id")


def test_sample_size_is_checked_in_the_api(generated_dir, tmp_path):
    with pytest.raises(ConfigError, match="positive"):
        build_repository(generated_dir, tmp_path / "repo", sample_size=0)
