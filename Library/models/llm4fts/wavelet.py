"""The learnable wavelet module: a depthwise stride-2 filter bank that starts as a Daubechies DWT.

At initialisation :meth:`LearnableWavelet.forward` equals ``pywt.dwt(x, wavelet, mode)`` and
:meth:`LearnableWavelet.inverse` equals ``pywt.idwt`` (padding rule: ../shared/reference/models.md
§7 -- conv1d is a cross-correlation, so the filters are flipped; pad L-1 each side; keep the odd
samples of the full convolution).

Orthogonality: only the low-pass filter is a parameter. The high-pass filter is derived from it by
the quadrature-mirror relation ``hi[k] = (-1)^(k+1) lo[L-1-k]``, so ``<lo, hi> = 0`` exactly after
every step, whatever the step did (the paper's symmetric update ``lo -= d hi/|hi|^2; hi -= d lo/|lo|^2``
only flips the sign of the inner product). :meth:`renormalise_` restores ``|lo| = 1`` after each
optimizer step, so both filters keep unit energy.
"""
from __future__ import annotations

import pywt
import torch
import torch.nn.functional as F
from torch import nn

PAD_MODES = {"zero": "constant", "periodic": "circular", "reflect": "reflect", "symmetric": "symmetric"}


class LearnableWavelet(nn.Module):
    """One low-pass filter per channel (depthwise), initialised from ``pywt.Wavelet(wavelet).dec_lo``."""

    _mirror_sign: torch.Tensor  # a buffer: typed so that mypy does not read it as Tensor | Module

    def __init__(self, channels: int, wavelet: str = "db4", mode: str = "symmetric") -> None:
        super().__init__()
        if mode not in PAD_MODES:
            raise ValueError(f"wavelet mode {mode!r}: use one of {', '.join(PAD_MODES)}")
        basis = pywt.Wavelet(wavelet)
        if not basis.orthogonal:
            raise ValueError(f"wavelet {wavelet!r} is not orthogonal; use a Daubechies wavelet such as db4")
        self.wavelet, self.mode, self.channels = wavelet, mode, channels
        low = torch.tensor(basis.dec_lo, dtype=torch.float32)
        self.low_pass = nn.Parameter(low.repeat(channels, 1))
        length = low.shape[0]
        self.register_buffer("_mirror_sign", torch.tensor([(-1.0) ** (k + 1) for k in range(length)]),
                             persistent=False)

    @property
    def filter_length(self) -> int:
        return int(self.low_pass.shape[-1])

    def high_pass(self) -> torch.Tensor:
        """Quadrature mirror of the low-pass filter, per channel: (channels, L)."""
        return self._mirror_sign * self.low_pass.flip(-1)

    def coefficient_length(self, n: int) -> int:
        return int(pywt.dwt_coeff_len(n, self.filter_length, self.mode))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, channels, n) -> approximation and detail coefficients, each (batch, channels, m)."""
        batch, channels, n = x.shape
        length = self.filter_length
        padded = _pad(x, length - 1, self.mode)[..., 1:]
        kernels = torch.stack([self.low_pass.flip(-1), self.high_pass().flip(-1)], dim=1)  # (C, 2, L)
        out = F.conv1d(padded, kernels.reshape(2 * channels, 1, length).to(x.dtype), stride=2, groups=channels)
        out = out.reshape(batch, channels, 2, -1)[..., : self.coefficient_length(n)]
        return out[:, :, 0], out[:, :, 1]

    def inverse(self, approximation: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
        """pywt.idwt: upsample, filter with the reconstruction filters (reversed analysis filters), crop."""
        batch, channels, m = approximation.shape
        length = self.filter_length
        stacked = torch.stack([approximation, detail], dim=2).reshape(batch, 2 * channels, m)
        kernels = torch.stack([self.low_pass.flip(-1), self.high_pass().flip(-1)], dim=1)
        full = F.conv_transpose1d(stacked, kernels.reshape(2 * channels, 1, length).to(stacked.dtype), stride=2,
                                  groups=channels)
        return full[..., length - 2: length - 2 + 2 * m - length + 2]

    @torch.no_grad()
    def renormalise_(self) -> None:
        """After an optimizer step: unit-energy low-pass filters (the high-pass follows by construction)."""
        self.low_pass.div_(self.low_pass.norm(dim=-1, keepdim=True).clamp_min(1e-12))

    def filter_inner_products(self) -> torch.Tensor:
        """<lo, hi> per channel: zero up to rounding, whatever the training did."""
        return (self.low_pass * self.high_pass()).sum(-1)


def _pad(x: torch.Tensor, width: int, mode: str) -> torch.Tensor:
    if mode == "symmetric":  # pywt's half-sample symmetric extension: ... x1 x0 | x0 x1 ...
        if width > x.shape[-1]:
            raise ValueError(f"symmetric padding of {width} needs at least {width} points; got {x.shape[-1]}")
        return torch.cat([x[..., :width].flip(-1), x, x[..., -width:].flip(-1)], dim=-1)
    torch_mode = PAD_MODES[mode]
    return F.pad(x, (width, width), mode=torch_mode, value=0.0) if torch_mode == "constant" else \
        F.pad(x, (width, width), mode=torch_mode)
