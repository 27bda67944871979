"""Training emo-pillars students: arguments, trainer, thresholds, metrics and model cards.

Importing this package imports torch and transformers; ``import emo_pillars`` does not.
"""

from ..modeling.thresholds import THRESHOLD_GRID, ThresholdResult, tune_thresholds
from .args import PAPER_DEFAULTS, SMALL_ENCODER_DEFAULTS, EmoPillarsTrainingArguments
from .averaging import WeightAveragingCallback
from .callbacks import EmoPillarsModelCardData, ModelCardCallback, load_model_card_template
from .trainer import EmoPillarsTrainer, last_checkpoint, load_training_dataset, save_final_model

__all__ = [
    "EmoPillarsTrainingArguments",
    "EmoPillarsTrainer",
    "EmoPillarsModelCardData",
    "ModelCardCallback",
    "WeightAveragingCallback",
    "load_model_card_template",
    "load_training_dataset",
    "last_checkpoint",
    "save_final_model",
    "tune_thresholds",
    "ThresholdResult",
    "THRESHOLD_GRID",
    "PAPER_DEFAULTS",
    "SMALL_ENCODER_DEFAULTS",
]
