"""LEAN SecurityIdentifier strings for US equities.

LEAN encodes a US equity as ``"<FIRST_TICKER> " + base36(props)`` with
``props = OADate(first_date) * 10**14 + market * 100 + security_type``
(``Lean:Common/SecurityIdentifier.cs``); ``first_date`` is the first map-file row, and the
ticker is the one the company had on that date, so a renamed company keeps its old ticker in
its SID (``ABC,AAS R735QTJ8XC9X`` in LEAN's sample ETF file).
"""
from __future__ import annotations

import datetime as dt

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_OA_EPOCH = dt.date(1899, 12, 30)
MARKET_USA = 1
SECURITY_TYPE_EQUITY = 1


def _base36(value: int) -> str:
    if value == 0:
        return "0"
    out = []
    while value:
        value, rem = divmod(value, 36)
        out.append(_DIGITS[rem])
    return "".join(reversed(out))


def equity_sid(first_ticker: str, first_date: dt.date) -> str:
    """The SID string LEAN gives a US equity first listed (in the data) on ``first_date``."""
    oa_date = (first_date - _OA_EPOCH).days
    props = oa_date * 10**14 + MARKET_USA * 100 + SECURITY_TYPE_EQUITY
    return f"{first_ticker.upper()} {_base36(props)}"


def parse_equity_sid(sid: str) -> tuple[str, dt.date]:
    """Inverse of :func:`equity_sid`: the first ticker and first date; rejects non-US-equity SIDs."""
    try:
        ticker, code = sid.strip().split(" ")
        props = int(code, 36)
    except ValueError as exc:
        raise ValueError(f"not a LEAN security identifier: {sid!r}") from exc
    oa_date, rest = divmod(props, 10**14)
    if rest != MARKET_USA * 100 + SECURITY_TYPE_EQUITY:
        raise ValueError(f"{sid!r} is not a US equity SID (market/type code {rest})")
    return ticker, _OA_EPOCH + dt.timedelta(days=oa_date)
