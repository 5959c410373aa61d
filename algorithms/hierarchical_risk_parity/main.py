# region imports
from AlgorithmImports import *

from models.reference import RiskConfig
from skeleton.reference import ReferenceAllocatorAlgorithm
# endregion


class HierarchicalRiskParityAlgorithm(ReferenceAllocatorAlgorithm):
    """Hierarchical risk parity (Lopez de Prado 2016; skfolio HierarchicalRiskParity, variance) on a Ledoit-Wolf
    covariance of the trailing 252 daily returns; inverse volatility in a month whose fit fails.
    Settings and their defaults: ``models/reference/config.py``.
    """

    method = "hierarchical_risk_parity"
    config_class = RiskConfig
    parameters = ("lookback_days", "min_history", "max_weight", "covariance")
