"""Symbols, the enums algorithms import, and LEAN's map-file resolution.

Sources: ``Lean:Common/Symbol.cs``, ``Lean:Common/Global.cs`` (enums, all members with LEAN's values; the
runner supports US equities at daily resolution in ADJUSTED mode), ``Lean:Common/Data/Auxiliary/MapFile.cs``,
``MapFileResolver.cs`` and ``LocalDiskMapFileProvider.cs`` (map files).
"""
from __future__ import annotations

import bisect
import datetime as dt
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import StrictType

END_OF_MAP = dt.date(2050, 12, 31)  # a map file ending here is still listed


class SecurityType(enum.IntEnum):
    BASE = 0
    EQUITY = 1
    OPTION = 2
    COMMODITY = 3
    FOREX = 4
    FUTURE = 5
    CFD = 6
    CRYPTO = 7
    FUTURE_OPTION = 8
    INDEX = 9
    INDEX_OPTION = 10
    CRYPTO_FUTURE = 11


class Resolution(enum.IntEnum):
    TICK = 0
    SECOND = 1
    MINUTE = 2
    HOUR = 3
    DAILY = 4


class Market(metaclass=StrictType):
    """``Lean:Common/Market.cs``; other markets raise ``UnsupportedMemberError`` when named."""

    USA = "usa"


class DataNormalizationMode(enum.IntEnum):
    RAW = 0
    ADJUSTED = 1
    SPLIT_ADJUSTED = 2
    TOTAL_RETURN = 3
    FORWARD_PANAMA_CANAL = 4
    BACKWARDS_PANAMA_CANAL = 5
    BACKWARDS_RATIO = 6
    SCALED_RAW = 7


class SecurityIdentifier:
    """Holds LEAN's SID string; ``symbol`` is the first ticker, as in LEAN."""

    def __init__(self, value: str) -> None:
        self._value = value

    @property
    def symbol(self) -> str:
        return self._value.split(" ")[0]

    def __str__(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecurityIdentifier({self._value!r})"


class Symbol(metaclass=StrictType):
    """A US-equity symbol. Equal to, and hashed like, its ticker string.

    LEAN's pandas wrappers accept ``df.loc["SPY"]`` as well as ``df.loc[symbol]``; hashing like the
    ticker string gives the local DataFrames the same behaviour.
    """

    __slots__ = ("value", "id", "security_type")

    def __init__(self, ticker: str, sid: str | None = None, security_type: SecurityType = SecurityType.EQUITY) -> None:
        self.value = ticker.upper()
        self.id = SecurityIdentifier(sid or f"{self.value} UNKNOWN")
        self.security_type = security_type

    @staticmethod
    def create(ticker: str, security_type: SecurityType = SecurityType.EQUITY, market: str = Market.USA) -> "Symbol":
        if security_type != SecurityType.EQUITY or market != Market.USA:
            raise NotImplementedError("the local runner supports US equities only")
        return Symbol(ticker)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Symbol):
            return self.value == other.value
        if isinstance(other, str):
            return self.value == other.upper()
        return NotImplemented

    def __lt__(self, other: Any) -> bool:
        return self.value < str(other).upper()

    def __gt__(self, other: Any) -> bool:
        return self.value > str(other).upper()


def to_symbol(value: "Symbol | str | Any") -> Symbol:
    if isinstance(value, Symbol):
        return value
    if isinstance(value, str):
        return Symbol(value)
    symbol = getattr(value, "symbol", None)  # a Security
    if isinstance(symbol, Symbol):
        return symbol
    raise TypeError(f"expected a Symbol, a ticker string or a Security, got {type(value).__name__}")


@dataclass(frozen=True)
class MapFileRow:
    """``date,ticker[,exchange]``: the entity traded as ``ticker`` up to and including ``date``."""

    date: dt.date
    ticker: str
    exchange: str = ""


