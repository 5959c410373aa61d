"""History as LEAN serves it: fill-forward, bar counts on the exchange calendar, QuantBook's clock.

References (QuantConnect/Lean 24863901):
- ``Common/Data/HistoryRequestFactory.cs:78-82``: fill-forward comes from the subscription (``add_equity`` and
  the universe settings default to True) unless the call passes ``fill_forward``.
- ``Common/Time.cs:661-701`` (``GetStartTimeForTradeBars``): a bar count is turned into a start time by walking
  back over exchange sessions, not over the bars that exist.
- ``Engine/DataFeeds/Enumerators/FillForwardEnumerator.cs``: nothing before a symbol's first bar; each missing
  session after it repeats the previous bar (``TradeBar.Clone(true)``, ``Common/Data/Market/TradeBar.cs:834-845``:
  same OHLC, volume 0); after the last bar, up to the request's end unless the symbol was delisted.
- ``Research/QuantBook.cs:101-114``: QuantBook's clock is midnight (New York) of today, or of yesterday before 09:00.
"""
from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lean_local.data import lean_format as lf
from lean_local.engine.algorithm import QCAlgorithm
from lean_local.engine.data_source import DataFolder
from lean_local.engine.history import daily_history, history_request
from lean_local.engine.quantbook import QuantBook, quantbook_time
from lean_local.engine.symbols import Resolution, Symbol
from models.features import indicator_panel
from markets import DAYS, bars, write_market

ROOT = Path(__file__).resolve().parents[1]
GAP_DAYS = (5, 6)  # GAP has no bars on DAYS[5] and DAYS[6]
TEN = dt.time(10, 0)


def at(day: int, time: dt.time = TEN) -> dt.datetime:
    return dt.datetime.combine(DAYS[day].date(), time)


def close_of(day: int) -> pd.Timestamp:
    return DAYS[day] + pd.Timedelta(hours=16)


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    """FULL trades every day; GAP misses DAYS[5:7]; LATE starts at DAYS[10]; ENDS stops after DAYS[20] (delisted);
    STALE stops after DAYS[20] but its map file says it is still listed."""
    closes = [20.0 + i for i in range(len(DAYS))]
    gap = bars("GAP", closes[:40], opens=[c - 0.5 for c in closes[:40]], volume=5_000)
    gap = gap.drop(index=list(GAP_DAYS)).reset_index(drop=True)
    data = write_market(tmp_path_factory.mktemp("hist") / "m", [
        bars("FULL", closes), gap, bars("LATE", closes[10:40], start=10), bars("ENDS", closes[:21]),
        bars("STALE", closes[:21])])
    lf.write_map_file(data, "STALE", DAYS[0].date(), None)
    return data


