"""TransformersBackend on a tiny random Mistral (safetensors), on the packaged SmolLM2 GGUF, and on two processes."""

from __future__ import annotations

import json
import os

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from emo_pillars.errors import BackendError, ConfigError  # noqa: E402
from emo_pillars.generation.backends import (  # noqa: E402
    ChatPrompt,
    DecodingConfig,
    TransformersBackend,
    TransformersBackendConfig,
)
from emo_pillars.utils.quiet import set_verbose  # noqa: E402

GREEDY_NO_PENALTY = DecodingConfig(repetition_penalty=1.0)

STORY = "the character walked home after the storm and remembered her brother"


def make_prompts() -> list[ChatPrompt]:
    """Prompts of clearly different lengths, some with a system message or a prefill."""
    words = STORY.split()
    prompts = []
    for n in (3, 11, 1, 7, 12, 2, 9, 5):
        system = "you are a careful narrator" if n % 2 else None
        prefill = "Joy:" if n % 3 == 0 else ""
        prompts.append(ChatPrompt.from_user(" ".join(words[:n]), system=system, prefill=prefill))
    return prompts


@pytest.fixture(scope="module")
def single_replies(backend):
    """Reference: every prompt generated alone (batch of one, no padding)."""
    prompts = make_prompts()
    backend.config.batch_size = 1
    return backend.generate(prompts, max_new_tokens=10)


def plain_generate(backend, prompt: ChatPrompt, max_new_tokens: int) -> tuple[str, int]:
    """What plain ``model.generate`` gives for one prompt: the reference the backend must match."""
    tokenizer, model = backend.tokenizer, backend.model
    text = tokenizer.apply_chat_template(prompt.as_messages(), tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text + prompt.prefill, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=0)
    new = out[0, ids["input_ids"].shape[1] :]
    return tokenizer.decode(new, skip_special_tokens=True), ids["input_ids"].shape[1]


def test_single_prompt_matches_plain_generate(backend):
    prompt = ChatPrompt.from_user("the storm ended", system="you are a careful narrator")
    expected, n_prompt = plain_generate(backend, prompt, 8)
    [reply] = backend.generate([prompt], max_new_tokens=8, decoding=GREEDY_NO_PENALTY)
    assert reply.text == expected
    assert reply.prompt_tokens == n_prompt
    assert reply.completion_tokens == 8
    assert reply.finish_reason == "length"
    assert reply.error is None


@pytest.mark.parametrize(
    "limits", [{"batch_size": 4}, {"batch_size": 8}, {"batch_size": None, "max_batch_tokens": 90}]
)
def test_batched_equals_unbatched_in_prompt_order(backend, single_replies, limits):
    prompts = make_prompts()
    lengths = [len(backend.tokenizer(backend.render(p), add_special_tokens=False)["input_ids"]) for p in prompts]
    assert len(set(lengths)) == len(lengths), "the prompts must have mixed lengths for padding to matter"
    backend.config.batch_size = limits["batch_size"]
    backend.config.max_batch_tokens = limits.get("max_batch_tokens")
    try:
        batched = backend.generate(prompts, max_new_tokens=10)
    finally:
        backend.config.batch_size, backend.config.max_batch_tokens = 1, None
    assert [c.text for c in batched] == [c.text for c in single_replies]
    assert [c.prompt_tokens for c in batched] == lengths
    assert [c.completion_tokens for c in batched] == [10] * len(prompts)
    assert len({c.text for c in batched}) > 1


def test_order_restored_whatever_the_input_order(backend, single_replies):
    prompts = make_prompts()
    backend.config.batch_size = 3
    try:
        reversed_replies = backend.generate(prompts[::-1], max_new_tokens=10)
    finally:
        backend.config.batch_size = 1
    assert [c.text for c in reversed_replies] == [c.text for c in single_replies][::-1]


