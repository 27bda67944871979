"""Taxonomy files and built-ins: what loads, what is refused (one line, exit 2, before any model loads)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from emo_pillars.errors import InputError
from emo_pillars.taxonomy import BUILTIN_TAXONOMIES, EMOTIONS, GOEMOTIONS, SYNONYMS, Taxonomy, load_taxonomy

FIVE = """name: support
source: a made-up guideline for these tests
labels:
  frustration: the customer is blocked by a problem and losing patience
  gratitude: the customer thanks the agent for help
  confusion: the customer does not understand what to do or what happened
  urgency: the customer needs the problem solved right now
  neutral: a plain request or statement with no emotion
groupings:
  sentiment:
    negative: [frustration, confusion, urgency]
    positive: [gratitude]
synonyms:
  frustration: [annoyed, fed up]
  urgency: [hurry, asap]
"""


def _labels(n: int) -> str:
    return "labels:\n" + "".join(f"  label{chr(97 + i // 26)}{chr(97 + i % 26)}: definition {i}\n" for i in range(n))


BAD = {
    "duplicate_name": ("labels:\n  joy: happy\n  fear: afraid\n  joy: again\n", 4, "given twice"),
    "empty_definition": ('labels:\n  joy: happy\n  fear: ""\n', 3, "empty definition"),
    "newline_in_name": ('labels:\n  joy: happy\n  "fe\\nar": afraid\n', 3, "separator or a newline"),
    "comma_in_name": ('labels:\n  joy: happy\n  "fear, dread": afraid\n', 3, "separator or a newline"),
    "single_label": ("labels:\n  joy: happy\n", 1, "1 labels; a taxonomy has 2 to 200"),
    "too_many": (_labels(201), 1, "201 labels"),
    "not_a_mapping": ("- joy\n- fear\n", None, "a taxonomy is a mapping"),
    "unknown_in_grouping": (
        "labels:\n  joy: happy\n  fear: afraid\ngroupings:\n  tone:\n    up: [joy, glee]\n",
        6,
        "'glee', which is not a label",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_taxonomy_file_is_one_line_and_exit_2(case, tmp_path):
    text, line, words = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "emo_pillars", "taxonomy", "show", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    where = f"{path}:{line}:" if line else f"{path}:"
    assert lines[0].startswith(f"emo-pillars: error: {where}"), lines[0]
    assert words in lines[0]


def test_unknown_builtin_is_one_line_and_exit_2():
    done = subprocess.run(
        [sys.executable, "-m", "emo_pillars", "taxonomy", "show", "ekmann"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "emo-pillars: error: field 'taxonomy': unknown taxonomy 'ekmann': name a built-in "
        "(goemotions, ekman, plutchik, isear) or a .yaml/.json file"
    ]


def test_yaml_json_and_python_give_the_same_taxonomy(tmp_path):
    import yaml

    data = yaml.safe_load(FIVE)
    (tmp_path / "support.yaml").write_text(FIVE)
    (tmp_path / "support.json").write_text(json.dumps(data, indent=1))
    from_yaml = load_taxonomy(tmp_path / "support.yaml")
    from_json = load_taxonomy(str(tmp_path / "support.json"))
    from_python = Taxonomy.from_dict(data)
    assert from_yaml == from_json == from_python
    assert from_yaml.labels == ("frustration", "gratitude", "confusion", "urgency", "neutral")
    assert from_yaml.neutral == "neutral" and from_yaml.emotional[-1] == "urgency"
    assert from_yaml.normalize("Annoyed!") == "frustration" and from_yaml.normalize("ASAP") == "urgency"
    assert from_yaml.roll_up("sentiment")["gratitude"] == "positive"
    assert Taxonomy.from_dict(from_yaml.to_dict()) == from_yaml


def test_content_hash_follows_content_not_name():
    a = Taxonomy("a", {"joy": "happy", "fear": "afraid"})
    assert Taxonomy("b", {"joy": "happy", "fear": "afraid"}).content_hash == a.content_hash
    assert Taxonomy("a", {"joy": "glad", "fear": "afraid"}).content_hash != a.content_hash
    assert Taxonomy("a", {"fear": "afraid", "joy": "happy"}).content_hash != a.content_hash  # order is output order


def test_json_duplicate_key_names_its_line(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{\n "labels": {\n  "joy": "happy",\n  "joy": "glad"\n }\n}\n')
    with pytest.raises(InputError) as err:
        load_taxonomy(path)
    assert err.value.line == 4 and "given twice" in str(err.value)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"labels": {"Joy": "happy", "fear": "afraid"}}, "must be lowercase"),
        ({"labels": {"joy": "happy", "fear": "afraid"}, "neutral": "calm"}, "neutral 'calm' is not a label"),
        ({"labels": {"joy": "happy", "fear": "afraid"}, "colour": "red"}, "unknown key 'colour'"),
        ({"labels": {"joy": "happy", "fear": "afraid"}, "synonyms": {"joy": ["fear"]}}, "given for both"),
        ({"labels": {"joy": "a\nb", "fear": "afraid"}}, "spans several lines"),
    ],
)
def test_python_mappings_are_validated(spec, words):
    with pytest.raises(InputError, match=words):
        Taxonomy.from_dict(spec)


def test_builtins_have_definitions_and_sources():
    assert set(BUILTIN_TAXONOMIES) == {"goemotions", "ekman", "plutchik", "isear"}
    for taxonomy in BUILTIN_TAXONOMIES.values():
        assert taxonomy.source and all(taxonomy.definitions.values())
    assert GOEMOTIONS.labels == EMOTIONS and GOEMOTIONS.synonym_table() == dict(SYNONYMS)
    assert load_taxonomy("ekman").labels == ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
    assert load_taxonomy("ekman").normalize("nervous") == "fear"  # through GoEmotions' own grouping
    assert load_taxonomy("isear").neutral is None
