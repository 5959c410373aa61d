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
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .errors import StrictAttributes
from .symbols import Symbol, to_symbol

NEW_YORK = "America/New_York"


class OrderType(enum.IntEnum):
    """``Lean:Common/Orders/OrderTypes.cs``; the runner creates MARKET (``--fill-timing last-price`` and
    delisting liquidations), MARKET_ON_OPEN and MARKET_ON_CLOSE orders only."""

    MARKET = 0
    LIMIT = 1
    STOP_MARKET = 2
    STOP_LIMIT = 3
    MARKET_ON_OPEN = 4
    MARKET_ON_CLOSE = 5
    OPTION_EXERCISE = 6
    LIMIT_IF_TOUCHED = 7
    COMBO_MARKET = 8
    COMBO_LIMIT = 9
    COMBO_LEG_LIMIT = 10
    TRAILING_STOP = 11


class OrderStatus(enum.IntEnum):
    """``Lean:Common/Orders/OrderTypes.cs`` OrderStatus."""

    NEW = 0
    SUBMITTED = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 5
    NONE = 6
    INVALID = 7
    CANCEL_PENDING = 8
    UPDATE_SUBMITTED = 9


class OrderDirection(enum.IntEnum):
    """``Lean:Common/Orders/OrderTypes.cs`` OrderDirection (from the sign of the quantity, ``Order.cs:171-187``)."""

    BUY = 0
    SELL = 1
    HOLD = 2


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
    """One order as LEAN's transaction handler keeps it. Only orders that pass LEAN's pre-order checks exist
    (``QCAlgorithm.Trading.cs`` ``PreOrderChecksImpl``): those are the ones LEAN numbers and counts in
    Total Orders (``BrokerageTransactionHandler.cs:348-350``), including the ones it later invalidates
    (insufficient buying power) or cancels."""

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
    canceled_time: dt.datetime | None = None

    @property
    def direction(self) -> OrderDirection:
        if self.quantity > 0:
            return OrderDirection.BUY
        return OrderDirection.SELL if self.quantity < 0 else OrderDirection.HOLD

    @property
    def price(self) -> float:
        """LEAN's ``Order.Price``: the average fill price once filled (``OrderTicket.cs:520-526``), else 0."""
        return self.fill_price

    def cancel(self, when: dt.datetime, tag: str | None = None) -> None:
        """``Transactions.CancelOrder(id, tag)``: an open order becomes CANCELED, stamped ``canceledTime``; the
        cancel request's tag replaces the order's (``BrokerageTransactionHandler.cs:1111-1115``)."""
        self.status, self.canceled_time = OrderStatus.CANCELED, when
        if tag is not None:
            self.tag = tag


class OrderTicket(StrictAttributes):
    """What LEAN returns for a submitted order; reads through to the live order. A request rejected by the
    pre-order checks gets a ticket with status INVALID and order id 0 and no order behind it
    (``OrderTicket.InvalidSubmitRequest``)."""

    def __init__(self, order: Order) -> None:
        self._order = order

    @property
    def order(self) -> Order:
        return self._order

    @property
    def order_id(self) -> int:
        return self._order.id

    @property
    def symbol(self) -> Symbol:
        return self._order.symbol

    @property
    def quantity(self) -> float:
        return self._order.quantity

    @property
    def order_type(self) -> OrderType:
        return self._order.type

    @property
    def status(self) -> OrderStatus:
        return self._order.status

    @property
    def tag(self) -> str:
        return self._order.tag

    @property
    def time(self) -> dt.datetime:
        return self._order.time

    @property
    def quantity_filled(self) -> float:
        return self._order.quantity if self._order.status == OrderStatus.FILLED else 0.0

    @property
    def average_fill_price(self) -> float:
        return self._order.fill_price

    def __repr__(self) -> str:
        o = self._order
        return f"OrderTicket(id={o.id}, {o.symbol} {o.quantity:g} {o.type.name} {o.status.name})"


# MarketOnCloseOrder.DefaultSubmissionTimeBuffer (Common/Orders/MarketOnCloseOrder.cs:35)
MARKET_ON_CLOSE_BUFFER = dt.timedelta(minutes=15.5)


