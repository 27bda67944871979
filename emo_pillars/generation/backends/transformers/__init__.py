"""The ``transformers`` backend, one concern per module: :mod:`.model` (loading and devices), :mod:`.prefix_cache`
(shared-prefix key/value reuse), :mod:`.scoring` (continuation scoring) and :mod:`.backend` (batched generation).

These modules import torch and transformers lazily; ``import emo_pillars`` stays free of both.
"""

from .backend import TransformersBackend
from .model import TransformersBackendConfig, check_device

__all__ = ["TransformersBackend", "TransformersBackendConfig", "check_device"]
