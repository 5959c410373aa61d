"""Dynamic patching: patch starts = sorted union of the SIPR segment starts inside the window and a
fixed-stride grid; every patch has the same length and lies inside the window.

The grid always ends with a patch that finishes on the window's last point, so the newest
prices are never dropped (``range(0, L - P + 1, stride)`` alone can miss up to ``stride - 1``).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch


def patch_starts(window_length: int, patch_length: int, stride: int,
                 segment_starts: Iterable[int] = ()) -> np.ndarray:
    """Start offsets (sorted, unique) of the patches of one window."""
    last = window_length - patch_length
    if last < 0:
        raise ValueError(f"patch_length {patch_length} does not fit a window of {window_length}")
    grid = set(range(0, last + 1, stride)) | {last}
    inside = {int(s) for s in segment_starts if 0 <= int(s) <= last}
    return np.array(sorted(grid | inside), dtype=np.int64)


def extract_patches(series: torch.Tensor, starts: np.ndarray | torch.Tensor, patch_length: int) -> torch.Tensor:
    """(..., window) -> (..., patches, patch_length): one slice per start."""
    starts_t = torch.as_tensor(starts, dtype=torch.long, device=series.device)
    index = starts_t[:, None] + torch.arange(patch_length, device=series.device)[None, :]
    if int(index.max()) >= series.shape[-1] or int(starts_t.min()) < 0:
        raise ValueError(f"patch starts {starts_t.tolist()} with length {patch_length} leave a window of "
                         f"{series.shape[-1]} points")
    return series[..., index]
