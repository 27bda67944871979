"""``emo-pillars train``: HfArgumentParser options and files, validation before anything loads, same seed same
weights, and ``--resume`` after a real ``kill -9`` finishing with the metrics of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from emo_pillars.commands.cli import build_parser, main
from emo_pillars.errors import ConfigError
from emo_pillars.training.run import train_main
from emo_pillars.training.trainer import last_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tiny_models import write_repository  # noqa: E402

TESTS = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS.parent


def _error_line(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err and err.startswith("emo-pillars: error:"), err
    return err


def test_help_lists_our_fields_first_then_every_training_argument():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    text = train.format_help()
    for option in ("--dataset", "--head_learning_rate", "--pos_weight", "--lr_scheduler_type", "--save_steps",
                   "--gradient_accumulation_steps", "--resume", "--args_file", "--trust_remote_code"):  # fmt: skip
        assert option in text, option
    assert text.index("--head_learning_rate") < text.index("--lr_scheduler_type") < text.index("--save_total_limit")
    assert text.index("--dataset") < text.index("--input_format")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "0"], "num_train_epochs must be above 0"),
        (["--num_train_epochs", "-1"], "num_train_epochs must be above 0"),
        (["--learning_rate", "-1"], "learning_rate must be above 0"),
        (["--batch-size", "0"], "per_device_train_batch_size must be above 0"),
        (["--max_steps", "-5"], "max_steps must be -1"),
        (["--max_length", "0"], "max_length must be a positive integer"),
        (["--save_steps", "0"], "save_steps must be above 0"),
    ],
)
def test_bad_numbers_are_one_line_before_anything_loads(capsys, tmp_path, extra, message):
    # The model does not exist: the numbers are refused before any model or dataset is looked at.
    argv = ["train", "--dataset", str(tmp_path / "absent"), "--model", str(tmp_path / "no-model"), *extra]
    assert message in _error_line(capsys, argv)


def test_wrong_dataset_sources_name_the_path(capsys, tmp_path, tiny_bert):
    a_file = tmp_path / "data.csv"
    a_file.write_text("text,label\n", encoding="utf-8")
    err = _error_line(capsys, ["train", "--dataset", str(a_file), "--model", str(tiny_bert), "--output", "o"])
    assert str(a_file) in err and "is a file" in err
    missing = tmp_path / "nowhere"
    err = _error_line(capsys, ["train", "--dataset", str(missing), "--model", str(tiny_bert), "--output", "o"])
    assert str(missing) in err and "no such dataset folder" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    err = _error_line(capsys, ["train", "--dataset", str(empty), "--model", str(tiny_bert), "--output", "o"])
    assert str(empty) in err


def test_model_folder_without_config_is_one_line(capsys, tmp_path, tiny_bert):
    (tiny_bert / "config.json").unlink()
    err = _error_line(capsys, ["train", "--dataset", "me/data", "--model", str(tiny_bert)])
    assert "missing config.json" in err and str(tiny_bert) in err


def test_required_options_and_options_file(capsys, tmp_path, tiny_bert, context_less_data):
    assert "--dataset is required" in _error_line(capsys, ["train", "--model", "m"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed\n", encoding="utf-8")
    assert str(bad) in _error_line(capsys, ["train", "--args_file", str(bad)])
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"dataset": "d", "model": "m", "epochz": 3}), encoding="utf-8")
    assert "epochz" in _error_line(capsys, ["train", "--args_file", str(unknown)])

    # A YAML file gives every option; the command line wins over it.
    repo = write_repository(tmp_path / "repo", context_less_data)
    options = tmp_path / "train.yaml"
    options.write_text(
        f"dataset: {repo}\nmodel: {tiny_bert}\noutput_dir: {tmp_path / 'from-file'}\nmax_steps: 3\n"
        "per_device_train_batch_size: 4\nuse_cpu: true\nlogging_steps: 1\nlearning_rate: 0.001\n",
        encoding="utf-8",
    )
    assert main(["train", "--args_file", str(options), "--max_steps", "2"]) == 0
    saved = json.loads((tmp_path / "from-file" / "training_args.json").read_text())
    assert saved["max_steps"] == 2 and saved["learning_rate"] == 0.001 and saved["per_device_train_batch_size"] == 4


def test_saved_folder_holds_no_pickle_and_two_seeded_runs_are_identical(tmp_path, tiny_bert, context_less_data):
    def run(name: str, seed: int) -> dict[str, torch.Tensor]:
        train_main(
            context_less_data, "context_less", str(tiny_bert), tmp_path / name, max_steps=3, batch_size=4,
            use_cpu=True, seed=seed, freeze_embeddings=False, logging_steps=1,
        )  # fmt: skip
        return load_file(tmp_path / name / "model.safetensors")

    first, second, other = run("a", 42), run("b", 42), run("c", 7)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not torch.equal(first["classifier.weight"], other["classifier.weight"])
    files = {p.name for p in (tmp_path / "a").iterdir()}
    assert "training_args.json" in files and not files & {"training_args.bin", "pytorch_model.bin"}
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files)
    assert not any(name.startswith("checkpoint-") for name in files)


def test_existing_checkpoints_need_resume(tmp_path, tiny_bert, context_less_data):
    (tmp_path / "out" / "checkpoint-4").mkdir(parents=True)
    (tmp_path / "out" / "checkpoint-4" / "trainer_state.json").write_text("{}")
    with pytest.raises(ConfigError, match="--resume"):
        train_main(context_less_data, "context_less", str(tiny_bert), tmp_path / "out", max_steps=2)


def test_a_checkpoint_whose_state_file_was_cut_short_is_not_resumed_from(tmp_path):
    for step, text in ((4, '{"global_step": 4}'), (8, '{"global_step": 8, "log_hist')):  # the second cut by a kill
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(text)
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")


TRAIN_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from tiny_models import tiny_dataset_dict
    from emo_pillars.training.run import train_main
    result = train_main(
        tiny_dataset_dict(), "context_less", sys.argv[2], sys.argv[3], max_steps=16, batch_size=2, use_cpu=True,
        seed=42, save_steps=4, save_total_limit=2, logging_steps=1, freeze_embeddings=False,
        resume=sys.argv[4] == "resume",
    )
    metrics = result.metrics
    print(f"resumed from {result.resumed_from}")
    print(json.dumps({key: round(value["macro_f1"], 6) for key, value in metrics.items()}))
    """
)


