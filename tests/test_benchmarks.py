"""Benchmark scripts refuse bad numbers in one line, before any model loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("option", ["--steps", "--repeats", "--threads"])
def test_training_benchmark_refuses_counts_below_one(option: str) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training.py"), option, "0"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and f"{option} must be at least 1" in run.stderr
