"""The work behind ``emo-pillars finetune``: fine-tune a model on a downstream benchmark under its protocol.

:func:`finetune_main` loads a task's official files (:mod:`emo_pillars.tasks`), turns the rows into what
:class:`~emo_pillars.training.EmoPillarsTrainer` trains on (columns ``utterance``, ``context``, ``character`` and
``labels`` as lists of class indices), trains following the task's protocol, scores the test data with
:meth:`Task.compute_metrics`, writes ``eval_results.json`` and a model card that states the protocol beside the
number, and optionally pushes the folder to the Hub.

Two heads:

* ``head="emo28"`` (default): the 28-class multi-label head, trained on ``emo28_labels`` (the task labels mapped
  into the 28 classes by :attr:`Task.label_map`). Test predictions are mapped back with
  :meth:`Task.scores_from_emo28`: ``argmax`` for single-label tasks; for GoEmotions (multi-label) the scores are cut
  at the global threshold tuned on the validation split (0.5 when there is none). The saved model is a regular
  emo-pillars model (``EmoPillarsClassifier`` loads it).
* ``head="task"``: one output per task label, trained by the same :class:`EmoPillarsTrainer` with the task's label
  space: softmax and cross-entropy for single-label tasks (prediction: the ``argmax``), sigmoid and BCE for
  multi-label ones. The saved model has the task's ``id2label`` and ``problem_type``; ``EmoPillarsClassifier``
  and ``transformers.pipeline`` load it and return the task's labels.

Protocols: ISEAR has no official split, so it is evaluated with stratified k-fold cross-validation (``folds``,
default 5) and reported as mean +- std over folds (:meth:`Task.aggregate`); the saved weights are those of the
last fold. Each finished fold's metrics are written to the run's work folder (``.<output>.work/folds/fold-<i>.json``),
so ``resume=True`` starts at the first unfinished fold (and inside it, at its last checkpoint). ``fold=i`` trains
and records fold ``i`` only, so folds 1 to k-1 can run in parallel processes (one per core or GPU); a final run with
``resume=True`` trains the last fold, whose weights are saved, and aggregates. Each fold is locked while it trains,
and the work folder records the run's options (``run.json``): a resume or a fold run with other options is refused
rather than mixed into the same figure. The other tasks use their official train / validation / test splits.

Examples:
    >>> finetune_main("isear", "isear.csv", "roberta-base", "out", folds=5)  # doctest: +SKIP
    >>> # folds in parallel: fold=1 ... fold=4 in four processes, then
    >>> finetune_main("isear", "isear.csv", "roberta-base", "out", folds=5, resume=True)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..errors import ConfigError
from ..modeling.card import EmoPillarsModelCardData, resolve_base_model
from ..modeling.loading import check_model_folder
from ..training.args import EmoPillarsTrainingArguments
from ..training.run import fit, save_and_push
from ..training.trainer import last_checkpoint
from ..utils.io import OutputLock, atomic_write_json, atomic_write_text
from .base import Task, format_mean_std
from .fixtures import is_synthetic_sample
from .registry import get_task

__all__ = ["finetune_main", "HEADS", "to_training_rows", "protocol_section", "recipe_options"]

#: The heads :func:`finetune_main` can train.
HEADS = ("emo28", "task")


def to_training_rows(task: Task, dataset: Any, head: str = "emo28") -> Any:
    """Task rows -> trainer rows: ``utterance``, ``context``, ``character`` and ``labels`` (lists of indices).

    Args:
        task: The task the rows come from.
        dataset: A ``datasets.Dataset`` with the task columns.
        head: ``"emo28"`` (labels from ``emo28_labels``) or ``"task"`` (the task label as a one-element list, or
            the multi-label ``labels`` list).
    """
    import datasets

    if head == "emo28":
        labels = [list(map(int, row)) for row in dataset["emo28_labels"]]
    elif task.multi_label:
        labels = [list(map(int, row)) for row in dataset["labels"]]
    else:
        labels = [[int(label)] for label in dataset["label"]]
    return datasets.Dataset.from_dict(
        {
            "utterance": list(dataset["text"]),
            "context": list(dataset["context"]),
            "character": list(dataset["character"]),
            "labels": labels,
        },
        features=datasets.Features(
            {
                "utterance": datasets.Value("string"),
                "context": datasets.Value("string"),
                "character": datasets.Value("string"),
                "labels": datasets.List(datasets.Value("int64")),
            }
        ),
    )


def train_and_predict(
    task: Task,
    head: str,
    model: str,
    splits: dict[str, Any],
    options: dict[str, Any],
    card_data: Any,
    resume: bool = False,
    trust_remote_code: bool = False,
) -> tuple[dict[str, float], Any]:
    """Train on ``splits["train"]`` (tuning thresholds on ``splits.get("validation")``), score ``splits["test"]``.

    Args:
        task: The task the splits come from.
        head: ``"emo28"`` or ``"task"``.
        model: The base encoder (folder or Hub id).
        splits: ``train``, ``test`` and optionally ``validation`` parts of the task's data.
        options: :class:`~emo_pillars.training.EmoPillarsTrainingArguments` fields.
        card_data: The model card data the trainer fills.
        resume: Continue from the last checkpoint in ``options["output_dir"]``.
        trust_remote_code: Allow custom model code.

    Returns:
        The task's metrics on ``test``, and the trainer.
    """
    train = to_training_rows(task, splits["train"], head)
    validation = to_training_rows(task, splits["validation"], head) if splits.get("validation") is not None else None
    test = to_training_rows(task, splits["test"], head)
    args = EmoPillarsTrainingArguments(**options)
    labels = {} if head == "emo28" else {"label_names": list(task.label_names), "multi_label": task.multi_label}
    resume_from = last_checkpoint(args.output_dir) if resume else None
    trainer = fit(model, args, train, validation, card_data, resume_from=resume_from,
                  trust_remote_code=trust_remote_code, **labels)  # fmt: skip
    trainer.evaluate_thresholds(test)  # the model's own figures for the card
    probs, _ = trainer.predict_proba(test)
    scores = task.scores_from_emo28(probs) if head == "emo28" else np.asarray(probs)
    gold = splits["test"][task.label_column]
    if task.multi_label:
        threshold = trainer.threshold_result.global_threshold if trainer.threshold_result is not None else 0.5
        metrics = task.compute_metrics(gold, (scores >= threshold).astype(np.int64))
        metrics["threshold"] = float(threshold)
    else:
        metrics = task.compute_metrics(gold, scores.argmax(axis=1).tolist())
    return metrics, trainer


#: The file in a run's work folder that records the run's options (see :func:`_check_run_record`).
RUN_RECORD = "run.json"
#: Training options that change no figure (logging, saving, the Hub), left out of the record; so is any token.
NEUTRAL_OPTIONS = ("logging_", "save_", "hub_", "dataloader_", "disable_tqdm", "report_to", "push_to_hub",
                   "per_device_eval_batch_size")  # fmt: skip


def _check_run_record(work: Path, run: dict[str, Any]) -> None:
    """Write ``run`` to the work folder, or refuse when the folder holds the work of a run with other options.

    A resumed run, and a ``fold`` run beside others, reuses the folds and checkpoints already in the work folder;
    mixing folds trained with other options (another learning rate, seed or model) into one mean would be a figure
    of no recipe, so the options must match the ones recorded there.
    """
    options = {
        name: value for name, value in run["options"].items()
        if not name.startswith(NEUTRAL_OPTIONS) and "token" not in name
    }  # fmt: skip
    run = json.loads(json.dumps({**run, "options": options}, default=str))
    path = work / RUN_RECORD
    if path.is_file():
        recorded = json.loads(path.read_text(encoding="utf-8"))
        names = sorted(set(recorded) | set(run))
        options = sorted(
            name for name in set(recorded.get("options", {})) | set(run["options"])
            if recorded.get("options", {}).get(name) != run["options"].get(name)
        )  # fmt: skip
        differ = [name for name in names if name != "options" and recorded.get(name) != run.get(name)] + options
        if differ:
            raise ConfigError(
                f"{work} holds the work of a run with other options ({', '.join(differ)} differ): give the same "
                "options to resume it, or run without resume to start over"
            )
        return
    atomic_write_json(path, run)


#: The recipe values the card lists.
RECIPE_FIELDS = (
    "head", "max_length", "learning_rate", "head_learning_rate", "num_train_epochs", "per_device_train_batch_size",
    "pos_weight", "layer_lr_decay", "label_smoothing_factor", "weight_averaging", "rdrop_alpha", "threshold_policy",
)  # fmt: skip


def recipe_options(task: Task, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's recipe under what the user gave: ``(options, record)``.

    Args:
        task: The task, whose :attr:`~emo_pillars.tasks.base.Task.recipe` supplies the defaults.
        given: Options the user set (``head`` and training arguments); they win over the recipe.

    Returns:
        The merged options, and the record written to ``eval_results.json`` and the card: the recipe's values,
        how they were chosen, and which of them the user overrode.

    Examples:
        >>> from emo_pillars.tasks import get_task
        >>> options, record = recipe_options(get_task("isear"), {"learning_rate": 5e-5})
        >>> options["head"], options["learning_rate"], record["overridden"]
        ('task', 5e-05, ['learning_rate'])
    """
    recipe = task.recipe
    defaults = {"head": recipe.head, **recipe.training_options()}
    options = {**defaults, **given}
    overridden = sorted(name for name in defaults if name in given and given[name] != defaults[name])
    record = {**recipe.to_dict(), "overridden": overridden}
    return options, record


