"""``emo-pillars generate`` end to end with a real (tiny) transformers model."""

from __future__ import annotations

import json

from emo_pillars.cli import main


def test_generate_command_writes_outputs_and_summary(tiny_mistral_dir, tmp_path, capsys):
    plots = tmp_path / "plots.txt"
    plots.write_text("A sailor finds a letter.\n<EOS>\nA sister keeps a secret.\n<EOS>\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["generate", "--narratives", str(plots), "--model", str(tiny_mistral_dir), "--output", str(out),
            "--max-plots", "1", "--batch-size", "4", "--device", "cpu", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert "characters" in summary and "context-less" in summary
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["plots"] == 1
    assert run["backend"]["model"] == str(tiny_mistral_dir)
    assert run["stages"]["characters"]["calls"] == 1
    assert (out / "context_less.jsonl").exists()
    assert main(argv) == 0  # a second run is served from the cache
    assert json.loads((out / "run.json").read_text())["stages"]["characters"]["cached"] == 1
