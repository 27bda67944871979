"""Model cards: a ``CardData`` subclass filled during training, and the renderer.

The card follows the model's label space (the 28 GoEmotions classes or a task's labels, multi- or single-label).
It is rendered from the template shipped as ``emo_pillars/model_cards/emo_pillars_model_card.md`` with
``huggingface_hub.ModelCard.from_template`` and written, with its plots, every time a model is saved.

Examples:
    >>> card_data = EmoPillarsModelCardData(base_model="sentence-transformers/all-MiniLM-L6-v2")
    >>> card_data.to_dict()["pipeline_tag"]
    'text-classification'
"""

from __future__ import annotations

import importlib.resources
import logging
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from huggingface_hub import CardData, EvalResult, ModelCard
from huggingface_hub.repocard_data import eval_results_to_model_index

from .inputs import DEFAULT_MAX_LENGTH
from .taxonomy import EMOTIONS

logger = logging.getLogger(__name__)

__all__ = [
    "EmoPillarsModelCardData",
    "CARD_HYPERPARAMETERS",
    "load_model_card_template",
    "generate_model_card",
    "write_model_card",
    "THRESHOLD_PLOT",
    "LOSS_PLOT",
]

TEMPLATE_NAME = "emo_pillars_model_card.md"
#: The utterance the card's usage snippets classify.
_EXAMPLE_TEXT = "I actually did it!"
THRESHOLD_PLOT = "thresholds.png"
LOSS_PLOT = "training_loss.png"

#: Hyperparameters shown in the card, in this order (the rest of TrainingArguments is left out).
CARD_HYPERPARAMETERS = (
    "learning_rate", "head_learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
    "gradient_accumulation_steps", "warmup_steps", "lr_scheduler_type", "weight_decay", "optim", "max_length",
    "input_format", "targets", "pos_weight", "init_head_bias", "freeze_embeddings", "lora", "lora_r", "lora_alpha",
    "lora_target_modules", "merge_lora", "seed",
)  # fmt: skip


def load_model_card_template() -> str:
    """The card template: from the installed ``emo_pillars.model_cards`` package, else from the repository's
    top-level ``model_cards/`` folder."""
    try:
        return importlib.resources.files("emo_pillars.model_cards").joinpath(TEMPLATE_NAME).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError, TypeError):
        pass
    path = Path(__file__).resolve().parents[1] / "model_cards" / TEMPLATE_NAME
    return path.read_text("utf-8")


