"""What ``from AlgorithmImports import *`` provides under the local runner.

Mirrors ``Lean:Common/AlgorithmImports.py`` (quantconnect-stubs' ``AlgorithmImports/__init__.pyi``):

1. every public name of the CLR namespaces LEAN star-imports, so that no algorithm dies of a ``NameError``:
   LEAN's enums with their values, every other type as a placeholder that raises ``UnsupportedMemberError``
   naming it when constructed, called or read (``lean_local.engine.lean_api``);
2. the Python names LEAN's file imports after them (``np``, ``pd``, ``plt``, ``date``/``time``/``datetime``/
   ``timedelta``, ``typing``'s names, ``math``, ``json``, the builtin ``Exception``), which shadow the CLR ones
   exactly as in LEAN;
3. the classes the runner implements, bound over their placeholders.
"""
from __future__ import annotations

from .engine.lean_api import lean_namespace as _lean_namespace

globals().update(_lean_namespace())

import json  # noqa: E402,F401
import math  # noqa: E402,F401
from builtins import Exception  # noqa: E402,F401  (LEAN restores it after "from System import *")
from datetime import date, datetime, time, timedelta  # noqa: E402,F401
from typing import *  # noqa: E402,F401,F403

import matplotlib.pyplot as plt  # noqa: E402,F401
import numpy as np  # noqa: E402,F401
import pandas as pd  # noqa: E402,F401

from .engine.algorithm import QCAlgorithm  # noqa: E402,F401
from .engine.events import (Delisting, Delistings, DelistingType, Dividend, Dividends, Slice, Split,  # noqa: E402,F401
                            Splits, SplitType)
from .engine.orders import (CashAmount, OrderDirection, OrderEvent, OrderFee, OrderStatus,  # noqa: E402,F401
                            OrderTicket, OrderType, PortfolioTarget)
from .engine.quantbook import Globals, QuantBook  # noqa: E402,F401
from .engine.securities import Security  # noqa: E402,F401
from .engine.symbols import DataNormalizationMode, Market, Resolution, SecurityType, Symbol  # noqa: E402,F401
from .engine.universe import ETFConstituentUniverse, SecurityChanges, Universe, UniverseSettings  # noqa: E402,F401

QCAlgorithmFramework = QCAlgorithm
QCAlgorithmFrameworkBridge = QCAlgorithm
