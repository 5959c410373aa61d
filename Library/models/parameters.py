"""LEAN parameters (strings from ``config.json`` or ``--parameter``) into a model's config dataclass,
and the checks every config runs, so a typo fails at start-up with the parameter's name rather than
months into a backtest. Shared by the allocator and the LLM4FTS ranker."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Iterable, Mapping, TypeVar, cast

C = TypeVar("C")
NOT_FROM_PARAMETERS = frozenset({"backbone_overrides"})  # a dict: set in code, never from a string


TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


def parse_bool(name: str, raw: Any) -> bool:
    """true/false, 1/0, yes/no in any case; anything else is refused, since a typo such as
    ``use_sipr=ture`` would otherwise switch a feature off without a word."""
    text = str(raw).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"parameter {name}={raw!r}: expected true or false (also 1/0, yes/no; any case)")


def convert_parameter(name: str, raw: Any, default: Any) -> Any:
    """A LEAN parameter string as the type of its default; the error names the parameter."""
    if isinstance(default, tuple):
        return tuple(t.strip() for t in str(raw).split(",") if t.strip()) if isinstance(raw, str) else tuple(raw)
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else parse_bool(name, raw)
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"parameter {name}={raw!r}: expected {type(default).__name__}") from exc
    return str(raw)


def config_from_parameters(cls: type[C], parameters: Mapping[str, Any], overrides: Mapping[str, Any]) -> C:
    """``cls`` built from the parameters that name one of its fields; the algorithm owns the others."""
    defaults = {f.name: f.default for f in fields(cast(Any, cls)) if f.name not in NOT_FROM_PARAMETERS}
    values = {name: convert_parameter(name, raw, defaults[name])
              for name, raw in parameters.items() if name in defaults and raw is not None}
    values.update(overrides)
    return cls(**values)


def choice_problems(config: Any, choices: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One message per field whose value is not among its allowed choices."""
    return [f"{name}={getattr(config, name)!r}: use one of {allowed}"
            for name, allowed in choices.items() if getattr(config, name) not in allowed]


def minimum_problems(config: Any, names: Iterable[str], minimum: float) -> list[str]:
    """One message per field below ``minimum``."""
    return [f"{name}={getattr(config, name)}: must be >= {minimum}"
            for name in names if float(getattr(config, name)) < minimum]
