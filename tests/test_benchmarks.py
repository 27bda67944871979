"""Benchmark scripts read their inputs and refuse bad ones in one line, before any model loads."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emo_pillars.errors import InputError
from emo_pillars.tasks.fixtures import write_sample_files

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("option", ["--steps", "--repeats", "--threads"])
def test_training_benchmark_refuses_counts_below_one(option: str) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training.py"), option, "0"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and f"{option} must be at least 1" in run.stderr


def _label_fidelity():
    spec = importlib.util.spec_from_file_location("label_fidelity", ROOT / "benchmarks" / "label_fidelity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_label_fidelity_reads_the_sample_from_its_folder(tmp_path: Path) -> None:
    bench = _label_fidelity()
    folder = write_sample_files("emopillars", tmp_path / "sample", size=8)
    rows = bench.load_sample(folder / "context_less_sample.csv", 5)
    assert len(rows) == 5 and all(r["gold"] and r["primary_emotion"] == r["gold"][0] for r in rows)
    assert bench.load_sample(folder, 5) == rows
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(folder / "context_less_sample.csv", other / "export.csv")
    assert bench.load_sample(other, 5) == rows  # a folder's one .csv, whatever its name
    (other / "second.csv").write_text("text\n", encoding="utf-8")
    with pytest.raises(InputError, match="found export.csv, second.csv"):
        bench.load_sample(other, 5)


@pytest.mark.parametrize("what", ["folder", "missing"])
def test_label_fidelity_refuses_a_sample_it_cannot_find_in_one_line(tmp_path: Path, what: str) -> None:
    sample = tmp_path if what == "folder" else tmp_path / "nowhere.csv"
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "label_fidelity.py"), "--sample", str(sample),
                          "--output", str(tmp_path / "out.json")], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and str(sample) in run.stderr
    assert not (tmp_path / "out.json").exists()
