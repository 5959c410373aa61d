"""Orders, fills and fees for daily US equities.

Sources: fees ``Lean:Common/Orders/Fees/InteractiveBrokersFeeModel.cs`` ($0.005/share, $1 minimum,
capped at 0.5% of the trade value); ``set_holdings`` sizing and ordering
``Lean:Algorithm/QCAlgorithm.Trading.cs`` (SetHoldingsImpl), ``PortfolioTarget.Percent``,
``BuyingPowerModel.GetMaximumOrderQuantityForTargetBuyingPower`` and ``Extensions.OrderTargetsByMarginImpact``;
fills ``EquityFillModel``; zero slippage (``NullSlippageModel``).
"""
from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import StrictAttributes
from .symbols import Symbol, to_symbol


class OrderType(enum.IntEnum):
    MARKET = 0
    MARKET_ON_OPEN = 4
    MARKET_ON_CLOSE = 5


class OrderStatus(enum.IntEnum):
    NEW = 0
    SUBMITTED = 1
    FILLED = 3
    CANCELED = 5
    INVALID = 7


class PortfolioTarget(StrictAttributes):
    """``PortfolioTarget(symbol, quantity)``; in ``set_holdings`` the quantity is a portfolio fraction."""

    def __init__(self, symbol: Any, quantity: float, tag: str = "") -> None:
        self.symbol = to_symbol(symbol)
        self.quantity = float(quantity)
        self.tag = tag

    def __repr__(self) -> str:
        return f"PortfolioTarget({self.symbol}, {self.quantity})"


@dataclass
class Order:
    id: int
    symbol: Symbol
    quantity: float
    type: OrderType
    time: dt.datetime
    tag: str = ""
    status: OrderStatus = OrderStatus.SUBMITTED
    fill_time: dt.datetime | None = None
    fill_price: float = 0.0
    fee: float = 0.0
    message: str = ""


@dataclass
class OrderTicket:
    """What LEAN returns for a submitted order; reads through to the live order."""

    order: Order = field(repr=False)

    @property
    def order_id(self) -> int:
        return self.order.id

    @property
    def symbol(self) -> Symbol:
        return self.order.symbol

    @property
    def quantity(self) -> float:
        return self.order.quantity

    @property
    def status(self) -> OrderStatus:
        return self.order.status

    @property
    def quantity_filled(self) -> float:
        return self.order.quantity if self.order.status == OrderStatus.FILLED else 0.0

    @property
    def average_fill_price(self) -> float:
        return self.order.fill_price


def interactive_brokers_fee(quantity: float, price: float) -> float:
    """US-equity fee of LEAN's InteractiveBrokersFeeModel for one fill."""
    fee = 0.005 * abs(quantity)
    cap = 0.005 * abs(quantity) * price
    if fee < 1.0:
        return 1.0
    return min(fee, cap)


@dataclass(frozen=True)
class SizingSettings:
    """LEAN's ``Settings`` that govern set_holdings."""

    free_portfolio_value_percentage: float = 0.0025
    minimum_order_margin_portfolio_percentage: float = 0.001


def target_quantity_delta(percent: float, price: float, current: float, open_quantity: float,
                          portfolio_value: float, leverage: float, settings: SizingSettings) -> float:
    """Shares to order so the holding reaches ``percent`` of the portfolio, as LEAN sizes it.

    The target is scaled by ``(TPV - buffer) / TPV`` with buffer = TPV x free_portfolio_value_percentage;
    the share count rounds toward zero after deducting the order's own fee; deltas whose margin
    impact is below TPV x minimum_order_margin_portfolio_percentage are dropped (return 0).
    """
    if price <= 0 or portfolio_value <= 0:
        return 0.0
    adjusted = percent * (1.0 - settings.free_portfolio_value_percentage)
    target_value = adjusted * portfolio_value
    shares = math.trunc(target_value / price)
    for _ in range(20):  # LEAN iterates until the position plus the fee fits the target
        delta = shares - current - open_quantity
        fee = interactive_brokers_fee(delta, price) if delta else 0.0
        budget = (portfolio_value - fee) * adjusted
        fitted = math.trunc(budget / price)
        if abs(fitted) >= abs(shares):
            break
        shares = fitted
    delta = shares - current - open_quantity
    if abs(delta * price) / leverage < settings.minimum_order_margin_portfolio_percentage * portfolio_value:
        return 0.0
    return float(delta)
