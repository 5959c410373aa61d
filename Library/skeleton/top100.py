# region imports
from AlgorithmImports import *

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

    Subclasses override :meth:`target_weights` (and may schedule training); the default is
    equal weight, which makes this class the top-100 baseline.
    """

    universe_size = 100

    def initialize(self) -> None:
        self.set_start_date(2009, 6, 1)
        self.set_end_date(2018, 12, 31)
        self.set_cash(1_000_000_000)
        self.set_benchmark("SPY")
        self.settings.seed_initial_prices = True
        self.universe_settings.resolution = Resolution.DAILY
        self.universe_settings.schedule.on(self.date_rules.month_start("SPY"))
        self.members: Set[Symbol] = set()
        self._selected_once = False
        self.add_universe(self.universe.etf("SPY", self.universe_settings, self.select_constituents))
        self.schedule.on(self.date_rules.month_start("SPY"), self.time_rules.after_market_open("SPY", 30),
                         self.rebalance)
        self.initialize_model()

    def initialize_model(self) -> None:
        """Hook for subclasses: parameters, model loading, extra schedules."""

    def select_constituents(self, constituents: List[ETFConstituentUniverse]) -> List[Symbol]:
        if self._selected_once and not is_selection_month(self.time.month):
            return Universe.UNCHANGED
        self._selected_once = True
        return top_by_weight(((c.symbol, c.weight) for c in constituents), self.universe_size)

    def on_securities_changed(self, changes: SecurityChanges) -> None:
        for security in changes.added_securities:
            self.members.add(security.symbol)
        for security in changes.removed_securities:
            self.members.discard(security.symbol)

    def tradable_members(self) -> List[Symbol]:
        return sorted((s for s in self.members if self.securities[s].price > 0), key=lambda s: s.value)

    def target_weights(self, symbols: List[Symbol]) -> Dict[Symbol, float]:
        return equal_weights(symbols)

    def rebalance(self) -> None:
        symbols = self.tradable_members()
        weights = self.target_weights(symbols)
        targets = [PortfolioTarget(symbol, weight) for symbol, weight in weights.items()]
        self.set_holdings(targets, liquidate_existing_holdings=True)