def protocol_section(results: dict[str, Any]) -> str:
    """The ``## Evaluation protocol`` Markdown section of the model card, from ``eval_results.json``'s content."""
    lines = ["## Evaluation protocol", ""]
    value = results["value_text"]
    if results.get("synthetic_sample"):
        lines.append(f"**Synthetic sample, not {results['task']}**: {results['metric']} = {value} "
                     f"({results['protocol_run']}) on a synthetic sample written in the {results['task']} files' "
                     "layout; this is not a benchmark result.")  # fmt: skip
    else:
        lines.append(f"**{results['task']}**: {results['metric']} = **{value}** ({results['protocol_run']}).")
    lines.append("")
    if results.get("protocol"):
        lines.append(
            f"{'The official protocol, followed on the sample' if results.get('synthetic_sample') else 'Official protocol'}: {results['protocol']}"
        )
        lines.append("")
    sizes = ", ".join(f"{split} {n}" for split, n in results["split_sizes"].items())
    lines += [
        f"- head: `{results['head']}`"
        + (" (28-class scores mapped to task labels)" if results["head"] == "emo28" else ""),
        f"- split sizes: {sizes}",
        f"- epochs: {results['epochs']}"
        + (f", max steps: {results['max_steps']}" if results.get("max_steps") else ""),
        f"- seed: {results['seed']}",
    ]
    if results.get("threshold") is not None:
        lines.append(f"- threshold (tuned on validation): {results['threshold']:.2f}")
    if results.get("folds"):
        lines.append(f"- the saved weights are those of fold {results['folds']} of {results['folds']}")
    recipe = results.get("recipe")
    if recipe:
        values = ", ".join(f"{name} {recipe[name]}" for name in RECIPE_FIELDS if recipe.get(name) is not None)
        lines += ["", f"**Recipe** (the {results['task']} defaults): {values}."]
        if recipe.get("chosen_by"):
            lines.append(f"How they were chosen: {recipe['chosen_by']}")
        if recipe.get("overridden"):
            lines.append(f"Overridden in this run: {', '.join(recipe['overridden'])}.")
    lines += ["", "| label | F1 |", "|---|---|"]
    lines += [f"| {label} | {f1:.4f} |" for label, f1 in results["per_class_f1"].items()]
    return "\n".join(lines) + "\n"


