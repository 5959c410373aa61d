import datetime as dt

import pytest

from lean_local.data.sid import equity_sid, parse_equity_sid


def test_sid_matches_lean_encoding_for_aapl():
    assert equity_sid("AAPL", dt.date(1998, 1, 2)) == "AAPL R735QTJ8XC9X"


def test_sid_round_trips_ticker_and_first_date():
    sid = equity_sid("abc", dt.date(2011, 7, 15))
    assert parse_equity_sid(sid) == ("ABC", dt.date(2011, 7, 15))


def test_parse_rejects_non_equity_codes():
    with pytest.raises(ValueError, match="not a US equity SID"):
        parse_equity_sid("SPY 2U")  # market 1, type 2: an option
