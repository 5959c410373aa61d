"""LEAN's on-disk formats for daily US equities: write and read back.

Formats (``Lean:Data/readme.md``, ``Lean:Common/Util/LeanData.cs``):

* ``equity/usa/daily/<ticker>.zip``: one entry ``<ticker>.csv`` with
  ``yyyyMMdd 00:00,open,high,low,close,volume``, raw prices times 10000 as integers.
* ``equity/usa/map_files/<ticker>.csv``: ``yyyyMMdd,ticker[,exchange]``; first row = first date
  (the SID date), last row ``20501231`` while listed, otherwise the delisting date.
* ``equity/usa/factor_files/<ticker>.csv``: see :mod:`lean_local.data.factors`.
* ``equity/usa/universes/etf/<etf>/<yyyyMMdd>.csv``: ``ticker,SID,lastUpdate,weight,sharesHeld,marketValue``.

All writes go through :func:`atomic_write_bytes` so an interrupted import never leaves a
half-written file behind; files get the mode a plain ``open`` would give them (0666 less the umask).
Readers raise :class:`UnreadableFile` naming the file (and line) so a caller can skip that one ticker.

Ticker file names: LEAN names a US equity's files after its lower-cased ticker
(``Lean:Common/Util/LeanData.cs`` ``GenerateZipFileName``/``GenerateZipEntryName``) and only refuses ``|`` and
space in a ticker (``Lean:Common/SecurityIdentifier.cs:48,323-326``); it never writes a ticker from a vendor file
into a path. We do, so :func:`ticker_problem` accepts only what a US-equity ticker is: letters and digits, with
share classes and permticks after a dot (``BRK.B``, ``AAA.1``, as in LEAN's ``Data/equity/usa/map_files``) or a
dash, at most 32 characters; anything else (``/``, ``..``, spaces) could name a path outside the data folder.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .factors import SENTINEL_DATE, FactorRow

PRICE_SCALE = 10000
INT64_LIMIT = 2.0 ** 63  # LEAN parses the scaled prices and volumes as 64-bit integers
MAX_PRICE = (INT64_LIMIT - 1) / PRICE_SCALE
TICKER_PATTERN = re.compile(r"[A-Z0-9](?:[A-Z0-9.\-]{0,30}[A-Z0-9])?")


class UnreadableFile(ValueError):
    """A data-folder file that cannot be read; the message names the file (and line) and the reason."""

    def __init__(self, path: Path, reason: str, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}{f':{line}' if line else ''}: {reason}")


def ticker_problem(ticker: str) -> str | None:
    """Why ``ticker`` (upper case) cannot name a LEAN data file, or None when it can."""
    if TICKER_PATTERN.fullmatch(ticker):
        return None
    hint = f"; LEAN writes share classes with a dot ({ticker.replace('/', '.')})" if "/" in ticker else ""
    return (f"ticker {ticker!r} cannot name a LEAN data file: use letters, digits and '.' or '-' between them "
            f"(at most 32 characters){hint}")


def _file_stem(ticker: str) -> str:
    """The lower-case file name LEAN uses for ``ticker``; refuses a ticker that could leave its folder."""
    problem = ticker_problem(ticker.upper())
    if problem:
        raise ValueError(problem)
    return ticker.lower()


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``, kernel 4.7+)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see partial files.

    ``mkstemp`` creates its file 0600; it is set to 0666 less the umask, the mode ``open`` would have given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
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


def _scaled(name: str, values: np.ndarray, scale: int) -> np.ndarray:
    """``values * scale`` as int64, refusing what int64 cannot hold (numpy would write -2**63 with a warning)."""
    scaled = np.rint(np.asarray(values, dtype=float) * scale)
    bad = ~np.isfinite(scaled) | (np.abs(scaled) >= INT64_LIMIT)
    if bad.any():
        raise ValueError(f"{name} {values[np.flatnonzero(bad)[0]]!r} is not finite or exceeds what LEAN's "
                         f"integer format holds (x{scale} must fit in 64 bits)")
    return scaled.astype(np.int64)


def daily_csv_text(dates: np.ndarray, o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray, v: np.ndarray) -> str:
    cols = [_scaled(name, x, PRICE_SCALE) for name, x in zip(("open", "high", "low", "close"), (o, h, l, c))]
    frame = pd.DataFrame({
        "t": pd.Series(_yyyymmdd(dates)) + " 00:00",
        "o": cols[0], "h": cols[1], "l": cols[2], "c": cols[3],
        "v": _scaled("volume", v, 1),
    })
    return frame.to_csv(header=False, index=False, lineterminator="\n")


def write_daily_zip(data_dir: Path, ticker: str, bars: pd.DataFrame) -> None:
    """``bars``: columns date, open, high, low, close, volume in raw prices."""
    stem = _file_stem(ticker)
    text = daily_csv_text(bars["date"].to_numpy(), bars["open"].to_numpy(), bars["high"].to_numpy(),
                          bars["low"].to_numpy(), bars["close"].to_numpy(), bars["volume"].to_numpy())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}.csv", text)
    atomic_write_bytes(daily_path(data_dir, ticker), buffer.getvalue())


def read_daily_zip(path: Path) -> pd.DataFrame:
    """Raw daily bars (prices in dollars) from a LEAN daily zip; index = bar date (midnight).

    Raises :class:`UnreadableFile` (naming ``path``) for a corrupt or truncated zip or a malformed row."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if len(names) != 1:
                raise UnreadableFile(path, f"expected one CSV entry in a LEAN daily zip, found {names}")
            raw = archive.read(names[0])
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise UnreadableFile(path, f"not a readable zip file ({exc}); rebuild the data folder") from exc
    try:
        frame = pd.read_csv(io.BytesIO(raw), header=None, names=["time", "open", "high", "low", "close", "volume"],
                            dtype={"time": str, "open": np.int64, "high": np.int64, "low": np.int64,
                                   "close": np.int64, "volume": np.int64})
        index = pd.to_datetime(frame["time"].str.slice(0, 8), format="%Y%m%d")
    except (ValueError, TypeError, pd.errors.ParserError) as exc:
        raise UnreadableFile(path, f"not LEAN's daily format 'yyyyMMdd 00:00,open,high,low,close,volume' ({exc})") from exc
    out = frame[["open", "high", "low", "close"]].astype(float) / PRICE_SCALE
    out["volume"] = frame["volume"].astype(float)
    out.index = pd.DatetimeIndex(index, name="date")
    return out