def _train(base: Path, output: Path, mode: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN_SCRIPT, str(TESTS), str(base), str(output), mode],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )  # fmt: skip


def test_kill_9_mid_training_then_resume_gives_the_uninterrupted_metrics(tmp_path, tiny_bert):
    killed_dir = tmp_path / "killed"
    victim = _train(tiny_bert, killed_dir, "fresh")
    deadline = time.monotonic() + 240
    while last_checkpoint(killed_dir) is None:  # checkpoint-4 whole: its trainer_state.json parses
        assert victim.poll() is None, victim.stderr.read()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (killed_dir / "model.safetensors").exists()  # killed before the final save

    resumed = _train(tiny_bert, killed_dir, "resume")
    whole = _train(tiny_bert, tmp_path / "whole", "fresh")
    out_resumed, err_resumed = resumed.communicate(timeout=300)
    out_whole, err_whole = whole.communicate(timeout=300)
    assert resumed.returncode == 0, err_resumed[-3000:]
    assert whole.returncode == 0, err_whole[-3000:]
    assert "resumed from " in out_resumed and "checkpoint-" in out_resumed
    assert json.loads(out_resumed.strip().splitlines()[-1]) == json.loads(out_whole.strip().splitlines()[-1])
    state = json.loads((killed_dir / "training_args.json").read_text())
    assert state["max_steps"] == 16
    a, b = load_file(killed_dir / "model.safetensors"), load_file(tmp_path / "whole" / "model.safetensors")
    assert all(torch.allclose(a[key], b[key], atol=1e-6) for key in a)


def test_an_option_typed_at_its_default_value_still_counts_as_given(tmp_path):
    """``--epochs 2`` equals the trainer's default, yet it must beat a task protocol's epochs and an options file."""
    from emo_pillars.commands.finetune import FinetuneCommandArguments
    from emo_pillars.commands.train import training_options

    options = tmp_path / "opts.json"
    options.write_text(json.dumps({"num_train_epochs": 5, "learning_rate": 0.001}))
    argv = ["finetune", "--task", "goemotions", "--data", "d", "--model", "m", "--output", "o"]
    parser = build_parser()
    _, training, given = training_options(parser.parse_args([*argv, "--epochs", "2"]), FinetuneCommandArguments)
    assert "num_train_epochs" in given and training["num_train_epochs"] == 2
    _, _, given = training_options(parser.parse_args(argv), FinetuneCommandArguments)
    assert "num_train_epochs" not in given
    args = parser.parse_args([*argv, "--epochs", "2", "--args_file", str(options)])
    _, training, given = training_options(args, FinetuneCommandArguments)
    assert training["num_train_epochs"] == 2 and training["learning_rate"] == 0.001
    assert {"num_train_epochs", "learning_rate"} <= given
