"""One way to draw torch random numbers from a fixed stream: initialisation and dropout inside
``seeded_torch`` depend only on the seed, never on what the caller drew before, and the caller's
generators are restored afterwards. Without it two processes with the same seed train differently."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def seeded_torch(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """CPU stream always; a CUDA ``device``'s stream too when one is given."""
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
