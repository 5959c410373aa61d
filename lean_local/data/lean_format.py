"""LEAN's on-disk formats for daily US equities: write and read back.

Formats (``Lean:Data/readme.md``, ``Lean:Common/Util/LeanData.cs``):

* ``equity/usa/daily/<ticker>.zip``: one entry ``<ticker>.csv`` with
  ``yyyyMMdd 00:00,open,high,low,close,volume``, raw prices times 10000 as integers.
* ``equity/usa/map_files/<ticker>.csv``: ``yyyyMMdd,ticker[,exchange]``; first row = first date
  (the SID date), last row ``20501231`` while listed, otherwise the delisting date.
* ``equity/usa/factor_files/<ticker>.csv``: see :mod:`lean_local.data.factors`.
* ``equity/usa/universes/etf/<etf>/<yyyyMMdd>.csv``: ``ticker,SID,lastUpdate,weight,sharesHeld,marketValue``.

All writes go through :func:`atomic_write_bytes` so an interrupted import never leaves a
half-written file behind.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .factors import SENTINEL_DATE, FactorRow

PRICE_SCALE = 10000


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see partial files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def equity_dir(data_dir: Path) -> Path:
    return data_dir / "equity" / "usa"


def daily_path(data_dir: Path, ticker: str) -> Path:
    return equity_dir(data_dir) / "daily" / f"{ticker.lower()}.zip"


def map_path(data_dir: Path, ticker: str) -> Path:
    return equity_dir(data_dir) / "map_files" / f"{ticker.lower()}.csv"


def factor_path(data_dir: Path, ticker: str) -> Path:
    return equity_dir(data_dir) / "factor_files" / f"{ticker.lower()}.csv"


def universe_dir(data_dir: Path, etf: str = "spy") -> Path:
    return equity_dir(data_dir) / "universes" / "etf" / etf.lower()


def _yyyymmdd(dates: np.ndarray) -> np.ndarray:
    return pd.DatetimeIndex(dates).strftime("%Y%m%d").to_numpy()


def daily_csv_text(dates: np.ndarray, o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray, v: np.ndarray) -> str:
    cols = [np.rint(np.asarray(x, dtype=float) * PRICE_SCALE).astype(np.int64) for x in (o, h, l, c)]
    frame = pd.DataFrame({
        "t": pd.Series(_yyyymmdd(dates)) + " 00:00",
        "o": cols[0], "h": cols[1], "l": cols[2], "c": cols[3],
        "v": np.rint(np.asarray(v, dtype=float)).astype(np.int64),
    })
    return frame.to_csv(header=False, index=False, lineterminator="\n")


def write_daily_zip(data_dir: Path, ticker: str, bars: pd.DataFrame) -> None:
    """``bars``: columns date, open, high, low, close, volume in raw prices."""
    text = daily_csv_text(bars["date"].to_numpy(), bars["open"].to_numpy(), bars["high"].to_numpy(),
                          bars["low"].to_numpy(), bars["close"].to_numpy(), bars["volume"].to_numpy())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{ticker.lower()}.csv", text)
    atomic_write_bytes(daily_path(data_dir, ticker), buffer.getvalue())


def read_daily_zip(path: Path) -> pd.DataFrame:
    """Raw daily bars (prices in dollars) from a LEAN daily zip; index = bar date (midnight)."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if len(names) != 1:
            raise ValueError(f"{path}: expected one CSV entry in a LEAN daily zip, found {names}")
        raw = archive.read(names[0])
    frame = pd.read_csv(io.BytesIO(raw), header=None, names=["time", "open", "high", "low", "close", "volume"],
                        dtype={"time": str, "open": np.int64, "high": np.int64, "low": np.int64,
                               "close": np.int64, "volume": np.int64})
    index = pd.to_datetime(frame["time"].str.slice(0, 8), format="%Y%m%d")
    out = frame[["open", "high", "low", "close"]].astype(float) / PRICE_SCALE
    out["volume"] = frame["volume"].astype(float)
    out.index = pd.DatetimeIndex(index, name="date")
    return out


def write_map_file(data_dir: Path, ticker: str, first: dt.date, last: dt.date | None, exchange: str = "") -> None:
    """A ticker that never changed: listed from ``first`` to ``last`` (None = still listed)."""
    suffix = f",{exchange}" if exchange else ""
    end = last or SENTINEL_DATE
    text = f"{first:%Y%m%d},{ticker.lower()}{suffix}\n{end:%Y%m%d},{ticker.lower()}{suffix}\n"
    atomic_write_bytes(map_path(data_dir, ticker), text.encode())


@dataclass(frozen=True)
class MapFile:
    first_date: dt.date
    last_date: dt.date  # the delisting date, or 2050-12-31 while listed
    ticker: str

    @property
    def delisted(self) -> bool:
        return self.last_date < SENTINEL_DATE


def read_map_file(path: Path) -> MapFile:
    rows = [line.split(",") for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{path}: empty map file")
    first = dt.datetime.strptime(rows[0][0], "%Y%m%d").date()
    last = dt.datetime.strptime(rows[-1][0], "%Y%m%d").date()
    return MapFile(first, last, rows[-1][1].upper())


def factor_file_text(rows: list[FactorRow]) -> str:
    return "".join(
        f"{r.date:%Y%m%d},{r.price_factor:.10g},{r.split_factor:.10g},{r.reference_price:.10g}\n" for r in rows)


def write_factor_file(data_dir: Path, ticker: str, rows: list[FactorRow]) -> None:
    atomic_write_bytes(factor_path(data_dir, ticker), factor_file_text(rows).encode())


def read_factor_file(path: Path) -> list[FactorRow]:
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        d, pf, sf, ref = line.split(",")[:4]
        rows.append(FactorRow(dt.datetime.strptime(d, "%Y%m%d").date(), float(pf), float(sf), float(ref)))
    return rows


def universe_file_text(tickers: list[str], sids: list[str], day: dt.date, weights: np.ndarray) -> str:
    stamp = f"{day:%Y%m%d}"
    return "".join(f"{t},{s},{stamp},{w:.8f},,\n" for t, s, w in zip(tickers, sids, weights))


@dataclass(frozen=True)
class Constituent:
    """One row of an ETF-constituents file."""

    ticker: str
    sid: str
    last_update: dt.date | None
    weight: float | None
    shares_held: float | None
    market_value: float | None


def _opt_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def read_universe_file(path: Path) -> list[Constituent]:
    out = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < 6:
            raise ValueError(f"{path}:{line_no}: expected 6 fields ticker,SID,lastUpdate,weight,sharesHeld,marketValue")
        last = dt.datetime.strptime(parts[2], "%Y%m%d").date() if parts[2].strip() else None
        out.append(Constituent(parts[0].upper(), parts[1], last, _opt_float(parts[3]),
                               _opt_float(parts[4]), _opt_float(parts[5])))
    return out
