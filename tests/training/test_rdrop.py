"""R-Drop (``rdrop_alpha``): in training, each batch runs twice under independent dropout and the loss adds the
weighted symmetric KL between the two predictions; in evaluation, and at 0, the loss is the plain one."""

from __future__ import annotations

import datasets
import pytest
import torch

from emo_pillars.errors import ConfigError
from emo_pillars.training import EmoPillarsTrainer, EmoPillarsTrainingArguments
from emo_pillars.training.trainer import symmetric_kl

SINGLE_LABELS = ["joy", "sadness", "fear"]


def make_args(output, **kwargs) -> EmoPillarsTrainingArguments:
    values = {"max_steps": 2, "per_device_train_batch_size": 4, "use_cpu": True, "seed": 0, "save_strategy": "no"}
    return EmoPillarsTrainingArguments(output_dir=str(output), **(values | kwargs))


def single_label_rows() -> datasets.Dataset:
    texts = ["I passed!", "Oh no, the ship is gone.", "Why did it rain today?", "Wow, great results!"] * 2
    return datasets.Dataset.from_dict(
        {"utterance": texts, "context": [None] * 8, "character": [None] * 8, "labels": [[0], [1], [2], [0]] * 2}
    )


def reference_kl(first: torch.Tensor, second: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """The test's own symmetric KL, from torch's ``kl_div`` (not the library's formula)."""
    if multi_label:  # each label a two-outcome distribution
        p = torch.stack([torch.sigmoid(first), torch.sigmoid(-first)], dim=-1)
        q = torch.stack([torch.sigmoid(second), torch.sigmoid(-second)], dim=-1)
        kl_pq = torch.nn.functional.kl_div(q.log(), p, reduction="none").sum(-1).mean()
        kl_qp = torch.nn.functional.kl_div(p.log(), q, reduction="none").sum(-1).mean()
    else:
        log_p, log_q = first.log_softmax(-1), second.log_softmax(-1)
        kl_pq = torch.nn.functional.kl_div(log_q, log_p, reduction="batchmean", log_target=True)
        kl_qp = torch.nn.functional.kl_div(log_p, log_q, reduction="batchmean", log_target=True)
    return (kl_pq + kl_qp) / 2


@pytest.mark.parametrize("multi_label", [False, True])
def test_symmetric_kl_matches_torch_kl_div(multi_label):
    generator = torch.Generator().manual_seed(0)
    first, second = torch.randn(5, 7, generator=generator), torch.randn(5, 7, generator=generator)
    got = symmetric_kl(first, second, multi_label=multi_label)
    torch.testing.assert_close(got, reference_kl(first, second, multi_label))
    assert float(got) > 0
    assert float(symmetric_kl(first, first, multi_label=multi_label)) == pytest.approx(0.0, abs=1e-7)


def batch_of(trainer: EmoPillarsTrainer) -> dict[str, torch.Tensor]:
    return next(iter(trainer.get_train_dataloader()))


@pytest.mark.parametrize("multi_label", [False, True])
def test_training_loss_adds_the_consistency_term_of_two_dropout_passes(
    tiny_bert, context_less_data, tmp_path, multi_label
):
    alpha = 3.0
    if multi_label:
        trainer = EmoPillarsTrainer(model=str(tiny_bert), args=make_args(tmp_path, rdrop_alpha=alpha),
                                    train_dataset=context_less_data)  # fmt: skip
    else:
        trainer = EmoPillarsTrainer(model=str(tiny_bert), args=make_args(tmp_path, rdrop_alpha=alpha),
                                    train_dataset=single_label_rows(), label_names=SINGLE_LABELS, multi_label=False)  # fmt: skip
    batch = batch_of(trainer)
    labels, rows = batch["labels"].clone(), len(batch["labels"])
    model = trainer.model.train()
    loss, outputs = trainer.compute_loss(model, dict(batch), return_outputs=True)
    logits = outputs["logits"].float()
    assert logits.shape[0] == 2 * rows  # the batch ran twice
    first, second = logits.chunk(2)
    assert not torch.allclose(first, second)  # each copy drew its own dropout masks
    if multi_label:
        targets = torch.cat([labels, labels]).float()
        supervised = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    else:
        supervised = torch.nn.functional.cross_entropy(logits, torch.cat([labels, labels]).long())
    expected = supervised + alpha / 2 * reference_kl(first, second, multi_label)
    torch.testing.assert_close(loss, expected)
    assert float(loss) > float(supervised)

    # In evaluation there is no dropout: one pass, the plain loss.
    model.eval()
    loss, outputs = trainer.compute_loss(model, dict(batch), return_outputs=True)
    assert outputs["logits"].shape[0] == rows


def test_rdrop_trains_reproducibly_and_the_card_lists_it(tiny_bert, context_less_data, tmp_path):
    def weights(output):
        trainer = EmoPillarsTrainer(model=str(tiny_bert), args=make_args(output, rdrop_alpha=1.0),
                                    train_dataset=context_less_data)  # fmt: skip
        trainer.train()
        return trainer, {n: p.detach().clone() for n, p in trainer.model.named_parameters()}

    trainer, first = weights(tmp_path / "a")
    _, second = weights(tmp_path / "b")
    assert all(torch.equal(first[n], second[n]) for n in first)  # the same seed gives the same model
    trainer.save_model()
    assert "| rdrop_alpha | 1.0 |" in (tmp_path / "a" / "README.md").read_text(encoding="utf-8")
    plain = EmoPillarsTrainer(model=str(tiny_bert), args=make_args(tmp_path / "c"), train_dataset=context_less_data)
    assert "rdrop_alpha" not in plain.card_data.hyperparameters


@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf"), True])
def test_bad_alphas_are_refused(tmp_path, value):
    with pytest.raises(ConfigError, match="rdrop_alpha"):
        make_args(tmp_path, rdrop_alpha=value)