def test_token_budget_batches(backend):
    prompts = make_prompts()
    backend.config.batch_size, backend.config.max_batch_tokens = None, 90
    try:
        encoded = {
            i: backend.tokenizer(backend.render(p), add_special_tokens=False)["input_ids"]
            for i, p in enumerate(prompts)
        }
        order = sorted(encoded, key=lambda i: -len(encoded[i]))
        batches = backend._batches(order, encoded, max_new_tokens=10)
    finally:
        backend.config.batch_size, backend.config.max_batch_tokens = 1, None
    assert sorted(i for b in batches for i in b) == list(range(len(prompts)))
    assert len(batches) > 1
    for batch in batches:
        longest = max(len(encoded[i]) for i in batch)
        assert len(batch) == 1 or len(batch) * (longest + 10) <= 90


def test_prefill_is_continued_not_repeated(backend):
    plain = ChatPrompt.from_user("her brother remembered the storm")
    prefilled = ChatPrompt.from_user("her brother remembered the storm", prefill="Joy: 0.")
    expected, n_prompt = plain_generate(backend, prefilled, 6)
    without, _ = plain_generate(backend, plain, 6)
    assert expected != without  # the prefill changes what the model continues from
    [reply] = backend.generate([prefilled], max_new_tokens=6, decoding=GREEDY_NO_PENALTY)
    assert reply.text == expected
    assert reply.prompt_tokens == n_prompt
    assert backend.render(prefilled).endswith("<|im_start|>assistant\nJoy: 0.")


def test_finish_reason_stop_at_eos(backend):
    """Declare a token the model emits mid-reply an end-of-sequence token: generation stops there."""
    prompt = ChatPrompt.from_user("the character walked home")
    tokenizer, model = backend.tokenizer, backend.model
    ids = tokenizer(backend.render(prompt), add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=0)
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    stop_at = next(k for k in range(1, len(new)) if new[k] not in new[:k] and new[k] not in tokenizer.all_special_ids)

    original = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, new[stop_at]]
    try:
        [reply] = backend.generate([prompt], max_new_tokens=12, decoding=GREEDY_NO_PENALTY)
    finally:
        model.generation_config.eos_token_id = original
    assert reply.finish_reason == "stop"
    assert reply.completion_tokens == stop_at + 1  # the end-of-sequence token counts as generated
    assert reply.text == tokenizer.decode(new[:stop_at], skip_special_tokens=True)


def test_repetition_penalty_and_sampling_are_applied(backend):
    prompt = ChatPrompt.from_user("the storm")
    greedy = backend.generate([prompt], max_new_tokens=40, decoding=GREEDY_NO_PENALTY)[0].text
    penalised = backend.generate([prompt], max_new_tokens=40, decoding=DecodingConfig(repetition_penalty=5.0))[0]
    assert penalised.text != greedy  # 40 random-model tokens repeat some token, which the penalty then avoids
    sampled = DecodingConfig(temperature=1.5, seed=3)
    assert backend.generate([prompt], max_new_tokens=12, decoding=sampled)[0].text == (
        backend.generate([prompt], max_new_tokens=12, decoding=sampled)[0].text
    )


def test_progress_callback_counts_prompts(backend):
    seen = []
    backend.progress_callback = seen.append
    backend.config.batch_size = 3
    try:
        backend.generate(make_prompts(), max_new_tokens=2)
    finally:
        backend.progress_callback, backend.config.batch_size = None, 1
    assert seen == [3, 3, 2]


def test_describe_and_revision(backend, tiny_mistral_dir):
    info = backend.describe()
    assert info["backend"] == "TransformersBackend"
    assert info["model"] == str(tiny_mistral_dir)
    assert info["revision"] is None  # a local folder has no commit
    assert info["dtype"] == "float32"
    assert info["num_processes"] == 1
    assert backend.is_main_process


