# region imports
from AlgorithmImports import *

from models.reference import RiskConfig
from skeleton.reference import ReferenceAllocatorAlgorithm
# endregion


class MinimumVarianceAlgorithm(ReferenceAllocatorAlgorithm):
    """Long-only minimum variance (skfolio MeanRisk, MINIMIZE_RISK on variance, budget 1) on a Ledoit-Wolf
    covariance of the trailing 252 daily returns; inverse volatility in a month whose solve fails.
    Settings and their defaults: ``models/reference/config.py``.
    """

    method = "minimum_variance"
    config_class = RiskConfig
    parameters = ("lookback_days", "min_history", "max_weight", "covariance")
