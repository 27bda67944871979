"""Steps: prompts from the packaged templates, prefills that agree with the prompts, constraints, and
``format_output`` turning replies (or scores) into rows or drops."""

from __future__ import annotations

import math
import re

import pytest

from emo_pillars.errors import ConfigError
from emo_pillars.generation import GenerationConfig
from emo_pillars.generation.backends import Completion
from emo_pillars.generation.stages import (
    STAGE_CLASSES,
    CharactersStage,
    Drop,
    Keep,
    LabelsStage,
    PlotsStage,
    RewritingStage,
    UtterancesStage,
    assigned_emotions,
    default_steps,
)
from emo_pillars.taxonomy import DEFINITIONS, EMOTIONS, NEUTRAL

ROW = {
    "plot_id": "p1",
    "plot": "Della sells her hair to buy Jim a chain.",
    "character": "Della",
    "_character_index": 0,
    "utterance": "I did it for him.",
    "primary_emotion": "love",
    "labels": ["love", "pride"],
    "context": "Della walks home from the wig maker.",
}


@pytest.mark.parametrize("name", list(STAGE_CLASSES))
@pytest.mark.parametrize("constrained", [True, False])
def test_every_stage_renders_a_single_user_turn_without_placeholders(name, constrained):
    step = STAGE_CLASSES[name](GenerationConfig(constrained=constrained))
    prompt = step.format_input(ROW)
    assert [role for role, _ in prompt.messages] == ["user"]
    text = prompt.messages[0][1]
    assert "$" not in text
    if name in ("utterances", "labels"):
        assert DEFINITIONS["grief"] in text  # the prompts quote the taxonomy's definitions
    if name in ("context", "context_cleaning", "rewriting"):
        assert "love, pride" in text
    assert (prompt.constraint is not None) == constrained


def test_prompts_and_prefills_agree():
    """The characters prompt asks for a numbered list, which the "1." prefill starts. The utterances prompt asks
    for ``emotion: "thought"`` lines: no "1." prefill, and the constraint has exactly that shape."""
    config = GenerationConfig(n_emotional=3, n_neutral=1)
    characters = CharactersStage(config).format_input(ROW)
    assert "numbered list" in characters.messages[0][1] and "\n1. Name\n" in characters.messages[0][1]
    assert characters.prefill == "1."
    assert characters.constraint.matches(" Della\n2. Jim\n3. Madame Sofronie")
    assert not characters.constraint.matches(" Della, a poor wife\n2. Jim")
    utterances = UtterancesStage(config).format_input(ROW)
    assert 'emotion: "thought"' in utterances.messages[0][1] and utterances.prefill == ""
    emotions = assigned_emotions(0, "p1", "Della", 3)
    assert f"in this order: {', '.join(emotions)}." in utterances.messages[0][1]
    reply = "\n".join(f'{e}: "I feel it in my bones today."' for e in emotions) + '\nneutral: "The door is shut."'
    assert utterances.constraint.matches(reply)
    assert not utterances.constraint.matches(reply.replace(emotions[0], emotions[1], 1))
    labels = LabelsStage(config).format_input(ROW)
    assert "1. emotion 0.8" in labels.messages[0][1] and labels.prefill == "1. love"
    assert labels.constraint.matches(" 0.9\n2. pride 0.5\n3. joy 0.1\n4. relief 0.0\n5. caring 0.3")
    assert not labels.constraint.matches(" 0.9\n2. Bob 0.5\n3. joy 0.1\n4. relief 0.0\n5. caring 0.3")
    assert not labels.constraint.matches(" 0.9\n2. love 0.5\n3. joy 0.1\n4. relief 0.0\n5. caring 0.3")
    free = UtterancesStage(GenerationConfig(constrained=False)).format_input(ROW)
    assert free.constraint is None and free.prefill == "" and "in this order" not in free.messages[0][1]


def test_assigned_emotions_are_distinct_seeded_and_non_neutral():
    a = assigned_emotions(0, "p1", "Della", 8)
    assert a == assigned_emotions(0, "p1", "Della", 8) and len(set(a)) == 8 and NEUTRAL not in a
    assert a != assigned_emotions(1, "p1", "Della", 8) and a != assigned_emotions(0, "p1", "Jim", 8)


