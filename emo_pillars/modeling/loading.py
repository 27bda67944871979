"""Safe loading of models, configs and tokenizers: no custom code unless asked, safetensors only, one clear line.

Every load in emo-pillars (training, fine-tuning, inference, peft adapters) goes through this module:

* ``trust_remote_code`` is ``False`` unless the caller passes ``True`` (``--trust-remote-code`` on the command
  line). A local folder with custom code (``auto_map`` in its config or tokenizer config) is refused before
  ``transformers`` sees it, so nothing prompts on stdin and no file of the folder is imported.
* Weights load from safetensors only; a folder with only pickled weights (``pytorch_model.bin``) is refused.
* A missing or corrupt ``config.json``, tokenizer or weights file is one :class:`~emo_pillars.errors.InputError`
  naming the file; a folder without tokenizer files is refused instead of falling back to some other vocabulary.

* A name that looks like a local path (:func:`emo_pillars.utils.hub.looks_local`) and does not exist fails at
  once, without a Hub lookup.
* A Hub id is looked up once, with a bounded wait (:func:`emo_pillars.utils.hub.probe`, no retries), before
  anything downloads: an unreachable Hub is one :class:`~emo_pillars.errors.HubError` line instead of
  ``huggingface_hub``'s retry loop (30-55 s), and ``HF_HUB_OFFLINE=1`` is honoured without any network call. A model
  already in the local cache still loads while the Hub is unreachable.

For Hub ids ``transformers`` is called with ``trust_remote_code=False`` (it then raises instead of prompting) and
``use_safetensors=True``, and its errors become one line.

Examples:
    >>> looks_local("./my-model"), looks_local("me/tiny-emo")
    (True, False)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..utils.hub import hub_error, is_offline, looks_local, probe
from ..utils.quiet import quiet
from .onnx import ONNX_FILE, ONNX_INT8_FILE

__all__ = [
    "check_model_folder",
    "load_config",
    "load_tokenizer",
    "load_model",
    "read_json_file",
    "looks_local",
    "check_hub_model",
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
#: The files of an ONNX export (``emo-pillars export``), loaded with ``backend="onnx"``.
ONNX_EXPORT_FILES = (ONNX_FILE, ONNX_INT8_FILE)
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
#: Hub ids already looked up in this process: (endpoint, id, revision) -> extra loading options.
_HUB_CHECKED: dict[tuple[str, str, str | None], dict[str, Any]] = {}
_CUSTOM_CODE_HINT = "pass --trust-remote-code (the trust_remote_code argument) only if you trust its code"


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from a file; anything else is one :class:`InputError` naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"not a readable JSON file ({type(error).__name__})", path=path) from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object", path=path)
    return value


def check_hub_model(repo_id: str, revision: str | None = None, token: str | None = None) -> dict[str, Any]:
    """Look a Hub model id up once, with a bounded wait and no retries, before anything downloads.

    ``huggingface_hub`` retries a refused or timed-out connection for 30-55 s per file and then raises a raw
    network error; this lookup fails in one line instead. Under ``HF_HUB_OFFLINE=1`` nothing goes to the network:
    the model must be in the local cache.

    Args:
        repo_id: The Hub id.
        revision: Branch, tag or commit.
        token: Hub token.

    Returns:
        Extra options for ``from_pretrained``: ``{"local_files_only": True}`` when the Hub is offline or unreachable
        and the model is cached, else ``{}``.

    Raises:
        HubError: Offline or unreachable, and the model is not in the local cache.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    key = (constants.ENDPOINT, repo_id, revision)
    if key in _HUB_CHECKED:
        return _HUB_CHECKED[key]

    def cached() -> bool:
        try:
            return isinstance(try_to_load_from_cache(repo_id, "config.json", revision=revision), str)
        except Exception:  # an id the cache layout cannot hold is simply not cached
            return False

    if is_offline():
        if not cached():
            raise hub_error("model", repo_id, None)
        options = {"local_files_only": True}
    else:
        error = probe(repo_id, "model", revision=revision, token=token)
        if error is not None and not cached():
            raise hub_error("model", repo_id, error, revision)
        options = {"local_files_only": True} if error is not None else {}
    _HUB_CHECKED[key] = options
    return options


def check_model_folder(
    source: str | os.PathLike,
    trust_remote_code: bool = False,
    weights: bool = True,
    tokenizer: bool = True,
    revision: str | None = None,
    token: str | None = None,
) -> None:
    """Refuse a local model folder that cannot be loaded safely; look a Hub id up (:func:`check_hub_model`).

    Args:
        source: A folder or a Hub id.
        trust_remote_code: Allow custom code (``auto_map``).
        weights: Check that safetensors weights are present and readable.
        tokenizer: Check that tokenizer files are present.
        revision: Hub revision (Hub ids).
        token: Hub token (Hub ids).

    Raises:
        InputError: A file is missing, unreadable or corrupt, or the weights are pickles only; the message names it.
            A name that looks local (:func:`looks_local`) and does not exist.
        ConfigError: The folder holds custom code and ``trust_remote_code`` is false.
        HubError: A Hub id while the Hub is offline or unreachable and the model is not cached.
    """
    folder = Path(os.path.expanduser(os.fspath(source)))
    if not folder.exists():
        if looks_local(source):
            raise InputError("no such model folder", path=source)
        check_hub_model(os.fspath(source), revision=revision, token=token)
        return
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
            if any((folder / name).is_file() for name in ONNX_EXPORT_FILES):
                raise InputError(
                    "an ONNX export, not a torch checkpoint: load it with backend='onnx' (emo-pillars predict "
                    "--backend onnx)",
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

    source = os.path.expanduser(os.fspath(source))
    check_model_folder(source, trust_remote_code, weights=False, tokenizer=False, **_hub_args(kwargs))
    kwargs = {**_hub_options(source, kwargs), **kwargs}
    try:
        with quiet():
            return AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        raise _one_line(error, source, "config") from None


def load_tokenizer(source: str | os.PathLike, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """``AutoTokenizer.from_pretrained`` with the checks above."""
    from transformers import AutoTokenizer

    source = os.path.expanduser(os.fspath(source))
    check_model_folder(source, trust_remote_code, weights=False, tokenizer=True, **_hub_args(kwargs))
    kwargs = {**_hub_options(source, kwargs), **kwargs}
    try:
        with quiet():
            return AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _one_line(error, source, "tokenizer") from None


def load_model(source: str | os.PathLike, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """``AutoModelForSequenceClassification.from_pretrained`` from safetensors, with the checks above."""
    from transformers import AutoModelForSequenceClassification

    source = os.path.expanduser(os.fspath(source))
    check_model_folder(source, trust_remote_code, weights=True, tokenizer=False, **_hub_args(kwargs))
    kwargs = {**_hub_options(source, kwargs), **kwargs}
    try:
        with quiet():  # no loading bar, and no load report for the new head a base encoder is expected to lack
            return AutoModelForSequenceClassification.from_pretrained(
                source, trust_remote_code=trust_remote_code, use_safetensors=True, **kwargs
            )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise _one_line(error, source, "model") from None


def _hub_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"revision": kwargs.get("revision"), "token": kwargs.get("token")}


def _hub_options(source: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``local_files_only`` for a Hub id found offline or unreachable but cached (see :func:`check_hub_model`)."""
    if Path(os.path.expanduser(source)).exists():
        return {}
    return check_hub_model(source, revision=kwargs.get("revision"), token=kwargs.get("token"))
