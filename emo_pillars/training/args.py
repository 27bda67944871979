"""Training options: :class:`EmoPillarsTrainingArguments`, ``transformers.TrainingArguments`` plus our fields."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from transformers import TrainingArguments

from ..errors import ConfigError
from ..modeling.inputs import INPUT_FORMATS, check_template, resolve_max_length

__all__ = ["EmoPillarsTrainingArguments", "PAPER_DEFAULTS", "SMALL_ENCODER_DEFAULTS", "our_fields"]

#: The paper's student recipe (roberta-large): AdamW, lr 2e-5, 10 epochs, batch 64 / 32, max length 128 / 512,
#: BCE on 0/1 labels, one global threshold tuned on validation.
PAPER_DEFAULTS: dict[str, dict[str, Any]] = {
    "context_less": {
        "learning_rate": 2e-5,
        "head_learning_rate": None,
        "num_train_epochs": 10,
        "per_device_train_batch_size": 64,
        "max_length": 128,
        "warmup_steps": 0.0,
        "init_head_bias": False,
        "pos_weight": "none",
        "freeze_embeddings": False,
    },
    "contextual": {
        "learning_rate": 2e-5,
        "head_learning_rate": None,
        "num_train_epochs": 10,
        "per_device_train_batch_size": 32,
        "max_length": 512,
        "warmup_steps": 0.0,
        "init_head_bias": False,
        "pos_weight": "none",
        "freeze_embeddings": False,
    },
}
PAPER_DEFAULTS["contextual_text"] = PAPER_DEFAULTS["contextual"]

#: The defaults of :class:`EmoPillarsTrainingArguments`, for small encoders. Measured with all-MiniLM-L6-v2 (trained
#: for mean-pooled embeddings, so its [CLS] pooler head learns slowly under a plain recipe) on GoEmotions, context-less,
#: 43,410 training comments, max length 64, thresholds tuned on dev; test macro-F1 at 0.5 / global / per-label
#: thresholds: 0.473 / 0.521 (0.23) / 0.532 after 2 epochs, 0.438 / 0.497 (0.27) / 0.517 after 1 (a later run with
#: seeded head and data order, seed 42: 0.473 / 0.508 (0.27) / 0.529 after 2 epochs). A plain Trainer run
#: (one learning rate of 1e-4, no warmup, 2 epochs) reaches 0.055 / 0.174 / 0.245. What earns the difference: a 10x faster head and pooler
#: (``head_learning_rate``), the classifier bias started at the label priors (no early phase spent pushing every
#: logit down), warmup then linear decay at 2e-4, and tuned thresholds. Frozen word embeddings halve the CPU step time;
#: length-grouped batches cut padding (ISEAR, 5-80 tokens per text: about 3x fewer seconds per epoch on CPU).
SMALL_ENCODER_DEFAULTS: dict[str, Any] = {
    "learning_rate": 2e-4,
    "head_learning_rate": 2e-3,
    "num_train_epochs": 2,
    "per_device_train_batch_size": 32,
    "warmup_steps": 0.1,
    "weight_decay": 0.01,
    "init_head_bias": True,
    "pos_weight": "none",
    "freeze_embeddings": True,
    "train_sampling_strategy": "group_by_length",
}


@dataclass
class EmoPillarsTrainingArguments(TrainingArguments):
    """``transformers.TrainingArguments`` with the options of emo-pillars students.

    Every standard option keeps its meaning; a few defaults differ (learning rate, epochs, batch size, warmup,
    weight decay, logging) and are tuned for small encoders, see :data:`SMALL_ENCODER_DEFAULTS`. The paper's
    recipe for large encoders is :meth:`paper_defaults`. ``HfArgumentParser(EmoPillarsTrainingArguments)`` turns
    all fields, with their help, into command-line options.

    Args:
        input_format: ``"context_less"`` (the utterance), ``"contextual"`` (the pair: context, then ``character:
            utterance``) or ``"contextual_text"`` (the paper's one text, from ``input_template``), see
            :mod:`emo_pillars.modeling.inputs`.
        input_template: The ``contextual_text`` template (default: the paper's, ``"{context} {utterance}"``).
        max_length: Truncation length in tokens; default 128 context-less and 512 contextual (the paper's).
        head_learning_rate: Learning rate of the classification head and pooler; ``None`` uses ``learning_rate``.
        targets: ``"labels"`` (0/1 from the ``labels`` column, as in the paper) or ``"emotion_scores"`` (the
            teacher's soft scores as BCE targets).
        pos_weight: Per-class positive weights in BCE: ``"none"``, ``"sqrt"`` (sqrt(neg/pos)), ``"linear"``
            (neg/pos) or ``"rare"`` (sqrt of neg/pos over the median label's, at least 1: only labels rarer than
            the median are weighted up, so frequent labels keep calibrated scores), counted on the training split
            and capped at ``pos_weight_max``.
        pos_weight_max: Cap on the positive weights.
        init_head_bias: Start the classifier bias at the log-odds of each label's frequency in training.
        layer_lr_decay: Layer-wise learning-rate decay in ``(0, 1]``: the top encoder layer learns at
            ``learning_rate * decay``, each layer below at ``decay`` times the one above, the embeddings below the
            first layer; the head keeps ``head_learning_rate``. ``1`` (default) gives the encoder one rate.
        label_smoothing_factor: (transformers' option) Softmax targets become ``(1 - e)`` on the gold class plus
            ``e / num_labels`` everywhere; multi-label 0/1 targets move to ``e / 2`` and ``1 - e / 2``.
        freeze_embeddings: Keep the word-embedding matrix frozen.
        weight_averaging: Average the weights over the last fraction of the optimizer steps (uniform stochastic
            weight averaging, :mod:`emo_pillars.training.averaging`) and keep that mean as the model; ``0``
            (default) keeps the last step's weights.
        rdrop_alpha: R-Drop (Liang et al., 2021): every training batch is run twice, each copy under its own dropout
            masks, and ``rdrop_alpha / 2`` times the symmetric KL divergence between the two predictions (softmax, or
            per-label Bernoulli for multi-label models) is added to the mean supervised loss of the two copies,
            which is the paper's objective divided by two. ``0`` (default) turns it off; a step then costs the same
            as before, while ``rdrop_alpha > 0`` doubles it.
        tune_thresholds: After training, sweep global and per-label thresholds on the evaluation split and store
            them in the model config.
        resize_token_types: For contextual input, give a single-token-type encoder (RoBERTa) two token types.
        lora: Train LoRA adapters (peft) instead of all weights; the head is trained in full.
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling.
        lora_dropout: LoRA dropout.
        lora_target_modules: Modules to adapt; default: the attention projections peft knows for the architecture.
        merge_lora: After training, merge the adapters so the saved model is a plain checkpoint.

    Examples:
        >>> args = EmoPillarsTrainingArguments(output_dir="out", input_format="contextual", max_steps=2)
        >>> args.max_length, args.learning_rate, args.head_learning_rate
        (512, 0.0002, 0.002)
        >>> EmoPillarsTrainingArguments.paper_defaults("out").learning_rate
        2e-05
    """

    output_dir: str | None = field(
        default="emo-pillars-model", metadata={"help": "Where checkpoints and the final model are written."}
    )
    input_format: Literal["context_less", "contextual", "contextual_text"] = field(
        default="context_less",
        metadata={
            "help": "Input layout: 'context_less' (utterance), 'contextual' (the pair: context + 'character: "
            "utterance') or 'contextual_text' (the paper's one text, from --input_template)."
        },
    )
    max_length: int | None = field(
        default=None,
        metadata={"help": "Truncation length in tokens (default: 128 context-less, 512 contextual, as in the paper)."},
    )
    input_template: str | None = field(
        default=None,
        metadata={"help": "The contextual_text template with {context} and {utterance} (default: the paper's)."},
    )
    head_learning_rate: float | None = field(
        default=SMALL_ENCODER_DEFAULTS["head_learning_rate"],
        metadata={"help": "Learning rate of the classification head and pooler (None: same as learning_rate)."},
    )
    targets: Literal["labels", "emotion_scores"] = field(
        default="labels",
        metadata={"help": "BCE targets: 0/1 'labels' (the paper) or the teacher's soft 'emotion_scores'."},
    )
    pos_weight: Literal["none", "sqrt", "linear", "rare"] = field(
        default=SMALL_ENCODER_DEFAULTS["pos_weight"],
        metadata={
            "help": "Per-class positive weights in BCE: 'none', 'sqrt' (sqrt(neg/pos)), 'linear' (neg/pos) or 'rare' "
            "(sqrt of neg/pos over the median label's: only labels rarer than the median are weighted up)."
        },
    )
    pos_weight_max: float = field(default=30.0, metadata={"help": "Cap on the per-class positive weights."})
    init_head_bias: bool = field(
        default=SMALL_ENCODER_DEFAULTS["init_head_bias"],
        metadata={"help": "Start the classifier bias at the log-odds of each label's training frequency."},
    )
    freeze_embeddings: bool = field(
        default=SMALL_ENCODER_DEFAULTS["freeze_embeddings"],
        metadata={"help": "Keep the word-embedding matrix frozen (halves the step time of small encoders on CPU)."},
    )
    tune_thresholds: bool = field(
        default=True,
        metadata={"help": "After training, tune global and per-label thresholds on the evaluation split (macro-F1)."},
    )
    resize_token_types: bool = field(
        default=True,
        metadata={"help": "Contextual input: give an encoder with one token type (RoBERTa) two token types."},
    )
    layer_lr_decay: float = field(
        default=1.0,
        metadata={
            "help": "Layer-wise learning-rate decay: encoder layer i of L learns at learning_rate * decay ** (L - i), "
            "the embeddings at decay ** (L + 1); 1 keeps one rate."
        },
    )
    weight_averaging: float = field(
        default=0.0,
        metadata={
            "help": "Keep the uniform mean of the weights over the last fraction of the optimizer steps (0 to 1; 0: "
            "the last step's weights)."
        },
    )
    rdrop_alpha: float = field(
        default=0.0,
        metadata={
            "help": "R-Drop: each training batch runs twice under independent dropout, and alpha weighs the symmetric "
            "KL divergence between the two predictions against the supervised loss (0: off; doubles the step cost)."
        },
    )
    lora: bool = field(default=False, metadata={"help": "Train LoRA adapters (peft) instead of all encoder weights."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (scaling)."})
    lora_dropout: float = field(default=0.1, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "Modules LoRA adapts (default: peft's choice for the architecture)."}
    )
    merge_lora: bool = field(
        default=False, metadata={"help": "After training, merge the LoRA adapters so the saved model is plain."}
    )

    # Standard options whose defaults differ from transformers' (see SMALL_ENCODER_DEFAULTS).
    learning_rate: float = field(
        default=SMALL_ENCODER_DEFAULTS["learning_rate"],
        metadata={"help": "Peak learning rate of the encoder (AdamW). The paper uses 2e-5 for roberta-large."},
    )
    num_train_epochs: float = field(
        default=SMALL_ENCODER_DEFAULTS["num_train_epochs"],
        metadata={"help": "Training epochs. The paper uses 10 for roberta-large."},
    )
    per_device_train_batch_size: int = field(
        default=SMALL_ENCODER_DEFAULTS["per_device_train_batch_size"],
        metadata={"help": "Training batch size per device. The paper uses 64 (context-less) / 32 (contextual)."},
    )
    per_device_eval_batch_size: int = field(default=64, metadata={"help": "Evaluation batch size per device."})
    warmup_steps: float = field(
        default=SMALL_ENCODER_DEFAULTS["warmup_steps"],
        metadata={"help": "Warmup steps, or a fraction of all steps when below 1 (then linear decay)."},
    )
    weight_decay: float = field(
        default=SMALL_ENCODER_DEFAULTS["weight_decay"], metadata={"help": "AdamW weight decay."}
    )
    train_sampling_strategy: str = field(
        default=SMALL_ENCODER_DEFAULTS["train_sampling_strategy"],
        metadata={
            "help": "'group_by_length' (batches of similar lengths: less padding, 2-4x faster on CPU), 'random' or "
            "'sequential'. Evaluation and prediction always keep the dataset's order."
        },
    )
    logging_steps: float = field(default=50, metadata={"help": "Log the training loss every N steps."})
    save_strategy: str = field(
        default="steps",
        metadata={"help": "Checkpoint strategy: 'steps' (every save_steps), 'epoch' or 'no'. Resume with --resume."},
    )
    save_steps: float = field(
        default=500, metadata={"help": "Save a checkpoint every N steps (save_strategy='steps')."}
    )
    save_total_limit: int | None = field(default=2, metadata={"help": "Keep at most N checkpoints (the newest)."})
    report_to: None | str | list[str] = field(default="none", metadata={"help": "Experiment trackers to report to."})

    def __post_init__(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise ConfigError(f"input_format must be one of {INPUT_FORMATS}, got {self.input_format!r}")
        if self.targets not in ("labels", "emotion_scores"):
            raise ConfigError(f"targets must be 'labels' or 'emotion_scores', got {self.targets!r}")
        if self.pos_weight not in ("none", "sqrt", "linear", "rare"):
            raise ConfigError(f"pos_weight must be 'none', 'sqrt', 'linear' or 'rare', got {self.pos_weight!r}")
        self.max_length = resolve_max_length(self.input_format, self.max_length)
        if self.input_template is not None:
            if self.input_format != "contextual_text":
                raise ConfigError("input_template applies to input_format='contextual_text' only")
            check_template(self.input_template)
        self._check_numbers()
        if not 0.0 < float(self.layer_lr_decay) <= 1.0:
            raise ConfigError(f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay}")
        if isinstance(self.weight_averaging, bool) or not 0.0 <= float(self.weight_averaging) <= 1.0:
            raise ConfigError(f"weight_averaging must be in [0, 1] (0 turns it off), got {self.weight_averaging}")
        if self.weight_averaging and self.load_best_model_at_end:
            raise ConfigError(
                "weight_averaging keeps the mean of the last steps; load_best_model_at_end would replace it"
            )
        if isinstance(self.rdrop_alpha, bool) or not math.isfinite(float(self.rdrop_alpha)) or self.rdrop_alpha < 0:
            raise ConfigError(
                f"rdrop_alpha must be a finite number at least 0 (0 turns it off), got {self.rdrop_alpha}"
            )
        if not 0.0 <= float(self.label_smoothing_factor) < 1.0:
            raise ConfigError(f"label_smoothing_factor must be in [0, 1), got {self.label_smoothing_factor}")
        if self.head_learning_rate is not None and self.head_learning_rate <= 0:
            raise ConfigError(f"head_learning_rate must be positive, got {self.head_learning_rate}")
        if self.lora and self.lora_r <= 0:
            raise ConfigError(f"lora_r must be positive, got {self.lora_r}")
        if self.merge_lora and not self.lora:
            raise ConfigError("merge_lora needs lora=True")
        super().__post_init__()
        if self.dataloader_pin_memory and self.device.type == "cpu":
            self.dataloader_pin_memory = False  # pinned memory only helps copies to an accelerator; torch warns

    def _check_numbers(self) -> None:
        """Refuse values ``transformers`` would accept silently or fail on late (one line each)."""

        def bad(value: Any) -> bool:
            return value is None or isinstance(value, bool) or not math.isfinite(float(value)) or float(value) <= 0

        if self.max_steps is None or int(self.max_steps) < -1 or int(self.max_steps) == 0:
            raise ConfigError(f"max_steps must be -1 (use num_train_epochs) or a positive count, got {self.max_steps}")
        if self.max_steps == -1 and bad(self.num_train_epochs):
            raise ConfigError(f"num_train_epochs must be above 0, got {self.num_train_epochs}")
        if bad(self.learning_rate):
            raise ConfigError(f"learning_rate must be above 0, got {self.learning_rate}")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if bad(getattr(self, name)):
                raise ConfigError(f"{name} must be above 0, got {getattr(self, name)}")
        if self.save_strategy == "steps" and bad(self.save_steps):
            raise ConfigError(f"save_steps must be above 0, got {self.save_steps}")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ConfigError(f"save_total_limit must be at least 1 (or None), got {self.save_total_limit}")
        if not math.isfinite(float(self.warmup_steps)) or float(self.warmup_steps) < 0:
            raise ConfigError(f"warmup_steps must not be negative, got {self.warmup_steps}")

    @classmethod
    def paper_defaults(
        cls, output_dir: str, input_format: str = "context_less", **kwargs: Any
    ) -> EmoPillarsTrainingArguments:
        """Arguments with the paper's recipe for ``input_format`` (see :data:`PAPER_DEFAULTS`), then ``kwargs``."""
        if input_format not in PAPER_DEFAULTS:
            raise ConfigError(f"input_format must be one of {INPUT_FORMATS}, got {input_format!r}")
        values = {**PAPER_DEFAULTS[input_format], **kwargs}
        return cls(output_dir=output_dir, input_format=input_format, **values)

    def emo_pillars_options(self) -> dict[str, Any]:
        """Our own fields only (:func:`our_fields`), as a dict."""
        return {name: getattr(self, name) for name in our_fields()}


def our_fields() -> tuple[str, ...]:
    """The fields :class:`EmoPillarsTrainingArguments` adds to ``TrainingArguments``, in the order they are defined.

    Derived from the two dataclasses, so a new option is listed everywhere (``--help``, the card) the day it is added.

    Examples:
        >>> our_fields()[:2]
        ('input_format', 'max_length')
    """
    standard = {f.name for f in fields(TrainingArguments)}
    return tuple(f.name for f in fields(EmoPillarsTrainingArguments) if f.init and f.name not in standard)