def test_prompt_hash_follows_template_and_constants(tmp_path):
    assert UtterancesStage().prompt_hash == UtterancesStage().prompt_hash
    assert UtterancesStage(GenerationConfig(n_emotional=4)).prompt_hash != UtterancesStage().prompt_hash
    custom = tmp_path / "u.txt"
    custom.write_text("Write $n_emotional thoughts of $character.")
    config = GenerationConfig(n_emotional=3, stages={"utterances": {"template": str(custom)}})
    assert UtterancesStage(config).format_input(ROW).messages[0][1] == "Write 3 thoughts of Della."
    bad = tmp_path / "bad.txt"
    bad.write_text("Uses $nonsense")
    with pytest.raises(ConfigError, match="unknown placeholders: nonsense"):
        UtterancesStage(GenerationConfig(stages={"utterances": {"template": str(bad)}}))


def test_labels_generate_mode_rows_and_drops():
    step = LabelsStage()
    out = step.format_output(Completion(" 0.8\n2. Proud: 0.5\n3. Bob: 0.9\n4. pride 0.2"), ROW)
    assert isinstance(out, Keep) and out.parse == "partial"
    row = out.rows[0]
    assert row["emotion_scores"] == [["love", 0.8], ["pride", 0.5]] and row["labels"] == ["love", "pride"]
    assert row["raw_label_reply"].startswith("1. love 0.8")
    assert step.format_output(Completion(" 0.1\n2. joy 0.2"), ROW) == Drop("below_threshold", parse="partial")
    assert step.format_output(Completion(""), ROW).reason.startswith("unparsable_")


def _logprobs(best: dict[str, float], rest: float = -9.0) -> list[float]:
    return [math.log(best[e]) if e in best else rest for e in EMOTIONS]


def test_labels_score_mode_leads_with_the_generated_for_emotion_and_calibrates():
    config = GenerationConfig(label_mode="score", top_k_labels=3)
    step = LabelsStage(config)
    assert step.kind == "score" and len(step.continuations) == 28
    prompts = step.setup_prompts()
    assert len(prompts) == 1 and 'Utterance: "N/A"' in prompts[0].messages[0][1] and prompts[0].prefill == "1."
    # the model names "anger" first whatever the utterance: its prior
    prior = _logprobs({"anger": 0.6, "joy": 0.05, "love": 0.05})
    step.setup([Completion("", scores=prior)])
    reply = Completion("", scores=_logprobs({"anger": 0.5, "joy": 0.3, "love": 0.1}, rest=-12.0))
    out = step.format_output(reply, {**ROW, "primary_emotion": "love"})
    row = out.rows[0]
    # scores stay numbers; the generated-for emotion leads; calibrated, joy beats anger
    assert row["emotion_scores"][0][0] == "love" and row["raw_label_reply"] is None
    ranked = [e for e, _ in row["emotion_scores"]]
    assert ranked[:3] == ["love", "joy", "anger"] and max(s for _, s in row["emotion_scores"]) == 1.0
    assert out.counts["top1_raw:anger"] == 1 and out.counts["top1_calibrated:joy"] == 1
    summary = step.summarize(__import__("collections").Counter(out.counts))
    assert summary["top1_raw_distribution"] == {"anger": 1}
    assert summary["top1_calibrated_is_generated_for_rate"] == 0.0
    with pytest.raises(ConfigError, match="content-free"):
        step.setup([Completion("", scores=[float("nan")] * 28)])


def test_utterances_format_output_keeps_the_generated_for_emotion():
    config = GenerationConfig(n_emotional=2, n_neutral=1)
    step = UtterancesStage(config)
    a, b = assigned_emotions(0, "p1", "Della", 2)
    good = step.format_output(
        Completion(f'{a}: "I did it for him."\n{b}: "He must never know."\nneutral: "It rains."'), ROW
    )
    assert good.parse is None and [r["primary_emotion"] for r in good.rows] == [a, b, "neutral"]
    assert [r["id"] for r in good.rows] == ["p1-c00-u00", "p1-c00-u01", "p1-c00-u02"]
    loose = step.format_output(Completion('"I did it for him."\nplot: "He must never know it."'), ROW)
    assert isinstance(loose, Drop) and loose.counts == {"no_emotion": 2}
    short = step.format_output(Completion(f'{a}: "I did it for him."'), ROW)
    assert short.parse == "partial" and len(short.rows) == 1


