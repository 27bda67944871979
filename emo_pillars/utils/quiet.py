"""Quiet by default: third-party loading noise is silenced while the library loads, saves or exports a model.

Loading a checkpoint prints transformers' "Loading weights" and "Writing model shards" bars and its load report
("classifier.weight | MISSING ... Consider training on your downstream task", which is expected for a new head);
a GGUF teacher adds a conversion bar, ``datasets.map`` a "Tokenizing" bar per split, and the ONNX exporter torch's
registration lines and warnings about its own internals. None of it is something a user can act on. Inside
:func:`quiet` these are off; the library's own bars (plots, steps, texts) and its summary stay.

Verbose mode brings everything back: ``--verbose`` on the command line, or in Python the usual
``logging.getLogger("emo_pillars").setLevel(logging.DEBUG)`` (:func:`is_verbose`).

Examples:
    >>> with quiet():
    ...     pass  # load, save or export here
    >>> is_verbose()
    False
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

__all__ = ["LIBRARY_LOGGER", "is_verbose", "set_verbose", "quiet"]

#: The logger of the whole library; at DEBUG, nothing is silenced.
LIBRARY_LOGGER = "emo_pillars"
#: Third-party loggers whose info and warnings are loading noise (errors still show).
NOISY_LOGGERS = ("transformers", "torch.onnx", "torch._dynamo", "torch.export", "onnxscript", "accelerate")
#: Warnings third-party code raises about its own internals while we load or export: (category, message regex).
KNOWN_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
    (UserWarning, r"# The axis name: .* will not be used"),
    (UserWarning, r"Exporting a model .* opset"),
)


def is_verbose() -> bool:
    """Whether the library logs at DEBUG (``--verbose``): then no third-party output is silenced."""
    return logging.getLogger(LIBRARY_LOGGER).isEnabledFor(logging.DEBUG)


def set_verbose(verbose: bool = True) -> None:
    """Log the library at DEBUG to stderr (``--verbose``), or back to the default (warnings only)."""
    logger = logging.getLogger(LIBRARY_LOGGER)
    logger.setLevel(logging.DEBUG if verbose else logging.NOTSET)
    ours = [h for h in logger.handlers if getattr(h, "_emo_pillars", False)]
    if not verbose:
        for handler in ours:
            logger.removeHandler(handler)
    elif not ours:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._emo_pillars = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


@contextlib.contextmanager
def _quiet_loggers() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def _no_library_bars() -> Iterator[None]:
    """transformers' own tqdm (loading, shard writing), huggingface_hub's and datasets' bars, where imported."""
    undo = []
    hf_logging = sys.modules.get("transformers.utils.logging")
    if hf_logging is None:
        with contextlib.suppress(ImportError):
            from transformers.utils import logging as hf_logging
    if hf_logging is not None and hf_logging.is_progress_bar_enabled():
        hf_logging.disable_progress_bar()
        undo.append(hf_logging.enable_progress_bar)
    for module in ("huggingface_hub.utils", "datasets.utils"):
        utils = sys.modules.get(module)
        if utils is not None and not utils.are_progress_bars_disabled():
            utils.disable_progress_bars()
            undo.append(utils.enable_progress_bars)
    try:
        yield
    finally:
        for enable in undo:
            enable()


@contextlib.contextmanager
def quiet(stderr: bool = False, always: bool = False) -> Iterator[None]:
    """Silence third-party loading noise for the duration, unless :func:`is_verbose`.

    Args:
        stderr: Also send ``sys.stderr`` to ``os.devnull`` (for bare ``tqdm`` bars no switch reaches, such as
            transformers' GGUF conversion; exceptions still surface, and logging handlers keep their own stream).
        always: Silence even in verbose mode.
    """
    if is_verbose() and not always:
        yield
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        for category, message in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        stack.enter_context(_quiet_loggers())
        stack.enter_context(_no_library_bars())
        if stderr:
            sink = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115 - closed by the stack
            stack.enter_context(contextlib.redirect_stderr(sink))
        yield
