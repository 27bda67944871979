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
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import CardData, EvalResult, ModelCard
from huggingface_hub.repocard_data import eval_results_to_model_index

from ..taxonomy import EMOTIONS
from ..utils.hub import looks_local
from .inputs import DEFAULT_MAX_LENGTH, PAPER_TEMPLATE

#: The situation of the card's contextual examples.
EXAMPLE_CONTEXT = "Mara had studied every night for a month, and the results were posted this morning."

logger = logging.getLogger(__name__)

__all__ = [
    "EmoPillarsModelCardData",
    "CARD_HYPERPARAMETERS",
    "CARD_HYPERPARAMETERS_OFF",
    "CARD_HIDDEN",
    "load_model_card_template",
    "generate_model_card",
    "write_model_card",
    "THRESHOLD_PLOT",
    "LOSS_PLOT",
    "resolve_base_model",
    "with_present_label_macro",
    "MODEL_REF_PLACEHOLDER",
    "WIDGET_TEXTS",
]

TEMPLATE_NAME = "emo_pillars_model_card.md"
#: The utterance the card's usage snippets classify.
_EXAMPLE_TEXT = "I actually did it!"
#: The Hub widget's example inputs (written by this project).
WIDGET_TEXTS = (
    "I actually did it!",
    "Why would anyone leave the door open in this weather?",
    "I miss her every single day.",
)
#: How to install the library until a release is on PyPI (as the README says).
INSTALL_LINES = (
    "# emo-pillars is not on PyPI yet: install it from a checkout of its repository, or from a wheel built there",
    "git clone <the emo-pillars repository> emo-pillars && cd emo-pillars",
    'pip install -e .   # or: make wheel && pip install "dist/emo_pillars-0.1.0.dev0-py3-none-any.whl"',
)
#: The placeholder model id of the card's usage snippets; :func:`emo_pillars.modeling.upload_model_folder` puts
#: the repository id in its place on push.
MODEL_REF_PLACEHOLDER = "path/to/model"
#: The limitations of a model trained on Emo Pillars' synthetic data (task cards carry their own task's).
EMO_PILLARS_LIMITATIONS = (
    "**Synthetic, narrative-grounded data.** Emo Pillars training data is written by an LLM as characters from "
    "story plots thinking aloud; the teacher's biases and blind spots become the student's, and text far from that "
    "register (social media, dialogue transcripts, domain jargon) may be scored less well.",
    "**Neutral is weak.** Neutral examples are few and repetitive in the synthetic data; expect low precision and "
    "recall on `neutral`, and tune its threshold for your data.",
)
THRESHOLD_PLOT = "thresholds.png"
LOSS_PLOT = "training_loss.png"

