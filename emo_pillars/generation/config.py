"""Configuration of the six-stage generation pipeline; the defaults are the paper's settings.

Examples:
    >>> from emo_pillars.generation.config import GenerationConfig
    >>> config = GenerationConfig(contextual=True, max_plots=2)
    >>> config.stage("labels").max_new_tokens
    100
    >>> config.stage("context").max_new_tokens
    160
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConfigError
from ..taxonomy import Taxonomy, load_taxonomy
from .backends.base import DecodingConfig

__all__ = ["STAGES", "CONTEXTUAL_STAGES", "StageConfig", "GenerationConfig", "parse_token_budgets"]

#: The six stages in the order they run.
STAGES: tuple[str, ...] = ("characters", "utterances", "labels", "context", "context_cleaning", "rewriting")
#: The stages that only run for contextual examples.
CONTEXTUAL_STAGES: tuple[str, ...] = STAGES[3:]

# Paper defaults (PAPER.md, section 2) for stages 1-3. The context stages are asked for three to five sentences (or
# one line), about 100 tokens; the paper's 300 let every call of a small teacher run on to its limit.
_MAX_NEW_TOKENS = {
    "characters": 300,
    "utterances": 500,
    "labels": 100,
    "context": 160,
    "context_cleaning": 160,
    "rewriting": 80,
}


@dataclass
class StageConfig:
    """Settings of one stage.

    Args:
        enabled: Whether the stage runs. ``context_cleaning`` and ``rewriting`` can be switched off (their
            output then equals their input); the first three stages cannot.
        max_new_tokens: Token budget of one reply.
        template: A prompt template file to use instead of the packaged one (``$placeholders``).
    """

    enabled: bool = True
    max_new_tokens: int = 300
    template: str | None = None

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


def _default_stages() -> dict[str, StageConfig]:
    return {name: StageConfig(max_new_tokens=n) for name, n in _MAX_NEW_TOKENS.items()}


@dataclass
class GenerationConfig:
    """Everything that decides what :class:`~emo_pillars.generation.EmoPillarsGenerator` asks and keeps.

    Args:
        stages: Per-stage settings, keyed by the names in :data:`STAGES`.
        contextual: Also make contextual examples (stages 4-6).
        contextual_fraction: Share of kept utterances that get a context (the paper: 100K of 300K, about 1/3);
            the choice is a stable hash of the example id, so it does not depend on batch or run order.
        contextual_neutral: Whether neutral utterances can be picked for contexts.
        max_plots: Read at most this many narratives (``None``: all).
        max_characters: Keep at most this many characters per plot (``None``: all listed).
        num_shards: Split the narratives into this many shards, one per machine or server (after ``max_plots``).
        shard_index: The shard this run makes (``0 <= shard_index < num_shards``): narratives at positions
            ``shard_index``, ``shard_index + num_shards``, ... Plot and example ids are those of the whole corpus;
            ``emo-pillars merge`` (:func:`emo_pillars.merge_shards`) joins the shards' folders.
        n_emotional: Emotional utterances asked per character (the paper: 8).
        n_neutral: Neutral utterances asked per character (the paper: 2).
        top_k_labels: Emotions asked for in the soft-label stage (the paper: 5).
        label_threshold: Emotions scored at least this become labels (the paper: 0.3).
        label_mode: How the soft-label stage asks the teacher. ``"generate"`` (the paper): the teacher writes its
            top-k emotions with levels, after the prefill ``"1. <generated-for emotion>"``. ``"score"``: one forward
            pass per utterance scores each of the 28 emotion names as the first item of the answer, calibrated
            against a content-free utterance (see :class:`~emo_pillars.generation.stages.LabelsStage`). Needs a
            backend that can score (``backend.can_score``: the transformers one).
        calibrate: Label mode ``"score"``: divide each emotion's probability by its probability for a content-free
            utterance (``"N/A"``) before ranking, so no emotion wins by its prior.
        constrained: Constrained decoding: each stage's reply shape (one name per line; ``emotion: "thought"``
            lines with assigned, distinct emotions; ``N. emotion score`` lines) is enforced while decoding by
            backends that can. ``False`` is the paper's free generation (the teacher chooses the emotions).
        chunk_size: Plots that flow through all stages together; the examples of each finished chunk are
            appended to the output files, so output grows during the run and memory stays bounded.
        max_plot_tokens: Synopses longer than this many tokens (as the backend counts them) are cut, with a
            warning and a count in ``run.json``; lowered to fit the backend's context window when it is known.
        batch_size: Prompts handed to the backend at once; replies are cached after every batch.
        decoding: Decoding settings (the paper: greedy, repetition penalty 1.03).
        seed: Seed for the contextual selection and any sampling.
        taxonomy: The label set (:class:`~emo_pillars.taxonomy.Taxonomy`, a built-in name such as ``"ekman"``, a
            YAML/JSON file or a mapping; default: the 28 GoEmotions classes). The prompts' definitions, the emotions
            assigned to characters, the constraints, the scored continuations and the parsers all follow it. A
            taxonomy with fewer emotions than ``n_emotional`` (or ``top_k_labels``) asks for as many as it has; one
            without a neutral label asks for no neutral lines.
        drop_repetitions: Drop an utterance that repeats itself: a run of ``repetition_ngram`` words that occurs
            more than ``repetition_max`` times (a small teacher's loop, "I am a hero, I am a hero, I am a hero").
            Counted as ``repetition`` in the ``repetition`` step of ``run.json``.
        repetition_ngram: The run length in words (3).
        repetition_max: How often a run may occur before the utterance is dropped (2: a third time drops it).
    """

    stages: dict[str, StageConfig] = field(default_factory=_default_stages)
    contextual: bool = False
    contextual_fraction: float = 1.0 / 3.0
    contextual_neutral: bool = False
    max_plots: int | None = None
    max_characters: int | None = None
    num_shards: int = 1
    shard_index: int = 0
    n_emotional: int = 8
    n_neutral: int = 2
    top_k_labels: int = 5
    label_threshold: float = 0.3
    label_mode: Literal["generate", "score"] = "generate"
    calibrate: bool = True
    constrained: bool = True
    chunk_size: int = 16
    max_plot_tokens: int = 2048
    batch_size: int = 64
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    seed: int = 0
    taxonomy: Taxonomy = None  # type: ignore[assignment] - a name, file or mapping is resolved on creation
    drop_repetitions: bool = True
    repetition_ngram: int = 3
    repetition_max: int = 2

    def __post_init__(self):
        self.taxonomy = load_taxonomy(self.taxonomy)
        stages = _default_stages()
        for name, value in (self.stages or {}).items():
            if name not in stages:
                raise ConfigError(f"unknown stage {name!r}; stages are {', '.join(STAGES)}")
            stages[name] = (
                StageConfig(**{**dataclasses.asdict(stages[name]), **value}) if isinstance(value, dict) else value
            )
        self.stages = stages
        for name, stage in stages.items():
            if not isinstance(stage, StageConfig):
                raise ConfigError(f"stage {name!r}: expected a StageConfig or a dict, got {type(stage).__name__}")
        if isinstance(self.decoding, dict):
            self.decoding = DecodingConfig(**self.decoding)
        for name in STAGES[:3]:
            if not self.stages[name].enabled:
                raise ConfigError(f"stage {name!r} cannot be switched off: every example needs it")
        if self.contextual and not self.stages["context"].enabled:
            raise ConfigError("contextual=True needs the 'context' stage")
        if not 0.0 <= self.contextual_fraction <= 1.0:
            raise ConfigError(f"contextual_fraction must be in [0, 1], got {self.contextual_fraction}")
        if not 0.0 < self.label_threshold <= 1.0:
            raise ConfigError(f"label_threshold must be in (0, 1], got {self.label_threshold}")
        if self.label_mode not in ("generate", "score"):
            raise ConfigError(f"label_mode must be 'generate' or 'score', got {self.label_mode!r}")
        for name in ("max_plots", "max_characters"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 or None, got {value}")
        if self.num_shards < 1 or not 0 <= self.shard_index < self.num_shards:
            raise ConfigError(
                f"need num_shards >= 1 and 0 <= shard_index < num_shards, got {self.shard_index}/{self.num_shards}"
            )
        if self.n_emotional < 1 or self.n_neutral < 0:
            raise ConfigError("n_emotional must be >= 1 and n_neutral >= 0")
        if self.top_k_labels < 1:
            raise ConfigError(f"top_k_labels must be >= 1, got {self.top_k_labels}")
        if self.repetition_ngram < 1 or self.repetition_max < 1:
            raise ConfigError("repetition_ngram and repetition_max must be >= 1")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.max_plot_tokens < 16:
            raise ConfigError(f"max_plot_tokens must be >= 16, got {self.max_plot_tokens}")

    def stage(self, name: str) -> StageConfig:
        """The settings of stage ``name``."""
        return self.stages[name]

    def active_stages(self) -> list[str]:
        """The stages this configuration runs, in order."""
        names = list(STAGES[:3])
        if self.contextual:
            names += [n for n in CONTEXTUAL_STAGES if self.stages[n].enabled]
        return names

    @property
    def emotions_per_character(self) -> int:
        """Emotional utterances asked per character: ``n_emotional``, at most the taxonomy's emotions."""
        return min(self.n_emotional, len(self.taxonomy.emotional))

    @property
    def neutral_per_character(self) -> int:
        """Neutral utterances asked per character: ``n_neutral``, or 0 for a taxonomy without a neutral label."""
        return self.n_neutral if self.taxonomy.neutral else 0

    @property
    def labels_per_reply(self) -> int:
        """Emotions asked for in the soft-label stage: ``top_k_labels``, at most the taxonomy's size."""
        return min(self.top_k_labels, len(self.taxonomy))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``run.json`` records); the taxonomy in full, with its content hash."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["stages"] = {name: dataclasses.asdict(stage) for name, stage in self.stages.items()}
        out["decoding"] = dataclasses.asdict(self.decoding)
        out["taxonomy"] = self.taxonomy.to_dict()
        return out


def parse_token_budgets(text: str) -> dict[str, int]:
    """Read per-stage token budgets written as ``stage=N,stage=N`` (the CLI's ``--max-new-tokens``).

    Examples:
        >>> parse_token_budgets("labels=60, context=120")
        {'labels': 60, 'context': 120}
    """
    budgets: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in STAGES:
            raise ConfigError(f"--max-new-tokens: {part!r} is not STAGE=N with STAGE one of {', '.join(STAGES)}")
        try:
            budgets[name] = int(value)
        except ValueError:
            raise ConfigError(f"--max-new-tokens: {part!r}: {value.strip()!r} is not a whole number") from None
        if budgets[name] < 1:
            raise ConfigError(f"--max-new-tokens: {part!r}: the budget must be >= 1")
    return budgets