@dataclass
class EmoPillarsModelCardData(CardData):
    """What the model card says: fields you set, and fields the trainer fills while it trains.

    Args:
        language: Language code(s) of the training data.
        license: License of the model.
        model_name: Human-readable name (default: built from the base model and dataset).
        model_id: Hub repository id, used in the usage snippets.
        base_model: The encoder the model was fine-tuned from (a Hub id or a path).
        dataset_id: The training dataset (a Hub id or a path).
        dataset_name: Human-readable dataset name.
        dataset_config: The dataset configuration (``context_less`` or ``contextual``).
        tags: Hub tags.

    Examples:
        >>> data = EmoPillarsModelCardData(model_id="me/minilm-emopillars", dataset_id="me/emo-pillars")
        >>> sorted(data.to_dict())[:4]
        ['datasets', 'language', 'library_name', 'license']
    """

    language: str | list[str] | None = "en"
    license: str | None = "apache-2.0"
    model_name: str | None = None
    model_id: str | None = None
    base_model: str | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None
    dataset_config: str | None = None
    tags: list[str] = field(
        default_factory=lambda: ["emo-pillars", "text-classification", "emotion", "multi-label", "goemotions-taxonomy"]
    )

    # Filled during training.
    labels: list[str] = field(default_factory=lambda: list(EMOTIONS), init=False)
    multi_label: bool = field(default=True, init=False)
    input_format: str = field(default="context_less", init=False)
    max_length: int | None = field(default=None, init=False)
    hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    training_logs: list[dict[str, Any]] = field(default_factory=list, init=False)
    dataset_sizes: dict[str, int] = field(default_factory=dict, init=False)
    thresholds: dict[str, Any] = field(default_factory=dict, init=False)
    test_metrics: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    eval_split: str = field(default="validation", init=False)
    test_split: str = field(default="test", init=False)
    train_runtime: float | None = field(default=None, init=False)
    versions: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        # CardData keeps its data in __dict__; the dataclass __init__ has set everything already.
        pass

    # ----- filled by the trainer --------------------------------------------------------------------------------
    def set_label_space(self, names: list[str] | tuple[str, ...], multi_label: bool = True) -> None:
        """Record the model's labels (in output order) and whether it is multi-label; the tags follow."""
        self.labels = list(names)
        self.multi_label = bool(multi_label)
        kind, other = ("multi-label", "single-label") if multi_label else ("single-label", "multi-label")
        tags = [tag for tag in self.tags if tag != other]
        if kind not in tags:
            tags.append(kind)
        if sorted(self.labels) != sorted(EMOTIONS):
            tags = [tag for tag in tags if tag != "goemotions-taxonomy"]
        self.tags = tags

    def set_thresholds(self, result: Any, split: str = "validation") -> None:
        """Record a :class:`~emo_pillars.training.thresholds.ThresholdResult` tuned on ``split``."""
        self.eval_split = split
        self.thresholds = {
            "global": result.global_threshold,
            "global_f1": result.global_f1,
            "per_label": dict(zip(self.labels, result.per_label)),
            "per_label_f1": result.per_label_f1,
            "f1_at_0.5": result.f1_at_05,
        }

    def set_test_metrics(self, metrics: dict[str, dict[str, Any]], split: str = "test") -> None:
        """Record test metrics: ``{"0.5": {...}, "global": {...}, "per_label": {...}}`` as returned by
        :meth:`~emo_pillars.training.trainer.EmoPillarsTrainer.evaluate_thresholds`."""
        self.test_split = split
        self.test_metrics = metrics

    # ----- rendering ---------------------------------------------------------------------------------------------
    def _eval_results(self) -> list[EvalResult]:
        results = []
        dataset_type = self.dataset_id or "unknown"
        dataset_name = self.dataset_name or self.dataset_id or "unknown"
        names = {
            "0.5": "threshold 0.5",
            "global": "global threshold",
            "per_label": "per-label thresholds",
            "argmax": "argmax",
        }
        task_name = "Multi-label emotion classification" if self.multi_label else "Emotion classification"
        for key, metrics in self.test_metrics.items():
            for metric in ("macro_f1", "micro_f1", "weighted_f1"):
                if metric not in metrics:
                    continue
                results.append(
                    EvalResult(
                        task_type="text-classification",
                        task_name=task_name,
                        dataset_type=dataset_type,
                        dataset_name=dataset_name,
                        dataset_config=self.dataset_config,
                        dataset_split=self.test_split,
                        metric_type="f1",
                        metric_value=round(float(metrics[metric]), 4),
                        metric_name=f"{metric.replace('_', '-')} ({names.get(key, key)})",
                        metric_config=metric.split("_")[0],
                    )
                )
        return results

    def get_model_name(self) -> str:
        if self.model_name:
            return self.model_name
        base = (self.base_model or "an encoder").rstrip("/").split("/")[-1]
        data = self.dataset_name or (self.dataset_id or "").rstrip("/").split("/")[-1] or "Emo Pillars data"
        return f"{base} fine-tuned on {data} ({self.input_format.replace('_', '-')})"

    def to_dict(self) -> dict[str, Any]:
        """The card's YAML metadata (the filled fields go into the card body, not the metadata)."""
        data: dict[str, Any] = {
            "language": self.language,
            "license": self.license,
            "library_name": "transformers",
            "pipeline_tag": "text-classification",
            "tags": list(self.tags),
            "base_model": self.base_model if self.base_model and not Path(self.base_model).is_absolute() else None,
            "datasets": [self.dataset_id] if self.dataset_id and not Path(self.dataset_id).is_absolute() else None,
            "metrics": ["f1"],
        }
        results = self._eval_results()
        if results:
            data["model-index"] = eval_results_to_model_index(self.get_model_name(), results)
        return {key: value for key, value in data.items() if value is not None}

    def template_values(self, output_dir: str | Path | None = None) -> dict[str, Any]:
        """The values the card template reads."""
        output_dir = Path(output_dir) if output_dir is not None else None
        model_ref = self.model_id or "path/to/model"
        per_label_rows = []
        best_key = "per_label" if "per_label" in self.test_metrics else next(iter(self.test_metrics), None)
        per_label_metrics = (self.test_metrics.get(best_key) or {}).get("per_label", {}) if best_key else {}
        thresholds = self.thresholds.get("per_label", {})
        for name in self.labels:
            m = per_label_metrics.get(name, {})
            per_label_rows.append(
                {
                    "label": name,
                    "threshold": thresholds.get(name),
                    "precision": m.get("precision"),
                    "recall": m.get("recall"),
                    "f1": m.get("f1"),
                    "support": m.get("support"),
                }
            )
        loss_rows = [log for log in self.training_logs if "loss" in log]
        if len(loss_rows) > 12:  # keep the table short; the plot has every point
            step = math.ceil(len(loss_rows) / 12)
            loss_rows = loss_rows[::step] + ([loss_rows[-1]] if (len(loss_rows) - 1) % step else [])
        return {
            "base_model_link": _link(self.base_model, ""),
            "dataset_link": _link(self.dataset_id, "datasets/", self.dataset_name),
            "model_name": self.get_model_name(),
            "model_ref": model_ref,
            "base_model": self.base_model,
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name or self.dataset_id,
            "dataset_config": self.dataset_config,
            "dataset_sizes": self.dataset_sizes,
            "input_format": self.input_format,
            "max_length": self.max_length or DEFAULT_MAX_LENGTH.get(self.input_format),
            "hyperparameters": self.hyperparameters,
            "loss_rows": loss_rows,
            "thresholds": self.thresholds,
            "test_metrics": self.test_metrics,
            "test_split": self.test_split,
            "eval_split": self.eval_split,
            "per_label_rows": per_label_rows,
            "has_per_label_metrics": bool(per_label_metrics),
            "threshold_plot": THRESHOLD_PLOT if output_dir and (output_dir / THRESHOLD_PLOT).exists() else None,
            "loss_plot": LOSS_PLOT if output_dir and (output_dir / LOSS_PLOT).exists() else None,
            "train_runtime": self.train_runtime,
            "versions": self.versions,
            "labels": list(self.labels),
            "num_labels": len(self.labels),
            "multi_label": self.multi_label,
            "is_emotions": sorted(self.labels) == sorted(EMOTIONS),
            "per_label_key": best_key,
            "example_text": _EXAMPLE_TEXT,
        }