@dataclass(frozen=True)
class MapFile:
    """One entity's map file (``MapFile.cs``), named by its permtick (``aaa.1.csv`` -> ``AAA.1``)."""

    permtick: str
    rows: tuple[MapFileRow, ...]

    @property
    def first_date(self) -> dt.date:
        return self.rows[0].date

    @property
    def last_date(self) -> dt.date:
        """LEAN's ``DelistingDate``: the last row's date (2050-12-31 while listed)."""
        return self.rows[-1].date

    @property
    def delisted(self) -> bool:
        return self.last_date < END_OF_MAP

    @property
    def ticker(self) -> str:
        """The entity's last ticker."""
        return self.rows[-1].ticker

    @property
    def first_ticker(self) -> str:
        """``MapFile.FirstTicker``: the ticker on the first date, without a ``.N`` suffix (``MapFile.cs:81-95``)."""
        ticker = self.ticker_on(self.first_date)
        head, dot, tail = ticker.rpartition(".")
        return head if dot and head and tail.isdigit() else ticker

    def ticker_on(self, day: dt.date) -> str:
        """``GetMappedSymbol``: the ticker of the first row dated on or after ``day`` ("" after the last)."""
        i = bisect.bisect_left([r.date for r in self.rows], day)
        return self.rows[i].ticker if i < len(self.rows) else ""

    def has_data(self, day: dt.date) -> bool:
        return self.first_date <= day <= self.last_date

    def segments(self) -> list[tuple[dt.date | None, dt.date, str]]:
        """``(after, through, ticker)``: the entity traded as ``ticker`` on the days in ``(after, through]``
        (``after`` None for the first segment), clipped to the map file's dates."""
        out: list[tuple[dt.date | None, dt.date, str]] = []
        previous: dt.date | None = None
        for row in self.rows:
            if out and out[-1][2] == row.ticker:
                out[-1] = (out[-1][0], row.date, row.ticker)
            else:
                out.append((previous, row.date, row.ticker))
            previous = row.date
        return out


def read_map_file(path: Path) -> MapFile:
    """A LEAN map file; the permtick is the file name (``LocalDiskMapFileProvider`` / ``MapFile.GetMapFiles``)."""
    rows = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            day = dt.datetime.strptime(parts[0].strip(), "%Y%m%d").date()
        except ValueError as exc:
            raise ValueError(f"{path}:{line_no}: expected 'yyyyMMdd,ticker[,exchange]', got {line!r}") from exc
        rows.append(MapFileRow(day, parts[1].strip().upper(), parts[2].strip() if len(parts) > 2 else ""))
    if not rows:
        raise ValueError(f"{path}: empty map file")
    return MapFile(path.stem.upper(), tuple(sorted(set(rows), key=lambda r: r.date)))


class MapFileResolver:
    """``MapFileResolver.cs``: finds the entity a ticker denotes on a date, across all map files.

    Each row of each map file is indexed under its ticker. ``resolve(ticker, day)`` takes the row of that
    ticker dated ``day`` or, failing that, the first one after it (the last one when ``day`` is past them
    all) and returns that row's map file; a ticker that is no row's ticker is looked up as a permtick
    (``AAA.1``). A map file whose first date is after ``day`` does not resolve (``MapFileResolver.cs:103-143``).
    """

    def __init__(self, map_files: list[MapFile]) -> None:
        self.by_permtick = {m.permtick: m for m in map_files}
        entries: dict[str, dict[dt.date, str]] = {}
        for m in map_files:
            for row in m.rows:
                seen = entries.setdefault(row.ticker, {})
                if seen.get(row.date, m.permtick) != m.permtick:
                    raise ValueError(f"map files {seen[row.date]} and {m.permtick} both give {row.ticker} on "
                                     f"{row.date}: LEAN refuses this data folder (DuplicateNameException)")
                seen[row.date] = m.permtick
        self._dates = {t: sorted(d) for t, d in entries.items()}
        self._owners = {t: [entries[t][day] for day in self._dates[t]] for t in entries}

    @classmethod
    def from_folder(cls, folder: Path) -> "MapFileResolver":
        files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        return cls([read_map_file(path) for path in files])

    def resolve(self, ticker: str, day: dt.date) -> MapFile | None:
        key = ticker.upper()
        permtick = key
        dates = self._dates.get(key)
        if dates:
            i = min(bisect.bisect_left(dates, day), len(dates) - 1)
            permtick = self._owners[key][i]
        found = self.by_permtick.get(permtick)
        if found is None or found.first_date > day:
            return None
        return found
