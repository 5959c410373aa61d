"""The Chronos-LoRA allocator (Alphathon 2024 paper): indicator sequences -> portfolio weights,
learned online from the realised returns of its own allocations.

Public API: :class:`AllocatorConfig` -> :meth:`OnlineAllocator.from_config` -> ``allocate`` /
``learn``; checkpoints through :func:`checkpoint_state` (held for a run) with :func:`save_checkpoint` /
:func:`resume_checkpoint`, or the one-off :func:`save_to_store` / :func:`resume_from_store`.
"""
from .backbone import CHRONOS_T5_SIZES, BackboneLoadError, WeightsInfo, build_random, chronos_t5_config, load_backbone
from .checkpoint import (CheckpointError, checkpoint_keys, checkpoint_state, resume_checkpoint, resume_from_store,
                         save_checkpoint, save_to_store)
from .config import AllocatorConfig
from .learner import OnlineAllocator, UpdateReport
from .loss import allocation_loss, entropy

__all__ = ["AllocatorConfig", "BackboneLoadError", "CHRONOS_T5_SIZES", "CheckpointError", "OnlineAllocator",
           "UpdateReport", "WeightsInfo", "allocation_loss", "build_random", "checkpoint_keys", "checkpoint_state",
           "chronos_t5_config", "entropy", "load_backbone", "resume_checkpoint", "resume_from_store", "save_checkpoint",
           "save_to_store"]
