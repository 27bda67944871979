"""Narrative-grounded synthesis of emotion data: stages, prompts, backends and the pipeline.

Examples:
    >>> from emo_pillars.generation import GenerationConfig
    >>> GenerationConfig().active_stages()
    ['characters', 'utterances', 'labels']
"""

from __future__ import annotations

from ..narratives import Narrative, demo_corpus, load_narratives
from .config import CONTEXTUAL_STAGES, STAGES, GenerationConfig, StageConfig
from .pipeline import EmoPillarsGenerator, GenerationResult, resolve_backend
from .stages import Drop, Keep, Step, default_steps

__all__ = [
    "STAGES",
    "CONTEXTUAL_STAGES",
    "GenerationConfig",
    "StageConfig",
    "Narrative",
    "demo_corpus",
    "load_narratives",
    "EmoPillarsGenerator",
    "GenerationResult",
    "resolve_backend",
    "Step",
    "Keep",
    "Drop",
    "default_steps",
]
