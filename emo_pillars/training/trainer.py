"""EmoPillarsTrainer: a ``transformers.Trainer`` for 28-way multi-label emotion students."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    PreTrainedModel,
    Trainer,
    TrainerCallback,
)

from ..errors import ConfigError, InputError
from ..inputs import ensure_token_types, tokenize_examples
from ..taxonomy import EMOTIONS, NUM_EMOTIONS, id2label, label2id
from .args import EmoPillarsTrainingArguments
from .model_card import EmoPillarsModelCardData, ModelCardCallback, write_model_card
from .thresholds import ThresholdResult, tune_thresholds

logger = logging.getLogger(__name__)

__all__ = ["EmoPillarsTrainer", "load_training_dataset", "CONFIG_KEY", "HEAD_MODULE_NAMES"]

#: The key under which the model config stores emo-pillars settings (input format, thresholds).
CONFIG_KEY = "emo_pillars"

#: Parameter-name fragments of classification heads and poolers (BERT, RoBERTa, DistilBERT, DeBERTa, ...).
HEAD_MODULE_NAMES = ("classifier", "pooler", "pre_classifier", "score")


def load_training_dataset(dataset: Any, config: str = "context_less") -> Any:
    """A ``datasets.DatasetDict`` from a DatasetDict, a local dataset repository folder or a Hub id.

    Args:
        dataset: A ``DatasetDict``, a folder loadable with ``datasets.load_dataset(folder, config)`` (such as one
            written by ``emo-pillars build-dataset``), or a Hub dataset id.
        config: The configuration to load (``context_less`` or ``contextual``).
    """
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        return dataset
    if isinstance(dataset, (str, os.PathLike)):
        source = os.fspath(dataset)
        try:
            loaded = datasets.load_dataset(source, config)
        except ValueError as error:
            if "BuilderConfig" not in str(error) and "config" not in str(error).lower():
                raise
            loaded = datasets.load_dataset(source)
        if not isinstance(loaded, datasets.DatasetDict):
            raise InputError(f"{source} did not load as a DatasetDict with train/validation/test splits")
        return loaded
    raise InputError(f"cannot read a dataset from {type(dataset).__name__}; give a DatasetDict, a folder or a Hub id")


def _multi_hot(rows: list[list[int]]) -> list[list[float]]:
    out = np.zeros((len(rows), NUM_EMOTIONS), dtype=np.float32)
    for i, labels in enumerate(rows):
        for label in labels:
            out[i, int(label)] = 1.0
    return out.tolist()


def _label_ids(labels: Any, features: Any) -> list[list[int]]:
    """``labels`` as lists of class ids (ClassLabel ids, or names mapped through :data:`label2id`)."""
    rows = []
    for row in labels:
        ids = []
        for value in row:
            if isinstance(value, str):
                if value not in label2id:
                    raise InputError(f"unknown emotion {value!r}", field="labels")
                ids.append(label2id[value])
            else:
                ids.append(int(value))
        rows.append(ids)
    return rows


class EmoPillarsTrainer(Trainer):
    """Fine-tunes an encoder into a 28-emotion multi-label classifier.

    A plain ``AutoModelForSequenceClassification`` is trained (``problem_type="multi_label_classification"``,
    ``id2label`` from :data:`~emo_pillars.taxonomy.EMOTIONS`), so the saved model loads anywhere ``transformers``
    does, ``pipeline("text-classification", top_k=None)`` included, without custom code. On top of ``Trainer``:

    * rows are tokenized in the one input format (:mod:`emo_pillars.inputs`);
    * BCE on the 0/1 labels (or on the teacher's ``emotion_scores``), with optional per-class positive weights;
    * the head and pooler can learn faster than the encoder (``head_learning_rate``), the classifier bias can start
      at the label priors, the word embeddings can stay frozen;
    * after :meth:`train`, global and per-label thresholds are tuned on the evaluation split and stored in the
      model config; :meth:`evaluate_thresholds` reports a split at 0.5, the global and the per-label thresholds;
    * optional LoRA (peft), with merging into a plain checkpoint;
    * every save writes the model card (``README.md``) and its plots beside the weights.

    Args:
        model: A base model id or path (any encoder ``AutoModelForSequenceClassification`` loads), or a model.
        args: Training options; default :class:`EmoPillarsTrainingArguments` with its defaults.
        train_dataset: Rows with the dataset Features of ``docs/CONTRACTS.md``, or a ``DatasetDict`` (its ``train``
            split; ``validation`` becomes the evaluation split unless ``eval_dataset`` is given).
        eval_dataset: Rows for evaluation and threshold tuning.
        processing_class: The tokenizer; loaded from ``model`` when not given.
        card_data: Model card fields; filled further during training.
        callbacks: Extra ``TrainerCallback`` s.
        **kwargs: Passed to ``transformers.Trainer``.

    Examples:
        >>> from emo_pillars.training import EmoPillarsTrainer, EmoPillarsTrainingArguments
        >>> args = EmoPillarsTrainingArguments(output_dir="minilm-emo", num_train_epochs=3)  # doctest: +SKIP
        >>> trainer = EmoPillarsTrainer(  # doctest: +SKIP
        ...     model="sentence-transformers/all-MiniLM-L6-v2", args=args, train_dataset=dataset_dict
        ... )
        >>> trainer.train()  # doctest: +SKIP
        >>> trainer.evaluate_thresholds(dataset_dict["test"])  # doctest: +SKIP
        >>> trainer.save_model()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | os.PathLike | PreTrainedModel | None = None,
        args: EmoPillarsTrainingArguments | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        card_data: EmoPillarsModelCardData | None = None,
        callbacks: list[TrainerCallback] | None = None,
        **kwargs: Any,
    ):
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
        self.card_data = card_data or EmoPillarsModelCardData()
        self.card_data.input_format = args.input_format
        self.card_data.max_length = args.max_length

        base_name = None
        if isinstance(model, (str, os.PathLike)):
            base_name = os.fspath(model)
            if processing_class is None:
                processing_class = AutoTokenizer.from_pretrained(base_name)
            model = AutoModelForSequenceClassification.from_pretrained(
                base_name,
                num_labels=NUM_EMOTIONS,
                id2label=dict(id2label),
                label2id=dict(label2id),
                problem_type="multi_label_classification",
            )
        else:
            base_name = getattr(model.config, "_name_or_path", None) or None
        if processing_class is None:
            raise ConfigError("give processing_class (the tokenizer) when model is a model object")
        if self.card_data.base_model is None:
            self.card_data.base_model = base_name
        self._configure_model(model, args)
        if args.input_format == "contextual" and args.resize_token_types:
            ensure_token_types(model, processing_class)
        self._raw_train_dataset = train_dataset
        self._raw_eval_dataset = eval_dataset
        self._pos_weight: torch.Tensor | None = None
        if train_dataset is not None:
            label_matrix = np.asarray(_multi_hot(_label_ids(train_dataset["labels"], train_dataset.features)))
            self.card_data.dataset_sizes["train"] = len(train_dataset)
            if args.init_head_bias:
                self._init_head_bias(model, label_matrix)
            if args.pos_weight != "none":
                self._pos_weight = self._compute_pos_weight(label_matrix, args)
            train_dataset = self.prepare_dataset(train_dataset, processing_class, args)
        if eval_dataset is not None:
            self.card_data.dataset_sizes["validation"] = len(eval_dataset)
            eval_dataset = self.prepare_dataset(eval_dataset, processing_class, args)
        if args.freeze_embeddings:
            embeddings = model.get_input_embeddings()
            embeddings.weight.requires_grad_(False)
        if args.lora:
            model = self._wrap_lora(model, args)

        callbacks = list(callbacks or [])
        callbacks.append(ModelCardCallback(self.card_data))
        kwargs.setdefault("data_collator", DataCollatorWithPadding(processing_class))
        kwargs.setdefault("compute_metrics", _compute_metrics)
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            callbacks=callbacks,
            **kwargs,
        )
        self.threshold_result: ThresholdResult | None = None

    # ----- setup -----------------------------------------------------------------------------------------------
    @staticmethod
    def _configure_model(model: PreTrainedModel, args: EmoPillarsTrainingArguments) -> None:
        config = model.config
        if getattr(config, "num_labels", None) != NUM_EMOTIONS:
            raise ConfigError(f"the model has {config.num_labels} outputs; emo-pillars models have {NUM_EMOTIONS}")
        config.problem_type = "multi_label_classification"
        config.id2label = dict(id2label)
        config.label2id = dict(label2id)
        stored = dict(getattr(config, CONFIG_KEY, None) or {})
        stored.update({"input_format": args.input_format, "max_length": args.max_length, "labels": list(EMOTIONS)})
        setattr(config, CONFIG_KEY, stored)

    @staticmethod
    def _classifier_layer(model: torch.nn.Module) -> torch.nn.Linear | None:
        """The last linear layer with one output per emotion (the classifier's output projection)."""
        found = None
        for name, module in model.named_modules():
            is_output = isinstance(module, torch.nn.Linear) and module.out_features == NUM_EMOTIONS
            if is_output and (found is None or any(part in name for part in HEAD_MODULE_NAMES)):
                found = module
        return found

    def _init_head_bias(self, model: torch.nn.Module, label_matrix: np.ndarray) -> None:
        layer = self._classifier_layer(model)
        if layer is None or layer.bias is None:
            logger.warning("no classifier bias found; init_head_bias is ignored")
            return
        prior = np.clip(label_matrix.mean(axis=0), 1e-4, 1 - 1e-4)
        with torch.no_grad():
            layer.bias.copy_(torch.as_tensor(np.log(prior / (1 - prior)), dtype=layer.bias.dtype))

    @staticmethod
    def _compute_pos_weight(label_matrix: np.ndarray, args: EmoPillarsTrainingArguments) -> torch.Tensor:
        positives = label_matrix.sum(axis=0)
        negatives = len(label_matrix) - positives
        ratio = negatives / np.maximum(positives, 1.0)
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
        """Tokenize rows in the input format and add float ``labels`` (0/1, or ``emotion_scores`` soft targets)."""
        tokenizer = tokenizer if tokenizer is not None else self.processing_class
        args = args if args is not None else self.args
        if "input_ids" in dataset.column_names:
            return dataset
        if "utterance" not in dataset.column_names:
            raise InputError("the dataset has no 'utterance' column", field="utterance")
        if args.targets == "emotion_scores" and "emotion_scores" not in dataset.column_names:
            raise InputError("targets='emotion_scores' needs an 'emotion_scores' column", field="emotion_scores")
        features = dataset.features
        targets = args.targets

        def encode(batch: Mapping[str, list[Any]]) -> dict[str, Any]:
            encoding = tokenize_examples(tokenizer, batch, args.input_format, args.max_length)
            out = dict(encoding)
            if targets == "emotion_scores":
                out["labels"] = [[float(v) for v in row] for row in batch["emotion_scores"]]
            elif "labels" in batch:
                out["labels"] = _multi_hot(_label_ids(batch["labels"], features))
            return out

        return dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="Tokenizing")

    # ----- optimisation ----------------------------------------------------------------------------------------
    def create_optimizer(self, model=None):
        head_lr = self.args.head_learning_rate
        if self.optimizer is not None or head_lr is None or head_lr == self.args.learning_rate:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
        for name, param in opt_model.named_parameters():
            if not param.requires_grad:
                continue
            is_head = any(part in name.split(".") for part in HEAD_MODULE_NAMES)
            groups.setdefault((is_head, name in decay), []).append(param)
        param_groups = [
            {
                "params": params,
                "weight_decay": self.args.weight_decay if with_decay else 0.0,
                "lr": head_lr if is_head else self.args.learning_rate,
            }
            for (is_head, with_decay), params in groups.items()
        ]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        optimizer_kwargs.pop("lr", None)
        self.optimizer = optimizer_cls(param_groups, lr=self.args.learning_rate, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels", None)
        outputs = model(**inputs)
        logits = outputs["logits"] if isinstance(outputs, Mapping) else outputs[0]
        if labels is None:
            raise InputError("a training batch has no labels", field="labels")
        pos_weight = self._pos_weight.to(logits.device) if self._pos_weight is not None else None
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), labels.to(logits.device, torch.float32), pos_weight=pos_weight
        )
        return (loss, outputs) if return_outputs else loss

    # ----- training, thresholds, evaluation --------------------------------------------------------------------
    def train(self, *args: Any, **kwargs: Any):
        """Train (``transformers.Trainer.train``), then tune thresholds on the evaluation split if asked."""
        start = time.perf_counter()
        output = super().train(*args, **kwargs)
        if self.card_data.train_runtime is None:
            self.card_data.train_runtime = time.perf_counter() - start
        if self.args.tune_thresholds and self.eval_dataset is not None:
            self.tune_thresholds()
        if self.args.lora and self.args.merge_lora:
            self.merge_lora()
        return output

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
        """Sigmoid scores ``(n, 28)`` for rows (raw or prepared), and their 0/1 labels when present."""
        prepared = self.prepare_dataset(dataset)
        output = self.predict(prepared, metric_key_prefix="predict")
        logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
        probs = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
        labels = None if output.label_ids is None else (np.asarray(output.label_ids) >= 0.5).astype(np.int64)
        return probs, labels

    def tune_thresholds(self, dataset: Any = None, split: str = "validation") -> ThresholdResult:
        """Sweep global and per-label thresholds on ``dataset`` (default: the evaluation split) for macro-F1 and
        store them in the model config (``config.emo_pillars["threshold"]`` and ``["thresholds"]``)."""
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
                "thresholds": dict(zip(EMOTIONS, result.per_label)),
                "threshold_tuning": {
                    "split": split,
                    "metric": "macro_f1",
                    "grid": [0.05, 0.95, 0.01],
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
        """Metrics on ``dataset`` at 0.5, at the global and at the per-label thresholds (tuned before).

        Returns:
            ``{"0.5": m, "global": m, "per_label": m}`` where ``m`` is the ``multilabel_f1`` metric's output
            (macro/micro/weighted F1 and per-label precision, recall, F1, support) plus ``threshold``.
            The card records them as the model's evaluation results.
        """
        from .metrics import load_metric

        probs, labels = self.predict_proba(dataset)
        if labels is None:
            raise InputError("evaluation needs labels", field="labels")
        stored = getattr(self._base_model().config, CONFIG_KEY, None) or {}
        settings: dict[str, Any] = {"0.5": 0.5}
        if "threshold" in stored:
            settings["global"] = stored["threshold"]
        if "thresholds" in stored:
            settings["per_label"] = [stored["thresholds"][e] for e in EMOTIONS]
        metric = load_metric("multilabel_f1")
        results = {}
        for key, threshold in settings.items():
            scores = metric.compute(
                predictions=probs.tolist(), references=labels.tolist(), threshold=threshold, label_names=list(EMOTIONS)
            )
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

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        super()._save(output_dir, state_dict=state_dict)
        if hasattr(self.model, "peft_config"):
            # The adapter folder also carries the full config (labels, thresholds), read by EmoPillarsClassifier.
            self._base_model().config.save_pretrained(output_dir)
        if self.args.should_save:
            try:
                write_model_card(self.card_data, output_dir)
            except Exception as error:  # the weights are saved; a card problem must not lose them
                logger.warning("could not write the model card: %s", error)

    def create_model_card(self, *args: Any, **kwargs: Any) -> None:
        """The emo-pillars card replaces ``Trainer``'s auto-generated one (it is written on every save)."""
        write_model_card(self.card_data, self.args.output_dir)


def _compute_metrics(eval_prediction: Any) -> dict[str, float]:
    """Macro-F1 at 0.5 and at the best global threshold, for evaluation during training."""
    from .thresholds import tune_thresholds as sweep

    logits = eval_prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    probs = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
    labels = (np.asarray(eval_prediction.label_ids) >= 0.5).astype(np.int64)
    result = sweep(labels, probs)
    return {
        "macro_f1": result.f1_at_05,
        "global_macro_f1": result.global_f1,
        "global_threshold": result.global_threshold,
    }
