"""Training emo-pillars students: arguments, trainer, thresholds, metrics and model cards.

Importing this package imports torch and transformers; ``import emo_pillars`` does not.
"""

from .args import PAPER_DEFAULTS, SMALL_ENCODER_DEFAULTS, EmoPillarsTrainingArguments
from .model_card import EmoPillarsModelCardData, ModelCardCallback, load_model_card_template
from .thresholds import THRESHOLD_GRID, ThresholdResult, apply_thresholds, tune_thresholds
from .trainer import EmoPillarsTrainer, load_training_dataset

__all__ = [
    "EmoPillarsTrainingArguments",
    "EmoPillarsTrainer",
    "EmoPillarsModelCardData",
    "ModelCardCallback",
    "load_model_card_template",
    "load_training_dataset",
    "tune_thresholds",
    "apply_thresholds",
    "ThresholdResult",
    "THRESHOLD_GRID",
    "PAPER_DEFAULTS",
    "SMALL_ENCODER_DEFAULTS",
]
