"""LabelSpace: label names from a config, GoEmotions matching by name, refusals."""

from __future__ import annotations

import pytest

from emo_pillars.errors import ConfigError
from emo_pillars.modeling.label_space import LabelSpace
from emo_pillars.taxonomy import EMOTIONS


def test_goemotions_names_match_in_any_order_and_case():
    names = list(reversed([e.title() for e in EMOTIONS]))
    space = LabelSpace.from_config({"id2label": dict(enumerate(names)), "problem_type": "multi_label_classification"})
    assert space.is_emotions and space.multi_label
    order = space.emotion_order()
    assert [names[i].lower() for i in order] == list(EMOTIONS)


def test_task_labels_and_problem_type():
    isear = ["joy", "fear", "anger", "sadness", "disgust", "shame", "guilt"]
    space = LabelSpace.from_config({"id2label": {str(i): n for i, n in enumerate(isear)},
                                    "problem_type": "single_label_classification"})  # fmt: skip
    assert space.names == tuple(isear) and not space.multi_label and not space.is_emotions
    assert space.config_values()["num_labels"] == 7
    with pytest.raises(ConfigError):
        space.emotion_order()


@pytest.mark.parametrize(
    ("id2label", "message"),
    [
        ({i: f"LABEL_{i}" for i in range(3)}, "names no labels"),
        ({i: (e if i else "happiness") for i, e in enumerate(EMOTIONS)}, "not GoEmotions classes: happiness"),
        ({0: "joy", 1: "Joy"}, "duplicate label names: joy"),
        ({0: "joy", 2: "fear"}, "does not name outputs"),
    ],
)
def test_unusable_label_spaces_are_one_line(id2label, message):
    with pytest.raises(ConfigError, match=message) as error:
        LabelSpace.from_config({"id2label": id2label}, source="model-dir")
    assert "\n" not in str(error.value) and "model-dir" in str(error.value)


@pytest.mark.parametrize("order", ["sorted_as_strings", "numeric", "reversed"])
def test_digit_string_labels_are_goemotions_ids_whatever_their_order(order):
    ids = [str(i) for i in range(28)]
    ids = sorted(ids) if order == "sorted_as_strings" else ids if order == "numeric" else ids[::-1]
    space = LabelSpace.from_config({"id2label": dict(enumerate(ids)), "problem_type": "multi_label_classification"})
    assert space.names == tuple(EMOTIONS[int(i)] for i in ids)
    assert space.is_emotions
    if order == "sorted_as_strings":  # the paper's released models: output 2 is "10", disapproval, not anger
        assert space.names[2] == "disapproval" and space.names[12] == "anger" and space.names[20] == "neutral"


def test_label_k_is_refused_with_how_to_name_the_labels():
    with pytest.raises(ConfigError, match=r"names no labels .*labels=\[\.\.\.\].*--labels") as error:
        LabelSpace.from_config({"id2label": {i: f"LABEL_{i}" for i in range(4)}}, source="m")
    assert "\n" not in str(error.value)


def test_given_labels_name_the_outputs_and_must_fit():
    config = {"id2label": {i: f"LABEL_{i}" for i in range(3)}, "problem_type": "single_label_classification"}
    space = LabelSpace.from_config(config, labels=["joy", "fear", "anger"])
    assert space.names == ("joy", "fear", "anger") and not space.multi_label
    with pytest.raises(ConfigError, match="3 outputs but 2 label names"):
        LabelSpace.from_config(config, labels=["joy", "fear"])