def finetune_main(  # noqa: PLR0913 - a public entry point: one keyword per command option
    task: str | Task,
    data: str | os.PathLike,
    model: str | os.PathLike,
    output: str | os.PathLike,
    head: str | None = None,
    epochs: float | None = None,
    folds: int | None = None,
    fold: int | None = None,
    lora: bool = False,
    push_to_hub: str | None = None,
    max_steps: int | None = None,
    seed: int = 42,
    stream: TextIO | None = None,
    task_options: dict[str, Any] | None = None,
    resume: bool = False,
    trust_remote_code: bool = False,
    **training_kwargs: Any,
) -> dict[str, Any]:
    """Fine-tune ``model`` on a downstream task under its protocol, evaluate, save and (optionally) push.

    Every option is checked before the data or the model loads. The final folder (model, card,
    ``eval_results.json``) is written to a temporary sibling and renamed into place.

    Args:
        task: A task name (see :data:`emo_pillars.tasks.TASKS`) or a :class:`Task`.
        data: The benchmark's official files (folder or file), or a Hub id where the task has one.
        model: The base encoder, or an emo-pillars model to fine-tune further (Hub id or folder).
        output: Where the model, its card and ``eval_results.json`` go.
        head: ``"emo28"`` (28-class head on ``emo28_labels``) or ``"task"`` (one output per task label); default:
            the task's recipe.
        epochs: Training epochs (default: the task's recipe, else the trainer's).
        folds: Cross-validation folds for tasks without an official split (ISEAR; default 5). Refused for others.
        fold: Train and record only this fold (1 to ``folds`` - 1) in the run's work folder, and save no model; a
            later run with ``resume=True`` uses the record. Folds can so run in parallel processes.
        lora: Train LoRA adapters and merge them into the saved model.
        push_to_hub: A Hub repository id to upload the output folder to.
        max_steps: Stop each training run after this many steps (quick checks).
        seed: Random seed (training and folds).
        stream: Where the summary goes (default: stdout).
        task_options: Options for :func:`~emo_pillars.tasks.get_task` (e.g. ``{"ways": 6}`` for IEMOCAP).
        resume: Continue an interrupted run: finished folds are kept, the rest resume from their checkpoints.
        trust_remote_code: Allow custom code in the model folder.
        **training_kwargs: Further :class:`~emo_pillars.training.EmoPillarsTrainingArguments` fields; they win over
            the task's recipe (:attr:`Task.recipe`, see :mod:`emo_pillars.tasks.recipe`).

    Returns:
        The content of ``eval_results.json``: ``task``, ``metric``, ``value`` (mean over folds under CV), ``std``
        (CV only), ``protocol``, ``protocol_run``, ``split_sizes``, ``seed``, ``head``, ``epochs``, ``per_class_f1``,
        ``metrics`` (all metrics; under CV ``{name: {"mean", "std", "values"}}``) and more.
    """
    stream = stream or sys.stdout
    choices = {"head": head, "epochs": epochs, "folds": folds, "fold": fold, "lora": lora, "max_steps": max_steps,
               "seed": seed, "task_options": task_options, "resume": resume}  # fmt: skip
    plan = _plan_run(task, os.fspath(model), output, choices, training_kwargs)
    check_model_folder(plan.model, trust_remote_code)
    if plan.work.exists() and not plan.keep:
        shutil.rmtree(plan.work)
    _check_run_record(plan.work, plan.record(data))
    loaded = plan.task.load(data)
    card = _card_factory(plan, data, push_to_hub)
    run = {"resume": resume, "trust_remote_code": trust_remote_code}
    if plan.k is not None:
        fold_sets = plan.task.folds(loaded, k=plan.k, seed=seed)
        fold_metrics, trainer = _run_folds(plan, fold_sets, card, run, stream)
        if plan.fold is not None:
            return _fold_record(plan, fold_metrics[0], stream)
        results = _cross_validated_results(plan, fold_sets, fold_metrics)
    else:
        trainer, results = _run_official_split(plan, loaded, card, run)
    results = _complete_results(plan, results, trainer, data)
    url = _save(plan, trainer, results, push_to_hub)
    print(f"{plan.task.name}: {plan.task.metric_name} = {results['value_text']} ({results['protocol_run']})",
          file=stream)  # fmt: skip
    print(f"Model and eval_results.json saved to {plan.output}", file=stream)
    if url:
        print(f"Pushed to {push_to_hub}: {url}", file=stream)
    return results


