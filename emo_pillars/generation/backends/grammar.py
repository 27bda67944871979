"""Constrained decoding for the transformers backend: a grammar logits processor built on ``xgrammar``.

Every :class:`~emo_pillars.generation.constraints.Constraint` is a regular expression over the reply after the
prompt's prefill. :class:`GrammarCompiler` compiles each regex once against the model's tokenizer (an LRU of
compiled grammars keyed by the regex: the label prompts of one ``first_emotion`` share a shape) and
:class:`GrammarLogitsProcessor` masks, at every decoding step, the tokens that would leave the regex. Rows of one
batch carry their own grammar or none (free rows are left untouched), so one ``generate`` call can mix stages.
Once a row's regex is complete the end-of-sequence tokens are allowed; when the regex cannot go on they are the
only tokens allowed, so a constrained reply ends by itself. Masking only removes tokens: greedy decoding stays
deterministic, and with a constraint that allows everything the reply is the free reply.

Why xgrammar (0.2.8) and not outlines (1.3.3), measured on 2026-12-01 on this project's 2-core CPU (1 thread),
transformers 5.24, torch 2.13.0+cpu, the packaged SmolLM2-135M-Instruct GGUF tokenizer (49,152 tokens):

* Neither pulls another torch (``pip install --dry-run``). xgrammar pulls ``apache-tvm-ffi`` and, on Linux x86_64,
  ``triton`` (about 1 GB on disk, unused on CPU); outlines pulls ``outlines_core``, ``jsonschema`` and ``genson``.
* Grammar compilation of this project's shapes (xgrammar / outlines_core ``Index``): labels (5 lines) 0.004 s /
  0.28 s; utterances (3 emotional + 2 neutral lines of up to 300 characters) 1.9 s for the first, 0.01 s for every
  further one (xgrammar reuses the compiled repetition) / 14.3 s each; characters 0.67 s / 11.3 s; free text of
  1,500 characters 1.95 s / 16.4 s. The utterance prompts differ per character, so outlines would spend 14 s per
  prompt compiling: disqualifying on CPU.
* Mask cost: xgrammar fills a row's bitmask in well under 0.1 ms per step for the line-count shapes, but a bounded
  repetition with a large bound (free text of 1,500 characters) costs 5-100 ms per step once the reply is long,
  so such bounds are relaxed (:func:`relax_bounds`). End to end (``benchmarks/generation.py --constraints``,
  ``benchmarks/results/generation-constraints-cpu.json``, same prompts with and without constraints, alternating
  runs, bounds up to 100 exact): the grammar processor takes 1.6% of the constrained runs' time (characters 5.0%,
  utterances 0.4%, labels 0.9%); raw tokens/s constrained/free 0.83 (characters: 251 vs 277 tokens after the same
  prefill, so part of it is fewer tokens), 0.91 (utterances), 1.16 (labels), 1.00 overall; replies matching their
  shape go from 0 of 30 to 28 of 30 (labels 16 of 16, characters 6 of 6, utterances 6 of 8: the two others filled
  every 80-character line and ran out of the 112-token budget).
* Fit: xgrammar's ``TokenizerInfo.from_huggingface`` reads byte-level BPE vocabularies (the GGUF-converted SmolLM2
  tokenizer and the test suite's tiny trained BPE alike); its matcher works per row, which is what a batch of mixed
  constraints with left padding and the prefix-cache path (``generate`` with a prefilled key/value cache) need:
  the processor only looks at the last token of each row. xgrammar's own ``contrib.hf.LogitsProcessor`` needs a
  grammar for every row and asserts on tokens it did not allow, so this module keeps a small processor of its own
  (rows without a constraint, tolerance of a row the grammar lost, stop tokens from the model's generation config).

This module imports torch, transformers and xgrammar; it is imported only when a constrained prompt arrives.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from transformers import LogitsProcessor

from emo_pillars.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["EXACT_BOUND", "GrammarCompiler", "GrammarLogitsProcessor", "relax_bounds"]

logger = logging.getLogger(__name__)

#: Compiled grammars kept per compiler (least recently used dropped first).
_GRAMMAR_CACHE_SIZE = 512
#: Bounded repetitions with a larger upper bound are compiled unbounded (see :func:`relax_bounds`); read at each
#: compilation, so a benchmark can change it.
EXACT_BOUND = 100
_BOUND = re.compile(r"(?<!\\)\{(\d+),(\d+)\}")


def relax_bounds(regex: str, limit: int | None = None) -> str:
    """``regex`` with every ``{m,n}`` whose ``n`` exceeds ``limit`` made unbounded (``*``, ``+`` or ``{m,}``).

    xgrammar expands a bounded repetition into one state per count, and past a few dozen counts its token-mask
    cache stops covering them: measured on the SmolLM2 tokenizer, free text of at most 1,500 characters
    (``[^\x00]{1,1500}``) takes 8.3 s to compile and 48 ms per decoding step (up to 104 ms) once the reply is
    ~150 characters long, where ``[^\x00]+`` takes 0.002 s and under 0.01 ms; utterance lines of 300 characters
    take 5.7 s to compile. Bounds up to 100 stay exact: a character name of at most 40 characters (1.6 s to compile once,
    0.4 ms per step) and utterance lines of at most 80 characters (the grammar took 0.4% of the constrained run's
    time, ``results/generation-constraints-cpu-utterances-exact100.json``); at 300 characters a line costs 14-16 ms
    per step once it is long, so longer caps are left to ``max_new_tokens`` and the parsers. Counts of lines
    (``{0,14}``) stay exact.

    Examples:
        >>> relax_bounds('joy: "[^"]{1,300}"( [a-z]{2,500}){0,3}')
        'joy: "[^"]+"( [a-z]{2,}){0,3}'
    """

    limit = EXACT_BOUND if limit is None else limit

    def relaxed(match: re.Match) -> str:
        low, high = int(match.group(1)), int(match.group(2))
        if high <= limit:
            return match.group(0)
        return "*" if low == 0 else "+" if low == 1 else f"{{{low},}}"

    return _BOUND.sub(relaxed, regex)


def _xgrammar():
    try:
        import xgrammar
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ConfigError(
            "constrained decoding needs xgrammar (pip install 'xgrammar>=0.2.8'); or generate without constraints"
        ) from exc
    return xgrammar


class GrammarCompiler:
    """Compile constraint regexes for one tokenizer, each regex once.

    Args:
        tokenizer: The model's Hugging Face tokenizer.
        vocab_size: The model's output vocabulary (``config.vocab_size``; may exceed the tokenizer's).
        stop_token_ids: The tokens that end a reply (the backend's end-of-sequence ids).

    Examples:
        >>> compiler = GrammarCompiler(tokenizer, vocab_size=model.config.vocab_size, stop_token_ids=[2])  # doctest: +SKIP
        >>> grammar = compiler.compile(r"(yes|no)")  # doctest: +SKIP
        >>> compiler.compiled  # doctest: +SKIP
        1
    """

    def __init__(self, tokenizer: Any, *, vocab_size: int, stop_token_ids: Sequence[int]):
        xgr = _xgrammar()
        self.stop_token_ids = list(stop_token_ids)
        self.info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=self.stop_token_ids or None
        )
        self._compiler = xgr.GrammarCompiler(self.info, max_threads=max(1, min(8, os.cpu_count() or 1)))
        self._cache: OrderedDict[str, Any] = OrderedDict()
        #: Regexes compiled so far (cache misses) and the seconds spent compiling them (counters for benchmarks).
        self.compiled = 0
        self.compile_seconds = 0.0
        #: Seconds spent inside :class:`GrammarLogitsProcessor` calls (advancing matchers and masking logits).
        self.mask_seconds = 0.0

    def compile(self, regex: str):
        """The compiled grammar of ``regex`` (from the cache when it was compiled before).

        Raises:
            ConfigError: ``regex`` is not a regular expression xgrammar accepts.
        """
        cache = self._cache
        if regex in cache:
            cache.move_to_end(regex)
            return cache[regex]
        start = time.perf_counter()
        try:
            grammar = self._compiler.compile_regex(relax_bounds(regex))
        except Exception as exc:
            raise ConfigError(f"cannot compile the constraint {regex[:80]!r}: {type(exc).__name__}: {exc}") from exc
        self.compiled += 1
        self.compile_seconds += time.perf_counter() - start
        cache[regex] = grammar
        while len(cache) > _GRAMMAR_CACHE_SIZE:
            cache.popitem(last=False)
        return grammar


class GrammarLogitsProcessor(LogitsProcessor):
    """A ``transformers`` logits processor that keeps each row of a batch inside its own grammar.

    Made for one ``generate`` call (it tracks the tokens of that call): build a new one per call.

    Args:
        grammars: One compiled grammar per batch row, or ``None`` for a free row.
        compiler: The :class:`GrammarCompiler` that compiled them (for the vocabulary and the stop tokens).
    """

    def __init__(self, grammars: Sequence[Any | None], compiler: GrammarCompiler):
        xgr = _xgrammar()
        self._xgr = xgr
        self._compiler = compiler
        stop = compiler.stop_token_ids or None
        self.matchers = [None if g is None else xgr.GrammarMatcher(g, override_stop_tokens=stop) for g in grammars]
        self.rows = [b for b, m in enumerate(self.matchers) if m is not None]
        self.bitmask = xgr.allocate_token_bitmask(len(self.matchers), compiler.info.vocab_size)
        self._started = False
        #: Rows whose token the grammar refused (possible only when another processor forced a token); they are
        #: decoded freely from then on and the parser decides.
        self.lost: set[int] = set()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        start = time.perf_counter()
        try:
            return self._mask(input_ids, scores)
        finally:
            self._compiler.mask_seconds += time.perf_counter() - start

    def _mask(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._started:
            last = input_ids[:, -1].tolist()
            for b in self.rows:
                matcher = self.matchers[b]
                if b in self.lost or matcher.is_terminated():
                    continue
                if not matcher.accept_token(last[b]):
                    logger.warning("row %d left its grammar (token %d); decoding it freely", b, last[b])
                    self.lost.add(b)
        self._started = True
        active = [b for b in self.rows if b not in self.lost and not self.matchers[b].is_terminated()]
        if not active:
            return scores
        for b in active:
            self.matchers[b].fill_next_token_bitmask(self.bitmask, b)
        device = scores.device
        masked = scores if device.type in ("cpu", "cuda") else scores.cpu()
        bitmask = self.bitmask if masked.device.type == "cpu" else self.bitmask.to(masked.device, non_blocking=True)
        self._xgr.apply_token_bitmask_inplace(masked, bitmask, indices=active)
        return masked if masked is scores else masked.to(device)
