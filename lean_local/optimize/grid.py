"""The parameter grid of a grid search, value for value as LEAN's optimizer builds it.

LEAN (QuantConnect/Lean 2486390) reads each ``{"name", "min", "max", "step"}`` parameter as C# ``decimal``
(``Common/Optimizer/Parameters/OptimizationParameterJsonConverter.cs:73-95``; ``min > max`` and ``step <= 0`` are
refused, ``Common/Optimizer/Parameters/OptimizationStepParameter.cs:62-65, 95-98``) and enumerates
``min + i * step`` for ``i = 0, 1, ...`` while the value is ``<= max``
(``Optimizer/Parameters/OptimizationStepParameterEnumerator.cs:41-45, 56-63``): the max is included exactly when
it lies on the step, and the arithmetic is decimal, so ``0 0.3 0.1`` gives 0.0, 0.1, 0.2, 0.3 (binary floats
would stop at 0.2). Each value reaches the algorithm as the decimal's invariant string (``value.ToStringInvariant()``,
ibid. :45), which keeps the decimal's scale: ``1 2 0.5`` gives "1.0", "1.5", "2.0" and ``1 3 1`` gives "1", "2", "3".

lean-cli passes ``--parameter`` values as Python floats written to JSON (``lean/commands/optimize.py:82-85, 234``;
``lean/components/config/optimizer_config_manager.py:206-217``); Newtonsoft reads a JSON float as ``double`` and
converts it to ``decimal``, which keeps 15 significant digits and drops trailing zeros (so ``1.0`` becomes 1).
:func:`lean_decimal` does the same.

A grid is the cartesian product with the first parameter varying slowest: LEAN's ``Recursive`` takes the
parameters in order, the first in the outer loop (``Optimizer/Strategies/StepBaseOptimizationStrategy.cs:202-234``)
and numbers the sets 1, 2, ... in that order (:178-186).

Our extension (not in LEAN): ``--parameter-values NAME v1,v2,...`` lists the values of a parameter as strings
(categorical values, seeds). One value is LEAN's ``StaticOptimizationParameter`` (``{"name", "value"}``,
``OptimizationParameterJsonConverter.cs:103-106``; it enumerates that one value, ``StepBaseOptimizationStrategy.cs:
236-242``): it fixes the parameter for the whole grid.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Sequence, Union


def lean_decimal(text: str | float) -> Decimal:
    """A number as LEAN's optimizer holds it after lean-cli wrote it as a JSON float: a double converted to C#
    ``decimal`` (15 significant digits, no trailing zeros)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a finite number")
    return Decimal(format(value, ".15g"))


def invariant_string(value: Decimal) -> str:
    """C# ``decimal.ToString(InvariantCulture)``: plain digits, the scale kept (``Decimal('1.0')`` -> "1.0")."""
    return format(value, "f")


@dataclass(frozen=True)
class StepParameter:
    """``--parameter NAME MIN MAX STEP`` (lean-cli's option)."""

    name: str
    min: Decimal
    max: Decimal
    step: Decimal

    def __post_init__(self) -> None:
        if self.min > self.max:  # OptimizationStepParameter.cs:62-65
            raise ValueError(f"--parameter {self.name}: min {self.min} is greater than max {self.max}")
        if self.step <= 0:  # OptimizationStepParameter.cs:95-98
            raise ValueError(f"--parameter {self.name}: step {self.step} must be positive")

    @classmethod
    def parse(cls, name: str, minimum: str, maximum: str, step: str) -> "StepParameter":
        return cls(name, lean_decimal(minimum), lean_decimal(maximum), lean_decimal(step))

    def values(self) -> list[str]:
        """``min + i * step`` while ``<= max``, in decimal (OptimizationStepParameterEnumerator.cs:41-63)."""
        out, index = [], 0
        while (value := self.min + index * self.step) <= self.max:
            out.append(invariant_string(value))
            index += 1
        return out

    def to_lean(self) -> dict[str, object]:
        """The optimizer-config.json entry lean-cli writes (``OptimizationParameter.model_dump()``)."""
        return {"name": self.name, "min": float(self.min), "max": float(self.max), "step": float(self.step)}


@dataclass(frozen=True)
class ValuesParameter:
    """``--parameter-values NAME v1,v2,...`` (our extension): the listed strings, in order."""

    name: str
    choices: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.choices or any(not c for c in self.choices):
            raise ValueError(f"--parameter-values {self.name}: give a comma-separated list of non-empty values")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"--parameter-values {self.name}: {','.join(self.choices)} repeats a value")

    @classmethod
    def parse(cls, name: str, text: str) -> "ValuesParameter":
        return cls(name, tuple(v.strip() for v in text.split(",")))

    def values(self) -> list[str]:
        return list(self.choices)


Parameter = Union[StepParameter, ValuesParameter]


def check_names(parameters: Sequence[Parameter]) -> None:
    """Each parameter once (LEAN keeps them in a set keyed by name)."""
    names = [p.name for p in parameters]
    if not names:
        raise ValueError("give at least one --parameter NAME MIN MAX STEP or --parameter-values NAME v1,v2,...")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"parameter {', '.join(repeated)} is given more than once")


def combinations(parameters: Sequence[Parameter]) -> Iterator[dict[str, str]]:
    """Every parameter set of the grid, the first parameter varying slowest (StepBaseOptimizationStrategy.cs:
    202-234)."""
    check_names(parameters)
    names = [p.name for p in parameters]
    for values in itertools.product(*(p.values() for p in parameters)):
        yield dict(zip(names, values))


def grid_size(parameters: list[Parameter]) -> int:
    size = 1
    for parameter in parameters:
        size *= len(parameter.values())
    return size


def to_spec(parameters: list[Parameter]) -> list[dict[str, object]]:
    """The grid as stored in optimization.json (strings, so that a resume rebuilds exactly the same values)."""
    return [{"name": p.name, "min": str(p.min), "max": str(p.max), "step": str(p.step)} if isinstance(p, StepParameter)
            else {"name": p.name, "values": list(p.choices)} for p in parameters]


def _from_entry(entry: dict[str, Any]) -> Parameter:
    if "step" in entry:
        return StepParameter(str(entry["name"]), Decimal(str(entry["min"])), Decimal(str(entry["max"])),
                             Decimal(str(entry["step"])))
    return ValuesParameter(str(entry["name"]), tuple(str(v) for v in entry["values"]))


def from_spec(spec: list[dict[str, Any]]) -> list[Parameter]:
    try:
        return [_from_entry(entry) for entry in spec]
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"optimization.json: unreadable parameter grid ({exc})") from None