#: transformers' own hyperparameters shown in the card, in this order; the training callback adds the fields
#: emo-pillars defines (``emo_pillars.training.args.our_fields``) after them, less :data:`CARD_HIDDEN`.
CARD_HYPERPARAMETERS = (
    "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
    "warmup_steps", "lr_scheduler_type", "weight_decay", "optim", "label_smoothing_factor", "seed",
)  # fmt: skip
#: Our fields the card leaves out: bookkeeping, not the recipe.
CARD_HIDDEN = ("pos_weight_max", "tune_thresholds", "resize_token_types", "lora_dropout")
#: Hyperparameters left out of the card at these values (the option is off).
CARD_HYPERPARAMETERS_OFF = {
    "layer_lr_decay": 1.0, "label_smoothing_factor": 0.0, "weight_averaging": 0.0, "rdrop_alpha": 0.0,
}  # fmt: skip


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
        task_name: The downstream task (``isear``, ...) for a model fine-tuned by ``emo-pillars finetune``.
        task_description: What the task's data is (replaces the Emo Pillars data description).
        limitations: The card's limitations (default: those of Emo Pillars' synthetic narrative data).
        synthetic_sample: Trained and scored on a synthetic sample in a benchmark's layout, not on the benchmark:
            the card says so, and its results stay out of ``model-index``.
        widget_texts: Example inputs for the Hub widget (default: three everyday utterances).

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
        default_factory=lambda: [
            "emo-pillars", "text-classification", "generated_from_trainer", "emotion", "multi-label",
            "goemotions-taxonomy",
        ]
    )  # fmt: skip
    task_name: str | None = None
    task_description: str | None = None
    limitations: list[str] | None = None
    synthetic_sample: bool = False
    widget_texts: list[str] | None = None

    # Filled during training.
    labels: list[str] = field(default_factory=lambda: list(EMOTIONS), init=False)
    multi_label: bool = field(default=True, init=False)
    input_format: str = field(default="context_less", init=False)
    input_template: str | None = field(default=None, init=False)
    max_length: int | None = field(default=None, init=False)
    hyperparameters: dict[str, Any] = field(default_factory=dict, init=False)
    training_logs: list[dict[str, Any]] = field(default_factory=list, init=False)
    dataset_sizes: dict[str, int] = field(default_factory=dict, init=False)
    thresholds: dict[str, Any] = field(default_factory=dict, init=False)
    test_metrics: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    eval_split: str = field(default="validation", init=False)
    test_split: str = field(default="test", init=False)
    train_runtime: float | None = field(default=None, init=False)
    train_examples: dict[str, list[str]] = field(default_factory=dict, init=False)
    train_stats: dict[str, Any] = field(default_factory=dict, init=False)
    versions: dict[str, str] = field(default_factory=dict, init=False)
    taxonomy: dict[str, Any] | None = field(default=None, init=False)

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

    def set_taxonomy(self, taxonomy: Any) -> None:
        """Record the taxonomy of the model's labels: the card lists each label with its definition."""
        self.taxonomy = taxonomy.to_dict()
        name = f"{taxonomy.name}-taxonomy"
        if name not in self.tags and taxonomy.name != "goemotions":
            self.tags = [*self.tags, name]

    def set_thresholds(self, result: Any, split: str = "validation") -> None:
        """Record a :class:`~emo_pillars.modeling.thresholds.ThresholdResult` tuned on ``split``."""
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
        :meth:`~emo_pillars.training.trainer.EmoPillarsTrainer.evaluate_thresholds`.

        The card's macro figures average the labels present in the evaluation data (gold support > 0): a label
        the split never shows scores 0 whatever the model does, and averaging it in (0.0714 = 2/28 on a
        7-label split) says nothing about the model. The average over every label is kept as
        ``macro_f1_all_labels``, and the label set is stated beside the figure.
        """
        self.test_split = split
        self.test_metrics = {key: with_present_label_macro(values) for key, values in metrics.items()}

    def set_training_data(self, texts: Sequence[str], label_ids: Sequence[Sequence[int]], per_label: int = 3) -> None:
        """Record training-set statistics (lengths, per-label counts) and a few examples per label.

        Args:
            texts: The training utterances.
            label_ids: Each example's label indices into :attr:`labels`.
            per_label: Examples kept per label (the first ones, in data order).
        """
        import numpy as np

        words = np.asarray([len(str(t).split()) for t in texts] or [0])
        chars = np.asarray([len(str(t)) for t in texts] or [0])
        counts = dict.fromkeys(self.labels, 0)
        examples: dict[str, list[str]] = {name: [] for name in self.labels}
        for text, ids in zip(texts, label_ids):
            for i in ids:
                name = self.labels[int(i)]
                counts[name] += 1
                if len(examples[name]) < per_label:
                    examples[name].append(_shorten(str(text)))
        self.train_examples = examples
        self.train_stats = {
            "examples": len(texts),
            "words": {"min": int(words.min()), "mean": round(float(words.mean()), 1),
                      "median": float(np.median(words)), "max": int(words.max())},
            "characters": {"min": int(chars.min()), "mean": round(float(chars.mean()), 1),
                           "median": float(np.median(chars)), "max": int(chars.max())},
            "label_counts": counts,
            "labels_per_example": round(float(sum(counts.values())) / max(1, len(texts)), 2),
        }  # fmt: skip

    # ----- rendering ---------------------------------------------------------------------------------------------
    def _eval_results(self) -> list[EvalResult]:
        """The ``model-index`` results: none for a synthetic sample, or without a real dataset to name."""
        results: list[EvalResult] = []
        dataset_type = self.dataset_id or self.task_name
        dataset_name = self.dataset_name or self.dataset_id or self.task_name
        if self.synthetic_sample or not dataset_type or not dataset_name or looks_local(dataset_type):
            return results
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
        if self.synthetic_sample:
            data = f"a synthetic {data} sample"
        return f"{base} fine-tuned on {data} ({self.input_format.replace('_', '-')})"

    def to_dict(self) -> dict[str, Any]:
        """The card's YAML metadata (the filled fields go into the card body, not the metadata)."""
        data: dict[str, Any] = {
            "language": self.language,
            "license": self.license,
            "library_name": "transformers",
            "pipeline_tag": "text-classification",
            "tags": list(dict.fromkeys([*self.tags, *(["synthetic-sample"] if self.synthetic_sample else [])])),
            "base_model": self.base_model if self.base_model and not looks_local(self.base_model) else None,
            "datasets": self._datasets(),
            "metrics": ["f1"],
            "widget": [{"text": text} for text in (self.widget_texts or WIDGET_TEXTS)],
        }
        results = self._eval_results()
        if results:
            data["model-index"] = eval_results_to_model_index(self.get_model_name(), results)
        return {key: value for key, value in data.items() if value is not None}

    def _datasets(self) -> list[str] | None:
        """The ``datasets`` YAML list: the dataset's Hub id, else the task's name (none for a synthetic sample)."""
        if self.synthetic_sample:
            return None
        name = self.dataset_id if self.dataset_id and not looks_local(self.dataset_id) else self.task_name
        return [name] if name else None

    def template_values(self, output_dir: str | Path | None = None) -> dict[str, Any]:
        """The values the card template reads."""
        output_dir = Path(output_dir) if output_dir is not None else None
        model_ref = self.model_id or MODEL_REF_PLACEHOLDER
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
            "contextual_example": (self.input_template or PAPER_TEMPLATE).format(
                context=EXAMPLE_CONTEXT, utterance="Mara: I actually did it!"
            ),
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
            "taxonomy": self.taxonomy,
            "num_labels": len(self.labels),
            "multi_label": self.multi_label,
            "is_emotions": sorted(self.labels) == sorted(EMOTIONS),
            "per_label_key": best_key,
            "example_text": _EXAMPLE_TEXT,
            "install_lines": INSTALL_LINES,
            "train_stats": self.train_stats,
            "label_rows": [
                {
                    "label": name,
                    "count": self.train_stats.get("label_counts", {}).get(name, 0),
                    "examples": " / ".join(f"“{text}”" for text in self.train_examples.get(name, [])) or "-",
                }
                for name in self.labels
            ]
            if self.train_stats
            else [],
            "task_name": self.task_name,
            "task_description": self.task_description,
            "limitations": self.limitations if self.limitations is not None else list(EMO_PILLARS_LIMITATIONS),
            "synthetic_sample": self.synthetic_sample,
            "present_labels": (self.test_metrics.get(best_key) or {}).get("present_labels") if best_key else None,
        }


