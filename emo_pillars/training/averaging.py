"""Weight averaging over the tail of training: :class:`WeightAveragingCallback`.

With ``weight_averaging=f`` the trainer keeps the uniform mean of the weights after every optimizer step of the
last fraction ``f`` of training (stochastic weight averaging, Izmailov et al. 2018, here on the ordinary
warmup-then-linear-decay schedule), and the model it tunes thresholds with and saves is that mean. The running mean
is :class:`torch.optim.swa_utils.AveragedModel`'s (a maintained implementation, not ours); it keeps one more copy of
the weights on the model's device.

A run that is killed resumes to the same weights: each checkpoint holds the running mean
(``weight_average.safetensors``, written before ``trainer_state.json``, which marks a checkpoint complete), and a
resume from a checkpoint without it is refused rather than restarting the mean silently.

Examples:
    >>> callback = WeightAveragingCallback(0.5)
    >>> callback.first_step(max_steps=100)  # the mean covers steps 51 to 100
    51
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from transformers import TrainerCallback

from ..errors import ConfigError

__all__ = ["WEIGHT_AVERAGE_FILE", "WeightAveragingCallback"]

#: The running mean's file in a checkpoint folder.
WEIGHT_AVERAGE_FILE = "weight_average.safetensors"


class WeightAveragingCallback(TrainerCallback):
    """Uniform mean of the weights over the last ``fraction`` of the optimizer steps, put into the model when
    training ends.

    Args:
        fraction: The share of training steps averaged, in ``(0, 1]``; ``1`` averages every step's weights.
    """

    def __init__(self, fraction: float):
        if isinstance(fraction, bool) or not 0.0 < float(fraction) <= 1.0:
            raise ConfigError(f"weight_averaging must be in (0, 1] (0 turns it off), got {fraction!r}")
        self.fraction = float(fraction)
        self.averaged: torch.optim.swa_utils.AveragedModel | None = None

    def first_step(self, max_steps: int) -> int:
        """The first optimizer step (1-based) whose weights enter the mean."""
        return max(1, max_steps - math.ceil(self.fraction * max_steps) + 1)

    def reset(self) -> None:
        """Forget the mean (a new ``train()`` call starts a new one unless it resumes from a checkpoint)."""
        self.averaged = None

    def _ensure(self, model: torch.nn.Module) -> torch.optim.swa_utils.AveragedModel:
        if self.averaged is None:
            swa_utils = torch.optim.swa_utils  # the fused (foreach) update: one kernel per dtype and device
            self.averaged = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
        return self.averaged

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._ensure(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step >= self.first_step(state.max_steps):
            self._ensure(model).update_parameters(model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        averaged = self.averaged
        if averaged is None or int(averaged.n_averaged) == 0:
            return
        with torch.no_grad():
            for mean, param in zip(averaged.module.parameters(), model.parameters(), strict=True):
                param.copy_(mean)

    def save(self, folder: str | Path) -> None:
        """Write the running mean into a checkpoint folder."""
        from safetensors.torch import save_file

        if self.averaged is None:
            return
        tensors = {name: value.detach().contiguous().cpu() for name, value in self.averaged.state_dict().items()}
        save_file(tensors, str(Path(folder) / WEIGHT_AVERAGE_FILE), metadata={"format": "pt"})

    def load(self, folder: str | Path, model: torch.nn.Module) -> None:
        """Restore the running mean from a checkpoint folder, or refuse when the checkpoint has none."""
        from safetensors.torch import load_file

        path = Path(folder) / WEIGHT_AVERAGE_FILE
        if not path.is_file():
            raise ConfigError(
                f"{folder}: this checkpoint has no {WEIGHT_AVERAGE_FILE} (it was written without weight_averaging); "
                "resume with the options it was trained with, or start the run again"
            )
        averaged = self._ensure(model)
        state = load_file(str(path), device=str(next(averaged.parameters()).device))
        averaged.load_state_dict(state)
