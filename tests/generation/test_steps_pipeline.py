"""The generic pipeline over steps: adding a step, score mode with calibration, the call key, streaming edges
(lock, stale files, huge synopses), and the result object."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from scripted_teacher import respond, scripted_teacher

from emo_pillars.errors import ConfigError
from emo_pillars.generation import Drop, EmoPillarsGenerator, GenerationConfig, Step, default_steps
from emo_pillars.generation.backends import ScriptedBackend
from emo_pillars.generation.pipeline import CONTEXT_LESS_FILE, CONTEXTUAL_FILE, OutputLock
from emo_pillars.generation.stages import assigned_emotions
from emo_pillars.taxonomy import EMOTIONS, NEUTRAL

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class MinWords(Step):
    """A toy quality filter: drop utterances of fewer than six words."""

    name, kind, reads = "min_words", "local", ("utterance",)

    def format_output(self, reply, row):
        return [row] if len(row["utterance"].split()) >= 6 else Drop("too_short")


def test_a_new_step_is_one_class_and_one_list_entry(tmp_path):
    config = GenerationConfig(max_plots=2)
    steps = default_steps(config)
    steps.insert([s.name for s in steps].index("labels"), MinWords(config))
    result = EmoPillarsGenerator(scripted_teacher(), config, steps=steps, show_progress=False).run(None, tmp_path)
    stats = result.run_info["stages"]
    assert list(stats)[3] == "min_words"
    # "The boat has two oars." (5 words) is filtered before any label call is made for it
    assert stats["min_words"]["dropped_by_reason"] == {"too_short": stats["characters"]["kept"]}
    assert stats["labels"]["calls"] == stats["min_words"]["kept"] > 0
    assert all(len(r["utterance"].split()) >= 6 for r in result.context_less)


def test_every_example_carries_the_emotion_it_was_generated_for(tmp_path):
    config = GenerationConfig(max_plots=3)
    result = EmoPillarsGenerator(scripted_teacher(), config, show_progress=False).run(None, tmp_path)
    assert result.context_less
    for row in result.context_less:
        assigned = assigned_emotions(0, row["plot_id"], row["character"], config.n_emotional)
        assert row["primary_emotion"] in assigned + [NEUTRAL]
        assert row["emotion_scores"][0][0] == row["primary_emotion"]  # the prefill leads
        assert set(row["labels"]) <= set(EMOTIONS)
    assert result.stats["labels"].structured_rate == 0.0  # the teacher's odd formats are caught, not trusted
    assert result.stats["characters"].structured_rate == 1.0


def _scorer(prompt, continuations):
    """Log-probabilities: "anger" is the model's prior; the utterance's own emotion word adds evidence."""
    utterance = prompt.messages[-1][1].rsplit("Utterance:", 1)[1]
    out = []
    for c in continuations:
        emotion = c.strip()
        lp = math.log(0.4) if emotion == "anger" else math.log(0.02)
        if emotion in utterance:
            lp += 2.0
        out.append(lp)
    return out


def test_score_mode_calibrates_once_per_run_and_reports_fidelity(tmp_path):
    config = GenerationConfig(max_plots=2, label_mode="score")
    backend = ScriptedBackend(respond, scorer=_scorer)
    result = EmoPillarsGenerator(backend, config, show_progress=False).run(None, tmp_path)
    labels = result.run_info["stages"]["labels"]
    # one content-free call, cached like any call: the re-run makes no call at all
    assert labels["calls"] == labels["inputs"] + 1
    counts = labels["counts"]
    assert counts["top1_raw_distribution"]["anger"] >= labels["inputs"] // 2  # the prior wins uncalibrated
    assert counts["top1_calibrated_is_generated_for_rate"] > counts["top1_raw_is_generated_for_rate"]
    for row in result.context_less:
        assert row["emotion_scores"][0][0] == row["primary_emotion"] and row["raw_label_reply"] is None
        assert all(isinstance(s, float) for _, s in row["emotion_scores"])
    again_backend = ScriptedBackend(respond, scorer=_scorer)
    again = EmoPillarsGenerator(again_backend, config, show_progress=False).run(None, tmp_path)
    assert again_backend.calls == 0 and again.stats["labels"].cached == labels["calls"]
    assert (tmp_path / CONTEXT_LESS_FILE).read_text() == "".join(
        json.dumps(r, ensure_ascii=False) + "\n" for r in result.context_less
    )


def test_a_backend_that_cannot_score_is_refused_before_the_run():
    with pytest.raises(ConfigError, match="cannot do: use label_mode='generate'"):
        EmoPillarsGenerator(scripted_teacher(), GenerationConfig(label_mode="score"), show_progress=False)


class DtypeBackend(ScriptedBackend):
    def __init__(self, dtype):
        super().__init__(respond, name="scripted-teacher")
        self.dtype = dtype

    def cache_identity(self):
        return {**super().cache_identity(), "dtype": self.dtype}


def test_the_call_key_covers_the_backend_identity_and_the_constraint(tmp_path):
    config = GenerationConfig(max_plots=1)
    EmoPillarsGenerator(DtypeBackend("bfloat16"), config, show_progress=False).run(None, tmp_path)
    same = DtypeBackend("bfloat16")
    EmoPillarsGenerator(same, config, show_progress=False).run(None, tmp_path)
    assert same.calls == 0
    other = DtypeBackend("float32")
    EmoPillarsGenerator(other, config, show_progress=False).run(None, tmp_path)
    assert other.calls > 0  # a float32 run never reuses bf16 replies
    free = DtypeBackend("float32")
    EmoPillarsGenerator(free, GenerationConfig(max_plots=1, constrained=False), show_progress=False).run(
        None, tmp_path
    )
    assert free.calls > 0  # constrained and free replies never share an entry


def test_a_huge_single_line_synopsis_never_builds_a_huge_prompt(tmp_path, caplog):
    longest = []

    def reply(prompt):
        longest.append(len(prompt.messages[-1][1]))
        return respond(prompt)

    plots = tmp_path / "plots.jsonl"
    huge = "Captain Ahab hunts the whale across every sea. " * 110_000  # ~5 MB, one line
    plots.write_text(json.dumps({"text": huge}) + "\n" + json.dumps({"text": "Della sells her hair."}) + "\n")
    config = GenerationConfig(max_plot_tokens=512)
    with caplog.at_level(logging.WARNING, logger="emo_pillars.generation.pipeline"):
        result = EmoPillarsGenerator(ScriptedBackend(reply), config, show_progress=False).run(plots, tmp_path / "o")
    assert max(longest) < 8 * 512 + 6000  # the cut synopsis plus the template and the 28 definitions
    assert result.run_info["counts"]["truncated_plots"] == 1
    assert result.run_info["stages"]["plots"]["counts"] == {"truncated": 1}
    warnings = [r.message for r in caplog.records if "cut" in r.message]
    assert len(warnings) == 1


def test_a_stale_contextual_file_is_removed(tmp_path, caplog):
    config = GenerationConfig(max_plots=1, contextual=True, contextual_fraction=1.0)
    EmoPillarsGenerator(scripted_teacher(), config, show_progress=False).run(None, tmp_path)
    assert (tmp_path / CONTEXTUAL_FILE).stat().st_size > 0
    with caplog.at_level(logging.WARNING, logger="emo_pillars.generation.pipeline"):
        EmoPillarsGenerator(scripted_teacher(), GenerationConfig(max_plots=1), show_progress=False).run(None, tmp_path)
    assert not (tmp_path / CONTEXTUAL_FILE).exists()
    assert [r.message for r in caplog.records if "contextual.jsonl" in r.message]


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from emo_pillars.generation.pipeline import OutputLock
    with OutputLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_a_second_process_cannot_write_the_same_folder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError) as err:
            EmoPillarsGenerator(scripted_teacher(), GenerationConfig(max_plots=1), show_progress=False).run(
                None, tmp_path
            )
        message = str(err.value)
        assert str(tmp_path) in message and f"pid {holder.pid}" in message and "\n" not in message
        assert not (tmp_path / CONTEXT_LESS_FILE).exists()  # nothing was touched
    finally:
        holder.kill()
        holder.wait()
    # a killed holder leaves no stale lock
    with OutputLock(tmp_path):
        pass


def test_result_repr_dataset_and_summary(tmp_path):
    config = GenerationConfig(max_plots=2, contextual=True, contextual_fraction=0.5)
    result = EmoPillarsGenerator(scripted_teacher(), config, show_progress=False).run(None, tmp_path)
    assert len(repr(result)) < 200
    dataset = result.to_dataset()
    assert set(dataset) == {"context_less", "contextual"}
    assert len(dataset["context_less"]) == len(result.context_less)
    assert dataset["context_less"][0]["emotion_scores"][0].keys() == {"emotion", "score"}
    summary = result.summary()
    assert "parsed" in summary.splitlines()[0] and "100%" in summary


def test_progress_moves_per_call(tmp_path):
    seen = []

    class Reporting(ScriptedBackend):
        def generate(self, prompts, *, on_progress=None, **kwargs):
            out = []
            for prompt in prompts:
                out += super().generate([prompt], **kwargs)
                seen.append(on_progress is not None)
                on_progress(1)
            return out

    config = GenerationConfig(max_plots=1)
    generator = EmoPillarsGenerator(Reporting(respond), config, show_progress=True)
    result = generator.run(None, tmp_path)
    assert seen and all(seen)
    assert sum(s.calls for s in result.stats.values()) == len(seen)


PUSH = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    from scripted_teacher import scripted_teacher
    from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
    config = GenerationConfig(max_plots=1)
    result = EmoPillarsGenerator(scripted_teacher(), config, show_progress=False).run(None, sys.argv[1])
    result.push_to_hub("me/generated")
    print("pushed", len(result.context_less))
    """
)


