"""``QuantBook`` for research notebooks: ``add_equity`` and ``history`` over a LEAN data folder.

Under ``lean research`` the real QuantBook reads the CLI's data folder; locally the folder comes
from ``LEAN_DATA_FOLDER`` or from ``lean.json`` found upward from the working directory. The
clock is "now" (the end of the data), so ``history(symbol, n)`` returns the last n bars.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .data_source import DataFolder
from .errors import StrictAttributes
from .history import history_request
from .project import find_cli_root, parse_lean_json
from .object_store import ObjectStore
from .securities import Security, SecurityManager
from .symbols import Resolution, Symbol


def default_data_folder() -> Path:
    env = os.environ.get("LEAN_DATA_FOLDER")
    if env:
        return Path(env)
    root = find_cli_root(Path.cwd())
    if root is None:
        raise FileNotFoundError("QuantBook: set LEAN_DATA_FOLDER or run inside a folder below lean.json")
    return root / parse_lean_json((root / "lean.json").read_text()).get("data-folder", "data")


class QuantBook(StrictAttributes):
    def __init__(self, data_folder: str | Path | None = None) -> None:
        folder = Path(data_folder or default_data_folder())
        self._data = DataFolder(folder)
        self.securities = SecurityManager()
        self.time = dt.datetime.now()
        # LEAN's research object store is the CLI's storage/, beside data/.
        self.object_store = ObjectStore(folder.resolve().parent / "storage")

    def add_equity(self, ticker: str, resolution: Any = Resolution.DAILY, *args: Any, **kwargs: Any) -> Security:
        if resolution not in (None, Resolution.DAILY):
            raise NotImplementedError("QuantBook.add_equity: only daily data is available locally")
        return self.securities.add(Symbol(ticker, self._data.sid(ticker)))

    def history(self, symbols: Any, *args: Any) -> pd.DataFrame:
        return history_request(self._data, symbols, self.time, args)


class _GlobalsMeta(type):
    @property
    def data_folder(cls) -> str:
        return str(default_data_folder())


class Globals(metaclass=_GlobalsMeta):
    """LEAN's ``QuantConnect.Globals``: only ``data_folder`` (the CLI's data folder, as QuantBook reads it)."""
