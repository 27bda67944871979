"""Constrained decoding on TransformersBackend: a random model's replies match their regex, batching and the prefix
cache do not change them, free rows are untouched, grammars are compiled once per regex."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("xgrammar")

from emo_pillars.generation.backends import ChatPrompt, DecodingConfig, TransformersBackend  # noqa: E402
from emo_pillars.generation.constraints import (  # noqa: E402
    Constraint,
    characters_constraint,
    labels_constraint,
    text_constraint,
    utterances_constraint,
)
from emo_pillars.taxonomy import EMOTIONS  # noqa: E402

HEADER = (
    "here is a story and a character . the character feels joy anger fear sadness surprise love pride relief "
    "grief gratitude remorse admiration amusement annoyance approval caring confusion curiosity desire ."
)
PLOTS = (
    "the ship found the harbour after the storm and the brother walked home alone",
    "the garden behind the village was a secret and the sister laughed",
)
MAX_NEW = 80


def make_prompts() -> list[ChatPrompt]:
    """Label, utterance and character prompts, and free ones, over a shared header (so the prefix cache is used)."""
    prompts = []
    for p, plot in enumerate(PLOTS):
        text = f"{HEADER}\n{plot}\n"
        first = EMOTIONS[3 + p]
        prompts += [
            ChatPrompt.from_user(text + "label it", prefill=f"1. {first}"),
            ChatPrompt.from_user(text + "what do you think ?"),
            ChatPrompt.from_user(text + "who is in it ?"),
            ChatPrompt.from_user(text + "tell me more"),
        ]
        prompts[-4] = _with(prompts[-4], labels_constraint(3, first_emotion=first))
        prompts[-3] = _with(prompts[-3], utterances_constraint(["joy", EMOTIONS[p]], 1, max_chars=30))
        # A bounded names shape (the stage's own names are open-ended): the grammar must end the reply itself.
        prompts[-2] = _with(
            prompts[-2], Constraint(r"[A-Z][a-z]{1,8}( [A-Z][a-z]{1,8})?(\n[A-Z][a-z]{1,8}){0,2}\n?", "names")
        )
    return prompts


def _with(prompt: ChatPrompt, constraint: Constraint | None) -> ChatPrompt:
    return ChatPrompt(prompt.messages, prompt.prefill, constraint)


@pytest.fixture(scope="module")
def constrained(backend):
    """Every prompt alone (batch of one), constrained where it has a constraint."""
    backend.config.batch_size = 1
    return backend.generate(make_prompts(), max_new_tokens=MAX_NEW)


def test_constrained_replies_of_a_random_model_match_their_regex(backend, constrained):
    prompts = make_prompts()
    for prompt, reply in zip(prompts, constrained):
        if prompt.constraint is not None:
            assert prompt.constraint.matches(reply.text), (prompt.constraint.name, reply.text)
            assert reply.finish_reason == "stop"  # the grammar ended the reply with an end-of-sequence token
            assert reply.completion_tokens <= MAX_NEW
    # The same prompts unconstrained: a random model does not produce these shapes by chance.
    free = backend.generate([_with(p, None) for p in prompts], max_new_tokens=MAX_NEW)
    shaped = [p for p in prompts if p.constraint is not None]
    assert not any(p.constraint.matches(r.text) for p, r in zip(prompts, free) if p.constraint is not None)
    assert len(shaped) == 6


def test_free_rows_are_untouched_by_constrained_neighbours(backend, constrained):
    prompts = make_prompts()
    free_alone = backend.generate([p for p in prompts if p.constraint is None], max_new_tokens=MAX_NEW)
    mixed = [r for p, r in zip(prompts, constrained) if p.constraint is None]
    assert [r.text for r in mixed] == [r.text for r in free_alone]


@pytest.mark.parametrize(
    "limits", [{"batch_size": 3}, {"batch_size": 8}, {"batch_size": None, "max_batch_tokens": 900}]
)
@pytest.mark.parametrize("prefix_cache", [True, False])
def test_batching_and_prefix_cache_keep_constrained_replies(backend, constrained, limits, prefix_cache):
    saved = {name: getattr(backend.config, name) for name in (*limits, "prefix_cache")}
    for name, value in {**limits, "prefix_cache": prefix_cache}.items():
        setattr(backend.config, name, value)
    try:
        before = backend.prefix_tokens_encoded
        replies = backend.generate(make_prompts(), max_new_tokens=MAX_NEW)
        used_prefix_cache = backend.prefix_tokens_encoded > before or bool(backend._prefix_store)
    finally:
        for name, value in saved.items():
            setattr(backend.config, name, value)
    assert [r.text for r in replies] == [r.text for r in constrained]
    assert [r.finish_reason for r in replies] == [r.finish_reason for r in constrained]
    if prefix_cache:
        assert used_prefix_cache


def test_grammars_are_compiled_once_per_regex(backend, constrained):
    compiled = backend._grammars.compiled
    backend.generate(make_prompts()[:3], max_new_tokens=4)
    assert backend._grammars.compiled == compiled  # all three regexes were compiled for the fixture already
    assert compiled == len({p.constraint.regex for p in make_prompts() if p.constraint is not None})


def test_greedy_constrained_decoding_is_deterministic_and_sampling_stays_inside(backend):
    prompt = _with(ChatPrompt.from_user("who is in it ?"), characters_constraint(2))
    first = backend.generate([prompt], max_new_tokens=40)[0].text
    assert backend.generate([prompt], max_new_tokens=40)[0].text == first
    sampled = DecodingConfig(temperature=1.5, top_p=0.95, seed=3)
    for seed in range(3):
        decoding = DecodingConfig(temperature=sampled.temperature, top_p=sampled.top_p, seed=seed)
        assert prompt.constraint.matches(backend.generate([prompt], max_new_tokens=40, decoding=decoding)[0].text)


def test_truncated_constrained_reply_is_a_prefix_of_the_shape(backend):
    prompt = _with(ChatPrompt.from_user("say it"), Constraint(r"(joy|anger) is [a-z]{20,30}\.", name="toy"))
    reply = backend.generate([prompt], max_new_tokens=3)[0]
    assert reply.finish_reason == "length"
    assert any(reply.text.startswith(w) or w.startswith(reply.text) for w in ("joy is ", "anger is ")), reply.text


def test_a_constraint_that_cannot_compile_fails_its_row_only(backend):
    good = _with(ChatPrompt.from_user("label it"), labels_constraint(2))
    bad = _with(ChatPrompt.from_user("label it"), Constraint("(unclosed", name="bad"))
    replies = backend.generate([good, bad], max_new_tokens=30)
    assert good.constraint.matches(replies[0].text)
    assert replies[1].finish_reason == "error" and "cannot compile the constraint" in replies[1].error


def test_text_constraint_caps_the_reply_length(backend):
    prompt = _with(ChatPrompt.from_user("tell me more"), text_constraint(max_chars=12))
    reply = backend.generate([prompt], max_new_tokens=60)[0]
    assert 1 <= len(reply.text) <= 12 and reply.finish_reason == "stop"


def test_prefill_goes_through_continue_final_message(backend):
    """The rendered prompt with a prefill is the template's opened assistant turn plus the prefill, token for token,
    and an empty prefill renders the plain generation prompt."""
    tokenizer = backend.tokenizer
    for prefill in ("1.", "1. joy", "Answer: ", ""):
        prompt = ChatPrompt.from_user("the storm ended", system="you are a careful narrator", prefill=prefill)
        by_hand = tokenizer.apply_chat_template(prompt.as_messages(), tokenize=False, add_generation_prompt=True)
        by_hand += prefill
        assert backend.render(prompt) == by_hand
        assert backend._encode(prompt) == tokenizer(by_hand, add_special_tokens=False)["input_ids"]


@pytest.mark.slow
def test_smollm2_labels_and_utterances_follow_their_constraints(smollm2_gguf, capfd):
    """The real tokenizer (GGUF-converted byte-level BPE, 49,152 tokens): constrained replies parse, the prefill
    renders as before, and ``show_progress=False`` loads without a bar."""
    folder, filename = smollm2_gguf
    backend = TransformersBackend(folder, gguf_file=filename, device="cpu", batch_size=4, show_progress=False)
    backend.load()
    assert capfd.readouterr().err == ""
    labels = _with(
        ChatPrompt.from_user("Label the emotions of: I finally got the job!", prefill="1. joy"),
        labels_constraint(3, first_emotion="joy"),
    )
    utterances = _with(
        ChatPrompt.from_user("Write what Alice thinks after the storm, one line per emotion."),
        utterances_constraint(["fear", "relief"], 1, max_chars=40),
    )
    replies = backend.generate([labels, utterances], max_new_tokens=120)
    assert labels.constraint.matches(replies[0].text), replies[0].text
    assert utterances.constraint.matches(replies[1].text), replies[1].text
    hand = backend.tokenizer.apply_chat_template(labels.as_messages(), tokenize=False, add_generation_prompt=True)
    assert backend.render(labels) == hand + "1. joy"
    assert backend.context_window == 8192
    backend.close()


def test_only_large_bounds_are_relaxed_for_the_grammar_engine():
    from emo_pillars.generation.backends.grammar import EXACT_BOUND, relax_bounds

    assert EXACT_BOUND == 100
    regex = utterances_constraint(["joy"], 1, max_chars=300).regex
    assert "{0,299}" in regex and "{0,299}" not in relax_bounds(regex)
    assert relax_bounds(characters_constraint(15).regex) == characters_constraint(15).regex
    assert relax_bounds(r"a\{1,300\}b{2,101}") == r"a\{1,300\}b{2,}"  # an escaped brace is a literal
    assert relax_bounds(text_constraint(1500).regex) == r"[^\x00]+"