def test_push_to_hub(tmp_path):
    from hub_server import HubServer

    with HubServer() as server:
        env = server.client_env(hf_home=tmp_path / "hf-home")
        run = subprocess.run(
            [sys.executable, "-c", PUSH.format(here=str(HERE)), str(tmp_path / "out")],
            env=env, capture_output=True, text=True, timeout=300, cwd=REPO,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        files = server.files("datasets", "me/generated")
    assert any(name.startswith("context_less/") and name.endswith(".parquet") for name in files)


def _guide_merge_line() -> str:
    text = (REPO / "docs" / "guide" / "generating.md").read_text(encoding="utf-8")
    start = text.index("emo-pillars merge --narratives plots.txt")
    return text[start : text.index("\n", start)].split("#")[0]


@pytest.mark.parametrize("contextual", [False, True])
def test_the_guide_shard_recipe_works_as_written(tmp_path, contextual):
    """The user guide's line that joins the shards, run as written, with and without --contextual: the merged files
    equal an unsharded run's."""
    from emo_pillars.narratives import load_narratives

    plots = [p.text for p in load_narratives(None)][:4]
    (tmp_path / "plots.txt").write_text("\n<EOS>\n".join(plots) + "\n", encoding="utf-8")
    config = {"contextual": contextual, "contextual_fraction": 1.0}
    for index in range(2):
        generator = EmoPillarsGenerator(
            scripted_teacher(), GenerationConfig(**config, num_shards=2, shard_index=index), show_progress=False
        )
        generator.run(tmp_path / "plots.txt", tmp_path / "outputs" / f"shard{index}")
    EmoPillarsGenerator(scripted_teacher(), GenerationConfig(**config), show_progress=False).run(
        tmp_path / "plots.txt", tmp_path / "whole"
    )
    line = _guide_merge_line().replace("emo-pillars", f"{sys.executable} -m emo_pillars", 1)
    run = subprocess.run(["bash", "-e", "-c", line], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    joined = tmp_path / "outputs" / "all"
    assert _lines(joined / CONTEXT_LESS_FILE) == _lines(tmp_path / "whole" / CONTEXT_LESS_FILE)
    assert (joined / CONTEXTUAL_FILE).exists() == contextual
    if not contextual:  # no contextual.jsonl to join: the build must still make the context-less config
        from emo_pillars.commands.cli import main

        assert main(["build-dataset", "--generated", str(joined), "--output", str(tmp_path / "repo")]) == 0