def rows(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return frame.loc[ticker] if ticker in frame.index.get_level_values("symbol") else frame.iloc[:0]


def test_date_range_fill_forwards_a_gap_with_the_previous_bar(market):
    frame = daily_history(DataFolder(market), [Symbol("GAP")], at(30), start=DAYS[0], end=DAYS[10])
    gap = rows(frame, "GAP")
    assert list(gap.index) == [close_of(d) for d in range(10)]  # DAYS[5], DAYS[6] are there, as in LEAN
    before = gap.loc[close_of(4)]
    for d in GAP_DAYS:
        filled = gap.loc[close_of(d)]
        assert filled[["open", "high", "low", "close"]].tolist() == before[["open", "high", "low", "close"]].tolist()
        assert filled["volume"] == 0  # TradeBar.Clone(fillForward: true) zeroes the volume
    assert gap.loc[close_of(7), "volume"] == 5_000


def test_fill_forward_false_returns_only_the_bars_that_exist(market):
    data = DataFolder(market)
    frame = history_request(data, ["GAP"], at(30), (DAYS[0], DAYS[10], Resolution.DAILY), {"fill_forward": False})
    positional = history_request(data, ["GAP"], at(30), (DAYS[0], DAYS[10], Resolution.DAILY, False), {})
    expected = [close_of(d) for d in range(10) if d not in GAP_DAYS]
    assert list(frame.loc["GAP"].index) == expected
    pd.testing.assert_frame_equal(frame, positional)


def test_nothing_is_filled_before_a_symbols_first_bar(market):
    frame = daily_history(DataFolder(market), [Symbol("LATE")], at(30), start=DAYS[0], end=DAYS[20])
    assert rows(frame, "LATE").index[0] == close_of(10)


def test_count_request_starts_n_trading_days_back_not_n_bars(market):
    """At 10:00 on DAYS[12], 10 bars = sessions DAYS[2]..DAYS[11] for every symbol, gap or not."""
    data = DataFolder(market)
    frame = history_request(data, ["GAP", "FULL"], at(12), (10, Resolution.DAILY), {})
    for ticker in ("GAP", "FULL"):
        assert list(frame.loc[ticker].index) == [close_of(d) for d in range(2, 12)]
    real = history_request(data, ["GAP"], at(12), (10, Resolution.DAILY), {"fill_forward": False})
    # the old local rule (the last 10 bars that exist) started at DAYS[0]; LEAN's calendar start is DAYS[2]
    assert list(real.loc["GAP"].index) == [close_of(d) for d in range(2, 12) if d not in GAP_DAYS]


@pytest.mark.parametrize(("when", "first", "last"), [
    (at(12, dt.time(16, 0)), 10, 12),  # at the close the day's own bar counts (Time.cs:670-681: no round-down)
    (at(12, dt.time(18, 0)), 10, 12),
    (at(12, dt.time(15, 59)), 9, 11),  # before the close: rounded down to midnight, today not counted
    (dt.datetime.combine(DAYS[14].date() + dt.timedelta(days=1), dt.time(12)), 12, 14),  # a Saturday
])
def test_count_request_around_the_close(market, when, first, last):
    frame = history_request(DataFolder(market), ["FULL"], when, (3,), {})
    assert list(frame.loc["FULL"].index) == [close_of(d) for d in range(first, last + 1)]


def test_bar_ending_exactly_at_the_start_seeds_the_fill_forward(market):
    """A bar whose end equals the request's start is not returned, but it is the bar LEAN fills forward from
    (StrictDailyEndTimesEnumerator keeps EndTime >= start; the time filter drops EndTime <= start)."""
    frame = daily_history(DataFolder(market), [Symbol("GAP")], at(30), start=close_of(4).to_pydatetime(),
                          end=DAYS[7].to_pydatetime())
    gap = frame.loc["GAP"]
    assert list(gap.index) == [close_of(5), close_of(6)]
    assert (gap["volume"] == 0).all() and (gap["close"] == 24.0).all()


def test_delisted_symbol_is_not_filled_after_its_last_bar(market):
    frame = daily_history(DataFolder(market), [Symbol("ENDS")], at(40), start=DAYS[15], end=DAYS[30])
    assert rows(frame, "ENDS").index[-1] == close_of(20)


def test_listed_symbol_is_filled_to_the_request_end(market):
    frame = daily_history(DataFolder(market), [Symbol("STALE")], at(40), start=DAYS[15], end=DAYS[30])
    stale = frame.loc["STALE"]
    assert stale.index[-1] == close_of(29)  # DAYS[30]'s bar ends at 16:00, after the request's end
    assert (stale.loc[stale.index > close_of(20), "close"] == 40.0).all()
    assert (stale.loc[stale.index > close_of(20), "volume"] == 0).all()


def test_future_end_is_cut_at_now(market):
    frame = daily_history(DataFolder(market), [Symbol("FULL")], at(12), start=DAYS[8], end=DAYS[40])
    assert frame.loc["FULL"].index[-1] == close_of(11)


def test_algorithm_history_takes_lean_keywords(market):
    algorithm = QCAlgorithm()
    algorithm._engine = SimpleNamespace(data=DataFolder(market))
    algorithm._time = at(12)
    frame = algorithm.history(["GAP"], 10, Resolution.DAILY, fill_forward=False)
    assert len(frame) == 8
    with pytest.raises(NotImplementedError, match="data_normalization_mode"):
        algorithm.history(["GAP"], 10, data_normalization_mode=3)


def test_quantbook_clock_is_lean_midnight(market):
    """Midnight of today in New York from 09:00, of yesterday before (QuantBook.cs L101-114), on a frozen clock."""
    ny = "America/New_York"
    assert quantbook_time(pd.Timestamp("2026-03-10 08:59", tz=ny)) == dt.datetime(2026, 3, 9)
    assert quantbook_time(pd.Timestamp("2026-03-10 09:01", tz=ny)) == dt.datetime(2026, 3, 10)
    assert quantbook_time(pd.Timestamp("2026-03-10 23:30", tz=ny)) == dt.datetime(2026, 3, 10)
    qb = QuantBook(market)
    assert qb.time.time() == dt.time() and abs((qb.time - dt.datetime.now()).days) <= 2


def test_quantbook_bar_count_over_old_data_is_empty_like_lean(market):
    """The data ends in 2020; QuantBook's clock is today, so 10 sessions back from today hold no bar.
    LEAN returns an empty DataFrame (PandasConverter.cs:194), and ``history.loc[spy]`` raises KeyError."""
    qb = QuantBook(market)
    spy = qb.add_equity("SPY").symbol
    frame = qb.history([spy], 10, Resolution.DAILY)
    assert frame.empty and frame.shape == (0, 0)
    with pytest.raises(KeyError):
        frame.loc[spy]
    window = qb.history([spy], DAYS[0], DAYS[5], Resolution.DAILY)
    assert list(window.loc[spy].index) == [close_of(d) for d in range(5)]


def test_quantbook_history_takes_lean_keywords(market):
    """``qb.history(spy, start=..., end=..., resolution=...)`` is how LEAN's Python notebooks often ask
    (QuantBook inherits QCAlgorithm's overloads): the same names the algorithm takes, the same bars."""
    qb = QuantBook(market)
    spy = qb.add_equity("SPY").symbol
    by_name = qb.history([spy], start=DAYS[0], end=DAYS[5], resolution=Resolution.DAILY)
    by_position = qb.history([spy], DAYS[0], DAYS[5], Resolution.DAILY)
    assert list(by_name.loc[spy].index) == [close_of(d) for d in range(5)]
    pd.testing.assert_frame_equal(by_name, by_position)
    pd.testing.assert_frame_equal(qb.history(symbols=[spy], start=DAYS[0], end=DAYS[5]), by_position)
    with pytest.raises(TypeError, match="unexpected keyword"):
        qb.history([spy], begin=DAYS[0], end=DAYS[5])


def _history_calls(source: str) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and n.func.attr == "history"]


