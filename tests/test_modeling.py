"""EmoPillarsClassifier: loading, thresholds, predict/predict_proba, roll-ups, save, and a push/pull round trip."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from emo_pillars.errors import ConfigError, InputError
from emo_pillars.modeling import EmoPillarsClassifier, rollup_proba
from emo_pillars.taxonomy import EKMAN_LABELS, EMOTIONS, SENTIMENT_LABELS

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_models import build_tiny_bert, tiny_dataset_dict  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory) -> Path:
    """A tiny context-less model trained 2 steps with the trainer (thresholds tuned, card written)."""
    from emo_pillars.training import EmoPillarsModelCardData, EmoPillarsTrainer, EmoPillarsTrainingArguments

    root = tmp_path_factory.mktemp("modeling")
    base = build_tiny_bert(root / "base")
    args = EmoPillarsTrainingArguments(
        output_dir=str(root / "model"), max_steps=2, per_device_train_batch_size=4, use_cpu=True, logging_steps=1
    )
    data = tiny_dataset_dict()
    trainer = EmoPillarsTrainer(
        model=str(base),
        args=args,
        train_dataset=data,
        card_data=EmoPillarsModelCardData(model_id="me/tiny", dataset_id="me/emo-pillars"),
    )
    trainer.train()
    trainer.evaluate_thresholds(data["test"])
    trainer.save_model()
    return root / "model"


@pytest.fixture
def classifier(trained_dir) -> EmoPillarsClassifier:
    return EmoPillarsClassifier.from_pretrained(trained_dir, device="cpu")


UTTERANCES = ["I did it, I passed!", "Why did it rain today?", "I am so sorry."]


def test_predict_proba_shape_and_batches(classifier):
    probs = classifier.predict_proba(UTTERANCES, batch_size=2)
    assert probs.shape == (3, 28) and ((probs > 0) & (probs < 1)).all()
    np.testing.assert_allclose(probs, classifier.predict_proba(UTTERANCES, batch_size=32), atol=1e-5)
    assert classifier.predict_proba(UTTERANCES[0]).shape == (1, 28)
    for empty in ([], [""], ["ok", "  \n"]):
        with pytest.raises(InputError):
            classifier.predict_proba(empty)


def test_batches_are_length_sorted_and_scores_come_back_in_input_order(classifier, monkeypatch):
    import emo_pillars.modeling.classifier as modeling

    monkeypatch.setattr(modeling, "SORT_BLOCK_BATCHES", 2)  # several blocks: each sorted on its own
    texts = [("so happy " * (1 + (7 * i) % 11)).strip() for i in range(23)]
    one_by_one = np.concatenate([classifier.predict_proba(t) for t in texts])
    widths: list[int] = []
    hook = classifier.model.register_forward_pre_hook(
        lambda module, args, kwargs: widths.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    try:
        probs = classifier.predict_proba(texts, batch_size=3)
    finally:
        hook.remove()
    np.testing.assert_allclose(probs, one_by_one, atol=1e-5)
    lengths = [len(ids) for ids in classifier.tokenizer(texts)["input_ids"]]
    assert len(widths) == 8  # ceil(23 / 3): blocks of 6 inputs keep whole batches
    blocks = [sorted(lengths[i : i + 6], reverse=True) for i in range(0, 23, 6)]
    expected = [max(block[j : j + 3]) for block in blocks for j in range(0, len(block), 3)]
    assert widths == expected  # longest first within a block: a batch pads only to its own longest input


def test_predict_uses_stored_thresholds_by_default(classifier):
    probs = classifier.predict_proba(UTTERANCES)
    per_label = classifier.thresholds
    stored = json.loads((Path(classifier.model.config._name_or_path) / "config.json").read_text())["emo_pillars"]
    assert per_label.tolist() == [stored["thresholds"][e] for e in EMOTIONS]
    for row, found in zip(probs, classifier.predict(UTTERANCES)):
        assert list(found) == sorted(found, key=found.get, reverse=True)
        assert set(found) == {e for e, p, t in zip(EMOTIONS, row, per_label) if p >= t}
        assert all(found[e] == pytest.approx(float(row[EMOTIONS.index(e)])) for e in found)
    g = classifier.global_threshold
    assert [set(f) for f in classifier.predict(UTTERANCES, threshold="global")] == [
        {e for e, p in zip(EMOTIONS, row) if p >= g} for row in probs
    ]


def test_explicit_threshold_and_top_k(classifier):
    everything = classifier.predict(UTTERANCES, threshold=0.0)
    assert all(len(found) == 28 for found in everything)
    top = classifier.predict(UTTERANCES, threshold=0.0, top_k=2)
    assert [list(t) for t in top] == [list(e)[:2] for e in everything]
    assert classifier.predict(UTTERANCES, threshold=1.0) == [{}, {}, {}]
    assert all(len(f) == 28 for f in classifier.predict(UTTERANCES, threshold=[0.0] * 28))
    with pytest.raises(InputError):
        classifier.predict(UTTERANCES, threshold=[0.5, 0.5])
    with pytest.raises(ConfigError):
        classifier.predict(UTTERANCES, threshold="best")


def test_rollups_to_ekman_and_sentiment(classifier):
    probs = classifier.predict_proba(UTTERANCES)
    ekman = classifier.predict_proba(UTTERANCES, level="ekman")
    assert ekman.shape == (3, 7)
    joy_group = [EMOTIONS.index(e) for e in ("joy", "amusement", "approval", "excitement", "gratitude", "love",
                                             "optimism", "relief", "pride", "admiration", "desire", "caring")]  # fmt: skip
    np.testing.assert_allclose(ekman[:, EKMAN_LABELS.index("joy")], probs[:, joy_group].max(axis=1))
    sentiment = classifier.predict(UTTERANCES, threshold=0.0, level="sentiment")
    assert all(set(found) == set(SENTIMENT_LABELS) for found in sentiment)
    names, scores = rollup_proba(probs, "sentiment")
    assert names == SENTIMENT_LABELS and scores.shape == (3, 4)
    assert classifier.predict(UTTERANCES, threshold=1.0, level="ekman") == [{}, {}, {}]
    with pytest.raises(ConfigError):
        rollup_proba(probs, "plutchik")


def test_set_thresholds_and_save_round_trip(classifier, tmp_path):
    classifier.set_thresholds(threshold=0.42, thresholds=[0.1 * (i % 9 + 1) for i in range(28)])
    classifier.save_pretrained(tmp_path / "saved")
    again = EmoPillarsClassifier.from_pretrained(tmp_path / "saved", device="cpu")
    assert again.global_threshold == 0.42
    np.testing.assert_allclose(again.thresholds, [0.1 * (i % 9 + 1) for i in range(28)])
    np.testing.assert_allclose(again.predict_proba(UTTERANCES), classifier.predict_proba(UTTERANCES), atol=1e-6)
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= {p.name for p in (tmp_path / "saved").iterdir()}


def test_commands_print_tables(trained_dir, tmp_path, capsys):
    from emo_pillars.commands.predict import predict_main
    from emo_pillars.commands.train import print_train_result
    from emo_pillars.training.run import train_main

    predictions = predict_main(str(trained_dir), UTTERANCES, threshold=0.0, top_k=2)
    out = capsys.readouterr().out
    assert "utterance" in out and "I did it, I passed!" in out and len(predictions) == 3
    assert all(f"{e} {s:.2f}" in out for p in predictions for e, s in p.items())
    base = build_tiny_bert(tmp_path / "base")
    result = train_main(
        tiny_dataset_dict(contextual=True), "contextual", str(base), tmp_path / "out", max_steps=2, use_cpu=True
    )
    metrics = result.metrics
    print_train_result(result)
    out = capsys.readouterr().out
    assert "Test metrics (10 examples)" in out and f"{metrics['per_label']['macro_f1']:.4f}" in out
    assert "macro-F1" in out and "global (" in out
    predict_main(str(tmp_path / "out"), ["I did it!"], context="Mara studied.", character="Mara")
    assert "I did it!" in capsys.readouterr().out


PUSH_PULL = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from emo_pillars.modeling import EmoPillarsClassifier
    model_dir, repo_id, utterances = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    local = EmoPillarsClassifier.from_pretrained(model_dir, device="cpu")
    local.push_to_hub(repo_id)  # the card and plots come from the folder it was loaded from
    pulled = EmoPillarsClassifier.from_pretrained(repo_id, device="cpu")
    print(json.dumps({
        "max_diff": float(np.abs(local.predict_proba(utterances) - pulled.predict_proba(utterances)).max()),
        "same_predictions": local.predict(utterances) == pulled.predict(utterances),
        "thresholds": pulled.thresholds.tolist() == local.thresholds.tolist(),
        "global": pulled.global_threshold == local.global_threshold,
    }))
    """
)


