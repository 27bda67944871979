"""Shared-prefix reuse in TransformersBackend: greedy replies equal the plain path's, the prefix is encoded once."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from emo_pillars.generation.backends import ChatPrompt, DecodingConfig  # noqa: E402

HEADER = (
    "here is a story and a character . the character feels joy anger fear sadness surprise love pride relief "
    "grief gratitude remorse admiration amusement annoyance approval caring confusion curiosity desire ."
)
PLOTS = (
    "the ship found the harbour after the storm and the brother walked home alone while the mother waited",
    "the garden behind the village was a secret and the sister laughed when the letter finally opened",
    "a river under the mountain never closed and the father whispered because the friend was lost",
    "the city at night was quiet but the door opened suddenly and they cried together",
)
NAMES = ("the brother", "the mother and father", "a friend", "the sister who waited by the window every morning")


def make_prompts() -> list[ChatPrompt]:
    """Two plots with four characters each, two plots with one: a shared header, longer shared plot prefixes, and
    suffixes of different lengths inside each plot (so suffixes are padded after the prefix)."""
    prompts = []
    for p, plot in enumerate(PLOTS):
        for name in NAMES if p < 2 else NAMES[p - 2 : p - 1]:
            prefill = "1." if len(name) % 2 else ""
            text = f"{HEADER}\n{plot} . {plot}\nyou are {name} . what do you think ?"
            prompts.append(ChatPrompt.from_user(text, prefill=prefill))
    return prompts


@pytest.fixture(scope="module")
def reference(backend):
    """Every prompt alone through the plain path (no padding, no prefix cache), with and without the penalty."""
    prompts = make_prompts()
    return {
        penalty: backend.generate(prompts, max_new_tokens=12, decoding=DecodingConfig(repetition_penalty=penalty))
        for penalty in (1.0, 1.03)
    }


def _configure(backend, **fields):
    saved = {name: getattr(backend.config, name) for name in fields}
    for name, value in fields.items():
        setattr(backend.config, name, value)
    return saved


@pytest.mark.parametrize("penalty", [1.0, 1.03])
@pytest.mark.parametrize(
    "limits", [{"batch_size": 3}, {"batch_size": 8}, {"batch_size": None, "max_batch_tokens": 500}]
)
def test_prefix_cache_replies_equal_the_plain_path(backend, reference, limits, penalty):
    prompts = make_prompts()
    lengths = [len(backend._encode(p)) for p in prompts]
    assert len(set(lengths[:4])) == 4, "suffix lengths must differ within a plot for the padding to matter"
    saved = _configure(backend, prefix_cache=True, **{"max_batch_tokens": None, **limits})
    backend.clear_prefix_cache()
    before = backend.prefix_tokens_encoded
    try:
        replies = backend.generate(prompts, max_new_tokens=12, decoding=DecodingConfig(repetition_penalty=penalty))
    finally:
        _configure(backend, **saved)
    expected = reference[penalty]
    assert [c.text for c in replies] == [c.text for c in expected]
    assert [c.completion_tokens for c in replies] == [c.completion_tokens for c in expected]
    assert [c.finish_reason for c in replies] == [c.finish_reason for c in expected]
    assert [c.prompt_tokens for c in replies] == lengths
    assert len({c.text for c in replies}) > 1
    # the prefixes went through the model once: far fewer tokens than the prompts' prefixes in total
    encoded = backend.prefix_tokens_encoded - before
    assert 0 < encoded < sum(lengths) / 2


def test_plot_prompts_are_grouped(backend):
    prompts = make_prompts()
    encoded = {i: backend._encode(p) for i, p in enumerate(prompts)}
    saved = _configure(backend, prefix_cache=True)
    try:
        groups = backend._groups(list(encoded)[::-1], encoded)
    finally:
        _configure(backend, **saved)
    assert sorted(map(sorted, groups)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for group in groups:
        assert [len(encoded[i]) for i in group] == sorted((len(encoded[i]) for i in group), reverse=True)
    backend.config.prefix_cache = False
    assert backend._groups(list(encoded), encoded) == [sorted(encoded, key=lambda i: (-len(encoded[i]), i))]


def test_prefix_cache_is_reused_across_calls(backend, reference):
    prompts = make_prompts()[:4]
    saved = _configure(backend, prefix_cache=True, batch_size=2)
    backend.clear_prefix_cache()
    try:
        first = backend.generate(prompts, max_new_tokens=12, decoding=DecodingConfig(repetition_penalty=1.0))
        encoded_once = backend.prefix_tokens_encoded
        second = backend.generate(prompts, max_new_tokens=12, decoding=DecodingConfig(repetition_penalty=1.0))
    finally:
        _configure(backend, **saved)
    assert backend.prefix_tokens_encoded == encoded_once  # nothing encoded again
    assert [c.text for c in first] == [c.text for c in second] == [c.text for c in reference[1.0][:4]]


def test_identical_prompts_keep_one_token_of_their_own(backend):
    prompt = make_prompts()[0]
    [expected] = backend.generate([prompt], max_new_tokens=8)
    saved = _configure(backend, prefix_cache=True, batch_size=4)
    try:
        replies = backend.generate([prompt] * 4, max_new_tokens=8)
    finally:
        _configure(backend, **saved)
    assert [c.text for c in replies] == [expected.text] * 4
    assert backend._cuts([[1, 2, 3]] * 2, [3, 3]) == [0, 0]  # shorter than the minimum: plain path


def test_ignore_eos_generates_exactly_max_new_tokens(backend):
    prompt = ChatPrompt.from_user("the storm")
    tokenizer, model = backend.tokenizer, backend.model
    ids = tokenizer(backend.render(prompt), add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=0)
    first = out[0, ids["input_ids"].shape[1]].item()
    original = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, first]  # the first reply token ends a reply
    try:
        [stopped] = backend.generate([prompt], max_new_tokens=6, decoding=DecodingConfig(repetition_penalty=1.0))
        saved = _configure(backend, ignore_eos=True)
        try:
            [forced] = backend.generate([prompt], max_new_tokens=6, decoding=DecodingConfig(repetition_penalty=1.0))
        finally:
            _configure(backend, **saved)
    finally:
        model.generation_config.eos_token_id = original
    assert (stopped.completion_tokens, stopped.finish_reason) == (1, "stop")
    assert (forced.completion_tokens, forced.finish_reason) == (6, "length")
