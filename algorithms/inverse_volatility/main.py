# region imports
from AlgorithmImports import *

from models.reference import RiskConfig
from skeleton.reference import ReferenceAllocatorAlgorithm
# endregion


class InverseVolatilityAlgorithm(ReferenceAllocatorAlgorithm):
    """Inverse volatility (skfolio InverseVolatility): weights proportional to 1 / the trailing 252-day standard
    deviation of daily returns.
    Settings and their defaults: ``models/reference/config.py``.
    """

    method = "inverse_volatility"
    config_class = RiskConfig
    parameters = ("lookback_days", "min_history")
