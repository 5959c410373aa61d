"""The importer: clear, located errors that write nothing; incomplete data reported; no look-ahead in weights."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lean_local.cli import main as cli_main
from lean_local.data import lean_format as lf
from lean_local.data.errors import DataError
from lean_local.data.importer import REPORT_NAME, import_data, universe_weights

from markets import DAYS, bars, write_market


def _write_inputs(tmp_path, prices: pd.DataFrame, members=None):
    prices.to_csv(tmp_path / "prices.csv", index=False)
    tickers = sorted(prices["ticker"].unique())
    pd.DataFrame(members or [(t, "2020-01-01", "") for t in tickers],
                 columns=["ticker", "start_date", "end_date"]).to_csv(tmp_path / "members.csv", index=False)
    closes = [100.0] * 20
    pd.DataFrame({"date": DAYS[:20].strftime("%Y-%m-%d"), "ticker": "SPY", "open": closes, "high": closes, "low": closes,
                  "close": closes, "volume": 1e6, "dividends": 0.0}).to_csv(tmp_path / "spy.csv", index=False)


def _run(tmp_path):
    return import_data(tmp_path / "prices.csv", tmp_path / "members.csv", tmp_path / "spy.csv", tmp_path / "out")


def test_malformed_row_names_file_and_line_and_writes_nothing(tmp_path):
    _write_inputs(tmp_path, bars("AAA", [10.0] * 5))
    lines = (tmp_path / "prices.csv").read_text().splitlines()
    lines[3] = lines[3].replace("10.0", "ten", 1)
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        _run(tmp_path)
    assert "prices.csv:4" in str(err.value) and "'ten' is not a number" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_wrong_field_count_is_located(tmp_path):
    _write_inputs(tmp_path, bars("AAA", [10.0] * 5))
    with open(tmp_path / "prices.csv", "a") as handle:
        handle.write("2020-01-08,AAA,1,2\n")
    with pytest.raises(DataError, match=r"prices.csv:7, symbol AAA, date 2020-01-08\] missing value in column 'close'"):
        _run(tmp_path)
    _write_inputs(tmp_path, bars("AAA", [10.0] * 5))
    with open(tmp_path / "prices.csv", "a") as handle:
        handle.write("2020-01-08,AAA,1,1,1,1,1,0,1,99\n")
    with pytest.raises(DataError, match=r"prices.csv:7\] expected 9 fields, found 10"):
        _run(tmp_path)


def test_duplicated_date_and_non_positive_price_are_errors(tmp_path):
    frame = bars("AAA", [10.0, 11.0, 12.0])
    frame = pd.concat([frame, frame.iloc[[1]]], ignore_index=True)
    frame.loc[2, "close"] = 0.0
    _write_inputs(tmp_path, frame)
    with pytest.raises(DataError) as err:
        _run(tmp_path)
    text = str(err.value)
    assert "duplicated date" in text and "symbol AAA" in text and "2020-01-02" in text
    assert "non-positive close" in text and "prices.csv:4" in text


def test_off_calendar_date_is_an_error(tmp_path):
    frame = bars("AAA", [10.0, 11.0])
    frame.loc[1, "date"] = "2020-01-04"  # a Saturday
    _write_inputs(tmp_path, frame)
    with pytest.raises(DataError, match="not a trading day"):
        _run(tmp_path)


def test_unknown_layout_and_missing_columns(tmp_path):
    (tmp_path / "prices.csv").write_text("date,ticker,open,high,low,close,volume\n2020-01-01,A,1,1,1,1,1\n")
    _write_inputs(tmp_path, bars("AAA", [1.0]))
    (tmp_path / "prices.csv").write_text("date,ticker,open,high,low,close,volume\n2020-01-01,A,1,1,1,1,1\n")
    with pytest.raises(DataError, match="cannot tell the layout"):
        _run(tmp_path)
    (tmp_path / "prices.csv").write_text("date,ticker,open\n")
    with pytest.raises(DataError, match="missing columns"):
        _run(tmp_path)


def test_incomplete_data_is_reported_not_fatal(tmp_path):
    gappy = bars("GAP", [10.0] * 10).drop(index=[4, 5])
    prices = pd.concat([bars("AAA", [10.0] * 10), gappy], ignore_index=True)
    _write_inputs(tmp_path, prices, [("AAA", "2020-01-01", ""), ("GAP", "2020-01-01", ""), ("GHOST", "2020-01-01", "")])
    report = _run(tmp_path)
    assert report.members_without_prices == ["GHOST"]
    assert report.gaps == {"GAP": ["2020-01-07", "2020-01-08"]}
    saved = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert saved["members_without_prices"] == ["GHOST"]
    day = lf.read_universe_file(lf.universe_dir(tmp_path / "out") / "20200103.csv")
    assert {c.ticker for c in day} == {"AAA", "GAP"}
    with pytest.raises(DataError, match="missing trading days"):
        import_data(tmp_path / "prices.csv", tmp_path / "members.csv", tmp_path / "spy.csv", tmp_path / "strict",
                    strict_gaps=True)


def test_cli_reports_data_errors_with_exit_code_2(tmp_path, capsys):
    _write_inputs(tmp_path, bars("AAA", [10.0, -1.0]))
    code = cli_main(["data", "import", "--prices", str(tmp_path / "prices.csv"), "--membership",
                     str(tmp_path / "members.csv"), "--benchmark", str(tmp_path / "spy.csv"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "non-positive close" in capsys.readouterr().err


def test_universe_files_weights_map_and_delisting(tmp_path):
    prices = pd.concat([bars("BIG", [10.0] * 10, volume=3e6), bars("SMALL", [10.0] * 10, volume=1e6),
                        bars("GONE", [10.0] * 5)], ignore_index=True)
    data = write_market(tmp_path, [prices], members=[("BIG", "2020-01-01", ""), ("SMALL", "2020-01-01", ""),
                                                     ("GONE", "2020-01-01", "2020-01-08")],
                        spy_closes=[100.0] * 10)
    day = lf.read_universe_file(lf.universe_dir(data) / "20200103.csv")
    weights = {c.ticker: c.weight for c in day}
    assert weights == pytest.approx({"BIG": 0.6, "SMALL": 0.2, "GONE": 0.2})
    later = lf.read_universe_file(lf.universe_dir(data) / "20200110.csv")
    assert {c.ticker for c in later} == {"BIG", "SMALL"}  # GONE's membership ended 2020-01-08 (exclusive)
    assert later[0].sid.startswith("BIG ") and later[0].last_update.isoformat() == "2020-01-10"
    gone = lf.read_map_file(lf.map_path(data, "GONE"))
    assert gone.delisted and gone.last_date.isoformat() == "2020-01-07"
    assert not lf.read_map_file(lf.map_path(data, "BIG")).delisted


def test_weights_use_no_future_data():
    rng = np.random.default_rng(1)
    index = pd.bdate_range("2020-01-01", periods=200)
    dv = pd.DataFrame(rng.lognormal(10, 1, (200, 6)), index=index, columns=list("ABCDEF"))
    member = np.ones((200, 6), dtype=bool)
    past = universe_weights(dv.iloc[:120], member[:120])
    full = universe_weights(dv, member)
    pd.testing.assert_frame_equal(past, full.iloc[:120])
    np.testing.assert_allclose(full.sum(axis=1), 1.0)
