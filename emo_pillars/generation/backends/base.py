"""The small interface every LLM backend implements.

A backend turns a batch of chat prompts into replies. It never sees what a prompt means (that is the stages'
business) and never writes files (that is the pipeline's). Backends: :class:`TransformersBackend` (local
``generate``, multi-GPU with accelerate), :class:`OpenAICompatibleBackend` (vLLM, SGLang, TGI,
``transformers serve``) and :class:`ScriptedBackend` (canned replies for tests and dry runs).

Examples:
    >>> from emo_pillars.generation.backends import ChatPrompt, ScriptedBackend
    >>> backend = ScriptedBackend(lambda prompt: "Alice\\nBob")
    >>> backend.generate([ChatPrompt.from_user("Who is in this story?")], max_new_tokens=10)[0].text
    'Alice\\nBob'
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ...errors import ConfigError

if TYPE_CHECKING:
    from ..constraints import Constraint

__all__ = ["ChatPrompt", "Completion", "DecodingConfig", "LLMBackend"]

T = TypeVar("T")


@dataclass(frozen=True)
class ChatPrompt:
    """One chat prompt: system/user messages, and optionally the start of the assistant's answer.

    Args:
        messages: ``[{"role": "system"|"user", "content": str}, ...]``; no assistant turn at the end.
        prefill: Text the assistant's answer is forced to start with; the model continues it. The reply
            (:attr:`Completion.text`) holds only the continuation, without the prefill.
        constraint: The shape the reply (after the prefill) must have, enforced while decoding by backends
            that can (:mod:`~emo_pillars.generation.constraints`); ``None`` for free generation.
        route: What the call belongs to (the plot id): a fleet of servers sends the calls of one route to one
            server. Not part of the prompt, of its cache key or of its equality.
    """

    messages: tuple[tuple[str, str], ...]
    prefill: str = ""
    constraint: Constraint | None = None
    route: str = field(default="", compare=False)

    @classmethod
    def from_user(cls, user: str, system: str | None = None, prefill: str = "") -> ChatPrompt:
        msgs = ((("system", system),) if system else ()) + (("user", user),)
        return cls(messages=msgs, prefill=prefill)

    def as_messages(self) -> list[dict[str, str]]:
        """Messages as the ``[{"role", "content"}]`` dicts chat templates and servers expect."""
        return [{"role": role, "content": content} for role, content in self.messages]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"messages": self.as_messages(), "prefill": self.prefill}
        if self.constraint is not None:
            out["constraint"] = self.constraint.regex
        return out


@dataclass
class Completion:
    """A backend's reply to one prompt.

    Args:
        text: The generated continuation (the prefill is not repeated).
        prompt_tokens: Tokens in the prompt as the model saw it.
        completion_tokens: Tokens generated.
        finish_reason: ``"stop"`` (end of sequence), ``"length"`` (hit max_new_tokens) or ``"error"``.
        error: Why the call failed, when ``finish_reason == "error"``.
        scores: For :meth:`LLMBackend.score` calls: the log-probability of each continuation, in order
            (``text`` is then empty and ``completion_tokens`` 0).
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: Literal["stop", "length", "error"] = "stop"
    error: str | None = None
    scores: list[float] | None = None


