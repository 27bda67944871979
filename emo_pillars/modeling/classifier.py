"""EmoPillarsClassifier: inference with a trained model (a local folder or a Hub repository), any label space."""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, HubError, InputError
from ..taxonomy import EMOTIONS, GOEMOTIONS, Taxonomy
from ..utils.quiet import quiet
from .card import MODEL_REF_PLACEHOLDER, write_model_card
from .inputs import (
    CONTEXTUAL_FORMATS,
    PAPER_TEMPLATE,
    check_long_inputs,
    check_template,
    check_texts,
    encode_inputs,
    encode_windows,
    format_inputs,
    pool_windows,
    resolve_max_length,
)
from .label_space import LabelSpace
from .loading import check_hub_model, check_model_folder, load_config, load_model, load_tokenizer, read_json_file
from .onnx import ONNX_FILE, ONNX_INT8_FILE, RECHECK_MARGIN, OnnxModel, scores_from_logits
from .published import apply_published, published_source
from .thresholds import check_threshold

logger = logging.getLogger(__name__)

__all__ = ["EmoPillarsClassifier", "rollup_proba", "check_threshold", "Level", "Backend"]

CONFIG_KEY = "emo_pillars"
#: ``predict_proba`` tokenizes this many batches at a time and runs them longest first, so each batch holds inputs
#: of similar length (little padding: 512 GoEmotions test comments in batches of 32 pad to 10,656 tokens sorted, 18,400 in input order) while memory
#: stays bounded for long input lists.
SORT_BLOCK_BATCHES = 64
#: ``"emotions"`` (the model's labels) or a grouping of its taxonomy (``"ekman"``, ``"sentiment"`` for the 28).
Level = str
Backend = Literal["torch", "onnx"]
LongInputs = Literal["truncate", "window"]


def _group_index(level: str, taxonomy: Taxonomy = GOEMOTIONS) -> tuple[tuple[str, ...], list[list[int]]]:
    """The groups of ``level`` (then every label no group holds, such as neutral) and each one's label indices."""
    if level not in taxonomy.groupings:
        levels = ", ".join(["emotions", *taxonomy.groupings])
        raise ConfigError(f"level must be one of {levels}, got {level!r}")
    of, groups = taxonomy.roll_up(level), taxonomy.groupings[level]
    names = (*groups, *(name for name in taxonomy.labels if of[name] == name and name not in groups))
    index = taxonomy.label2id
    return names, [[index[label] for label in taxonomy.labels if of[label] == group] for group in names]


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
    labels, members = _group_index(level, GOEMOTIONS)
    return labels, np.stack([p[:, idx].max(axis=1) for idx in members], axis=1)


def _stored_taxonomy(stored: Any, labels: Sequence[str]) -> Taxonomy | None:
    """The taxonomy a model's config stores, when it describes the model's labels; the 28 classes' for them."""
    if isinstance(stored, dict):
        try:
            taxonomy = Taxonomy.from_dict(stored)
        except InputError as err:
            logger.warning("the model's stored taxonomy is not valid and is ignored: %s", err)
        else:
            if taxonomy.labels == tuple(labels):
                return taxonomy
            logger.warning("the model's stored taxonomy names other labels than its outputs; it is ignored")
    return GOEMOTIONS if tuple(labels) == EMOTIONS else None


