# region imports
from datetime import datetime

from AlgorithmImports import *

from models.reference import RiskConfig, ReferenceDecider
from skeleton.top100 import Top100MonthlyAlgorithm
# endregion

PARAMETERS = ("lookback_days", "min_history")


class InverseVolatilityAlgorithm(Top100MonthlyAlgorithm):
    """Inverse volatility (skfolio InverseVolatility): weights proportional to 1 / the trailing 252-day standard
    deviation of daily returns.

    The estimate reads only bars that ended before the decision: the rebalance runs 30 minutes after the
    open, when LEAN's daily history ends at the previous close (Lean Algorithm/QCAlgorithm.History.cs
    L1038-1066 cuts a request at the algorithm clock; models/reference ``trailing_returns`` cuts it again).
    Settings and their defaults: ``models/reference/config.py``.
    """

    def initialize_model(self) -> None:
        values = {name: self.get_parameter(name) for name in PARAMETERS}
        config = RiskConfig.from_parameters({k: v for k, v in values.items() if v is not None})
        self.decider = ReferenceDecider("inverse_volatility", config)
        self.window_ends: list[tuple[datetime, Any]] = []  # (decision time, newest bar used): look-ahead audit
        self.log(f"inverse_volatility: settings {config.to_dict()}")

    def target_weights(self, symbols: List[Symbol]) -> Optional[Dict[Symbol, float]]:
        history = self.history(symbols, self.decider.history_bars, Resolution.DAILY)
        decision = self.decider.decide(history, symbols, self.time)
        for line in decision.log_lines:
            (self.error if line.startswith("WARNING") else self.log)(line)
        if decision.window_end is not None:
            self.window_ends.append((self.time, decision.window_end))
        if decision.weights is None:
            self.cannot_decide(decision.reason)
            return None
        return decision.weights