def pre_order_rejection(symbol: Symbol, quantity: float, security: Any, warming_up: bool) -> str:
    """Why LEAN's pre-order checks refuse a request before it becomes an order, or "" (``QCAlgorithm.Trading.cs``
    ``PreOrderChecksImpl``, :1050-1113, in its order; messages from ``Common/Messages``). ``security`` is the
    algorithm's Security for ``symbol`` or None."""
    if warming_up:
        return ("This operation is not allowed in Initialize or during warm up: OrderRequest.Submit. "
                "Please move this code to the OnWarmupFinished() method.")
    if security is None:
        return f"You haven't requested {symbol} data. Add this with AddSecurity() in the Initialize() method."
    if quantity == 0:
        return "Unable to submit order with id 0 that has zero quantity."
    if abs(quantity) < 1:  # equity lot size 1
        return f"Unable to submit order with id 0 which quantity ({abs(quantity):g}) is less than lot size (1)."
    if security.is_delisted:
        return f"The security with symbol '{symbol}' is marked as non-tradable."
    if security.price == 0:
        return (f"{symbol}: The security does not have an accurate price as it has not yet received a bar of "
                "data. Before placing a trade (or using SetHoldings) warm up your algorithm with SetWarmup, or "
                "use slice.Contains(symbol) to confirm the Slice object has price before using the data.")
    return ""


@dataclass(frozen=True)
class CashAmount:
    """``Common/Securities/CashAmount.cs``."""

    amount: float
    currency: str = "USD"


@dataclass(frozen=True)
class OrderFee:
    """``Common/Orders/Fees/OrderFee.cs``: ``order_event.order_fee.value.amount``."""

    value: CashAmount


class OrderEvent(StrictAttributes):
    """What ``on_order_event`` receives (``Common/Orders/OrderEvent.cs``). In a backtest LEAN emits SUBMITTED when
    an order is placed (``BacktestingBrokerage.cs:135-141``), FILLED with the fill (a delisting liquidation only
    that one), CANCELED on a cancel and INVALID when buying power refuses it (``BrokerageTransactionHandler.cs``
    ``InvalidateOrders``; ``BacktestingBrokerage.RemoveOrders``)."""

    def __init__(self, order: Order, time: dt.datetime, status: OrderStatus, fill_price: float = 0.0,
                 fill_quantity: float = 0.0, fee: float = 0.0, message: str = "") -> None:
        self.order_id = order.id
        self.symbol = order.symbol
        self.utc_time = pd.Timestamp(time).tz_localize(NEW_YORK).tz_convert("UTC").tz_localize(None).to_pydatetime()
        self.status = status
        self.fill_price = fill_price
        self.fill_price_currency = "USD"
        self.fill_quantity = fill_quantity
        self.order_fee = OrderFee(CashAmount(fee))
        self.direction = order.direction
        self.quantity = order.quantity
        self.message = message
        self.is_assignment = False
        self.ticket = OrderTicket(order)

    @property
    def absolute_fill_quantity(self) -> float:
        return abs(self.fill_quantity)

    def __repr__(self) -> str:
        return (f"OrderEvent(order {self.order_id} {self.symbol} {self.status.name} at {self.utc_time:%Y-%m-%d %H:%M} UTC, "
                f"{self.fill_quantity:g} @ {self.fill_price:g}, fee {self.order_fee.value.amount:g})")


LEAN_ORDER_COLUMNS = ["id", "symbol", "time", "lastFillTime", "canceledTime", "quantity", "type", "status",
                      "price", "priceCurrency", "direction", "value", "securityType", "tag", "orderFeeAmount",
                      "message"]


def _pascal(member: enum.Enum) -> str:
    """LEAN's C# enum name (``MARKET_ON_OPEN`` -> ``MarketOnOpen``), as ``Order.ToString`` prints it."""
    return "".join(part.capitalize() for part in member.name.split("_"))


def _utc(when: dt.datetime | None) -> str:
    """LEAN's result JSON stamps orders in UTC (``Order.Time`` is UTC); the runner's clock is New York time."""
    if when is None:
        return ""
    stamp = pd.Timestamp(when).tz_localize(NEW_YORK).tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def lean_orders_frame(orders: list[Order]) -> pd.DataFrame:
    """``orders.csv``: every order with the field names of LEAN's order JSON (``Common/Orders/Order.cs``
    ``JsonProperty`` names; enums by their C# names, times in UTC), plus ``orderFeeAmount`` and ``message``
    from the order's last event (``OrderEvent.cs``)."""
    rows = [{
        "id": o.id, "symbol": o.symbol.value, "time": _utc(o.time),
        "lastFillTime": _utc(o.fill_time if o.status == OrderStatus.FILLED else None),
        "canceledTime": _utc(o.canceled_time), "quantity": o.quantity, "type": _pascal(o.type),
        "status": _pascal(o.status), "price": o.price, "priceCurrency": "USD", "direction": _pascal(o.direction),
        "value": o.quantity * o.price, "securityType": "Equity", "tag": o.tag, "orderFeeAmount": o.fee,
        "message": o.message} for o in orders]
    return pd.DataFrame(rows, columns=LEAN_ORDER_COLUMNS)


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
