"""The trainer's side of the model card: :class:`ModelCardCallback` fills an
:class:`~emo_pillars.modeling.card.EmoPillarsModelCardData` from the trainer's events.

The card data and its renderer live in :mod:`emo_pillars.modeling.card` (the classifier uses them too, and
``modeling`` never imports ``training``); they are re-exported here.
"""

from __future__ import annotations

from transformers import ProgressCallback, TrainerCallback

from ..modeling.card import (
    CARD_HIDDEN,
    CARD_HYPERPARAMETERS,
    CARD_HYPERPARAMETERS_OFF,
    LOSS_PLOT,
    THRESHOLD_PLOT,
    EmoPillarsModelCardData,
    generate_model_card,
    load_model_card_template,
    write_model_card,
)
from .args import our_fields

__all__ = [
    "StepProgressCallback",
    "ModelCardCallback",
    "EmoPillarsModelCardData",
    "load_model_card_template",
    "generate_model_card",
    "write_model_card",
    "THRESHOLD_PLOT",
    "LOSS_PLOT",
]


class ModelCardCallback(TrainerCallback):
    """Fills an :class:`EmoPillarsModelCardData` from the trainer's events: hyperparameters at the start, the
    loss and evaluation logs as they come, the runtime at the end.

    Examples:
        >>> callback = ModelCardCallback(EmoPillarsModelCardData())
        >>> callback.card_data.labels[:2]
        ['admiration', 'amusement']
    """

    def __init__(self, card_data: EmoPillarsModelCardData):
        self.card_data = card_data

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        values = args.to_dict()
        names = (*CARD_HYPERPARAMETERS, *(name for name in our_fields() if name not in CARD_HIDDEN))
        shown = {k: values[k] for k in names if k in values}
        shown = {
            k: v for k, v in shown.items() if k not in CARD_HYPERPARAMETERS_OFF or v != CARD_HYPERPARAMETERS_OFF[k]
        }
        if not shown.get("lora"):
            shown = {k: v for k, v in shown.items() if not k.startswith("lora_") and k != "merge_lora"}
        if shown.get("max_steps", -1) <= 0:
            shown.pop("max_steps", None)
        self.card_data.hyperparameters = shown
        self.card_data.input_format = getattr(args, "input_format", self.card_data.input_format)
        self.card_data.input_template = getattr(args, "input_template", None)
        self.card_data.max_length = getattr(args, "max_length", None)
        # A resumed run starts with the logs of the checkpoint's state.
        history = getattr(state, "log_history", None) or []
        self.card_data.training_logs = [entry for entry in (self._entry(log) for log in history) if entry]

    @staticmethod
    def _entry(logs: dict) -> dict | None:
        entry = {"step": logs.get("step", 0), "epoch": round(logs.get("epoch") or 0.0, 3)}
        for key, value in logs.items():
            if key in ("loss", "eval_loss", "learning_rate", "eval_macro_f1", "eval_global_macro_f1"):
                entry[key] = round(float(value), 6)
        return entry if len(entry) > 2 else None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return
        if "train_runtime" in logs:
            self.card_data.train_runtime = float(logs["train_runtime"])
        entry = self._entry({**logs, "step": state.global_step, "epoch": state.epoch})
        if entry:
            self.card_data.training_logs.append(entry)


class StepProgressCallback(ProgressCallback):
    """transformers' progress bar over training steps, and no bar per evaluation or prediction pass.

    Threshold tuning and test scoring run short prediction passes; a bar each is noise beside the one unit of work a
    user follows, the training steps. Logs and the step bar are as in :class:`transformers.ProgressCallback`.
    """

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):  # noqa: D102
        return None