def _is_hub_id(name: str | None) -> bool:
    return bool(name) and not Path(name).is_absolute() and not Path(name).exists() and name.count("/") <= 1


def _link(name: str | None, prefix: str, text: str | None = None) -> str | None:
    """A Markdown link to a Hub repository, or the name in backticks for a local path."""
    if not name:
        return None
    return f"[{text or name}](https://huggingface.co/{prefix}{name})" if _is_hub_id(name) else f"`{text or name}`"


def _versions() -> dict[str, str]:
    import importlib.metadata

    out = {}
    for name in ("emo-pillars", "transformers", "torch", "datasets", "tokenizers", "peft"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _plot_thresholds(card_data: EmoPillarsModelCardData, path: Path) -> bool:
    if not card_data.thresholds:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_label = card_data.thresholds["per_label"]
    names = card_data.labels
    f1s = (card_data.test_metrics.get("per_label") or {}).get("per_label", {})
    fig, ax = plt.subplots(figsize=(max(4.0, 0.4 * len(names) + 1), 4))
    xs = range(len(names))
    ax.bar(xs, [per_label[e] for e in names], color="#4c72b0", label="per-label threshold")
    if f1s:
        ax.plot(xs, [f1s.get(e, {}).get("f1", 0.0) for e in names], "o", color="#dd8452", label="test F1")
    ax.axhline(card_data.thresholds["global"], color="#55a868", ls="--", label="global threshold")
    ax.set_xticks(list(xs), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title(f"Thresholds tuned on {card_data.eval_split} (macro-F1)")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _plot_loss(card_data: EmoPillarsModelCardData, path: Path) -> bool:
    points = [(log["step"], log["loss"]) for log in card_data.training_logs if "loss" in log]
    if len(points) < 2:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(*zip(*points), color="#4c72b0", label="training loss")
    evals = [(log["step"], log["eval_loss"]) for log in card_data.training_logs if "eval_loss" in log]
    if evals:
        ax.plot(*zip(*evals), "o-", color="#dd8452", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("BCE loss" if card_data.multi_label else "cross-entropy loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def generate_model_card(card_data: EmoPillarsModelCardData, output_dir: str | Path | None = None) -> ModelCard:
    """Render the card (without writing it); plots already in ``output_dir`` are referenced."""
    if not card_data.versions:
        card_data.versions = _versions()
    values = card_data.template_values(output_dir)
    return ModelCard.from_template(card_data, template_str=load_model_card_template(), **values)


def write_model_card(card_data: EmoPillarsModelCardData, output_dir: str | Path) -> Path:
    """Write the plots and ``README.md`` into ``output_dir``; returns the card's path."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        _plot_thresholds(card_data, output_dir / THRESHOLD_PLOT)
        _plot_loss(card_data, output_dir / LOSS_PLOT)
    except Exception as error:  # a plot must never stop a save
        logger.warning("could not draw the model card plots: %s", error)
    card = generate_model_card(card_data, output_dir)
    path = output_dir / "README.md"
    card.save(path)
    return path


def card_data_fields() -> list[str]:
    """Names of the user-settable fields (for the CLI and docs)."""
    return [f.name for f in fields(EmoPillarsModelCardData) if f.init]
