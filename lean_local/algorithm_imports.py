"""What ``from AlgorithmImports import *`` provides under the local runner.

Mirrors the subset of ``Lean:Common/AlgorithmImports.py`` this project uses: the QuantConnect
types, plus ``np``, ``pd``, ``datetime``/``date``/``time``/``timedelta``, ``typing``, ``math``, ``json``.
"""
from __future__ import annotations

import json  # noqa: F401
import math  # noqa: F401
from datetime import date, datetime, time, timedelta  # noqa: F401
from typing import *  # noqa: F401,F403

import numpy as np  # noqa: F401
import pandas as pd  # noqa: F401

from .engine.algorithm import QCAlgorithm  # noqa: F401
from .engine.orders import OrderStatus, OrderType, PortfolioTarget  # noqa: F401
from .engine.quantbook import Globals, QuantBook  # noqa: F401
from .engine.securities import Security  # noqa: F401
from .engine.symbols import DataNormalizationMode, Market, Resolution, SecurityType, Symbol  # noqa: F401
from .engine.universe import ETFConstituentUniverse, SecurityChanges, Universe, UniverseSettings  # noqa: F401
