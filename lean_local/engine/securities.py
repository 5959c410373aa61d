"""Securities, holdings and the portfolio's cash accounting.

Follows ``Lean:Common/Securities/SecurityHolding.cs`` and ``SecurityPortfolioManager.cs`` for a
USD cash/margin account: a fill moves ``quantity * price + fee`` out of cash; the portfolio value
is cash plus the market value of holdings at the last price.
"""
from __future__ import annotations

from typing import Any, Generic, Iterator, TypeVar

from .errors import StrictAttributes
from .symbols import Symbol, to_symbol


class SecurityHolding(StrictAttributes):
    def __init__(self, security: "Security") -> None:
        self._security = security
        self.quantity = 0.0
        self.average_price = 0.0
        self.total_fees = 0.0
        self.net_profit = 0.0

    @property
    def symbol(self) -> Symbol:
        return self._security.symbol

    @property
    def price(self) -> float:
        return self._security.price

    @property
    def holdings_value(self) -> float:
        return self.quantity * self._security.price

    @property
    def absolute_holdings_value(self) -> float:
        return abs(self.holdings_value)

    @property
    def holdings_cost(self) -> float:
        return self.quantity * self.average_price

    @property
    def unrealized_profit(self) -> float:
        return self.holdings_value - self.holdings_cost

    @property
    def absolute_quantity(self) -> float:
        return abs(self.quantity)

    @property
    def invested(self) -> bool:
        return self.quantity != 0

    @property
    def is_long(self) -> bool:
        return self.quantity > 0

    @property
    def is_short(self) -> bool:
        return self.quantity < 0

    def apply_fill(self, quantity: float, price: float, fee: float) -> None:
        """Average price as LEAN keeps it: weighted on increases, unchanged on reductions, reset on flips."""
        old = self.quantity
        new = old + quantity
        if old == 0 or (old > 0) == (quantity > 0):
            self.average_price = (old * self.average_price + quantity * price) / new if new else 0.0
        else:
            closed = min(abs(quantity), abs(old)) * (1 if old > 0 else -1)
            self.net_profit += closed * (price - self.average_price)
            if new == 0:
                self.average_price = 0.0
            elif (new > 0) != (old > 0):
                self.average_price = price
        self.net_profit -= fee
        self.quantity = new
        self.total_fees += fee


class Security(StrictAttributes):
    """One equity: its last bar, whether it has data yet, and its holding."""

    def __init__(self, symbol: Symbol) -> None:
        self.symbol = symbol
        self.price = 0.0
        self.open = self.high = self.low = self.close = 0.0
        self.volume = 0.0
        self.last_bar_date: Any = None
        self.is_delisted = False
        self.holdings = SecurityHolding(self)
        self.leverage = 2.0

    @property
    def has_data(self) -> bool:
        return self.last_bar_date is not None

    @property
    def is_tradable(self) -> bool:
        return not self.is_delisted

    def set_bar(self, day: Any, o: float, h: float, l: float, c: float, v: float) -> None:
        self.open, self.high, self.low, self.close, self.volume = o, h, l, c, v
        self.price = c
        self.last_bar_date = day

    def clear_cache(self) -> None:
        """No price and no bar, as when first added: LEAN resets the cache of a member whose subscription ends
        (``Engine/DataFeeds/UniverseSelection.cs:502-512``), so a re-added security is seeded afresh."""
        self.price = self.open = self.high = self.low = self.close = self.volume = 0.0
        self.last_bar_date = None

    def __repr__(self) -> str:
        return f"Security({self.symbol}, price={self.price})"


T = TypeVar("T")


class SymbolKeyed(StrictAttributes, Generic[T]):
    """A read view keyed by Symbol that also takes a ticker string, as LEAN's Python dictionaries do: the one
    mapping behind ``self.securities`` and the slice's ``DataDictionary`` collections."""

    def __init__(self, items: dict[Symbol, T] | None = None) -> None:
        self._items: dict[Symbol, T] = dict(items or {})

    def __getitem__(self, key: Any) -> T:
        return self._items[to_symbol(key)]

    def __contains__(self, key: Any) -> bool:
        return to_symbol(key) in self._items

    def contains_key(self, key: Any) -> bool:
        return key in self

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[Symbol]:
        return list(self._items)

    def values(self) -> list[T]:
        return list(self._items.values())

    def items(self) -> list[tuple[Symbol, T]]:
        return list(self._items.items())


class SecurityManager(SymbolKeyed[Security]):
    """``self.securities``: a dict keyed by Symbol (and by ticker string)."""

    def add(self, symbol: Symbol) -> Security:
        if symbol not in self._items:
            self._items[symbol] = Security(symbol)
        return self._items[symbol]

    def __getitem__(self, key: Any) -> Security:
        symbol = to_symbol(key)
        if symbol not in self._items:
            raise KeyError(f"{symbol} is not in the algorithm's securities; add it with add_equity or a universe")
        return self._items[symbol]

    @property
    def total(self) -> list[Security]:
        return self.values()


class SecurityPortfolioManager(StrictAttributes):
    """``self.portfolio``: cash plus holdings; indexable by Symbol or ticker."""

    def __init__(self, securities: SecurityManager, cash: float = 100_000.0) -> None:
        self._securities = securities
        self.cash = float(cash)
        self.total_fees = 0.0

    def set_cash(self, cash: float) -> None:
        self.cash = float(cash)

    @property
    def total_holdings_value(self) -> float:
        return sum(s.holdings.holdings_value for s in self._securities.values())

    @property
    def total_absolute_holdings_cost(self) -> float:
        return sum(abs(s.holdings.holdings_cost) for s in self._securities.values())

    @property
    def total_portfolio_value(self) -> float:
        return self.cash + self.total_holdings_value

    @property
    def invested(self) -> bool:
        return any(s.holdings.invested for s in self._securities.values())

    @property
    def total_unrealized_profit(self) -> float:
        return sum(s.holdings.unrealized_profit for s in self._securities.values())

    def margin_remaining(self) -> float:
        """Portfolio value less the initial margin of every holding (value / its leverage)."""
        used = sum(s.holdings.absolute_holdings_value / s.leverage for s in self._securities.values())
        return self.total_portfolio_value - used

    def __getitem__(self, key: Any) -> SecurityHolding:
        return self._securities[key].holdings

    def __contains__(self, key: Any) -> bool:
        return key in self._securities

    def __iter__(self) -> Iterator[Symbol]:
        return iter(self._securities)

    def keys(self) -> list[Symbol]:
        return self._securities.keys()

    def values(self) -> list[SecurityHolding]:
        return [s.holdings for s in self._securities.values()]

    def items(self) -> list[tuple[Symbol, SecurityHolding]]:
        return [(k, s.holdings) for k, s in self._securities.items()]

    def apply_fill(self, security: Security, quantity: float, price: float, fee: float) -> None:
        self.cash -= quantity * price + fee
        self.total_fees += fee
        security.holdings.apply_fill(quantity, price, fee)
