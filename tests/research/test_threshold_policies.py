"""research/threshold_policies.py (not packaged) still runs from a checkout: its policies and its study."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))  # tests/ holds tiny_models.py

from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.tasks import write_sample_files  # noqa: E402

RESEARCH = TESTS.parent / "research"
EXAMPLES = TESTS.parent / "examples"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("torch")
    return str(build_tiny_bert(tmp_path_factory.mktemp("tiny-bert")))


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=os.environ.copy(), capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def _load_example(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, RESEARCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_threshold_policies_shrink_between_global_and_per_label() -> None:
    import numpy as np

    policies = _load_example("threshold_policies")
    rng = np.random.default_rng(0)
    labels = (rng.random((400, 4)) < [0.5, 0.2, 0.05, 0.0]).astype(int)
    probs = np.clip(labels * rng.uniform(0.1, 0.9, (400, 4)) + rng.uniform(0, 0.5, (400, 4)), 0, 1)
    shared = policies.tune(labels, probs, ("global", 0))
    own = policies.tune(labels, probs, ("per_label", 0))
    assert len(set(shared)) == 1 and len(set(own[:3])) > 1
    assert np.allclose(policies.tune(labels, probs, ("blend", 0.0)), shared)
    assert np.allclose(policies.tune(labels, probs, ("blend", 1.0)), own)
    # A label without positives keeps the shared cut; one with too few positives too.
    assert own[3] == shared[3]
    few = policies.tune(labels, probs, ("min_positives", 50))
    assert few[2] == shared[2] and few[0] == own[0]


def test_threshold_policies_writes_its_study(tiny_bert: str, tmp_path: Path) -> None:
    data = write_sample_files("goemotions", tmp_path / "data")
    model = tmp_path / "model"
    _run([str(EXAMPLES / "finetune_goemotions.py"), "--quick", "--model", tiny_bert, "--output", str(model),
          "--data", str(data)], cwd=tmp_path)  # fmt: skip
    output = tmp_path / "policies.json"
    run = _run([str(RESEARCH / "threshold_policies.py"), "--model", str(model), "--data", str(data), "--output",
                str(output), "--repeats", "2"], cwd=tmp_path)  # fmt: skip
    study = json.loads(output.read_text())
    assert set(study["policies"]) >= {"global", "per_label", "blend=0.5", "min_positives=10", "smoothed=3"}
    best = max(value["dev_split_half_mean"] for value in study["policies"].values())
    assert study["policies"][study["chosen_by_dev"]]["dev_split_half_mean"] == best
    assert "chosen by dev" in run.stdout


def test_threshold_policies_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(RESEARCH / "threshold_policies.py"), "--model", str(tmp_path / "no-model"), "--data",
         str(tmp_path / "no-data"), "--output", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and "no-data" in run.stderr
    assert not (tmp_path / "out.json").exists()
