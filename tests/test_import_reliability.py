"""Issue 15, data side: nothing lost, nothing silent.

Bad input stops the import at the door with file, line, symbol and date; an import is a transaction (a kill
at any moment leaves the previous complete folder, or none with a clear error, never a mix); a reader refuses
an incomplete folder; one unreadable file skips its ticker, reported, instead of stopping a backtest.
"""
from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lean_local.cli import main as cli_main
from lean_local.data import lean_format as lf
from lean_local.data.errors import DataError
from lean_local.data.importer import REPORT_NAME, import_data
from lean_local.engine.data_source import DataFolder
from lean_local.engine.runner import run_backtest

from markets import DAYS, bars, write_project

ROOT = Path(__file__).resolve().parents[1]


def _inputs(folder: Path, prices: pd.DataFrame, members: list[tuple[str, str, str]] | None = None,
            days: int = 20) -> dict[str, Path]:
    """Vendor CSVs for ``prices`` (events layout), a membership file and a flat SPY of ``days`` weekdays."""
    folder.mkdir(parents=True, exist_ok=True)
    prices.to_csv(folder / "prices.csv", index=False)
    tickers = sorted(prices["ticker"].unique())
    pd.DataFrame(members or [(t, str(DAYS[0].date()), "") for t in tickers],
                 columns=["ticker", "start_date", "end_date"]).to_csv(folder / "members.csv", index=False)
    closes = [100.0] * days
    pd.DataFrame({"date": DAYS[:days].strftime("%Y-%m-%d"), "ticker": "SPY", "open": closes, "high": closes,
                  "low": closes, "close": closes, "volume": 1e6, "dividends": 0.0}).to_csv(folder / "spy.csv", index=False)
    return {"prices": folder / "prices.csv", "membership": folder / "members.csv", "benchmark": folder / "spy.csv"}


def _import(paths: dict[str, Path], out: Path, **kw):
    return import_data(paths["prices"], paths["membership"], paths["benchmark"], out, **kw)


def _cli(paths: dict[str, Path], out: Path) -> list[str]:
    return ["data", "import", "--prices", str(paths["prices"]), "--membership", str(paths["membership"]),
            "--benchmark", str(paths["benchmark"]), "--out", str(out)]


def _edit_line(path: Path, line_no: int, old: str, new: str) -> None:
    lines = path.read_text().splitlines()
    assert old in lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    path.write_text("\n".join(lines) + "\n")


def _siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name + "."))


# --- 1. prices validated at the door ------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["inf", "1e16", "-inf", "nan"])
def test_non_finite_or_out_of_range_close_is_rejected_with_its_location(tmp_path, bad):
    """LEAN stores price x 10000 as an int64: 1e16 (or inf) would be written as -9223372036854775808."""
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 5))
    # line 4 = the third bar (2020-01-03); close is the 6th field
    lines = paths["prices"].read_text().splitlines()
    fields = lines[3].split(",")
    fields[5] = bad
    fields[3] = "1e17" if bad != "nan" else fields[3]  # keep high >= close so only the range check can fire
    lines[3] = ",".join(fields)
    paths["prices"].write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        _import(paths, tmp_path / "out")
    text = str(err.value)
    assert "prices.csv:4" in text and "symbol AAA" in text and "date 2020-01-03" in text and "close" in text
    assert not (tmp_path / "out").exists()


