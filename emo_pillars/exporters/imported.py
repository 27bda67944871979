"""A self-describing copy of a checkpoint: ``emo-pillars import-model``.

A published checkpoint may not say in its config how to use it (the paper's released models name their outputs
``LABEL_k`` or GoEmotions ids). :func:`import_model` loads it as :class:`~emo_pillars.modeling.EmoPillarsClassifier`
does (the registry of :mod:`emo_pillars.modeling.published`, or labels the caller names) and writes a copy whose
``config.json`` holds the class names in output order, the problem type, the threshold, the input format and the
max length. ``transformers.pipeline("text-classification", model=copy, top_k=None)`` then gives the right labels
with no library code. A short ``README.md`` records where each fact came from.

The copy is written to a temporary sibling and swapped in whole (:func:`emo_pillars.utils.io.replace_directory`), so
an existing folder is never left half-written. A folder without room for the weights (their exact size, from the
loaded model: :func:`~emo_pillars.modeling.saving.weights_needed`) is refused before anything is written; a
write the file system refuses later is one :class:`~emo_pillars.errors.WriteError` naming the file.

Examples:
    >>> from emo_pillars.exporters.imported import import_model
    >>> import_model("alex-shvets/roberta-large-emopillars-contextless", "emopillars-contextless")  # doctest: +SKIP
    PosixPath('emopillars-contextless')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..modeling.classifier import EmoPillarsClassifier
from ..modeling.published import published_model
from ..modeling.saving import naming_weights, weights_needed
from ..utils.io import atomic_write_text, check_space, staged_folder

__all__ = ["import_model"]


def import_model(
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    labels: Sequence[str] | None = None,
    overwrite: bool = False,
    revision: str | None = None,
    token: str | None = None,
    trust_remote_code: bool = False,
) -> Path:
    """Write a self-describing copy of a model folder or Hub checkpoint.

    Args:
        source: A model folder or a Hub id.
        output_dir: The folder to write.
        labels: Class names in output order, for a checkpoint that names none and that the registry does not know.
        overwrite: Replace an existing, non-empty ``output_dir``.
        revision: Hub revision.
        token: Hub token.
        trust_remote_code: Allow custom code in the checkpoint.

    Returns:
        ``output_dir``.

    Raises:
        InputError: ``output_dir`` is a file, or exists and is not empty without ``overwrite``.
        ConfigError: Labels that cannot be read (see :meth:`EmoPillarsClassifier.from_pretrained`).
        WriteError: No room for the weights (refused before writing), or a write the file system refused;
            ``output_dir`` is as it was.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError("the output must be a folder, and this is a file", path=output_dir)
    if output_dir.exists() and any(output_dir.iterdir()) and not overwrite:
        raise InputError("the folder exists and is not empty (pass overwrite=True / --overwrite)", path=output_dir)
    classifier = EmoPillarsClassifier.from_pretrained(
        source, revision=revision, token=token, device="cpu", trust_remote_code=trust_remote_code, labels=labels
    )
    weights, need = weights_needed(classifier.model)
    check_space(output_dir / weights, need)
    with staged_folder(output_dir) as staging, naming_weights(staging / weights):
        classifier.save_pretrained(staging)
        atomic_write_text(staging / "README.md", _card(os.fspath(source), classifier))
    return output_dir


def _card(source: str, classifier: EmoPillarsClassifier) -> str:
    """A short card: what the copy is, how to use it, and where each fact came from."""
    entry = published_model(source) if not Path(source).exists() else None
    settings = classifier.settings
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags:",
        "- emo-pillars",
        "---",
        "",
        f"# {Path(source).name if Path(source).exists() else source} (self-describing copy)",
        "",
        f"Written by `emo-pillars import-model` from `{source}`. Its `config.json` names the classes in output "
        "order and holds the problem type, threshold, input format and max length, so `transformers.pipeline` "
        "needs no other code:",
        "",
        "```python",
        "from transformers import pipeline",
        'pipe = pipeline("text-classification", model="path/to/this/folder", top_k=None)',
        "```",
        "",
        "| fact | value | source |",
        "|---|---|---|",
    ]
    sources = entry.sources if entry else {}
    facts = {
        "labels": ", ".join(classifier.labels[:4]) + ", ...",
        "problem_type": classifier.label_space.problem_type,
        "input_format": classifier.input_format,
        "input_template": classifier.input_template,
        "max_length": classifier.max_length,
        "threshold": settings.get("threshold", 0.5),
    }
    for fact, value in facts.items():
        if value is not None:
            where = sources.get(
                fact, "the checkpoint's config" if fact != "labels" else "the checkpoint or the caller"
            )
            lines.append(f"| {fact} | `{value}` | {where} |")
    if entry and entry.unknown:
        lines += ["", "Not established:", "", *(f"- {item}" for item in entry.unknown)]
    return "\n".join(lines) + "\n"
