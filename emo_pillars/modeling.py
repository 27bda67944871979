"""EmoPillarsClassifier: inference with a trained emo-pillars model (a local folder or a Hub repository)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import ConfigError, HubError, InputError
from .inputs import DEFAULT_MAX_LENGTH, format_inputs
from .taxonomy import (
    EKMAN_GROUPS,
    EKMAN_LABELS,
    EMOTIONS,
    NEUTRAL,
    NUM_EMOTIONS,
    SENTIMENT_GROUPS,
    SENTIMENT_LABELS,
    label2id,
)

logger = logging.getLogger(__name__)

__all__ = ["EmoPillarsClassifier", "rollup_proba", "Level"]

CONFIG_KEY = "emo_pillars"
Level = Literal["emotions", "ekman", "sentiment"]


def _group_index(level: str) -> tuple[tuple[str, ...], list[list[int]]]:
    if level == "ekman":
        groups, labels = EKMAN_GROUPS, EKMAN_LABELS
    elif level == "sentiment":
        groups, labels = SENTIMENT_GROUPS, SENTIMENT_LABELS
    else:
        raise ConfigError(f"level must be 'emotions', 'ekman' or 'sentiment', got {level!r}")
    members = [[label2id[e] for e in groups[g]] if g != NEUTRAL else [label2id[NEUTRAL]] for g in labels]
    return labels, members


def rollup_proba(probs: Any, level: Level = "ekman") -> tuple[tuple[str, ...], np.ndarray]:
    """Roll 28-class scores up to Ekman-6 + neutral or to sentiment (positive/negative/ambiguous + neutral).

    A group's score is the highest score among its classes.

    Args:
        probs: Array ``(n, 28)`` of scores in :data:`~emo_pillars.taxonomy.EMOTIONS` order.
        level: ``"ekman"`` or ``"sentiment"`` (``"emotions"`` returns the scores unchanged).

    Returns:
        ``(group_names, scores)`` with ``scores`` of shape ``(n, len(group_names))``.

    Examples:
        >>> import numpy as np
        >>> p = np.zeros((1, 28)); p[0, 17] = 0.9  # joy
        >>> names, scores = rollup_proba(p, "sentiment")
        >>> names[int(scores[0].argmax())]
        'positive'
    """
    p = np.asarray(probs, dtype=np.float64)
    if level == "emotions":
        return EMOTIONS, p
    labels, members = _group_index(level)
    return labels, np.stack([p[:, idx].max(axis=1) for idx in members], axis=1)


class EmoPillarsClassifier:
    """A trained emo-pillars model ready for inference: scores, thresholded emotions, roll-ups, save and push.

    The model underneath is a plain ``AutoModelForSequenceClassification`` with 28 sigmoid outputs; thresholds and
    the input format are read from its config (``config.emo_pillars``), as written by
    :class:`~emo_pillars.training.EmoPillarsTrainer`. LoRA adapter folders load too (merged on load).

    Args:
        model: The ``transformers`` model.
        tokenizer: Its tokenizer.
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).
        card_data: Model card data to write on :meth:`save_pretrained` (optional).

    Examples:
        >>> from emo_pillars import EmoPillarsClassifier  # doctest: +SKIP
        >>> clf = EmoPillarsClassifier.from_pretrained("path/or/repo-id")  # doctest: +SKIP
        >>> clf.predict(["I can't believe you remembered my birthday!"])  # doctest: +SKIP
        [{'surprise': 0.71, 'joy': 0.55}]
        >>> clf.predict(["Of course it rained."], contexts=["Ann planned the picnic for weeks."],
        ...             characters=["Ann"])  # doctest: +SKIP
        [{'disappointment': 0.62, 'annoyance': 0.41}]
        >>> clf.predict_proba(["Thanks a lot!"]).shape  # doctest: +SKIP
        (1, 28)
    """

    def __init__(self, model: Any, tokenizer: Any, device: str | None = None, card_data: Any = None):
        import torch

        self.model = model
        self.tokenizer = tokenizer
        self.card_data = card_data
        #: The folder the model was loaded from, if local; its card and plots go along on push_to_hub.
        self.source_dir: Path | None = None
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model.to(self.device)
        self.model.eval()
        if getattr(self.model.config, "num_labels", None) != NUM_EMOTIONS:
            raise ConfigError(f"the model has {self.model.config.num_labels} outputs; expected {NUM_EMOTIONS}")

    # ----- loading -------------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | os.PathLike,
        revision: str | None = None,
        token: str | None = None,
        device: str | None = None,
        **model_kwargs: Any,
    ) -> EmoPillarsClassifier:
        """Load a model saved by the trainer or by :meth:`save_pretrained`: a folder or a Hub repository id.

        Args:
            path_or_repo_id: Local folder or Hub id.
            revision: Hub revision (branch, tag or commit).
            token: Hub token.
            device: Where to run the model.
            **model_kwargs: Passed to ``AutoModelForSequenceClassification.from_pretrained``.
        """
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        source = os.fspath(path_or_repo_id)
        hub = {"revision": revision, "token": token}
        adapter_config = _read_json(source, "adapter_config.json", **hub)
        if adapter_config is not None:
            from peft import PeftModel

            config = AutoConfig.from_pretrained(source, **hub)
            base = AutoModelForSequenceClassification.from_pretrained(
                adapter_config["base_model_name_or_path"], config=config, **model_kwargs
            )
            model = PeftModel.from_pretrained(base, source, **hub).merge_and_unload()
            model.config = config
        else:
            model = AutoModelForSequenceClassification.from_pretrained(source, **hub, **model_kwargs)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **hub)
        except (OSError, ValueError):
            if adapter_config is None:
                raise
            tokenizer = AutoTokenizer.from_pretrained(adapter_config["base_model_name_or_path"])
        classifier = cls(model, tokenizer, device=device)
        if Path(source).is_dir():
            classifier.source_dir = Path(source)
        return classifier

    # ----- settings stored in the config ----------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """The emo-pillars block of the model config (input format, max length, thresholds)."""
        return dict(getattr(self.model.config, CONFIG_KEY, None) or {})

    @property
    def input_format(self) -> str:
        return self.settings.get("input_format", "context_less")

    @property
    def max_length(self) -> int:
        return int(self.settings.get("max_length") or DEFAULT_MAX_LENGTH.get(self.input_format, 512))

    @property
    def global_threshold(self) -> float:
        """The global threshold tuned on validation (0.5 when none was tuned)."""
        return float(self.settings.get("threshold", 0.5))

    @property
    def thresholds(self) -> np.ndarray:
        """The per-label thresholds tuned on validation (else the global one for every label)."""
        per_label = self.settings.get("thresholds")
        if not per_label:
            return np.full(NUM_EMOTIONS, self.global_threshold)
        return np.asarray([float(per_label[e]) for e in EMOTIONS])

    def set_thresholds(self, threshold: float | None = None, thresholds: Sequence[float] | None = None) -> None:
        """Store a global and/or per-label thresholds in the config (saved with the model)."""
        settings = self.settings
        if threshold is not None:
            settings["threshold"] = float(threshold)
        if thresholds is not None:
            if len(thresholds) != NUM_EMOTIONS:
                raise InputError(f"need {NUM_EMOTIONS} thresholds, got {len(thresholds)}")
            settings["thresholds"] = {e: float(t) for e, t in zip(EMOTIONS, thresholds)}
        setattr(self.model.config, CONFIG_KEY, settings)

    def _resolve_thresholds(self, threshold: float | str | Sequence[float] | None) -> np.ndarray:
        if threshold is None or threshold == "per_label":
            return self.thresholds
        if threshold == "global":
            return np.full(NUM_EMOTIONS, self.global_threshold)
        if isinstance(threshold, str):
            raise ConfigError(f"threshold must be a number, a list, 'global' or 'per_label', got {threshold!r}")
        values = np.asarray(threshold, dtype=np.float64)
        if values.ndim == 0:
            return np.full(NUM_EMOTIONS, float(values))
        if values.shape != (NUM_EMOTIONS,):
            raise InputError(f"need one threshold or {NUM_EMOTIONS}, got {values.shape[0]}")
        return values

    # ----- inference ------------------------------------------------------------------------------------------
    def predict_proba(
        self,
        utterances: str | Sequence[str],
        contexts: str | Sequence[str] | None = None,
        characters: str | Sequence[str] | None = None,
        batch_size: int = 32,
        level: Level = "emotions",
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """Sigmoid scores, shape ``(n, 28)`` in :data:`~emo_pillars.taxonomy.EMOTIONS` order (or rolled up).

        Args:
            utterances: One utterance or a list.
            contexts: Situation texts for a contextual model (one per utterance, or one for all).
            characters: The speaking characters (contextual input).
            batch_size: Inputs per forward pass.
            level: ``"emotions"`` (28), ``"ekman"`` (Ekman-6 + neutral) or ``"sentiment"``.
            show_progress_bar: Show a tqdm bar over batches.
        """
        import torch
        from tqdm.auto import tqdm

        if contexts is None and self.input_format == "contextual":
            logger.warning("this model was trained on contextual input; predicting without contexts")
        text, text_pair = format_inputs(utterances, contexts, characters)
        chunks = []
        starts = range(0, len(text), batch_size)
        for start in tqdm(starts, disable=not show_progress_bar, desc="Predicting", unit="batch"):
            pair = None if text_pair is None else text_pair[start : start + batch_size]
            encoding = self.tokenizer(
                text[start : start + batch_size],
                pair,
                truncation="only_first" if pair is not None else True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                logits = self.model(**encoding).logits
            chunks.append(torch.sigmoid(logits.float()).cpu().numpy())
        probs = np.concatenate(chunks) if chunks else np.zeros((0, NUM_EMOTIONS))
        return rollup_proba(probs, level)[1] if level != "emotions" else probs

    def predict(
        self,
        utterances: str | Sequence[str],
        contexts: str | Sequence[str] | None = None,
        characters: str | Sequence[str] | None = None,
        threshold: float | str | Sequence[float] | None = None,
        top_k: int | None = None,
        batch_size: int = 32,
        level: Level = "emotions",
        show_progress_bar: bool = False,
    ) -> list[dict[str, float]]:
        """The emotions at or above threshold, per input, as ``{emotion: score}`` from the highest score down.

        Args:
            utterances: One utterance or a list.
            contexts: Situation texts for a contextual model.
            characters: The speaking characters (contextual input).
            threshold: ``None`` or ``"per_label"`` (the stored per-label thresholds, the default), ``"global"``
                (the stored global one), a number, or 28 numbers.
            top_k: Keep at most this many emotions per input (``threshold=0`` with ``top_k`` gives the top k).
            batch_size: Inputs per forward pass.
            level: ``"emotions"``, or ``"ekman"`` / ``"sentiment"``: a group is predicted when one of its classes
                is, with that class's best score.
            show_progress_bar: Show a tqdm bar over batches.
        """
        probs = self.predict_proba(
            utterances, contexts, characters, batch_size=batch_size, show_progress_bar=show_progress_bar
        )
        keep = probs >= self._resolve_thresholds(threshold)
        if level == "emotions":
            names, scores = EMOTIONS, probs
        else:
            names, members = _group_index(level)
            scores = np.stack([np.where(keep[:, idx], probs[:, idx], -1.0).max(axis=1) for idx in members], axis=1)
            keep = scores >= 0
        results = []
        for row_keep, row_scores in zip(keep, scores):
            found = sorted(((names[j], float(row_scores[j])) for j in np.flatnonzero(row_keep)), key=lambda x: -x[1])
            results.append(dict(found[:top_k] if top_k is not None else found))
        return results

    # ----- saving and the Hub -------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Save weights (safetensors), tokenizer, config with thresholds, and the model card with its plots."""
        path = Path(save_directory)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        if self.card_data is not None:
            from .training.model_card import write_model_card

            write_model_card(self.card_data, path)
        return path

    def push_to_hub(
        self,
        repo_id: str,
        private: bool | None = None,
        token: str | None = None,
        commit_message: str = "Upload emo-pillars model",
        revision: str | None = None,
        local_dir: str | os.PathLike | None = None,
    ) -> str:
        """Upload the model to the Hub; returns the commit URL.

        Files already in ``local_dir`` (default: the folder the model was loaded from, if local), such as the card
        and plots the trainer wrote, are uploaded with the freshly saved weights, tokenizer and config.
        """
        local_dir = local_dir if local_dir is not None else self.source_dir
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            if local_dir is not None:
                import shutil

                ignore = shutil.ignore_patterns("checkpoint-*", "runs", ".*", "adapter_*", "training_args.bin")
                shutil.copytree(local_dir, folder, ignore=ignore)
            self.save_pretrained(folder)
            return upload_model_folder(folder, repo_id, private=private, token=token, commit_message=commit_message,
                                       revision=revision)  # fmt: skip


