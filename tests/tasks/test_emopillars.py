"""The Emo Pillars task: both layouts, the grouped split, bad files, and `evaluate` of a trained model on it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ holds tiny_models.py

from emo_pillars.errors import ConfigError, InputError  # noqa: E402
from emo_pillars.tasks import get_task  # noqa: E402
from emo_pillars.tasks.emopillars import near_duplicate_groups  # noqa: E402
from emo_pillars.taxonomy import EMOTIONS  # noqa: E402

HEADER = "text," + ",".join(str(i) for i in range(28))
STEMS = [
    "The storm took the roof of the mill",
    "Marta finally came home from the war",
    "Nobody told me the bridge had fallen",
    "The prince lied to the whole court",
    "I found the letter my father hid",
    "We won the harvest fair at last",
    "The dragon sleeps under our village",
    "My brother sold the family horse",
    "The captain smiled at me today",
    "Our ship is stuck in the ice again",
]


def _row(text: str, labels: list[int]) -> str:
    cells = ["1" if i in labels else "0" for i in range(28)]
    quoted = f'"{text}"' if "," in text else text
    return ",".join([quoted, *cells])


def write_sample(path: Path, copies: int = 3) -> Path:
    """A CSV in the sample's layout: each stem several times with tiny edits (near-identical texts)."""
    lines = [HEADER]
    for i, stem in enumerate(STEMS):
        for k in range(copies):
            text = [stem + "!", stem.lower() + ".", stem + " ..."][k % 3]
            lines.append(_row(text, [i % 28, (i + 5) % 28]))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def test_sample_layout_is_split_by_group(tmp_path: Path) -> None:
    task = get_task("emopillars")
    data = task.load(write_sample(tmp_path / "sample.csv", copies=3))
    assert set(data) == {"train", "validation", "test"}
    assert sum(len(data[s]) for s in data) == 30
    groups = {s: set(data[s]["group"]) for s in data}
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["validation"]
    assert not groups["validation"] & groups["test"]
    assert len(set().union(*groups.values())) == len(STEMS)  # the three edits of a stem are one group
    first = data["train"][0]
    assert first["labels"] == first["emo28_labels"] and first["id"].startswith("line-")
    # The same file and seed give the same split; a folder holding the CSV loads too.
    again = task.load(tmp_path)
    assert again["test"]["id"] == data["test"]["id"]


def test_near_duplicate_groups_join_transitively_and_keep_distinct_texts_apart() -> None:
    groups = near_duplicate_groups(
        ["The sea is calm tonight.", "the sea is calm tonight!", "A wolf howled.", "A wolf howled"]
    )
    assert groups.tolist() == [0, 0, 1, 1]
    assert len(set(near_duplicate_groups(STEMS).tolist())) == len(STEMS)


def test_release_layout(tmp_path: Path) -> None:
    folder = tmp_path / "EmoPillars" / "context-less"
    folder.mkdir(parents=True)
    for name, n in (("train.jsonl", 4), ("dev.jsonl", 2), ("test.jsonl", 2)):
        rows = [{"plot_id": f"p{i}", "utterance": f"{STEMS[i]}.", "labels": [i, 27]} for i in range(n)]
        (folder / name).write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    data = get_task("emopillars").load(tmp_path / "EmoPillars")
    assert {s: len(d) for s, d in data.items()} == {"train": 4, "validation": 2, "test": 2}
    assert data["test"][1]["labels"] == [1, 27] and data["test"][1]["id"] == "p1-2"
    (folder / "dev.jsonl").write_text('{"plot_id": "p", "utterance": "x", "labels": [28]}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"dev\.jsonl:1: field 'labels'"):
        get_task("emopillars").load(folder)


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ("text,0,1\nhello,1,0\n", r"bad\.csv:1: .*header"),
        (
            HEADER + "\n" + _row("fine", [1]) + "\n" + _row("bad", [2]).replace(",1,", ",2,") + "\n",
            r"bad\.csv:3: field '2'",
        ),
        (HEADER + "\n" + _row("no label", []) + "\n", r"bad\.csv:2: no label"),
        (HEADER + "\n" + _row("short", [0]).rsplit(",", 1)[0] + "\n", r"bad\.csv:2: expected 29 fields"),
        (HEADER + "\n" + _row(" ", [0]) + "\n", r"bad\.csv:2: field 'text'"),
    ],
)
def test_bad_sample_files_are_one_line(tmp_path: Path, body: str, pattern: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=pattern):
        get_task("emopillars").load(path)