def test_one_bad_price_is_one_cli_line_and_exit_2(tmp_path, capsys):
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 5))
    _edit_line(paths["prices"], 4, "10.0,10.0,10.0,10.0", "10.0,10.0,10.0,inf")
    assert cli_main(_cli(paths, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: [{paths['prices']}:4, symbol AAA, date 2020-01-03] "
                                                    "close inf is not a finite number; fix or remove these rows")
    _edit_line(paths["prices"], 4, "10.0,10.0,10.0,inf", "10.0,1e17,10.0,1e16")
    assert cli_main(_cli(paths, tmp_path / "out")) == 2
    err = capsys.readouterr().err.splitlines()  # two problems: one line each, then what to do
    assert len(err) == 3 and "prices.csv:4, symbol AAA, date 2020-01-03] close 1e+16 is above 9.22337e+14" in err[1]


def test_huge_volume_is_rejected(tmp_path):
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 5))
    _edit_line(paths["prices"], 3, ",1000000,", ",1e30,")
    with pytest.raises(DataError, match=r"prices.csv:3, symbol AAA, date 2020-01-02\].*volume"):
        _import(paths, tmp_path / "out")


@pytest.mark.parametrize("column,value,message", [
    ("high", 9.0, "high 9.0 is below max(open, close) 10.0"),
    ("low", 11.0, "low 11.0 is above min(open, close) 10.0"),
])
def test_inconsistent_ohlc_is_rejected(tmp_path, column, value, message):
    frame = bars("AAA", [10.0] * 5)
    frame.loc[2, column] = value
    paths = _inputs(tmp_path, frame)
    with pytest.raises(DataError) as err:
        _import(paths, tmp_path / "out")
    assert "prices.csv:4, symbol AAA, date 2020-01-03" in str(err.value) and message in str(err.value)


def test_ohlc_compared_at_leans_precision_so_float_noise_passes(tmp_path):
    """The dev SPY file has highs 1e-15 below the close: equal once written as deci-cents, so accepted."""
    frame = bars("AAA", [10.0] * 5)
    frame.loc[2, "high"] = 10.0 - 1e-12
    _import(_inputs(tmp_path, frame), tmp_path / "out")
    assert lf.daily_path(tmp_path / "out", "AAA").exists()


def test_off_calendar_row_is_reported_at_its_line_in_the_original_file(tmp_path):
    """Rows sorted by ticker before the check used to be reported at their sorted position."""
    frame = pd.concat([bars("BBB", [20.0] * 5), bars("AAA", [10.0] * 5)], ignore_index=True)
    frame.loc[7, "date"] = "2020-01-04"  # AAA's third row, line 9 of the file; a Saturday
    paths = _inputs(tmp_path, frame)
    with pytest.raises(DataError, match=r"prices.csv:9, symbol AAA, date 2020-01-04\] date is not a trading day"):
        _import(paths, tmp_path / "out")


def test_blank_lines_do_not_shift_reported_lines(tmp_path):
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 5))
    lines = paths["prices"].read_text().splitlines()
    lines.insert(2, "")  # a blank line 3
    paths["prices"].write_text("\n".join(lines) + "\n")
    _edit_line(paths["prices"], 5, ",10.0,1000000", ",-1.0,1000000")
    with pytest.raises(DataError, match=r"prices.csv:5, symbol AAA, date 2020-01-03\]"):
        _import(paths, tmp_path / "out")


# --- 2. ticker characters --------------------------------------------------------------------------------------

@pytest.mark.parametrize("ticker", ["../../../../ESCAPED/PWNED", "BRK/B", "A B", "A|B", ".HIDDEN", "..", "BRK\\B"])
def test_ticker_that_is_no_safe_file_name_is_rejected(tmp_path, ticker):
    frame = pd.concat([bars("AAA", [10.0] * 3), bars(ticker, [10.0] * 3)], ignore_index=True)
    paths = _inputs(tmp_path / "in", frame, members=[("AAA", "2020-01-01", "")])
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(DataError) as err:
        _import(paths, out)
    assert f"prices.csv:5, symbol {ticker.upper()}" in str(err.value) and "ticker" in str(err.value)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "in" not in p.relative_to(tmp_path).parts[:1]]
    assert written == []


