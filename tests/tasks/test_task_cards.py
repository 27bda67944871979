"""Cards written by ``emo-pillars finetune``: Hub conventions, the task's own description and limitations, and a
run on a synthetic sample that says so and stays out of ``model-index``."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds tiny_models.py and card_checks.py

from card_checks import check_card_metadata, validate_and_push  # noqa: E402
from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.tasks import get_task  # noqa: E402
from emo_pillars.tasks.fixtures import write_sample_files  # noqa: E402
from emo_pillars.tasks.runner import finetune_main  # noqa: E402

pytest.importorskip("torch")

QUICK = {"max_steps": 2, "per_device_train_batch_size": 4, "max_length": 32, "use_cpu": True}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
    (folder / "README.md").write_text('# tiny\n\n```python\nAutoModel.from_pretrained("org/tiny-bert")\n```\n')
    return str(folder)


def test_isear_card_follows_hub_conventions(isear_file: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = finetune_main("isear", isear_file, tiny_bert, out, head="task", folds=2, stream=io.StringIO(), **QUICK)
    assert results["synthetic_sample"] is False and "note" not in results
    meta, text = check_card_metadata(out)
    assert meta["base_model"] == "org/tiny-bert" and meta["datasets"] == ["isear"]
    assert meta["pipeline_tag"] == "text-classification" and meta["widget"]
    assert {"emo-pillars", "text-classification", "generated_from_trainer", "single-label"} <= set(meta["tags"])
    (result,) = meta["model-index"][0]["results"]
    assert result["dataset"]["name"] == "isear" and result["dataset"]["type"] == "isear"
    assert result["dataset"]["config"] == "context_less"

    isear = get_task("isear")
    assert isear.description and isear.description in text
    assert all(item in text for item in isear.limitations)
    assert "Synthetic, narrative-grounded" not in text and "Neutral is weak" not in text
    assert "pip install -e ." in text and "## Training data" in text and "| guilt |" in text
    assert "Macro-F1 averages the" in text and "labels present in the test data" in text
    assert "### Training loss" in text  # 2 steps, logged at every step
    # The card states the recipe's values and one line on how they were chosen, not the history of the search.
    assert "**Recipe** (the isear defaults): head task" in text
    (chosen,) = [line for line in text.splitlines() if line.startswith("How they were chosen:")]
    assert chosen == f"How they were chosen: {isear.recipe.chosen_by}" and len(chosen) < 160
    assert not any(word in text for word in ("R-Drop", "rdrop_alpha 1.0", "seeds 43", "0.691", "plain transformers"))

    files = validate_and_push(out, "me/tiny-isear", tmp_path / "hf")
    pushed = files["README.md"].decode()
    assert 'from_pretrained("me/tiny-isear")' in pushed and "path/to/model" not in pushed
    assert json.loads(files["eval_results.json"])["task"] == "isear"


def test_synthetic_sample_says_so_and_is_never_the_benchmark(tiny_bert: str, tmp_path: Path) -> None:
    data = write_sample_files("emocontext", tmp_path / "sample", size=16)
    out = tmp_path / "out"
    results = finetune_main("emocontext", data, tiny_bert, out, stream=io.StringIO(), **QUICK)
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved["synthetic_sample"] is True and "not on emocontext" in saved["note"]
    assert results == saved
    meta, text = check_card_metadata(out)
    assert "model-index" not in meta and "datasets" not in meta and "synthetic-sample" in meta["tags"]
    assert "Synthetic sample, not the benchmark" in text and "synthetic emocontext sample" in text
    assert "Synthetic sample, not emocontext" in text  # the protocol section too
    assert get_task("emocontext").limitations[0] in text and "Synthetic, narrative-grounded" not in text
