# region imports
from AlgorithmImports import *

from datetime import datetime
from typing import Iterable, Union

from models.universe import equal_weights, is_selection_month, top_by_weight
# endregion


class Top100MonthlyAlgorithm(QCAlgorithm):
    """Quarterly SPY top-100 universe by ETF weight, rebalanced at each month start.

    Selection runs at 00:00 on the first trading day of each month with the previous trading
    day's constituents file and changes the universe only in January, April, July and October
    (and once at the start). The rebalance runs the same day 30 minutes after the open; LEAN
    gives newly added securities no price until their first bar, so the skeleton turns on
    ``settings.seed_initial_prices`` and new members trade on the day they join. Orders placed
    then fill at that day's close with daily data.

    The benchmark is SPY subscribed at daily resolution and read by a function benchmark.
    ``set_benchmark("SPY")`` would not do: LEAN feeds a ticker benchmark from an internal HOUR
    subscription on a Security of its own (``UniverseSelection.cs`` L328-398, ``SecurityService.cs``
    L301-311), which daily-only data never updates, so the benchmark would stay at 0 and Alpha, Beta
    and the benchmark chart would be meaningless. SPY is never a universe member and never traded.

    Subclasses override :meth:`target_weights` (and may schedule training); the default is
    equal weight, which makes this class the top-100 baseline. A model that cannot decide yet
    (history shorter than its warm-up) returns :meth:`cannot_decide`'s None: the rebalance then
    keeps what is held (cash before the first decision) and the log says why, once.
    """

    universe_size = 100

    def initialize(self) -> None:
        self.set_start_date(2009, 6, 1)
        self.set_end_date(2018, 12, 31)
        self.set_cash(1_000_000_000)
        self.spy = self.add_equity("SPY", Resolution.DAILY).symbol
        self.set_benchmark(self.benchmark_value)
        self.settings.seed_initial_prices = True
        self.universe_settings.resolution = Resolution.DAILY
        self.universe_settings.schedule.on(self.date_rules.month_start("SPY"))
        self.members: Set[Symbol] = set()
        self._selected_once = False
        self._undecided_since: Optional[datetime] = None
        self.add_universe(self.universe.etf("SPY", self.universe_settings, self.select_constituents))
        self.schedule.on(self.date_rules.month_start("SPY"), self.time_rules.after_market_open("SPY", 30),
                         self.rebalance)
        self.initialize_model()

    def initialize_model(self) -> None:
        """Hook for subclasses: parameters, model loading, extra schedules."""

    def benchmark_value(self, at: datetime) -> float:
        """The benchmark LEAN samples each day: SPY's adjusted daily close (a FuncBenchmark)."""
        return float(self.securities[self.spy].price)

    def select_constituents(self, constituents: List[ETFConstituentUniverse]) -> Iterable[Union[Symbol, str]]:
        # Iterable, not List: Universe.UNCHANGED is an UnchangedUniverse (an Iterable[str] in the stubs).
        if self._selected_once and not is_selection_month(self.time.month):
            return Universe.UNCHANGED
        self._selected_once = True
        return top_by_weight(((c.symbol, c.weight) for c in constituents), self.universe_size)

    def on_securities_changed(self, changes: SecurityChanges) -> None:
        for security in changes.added_securities:
            if security.symbol != self.spy:  # added in initialize for the benchmark: never a member
                self.members.add(security.symbol)
        for security in changes.removed_securities:
            self.members.discard(security.symbol)

    def tradable_members(self) -> List[Symbol]:
        return sorted((s for s in self.members if self.securities[s].price > 0), key=lambda s: s.value)

    def target_weights(self, symbols: List[Symbol]) -> Optional[Dict[Symbol, float]]:
        """Weights by symbol; None when there is no decision this month (holdings are kept)."""
        return equal_weights(symbols)

    def cannot_decide(self, reason: str) -> None:
        """For ``target_weights``: no decision yet. Logged once per stretch of undecided months, not monthly."""
        if self._undecided_since is None:
            held = "the current holdings" if self.portfolio.invested else "cash"
            self.log(f"{type(self).__name__} cannot decide yet: {reason}; holding {held} until it can")
            self._undecided_since = self.time

    def rebalance(self) -> None:
        symbols = self.tradable_members()
        weights = self.target_weights(symbols)
        if weights is None:  # no decision: keep what is held
            return
        if self._undecided_since is not None:
            self.log(f"{type(self).__name__} decides now (held since {self._undecided_since:%Y-%m-%d})")
            self._undecided_since = None
        targets = [PortfolioTarget(symbol, weight) for symbol, weight in weights.items()]
        self.set_holdings(targets, liquidate_existing_holdings=True)