def write_map_file(data_dir: Path, ticker: str, first: dt.date, last: dt.date | None, exchange: str = "") -> None:
    """A ticker that never changed: listed from ``first`` to ``last`` (None = still listed)."""
    suffix = f",{exchange}" if exchange else ""
    end = last or SENTINEL_DATE
    stem = _file_stem(ticker)
    text = f"{first:%Y%m%d},{stem}{suffix}\n{end:%Y%m%d},{stem}{suffix}\n"
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
    _file_stem(ticker)
    atomic_write_bytes(factor_path(data_dir, ticker), factor_file_text(rows).encode())


def read_factor_file(path: Path) -> list[FactorRow]:
    """``date,price_factor,split_factor[,reference_price]`` rows; :class:`UnreadableFile` names a bad line.

    LEAN's parser (``Lean:Common/Data/Auxiliary/CorporateFactorRow.cs:100-131,273-282``) throws on such a line
    too; the reader above it then has no factors for the symbol, and the runner skips the symbol (reported)."""
    rows = []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(path, f"cannot read the factor file ({exc})") from exc
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < 3:
            raise UnreadableFile(path, f"expected 'yyyyMMdd,price_factor,split_factor,reference_price', got {line!r}",
                                 line_no)
        try:
            day = dt.datetime.strptime(parts[0].strip(), "%Y%m%d").date()
        except ValueError as exc:
            raise UnreadableFile(path, f"date {parts[0]!r} is not yyyyMMdd", line_no) from exc
        values = []
        for name, field in zip(("price_factor", "split_factor", "reference_price"), parts[1:4]):
            try:
                values.append(float(field))
            except ValueError as exc:
                raise UnreadableFile(path, f"{name} {field!r} is not a number", line_no) from exc
        rows.append(FactorRow(day, values[0], values[1], values[2] if len(values) > 2 else 0.0))
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
            raise UnreadableFile(path, "expected 6 fields ticker,SID,lastUpdate,weight,sharesHeld,marketValue", line_no)
        try:
            last = dt.datetime.strptime(parts[2], "%Y%m%d").date() if parts[2].strip() else None
            out.append(Constituent(parts[0].upper(), parts[1], last, _opt_float(parts[3]),
                                   _opt_float(parts[4]), _opt_float(parts[5])))
        except ValueError as exc:
            raise UnreadableFile(path, f"{exc} in {line!r}", line_no) from exc
    return out
