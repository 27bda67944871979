"""The ``emo-pillars`` command line.

Each sub-command lives in a small ``_cmd_*`` function that imports its heavy dependencies only when it runs, so
``emo-pillars --help`` starts fast. Errors raised on purpose (:class:`~emo_pillars.errors.EmoPillarsError`) are
printed as one line on stderr with exit status 2; nothing else is caught.

Examples:
    $ emo-pillars --version
    $ emo-pillars demo
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import ConfigError, EmoPillarsError

PROG = "emo-pillars"

Handler = Callable[[argparse.Namespace], int | None]
_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Handler, str]] = {}


def command(name: str, help: str):
    """Register a sub-command: the decorated function adds arguments; ``handler`` runs it."""

    def register(add_arguments: Callable[[argparse.ArgumentParser], None]):
        def bind(handler: Handler) -> Handler:
            _COMMANDS[name] = (add_arguments, handler, help)
            return handler

        add_arguments.run = bind  # type: ignore[attr-defined]
        return add_arguments

    return register


# --------------------------------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------------------------------
@command("demo", help="Run the main job end to end on embedded defaults (bundled corpus, packaged models).")
def _args_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default="demo_output", help="Folder for everything the demo writes.")
    p.add_argument("--max-plots", type=int, default=None, help="Plots to read from the demo corpus.")
    p.add_argument("--max-characters", type=int, default=None, help="Characters per plot.")
    p.add_argument("--skip-training", action="store_true", help="Stop after building the dataset.")


@_args_demo.run
def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(
        output_dir=args.output,
        max_plots=args.max_plots,
        max_characters=args.max_characters,
        skip_training=args.skip_training,
    )


# --------------------------------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------------------------------
@command("generate", help="Synthesise emotion examples from narratives with an LLM (the six-stage pipeline).")
def _args_generate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--narratives", default=None, metavar="PATH", help="Plots: folder of .txt, .txt, .jsonl or .csv "
                   "(default: the bundled demo corpus).")  # fmt: skip
    p.add_argument("--text-column", default="text", help="Text column of a JSONL/CSV corpus (default: text).")
    p.add_argument("--model", default=None, metavar="ID_OR_PATH", help="Hub id, model folder or .gguf file "
                   "(default: the packaged SmolLM2-135M-Instruct); with --server-url, the served model's name.")  # fmt: skip
    p.add_argument("--gguf-file", default=None, help="GGUF file name inside the --model folder.")
    p.add_argument("--server-url", default=None, metavar="URL", help="OpenAI-compatible server (vLLM, SGLang, TGI, "
                   "transformers serve) to use instead of a local model.")  # fmt: skip
    p.add_argument("--output", required=True, metavar="DIR", help="Output folder (also holds the resume cache).")
    p.add_argument("--contextual", action="store_true", help="Also make contextual examples (stages 4-6).")
    p.add_argument("--contextual-fraction", type=float, default=1 / 3, help="Share of examples given a context.")
    p.add_argument("--no-cleaning", action="store_true", help="Switch off stage 5 (context cleaning).")
    p.add_argument("--no-rewriting", action="store_true", help="Switch off stage 6 (rewriting).")
    p.add_argument("--max-plots", type=int, default=None, metavar="N", help="Read at most N plots.")
    p.add_argument("--max-characters", type=int, default=None, metavar="N", help="Keep at most N characters a plot.")
    p.add_argument("--shard", default=None, metavar="I/N", help="Make shard I of N of the narratives (0-based), "
                   "one per machine; the shards' JSONL files concatenate without id clashes.")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=None, metavar="N", help="Most prompts per generate call "
                   "(default: no count limit; --max-batch-tokens decides).")  # fmt: skip
    p.add_argument("--label-threshold", type=float, default=0.3, help="Score that makes an emotion a label (0.3).")
    p.add_argument("--dtype", default="auto", help="Model dtype for local models: auto, float32, bfloat16, float16.")
    p.add_argument("--device", default="auto", help="Device for local models: auto, cpu, cuda, cuda:1, mps ...")
    p.add_argument("--max-concurrency", type=int, default=8, help="Concurrent requests to --server-url (8).")
    p.add_argument("--label-mode", default="generate", choices=["generate", "score"], help="Stage 3: the paper's "
                   "generated list (generate) or one forward pass scoring all 28 emotions (score; local models).")  # fmt: skip
    p.add_argument("--max-batch-tokens", type=int, default=32768, metavar="N", help="Token budget of a batch "
                   "(rows x (longest prompt + new tokens)) for local models; batches are length-bucketed (32768).")  # fmt: skip
    p.add_argument("--no-prefix-cache", action="store_true", help="Local models: encode every prompt in full "
                   "instead of reusing the key/value cache of shared prompt prefixes.")  # fmt: skip
    p.add_argument("--server-prefill", action="store_true", help="The server continues a final assistant message "
                   "(vLLM, SGLang); otherwise the reply's start is asked for in the prompt.")  # fmt: skip
    p.add_argument("--structured-outputs", default="auto", choices=["auto", "on", "off"], help="--server-url: send "
                   "each reply's shape as structured-output parameters (on), never (off), or when the server says it is "
                   "vLLM or SGLang (auto).")  # fmt: skip
    p.add_argument("--no-constrained", action="store_true", help="The paper's free generation: no reply shapes "
                   "enforced while decoding, and the teacher chooses each utterance's emotion.")  # fmt: skip
    p.add_argument("--no-calibration", action="store_true", help="--label-mode score: rank the raw emotion "
                   "probabilities, without dividing by those of a content-free utterance.")  # fmt: skip
    p.add_argument("--max-new-tokens", default="", metavar="STAGE=N,...", help="Per-stage reply budgets, e.g. "
                   "labels=60,context=120 (defaults: characters 300, utterances 500, labels 100, context 160, "
                   "context_cleaning 160, rewriting 80).")  # fmt: skip
    p.add_argument("--chunk-size", type=int, default=16, metavar="N", help="Plots that flow through all stages "
                   "together; each finished chunk's examples are appended to the output files (16).")  # fmt: skip
    p.add_argument("--max-plot-tokens", type=int, default=2048, metavar="N", help="Cut longer synopses to N tokens "
                   "(2048; lower when the model's context window needs it).")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="No progress bars (weight-loading bars included).")


@_args_generate.run
def _cmd_generate(args: argparse.Namespace) -> int:
    from ..generation import EmoPillarsGenerator, GenerationConfig
    from ..generation.config import parse_token_budgets
    from ..generation.pipeline import check_output_dir

    check_output_dir(args.output)  # before any model loads
    stages: dict[str, dict] = {
        name: {"max_new_tokens": n} for name, n in parse_token_budgets(args.max_new_tokens).items()
    }
    if args.no_cleaning:
        stages.setdefault("context_cleaning", {})["enabled"] = False
    if args.no_rewriting:
        stages.setdefault("rewriting", {})["enabled"] = False
    shard_index, num_shards = 0, 1
    if args.shard:
        try:
            shard_index, num_shards = (int(part) for part in args.shard.split("/"))
        except ValueError:
            raise ConfigError(f"--shard must look like I/N (e.g. 0/4), got {args.shard!r}") from None
    config = GenerationConfig(
        **({"batch_size": args.batch_size} if args.batch_size else {}),
        stages=stages,
        shard_index=shard_index,
        num_shards=num_shards,
        contextual=args.contextual,
        contextual_fraction=args.contextual_fraction,
        max_plots=args.max_plots,
        max_characters=args.max_characters,
        label_threshold=args.label_threshold,
        label_mode=args.label_mode,
        calibrate=not args.no_calibration,
        constrained=not args.no_constrained,
        chunk_size=args.chunk_size,
        max_plot_tokens=args.max_plot_tokens,
    )
    if args.server_url:
        kwargs = {"max_concurrency": args.max_concurrency, "supports_prefill": args.server_prefill}
        kwargs["structured_outputs"] = {"on": True, "off": False}.get(args.structured_outputs, "auto")
    else:
        kwargs = {"batch_size": args.batch_size, "dtype": args.dtype, "device": args.device}
        kwargs.update(max_batch_tokens=args.max_batch_tokens, prefix_cache=not args.no_prefix_cache)
        if args.gguf_file:
            kwargs["gguf_file"] = args.gguf_file
    generator = EmoPillarsGenerator(
        args.model, config, server_url=args.server_url, show_progress=not args.quiet, **kwargs
    )
    result = generator.run(args.narratives, args.output, text_column=args.text_column)
    if generator.backend.is_main_process:
        print(result.summary())
        if result.problem:
            print(f"{PROG}: {result.problem}", file=sys.stderr)
            return 1
    return 0


# --------------------------------------------------------------------------------------------------------------------
# build-dataset / push-dataset
# --------------------------------------------------------------------------------------------------------------------
@command("build-dataset", help="Build the dataset repository (Parquet shards + card) from generator output.")
def _args_build_dataset(p: argparse.ArgumentParser) -> None:
    from .dataset import add_build_dataset_arguments

    add_build_dataset_arguments(p)


@_args_build_dataset.run
def _cmd_build_dataset(args: argparse.Namespace) -> int:
    from .dataset import run_build_dataset

    return run_build_dataset(args)


@command("push-dataset", help="Upload a built dataset repository to the Hugging Face Hub.")
def _args_push_dataset(p: argparse.ArgumentParser) -> None:
    from .dataset import add_push_dataset_arguments

    add_push_dataset_arguments(p)


@_args_push_dataset.run
def _cmd_push_dataset(args: argparse.Namespace) -> int:
    from .dataset import run_push_dataset

    return run_push_dataset(args)


# --------------------------------------------------------------------------------------------------------------------
# train / predict
# --------------------------------------------------------------------------------------------------------------------
class _LazyArgumentParser(argparse.ArgumentParser):
    """A sub-parser that adds its options when it first parses or prints help: ``train`` and ``finetune`` build
    theirs from ``TrainingArguments``, and other commands must not import ``transformers`` for that."""

    def _populate_once(self) -> None:
        populate = self.__dict__.pop("_populate", None)
        if populate is not None:
            populate(self)

    def parse_known_args(self, args=None, namespace=None):
        self._populate_once()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._populate_once()
        return super().format_help()

    def format_usage(self) -> str:
        self._populate_once()
        return super().format_usage()


def _lazy(p: argparse.ArgumentParser, populate: Callable[[argparse.ArgumentParser], None]) -> None:
    p.__class__ = _LazyArgumentParser
    p._populate = populate


@command("train", help="Train an encoder on an Emo Pillars dataset, tune thresholds, write the card (and push).")
def _args_train(p: argparse.ArgumentParser) -> None:
    def populate(parser: argparse.ArgumentParser) -> None:
        from .train import add_train_arguments

        add_train_arguments(parser)

    _lazy(p, populate)


@_args_train.run
def _cmd_train(args: argparse.Namespace) -> int:
    from .train import run_train

    return run_train(args)


@command("predict", help="Predict the emotions of utterances with a trained model.")
def _args_predict(p: argparse.ArgumentParser) -> None:
    from .predict import add_predict_arguments

    add_predict_arguments(p)


@_args_predict.run
def _cmd_predict(args: argparse.Namespace) -> int:
    from .predict import run_predict

    return run_predict(args)


# --------------------------------------------------------------------------------------------------------------------
# finetune
# --------------------------------------------------------------------------------------------------------------------
@command("finetune", help="Fine-tune on a downstream benchmark under its official protocol.")
def _args_finetune(p: argparse.ArgumentParser) -> None:
    def populate(parser: argparse.ArgumentParser) -> None:
        from .finetune import add_finetune_arguments

        add_finetune_arguments(parser)

    _lazy(p, populate)


@_args_finetune.run
def _cmd_finetune(args: argparse.Namespace) -> int:
    from .finetune import run_finetune

    return run_finetune(args)


# --------------------------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------------------------
@command("evaluate", help="Score a trained model on a task's data with the task's metric (no training).")
def _args_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="goemotions, isear, iemocap, emocontext or emopillars.")
    p.add_argument("--data", required=True, help="The task's files (folder or file) or a Hub id.")
    p.add_argument("--model", required=True, metavar="DIR_OR_REPO", help="A trained model (folder or Hub id).")
    p.add_argument("--split", default="test", help="The split to score, or 'all' (default: test).")
    p.add_argument("--threshold", default="global", help="Multi-label: global (the model's), per_label or a number.")
    p.add_argument("--batch-size", type=int, default=64, help="Inputs per forward pass (64).")
    p.add_argument("--output", default=None, metavar="FILE", help="Write the figures as JSON here.")
    p.add_argument("--trust-remote-code", action="store_true", help="Allow custom model code from the folder.")


@_args_evaluate.run
def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..tasks import TASK_CLASSES
    from ..tasks.evaluate import evaluate_main

    if args.task not in TASK_CLASSES:
        raise ConfigError(f"--task must be one of {sorted(TASK_CLASSES)}, got {args.task!r}")
    evaluate_main(
        args.task,
        args.data,
        args.model,
        split=args.split,
        output=args.output,
        threshold=args.threshold,
        batch_size=args.batch_size,
        trust_remote_code=args.trust_remote_code,
    )
    return 0


# --------------------------------------------------------------------------------------------------------------------
# app
# --------------------------------------------------------------------------------------------------------------------
@command("app", help="Open the app in a browser: try a model, and judge generated data (human evaluation).")
def _args_app(p: argparse.ArgumentParser) -> None:
    from .app import add_app_arguments

    add_app_arguments(p)


@_args_app.run
def _cmd_app(args: argparse.Namespace) -> int:
    from .app import run_app

    return run_app(args)


# --------------------------------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------------------------------
@command("export", help="Export a trained model to ONNX (optionally INT8) for fast CPU inference with onnxruntime.")
def _args_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="DIR_OR_REPO", help="Model folder or Hub id (safetensors).")
    p.add_argument("--output", required=True, metavar="DIR", help="Export folder (model.onnx, config, tokenizer).")
    p.add_argument("--quantize", default=None, choices=["int8"], help="Also write an INT8 model_quantized.onnx.")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (18).")
    p.add_argument("--overwrite", action="store_true", help="Replace an existing export folder.")
    p.add_argument("--trust-remote-code", action="store_true", help="Allow custom model code from the folder.")


@_args_export.run
def _cmd_export(args: argparse.Namespace) -> int:
    from ..exporters.onnx import export_onnx

    result = export_onnx(
        args.model,
        args.output,
        quantize=args.quantize,
        opset=args.opset,
        overwrite=args.overwrite,
        trust_remote_code=args.trust_remote_code,
    )
    for precision, figures in result.agreement.items():
        print(
            f"{precision}: {result.files[precision]}  max |score diff| {figures['max_abs_diff']:.2e}, "
            f"identical labels {figures['identical_labels']:.1%} of {figures['inputs']} check inputs"
        )
    return 0


# --------------------------------------------------------------------------------------------------------------------
# taxonomy
# --------------------------------------------------------------------------------------------------------------------
@command("taxonomy", help="Print the 28 classes with their definitions, or normalise emotion words.")
def _args_taxonomy(p: argparse.ArgumentParser) -> None:
    p.add_argument("words", nargs="*", help="Free-text emotion words to map to classes (none: list the classes).")


@_args_taxonomy.run
def _cmd_taxonomy(args: argparse.Namespace) -> int:
    from ..taxonomy import DEFINITIONS, EMOTIONS, emotion_to_ekman, emotion_to_sentiment, normalize_emotion

    if args.words:
        width = max(len(w) for w in args.words)
        for word in args.words:
            print(f"{word:<{width}}  ->  {normalize_emotion(word) or '(not an emotion)'}")
        return 0
    for i, name in enumerate(EMOTIONS):
        print(f"{i:>2}  {name:<15} {emotion_to_ekman(name):<9} {emotion_to_sentiment(name):<9}  {DEFINITIONS[name]}")
    return 0


# --------------------------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fine-grained, context-aware emotion data synthesis, datasets, training and inference.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add_arguments, handler, help_text) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(_handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``emo-pillars`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_handler", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args._handler(args) or 0)
    except EmoPillarsError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