class EmoPillarsClassifier:
    """A trained model ready for inference: scores, decided labels, roll-ups, save and push.

    The model underneath is a plain ``AutoModelForSequenceClassification``; its label space comes from its config
    (``id2label``, ``problem_type``, see :class:`~emo_pillars.modeling.label_space.LabelSpace`):

    * a model over the **28 GoEmotions classes** is matched by name, whatever the order or case of its labels, and
      its scores come back in :data:`~emo_pillars.taxonomy.EMOTIONS` order (roll-ups to Ekman and sentiment work);
    * any **other label set** (a task head such as ISEAR's 7) is used as stored, in the config's order.

    Multi-label models give sigmoid scores and are cut at thresholds (the per-label ones tuned on validation and
    stored in ``config.emo_pillars``, by default); single-label models give softmax scores and predict the
    highest-scoring label. The input format and ``max_length`` are read from the config as well. LoRA adapter
    folders load too (merged on load). Nothing runs custom code unless the caller opts in with ``trust_remote_code``. An ONNX export
    (``emo-pillars export``) runs with onnxruntime through ``backend="onnx"``, with the same methods.

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
        >>> clf(["Thanks a lot!"])  # the same as predict  # doctest: +SKIP
        [{'gratitude': 0.93}]
        >>> fast = EmoPillarsClassifier.from_pretrained("my-model-onnx", backend="onnx", precision="int8")  # doctest: +SKIP
        >>> isear = EmoPillarsClassifier.from_pretrained("path/to/isear-task-head")  # doctest: +SKIP
        >>> isear.labels, isear.predict(["I was left alone at night."])  # doctest: +SKIP
        (('joy', 'fear', 'anger', 'sadness', 'disgust', 'shame', 'guilt'), [{'fear': 0.64}])
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        device: str | None = None,
        card_data: Any = None,
        long_inputs: LongInputs = "truncate",
    ):
        self.label_space = LabelSpace.from_config(model.config)
        #: ``"truncate"`` or ``"window"``: what :meth:`predict_proba` does with a text longer than :attr:`max_length`.
        self.long_inputs: str = check_long_inputs(long_inputs)
        #: With ``long_inputs="window"``: inputs scored and windows scored, over this classifier's life.
        self.window_counts: dict[str, int] = {"inputs": 0, "windows": 0}
        self.model = model
        self.tokenizer = tokenizer
        self.card_data = card_data
        #: The folder the model was loaded from, if local; its card and plots go along on push_to_hub.
        self.source_dir: Path | None = None
        #: ``"torch"``, or ``"onnx"`` for an :class:`~emo_pillars.modeling.onnx.OnnxModel` (an export run by onnxruntime).
        self.backend: Backend = "onnx" if hasattr(model, "session") and hasattr(model, "logits") else "torch"
        if self.backend == "onnx":
            self.device = "cpu"
        else:
            import torch

            if device is None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self.device = torch.device(device)
            self.model.to(self.device)
            self.model.eval()
        space = self.label_space
        #: Model output index for each of :attr:`labels` (the GoEmotions order for 28-class models).
        self._order = space.emotion_order() if space.is_emotions else list(range(space.num_labels))
        self.labels: tuple[str, ...] = tuple(EMOTIONS) if space.is_emotions else space.names
        #: The model's taxonomy: stored by training (labels, definitions, groupings), the 28 classes' for 28-class
        #: models, ``None`` for other models without one. Its groupings are the roll-up levels.
        self.taxonomy: Taxonomy | None = _stored_taxonomy(self.settings.get("taxonomy"), self.labels)
        self.max_length = resolve_max_length(
            self.input_format, self.settings.get("max_length"), self.tokenizer, self.model.config
        )
        self.thresholds  # noqa: B018  (stored thresholds are checked at load, not at the first predict)
        if self.input_format == "contextual_text":
            check_template(self.input_template)
        #: ONNX INT8 only: the fp32 model that rescores inputs near a threshold, the margin, and how many it took.
        self.recheck_model: Any = None
        self.recheck_margin: float = 0.0
        self.recheck_counts: dict[str, int] = {"inputs": 0, "rechecked": 0}

    # ----- loading -------------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | os.PathLike,
        revision: str | None = None,
        token: str | None = None,
        device: str | None = None,
        trust_remote_code: bool = False,
        backend: Backend = "torch",
        file_name: str | None = None,
        precision: Literal["fp32", "int8"] | None = None,
        labels: Sequence[str] | None = None,
        long_inputs: LongInputs = "truncate",
        **model_kwargs: Any,
    ) -> EmoPillarsClassifier:
        """Load a model saved by the trainer or by :meth:`save_pretrained`, any sequence-classification
        checkpoint whose config names its labels, or a known published checkpoint: a folder or a Hub repository id.

        A Hub id in the registry of published checkpoints (:mod:`emo_pillars.modeling.published`: the paper's
        released models, widely used GoEmotions models) is loaded as its author meant it: its labels in output
        order, its card's threshold, its input format and max length.

        Args:
            path_or_repo_id: Local folder or Hub id.
            revision: Hub revision (branch, tag or commit).
            token: Hub token.
            device: Where to run the model.
            trust_remote_code: Allow custom code in the folder or repository (off: such models are refused).
            backend: ``"torch"`` (default) or ``"onnx"``: run an export written by ``emo-pillars export``
                (:func:`emo_pillars.exporters.onnx.export_onnx`) with onnxruntime on CPU, with the same labels, thresholds
                and input path.
            file_name: The ONNX file of the export (``backend="onnx"``; default ``model.onnx``).
            precision: ``"fp32"`` (``model.onnx``) or ``"int8"`` (``model_quantized.onnx``); another way to pick
                ``file_name``.
            **model_kwargs: Passed to ``AutoModelForSequenceClassification.from_pretrained`` (torch); for onnx,
                ``threads`` (onnxruntime's intra-op threads) and ``recheck_margin``: with ``precision="int8"``,
                inputs with a logit within this margin of a threshold's logit (single-label: a top-two logit gap
                under twice the margin) are scored again by the fp32 ``model.onnx``, so that INT8 keeps the fp32 labels
                (default :data:`~emo_pillars.modeling.onnx.RECHECK_MARGIN` when the export has ``model.onnx``; 0 turns
                it off).
            labels: Class names in output order, for a checkpoint whose config names none (``LABEL_0`` ...).
            long_inputs: ``"truncate"`` (default: one pass per input, as models are trained and evaluated) or
                ``"window"``: texts longer than the max length are scored in overlapping windows, pooled.

        Raises:
            InputError: A missing or corrupt config, tokenizer or weights file; pickle-only weights; a local-looking
                path that does not exist.
            ConfigError: Custom code without ``trust_remote_code``; labels that cannot be matched.
            HubError: A Hub id while the Hub is offline or unreachable and the model is not cached.
        """
        source = os.path.expanduser(os.fspath(path_or_repo_id))
        hub = {"revision": revision, "token": token}
        trust = {"trust_remote_code": trust_remote_code}
        if backend not in ("torch", "onnx"):
            raise ConfigError(f"backend must be 'torch' or 'onnx', got {backend!r}")
        if backend == "torch" and (file_name is not None or precision is not None):
            raise ConfigError("file_name and precision choose an ONNX file; pass backend='onnx'")
        check_long_inputs(long_inputs)
        entry = published_source(source)
        if entry is not None and entry.unsupported:
            raise ConfigError(f"{source}: {entry.unsupported}")
        # A local-looking path that does not exist, or an unreachable Hub: one line, before anything downloads.
        check_model_folder(source, trust_remote_code, weights=False, tokenizer=False, **hub)
        if backend == "onnx":
            if labels is not None:
                raise ConfigError("labels name a torch checkpoint's outputs; an ONNX export carries its own")
            classifier = cls._from_onnx(source, file_name, precision, device, trust_remote_code, hub, model_kwargs)
            classifier.long_inputs = long_inputs
            return classifier
        adapter_config = _read_json(source, "adapter_config.json", **hub)
        check_model_folder(source, trust_remote_code, weights=True, tokenizer=adapter_config is None)
        config = load_config(source, **hub, **trust)
        if entry is not None:
            apply_published(config, entry)
        if labels is not None:
            config.update(LabelSpace.from_config(config, source, labels=labels).config_values())
        LabelSpace.from_config(config, source)  # refuse unusable labels before the weights load
        if adapter_config is not None:
            from peft import PeftModel

            base_id = adapter_config["base_model_name_or_path"]
            base = load_model(base_id, config=config, **trust, **model_kwargs)
            model = PeftModel.from_pretrained(base, source, **hub).merge_and_unload()
            model.config = config
            has_tokenizer = _read_json(source, "tokenizer_config.json", **hub) is not None
            tokenizer = load_tokenizer(source if has_tokenizer else base_id, **hub, **trust)
        else:
            model = load_model(source, config=config, **hub, **trust, **model_kwargs)
            tokenizer = load_tokenizer(source, **hub, **trust)
        classifier = cls(model, tokenizer, device=device, long_inputs=long_inputs)
        if Path(source).is_dir():
            classifier.source_dir = Path(source)
        logger.debug(
            "loaded %s: %d labels (%s), %s input, max length %d%s", source, classifier.label_space.num_labels,
            classifier.label_space.problem_type, classifier.input_format, classifier.max_length,
            f", registry entry {entry.repo_id}" if entry is not None else "",
        )  # fmt: skip
        return classifier

    @classmethod
    def _from_onnx(
        cls,
        source: str,
        file_name: str | None,
        precision: str | None,
        device: str | None,
        trust_remote_code: bool,
        hub: dict[str, Any],
        options: dict[str, Any],
    ) -> EmoPillarsClassifier:

        files = {"fp32": ONNX_FILE, "int8": ONNX_INT8_FILE}
        if precision is not None and precision not in files:
            raise ConfigError(f"precision must be 'fp32' or 'int8', got {precision!r}")
        if precision is not None and file_name is not None and file_name != files[precision]:
            raise ConfigError(f"precision={precision!r} is {files[precision]}, but file_name is {file_name!r}")
        if device not in (None, "cpu"):
            raise ConfigError(f"the onnx backend runs on CPU (onnxruntime); got device={device!r}")
        unknown = sorted(set(options) - {"threads", "recheck_margin"})
        if unknown:
            raise ConfigError(f"the onnx backend takes no model options {unknown} (only threads, recheck_margin)")
        name = file_name or files[precision or "fp32"]
        margin = options.get("recheck_margin")
        if margin is not None and (
            isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0.0 <= float(margin) < math.inf
        ):
            raise ConfigError(f"recheck_margin must be a finite number of logits, at least 0, got {margin!r}")
        if margin and name != ONNX_INT8_FILE:
            raise ConfigError("recheck_margin applies to the INT8 file (precision='int8')")
        folder = source
        if not Path(source).is_dir():  # a Hub id: the export's small files and the one ONNX file
            from huggingface_hub import snapshot_download

            try:
                folder = snapshot_download(
                    source,
                    allow_patterns=["*.json", "*.txt", "*.model", name]
                    + ([ONNX_FILE] if name == ONNX_INT8_FILE and margin != 0 else []),
                    **hub,
                    **check_hub_model(source, **hub),
                )
            except Exception as error:
                raise HubError(f"could not download {source}: {str(error).strip().splitlines()[0]}") from None
        check_model_folder(folder, trust_remote_code, weights=False, tokenizer=True)
        LabelSpace.from_config(load_config(folder, trust_remote_code=trust_remote_code), source)
        model = OnnxModel(folder, name, threads=options.get("threads"))
        tokenizer = load_tokenizer(folder, trust_remote_code=trust_remote_code)
        classifier = cls(model, tokenizer, device="cpu")
        classifier.source_dir = Path(folder)
        if name == ONNX_INT8_FILE and margin != 0 and (Path(folder) / ONNX_FILE).is_file():
            classifier.recheck_model = OnnxModel(folder, ONNX_FILE, threads=options.get("threads"))
            classifier.recheck_margin = RECHECK_MARGIN if margin is None else float(margin)
        return classifier

    # ----- settings stored in the config ----------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        """The emo-pillars block of the model config (input format, max length, thresholds)."""
        return dict(getattr(self.model.config, CONFIG_KEY, None) or {})

    @property
    def input_format(self) -> str:
        """``context_less``, ``contextual`` (a pair) or ``contextual_text`` (one text from :attr:`input_template`)."""
        return self.settings.get("input_format", "context_less")

    @property
    def input_template(self) -> str | None:
        """The template of a ``contextual_text`` input (``None`` for the other formats)."""
        if self.input_format != "contextual_text":
            return None
        return self.settings.get("input_template", PAPER_TEMPLATE)

    @property
    def multi_label(self) -> bool:
        return self.label_space.multi_label

    @property
    def global_threshold(self) -> float:
        """The global threshold tuned on validation (0.5 when none was tuned)."""
        return check_threshold(self.settings.get("threshold", 0.5), "config.json emo_pillars.threshold")

    @property
    def thresholds(self) -> np.ndarray:
        """The per-label thresholds tuned on validation, in :attr:`labels` order (else the global one for all)."""
        per_label = self.settings.get("thresholds")
        if not per_label:
            return np.full(len(self.labels), self.global_threshold)
        if not isinstance(per_label, dict):
            raise ConfigError("config.json emo_pillars.thresholds must map label names to thresholds")
        by_name = {str(k).strip().lower(): v for k, v in per_label.items()}
        missing = [name for name in self.labels if name.strip().lower() not in by_name]
        if missing:
            raise ConfigError(f"config.json emo_pillars.thresholds has no threshold for: {', '.join(missing)}")
        return np.asarray(
            [check_threshold(by_name[n.strip().lower()], f"thresholds[{n!r}]") for n in self.labels], dtype=float
        )

    def set_thresholds(self, threshold: float | None = None, thresholds: Sequence[float] | None = None) -> None:
        """Store a global and/or per-label thresholds (in :attr:`labels` order) in the config."""
        settings = self.settings
        if threshold is not None:
            settings["threshold"] = check_threshold(threshold)
        if thresholds is not None:
            if len(thresholds) != len(self.labels):
                raise InputError(f"need {len(self.labels)} thresholds, got {len(thresholds)}")
            settings["thresholds"] = {e: check_threshold(t) for e, t in zip(self.labels, thresholds)}
        setattr(self.model.config, CONFIG_KEY, settings)

    def _resolve_thresholds(self, threshold: float | str | Sequence[float] | None) -> np.ndarray:
        k = len(self.labels)
        if threshold is None or threshold == "per_label":
            return self.thresholds
        if threshold == "global":
            return np.full(k, self.global_threshold)
        if isinstance(threshold, str):
            raise ConfigError(f"threshold must be a number, a list, 'global' or 'per_label', got {threshold!r}")
        values = np.asarray(threshold, dtype=np.float64)
        if values.ndim == 0:
            return np.full(k, check_threshold(float(values)))
        if values.shape != (k,):
            raise InputError(f"need one threshold or {k}, got {values.shape[0]}")
        return np.asarray([check_threshold(v) for v in values])

    # ----- inference ------------------------------------------------------------------------------------------
    def predict_proba(
        self,
        utterances: str | Sequence[str],
        contexts: str | Sequence[str] | None = None,
        characters: str | Sequence[str] | None = None,
        batch_size: int = 32,
        level: Level = "emotions",
        show_progress_bar: bool = False,
        long_inputs: LongInputs | None = None,
    ) -> np.ndarray:
        """Scores, shape ``(n, len(labels))`` in :attr:`labels` order: sigmoid for multi-label models, softmax
        for single-label ones (or rolled up to ``"ekman"`` / ``"sentiment"`` for 28-class models).

        The inputs are built in the format the model declares (:attr:`input_format`): the utterance, the
        ``(context, "character: utterance")`` pair, or the one text of :attr:`input_template`.

        Args:
            utterances: One utterance or a list (none empty).
            contexts: Situation texts for a contextual model (one per utterance, or one for all).
            characters: The speaking characters (contextual input; needs ``contexts``).
            batch_size: Inputs per forward pass.
            level: ``"emotions"`` (the model's labels), ``"ekman"`` (Ekman-6 + neutral) or ``"sentiment"``.
            show_progress_bar: Show a tqdm bar over batches.
            long_inputs: ``"truncate"`` or ``"window"`` (default: :attr:`long_inputs`); with ``"window"`` a text
                longer than :attr:`max_length` is scored in overlapping windows, and the window scores are pooled:
                the maximum for multi-label models, the mean probability for single-label ones.
        """
        from tqdm.auto import tqdm

        utterances = check_texts(utterances)
        if characters is not None and contexts is None:
            raise InputError("characters need contexts (contextual input)", field="characters")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._check_level(level)
        windows = check_long_inputs(long_inputs or self.long_inputs) == "window"
        if contexts is None and self.input_format in CONTEXTUAL_FORMATS:
            logger.warning("this model was trained on contextual input; predicting without contexts")
        if contexts is not None and self.input_format == "context_less":
            logger.warning(
                "this model was trained without context: the context is ignored and each utterance scored alone"
            )
            contexts = characters = None
        template = self.input_template if contexts is not None else None
        text, text_pair = format_inputs(utterances, contexts, characters, template)
        probs: np.ndarray | None = None
        block = batch_size * SORT_BLOCK_BATCHES
        with tqdm(
            total=-(-len(text) // batch_size), disable=not show_progress_bar, desc="Predicting", unit="batch"
        ) as bar:
            for first in range(0, len(text), block):
                chunk = text[first : first + block]
                pair = None if text_pair is None else text_pair[first : first + block]
                if windows:
                    encoding, owners = encode_windows(self.tokenizer, chunk, pair, self.max_length)
                    scores = self._score_encoding(encoding, batch_size)
                    self.window_counts["inputs"] += len(chunk)
                    self.window_counts["windows"] += len(owners)
                    scores = pool_windows(scores, owners, len(chunk), self.multi_label)
                else:
                    keep_end = template is not None
                    encoding = encode_inputs(self.tokenizer, chunk, pair, self.max_length, keep_end=keep_end)
                    scores = self._score_encoding(encoding, batch_size)
                if probs is None:  # the backend's dtype (float32 from torch, float64 from onnxruntime's scores)
                    probs = np.empty((len(text), scores.shape[1]), dtype=scores.dtype)
                probs[first : first + len(chunk)] = scores[:, self._order]
                bar.update(-(-len(chunk) // batch_size))
        return self.roll_up(probs, level)[1]

    def roll_up(self, probs: Any, level: Level) -> tuple[tuple[str, ...], np.ndarray]:
        """Scores in :attr:`labels` order rolled up to a grouping of the model's taxonomy (see :attr:`levels`).

        A group's score is the highest score among its labels; a label no group holds (such as neutral) stays
        itself. ``"emotions"`` returns the labels and the scores unchanged.

        Returns:
            ``(names, scores)`` with ``scores`` of shape ``(n, len(names))``.
        """
        self._check_level(level)
        probs = np.asarray(probs)
        if level == "emotions":
            return self.labels, probs
        names, members = _group_index(level, self.taxonomy)
        return names, np.stack([probs[:, idx].max(axis=1) for idx in members], axis=1)

    def _score_encoding(self, encoding: Any, batch_size: int) -> np.ndarray:
        """Scores of every encoded row, in the model's output order and the rows' order.

        Rows run longest first, so batches hold inputs of similar length and pad little (and the largest batch, the
        one that could run out of memory, comes first). With an INT8 export, rows near a decision are scored again
        by the fp32 model, in full batches."""
        by_length = np.argsort([-len(ids) for ids in encoding["input_ids"]], kind="stable")
        scores: np.ndarray | None = None
        recheck: list[int] = []
        for start in range(0, len(by_length), batch_size):
            rows = by_length[start : start + batch_size]
            batch_scores = self._scores({name: [values[i] for i in rows] for name, values in encoding.items()})
            if self.recheck_model is not None:
                near = self._near_decision(batch_scores)
                self.recheck_counts["inputs"] += len(rows)
                self.recheck_counts["rechecked"] += int(near.sum())
                recheck.extend(rows[near])
            if scores is None:
                scores = np.empty((len(by_length), batch_scores.shape[1]), dtype=batch_scores.dtype)
            scores[rows] = batch_scores
        for start in range(0, len(recheck), batch_size):
            rows = np.asarray(recheck[start : start + batch_size])
            batch = {name: [values[i] for i in rows] for name, values in encoding.items()}
            scores[rows] = self._scores(batch, model=self.recheck_model)
        return scores

    def _scores(self, encoding: Any, model: Any = None) -> np.ndarray:
        """Sigmoid or softmax scores, in the model's output order, for one tokenised batch (either backend; for
        ONNX, ``model`` picks the session: the INT8 recheck passes the fp32 one)."""
        if self.backend == "onnx":
            batch = self.tokenizer.pad(encoding, return_tensors="np")
            return scores_from_logits((model or self.model).logits(batch), self.multi_label)
        import torch

        batch = self.tokenizer.pad(encoding, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            logits = self.model(**batch).logits.float()
        scores = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
        return scores.cpu().numpy()

    def _near_decision(self, scores: np.ndarray) -> np.ndarray:
        """Rows (model output order) whose default decision an INT8 error of :attr:`recheck_margin` logits could flip:
        a logit that close to its threshold's (:attr:`thresholds`, what :meth:`predict` cuts at), or (single-label) a
        top-two logit gap under twice the margin. The margin is in logits because INT8 moves logits by about the
        same amount whatever the score; a margin in probability would recheck most inputs of a label whose threshold
        is low (0.03 around a threshold of 0.06 spans 1.2 logits) and too few near 0.5."""
        margin = self.recheck_margin
        p = np.clip(scores.astype(np.float64), 1e-12, 1 - 1e-12)
        if not self.multi_label:
            top = np.sort(p, axis=1)[:, -2:]
            return np.log(top[:, 1] / top[:, 0]) < 2 * margin
        cuts = np.empty(scores.shape[1])
        cuts[self._order] = np.clip(self.thresholds, 1e-12, 1 - 1e-12)
        return (np.abs(np.log(p / (1 - p)) - np.log(cuts / (1 - cuts))) < margin).any(axis=1)

    def __call__(
        self,
        utterances: str | Sequence[str],
        contexts: str | Sequence[str] | None = None,
        characters: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, float]]:
        """``classifier(texts, ...)`` is :meth:`predict` (as with pipelines and SetFit models)."""
        return self.predict(utterances, contexts, characters, **kwargs)

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels :meth:`predict` takes: ``"emotions"`` and the taxonomy's groupings (``"ekman"`` and
        ``"sentiment"`` for the 28 classes)."""
        return ("emotions", *(self.taxonomy.groupings if self.taxonomy is not None else ()))

    def _check_level(self, level: str) -> None:
        if level not in self.levels:
            raise ConfigError(f"level must be one of {', '.join(self.levels)} for this model, got {level!r}")

    def decide(
        self,
        probs: Any,
        threshold: float | str | Sequence[float] | None = None,
        top_k: int | None = None,
        level: Level = "emotions",
    ) -> list[dict[str, float]]:
        """Turn scores from :meth:`predict_proba` (``level="emotions"``) into ``{label: score}`` dicts, highest
        first; :meth:`predict` is ``decide(predict_proba(...))``. Arguments as in :meth:`predict`."""
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ConfigError(f"top_k must be a positive integer, got {top_k!r}")
        self._check_level(level)
        probs = np.asarray(probs, dtype=np.float64)
        if not self.multi_label and threshold is None:
            keep = probs >= probs.max(axis=1, keepdims=True)  # the argmax
            top_k = 1 if top_k is None else top_k
            if top_k > 1:
                keep = np.ones_like(probs, dtype=bool)
        else:
            keep = probs >= self._resolve_thresholds(threshold)
        if level == "emotions":
            names, scores = self.labels, probs
        else:
            names, members = _group_index(level, self.taxonomy)
            scores = np.stack([np.where(keep[:, idx], probs[:, idx], -1.0).max(axis=1) for idx in members], axis=1)
            keep = scores >= 0
        results = []
        for row_keep, row_scores in zip(keep, scores):
            found = sorted(((names[j], float(row_scores[j])) for j in np.flatnonzero(row_keep)), key=lambda x: -x[1])
            results.append(dict(found[:top_k] if top_k is not None else found))
        return results

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
        long_inputs: LongInputs | None = None,
    ) -> list[dict[str, float]]:
        """The labels each input gets, as ``{label: score}`` from the highest score down.

        Args:
            utterances: One utterance or a list (none empty).
            contexts: Situation texts for a contextual model.
            characters: The speaking characters (contextual input; needs ``contexts``).
            threshold: Multi-label: ``None`` or ``"per_label"`` (the stored per-label thresholds, the default),
                ``"global"`` (the stored global one), a number in [0, 1], or one per label. Single-label: ``None``
                (the argmax), or a number (every label scoring at least that).
            top_k: Keep at most this many labels per input (at least 1; ``threshold=0`` with ``top_k`` gives the
                top k).
            batch_size: Inputs per forward pass.
            level: ``"emotions"``, or ``"ekman"`` / ``"sentiment"`` (28-class models): a group is predicted when
                one of its classes is, with that class's best score.
            show_progress_bar: Show a tqdm bar over batches.
            long_inputs: ``"truncate"`` or ``"window"`` (see :meth:`predict_proba`).
        """
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ConfigError(f"top_k must be a positive integer, got {top_k!r}")
        if threshold is not None and not isinstance(threshold, str):
            self._resolve_thresholds(threshold)  # refuse a bad threshold before the model runs
        probs = self.predict_proba(
            utterances, contexts, characters, batch_size=batch_size, show_progress_bar=show_progress_bar,
            long_inputs=long_inputs,
        )  # fmt: skip
        return self.decide(probs, threshold=threshold, top_k=top_k, level=level)

    # ----- saving and the Hub -------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Save weights (safetensors), tokenizer, config with thresholds, and the model card with its plots."""
        path = Path(save_directory)
        path.mkdir(parents=True, exist_ok=True)
        if self.backend == "onnx":  # the ONNX file as loaded, with the config (thresholds as set now)
            import shutil

            if self.model.path.resolve() != (path / self.model.path.name).resolve():
                shutil.copyfile(self.model.path, path / self.model.path.name)
            self.model.config.save_pretrained(path)
        else:
            with quiet():
                self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        if self.card_data is not None:
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

                ignore = shutil.ignore_patterns("checkpoint-*", "runs", ".*", "adapter_*", "training_args.*")
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
    """Create (if needed) a model repository and upload a saved model folder; the one model upload helper.

    The card's usage snippets name the model by a placeholder until it has a Hub id; the uploaded ``README.md`` has
    ``repo_id`` in their place (the local folder is left as it is). Everything goes in one commit.
    """
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.utils import filter_repo_objects

    folder = Path(folder)
    ignore = ["checkpoint-*/**", "runs/**", "training_args.bin", ".*", "*/.*"]
    paths = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    operations = []
    for rel in filter_repo_objects(paths, ignore_patterns=ignore):
        content: Any = os.fspath(folder / rel)
        if rel == "README.md":
            content = card_with_repo_id((folder / rel).read_text(encoding="utf-8"), repo_id).encode("utf-8")
        operations.append(CommitOperationAdd(path_in_repo=rel, path_or_fileobj=content))
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.create_commit(
            repo_id=repo_id,
            operations=operations,
            commit_message=commit_message,
            repo_type="model",
            revision=revision,
        )
    except Exception as error:
        raise HubError(f"could not push {folder} to {repo_id}: {error}") from error
    return str(getattr(info, "commit_url", info))


