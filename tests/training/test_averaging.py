"""Weight averaging (``weight_averaging``): the saved model is the mean of the tail's weights, a resume from a
checkpoint reaches the same mean, and a checkpoint without the mean is refused."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from emo_pillars.errors import ConfigError
from emo_pillars.training import EmoPillarsTrainer, EmoPillarsTrainingArguments
from emo_pillars.training.averaging import WEIGHT_AVERAGE_FILE


class RecordWeights(TrainerCallback):
    """Copies of the trainable weights after every optimizer step (the test's own record, not the library's)."""

    def __init__(self):
        self.steps: dict[int, dict[str, torch.Tensor]] = {}

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.steps[state.global_step] = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def make_args(output, **kwargs) -> EmoPillarsTrainingArguments:
    values = {"max_steps": 6, "per_device_train_batch_size": 4, "logging_steps": 1, "use_cpu": True, "seed": 0,
              "save_steps": 2, "save_total_limit": None, "learning_rate": 1e-2, "head_learning_rate": 1e-2}  # fmt: skip
    return EmoPillarsTrainingArguments(output_dir=str(output), **(values | kwargs))


def trained(tiny_bert, data, output, callbacks=(), resume=None, **kwargs) -> EmoPillarsTrainer:
    trainer = EmoPillarsTrainer(model=str(tiny_bert), args=make_args(output, **kwargs), train_dataset=data,
                                callbacks=list(callbacks))  # fmt: skip
    trainer.train(resume_from_checkpoint=resume)
    return trainer


def weights(trainer) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}


def test_the_model_is_the_mean_of_the_last_half_of_the_steps(tiny_bert, context_less_data, tmp_path):
    record = RecordWeights()
    trainer = trained(tiny_bert, context_less_data, tmp_path / "avg", [record], weight_averaging=0.5)
    assert sorted(record.steps) == [1, 2, 3, 4, 5, 6]
    final = weights(trainer)
    for name, value in final.items():
        expected = torch.stack([record.steps[s][name] for s in (4, 5, 6)]).mean(dim=0)
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(final[n], record.steps[6][n]) for n in final)  # not simply the last step's weights
    # Off (the default), the model is the last step's weights.
    plain = trained(tiny_bert, context_less_data, tmp_path / "plain", [record := RecordWeights()])
    assert all(torch.equal(value, record.steps[6][name]) for name, value in weights(plain).items())
    # The card says so (and says nothing of it when it is off).
    trainer.save_model()
    assert "| weight_averaging | 0.5 |" in (tmp_path / "avg" / "README.md").read_text(encoding="utf-8")
    assert "weight_averaging" not in plain.card_data.hyperparameters
    # Each checkpoint holds the running mean, written before trainer_state.json.
    assert (tmp_path / "avg" / "checkpoint-4" / WEIGHT_AVERAGE_FILE).is_file()
    saved = load_file(str(tmp_path / "avg" / "checkpoint-4" / WEIGHT_AVERAGE_FILE))
    assert int(saved["n_averaged"]) == 1


def test_resume_from_a_checkpoint_inside_the_tail_gives_the_same_weights(tiny_bert, context_less_data, tmp_path):
    whole = weights(trained(tiny_bert, context_less_data, tmp_path / "whole", weight_averaging=0.5))
    # A run cut after step 4 (inside the averaged tail): keep checkpoint-4 only, then resume from it.
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "whole" / "checkpoint-4", cut / "checkpoint-4")
    resumed = weights(
        trained(tiny_bert, context_less_data, cut, weight_averaging=0.5, resume=str(cut / "checkpoint-4"))
    )
    for name in whole:
        torch.testing.assert_close(resumed[name], whole[name], rtol=1e-5, atol=1e-6)


def test_a_checkpoint_without_the_mean_is_refused(tiny_bert, context_less_data, tmp_path):
    trained(tiny_bert, context_less_data, tmp_path / "plain")
    with pytest.raises(ConfigError, match=WEIGHT_AVERAGE_FILE):
        trained(tiny_bert, context_less_data, tmp_path / "plain", weight_averaging=0.5,
                resume=str(tmp_path / "plain" / "checkpoint-4"))  # fmt: skip


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True])
def test_bad_fractions_are_refused(tmp_path, value):
    with pytest.raises(ConfigError, match="weight_averaging"):
        make_args(tmp_path, weight_averaging=value)


def test_weight_averaging_and_load_best_model_at_end_are_refused_together(tmp_path):
    with pytest.raises(ConfigError, match="load_best_model_at_end"):
        make_args(tmp_path, weight_averaging=0.5, load_best_model_at_end=True, eval_strategy="steps", save_steps=2)
