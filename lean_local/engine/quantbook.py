"""``QuantBook`` for research notebooks: ``add_equity`` and ``history`` over a LEAN data folder.

Under ``lean research`` the real QuantBook reads the CLI's data folder; locally the folder comes
from ``LEAN_DATA_FOLDER`` or from ``lean.json`` found upward from the working directory.

The clock follows LEAN, not the data: ``Research/QuantBook.cs:101-114`` sets the start date (rounded down
to midnight by ``QCAlgorithm.SetStartDate``) to today in New York, or to yesterday before 09:00
(``qb-data-hour``). So ``history(symbol, n)`` counts n sessions back from today and is empty on data that
ends years ago; notebooks ask for explicit ranges: ``history(symbols, start, end, resolution)``.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .data_source import DataFolder
from .errors import StrictAttributes
from .history import keyword_history_request
from .project import find_cli_root, parse_lean_json
from .object_store import configured_store
from .securities import Security, SecurityManager
from .symbols import Resolution, Symbol

# Research/QuantBook.cs:104: Config.GetInt("qb-data-hour", 9)
QB_DATA_HOUR = 9


def default_data_folder() -> Path:
    env = os.environ.get("LEAN_DATA_FOLDER")
    if env:
        return Path(env)
    root = find_cli_root(Path.cwd())
    if root is None:
        raise FileNotFoundError("QuantBook: set LEAN_DATA_FOLDER or run inside a folder below lean.json")
    return root / parse_lean_json((root / "lean.json").read_text()).get("data-folder", "data")


def quantbook_time(now_new_york: pd.Timestamp | None = None) -> dt.datetime:
    """QuantBook's clock: midnight of today in New York, or of yesterday before ``QB_DATA_HOUR``."""
    now = now_new_york if now_new_york is not None else pd.Timestamp.now(tz="America/New_York")
    day = now.date() if now.hour >= QB_DATA_HOUR else now.date() - dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time())


class QuantBook(StrictAttributes):
    def __init__(self, data_folder: str | Path | None = None) -> None:
        folder = Path(data_folder or default_data_folder())
        self._data = DataFolder(folder)
        self.securities = SecurityManager()
        self.time = quantbook_time()
        # LEAN's research object store is the CLI's storage/, beside data/, with lean.json's quota (keys as in
        # Lean:Research/QuantBook.cs L163-164); over it research throws (Engine/Storage/LocalObjectStore.cs L429-431).
        self.object_store = configured_store(folder.resolve().parent, research=True)

    def add_equity(self, ticker: str, resolution: Any = Resolution.DAILY, *args: Any, **kwargs: Any) -> Security:
        if resolution not in (None, Resolution.DAILY):
            raise NotImplementedError("QuantBook.add_equity: only daily data is available locally")
        return self.securities.add(Symbol(ticker, self._data.sid(ticker)))

    def history(self, symbols: Any = None, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """LEAN's history at ``self.time`` (see ``history.py``), positional or by LEAN's keyword names (QuantBook
        inherits QCAlgorithm's overloads: ``public class QuantBook : QCAlgorithm``, Lean Research/QuantBook.cs L48):
        a bar count over old data is empty."""
        return keyword_history_request(self._data, self.time, args if symbols is None else (symbols, *args),
                                       kwargs, "QuantBook")


class _GlobalsMeta(type):
    @property
    def data_folder(cls) -> str:
        return str(default_data_folder())


class Globals(metaclass=_GlobalsMeta):
    """LEAN's ``QuantConnect.Globals``: only ``data_folder`` (the CLI's data folder, as QuantBook reads it)."""
