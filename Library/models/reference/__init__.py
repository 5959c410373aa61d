"""Reference allocators (inverse volatility, minimum variance, HRP via skfolio; 12-1 momentum) that every
model is compared with, on the same top-100 skeleton. Imports nothing from LEAN."""
from .allocators import (ALLOCATORS, Allocation, hierarchical_risk_parity, inverse_volatility, minimum_variance,
                         momentum_12_1, trailing_returns, usable_window)
from .config import MomentumConfig, RiskConfig
from .decider import Decision, ReferenceDecider

__all__ = ["ALLOCATORS", "Allocation", "Decision", "MomentumConfig", "ReferenceDecider", "RiskConfig",
           "hierarchical_risk_parity", "inverse_volatility", "minimum_variance", "momentum_12_1",
           "trailing_returns", "usable_window"]