def test_push_to_hub_and_pull_back(trained_dir, tmp_path):
    from hub_server import HubServer

    with HubServer() as server:
        env = server.client_env(hf_home=tmp_path / "hf-home")
        run = subprocess.run(
            [sys.executable, "-c", PUSH_PULL, str(trained_dir), "me/tiny-emo", json.dumps(UTTERANCES)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO_ROOT,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result == {"max_diff": pytest.approx(0.0, abs=1e-6), "same_predictions": True, "thresholds": True,
                          "global": True}  # fmt: skip
        files = server.files("models", "me/tiny-emo")
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md", "thresholds.png"} <= set(files)
    assert "emo_pillars" in json.loads(files["config.json"])
    assert b"model-index" in files["README.md"]


def _resave(source: Path, target: Path, edit) -> Path:
    """Load a saved model, change its head and config with ``edit(model)``, save it (with the tokenizer)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(source)
    edit(model)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


def test_shuffled_and_recased_labels_predict_by_name(trained_dir, classifier, tmp_path):
    import torch

    order = np.random.default_rng(3).permutation(28)

    def shuffle(model):
        with torch.no_grad():
            model.classifier.weight.copy_(model.classifier.weight[order].clone())
            model.classifier.bias.copy_(model.classifier.bias[order].clone())
        names = [EMOTIONS[i].upper() if j % 2 else EMOTIONS[i] for j, i in enumerate(order)]
        model.config.id2label = dict(enumerate(names))
        model.config.label2id = {name: i for i, name in enumerate(names)}

    shuffled = EmoPillarsClassifier.from_pretrained(_resave(trained_dir, tmp_path / "shuffled", shuffle), device="cpu")
    assert shuffled.labels == EMOTIONS
    np.testing.assert_allclose(shuffled.predict_proba(UTTERANCES), classifier.predict_proba(UTTERANCES), atol=1e-6)
    assert shuffled.predict(UTTERANCES, threshold=0.3) == classifier.predict(UTTERANCES, threshold=0.3)
    # Without the mapping the rows would be read in the stored order: the test can tell them apart.
    assert (order != np.arange(28)).any()


def test_unmatched_or_missing_label_names_are_refused(trained_dir, tmp_path):
    def rename(model):
        model.config.id2label = {**model.config.id2label, 0: "happiness"}

    with pytest.raises(ConfigError, match="not GoEmotions classes: happiness"):
        EmoPillarsClassifier.from_pretrained(_resave(trained_dir, tmp_path / "renamed", rename), device="cpu")

    def generic(model):
        model.config.id2label = {i: f"LABEL_{i}" for i in range(28)}

    with pytest.raises(ConfigError, match="names no labels"):
        EmoPillarsClassifier.from_pretrained(_resave(trained_dir, tmp_path / "generic", generic), device="cpu")

    def drop_threshold(model):
        settings = dict(model.config.emo_pillars)
        settings["thresholds"] = {k: v for k, v in settings["thresholds"].items() if k != "joy"}
        model.config.emo_pillars = settings

    with pytest.raises(ConfigError, match="no threshold for: joy"):
        EmoPillarsClassifier.from_pretrained(_resave(trained_dir, tmp_path / "nojoy", drop_threshold), device="cpu")


def test_bad_thresholds_and_top_k_are_refused(classifier):
    for threshold in (float("nan"), 1.5, -0.1, [0.5] * 27 + [float("nan")]):
        with pytest.raises(ConfigError):
            classifier.predict(UTTERANCES, threshold=threshold)
    for top_k in (0, -1, 1.5):
        with pytest.raises(ConfigError):
            classifier.predict(UTTERANCES, top_k=top_k)
    with pytest.raises(InputError):
        classifier.predict(UTTERANCES, characters=["Ann"] * 3)  # a character without a context


def test_long_contextual_utterance_is_truncated_with_a_warning(classifier, caplog):
    long_utterance = " ".join(["really"] * 400)
    classifier.model.config.emo_pillars = {**classifier.settings, "input_format": "contextual"}  # reads the pair
    with caplog.at_level("WARNING"):
        probs = classifier.predict_proba([long_utterance, "ok"], contexts=["Tom lost the letter."] * 2,
                                         characters=["Tom", "Ann"])  # fmt: skip
    assert probs.shape == (2, 28)
    assert "both cut" in caplog.text
    with caplog.at_level("WARNING"):
        classifier.predict_proba([long_utterance])
    assert "truncated" in caplog.text


def test_a_context_given_to_a_context_less_model_is_ignored_with_one_warning(classifier, caplog):
    with caplog.at_level("WARNING"):
        with_context = classifier.predict_proba(UTTERANCES, contexts="Tom lost the letter.", characters="Tom")
    assert [r.getMessage() for r in caplog.records] == [
        "this model was trained without context: the context is ignored and each utterance scored alone"
    ]
    np.testing.assert_array_equal(with_context, classifier.predict_proba(UTTERANCES))


def test_calling_the_classifier_is_predict(classifier):
    assert classifier(UTTERANCES) == classifier.predict(UTTERANCES)
    assert classifier(UTTERANCES[0], top_k=1, threshold=0.0) == classifier.predict(
        UTTERANCES[0], top_k=1, threshold=0.0
    )
    assert classifier(UTTERANCES, level="ekman") == classifier.predict(UTTERANCES, level="ekman")
