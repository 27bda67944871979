"""Continuation scoring: the :class:`Scoring` part of the backend. The K continuations are packed after the prompt
in one row; a block attention mask lets each see the prompt and its own earlier tokens only, so the prompt's keys
and values are computed once and shared by all K.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ....errors import ConfigError
from ..base import ChatPrompt, Completion

logger = logging.getLogger(__name__)


class Scoring:
    """Continuation scoring: the log-probability of K fixed continuations after each prompt, one pass per batch."""

    can_score = True

    def score(
        self,
        prompts: Sequence[ChatPrompt],
        continuations: Sequence[str],
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """Log-probability of each continuation right after each rendered prompt (chat template plus prefill).

        One forward pass per batch: the K continuations are packed after the prompt in the same row, and a block
        attention mask lets each of them see the prompt and its own earlier tokens only, so the prompt is encoded
        once for all K. With ``prefix_cache`` the prompts' shared prefix comes from the prefix cache. Continuations
        are tokenized on their own and appended to the prompt's tokens, so put a leading space in the continuation
        (``" joy"``), not at the end of the prefill.

        Args:
            prompts: N chat prompts (their constraints are ignored: scoring decodes nothing).
            continuations: K non-empty strings.
            on_progress: Called with the number of prompts just finished after each internal batch.

        Returns:
            One :class:`Completion` per prompt: ``scores`` holds the K summed log-probabilities (natural log),
            ``prompt_tokens`` the rendered prompt's length. A prompt that cannot be rendered or scored (or whose
            scores are not finite) gets ``finish_reason="error"`` and no scores.

        Raises:
            ConfigError: No continuations, or one that tokenizes to nothing.

        Examples:
            >>> reply = backend.score(  # doctest: +SKIP
            ...     [ChatPrompt.from_user("Is the sky blue? Answer yes or no.", prefill="Answer:")], [" yes", " no"]
            ... )[0]
            >>> len(reply.scores)  # doctest: +SKIP
            2
        """
        import math

        table, prompt_tokens, errors = self._score_table(prompts, continuations, on_progress)
        out = []
        for row, n_tokens, error in zip(table, prompt_tokens, errors):
            if error is None and not all(math.isfinite(x) for x in row):
                error = "non-finite log-probabilities"
            if error is None:
                out.append(Completion(text="", prompt_tokens=n_tokens, scores=[float(x) for x in row]))
            else:
                out.append(Completion(text="", prompt_tokens=n_tokens, finish_reason="error", error=error))
        return out

    def _score_table(
        self,
        prompts: Sequence[ChatPrompt],
        continuations: Sequence[str],
        on_progress: Callable[[int], None] | None,
    ) -> tuple[list[list[float]], list[int], list[str | None]]:
        """Per prompt: the K log-probabilities (NaN when it failed), its token count and its error."""
        if self.model is None:
            self.load()
        if not continuations:
            raise ConfigError("score needs at least one continuation")
        pieces = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        empty = [c for c, ids in zip(continuations, pieces) if not ids]
        if empty:
            raise ConfigError(f"continuations must not be empty after tokenization: {empty!r}")

        nan_row = [float("nan")] * len(pieces)
        scores = [nan_row] * len(prompts)
        prompt_tokens = [0] * len(prompts)
        errors: list[str | None] = [None] * len(prompts)
        encoded: dict[int, list[int]] = {}
        for i, prompt in enumerate(prompts):
            try:
                encoded[i] = self._encode(prompt)
                prompt_tokens[i] = len(encoded[i])
            except Exception as exc:
                errors[i] = f"cannot render the prompt: {exc}"

        packed = sum(len(p) for p in pieces)

        def work(order: list[int]) -> list[tuple[int, list[float]]]:
            out: list[tuple[int, list[float]]] = []
            flat, prefixes = self._plan(order, encoded)
            for batch in self._batches(flat, encoded, packed):
                rows, cuts = [encoded[i] for i in batch], [prefixes[i] for i in batch]
                out.extend(zip(batch, self._score_batch(rows, cuts, pieces)))
                self._report(len(batch), on_progress)
            return out

        for i, row in self._distribute(self._order(encoded), work):
            scores[i] = row
        return scores, prompt_tokens, errors

    def _score_batch(self, rows: list[list[int]], cuts: list[int], pieces: list[list[int]]) -> list[list[float]]:
        import torch

        try:
            return self._run_score(rows, cuts, pieces)
        except torch.OutOfMemoryError:
            if len(rows) == 1:
                logger.warning("out of memory scoring one prompt of %d tokens", len(rows[0]))
                return [[float("nan")] * len(pieces)]
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(rows) // 2
            return self._score_batch(rows[:half], cuts[:half], pieces) + self._score_batch(
                rows[half:], cuts[half:], pieces
            )
        except Exception:
            logger.warning("scoring failed for a batch of %d prompts", len(rows), exc_info=True)
            return [[float("nan")] * len(pieces) for _ in rows]

    def _run_score(self, rows: list[list[int]], cuts: list[int], pieces: list[list[int]]) -> list[list[float]]:
        """One forward pass over ``[prefix][pads][suffix][inputs of continuation 1]...[inputs of continuation K]``.

        A continuation's first token is predicted by the last suffix position, shared by all K; its token t > 0 by
        its token t - 1. So only the tokens that predict another one are fed (every token but the last of each
        continuation): a single-token continuation adds no input at all."""
        import torch

        model = self.model
        device = model.device
        cuts = self._cuts(rows, cuts)
        n_prefix = max(cuts)  # the cached area; row b's first cuts[b] columns are its prefix, the rest are masked
        width = max(len(row) - cut for row, cut in zip(rows, cuts))  # the suffix area, pads included
        fed = [p[:-1] for p in pieces]
        flat_in = [t for p in fed for t in p]
        n_in = len(flat_in)
        query = width + n_in

        # Per fed position: which continuation it belongs to and its offset in it.
        piece_of_in = torch.tensor([k for k, p in enumerate(fed) for _ in p], dtype=torch.long, device=device)
        offset_in = torch.tensor([t for p in fed for t in range(len(p))], dtype=torch.long, device=device)

        ids = torch.full((len(rows), query), self.tokenizer.pad_token_id, dtype=torch.long, device=device)
        positions = torch.zeros((len(rows), query), dtype=torch.long, device=device)
        real = torch.zeros((len(rows), query), dtype=torch.bool, device=device)  # not a pad
        for b, (row, cut) in enumerate(zip(rows, cuts)):
            suffix = row[cut:]
            start = width - len(suffix)
            ids[b, start:width] = torch.tensor(suffix, device=device)
            if n_in:
                ids[b, width:] = torch.tensor(flat_in, device=device)
                positions[b, width:] = len(row) + offset_in
            positions[b, start:width] = torch.arange(cut, len(row), device=device)
            real[b, start:] = True

        # Block mask over the query area: suffix tokens are causal among themselves; a fed continuation token sees
        # the whole suffix and the earlier tokens of its own continuation; pads are never seen. Every position sees
        # itself (keeps pad rows finite) and the cached prefix.
        segment = torch.cat([torch.full((width,), -1, dtype=torch.long, device=device), piece_of_in])
        index = torch.arange(query, device=device)
        causal = index[None, :] <= index[:, None]
        key_suffix = segment[None, :] == -1
        same_piece = (segment[:, None] == segment[None, :]) & (segment[:, None] >= 0)
        allowed = (key_suffix & ((segment[:, None] >= 0) | causal)) | (same_piece & causal)
        allowed = (allowed[None] & real[:, None, :]) | torch.eye(query, dtype=torch.bool, device=device)[None]
        if n_prefix:
            cached = torch.arange(n_prefix, device=device)[None, :] < torch.tensor(cuts, device=device)[:, None]
            allowed = torch.cat([cached[:, None, :].expand(-1, query, -1), allowed], 2)
        mask = torch.zeros(allowed.shape, dtype=model.dtype, device=device)
        mask.masked_fill_(~allowed, torch.finfo(model.dtype).min)

        # Logits at the last suffix position (kept row 0) and at every fed position (kept row 1 + j); the vocabulary
        # projection and softmax are skipped everywhere else.
        keep = torch.arange(width - 1, query, device=device)
        source, first_in = [], 0
        for inputs in fed:
            source += [0] + [1 + first_in + t for t in range(len(inputs))]
            first_in += len(inputs)
        targets = torch.tensor([t for p in pieces for t in p], device=device)
        piece_of = torch.tensor([k for k, p in enumerate(pieces) for _ in p], device=device)
        cache = self._batch_cache(rows, cuts) if n_prefix else None
        with torch.inference_mode():
            logits = model(
                input_ids=ids,
                attention_mask=mask[:, None],
                position_ids=positions,
                cache=cache,
                use_cache=False,
                logits_to_keep=keep,
            ).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)[:, torch.tensor(source, device=device)]
        token_logprobs = logprobs.gather(-1, targets.expand(len(rows), -1)[..., None])[..., 0]
        totals = torch.zeros((len(rows), len(pieces)), dtype=torch.float64, device=device)
        totals.index_add_(1, piece_of, token_logprobs.double())
        return totals.cpu().tolist()
