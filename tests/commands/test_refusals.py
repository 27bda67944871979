"""Every command refuses what it cannot honour in one line (exit 2), before anything loads, and warns in one line
where running on is right: an ``--output`` that names an existing file, a zero count, options that mean nothing in
the mode chosen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emo_pillars.commands.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"
SERVER = ["--server-url", "http://127.0.0.1:9"]  # never contacted: the options are refused first


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a_file.txt"
    path.write_text("not a folder")
    return path


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "generated", tmp_path / "generated"))


@pytest.fixture
def published(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "published", tmp_path / "published"))


def refused(capsys: pytest.CaptureFixture, argv: list[str], needle: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, (argv, err)
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err


def warned(capsys: pytest.CaptureFixture, argv: list[str], needle: str) -> int:
    code = main(argv)
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert len(lines) == 1 and needle in lines[0], lines
    return code


def test_an_output_that_names_an_existing_file_is_refused(capsys, a_file, generated, tmp_path) -> None:
    out = ["--output", str(a_file)]
    for argv in (
        ["generate", *out],
        ["build-dataset", "--generated", str(generated), *out],
        ["merge", str(generated), *out],
        ["train", "--dataset", str(generated), "--model", "org/model", "--output_dir", str(a_file)],
        ["finetune", "--task", "isear", "--data", str(tmp_path), "--model", "org/model", *out],
        ["export", "--model", "org/model", *out],
        ["demo", *out],
        ["app", "--model", "org/model", "--annotations", str(a_file)],
    ):
        refused(capsys, argv, "is an existing file, not a folder")
    refused(capsys, [*_evaluate(tmp_path), "--output", str(tmp_path)], "is an existing folder, not a file")
    refused(capsys, ["generate", "--output", str(a_file / "below")], "is a file, not a folder")


def _evaluate(tmp_path: Path) -> list[str]:
    return ["evaluate", "--task", "isear", "--data", str(tmp_path / "isear.csv"), "--model", "org/model"]


def test_zero_and_negative_counts_are_refused(capsys, generated, tmp_path) -> None:
    out = ["--output", str(tmp_path / "out")]
    for argv in (
        ["generate", *out, "--batch-size", "0"],
        ["generate", *out, *SERVER, "--batch-size", "0"],
        ["generate", *out, *SERVER, "--max-concurrency", "-2"],
        ["generate", *out, "--max-batch-tokens", "0"],
        ["generate", *out, "--chunk-size", "0"],
        ["build-dataset", "--generated", str(generated), *out, "--similarity-sample", "0"],
        [*_evaluate(tmp_path), "--batch-size", "0"],
        ["predict", "hello", "--model", "org/model", "--top-k", "0"],
        ["export", "--model", "org/model", *out, "--opset", "0"],
        ["demo", *out, "--max-plots", "0"],
    ):
        refused(capsys, argv, "must be a positive whole number")
    for argv in (
        ["train", "--dataset", str(generated), "--model", "org/model", "--output_dir", str(tmp_path / "t"),
         "--per_device_train_batch_size", "0"],
        ["finetune", "--task", "isear", "--data", str(tmp_path), "--model", "org/model", *out,
         "--per_device_train_batch_size", "0"],
    ):  # fmt: skip
        refused(capsys, argv, "per_device_train_batch_size must be above 0")
    assert not (tmp_path / "out").exists() and not (tmp_path / "t").exists()


def test_options_that_mean_nothing_in_the_mode_chosen_are_refused(capsys, published, tmp_path) -> None:
    out = ["--output", str(tmp_path / "out")]
    for argv, needle in (
        (["generate", *out, *SERVER, "--gguf-file", "m.gguf"], "--gguf-file only apply with a local model"),
        (["generate", *out, *SERVER, "--device", "cpu"], "--device only apply with a local model"),
        (["generate", *out, *SERVER, "--peer-timeout", "60"], "--peer-timeout only apply with a local model"),
        (["generate", *out, *SERVER, "--label-mode", "score"], "--label-mode score only apply with a local model"),
        (["generate", *out, "--max-concurrency", "4"], "--max-concurrency only apply with --server-url"),
        (["generate", *out, "--server-prefill"], "--server-prefill only apply with --server-url"),
        (["generate", *out, "--contextual-fraction", "0.5"], "--contextual-fraction only apply with --contextual"),
        (["generate", *out, "--no-rewriting"], "--no-rewriting only apply with --contextual"),
        (["generate", *out, "--no-calibration"], "--no-calibration only apply with --label-mode score"),
        (["build-dataset", "--generated", str(published), *out, "--context-less-splits", "0.8,0.1,0.1"],
         "split fractions apply to the published layout only with --resplit"),
        (["train", "--dataset", str(published), "--model", "org/model", "--output_dir", str(tmp_path / "t"),
          "--lora_r", "4"], "--lora_r only apply with --lora"),
        (["finetune", "--task", "goemotions", "--data", str(tmp_path), "--model", "org/model", *out, "--fold", "1"],
         "fold applies to cross-validated tasks"),
        (["finetune", "--task", "isear", "--data", str(tmp_path), "--model", "org/model", *out, "--ways", "6"],
         "--ways applies to iemocap"),
        (["predict", "hello", "--model", "org/model", "--character", "Ann"], "--character needs --context"),
    ):  # fmt: skip
        refused(capsys, argv, needle)
    assert not (tmp_path / "out").exists() and not (tmp_path / "t").exists()


def test_options_that_change_nothing_are_warned_about_in_one_line(capsys, generated, tmp_path) -> None:
    out = tmp_path / "repo"
    argv = ["build-dataset", "--generated", str(generated), "--output", str(out), "--no-similarity", "--resplit"]
    assert warned(capsys, argv, "--resplit changes nothing here") == 0 and (out / "README.md").is_file()
    # The warning comes before the run; here the run then fails on the missing data, in one line of its own.
    assert warned(capsys, [*_evaluate(tmp_path), "--threshold", "0.3"], "--threshold changes nothing for isear") == 2
    missing = ["app", "--model", str(tmp_path / "no-model"), "--annotations", str(tmp_path / "notes")]
    assert warned(capsys, missing, "--annotations changes nothing without --dataset") == 2


def test_published_model_options_are_refused_in_one_line(capsys, generated, tmp_path) -> None:
    refused(capsys, ["train", "--dataset", str(generated), "--model", "org/model", "--output_dir", str(tmp_path / "o"),
                     "--input_format", "contextual_text"], "does not fit the context_less data")  # fmt: skip
    refused(capsys, ["train", "--dataset", str(generated), "--config", "contextual", "--model", "org/model",
                     "--output_dir", str(tmp_path / "o"), "--input_format", "contextual_text", "--input_template",
                     "{context} only"], "must hold {context} and {utterance}")  # fmt: skip
    refused(capsys, ["predict", "--model", "org/model", "--labels", "joy,,fear", "Hi"], "--labels has an empty name")
    refused(capsys, ["import-model", "org/model", "--output", str(tmp_path / "x"), "--labels", "joy,joy"],
            "--labels names joy more than once")  # fmt: skip
    refused(capsys, ["predict", "--model", "Hidden-States/roberta-base-emopillars-contextless", "Hi"],
            "a custom architecture")  # fmt: skip
