"""Technical-indicator features for the allocator (the paper's 42 TA-Lib indicators)."""
from .catalog import CANDIDATES, EXCLUDED, candidate_names
from .panel import FeaturePanel, indicator_panel, selected_features, warmup_bars

__all__ = ["CANDIDATES", "EXCLUDED", "FeaturePanel", "candidate_names", "indicator_panel", "selected_features",
           "warmup_bars"]
