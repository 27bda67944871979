"""EmoPillarsTrainer: a ``transformers.Trainer`` for emotion students over any label space."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    DataCollatorWithPadding,
    PreTrainedModel,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler

from ..data import load_emo_pillars
from ..errors import ConfigError, InputError
from ..modeling.card import EmoPillarsModelCardData, resolve_base_model, with_present_label_macro, write_model_card
from ..modeling.inputs import PAPER_TEMPLATE, ensure_token_types, resolve_max_length, tokenize_examples
from ..modeling.label_space import LabelSpace
from ..modeling.loading import load_model, load_tokenizer
from ..modeling.metrics import f1_scores
from ..modeling.saving import naming_weights, weights_file, weights_needed
from ..modeling.thresholds import THRESHOLD_GRID, ThresholdResult, tune_thresholds
from ..taxonomy import Taxonomy
from ..utils.hub import looks_local
from ..utils.io import check_space, disk_error_cause, staged_folder, writing
from ..utils.quiet import quiet
from .args import EmoPillarsTrainingArguments
from .averaging import WeightAveragingCallback
from .callbacks import ModelCardCallback, StepProgressCallback

logger = logging.getLogger(__name__)

__all__ = [
    "EmoPillarsTrainer",
    "load_training_dataset",
    "last_checkpoint",
    "save_final_model",
    "CONFIG_KEY",
    "HEAD_MODULE_NAMES",
    "TRAINING_ARGS_JSON",
]

#: The key under which the model config stores emo-pillars settings (input format, thresholds).
CONFIG_KEY = "emo_pillars"

#: Parameter-name fragments of classification heads and poolers (BERT, RoBERTa, DistilBERT, DeBERTa, ...).
HEAD_MODULE_NAMES = ("classifier", "pooler", "pre_classifier", "score")
#: The encoder-layer index in a parameter name (``...encoder.layer.3.attention...``), for ``layer_lr_decay``.
_LAYER_INDEX = re.compile(r"\.layers?\.(\d+)\.")

#: The training arguments are saved as JSON (``Trainer`` writes a pickle, ``training_args.bin``).
TRAINING_ARGS_JSON = "training_args.json"


def load_training_dataset(dataset: Any, config: str = "context_less") -> Any:
    """A ``datasets.DatasetDict`` from a DatasetDict, a dataset folder (built repository or generator output) or a
    Hub id, through the data wing's one loader (:func:`emo_pillars.data.load_emo_pillars`).

    Args:
        dataset: A ``DatasetDict``, a folder, or a Hub dataset id.
        config: The configuration to load (``context_less`` or ``contextual``).

    Raises:
        InputError: A path that is not a dataset folder (a file, a missing folder), with the path.
    """
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        return dataset
    if not isinstance(dataset, (str, os.PathLike)):
        raise InputError(
            f"cannot read a dataset from {type(dataset).__name__}; give a DatasetDict, a folder or a Hub id"
        )
    source = os.fspath(dataset)
    path = Path(source)
    if path.is_file():
        raise InputError("is a file; --dataset takes a dataset folder or a Hub dataset id", path=path)
    if not path.exists() and looks_local(source):
        raise InputError("no such dataset folder", path=path)

    loaded = load_emo_pillars(source, config)
    if not isinstance(loaded, datasets.DatasetDict):
        raise InputError("did not load as a DatasetDict with train/validation/test splits", path=path)
    return loaded


def last_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest complete ``checkpoint-N`` folder in ``output_dir`` (its ``trainer_state.json`` is written last,
    so a checkpoint cut short by a kill, even half-way through that file, is skipped), or ``None``."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    found = []
    for child in folder.iterdir():
        name = child.name
        if name.startswith("checkpoint-") and name[11:].isdigit() and _complete_state(child / "trainer_state.json"):
            found.append((int(name[11:]), child))
    return str(max(found)[1]) if found else None


def _complete_state(path: Path) -> bool:
    """Whether ``path`` is a whole ``trainer_state.json`` (transformers writes it in place, not atomically)."""
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def symmetric_kl(first: torch.Tensor, second: torch.Tensor, multi_label: bool = False) -> torch.Tensor:
    """The mean of ``KL(p1 || p2)`` and ``KL(p2 || p1)`` between two predictions from logits, averaged over the batch.

    Single-label: the softmax distributions, KL summed over classes. Multi-label: each label a Bernoulli
    distribution, KL averaged over labels (as binary cross-entropy averages them). This is R-Drop's consistency
    term (``rdrop_alpha``).

    Examples:
        >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
        >>> float(symmetric_kl(logits, logits))
        0.0
        >>> round(float(symmetric_kl(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 2.0]]))), 4)
        0.3808
    """
    if multi_label:
        log_p, log_q = torch.nn.functional.logsigmoid(first), torch.nn.functional.logsigmoid(second)
        log_1p, log_1q = torch.nn.functional.logsigmoid(-first), torch.nn.functional.logsigmoid(-second)
        p, q = log_p.exp(), log_q.exp()
        # KL(p||q) + KL(q||p) for Bernoullis: (p - q) * (log p - log q) + ((1-p) - (1-q)) * (log(1-p) - log(1-q))
        both = (p - q) * (log_p - log_q) + (q - p) * (log_1p - log_1q)
        return both.mean() / 2.0
    log_p, log_q = torch.log_softmax(first, dim=-1), torch.log_softmax(second, dim=-1)
    both = (log_p.exp() - log_q.exp()) * (log_p - log_q)  # KL(p||q) + KL(q||p), term by term
    return both.sum(dim=-1).mean() / 2.0


def _label_ids(values: Any, space: LabelSpace, multi_label: bool) -> list[Any]:
    """One row's labels as class ids: a list for multi-label rows, one id for single-label ones."""
    index = {name.strip().lower(): i for i, name in enumerate(space.names)}

    def one(value: Any) -> int:
        if isinstance(value, str):
            key = value.strip().lower()
            if key not in index:
                raise InputError(f"unknown label {value!r}; the labels are {', '.join(space.names)}", field="labels")
            return index[key]
        i = int(value)
        if not 0 <= i < space.num_labels:
            raise InputError(f"label id {i} is outside 0..{space.num_labels - 1}", field="labels")
        return i

    if multi_label:
        items = values if isinstance(values, (list, tuple)) else [values]
        return [one(v) for v in items]
    if isinstance(values, (list, tuple)):
        if len(values) != 1:
            raise InputError(f"a single-label row has {len(values)} labels", field="labels")
        values = values[0]
    return one(values)


