# region imports
from AlgorithmImports import *
# endregion


class SpyBuyAndHold(QCAlgorithm):
    """Sanity check of the runner and the data: all in SPY at the first close, held to the end.

    The free-cash buffer is set to zero so the result is comparable with SPY's total return.
    """

    def initialize(self) -> None:
        self.set_start_date(2009, 6, 1)
        self.set_end_date(2018, 12, 31)
        self.set_cash(1_000_000_000)
        self.settings.free_portfolio_value_percentage = 0
        self.spy = self.add_equity("SPY", Resolution.DAILY).symbol
        # A function benchmark over the daily subscription: set_benchmark("SPY") would read LEAN's internal
        # HOUR feed, which daily-only data leaves flat at 0 (see Library/skeleton/top100.py).
        self.set_benchmark(lambda time: self.securities[self.spy].price)
        self.schedule.on(self.date_rules.every_day("SPY"), self.time_rules.after_market_open("SPY", 30), self.enter_position)

    def enter_position(self) -> None:
        if not self.portfolio.invested:
            self.set_holdings(self.spy, 1.0)
