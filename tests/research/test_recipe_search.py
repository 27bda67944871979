"""The recipe search in research/ (not packaged) still runs from a checkout: its split and its candidate runner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))  # tests/ holds tiny_models.py
sys.path.insert(0, str(TESTS / "tasks"))  # and tests/tasks/ benchmark_files.py
sys.path.insert(0, str(TESTS.parent / "research"))

from recipe_search import compare_recipes, length_rule, selection_split  # noqa: E402

from emo_pillars.tasks import get_task  # noqa: E402


def test_length_rule() -> None:
    assert length_rule([10] * 98 + [100, 100]) == 128
    assert length_rule([10] * 100) == 32
    assert length_rule([900] * 10) == 512


def test_selection_split_never_touches_the_evaluation_data(tmp_path: Path) -> None:
    from benchmark_files import ISEAR_HEADER, ISEAR_ROWS, isear_line, write

    # Five copies of the fixture's 14 rows (new subjects): 10 rows a class, enough for 5 stratified folds.
    lines = [ISEAR_HEADER] + [isear_line(s + 10 * k, c, t) for k in range(5) for s, c, t, _ in ISEAR_ROWS]
    task = get_task("isear")
    data = task.load(write(tmp_path / "isear.csv", "\n".join(lines)))
    split = selection_split(task, data)
    fold1_test = set(task.folds(data, k=5, seed=42)[0]["test"]["id"])
    chosen_on = set(split["train"]["id"]) | set(split["validation"]["id"])
    assert not chosen_on & fold1_test
    assert not set(split["train"]["id"]) & set(split["validation"]["id"])
    assert selection_split(task, data)["validation"]["id"] == split["validation"]["id"]  # seeded


def test_compare_recipes_records_each_candidate_and_skips_finished_ones(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from benchmark_files import ISEAR_HEADER, ISEAR_ROWS, isear_line, write
    from tiny_models import build_tiny_bert

    lines = [ISEAR_HEADER] + [isear_line(s + 10 * k, c, t) for k in range(5) for s, c, t, _ in ISEAR_ROWS]
    data = write(tmp_path / "isear.csv", "\n".join(lines))
    model = str(build_tiny_bert(tmp_path / "bert"))
    candidates = {
        "a": {"head": "task", "max_steps": 2, "learning_rate": 1e-4},
        "b": {"head": "emo28", "max_steps": 2, "learning_rate": 2e-4},
    }
    out = tmp_path / "choice.json"
    common = {"use_cpu": True, "per_device_train_batch_size": 4, "max_length": 32}
    result = compare_recipes(get_task("isear"), data, model, candidates, out, **common)
    saved = json.loads(out.read_text())
    assert set(saved["candidates"]) == {"a", "b"} and saved["best"] in ("a", "b")
    assert saved["split_sizes"]["validation"] > 0 and "carved from the training data" in saved["protocol"]
    assert result["candidates"]["a"]["options"] == candidates["a"]
    before = out.stat().st_mtime_ns
    compare_recipes(get_task("isear"), data, model, candidates, out, **common)  # nothing left to run
    assert out.stat().st_mtime_ns == before
    assert not list(tmp_path.glob(".choice-*.work"))
