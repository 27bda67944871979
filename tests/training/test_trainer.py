"""EmoPillarsTrainer end to end on a tiny random BERT: train 2 steps, tune thresholds, save, reload, card, LoRA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import ModelCard

from emo_pillars.errors import ConfigError
from emo_pillars.modeling import EmoPillarsClassifier
from emo_pillars.modeling.inputs import pipeline_inputs
from emo_pillars.taxonomy import EMOTIONS
from emo_pillars.training import (
    EmoPillarsModelCardData,
    EmoPillarsTrainer,
    EmoPillarsTrainingArguments,
    load_training_dataset,
)


def make_args(output: Path, **kwargs) -> EmoPillarsTrainingArguments:
    values = {"max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1, "use_cpu": True, "seed": 0}
    return EmoPillarsTrainingArguments(output_dir=str(output), **(values | kwargs))


def _inputs(split, contextual: bool):
    if contextual:
        return split["utterance"], split["context"], split["character"]
    return split["utterance"], None, None


@pytest.mark.parametrize("input_format", ["context_less", "contextual", "contextual_text"])
def test_train_save_reload_with_classifier_and_pipeline(tiny_bert, tmp_path, input_format, request):
    from transformers import pipeline

    contextual = input_format != "context_less"
    data = request.getfixturevalue("contextual_data" if contextual else "context_less_data")
    output = tmp_path / "model"
    card_data = EmoPillarsModelCardData(
        model_id="me/tiny-emo",
        dataset_id="me/emo-pillars",
        dataset_config="contextual" if contextual else input_format,
    )
    trainer = EmoPillarsTrainer(
        model=str(tiny_bert),
        args=make_args(output, input_format=input_format),
        train_dataset=data,
        card_data=card_data,
    )
    trainer.train()
    assert trainer.state.global_step == 2
    tuned = trainer.threshold_result
    assert tuned is not None and len(tuned.per_label) == 28
    metrics = trainer.evaluate_thresholds(data["test"])
    assert set(metrics) == {"0.5", "global", "per_label"}
    trainer.save_model()

    files = {p.name for p in output.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md", "thresholds.png"} <= files
    assert "training_loss.png" in files
    config = json.loads((output / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert [config["id2label"][str(i)] for i in range(28)] == list(EMOTIONS)
    stored = config["emo_pillars"]
    assert stored["input_format"] == input_format
    assert stored.get("input_template") == ("{context} {utterance}" if input_format == "contextual_text" else None)
    assert stored["threshold"] == tuned.global_threshold
    assert [stored["thresholds"][e] for e in EMOTIONS] == tuned.per_label

    # Reload: EmoPillarsClassifier and a plain transformers pipeline give the same scores.
    classifier = EmoPillarsClassifier.from_pretrained(output, device="cpu")
    assert classifier.global_threshold == tuned.global_threshold
    assert classifier.thresholds.tolist() == tuned.per_label
    utterances, contexts, characters = _inputs(data["test"], contextual)
    probs = classifier.predict_proba(utterances, contexts, characters, batch_size=3)
    assert probs.shape == (10, 28)
    pipe = pipeline("text-classification", model=str(output), top_k=None, device="cpu")
    template = classifier.input_template
    outputs = pipe(pipeline_inputs(utterances, contexts, characters, template))
    pipe_probs = np.array([[{d["label"]: d["score"] for d in row}[e] for e in EMOTIONS] for row in outputs])
    np.testing.assert_allclose(probs, pipe_probs, atol=1e-5)
    # Scores also match the trained model in memory, so the saved weights are the trained ones.
    trained_probs, _ = trainer.predict_proba(data["test"])
    np.testing.assert_allclose(probs, trained_probs, atol=1e-5)
    # Default predictions use the stored per-label thresholds.
    predictions = classifier.predict(utterances, contexts, characters)
    for row, found in zip(probs, predictions):
        assert set(found) == {e for e, p, t in zip(EMOTIONS, row, tuned.per_label) if p >= t}

    # The card: valid YAML with the measured metrics as model-index, tables, usage, limitations, citation.
    card = ModelCard.load(output / "README.md")
    meta = card.data.to_dict()
    assert meta["pipeline_tag"] == "text-classification" and meta["datasets"] == ["me/emo-pillars"]
    results = meta["model-index"][0]["results"][0]
    values = {m["name"]: m["value"] for m in results["metrics"]}
    assert values["macro-f1 (per-label thresholds)"] == round(metrics["per_label"]["macro_f1"], 4)
    assert values["macro-f1 (threshold 0.5)"] == round(metrics["0.5"]["macro_f1"], 4)
    assert values["micro-f1 (global threshold)"] == round(metrics["global"]["micro_f1"], 4)
    assert results["dataset"]["config"] == ("contextual" if contextual else input_format)
    if input_format == "contextual_text":
        assert (
            'classifier("Mara had studied every night for a month, and the results were posted this morning. '
            'Mara: I actually did it!")' in card.text
        )
    yaml.safe_load(card.content.split("---")[1])
    text = card.text
    assert f"{metrics['per_label']['macro_f1']:.4f}" in text
    assert f"| joy | {tuned.per_label[EMOTIONS.index('joy')]:.2f} |" in text
    assert "![Per-label thresholds](thresholds.png)" in text and "![Training loss](training_loss.png)" in text
    assert 'pipeline("text-classification", model="me/tiny-emo", top_k=None)' in text
    assert 'EmoPillarsClassifier.from_pretrained("me/tiny-emo")' in text
    assert ("text_pair" in text) is (input_format == "contextual")
    assert "Synthetic, narrative-grounded data" in text and "Neutral is weak" in text and "English only" in text
    assert "2504.16856" in text and "Findings of the Association for Computational Linguistics: ACL 2025" in text
    assert "| learning_rate | 0.0002 |" in text


def test_head_learning_rate_pos_weight_bias_and_soft_targets(tiny_bert, tmp_path, context_less_data):
    args = make_args(tmp_path / "out", pos_weight="sqrt", targets="emotion_scores", head_learning_rate=5e-3)
    trainer = EmoPillarsTrainer(model=str(tiny_bert), args=args, train_dataset=context_less_data)
    optimizer = trainer.create_optimizer()
    lrs = {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            lrs[id(param)] = group["lr"]
    named = dict(trainer.model.named_parameters())
    assert lrs[id(named["classifier.weight"])] == 5e-3
    assert lrs[id(named["bert.pooler.dense.weight"])] == 5e-3
    assert lrs[id(named["bert.encoder.layer.0.attention.self.query.weight"])] == 2e-4
    assert id(named["bert.embeddings.word_embeddings.weight"]) not in lrs  # frozen by default
    # Positive weights: sqrt(neg/pos) from the 10 training rows, at least 1.
    joy = EMOTIONS.index("joy")  # 2 of 10 rows
    assert trainer._pos_weight[joy].item() == pytest.approx(2.0)
    # The classifier bias starts at the label log-odds.
    assert trainer.model.classifier.bias[joy].item() == pytest.approx(np.log(0.2 / 0.8), abs=1e-5)
    # Soft targets are the emotion_scores column.
    assert trainer.train_dataset[0]["labels"][EMOTIONS.index("surprise")] == pytest.approx(0.9)
    trainer.train()
    assert trainer.state.global_step == 2


def test_rare_pos_weight_lifts_only_labels_rarer_than_the_median():
    labels = np.zeros((100, 4))
    labels[:50, 0] = 1  # neg/pos 1
    labels[:20, 1] = 1  # 4
    labels[:10, 2] = 1  # 9
    labels[:2, 3] = 1  # 49
    args = EmoPillarsTrainingArguments(output_dir="unused", pos_weight="rare", use_cpu=True)
    weights = EmoPillarsTrainer._compute_pos_weight(labels, args).numpy()
    median = np.median([1, 4, 9, 49])  # 6.5
    np.testing.assert_allclose(weights, [1.0, 1.0, np.sqrt(9 / median), np.sqrt(49 / median)], rtol=1e-6)


def test_no_head_learning_rate_uses_one_learning_rate(tiny_bert, tmp_path, context_less_data):
    args = make_args(tmp_path / "out", head_learning_rate=None, freeze_embeddings=False, init_head_bias=False)
    trainer = EmoPillarsTrainer(model=str(tiny_bert), args=args, train_dataset=context_less_data)
    assert {g["lr"] for g in trainer.create_optimizer().param_groups} == {2e-4}
    assert trainer.model.bert.embeddings.word_embeddings.weight.requires_grad


def test_lora_trains_saves_reloads_and_merges(tiny_bert, tmp_path, context_less_data):
    from transformers import AutoModelForSequenceClassification

    output = tmp_path / "lora"
    args = make_args(output, lora=True, lora_r=4, lora_target_modules=["query", "value"])
    trainer = EmoPillarsTrainer(model=str(tiny_bert), args=args, train_dataset=context_less_data)
    trainer.train()
    trainer.save_model()
    files = {p.name for p in output.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "config.json", "README.md"} <= files
    assert "model.safetensors" not in files
    expected, _ = trainer.predict_proba(context_less_data["test"])
    classifier = EmoPillarsClassifier.from_pretrained(output, device="cpu")
    assert classifier.thresholds.tolist() == trainer.threshold_result.per_label
    np.testing.assert_allclose(classifier.predict_proba(context_less_data["test"]["utterance"]), expected, atol=1e-5)

    merged = trainer.merge_lora()
    assert not hasattr(merged, "peft_config")
    plain = tmp_path / "merged"
    trainer.save_model(str(plain))
    assert (plain / "model.safetensors").exists() and not (plain / "adapter_config.json").exists()
    reloaded = AutoModelForSequenceClassification.from_pretrained(plain)
    assert reloaded.config.emo_pillars["thresholds"] == dict(zip(EMOTIONS, trainer.threshold_result.per_label))
    trainer.processing_class.save_pretrained(plain)
    np.testing.assert_allclose(
        EmoPillarsClassifier.from_pretrained(plain, device="cpu").predict_proba(
            context_less_data["test"]["utterance"]
        ),
        expected,
        atol=1e-5,
    )


def test_merge_lora_option_saves_a_plain_checkpoint(tiny_bert, tmp_path, context_less_data):
    output = tmp_path / "merged"
    args = make_args(output, lora=True, merge_lora=True)
    trainer = EmoPillarsTrainer(model=str(tiny_bert), args=args, train_dataset=context_less_data)
    trainer.train()
    trainer.save_model()
    assert (output / "model.safetensors").exists() and not (output / "adapter_config.json").exists()


def test_single_token_type_encoder_gets_two_for_contextual_input(tiny_single_type_bert, tmp_path, contextual_data):
    output = tmp_path / "out"
    trainer = EmoPillarsTrainer(
        model=str(tiny_single_type_bert),
        args=make_args(output, input_format="contextual"),
        train_dataset=contextual_data,
    )
    assert trainer.model.config.type_vocab_size == 2
    assert 1 in trainer.train_dataset[0]["token_type_ids"]
    trainer.train()
    trainer.save_model()
    assert json.loads((output / "config.json").read_text())["type_vocab_size"] == 2
    EmoPillarsClassifier.from_pretrained(output, device="cpu").predict(["hi"], contexts=["a"], characters=["Tom"])


def test_dataset_folder_with_configs_loads(tmp_path, context_less_data):
    from tiny_models import write_repository

    folder = write_repository(tmp_path / "repo", context_less_data)
    loaded = load_training_dataset(str(folder), "context_less")
    assert (
        set(loaded) == {"train", "validation", "test"}
        and loaded["train"]["utterance"] == context_less_data["train"]["utterance"]
    )
    assert load_training_dataset(context_less_data) is context_less_data


def test_wrong_model_or_args_raise(tiny_bert, tmp_path):
    from transformers import AutoModelForSequenceClassification, TrainingArguments

    with pytest.raises(ConfigError):
        EmoPillarsTrainer(model=str(tiny_bert), args=TrainingArguments(output_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="3 outputs for 28 labels"):
        EmoPillarsTrainer(
            model=AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3),
            args=make_args(tmp_path),
            processing_class=object(),
        )
    torch.manual_seed(0)


def test_predictions_keep_row_order_under_group_by_length(tiny_bert, tmp_path, context_less_data):
    """``group_by_length`` speeds up training; predictions must still come back in the dataset's order."""
    test = context_less_data["test"]
    grouped = EmoPillarsTrainer(
        model=str(tiny_bert),
        args=make_args(tmp_path / "grouped", train_sampling_strategy="group_by_length", per_device_eval_batch_size=2),
        train_dataset=context_less_data["train"],
    )
    probs, _ = grouped.predict_proba(test)
    model = grouped.model.eval()
    tokenizer = grouped.processing_class
    with torch.no_grad():
        direct = [
            torch.sigmoid(model(**tokenizer(text, return_tensors="pt")).logits)[0].numpy()
            for text in test["utterance"]
        ]
    assert len({len(tokenizer(t)["input_ids"]) for t in test["utterance"]}) > 1  # lengths differ: order could change
    np.testing.assert_allclose(probs, np.stack(direct), atol=1e-5)


