"""The examples run end to end in ``--quick`` mode (tiny random encoder), and the notebook's code runs as a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ holds tiny_models.py

from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.tasks import get_task, write_sample_files  # noqa: E402

pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_bert(tmp_path_factory.mktemp("tiny-bert")))


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env or os.environ.copy(), capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.parametrize(
    ("task", "given_data", "extra"),
    [("goemotions", True, []), ("isear", True, ["--head", "task"]), ("iemocap", False, ["--ways", "6"]),
     ("emocontext", False, [])],
)  # fmt: skip
def test_quick_example(task: str, given_data: bool, extra: list[str], tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [str(EXAMPLES / f"finetune_{task}.py"), "--quick", "--model", tiny_bert, "--output", str(out), *extra]
    if given_data:
        args += ["--data", str(write_sample_files(task, tmp_path / "data"))]
    run = _run(args, cwd=tmp_path)
    results = json.loads((out / "eval_results.json").read_text())
    assert results["task"] == task and results["max_steps"] == 40
    assert set(results["per_class_f1"]) == set(
        get_task(task, **({"ways": 6} if task == "iemocap" else {})).label_names
    )
    if task == "isear":
        assert results["folds"] == 2 and results["head"] == "task"
    if not given_data:
        assert "synthetic sample" in run.stdout and (tmp_path / "out-sample-data").is_dir()
    assert "Done in" in run.stdout and "## Evaluation protocol" in (out / "README.md").read_text()


def test_example_without_data_or_quick_says_what_to_do(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "finetune_emocontext.py"), "--output", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "pass --data" in run.stderr


def test_notebook_runs_as_a_script(tiny_bert: str, tmp_path: Path) -> None:
    notebook = json.loads((EXAMPLES / "finetune_goemotions.ipynb").read_text())
    code = "\n\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    script = tmp_path / "notebook.py"
    script.write_text(code)
    env = {**os.environ, "GOEMOTIONS_DIR": str(tmp_path / "absent"), "OUTPUT_DIR": str(tmp_path / "out")}
    env.update(BASE_MODEL=tiny_bert, QUICK="1", MPLBACKEND="Agg")
    _run([str(script)], cwd=tmp_path, env=env)
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert results["task"] == "goemotions" and results["max_steps"] == 40
    assert all(cell.get("outputs", []) == [] for cell in notebook["cells"] if cell["cell_type"] == "code")


def _load_example(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
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


def test_threshold_policies_example_writes_its_study(tiny_bert: str, tmp_path: Path) -> None:
    data = write_sample_files("goemotions", tmp_path / "data")
    model = tmp_path / "model"
    _run([str(EXAMPLES / "finetune_goemotions.py"), "--quick", "--model", tiny_bert, "--output", str(model),
          "--data", str(data)], cwd=tmp_path)  # fmt: skip
    output = tmp_path / "policies.json"
    run = _run([str(EXAMPLES / "threshold_policies.py"), "--model", str(model), "--data", str(data), "--output",
                str(output), "--repeats", "2"], cwd=tmp_path)  # fmt: skip
    study = json.loads(output.read_text())
    assert set(study["policies"]) >= {"global", "per_label", "blend=0.5", "min_positives=10", "smoothed=3"}
    best = max(value["dev_split_half_mean"] for value in study["policies"].values())
    assert study["policies"][study["chosen_by_dev"]]["dev_split_half_mean"] == best
    assert "chosen by dev" in run.stdout


def test_threshold_policies_example_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "threshold_policies.py"), "--model", str(tmp_path / "no-model"), "--data",
         str(tmp_path / "no-data"), "--output", str(tmp_path / "out.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and "no-data" in run.stderr
    assert not (tmp_path / "out.json").exists()