def _dataset_label_names(dataset: Any) -> tuple[list[str] | None, bool | None]:
    """Label names and multi-label-ness from a dataset's ``labels`` feature (ClassLabel), when it says."""
    feature = getattr(dataset, "features", {}).get("labels") if dataset is not None else None
    if feature is None:
        return None, None
    inner = getattr(feature, "feature", None)
    if inner is not None:  # Sequence / List
        return (list(inner.names) if hasattr(inner, "names") else None), True
    if hasattr(feature, "names"):
        return list(feature.names), False
    return None, None


class _EpochSeededSampler(torch.utils.data.Sampler):
    """Random order (or length-grouped batches) drawn from ``seed + epoch``: the same seed gives the same order,
    and a run resumed mid-epoch sees the order the interrupted run saw (``Trainer`` calls :meth:`set_epoch`)."""

    def __init__(self, dataset: Any, seed: int, batch_size: int, grouped: bool, model_input_name: str | None):
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0
        self.grouped = grouped
        self._grouped = (
            LengthGroupedSampler(batch_size, dataset=dataset, model_input_name=model_input_name) if grouped else None
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        if self._grouped is not None:
            self._grouped.generator = generator
            return iter(self._grouped)
        return iter(torch.randperm(len(self.dataset), generator=generator).tolist())


class EmoPillarsTrainer(Trainer):
    """Fine-tunes an encoder into an emotion classifier over any label space.

    A plain ``AutoModelForSequenceClassification`` is trained, so the saved model loads anywhere ``transformers``
    does, ``pipeline("text-classification", top_k=None)`` included, without custom code. The label space (see
    :class:`~emo_pillars.modeling.label_space.LabelSpace`) is the 28 GoEmotions classes by default, or any label set:
    multi-label (sigmoid, BCE) or single-label (softmax, cross-entropy). On top of ``Trainer``:

    * rows are tokenized in the one input format (:mod:`emo_pillars.modeling.inputs`);
    * the seed is set before the head is built, and the data order is drawn from the seed;
    * BCE on the 0/1 labels (or on the teacher's ``emotion_scores``), with optional per-class positive weights, or
      cross-entropy for single-label tasks;
    * the head and pooler can learn faster than the encoder (``head_learning_rate``), the classifier bias can start
      at the label priors, the word embeddings can stay frozen;
    * optional weight averaging over the last steps (``weight_averaging``, :mod:`emo_pillars.training.averaging`);
    * optional R-Drop (``rdrop_alpha``): each training batch runs twice under its own dropout masks, and the
      symmetric KL between the two predictions (:func:`symmetric_kl`) is added to the loss;
    * after :meth:`train`, global and per-label thresholds are tuned on the evaluation split (multi-label) and
      stored in the model config; :meth:`evaluate_thresholds` reports a split;
    * optional LoRA (peft), with merging into a plain checkpoint;
    * every save writes the model card (``README.md``) and its plots beside the weights, and the training
      arguments as JSON (no pickle).

    Args:
        model: A base model id or path (any encoder ``AutoModelForSequenceClassification`` loads), or a model.
        args: Training options; default :class:`EmoPillarsTrainingArguments` with its defaults.
        train_dataset: Rows with ``utterance`` (and ``context``, ``character``) and ``labels`` (class ids or names;
            a list per row for multi-label), or a ``DatasetDict`` (its ``train`` split; ``validation`` becomes the
            evaluation split unless ``eval_dataset`` is given).
        eval_dataset: Rows for evaluation and threshold tuning.
        processing_class: The tokenizer; loaded from ``model`` when not given.
        card_data: Model card fields; filled further during training.
        callbacks: Extra ``TrainerCallback`` s.
        label_names: The labels, in output order (default: a model object's ``id2label``, else the dataset's
            ``ClassLabel`` names, else the 28 GoEmotions classes).
        multi_label: Multi-label (sigmoid, BCE) or single-label (softmax, cross-entropy); default: from the model
            config or the dataset's ``labels`` feature (a sequence is multi-label), else multi-label.
        trust_remote_code: Allow custom code in a model folder (off by default; such folders are refused).
        taxonomy: The dataset's :class:`~emo_pillars.taxonomy.Taxonomy` (``emo_pillars.data.dataset_taxonomy``):
            when it names the head's labels, it is stored in the model's config (its groupings become the roll-up
            levels of ``predict`` and the app) and the card lists its definitions.
        **kwargs: Passed to ``transformers.Trainer``.

    Examples:
        >>> from emo_pillars.training import EmoPillarsTrainer, EmoPillarsTrainingArguments
        >>> args = EmoPillarsTrainingArguments(output_dir="minilm-emo", num_train_epochs=3)  # doctest: +SKIP
        >>> trainer = EmoPillarsTrainer(  # doctest: +SKIP
        ...     model="sentence-transformers/all-MiniLM-L6-v2", args=args, train_dataset=dataset_dict
        ... )
        >>> trainer.train()  # doctest: +SKIP
        >>> trainer.evaluate_thresholds(dataset_dict["test"])  # doctest: +SKIP
        >>> save_final_model(trainer, "minilm-emo")  # doctest: +SKIP
        >>> isear = EmoPillarsTrainer(  # doctest: +SKIP
        ...     model="roberta-base", args=args, train_dataset=rows, label_names=["joy", "fear", "anger", "sadness",
        ...     "disgust", "shame", "guilt"], multi_label=False)
    """

    def __init__(  # noqa: PLR0913 - a Trainer subclass: one keyword per argument, as transformers.Trainer
        self,
        model: str | os.PathLike | PreTrainedModel | None = None,
        args: EmoPillarsTrainingArguments | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        card_data: EmoPillarsModelCardData | None = None,
        callbacks: list[TrainerCallback] | None = None,
        label_names: Sequence[str] | None = None,
        multi_label: bool | None = None,
        trust_remote_code: bool = False,
        taxonomy: Taxonomy | None = None,
        **kwargs: Any,
    ):
        args, train_dataset, eval_dataset = self._check_inputs(model, args, train_dataset, eval_dataset)
        # Seed before anything random: the new head's weights are drawn when the model is built.
        set_seed(args.seed)
        self.card_data = card_data or EmoPillarsModelCardData()
        self.taxonomy = taxonomy
        model, processing_class, space, base_name = self._build_model(
            model, processing_class, train_dataset, label_names, multi_label, trust_remote_code
        )
        self._adopt_label_space(space, args, processing_class, model, base_name)
        self._configure_model(model, args)
        if args.input_format == "contextual" and args.resize_token_types:
            ensure_token_types(model, processing_class)
        self._pos_weight: torch.Tensor | None = None
        train_dataset, eval_dataset = self._prepare_datasets(
            model, args, train_dataset, eval_dataset, processing_class
        )
        if args.freeze_embeddings:
            model.get_input_embeddings().weight.requires_grad_(False)
        if args.lora:
            model = self._wrap_lora(model, args)
        kwargs.setdefault("data_collator", DataCollatorWithPadding(processing_class))
        kwargs.setdefault("compute_metrics", self._compute_metrics)
        with warnings.catch_warnings():  # compute_loss smooths multi-label targets itself; transformers says it won't
            warnings.filterwarnings("ignore", message="Label smoothing is not compatible with multi-label")
            super().__init__(
                model=model,
                args=args,
                train_dataset=train_dataset,
                eval_dataset=eval_dataset,
                processing_class=processing_class,
                callbacks=self._callbacks(callbacks, args),
                **kwargs,
            )
        if self.pop_callback(ProgressCallback) is not None:  # one bar, over the training steps
            self.add_callback(StepProgressCallback)
        self.threshold_result: ThresholdResult | None = None

    # ----- setup -----------------------------------------------------------------------------------------------
    @staticmethod
    def _check_inputs(model: Any, args: Any, train_dataset: Any, eval_dataset: Any) -> tuple[Any, Any, Any]:
        """The arguments (defaults when ``None``), and the train and validation splits of a ``DatasetDict``."""
        import datasets

        if args is None:
            args = EmoPillarsTrainingArguments()
        if not isinstance(args, EmoPillarsTrainingArguments):
            raise ConfigError("args must be EmoPillarsTrainingArguments")
        if model is None:
            raise ConfigError("give a base model (a Hub id, a path or a PreTrainedModel)")
        if isinstance(train_dataset, datasets.DatasetDict):
            splits = train_dataset
            train_dataset = splits["train"]
            if eval_dataset is None:
                eval_dataset = splits.get("validation")
        return args, train_dataset, eval_dataset

    def _build_model(
        self, model: Any, processing_class: Any, train_dataset: Any, label_names: Sequence[str] | None,
        multi_label: bool | None, trust_remote_code: bool,
    ) -> tuple[Any, Any, LabelSpace, str | None]:  # fmt: skip
        """Load the model (a fresh head over the label space) and its tokenizer, or check a model object."""
        if isinstance(model, (str, os.PathLike)):
            base_name = os.fspath(model)
            space = self._label_space(None, train_dataset, label_names, multi_label)
            if processing_class is None:
                processing_class = load_tokenizer(base_name, trust_remote_code=trust_remote_code)
            model = load_model(
                base_name, trust_remote_code=trust_remote_code, ignore_mismatched_sizes=True, **space.config_values()
            )
        else:
            base_name = getattr(model.config, "_name_or_path", None) or None
            space = self._label_space(model.config, train_dataset, label_names, multi_label)
            if model.config.num_labels != space.num_labels:
                raise ConfigError(f"the model has {model.config.num_labels} outputs for {space.num_labels} labels")
        if processing_class is None:
            raise ConfigError("give processing_class (the tokenizer) when model is a model object")
        return model, processing_class, space, base_name

    def _adopt_label_space(
        self, space: LabelSpace, args: Any, processing_class: Any, model: Any, base_name: str | None
    ) -> None:
        """Check the options against the label space, and record it (and the input settings) in the card."""
        self.label_space = space
        if not space.multi_label and args.pos_weight != "none":
            raise ConfigError("pos_weight applies to multi-label models only")
        if args.targets == "emotion_scores" and not (space.multi_label and space.is_emotions):
            raise ConfigError("targets='emotion_scores' needs the 28-class multi-label head")
        self.max_length = resolve_max_length(args.input_format, args.max_length, processing_class, model.config)
        self.card_data.set_label_space(space.names, space.multi_label)
        self.card_data.input_format = args.input_format
        self.card_data.input_template = args.input_template
        self.card_data.max_length = self.max_length
        if self.card_data.base_model is None:
            self.card_data.base_model = resolve_base_model(base_name)

    def _prepare_datasets(
        self, model: Any, args: Any, train_dataset: Any, eval_dataset: Any, processing_class: Any
    ) -> tuple[Any, Any]:
        """Tokenise both splits; from the training targets, the head's bias, positive weights and the card's data."""
        if train_dataset is not None:
            self.card_data.dataset_sizes["train"] = len(train_dataset)
            targets = self._targets(train_dataset)
            self._record_training_data(train_dataset, targets)
            self._plan_logging(args, len(train_dataset))
            if args.init_head_bias:
                self._init_head_bias(model, targets)
            if args.pos_weight != "none":
                self._pos_weight = self._compute_pos_weight(targets, args)
            train_dataset = self.prepare_dataset(train_dataset, processing_class, args)
        if eval_dataset is not None:
            self.card_data.dataset_sizes["validation"] = len(eval_dataset)
            eval_dataset = self.prepare_dataset(eval_dataset, processing_class, args)
        return train_dataset, eval_dataset

    def _callbacks(self, callbacks: list[TrainerCallback] | None, args: Any) -> list[TrainerCallback]:
        """The caller's callbacks, weight averaging when asked, and the model card's."""
        callbacks = list(callbacks or [])
        self._averaging = WeightAveragingCallback(args.weight_averaging) if args.weight_averaging else None
        if self._averaging is not None:
            callbacks.append(self._averaging)
        callbacks.append(ModelCardCallback(self.card_data))
        return callbacks

    @staticmethod
    def _label_space(
        config: Any, dataset: Any, label_names: Sequence[str] | None, multi_label: bool | None
    ) -> LabelSpace:
        data_names, data_multi = _dataset_label_names(dataset)
        generic = config is not None and all(
            str(name).startswith("LABEL_") for name in (getattr(config, "id2label", None) or {}).values()
        )
        if label_names is None and config is not None and not generic:
            space = LabelSpace.from_config(config)
            return space if multi_label is None else LabelSpace(space.names, multi_label)
        multi = multi_label if multi_label is not None else (data_multi if data_multi is not None else True)
        names = label_names if label_names is not None else data_names
        if names is None:
            return LabelSpace.emotions() if multi else LabelSpace.from_names(LabelSpace.emotions().names, False)
        return LabelSpace.from_names(list(names), multi_label=multi)

    def _configure_model(self, model: PreTrainedModel, args: EmoPillarsTrainingArguments) -> None:
        config = model.config
        values = self.label_space.config_values()
        config.problem_type = values["problem_type"]
        config.id2label = values["id2label"]
        config.label2id = values["label2id"]
        stored = dict(getattr(config, CONFIG_KEY, None) or {})
        for key in ("threshold", "thresholds", "threshold_tuning"):  # tuned for an earlier head
            stored.pop(key, None)
        stored.pop("input_template", None)
        if args.input_format == "contextual_text":
            stored["input_template"] = args.input_template or PAPER_TEMPLATE
        stored.update(
            {
                "input_format": args.input_format,
                "max_length": self.max_length,
                "labels": list(self.label_space.names),
                "head": "emo28" if self.label_space.is_emotions else "task",
            }
        )
        stored.pop("taxonomy", None)
        taxonomy = self.taxonomy
        if taxonomy is not None and taxonomy.labels == tuple(self.label_space.names):
            stored["taxonomy"] = taxonomy.to_dict()
            self.card_data.set_taxonomy(taxonomy)
        elif taxonomy is not None:
            logger.warning("the dataset's taxonomy names other labels than the model's head; it is not stored")
        setattr(config, CONFIG_KEY, stored)

    def _record_training_data(self, dataset: Any, targets: np.ndarray) -> None:
        """Training-set statistics and a few examples per label, for the model card."""
        if "utterance" not in dataset.column_names:
            return
        if targets.ndim == 2:
            ids = [np.flatnonzero(row >= 0.5).tolist() for row in targets]
        else:
            ids = [[int(i)] for i in targets]
        self.card_data.set_training_data(list(dataset["utterance"]), ids)

    @staticmethod
    def _plan_logging(args: EmoPillarsTrainingArguments, rows: int) -> None:
        """Log at least 10 times per run, whatever its length: ``logging_steps`` is lowered to a tenth of the
        planned optimizer steps when it is larger (a 2-step or a 300-step run would otherwise log no loss at the
        default of 50, and its card would have no loss table or plot). A fractional ``logging_steps`` (a share of
        the run) is left as given."""
        if args.logging_strategy != "steps" or args.logging_steps < 1:
            return
        if args.max_steps and args.max_steps > 0:
            planned = args.max_steps
        else:
            batches = math.ceil(rows / max(1, args.per_device_train_batch_size * max(1, args.world_size)))
            per_epoch = max(1, batches // max(1, args.gradient_accumulation_steps))
            planned = math.ceil(per_epoch * args.num_train_epochs)
        steps = max(1, planned // 10)
        if args.logging_steps > steps:
            args.logging_steps = steps

    def _targets(self, dataset: Any) -> np.ndarray:
        """Training targets: a 0/1 matrix ``(n, k)`` for multi-label, class ids ``(n,)`` for single-label."""
        if "labels" not in dataset.column_names:
            raise InputError("the dataset has no 'labels' column", field="labels")
        space = self.label_space
        features = dataset.features.get("labels")
        names = _dataset_label_names(dataset)[0]
        rows = dataset["labels"]
        if names is not None and list(names) != list(space.names):
            # ClassLabel ids of the dataset -> names -> ids of the model's label space.
            to_name = (lambda v: names[int(v)] if not isinstance(v, str) else v) if features is not None else None
            rows = [[to_name(v) for v in row] if isinstance(row, (list, tuple)) else to_name(row) for row in rows]
        ids = [_label_ids(row, space, space.multi_label) for row in rows]
        if not space.multi_label:
            return np.asarray(ids, dtype=np.int64)
        matrix = np.zeros((len(ids), space.num_labels), dtype=np.float32)
        for i, row in enumerate(ids):
            matrix[i, row] = 1.0
        return matrix

    def _classifier_layer(self, model: torch.nn.Module) -> torch.nn.Linear | None:
        """The last linear layer with one output per label (the classifier's output projection)."""
        found = None
        k = self.label_space.num_labels
        for name, module in model.named_modules():
            is_output = isinstance(module, torch.nn.Linear) and module.out_features == k
            if is_output and (found is None or any(part in name for part in HEAD_MODULE_NAMES)):
                found = module
        return found

    def _init_head_bias(self, model: torch.nn.Module, targets: np.ndarray) -> None:
        layer = self._classifier_layer(model)
        if layer is None or layer.bias is None:
            logger.warning("no classifier bias found; init_head_bias is ignored")
            return
        k = self.label_space.num_labels
        if self.label_space.multi_label:
            prior = np.clip(targets.mean(axis=0), 1e-4, 1 - 1e-4)
            bias = np.log(prior / (1 - prior))
        else:  # softmax: the log of each class's share
            prior = np.clip(np.bincount(targets, minlength=k) / max(len(targets), 1), 1e-4, 1.0)
            bias = np.log(prior)
        with torch.no_grad():
            layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))

    @staticmethod
    def _compute_pos_weight(label_matrix: np.ndarray, args: EmoPillarsTrainingArguments) -> torch.Tensor:
        positives = label_matrix.sum(axis=0)
        negatives = len(label_matrix) - positives
        ratio = negatives / np.maximum(positives, 1.0)
        if args.pos_weight == "rare":
            weight = np.sqrt(ratio / np.median(ratio))
        else:
            weight = np.sqrt(ratio) if args.pos_weight == "sqrt" else ratio
        return torch.as_tensor(np.clip(weight, 1.0, args.pos_weight_max), dtype=torch.float32)

    @staticmethod
    def _wrap_lora(model: PreTrainedModel, args: EmoPillarsTrainingArguments) -> Any:
        from peft import LoraConfig, TaskType, get_peft_model

        # The head (and the pooler that feeds it) is new or task-specific: train it in full, save it with the adapter.
        module_names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        head_modules = [name for name in ("pre_classifier", "classifier", "pooler") if name in module_names]
        config = LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=args.lora_r,
            lora_alpha=args.lora_alpha,
            lora_dropout=args.lora_dropout,
            target_modules=args.lora_target_modules,
            modules_to_save=head_modules or None,
        )
        return get_peft_model(model, config)

    def prepare_dataset(self, dataset: Any, tokenizer: Any = None, args: EmoPillarsTrainingArguments | None = None):
        """Tokenize rows in the input format and add ``labels`` (0/1 floats or ``emotion_scores`` for multi-label,
        class ids for single-label)."""
        tokenizer = tokenizer if tokenizer is not None else self.processing_class
        args = args if args is not None else self.args
        if "input_ids" in dataset.column_names:
            return dataset
        if "utterance" not in dataset.column_names:
            raise InputError("the dataset has no 'utterance' column", field="utterance")
        if args.targets == "emotion_scores" and "emotion_scores" not in dataset.column_names:
            raise InputError("targets='emotion_scores' needs an 'emotion_scores' column", field="emotion_scores")
        targets = self._targets(dataset) if "labels" in dataset.column_names else None
        if args.targets == "emotion_scores":
            targets = np.asarray(dataset["emotion_scores"], dtype=np.float32)
        input_format, max_length, template = args.input_format, self.max_length, args.input_template

        def encode(batch: Mapping[str, list[Any]], indices: list[int]) -> dict[str, Any]:
            out = dict(tokenize_examples(tokenizer, batch, input_format, max_length, template))
            if targets is not None:
                out["labels"] = targets[indices].tolist()
            return out

        with quiet():  # a "Tokenizing" bar per split is noise beside the training bar
            return dataset.map(
                encode, batched=True, with_indices=True, remove_columns=dataset.column_names, desc="Tokenizing"
            )

    # ----- optimisation ----------------------------------------------------------------------------------------
    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        """The data order comes from the seed (``data_seed``, else ``seed``) and the epoch, so two runs with one seed
        see the same batches, and a resumed run continues the interrupted one's order."""
        train_dataset = train_dataset if train_dataset is not None else self.train_dataset
        strategy = self.args.train_sampling_strategy
        if train_dataset is None or strategy not in ("random", "group_by_length") or self.args.world_size > 1:
            return super()._get_train_sampler(train_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        input_name = self.processing_class.model_input_names[0] if self.processing_class is not None else None
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return _EpochSeededSampler(train_dataset, seed, batch, strategy == "group_by_length", input_name)

    def parameter_learning_rate(self, name: str, num_layers: int) -> float:
        """The learning rate of parameter ``name``: the head's, or the encoder's scaled by its layer's decay.

        Layers are found by the ``layer.<i>.`` (BERT, RoBERTa) or ``layers.<i>.`` part of the name; parameters
        below the first layer (embeddings) get one more step of decay, any other encoder parameter the top rate.
        """
        if any(part in name.split(".") for part in HEAD_MODULE_NAMES):
            return (
                self.args.head_learning_rate if self.args.head_learning_rate is not None else self.args.learning_rate
            )
        decay = float(self.args.layer_lr_decay)
        if decay == 1.0 or num_layers <= 0:
            return self.args.learning_rate
        match = _LAYER_INDEX.search(name)
        if match is not None:
            depth = num_layers - int(match.group(1))  # 1 for the top layer
        elif "embeddings" in name.split("."):
            depth = num_layers + 1
        else:
            depth = 1
        return self.args.learning_rate * decay**depth

    def create_optimizer(self, model=None):
        head_lr = self.args.head_learning_rate
        one_rate = head_lr is None or head_lr == self.args.learning_rate
        if self.optimizer is not None or (one_rate and float(self.args.layer_lr_decay) == 1.0):
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        num_layers = int(getattr(opt_model.config, "num_hidden_layers", 0) or 0)
        groups: dict[tuple[float, bool], list[torch.nn.Parameter]] = {}
        for name, param in opt_model.named_parameters():
            if not param.requires_grad:
                continue
            groups.setdefault((self.parameter_learning_rate(name, num_layers), name in decay), []).append(param)
        param_groups = [
            {"params": params, "weight_decay": self.args.weight_decay if with_decay else 0.0, "lr": lr}
            for (lr, with_decay), params in groups.items()
        ]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        optimizer_kwargs.pop("lr", None)
        self.optimizer = optimizer_cls(param_groups, lr=self.args.learning_rate, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels", None)
        if labels is None:
            raise InputError("a training batch has no labels", field="labels")
        alpha = float(self.args.rdrop_alpha) if model.training else 0.0
        if alpha:  # R-Drop: the batch twice in one forward pass, so each copy draws its own dropout masks
            inputs = {
                key: torch.cat([value, value]) if torch.is_tensor(value) else value for key, value in inputs.items()
            }
            labels = torch.cat([labels, labels])
        outputs = model(**inputs)
        logits = outputs["logits"] if isinstance(outputs, Mapping) else outputs[0]
        smoothing = float(self.args.label_smoothing_factor)  # transformers' option, applied to our losses
        multi_label = self.label_space.multi_label
        if multi_label:
            pos_weight = self._pos_weight.to(logits.device) if self._pos_weight is not None else None
            targets = labels.to(logits.device, torch.float32)
            if smoothing:
                targets = targets * (1.0 - smoothing) + smoothing / 2.0
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=pos_weight)
        else:
            loss = torch.nn.functional.cross_entropy(
                logits.float(), labels.to(logits.device, torch.long), label_smoothing=smoothing
            )
        if alpha:
            loss = loss + alpha / 2.0 * symmetric_kl(*logits.float().chunk(2), multi_label=multi_label)
        return (loss, outputs) if return_outputs else loss

    # ----- scores ----------------------------------------------------------------------------------------------
    def scores(self, logits: Any) -> np.ndarray:
        """Sigmoid (multi-label) or softmax (single-label) scores of logits."""
        x = np.asarray(logits, dtype=np.float64)
        if self.label_space.multi_label:
            return 1.0 / (1.0 + np.exp(-x))
        x = x - x.max(axis=1, keepdims=True)
        e = np.exp(x)
        return e / e.sum(axis=1, keepdims=True)

    def _gold(self, label_ids: Any) -> np.ndarray:
        if self.label_space.multi_label:
            return (np.asarray(label_ids) >= 0.5).astype(np.int64)
        return np.asarray(label_ids, dtype=np.int64)

    def _compute_metrics(self, eval_prediction: Any) -> dict[str, float]:
        """Macro-F1 during training: at 0.5 and at the best global threshold (multi-label), or of the argmax."""
        logits = eval_prediction.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits
        probs = self.scores(logits)
        gold = self._gold(eval_prediction.label_ids)
        if not self.label_space.multi_label:
            from sklearn.metrics import accuracy_score, f1_score

            pred = probs.argmax(axis=1)
            return {
                "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
                "accuracy": float(accuracy_score(gold, pred)),
            }
        result = tune_thresholds(gold, probs)
        return {
            "macro_f1": result.f1_at_05,
            "global_macro_f1": result.global_f1,
            "global_threshold": result.global_threshold,
        }

    # ----- training, thresholds, evaluation --------------------------------------------------------------------
    def train(self, *args: Any, **kwargs: Any):
        """Train (``transformers.Trainer.train``), then tune thresholds on the evaluation split if asked."""
        start = time.perf_counter()
        if self._averaging is not None:
            self._averaging.reset()  # a resume restores the mean from its checkpoint
        try:
            output = super().train(*args, **kwargs)
        except BaseException:
            self._close_bars()  # the error's one line starts a line of its own, not the end of the step bar
            raise
        if self.card_data.train_runtime is None:
            self.card_data.train_runtime = time.perf_counter() - start
        if self.args.tune_thresholds and self.eval_dataset is not None and self.label_space.multi_label:
            self.tune_thresholds()
        if self.args.lora and self.args.merge_lora:
            self.merge_lora()
        return output

    def _close_bars(self) -> None:
        """Close the step bar of a run that stopped early (``ProgressCallback`` closes it only when training ends)."""
        for callback in self.callback_handler.callbacks:
            bar = getattr(callback, "training_bar", None)
            if bar is not None:
                bar.close()
                callback.training_bar = None

    def _get_eval_sampler(self, eval_dataset: Any) -> Any:
        """Evaluation and prediction read rows in order, also under ``train_sampling_strategy="group_by_length"``
        (which ``transformers`` applies to evaluation too, shuffling the rows that :meth:`predict_proba` returns
        against the order of the dataset)."""
        if self.args.train_sampling_strategy != "group_by_length" or eval_dataset is None:
            return super()._get_eval_sampler(eval_dataset)
        from torch.utils.data import SequentialSampler

        # What transformers uses without length grouping (and without measuring every row's length first).
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

    def predict_proba(self, dataset: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores ``(n, k)`` for rows (raw or prepared), sigmoid or softmax by the label space, and the gold labels
        when present (a 0/1 matrix for multi-label, class ids for single-label)."""
        prepared = self.prepare_dataset(dataset)
        output = self.predict(prepared, metric_key_prefix="predict")
        logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
        labels = None if output.label_ids is None else self._gold(output.label_ids)
        return self.scores(logits), labels

    def tune_thresholds(self, dataset: Any = None, split: str = "validation") -> ThresholdResult:
        """Sweep global and per-label thresholds on ``dataset`` (default: the evaluation split) for macro-F1 and
        store them in the model config (``config.emo_pillars["threshold"]`` and ``["thresholds"]``, by label)."""
        if not self.label_space.multi_label:
            raise ConfigError("thresholds apply to multi-label models; a single-label model predicts the argmax")
        dataset = dataset if dataset is not None else self.eval_dataset
        if dataset is None:
            raise ConfigError("threshold tuning needs an evaluation dataset")
        probs, labels = self.predict_proba(dataset)
        if labels is None:
            raise InputError("threshold tuning needs labels", field="labels")
        result = tune_thresholds(labels, probs)
        self.threshold_result = result
        config = self._base_model().config
        stored = dict(getattr(config, CONFIG_KEY, None) or {})
        stored.update(
            {
                "threshold": result.global_threshold,
                "thresholds": dict(zip(self.label_space.names, result.per_label)),
                "threshold_tuning": {
                    "split": split,
                    "metric": "macro_f1",
                    "grid": [float(THRESHOLD_GRID[0]), float(THRESHOLD_GRID[-1]), 0.01],
                    "macro_f1_at_0.5": round(result.f1_at_05, 4),
                    "macro_f1_global": round(result.global_f1, 4),
                    "macro_f1_per_label": round(result.per_label_f1, 4),
                },
            }
        )
        setattr(config, CONFIG_KEY, stored)
        self.card_data.set_thresholds(result, split)
        return result

    def evaluate_thresholds(self, dataset: Any, split: str = "test") -> dict[str, dict[str, Any]]:
        """Metrics on ``dataset``: at 0.5, at the global and at the per-label thresholds (tuned before) for a
        multi-label model; of the argmax (``"argmax"``) for a single-label one.

        Returns:
            ``{"0.5": m, "global": m, "per_label": m}`` or ``{"argmax": m}``, where ``m`` is
            :func:`emo_pillars.modeling.metrics.f1_scores`'s output (macro/micro/weighted F1 and per-label precision, recall, F1,
            support) plus ``threshold``, with ``macro_f1`` over the labels present in ``dataset`` (``present_labels``;
            the all-label average is ``macro_f1_all_labels``, see
            :func:`~emo_pillars.modeling.card.with_present_label_macro`). The card records them as the model's
            evaluation results.
        """

        probs, labels = self.predict_proba(dataset)
        if labels is None:
            raise InputError("evaluation needs labels", field="labels")
        names = list(self.label_space.names)
        results = {}
        if not self.label_space.multi_label:
            one_hot = np.eye(len(names), dtype=np.int64)
            scores = with_present_label_macro(f1_scores(one_hot[labels], one_hot[probs.argmax(axis=1)], names))
            scores["threshold"] = None
            results["argmax"] = scores
        else:
            stored = getattr(self._base_model().config, CONFIG_KEY, None) or {}
            settings: dict[str, Any] = {"0.5": 0.5}
            if "threshold" in stored:
                settings["global"] = stored["threshold"]
            if "thresholds" in stored:
                settings["per_label"] = [stored["thresholds"][name] for name in names]
            for key, threshold in settings.items():
                cut = (probs >= np.asarray(threshold, dtype=np.float64)).astype(np.int64)
                scores = with_present_label_macro(f1_scores(labels, cut, names))
                scores["threshold"] = threshold
                results[key] = scores
        self.card_data.set_test_metrics(results, split)
        return results

    # ----- LoRA and saving -------------------------------------------------------------------------------------
    def _base_model(self) -> PreTrainedModel:
        model = self.model
        if hasattr(model, "get_base_model"):
            return model.get_base_model()
        return model

    def merge_lora(self) -> PreTrainedModel:
        """Merge LoRA adapters into the weights; the trainer's model becomes a plain checkpoint."""
        if not hasattr(self.model, "merge_and_unload"):
            return self.model
        config_values = getattr(self._base_model().config, CONFIG_KEY, None)
        merged = self.model.merge_and_unload()
        if config_values is not None:
            setattr(merged.config, CONFIG_KEY, config_values)
        self.model = merged
        self.model_wrapped = merged
        return merged

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        """``Trainer``'s checkpoint, where a write the file system refuses is one
        :class:`~emo_pillars.errors.WriteError` and the half-written checkpoint is removed (its
        ``trainer_state.json``, written last, is missing): the last complete one stays the one ``--resume`` finds."""
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        try:
            with writing(folder), naming_weights(folder / weights_file(self.model)):
                super()._save_checkpoint(model, trial)
        except Exception:
            if self.args.should_save and not _complete_state(folder / "trainer_state.json"):
                shutil.rmtree(folder, ignore_errors=True)
            raise

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        super()._save_optimizer_and_scheduler(output_dir)
        if self._averaging is not None and self.args.should_save:  # before trainer_state.json marks it complete
            self._averaging.save(output_dir)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if self._averaging is not None and checkpoint is not None:
            self._averaging.load(checkpoint, self.model)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        with quiet():  # no "Writing model shards" bar per checkpoint
            super()._save(output_dir, state_dict=state_dict)
        # Trainer pickles the arguments; a saved folder holds no pickle: the same values as JSON instead.
        Path(output_dir, "training_args.bin").unlink(missing_ok=True)
        if self.args.should_save:
            Path(output_dir, TRAINING_ARGS_JSON).write_text(self.args.to_json_string(), encoding="utf-8")
        if hasattr(self.model, "peft_config"):
            # The adapter folder also carries the full config (labels, thresholds), read by EmoPillarsClassifier.
            self._base_model().config.save_pretrained(output_dir)
        if self.args.should_save:
            try:
                write_model_card(self.card_data, output_dir)
            except Exception as error:  # the weights are saved; a card problem must not lose them
                if disk_error_cause(error) is not None:
                    raise  # a full disk is no card problem: the folder is not complete
                logger.warning("could not write the model card: %s", error)

    def create_model_card(self, *args: Any, **kwargs: Any) -> None:
        """The emo-pillars card replaces ``Trainer``'s auto-generated one (it is written on every save)."""
        write_model_card(self.card_data, self.args.output_dir)


def save_final_model(
    trainer: EmoPillarsTrainer,
    output_dir: str | os.PathLike,
    before_replace: Callable[[Path], None] | None = None,
) -> Path:
    """Save the trained model, tokenizer and card into a temporary sibling of ``output_dir``, check it, and put
    it in place of ``output_dir`` in one rename: a kill at any moment leaves the previous model whole.

    The checkpoints of the run (``checkpoint-N``) go with the previous folder: they are only needed to resume an
    unfinished run. Before anything is written, the free space and the file-size limit are compared with the weights
    the folder will hold (:func:`~emo_pillars.modeling.saving.weights_needed`); a folder that cannot hold them is
    refused, and a write the file system refuses later is one :class:`~emo_pillars.errors.WriteError`; either way
    ``output_dir`` (and the checkpoints in it) is as it was and no temporary folder is left.

    Args:
        trainer: The trainer after :meth:`~EmoPillarsTrainer.train`.
        output_dir: The final model folder.
        before_replace: Called with the temporary folder before it replaces ``output_dir`` (to add files).
    """
    target = Path(output_dir)
    weights, need = weights_needed(trainer.model)
    check_space(target / weights, need)
    with staged_folder(target, prefix=f".{target.name}.tmp-", suffix="") as tmp:
        with naming_weights(tmp / weights):
            trainer.save_model(str(tmp))
        trainer.processing_class.save_pretrained(str(tmp))
        if before_replace is not None:
            before_replace(tmp)
        saved = [name for name in ("model.safetensors", "adapter_model.safetensors") if (tmp / name).is_file()]
        saved += [p.name for p in tmp.glob("model-*.safetensors")]
        config = json.loads((tmp / "config.json").read_text(encoding="utf-8"))
        if not saved or "id2label" not in config:
            raise ConfigError(f"the saved model in {tmp} is incomplete")
    return target
