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
