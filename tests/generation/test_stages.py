"""Stages: prompts from the packaged templates, prefills, and parsing of replies into columns."""

from __future__ import annotations

import pytest

from emo_pillars.errors import ConfigError
from emo_pillars.generation.stages import STAGE_CLASSES, LabelsStage, RewritingStage, UtterancesStage
from emo_pillars.taxonomy import DEFINITIONS

ITEM = {
    "plot": "Della sells her hair to buy Jim a chain.",
    "character": "Della",
    "utterance": "I did it for him.",
    "primary_emotion": "love",
    "labels": ["love", "pride"],
    "context": "Della walks home from the wig maker.",
}


@pytest.mark.parametrize("name", list(STAGE_CLASSES))
def test_every_stage_renders_a_single_user_turn_without_placeholders(name):
    prompt = STAGE_CLASSES[name]().prompt(ITEM)
    assert [role for role, _ in prompt.messages] == ["user"]
    text = prompt.messages[0][1]
    assert "$" not in text
    if name not in ("characters", "context", "context_cleaning", "rewriting"):
        assert DEFINITIONS["grief"] in text  # the prompts quote the taxonomy's definitions
    if name in ("context", "context_cleaning", "rewriting"):
        assert "love, pride" in text


def test_prompt_hash_follows_template_and_constants(tmp_path):
    assert UtterancesStage().prompt_hash == UtterancesStage().prompt_hash
    assert UtterancesStage(n_emotional=4).prompt_hash != UtterancesStage().prompt_hash
    custom = tmp_path / "u.txt"
    custom.write_text("Write $n_emotional thoughts of $character.")
    stage = UtterancesStage(custom, n_emotional=3)
    assert stage.prompt(ITEM).messages[0][1] == "Write 3 thoughts of Della."
    bad = tmp_path / "bad.txt"
    bad.write_text("Uses $nonsense")
    with pytest.raises(ConfigError, match="unknown placeholders: nonsense"):
        UtterancesStage(bad)


def test_labels_stage_prefills_generating_emotion_and_parses_with_it():
    stage = LabelsStage()
    prompt = stage.prompt(ITEM)
    assert prompt.prefill == "1. love"
    result = stage.parse(" 0.8\n2. Proud: 0.5\n3. Bob: 0.9\n4. pride 0.2", prompt)
    assert result.value == [("love", 0.8), ("pride", 0.5)]
    assert stage.prompt({**ITEM, "primary_emotion": None}).prefill == ""


def test_utterances_and_rewriting_parse():
    stage = UtterancesStage()
    prompt = stage.prompt(ITEM)
    assert prompt.prefill == "1."
    pairs = stage.parse(' joy: "My hair will grow back!"\n2. neutral: "The shop shuts at six."', prompt).value
    assert pairs == [("joy", "My hair will grow back!"), ("neutral", "The shop shuts at six.")]
    rewritten = RewritingStage().parse('Rewritten thought: "It is done."\nExplanation: ...', prompt)
    assert rewritten.ok and rewritten.value == "It is done."
