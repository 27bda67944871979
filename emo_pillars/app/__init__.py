"""The emo-pillars app: try a model in a browser, and run the paper's human evaluation of generated data.

Two tabs in one ``gradio.Blocks``: **Try** (an utterance, with an optional context and character, gives every
label's score, the thresholded emotions and, for 28-class models, the Ekman and sentiment roll-ups) and
**Evaluate** (judge a seeded sample of a generated dataset; label precision and Cohen's kappa). The same app runs
from the command line (``emo-pillars app --model DIR_OR_REPO``) and as a Gradio Space (the repository's
``app.py``). Gradio is imported only when an app is built; nothing here reaches the internet on its own (no
analytics, no share links), and a Hub id is fetched with a bounded wait (:mod:`emo_pillars.app.sources`).

Examples:
    >>> from emo_pillars.app import build_app  # doctest: +SKIP
    >>> demo = build_app(model="models/minilm-emopillars", dataset="outputs/run1")  # doctest: +SKIP
    >>> demo.launch(server_name="127.0.0.1")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import EmoPillarsError, InputError
from ..modeling.classifier import EmoPillarsClassifier
from .evaluate_tab import build_evaluate_tab
from .sources import resolve_source
from .try_tab import build_try_tab

__all__ = [
    "build_app",
    "launch",
    "load_classifier",
    "check_app_dependencies",
    "DEFAULT_MODEL",
    "DEFAULT_ANNOTATIONS_DIR",
]

#: The model ``app.py`` shows when ``EMO_PILLARS_MODEL`` is not set: the paper's context-less release.
DEFAULT_MODEL = "alex-shvets/roberta-large-emopillars-contextless"
#: Where annotations are saved unless told otherwise.
DEFAULT_ANNOTATIONS_DIR = "annotations"


def check_app_dependencies() -> None:
    """Refuse in one line, before anything loads, when the app's optional dependency (gradio) is missing.

    Raises:
        EmoPillarsError: gradio is not installed.
    """
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise EmoPillarsError('the app needs gradio: pip install "emo-pillars[app]"')


def _quiet_gradio() -> Any:
    """Import gradio with everything that would call out switched off (analytics and its version check)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import gradio
    except ImportError:
        raise EmoPillarsError('the app needs gradio: pip install "emo-pillars[app]"') from None
    return gradio


def load_classifier(model: str | os.PathLike, *, timeout: float | None = None) -> Any:
    """Load a classifier from a folder or a Hub id without blocking on the Hub.

    Raises:
        InputError: For a missing folder or one that holds no loadable model.
        HubError: For a Hub id that cannot be fetched (one line, after at most ``timeout`` seconds).
    """

    folder = resolve_source(model, "model", timeout=timeout)

    try:
        return EmoPillarsClassifier.from_pretrained(folder)
    except (OSError, ValueError) as error:
        if isinstance(error, EmoPillarsError):
            raise
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"{model}: cannot load a model from it ({reason[:200]})") from None


def build_app(
    model: Any = None,
    dataset: str | os.PathLike | None = None,
    *,
    annotations_dir: str | os.PathLike = DEFAULT_ANNOTATIONS_DIR,
    fail_fast: bool = True,
    title: str = "emo-pillars",
) -> Any:
    """Build the app (a ``gradio.Blocks``) with its Try and Evaluate tabs.

    Args:
        model: A folder, a Hub id or a loaded :class:`~emo_pillars.EmoPillarsClassifier` (``None``: Evaluate only).
        dataset: The dataset the Evaluate tab offers first: a generator output folder, a built repository or a
            Hub id (it loads when an annotator starts).
        annotations_dir: Where the annotators' JSONL files go.
        fail_fast: Raise when the model cannot be loaded (the CLI); otherwise the Try tab says why in one line
            (a Space).
        title: The page title.

    Returns:
        The ``gradio.Blocks``; call ``.launch()`` on it, or use :func:`launch`.

    Raises:
        EmoPillarsError: With ``fail_fast``, when the model cannot be loaded (one line).

    Examples:
        >>> demo = build_app("models/minilm-emopillars", annotations_dir="annotations")  # doctest: +SKIP
    """
    classifier, error, source = None, None, ""
    if model is None:
        error = "this app was started without a model"
    elif isinstance(model, str | os.PathLike):
        source = os.fspath(model)
        try:
            classifier = load_classifier(source)
        except EmoPillarsError as err:
            if fail_fast:
                raise
            error = str(err)
    else:
        classifier, source = model, str(getattr(model, "source_dir", None) or type(model).__name__)
    gr = _quiet_gradio()

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f"# {title}\nFine-grained, context-aware emotion classification (Emo Pillars).")
        with gr.Tabs():
            with gr.Tab("Try", id="try"):
                build_try_tab(gr, classifier, source, error)
            with gr.Tab("Evaluate", id="evaluate"):
                build_evaluate_tab(gr, annotations_dir, None if dataset is None else os.fspath(dataset))
    return demo


def launch(
    model: Any,
    dataset: str | os.PathLike | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    annotations_dir: str | os.PathLike = DEFAULT_ANNOTATIONS_DIR,
    **launch_kwargs: Any,
) -> Any:
    """Build the app and serve it (blocking unless ``prevent_thread_lock=True`` is passed).

    Share links, server-side rendering (it needs Node) and the API's MCP server stay off.

    Args:
        model: As for :func:`build_app`.
        dataset: As for :func:`build_app`.
        host: The address to listen on (``0.0.0.0`` for every interface).
        port: The port (default: gradio's first free one from 7860).
        annotations_dir: As for :func:`build_app`.
        **launch_kwargs: Passed to ``gradio.Blocks.launch``.
    """
    check_app_dependencies()
    demo = build_app(model, dataset, annotations_dir=annotations_dir)
    options = {"server_name": host, "server_port": port, "share": False, "ssr_mode": False, "mcp_server": False}
    options.update(launch_kwargs)
    # gradio's own lines include advice about public share links, which this app never makes: print the URL only.
    options.setdefault("quiet", True)
    blocking = not options.get("prevent_thread_lock", False)
    options["prevent_thread_lock"] = True
    demo.launch(**options)
    print(f"emo-pillars app: running on {demo.local_url} (Ctrl+C to stop)", flush=True)
    if blocking:
        demo.block_thread()
    return demo
