"""The benchmark value LEAN samples each day (``BaseResultsHandler.Sample`` -> ``Benchmark.Evaluate``).

Two kinds, as in LEAN (QuantConnect/Lean 24863901):

- **FuncBenchmark** (``set_benchmark(callable)``): the callable's value at the sample time. It adds no
  data feed, so ``set_benchmark(lambda time: self.securities[spy].price)`` over a daily SPY
  subscription gives a moving benchmark from daily data. This is what the skeleton does.
- **SecurityBenchmark** (a ticker or Symbol; also the default SPY of ``DefaultBrokerageModel.GetBenchmark``):
  ``SecurityBenchmark.Evaluate`` returns ``Security.Price`` of a Security created by
  ``SecurityService.CreateBenchmarkSecurity`` with ``reCreateSecurity: true`` (L301-311), i.e. a second
  object even when the algorithm subscribed the same ticker. Its only data is the internal feed that
  ``UniverseSelection.AddPendingInternalDataFeeds`` (L328-398) adds at **HOUR** resolution in a backtest
  (minute live). The algorithm's own daily bars update the algorithm's Security, never this one.
  With no ``equity/usa/hour/<ticker>.zip`` the price stays 0 for the whole run: LEAN samples 0, and its
  benchmark returns are 0 (``StatisticsBuilder.CreateBenchmarkDifferences`` yields 0 when the previous
  value is 0), so Alpha, Beta and the benchmark chart carry no information.

When the hourly file exists the runner samples the daily close, which is the close of the day's last
hourly bar (the runner reads no hourly data).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import numpy as np

from ..data import lean_format as lf
from .data_source import DataFolder, SymbolBars


def hour_path(data: DataFolder, ticker: str) -> Any:
    """Where LEAN looks for the benchmark's internal feed (``LeanData.GenerateZipFilePath``, hour resolution)."""
    return lf.equity_dir(data.root) / "hour" / f"{ticker.lower()}.zip"


class Benchmark:
    """What the engine records in the benchmark column of the equity samples."""

    def __init__(self, description: str, warning: str | None = None) -> None:
        self.description = description
        self.warning = warning

    def value(self, when: dt.datetime) -> float:
        raise NotImplementedError


class FunctionBenchmark(Benchmark):
    def __init__(self, fn: Callable[[dt.datetime], Any]) -> None:
        super().__init__(f"function {getattr(fn, '__qualname__', repr(fn))}")
        self._fn = fn

    def value(self, when: dt.datetime) -> float:
        return float(self._fn(when))


class SecurityBenchmark(Benchmark):
    def __init__(self, ticker: str, data: DataFolder) -> None:
        path = hour_path(data, ticker)
        self._bars: SymbolBars | None = data.bars(ticker) if path.exists() else None
        warning = None
        if self._bars is None:
            warning = (f"benchmark {ticker}: LEAN feeds set_benchmark('{ticker}') (and the default SPY benchmark) from an "
                       f"internal HOUR subscription, and {path.relative_to(data.root).as_posix()} is not in the data "
                       "folder, so the benchmark stays flat at 0 as it would in LEAN (Alpha, Beta and the benchmark "
                       "chart say nothing). Subscribe it at daily resolution and pass a function: "
                       "set_benchmark(lambda time: self.securities[symbol].price), as Library/skeleton/top100.py does")
        super().__init__(f"security {ticker} (hour feed {'found' if self._bars is not None else 'missing'})", warning)

    def value(self, when: dt.datetime) -> float:
        if self._bars is None:
            return 0.0
        i = self._bars.index_on_or_before(np.datetime64(when.date(), "D"))
        return float(self._bars.close[i]) if i >= 0 else 0.0


def make_benchmark(algorithm: Any, data: DataFolder) -> Benchmark:
    """The benchmark ``algorithm`` configured in ``initialize``."""
    if algorithm._benchmark_function is not None:
        return FunctionBenchmark(algorithm._benchmark_function)
    return SecurityBenchmark(algorithm.benchmark_ticker, data)