def test_share_class_with_a_dot_is_written_as_lean_writes_it(tmp_path):
    paths = _inputs(tmp_path, bars("BRK.B", [10.0] * 3))
    _import(paths, tmp_path / "out")
    assert (tmp_path / "out" / "equity" / "usa" / "daily" / "brk.b.zip").exists()
    assert DataFolder(tmp_path / "out").bars("BRK.B").close.tolist() == [10.0] * 3


def test_bad_ticker_is_one_cli_line_and_exit_2(tmp_path, capsys):
    paths = _inputs(tmp_path, bars("BRK/B", [10.0] * 3))
    assert cli_main(_cli(paths, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: [") and "BRK.B" in err and err.count("\n") == 1


# --- 3+4. imports are transactions ------------------------------------------------------------------------------

def _three(tmp_path: Path, folder: str = "in1") -> dict[str, Path]:
    frame = pd.concat([bars(t, [10.0 + i] * 20) for i, t in enumerate(["AAA", "BBB", "CCC"])], ignore_index=True)
    return _inputs(tmp_path / folder, frame)


def _one(tmp_path: Path, folder: str = "in2") -> dict[str, Path]:
    return _inputs(tmp_path / folder, bars("AAA", [50.0] * 10), days=10)


def test_reimport_replaces_the_whole_folder(tmp_path):
    out = tmp_path / "out"
    _import(_three(tmp_path), out)
    assert len(list(lf.universe_dir(out).glob("*.csv"))) == 20
    _import(_one(tmp_path), out)
    daily = sorted(p.name for p in (out / "equity" / "usa" / "daily").iterdir())
    assert daily == ["aaa.zip", "spy.zip"]
    assert (out / "alternative" / "interest-rate" / "usa" / "interest-rate.csv").is_file()  # written by each import
    assert sorted(p.name for p in (out / "equity" / "usa" / "map_files").iterdir()) == ["aaa.csv", "spy.csv"]
    assert len(list(lf.universe_dir(out).glob("*.csv"))) == 10  # not the 20 of the first import
    assert DataFolder(out).bars("AAA").close.tolist() == [50.0] * 10
    assert _siblings(out) == []


def test_reader_refuses_a_folder_without_the_marker(tmp_path):
    out = tmp_path / "out"
    _import(_three(tmp_path), out)
    (out / REPORT_NAME).unlink()
    with pytest.raises(FileNotFoundError) as err:
        DataFolder(out)
    assert str(err.value) == (f"{out} is not a complete import (no {REPORT_NAME}): rerun "
                              "`python -m lean_local data import ...` (for a LEAN data folder no import wrote: "
                              f"`python -m lean_local data adopt {out}`)")


def test_a_lean_data_folder_no_import_wrote_is_read_once_adopted(tmp_path, capsys):
    """LEAN's own folders (lean init, lean data download) have no marker: one explicit step lets the runner read them."""
    out = tmp_path / "out"
    _import(_three(tmp_path), out)
    (out / REPORT_NAME).unlink()
    assert cli_main(["data", "adopt", str(out)]) == 0
    assert json.loads((out / REPORT_NAME).read_text())["adopted"] is True
    assert DataFolder(out).bars("AAA") is not None
    assert cli_main(["data", "adopt", str(tmp_path / "nowhere")]) == 2
    assert "not a LEAN data folder" in capsys.readouterr().err
    # an import must not replace (and so delete) an adopted folder: it holds what lean init/download put there
    (out / "crypto").mkdir()
    (out / "crypto" / "btcusd.zip").write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="no import wrote"):
        _import(_one(tmp_path), out)
    assert (out / "crypto" / "btcusd.zip").read_bytes() == b"keep"


def test_import_refuses_to_replace_a_folder_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli_main(_cli(_three(tmp_path), out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{out} is not empty and holds no {REPORT_NAME}" in err
    assert (out / "notes.txt").read_text() == "mine" and _siblings(out) == []


def test_import_into_an_existing_empty_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _import(_three(tmp_path), out)
    assert (out / REPORT_NAME).exists() and _siblings(out) == []


def test_failed_import_leaves_the_previous_one_and_no_staging(tmp_path):
    out = tmp_path / "out"
    _import(_three(tmp_path), out)
    bad = _one(tmp_path)
    _edit_line(bad["prices"], 3, ",50.0,1000000", ",-5.0,1000000")
    with pytest.raises(DataError):
        _import(bad, out)
    assert DataFolder(out).bars("CCC") is not None and _siblings(out) == []


def _killed_import(paths: dict[str, Path], out: Path, stage: str, tmp_path: Path) -> None:
    """Run the CLI import in a child that pauses at ``stage``; SIGKILL it there."""
    flag = tmp_path / f"paused-{stage}"
    env = dict(os.environ, LEAN_LOCAL_TEST_PAUSE_AT=stage, LEAN_LOCAL_TEST_PAUSE_FILE=str(flag),
               PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-m", "lean_local", *_cli(paths, out)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            if child.poll() is not None:
                raise AssertionError(f"import exited ({child.returncode}) before {stage}: {child.stderr.read()!r}")
            assert time.monotonic() < deadline, f"import never reached {stage}"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()


OLD, NEW, GONE = "old", "new", "gone"


@pytest.mark.parametrize("stage,after_kill", [
    ("writing", OLD), ("staged", OLD), ("swapped-out", GONE), ("published", NEW), ("removing-old", NEW)])
def test_kill_at_any_stage_leaves_a_complete_folder_and_a_rerun_recovers(tmp_path, stage, after_kill):
    out = tmp_path / "out"
    _import(_three(tmp_path), out)
    new = _one(tmp_path)
    _killed_import(new, out, stage, tmp_path)
    if after_kill == GONE:
        with pytest.raises(FileNotFoundError) as err:
            DataFolder(out)
        assert "interrupted" in str(err.value) and ".old-" in str(err.value)
    else:
        data = DataFolder(out)
        closes = data.bars("AAA").close.tolist()
        assert closes == ([10.0] * 20 if after_kill == OLD else [50.0] * 10)
        assert (data.bars("CCC") is not None) == (after_kill == OLD)  # never a mix
    # An interrupted import is recovered at the next start: a failing rerun leaves the old import in place ...
    bad = _one(tmp_path, "bad")
    _edit_line(bad["prices"], 3, ",50.0,1000000", ",-5.0,1000000")
    with pytest.raises(DataError):
        _import(bad, out)
    assert DataFolder(out).bars("AAA") is not None and _siblings(out) == []
    # ... and a good rerun publishes the new one.
    _import(new, out)
    assert DataFolder(out).bars("AAA").close.tolist() == [50.0] * 10 and DataFolder(out).bars("CCC") is None
    assert _siblings(out) == []


def test_kill_during_a_first_import_leaves_nothing_and_a_clear_error(tmp_path):
    out = tmp_path / "out"
    _killed_import(_three(tmp_path), out, "writing", tmp_path)
    with pytest.raises(FileNotFoundError, match="not a LEAN data folder"):
        DataFolder(out)
    _import(_three(tmp_path), out)
    assert DataFolder(out).bars("CCC") is not None and _siblings(out) == []


# --- 5. one unreadable file skips its ticker, reported ---------------------------------------------------------

TWO = """
    from AlgorithmImports import *

    class Two(QCAlgorithm):
        def initialize(self):
            self.set_start_date(2020, 1, 2)
            self.set_end_date(2020, 1, 20)
            self.set_cash(100000)
            self.syms = [self.add_equity(t, Resolution.DAILY).symbol for t in ("AAA", "BBB")]

        def on_data(self, data):
            for s in self.syms:
                if data.contains_key(s) and not self.portfolio[s].invested:
                    self.set_holdings(s, 0.4)
"""


def _corrupt_zip(data: Path) -> tuple[Path, str]:
    path = lf.daily_path(data, "BBB")
    path.write_bytes(path.read_bytes()[:30])
    return path, "not a readable zip"


def _bad_factor_row(data: Path) -> tuple[Path, str]:
    path = lf.factor_path(data, "BBB")
    path.write_text(path.read_text().replace(",1,1,", ",abc,1,", 1) if ",1,1," in path.read_text()
                    else "20200101,abc,1,0\n" + path.read_text())
    return path, "'abc'"


def _bad_map_row(data: Path) -> tuple[Path, str]:
    path = lf.map_path(data, "BBB")
    path.write_text("2020010x,bbb\n" + path.read_text())
    return path, "yyyyMMdd"


@pytest.mark.parametrize("damage", [_corrupt_zip, _bad_factor_row, _bad_map_row])
def test_one_unreadable_file_skips_its_ticker_and_is_reported(tmp_path, damage):
    paths = _inputs(tmp_path, pd.concat([bars("AAA", [10.0] * 20), bars("BBB", [20.0] * 20)], ignore_index=True))
    data = tmp_path / "data"
    _import(paths, data)
    path, reason = damage(data)
    project = write_project(tmp_path / "root", "two", TWO)
    result = run_backtest(project, data_dir=data, progress=False, output=tmp_path / "bt")
    assert len(result.record.equity) > 5
    skipped = result.record.skipped_symbols
    assert set(skipped) == {"BBB"} and str(path) in skipped["BBB"] and reason in skipped["BBB"]
    run = json.loads((tmp_path / "bt" / "run.json").read_text())
    assert run["skipped_symbols"] == skipped
    assert any(o.symbol == "AAA" for o in result.record.orders)


def test_unreadable_benchmark_is_one_clear_error(tmp_path, capsys):
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 20))
    data = tmp_path / "data"
    _import(paths, data)
    _corrupt_zip_path = lf.daily_path(data, "SPY")
    _corrupt_zip_path.write_bytes(b"PK\x03\x04 truncated")
    project = write_project(tmp_path / "root", "two", TWO)
    code = cli_main(["backtest", str(project), "--data", str(data), "--no-progress", "--no-tearsheet",
                     "--output", str(tmp_path / "bt")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and str(_corrupt_zip_path) in err and "Traceback" not in err


# --- 10. data parts: unreadable inputs, empty files, membership, split plausibility, file modes ----------------

def test_truncated_gzip_prices_is_one_clear_line(tmp_path, capsys):
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 20))
    packed = gzip.compress(paths["prices"].read_bytes() * 200)
    gz = tmp_path / "prices.csv.gz"
    gz.write_bytes(packed[: len(packed) // 2])
    paths["prices"] = gz
    assert cli_main(_cli(paths, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(gz) in err and "truncated or corrupt" in err
    assert not (tmp_path / "out").exists()


def test_header_only_prices_file(tmp_path):
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 20))
    paths["prices"].write_text(paths["prices"].read_text().splitlines()[0] + "\n")
    with pytest.raises(DataError, match=r"prices.csv\] the file has no rows"):
        _import(paths, tmp_path / "out")


def test_membership_tokenising_error_names_file_and_line(tmp_path):
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 20))
    with open(paths["membership"], "a") as handle:
        handle.write("BBB,2020-01-01,,extra\n")
    with pytest.raises(DataError, match=r"members.csv:3, symbol BBB\] expected 3 fields, found 4"):
        _import(paths, tmp_path / "out")


def test_implausible_split_is_ignored_and_reported(tmp_path):
    """A 1e12:1 split on a day the price does not move would rescale every earlier price by 1e-12."""
    frame = bars("AAA", [10.0] * 10, splits={5: 1e12})
    report = _import(_inputs(tmp_path, frame), tmp_path / "out")
    (event,) = report.ignored_events
    assert "prices.csv:7, symbol AAA, date 2020-01-08" in event and "split" in event
    assert DataFolder(tmp_path / "out").bars("AAA").close.tolist() == [10.0] * 10


@pytest.mark.parametrize("closes,ratio", [
    ([100.0, 100.0, 50.0, 50.0], 2.0),  # a plain 2:1 split
    ([9.11, 9.11, 39.77, 39.77], 1 / 7),  # MSI 2011-01-04: 1:7 reverse split on the day of a spin-off
])
def test_plausible_splits_are_kept(tmp_path, closes, ratio):
    report = _import(_inputs(tmp_path, bars("AAA", closes, splits={2: ratio})), tmp_path / "out")
    assert report.ignored_events == []
    adjusted = DataFolder(tmp_path / "out").bars("AAA").close
    assert adjusted[0] == pytest.approx(closes[0] / ratio)


@pytest.mark.parametrize("umask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_written_files_respect_the_umask(tmp_path, umask, file_mode, dir_mode):
    paths = _inputs(tmp_path, bars("AAA", [10.0] * 5))
    previous = os.umask(umask)
    try:
        _import(paths, tmp_path / "out")
    finally:
        os.umask(previous)
    out = tmp_path / "out"
    modes = {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    dirs = {stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob("*")] if p.is_dir()}
    assert modes == {file_mode} and dirs == {dir_mode}


def test_daily_writer_refuses_values_outside_int64(tmp_path):
    frame = pd.DataFrame({"date": pd.to_datetime(["2020-01-02"]), "open": [1.0], "high": [np.inf], "low": [1.0],
                          "close": [1.0], "volume": [1.0]})
    with pytest.raises(ValueError, match="high"):
        lf.write_daily_zip(tmp_path, "ABC", frame)
    assert not lf.daily_path(tmp_path, "ABC").exists()


def test_split_with_a_same_day_spin_off_dividend_is_kept(tmp_path):
    """Tyco (the dev data's JCI) 2007-07-02: a 1:4 reverse split and its spin-offs booked as a $88.53 dividend;
    with both the day's move is x1.14, so both are applied (without the dividend the split would look wrong)."""
    frame = bars("AAA", [33.79, 33.79, 53.36, 53.36], splits={2: 0.25}, dividends={2: 88.53})
    report = _import(_inputs(tmp_path, frame), tmp_path / "out")
    assert report.ignored_events == []
    adjusted = DataFolder(tmp_path / "out").bars("AAA").close
    assert adjusted[0] == pytest.approx(33.79 * 4 * (1 - 88.53 / (33.79 * 4)), rel=1e-6)


def test_split_booked_next_to_a_dividend_for_the_same_spin_off_is_ignored(tmp_path):
    """SO 2001-04-03 in the dev data: split 1.5 and dividend $13.80 for one spin-off (Mirant); the dividend alone
    explains 35.29 -> 22.10, both together made a +127% jump in the adjusted series."""
    frame = bars("AAA", [35.29, 35.29, 22.10, 22.10], splits={2: 1.49999925}, dividends={2: 13.8})
    report = _import(_inputs(tmp_path, frame), tmp_path / "out")
    (event,) = report.ignored_events
    assert "date 2020-01-03" in event and "split coefficient 1.5 ignored" in event
    adjusted = DataFolder(tmp_path / "out").bars("AAA").close
    assert adjusted[1] / adjusted[2] == pytest.approx((35.29 - 13.8) / 22.10, rel=1e-4)


def test_a_reader_never_mixes_two_imports(tmp_path):
    """A backtest reads bars lazily: after a re-import swapped the folder under it, it must stop, not read on."""
    out = tmp_path / "out"
    _import(_three(tmp_path), out)
    data = DataFolder(out)
    assert data.bars("AAA").close.tolist() == [10.0] * 20
    _import(_inputs(tmp_path / "in3", bars("BBB", [70.0] * 20)), out)
    with pytest.raises(FileNotFoundError, match="replaced by another import"):
        data.bars("BBB")
