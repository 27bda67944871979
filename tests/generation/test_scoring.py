"""Continuation scoring in TransformersBackend, and the labels stage's score mode in the pipeline."""

from __future__ import annotations

import json

import pytest
from scripted_teacher import respond

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from emo_pillars.errors import ConfigError  # noqa: E402
from emo_pillars.generation import EmoPillarsGenerator, GenerationConfig  # noqa: E402
from emo_pillars.generation.backends import ChatPrompt, ScriptedBackend, TransformersBackend  # noqa: E402
from emo_pillars.generation.pipeline import CONTEXT_LESS_FILE, RUN_FILE  # noqa: E402
from emo_pillars.generation.stages import SCORE_PREFILL  # noqa: E402
from emo_pillars.taxonomy import EMOTIONS  # noqa: E402

SHARED = "here is a set of emotions : joy anger fear sadness surprise love pride relief grief gratitude remorse ."
UTTERANCES = ("the ship found the harbour", "she cried", "we walked home together after the storm", "never again")
CONTINUATIONS = (" joy", " anger", " the storm river", " gratitude remorse", ".")


def make_prompts() -> list[ChatPrompt]:
    return [ChatPrompt.from_user(f"{SHARED}\nutterance : {u}", prefill=SCORE_PREFILL) for u in UTTERANCES]


def reference_scores(backend, prompts, continuations) -> list[list[float]]:
    """Each (prompt, continuation) through the model alone, whole sequence, no cache: the definition."""
    rows = []
    for prompt in prompts:
        ids = backend._encode(prompt)
        row = []
        for text in continuations:
            cont = backend.tokenizer(text, add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                logprobs = backend.model(torch.tensor([ids + cont])).logits[0].float().log_softmax(-1)
            row.append(sum(logprobs[len(ids) - 1 + t, token].item() for t, token in enumerate(cont)))
        rows.append(row)
    return rows


@pytest.mark.parametrize("prefix_cache", [False, True])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_scores_equal_full_sequence_log_probabilities(backend, prefix_cache, batch_size):
    prompts = make_prompts()
    expected = reference_scores(backend, prompts, CONTINUATIONS)
    backend.config.prefix_cache, backend.config.batch_size = prefix_cache, batch_size
    try:
        replies = backend.score(prompts, CONTINUATIONS)
    finally:
        backend.config.prefix_cache, backend.config.batch_size = False, 1
    assert all(r.finish_reason == "stop" and r.error is None and r.text == "" for r in replies)
    scores, prompt_tokens = np.array([r.scores for r in replies]), [r.prompt_tokens for r in replies]
    assert scores.shape == (len(prompts), len(CONTINUATIONS))
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)
    assert prompt_tokens == [len(backend._encode(p)) for p in prompts]
    assert (scores < 0).all()
    assert len({round(float(s), 3) for s in scores[:, 0]}) > 1  # the prompt matters


def test_single_token_continuations_need_no_extra_input(backend):
    """Continuations of one token each are all read from the last prompt position (nothing is fed after it)."""
    singles = [
        c
        for c in (".", ",", "!", "?", " the", " a")
        if len(backend.tokenizer(c, add_special_tokens=False)["input_ids"]) == 1
    ]
    assert len(singles) >= 2
    prompts = make_prompts()[:3]
    expected = reference_scores(backend, prompts, singles)
    backend.config.prefix_cache, backend.config.batch_size = True, 3
    try:
        scores = np.array([r.scores for r in backend.score(prompts, singles)])
    finally:
        backend.config.prefix_cache, backend.config.batch_size = False, 1
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)


def test_bad_continuations_are_refused(backend):
    with pytest.raises(ConfigError, match="at least one"):
        backend.score(make_prompts(), [])
    with pytest.raises(ConfigError, match="empty"):
        backend.score(make_prompts(), [" joy", ""])


def test_score_is_on_the_interface_and_reports_progress(backend):
    prompts = make_prompts()
    seen = []
    backend.config.batch_size = 2
    try:
        replies = backend.score(prompts, CONTINUATIONS, on_progress=seen.append)
    finally:
        backend.config.batch_size = 1
    assert backend.can_score and sum(seen) == len(prompts) and len(seen) == -(-len(prompts) // 2)
    np.testing.assert_allclose(
        [r.scores for r in replies], reference_scores(backend, prompts, CONTINUATIONS), atol=1e-4
    )


def test_a_prompt_that_cannot_render_fails_alone(backend):
    bad = ChatPrompt(messages=(("narrator", "who speaks?"),))  # a role this template refuses
    good = make_prompts()[0]
    saved = backend.tokenizer.chat_template
    backend.tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'narrator' %}{{ raise_exception('no narrators') }}{% endif %}"
        "{{ m['content'] }}{% endfor %}"
    )
    try:
        replies = backend.score([bad, good], CONTINUATIONS)
    finally:
        backend.tokenizer.chat_template = saved
    assert replies[0].finish_reason == "error" and "no narrators" in replies[0].error and replies[0].scores is None
    assert replies[1].finish_reason == "stop" and len(replies[1].scores) == len(CONTINUATIONS)


