# region imports
from datetime import datetime

from AlgorithmImports import *

from models.reference import ReferenceDecider, RiskConfig
from skeleton.top100 import Top100MonthlyAlgorithm
# endregion


class ReferenceAllocatorAlgorithm(Top100MonthlyAlgorithm):
    """A reference allocator (``models/reference``) on the top-100 skeleton; a subclass names its ``method``,
    its settings class and the LEAN parameters it reads, nothing else.

    The estimate reads only bars that ended before the decision: the rebalance runs 30 minutes after the
    open, when LEAN's daily history ends at the previous close (Lean Algorithm/QCAlgorithm.History.cs
    L1038-1066 cuts a request at the algorithm clock; models/reference ``trailing_returns`` cuts it again).
    ``window_ends`` keeps (decision time, newest bar used) of every decision, for the look-ahead tests.
    """

    method = "inverse_volatility"
    config_class: Any = RiskConfig
    parameters: tuple[str, ...] = ("lookback_days", "min_history")

    def initialize_model(self) -> None:
        values = {name: self.get_parameter(name) for name in self.parameters}
        config = self.config_class.from_parameters({k: v for k, v in values.items() if v is not None})
        self.decider = ReferenceDecider(self.method, config)
        self.window_ends: list[tuple[datetime, Any]] = []
        self.log(f"{self.method}: settings {config.to_dict()}")

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