def test_missing_local_model_folder_is_named_before_loading(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match=f"^model folder {missing} does not exist$"):
        TransformersBackend(missing, device="cpu")
    monkeypatch.chdir(tmp_path)
    for local in ("./no-such-model", "~/no-such-emo-pillars-model", "a/b/c"):
        with pytest.raises(ConfigError, match="does not exist"):
            TransformersBackendConfig(local)
    assert TransformersBackendConfig("org/name").model == "org/name"  # a Hub id is not a local path


@pytest.mark.parametrize("device", ["gpu9", "cuda:x", "CUDA", "cuda:0:1", ""])
def test_malformed_device_is_refused_in_one_line(device):
    with pytest.raises(ConfigError, match="is not one of auto, cpu, cuda"):
        TransformersBackendConfig("org/name", device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_accelerator_is_refused_before_loading():
    with pytest.raises(ConfigError, match="this machine has no cuda device"):
        TransformersBackendConfig("org/name", device="cuda:1")
    assert TransformersBackendConfig("org/name", device="cpu").device == "cpu"


def test_folder_without_weights_raises_backend_error(tiny_mistral_dir, tmp_path):
    folder = tmp_path / "tokenizer-only"
    folder.mkdir()
    for name in os.listdir(tiny_mistral_dir):
        if not name.endswith(".safetensors"):
            (folder / name).write_bytes((tiny_mistral_dir / name).read_bytes())
    with pytest.raises(BackendError, match="tokenizer-only"):
        TransformersBackend(folder, device="cpu").load()


def test_config_validation():
    with pytest.raises(ConfigError, match="dtype"):
        TransformersBackendConfig("m", dtype="float8")
    with pytest.raises(ConfigError, match="batch_size"):
        TransformersBackendConfig("m", batch_size=None, max_batch_tokens=None)
    with pytest.raises(ConfigError, match="device_map"):
        TransformersBackendConfig("m", device="cuda", device_map="auto")
    with pytest.raises(ConfigError, match="peer_timeout must be > 0 seconds, got 0"):
        TransformersBackendConfig("m", peer_timeout=0)
    with pytest.raises(ConfigError):
        TransformersBackend(TransformersBackendConfig("m"), batch_size=2)
    assert TransformersBackendConfig("m", use_accelerate=None).wants_accelerate() is False


def test_import_emo_pillars_stays_torch_free():
    import subprocess
    import sys

    code = (
        "import sys, emo_pillars, emo_pillars.generation.backends as b; "
        "b.ChatPrompt; assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------- GGUF (real model)


def test_gguf_smollm2_generates_sensible_text(smollm2_gguf):
    """The real path once: SmolLM2-135M-Instruct from its Q4_1 GGUF, ChatML template, batched greedy replies."""
    folder, filename = smollm2_gguf
    backend = TransformersBackend(folder, gguf_file=filename, device="cpu", batch_size=2)
    backend.load()
    prompts = [
        ChatPrompt.from_user("What colour is the sky on a clear day?"),
        ChatPrompt.from_user("Name three fruits.", prefill="1."),
    ]
    replies = backend.generate(prompts, max_new_tokens=16)
    assert "blue" in replies[0].text.lower()
    assert not replies[1].text.lstrip().startswith("1.")  # the prefill is not repeated
    assert "2." in replies[1].text or "," in replies[1].text
    for reply in replies:
        assert reply.error is None
        assert reply.finish_reason in ("stop", "length")
        assert 0 < reply.completion_tokens <= 16
        assert reply.prompt_tokens > 10
    info = backend.describe()
    assert info["gguf_file"] == filename
    backend.close()


def test_gguf_file_not_in_the_folder_is_named_before_loading(smollm2_gguf):
    folder, filename = smollm2_gguf
    with pytest.raises(ConfigError, match=f"gguf_file 'nope.gguf' is not in {folder} .*{filename}"):
        TransformersBackend(folder, gguf_file="nope.gguf", device="cpu")


# ---------------------------------------------------------------------------------------------- two processes


def _two_process_worker(model_dir: str, out_dir: str) -> None:
    """Runs in each process started by ``accelerate.debug_launcher``: generate and write this rank's view."""
    import faulthandler

    import torch as _torch

    faulthandler.dump_traceback_later(240, exit=True)  # a hung rank fails the test instead of hanging the suite
    _torch.set_num_threads(1)
    backend = TransformersBackend(model_dir, device="cpu", batch_size=2)
    backend.load()
    replies = backend.generate(make_prompts(), max_new_tokens=10)
    rank = _torch.distributed.get_rank()
    payload = {
        "texts": [c.text for c in replies],
        "prompt_tokens": [c.prompt_tokens for c in replies],
        "num_processes": backend.num_processes,
        "is_main_process": backend.is_main_process,
    }
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
        json.dump(payload, handle)


def test_two_cpu_processes_give_the_same_replies(tiny_mistral_dir, single_replies, tmp_path, monkeypatch):
    from accelerate import debug_launcher

    # Keep one OpenMP thread per rank: accelerate otherwise raises it in the forked children, and OpenMP
    # threads in a child forked from a process that already ran OpenMP code can deadlock.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    debug_launcher(_two_process_worker, args=(str(tiny_mistral_dir), str(tmp_path)), num_processes=2)
    views = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for view in views:
        assert view["num_processes"] == 2
        assert view["texts"] == [c.text for c in single_replies]
        assert view["prompt_tokens"] == [c.prompt_tokens for c in single_replies]
    assert [v["is_main_process"] for v in views] == [True, False]


# ---------------------------------------------------------------------------------------------- identity and limits


def test_cache_identity_covers_what_changes_replies(backend, tiny_mistral_dir):
    identity = backend.cache_identity()
    assert identity["model"] == str(tiny_mistral_dir) and identity["dtype"] == "auto"
    assert {"revision", "gguf_file", "chat_template", "ignore_eos"} <= set(identity)
    other = TransformersBackend(tiny_mistral_dir, device="cpu", dtype="bfloat16")
    assert other.cache_identity() != identity  # a bf16 reply is never reused by a float32 run
    template = TransformersBackend(tiny_mistral_dir, device="cpu", chat_template="{{ messages[0]['content'] }}")
    assert template.cache_identity()["chat_template"] is not None
    assert other.cache_identity() == TransformersBackend(tiny_mistral_dir, dtype="bfloat16").cache_identity()


def test_context_window_and_token_count_without_weights(tiny_mistral_dir, backend):
    fresh = TransformersBackend(tiny_mistral_dir, device="cpu")
    assert fresh.context_window == 512  # max_position_embeddings of the tiny config
    text = "the storm ended and she walked home"
    assert fresh.count_tokens(text) == len(backend.tokenizer(text, add_special_tokens=False)["input_ids"]) > 0
    assert fresh.model is None  # neither needed the weights


def test_generate_reports_progress_per_internal_batch(backend):
    seen = []
    backend.config.batch_size = 3
    try:
        backend.generate(make_prompts(), max_new_tokens=2, on_progress=seen.append)
    finally:
        backend.config.batch_size = 1
    assert seen == [3, 3, 2]


def test_show_progress_false_loads_quietly(tiny_mistral_dir, capfd):
    capfd.readouterr()
    quiet = TransformersBackend(tiny_mistral_dir, device="cpu", show_progress=False)
    quiet.load()
    assert capfd.readouterr().err == ""
    default = TransformersBackend(tiny_mistral_dir, device="cpu")
    default.load()
    assert capfd.readouterr().err == ""  # quiet by default too
    set_verbose(True)  # --verbose
    try:
        TransformersBackend(tiny_mistral_dir, device="cpu").load()
        assert "Loading weights" in capfd.readouterr().err  # verbose is what brings the bars back
        TransformersBackend(tiny_mistral_dir, device="cpu", show_progress=False).load()
        assert "Loading weights" not in capfd.readouterr().err  # show_progress=False: quiet even then
    finally:
        set_verbose(False)
