"""Settings of the reference allocators, parsed from LEAN parameter strings like every model's."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from ..parameters import choice_problems, config_from_parameters, minimum_problems

COVARIANCES = ("ledoit_wolf", "empirical")


@dataclass(frozen=True)
class RiskConfig:
    """Inverse volatility, minimum variance and HRP: trailing daily returns -> long-only weights.

    ``lookback_days`` (default 252, one year of sessions): daily returns the estimates use, all before the
    decision. ``min_history`` (default 0.8): a stock needs non-missing returns on this fraction of the window,
    otherwise it is left out (a recent IPO). ``max_weight`` (default 1.0, no cap): upper bound per stock for
    minimum variance and HRP (inverse volatility has no cap). ``covariance`` (default ``ledoit_wolf``): the
    covariance estimator of minimum variance and HRP. Ledoit-Wolf, because a year of returns on ~100 stocks
    (T/N ~ 2.5) gives a sample covariance whose small eigenvalues are far too small; an unshrunk minimum
    variance loads on exactly those estimation errors. ``empirical`` is the plain sample covariance.
    """

    lookback_days: int = 252
    min_history: float = 0.8
    max_weight: float = 1.0
    covariance: str = "ledoit_wolf"

    def __post_init__(self) -> None:
        problems = choice_problems(self, {"covariance": COVARIANCES})
        problems += minimum_problems(self, ("lookback_days",), 2)
        problems += _fraction_problems(self, ("min_history", "max_weight"))
        if problems:
            raise ValueError("invalid reference allocator settings: " + "; ".join(problems))

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> "RiskConfig":
        """Build from LEAN parameter strings; names the algorithm owns are ignored."""
        return config_from_parameters(cls, parameters, {})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MomentumConfig:
    """12-1 momentum: total return from ``formation_days`` (default 252, twelve months of sessions) to
    ``skip_days`` (default 21, one month) before the decision; the top ``top_fraction`` (default 0.1, a
    decile, ``ceil(fraction * n)`` stocks) held in equal weights. The skipped month is the short-term
    reversal the 12-1 convention leaves out (Jegadeesh & Titman 1993). ``min_history`` (default 1.0): the
    fraction of the formation window a stock needs returns on; by default the whole year, so that every
    ranked return covers the same period."""

    formation_days: int = 252
    skip_days: int = 21
    top_fraction: float = 0.1
    min_history: float = 1.0

    def __post_init__(self) -> None:
        problems = minimum_problems(self, ("formation_days",), 2) + minimum_problems(self, ("skip_days",), 0)
        problems += _fraction_problems(self, ("top_fraction", "min_history"))
        if self.skip_days >= self.formation_days:
            problems.append(f"skip_days={self.skip_days} must be shorter than formation_days={self.formation_days}")
        if problems:
            raise ValueError("invalid momentum settings: " + "; ".join(problems))

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> "MomentumConfig":
        """Build from LEAN parameter strings; names the algorithm owns are ignored."""
        return config_from_parameters(cls, parameters, {})

    @property
    def lookback_days(self) -> int:
        """Daily returns the ranking reads: the whole formation window (the skipped month included)."""
        return self.formation_days

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fraction_problems(config: Any, names: tuple[str, ...]) -> list[str]:
    return [f"{name}={getattr(config, name)}: must be in (0, 1]" for name in names
            if not 0 < float(getattr(config, name)) <= 1]