def test_real_sample_loads_with_no_group_across_splits(shared_data: Path) -> None:
    source = shared_data / "emopillars"
    if not (source / "context_less_sample.csv").is_file():
        pytest.skip("../shared/data/emopillars is absent")
    data = get_task("emopillars").load(source)
    assert sum(len(d) for d in data.values()) == 2150
    groups = {s: set(d["group"]) for s, d in data.items()}
    assert not groups["train"] & groups["test"] and not groups["validation"] & groups["test"]
    assert len(data["test"]) > 350
    texts = [t.lower() for t in data["train"]["text"]]
    assert not set(texts) & {t.lower() for t in data["test"]["text"]}  # the 15 repeated texts stay together


def _tiny_classifier(folder: Path, threshold: float = 0.5) -> Path:
    from tiny_models import build_tiny_bert
    from transformers import AutoModelForSequenceClassification

    base = build_tiny_bert(folder)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=28,
        id2label=dict(enumerate(EMOTIONS)),
        label2id={e: i for i, e in enumerate(EMOTIONS)},
        problem_type="multi_label_classification",
    )
    model.config.emo_pillars = {"threshold": threshold, "input_format": "context_less", "max_length": 32}
    model.save_pretrained(base)
    return base


def test_evaluate_scores_a_trained_model_on_the_teacher_labels(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from emo_pillars.tasks.evaluate import evaluate_main

    model = _tiny_classifier(tmp_path / "model", threshold=0.0)  # every label on: recall 1 everywhere
    (tmp_path / "data").mkdir()
    sample = write_sample(tmp_path / "data" / "sample.csv")
    out = tmp_path / "figures.json"
    stream = io.StringIO()
    result = evaluate_main("emopillars", sample.parent, model, split="all", output=out, stream=stream)
    assert result["examples"] == 30 and result["split"] == "all"
    # Every label predicted: each gold label's F1 is 2p/(p+1) with p its share of rows.
    assert result["metrics"]["f1_admiration"] == pytest.approx(2 * (3 / 30) / (3 / 30 + 1))
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert "emopillars: macro_f1 = " in stream.getvalue() and "no training on this data" in stream.getvalue()
    test_only = evaluate_main("emopillars", sample.parent, model, stream=io.StringIO())
    assert test_only["split"] == "test" and test_only["examples"] < 30
    with pytest.raises(ConfigError, match="split must be one of"):
        evaluate_main("emopillars", sample.parent, model, split="dev", stream=io.StringIO())
    with pytest.raises(ConfigError, match=r"threshold must be in \[0, 1\]"):
        evaluate_main("emopillars", sample.parent, model, threshold=1.5, stream=io.StringIO())


def test_cli_evaluate_bad_input_is_one_line(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "sample.csv")
    for extra, message in (
        (["--task", "nope", "--model", str(tmp_path)], "--task must be one of"),
        (["--task", "emopillars", "--model", str(tmp_path / "missing")], "missing"),
        (["--task", "emopillars", "--model", str(tmp_path), "--threshold", "nan"], "threshold must be in"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "emo_pillars", "evaluate", "--data", str(sample), *extra],
            capture_output=True,
            text=True,
        )
        assert proc.returncode != 0, extra
        assert "Traceback" not in proc.stderr and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