def _is_date_range(call: ast.Call) -> bool:
    """``history(symbols, start, end[, resolution])``: a third positional argument that is not a Resolution."""
    if len(call.args) < 3:
        return False
    third = call.args[2]
    return not (isinstance(third, ast.Attribute) and isinstance(third.value, ast.Name) and third.value.id == "Resolution")


def test_the_static_check_tells_the_forms_apart():
    calls = _history_calls("qb.history([spy], 252, Resolution.DAILY)\nqb.history(spy, timedelta(days=5))\n"
                           "qb.history(spy, START, END, Resolution.DAILY)\nqb.history(spy, START, END)")
    assert [_is_date_range(c) for c in calls] == [False, False, True, True]


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "research").glob("*.ipynb")))
def test_research_notebooks_ask_for_date_ranges(notebook):
    """Under ``lean research`` a bar count counts back from today and is empty on data that ended years ago."""
    cells = json.loads((ROOT / "research" / notebook).read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    bad = [ast.unparse(call) for source in code for call in _history_calls(source) if not _is_date_range(call)]
    assert not bad, f"{notebook}: bar-count or timedelta history calls {bad}; use history(symbols, start, end, resolution)"


def _with_fill_forward(history: pd.DataFrame, symbol: str, day: pd.Timestamp) -> pd.DataFrame:
    """Replace ``symbol``'s bar at ``day`` with what LEAN's fill-forward puts there."""
    out = history.copy()
    times = list(out.loc[symbol].index)
    previous = out.loc[(symbol, times[times.index(day) - 1])]
    out.loc[(symbol, day), ["open", "high", "low", "close"]] = previous[["open", "high", "low", "close"]].to_numpy()
    out.loc[(symbol, day), "volume"] = 0.0
    return out


def _panel_market() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    times = pd.bdate_range("2015-01-01", periods=320) + pd.Timedelta(hours=16)
    frames = []
    for name in ("S0", "S1"):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(times))))
        frames.append(pd.DataFrame({"close": close, "high": close * 1.01, "low": close * 0.99, "open": close * 1.001,
                                    "volume": rng.integers(1_000, 2_000, len(times)).astype(float)},
                                   index=pd.MultiIndex.from_product([[name], times], names=["symbol", "time"])))
    return pd.concat(frames)


def test_panel_treats_fill_forward_bars_as_missing_days():
    """A fill-forwarded bar (volume 0, the previous bar's OHLC) is masked like a missing day: the panel of a
    LEAN history with fill-forward equals the panel of the same history without those rows."""
    history = _panel_market()
    times = history.loc["S1"].index
    gap_days = [times[200], times[201], times[-1]]  # a two-day gap, and a stale last bar
    filled = history
    for day in gap_days:
        filled = _with_fill_forward(filled, "S1", day)
    missing = history.drop(index=[("S1", d) for d in gap_days])
    a, b = indicator_panel(filled), indicator_panel(missing)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.values, b.values)
    s1 = a.symbols.index("S1")
    assert not a.mask[s1, [a.times.get_loc(d) for d in gap_days]].any() and a.mask[s1, 250]
    assert a.mask[a.symbols.index("S0"), -1]


def test_panel_keeps_a_real_zero_volume_bar():
    """Only an exact repeat of the previous OHLC with volume 0 is fill-forward; a traded-less bar that moved stays."""
    history = _panel_market()
    day = history.loc["S1"].index[250]
    history.loc[("S1", day), "volume"] = 0.0
    panel = indicator_panel(history)
    assert panel.mask[panel.symbols.index("S1"), panel.times.get_loc(day)]
