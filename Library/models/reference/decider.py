"""What the four reference algorithms share between LEAN's history and their weights, without LEAN:
the history request size, the trailing window cut at the decision, and log lines that name each
left-out stock once per run rather than every month."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Optional, Union

import pandas as pd

from .allocators import ALLOCATORS, trailing_returns
from .config import MomentumConfig, RiskConfig

Config = Union[RiskConfig, MomentumConfig]


@dataclass
class Decision:
    """Weights by symbol, or None with the reason there is no decision yet; lines for the algorithm's log;
    ``window_end``: the newest bar the estimate used (None without one), kept for look-ahead checks."""

    weights: Optional[dict[Any, float]]
    reason: str = ""
    log_lines: list[str] = field(default_factory=list)
    window_end: Optional[pd.Timestamp] = None


class ReferenceDecider:
    """One allocator (a key of ``ALLOCATORS``) with its settings, fed LEAN ``history`` frames."""

    def __init__(self, method: str, config: Config) -> None:
        if method not in ALLOCATORS:
            raise ValueError(f"unknown reference allocator {method!r}: use one of {sorted(ALLOCATORS)}")
        self.method, self.config = method, config
        self.reported: set[Hashable] = set()

    @property
    def history_bars(self) -> int:
        """Daily bars to request: one more close than returns in the window."""
        return self.config.lookback_days + 1

    def decide(self, history: pd.DataFrame, symbols: Iterable[Any], now: dt.datetime) -> Decision:
        """Weights at ``now`` from a LEAN history frame ((symbol, bar end time) rows, a ``close`` column)."""
        symbols = list(symbols)
        if history.empty or "close" not in history.columns:
            return Decision(None, "no price history for the universe")
        closes = history["close"].unstack(0)
        returns = trailing_returns(closes, now, self.config.lookback_days)
        missing = {s: "no price history" for s in symbols if s not in closes.columns}
        allocation = ALLOCATORS[self.method](returns.loc[:, [s for s in symbols if s in closes.columns]], self.config)
        lines = self._left_out_lines({**missing, **allocation.left_out})
        lines += [f"{self.method}: {note}" for note in allocation.notes]
        if allocation.warning:
            lines.append(f"WARNING {now:%Y-%m-%d}: {allocation.warning}")
        end = pd.Timestamp(returns.index[-1]) if len(returns) else None
        if allocation.weights.empty:
            reason = f"no stock has {self.config.min_history:.0%} of the {self.config.lookback_days}-day window yet"
            return Decision(None, reason, lines, end)
        return Decision({s: float(w) for s, w in allocation.weights.items()}, "", lines, end)

    def _left_out_lines(self, left_out: dict[Hashable, str]) -> list[str]:
        """One line for the stocks left out for the first time in this run."""
        new = {s: why for s, why in left_out.items() if s not in self.reported}
        self.reported.update(new)
        if not new:
            return []
        listed = ", ".join(f"{getattr(s, 'value', s)} ({why})" for s, why in new.items())
        return [f"{self.method}: left out (shown once per stock): {listed}"]
