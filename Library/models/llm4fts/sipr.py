"""Scale-invariant pattern recognition (SIPR, the LLM4FTS paper's Algorithm 1).

A series is cut greedily, left to right, into segments of ``min_length..max_length`` points:
at each position the length and the pattern whose DTW distance to the segment is smallest win,
after the segment is brought to a common magnitude and duration (:func:`.dtw.normalised_shape`),
so a pattern is a shape whatever its length and amplitude. Patterns start from K-means++ over
windows of ``max_length`` points and are re-estimated as DTW barycentres (DBA, checked against tslearn's) of their
segments, for ``iterations`` rounds or until the segmentation stops changing.

The fitted :class:`PatternLibrary` is a small JSON artifact. Segmenting a window uses that window's
points only, which is what keeps patching free of look-ahead (see :mod:`.patching`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numba
import numpy as np

from .dtw import dtw_barycenter, dtw_distance, dtw_to_each, normalised_shape

log = logging.getLogger(__name__)
ARTIFACT_FORMAT = 1


@dataclass(frozen=True)
class SiprConfig:
    """Defaults from the paper's sensitivity study: K = 12 patterns, lengths 8..16.

    ``warping_radius``: Sakoe-Chiba band on the common-duration shapes (-1: unconstrained DTW);
    a narrow band keeps a truncated pattern from matching its whole, which sharpens boundaries.
    """

    n_patterns: int = 12
    min_length: int = 8
    max_length: int = 16
    iterations: int = 10
    barycenter_iterations: int = 10
    warping_radius: int = 2
    restarts: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.min_length <= self.max_length:
            raise ValueError(f"SIPR lengths {self.min_length}..{self.max_length}: need 2 <= min_length <= max_length")
        if min(self.n_patterns, self.iterations, self.barycenter_iterations, self.restarts) < 1:
            raise ValueError("SIPR n_patterns, iterations, barycenter_iterations and restarts must be >= 1")

    @property
    def minimum_points(self) -> int:
        """The shortest series :func:`fit_sipr` accepts: room for every pattern at its longest."""
        return self.max_length * self.n_patterns


@dataclass
class Segmentation:
    """Segments of one series: start offsets, lengths, pattern labels and DTW distances."""

    starts: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    distances: np.ndarray


@dataclass
class PatternLibrary:
    """Fitted SIPR patterns; ``fitted_on`` says which series and dates, so users see what it learned from."""

    centroids: np.ndarray  # (n_patterns, max_length), each a shape in [0, 1]
    config: SiprConfig
    losses: list[float] = field(default_factory=list)
    training_starts: list[int] = field(default_factory=list)
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def segment(self, values: np.ndarray) -> Segmentation:
        """Greedy segmentation of ``values`` with these patterns (uses nothing outside ``values``)."""
        array = _as_series(values)
        starts, lengths, labels, distances = greedy_segmentation(array, self.centroids, self.config.min_length,
                                                                 self.config.max_length, self.config.warping_radius)
        return Segmentation(starts, lengths, labels, distances)

    def to_json(self) -> bytes:
        payload = {"format": ARTIFACT_FORMAT, "config": asdict(self.config),
                   "centroids": self.centroids.tolist(), "losses": self.losses,
                   "training_starts": self.training_starts, "fitted_on": self.fitted_on}
        return json.dumps(payload, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str, source: str = "SIPR artifact") -> "PatternLibrary":
        try:
            payload = json.loads(data)
            if payload.get("format") != ARTIFACT_FORMAT:
                raise ValueError(f"format {payload.get('format')!r}, this code reads {ARTIFACT_FORMAT}")
            config = SiprConfig(**payload["config"])
            centroids = np.asarray(payload["centroids"], dtype=np.float64)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source}: not a usable SIPR pattern library ({exc}); re-run the pre-training "
                             "(scripts/pretrain_llm4fts.py) to rewrite it") from exc
        if centroids.shape != (config.n_patterns, config.max_length) or not np.isfinite(centroids).all():
            raise ValueError(f"{source}: centroids of shape {centroids.shape} do not match its config "
                             f"({config.n_patterns} x {config.max_length}) or are not finite")
        return cls(centroids, config, list(payload.get("losses", [])), list(payload.get("training_starts", [])),
                   dict(payload.get("fitted_on", {})))


def fit_sipr(values: np.ndarray, config: SiprConfig = SiprConfig(),
             fitted_on: dict[str, Any] | None = None) -> PatternLibrary:
    """Algorithm 1, from ``restarts`` K-means++ draws; the fit with the lowest final loss wins
    (the greedy segmentation has many fixed points, so one draw is often a poor one)."""
    series = _as_series(values)
    if series.shape[0] < config.minimum_points:
        raise ValueError(f"SIPR needs at least {config.minimum_points} points for "
                         f"{config.n_patterns} patterns of up to {config.max_length}; got {series.shape[0]}")
    rng = np.random.default_rng(config.seed)
    best: tuple[float, np.ndarray, list[float]] | None = None
    for _ in range(config.restarts):
        centroids, losses = _fit_once(series, config, rng)
        if best is None or losses[-1] < best[0]:
            best = (losses[-1], centroids, losses)
    assert best is not None
    _, centroids, losses = best
    starts, _, _, _ = greedy_segmentation(series, centroids, config.min_length, config.max_length,
                                         config.warping_radius)
    return PatternLibrary(centroids, config, losses, starts.tolist(), dict(fitted_on or {}))


def _fit_once(series: np.ndarray, config: SiprConfig, rng: np.random.Generator) -> tuple[np.ndarray, list[float]]:
    centroids = kmeans_plus_plus(series, config.n_patterns, config.max_length, rng, config.warping_radius)
    losses: list[float] = []
    previous: tuple[bytes, bytes] | None = None
    for iteration in range(config.iterations):
        starts, lengths, labels, distances = greedy_segmentation(series, centroids, config.min_length,
                                                                 config.max_length, config.warping_radius)
        signature = (starts.tobytes(), labels.tobytes())
        if signature == previous:
            log.debug("SIPR converged after %d iterations", iteration)
            break
        losses.append(float(distances.mean()))
        previous = signature
        centroids = _update_centroids(series, starts, lengths, labels, distances, centroids, config)
    final = greedy_segmentation(series, centroids, config.min_length, config.max_length, config.warping_radius)
    losses.append(float(final[3].mean()))
    return centroids, losses


def kmeans_plus_plus(series: np.ndarray, k: int, length: int, rng: np.random.Generator,
                     radius: int = -1) -> np.ndarray:
    """K-means++ over every window of ``length`` points: each new pattern is drawn with probability
    proportional to its squared DTW distance from the nearest pattern already chosen."""
    windows = np.stack([normalised_shape(series[i:i + length], length)
                        for i in range(series.shape[0] - length + 1)])
    chosen = [int(rng.integers(windows.shape[0]))]
    nearest = _distances_to(windows, windows[chosen[0]], radius)
    for _ in range(1, k):
        weights = nearest ** 2
        total = weights.sum()
        pick = int(rng.choice(windows.shape[0], p=weights / total)) if total > 0 else int(rng.integers(len(weights)))
        chosen.append(pick)
        nearest = np.minimum(nearest, _distances_to(windows, windows[pick], radius))
    return windows[chosen].copy()


@numba.njit(cache=False)
def _distances_to(windows: np.ndarray, reference: np.ndarray, radius: int) -> np.ndarray:
    out = np.empty(windows.shape[0])
    for i in range(windows.shape[0]):
        out[i] = dtw_distance(windows[i], reference, radius)
    return out


@numba.njit(cache=False)
def greedy_segmentation(series: np.ndarray, centroids: np.ndarray, min_length: int, max_length: int,
                        radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Left to right: the (length, pattern) pair of least DTW distance wins; a tail shorter than
    ``min_length`` becomes one last short segment."""
    total = series.shape[0]
    width = centroids.shape[1]
    capacity = total // 1 + 1
    starts = np.empty(capacity, dtype=np.int64)
    lengths = np.empty(capacity, dtype=np.int64)
    labels = np.empty(capacity, dtype=np.int64)
    distances = np.empty(capacity)
    count = 0
    t = 0
    while t < total:
        remaining = total - t
        shortest = min(min_length, remaining)
        longest = min(max_length, remaining)
        best, best_length, best_label = np.inf, shortest, 0
        for length in range(shortest, longest + 1):
            shape = normalised_shape(series[t:t + length], width)
            scores = dtw_to_each(shape, centroids, radius)
            label = int(np.argmin(scores))
            if scores[label] < best:
                best, best_length, best_label = scores[label], length, label
        starts[count], lengths[count], labels[count], distances[count] = t, best_length, best_label, best
        count += 1
        t += best_length
    return starts[:count], lengths[:count], labels[:count], distances[:count]


def _update_centroids(series: np.ndarray, starts: np.ndarray, lengths: np.ndarray, labels: np.ndarray,
                      distances: np.ndarray, centroids: np.ndarray, config: SiprConfig) -> np.ndarray:
    """DTW barycentre (DBA) of each pattern's segments; an empty pattern takes the worst-fitting segment."""
    width = config.max_length
    shapes = np.stack([normalised_shape(series[s:s + n], width) for s, n in zip(starts, lengths)])
    updated = centroids.copy()
    order = np.argsort(-distances)
    spare = 0
    for k in range(config.n_patterns):
        members = shapes[labels == k]
        if members.shape[0] == 0:
            updated[k] = shapes[order[spare % len(order)]]
            spare += 1
            continue
        barycenter = dtw_barycenter(members, centroids[k], config.barycenter_iterations, config.warping_radius)
        updated[k] = normalised_shape(barycenter, width)  # averaging shrinks the range; patterns live in [0, 1]
    return updated


def _as_series(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"SIPR input has a non-finite value at position {bad}; fill or drop missing prices first")
    return array
