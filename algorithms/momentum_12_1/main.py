# region imports
from AlgorithmImports import *

from models.reference import MomentumConfig
from skeleton.reference import ReferenceAllocatorAlgorithm
# endregion


class Momentum121Algorithm(ReferenceAllocatorAlgorithm):
    """12-1 momentum: the top decile of the universe by total return over the twelve months before the decision
    without the last one, held in equal weights.
    Settings and their defaults: ``models/reference/config.py``.
    """

    method = "momentum_12_1"
    config_class = MomentumConfig
    parameters = ("formation_days", "skip_days", "top_fraction", "min_history")