def upload_model_folder(
    folder: str | os.PathLike,
    repo_id: str,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload emo-pillars model",
    revision: str | None = None,
) -> str:
    """Create (if needed) a model repository and upload a saved model folder; the one model upload helper."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=os.fspath(folder),
            repo_id=repo_id,
            repo_type="model",
            commit_message=commit_message,
            revision=revision,
            ignore_patterns=["checkpoint-*/**", "runs/**", "training_args.bin"],
        )
    except Exception as error:
        raise HubError(f"could not push {folder} to {repo_id}: {error}") from error
    return str(getattr(info, "commit_url", info))


def _read_json(source: str, filename: str, revision: str | None = None, token: str | None = None) -> dict | None:
    """A JSON file of a folder or Hub repository, or ``None`` when it has none."""
    local = Path(source) / filename
    if Path(source).is_dir():
        return json.loads(local.read_text("utf-8")) if local.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RemoteEntryNotFoundError

    try:
        path = hf_hub_download(source, filename, revision=revision, token=token)
    except (EntryNotFoundError, RemoteEntryNotFoundError):
        return None
    except Exception as error:  # offline cache misses, missing repos: let from_pretrained report them
        logger.debug("no %s for %s: %s", filename, source, error)
        return None
    return json.loads(Path(path).read_text("utf-8"))
