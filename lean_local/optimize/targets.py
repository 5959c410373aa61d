"""The optimization target and constraints, named as ``lean optimize`` names them, read from statistics.json.

Names (lean-cli 1.0.230 ``lean/components/config/optimizer_config_manager.py:189-204``, ``parse_target``): a
name with a dot is a JSON path into LEAN's backtest result as given; any other name becomes
``TotalPerformance.PortfolioStatistics.<Name>`` ("Sharpe Ratio" -> ``...SharpeRatio``). LEAN looks the path up
case-insensitively (``Common/Optimizer/Objectives/Target.cs:106-128``) and parses the value with
``ToNormalizedDecimal`` (a trailing ``%`` divides by 100; ``Common/Extensions.cs:1632-1642``). A backtest whose
result lacks the path neither moves the target nor meets a constraint (``Target.cs:80-83``,
``Constraint.cs:68-72``). So here:

* ``TotalPerformance.PortfolioStatistics.<Property>`` (and the bare names that lean-cli turns into one) reads
  statistics.json's ``algorithm`` section: the runner's LEAN statistics as ``PortfolioStatistics`` holds them,
  fractions before the report's rounding (``lean_local/engine/lean_statistics.py``). The properties are
  ``Common/Statistics/PortfolioStatistics.cs:36-186``; a bare name lean-cli would turn into a path LEAN does
  not have (e.g. "Net Profit" -> ``NetProfit``; LEAN's property is ``TotalNetProfit``) is refused here, because
  ``lean optimize`` would silently find no optimum with it. ``ValueAtRisk99``/``95`` are not computed by the
  runner and are refused.
* ``Statistics.<report name>`` (LEAN's own default path, ``Common/Optimizer/Objectives/Objective.cs:68-73``, e.g.
  ``Statistics.Net Profit``) reads statistics.json's ``lean`` section: the strings LEAN's report prints (rounded,
  ``"12.3%"``), parsed as ``ToNormalizedDecimal`` does.

Constraints are ``"<statistic> <operator> <value>"``, split at the last two spaces, operators ``< <= > >= == !=``
(``optimizer_config_manager.py:219-243``), compared as ``ComparisonOperator.Compare`` does
(``Common/Util/ComparisonOperator.cs:33-48``). The best combination is the first, in grid order, whose target is
strictly better than every earlier one among the successful combinations that meet every constraint
(``Optimizer/Strategies/StepBaseOptimizationStrategy.cs:157-171``; ``Maximization.cs:26``/``Minimization.cs:26``
compare strictly). LEAN sees results in the order backtests finish; grid order makes ties deterministic here.

The cloud (``lean cloud optimize``) reads only four targets, for the target and the constraints alike
(``lean/commands/cloud/optimize.py:76-92, 95-113``): :data:`CLOUD_TARGETS`.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

PORTFOLIO = "TotalPerformance.PortfolioStatistics."
# PortfolioStatistics property -> the name statistics.json's "algorithm" section uses (PortfolioStatistics.cs:36-192)
PORTFOLIO_STATISTICS = {
    "AverageWinRate": "Average Win", "AverageLossRate": "Average Loss", "ProfitLossRatio": "Profit-Loss Ratio",
    "WinRate": "Win Rate", "LossRate": "Loss Rate", "Expectancy": "Expectancy", "StartEquity": "Start Equity",
    "EndEquity": "End Equity", "CompoundingAnnualReturn": "Compounding Annual Return", "Drawdown": "Drawdown",
    "TotalNetProfit": "Net Profit", "SharpeRatio": "Sharpe Ratio",
    "ProbabilisticSharpeRatio": "Probabilistic Sharpe Ratio", "SortinoRatio": "Sortino Ratio", "Alpha": "Alpha",
    "Beta": "Beta", "AnnualStandardDeviation": "Annual Standard Deviation", "AnnualVariance": "Annual Variance",
    "InformationRatio": "Information Ratio", "TrackingError": "Tracking Error", "TreynorRatio": "Treynor Ratio",
    "PortfolioTurnover": "Portfolio Turnover", "DrawdownRecovery": "Drawdown Recovery",
}
NOT_COMPUTED = {"ValueAtRisk99", "ValueAtRisk95"}
CLOUD_TARGETS = {PORTFOLIO + p for p in ("SharpeRatio", "CompoundingAnnualReturn", "ProbabilisticSharpeRatio",
                                         "Drawdown")}
OPERATORS: dict[str, tuple[str, Callable[[float, float], bool]]] = {  # optimizer_config_manager.py:230-237
    "<": ("less", operator.lt), "<=": ("lessOrEqual", operator.le), ">": ("greater", operator.gt),
    ">=": ("greaterOrEqual", operator.ge), "==": ("equals", operator.eq), "!=": ("notEqual", operator.ne),
}


def lean_cli_path(name: str) -> str:
    """lean-cli's ``parse_target`` (optimizer_config_manager.py:189-204)."""
    if "." in name:
        return name
    spaced = re.sub(r"([A-Z])", r" \1", name)
    return PORTFOLIO + spaced.title().replace(" ", "")


