"""Local generation with ``transformers``: one process, several GPUs (``device_map``) or data parallel under accelerate.

The backend renders every prompt with the tokenizer's chat template (with a prefill, the assistant's turn is opened
and continued: ``apply_chat_template(..., continue_final_message=True)``), sorts the prompts by token length, generates batch by batch with left padding and returns the replies in the original order. Launched
with ``accelerate launch`` or ``torchrun`` on N > 1 processes, each process generates its share of the (sorted)
prompts and every rank receives the full, ordered list of replies.

Two throughput features:

* **Shared-prefix reuse** (``prefix_cache=True``): prompts are grouped by shared token prefixes (all label prompts
  share the emotion definitions; the characters of one plot share the definitions and the plot). Each group's common
  prefix is encoded once, its key/value cache is kept and copied into the rows of every batch that use it (a batch
  may mix groups: each row gets its own prefix, zero-padded to the longest). Only the rest of each prompt (its
  *suffix*) goes through the model. Pads sit between a prefix and its suffix, the attention mask hides them and
  position ids skip them, so every row sees exactly the tokens and positions of the plain path: greedy replies are
  the same.
* **Constrained decoding**: a prompt's ``constraint`` (a regex) is compiled once per regex by xgrammar and applied by
  a logits processor per row (:mod:`.grammar`), so one batch mixes constrained and free rows, with or without the
  prefix cache.
* **Continuation scoring** (:meth:`TransformersBackend.score`): the log-probability of each of K fixed
  continuations after each prompt, from one forward pass per batch. The K continuations are packed after the prompt
  in the same row; a block attention mask lets every continuation see the prompt and its own earlier tokens only,
  so the prompt's keys and values are computed once and shared by all K (a tree of continuations, no K-fold copies).

This module imports torch and transformers; ``import emo_pillars`` stays free of both because the backends package
imports it lazily.
"""

from __future__ import annotations

import copy
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ....errors import ConfigError
from ..base import ChatPrompt, Completion, DecodingConfig, LLMBackend

if TYPE_CHECKING:
    pass
from .model import ModelLoading, TransformersBackendConfig
from .prefix_cache import PrefixCaching, _common_prefix_length
from .scoring import Scoring

logger = logging.getLogger(__name__)

#: Prompts that share this many tokens beyond what all prompts of a call share are batched together.
_GROUP_MIN_TOKENS = 32