def test_final_save_replaces_the_previous_model_whole_or_not_at_all(tiny_bert, tmp_path, context_less_data):
    from safetensors.torch import load_file

    from emo_pillars.training import save_final_model

    output = tmp_path / "model"
    first = EmoPillarsTrainer(model=str(tiny_bert), args=make_args(output, seed=1), train_dataset=context_less_data)
    first.train()
    save_final_model(first, output)
    before = {p.name: p.read_bytes() for p in output.iterdir() if p.is_file()}

    second = EmoPillarsTrainer(model=str(tiny_bert), args=make_args(output, seed=2), train_dataset=context_less_data)
    second.train()

    def interrupted(folder: Path) -> None:
        assert (folder / "model.safetensors").is_file()  # the new weights are written, beside the new card ...
        raise KeyboardInterrupt  # ... when the save is cut short

    with pytest.raises(KeyboardInterrupt):
        save_final_model(second, output, before_replace=interrupted)
    assert {p.name: p.read_bytes() for p in output.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "model"]  # no temporary folder left behind

    save_final_model(second, output)
    new = load_file(output / "model.safetensors")
    assert (output / "model.safetensors").read_bytes() != before["model.safetensors"] and "classifier.weight" in new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "model"]


def test_single_label_head_trains_with_cross_entropy(tiny_bert, tmp_path, context_less_data):
    """Any label set: a 3-class single-label head (first label of each row mapped to 3 groups)."""
    import datasets

    groups = {"joy": "up", "gratitude": "up", "admiration": "up", "love": "up", "pride": "up", "surprise": "up"}
    rows = context_less_data["train"]
    names = rows.features["labels"].feature.names
    labels = [groups.get(names[row[0]], "down" if names[row[0]] != "neutral" else "flat") for row in rows["labels"]]
    data = datasets.Dataset.from_dict(
        {"utterance": rows["utterance"], "labels": labels},
        features=datasets.Features(
            {"utterance": datasets.Value("string"), "labels": datasets.ClassLabel(names=["up", "down", "flat"])}
        ),
    )
    output = tmp_path / "three"
    trainer = EmoPillarsTrainer(model=str(tiny_bert), args=make_args(output), train_dataset=data, eval_dataset=data)
    assert trainer.label_space.names == ("up", "down", "flat") and not trainer.label_space.multi_label
    trainer.train()
    assert trainer.threshold_result is None  # no thresholds for the argmax
    metrics = trainer.evaluate_thresholds(data)
    assert set(metrics) == {"argmax"} and set(metrics["argmax"]["per_label"]) == {"up", "down", "flat"}
    probs, gold = trainer.predict_proba(data)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert gold.tolist() == data["labels"]
    trainer.save_model()
    config = json.loads((output / "config.json").read_text())
    assert config["problem_type"] == "single_label_classification" and config["id2label"]["2"] == "flat"
    classifier = EmoPillarsClassifier.from_pretrained(output, device="cpu")
    np.testing.assert_allclose(classifier.predict_proba(data["utterance"]), probs, atol=1e-5)
    assert all(len(found) == 1 for found in classifier.predict(data["utterance"]))
    card = (output / "README.md").read_text()
    assert "**Labels:** up, down, flat" in card and "| argmax |" in card