def with_present_label_macro(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` (:func:`emo_pillars.modeling.metrics.f1_scores`'s output) with ``macro_f1`` averaged over the labels with
    gold support, ``present_labels`` naming them, and the all-label average kept as ``macro_f1_all_labels``.

    Examples:
        >>> m = {"macro_f1": 0.25, "per_label": {"joy": {"f1": 0.5, "support": 3}, "fear": {"f1": 0.0, "support": 0}}}
        >>> out = with_present_label_macro(m)
        >>> out["macro_f1"], out["present_labels"], out["macro_f1_all_labels"]
        (0.5, ['joy'], 0.25)
    """
    per_label = metrics.get("per_label")
    if not per_label or "present_labels" in metrics:
        return dict(metrics)
    present = [name for name, m in per_label.items() if (m.get("support") or 0) > 0]
    out = dict(metrics)
    out["macro_f1_all_labels"] = metrics.get("macro_f1")
    out["present_labels"] = present
    if present:
        out["macro_f1"] = sum(per_label[name]["f1"] for name in present) / len(present)
    return out


def resolve_base_model(name: str | None) -> str | None:
    """The Hub id of a base model given as a Hub id (returned as is) or as a local folder.

    A folder is read for its own id: the id its card's usage code loads most often (``from_pretrained("owner/name")``,
    ``SentenceTransformer('owner/name')``, ``pipeline(..., model="owner/name")``); the packaged all-MiniLM-L6-v2
    folder, for one, names ``sentence-transformers/all-MiniLM-L6-v2``. A folder that names no id gives ``None`` (the
    card then shows the path in its text only).

    Examples:
        >>> resolve_base_model("sentence-transformers/all-MiniLM-L6-v2")
        'sentence-transformers/all-MiniLM-L6-v2'
    """
    import re

    if not name:
        return None
    folder = Path(os.path.expanduser(name))
    if not folder.is_dir():
        return None if looks_local(name) else name
    card = folder / "README.md"
    text = card.read_text(encoding="utf-8", errors="replace") if card.is_file() else ""
    found = re.findall(
        r"(?:from_pretrained|SentenceTransformer|pipeline)\(\s*(?:[^()]*?model\s*=\s*)?[\"']([\w.-]+/[\w.-]+)[\"']",
        text,
    )
    found = [repo for repo in found if not repo.startswith(("path/", "PATH"))]
    if found:
        from collections import Counter

        return Counter(found).most_common(1)[0][0]
    return None


def _shorten(text: str, limit: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _is_hub_id(name: str | None) -> bool:
    return bool(name) and not looks_local(name) and not Path(name).exists()


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
