"""Packaging, the light import, the public API and the CLI skeleton."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import emo_pillars
from emo_pillars.commands.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_import_is_light_and_fast():
    code = (
        "import time, sys; t = time.perf_counter(); import emo_pillars; dt = time.perf_counter() - t; "
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'accelerate') if m in sys.modules]; "
        "print(dt, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert float(out[0]) < 0.5
    assert out[1].strip() == "[]"


def test_public_api_lists_resolvable_names():
    assert emo_pillars.__version__
    assert len(emo_pillars.EMOTIONS) == 28
    for name in emo_pillars.__all__:
        assert getattr(emo_pillars, name) is not None, name
    with pytest.raises(AttributeError):
        emo_pillars.not_a_name  # noqa: B018


def test_errors_share_one_root_and_name_the_place():
    err = emo_pillars.InputError("bad value", path="a.jsonl", line=4, field="text")
    assert isinstance(err, emo_pillars.EmoPillarsError) and isinstance(err, ValueError)
    assert str(err) == "a.jsonl:4: field 'text': bad value"


def test_cli_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert emo_pillars.__version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "generate" in capsys.readouterr().out


def test_cli_reports_our_errors_in_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "emo_pillars.commands.cli", "generate", "--narratives", str(tmp_path / "nope.txt"),
         "--output", str(tmp_path / "out")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"emo-pillars: error: {tmp_path / 'nope.txt'}: no such file or folder"]


def test_cli_taxonomy_normalises_words(capsys):
    assert main(["taxonomy", "Furious", "plot"]) == 0
    out = capsys.readouterr().out
    assert "->  anger" in out and "(not a label)" in out


def test_wheel_ships_prompts_corpus_and_templates(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("emo_pillars-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for stage in ("characters", "utterances", "utterances_assigned", "labels", "context", "context_cleaning",
                  "rewriting"):  # fmt: skip
        assert f"emo_pillars/generation/prompts/{stage}.txt" in names
    assert "emo_pillars/corpus/demo_plots.jsonl" in names
    assert "emo_pillars/data/templates/dataset_card.md" in names
    assert "emo_pillars/model_cards/emo_pillars_model_card.md" in names
    assert "emo_pillars/exporters/onnx.py" in names and "emo_pillars/modeling/onnx.py" in names
    # The package is for users: no tests, research harness, probes, candidate grids or results in the wheel.
    assert not any(n.startswith(("tests/", "research/", "examples/", "benchmarks/")) for n in names)
    assert not any("recipe_search" in n or "probes" in n or "candidates" in n for n in names)

    # What the README tells users until a release is on PyPI: pip install dist/*.whl. Install it alone into a
    # folder and import it from elsewhere, so nothing of the checkout can stand in for the wheel's files.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    code = (
        "import emo_pillars, sys; from emo_pillars.generation.stages import load_template; "
        "from emo_pillars.commands.cli import main; print(emo_pillars.__file__); print(len(load_template('labels')) > 0); "
        "sys.exit(main(['taxonomy', 'furious']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(str(target)) and lines[1] == "True" and "anger" in lines[2]


def test_dir_lists_only_public_names():
    names = dir(emo_pillars)
    assert names == sorted(emo_pillars.__all__)
    for private in ("Any", "annotations", "importlib", "_LAZY"):
        assert private not in names


def test_dataset_commands_are_reachable_from_the_top_level():
    import emo_pillars.data

    for name in ("build_repository", "push_repository"):
        assert name in dir(emo_pillars)
        assert getattr(emo_pillars, name) is getattr(emo_pillars.data, name)
        assert callable(getattr(emo_pillars, name))
