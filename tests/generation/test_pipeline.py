"""Orchestration: the stage graph, filtering at the threshold, run.json counts, resume after SIGKILL, and
multi-process generation with accelerate."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from scripted_teacher import scripted_teacher

from emo_pillars.errors import ConfigError
from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
from emo_pillars.generation.pipeline import CONTEXT_LESS_FILE, CONTEXTUAL_FILE, RUN_FILE
from emo_pillars.taxonomy import EMOTIONS

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("scripted")
    config = GenerationConfig(max_plots=4, contextual=True, contextual_fraction=0.5)
    result = EmoPillarsGenerator(scripted_teacher(), config, show_progress=False).run(None, out)
    return result, out


LLM_STEPS = ["characters", "utterances", "labels", "context", "context_cleaning", "rewriting"]


def test_stage_graph_and_counts(scripted_run):
    result, out = scripted_run
    run = json.loads((out / RUN_FILE).read_text())
    stages = run["stages"]
    assert list(stages) == [
        "plots", "characters", "utterances", "labels", "repetition", "contextual_subset", "context", "context_cleaning",
        "rewriting", "contextual_variants",
    ]  # fmt: skip
    n_chars = stages["characters"]["kept"]
    assert stages["characters"]["calls"] == run["counts"]["plots"] == 4
    assert stages["utterances"]["calls"] == n_chars > 0
    # every parsed utterance is labelled once; the neutral "oars" line of each character is below threshold
    assert stages["labels"]["calls"] == stages["utterances"]["kept"] == 4 * n_chars
    assert stages["labels"]["dropped_by_reason"] == {"below_threshold": n_chars}
    assert stages["labels"]["kept"] == run["counts"]["context_less"] == len(result.context_less) == 3 * n_chars
    # contextual: each chosen example runs stages 4-6 once and yields an original and a rewritten row
    assert stages["context"]["calls"] == stages["rewriting"]["calls"] == len(result.contextual) // 2
    assert 0 < stages["context"]["calls"] < len(result.context_less)
    assert stages["contextual_variants"]["kept"] == run["counts"]["contextual"] == len(result.contextual)
    assert set(run["prompt_hashes"]) == set(LLM_STEPS)
    # run.json comes from the config and the stats alone: no repeated settings
    assert "decoding" not in run and "label_threshold" not in run
    assert run["config"]["label_threshold"] == 0.3 and run["backend"]["model"] == "scripted-teacher"
    assert all(stages[s]["prompt_tokens"] > 0 and stages[s]["completion_tokens"] > 0 for s in LLM_STEPS)
    assert len(repr(result)) < 200 and "36 context-less" in repr(result)


def test_labels_are_thresholded_and_inside_the_taxonomy(scripted_run):
    result, out = scripted_run
    rows = _lines(out / CONTEXT_LESS_FILE) + _lines(out / CONTEXTUAL_FILE)
    assert rows == result.context_less + result.contextual
    for row in rows:
        scores = dict(row["emotion_scores"])
        assert set(scores) <= set(EMOTIONS)
        assert row["labels"] == [e for e, s in row["emotion_scores"] if s >= 0.3]
        assert row["labels"] and row["primary_emotion"] in EMOTIONS
        assert all(0.0 <= s <= 1.0 for s in scores.values())
        assert row["raw_label_reply"].startswith(f"1. {row['primary_emotion']}")
    # junk emotion words the teacher wrote ("Odysseus", "plot") never reach a label column
    junk = [r for r in rows if "Odysseus:" in r["raw_label_reply"] or "plot:" in r["raw_label_reply"]]
    assert junk and all(len(r["labels"]) == 2 for r in junk)
    # synonyms are mapped ("hope" -> optimism)
    assert any("optimism" in r["labels"] for r in rows if "hope:" in r["raw_label_reply"])


def test_contextual_variants(scripted_run):
    result, _ = scripted_run
    ids = [r["id"] for r in result.contextual]
    assert len(ids) == len(set(ids))
    by_source: dict[str, dict] = {}
    for row in result.contextual:
        by_source.setdefault(row["source_id"], {})[row["variant"]] = row
    for pair in by_source.values():
        orig, rewr = pair["original"], pair["rewritten"]
        assert orig["utterance"] == orig["source_utterance"] == rewr["source_utterance"]
        assert rewr["utterance"] == orig["utterance_rewritten"] != orig["utterance"]
        assert orig["context"] == orig["context_raw"] and "overjoyed" in orig["context"]
        assert rewr["context"] == orig["context_clean"] and "overjoyed" not in rewr["context"]
    assert all(r["primary_emotion"] != "neutral" for r in result.contextual)


def test_rerun_is_served_from_cache_with_identical_output(scripted_run, tmp_path):
    first, out = scripted_run
    first_tokens = {s: first.stats[s].completion_tokens for s in LLM_STEPS}
    backend = scripted_teacher()
    config = GenerationConfig(max_plots=4, contextual=True, contextual_fraction=0.5)
    again = EmoPillarsGenerator(backend, config, show_progress=False).run(None, out)
    assert backend.calls == 0
    assert all(again.stats[s].calls == 0 and again.stats[s].cached > 0 for s in LLM_STEPS)
    assert _lines(out / CONTEXT_LESS_FILE) == again.context_less
    # token counts survive: cached entries keep theirs
    assert all(first_tokens[s] == again.stats[s].completion_tokens > 0 for s in LLM_STEPS)
    assert all(again.stats[s].cached_completion_tokens == again.stats[s].completion_tokens for s in LLM_STEPS)


def test_shards_concatenate_to_the_whole_run(scripted_run, tmp_path):
    """Two shards (two machines) make exactly the rows of one run over all plots, with the same ids."""
    _, whole = scripted_run
    rows: dict[str, list] = {CONTEXT_LESS_FILE: [], CONTEXTUAL_FILE: []}
    for index in range(2):
        config = GenerationConfig(
            max_plots=4, contextual=True, contextual_fraction=0.5, num_shards=2, shard_index=index
        )
        result = EmoPillarsGenerator(scripted_teacher(), config, show_progress=False).run(None, tmp_path / str(index))
        assert result.run_info["counts"]["plots"] == 2
        for name in rows:
            rows[name] += _lines(tmp_path / str(index) / name)
    for name, shard_rows in rows.items():
        expected = _lines(whole / name)
        assert sorted(r["id"] for r in shard_rows) == sorted(r["id"] for r in expected)
        assert sorted(shard_rows, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])
    with pytest.raises(ConfigError, match="shard_index"):
        GenerationConfig(num_shards=2, shard_index=2)


def test_switched_off_stages_and_bad_config(tmp_path):
    config = GenerationConfig(
        max_plots=1, contextual=True, contextual_fraction=1.0, stages={"rewriting": {"enabled": False}}
    )
    result = EmoPillarsGenerator(scripted_teacher(), config, show_progress=False).run(None, tmp_path)
    assert "rewriting" not in result.stats
    rewritten = [r for r in result.contextual if r["variant"] == "rewritten"]
    assert rewritten and all(r["utterance"] == r["source_utterance"] for r in rewritten)
    with pytest.raises(ConfigError, match="cannot be switched off"):
        GenerationConfig(stages={"labels": {"enabled": False}})
    with pytest.raises(ConfigError, match="unknown stage"):
        GenerationConfig(stages={"colours": {}})


def test_unparsable_replies_are_counted_not_raised(tmp_path):
    from emo_pillars.generation.backends import ScriptedBackend

    backend = ScriptedBackend(lambda p: "" if "Synopsis:" in p.messages[-1][1] else "???")
    result = EmoPillarsGenerator(backend, GenerationConfig(max_plots=2), show_progress=False).run(None, tmp_path)
    assert result.context_less == []
    assert result.stats["characters"].parse_failures == {"no_valid_items": 2}  # the "1." prefill alone
    assert result.stats["characters"].dropped == {"no_characters": 2}
    assert result.problem == (
        "0 of 2 characters replies parsed (no_valid_items 2): try a larger teacher, or check the synopses"
    )


RESUME_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    from scripted_teacher import scripted_teacher
    from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
    config = GenerationConfig(max_plots=3, contextual=True, contextual_fraction=0.5, batch_size=2, chunk_size=1)
    backend = scripted_teacher(delay_s=float(sys.argv[2]))
    EmoPillarsGenerator(backend, config, show_progress=False).run(None, sys.argv[1])
    print("calls", backend.calls)
    """
)


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(RESUME_SCRIPT.format(here=str(HERE)))
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    reference = subprocess.run([sys.executable, str(script), str(full), "0"], capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr
    total_calls = int(reference.stdout.split()[-1])

    proc = subprocess.Popen([sys.executable, str(script), str(crashed), "0.02"])
    output = crashed / CONTEXT_LESS_FILE
    deadline = time.time() + 60
    while time.time() < deadline and (not output.exists() or output.stat().st_size == 0):
        time.sleep(0.02)
    time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)  # the first chunk is written, the next ones are running
    proc.wait()
    # the output grew during the run: part of it is there
    assert 0 < output.stat().st_size < (full / CONTEXT_LESS_FILE).stat().st_size
    labels_cache = crashed / "cache" / "labels.jsonl"
    with labels_cache.open("a") as handle:  # as if the kill hit in the middle of a write
        handle.write('{"key": "abc", "te')
    with output.open("a") as handle:
        handle.write('{"id": "half a ')

    resumed = subprocess.run([sys.executable, str(script), str(crashed), "0"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert 0 < int(resumed.stdout.split()[-1]) < total_calls
    for name in (CONTEXT_LESS_FILE, CONTEXTUAL_FILE):
        assert (crashed / name).read_text() == (full / name).read_text()


TWO_PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig
    from emo_pillars.generation.backends import ScriptedBackend, TransformersBackend
    model, out = sys.argv[1], sys.argv[2]
    backend = TransformersBackend(model, device="cpu", batch_size=3)
    config = GenerationConfig(max_plots=3, batch_size=5)
    config.stages["characters"].max_new_tokens = 24
    config.stages["utterances"].max_new_tokens = 24
    config.stages["labels"].max_new_tokens = 12
    EmoPillarsGenerator(backend, config, show_progress=False).run(None, out)
    print("processes", backend.num_processes, "main", backend.is_main_process)
    """
)


def test_two_cpu_processes_give_the_same_output_as_one(tiny_mistral_dir, tmp_path):
    script = tmp_path / "two.py"
    script.write_text(TWO_PROCESS_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"}
    one = subprocess.run(
        [sys.executable, str(script), str(tiny_mistral_dir), str(tmp_path / "one")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
         str(script), str(tiny_mistral_dir), str(tmp_path / "two")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "processes 2 main True" in two.stdout and "processes 2 main False" in two.stdout
    one_caches = sorted(p.name for p in (tmp_path / "one" / "cache").iterdir())
    assert one_caches == sorted(p.name for p in (tmp_path / "two" / "cache").iterdir())
    assert "characters.jsonl" in one_caches
    for name in one_caches:  # the same replies for the same prompts, however the work was split
        one_cache = (tmp_path / "one" / "cache" / name).read_text().splitlines()
        two_cache = (tmp_path / "two" / "cache" / name).read_text().splitlines()
        assert one_cache and sorted(one_cache) == sorted(two_cache)
    assert len((tmp_path / "one" / "cache" / "characters.jsonl").read_text().splitlines()) == 3
    assert (
        json.loads((tmp_path / "one" / RUN_FILE).read_text())["counts"]
        == json.loads((tmp_path / "two" / RUN_FILE).read_text())["counts"]
    )
    assert (tmp_path / "one" / CONTEXT_LESS_FILE).read_text() == (tmp_path / "two" / CONTEXT_LESS_FILE).read_text()
