"""``emo-pillars generate``: synthesise emotion examples from narratives with an LLM (the six-stage pipeline)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..generation import EmoPillarsGenerator, GenerationConfig
from ..generation.config import parse_token_budgets
from .checks import check_output_folder, positive_int, refuse_without

NAME = "generate"
HELP = "Synthesise emotion examples from narratives with an LLM (the six-stage pipeline)."
#: What a write refused by the file system leaves (the end of its one error line).
KEPT = "every finished call is in the reply cache; run the same command again to resume"


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars generate``; local-model and server options default to ``None`` so that a
    run can tell an option the user gave from its default."""
    _corpus_options(p)
    _model_options(p)
    _stage_options(p)
    p.add_argument("--quiet", action="store_true", help="No progress bars (weight-loading bars included).")


def _corpus_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--narratives", default=None, metavar="PATH", help="Plots: folder of .txt, .txt, .jsonl or .csv "
                   "(default: the bundled demo corpus).")  # fmt: skip
    p.add_argument("--text-column", default="text", help="Text column of a JSONL/CSV corpus (default: text).")
    p.add_argument("--output", required=True, metavar="DIR", help="Output folder (also holds the resume cache).")
    p.add_argument("--max-plots", type=positive_int, default=None, metavar="N", help="Read at most N plots.")
    p.add_argument("--max-characters", type=positive_int, default=None, metavar="N",
                   help="Keep at most N characters a plot.")  # fmt: skip
    p.add_argument("--shard", default=None, metavar="I/N", help="Make shard I of N of the narratives (0-based), "
                   "one per machine; join the shards with emo-pillars merge.")  # fmt: skip
    p.add_argument("--chunk-size", type=positive_int, default=16, metavar="N", help="Plots that flow through all "
                   "stages together; each finished chunk's examples are appended to the output files (16).")  # fmt: skip
    p.add_argument("--max-plot-tokens", type=positive_int, default=2048, metavar="N", help="Cut longer synopses to "
                   "N tokens (2048; lower when the model's context window needs it).")  # fmt: skip


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, metavar="ID_OR_PATH", help="Hub id, model folder or .gguf file "
                   "(default: the packaged SmolLM2-135M-Instruct); with --server-url, the served model's name.")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N", help="Most prompts per generate "
                   "call (default: no count limit; --max-batch-tokens decides).")  # fmt: skip
    local = p.add_argument_group("local models (not with --server-url)")
    local.add_argument("--gguf-file", default=None, help="GGUF file name inside the --model folder.")
    local.add_argument("--dtype", default=None, help="Model dtype: auto (default), float32, bfloat16, float16.")
    local.add_argument("--device", default=None, help="Device: auto (default), cpu, cuda, cuda:1, mps ...")
    local.add_argument("--max-batch-tokens", type=positive_int, default=None, metavar="N", help="Token budget of "
                       "a batch (rows x (longest prompt + new tokens)); batches are length-bucketed (32768).")  # fmt: skip
    local.add_argument("--no-prefix-cache", action="store_true", help="Encode every prompt in full instead of "
                       "reusing the key/value cache of shared prompt prefixes.")  # fmt: skip
    local.add_argument("--peer-timeout", type=positive_int, default=None, metavar="SECONDS", help="Under accelerate "
                       "launch: how long a process waits for the others before the run stops (1800).")  # fmt: skip
    server = p.add_argument_group("OpenAI-compatible servers (with --server-url)")
    server.add_argument("--server-url", default=None, action="append", metavar="URL_OR_FILE", help="OpenAI-"
                        "compatible server (vLLM, SGLang, TGI, transformers serve) to use instead of a local model. "
                        "Repeat it, or give a file with one URL per line, for one run over several servers: each "
                        "plot's calls go to one server, and a server that fails is left out.")  # fmt: skip
    server.add_argument("--max-concurrency", type=positive_int, default=None,
                        help="Concurrent requests per server (8).")  # fmt: skip
    server.add_argument("--server-prefill", action="store_true", help="The server continues a final assistant "
                        "message (vLLM, SGLang); otherwise the reply's start is asked for in the prompt.")  # fmt: skip
    server.add_argument("--structured-outputs", default=None, choices=["auto", "on", "off"], help="Send each "
                        "reply's shape as structured-output parameters (on), never (off), or when the server says "
                        "it is vLLM or SGLang (auto, the default).")  # fmt: skip


def _stage_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--taxonomy", default=None, metavar="NAME|FILE", help="The label set: goemotions (default, the "
                   "28 classes), ekman, plutchik, isear, or a .yaml/.json file (see emo-pillars taxonomy show).")  # fmt: skip
    p.add_argument("--keep-repetitions", action="store_true", help="Keep utterances that repeat a three-word run "
                   "three times or more (dropped by default).")  # fmt: skip
    p.add_argument("--label-threshold", type=float, default=0.3, help="Score that makes an emotion a label (0.3).")
    p.add_argument("--label-mode", default="generate", choices=["generate", "score"], help="Stage 3: the paper's "
                   "generated list (generate) or one forward pass scoring every label (score; local models).")  # fmt: skip
    p.add_argument("--no-calibration", action="store_true", help="--label-mode score: rank the raw emotion "
                   "probabilities, without dividing by those of a content-free utterance.")  # fmt: skip
    p.add_argument("--no-constrained", action="store_true", help="The paper's free generation: no reply shapes "
                   "enforced while decoding, and the teacher chooses each utterance's emotion.")  # fmt: skip
    p.add_argument("--max-new-tokens", default="", metavar="STAGE=N,...", help="Per-stage reply budgets, e.g. "
                   "labels=60,context=120 (defaults: characters 300, utterances 500, labels 100, context 160, "
                   "context_cleaning 160, rewriting 80).")  # fmt: skip
    contextual = p.add_argument_group("contextual examples (with --contextual)")
    contextual.add_argument("--contextual", action="store_true", help="Also make contextual examples (stages 4-6).")
    contextual.add_argument("--contextual-fraction", type=float, default=None,
                            help="Share of examples given a context (1/3).")  # fmt: skip
    contextual.add_argument("--no-cleaning", action="store_true", help="Switch off stage 5 (context cleaning).")
    contextual.add_argument("--no-rewriting", action="store_true", help="Switch off stage 6 (rewriting).")


