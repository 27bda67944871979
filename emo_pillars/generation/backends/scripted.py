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
        scorer: Optional ``scorer(prompt, continuations) -> log-probabilities``, which makes :meth:`score` work.

    Examples:
        >>> from emo_pillars.generation.backends import ChatPrompt, ScriptedBackend
        >>> backend = ScriptedBackend(lambda p: "0.7", name="echo")
        >>> [c.text for c in backend.generate([ChatPrompt.from_user("hi")], max_new_tokens=5)]
        ['0.7']
    """

    def __init__(
        self,
        responder: Callable[[ChatPrompt], str],
        name: str = "scripted",
        scorer: Callable[[ChatPrompt, Sequence[str]], Sequence[float]] | None = None,
    ):
        self.responder = responder
        self._name = name
        self.scorer = scorer
        self.can_score = scorer is not None
        self.calls = 0

    @property
    def model_name(self) -> str:
        return self._name

    def generate(
        self,
        prompts: Sequence[ChatPrompt],
        *,
        max_new_tokens: int,
        decoding: DecodingConfig | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        out = []
        for prompt in prompts:
            self.calls += 1
            text = self.responder(prompt)
            n_prompt = sum(len(content.split()) for _, content in prompt.messages)
            out.append(Completion(text=text, prompt_tokens=n_prompt, completion_tokens=len(text.split())))
            if on_progress is not None:
                on_progress(1)
        return out

    def score(
        self,
        prompts: Sequence[ChatPrompt],
        continuations: Sequence[str],
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        if self.scorer is None:
            return super().score(prompts, continuations)
        out = []
        for prompt in prompts:
            self.calls += 1
            scores = [float(x) for x in self.scorer(prompt, continuations)]
            n_prompt = sum(len(content.split()) for _, content in prompt.messages)
            out.append(Completion(text="", prompt_tokens=n_prompt, scores=scores))
            if on_progress is not None:
                on_progress(1)
        return out