def test_a_contextual_utterance_longer_than_max_length_trains_and_predicts(tiny_bert, tmp_path, contextual_data):
    """One input path: the row that needs the longest_first fallback in training is read the same at predict."""
    long_utterance = " ".join(["really"] * 60)
    train = contextual_data["train"].map(lambda row, i: {"utterance": long_utterance if i == 0 else row["utterance"]},
                                         with_indices=True)  # fmt: skip
    output = tmp_path / "ctx"
    args = make_args(output, input_format="contextual", max_length=16)
    trainer = EmoPillarsTrainer(model=str(tiny_bert), args=args, train_dataset=train)
    assert len(trainer.train_dataset[0]["input_ids"]) == 16
    trainer.train()
    trainer.save_model()
    classifier = EmoPillarsClassifier.from_pretrained(output, device="cpu")
    assert classifier.max_length == 16
    probs = classifier.predict_proba([long_utterance], contexts=[train[0]["context"]], characters=["Ann"])
    expected, _ = trainer.predict_proba(train.select([0]))
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_layer_lr_decay_gives_each_encoder_layer_its_own_rate(tiny_bert, tmp_path, context_less_data):
    args = make_args(tmp_path / "out", layer_lr_decay=0.5, freeze_embeddings=False)  # lr 2e-4, head 2e-3
    trainer = EmoPillarsTrainer(model=str(tiny_bert), args=args, train_dataset=context_less_data)
    rate = {id(p): group["lr"] for group in trainer.create_optimizer().param_groups for p in group["params"]}
    named = dict(trainer.model.named_parameters())
    expected = {  # the tiny BERT has 2 layers: the top one at lr * 0.5, the next at lr * 0.25, embeddings * 0.125
        "bert.encoder.layer.1.attention.self.query.weight": 1e-4,
        "bert.encoder.layer.0.output.dense.bias": 5e-5,
        "bert.embeddings.word_embeddings.weight": 2.5e-5,
        "bert.embeddings.LayerNorm.weight": 2.5e-5,
        "bert.pooler.dense.weight": 2e-3,
        "classifier.bias": 2e-3,
    }
    assert {name: pytest.approx(rate[id(named[name])]) for name in expected} == expected
    assert len(rate) == sum(p.requires_grad for p in named.values())  # every trained parameter has a group
    for bad in (0.0, 1.5):
        with pytest.raises(ConfigError, match="layer_lr_decay"):
            make_args(tmp_path / "bad", layer_lr_decay=bad)


