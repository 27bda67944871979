"""A backend that answers from a Python function: for tests, dry runs and prompt debugging."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .base import ChatPrompt, Completion, DecodingConfig, LLMBackend

__all__ = ["ScriptedBackend"]


class ScriptedBackend(LLMBackend):
    """Replies computed by ``responder(prompt)``; token counts are whitespace word counts.

    Args:
        responder: Called once per prompt; returns the reply text (without the prompt's prefill).
        name: The model name to record.

    Examples:
        >>> from emo_pillars.generation.backends import ChatPrompt, ScriptedBackend
        >>> backend = ScriptedBackend(lambda p: "0.7", name="echo")
        >>> [c.text for c in backend.generate([ChatPrompt.from_user("hi")], max_new_tokens=5)]
        ['0.7']
    """

    def __init__(self, responder: Callable[[ChatPrompt], str], name: str = "scripted"):
        self.responder = responder
        self._name = name
        self.calls = 0

    @property
    def model_name(self) -> str:
        return self._name

    def generate(
        self, prompts: Sequence[ChatPrompt], *, max_new_tokens: int, decoding: DecodingConfig | None = None
    ) -> list[Completion]:
        out = []
        for prompt in prompts:
            self.calls += 1
            text = self.responder(prompt)
            n_prompt = sum(len(content.split()) for _, content in prompt.messages)
            out.append(Completion(text=text, prompt_tokens=n_prompt, completion_tokens=len(text.split())))
        return out