class TransformersBackend(ModelLoading, PrefixCaching, Scoring, LLMBackend):
    """Generate with a local causal LM through ``transformers`` (safetensors or GGUF weights).

    Replies are greedy by default (``DecodingConfig(temperature=0)``). Batched and unbatched generation give the
    same greedy replies: prompts are left-padded and the attention mask hides the padding.

    Args:
        config: A :class:`TransformersBackendConfig`, or a model id/folder (then ``**overrides`` are config fields).
        progress_callback: Called with the number of prompts just finished after each batch (on every process,
            counting that process's prompts). The pipeline uses it to drive its progress bar.
        **overrides: Fields of :class:`TransformersBackendConfig` when ``config`` is a model id.

    Examples:
        >>> from emo_pillars.generation.backends import ChatPrompt, TransformersBackend
        >>> backend = TransformersBackend("HuggingFaceTB/SmolLM2-135M-Instruct", batch_size=8)  # doctest: +SKIP
        >>> backend.load()  # doctest: +SKIP
        >>> prompt = ChatPrompt.from_user("Name a colour.", prefill="Colour:")
        >>> backend.generate([prompt], max_new_tokens=8)[0].text  # doctest: +SKIP
        ' Blue.'

        GGUF weights (dequantized on load) and a multi-process run::

            backend = TransformersBackend("path/to/folder", gguf_file="model.Q4_1.gguf")
            # accelerate launch --num_processes 4 script.py   (each GPU generates a quarter of the prompts)
    """

    def __init__(
        self,
        config: TransformersBackendConfig | str | os.PathLike,
        *,
        progress_callback: Callable[[int], None] | None = None,
        **overrides: Any,
    ):
        if isinstance(config, TransformersBackendConfig):
            if overrides:
                raise ConfigError("pass either a TransformersBackendConfig or keyword overrides, not both")
        else:
            config = TransformersBackendConfig(model=os.fspath(config), **overrides)
        self.config = config
        self.progress_callback = progress_callback
        self.model = None
        self.tokenizer = None
        self._state = None  # accelerate.PartialState when several processes share the work
        self.is_main_process = True
        self._prefix_store: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        #: Prefix tokens run through the model to fill the prefix cache (a counter for benchmarks).
        self.prefix_tokens_encoded = 0
        self._grammars = None  # GrammarCompiler, built at the first constrained prompt
        self._model_config = None  # the model's config, read without weights for context_window

    def render(self, prompt: ChatPrompt) -> str:
        """The text the model sees for ``prompt``: the chat template with the assistant's turn opened and, with a
        prefill, continued from it (``apply_chat_template(..., continue_final_message=True)``)."""
        self._require_loaded()
        messages = prompt.as_messages()
        if not prompt.prefill:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        messages.append({"role": "assistant", "content": prompt.prefill})
        return self.tokenizer.apply_chat_template(messages, tokenize=False, continue_final_message=True)

    def _compiler(self):
        if self._grammars is None:
            from ..grammar import GrammarCompiler

            self._grammars = GrammarCompiler(
                self.tokenizer, vocab_size=self.model.config.vocab_size, stop_token_ids=self._eos_ids()
            )
        return self._grammars

    def generate(
        self,
        prompts: Sequence[ChatPrompt],
        *,
        max_new_tokens: int,
        decoding: DecodingConfig | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """Generate one reply per prompt, in the order of ``prompts``, each kept inside its ``constraint``.

        Under a multi-process launch every process must call this with the same prompts; each generates its share
        and all of them return the full list.

        Args:
            prompts: Chat prompts; each may carry its own constraint (or none).
            max_new_tokens: Most tokens per reply.
            decoding: Greedy by default.
            on_progress: Called with the number of prompts just finished after each internal batch (besides the
                backend's ``progress_callback``).
        """
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if self.model is None:
            self.load()
        decoding = decoding or DecodingConfig()

        results: list[Completion | None] = [None] * len(prompts)
        encoded: dict[int, list[int]] = {}
        grammars: dict[int, Any] = {}
        for i, prompt in enumerate(prompts):
            try:
                encoded[i] = self._encode(prompt)
            except Exception as exc:  # a template that refuses these messages, for instance
                results[i] = Completion(text="", finish_reason="error", error=f"cannot render the prompt: {exc}")
                continue
            if prompt.constraint is not None:
                try:
                    grammars[i] = self._compiler().compile(prompt.constraint.regex)
                except ConfigError as exc:
                    del encoded[i]
                    results[i] = Completion(text="", prompt_tokens=0, finish_reason="error", error=str(exc))

        def work(order: list[int]) -> list[tuple[int, Completion]]:
            return self._generate_indices(order, encoded, grammars, max_new_tokens, decoding, on_progress)

        for i, completion in self._distribute(self._order(encoded), work):
            results[i] = completion
        return results  # type: ignore[return-value]

    def _encode(self, prompt: ChatPrompt) -> list[int]:
        return self.tokenizer(self.render(prompt), add_special_tokens=False)["input_ids"]

    def _order(self, encoded: dict[int, list[int]]) -> list[int]:
        """The processing order: longest first, or (with ``prefix_cache``) prefix groups one after the other."""
        return [i for group in self._groups(list(encoded), encoded) for i in group]

    def _groups(self, indices: list[int], encoded: dict[int, list[int]]) -> list[list[int]]:
        """Split ``indices`` into groups that are batched separately, each sorted longest first.

        Without ``prefix_cache`` there is one group. With it, prompts are sorted token-wise so that prompts sharing a
        prefix are neighbours; a run of neighbours that share at least ``_GROUP_MIN_TOKENS`` tokens more than all
        prompts share (the same plot, say) becomes its own group, and the prompts left over form one last group.
        Longest first: a batch that does not fit in memory fails at once, not after an hour.
        """

        def longest_first(group: list[int]) -> list[int]:
            return sorted(group, key=lambda i: (-len(encoded[i]), i))

        if not self.config.prefix_cache or len(indices) < 3:
            return [longest_first(indices)] if indices else []
        lexical = sorted(indices, key=lambda i: (encoded[i], i))
        shared = _common_prefix_length([encoded[lexical[0]], encoded[lexical[-1]]])
        runs: list[list[int]] = [[lexical[0]]]
        for a, b in zip(lexical, lexical[1:]):
            if _common_prefix_length([encoded[a], encoded[b]]) >= shared + _GROUP_MIN_TOKENS:
                runs[-1].append(b)
            else:
                runs.append([b])
        groups = [longest_first(run) for run in runs if len(run) > 1]
        rest = [i for run in runs if len(run) == 1 for i in run]
        if rest:
            groups.append(longest_first(rest))
        return sorted(groups, key=lambda g: (-len(encoded[g[0]]), g[0]))

    def _distribute(
        self, order: list[int], work: Callable[[list[int]], list[tuple[int, Any]]]
    ) -> list[tuple[int, Any]]:
        """Run ``work`` on this process's share of ``order`` and gather every process's ``(index, result)`` pairs."""
        if self._state is None:
            return work(order)
        from accelerate.utils import gather_object

        with self._state.split_between_processes(order) as local_order:
            local = work(list(local_order))
        with self._peers():
            return gather_object(local)

    def broadcast(self, value: Any) -> Any:
        """The main process's ``value`` on every process (``value`` itself in a single-process run)."""
        if self._state is None:
            return value
        from accelerate.utils import broadcast_object_list

        with self._peers():
            return broadcast_object_list([value])[0]

    def _generate_indices(
        self,
        order: list[int],
        encoded: dict[int, list[int]],
        grammars: dict[int, Any],
        max_new_tokens: int,
        decoding: DecodingConfig,
        on_progress: Callable[[int], None] | None,
    ) -> list[tuple[int, Completion]]:
        out: list[tuple[int, Completion]] = []
        flat, prefixes = self._plan(order, encoded)
        for batch in self._batches(flat, encoded, max_new_tokens):
            rows, cuts = [encoded[i] for i in batch], [prefixes[i] for i in batch]
            row_grammars = [grammars.get(i) for i in batch]
            out.extend(zip(batch, self._generate_batch(rows, cuts, row_grammars, max_new_tokens, decoding)))
            self._report(len(batch), on_progress)
        return out

    def _report(self, n: int, on_progress: Callable[[int], None] | None) -> None:
        for callback in (self.progress_callback, on_progress):
            if callback is not None:
                callback(n)

    def _plan(self, order: list[int], encoded: dict[int, list[int]]) -> tuple[list[int], dict[int, int]]:
        """The processing order of ``order`` (groups one after the other) and, per prompt, how many of its leading
        tokens to take from the prefix cache: its group's common prefix (0 without ``prefix_cache``)."""
        groups = self._groups(order, encoded)
        prefixes = dict.fromkeys(order, 0)
        if self.config.prefix_cache:
            for group in groups:
                prefixes.update(dict.fromkeys(group, _common_prefix_length([encoded[i] for i in group])))
        return [i for group in groups for i in group], prefixes

    def _batches(self, order: list[int], encoded: dict[int, list[int]], max_new_tokens: int) -> list[list[int]]:
        cfg = self.config
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order:
            new_longest = max(longest, len(encoded[i]))
            too_many = cfg.batch_size is not None and len(current) + 1 > cfg.batch_size
            too_big = (
                cfg.max_batch_tokens is not None
                and (len(current) + 1) * (new_longest + max_new_tokens) > cfg.max_batch_tokens
            )
            if current and (too_many or too_big):
                batches.append(current)
                current, new_longest = [], len(encoded[i])
            current.append(i)
            longest = new_longest
        if current:
            batches.append(current)
        return batches

    def _eos_ids(self) -> list[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if source is None:
                continue
            ids.update([source] if isinstance(source, int) else source)
        return sorted(ids)

    def _generate_batch(
        self,
        rows: list[list[int]],
        cuts: list[int],
        grammars: list[Any],
        max_new_tokens: int,
        decoding: DecodingConfig,
    ) -> list[Completion]:
        import torch

        try:
            return self._run_generate(rows, cuts, grammars, max_new_tokens, decoding)
        except torch.OutOfMemoryError as exc:
            if len(rows) == 1:
                return [Completion(text="", prompt_tokens=len(rows[0]), finish_reason="error", error=f"OOM: {exc}")]
            logger.warning("out of memory on a batch of %d prompts; splitting it in two", len(rows))
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(rows) // 2
            return self._generate_batch(
                rows[:half], cuts[:half], grammars[:half], max_new_tokens, decoding
            ) + self._generate_batch(rows[half:], cuts[half:], grammars[half:], max_new_tokens, decoding)
        except Exception as exc:
            logger.warning("generation failed for a batch of %d prompts", len(rows), exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            return [Completion(text="", prompt_tokens=len(r), finish_reason="error", error=error) for r in rows]

    def _generation_config(self, max_new_tokens: int, decoding: DecodingConfig, eos_ids: list[int]):
        import torch

        tokenizer, model = self.tokenizer, self.model
        generation_config = copy.deepcopy(model.generation_config)
        generation_config.max_new_tokens = max_new_tokens
        generation_config.max_length = None
        generation_config.min_new_tokens = max_new_tokens if self.config.ignore_eos else None
        generation_config.repetition_penalty = decoding.repetition_penalty
        generation_config.pad_token_id = tokenizer.pad_token_id
        generation_config.eos_token_id = eos_ids or None
        if decoding.greedy:
            generation_config.do_sample = False
            generation_config.temperature = None
            generation_config.top_p = None
            generation_config.top_k = None
        else:
            generation_config.do_sample = True
            generation_config.temperature = decoding.temperature
            generation_config.top_p = decoding.top_p
            torch.manual_seed(decoding.seed)
        return generation_config

    def _run_generate(
        self,
        rows: list[list[int]],
        cuts: list[int],
        grammars: list[Any],
        max_new_tokens: int,
        decoding: DecodingConfig,
    ) -> list[Completion]:
        import torch
        from transformers import LogitsProcessorList

        tokenizer, model = self.tokenizer, self.model
        eos_ids = self._eos_ids()
        generation_config = self._generation_config(max_new_tokens, decoding, eos_ids)
        cuts = self._cuts(rows, cuts)
        if any(cuts):
            # [prefix][pads][suffix]: the prefixes' keys and values come from the cache; the pads sit between a
            # prefix and its suffix, masked out, and position ids (from the mask's cumulative sum) skip them.
            input_ids, attention_mask = self._suffix_padded(rows, cuts)
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "cache": self._batch_cache(rows, cuts)}
        else:
            inputs = dict(tokenizer.pad({"input_ids": rows}, padding=True, return_tensors="pt").to(model.device))
        processors = LogitsProcessorList()
        if any(g is not None for g in grammars):
            from ..grammar import GrammarLogitsProcessor

            processors.append(GrammarLogitsProcessor(grammars, self._compiler()))
        with torch.inference_mode():
            output = model.generate(**inputs, generation_config=generation_config, logits_processor=processors)
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()

        eos = set(eos_ids)
        completions = []
        for prompt_ids, ids in zip(rows, new_tokens):
            stop = next((k for k, token in enumerate(ids) if token in eos), None)
            if stop is None:
                kept, n_generated, reason = ids, len(ids), "length"
            else:
                kept, n_generated, reason = ids[:stop], stop + 1, "stop"
            text = tokenizer.decode(kept, skip_special_tokens=True)
            completions.append(
                Completion(
                    text=text, prompt_tokens=len(prompt_ids), completion_tokens=n_generated, finish_reason=reason
                )
            )
        return completions