def test_characters_and_rewriting_parse():
    out = CharactersStage().format_output(Completion(" Della\n2. Jim\n3. Madame Sofronie"), ROW)
    assert [r["character"] for r in out.rows] == ["Della", "Jim", "Madame Sofronie"]
    assert CharactersStage().format_output(Completion(""), ROW) == Drop("no_characters", parse="no_valid_items")
    rewritten = RewritingStage().format_output(Completion('Rewritten thought: "It is done."\nExplanation: ...'), ROW)
    assert rewritten.rows[0]["utterance_rewritten"] == "It is done."
    fallback = RewritingStage().format_output(Completion(""), ROW)
    assert fallback.rows[0]["utterance_rewritten"] == ROW["utterance"] and fallback.counts == {"fallback_empty": 1}


def test_plots_step_cuts_a_huge_synopsis_to_the_token_budget():
    step = PlotsStage(GenerationConfig(max_plot_tokens=100))
    huge = {"plot_id": "p", "plot": "word " * 1_000_000}  # 5 MB on one line
    out = step.format_output(None, huge)
    assert out.counts == {"truncated": 1} and 0 < len(out.rows[0]["plot"].split()) * 4 / 3 <= 100
    small = {"plot_id": "p", "plot": "A short tale."}
    assert step.format_output(None, small) == Keep([small])


def test_default_steps_follow_the_config():
    names = [s.name for s in default_steps(GenerationConfig())]
    assert names == ["plots", "characters", "utterances", "labels", "repetition"]
    assert "repetition" not in [s.name for s in default_steps(GenerationConfig(drop_repetitions=False))]
    config = GenerationConfig(contextual=True, stages={"context_cleaning": {"enabled": False}})
    names = [s.name for s in default_steps(config)]
    assert names == ["plots", "characters", "utterances", "labels", "repetition", "contextual_subset", "context",
                     "rewriting", "contextual_variants"]  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{64}", default_steps(config)[1].prompt_hash)


def _all_constraints():
    config = GenerationConfig(contextual=True)
    return [
        step.format_input(ROW).constraint
        for step in default_steps(config)
        if step.kind == "generate" and step.format_input(ROW).constraint is not None
    ]


def test_constraints_stay_in_the_common_regex_subset():
    constraints = _all_constraints()
    assert {c.name for c in constraints} == {"characters", "utterances", "labels", "text"}
    for c in constraints:
        assert not re.search(r"\(\?[=!<]|\\[1-9]", c.regex), c.name  # no look-arounds, no back-references
        re.compile(c.regex)


def test_constraints_compile_in_xgrammar(smollm2_gguf):
    xgr = pytest.importorskip("xgrammar")
    from transformers import AutoTokenizer

    folder, name = smollm2_gguf
    compiler = xgr.GrammarCompiler(
        xgr.TokenizerInfo.from_huggingface(AutoTokenizer.from_pretrained(folder, gguf_file=name))
    )
    for c in _all_constraints():
        compiler.compile_regex(c.regex)


def test_a_repeated_thought_in_the_requested_shape_is_kept_once_and_counted():
    config = GenerationConfig(n_emotional=2, n_neutral=1)
    a, b = assigned_emotions(0, "p1", "Della", 2)
    reply = f'{a}: "The story goes on."\n{b}: "The story goes on."\nneutral: "The door is shut."'
    out = UtterancesStage(config).format_output(Completion(reply), ROW)
    assert out.parse is None and out.counts == {"duplicate_thought": 1}
    assert [r["utterance"] for r in out.rows] == ["The story goes on.", "The door is shut."]


def test_a_repeated_emotion_in_the_requested_label_shape_is_kept_once_and_counted():
    out = LabelsStage().format_output(Completion(" 0.9\n2. joy 0.5\n3. joy 0.7\n4. relief 0.1\n5. pride 0.3"), ROW)
    assert out.parse is None and out.counts["duplicate_emotion"] == 1
    assert out.rows[0]["emotion_scores"] == [["love", 0.9], ["joy", 0.7], ["pride", 0.3], ["relief", 0.1]]