@dataclass(frozen=True)
class Statistic:
    """A statistic by its LEAN path: ``given`` as the user typed it, ``path`` as lean-cli passes it on."""

    given: str
    path: str
    section: str  # statistics.json section: "algorithm" (fractions) or "lean" (report strings)
    key: str

    @classmethod
    def parse(cls, name: str) -> "Statistic":
        name = name.strip()
        if not name:
            raise ValueError("empty statistic name: give e.g. \"Sharpe Ratio\"")
        path = lean_cli_path(name)
        head, _, rest = path.partition(".")
        if path.lower().startswith(PORTFOLIO.lower()):
            prop = path[len(PORTFOLIO):]
            found = {p.lower(): p for p in PORTFOLIO_STATISTICS}.get(prop.lower())  # LEAN matches ignoring case
            if found is None:
                why = "is not computed by the local runner" if prop in NOT_COMPUTED else "is not a property of LEAN's " \
                    "PortfolioStatistics, so `lean optimize` would find no optimum"
                raise ValueError(f"statistic {name!r} -> {path} {why}; use one of: {', '.join(_friendly())}, or "
                                 "\"Statistics.<name as LEAN's report prints it>\"")
            return cls(name, path, "algorithm", PORTFOLIO_STATISTICS[found])
        if head.lower() == "statistics" and rest:
            return cls(name, path, "lean", rest)
        raise ValueError(f"statistic {name!r}: the local runner reads {PORTFOLIO}<Property> and Statistics.<name> "
                         "paths only")

    def value(self, statistics: dict[str, Any]) -> float | None:
        """The value in a statistics.json, or None where LEAN's result would lack it (or it is not a number)."""
        section = {k.lower(): v for k, v in (statistics.get(self.section) or {}).items()}
        raw = section.get(self.key.lower())
        if raw is None:
            return None
        if self.section == "lean":
            return normalized_decimal(str(raw))
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None

    @property
    def cloud_supported(self) -> bool:
        return self.path in CLOUD_TARGETS


def _friendly() -> list[str]:
    return [re.sub(r"(?<!^)([A-Z])", r" \1", p) for p in PORTFOLIO_STATISTICS]


def normalized_decimal(text: str) -> float | None:
    """LEAN's ``ToNormalizedDecimal`` (Extensions.cs:1632-1642): a trailing % divides by 100; None if not a number."""
    trimmed = text.strip()
    try:
        value = float(trimmed.rstrip("%"))
    except ValueError:
        return None
    return value / 100 if trimmed.endswith("%") else value


@dataclass(frozen=True)
class Target:
    statistic: Statistic
    direction: str  # "max" or "min"

    @classmethod
    def parse(cls, name: str, direction: str) -> "Target":
        direction = direction.strip().lower()
        if direction not in ("max", "min"):
            raise ValueError(f"--target-direction {direction!r}: use max or min")
        return cls(Statistic.parse(name), direction)

    def better(self, current: float | None, candidate: float) -> bool:
        """Strictly better (Maximization.cs:26, Minimization.cs:26); anything beats no value yet."""
        return current is None or (candidate > current if self.direction == "max" else candidate < current)


@dataclass(frozen=True)
class Constraint:
    statistic: Statistic
    operator: str  # one of OPERATORS
    value: float

    @classmethod
    def parse(cls, text: str) -> "Constraint":
        parts = text.strip().rsplit(" ", 2)  # optimizer_config_manager.py:228
        if len(parts) != 3 or parts[1] not in OPERATORS:
            raise ValueError(f"--constraint {text!r}: expected \"<statistic> <operator> <value>\" with operator one "
                             f"of {' '.join(OPERATORS)}, e.g. \"Drawdown < 0.25\"")
        try:
            value = float(parts[2])
        except ValueError:
            raise ValueError(f"--constraint {text!r}: {parts[2]!r} is not a number") from None
        return cls(Statistic.parse(parts[0]), parts[1], value)

    def is_met(self, statistics: dict[str, Any]) -> bool:
        value = self.statistic.value(statistics)
        return value is not None and OPERATORS[self.operator][1](value, self.value)  # Constraint.cs:61-77

    def __str__(self) -> str:
        return f"{self.statistic.given} {self.operator} {self.value!r}"  # every digit: it is parsed back on resume

    def to_lean(self) -> dict[str, object]:
        """lean-cli's optimizer-config.json entry (``OptimizationConstraint.model_dump(by_alias=True)``)."""
        return {"target": self.statistic.path, "operator": OPERATORS[self.operator][0], "target-value": self.value}