@dataclass
class _Plan:
    """A fine-tuning run, checked before anything loads: the task, head, folds, training options, folders."""

    task: Task
    model: str
    head: str
    k: int | None
    fold: int | None
    seed: int
    lora: bool
    max_steps: int | None
    options: dict[str, Any]
    recipe_record: dict[str, Any]
    output: Path
    work: Path
    keep: bool

    def record(self, data: str | os.PathLike) -> dict[str, Any]:
        """What the work folder records of this run (:func:`_check_run_record`)."""
        where = {name: os.path.abspath(path) if os.path.exists(path) else os.fspath(path) for name, path in
                 (("data", data), ("model", self.model))}  # fmt: skip
        return {"task": self.task.name, **where, "head": self.head, "folds": self.k, "seed": self.seed,
                "options": self.options}  # fmt: skip


def _plan_run(
    task: str | Task, model: str, output: str | os.PathLike, choices: dict[str, Any], training_kwargs: dict[str, Any]
) -> _Plan:
    """Check every option and merge the task's recipe under the user's values.

    ``choices`` holds :func:`finetune_main`'s own options: ``head``, ``epochs``, ``folds``, ``fold``, ``lora``,
    ``max_steps``, ``seed``, ``task_options`` and ``resume``.
    """

    head, epochs, folds, fold = choices["head"], choices["epochs"], choices["folds"], choices["fold"]
    lora, max_steps, seed = choices["lora"], choices["max_steps"], choices["seed"]
    task_options, resume = choices["task_options"], choices["resume"]

    if head is not None and head not in HEADS:
        raise ConfigError(f"head must be one of {HEADS}, got {head!r}")
    task_obj = task if isinstance(task, Task) else get_task(task, **(task_options or {}))
    given = dict(training_kwargs)
    if head is not None:
        given["head"] = head
    if epochs is not None:
        given["num_train_epochs"] = epochs
    merged, recipe_record = recipe_options(task_obj, given)
    head = merged.pop("head")
    if head not in HEADS:
        raise ConfigError(f"head must be one of {HEADS}, got {head!r}")
    k = _check_folds(task_obj, folds, fold)
    output = Path(output)
    work = output.with_name(f".{output.name}.work")  # checkpoints and finished folds of this run
    options: dict[str, Any] = {"output_dir": os.fspath(work), "input_format": task_obj.input_format, "seed": seed}
    if max_steps is not None:
        options["max_steps"] = max_steps
    options.update(merged)
    if lora:
        options.update(lora=True, merge_lora=True)
    if head == "task" and not task_obj.multi_label:
        options.setdefault("pos_weight", "none")
    EmoPillarsTrainingArguments(**options)  # every number is checked before the data and the model load
    keep = resume or fold is not None  # finished folds and checkpoints of the work folder are reused
    return _Plan(task_obj, model, head, k, fold, seed, lora, max_steps, options, recipe_record, output, work, keep)


