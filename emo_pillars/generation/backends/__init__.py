"""LLM backends behind one interface: ``generate(list of chat prompts) -> list of replies``."""

from __future__ import annotations

import importlib
from typing import Any

from .base import ChatPrompt, Completion, DecodingConfig, LLMBackend
from .scripted import ScriptedBackend

_LAZY = {
    "TransformersBackend": ".transformers",
    "TransformersBackendConfig": ".transformers",
    "OpenAICompatibleBackend": ".openai",
    "OpenAICompatibleConfig": ".openai",
}

__all__ = ["ChatPrompt", "Completion", "DecodingConfig", "LLMBackend", "ScriptedBackend", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
