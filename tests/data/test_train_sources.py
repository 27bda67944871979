"""``train --dataset`` reads every kind of source through the one loader: a generator output folder, a built
repository, the published ``context-less/*.jsonl`` layout and a Hub id (on the test suite's Hub server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.data.repository import build_repository  # noqa: E402


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("bert") / "bert")


def _train(source: str, model: Path, output: Path, env: dict | None = None) -> dict:
    argv = [sys.executable, "-m", "emo_pillars.commands.cli", "train", "--dataset", source, "--model", str(model),
            "--output", str(output), "--max_steps", "1", "--per_device_train_batch_size", "2"]  # fmt: skip
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return json.loads((output / "config.json").read_text())


@pytest.mark.parametrize("kind", ["generator folder", "built repository", "published layout"])
def test_train_reads_local_sources(kind, generated_dir, published_dir, tiny_bert, tmp_path):
    if kind == "generator folder":
        source = generated_dir
    elif kind == "built repository":
        source = tmp_path / "repo"
        build_repository(generated_dir, source, similarity=False)
    else:
        source = published_dir
    config = _train(str(source), tiny_bert, tmp_path / "model")
    assert config["problem_type"] == "multi_label_classification" and len(config["id2label"]) == 28


def test_train_reads_a_hub_id(generated_dir, tiny_bert, tmp_path, hub_server):
    repo = tmp_path / "repo"
    build_repository(generated_dir, repo, similarity=False)
    env = hub_server.client_env(hf_home=tmp_path / "hf_home")
    push = [sys.executable, "-m", "emo_pillars", "push-dataset", str(repo), "--repo-id", "me/emo"]
    proc = subprocess.run(push, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = _train("me/emo", tiny_bert, tmp_path / "model", env=env)
    assert len(config["id2label"]) == 28
