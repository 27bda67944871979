"""The taxonomy: class order, definitions, groupings, the emotion-word normaliser and task label maps."""

from __future__ import annotations

import json

import pytest

from emo_pillars import taxonomy
from emo_pillars.taxonomy import (
    DEFINITIONS,
    EKMAN_GROUPS,
    EMOTIONS,
    SENTIMENT_GROUPS,
    SYNONYMS,
    TASK_LABEL_MAPS,
    emotion_to_ekman,
    emotion_to_sentiment,
    id2label,
    label2id,
    normalize_emotion,
)

# 100 words and non-words as an LLM writes them, with the class each must map to (None: not an emotion).
WORDS = {
    "Happiness": "joy", "happy": "joy", "JOYFUL": "joy", "delighted!": "joy", "cheerful": "joy",
    "furious": "anger", "Rage": "anger", "indignation": "anger", "angry.": "anger", "outraged": "anger",
    "anxious": "nervousness", "Anxiety": "nervousness", "worried": "nervousness", "apprehensive": "nervousness",
    "stressed": "nervousness", "thankful": "gratitude", "Grateful": "gratitude", "thanks": "gratitude",
    "hopeful": "optimism", "hope": "optimism", "optimistic": "optimism", "guilty": "remorse", "Guilt": "remorse",
    "regret": "remorse", "regretful": "disappointment", "sorry": "remorse", "ashamed": "embarrassment",
    "shame": "embarrassment", "humiliated": "embarrassment", "awkward": "embarrassment", "scared": "fear",
    "terrified": "fear", "afraid": "fear", "dread": "fear", "horrified": "fear", "sad": "sadness",
    "sorrowful": "grief", "heartbroken": "grief", "mourning": "grief", "depressed": "sadness",
    "lonely": "sadness", "melancholy": "sadness", "amazed": "surprise", "shocked": "surprise",
    "astonishment": "surprise", "Surprised!": "surprise", "curious": "curiosity", "intrigued": "curiosity",
    "puzzled": "confusion", "bewildered": "confusion", "confused": "confusion", "proud": "pride",
    "pride": "pride", "accomplished": "pride", "relieved": "relief", "relief": "relief", "loving": "love",
    "affection": "love", "adoration": "love", "fond": "love", "irritated": "annoyance", "annoyed": "annoyance",
    "frustration": "annoyance", "impatient": "annoyance", "disgusted": "disgust", "revulsion": "disgust",
    "excited": "excitement", "thrilled": "excitement", "enthusiasm": "excitement", "amused": "amusement",
    "funny": "amusement", "admire": "admiration", "awe": "admiration", "respect": "admiration",
    "approving": "approval", "agreement": "approval", "disapproving": "disapproval", "criticism": "disapproval",
    "compassion": "caring", "concerned": "caring", "sympathy": "caring", "longing": "desire",
    "yearning": "desire", "wanting": "desire", "disappointed": "disappointment", "let down": "disappointment",
    "epiphany": "realization", "realizing": "realization", "indifferent": "neutral", "Neutral": "neutral",
    "a deep sense of relief": "relief", "  2. Anxious (0.6) ": "nervousness", "**Fear**": "fear",
    # not emotions
    "plot": None, "none": None, "": None, "Odysseus": None, "Penelope": None, "character": None,
    "the story": None, "0.7": None, "N/A": None, "Mr Darcy": None,
}  # fmt: skip


def test_word_list_is_large_enough():
    assert len(WORDS) >= 100


def test_normalize_emotion_accuracy_on_common_words():
    wrong = {w: (normalize_emotion(w), want) for w, want in WORDS.items() if normalize_emotion(w) != want}
    accuracy = 1 - len(wrong) / len(WORDS)
    assert accuracy >= 0.95, f"accuracy {accuracy:.2f}; wrong: {wrong}"


@pytest.mark.parametrize("name", EMOTIONS)
def test_every_class_maps_to_itself_in_any_case(name):
    assert normalize_emotion(name) == name
    assert normalize_emotion(name.upper() + ".") == name


@pytest.mark.parametrize("value", [None, 3, "   ", "...", "a b c d e f g h i j"])
def test_normalize_emotion_rejects_non_words(value):
    assert normalize_emotion(value) is None


def test_synonym_table_is_large_and_only_targets_classes():
    assert len(SYNONYMS) >= 200
    assert set(SYNONYMS.values()) <= set(EMOTIONS)


def test_class_order_and_ids():
    assert len(EMOTIONS) == 28 and len(set(EMOTIONS)) == 28
    assert EMOTIONS[0] == "admiration" and EMOTIONS[27] == "neutral"
    assert all(label2id[id2label[i]] == i for i in range(28))


def test_definitions_cover_every_class_in_one_line():
    assert set(DEFINITIONS) == set(EMOTIONS)
    assert all(d and "\n" not in d for d in DEFINITIONS.values())


def test_groupings_partition_the_non_neutral_classes():
    for groups in (EKMAN_GROUPS, SENTIMENT_GROUPS):
        members = [e for group in groups.values() for e in group]
        assert sorted(members) == sorted(e for e in EMOTIONS if e != "neutral")
    assert emotion_to_ekman("nervousness") == "fear"
    assert emotion_to_sentiment("realization") == "ambiguous"
    assert emotion_to_ekman("neutral") == emotion_to_sentiment("neutral") == "neutral"


def test_groupings_match_the_goemotions_files(shared_data):
    ekman = json.loads((shared_data / "goemotions" / "ekman_mapping.json").read_text())
    sentiment = json.loads((shared_data / "goemotions" / "sentiment_dict.json").read_text())
    assert {k: sorted(v) for k, v in ekman.items()} == {k: sorted(v) for k, v in EKMAN_GROUPS.items()}
    assert {k: sorted(v) for k, v in sentiment.items()} == {k: sorted(v) for k, v in SENTIMENT_GROUPS.items()}
    names = (shared_data / "goemotions" / "emotions.txt").read_text().split()
    assert tuple(names) == EMOTIONS


@pytest.mark.parametrize(
    "task,labels",
    [
        ("isear", {"joy", "fear", "anger", "sadness", "disgust", "shame", "guilt"}),
        ("emocontext", {"happy", "sad", "angry", "others"}),
        ("iemocap", {"happy", "excited", "sad", "angry", "neutral", "frustrated"}),
    ],
)
def test_task_label_maps_are_complete_and_documented(task, labels):
    mapping = TASK_LABEL_MAPS[task]
    assert set(mapping) == labels
    assert all(mapping.reasons[label] for label in labels)
    assert set(mapping.to_ids().values()) <= set(range(28))


def test_task_label_map_rejects_unknown_class():
    with pytest.raises(ValueError, match="not one of the 28"):
        taxonomy.TaskLabelMap([("x", "happiness", "no such class")])


def test_format_definitions_lists_each_class():
    text = taxonomy.format_definitions(numbered=True)
    assert text.count("\n") == 27 and text.startswith("1. admiration:")