@dataclass(frozen=True)
class DecodingConfig:
    """Decoding settings; the defaults are the paper's (greedy, repetition penalty 1.03).

    Args:
        temperature: 0 means greedy decoding.
        top_p: Nucleus sampling mass, used only when sampling.
        repetition_penalty: Penalty on tokens already present (1.0 disables it).
        seed: Seed for sampling.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.03
    seed: int = 0

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


class LLMBackend(abc.ABC):
    """Base class of LLM backends.

    Subclasses implement :meth:`load`, :meth:`generate` and :attr:`model_name`. The pipeline calls
    ``load()`` once, then ``generate`` with batches of prompts of one stage; it expects replies in the
    order of the prompts and never an exception for a single bad call (return ``finish_reason="error"``).
    """

    #: Whether this process writes outputs (False on non-main ranks of a multi-process run).
    is_main_process: bool = True
    #: Called with the number of prompts just finished, as they finish (the pipeline sets it to move its progress
    #: bar per call); backends that cannot report progress leave it uncalled.
    progress_callback: Callable[[int], None] | None = None

    @property
    def preferred_batch_size(self) -> int:
        """The fewest prompts to hand over at once to keep the backend busy (the pipeline's batches are at least
        this large); 1 for backends that batch on their own terms."""
        return 1

    @property
    @abc.abstractmethod
    def model_name(self) -> str:
        """The model's Hub id or path, recorded in ``run.json`` and in cache keys."""

    @property
    def model_revision(self) -> str | None:
        """The model's revision (commit hash) when known."""
        return None

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load the model or open the connection; called once before the first :meth:`generate`."""

    @abc.abstractmethod
    def generate(
        self,
        prompts: Sequence[ChatPrompt],
        *,
        max_new_tokens: int,
        decoding: DecodingConfig | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """Generate one reply per prompt, in order, applying each prompt's ``constraint`` where the backend can.

        ``on_progress(n)`` is called with the number of prompts just finished, after each internal batch (or each
        request), so a progress bar can move during the call.
        """

    #: Whether :meth:`score` is implemented.
    can_score: bool = False

    def score(
        self,
        prompts: Sequence[ChatPrompt],
        continuations: Sequence[str],
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """Log-probabilities of each continuation after each prompt (after its prefill), in one pass.

        Returns one :class:`Completion` per prompt whose ``scores`` hold ``len(continuations)`` log-probabilities
        and whose ``prompt_tokens`` count the prompt (``finish_reason="error"`` and no scores for a prompt that
        failed). ``on_progress`` as in :meth:`generate`. Backends that cannot score raise :class:`ConfigError`.
        """
        raise ConfigError(
            f"{type(self).__name__} cannot score continuations (label_mode='score' needs the transformers "
            "backend): use label_mode='generate'"
        )

    def broadcast(self, value: T) -> T:
        """The main process's ``value`` on every process of a multi-process run; ``value`` itself otherwise.

        The pipeline shares the main process's cache hits this way, so that every process (on every machine) asks
        for the same calls, whatever its own disk holds.
        """
        return value

    def lanes(self, routes: Sequence[str]) -> list[list[int]]:
        """Group work items by the server that will answer their calls, so each group can run on its own.

        ``routes[i]`` is the route every call of item ``i`` carries (:attr:`ChatPrompt.route`: its plot). A
        backend with several servers returns one list of indices per server that holds some of the routes (the
        pipeline then runs each list through all its steps at once, so no server waits for another at a step's
        end); a backend with one model or one server returns one list, and the pipeline runs the steps in the
        calling thread. The backend sees only route keys, never a prompt.

        Examples:
            >>> from emo_pillars.generation.backends import ScriptedBackend
            >>> ScriptedBackend(lambda prompt: "").lanes(["plot-1", "plot-2", "plot-3"])
            [[0, 1, 2]]
        """
        return [list(range(len(routes)))] if routes else []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    @property
    def context_window(self) -> int | None:
        """The most tokens a prompt plus its reply may hold, when known (``None``: unknown)."""
        return None

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` as this backend's model counts them (here: an estimate, words x 4/3, rounded up)."""
        return -(-len(text.split()) * 4 // 3)

    def cache_identity(self) -> dict[str, Any]:
        """Everything about this backend that changes its replies (model, revision, dtype, quantisation ...).

        The pipeline puts it in every call key, so a reply is reused only by a backend that would give it again.
        """
        return {"backend": type(self).__name__, "model": self.model_name, "revision": self.model_revision}

    def describe(self) -> dict[str, Any]:
        """What ``run.json`` records about this backend."""
        return {"backend": type(self).__name__, "model": self.model_name, "revision": self.model_revision}
