"""Dynamic time warping kernels compiled with numba (in the LEAN image), for SIPR's inner loops:
distance, path and DTW barycentre averaging (DBA).

tslearn's ``dtw`` costs ~250 us a call from Python; SIPR makes tens of thousands of calls per
iteration, so the loops that call DTW are compiled too (``greedy_segmentation`` in :mod:`.sipr`).
The distance is tslearn's: the square root of the summed squared differences along the cheapest
warping path, without a window constraint.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=False, nogil=True)
def dtw_distance(a: np.ndarray, b: np.ndarray, radius: int = -1) -> float:
    """DTW between two 1-D float64 sequences (any lengths >= 1); ``radius`` >= 0 is a Sakoe-Chiba
    band (tslearn's ``sakoe_chiba_radius``, for equal lengths), -1 none."""
    n, m = a.shape[0], b.shape[0]
    previous = np.full(m + 1, np.inf)
    current = np.full(m + 1, np.inf)
    previous[0] = 0.0
    for i in range(1, n + 1):
        current[:] = np.inf
        for j in range(1, m + 1):
            if radius >= 0 and abs(i - j) > radius:
                continue
            diff = a[i - 1] - b[j - 1]
            best = previous[j - 1]
            if previous[j] < best:
                best = previous[j]
            if current[j - 1] < best:
                best = current[j - 1]
            current[j] = diff * diff + best
        previous, current = current, previous
    return np.sqrt(previous[m])


@numba.njit(cache=False, nogil=True)
def dtw_to_each(segment: np.ndarray, references: np.ndarray, radius: int = -1) -> np.ndarray:
    """DTW from ``segment`` to every row of ``references`` (k, length)."""
    out = np.empty(references.shape[0])
    for r in range(references.shape[0]):
        out[r] = dtw_distance(segment, references[r], radius)
    return out


@numba.njit(cache=False, parallel=True)
def dtw_matrix(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """All pairwise DTW distances between the rows of two equal-width 2-D arrays."""
    out = np.empty((left.shape[0], right.shape[0]))
    for i in numba.prange(left.shape[0]):
        for j in range(right.shape[0]):
            out[i, j] = dtw_distance(left[i], right[j])
    return out


@numba.njit(cache=False, nogil=True)
def normalised_shape(values: np.ndarray, length: int) -> np.ndarray:
    """A segment at a common magnitude ([0, 1], flat -> 0) and duration (``length`` points, linear
    interpolation): what makes SIPR's patterns scale-invariant."""
    n = values.shape[0]
    low, high = values.min(), values.max()
    span = high - low
    scaled = (values - low) / span if span > 0 else np.zeros(n)
    out = np.empty(length)
    if n == 1:
        out[:] = scaled[0]
        return out
    for i in range(length):
        position = i * (n - 1) / (length - 1) if length > 1 else 0.0
        left = int(np.floor(position))
        if left >= n - 1:
            out[i] = scaled[n - 1]
        else:
            frac = position - left
            out[i] = scaled[left] * (1.0 - frac) + scaled[left + 1] * frac
    return out


@numba.njit(cache=False, nogil=True)
def dtw_path(a: np.ndarray, b: np.ndarray, radius: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ``a`` and ``b``) of the cheapest warping path, start to end; ties go diagonal,
    then along ``a``, then along ``b``, as in tslearn."""
    n, m = a.shape[0], b.shape[0]
    cost = np.full((n + 1, m + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if radius >= 0 and abs(i - j) > radius:
                continue
            diff = a[i - 1] - b[j - 1]
            cost[i, j] = diff * diff + min(cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1])
    path_a = np.empty(n + m, dtype=np.int64)
    path_b = np.empty(n + m, dtype=np.int64)
    i, j, count = n, m, 0
    while True:
        path_a[count], path_b[count] = i - 1, j - 1
        count += 1
        if i == 1 and j == 1:
            break
        diagonal, up, left = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
        if diagonal <= up and diagonal <= left:
            i, j = i - 1, j - 1
        elif up <= left:
            i -= 1
        else:
            j -= 1
    return path_a[:count][::-1].copy(), path_b[:count][::-1].copy()


@numba.njit(cache=False, nogil=True)
def dtw_barycenter(members: np.ndarray, initial: np.ndarray, iterations: int, radius: int = -1) -> np.ndarray:
    """DTW barycentre averaging (Petitjean et al. 2011), tslearn's algorithm: each barycentre point
    becomes the mean of the member points aligned with it; stops early once it no longer moves."""
    barycenter = initial.copy()
    width = barycenter.shape[0]
    for _ in range(iterations):
        sums = np.zeros(width)
        counts = np.zeros(width)
        for r in range(members.shape[0]):
            index_b, index_m = dtw_path(barycenter, members[r], radius)
            for p in range(index_b.shape[0]):
                sums[index_b[p]] += members[r, index_m[p]]
                counts[index_b[p]] += 1.0
        updated = sums / counts
        if np.all(np.abs(updated - barycenter) < 1e-12):
            return updated
        barycenter = updated
    return barycenter
