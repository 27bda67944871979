"""Generation follows the taxonomy: prompts, assigned emotions, constraints, scoring, parsers, run.json, resume."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scripted_teacher import MOODS_PLOTS as PLOTS
from scripted_teacher import moods_teacher

from emo_pillars.errors import ConfigError
from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
from emo_pillars.generation.backends import ScriptedBackend
from emo_pillars.generation.stages import LabelsStage, UtterancesStage, default_steps, most_repeated_run
from emo_pillars.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
MOODS = ROOT / "examples" / "taxonomies" / "story_moods.yaml"
ROW = {"plot": "Mara waits for the ship.", "plot_id": "p0000", "character": "Mara", "_character_index": 0}


def test_prompts_constraints_and_scoring_follow_the_taxonomy():
    config = GenerationConfig(taxonomy=MOODS)
    moods = config.taxonomy
    utterances = UtterancesStage(config)
    prompt = utterances.format_input(ROW)
    text = prompt.messages[-1][1]
    assert "- dread: fearing that something bad is coming" in text and "admiration" not in text
    assigned = re.search(r"in this order: (.+?)\.", text).group(1).split(", ")
    assert sorted(assigned) == sorted(moods.emotional) == ["anger", "dread", "grief", "hope"]
    assert "Use the label calm for the last 2 lines." in text
    good = "\n".join([f'{e}: "I feel it all today."' for e in assigned] + ['calm: "The sea is flat."'] * 2)
    assert prompt.constraint.matches(good)
    assert not prompt.constraint.matches(good.replace("calm:", "neutral:"))
    labels = LabelsStage(config)
    assert "- calm: no particular emotion" in labels.format_input({"utterance": "Hi."}).messages[-1][1]
    constraint = labels.format_input({"utterance": "Hi.", "primary_emotion": "hope"}).constraint
    assert constraint.matches(" 0.9\n2. dread 0.5\n3. anger 0.3\n4. grief 0.2\n5. calm 0.1")
    assert not constraint.matches(" 0.9\n2. joy 0.5\n3. anger 0.3\n4. grief 0.2\n5. calm 0.1")
    assert LabelsStage(GenerationConfig(taxonomy=MOODS, label_mode="score")).continuations == (
        " hope",
        " dread",
        " anger",
        " grief",
        " calm",
    )


def test_small_taxonomies_ask_for_what_they_have():
    ekman = GenerationConfig(taxonomy="ekman")
    assert (ekman.emotions_per_character, ekman.neutral_per_character, ekman.labels_per_reply) == (6, 2, 5)
    isear = UtterancesStage(GenerationConfig(taxonomy="isear"))
    text = isear.format_input(ROW).messages[-1][1]
    assert "no emotion at all" not in text and "neutral" not in text.split("Story synopsis")[1]
    assert isear.format_input(ROW).constraint.matches(
        "\n".join(f'{e}: "It is {e} for me."' for e in isear._assigned(ROW))
    )


def test_a_custom_run_writes_only_taxonomy_labels_and_records_it(tmp_path):
    config = GenerationConfig(taxonomy=MOODS, max_characters=2)
    result = EmoPillarsGenerator(ScriptedBackend(moods_teacher), config, show_progress=False).run(PLOTS, tmp_path)
    moods = load_taxonomy(MOODS)
    rows = result.context_less
    assert rows and all(r["primary_emotion"] in moods for r in rows)
    assert all(set(r["labels"]) <= set(moods.labels) for r in rows)
    assert all(e in moods for r in rows for e, _ in r["emotion_scores"])
    assert {"hope", "calm"} <= {e for r in rows for e, _ in r["emotion_scores"]}  # "hopeful" read as hope
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["config"]["taxonomy"]["content_hash"] == moods.content_hash
    assert run["config"]["taxonomy"]["labels"][1] == {"name": "dread", "definition": moods.definitions["dread"]}
    assert run["stages"]["repetition"]["dropped_by_reason"] == {"repetition": 1}
    assert not any(most_repeated_run(r["utterance"])[1] >= 3 for r in rows)
    assert run["stages"]["labels"]["parse_failures"] == {"partial": run["stages"]["labels"]["calls"]}  # joy dropped


def _cache_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "cache").iterdir())}


def test_resuming_with_another_taxonomy_is_refused_and_the_cache_kept(tmp_path):
    config = GenerationConfig(taxonomy=MOODS, max_characters=1)
    EmoPillarsGenerator(ScriptedBackend(moods_teacher), config, show_progress=False).run(PLOTS[:1], tmp_path)
    before = _cache_digest(tmp_path)
    with pytest.raises(ConfigError, match=r"made with taxonomy 'story_moods' .* asks for 'ekman'"):
        EmoPillarsGenerator(ScriptedBackend(moods_teacher), GenerationConfig(taxonomy="ekman"),
                            show_progress=False).run(PLOTS[:1], tmp_path)  # fmt: skip
    assert _cache_digest(tmp_path) == before
    done = subprocess.run(
        [sys.executable, "-m", "emo_pillars", "generate", "--output", str(tmp_path), "--taxonomy", "isear"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip  (refused before the packaged model loads)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "made with taxonomy 'story_moods'" in done.stderr and "Traceback" not in done.stderr
    assert _cache_digest(tmp_path) == before


def test_a_cache_from_before_taxonomies_resumes_only_with_the_28(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "characters.jsonl").write_text("")
    with pytest.raises(ConfigError, match="made with taxonomy 'goemotions'"):
        EmoPillarsGenerator(ScriptedBackend(moods_teacher), GenerationConfig(taxonomy=MOODS),
                            show_progress=False).run(PLOTS[:1], tmp_path)  # fmt: skip


def test_the_repetition_step_can_be_tuned_or_switched_off():
    assert most_repeated_run("I am a hero, I am a hero, I am a hero!") == ("i am a", 3)
    names = [s.name for s in default_steps(GenerationConfig(drop_repetitions=False))]
    assert "repetition" not in names
    step = default_steps(GenerationConfig(repetition_max=3))[4]
    assert step.format_output(None, {"utterance": "I am a hero, I am a hero, I am a hero!"}).rows
    assert not hasattr(step.format_output(None, {"utterance": "go go go go go go go go"}), "rows")


def test_the_repetition_filter_changes_nothing_but_the_rows_it_drops(tmp_path):
    """The filter runs after the labels: the labels step sees the rows of an unfiltered run (its batches, and so
    the last digits of a model's scores, stay the same), and the output is the unfiltered one without the loops."""
    runs = {}
    for drop in (False, True):
        config = GenerationConfig(taxonomy=MOODS, max_characters=2, drop_repetitions=drop)
        teacher = ScriptedBackend(moods_teacher)
        runs[drop] = EmoPillarsGenerator(teacher, config, show_progress=False).run(PLOTS, tmp_path / str(drop))
    kept, unfiltered = runs[True], runs[False]
    assert kept.stats["labels"].inputs == unfiltered.stats["labels"].inputs
    loops = [r for r in unfiltered.context_less if most_repeated_run(r["utterance"])[1] >= 3]
    assert len(loops) == 1 and kept.context_less == [r for r in unfiltered.context_less if r not in loops]
    lines = (tmp_path / "True" / "context_less.jsonl").read_text().splitlines()
    assert set(lines) <= set((tmp_path / "False" / "context_less.jsonl").read_text().splitlines())
