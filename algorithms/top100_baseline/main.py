# region imports
from AlgorithmImports import *

from skeleton.top100 import Top100MonthlyAlgorithm
# endregion


class Top100Baseline(Top100MonthlyAlgorithm):
    """The control: the quarterly SPY top-100 held in equal weights, rebalanced monthly."""