def _check_folds(task: Task, folds: int | None, fold: int | None) -> int | None:
    """The number of folds of a cross-validated task (``None`` for one with official splits)."""
    official = f"the {task.name} protocol uses its official splits; {{}} applies to cross-validated tasks (isear)"
    if folds is not None and not task.cross_validated:
        raise ConfigError(official.format("folds"))
    if fold is not None and not task.cross_validated:
        raise ConfigError(official.format("fold"))
    k = (folds if folds is not None else 5) if task.cross_validated else None
    if k is not None and k < 2:
        raise ConfigError(f"folds must be at least 2, got {k}")
    if fold is not None and (isinstance(fold, bool) or not isinstance(fold, int) or not 1 <= fold < k):
        raise ConfigError(
            f"fold must be 1 to {k - 1}, got {fold!r}: the last fold is trained by the final run (resume=True), "
            "whose weights are saved"
        )
    return k


def _card_factory(plan: _Plan, data: str | os.PathLike, push_to_hub: str | None) -> Callable[[], Any]:
    """A fresh model card data object per training run (each fold fills its own)."""
    task = plan.task
    dataset_id = os.fspath(data) if not os.path.exists(data) else None
    synthetic = is_synthetic_sample(data) if os.path.exists(data) else False
    base_model = resolve_base_model(plan.model)

    def card() -> EmoPillarsModelCardData:
        return EmoPillarsModelCardData(
            base_model=base_model, dataset_id=dataset_id or task.hub_id, dataset_name=task.name,
            dataset_config=task.input_format, model_id=push_to_hub, task_name=task.name,
            task_description=task.description or None, limitations=list(task.limitations), synthetic_sample=synthetic,
        )  # fmt: skip

    return card