@pytest.mark.parametrize("multi_label", [True, False])
def test_label_smoothing_factor_reaches_the_loss(tiny_bert, tmp_path, context_less_data, multi_label):
    """transformers' ``label_smoothing_factor`` applies to the trainer's own BCE and cross-entropy."""
    import datasets

    data = context_less_data["train"]
    if not multi_label:
        data = datasets.Dataset.from_dict(
            {"utterance": data["utterance"], "labels": [row[0] % 3 for row in data["labels"]]},
            features=datasets.Features(
                {"utterance": datasets.Value("string"), "labels": datasets.ClassLabel(names=["a", "b", "c"])}
            ),
        )
    import warnings

    args = make_args(tmp_path / "out", label_smoothing_factor=0.2, init_head_bias=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "disabling label smoothing" from transformers: it is applied
        trainer = EmoPillarsTrainer(model=str(tiny_bert), args=args, train_dataset=data)
    trainer.model.eval()
    batch = next(iter(trainer.get_train_dataloader()))
    labels = batch["labels"]
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, dict(batch))
        logits = trainer.model(**{k: v for k, v in batch.items() if k != "labels"}).logits.float()
    if multi_label:
        expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float() * 0.8 + 0.1)
    else:
        classes = logits.shape[1]
        target = torch.full_like(logits, 0.2 / classes).scatter_(1, labels[:, None], 0.8 + 0.2 / classes)
        expected = -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ConfigError, match="label_smoothing_factor"):
        make_args(tmp_path / "bad", label_smoothing_factor=1.0)
