"""EmoPillarsTrainingArguments: our fields, defaults, the paper's recipe, validation, argparse."""

from __future__ import annotations

import dataclasses

import pytest
from transformers import HfArgumentParser, TrainingArguments

from emo_pillars.errors import ConfigError
from emo_pillars.training.args import PAPER_DEFAULTS, SMALL_ENCODER_DEFAULTS, EmoPillarsTrainingArguments


def test_defaults_are_the_small_encoder_recipe(tmp_path):
    args = EmoPillarsTrainingArguments(output_dir=str(tmp_path))
    assert isinstance(args, TrainingArguments)
    for name, value in SMALL_ENCODER_DEFAULTS.items():
        assert getattr(args, name) == value, name
    assert args.max_length == 128 and args.input_format == "context_less"
    assert EmoPillarsTrainingArguments(output_dir=str(tmp_path), input_format="contextual").max_length == 512


def test_paper_defaults(tmp_path):
    args = EmoPillarsTrainingArguments.paper_defaults(str(tmp_path), "contextual")
    assert (args.learning_rate, args.num_train_epochs, args.per_device_train_batch_size, args.max_length) == (
        2e-5, 10, 32, 512
    )  # fmt: skip
    assert args.head_learning_rate is None and not args.init_head_bias
    assert EmoPillarsTrainingArguments.paper_defaults(str(tmp_path)).per_device_train_batch_size == 64
    assert set(PAPER_DEFAULTS) == {"context_less", "contextual", "contextual_text"}
    assert PAPER_DEFAULTS["contextual_text"] == PAPER_DEFAULTS["contextual"]  # the paper's contextual recipe


@pytest.mark.parametrize(
    "kwargs",
    [{"input_format": "dialogue"}, {"pos_weight": "huge"}, {"targets": "soft"}, {"max_length": 0},
     {"merge_lora": True}, {"head_learning_rate": -1.0}, {"input_template": "{context} {utterance}"},
     {"input_format": "contextual_text", "input_template": "{utterance}"}],
)  # fmt: skip
def test_invalid_options_raise(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        EmoPillarsTrainingArguments(output_dir=str(tmp_path), **kwargs)


def test_every_field_of_ours_has_help_and_parses(tmp_path):
    ours = set(EmoPillarsTrainingArguments(output_dir=str(tmp_path)).emo_pillars_options())
    fields = {f.name: f for f in dataclasses.fields(EmoPillarsTrainingArguments)}
    for name in ours:
        assert fields[name].metadata.get("help"), name
    (args,) = HfArgumentParser(EmoPillarsTrainingArguments).parse_args_into_dataclasses(
        ["--output_dir", str(tmp_path), "--input_format", "contextual", "--pos_weight", "sqrt", "--lora",
         "--lora_target_modules", "query", "value", "--head_learning_rate", "0.001"]
    )  # fmt: skip
    assert args.input_format == "contextual" and args.pos_weight == "sqrt" and args.lora
    assert args.lora_target_modules == ["query", "value"] and args.head_learning_rate == 0.001
