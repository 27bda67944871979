"""Safe loading of models, configs and tokenizers: no custom code unless asked, safetensors only, one clear line.

Every load in emo-pillars (training, fine-tuning, inference, peft adapters) goes through this module:

* ``trust_remote_code`` is ``False`` unless the caller passes ``True`` (``--trust-remote-code`` on the command
  line). A local folder with custom code (``auto_map`` in its config or tokenizer config) is refused before
  ``transformers`` sees it, so nothing prompts on stdin and no file of the folder is imported.
* Weights load from safetensors only; a folder with only pickled weights (``pytorch_model.bin``) is refused.
* A missing or corrupt ``config.json``, tokenizer or weights file is one :class:`~emo_pillars.errors.InputError`
  naming the file; a folder without tokenizer files is refused instead of falling back to some other vocabulary.

Hub ids cannot be checked before download; for them ``transformers`` is called with ``trust_remote_code=False``
(it then raises instead of prompting) and ``use_safetensors=True``, and its errors become one line.

Examples:
    >>> check_model_folder("me/tiny-emo")  # a Hub id: nothing to check locally
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import ConfigError, InputError

__all__ = [
    "check_model_folder",
    "load_config",
    "load_tokenizer",
    "load_model",
    "read_json_file",
    "PICKLE_WEIGHTS",
    "SAFETENSORS_WEIGHTS",
]

#: Weight files that are pickles (refused).
PICKLE_WEIGHTS = (
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "adapter_model.bin",
    "tf_model.h5",
    "flax_model.msgpack",
)
#: Weight files that are safetensors (loaded).
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
_CUSTOM_CODE_HINT = "pass --trust-remote-code (trust_remote_code=True) only if you trust its code"


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from a file; anything else is one :class:`InputError` naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"not a readable JSON file ({type(error).__name__})", path=path) from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", path=path)
    return value


def check_model_folder(
    source: str | os.PathLike,
    trust_remote_code: bool = False,
    weights: bool = True,
    tokenizer: bool = True,
) -> None:
    """Refuse a local model folder that cannot be loaded safely; do nothing for a Hub id.

    Args:
        source: A folder or a Hub id.
        trust_remote_code: Allow custom code (``auto_map``).
        weights: Check that safetensors weights are present and readable.
        tokenizer: Check that tokenizer files are present.

    Raises:
        InputError: A file is missing, unreadable or corrupt, or the weights are pickles only; the message names it.
        ConfigError: The folder holds custom code and ``trust_remote_code`` is false.
    """
    folder = Path(source)
    if not folder.exists():
        if os.path.isabs(source) or str(source).startswith(".") or str(source).count("/") > 1:
            raise InputError("no such model folder", path=folder)
        return  # a Hub id
    if not folder.is_dir():
        raise InputError("is a file; give a model folder or a Hub id", path=folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise InputError("missing config.json (not a model folder)", path=folder)
    config = read_json_file(config_path)
    tokenizer_config = folder / "tokenizer_config.json"
    tok_values = read_json_file(tokenizer_config) if tokenizer_config.is_file() else {}
    if not trust_remote_code:
        for path, values in ((config_path, config), (tokenizer_config, tok_values)):
            if values.get("auto_map"):
                raise ConfigError(f"{path}: the model folder has custom code (auto_map); {_CUSTOM_CODE_HINT}")
    if weights:
        present = [name for name in SAFETENSORS_WEIGHTS if (folder / name).is_file()]
        if not present:
            pickles = [name for name in PICKLE_WEIGHTS if (folder / name).is_file()]
            if pickles:
                raise InputError(
                    f"only pickled weights ({pickles[0]}); emo-pillars loads safetensors only: re-save the model with "
                    "save_pretrained(safe_serialization=True)",
                    path=folder,
                )
            raise InputError("missing model.safetensors (no weights)", path=folder)
        _check_safetensors(folder, present[0])
    if tokenizer:
        if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
            raise InputError("missing tokenizer files (tokenizer.json or a vocabulary)", path=folder)
        tokenizer_json = folder / "tokenizer.json"
        if tokenizer_json.is_file():
            read_json_file(tokenizer_json)


def _check_safetensors(folder: Path, name: str) -> None:
    from safetensors import safe_open

    if name.endswith(".index.json"):
        index = read_json_file(folder / name)
        shards = sorted(set((index.get("weight_map") or {}).values()))
        if not shards:
            raise InputError("the safetensors index lists no weight files", path=folder / name)
    else:
        shards = [name]
    for shard in shards:
        path = folder / shard
        if not path.is_file():
            raise InputError("missing weights file", path=path)
        try:
            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
        except Exception as error:  # safetensors raises its own error types for a bad header
            raise InputError(f"corrupt safetensors file ({type(error).__name__})", path=path) from None


def _one_line(error: BaseException, source: str, what: str) -> InputError:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return InputError(f"could not load the {what}: {first}", path=source)


def load_config(source: str | os.PathLike, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """``AutoConfig.from_pretrained`` with the checks above."""
    from transformers import AutoConfig

    source = os.fspath(source)
    check_model_folder(source, trust_remote_code, weights=False, tokenizer=False)
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise _one_line(error, source, "config") from None


def load_tokenizer(source: str | os.PathLike, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """``AutoTokenizer.from_pretrained`` with the checks above."""
    from transformers import AutoTokenizer

    source = os.fspath(source)
    check_model_folder(source, trust_remote_code, weights=False, tokenizer=True)
    try:
        return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _one_line(error, source, "tokenizer") from None


def load_model(source: str | os.PathLike, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """``AutoModelForSequenceClassification.from_pretrained`` from safetensors, with the checks above."""
    from transformers import AutoModelForSequenceClassification

    source = os.fspath(source)
    check_model_folder(source, trust_remote_code, weights=True, tokenizer=False)
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            source, trust_remote_code=trust_remote_code, use_safetensors=True, **kwargs
        )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise _one_line(error, source, "model") from None