def check_options(args: argparse.Namespace) -> None:
    """Refuse options that mean nothing in the mode chosen, before any model loads."""
    check_output_folder(args.output)
    if args.server_url:
        refuse_without("a local model (not --server-url)", {
            "--gguf-file": args.gguf_file is not None, "--dtype": args.dtype is not None,
            "--device": args.device is not None, "--max-batch-tokens": args.max_batch_tokens is not None,
            "--no-prefix-cache": args.no_prefix_cache, "--label-mode score": args.label_mode == "score",
            "--peer-timeout": args.peer_timeout is not None,
        })  # fmt: skip
    else:
        refuse_without("--server-url", {
            "--max-concurrency": args.max_concurrency is not None, "--server-prefill": args.server_prefill,
            "--structured-outputs": args.structured_outputs is not None,
        })  # fmt: skip
    refuse_without("--contextual", {
        "--contextual-fraction": args.contextual_fraction is not None, "--no-cleaning": args.no_cleaning,
        "--no-rewriting": args.no_rewriting,
    } if not args.contextual else {})  # fmt: skip
    refuse_without("--label-mode score", {"--no-calibration": args.no_calibration and args.label_mode != "score"})


def server_urls(values: list[str] | None) -> list[str] | None:
    """The servers ``--server-url`` names: URLs, and files of URLs (one per line; blank lines and ``#`` comments
    are skipped). A file's line that is not a URL is refused with its file and line.

    Examples:
        >>> server_urls(["http://a:8000", "http://b:8000"])
        ['http://a:8000', 'http://b:8000']
    """
    if not values:
        return None
    urls: list[str] = []
    for value in values:
        if value.startswith(("http://", "https://")):
            urls.append(value)
            continue
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"--server-url {value!r} is neither an http(s) URL nor a file of URLs")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith(("http://", "https://")):
                raise InputError(f"not an http(s) URL: {line!r}", path=path, line=number)
            if line:
                urls.append(line)
    if not urls:
        raise ConfigError("--server-url names no server")
    return urls


def _shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must look like I/N (e.g. 0/4), got {text!r}") from None
    return index, count


def _config(args: argparse.Namespace) -> Any:

    stages: dict[str, dict] = {
        name: {"max_new_tokens": n} for name, n in parse_token_budgets(args.max_new_tokens).items()
    }
    if args.no_cleaning:
        stages.setdefault("context_cleaning", {})["enabled"] = False
    if args.no_rewriting:
        stages.setdefault("rewriting", {})["enabled"] = False
    shard_index, num_shards = _shard(args.shard)
    return GenerationConfig(
        **({"batch_size": args.batch_size} if args.batch_size else {}),
        **({"contextual_fraction": args.contextual_fraction} if args.contextual_fraction is not None else {}),
        stages=stages, shard_index=shard_index, num_shards=num_shards, contextual=args.contextual,
        max_plots=args.max_plots, max_characters=args.max_characters, label_threshold=args.label_threshold,
        label_mode=args.label_mode, calibrate=not args.no_calibration, constrained=not args.no_constrained,
        chunk_size=args.chunk_size, max_plot_tokens=args.max_plot_tokens, taxonomy=args.taxonomy,
        drop_repetitions=not args.keep_repetitions,
    )  # fmt: skip


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.server_url:
        structured = {"on": True, "off": False}.get(args.structured_outputs or "auto", "auto")
        return {"max_concurrency": args.max_concurrency or 8, "supports_prefill": args.server_prefill,
                "structured_outputs": structured}  # fmt: skip
    options = {"batch_size": args.batch_size, "dtype": args.dtype or "auto", "device": args.device or "auto",
               "max_batch_tokens": args.max_batch_tokens or 32768, "prefix_cache": not args.no_prefix_cache}  # fmt: skip
    if args.gguf_file:
        options["gguf_file"] = args.gguf_file
    if args.peer_timeout:
        options["peer_timeout"] = args.peer_timeout
    return options


def run(args: argparse.Namespace) -> int:
    """Check the options, run the pipeline, print its summary (the main process only)."""

    check_options(args)
    config = _config(args)
    urls = server_urls(args.server_url)
    generator = EmoPillarsGenerator(
        args.model, config, server_url=urls, show_progress=not args.quiet, **_backend_options(args)
    )
    try:
        result = generator.run(args.narratives, args.output, text_column=args.text_column)
    finally:
        if urls:  # the server connections, also when the run stops (a local model's ranks close on their own)
            generator.backend.close()
    if generator.backend.is_main_process:
        print(result.summary())
        if result.problem:
            print(f"emo-pillars: {result.problem}", file=sys.stderr)
            return 1
    return 0