def _run_folds(
    plan: _Plan, fold_sets: list[Any], card: Callable[[], Any], run: dict[str, Any], stream: TextIO
) -> tuple[list[dict[str, Any]], Any]:
    """Train and score each fold (or the one ``plan.fold``), reusing folds recorded by earlier or parallel runs."""
    task, k = plan.task, plan.k
    fold_metrics, trainer = [], None
    for i, part in enumerate(fold_sets, start=1):
        if plan.fold is not None and i != plan.fold:
            continue
        record = plan.work / "folds" / f"fold-{i}.json"
        if i < k and plan.keep and record.is_file():
            metrics = json.loads(record.read_text(encoding="utf-8"))
            print(f"fold {i}/{k}: {task.metric_name} {metrics[task.metric_name]:.4f} (finished before)", file=stream)
            fold_metrics.append(metrics)
            continue
        fold_dir = plan.work / f"fold-{i}"
        hint = "another process is training this fold; wait for it to finish, then run again with resume"
        with OutputLock(fold_dir, hint=hint):
            if i < k and record.is_file():  # another process finished it while this one waited for the lock
                metrics = json.loads(record.read_text(encoding="utf-8"))
            else:
                fold_options = {**plan.options, "output_dir": os.fspath(fold_dir)}
                splits = {"train": part["train"], "test": part["test"]}
                metrics, trainer = train_and_predict(task, plan.head, plan.model, splits, fold_options, card(), **run)
                atomic_write_json(record, metrics)
        fold_metrics.append(metrics)
        print(f"fold {i}/{k}: {task.metric_name} {metrics[task.metric_name]:.4f}", file=stream)
    return fold_metrics, trainer


def _fold_record(plan: _Plan, metrics: dict[str, Any], stream: TextIO) -> dict[str, Any]:
    """What a ``fold=i`` run returns: its fold's metrics, recorded in the work folder."""
    print(f"fold {plan.fold}/{plan.k} recorded in {plan.work}: run again with resume (the same options) to train "
          f"fold {plan.k} and write {plan.output}", file=stream)  # fmt: skip
    return {
        "task": plan.task.name, "metric": plan.task.metric_name, "fold": plan.fold, "folds": plan.k,
        "value": metrics[plan.task.metric_name], "metrics": metrics, "work": os.fspath(plan.work),
    }  # fmt: skip