def test_score_mode_needs_a_scoring_backend():
    with pytest.raises(ConfigError, match="label_mode='score'.*ScriptedBackend"):
        EmoPillarsGenerator(ScriptedBackend(respond), GenerationConfig(label_mode="score"), show_progress=False)
    with pytest.raises(ConfigError, match="label_mode"):
        GenerationConfig(label_mode="vote")


class ScriptedTeacherWithScores(ScriptedBackend):
    """The scripted teacher for stages 1-2 (a random tiny model writes nothing parseable) and a real transformers
    backend for the scoring, so that the labels step runs on real model scores."""

    def __init__(self, scorer: TransformersBackend):
        super().__init__(respond, name="scripted-teacher+tiny-mistral")
        self.can_score = True
        self.scorer = scorer
        self.scored: list[ChatPrompt] = []

    def score(self, prompts, continuations, *, on_progress=None):
        self.scored.extend(prompts)
        return self.scorer.score(prompts, continuations, on_progress=on_progress)


def test_pipeline_score_mode(backend, tmp_path):
    backend.config.prefix_cache, backend.config.batch_size = True, 4
    teacher = ScriptedTeacherWithScores(backend)
    config = GenerationConfig(max_plots=1, label_mode="score", top_k_labels=4, batch_size=5)
    try:
        result = EmoPillarsGenerator(teacher, config, show_progress=False).run(None, tmp_path)
    finally:
        backend.config.prefix_cache, backend.config.batch_size = False, 1
    run = json.loads((tmp_path / RUN_FILE).read_text())
    labels = run["stages"]["labels"]
    n = run["stages"]["utterances"]["kept"]
    assert n > 0 and labels["calls"] > 0 and labels["failed"] == 0
    # the calibration prompt is a call of the step, not a reply to a row: every row's scores are structured
    assert labels["setup_calls"] == 1 and labels["calls"] == labels["inputs"] + 1
    assert labels["structured"] == labels["inputs"] and labels["structured_rate"] == 1.0
    assert labels["completion_tokens"] == 0 and labels["prompt_tokens"] > 0
    assert run["config"]["label_mode"] == "score"
    assert all(p.prefill == SCORE_PREFILL for p in teacher.scored)

    rows = [json.loads(line) for line in (tmp_path / CONTEXT_LESS_FILE).read_text().splitlines()]
    assert len(rows) == len(result.context_less) > 0
    for row in rows:
        scores = row["emotion_scores"]
        assert len(scores) == 4 and scores[0][0] == row["primary_emotion"]  # the generated-for emotion leads
        assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for _, s in scores)
        assert set(row["labels"]) <= {e for e, _ in scores}

    # a second run reads every score from the cache and writes the same rows
    again = EmoPillarsGenerator(teacher, config, show_progress=False).run(None, tmp_path)
    assert again.stats["labels"].cached == labels["calls"] and again.stats["labels"].calls == 0
    assert again.context_less == result.context_less


def test_smollm2_scores_match_the_full_sequence(smollm2_gguf):
    """The real model once: packed scoring of the 28 emotion names equals one forward per continuation."""
    folder, filename = smollm2_gguf
    backend = TransformersBackend(folder, gguf_file=filename, device="cpu", batch_size=2, prefix_cache=True)
    backend.load()
    prompts = [
        ChatPrompt.from_user(f"Which emotion does this express? {u}", prefill="Emotion:")
        for u in ("Thank you so much, you saved my life!", "Get out of my house, I hate you!")
    ]
    continuations = [f" {e}" for e in EMOTIONS]
    scores = np.array([r.scores for r in backend.score(prompts, continuations)])
    checked = [EMOTIONS.index(e) for e in ("anger", "gratitude", "joy", "embarrassment")]  # 1-3 tokens each
    expected = reference_scores(backend, prompts, [continuations[k] for k in checked])
    backend.close()
    np.testing.assert_allclose(scores[:, checked], expected, atol=2e-3, rtol=0)
    assert EMOTIONS[int(scores[0].argmax())] != EMOTIONS[int(scores[1].argmax())]
