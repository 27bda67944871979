"""The card ``emo-pillars train`` writes follows Hub conventions: it passes huggingface_hub's card checks, carries
every element users expect, and names its repository after a push to the local Hub server."""

from __future__ import annotations

import re

import pytest
from card_checks import check_card_metadata, validate_and_push
from tiny_models import tiny_dataset_dict, write_repository

from emo_pillars.taxonomy import EMOTIONS
from emo_pillars.training.run import train_main

pytest.importorskip("torch")


def test_train_card_follows_hub_conventions(tmp_path, tiny_bert):
    (tiny_bert / "README.md").write_text("# tiny\n\n```python\nAutoModel.from_pretrained('org/tiny-bert')\n```\n")
    data = write_repository(tmp_path / "data", tiny_dataset_dict())
    out = tmp_path / "out"
    train_main(str(data), "context_less", str(tiny_bert), out, max_steps=12, per_device_train_batch_size=4,
               use_cpu=True, max_length=32, dataset_id="me/emo-pillars")  # fmt: skip
    meta, text = check_card_metadata(out)

    # YAML: the base model's Hub id (read from its folder's card), datasets, widget, pipeline tag, tags.
    assert meta["base_model"] == "org/tiny-bert" and meta["datasets"] == ["me/emo-pillars"]
    assert meta["pipeline_tag"] == "text-classification"
    assert {"emo-pillars", "text-classification", "generated_from_trainer"} <= set(meta["tags"])
    assert len(meta["widget"]) >= 2 and all(isinstance(w["text"], str) and w["text"] for w in meta["widget"])
    (result,) = meta["model-index"][0]["results"]
    assert result["dataset"] == {"name": "me/emo-pillars", "type": "me/emo-pillars", "config": "context_less",
                                 "split": "test"}  # fmt: skip

    # Macro-F1 over the labels present in test, with the label set stated.
    present = re.search(r"Macro-F1 averages the (\d+) labels present in the test data\n\((.*?);", text)
    assert present, text
    names = present.group(2).split(", ")
    assert int(present.group(1)) == len(names) < len(EMOTIONS)
    rows = re.findall(r"^\| (\w+) \| [\d.-]+ \| [\d.]+ \| [\d.]+ \| ([\d.]+) \| (\d+) \|$", text, re.M)
    per_label = {label: (float(f1), int(support)) for label, f1, support in rows}
    assert sorted(names) == sorted(label for label, (_, support) in per_label.items() if support > 0)
    macro = {m["name"]: m["value"] for m in result["metrics"]}["macro-f1 (per-label thresholds)"]
    assert macro == pytest.approx(sum(per_label[n][0] for n in names) / len(names), abs=2e-3)

    # Install line, label table with examples and counts, training-set statistics.
    assert "pip install -e ." in text and "not on PyPI yet" in text
    assert "| joy | 2 | “I can not believe you remembered my birthday!” / “I did it, I passed!” |" in text
    assert "| grief | 0 | - |" in text
    assert "10 training examples" in text and "Utterance length in words: min 3" in text

    # A loss table with at least 10 rows, and its plot (12 steps: logging_steps was lowered from 50 to 1).
    loss_table = text.split("### Training loss")[1].split("![Training loss]")[0]
    assert len(re.findall(r"^\| [\d.]+ \| \d+ \| [\d.]+ \|$", loss_table, re.M)) >= 10
    assert (out / "training_loss.png").stat().st_size > 0 and "![Training loss](training_loss.png)" in text
    assert "Synthetic, narrative-grounded data" in text  # Emo Pillars data carries its own limitations

    # Validated by the Hub server, and pushed: the snippets name the repository (the local folder is unchanged).
    files = validate_and_push(out, "me/tiny-emo", tmp_path / "hf")
    pushed = files["README.md"].decode()
    assert 'EmoPillarsClassifier.from_pretrained("me/tiny-emo")' in pushed
    assert 'model="me/tiny-emo"' in pushed and "path/to/model" not in pushed
    assert "path/to/model" in (out / "README.md").read_text()
    assert "model.safetensors" in files and "training_loss.png" in files


def test_a_local_dataset_folder_is_titled_by_its_card(tmp_path):
    from emo_pillars.training.run import _dataset_title

    data = write_repository(tmp_path / "my-folder", tiny_dataset_dict())
    assert _dataset_title(str(data), None) == "my-folder"  # no pretty_name: the folder's name
    card = (data / "README.md").read_text()
    (data / "README.md").write_text(card.replace("---\n", "---\npretty_name: Emo Pillars (sample)\n", 1))
    assert _dataset_title(str(data), "me/emo-pillars") == "Emo Pillars (sample)"
    assert _dataset_title("me/emo-pillars", "me/emo-pillars") == "me/emo-pillars"