def _cross_validated_results(plan: _Plan, fold_sets: list[Any], fold_metrics: list[dict[str, Any]]) -> dict:
    """The mean +- std over folds, as ``eval_results.json`` reports it."""
    task = plan.task
    aggregate = task.aggregate(fold_metrics)
    headline = aggregate[task.metric_name]
    return {
        "value": headline["mean"], "std": headline["std"], "value_text": format_mean_std(headline),
        "protocol_run": f"stratified {plan.k}-fold cross-validation, mean +- std over folds",
        "split_sizes": {"total": sum(len(f["test"]) for f in fold_sets), "train_per_fold": len(fold_sets[0]["train"])},
        "folds": plan.k, "fold_values": headline["values"],
        "per_class_f1": {name: aggregate[f"f1_{name}"]["mean"] for name in task.label_names}, "metrics": aggregate,
    }  # fmt: skip


def _run_official_split(plan: _Plan, loaded: Any, card: Callable[[], Any], run: dict[str, Any]) -> tuple[Any, dict]:
    """Train on the official train split (thresholds on validation), score test."""
    task = plan.task
    missing = [split for split in ("train", "test") if split not in loaded]
    if missing:
        raise ConfigError(f"the {task.name} data has no {missing} split(s) (splits: {list(loaded)})")
    metrics, trainer = train_and_predict(task, plan.head, plan.model, dict(loaded), plan.options, card(), **run)
    threshold = metrics.get("threshold") if task.multi_label else None
    protocol_run = f"{task.split_name}, scored on test"
    if threshold is not None:
        protocol_run += f" at the global threshold tuned on validation ({threshold:.2f})"
    return trainer, {
        "value": metrics[task.metric_name], "value_text": f"{metrics[task.metric_name]:.4f}",
        "protocol_run": protocol_run, "split_sizes": {split: len(loaded[split]) for split in loaded}, "folds": None,
        "per_class_f1": {name: metrics[f"f1_{name}"] for name in task.label_names}, "metrics": metrics,
        "threshold": threshold,
    }  # fmt: skip


def _complete_results(plan: _Plan, results: dict[str, Any], trainer: Any, data: str | os.PathLike) -> dict:
    """``eval_results.json``: the figures, then the protocol, the run's settings and the recipe."""
    task = plan.task
    synthetic = is_synthetic_sample(data) if os.path.exists(data) else False
    threshold = results.pop("threshold", None)
    complete = {"task": task.name, "metric": task.metric_name, **results}
    complete.update(
        protocol=task.protocol, seed=plan.seed, head=plan.head, epochs=float(trainer.args.num_train_epochs),
        max_steps=plan.max_steps, threshold=threshold, model=plan.model, lora=plan.lora, synthetic_sample=synthetic,
        recipe=plan.recipe_record,
    )  # fmt: skip
    if synthetic:
        complete["note"] = (
            f"trained and scored on a synthetic sample in the {task.name} layout (write_sample_files), not on "
            f"{task.name}: the figures show that the run works, they are not {task.name} results"
        )
    return complete


def _save(plan: _Plan, trainer: Any, results: dict[str, Any], push_to_hub: str | None) -> str | None:
    """The final folder (the last trainer's model and card, ``eval_results.json``, the protocol section), pushed."""

    def add_results(folder: Path) -> None:
        atomic_write_json(folder / "eval_results.json", results)
        readme = folder / "README.md"
        existing = readme.read_text(encoding="utf-8") if readme.is_file() else ""
        atomic_write_text(readme, existing.rstrip("\n") + "\n\n" + protocol_section(results))

    url = save_and_push(trainer, plan.output, push_to_hub, before_replace=add_results)
    shutil.rmtree(plan.work, ignore_errors=True)
    return url