def card_with_repo_id(text: str, repo_id: str) -> str:
    """A model card whose usage snippets load ``repo_id`` instead of the placeholder (``"path/to/model"``, or the
    ONNX export section's ``"PATH_OR_REPO"``).

    Examples:
        >>> card_with_repo_id('EmoPillarsClassifier.from_pretrained("path/to/model")', "me/emo")
        'EmoPillarsClassifier.from_pretrained("me/emo")'
    """

    for placeholder in (MODEL_REF_PLACEHOLDER, "PATH_OR_REPO"):
        text = text.replace(f'"{placeholder}"', f'"{repo_id}"')
    return text


def _read_json(source: str, filename: str, revision: str | None = None, token: str | None = None) -> dict | None:
    """A JSON file of a folder or Hub repository, or ``None`` when it has none."""
    local = Path(source) / filename
    if Path(source).is_dir():
        return read_json_file(local) if local.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RemoteEntryNotFoundError

    try:
        options = check_hub_model(source, revision=revision, token=token)
        path = hf_hub_download(source, filename, revision=revision, token=token, **options)
    except (EntryNotFoundError, RemoteEntryNotFoundError):
        return None
    except Exception as error:  # offline cache misses, missing repos: let from_pretrained report them
        logger.debug("no %s for %s: %s", filename, source, error)
        return None
    return read_json_file(Path(path))
