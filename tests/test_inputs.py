"""The one input format: context-less utterances and contextual (context, "character: utterance") pairs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from emo_pillars.errors import ConfigError, InputError
from emo_pillars.modeling.inputs import (
    DEFAULT_MAX_LENGTH,
    ensure_token_types,
    format_inputs,
    format_utterance,
    pipeline_inputs,
    tokenize_examples,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_models import build_tiny_bert  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(build_tiny_bert(tmp_path_factory.mktemp("tok")))


def test_context_less_is_the_utterance():
    assert format_inputs(["Oh no.", "Thanks!"]) == (["Oh no.", "Thanks!"], None)
    assert format_inputs("Oh no.") == (["Oh no."], None)
    assert pipeline_inputs(["Oh no."]) == ["Oh no."]


def test_contextual_is_context_then_character_and_utterance():
    text, pair = format_inputs(["I did it!", "Why?"], contexts=["Exam day.", "Rain."], characters=["Mara", None])
    assert text == ["Exam day.", "Rain."]
    assert pair == ["Mara: I did it!", "Why?"]
    assert pipeline_inputs("I did it!", "Exam day.", "Mara") == [{"text": "Exam day.", "text_pair": "Mara: I did it!"}]
    assert format_utterance("Hi", "  ") == "Hi"


def test_a_single_context_is_shared_and_lengths_are_checked():
    text, pair = format_inputs(["a", "b"], contexts="ctx", characters="Tom")
    assert text == ["ctx", "ctx"] and pair == ["Tom: a", "Tom: b"]
    with pytest.raises(InputError, match="2 contexts for 3 utterances"):
        format_inputs(["a", "b", "c"], contexts=["x", "y"])
    with pytest.raises(InputError):
        format_inputs([1, 2])


def test_tokenize_examples_context_less_and_contextual(tokenizer):
    batch = {"utterance": ["I did it!"], "context": ["mara studied every night"], "character": ["Mara"]}
    single = tokenize_examples(tokenizer, batch, "context_less")
    assert tokenizer.decode(single["input_ids"][0], skip_special_tokens=True) == "i did it!"
    pair = tokenize_examples(tokenizer, batch, "contextual")
    ids, types = pair["input_ids"][0], pair["token_type_ids"][0]
    second = tokenizer.decode([i for i, t in zip(ids, types) if t == 1], skip_special_tokens=True)
    assert second == "mara : i did it!"
    assert 0 in types and 1 in types
    # Same ids as the tokenizer called on the pipeline-style dict.
    direct = tokenizer(text="mara studied every night", text_pair="Mara: I did it!")
    assert direct["input_ids"] == ids


def test_contextual_truncation_keeps_the_utterance(tokenizer):
    batch = {"utterance": ["I did it!"], "context": ["night " * 300], "character": ["Mara"]}
    enc = tokenize_examples(tokenizer, batch, "contextual", max_length=16)
    assert len(enc["input_ids"][0]) == 16
    assert tokenizer.decode(enc["input_ids"][0][-7:], skip_special_tokens=True) == "mara : i did it!"
    with pytest.raises(InputError, match="context"):
        tokenize_examples(tokenizer, {"utterance": ["x"]}, "contextual")
    with pytest.raises(ConfigError):
        tokenize_examples(tokenizer, batch, "dialogue")
    assert DEFAULT_MAX_LENGTH == {"context_less": 128, "contextual": 512, "contextual_text": 512}


def test_ensure_token_types_resizes_a_single_type_model(tmp_path):
    import torch
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = build_tiny_bert(tmp_path / "one-type", type_vocab_size=1)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=28)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    # Make the tokenizer behave like RoBERTa's: every token has type 0.
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0",
        special_tokens=[("[CLS]", tokenizer.cls_token_id), ("[SEP]", tokenizer.sep_token_id)],
    )
    before = model(**tokenizer("a b", return_tensors="pt")).logits
    assert ensure_token_types(model, tokenizer) is True
    assert model.config.type_vocab_size == 2
    assert model.bert.embeddings.token_type_embeddings.num_embeddings == 2
    assert torch.allclose(before, model(**tokenizer("a b", return_tensors="pt")).logits, atol=1e-6)
    assert set(tokenizer("mara", "i did it")["token_type_ids"]) == {0, 1}
    assert ensure_token_types(model, tokenizer) is False
    model.save_pretrained(tmp_path / "resized")
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "resized")
    assert reloaded.config.type_vocab_size == 2
    with pytest.raises(ConfigError):
        ensure_token_types(torch.nn.Linear(2, 2))


def test_long_inputs_window_scores_every_window_and_differs_from_truncation(tmp_path):
    import math

    import numpy as np
    import torch
    from tiny_models import build_tiny_roberta

    from emo_pillars import EmoPillarsClassifier

    folder = build_tiny_roberta(tmp_path / "m", dict(enumerate(["joy", "fear", "anger"])),
                                "multi_label_classification")  # fmt: skip
    clf = EmoPillarsClassifier.from_pretrained(folder, device="cpu", long_inputs="window")
    with torch.no_grad():  # a head that reacts strongly to what it reads
        clf.model.classifier.out_proj.weight.mul_(200.0)
    max_length = clf.max_length
    assert max_length == 128
    text = " ".join(["thanks so much, really."] * 40 + ["oh no, the ship is gone at night."] * 40)
    tokens = len(clf.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert tokens >= 5 * max_length
    content, overlap = max_length - 2, int(max_length * 0.25)
    expected = 1 + math.ceil((tokens - content) / (content - overlap))
    windowed = clf.predict_proba([text, "thanks so much"])
    assert clf.window_counts == {"inputs": 2, "windows": expected + 1}
    truncated = clf.predict_proba([text, "thanks so much"], long_inputs="truncate")
    assert np.abs(windowed[0] - truncated[0]).max() > 1e-3  # the windows beyond the first change the scores
    assert np.allclose(windowed[1], truncated[1], atol=1e-6)  # a short text is one window: as truncated
    assert (windowed[0] >= truncated[0] - 1e-6).all()  # multi-label windows pool by the maximum
