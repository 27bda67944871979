"""``emo-pillars generate`` end to end with a real (tiny) transformers model, and its one-line errors."""

from __future__ import annotations

import json

import pytest

from emo_pillars.commands.cli import main


def test_generate_command_writes_outputs_and_summary(tiny_mistral_dir, tmp_path, capsys):
    plots = tmp_path / "plots.txt"
    plots.write_text("A sailor finds a letter.\n<EOS>\nA sister keeps a secret.\n<EOS>\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["generate", "--narratives", str(plots), "--model", str(tiny_mistral_dir), "--output", str(out),
            "--max-plots", "1", "--batch-size", "4", "--device", "cpu", "--quiet",
            "--max-new-tokens", "characters=24,utterances=24,labels=12"]  # fmt: skip
    # a random tiny model writes nothing usable: the run says why in one line and exits non-zero
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "characters" in captured.out and "context-less" in captured.out
    problem = [line for line in captured.err.splitlines() if line.startswith("emo-pillars: ")]
    assert len(problem) == 1 and "replies parsed" in problem[0] and ": try " in problem[0]
    assert "Loading weights" not in captured.err or "show_progress" not in _backend_fields()  # --quiet is quiet
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["plots"] == 1 and run["problem"] == problem[0].removeprefix("emo-pillars: ")
    assert run["backend"]["model"] == str(tiny_mistral_dir)
    assert run["stages"]["characters"]["calls"] == 1
    assert run["config"]["stages"]["labels"]["max_new_tokens"] == 12
    assert (out / "context_less.jsonl").exists()
    assert main(argv) == 1  # a second run is served from the cache
    assert json.loads((out / "run.json").read_text())["stages"]["characters"]["cached"] == 1


def _backend_fields():
    from emo_pillars.generation.backends.transformers import TransformersBackendConfig

    return TransformersBackendConfig.__dataclass_fields__


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--max-new-tokens", "labels=x"], "--max-new-tokens: 'labels=x'"),
        (["--max-new-tokens", "colours=5"], "is not STAGE=N"),
        (["--chunk-size", "0"], "--chunk-size: must be a positive whole number"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, extra, message):
    argv = ["generate", "--model", str(tmp_path / "no-such-model"), "--output", str(tmp_path / "out"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_output_naming_a_file_is_refused_before_the_model_loads(tmp_path, capsys):
    existing = tmp_path / "results.jsonl"
    existing.write_text("keep me\n")
    argv = ["generate", "--model", str(tmp_path / "no-such-model"), "--output", str(existing)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--output {existing} is an existing file" in err
    assert existing.read_text() == "keep me\n"
